"""The analytics warehouse (seed 000: Amazon Redshift "for fast queries on large datasets"):
Redshift Serverless, one namespace and workgroup per placement, in the region's VPC.

Tenant separation (issue 14 item 6; AWS Big Data blog "Implementing multi-tenant patterns in
Amazon Redshift using data sharing", pool/bridge/silo):
- premium (tier `warehouse.placement == "dedicated"`): a silo. Its own namespace and workgroup in
  its tenant stack, encrypted with its own data key (destroying the key shreds the warehouse
  with the rest of its data), its own compute, usage limit and audit log groups.
- basic and standard (`pooled`): a bridge. One namespace and workgroup per region in the platform
  stack (WarehousePool), encrypted with the platform data key; each pooled tenant is one schema
  owned by one IAM-mapped database user (`IAMR:<tenant load role>` style mapping, or `tenant_<id>`
  created by the runbook below), never a row in a shared table, so no row-level security policy
  carries the separation. A database per tenant would separate more, but a namespace holds at
  most 100 databases (not adjustable) and a region plans up to 200 tenants; a schema per tenant
  scales to 9,900. Shared reference data, if ever needed, goes in through data sharing
  from a platform producer, read-only.

Loading from each tenant's landing zone (TenantStream's bucket, `tenant=<id>/...` objects under
the tenant's data key): one IAM role per tenant (`<prefix>-<tenant>-wh-load`, in its home tenant
stack) for COPY. It may list and read only its tenant's landing bucket under `tenant=<id>/`, and
decrypt only its tenant's key, through S3, with that bucket's objects as encryption context; the
tenant's key policy admits it by name, nobody else's does. No role reads two tenants' landing
buckets. A dedicated namespace attaches its tenant's role (`iam_roles`). The pool attaches one
platform role that reads nothing and may only chain into the region's COPY roles (each of which
trusts only it): `COPY ... IAM_ROLE '<pool role>,<tenant role>'`. Chaining, not one attached
role per tenant, because a namespace takes at most 50 IAM roles (Redshift quota "cluster IAM
roles", not adjustable) while a region plans up to 200 tenants. Which database user may use
which role (chain) is SQL: `REVOKE ASSUMEROLE ON ALL FROM PUBLIC FOR ALL`, then
`GRANT ASSUMEROLE ON '<pool role>,<tenant role>' TO <tenant user> FOR COPY`: a runbook step.

What Pulumi manages and what it cannot: everything in AWS's control plane here. The schemas,
users and grants live inside the database. `aws.redshiftdata.Statement` runs its SQL once, when
the resource is created (a change replaces it and runs the new SQL; nothing reconciles drift
or removes what a former statement created), so it is not a way to keep grants true. Onboarding
a tenant to its warehouse is a runbook step (not written yet), run through the Data API with the
admin secret, idempotent: CREATE USER "IAMR:<tenant role>" (or tenant_<id>), CREATE SCHEMA
tenant_<id> AUTHORIZATION that user, REVOKE ALL ON SCHEMA tenant_<id> FROM PUBLIC, REVOKE
ASSUMEROLE ON ALL FROM PUBLIC FOR ALL, GRANT ASSUMEROLE ON '<pool role>,<tenant role>' TO that
user FOR COPY; offboarding drops the schema (a pooled tenant's data is not shredded by its key).

Security defaults (Security Hub RedshiftServerless controls, policies/tenant_guard/warehouse.py):
enhanced VPC routing (.1: COPY traffic to S3 goes through the VPC's S3 gateway endpoint), not
publicly accessible (.3), `require_ssl` (.2), customer-managed KMS (.4), admin user not `admin`
(.5) with a password Secrets Manager manages under the same key, connection, user and
user-activity logs exported to CloudWatch (.6) into log groups created here with the key and the
tier's retention (Redshift writes to `/aws/redshift/<namespace>/<log type>` when it exists,
https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-audit-logging.html), a security
group that admits only the clients on 5439 and lets out only HTTPS to S3's prefix list.

DR inside residency: Redshift Serverless keeps recovery points every 30 minutes for 24 hours; on
top, an AWS Backup plan takes a daily snapshot kept `snapshot_retention_days` in the home region's
vault. No cross-region copy: pulumi-aws 7.51 has no Redshift Serverless snapshot copy
configuration (CloudFormation's SnapshotCopyConfiguration), and the warehouse is derived data,
rebuilt in a DR region by COPY from the landing zone. Account quotas: catalog/tiers.py
(WarehouseSpec)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from catalog.tiers import POOLED_WAREHOUSE, WarehouseSpec
from components.shared.scanner import ScannerSkip
from components.shared.tags import platform_tags

PORT = 5439
ADMIN_USERNAME = "warehouse_owner"  # not "admin" (RedshiftServerless.5)
DATABASE = "analytics"
LOG_TYPES = ("connectionlog", "userlog", "useractivitylog")
# Query monitoring limits of the workgroup: no query runs longer than an hour (a pooled tenant
# cannot hold the pool's compute all day); user activity logging feeds `useractivitylog`.
QUERY_LIMIT_SECONDS = 3600


def namespace_name(settings: StackSettings, tenant: Tenant | None) -> str:
    """`<prefix>-<region>-pool` for the region's pool, `<prefix>-<tenant>` for a dedicated one."""
    return f"{settings.name_prefix}-{tenant.id}" if tenant else f"{settings.name_prefix}-{settings.region}-pool"


