"""The region's AWS Backup vault (platform key, vault lock), the role AWS Backup works with, and a
weekly restore test of the tenant databases (backups are only as good as their restores).

Tenant recovery points live in a vault per tenant (`TenantVault`) under the tenant's own key (its DR
key for the copies in the peer region): AWS Backup encrypts S3 recovery points and every
cross-region copy with the vault's key, and RDS snapshots with the database's key, so destroying the
tenant's keys shreds all of them. The platform vault keeps its key (a vault's key is force-new) and
only the recovery points made before tenant vaults existed, until their retention ends.

The region's AWS Backup settings (`aws.backup.RegionSettings`) are here too: they are one per
account and region, and this component is the one thing every platform stack creates once in its
own region (the account baseline exists once per account and may not create outside its region).
They turn on AWS Backup's advanced features for DynamoDB (full AWS Backup management), without
which a table's recovery points stay DynamoDB backups under the table's key and cannot be copied
to another region or account: the tenant plans' copy rules would silently leave their tables
behind (https://docs.aws.amazon.com/aws-backup/latest/devguide/advanced-ddb-backup.html).
Accounts whose first vault came after 2021-11-21 have them on by default; older ones do not, and
either may be switched off by hand, so the stack states the setting. The peer region's stack
states it there, where copies are restored. planner/rehearsal.py (REH-BAK-1) refuses a plan that
copies a tenant table from or to a region whose platform stack does not."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.iam import service_trust
from components.shared.tags import platform_tags, tenant_tags

BACKUP_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
)
MAX_RETENTION_DAYS = 3653  # ten years: the longest tier retention
# Resource types the tenant plans back up (RDS, S3, DynamoDB). AWS Backup backs up a resource
# assigned by ARN even without the opt-in (UpdateRegionSettings API reference); the opt-in is what
# the API requires to be sent, and what tag-based selections would rely on.
OPT_IN = {"DynamoDB": True, "RDS": True, "S3": True}
# Advanced DynamoDB backup: cross-region and cross-account copies, the vault's key on recovery points.
FULL_MANAGEMENT = {"DynamoDB": True}


def vault_name(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-vault"


def tenant_vault_name(settings: StackSettings, tenant: Tenant, dr: bool = False) -> str:
    """The tenant's vault in its home region, or (`dr`) the one holding its copies in the peer
    region: vault names are per region, so no region in it (at most 49 of the 50 characters)."""
    return f"{settings.name_prefix}-{tenant.id}-{'dr-' if dr else ''}vault"


def tenant_vault_arn(settings: StackSettings, tenant: Tenant, region: str, account: str, dr: bool = False) -> str:
    return f"arn:aws:backup:{region}:{account}:backup-vault:{tenant_vault_name(settings, tenant, dr)}"


def backup_role_name(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-backup"


def locked_vault(
    name: str, physical_name: str, kms_key_arn: pulumi.Input[str], tags: dict[str, str], parent: pulumi.Resource
) -> aws.backup.Vault:
    """A protected vault under `kms_key_arn`, locked in compliance mode after a three-day grace
    period: nobody can shorten retention or delete recovery points early, not even an administrator."""
    vault = aws.backup.Vault(
        name,
        name=physical_name,
        kms_key_arn=kms_key_arn,
        force_destroy=False,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=True),
    )
    aws.backup.VaultLockConfiguration(
        name,
        backup_vault_name=vault.name,
        min_retention_days=7,
        max_retention_days=MAX_RETENTION_DAYS,
        changeable_for_days=3,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return vault


@dataclass
class BackupVaultArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


class BackupVault(pulumi.ComponentResource):
    vault: aws.backup.Vault
    role: aws.iam.Role
    region_settings: aws.backup.RegionSettings

    def __init__(self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:BackupVault", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "backup")
        child = pulumi.ResourceOptions(parent=self)
        self.vault = locked_vault(name, vault_name(s, s.region), args.kms_key_arn, tags, self)
        self.region_settings = aws.backup.RegionSettings(
            f"{name}-region-settings",
            resource_type_opt_in_preference=OPT_IN,
            resource_type_management_preference=FULL_MANAGEMENT,
            # The provider reads back every resource type the region offers (terraform-provider-aws
            # internal/service/backup/region_settings.go), so the opt-in map sent here would show
            # as a change on every preview; it is sent on create and left alone after. Deleting
            # this resource changes nothing in AWS (the provider's delete is a no-op).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["resourceTypeOptInPreference"]),
        )
        self.role = aws.iam.Role(
            f"{name}-service",
            name=backup_role_name(s, s.region),
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: service_trust("backup.amazonaws.com", account)
            ),
            tags=tags,
            opts=child,
        )
        for arn in BACKUP_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-{arn.rsplit('/', 1)[-1]}", role=self.role.name, policy_arn=arn, opts=child
            )
        testing = aws.backup.RestoreTestingPlan(
            f"{name}-restore-testing",
            name=f"{s.name_prefix.replace('-', '_')}_{s.region.replace('-', '_')}_restore_testing",
            schedule_expression="cron(0 6 ? * SUN *)",
            start_window_hours=8,
            recovery_point_selection=aws.backup.RestoreTestingPlanRecoveryPointSelectionArgs(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=["*"],  # this one and the tenant vaults (TenantVault) of this region
                recovery_point_types=["SNAPSHOT", "CONTINUOUS"],
                selection_window_days=7,
            ),
            tags=tags,
            opts=child,
        )
        aws.backup.RestoreTestingSelection(
            f"{name}-restore-testing-databases",
            name="tenant_databases",
            restore_testing_plan_name=testing.name,
            protected_resource_type="RDS",
            protected_resource_arns=["*"],
            iam_role_arn=self.role.arn,
            validation_window_hours=4,
            opts=child,
        )
        self.register_outputs({"vaultArn": self.vault.arn})


@dataclass
class TenantVaultArgs:
    settings: StackSettings
    tenant: Tenant
    kms_key_arn: pulumi.Input[str]  # the tenant's key here: its data key, or its DR key in the peer
    dr: bool = False  # holds the copies from the tenant's home region


class TenantVault(pulumi.ComponentResource):
    """One tenant's recovery points under its own key, locked like the platform vault."""

    vault: aws.backup.Vault

    def __init__(self, name: str, args: TenantVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantVault", name, None, opts)
        s, t = args.settings, args.tenant
        tags = {**tenant_tags(s, t), **({"dr-copy-of": t.home_region} if args.dr else {})}
        self.vault = locked_vault(name, tenant_vault_name(s, t, args.dr), args.kms_key_arn, tags, self)
        self.register_outputs({"vaultArn": self.vault.arn})
