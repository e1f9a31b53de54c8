"""This region's disaster-recovery copies of a peer-region tenant, inside the tenant's residency:
its own DR key, automated-backup replication (every tier), a cross-region read replica (premium),
the replica of its document bucket — and, when the runbook's `promote` switch names the tenant,
its promoted or restored primary database here."""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.recovery.backup_vault import backup_role_name
from components.recovery.tenant_backup import dr_bucket, dr_key_alias
from components.recovery.velero import velero_replication_role_name
from components.shared.iam import document, logs_statement
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.shared.tags import tenant_tags
from components.tenant.tenant_database import (
    CA_CERTIFICATE,
    LOG_EXPORTS,
    MONITORING_SECONDS,
    database_security_group,
    export_log_groups,
)
from components.tenant.tenant_key import administration_statements, backup_statement, deploy_role_arn


def primary_identifier(settings: StackSettings, tenant: Tenant) -> str:
    return f"{settings.name_prefix}-{tenant.id}"


def replication_role_name(settings: StackSettings, tenant: Tenant) -> str:
    return f"{settings.name_prefix}-{tenant.home_region}-{tenant.id}-replication"


@dataclass
class TenantRecoveryArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    # The tenant's pod security group where this region serves it (TenantPodSecurityGroups);
    # None otherwise: the copy admits nobody until the tenant is served (promoted) here.
    client_security_group_id: pulumi.Input[str] | None
    subnet_group_name: pulumi.Input[str]
    parameter_group_name: pulumi.Input[str]
    option_group_name: pulumi.Input[str]
    monitoring_role_arn: pulumi.Input[str]


def dr_key_policy(
    region: str, account: str, admins: list[str], deployer: str, replication_roles: list[str], backup_roles: list[str]
) -> str:
    """The DR key: administered like the tenant's own key (administration_statements), used only by
    the home region's replication and AWS Backup roles and by AWS services for the copies here."""
    return document(
        *administration_statements(region, account, admins, deployer),
        {
            # The home region's replication roles write the document and namespace-backup (Velero)
            # replicas with this key. Named by condition, not as principals: they may not exist yet
            # when this key is created.
            "Sid": "HomeRegionReplicationWrites",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalArn": replication_roles,
                    "kms:ViaService": f"s3.{region}.amazonaws.com",
                    "kms:CallerAccount": account,
                }
            },
        },
        # AWS Backup copies of the tenant's recovery points land in its DR vault under this key
        # (the home region's role copies, this region's role runs restore tests).
        backup_statement(region, account, backup_roles, sid="AwsBackupCopiesAndRestores"),
        logs_statement(
            region, account, sid="CloudWatchLogsForTenantLogGroups"
        ),  # edge logs of the tenant, on the global edge owner
    )


