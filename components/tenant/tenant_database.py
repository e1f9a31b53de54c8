"""A tenant's dedicated MariaDB: encrypted with the tenant key, private, TLS only, managed
credentials, tier-driven HA and backups, and protected against loss."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.tags import tenant_tags
from components.tenant.master_credentials import MASTER_USER, MasterCredentials, MasterCredentialsArgs

MARIADB_PORT = 3306
LOG_EXPORTS = ["audit", "error", "slowquery"]
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
MONITORING_SECONDS = 60


def replication_source(tenant: Tenant) -> bool:
    """Whether the tier gives the database replicas (same-region or cross-region)."""
    spec = tenant.tier.database
    return spec.read_replica or "read-replica" in spec.cross_region


def export_log_groups(
    name: str,
    parent: pulumi.Resource,
    identifier: str,
    kms_key_arn: pulumi.Input[str],
    retention_days: int,
    tags: dict[str, str],
) -> list[aws.cloudwatch.LogGroup]:
    """The log groups RDS writes an instance's exported logs to, created first so they are under
    the tenant's key (RDS would create them under CloudWatch's default key): query text and errors
    are the tenant's data, and destroying its key must make them unreadable too."""
    return [
        aws.cloudwatch.LogGroup(
            f"{name}-{log}-log",
            name=f"/aws/rds/instance/{identifier}/{log}",
            retention_in_days=retention_days,
            kms_key_id=kms_key_arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent, protect=True),
        )
        for log in LOG_EXPORTS
    ]


@dataclass
class TenantDatabaseArgs:
    settings: StackSettings
    tenant: Tenant
    vpc_id: pulumi.Input[str]
    client_security_group_id: pulumi.Input[str]  # the tenant's own pods (TenantPodSecurityGroups)
    kms_key_arn: pulumi.Input[str]
    subnet_group_name: pulumi.Input[str]
    parameter_group_name: pulumi.Input[str]
    option_group_name: pulumi.Input[str]
    monitoring_role_arn: pulumi.Input[str]


def database_security_group(
    name: str,
    parent: pulumi.Resource,
    vpc_id: pulumi.Input[str],
    client_security_group_id: pulumi.Input[str] | None,
    what: str,
    tags: dict[str, str],
) -> aws.ec2.SecurityGroup:
    """A tenant database's security group: only that tenant's pod security group on 3306 (no
    cluster group, which every platform pod and node carries), no egress. None admits nobody."""
    return aws.ec2.SecurityGroup(
        name,
        vpc_id=vpc_id,
        # EC2 replaces a group whose description changes: the old text stays, the rules decide.
        description=f"{what}: only the EKS cluster may connect",
        ingress=[
            aws.ec2.SecurityGroupIngressArgs(
                description="MariaDB from the tenant's pods",
                protocol="tcp",
                from_port=MARIADB_PORT,
                to_port=MARIADB_PORT,
                security_groups=[client_security_group_id],
            )
        ]
        if client_security_group_id is not None
        else [],
        egress=[],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


class TenantDatabase(pulumi.ComponentResource):
    instance: aws.rds.Instance
    replica: aws.rds.Instance | None
    security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, args: TenantDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantDatabase", name, None, opts)
        s, tenant = args.settings, args.tenant
        spec = tenant.tier.database
        tags = tenant_tags(s, tenant)
        identifier = f"{s.name_prefix}-{tenant.id}"

        self.security_group = database_security_group(
            name,
            self,
            args.vpc_id,
            args.client_security_group_id,
            f"MariaDB of tenant {tenant.id}",
            {**tags, "Name": f"{identifier}-db"},
        )

        credentials = (
            MasterCredentials(
                f"{name}-master",
                MasterCredentialsArgs(identifier=identifier, kms_key_arn=args.kms_key_arn, tags=tags),
                pulumi.ResourceOptions(parent=self),
            )
            if replication_source(tenant)
            else None
        )
        logs = export_log_groups(name, self, identifier, args.kms_key_arn, tenant.tier.log_retention_days, tags)
        self.instance = aws.rds.Instance(
            name,
            identifier=identifier,
            engine="mariadb",
            engine_version=s.database.major_version,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=True,  # only used when database.engineVersion changes major
            apply_immediately=s.database.apply_immediately,  # DatabaseSettings: no diff left pending
            instance_class=spec.instance_class,
            allocated_storage=spec.allocated_storage_gb,
            max_allocated_storage=spec.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            multi_az=spec.multi_az,
            db_subnet_group_name=args.subnet_group_name,
            vpc_security_group_ids=[self.security_group.id],
            publicly_accessible=False,
            port=MARIADB_PORT,
            parameter_group_name=args.parameter_group_name,
            option_group_name=args.option_group_name,
            ca_cert_identifier=CA_CERTIFICATE,
            username=MASTER_USER,
            manage_master_user_password=None if credentials else True,
            master_user_secret_kms_key_id=None if credentials else args.kms_key_arn,
            password_wo=credentials.password if credentials else None,
            password_wo_version=credentials.version if credentials else None,
            iam_database_authentication_enabled=True,
            backup_retention_period=spec.backup_retention_days,
            backup_window="03:00-04:00",
            maintenance_window="sun:04:30-sun:05:30",
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{identifier}-final",
            delete_automated_backups=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=7,
            enabled_cloudwatch_logs_exports=LOG_EXPORTS,
            monitoring_interval=MONITORING_SECONDS,
            monitoring_role_arn=args.monitoring_role_arn,
            tags={**tags, "replication-source": "true"} if credentials else tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=logs),
        )
        self.master_secret_arn: pulumi.Output[str] = (
            credentials.secret.arn
            if credentials
            else self.instance.master_user_secrets.apply(lambda ss: (ss[0].secret_arn or "") if ss else "")
        )
        # Premium reads (reports, analytics) go to a same-region replica, off the primary.
        self.replica = None
        if spec.read_replica:
            replica_logs = export_log_groups(
                f"{name}-replica", self, f"{identifier}-read", args.kms_key_arn, tenant.tier.log_retention_days, tags
            )
            self.replica = aws.rds.Instance(
                f"{name}-replica",
                identifier=f"{identifier}-read",
                replicate_source_db=self.instance.identifier,
                instance_class=spec.instance_class,
                storage_encrypted=True,
                kms_key_id=args.kms_key_arn,
                vpc_security_group_ids=[self.security_group.id],
                publicly_accessible=False,
                parameter_group_name=args.parameter_group_name,
                option_group_name=args.option_group_name,
                ca_cert_identifier=CA_CERTIFICATE,
                iam_database_authentication_enabled=True,
                auto_minor_version_upgrade=True,
                allow_major_version_upgrade=True,
                apply_immediately=s.database.apply_immediately,
                copy_tags_to_snapshot=True,
                deletion_protection=True,
                skip_final_snapshot=True,  # a replica holds no data of its own; the primary is protected
                backup_retention_period=0,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.kms_key_arn,
                performance_insights_retention_period=7,
                enabled_cloudwatch_logs_exports=LOG_EXPORTS,
                monitoring_interval=MONITORING_SECONDS,
                monitoring_role_arn=args.monitoring_role_arn,
                tags={**tags, "role": "read-replica"},
                opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=replica_logs),
            )
        self.register_outputs(
            {
                "identifier": identifier,
                "endpoint": self.instance.endpoint,
                "masterUserSecretArn": self.master_secret_arn,
            }
        )
