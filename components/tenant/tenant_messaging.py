"""A tenant's job queues (each with a dead-letter queue and redrive) and update topics for the
carrier and policy services (seed 000), encrypted with the tenant key; their resource policies
admit only the tenant's own workload roles, and a job queue also its own job processor (Lambda,
TenantProcessors), whose role is created after the queue and is granted by its own IAM policy."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.tags import tenant_tags

SERVICES = ("carrier", "policy")
QUEUE_DATA_ACTIONS = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
MAX_RECEIVES = 5


@dataclass
class TenantMessagingArgs:
    settings: StackSettings
    tenant: Tenant
    kms_key_arn: pulumi.Input[str]
    workload_role_arns: Sequence[pulumi.Input[str]]  # the only principals that use the queues/topics
    # service -> its job processor's role ARN (known by name before the role exists): not denied
    # on that service's job queue (same account: its identity policy grants it)
    processor_role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def only_roles_policy(
    resource_arn: str, roles: Sequence[str], actions: Sequence[str], exempt: Sequence[str] = ()
) -> str:
    """Allow the tenant's workload roles, deny everyone else; `exempt` principals (the queue's own
    processor) are only left out of the deny, so their identity policy decides."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TenantWorkloads",
                    "Effect": "Allow",
                    "Principal": {"AWS": list(roles)},
                    "Action": list(actions),
                    "Resource": resource_arn,
                },
                {
                    "Sid": "NobodyElse",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": list(actions),
                    "Resource": resource_arn,
                    "Condition": {"StringNotEquals": {"aws:PrincipalArn": [*roles, *exempt]}},
                },
            ],
        },
        sort_keys=True,
    )


class TenantMessaging(pulumi.ComponentResource):
    queues: dict[str, aws.sqs.Queue]
    dead_letter_queues: dict[str, aws.sqs.Queue]
    topics: dict[str, aws.sns.Topic]

    def __init__(self, name: str, args: TenantMessagingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantMessaging", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        child = pulumi.ResourceOptions(parent=self)
        roles = pulumi.Output.all(*args.workload_role_arns)
        self.queues, self.dead_letter_queues, self.topics = {}, {}, {}
        for service in SERVICES:
            base = f"{s.name_prefix}-{t.id}-{service}"
            dlq = aws.sqs.Queue(
                f"{name}-{service}-jobs-dlq",
                name=f"{base}-jobs-dlq",
                kms_master_key_id=args.kms_key_arn,
                kms_data_key_reuse_period_seconds=300,
                message_retention_seconds=14 * 24 * 3600,
                tags={**tags, "service": service},
                opts=child,
            )
            queue = aws.sqs.Queue(
                f"{name}-{service}-jobs",
                name=f"{base}-jobs",
                kms_master_key_id=args.kms_key_arn,
                kms_data_key_reuse_period_seconds=300,
                message_retention_seconds=4 * 24 * 3600,
                visibility_timeout_seconds=300,
                receive_wait_time_seconds=20,
                redrive_policy=dlq.arn.apply(
                    lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": MAX_RECEIVES})
                ),
                tags={**tags, "service": service},
                opts=child,
            )
            processor = args.processor_role_arns.get(service)
            exempt = pulumi.Output.all(*([processor] if processor is not None else []))
            for policy_name, q, consumers in (
                (f"{name}-{service}-jobs", queue, exempt),
                (f"{name}-{service}-jobs-dlq", dlq, pulumi.Output.from_input([])),
            ):
                aws.sqs.QueuePolicy(
                    policy_name,
                    queue_url=q.url,
                    policy=pulumi.Output.all(q.arn, roles, consumers).apply(
                        lambda v: only_roles_policy(v[0], v[1], QUEUE_DATA_ACTIONS, v[2])
                    ),
                    opts=child,
                )
            topic = aws.sns.Topic(
                f"{name}-{service}-updates",
                name=f"{base}-updates",
                kms_master_key_id=args.kms_key_arn,
                tags={**tags, "service": service},
                opts=child,
            )
            aws.sns.TopicPolicy(
                f"{name}-{service}-updates",
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, roles).apply(
                    lambda v: only_roles_policy(v[0], v[1], ["sns:Publish"])
                ),
                opts=child,
            )
            self.queues[service], self.dead_letter_queues[service], self.topics[service] = queue, dlq, topic
        self.register_outputs(
            {
                "queues": {k: q.url for k, q in self.queues.items()},
                "topics": {k: topic.arn for k, topic in self.topics.items()},
            }
        )
