"""A tenant's own customer-managed KMS keys: one for its data at rest (database, bucket, queues,
topics, secrets, backups) and one for application-level field encryption of PII. Their key policies
name only the key administrators (platform admins and the deploy role, which administer but never
read: explicit denies, see administration_statements), AWS Backup's role and the tenant's own roles.
Destroying the tenant's keys (and its DR key in the peer region) shreds every copy of its data."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.recovery.velero import velero_replication_role_name, velero_role_name
from components.shared.iam import logs_statement
from components.shared.tags import tenant_tags

# What a key administrator may do: read and manage the key's life, never use it. No Encrypt/Decrypt/
# GenerateDataKey, no CreateGrant (a grant to oneself is a decrypt), no PutKeyPolicy (a policy naming
# oneself is one too), no alias changes (repointing an alias reroutes new data to another key).
ADMIN_ACTIONS = [
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:ListKeyRotations", "kms:ListResourceTags", "kms:EnableKey", "kms:DisableKey", "kms:EnableKeyRotation",
    "kms:DisableKeyRotation", "kms:RotateKeyOnDemand", "kms:RevokeGrant", "kms:RetireGrant", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
]  # fmt: skip
# The deploy role also writes the policy (the only principal that may: KMS refuses a policy that
# locks its caller out), the description and the aliases.
DEPLOY_ACTIONS = [*ADMIN_ACTIONS, "kms:PutKeyPolicy", "kms:UpdateKeyDescription", "kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]  # fmt: skip
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
# Denied to key administrators outright, through AWS services too: each reads or re-encrypts data.
CRYPTO_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"]
# AWS services that encrypt tenant data with the data key on behalf of a caller.
# DynamoDB: the tenant's table (TenantTable); its workloads read and write it through DynamoDB.
DATA_SERVICES = ("rds", "secretsmanager", "s3", "sqs", "sns", "logs", "dynamodb", "kinesis")
# Services through which the deploy role encrypts: secret values it writes (and reads back on refresh),
# backup vaults it creates (CreateBackupVault takes GenerateDataKey/Decrypt on the vault key) and the
# job processors' environment variables (CreateFunction with a KMSKeyArn encrypts them as the caller).
DEPLOY_SERVICES = ("secretsmanager", "backup", "lambda")
# Services whose grants the deploy role creates for the resources it provisions (RDS instances,
# replicas and backup replication, backup vaults, secrets, the DynamoDB table: CreateTable with a
# customer managed key creates DynamoDB's grant as its caller; Lambda functions' environments; a
# premium tenant's Redshift Serverless namespace, CreateNamespace with the key).
GRANT_SERVICES = ("rds", "backup", "secretsmanager", "dynamodb", "lambda", "redshift-serverless")
# Services through which AWS Backup reads, copies and restores the tenant's data.
BACKUP_SERVICES = ("backup", "s3", "rds", "dynamodb", "redshift-serverless")
# Through which the tenant's job processors decrypt: their queue's messages (SQS) and their own
# environment variables (Lambda).
PROCESSOR_SERVICES = ("sqs", "lambda")


@dataclass
class TenantKeyArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    workload_role_arns: Mapping[str, pulumi.Input[str]]  # carrier, policy; empty for DR-only copies
    secrets_role_arn: pulumi.Input[str] | None
    backup_role_arn: pulumi.Input[str] | None = None  # AWS Backup's role: backs up and restores the tenant
    processor_role_names: Sequence[str] = ()  # the job processors' roles (created after the key)
    # The Firehose role delivering the tenant's event stream (TenantStream; home region only).
    event_delivery_role_name: str | None = None
    # The warehouse COPY role reading the landing zone (WarehouseLoadRole; home region only).
    warehouse_load_role_name: str | None = None


def deploy_role_arn(settings: StackSettings, account: str) -> str:
    return f"arn:aws:iam::{account}:role/{settings.deployer.role_name}"


def via(region: str, services: Sequence[str]) -> list[str]:
    return [f"{service}.{region}.amazonaws.com" for service in services]


def administration_statements(region: str, account: str, admins: Sequence[str], deployer: str) -> list[dict[str, Any]]:
    """Who manages a tenant key and the guard rails that keep managers from reading with it: admins
    (humans, break-glass included) administer and are denied every cryptographic use; the deploy
    role alone writes the policy and creates grants only for AWS resources; nobody else does either."""
    return [
        {
            "Sid": "PlatformAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": list(admins)},
            "Action": ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "DeployRoleManages",
            "Effect": "Allow",
            "Principal": {"AWS": deployer},
            "Action": DEPLOY_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "DeployRoleGrantsToAwsServices",
            "Effect": "Allow",
            "Principal": {"AWS": deployer},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "Bool": {"kms:GrantIsForAWSResource": "true"},
                "StringEquals": {"kms:ViaService": via(region, GRANT_SERVICES), "kms:CallerAccount": account},
            },
        },
        {
            "Sid": "DeployRoleEncryptsThroughAwsServices",
            "Effect": "Allow",
            "Principal": {"AWS": deployer},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": via(region, DEPLOY_SERVICES), "kms:CallerAccount": account}
            },
        },
        {
            "Sid": "AdministratorsNeverUseTheKey",
            "Effect": "Deny",
            "Principal": {"AWS": list(admins)},
            "Action": CRYPTO_ACTIONS,
            "Resource": "*",
        },
        {
            # BoolIfExists: a request without the key is a grant nobody's service asked for.
            "Sid": "GrantsOnlyForAwsResources",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false"}},
        },
        {
            "Sid": "OnlyTheDeployRoleChangesThePolicy",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": deployer}},
        },
    ]


def backup_statement(region: str, account: str, backup_roles: Sequence[str], sid: str) -> dict[str, Any]:
    """AWS Backup's role reads the tenant's data to back it up, writes recovery points and copies
    with the key, and restores (restore tests included), only through AWS Backup, S3 and RDS.
    Named by condition: the role of the peer region may not exist when this key is created."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": [*USE_ACTIONS, "kms:CreateGrant"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": list(backup_roles)},
            "StringEquals": {"kms:ViaService": via(region, BACKUP_SERVICES), "kms:CallerAccount": account},
        },
    }


