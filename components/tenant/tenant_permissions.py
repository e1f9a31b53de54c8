"""What a tenant's roles may do: each workload role reaches only its own queue, topic, the tenant's
bucket, event stream and (home region) DynamoDB table with its indexes and stream, and database
user; the aggregator's role only the tenant's cache user; the secret-reader role only the tenant's
app secrets, never a database master credential. Every statement names the tenant's own ARNs (no
`*` for data actions); the cache only as the tenant's own ElastiCache user. KMS use is granted by
the tenant key policies."""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.platform.cache import TenantCacheAccess
from components.tenant.tenant_stream import CONSUMER_ACTIONS, PRODUCER_ACTIONS


@dataclass
class TenantPermissionsArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    workload_roles: dict[str, aws.iam.Role]  # by service: carrier, policy
    secrets_role: aws.iam.Role
    queue_arns: dict[str, pulumi.Input[str]]
    topic_arns: dict[str, pulumi.Input[str]]
    bucket_arn: str  # deterministic: the bucket lives in the tenant's home region
    database_resource_id: pulumi.Input[str] | None  # home region only
    cache: TenantCacheAccess
    aggregator_role: aws.iam.Role  # connects to the cache as the tenant's user, nothing else
    table_arn: pulumi.Input[str] | None = None  # home region only (TenantTable)
    event_stream_arn: pulumi.Input[str] | None = None  # home region only (TenantStream)


def tenant_secret_prefix(settings: StackSettings, tenant: Tenant) -> str:
    return f"{settings.project}/{settings.stack}/tenants/{tenant.id}/"


def database_user(tenant: Tenant, workload: str) -> str:
    """The workload's own MariaDB user (IAM authentication; created by DatabaseUsers)."""
    return f"{tenant.id.replace('-', '_')}_{workload}"


def database_schema(tenant: Tenant) -> str:
    return tenant.id.replace("-", "_")


def cache_connect(region: str, account: str, replication_group_id: str, user_id: str) -> dict[str, Any]:
    """IAM authentication to the shared cache as the tenant's own user: elasticache:Connect needs
    both the replication group and the user; other tenants' users are not named."""
    arn = f"arn:aws:elasticache:{region}:{account}"
    return {
        "Sid": "OwnCacheUser",
        "Effect": "Allow",
        "Action": ["elasticache:Connect"],
        "Resource": [f"{arn}:replicationgroup:{replication_group_id}", f"{arn}:user:{user_id}"],
    }


# What a workload does with its tenant's table: items and queries, never Scan of a whole table
# from a request path, never table management (the deploy role's).
TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
]
STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]


def table_statements(table: str) -> list[dict[str, Any]]:
    """The tenant's own table, its indexes and its stream; no other table (no `*`)."""
    return [
        {"Sid": "OwnTable", "Effect": "Allow", "Action": TABLE_ACTIONS, "Resource": [table, f"{table}/index/*"]},
        {"Sid": "OwnTableStream", "Effect": "Allow", "Action": STREAM_ACTIONS, "Resource": [f"{table}/stream/*"]},
    ]


def workload_policy(
    region: str,
    account: str,
    queue: str,
    topic: str,
    bucket: str,
    db_resource_id: str | None,
    db_user: str,
    cache: TenantCacheAccess,
    cache_group: str,
    table: str | None = None,
    stream: str | None = None,
) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnJobQueue",
            "Effect": "Allow",
            "Action": [
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
            ],
            "Resource": [queue],
        },
        {"Sid": "OwnUpdateTopic", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic]},
        {
            "Sid": "TenantDocuments",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{bucket}/*"],
        },
        {"Sid": "TenantDocumentsList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket]},
        cache_connect(region, account, cache_group, cache.user_id),
    ]
    if stream:
        # Producers and consumers of the tenant's own event stream; the key policy admits the
        # records' encryption through Kinesis only.
        statements.append(
            {
                "Sid": "OwnEventStream",
                "Effect": "Allow",
                "Action": [*PRODUCER_ACTIONS, *CONSUMER_ACTIONS],
                "Resource": [stream],
            }
        )
    if db_resource_id:
        statements.append(
            {
                "Sid": "OwnDatabaseUser",
                "Effect": "Allow",
                "Action": ["rds-db:connect"],
                "Resource": [f"arn:aws:rds-db:{region}:{account}:dbuser:{db_resource_id}/{db_user}"],
            }
        )
    if table:
        statements += table_statements(table)
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def aggregator_policy(region: str, account: str, cache: TenantCacheAccess, cache_group: str) -> str:
    """The aggregator caches as the tenant's own ElastiCache user (IAM authentication); it calls
    the carrier and policy APIs through the mesh and touches no other AWS resource."""
    statements = [cache_connect(region, account, cache_group, cache.user_id)]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def secrets_policy(region: str, account: str, prefix: str) -> str:
    """The tenant's app secrets only: never a database master credential (those are read in the
    platform namespace database-users, by the tenant's provisioner role)."""
    resources = [f"arn:aws:secretsmanager:{region}:{account}:secret:{prefix}*"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TenantSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": resources,
                }
            ],
        },
        sort_keys=True,
    )


class TenantPermissions(pulumi.ComponentResource):
    def __init__(self, name: str, args: TenantPermissionsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantPermissions", name, None, opts)
        s, t = args.settings, args.tenant
        child = pulumi.ResourceOptions(parent=self)
        for service, role in args.workload_roles.items():
            policy = pulumi.Output.all(
                args.account_id,
                args.queue_arns[service],
                args.topic_arns[service],
                args.database_resource_id,
                args.cache.replication_group_id,
                args.table_arn,
                args.event_stream_arn,
            ).apply(
                lambda v, service=service: workload_policy(
                    s.region,
                    v[0],
                    v[1],
                    v[2],
                    args.bucket_arn,
                    v[3],
                    database_user(t, service),
                    args.cache,
                    v[4],
                    v[5],
                    v[6],
                )
            )
            aws.iam.RolePolicy(f"{name}-{service}", role=role.id, policy=policy, opts=child)
        aws.iam.RolePolicy(
            f"{name}-aggregator",
            role=args.aggregator_role.id,
            policy=pulumi.Output.all(args.account_id, args.cache.replication_group_id).apply(
                lambda v: aggregator_policy(s.region, v[0], args.cache, v[1])
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-secrets",
            role=args.secrets_role.id,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: secrets_policy(s.region, account, tenant_secret_prefix(s, t))
            ),
            opts=child,
        )
        self.register_outputs({})
