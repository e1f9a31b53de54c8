"""A tenant's job queues (each with a dead-letter queue and redrive) and update topics for the
carrier and policy services (seed 000), encrypted with the tenant key; their resource policies
admit only the tenant's own workload roles."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

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


def only_roles_policy(resource_arn: str, roles: Sequence[str], actions: Sequence[str]) -> str:
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
                    "Condition": {"StringNotEquals": {"aws:PrincipalArn": list(roles)}},
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
            for policy_name, q in ((f"{name}-{service}-jobs", queue), (f"{name}-{service}-jobs-dlq", dlq)):
                aws.sqs.QueuePolicy(
                    policy_name,
                    queue_url=q.url,
                    policy=pulumi.Output.all(q.arn, roles).apply(
                        lambda v: only_roles_policy(v[0], v[1], QUEUE_DATA_ACTIONS)
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
