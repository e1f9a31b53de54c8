"""A tenant's own DynamoDB table for the seed's low-latency data (sessions, quotes in progress,
idempotency keys, read models the event processors keep): home region only, encrypted with the
tenant's data key, point-in-time recovery for the tier's backup window, deletion protection and
`protect`, on-demand capacity capped by the tier, a stream (new and old images) for the event
processors and a TTL attribute for data that expires.

One table per tenant (silo), not a pooled table with leading-key conditions: the table's ARN is
what the tenant's roles are limited to, its key is the tenant's (destroying the key shreds it),
and its backups, restores and throughput are the tenant's alone.

No global-table replicas. A replica must be encrypted with a key of its own region (the tenant's
DR key there) and would put the tenant's live data in a second region for every write; the
platform's DR path for a tenant's data is AWS Backup copies to its DR vault in the peer region,
only where its residency allows (TenantBackup selects this table), so the table needs no replica
to be restorable there. Were replicas added, `table_replica_regions` is the one place deciding
where: regions inside the tenant's residency and in the home region's residency zone.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.tags import tenant_tags

PARTITION_KEY = "pk"
SORT_KEY = "sk"
STREAM_VIEW = "NEW_AND_OLD_IMAGES"  # processors see what changed (both sides of an update)
MAX_PITR_DAYS = 35  # DynamoDB keeps point-in-time backups 1 to 35 days


def table_name(settings: StackSettings, tenant: Tenant) -> str:
    """Deterministic: the tenant's roles and its backup selection can name it."""
    return f"{settings.name_prefix}-{tenant.id}-records"


def table_arn(settings: StackSettings, tenant: Tenant, account: str) -> str:
    return f"arn:aws:dynamodb:{tenant.home_region}:{account}:table/{table_name(settings, tenant)}"


def residency_zone(region: str) -> str:
    """The legal area a region belongs to (us, ca, eu, ...): a table never mixes two."""
    return region.split("-", 1)[0]


def table_replica_regions(tenant: Tenant, candidates: Sequence[str]) -> list[str]:
    """Regions where a replica of the tenant's table could live: inside its residency, in its home
    region's residency zone, never the home region itself."""
    zone = residency_zone(tenant.home_region)
    return [r for r in candidates if r != tenant.home_region and r in tenant.residency and residency_zone(r) == zone]


@dataclass
class TenantTableArgs:
    settings: StackSettings
    tenant: Tenant
    kms_key_arn: pulumi.Input[str]  # the tenant's data key (TenantKey) in its home region


class TenantTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table

    def __init__(self, name: str, args: TenantTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantTable", name, None, opts)
        s, t = args.settings, args.tenant
        spec = t.tier.table
        self.table = aws.dynamodb.Table(
            name,
            name=table_name(s, t),
            billing_mode="PAY_PER_REQUEST",
            # On-demand, capped per tenant: one tenant's burst cannot spend the account's quota.
            on_demand_throughput=aws.dynamodb.TableOnDemandThroughputArgs(
                max_read_request_units=spec.max_read_request_units,
                max_write_request_units=spec.max_write_request_units,
            ),
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=PARTITION_KEY, type="S"),
                aws.dynamodb.TableAttributeArgs(name=SORT_KEY, type="S"),
            ],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(
                enabled=True,
                recovery_period_in_days=min(MAX_PITR_DAYS, t.tier.database.backup_retention_days),
            ),
            deletion_protection_enabled=True,
            stream_enabled=True,
            stream_view_type=STREAM_VIEW,
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=spec.ttl_attribute, enabled=True),
            tags=tenant_tags(s, t),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.register_outputs(
            {"tableName": self.table.name, "tableArn": self.table.arn, "streamArn": self.table.stream_arn}
        )