def load_role_name(settings: StackSettings, tenant: Tenant) -> str:
    """Deterministic, so the tenant key's policy can name it before it exists."""
    return f"{settings.regional_prefix}-{tenant.id}-wh-load"


def config_parameters() -> list[aws.redshiftserverless.WorkgroupConfigParameterArgs]:
    values = {
        "require_ssl": "true",
        "enable_user_activity_logging": "true",
        "max_query_execution_time": str(QUERY_LIMIT_SECONDS),
    }
    return [
        aws.redshiftserverless.WorkgroupConfigParameterArgs(parameter_key=k, parameter_value=v)
        for k, v in sorted(values.items())
    ]


def pool_role_name(settings: StackSettings) -> str:
    """The pool's one attached role: Redshift assumes it, and it assumes a tenant's COPY role."""
    return f"{settings.regional_prefix}-warehouse-pool"


def load_trust(account: str, pool_role: str | None) -> str:
    """A dedicated namespace's Redshift assumes the tenant's COPY role itself (this account's
    only); in the pool, only the pool role does, by role chaining: COPY ... IAM_ROLE
    '<pool role>,<tenant role>'. Named by condition: the pool role is the platform stack's."""
    statement: dict[str, Any] = (
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": pool_role}},
        }
        if pool_role
        else {
            "Effect": "Allow",
            "Principal": {"Service": ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def pool_trust(account: str) -> str:
    return load_trust(account, None)


def pool_policy(account: str, settings: StackSettings) -> str:
    """The pool role reads nothing itself; it may only chain into the region's COPY roles."""
    pattern = f"arn:aws:iam::{account}:role/{settings.regional_prefix}-*-wh-load"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ChainIntoTenantCopyRoles", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": pattern}
            ],
        },
        sort_keys=True,
    )


def load_policy(region: str, bucket: str, prefix: str, key: str) -> str:
    """The COPY role's whole reach: list and read its tenant's landing objects, decrypt them with
    its tenant's key through S3 only."""
    statements: list[dict[str, Any]] = [
        {"Sid": "LocateLandingBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [bucket]},
        {
            "Sid": "ListOwnLandingPrefix",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
        {
            "Sid": "ReadOwnLandingObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/{prefix}*"],
        },
        {
            "Sid": "DecryptOwnLandingObjects",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [key],
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                # With an S3 Bucket Key (SecureBucket turns it on) the context is the bucket's
                # ARN; without, the object's. The prefix itself is held by ReadOwnLandingObjects.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/{prefix}*"]},
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass
class WarehouseLoadRoleArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    landing_bucket_arn: pulumi.Input[str]  # TenantStream's bucket
    kms_key_arn: pulumi.Input[str]  # the tenant's data key
    tags: dict[str, str]


class WarehouseLoadRole(pulumi.ComponentResource):
    """One tenant's COPY role (see the module docstring), in its home-region tenant stack."""

    role: aws.iam.Role

    def __init__(self, name: str, args: WarehouseLoadRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:WarehouseLoadRole", name, None, opts)
        s, t = args.settings, args.tenant
        child = pulumi.ResourceOptions(parent=self)
        pooled = t.tier.warehouse.placement == "pooled"
        self.role = aws.iam.Role(
            name,
            name=load_role_name(s, t),
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda a: load_trust(a, f"arn:aws:iam::{a}:role/{pool_role_name(s)}" if pooled else None)
            ),
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            name,
            role=self.role.id,
            policy=pulumi.Output.all(args.landing_bucket_arn, args.kms_key_arn).apply(
                lambda v: load_policy(s.region, v[0], f"tenant={t.id}/", v[1])
            ),
            opts=child,
        )
        self.register_outputs({"roleArn": self.role.arn})


@dataclass
class WarehouseArgs:
    name: str  # the namespace and workgroup name
    spec: WarehouseSpec
    kms_key_arn: pulumi.Input[str]  # data and the admin secret
    logs_kms_key_arn: pulumi.Input[str]  # audit log groups (a key CloudWatch Logs may use)
    log_retention_days: int
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]  # private, three AZs at least
    client_security_group_ids: Sequence[pulumi.Input[str]]  # who may connect on 5439
    s3_prefix_list_id: pulumi.Input[str]  # the S3 gateway endpoint's: COPY's only way out
    load_role_arns: Sequence[pulumi.Input[str]]
    backup_vault_name: pulumi.Input[str]
    backup_role_arn: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)


class Warehouse(pulumi.ComponentResource):
    """A Redshift Serverless namespace and its workgroup, private, encrypted, audited, capped."""

    namespace: aws.redshiftserverless.Namespace
    workgroup: aws.redshiftserverless.Workgroup
    security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, args: WarehouseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Warehouse", name, None, opts)
        spec, tags = args.spec, args.tags
        child = pulumi.ResourceOptions(parent=self)

        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log_type}",
                name=f"/aws/redshift/{args.name}/{log_type}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_kms_key_arn,
                tags=tags,
                opts=child,
            )
            for log_type in LOG_TYPES
        ]
        self.namespace = aws.redshiftserverless.Namespace(
            name,
            namespace_name=args.name,
            db_name=DATABASE,
            admin_username=ADMIN_USERNAME,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=args.kms_key_arn,
            kms_key_id=args.kms_key_arn,
            iam_roles=list(args.load_role_arns),
            log_exports=list(LOG_TYPES),
            tags=tags,
            # The namespace holds the warehouse's data; its log groups exist before it exports.
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=log_groups),
        )
        self.security_group = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            description=f"Redshift Serverless {args.name}: clients in, HTTPS to S3 out",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="Redshift (TLS required) from the warehouse's clients",
                    protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    security_groups=list(args.client_security_group_ids),
                )
            ]
            if args.client_security_group_ids
            else [],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="COPY from the landing zone through the S3 gateway endpoint",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    prefix_list_ids=[args.s3_prefix_list_id],
                )
            ],
            tags={**tags, "Name": f"{args.name}-warehouse"},
            opts=child,
        )
        self.workgroup = aws.redshiftserverless.Workgroup(
            name,
            workgroup_name=args.name,
            namespace_name=self.namespace.namespace_name,
            base_capacity=spec.base_rpu,
            max_capacity=spec.max_rpu,
            enhanced_vpc_routing=True,
            publicly_accessible=False,
            subnet_ids=args.subnet_ids,
            security_group_ids=[self.security_group.id],
            config_parameters=config_parameters(),
            port=PORT,
            tags=tags,
            opts=child,
        )
        aws.redshiftserverless.UsageLimit(
            f"{name}-compute",
            resource_arn=self.workgroup.arn,
            usage_type="serverless-compute",
            amount=spec.monthly_rpu_hours,
            period="monthly",
            breach_action=spec.breach_action,
            opts=child,
        )
        plan = aws.backup.Plan(
            f"{name}-snapshots",
            name=f"{args.name}-warehouse",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily-snapshot",
                    target_vault_name=args.backup_vault_name,
                    schedule="cron(0 3 * * ? *)",
                    start_window=60,
                    completion_window=360,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=spec.snapshot_retention_days),
                    recovery_point_tags=tags,
                )
            ],
            tags=tags,
            opts=child,
        )
        aws.backup.Selection(
            f"{name}-snapshots",
            name=f"{args.name}-warehouse",
            plan_id=plan.id,
            iam_role_arn=args.backup_role_arn,
            resources=[self.namespace.arn],
            opts=child,
        )
        self.register_outputs({"namespace": self.namespace.namespace_name, "workgroup": self.workgroup.workgroup_name})