class TenantRecovery(pulumi.ComponentResource):
    key: aws.kms.Key
    replica: aws.rds.Instance | None
    promoted: aws.rds.Instance | None  # the tenant's primary here after a promotion

    def __init__(self, name: str, args: TenantRecoveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantRecovery", name, None, opts)
        s, t = args.settings, args.tenant
        assert s.dr is not None
        tags = {**tenant_tags(s, t), "dr-copy-of": t.home_region}
        child = pulumi.ResourceOptions(parent=self)
        spec = t.tier.database
        promoted = t.id in s.dr.promote
        source_arn = pulumi.Output.from_input(args.account_id).apply(
            lambda account: f"arn:aws:rds:{t.home_region}:{account}:db:{primary_identifier(s, t)}"
        )

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"DR copies of tenant {t.id} from {t.home_region} ({s.stack})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: dr_key_policy(
                    s.region,
                    account,
                    list(s.cluster.admin_role_arns),
                    deploy_role_arn(s, account),
                    [
                        f"arn:aws:iam::{account}:role/{replication_role_name(s, t)}",
                        f"arn:aws:iam::{account}:role/{velero_replication_role_name(s, t.home_region)}",
                    ],
                    [f"arn:aws:iam::{account}:role/{backup_role_name(s, r)}" for r in (t.home_region, s.region)],
                )
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias(
            f"{name}-key",
            name=dr_key_alias(s, t).format(stack=s.stack),
            target_key_id=self.key.key_id,
            opts=child,
        )
        SecureBucket(
            f"{name}-documents",
            SecureBucketArgs(
                bucket_name=dr_bucket(s, t, s.region),
                tags=tags,
                retention_days=t.tier.document_retention_days,
                kms_key_arn=self.key.arn,
            ),
            child,
        )
        # Not protected: every property forces a replacement (a retention change is a tier change),
        # and stopping replication keeps the backups already replicated until their retention ends.
        # One replication per source and region: the old one goes before the new one starts.
        backups = aws.rds.InstanceAutomatedBackupsReplication(
            f"{name}-backups",
            source_db_instance_arn=source_arn,
            kms_key_id=self.key.arn,
            retention_period=spec.backup_retention_days,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        security_group = database_security_group(
            f"{name}-db",
            self,
            args.vpc_id,
            args.client_security_group_id,
            f"DR database of tenant {t.id}",
            {**tags, "Name": f"{primary_identifier(s, t)}-dr-db"},
        )
        common: dict[str, Any] = dict(
            instance_class=spec.instance_class,
            storage_encrypted=True,
            kms_key_id=self.key.arn,
            db_subnet_group_name=args.subnet_group_name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            parameter_group_name=args.parameter_group_name,
            option_group_name=args.option_group_name,
            ca_cert_identifier=CA_CERTIFICATE,
            iam_database_authentication_enabled=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=True,  # only used when database.engineVersion changes major
            apply_immediately=s.database.apply_immediately,  # DatabaseSettings: no diff left pending
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=self.key.arn,
            performance_insights_retention_period=7,
            enabled_cloudwatch_logs_exports=LOG_EXPORTS,
            monitoring_interval=MONITORING_SECONDS,
            monitoring_role_arn=args.monitoring_role_arn,
        )
        # Promoted, a copy becomes a full primary: the tier's HA and backups, a managed password
        # of its own in this region (replicas carry no credentials of their own).
        as_primary: dict[str, Any] = dict(
            multi_az=spec.multi_az,
            backup_retention_period=spec.backup_retention_days,
            manage_master_user_password=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{primary_identifier(s, t)}-dr-final",
        )
        self.replica = None
        self.promoted = None
        dr_identifier = f"{primary_identifier(s, t)}-dr"
        logs = (
            export_log_groups(f"{name}-dr", self, dr_identifier, self.key.arn, t.tier.log_retention_days, tags)
            if "read-replica" in spec.cross_region or promoted
            else []
        )
        if "read-replica" in spec.cross_region:
            self.replica = aws.rds.Instance(
                f"{name}-replica",
                identifier=f"{primary_identifier(s, t)}-dr",
                # Removing the source promotes the replica to a standalone primary.
                replicate_source_db=None if promoted else source_arn,
                **common,
                **(
                    as_primary
                    if promoted
                    else {"multi_az": False, "skip_final_snapshot": True, "backup_retention_period": 1}
                ),
                tags={**tags, "role": "primary" if promoted else "cross-region-replica"},
                opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=logs),
            )
            if promoted:
                self.promoted = self.replica
        elif promoted:
            self.promoted = aws.rds.Instance(
                f"{name}-restored",
                identifier=f"{primary_identifier(s, t)}-dr",
                engine="mariadb",
                restore_to_point_in_time=aws.rds.InstanceRestoreToPointInTimeArgs(
                    source_db_instance_automated_backups_arn=backups.id,
                    use_latest_restorable_time=True,
                ),
                **common,
                **as_primary,
                tags={**tags, "role": "primary"},
                opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=logs),
            )
        self.register_outputs(
            {
                "mechanisms": [m for m in ("backup-replication", "read-replica" if self.replica else "") if m],
                "promoted": promoted,
            }
        )
