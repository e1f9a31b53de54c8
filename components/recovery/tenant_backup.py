"""Home region: the tenant's AWS Backup plan (tier retention, continuous backups for premium) for
its database, document bucket and DynamoDB table into its own vault under its own key, with copies to its DR vault
in the peer region (under its DR key), and replication of its documents to the peer region — both
only where the tenant's residency allows the peer region."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.recovery.backup_vault import TenantVault, TenantVaultArgs, tenant_vault_arn
from components.shared.iam import service_trust
from components.shared.secure_bucket import replication_policy
from components.shared.tags import tenant_tags


def dr_bucket(settings: StackSettings, tenant: Tenant, region: str) -> str:
    """The peer region's replica of the tenant's document bucket (created by the peer stack)."""
    return f"{settings.name_prefix}-{region}-{tenant.id}-data-dr"


def dr_key_alias(settings: StackSettings, tenant: Tenant) -> str:
    return f"alias/{settings.project}/{{stack}}/tenant/{tenant.id}/dr"


@dataclass
class TenantBackupArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    backup_role_arn: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    bucket: aws.s3.Bucket
    kms_key_arn: pulumi.Input[str]
    table_arn: pulumi.Input[str] | None = None  # the tenant's DynamoDB table (TenantTable)


class TenantBackup(pulumi.ComponentResource):
    vault: aws.backup.Vault

    def __init__(self, name: str, args: TenantBackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantBackup", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        child = pulumi.ResourceOptions(parent=self)
        days = t.tier.database.backup_retention_days
        copy = s.copies_to_peer(t)
        peer = s.dr.peer_region if s.dr else None

        copy_actions = (
            [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=pulumi.Output.from_input(args.account_id).apply(
                        lambda account: tenant_vault_arn(s, t, str(peer), account, dr=True)
                    ),
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=days),
                )
            ]
            if copy
            else []
        )
        # Its own vault: S3 recovery points take the vault's key, RDS snapshots the database's.
        vault = TenantVault(f"{name}-vault", TenantVaultArgs(settings=s, tenant=t, kms_key_arn=args.kms_key_arn), child)
        self.vault = vault.vault  # the warehouse's snapshots go here too (components/shared/warehouse.py)
        plan = aws.backup.Plan(
            name,
            name=f"{s.name_prefix}-{t.id}",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=vault.vault.name,
                    schedule="cron(0 5 * * ? *)",
                    start_window=60,
                    completion_window=360,
                    enable_continuous_backup=t.tier.database.read_replica,  # premium: point-in-time
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=days),
                    copy_actions=copy_actions,
                    recovery_point_tags=tags,
                )
            ],
            tags={**tags, "copies-to": peer if copy and peer else "none"},
            opts=child,
        )
        aws.backup.Selection(
            name,
            name=f"{t.id}-data",
            plan_id=plan.id,
            iam_role_arn=args.backup_role_arn,
            resources=[args.database_arn, args.bucket.arn, *([args.table_arn] if args.table_arn else [])],
            opts=child,
        )
        if copy and peer:
            self._replicate_documents(name, s, t, args, str(peer), tags)
        self.register_outputs({"copiesTo": peer if copy else None})

    def _replicate_documents(
        self, name: str, s: StackSettings, t: Tenant, args: TenantBackupArgs, peer: str, tags: dict[str, str]
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        destination = f"arn:aws:s3:::{dr_bucket(s, t, peer)}"
        role = aws.iam.Role(
            f"{name}-replication",
            name=f"{s.name_prefix}-{t.home_region}-{t.id}-replication",  # tenant_recovery.replication_role_name
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: service_trust("s3.amazonaws.com", account)
            ),
            tags=tags,
            opts=child,
        )

        def policy(values: list[str]) -> str:
            source, account, source_key = values
            peer_stack = s.dr.peer_stack if s.dr else ""
            replica_key = f"arn:aws:kms:{peer}:{account}:{dr_key_alias(s, t).format(stack=peer_stack)}"
            return replication_policy(source, destination, source_key, replica_key)

        aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=pulumi.Output.all(args.bucket.arn, args.account_id, args.kms_key_arn).apply(policy),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-documents",
            bucket=args.bucket.id,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id="to-peer-region",
                    status="Enabled",
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Enabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=destination,
                        storage_class="STANDARD_IA",
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=pulumi.Output.from_input(args.account_id).apply(
                                lambda account: (
                                    f"arn:aws:kms:{peer}:{account}:"
                                    + dr_key_alias(s, t).format(stack=s.dr.peer_stack if s.dr else "")
                                )
                            )
                        ),
                    ),
                )
            ],
            opts=child,
        )