@dataclass
class WarehousePoolArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]  # the platform data key
    logs_kms_key_arn: pulumi.Input[str]  # the platform logs key
    log_retention_days: int
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    s3_prefix_list_id: pulumi.Input[str]
    backup_vault_name: pulumi.Input[str]
    backup_role_arn: pulumi.Input[str]


class WarehousePool(pulumi.ComponentResource):
    """The region's pooled warehouse (platform stack): one schema per pooled tenant homed here."""

    warehouse: Warehouse
    role: aws.iam.Role

    def __init__(self, name: str, args: WarehousePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:WarehousePool", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "warehouse")
        child = pulumi.ResourceOptions(parent=self)
        account = pulumi.Output.from_input(args.account_id)
        self.role = aws.iam.Role(
            f"{name}-chain",
            name=pool_role_name(s),
            assume_role_policy=account.apply(pool_trust),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-chain", role=self.role.id, policy=account.apply(lambda a: pool_policy(a, s)), opts=child
        )
        self.warehouse = Warehouse(
            name,
            WarehouseArgs(
                name=namespace_name(s, None),
                spec=POOLED_WAREHOUSE,
                kms_key_arn=args.kms_key_arn,
                logs_kms_key_arn=args.logs_kms_key_arn,
                log_retention_days=args.log_retention_days,
                vpc_id=args.vpc_id,
                subnet_ids=args.subnet_ids,
                # No network clients: the pool holds many tenants' schemas, and the group every
                # tenant pod carries would reach all of them. Tenants query through the Redshift
                # Data API (IAM, as their own database user), which needs no path into the VPC.
                client_security_group_ids=[],
                s3_prefix_list_id=args.s3_prefix_list_id,
                load_role_arns=[self.role.arn],
                backup_vault_name=args.backup_vault_name,
                backup_role_arn=args.backup_role_arn,
                tags=tags,
            ),
            child,
        )
        self.register_outputs({"namespace": self.warehouse.namespace.namespace_name})


# Checkov findings accepted on the warehouse (planner/checkov_export.py applies them).
SCANNER_SKIPS = (
    ScannerSkip("CKV_AWS_61", "aws:iam/role:Role", "tenant-*-wh-load",
                "a pooled tenant's COPY role trusts the account only with aws:PrincipalArn = the region's pool role "
                "(role chaining: a namespace attaches at most 50 roles)"),
)  # fmt: skip
