"""Parse and validate stack config and the tenant catalog, once, before any resource exists.

Every mistake becomes one `ConfigError` naming the file and the field.
"""

import functools
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.errors import ConfigError
from catalog.model import (
    AccountSettings,
    ClusterSettings,
    Contact,
    DatabaseSettings,
    DeployerSettings,
    DrSettings,
    EdgeSettings,
    GlobalEdgeSettings,
    Image,
    NodePool,
    OperatorSso,
    ServiceImages,
    StackSettings,
    Tenant,
    deployer_name,
)
from catalog.regions import AWS_REGIONS, is_aws_region
from catalog.source import MAX_STACK_BYTES, MAX_TENANT_BYTES, load_json, load_yaml, read_text, read_yaml

if TYPE_CHECKING:
    from catalog.stacks import StackName
from catalog.tiers import (
    DB_INSTANCE_CLASSES,
    LAMBDA_DEFAULT_CONCURRENCY,
    LAMBDA_UNRESERVED_MINIMUM,
    LOG_RETENTION_DAYS,
    MAX_BACKUP_RETENTION_DAYS,
    PROCESSOR_QUEUES,
    TIERS,
    Overrides,
    effective_tier,
    for_environment,
)

# Tenant ids become namespace names, RDS identifiers and parts of bucket/role names: a DNS label
# that starts with a letter, at most 32 characters, no "--" (RDS rejects consecutive hyphens).
_TENANT_ID = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_K8S_VERSION = re.compile(r"^1\.(\d+)$")
_ENGINE_VERSION = re.compile(r"^\d+\.\d+(?:\.\d+)?$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")
_HOSTED_ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")
# <account>.dkr.ecr[-fips].<region>.amazonaws.com/<path>: images are resolved to digests through ECR
_REGISTRY = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com"
    r"(?P<path>(?:/[a-z0-9._-]+)+)$"
)
_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

MIN_K8S_MINOR = 34  # oldest EKS minor still in standard support (1.34 ends Dec 2026)

# A tenant's namespace is its id: no id may name a namespace the platform's add-ons live in.
RESERVED_NAMESPACES = frozenset(
    {
        "default", "kube-system", "kube-public", "kube-node-lease", "platform", "istio-system", "istio-cni",
        "velero", "observability", "external-secrets", "database-users", "nginx-ingress",
        "aws-load-balancer-controller", "keda", "vpa", "cluster-autoscaler", "metrics-server", "amazon-cloudwatch",
    }
)  # fmt: skip

# A tenant's host is `<id>.<domain>`: no id may be a host name of the platform (the public API's).
RESERVED_HOST_LABELS = frozenset({"api"})

TENANT_KEYS_REQUIRED = (
    "id", "displayName", "tier", "homeRegion", "regions", "residency", "domain", "contacts",
)  # fmt: skip
TENANT_KEYS_OPTIONAL = ("overrides", "domainVerified")


