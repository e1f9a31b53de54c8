"""The tier table: the one place where tenant sizes, availability and retention are decided.

Everything tier-dependent (namespace quota, compute placement, database class and HA, backups,
autoscaling, recovery targets, log retention, DynamoDB capacity, the aggregator's fan-out
timeouts, the public API's throttle and quota) derives from `TIERS`. A tenant's overrides may only strengthen its tier (see
`catalog.loader`), and `effective_tier` applies them; `for_environment` then applies what an
environment demands of every tier (production: Multi-AZ for every tenant database, seed 004 "High
Availability: Multi-AZ deployment with automated failover"). Both only add protection.
"""

from dataclasses import dataclass, replace
from typing import Literal

TierName = Literal["basic", "standard", "premium"]
Environment = Literal["dev", "prod"]
Placement = Literal["shared", "dedicated"]
CrossRegionCopy = Literal["backup-replication", "read-replica"]


@dataclass(frozen=True)
class Quota:
    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str
    pods: int
    persistent_volume_claims: int


@dataclass(frozen=True)
class ContainerDefaults:
    """LimitRange values applied to containers that do not set their own."""

    request_cpu: str
    request_memory: str
    limit_cpu: str
    limit_memory: str
    max_cpu: str
    max_memory: str


@dataclass(frozen=True)
class DatabaseSpec:
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    backup_retention_days: int
    cross_region: tuple[CrossRegionCopy, ...]
    read_replica: bool = False  # same-region replica for read traffic


@dataclass(frozen=True)
class TableSpec:
    """A tenant's DynamoDB table (components/tenant/tenant_table.py). On-demand for every tier:
    no capacity planning, scales to the tenant's peaks, and `max_read/write_request_units` caps
    what one tenant can spend (and so its blast radius on the account's throughput quota);
    premium gets the highest caps. Provisioned capacity with autoscaling would be cheaper at a
    steady high load but adds six resources per table and throttles during scale-up."""

    max_read_request_units: int
    max_write_request_units: int
    ttl_attribute: str = "expiresAt"


WarehousePlacement = Literal["pooled", "dedicated"]
BreachAction = Literal["log", "emit-metric", "deactivate"]


@dataclass(frozen=True)
class WarehouseSpec:
    """Redshift Serverless sizing of a tenant's warehouse, or of the pool it shares.

    `pooled`: the tenant is a schema (and an IAM-mapped database user) in the platform stack's
    pool of its home region; the pool's workgroup is sized by POOLED_WAREHOUSE, whatever the
    tier. `dedicated`: a namespace and workgroup of the tenant's own, in its tenant stack,
    encrypted with its own key. Capacity in RPUs (base 8 to 512 in steps of 8; max 8 to 1024
    where offered); the usage limit caps serverless-compute RPU-hours per month per workgroup
    and `breach_action` is what Redshift does at the cap. `snapshot_retention_days`: AWS Backup
    snapshots of the namespace, kept in the home region.

    Account quotas (Redshift Serverless, per account and Region, read 2026-11 from
    https://docs.aws.amazon.com/redshift/latest/mgmt/amazon-redshift-limits.html): 25 namespaces
    and 25 workgroups (adjustable), so a region holds the pool plus 24 dedicated warehouses
    before a quota request; 100 databases per namespace (not adjustable, hence a schema per
    pooled tenant, 9,900 schemas); 2,000 connections per workgroup; 50 IAM roles per namespace
    (not adjustable), so the pool attaches one role and chains into per-tenant COPY roles."""

    placement: WarehousePlacement
    base_rpu: int
    max_rpu: int
    monthly_rpu_hours: int
    breach_action: BreachAction
    snapshot_retention_days: int


# The region's shared pool (platform stack) for every pooled tenant homed there. At its monthly
# cap the pool stops taking queries: one pooled tenant's runaway load cannot grow the bill
# without bound (the platform budget's alerts come first).
POOLED_WAREHOUSE = WarehouseSpec(
    placement="pooled",
    base_rpu=8,
    max_rpu=64,
    monthly_rpu_hours=2000,
    breach_action="deactivate",
    snapshot_retention_days=14,
)
# A premium tenant's own warehouse: more headroom, and at the cap Redshift emits a metric (the
# tenant's analytics keep running; the cost is its own and its budget alerts).
DEDICATED_WAREHOUSE = WarehouseSpec(
    placement="dedicated",
    base_rpu=16,
    max_rpu=128,
    monthly_rpu_hours=5000,
    breach_action="emit-metric",
    snapshot_retention_days=35,
)


