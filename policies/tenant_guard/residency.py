"""Data residency: a tenant's data lives only in the regions its residency allows, and every AWS
resource names its region through an explicit provider."""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import glba, naic, nydfs, residency_law
from .props import as_list, get, tags_of
from .rule import Res, Rule
from .tenancy import StackIndex

# Services whose resources are global (no region to check).
GLOBAL_PREFIXES = ("aws:iam/", "aws:route53/", "aws:cloudfront/", "aws:organizations/", "aws:budgets/")
# Configuration of the global edge that CloudFront takes from us-east-1 only and that holds no
# tenant data (a certificate names a domain; a web ACL holds rules). Its logs are data: checked.
EDGE_CONFIGURATION = ("aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation")


def _global_edge_configuration(r: Res) -> bool:
    return r.type in EDGE_CONFIGURATION or (
        r.type == "aws:wafv2/webAcl:WebAcl" and get(r.props, "scope") == "CLOUDFRONT"
    )


RESIDENCY_SCHEMA = {
    "residency": {
        "type": "object",
        "description": "Compliance-owned residency registry: tenant id -> regions its data may live in.",
        "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    }
}
REGIONS_SCHEMA = {
    "allowedRegions": {
        "type": "array",
        "description": "Regions the platform may deploy to at all.",
        "items": {"type": "string"},
    }
}


def _declared_residency(resources: Sequence[Res], index: StackIndex) -> dict[str, set[str]]:
    """Residency each tenant's resources declare in their `residency` tag ("a+b"); where tags
    disagree, only the regions all of them allow."""
    declared: dict[str, set[str]] = {}
    for r in resources:
        tenant, tag = index.tenant(r), tags_of(r.props).get("residency")
        if tenant and isinstance(tag, str) and tag:
            regions = set(tag.split("+"))
            declared[tenant] = declared[tenant] & regions if tenant in declared else regions
    return declared


def _registry_file(resources: Sequence[Res], tenant: str) -> str:
    """The compliance configuration holding the tenant's registry entry, by its environment tag."""
    for r in resources:
        tags = tags_of(r.props)
        if tags.get("tenant") == tenant and isinstance(tags.get("environment"), str):
            return f"policies/config/{tags['environment']}.json"
    return "policies/config/<environment>.json"


def _tenant_anchors(resources: Sequence[Res], index: StackIndex) -> dict[str, str]:
    """Where a tenant-wide finding points: the tenant's namespace, else its first resource."""
    anchors: dict[str, str] = {}
    for r in sorted(resources, key=lambda r: (r.type != "kubernetes:core/v1:Namespace", r.urn)):
        tenant = index.tenant(r)
        if tenant and tenant not in anchors:
            anchors[tenant] = r.urn
    return anchors


# Resources that put copies of their data in other regions by an input (global-table replicas).
REPLICATING = ("aws:dynamodb/table:Table", "aws:dynamodb/globalTable:GlobalTable")


def _replica_regions(r: Res) -> list[str]:
    if r.type not in REPLICATING:
        return []
    return [str(region) for x in as_list(get(r.props, "replicas")) if (region := get(x, "regionName"))]


def data_residency(resources: Sequence[Res], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    registry: Mapping[str, Any] = config.get("residency") or {}
    index = StackIndex.of(resources)
    declared = _declared_residency(resources, index)
    if declared and not registry:
        yield ("no residency registry is configured: compliance must pass policies/config/<environment>.json", None)
    # Separation of duties: the catalog may only narrow what compliance registered.
    anchors = _tenant_anchors(resources, index)
    for tenant, regions in sorted(declared.items()):
        if not registry:
            break
        allowed = set(registry.get(tenant) or ())
        where = _registry_file(resources, tenant)
        if not allowed:
            entry = json.dumps({tenant: sorted(regions)})[1:-1]
            yield (
                f"tenant '{tenant}' is not in the compliance residency registry: add {entry} under "
                f"tenant-data-residency.residency in {where} in the same pull request (`make onboard` writes both)",
                anchors.get(tenant),
            )
        elif not regions <= allowed:
            wider = ", ".join(sorted(regions - allowed))
            yield (
                f"tenant '{tenant}' declares residency in {wider}, which the compliance registry does not allow "
                f"(tenant-data-residency.residency.{tenant} in {where})",
                anchors.get(tenant),
            )
    for r in resources:
        if not r.type.startswith("aws:") or r.type.startswith(GLOBAL_PREFIXES) or _global_edge_configuration(r):
            continue
        tenant = index.tenant(r)
        if tenant is None:
            continue
        allowed = set(registry.get(tenant) or ()) or declared.get(tenant, set())
        if not allowed:
            yield (f"tenant '{tenant}' has no residency on record, so its data may not be placed anywhere", r.urn)
            continue
        region = r.region
        if region is None:
            yield (f"the region of this resource of tenant '{tenant}' cannot be determined", r.urn)
        elif region not in allowed:
            yield (
                f"tenant '{tenant}' data would be stored in {region}, outside its residency "
                f"({', '.join(sorted(allowed))})",
                r.urn,
            )
        for replica in _replica_regions(r):
            if replica not in allowed:
                yield (
                    f"tenant '{tenant}' table would replicate to {replica}, outside its residency "
                    f"({', '.join(sorted(allowed))})",
                    r.urn,
                )


def explicit_regional_provider(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    if r.provider_type is None:
        return  # component resources have no provider of their own
    if not r.provider_name or r.provider_name.startswith("default"):
        yield "uses the default AWS provider: pass the stack's explicit regional provider"
        return
    region = r.region
    if not region:
        yield f"provider '{r.provider_name}' names no region"
        return
    allowed = config.get("allowedRegions")
    if allowed and region not in allowed:
        yield f"region {region} is not an approved platform region ({', '.join(allowed)})"


RULES = (
    Rule(
        id="RES-1",
        name="tenant-data-residency",
        title="Tenant data stays inside its residency",
        summary="every tenant resource's region (and its table replicas' regions) is inside its residency",
        description="Every regional AWS resource that belongs to a tenant, and every replica region of its DynamoDB tables, is in one of the regions the compliance residency registry allows for that tenant, and no tenant's catalog declares a residency wider than the registry.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(residency_law(), nydfs("500.11"), naic("a"), glba("3")),
        remediation="Deploy the tenant only from stacks in its residency regions (catalog 'regions' within 'residency'); a wider residency needs compliance to update policies/config/<environment>.json first (CODEOWNERS).",
        stack_check=data_residency,
        subject=lambda r: r.type.startswith("aws:"),
        config_schema=RESIDENCY_SCHEMA,
    ),
    Rule(
        id="RES-2",
        name="explicit-regional-provider",
        title="Every AWS resource uses an explicit regional provider",
        summary="no AWS resource on the default provider; region named",
        description="No AWS resource falls back to the default provider: each names its region through the stack's explicit provider, so the region of every resource is decided in code review.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(residency_law(), nydfs("500.13")),
        remediation="Create resources inside components that receive ResourceOptions(providers=[regional provider]); keep pulumi:disable-default-providers in stack config.",
        resource_types=("aws:*",),
        check=explicit_regional_provider,
        config_schema=REGIONS_SCHEMA,
    ),
)


def _arn_region(value: Any) -> str | None:
    parts = str(value).split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


_REGION_IN_NAME = re.compile(r"(?:^|-)((?:us|ca|eu|ap|sa|me|af|il|mx)-[a-z]+-\d)(?:-|$)")


def copy_destinations(r: Res) -> list[tuple[str, str]]:
    """(what, region) of every cross-region copy a resource sets up."""
    found: list[tuple[str, str]] = []
    if r.type == "aws:backup/plan:Plan":
        for rule in as_list(get(r.props, "rules")):
            for action in as_list(get(rule, "copyActions")):
                region = _arn_region(get(action, "destinationVaultArn"))
                if region:
                    found.append(("backup copy", region))
    elif r.type == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
        for rule in as_list(get(r.props, "rules")):
            if get(rule, "status") == "Disabled":
                continue
            region = _arn_region(get(rule, "destination.encryptionConfiguration.replicaKmsKeyId"))
            if region:
                found.append(("bucket replication", region))
            # S3 ARNs carry no region; the platform names buckets ip-<env>-<region>-...
            bucket = str(get(rule, "destination.bucket") or "")
            named = _REGION_IN_NAME.search(bucket.rsplit(":", 1)[-1])
            if named and named.group(1) != region:
                found.append(("bucket replication destination", named.group(1)))
    elif r.type in (
        "aws:rds/instance:Instance",
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    ):
        source = get(r.props, "replicateSourceDb") or get(r.props, "sourceDbInstanceArn")
        region = _arn_region(source)
        if region:
            found.append(("database copy source", region))
    elif r.type == "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
        region = _arn_region(get(r.props, "kinesisSourceConfiguration.kinesisStreamArn"))
        if region:
            found.append(("delivery source stream", region))
        for destination in ("extendedS3Configuration", "s3Configuration"):
            region = _arn_region(get(r.props, f"{destination}.kmsKeyArn"))
            if region:
                found.append(("delivery destination key", region))
            named = _REGION_IN_NAME.search(str(get(r.props, f"{destination}.bucketArn") or "").rsplit(":", 1)[-1])
            if named:
                found.append(("delivery destination bucket", named.group(1)))
    elif r.type == "aws:kms/replicaKey:ReplicaKey":
        region = _arn_region(get(r.props, "primaryKeyArn"))
        if region:
            found.append(("key replica source", region))
    return found


# catalog/model.tenant_origin_host: <tenant>-origin-<region>.<domain> (EDGE-CF-1 checks
# the tenant); the plain origin-<region>.<domain> of earlier front-ends is read the same way.
_ORIGIN_HOST = re.compile(r"^(?:[a-z][a-z0-9-]*-)?origin-([a-z]{2}-[a-z]+-\d)\.")


def front_end_origins_inside_residency(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    tag = tags_of(r.props).get("residency")
    if not isinstance(tag, str) or not tag:
        return  # not a tenant front-end
    allowed = set(tag.split("+"))
    for origin in as_list(get(r.props, "origins")):
        host = str(get(origin, "domainName") or "")
        match = _ORIGIN_HOST.match(host)
        if match is None:
            yield f"origin {host} is not a regional platform entry (<tenant>-origin-<region>.<domain>): its region is unknown"
        elif match.group(1) not in allowed:
            yield f"origin {host} is in {match.group(1)}, outside the tenant's residency ({', '.join(sorted(allowed))})"


def copies_inside_residency(resources: Sequence[Res], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    registry: Mapping[str, Any] = config.get("residency") or {}
    index = StackIndex.of(resources)
    declared = _declared_residency(resources, index)
    for r in resources:
        tenant = index.tenant(r)
        if tenant is None:
            continue
        allowed = set(registry.get(tenant) or ()) or declared.get(tenant, set())
        for what, region in copy_destinations(r):
            if region not in allowed:
                yield (
                    f"{what} of tenant '{tenant}' involves {region}, outside its residency ({', '.join(sorted(allowed))})",
                    r.urn,
                )


RULES = (
    *RULES,
    Rule(
        id="RES-3",
        name="dr-copies-inside-residency",
        title="Replicas and backup copies stay inside residency",
        summary="backup copies, bucket replication (key and destination bucket), replicas, replicated backups and event deliveries stay in residency",
        description="Every cross-region copy of a tenant's data — backup copy actions, bucket replication, database replicas and replicated automated backups, key replicas, Firehose deliveries (source stream, destination bucket and key) — starts and ends in regions the tenant's residency allows.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(residency_law(), nydfs("500.11"), naic("j"), glba("3")),
        remediation="Copy only to the peer region when it is in the tenant's residency (StackSettings.copies_to_peer); a single-region tenant gets no cross-region copy.",
        stack_check=copies_inside_residency,
        subject=lambda r: any(True for _ in copy_destinations(r)),
        config_schema=RESIDENCY_SCHEMA,
    ),
    Rule(
        id="RES-4",
        name="front-end-origins-inside-residency",
        title="Tenant front-ends reach only regions inside residency",
        summary="every front-end origin is a regional entry inside the tenant's residency",
        description="Every origin of a tenant's CloudFront front-end is a regional platform entry (<tenant>-origin-<region>.<domain>) in a region the tenant's residency allows, so requests and responses carrying its data are served only from there.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(residency_law(), nydfs("500.11"), glba("3")),
        remediation="Serve the tenant only from regions in its residency (catalog 'regions'); TenantFrontEnd derives origins from them.",
        resource_types=("aws:cloudfront/distribution:Distribution",),
        check=front_end_origins_inside_residency,
    ),
)
