"""The region's AWS Backup vault (platform key, vault lock), the role AWS Backup works with, and a
weekly restore test of the tenant databases (backups are only as good as their restores)."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.iam import service_trust
from components.tags import platform_tags

BACKUP_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
)
MAX_RETENTION_DAYS = 3653  # ten years: the longest tier retention


def vault_name(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-vault"


def vault_arn(settings: StackSettings, region: str, account: str) -> str:
    return f"arn:aws:backup:{region}:{account}:backup-vault:{vault_name(settings, region)}"


@dataclass
class BackupVaultArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


class BackupVault(pulumi.ComponentResource):
    vault: aws.backup.Vault
    role: aws.iam.Role

    def __init__(self, name: str, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:BackupVault", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "backup")
        child = pulumi.ResourceOptions(parent=self)
        self.vault = aws.backup.Vault(
            name,
            name=vault_name(s, s.region),
            kms_key_arn=args.kms_key_arn,
            force_destroy=False,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        # Compliance-mode lock after a three-day grace period: nobody can shorten retention or
        # delete recovery points early, not even an administrator.
        aws.backup.VaultLockConfiguration(
            name,
            backup_vault_name=self.vault.name,
            min_retention_days=7,
            max_retention_days=MAX_RETENTION_DAYS,
            changeable_for_days=3,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-service",
            name=f"{s.regional_prefix}-backup",
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
                include_vaults=[self.vault.arn],
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
