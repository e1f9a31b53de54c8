"""Typed configuration objects. Built only by `catalog.loader`, after validation."""

from dataclasses import dataclass, field
from typing import Literal

from catalog.tiers import Overrides, Tier

Environment = Literal["dev", "prod"]
NatMode = Literal["single", "perAz"]


Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    severities: tuple[Severity, ...] = ("critical", "warning")  # which alerts reach this contact
    webhook: str | None = None  # chat/pager endpoint (HTTPS) receiving the same alerts


@dataclass(frozen=True)
class Tenant:
    id: str
    display_name: str
    tier: Tier  # the effective tier: tier table row with this tenant's overrides applied
    home_region: str
    regions: tuple[str, ...]
    residency: tuple[str, ...]
    domain: str
    contacts: tuple[Contact, ...]
    overrides: Overrides
    source: str  # catalog file, for messages
    domain_verified: bool = False  # a tenant-owned domain carries the edge certificate's validation record

    @property
    def namespace(self) -> str:
        return self.id

    def served_in(self, region: str) -> bool:
        return region in self.regions

    @property
    def regions_home_first(self) -> tuple[str, ...]:
        """Serving regions, the home region (where the primary data is) first: failover order."""
        return (self.home_region, *(r for r in self.regions if r != self.home_region))


@dataclass(frozen=True)
class NodePool:
    instance_types: tuple[str, ...]
    min_size: int
    max_size: int
    desired_size: int


@dataclass(frozen=True)
class ClusterSettings:
    version: str
    admin_role_arns: tuple[str, ...]
    system_nodes: NodePool
    shared_nodes: NodePool
    dedicated_nodes: NodePool  # per premium tenant


@dataclass(frozen=True)
class Image:
    """An image in an ECR registry: workloads run it by the digest its tag resolves to at deploy
    time, which only a registry the stack can query (ECR) can tell."""

    registry_account: str
    registry_region: str
    name: str  # repository name inside the registry, e.g. insurance/carrier-service
    tag: str

    @property
    def repository(self) -> str:
        return f"{self.registry_account}.dkr.ecr.{self.registry_region}.amazonaws.com/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class ServiceImages:
    carrier: Image
    policy: Image
    migrations: Image
    # Lambda container images of the tenant's job processors (components/tenant/tenant_processors.py)
    carrier_processor: Image
    policy_processor: Image

    def processor(self, service: str) -> Image:
        return self.carrier_processor if service == "carrier" else self.policy_processor

    aggregator: Image  # combines the carrier and policy APIs' answers for the client (scatter-gather)
    # Lambda container image of the public API's authorizer (components/edge/api_gateway.py)
    api_authorizer: Image


@dataclass(frozen=True)
class DrSettings:
    """This region's disaster-recovery partner. Each stack creates only in its own region: it holds
    DR copies of the peer's tenants and names the peer's copies of its own deterministically."""

    peer_region: str
    peer_stack: str
    promote: tuple[str, ...] = ()  # tenants whose home region failed: promote their copy here
    # Deploy-time gates, read from the peer stack's outputs before every `up` (planner/gates.py),
    # never committed: a resource that names something in the peer waits until the peer has it.
    peer_deployed: bool = False  # the peer stack exists (its platform: Velero bucket, vaults)
    peer_tenants: tuple[str, ...] = ()  # tenants whose primary data the peer has created
    peer_holds: tuple[str, ...] = ()  # this region's tenants whose DR copies the peer holds
    # (tenant id, Cognito user pool id) of tenants homed in the peer: their JWT issuer lives there.
    peer_user_pools: tuple[tuple[str, str], ...] = ()


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The `iss` of a Cognito user pool's tokens (its JWKS sits under /.well-known/jwks.json)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def deployer_name(stack: str) -> str:
    """The deploy runner of a regional stack: its CodeBuild project and its role (bootstrap/)."""
    return f"insurance-deployer-{stack}"


def plan_role_name(stack: str) -> str:
    """The read-only role of a regional stack's pull-request previews (bootstrap/)."""
    return f"insurance-plan-{stack}"


@dataclass(frozen=True)
class DeployerSettings:
    """Where `pulumi up` runs: a CodeBuild-hosted GitHub Actions runner in a small deployer VPC
    that the bootstrap stack creates; this stack peers with it so the private cluster endpoint
    stays private and is still reachable by the deploy."""

    bootstrap_stack: str  # stack reference, e.g. organization/insurance-bootstrap/prod-us-east-1
    cidr: str  # the deployer VPC, admitted to the cluster endpoint on 443 only
    role_name: str  # the runner's role (deployer_name), created by the bootstrap stack