def velero_statement(region: str, account: str, roles: Sequence[str]) -> dict[str, Any]:
    """Velero writes the tenant's namespace backups with its data key here; the replication roles
    read them (this region) and write the peer region's replicas into its backup location here.
    Named by condition: the peer's role may not exist when this key is created."""
    return {
        "Sid": "VeleroBacksUpTheNamespace",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": list(roles)},
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account},
        },
    }


def processor_statement(region: str, account: str, roles: Sequence[str]) -> dict[str, Any]:
    """The tenant's job processors (Lambda) decrypt their queue's messages and their environment,
    through SQS and Lambda only. Named by condition: their roles are created after this key
    (components/tenant/tenant_processors.py), and KMS refuses a policy naming a missing principal."""
    return {
        "Sid": "JobProcessorsDecryptThroughSqsAndLambda",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": list(roles)},
            "StringEquals": {"kms:ViaService": via(region, PROCESSOR_SERVICES), "kms:CallerAccount": account},
        },
    }


def event_delivery_statement(region: str, account: str, role: str) -> dict[str, Any]:
    """Firehose's delivery role reads the tenant's event stream (Kinesis decrypts) and writes the
    landing objects (S3 encrypts), only through those two services. Named by condition: the role
    is created after this key (TenantStream)."""
    return {
        "Sid": "FirehoseDeliversTenantEvents",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": [role]},
            "StringEquals": {"kms:ViaService": via(region, ("kinesis", "s3")), "kms:CallerAccount": account},
        },
    }


def warehouse_load_statement(region: str, account: str, role: str) -> dict[str, Any]:
    """The tenant's warehouse COPY role decrypts its landing objects, through S3 only. Named by
    condition: the role is created after this key (components/shared/warehouse.py)."""
    return {
        "Sid": "WarehouseLoadsLandingZone",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": [role]},
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account},
        },
    }


