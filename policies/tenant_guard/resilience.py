"""Nothing lost: deletion protection, final snapshots, backups, and protected stateful resources."""

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .encryption import RDS
from .frameworks import fsbp, glba, naic, nydfs
from .props import get, labels_of
from .rule import Res, Rule

DEFAULT_MIN_BACKUP_DAYS = 7
STATEFUL_TYPES = (
    RDS,
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:backup/vault:Vault",
    "aws:kinesis/stream:Stream",  # a retention period of the tenant's events
    "kubernetes:core/v1:Namespace",
)


def rds_deletion_safety(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    minimum = int(config.get("minBackupRetentionDays", DEFAULT_MIN_BACKUP_DAYS))
    if get(r.props, "deletionProtection") is not True:
        yield "deletion protection is off: set deletionProtection to true"
    replica = bool(get(r.props, "replicateSourceDb"))
    # RDS takes no final snapshot of a read replica; its data lives on in the source.
    if get(r.props, "skipFinalSnapshot") is True and not replica:
        yield "skipFinalSnapshot is true: a deletion would leave no final snapshot"
    if not replica:
        retention = get(r.props, "backupRetentionPeriod")
        if not isinstance(retention, (int, float)) or retention < minimum:
            yield f"automated backups are kept less than {minimum} days (backupRetentionPeriod)"
    if get(r.props, "copyTagsToSnapshot") is not True:
        yield "snapshots would lose the tenant tags: set copyTagsToSnapshot to true"


def stateful_protected(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if r.type == "kubernetes:core/v1:Namespace" and not labels_of(r.props).get("tenant"):
        return  # only tenant namespaces hold tenant data
    if not r.protect:
        yield "a stateful resource without the protect option could be deleted or replaced by a routine update"


RULES = (
    Rule(
        id="BAK-RDS-1",
        name="rds-deletion-safety",
        title="Databases survive deletion mistakes",
        summary="deletion protection, final snapshot, backups ≥ minimum, tagged snapshots",
        description="Every RDS instance has deletion protection, a final snapshot on deletion, tagged snapshots, and automated backups kept at least the configured minimum.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(naic("j"), nydfs("500.16"), fsbp("RDS.8"), fsbp("RDS.11")),
        remediation="Set deletionProtection: true, skipFinalSnapshot: false with a finalSnapshotIdentifier, copyTagsToSnapshot: true and backupRetentionPeriod from the tier table.",
        resource_types=(RDS,),
        check=rds_deletion_safety,
        config_schema={"minBackupRetentionDays": {"type": "integer", "minimum": 1, "default": DEFAULT_MIN_BACKUP_DAYS}},
    ),
    Rule(
        id="BAK-PROT-1",
        name="stateful-resources-protected",
        title="Stateful resources are protected in Pulumi",
        summary="databases, keys, buckets, vaults, tenant namespaces have `protect`",
        description="Databases, keys, buckets, backup vaults and tenant namespaces carry Pulumi's protect option, so removing a tenant file or renaming a resource cannot delete data.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(naic("j"), nydfs("500.13"), glba("6")),
        remediation="Add ResourceOptions(protect=True). To retire the resource, follow the offboarding runbook: final backup, then unprotect in a reviewed change.",
        resource_types=STATEFUL_TYPES,
        check=stateful_protected,
    ),
)
