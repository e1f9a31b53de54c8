"""A tenant's own customer-managed KMS keys: one for its data at rest (database, bucket, queues,
topics, secrets) and one for application-level field encryption of PII. Their key policies name
only the key administrators (platform admins and the deploy role, which administer but never read)
and the tenant's own roles."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.iam import logs_statement
from components.tags import tenant_tags

ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]  # fmt: skip
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
# AWS services that encrypt tenant data with the data key on behalf of a caller.
DATA_SERVICES = ("rds", "secretsmanager", "s3", "sqs", "sns", "logs")


@dataclass
class TenantKeyArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    workload_role_arns: Mapping[str, pulumi.Input[str]]  # carrier, policy; empty for DR-only copies
    secrets_role_arn: pulumi.Input[str] | None


def data_key_policy(
    region: str, account: str, admins: Sequence[str], workloads: Sequence[str], secrets_reader: str | None
) -> str:
    via = [f"{service}.{region}.amazonaws.com" for service in DATA_SERVICES]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "PlatformAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": list(admins)},
            "Action": ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "PlatformProvisionsThroughAwsServices",
            "Effect": "Allow",
            "Principal": {"AWS": list(admins)},
            "Action": [*USE_ACTIONS, "kms:CreateGrant", "kms:ListGrants"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account}},
        },
        *(
            [
                {
                    "Sid": "TenantWorkloadsThroughAwsServices",
                    "Effect": "Allow",
                    "Principal": {"AWS": [*workloads, *([secrets_reader] if secrets_reader else [])]},
                    "Action": USE_ACTIONS,
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account}},
                }
            ]
            if workloads
            else []
        ),
        logs_statement(region, account, sid="CloudWatchLogsForTenantLogGroups"),
        {
            # CloudWatch alarms publish to the tenant's encrypted alert topics.
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
        {
            # SNS delivers the tenant's update topics into its encrypted queues.
            "Sid": "SnsDeliversToEncryptedQueues",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def pii_key_policy(admins: Sequence[str], applications: Sequence[str]) -> str:
    statements = [
        {
            "Sid": "PlatformAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": list(admins)},
            "Action": ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "TenantServicesEncryptFields",
            "Effect": "Allow",
            "Principal": {"AWS": list(applications)},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": "*",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class TenantKey(pulumi.ComponentResource):
    key: aws.kms.Key  # data at rest
    arn: pulumi.Output[str]
    pii_key: aws.kms.Key | None
    alias: str

    def __init__(self, name: str, args: TenantKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantKey", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        workloads = [args.workload_role_arns[w] for w in sorted(args.workload_role_arns)]
        applications = [args.workload_role_arns[w] for w in ("carrier", "policy") if w in args.workload_role_arns]
        self.alias = f"alias/{s.project}/{s.stack}/tenant/{t.id}"

        data_policy = pulumi.Output.all(args.account_id, args.secrets_role_arn, *workloads).apply(
            lambda v: data_key_policy(s.region, v[0], s.key_administrators(v[0]), v[2:], v[1])
        )
        self.key = self._key(name, f"Data key of tenant {t.id} ({s.stack})", data_policy, tags, self.alias)
        self.pii_key = None
        if applications:  # DR-only copies in a region that does not serve the tenant need no PII key
            pii_policy = pulumi.Output.all(args.account_id, *applications).apply(
                lambda v: pii_key_policy(s.key_administrators(v[0]), v[1:])
            )
            self.pii_key = self._key(
                f"{name}-pii",
                f"PII field encryption of tenant {t.id} ({s.stack})",
                pii_policy,
                tags,
                f"{self.alias}/pii",
            )
        self.arn = self.key.arn
        self.register_outputs({"keyArn": self.arn, "piiKeyArn": self.pii_key.arn if self.pii_key else None})

    def _key(
        self, name: str, description: str, policy: pulumi.Input[str], tags: dict[str, str], alias: str
    ) -> aws.kms.Key:
        key = aws.kms.Key(
            name,
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias(name, name=alias, target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=self))
        return key