def velero_roles(settings: StackSettings, tenant: Tenant, account: str) -> list[str]:
    """Velero's roles that use a tenant's data key in this region."""
    names = [velero_role_name(settings, settings.region), velero_replication_role_name(settings, settings.region)]
    if settings.dr is not None and settings.dr.peer_region in tenant.residency:
        names.append(velero_replication_role_name(settings, settings.dr.peer_region))
    return [f"arn:aws:iam::{account}:role/{n}" for n in names]


def data_key_policy(
    region: str,
    account: str,
    admins: Sequence[str],
    deployer: str,
    workloads: Sequence[str],
    secrets_reader: str | None,
    backup_role: str | None = None,
    velero: Sequence[str] = (),
    processors: Sequence[str] = (),
    event_delivery_role: str | None = None,
    warehouse_load_role: str | None = None,
) -> str:
    services = via(region, DATA_SERVICES)
    statements: list[dict[str, Any]] = [
        *administration_statements(region, account, admins, deployer),
        *(
            [
                {
                    "Sid": "TenantWorkloadsThroughAwsServices",
                    "Effect": "Allow",
                    "Principal": {"AWS": [*workloads, *([secrets_reader] if secrets_reader else [])]},
                    "Action": USE_ACTIONS,
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": services, "kms:CallerAccount": account}},
                }
            ]
            if workloads
            else []
        ),
        *(
            [
                {
                    "Sid": "AwsBackupBacksUpAndRestores",
                    "Effect": "Allow",
                    "Principal": {"AWS": backup_role},
                    "Action": [*USE_ACTIONS, "kms:CreateGrant"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": via(region, BACKUP_SERVICES),
                            "kms:CallerAccount": account,
                        }
                    },
                }
            ]
            if backup_role
            else []
        ),
        *([velero_statement(region, account, velero)] if velero else []),
        *([processor_statement(region, account, processors)] if processors else []),
        *([event_delivery_statement(region, account, event_delivery_role)] if event_delivery_role else []),
        *([warehouse_load_statement(region, account, warehouse_load_role)] if warehouse_load_role else []),
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
            # DynamoDB reads the key's metadata to keep the table's encryption healthy
            # (KMS developer guide, "How Amazon DynamoDB uses AWS KMS": key policy).
            "Sid": "DynamoDbDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "dynamodb.amazonaws.com"},
            "Action": ["kms:DescribeKey", "kms:ListGrants"],
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


def pii_key_policy(region: str, account: str, admins: Sequence[str], deployer: str, applications: Sequence[str]) -> str:
    statements = [
        *administration_statements(region, account, admins, deployer),
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

        admins = list(s.cluster.admin_role_arns)
        data_policy = pulumi.Output.all(args.account_id, args.secrets_role_arn, args.backup_role_arn, *workloads).apply(
            lambda v: data_key_policy(
                s.region,
                v[0],
                admins,
                deploy_role_arn(s, v[0]),
                v[3:],
                v[1],
                v[2],
                velero_roles(s, t, v[0]),
                [f"arn:aws:iam::{v[0]}:role/{n}" for n in args.processor_role_names],
                f"arn:aws:iam::{v[0]}:role/{args.event_delivery_role_name}" if args.event_delivery_role_name else None,
                f"arn:aws:iam::{v[0]}:role/{args.warehouse_load_role_name}" if args.warehouse_load_role_name else None,
            )
        )
        self.key = self._key(name, f"Data key of tenant {t.id} ({s.stack})", data_policy, tags, self.alias)
        self.pii_key = None
        if applications:  # DR-only copies in a region that does not serve the tenant need no PII key
            pii_policy = pulumi.Output.all(args.account_id, *applications).apply(
                lambda v: pii_key_policy(s.region, v[0], admins, deploy_role_arn(s, v[0]), v[1:])
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