@dataclass(frozen=True)
class ApiSpec:
    """The tenant's share of the regional public API (components/edge/api_gateway.py): its tier's
    usage plan sets the steady request rate (requests per second, the token bucket's refill), the
    burst (the bucket's size) and a quota per period, counted per API key, and every tenant has a
    key of its own, so one tenant's traffic never spends another's. The account's regional
    throttle (10,000 requests per second, burst 5,000 by default) caps the sum: a region of many
    tenants states its raised quota before onboarding (docs/api-gateway.md)."""

    rate_limit_rps: float
    burst_limit: int
    quota_limit: int
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"


@dataclass(frozen=True)
class Tier:
    name: TierName
    quota: Quota
    container_defaults: ContainerDefaults
    placement: Placement
    database: DatabaseSpec
    table: TableSpec
    hpa_min: int
    hpa_max: int
    pdb_min_available: int | None
    rpo_minutes: int
    rto_minutes: int
    log_retention_days: int
    document_retention_days: int  # tenant bucket objects (policy and claim records)
    # Kinesis Data Streams retention of the tenant's event stream, in hours (24 to 8760): how long
    # consumers can replay events; the landing zone keeps the delivered copy for
    # document_retention_days.
    event_retention_hours: int
    monthly_budget_usd: int  # AWS Budget per tenant; alerts at 80 % actual and 100 % forecast
    service_cpu: str  # per-container request; limits are twice the request
    service_memory: str
    # Job processors (Lambda, one per job queue): the most concurrent invocations the queue's
    # event source mapping starts (its maximum concurrency, >= 2), and whether that many are
    # reserved for the function out of the account's regional pool (None: the shared pool).
    processor_max_concurrency: int
    processor_reserved_concurrency: int | None
    # The aggregator's fan-out to the carrier and policy APIs: each call's timeout and the whole
    # request's deadline. Higher tiers run more replicas (dedicated nodes for premium) and promise
    # faster answers: tighter limits shed a slow dependency sooner and answer with flagged partial
    # results rather than holding the client.
    fanout_call_timeout_ms: int
    fanout_deadline_ms: int
    api: ApiSpec  # the tenant's API key throttle and quota (its tier's usage plan)
    # The tenant's analytics warehouse (Redshift Serverless, components/shared/warehouse.py):
    # pooled tiers share the region's pool, premium gets a namespace and workgroup of its own.
    warehouse: WarehouseSpec = POOLED_WAREHOUSE


# Instance classes a tenant database may use, smallest first. An override may only move up.
DB_INSTANCE_CLASSES: tuple[str, ...] = (
    "db.t4g.medium",
    "db.t4g.large",
    "db.m7g.large",
    "db.r7g.large",
    "db.m7g.xlarge",
    "db.r7g.xlarge",
    "db.r7g.2xlarge",
    "db.r7g.4xlarge",
)

# What production demands of every tier's database (seed 004): a standby in another AZ with
# automated failover. Dev keeps the tier's value (single-AZ basic is cheaper to run there).
PRODUCTION_MULTI_AZ = True

# CloudWatch Logs accepts only these retention values.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

MAX_BACKUP_RETENTION_DAYS = 35  # the RDS maximum for automated backups

# Lambda concurrency per account and region: 1000 by default (a Service Quotas increase raises it),
# of which Lambda keeps at least 100 unreserved for functions without a reservation
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). The loader refuses
# a region whose tenants' reservations would leave less (account.lambdaConcurrencyLimit).
LAMBDA_DEFAULT_CONCURRENCY = 1000
LAMBDA_UNRESERVED_MINIMUM = 100
PROCESSOR_QUEUES = 2  # carrier and policy job queues: one processor function each per tenant


