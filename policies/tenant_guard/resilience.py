"""Nothing lost: deletion protection, final snapshots, backups, and protected stateful resources."""

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .encryption import RDS
from .frameworks import fsbp, glba, naic, nydfs
from .props import get, labels_of, tags_of
from .rule import Res, Rule

DEFAULT_MIN_BACKUP_DAYS = 7
STATEFUL_TYPES = (
    RDS,
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:backup/vault:Vault",
    "aws:dynamodb/table:Table",
    "aws:kinesis/stream:Stream",  # a retention period of the tenant's events
    # its read position in the stream: a new one starts at LATEST and skips what was not delivered
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    "aws:redshiftserverless/namespace:Namespace",  # the warehouse's data (a pool: many tenants')
    "kubernetes:core/v1:Namespace",
)
DEFAULT_MULTI_AZ_ENVIRONMENTS = ("prod",)


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


def rds_multi_az(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    """A primary database in a production environment (its `environment` tag) has a standby in
    another AZ; read replicas and cross-region copies take their HA from their primary."""
    environments = list(config.get("environments") or DEFAULT_MULTI_AZ_ENVIRONMENTS)
    environment = tags_of(r.props).get("environment")
    if environment not in environments or get(r.props, "replicateSourceDb"):
        return
    if get(r.props, "multiAz") is not True:
        yield f"a {environment} database without a Multi-AZ standby: an AZ failure stops the tenant (set multiAz)"


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
        id="BAK-RDS-2",
        name="rds-multi-az-in-production",
        title="Production databases are Multi-AZ",
        summary="every production primary database has a Multi-AZ standby, whatever its tier",
        description="Every primary RDS instance tagged with a production environment runs Multi-AZ with automated failover, the basic tier included (seed 004: High Availability for every client database); dev may stay single-AZ.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RDS.5"), nydfs("500.16"), naic("j")),
        remediation="Set multiAz: true; catalog.tiers.for_environment makes every tier Multi-AZ in prod.",
        resource_types=(RDS,),
        check=rds_multi_az,
        config_schema={"environments": {"type": "array", "items": {"type": "string"}, "default": ["prod"]}},
    ),
    Rule(
        id="BAK-PROT-1",
        name="stateful-resources-protected",
        title="Stateful resources are protected in Pulumi",
        summary="databases, tables, event streams and deliveries, warehouses, keys, buckets, vaults, tenant namespaces have `protect`",
        description="Databases, DynamoDB tables, Kinesis streams and their Firehose deliveries, Redshift Serverless namespaces, keys, buckets (the event landing buckets included), backup vaults and tenant namespaces carry Pulumi's protect option, so removing a tenant file or renaming a resource cannot delete data or skip undelivered events.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(naic("j"), nydfs("500.13"), glba("6")),
        remediation="Add ResourceOptions(protect=True). To retire the resource, follow the offboarding runbook: final backup, then unprotect in a reviewed change.",
        resource_types=STATEFUL_TYPES,
        check=stateful_protected,
    ),
)