@dataclass(frozen=True)
class AccountSettings:
    """Account-wide resources (audit trail, cost allocation tags, platform budget) exist once per
    AWS account: the stack with `owner: true` creates them."""

    owner: bool
    platform_budget_usd: int
    budget_emails: tuple[str, ...]
    # The account's regional Lambda concurrency quota (AWS default 1000); Lambda keeps at least
    # 100 of it unreserved, so tenant reservations in one region may take at most this minus 100.
    lambda_concurrency_limit: int = 1000


def tenant_origin_host(tenant_id: str, region: str, domain: str) -> str:
    """The name a tenant's CloudFront front-end reaches `region`'s entry by, written by that
    region's stack: one label under the platform domain, so the entry's `*.domain` certificate
    covers it (at most 32 + 8 + 14 characters with the catalog's id and region rules), and
    tenant-specific, so the router sends it to that tenant. CloudFront sends it as Host."""
    return f"{tenant_id}-origin-{region}.{domain}"


@dataclass(frozen=True)
class EdgeSettings:
    domain: str  # the platform's public domain; the entry certificate covers *.domain
    hosted_zone_id: str  # Route 53 zone of `domain`, for certificate validation records
    global_owner: str  # the stack of this environment that owns the global edge (CloudFront)

    def tenant_origin_host(self, tenant_id: str, region: str) -> str:
        return tenant_origin_host(tenant_id, region, self.domain)

    @property
    def api_host(self) -> str:
        """The public API's backend host at the entry (`api.<domain>`); tenants' API hosts sit under it."""
        return f"api.{self.domain}"


@dataclass(frozen=True)
class GlobalEdgeSettings:
    """Global resources of the environment (CloudFront front-ends, their certificates and WAF),
    configured only on the owner stack, which must run in us-east-1 where CloudFront's
    certificates and web ACLs live."""

    zones: tuple[tuple[str, str], ...]  # (domain, hosted zone id) the platform manages
    origin_domains: tuple[tuple[str, str], ...]  # (region, that region's platform domain)

    def tenant_origin_host(self, tenant_id: str, region: str) -> str:
        return tenant_origin_host(tenant_id, region, dict(self.origin_domains)[region])

    def zone_for(self, name: str) -> str | None:
        """The managed hosted zone holding `name` (the most specific one), if any."""
        matches = [(d, z) for d, z in self.zones if name == d or name.endswith(f".{d}")]
        return max(matches, key=lambda m: len(m[0]))[1] if matches else None


@dataclass(frozen=True)
class OperatorSso:
    """The OIDC identity provider tenant operators sign in with (the platform's partner/workforce
    IdP). Its groups claim carries `<tenant>-operators`; the client secret lives in Secrets Manager
    under the stack's platform prefix (`grafana-oauth`), never in config."""

    auth_url: str
    token_url: str
    api_url: str
    client_id: str
    groups_claim: str = "groups"
    # Set once the IdP admins have stored the client secret: until then tenant views are skipped,
    # because Grafana cannot start without it and its failed release would fail the whole deploy.
    client_secret_stored: bool = False

    @staticmethod
    def group(tenant_id: str) -> str:
        return f"{tenant_id}-operators"


@dataclass(frozen=True)
class DatabaseSettings:
    engine_version: str
    # Modifications (class, storage, engine) apply in the deploy that makes them, not in the next
    # maintenance window: a deferred change would show as a diff on every run until then.
    apply_immediately: bool

    @property
    def parameter_group_family(self) -> str:
        major, minor = self.engine_version.split(".")[:2]
        return f"mariadb{major}.{minor}"

    @property
    def major_version(self) -> str:
        return ".".join(self.engine_version.split(".")[:2])