TIERS: dict[str, Tier] = {
    "basic": Tier(
        name="basic",
        quota=Quota("2", "4Gi", "4", "8Gi", pods=20, persistent_volume_claims=5),
        container_defaults=ContainerDefaults("100m", "128Mi", "500m", "512Mi", "1", "2Gi"),
        placement="shared",
        database=DatabaseSpec(
            instance_class="db.t4g.medium",
            allocated_storage_gb=20,
            max_allocated_storage_gb=100,
            multi_az=False,
            backup_retention_days=7,
            cross_region=("backup-replication",),
        ),
        table=TableSpec(max_read_request_units=1000, max_write_request_units=500),
        hpa_min=1,
        hpa_max=3,
        pdb_min_available=None,
        rpo_minutes=24 * 60,
        rto_minutes=24 * 60,
        log_retention_days=365,  # a year at least for every tier (Checkov CKV_AWS_338, NIST AU-11)
        document_retention_days=2557,  # 7 years
        event_retention_hours=24,  # a day: the minimum, included in the on-demand price
        monthly_budget_usd=1500,
        service_cpu="100m",
        service_memory="256Mi",
        processor_max_concurrency=2,  # capped in the shared pool: a basic tenant cannot starve others
        processor_reserved_concurrency=None,
        fanout_call_timeout_ms=2500,
        fanout_deadline_ms=5000,
        api=ApiSpec(rate_limit_rps=25, burst_limit=50, quota_limit=200_000),
    ),
    "standard": Tier(
        name="standard",
        quota=Quota("8", "16Gi", "16", "32Gi", pods=60, persistent_volume_claims=10),
        container_defaults=ContainerDefaults("250m", "256Mi", "1", "1Gi", "2", "4Gi"),
        placement="shared",
        database=DatabaseSpec(
            instance_class="db.m7g.large",
            allocated_storage_gb=50,
            max_allocated_storage_gb=500,
            multi_az=True,
            backup_retention_days=14,
            cross_region=("backup-replication",),
        ),
        table=TableSpec(max_read_request_units=4000, max_write_request_units=2000),
        hpa_min=2,
        hpa_max=10,
        pdb_min_available=1,
        rpo_minutes=60,
        rto_minutes=4 * 60,
        log_retention_days=365,
        document_retention_days=2557,
        event_retention_hours=72,  # three days: a weekend's outage of a consumer
        monthly_budget_usd=6000,
        service_cpu="250m",
        service_memory="512Mi",
        processor_max_concurrency=5,
        processor_reserved_concurrency=5,
        fanout_call_timeout_ms=2000,
        fanout_deadline_ms=4000,
        api=ApiSpec(rate_limit_rps=100, burst_limit=200, quota_limit=2_000_000),
    ),
    "premium": Tier(
        name="premium",
        quota=Quota("32", "64Gi", "64", "128Gi", pods=200, persistent_volume_claims=30),
        container_defaults=ContainerDefaults("500m", "512Mi", "2", "2Gi", "4", "8Gi"),
        placement="dedicated",
        database=DatabaseSpec(
            instance_class="db.r7g.xlarge",
            allocated_storage_gb=100,
            max_allocated_storage_gb=2000,
            multi_az=True,
            backup_retention_days=35,
            cross_region=("read-replica", "backup-replication"),
            read_replica=True,
        ),
        table=TableSpec(max_read_request_units=40000, max_write_request_units=20000),
        hpa_min=3,
        hpa_max=20,
        pdb_min_available=2,
        rpo_minutes=5,
        rto_minutes=60,
        log_retention_days=2557,  # 7 years: audit retention
        document_retention_days=3653,  # 10 years
        event_retention_hours=168,  # a week of replay for analytics and ML consumers
        monthly_budget_usd=20000,
        service_cpu="500m",
        service_memory="1Gi",
        processor_max_concurrency=20,
        processor_reserved_concurrency=20,
        fanout_call_timeout_ms=1500,
        fanout_deadline_ms=3000,
        api=ApiSpec(rate_limit_rps=500, burst_limit=1000, quota_limit=20_000_000),
        warehouse=DEDICATED_WAREHOUSE,
    ),
}


@dataclass(frozen=True)
class Overrides:
    """Per-tenant changes to the tier defaults; the loader accepts only ones that strengthen."""

    db_instance_class: str | None = None
    multi_az: bool | None = None
    backup_retention_days: int | None = None
    db_max_allocated_storage_gb: int | None = None
    log_retention_days: int | None = None


def effective_tier(tier: Tier, overrides: Overrides) -> Tier:
    """The tier with a tenant's (already validated, strengthen-only) overrides applied."""
    db = tier.database
    database = replace(
        db,
        instance_class=overrides.db_instance_class or db.instance_class,
        multi_az=db.multi_az or bool(overrides.multi_az),
        backup_retention_days=max(db.backup_retention_days, overrides.backup_retention_days or 0),
        max_allocated_storage_gb=max(db.max_allocated_storage_gb, overrides.db_max_allocated_storage_gb or 0),
    )
    return replace(
        tier,
        database=database,
        log_retention_days=max(tier.log_retention_days, overrides.log_retention_days or 0),
    )


def for_environment(tier: Tier, environment: Environment) -> Tier:
    """The tier as an environment runs it: production databases are Multi-AZ whatever the tier
    says (seed 004); dev keeps the tier's (and overrides') value. Only ever adds protection."""
    if environment != "prod":
        return tier
    return replace(tier, database=replace(tier.database, multi_az=tier.database.multi_az or PRODUCTION_MULTI_AZ))
