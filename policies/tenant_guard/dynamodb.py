"""DynamoDB tables: customer-managed encryption, point-in-time recovery, deletion protection,
capacity that follows demand, and a backup plan that covers them (AWS Security Hub DynamoDB.1,
.2, .4, .6). Replicas of a global table are held to the same (their regions: RES-1)."""

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, glba, naic, nydfs
from .props import as_list, get
from .rule import Res, Rule, of_types

TABLE = "aws:dynamodb/table:Table"
SCALING_TARGET = "aws:appautoscaling/target:Target"
BACKUP_SELECTION = "aws:backup/selection:Selection"
AWS_MANAGED_KEY = "alias/aws/dynamodb"
SCALED_DIMENSIONS = ("dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits")


def _replicas(r: Res) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (str(get(replica, "regionName") or f"#{i + 1}"), replica)
        for i, replica in enumerate(as_list(get(r.props, "replicas")))
        if isinstance(replica, Mapping)
    ]


def table_encryption(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "serverSideEncryption.enabled") is not True:
        yield "the table is encrypted with an AWS owned key: set serverSideEncryption.enabled and the tenant's kmsKeyArn"
        return
    key = get(r.props, "serverSideEncryption.kmsKeyArn")
    if not key:
        yield "serverSideEncryption names no kmsKeyArn: the AWS managed aws/dynamodb key cannot be scoped to one tenant"
    elif isinstance(key, str) and key.endswith(AWS_MANAGED_KEY):
        yield "serverSideEncryption names the AWS managed aws/dynamodb key: use the tenant's customer managed key"
    for region, replica in _replicas(r):
        if not get(replica, "kmsKeyArn"):
            yield f"the replica in {region} has no kmsKeyArn: it would be encrypted with a key the tenant does not control"


def table_point_in_time_recovery(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "pointInTimeRecovery.enabled") is not True:
        yield "point-in-time recovery is off: set pointInTimeRecovery.enabled (Security Hub DynamoDB.2)"
    for region, replica in _replicas(r):
        if get(replica, "pointInTimeRecovery") is not True:
            yield f"the replica in {region} has point-in-time recovery off"


def table_deletion_protection(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "deletionProtectionEnabled") is not True:
        yield "deletion protection is off: set deletionProtectionEnabled (Security Hub DynamoDB.6)"
    for region, replica in _replicas(r):
        if get(replica, "deletionProtectionEnabled") is not True:
            yield f"the replica in {region} has deletion protection off"


def table_capacity(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """On-demand tables scale by themselves; provisioned ones need Application Auto Scaling
    targets for reads and writes (`table/<name>`)."""
    scaled = {
        (str(get(t.props, "resourceId")), str(get(t.props, "scalableDimension")))
        for t in resources
        if t.type == SCALING_TARGET and get(t.props, "serviceNamespace") == "dynamodb"
    }
    for r in resources:
        if r.type != TABLE or get(r.props, "billingMode") == "PAY_PER_REQUEST":
            continue
        missing = [
            d.rsplit(":", 1)[-1] for d in SCALED_DIMENSIONS if (f"table/{get(r.props, 'name')}", d) not in scaled
        ]
        if missing:
            yield (
                f"the provisioned table does not scale its {' and '.join(missing)} with demand: use PAY_PER_REQUEST "
                "or add Application Auto Scaling targets (Security Hub DynamoDB.1)",
                r.urn,
            )


def table_backup_coverage(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Every table is named (or matched by a wildcard) in an AWS Backup selection."""
    patterns = [str(arn) for s in resources if s.type == BACKUP_SELECTION for arn in as_list(get(s.props, "resources"))]
    for r in resources:
        if r.type != TABLE:
            continue
        name = get(r.props, "name")
        if not any(
            p.endswith(f":table/{name}") or fnmatchcase(f"table/{name}", p.rsplit(":", 1)[-1]) for p in patterns
        ):
            yield (f"table {name} is in no AWS Backup plan's selection (Security Hub DynamoDB.4)", r.urn)


RULES = (
    Rule(
        id="ENC-DDB-1",
        name="dynamodb-encrypted-with-customer-key",
        title="DynamoDB tables are encrypted with customer-managed keys",
        summary="SSE with a customer-managed KMS key, replicas included",
        description="Every DynamoDB table (and every replica of a global table) is encrypted with a customer-managed KMS key, never the AWS owned or AWS managed aws/dynamodb key, so one tenant's key policy governs and destroying it shreds the table, its indexes, stream and backups.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), glba("3")),
        remediation="Create tenant tables with TenantTable, which passes the tenant's TenantKey ARN to serverSideEncryption.kmsKeyArn.",
        resource_types=(TABLE,),
        check=table_encryption,
    ),
    Rule(
        id="BAK-DDB-1",
        name="dynamodb-point-in-time-recovery",
        title="DynamoDB tables have point-in-time recovery",
        summary="point-in-time recovery on the table and its replicas",
        description="Every DynamoDB table and replica keeps continuous backups, so a bad write or a deletion of items can be undone to the second within the recovery window.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("DynamoDB.2"), naic("j"), nydfs("500.16")),
        remediation="Set pointInTimeRecovery.enabled (TenantTable sets it, with the tier's backup retention as the recovery period).",
        resource_types=(TABLE,),
        check=table_point_in_time_recovery,
    ),
    Rule(
        id="BAK-DDB-2",
        name="dynamodb-deletion-protection",
        title="DynamoDB tables have deletion protection",
        summary="deletion protection on the table and its replicas",
        description="Every DynamoDB table and replica has deletion protection, so a routine update or a mistaken call cannot delete the tenant's data (Pulumi's protect guards only this program).",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("DynamoDB.6"), naic("j"), nydfs("500.13")),
        remediation="Set deletionProtectionEnabled: true and ResourceOptions(protect=True); retire a table only through the offboarding runbook.",
        resource_types=(TABLE,),
        check=table_deletion_protection,
    ),
    Rule(
        id="CAP-DDB-1",
        name="dynamodb-capacity-scales",
        title="DynamoDB capacity follows demand",
        summary="on-demand, or provisioned with read and write autoscaling",
        description="Every DynamoDB table is on-demand (PAY_PER_REQUEST, capped by the tier's maximum throughput) or provisioned with Application Auto Scaling on reads and writes, so load peaks are served instead of throttled.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("DynamoDB.1"), nydfs("500.16")),
        remediation="Use billingMode PAY_PER_REQUEST with onDemandThroughput from the tier table (TenantTable), or add appautoscaling Targets and Policies for table/<name> reads and writes.",
        stack_check=table_capacity,
        subject=of_types(TABLE),
    ),
    Rule(
        id="BAK-DDB-3",
        name="dynamodb-in-backup-plan",
        title="DynamoDB tables are covered by a backup plan",
        summary="every table is selected by an AWS Backup plan",
        description="Every DynamoDB table is in an AWS Backup selection, so it is backed up on the tenant's schedule, kept for the tier's retention and copied to its DR vault inside its residency.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("DynamoDB.4"), naic("j"), nydfs("500.16")),
        remediation="Pass the table's ARN to TenantBackup (table_arn), which adds it to the tenant's backup selection.",
        stack_check=table_backup_coverage,
        subject=of_types(TABLE),
    ),
)