@dataclass(frozen=True)
class StackSettings:
    project: str
    stack: str
    environment: Environment
    region: str
    vpc_cidr: str
    nat_gateways: NatMode
    cluster: ClusterSettings
    database: DatabaseSettings
    edge: EdgeSettings
    images: ServiceImages
    catalog_dir: str
    dr: DrSettings | None
    account: AccountSettings
    operator_sso: OperatorSso  # how tenant operators sign in to their views
    deployer: DeployerSettings
    tenants: tuple[Tenant, ...] = field(default=())  # the whole environment's catalog
    global_edge: GlobalEdgeSettings | None = None  # only on the edge.globalOwner stack

    @property
    def served_tenants(self) -> tuple[Tenant, ...]:
        """Tenants this regional stack deploys: those served in its region, and those whose failed
        home region's data is promoted here."""
        promoted = self.dr.promote if self.dr else ()
        return tuple(t for t in self.tenants if t.served_in(self.region) or t.id in promoted)

    def home_here(self, tenant: Tenant) -> bool:
        """Whether this stack holds the tenant's primary data (its home, or promoted here)."""
        return tenant.home_region == self.region or (self.dr is not None and tenant.id in self.dr.promote)

    @property
    def dr_tenants(self) -> tuple[Tenant, ...]:
        """Tenants of the peer region whose DR copies this region holds (residency permitting)."""
        if self.dr is None:
            return ()
        return tuple(t for t in self.dr_candidates if t.id in self.dr.peer_tenants)

    @property
    def dr_candidates(self) -> tuple[Tenant, ...]:
        """Tenants of the peer region this region may hold copies of (residency), deployed or not."""
        if self.dr is None:
            return ()
        return tuple(t for t in self.tenants if t.home_region == self.dr.peer_region and self.region in t.residency)

    def jwt_issuer(self, tenant: Tenant) -> str | None:
        """The tenant's OAuth2 issuer as seen from a serving region other than its home: the user
        pool lives in the home region, and the peer's pool ids reach this stack as a deploy gate
        (planner/gates.py). None while unknown: the region then refuses the tenant's routed traffic."""
        if self.dr is None or tenant.home_region != self.dr.peer_region:
            return None
        pool = dict(self.dr.peer_user_pools).get(tenant.id)
        return cognito_issuer(tenant.home_region, pool) if pool else None

    def copies_to_peer(self, tenant: Tenant) -> bool:
        """Whether this (home) region may and can copy the tenant's data to its peer: residency
        allows it and the peer already holds the tenant's DR copies (bucket, key, vault)."""
        return self.may_copy_to_peer(tenant) and self.dr is not None and tenant.id in self.dr.peer_holds

    def may_copy_to_peer(self, tenant: Tenant) -> bool:
        return self.dr is not None and self.dr.peer_region in tenant.residency

    @property
    def skipped(self) -> tuple[str, ...]:
        """What this region leaves out and why (bootstrap order, values people have not given yet):
        the platform's own notes, then every tenant's (`skipped_for`)."""
        notes: list[str] = []
        if self.dr is not None and not self.dr.peer_deployed:
            notes.append(f"Velero replication to {self.dr.peer_region}: {self.dr.peer_stack} is not deployed yet")
        for t in self.tenants:
            notes += self.skipped_for(t)
        if not self.operator_sso.client_secret_stored:
            notes.append("tenant views (Grafana per tenant): operatorSso.clientSecretStored is not set yet")
        return tuple(notes)

    def skipped_for(self, t: Tenant) -> tuple[str, ...]:
        """What this region leaves out of one tenant's stack, and why."""
        notes: list[str] = []
        if self.dr is not None:
            peer = self.dr.peer_stack
            if t in self.dr_candidates and t.id not in self.dr.peer_tenants:
                notes.append(f"DR copies of {t.id} (home {t.home_region}): its primary does not exist in {peer} yet")
            if t.home_region == self.region and self.may_copy_to_peer(t) and t.id not in self.dr.peer_holds:
                notes.append(f"copies of {t.id} to {self.dr.peer_region}: {peer} does not hold its DR copies yet")
        if t in self.served_tenants and t.home_region != self.region and self.jwt_issuer(t) is None:
            notes.append(
                f"JWT issuer of {t.id} (user pool in {t.home_region}) unknown here yet: its routed traffic is refused"
            )
        return tuple(notes)

    def key_administrators(self, account_id: str) -> list[str]:
        """Who administers tenant keys: the platform admins and the deploy role. KMS refuses a key
        policy that would stop its caller (the deploy role) from changing it again (lockout check)."""
        return [*self.cluster.admin_role_arns, f"arn:aws:iam::{account_id}:role/{self.deployer.role_name}"]

    @property
    def regional_prefix(self) -> str:
        """Prefix for names that must be unique per region too (`ip-prod-us-east-1`)."""
        return f"{self.name_prefix}-{self.region}"

    @property
    def name_prefix(self) -> str:
        """Short, stable prefix for physical names (`ip-dev`, `ip-prod`)."""
        return f"ip-{self.environment}"
