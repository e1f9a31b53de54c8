"""The global edge, asserted on the plans: only the stack the config names builds CloudFront, each
regional stack publishes only its own origin, front-ends fail over between the tenant's regions
inside its residency, and edge logs exist only where the tenant's residency put a key of its own."""

import copy
import fnmatch
from typing import Any

import pytest

from catalog.loader import load_catalog
from components.edge.global_edge import CACHING_DISABLED, FAILOVER_STATUS_CODES, STATIC_PATHS
from components.edge.waf import MANAGED_RULE_GROUPS
from planner.policy import evaluate
from planner.runner import ROOT
from tests.conftest import STACKS, config_for, resources_of

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
OWNERS = {"dev": "dev", "prod": "prod-us-east-1"}
CATALOGS = {env: {t.id: t for t in load_catalog(ROOT / "tenants" / env)} for env in OWNERS}


def _env(stack: str) -> str:
    return "dev" if stack == "dev" else "prod"


def _by_tenant(plan: dict[str, Any], type_: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for r in resources_of(plan, type_):
        if r["name"].startswith("global-edge-"):
            found.setdefault(r["tenant"], []).append(r)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_named_owner_builds_the_global_edge(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    owner = OWNERS[_env(stack)] == stack
    assert bool(resources_of(plan, DISTRIBUTION)) == owner
    front_ends = resources_of(plan, "platform:index:TenantFrontEnd")
    assert bool(front_ends) == owner
    # Each front-end belongs to its tenant's stack on the owner's platform, none to the platform.
    assert all(f["stack"] == f"{stack}.{f['tenant']}" for f in front_ends)
    cloudfront_acls = [r for r in resources_of(plan, "aws:wafv2/webAcl:WebAcl") if r["inputs"]["scope"] == "CLOUDFRONT"]
    assert bool(cloudfront_acls) == owner
    if owner:
        assert plan["region"] == "us-east-1"  # CloudFront certificates and web ACLs live there


@pytest.mark.parametrize("stack", STACKS)
def test_each_region_publishes_its_own_origin_under_its_entry_certificate(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    region = plan["region"]
    served = {t.id for t in CATALOGS[_env(stack)].values() if region in t.regions}
    records = {
        r["name"]: r["inputs"]["name"]
        for r in resources_of(plan, "aws:route53/record:Record")
        if r["name"].startswith("entry-origin")
    }
    # One origin name per tenant served here (CloudFront sends it as Host).
    assert set(records) == {f"entry-origin-{t}" for t in served}
    (certificate,) = [r for r in resources_of(plan, "aws:acm/certificate:Certificate") if r["name"] == "entry"]
    wildcard = certificate["inputs"]["domainName"]
    for record, name in records.items():
        assert name.startswith(f"{record.removeprefix('entry-origin-')}-origin-{region}.")
        assert fnmatch.fnmatch(name, wildcard) and name.split(".", 1)[1] == wildcard[2:]  # one label: covered


@pytest.mark.parametrize("env", sorted(OWNERS))
def test_every_tenant_front_end_follows_its_regions_and_residency(plans: dict[str, Any], env: str) -> None:
    plan = plans[OWNERS[env]]
    distributions = _by_tenant(plan, DISTRIBUTION)
    certificates = _by_tenant(plan, "aws:acm/certificate:Certificate")
    assert set(certificates) == set(CATALOGS[env])  # every tenant: at least its certificate
    for tenant_id, tenant in CATALOGS[env].items():
        managed = tenant.domain.endswith(("insure.example.com", "insure.example.ca"))
        if not (managed or tenant.domain_verified):
            assert tenant_id not in distributions, f"{tenant_id}: unverified tenant-owned domain"
            continue
        (d,) = distributions[tenant_id]
        inputs = d["inputs"]
        assert inputs["aliases"] == [tenant.domain]
        origins = [o["originId"] for o in inputs["origins"]]
        assert origins[0] == tenant.home_region and set(origins) == set(tenant.regions)
        assert set(origins) <= set(tenant.residency)
        assert all(o["domainName"].startswith(f"{tenant_id}-origin-{o['originId']}.") for o in inputs["origins"])
        assert inputs["defaultCacheBehavior"]["cachePolicyId"] == CACHING_DISABLED
        assert {b["pathPattern"] for b in inputs["orderedCacheBehaviors"]} == set(STATIC_PATHS)
        assert inputs["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
        if len(tenant.regions) > 1:
            (group,) = inputs["originGroups"]
            assert [m["originId"] for m in group["members"]] == origins[:2]
            assert group["failoverCriteria"]["statusCodes"] == list(FAILOVER_STATUS_CODES)
            behaviors = [inputs["defaultCacheBehavior"], *inputs["orderedCacheBehaviors"]]
            assert {b["targetOriginId"] for b in behaviors} == {group["originId"]}
            # CloudFront fails over only read requests; the behavior must not accept writes.
            assert set(inputs["defaultCacheBehavior"]["allowedMethods"]) <= {"GET", "HEAD", "OPTIONS"}
        else:
            assert not inputs.get("originGroups")


def test_front_end_web_acls_carry_the_shared_managed_rules(plans: dict[str, Any]) -> None:
    plan = plans["prod-us-east-1"]
    for tenant_id, (acl,) in _by_tenant(plan, "aws:wafv2/webAcl:WebAcl").items():
        groups = [
            r["statement"]["managedRuleGroupStatement"]["name"]
            for r in acl["inputs"]["rules"]
            if "managedRuleGroupStatement" in r["statement"]
        ]
        assert groups == list(MANAGED_RULE_GROUPS), tenant_id
        assert acl["inputs"]["scope"] == "CLOUDFRONT"


def test_edge_logs_stay_inside_residency_under_the_tenants_own_key(plans: dict[str, Any]) -> None:
    plan = plans["prod-us-east-1"]
    keys = {r["urn"]: r for r in resources_of(plan, "aws:kms/key:Key")}
    log_groups = _by_tenant(plan, "aws:cloudwatch/logGroup:LogGroup")
    distributions = _by_tenant(plan, DISTRIBUTION)
    for tenant_id, tenant in CATALOGS["prod"].items():
        if tenant_id not in distributions:
            continue
        if "us-east-1" not in tenant.residency:
            assert tenant_id not in log_groups, f"{tenant_id}: edge logs outside residency"
            continue
        groups = log_groups[tenant_id]
        assert {g["name"].rsplit("-", 1)[-1] for g in groups} == {"access", "waf"}
        for group in groups:
            assert group["options"]["protect"] is True
            assert group["inputs"]["retentionInDays"] == tenant.tier.log_retention_days
            key_urn = next(u for u in group["options"]["dependsOn"] if u in keys)
            assert keys[key_urn]["tenant"] == tenant_id  # the tenant's own key, not the platform's
    assert "maple-mutual" in distributions and "maple-mutual" not in log_groups


def test_tenant_owned_domains_get_their_records_handed_over(plans: dict[str, Any]) -> None:
    outputs = plans["prod-us-east-1"]["outputs"]["frontEnds"]
    for tenant_id, tenant in CATALOGS["prod"].items():
        entry = outputs[tenant_id]
        assert entry["domain"] == tenant.domain
        managed = tenant.domain.endswith("insure.example.com")
        if managed or tenant.domain_verified:
            assert "cloudfront" in entry and "addToTenantDns" not in entry
        else:
            (record,) = entry["addToTenantDns"]
            assert record["type"] == "CNAME" and record["name"].endswith(f"{tenant.domain}.")


def test_platform_zone_front_ends_get_alias_and_validation_records(plans: dict[str, Any]) -> None:
    plan = plans["prod-us-east-1"]
    records = _by_tenant(plan, "aws:route53/record:Record")
    for tenant_id, tenant in CATALOGS["prod"].items():
        names = sorted(r["name"].rsplit("-", 1)[-1] for r in records.get(tenant_id, []))
        if tenant.domain.endswith(".insure.example.com"):
            assert names == ["a", "aaaa", "validation"], tenant_id
            assert all(r["inputs"]["zoneId"] == "Z0PROD0000000000000001" for r in records[tenant_id])
        else:
            assert names == [], f"{tenant_id}: the platform may not write into the tenant's DNS"


def test_edge_configuration_may_live_in_us_east_1_but_edge_logs_may_not(plans: dict[str, Any]) -> None:
    """maple-mutual's certificate and web ACL sit in us-east-1 (configuration, no data) without a
    finding; a log of its viewers there is data outside Canada, and RES-1 says so."""
    plan = copy.deepcopy(plans["prod-us-east-1"])
    assert _by_tenant(plan, "aws:wafv2/webAcl:WebAcl")["maple-mutual"]
    log = copy.deepcopy(next(g for g in _by_tenant(plan, "aws:cloudwatch/logGroup:LogGroup")["harbor-mutual"]))
    log["tenant"] = "maple-mutual"
    log["urn"] = log["urn"].replace("harbor-mutual", "maple-mutual")
    log["inputs"]["tags"].update(tenant="maple-mutual", residency="ca-central-1+ca-west-1")
    log["options"]["dependsOn"] = []
    # The copy must not keep harbor-mutual's key either: MT-6 reads a key named by ARN or alias too.
    log["inputs"]["kmsKeyId"] = (
        "arn:aws:kms:us-east-1:123456789012:alias/insurance-platform/prod-us-east-1/tenant/maple-mutual"
    )
    plan["resources"].append(log)
    # The exemption covers CLOUDFRONT web ACLs only: the same ACL made regional is data placement.
    acl = copy.deepcopy(_by_tenant(plan, "aws:wafv2/webAcl:WebAcl")["maple-mutual"][0])
    acl["urn"] += "-regional"
    acl["inputs"]["scope"] = "REGIONAL"
    plan["resources"].append(acl)
    fired = {(v["ruleId"], v["urn"]) for v in evaluate(plan, config_for("prod-us-east-1"))}
    assert fired == {("RES-1", log["urn"]), ("RES-1", acl["urn"])}