class _Fields:
    """Typed access to one mapping of a file, with errors naming file and field path."""

    def __init__(self, file: str, data: Mapping[str, Any], path: str = "") -> None:
        self.file = file
        self.data = data
        self.path = path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, self.name(key), problem)

    def only(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        for key in required:
            if key not in self.data:
                raise self.fail(key, "required key is missing")
        allowed = set(required) | set(optional)
        for key in self.data:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(str(key), f"unknown key (allowed: {hint})")

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def string(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value

    def integer(self, key: str, default: int | None = None, minimum: int = 0) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number >= {minimum}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def strings(self, key: str, default: list[str] | None = None, allow_empty: bool = False) -> tuple[str, ...]:
        value = self.data.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a list of strings")
        if not value and not allow_empty:
            raise self.fail(key, "must not be empty")
        if len(set(value)) != len(value):
            raise self.fail(key, "has duplicate entries")
        return tuple(value)

    def regions(self, key: str) -> tuple[str, ...]:
        values = self.strings(key)
        for value in values:
            if not is_aws_region(value):
                raise self.fail(key, f"'{value}' is not an AWS region")
        return values

    def private_cidr(self, key: str) -> ipaddress.IPv4Network:
        value = self.string(key)
        try:
            network = ipaddress.ip_network(value)
        except ValueError:
            raise self.fail(key, f"'{value}' is not a CIDR block") from None
        if not isinstance(network, ipaddress.IPv4Network) or not network.is_private:
            raise self.fail(key, f"'{value}' must be a private IPv4 block")
        return network

    def mapping(self, key: str, default: Mapping[str, Any] | None = None) -> "_Fields":
        value = self.data.get(key, default)
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a mapping")
        return _Fields(self.file, value, self.name(key))


# --------------------------------------------------------------------------------------------
# Tenant catalog


def load_catalog(directory: Path, display_root: Path | None = None) -> tuple[Tenant, ...]:
    """Every `<id>.yaml` in the environment's catalog folder, validated; sorted by id. Read once
    per process while no file changes (the offline planner plans a region's stacks in a row)."""
    stamp = (
        tuple((p.name, s.st_mtime_ns, s.st_size) for p in sorted(directory.iterdir()) for s in [p.stat()])
        if directory.is_dir()
        else ()
    )
    return _load_catalog(directory, display_root, stamp)


@functools.lru_cache(maxsize=16)
def _load_catalog(
    directory: Path, display_root: Path | None, _stamp: tuple[tuple[str, int, int], ...]
) -> tuple[Tenant, ...]:
    root = display_root or directory.parent.parent
    if not directory.is_dir():
        raise ConfigError(_rel(directory, root), "(folder)", "tenant catalog folder does not exist")
    tenants: list[Tenant] = []
    seen_ids: dict[str, str] = {}
    seen_domains: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        file = _rel(path, root)
        if path.suffix not in (".yaml", ".yml"):
            raise ConfigError(file, "(file)", "only <tenant-id>.yaml files belong in the catalog")
        tenant = parse_tenant(file, read_text(path, file, MAX_TENANT_BYTES), path.stem)
        if tenant.id in seen_ids:
            raise ConfigError(file, "id", f"duplicate tenant id '{tenant.id}' (also in {seen_ids[tenant.id]})")
        if tenant.domain in seen_domains:
            raise ConfigError(
                file, "domain", f"domain '{tenant.domain}' is already used by {seen_domains[tenant.domain]}"
            )
        seen_ids[tenant.id] = file
        seen_domains[tenant.domain] = file
        tenants.append(tenant)
    for tenant in tenants:
        # A name under another tenant's domain is served by that tenant's DNS and certificate.
        for other in tenants:
            if other is not tenant and tenant.domain.endswith(f".{other.domain}"):
                raise ConfigError(
                    tenant.source,
                    "domain",
                    f"'{tenant.domain}' sits under tenant '{other.id}''s domain '{other.domain}' ({other.source})",
                )
    return tuple(sorted(tenants, key=lambda t: t.id))


def parse_tenant(file: str, text: str, file_stem: str | None = None) -> Tenant:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TENANT_BYTES:
        raise ConfigError(file, "(file)", f"over the {MAX_TENANT_BYTES // 1024} KiB limit for a tenant file")
    data = load_yaml(text, file)
    if not isinstance(data, Mapping):
        raise ConfigError(file, "(document)", "must be a YAML mapping of tenant keys")
    f = _Fields(file, data)
    f.only(TENANT_KEYS_REQUIRED, TENANT_KEYS_OPTIONAL)

    tenant_id = f.string("id")
    if not _TENANT_ID.match(tenant_id) or "--" in tenant_id:
        raise f.fail(
            "id",
            f"'{tenant_id}' is not a valid tenant id (DNS label: a-z, 0-9 and '-', starts with a "
            "letter, at most 32 characters, no '--')",
        )
    if tenant_id in RESERVED_NAMESPACES or tenant_id in RESERVED_HOST_LABELS:
        raise f.fail("id", f"'{tenant_id}' is reserved for the platform")
    if file_stem is not None and file_stem != tenant_id:
        raise f.fail("id", f"'{tenant_id}' must match the file name ({file_stem}.yaml)")

    tier_name = f.string("tier")
    if tier_name not in TIERS:
        raise f.fail("tier", f"unknown tier '{tier_name}' (one of: {', '.join(TIERS)})")

    regions = f.regions("regions")
    residency = f.regions("residency")
    home = f.string("homeRegion")
    if not is_aws_region(home):
        raise f.fail("homeRegion", f"'{home}' is not an AWS region")
    if home not in regions:
        raise f.fail("homeRegion", f"'{home}' is not one of the tenant's regions {list(regions)}")
    for region in regions:
        if region not in residency:
            raise f.fail("regions", f"served region '{region}' is outside the tenant's residency {list(residency)}")

    domain = _dns_name(f, "domain")

    contacts = _contacts(f)
    tier = TIERS[tier_name]
    overrides = _overrides(f, tier_name)
    return Tenant(
        id=tenant_id,
        display_name=f.string("displayName"),
        tier=effective_tier(tier, overrides),
        home_region=home,
        regions=regions,
        residency=residency,
        domain=domain,
        contacts=contacts,
        overrides=overrides,
        source=file,
        domain_verified=f.boolean("domainVerified") if "domainVerified" in data else False,
    )


def _contacts(f: _Fields) -> tuple[Contact, ...]:
    raw = f.get("contacts")
    if not isinstance(raw, list) or not raw:
        raise f.fail("contacts", "must be a non-empty list of {name, email}")
    contacts = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise f.fail(f"contacts[{index}]", "must be a mapping with name and email")
        c = _Fields(f.file, item, f.name(f"contacts[{index}]"))
        c.only(("name", "email"), ("severities", "webhook"))
        email = c.string("email")
        if not _EMAIL.match(email):
            raise c.fail("email", f"'{email}' is not an email address")
        severities = c.strings("severities", ["critical", "warning"])
        for severity in severities:
            if severity not in ("critical", "warning"):
                raise c.fail("severities", f"'{severity}' must be critical or warning")
        webhook = c.string("webhook") if "webhook" in c.data else None
        if webhook is not None and not re.match(r"^https://[a-z0-9.-]+(?:/\S*)?$", webhook):
            raise c.fail("webhook", "must be an https:// URL")
        contacts.append(
            Contact(name=c.string("name"), email=email, severities=severities, webhook=webhook)  # type: ignore[arg-type]
        )
    return tuple(contacts)


def _overrides(f: _Fields, tier_name: str) -> Overrides:
    if "overrides" not in f.data:
        return Overrides()
    o = f.mapping("overrides")
    o.only(
        (),
        ("dbInstanceClass", "multiAz", "backupRetentionDays", "dbMaxAllocatedStorageGb", "logRetentionDays"),
    )
    base = TIERS[tier_name]
    weaker = f"would weaken the {tier_name} tier; overrides may only strengthen it"

    db_class = None
    if "dbInstanceClass" in o.data:
        db_class = o.string("dbInstanceClass")
        if db_class not in DB_INSTANCE_CLASSES:
            raise o.fail("dbInstanceClass", f"'{db_class}' is not an allowed class ({', '.join(DB_INSTANCE_CLASSES)})")
        if DB_INSTANCE_CLASSES.index(db_class) < DB_INSTANCE_CLASSES.index(base.database.instance_class):
            raise o.fail("dbInstanceClass", f"'{db_class}' {weaker} ({base.database.instance_class})")
    multi_az = None
    if "multiAz" in o.data:
        multi_az = o.boolean("multiAz")
        if base.database.multi_az and not multi_az:
            raise o.fail("multiAz", f"false {weaker}")
    backup = None
    if "backupRetentionDays" in o.data:
        backup = o.integer("backupRetentionDays", minimum=1)
        if backup < base.database.backup_retention_days:
            raise o.fail("backupRetentionDays", f"{backup} {weaker} ({base.database.backup_retention_days})")
        if backup > MAX_BACKUP_RETENTION_DAYS:
            raise o.fail("backupRetentionDays", f"{backup} exceeds the RDS maximum of {MAX_BACKUP_RETENTION_DAYS}")
    storage = None
    if "dbMaxAllocatedStorageGb" in o.data:
        storage = o.integer("dbMaxAllocatedStorageGb", minimum=1)
        if storage < base.database.max_allocated_storage_gb:
            raise o.fail("dbMaxAllocatedStorageGb", f"{storage} {weaker} ({base.database.max_allocated_storage_gb})")
    logs = None
    if "logRetentionDays" in o.data:
        logs = o.integer("logRetentionDays", minimum=1)
        if logs not in LOG_RETENTION_DAYS:
            raise o.fail("logRetentionDays", f"{logs} is not a CloudWatch retention value")
        if logs < base.log_retention_days:
            raise o.fail("logRetentionDays", f"{logs} {weaker} ({base.log_retention_days})")
    return Overrides(
        db_instance_class=db_class,
        multi_az=multi_az,
        backup_retention_days=backup,
        db_max_allocated_storage_gb=storage,
        log_retention_days=logs,
    )


def _is_dns_name(name: str) -> bool:
    labels = name.split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# Stack settings

ConfigGetter = Callable[[str], str | None]

STACK_KEYS = (
    "environment", "vpcCidr", "natGateways", "cluster", "database", "edge", "services", "dr", "account", "tenantCatalog",
    "globalEdge", "operatorSso", "deployer",
)  # fmt: skip
OBJECT_KEYS = ("cluster", "database", "edge", "services", "dr", "account", "globalEdge", "operatorSso", "deployer")
GLOBAL_EDGE_REGION = "us-east-1"  # CloudFront takes certificates and CLOUDFRONT web ACLs from here only


def load_settings(get: ConfigGetter, project: str, stack: str, root: Path) -> StackSettings:
    """Stack settings from `get(key)` (the raw Pulumi config string, JSON for objects).

    `key` is `aws:region` or a project key such as `cluster`; the runner and `pulumi up` feed the
    same values, so the same validation runs in both.
    """
    file = f"Pulumi.{stack}.yaml"

    region = get("aws:region")
    if region is None:
        raise ConfigError(file, "aws:region", "required key is missing")
    if not is_aws_region(region):
        raise ConfigError(file, "aws:region", f"'{region}' is not an AWS region")
    named = region_in_stack_name(stack)
    if named is not None and named != region:
        raise ConfigError(file, "aws:region", f"'{region}' contradicts the stack name {stack}, which is for {named}")

    raw: dict[str, Any] = {}
    for key in STACK_KEYS:
        value = get(f"{project}:{key}")
        if value is None:
            continue
        if key in OBJECT_KEYS:
            try:
                json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(file, f"{project}:{key}", "must be an object") from None
            raw[key] = load_json(value, file, f"{project}:{key}")  # and no key written twice
        else:
            raw[key] = value
    f = _Fields(file, raw, project)
    f.only(
        ("environment", "vpcCidr", "cluster", "database", "edge", "services", "account", "operatorSso", "deployer"),
        ("natGateways", "tenantCatalog", "dr", "globalEdge"),
    )

    environment = f.string("environment")
    if environment not in ("dev", "prod"):
        raise f.fail("environment", f"'{environment}' must be dev or prod")

    network = f.private_cidr("vpcCidr")
    vpc_cidr = str(network)
    if not 16 <= network.prefixlen <= 20:
        raise f.fail("vpcCidr", f"'{vpc_cidr}' must be a private IPv4 block from /16 to /20")

    nat = f.string("natGateways", "perAz")
    if nat not in ("single", "perAz"):
        raise f.fail("natGateways", f"'{nat}' must be single or perAz")
    if environment == "prod" and nat != "perAz":
        raise f.fail("natGateways", "prod stacks need one NAT gateway per AZ (perAz)")

    cluster = _cluster(f.mapping("cluster"))
    deployer = _deployer(f.mapping("deployer"), stack, network, cluster)
    d = f.mapping("database")
    d.only(("engineVersion",), ("applyImmediately",))
    engine_version = d.string("engineVersion")
    if not _ENGINE_VERSION.match(engine_version):
        raise d.fail("engineVersion", f"'{engine_version}' is not a MariaDB version such as 11.8")
    apply_immediately = d.boolean("applyImmediately") if "applyImmediately" in d.data else True

    e = f.mapping("edge")
    e.only(("domain", "hostedZoneId", "globalOwner"))
    edge_domain = _dns_name(e, "domain")
    zone = _zone_id(e, "hostedZoneId", e.string("hostedZoneId"))
    global_owner = e.string("globalOwner")

    images = _images(f.mapping("services"), region)

    catalog_rel = f.string("tenantCatalog", f"tenants/{environment}")
    if not (root / catalog_rel).is_dir():
        raise f.fail("tenantCatalog", f"tenant catalog folder '{catalog_rel}' does not exist")
    # The catalog's tiers as this environment runs them (production: every database Multi-AZ).
    tenants = tuple(
        replace(t, tier=for_environment(t.tier, environment))  # type: ignore[arg-type]  # checked above
        for t in load_catalog(root / catalog_rel, display_root=root)
    )
    _served_regions_have_stacks(root, stack, environment, region, tenants)
    dr = _dr(f.mapping("dr"), region, tenants) if "dr" in raw else None
    a = f.mapping("account")
    a.only(("owner", "platformBudgetUsd", "budgetEmails"), ("lambdaConcurrencyLimit",))
    emails = a.strings("budgetEmails")
    for email in emails:
        if not _EMAIL.match(email):
            raise a.fail("budgetEmails", f"'{email}' is not an email address")
    account = AccountSettings(
        owner=a.boolean("owner"),
        platform_budget_usd=a.integer("platformBudgetUsd", minimum=1),
        budget_emails=emails,
        lambda_concurrency_limit=a.integer("lambdaConcurrencyLimit", LAMBDA_DEFAULT_CONCURRENCY, minimum=1),
    )
    reserved = processor_reservations(region, tenants, dr)
    if reserved > account.lambda_concurrency_limit - LAMBDA_UNRESERVED_MINIMUM:
        raise a.fail(
            "lambdaConcurrencyLimit",
            f"tenants served in {region} reserve {reserved} concurrent Lambda executions (tier table), but "
            f"{account.lambda_concurrency_limit} leaves fewer than {LAMBDA_UNRESERVED_MINIMUM} unreserved: raise the "
            "account's Lambda concurrency quota (Service Quotas) and this value",
        )
    api_hosts = {f"{t.id}.{edge_domain}": t for t in tenants}
    for tenant in tenants:
        clash = api_hosts.get(tenant.domain)
        if clash is not None:
            raise ConfigError(
                tenant.source,
                "domain",
                f"'{tenant.domain}' is the API host name of tenant '{clash.id}' (latency-routed); "
                "the front-end needs a name of its own",
            )
    global_edge = None
    if global_owner == stack:
        if region != GLOBAL_EDGE_REGION:
            raise e.fail(
                "globalOwner",
                f"the global edge owner must run in {GLOBAL_EDGE_REGION} (CloudFront certificates and web ACLs live "
                f"there), not {region}",
            )
        if "globalEdge" not in raw:
            raise f.fail("globalEdge", f"required on the global edge owner ({stack})")
        global_edge = _global_edge(f.mapping("globalEdge"), region, edge_domain, tenants)
    elif "globalEdge" in raw:
        raise f.fail("globalEdge", f"only the global edge owner ({global_owner}) configures the global edge")
    # The edge owner knows every serving region's platform domain; a stack knows its own.
    platform_domains = {edge_domain, *(d for _, d in (global_edge.origin_domains if global_edge else ()))}
    for tenant in tenants:
        problem = _platform_host_clash(tenant.domain, platform_domains, {t.id for t in tenants})
        if problem:
            raise ConfigError(tenant.source, "domain", problem)
    return StackSettings(
        project=project,
        stack=stack,
        environment=environment,  # type: ignore[arg-type]  # checked above
        region=region,
        vpc_cidr=vpc_cidr,
        nat_gateways=nat,  # type: ignore[arg-type]  # checked above
        cluster=cluster,
        database=DatabaseSettings(engine_version=engine_version, apply_immediately=apply_immediately),
        edge=EdgeSettings(domain=edge_domain, hosted_zone_id=zone, global_owner=global_owner),
        images=images,
        dr=dr,
        account=account,
        catalog_dir=catalog_rel,
        tenants=tenants,
        global_edge=global_edge,
        operator_sso=_operator_sso(f.mapping("operatorSso")),
        deployer=deployer,
    )


def region_in_stack_name(stack: str) -> str | None:
    """The region a platform stack's name ends with (`prod-us-east-1`), if any (`dev`: none)."""
    return next((r for r in sorted(AWS_REGIONS) if stack.endswith(f"-{r}")), None)


def environment_stacks(root: Path, stack: str, environment: str, region: str) -> dict[str, str] | None:
    """Region -> the environment's platform stack there, from the committed `Pulumi.<stack>.yaml`
    files beside the program (`<environment>` or `<environment>-<region>`, as the Makefile names
    them). None when this stack's own file is not there (settings validated without a project)."""
    if not (root / f"Pulumi.{stack}.yaml").is_file():
        return None
    stacks: dict[str, str] = {region: stack}
    for path in sorted(root.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        if "." in name or name == stack or name.split("-")[0] != environment:
            continue  # a derived tenant stack file, this stack, or another environment
        named = region_in_stack_name(name) or _stack_file_region(path)
        if named:
            stacks.setdefault(named, name)
    return stacks


def _stack_file_region(path: Path) -> str | None:
    stat = path.stat()
    return _stack_file_region_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _stack_file_region_of(path: Path, _mtime: int, _size: int) -> str | None:
    document = read_yaml(path, path.name, MAX_STACK_BYTES)
    config = document.get("config") if isinstance(document, dict) else None
    value = config.get("aws:region") if isinstance(config, dict) else None
    return value if isinstance(value, str) else None


def _served_regions_have_stacks(
    root: Path, stack: str, environment: str, region: str, tenants: tuple[Tenant, ...]
) -> None:
    """A region a tenant is served in needs a platform stack of its environment: otherwise nobody
    deploys the tenant there (the tenant file is the mistake, not the stack file)."""
    stacks = environment_stacks(root, stack, environment, region)
    if stacks is None:
        return
    for tenant in tenants:
        for served in tenant.regions:
            if served not in stacks:
                known = ", ".join(f"{name} ({r})" for r, name in sorted(stacks.items(), key=lambda kv: kv[1]))
                raise ConfigError(
                    tenant.source,
                    "regions",
                    f"served region '{served}' has no {environment} platform stack (stacks: {known})",
                )


def processor_reservations(region: str, tenants: tuple[Tenant, ...], dr: DrSettings | None) -> int:
    """Concurrent Lambda executions the job processors of the tenants served in `region` reserve
    (one function per job queue, components/tenant/tenant_processors.py)."""
    promoted = dr.promote if dr else ()
    served = [t for t in tenants if t.served_in(region) or t.id in promoted]
    return sum(t.tier.processor_reserved_concurrency or 0 for t in served) * PROCESSOR_QUEUES


def _deployer(d: _Fields, stack: str, vpc: ipaddress.IPv4Network, cluster: ClusterSettings) -> DeployerSettings:
    d.only(("bootstrapStack", "cidr"))
    reference = d.string("bootstrapStack")
    if not re.match(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", reference):
        raise d.fail("bootstrapStack", f"'{reference}' is not a stack reference such as organization/<project>/<stack>")
    network = d.private_cidr("cidr")
    cidr = str(network)
    if network.overlaps(vpc):
        raise d.fail("cidr", f"'{cidr}' must be a private IPv4 block outside the stack's vpcCidr ({vpc})")
    # pulumi-eks always grants the cluster creator (the deploy role) admin access itself; an
    # explicit access entry for the same role would collide with it (ResourceInUseException).
    deploy_role = f":role/{deployer_name(stack)}"
    for arn in cluster.admin_role_arns:
        if arn.endswith(deploy_role):
            project = d.path.removesuffix(".deployer")
            raise ConfigError(
                d.file,
                f"{project}.cluster.adminRoleArns",
                f"'{arn}' is the deploy role, which creates the cluster and is its cluster admin already",
            )
    return DeployerSettings(bootstrap_stack=reference, cidr=cidr, role_name=deployer_name(stack))


_PLATFORM_LABELS = (
    (re.compile(r"^views-[a-z]{2}-[a-z]+-\d-"), "a tenant's views host (views-<region>-<tenant>)"),
    (re.compile(r"(?:^|-)origin-[a-z]{2}-[a-z]+-\d$"), "a regional origin host (<tenant>-origin-<region>)"),
)


def _platform_host_clash(domain: str, platform_domains: set[str], tenant_ids: set[str]) -> str | None:
    """Why a tenant's front-end domain would take one of the platform's names: a platform domain
    itself, or a name equal to or under a host the platform serves in it (views, origins, API
    hosts), whose DNS records and certificates the platform writes. None when it takes none."""
    for platform in sorted(platform_domains):
        if domain == platform:
            return f"'{domain}' is the platform's own domain; the front-end needs a name of its own"
        if not domain.endswith(f".{platform}"):
            continue
        label = domain[: -len(platform) - 1].rsplit(".", 1)[-1]
        host = f"{label}.{platform}"
        if label in tenant_ids and host != domain:
            return f"'{domain}' sits under '{host}', the API host name of tenant '{label}'"
        for pattern, what in _PLATFORM_LABELS:
            if pattern.search(label):
                where = "is" if host == domain else f"sits under '{host}',"
                return f"'{domain}' {where} {what} of the platform"
    return None


def _operator_sso(o: _Fields) -> OperatorSso:
    o.only(("authUrl", "tokenUrl", "apiUrl", "clientId"), ("groupsClaim", "clientSecretStored"))
    urls = {}
    for key in ("authUrl", "tokenUrl", "apiUrl"):
        url = o.string(key)
        if not re.match(r"^https://[a-z0-9.-]+(:\d+)?(/\S*)?$", url):
            raise o.fail(key, f"'{url}' must be an https:// URL of the identity provider")
        urls[key] = url
    return OperatorSso(
        auth_url=urls["authUrl"],
        token_url=urls["tokenUrl"],
        api_url=urls["apiUrl"],
        client_id=o.string("clientId"),
        groups_claim=o.string("groupsClaim", "groups"),
        client_secret_stored=o.boolean("clientSecretStored") if "clientSecretStored" in o.data else False,
    )


def _dns_name(f: _Fields, key: str, value: str | None = None) -> str:
    name = (value if value is not None else f.string(key)).lower()
    if not _is_dns_name(name):
        raise f.fail(key, f"'{name}' is not a valid DNS name")
    return name


def _zone_id(f: _Fields, key: str, value: object) -> str:
    if not isinstance(value, str) or not _HOSTED_ZONE.match(value):
        raise f.fail(key, f"'{value}' is not a Route 53 hosted zone id")
    return value


def _global_edge(g: _Fields, region: str, edge_domain: str, tenants: tuple[Tenant, ...]) -> GlobalEdgeSettings:
    """The owner's view of the environment's edge: the zones it may write front-end records to and
    each serving region's platform domain (its origin is origin-<region>.<domain>)."""
    g.only(("zones", "origins"))
    z, o = g.mapping("zones"), g.mapping("origins")
    zones = tuple(
        (_dns_name(z, str(domain), str(domain)), _zone_id(z, str(domain), zone)) for domain, zone in z.data.items()
    )
    origins: list[tuple[str, str]] = []
    for origin_region, domain in o.data.items():
        if not is_aws_region(origin_region):
            raise o.fail(str(origin_region), f"'{origin_region}' is not an AWS region")
        if not isinstance(domain, str):
            raise o.fail(str(origin_region), "must be the region's platform domain")
        origins.append((origin_region, _dns_name(o, origin_region, domain)))
    by_region = dict(origins)
    if by_region.get(region, edge_domain) != edge_domain:
        raise o.fail(region, f"must be this stack's own edge.domain ({edge_domain})")
    for tenant in tenants:
        for served in tenant.regions:
            if served not in by_region:
                raise o.fail(served, f"missing: tenant '{tenant.id}' is served there ({tenant.source})")
    return GlobalEdgeSettings(zones=zones, origin_domains=tuple(origins))


def _cluster(c: _Fields) -> ClusterSettings:
    c.only(("version", "adminRoleArns", "systemNodes", "sharedNodes", "dedicatedNodes"))
    version = c.string("version")
    match = _K8S_VERSION.match(version)
    if not match or int(match.group(1)) < MIN_K8S_MINOR:
        raise c.fail("version", f"'{version}' is not an EKS version in standard support (1.{MIN_K8S_MINOR} or newer)")
    admins = c.strings("adminRoleArns")
    for arn in admins:
        if not _ROLE_ARN.match(arn):
            raise c.fail("adminRoleArns", f"'{arn}' is not an IAM role ARN")
    return ClusterSettings(
        version=version,
        admin_role_arns=admins,
        system_nodes=_pool(c.mapping("systemNodes")),
        shared_nodes=_pool(c.mapping("sharedNodes")),
        dedicated_nodes=_pool(c.mapping("dedicatedNodes")),
    )


def _pool(p: _Fields) -> NodePool:
    p.only(("instanceTypes", "minSize", "maxSize", "desiredSize"))
    pool = NodePool(
        instance_types=p.strings("instanceTypes"),
        min_size=p.integer("minSize", minimum=0),
        max_size=p.integer("maxSize", minimum=1),
        desired_size=p.integer("desiredSize", minimum=0),
    )
    if not pool.min_size <= pool.desired_size <= pool.max_size:
        raise p.fail("desiredSize", "must lie between minSize and maxSize")
    return pool


def _images(svc: _Fields, region: str) -> ServiceImages:
    svc.only(
        (
            "registry",
            "carrier",
            "policy",
            "migrations",
            "carrierProcessor",
            "policyProcessor",
            "aggregator",
            "apiAuthorizer",
        )
    )
    registry = svc.string("registry")
    location = _REGISTRY.match(registry)
    if location is None:
        raise svc.fail(
            "registry",
            f"'{registry}' is not an ECR registry path such as <account>.dkr.ecr.<region>.amazonaws.com/insurance "
            "(workloads run by digest, resolved through ECR)",
        )
    if location["region"] != region:
        # Lambda runs container images only from an ECR repository in the function's own region.
        raise svc.fail(
            "registry",
            f"'{registry}' is in {location['region']}: the tenant job processors (Lambda) pull only from ECR in "
            f"the stack's region ({region})",
        )

    def image(key: str) -> Image:
        i = svc.mapping(key)
        i.only(("image", "tag"))
        name, tag = i.string("image"), i.string("tag")
        if not _IMAGE_NAME.match(name):
            raise i.fail("image", f"'{name}' is not an image name")
        if not _IMAGE_TAG.match(tag) or tag == "latest":
            raise i.fail("tag", f"'{tag}' must be an exact release tag, not latest")
        return Image(location["account"], location["region"], f"{location['path'][1:]}/{name}", tag)

    return ServiceImages(
        carrier=image("carrier"),
        policy=image("policy"),
        migrations=image("migrations"),
        carrier_processor=image("carrierProcessor"),
        policy_processor=image("policyProcessor"),
        aggregator=image("aggregator"),
        api_authorizer=image("apiAuthorizer"),
    )


def _dr(d: _Fields, region: str, tenants: tuple[Tenant, ...]) -> DrSettings:
    d.only(("peerRegion", "peerStack"), ("promote", *GATE_KEYS))
    peer = d.string("peerRegion")
    if not is_aws_region(peer) or peer == region:
        raise d.fail("peerRegion", f"'{peer}' must be another AWS region than the stack's own ({region})")
    peer_stack = d.string("peerStack")
    promote = d.strings("promote", [], allow_empty=True)
    # Gates come from the deploy step (planner/gates.py), not from people: ids of tenants the
    # catalog no longer has (offboarded) are simply not used.
    deployed = d.boolean("peerDeployed") if "peerDeployed" in d.data else False
    peer_tenants = d.strings("peerTenants", [], allow_empty=True)
    peer_holds = d.strings("peerHolds", [], allow_empty=True)
    pools = d.mapping("peerUserPools", {})
    for tenant_id, pool in pools.data.items():
        # A pool of the peer region (`<region>_<id>`): anything else would pin the wrong issuer.
        if not isinstance(pool, str) or not re.fullmatch(rf"{re.escape(peer)}_[0-9A-Za-z]+", pool):
            raise pools.fail(str(tenant_id), f"'{pool}' is not a Cognito user pool id of {peer}")
    by_id = {t.id: t for t in tenants}
    for tenant_id in promote:
        tenant = by_id.get(tenant_id)
        if tenant is None:
            raise d.fail("promote", f"'{tenant_id}' is not a tenant of this environment")
        if tenant.home_region != peer:
            raise d.fail(
                "promote", f"'{tenant_id}' has its home in {tenant.home_region}, not in the peer region {peer}"
            )
        if region not in tenant.residency:
            raise d.fail("promote", f"'{tenant_id}' may not hold data in {region} (residency {list(tenant.residency)})")
    return DrSettings(
        peer_region=peer,
        peer_stack=peer_stack,
        promote=promote,
        peer_deployed=deployed,
        peer_tenants=peer_tenants,
        peer_holds=peer_holds,
        peer_user_pools=tuple(sorted((str(k), str(v)) for k, v in pools.data.items())),
    )


GATE_KEYS = ("peerDeployed", "peerTenants", "peerHolds", "peerUserPools")  # written by planner/gates.py at deploy time


def stack_tenant(settings: StackSettings, stack: "StackName") -> Tenant | None:
    """The tenant a tenant stack builds (None for the platform stack): it must be in the catalog
    and have a stack under this platform stack (catalog.stacks.tenants_with_stacks)."""
    from catalog.stacks import tenants_with_stacks

    if stack.tenant is None:
        return None
    file = f"{settings.catalog_dir}/{stack.tenant}.yaml"
    found = next((t for t in settings.tenants if t.id == stack.tenant), None)
    if found is None:
        raise ConfigError(
            file,
            "(file)",
            f"no such tenant: stack {stack} has no catalog file (an offboarded tenant's stack keeps its protected resources)",
        )
    if found.id not in tenants_with_stacks(settings):
        raise ConfigError(file, "regions", f"tenant {found.id} has no stack in {settings.stack} ({settings.region})")
    return found
