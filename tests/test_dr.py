"""Multi-region DR inside residency, asserted on the plans of every production stack: each stack
creates only in its own region, copies follow the tier, single-region tenants get none, the
promotion switch turns a copy into the primary, and the DR report states it per tenant."""

import json
from pathlib import Path
from typing import Any

import pytest

from catalog.loader import load_catalog
from planner.dr import mechanisms, render_report
from planner.runner import ROOT, build_plan
from tests.conftest import STACKS, resources_of

PROD = [s for s in STACKS if s.startswith("prod-")]
CATALOG = {t.id: t for t in load_catalog(ROOT / "tenants" / "prod")}
PEER = {"us-east-1": "us-west-2", "us-west-2": "us-east-1", "ca-central-1": "ca-west-1", "ca-west-1": "ca-central-1"}


@pytest.fixture(scope="module")
def prod_plans(plans: dict[str, Any]) -> list[dict[str, Any]]:
    return [plans[s] for s in PROD]


@pytest.mark.parametrize("stack", PROD)
def test_each_stack_creates_only_in_its_own_region(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    providers = resources_of(plan, "pulumi:providers:aws")
    assert {p["stack"] for p in providers} == {s["name"] for s in plan["stacks"]}  # one per stack
    assert {p["inputs"]["region"] for p in providers} == {plan["region"]}
    assert all("region" not in r["inputs"] for r in plan["resources"] if r["type"].startswith("aws:"))


@pytest.mark.parametrize("stack", PROD)
def test_dr_copies_match_tier_and_residency(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    region = plan["region"]
    held = {r["tenant"] for r in resources_of(plan, "platform:index:TenantRecovery")}
    expected = {t for t, c in CATALOG.items() if c.home_region == PEER[region] and region in c.residency}
    assert held == expected
    for tenant in held:
        replicas = [
            r
            for r in resources_of(plan, "aws:rds/instance:Instance")
            if r["tenant"] == tenant and "replicateSourceDb" in r["inputs"]
        ]
        backups = [
            r
            for r in resources_of(
                plan, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
            )
            if r["tenant"] == tenant
        ]
        assert len(backups) == 1 and backups[0]["inputs"]["sourceDbInstanceArn"].split(":")[3] == PEER[region]
        assert backups[0]["inputs"]["retentionPeriod"] == CATALOG[tenant].tier.database.backup_retention_days
        cross_region = [r for r in replicas if r["inputs"]["replicateSourceDb"].startswith("arn:")]
        assert len(cross_region) == (1 if CATALOG[tenant].tier.name == "premium" else 0)
        for replica in cross_region:
            assert replica["inputs"]["kmsKeyId"] and replica["options"]["protect"] is True
            assert "password" not in replica["inputs"] and "manageMasterUserPassword" not in replica["inputs"]


@pytest.mark.parametrize("stack", PROD)
def test_home_region_copies_to_the_peer_only_where_residency_allows(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    region = plan["region"]
    for backup_plan in resources_of(plan, "aws:backup/plan:Plan"):
        if backup_plan["inputs"]["name"].endswith("-warehouse"):
            continue  # warehouse snapshots stay home (no copy resource in the provider): test_warehouse
        tenant = CATALOG[backup_plan["tenant"]]
        copies = [a for rule in backup_plan["inputs"]["rules"] for a in rule.get("copyActions", [])]
        if PEER[region] in tenant.residency:
            (copy,) = copies
            assert copy["destinationVaultArn"].split(":")[3] == PEER[region]
            assert copy["lifecycle"]["deleteAfter"] == tenant.tier.database.backup_retention_days
        else:
            assert copies == [] and backup_plan["inputs"]["tags"]["copies-to"] == "none"
    replicated = {
        r["tenant"] for r in resources_of(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig") if r["tenant"]
    }
    assert replicated == {t for t, c in CATALOG.items() if c.home_region == region and PEER[region] in c.residency}


def test_single_region_residency_gets_no_cross_region_copy_and_says_so(plans: dict[str, Any]) -> None:
    east, west = plans["prod-us-east-1"], plans["prod-us-west-2"]
    assert "keystone-title" in east["outputs"]["disasterRecovery"]["noCrossRegionCopy"]
    assert not any(r["tenant"] == "keystone-title" for r in west["resources"])


def test_vault_is_locked_and_restores_are_tested(plans: dict[str, Any]) -> None:
    plan = plans["prod-us-east-1"]
    vaults = resources_of(plan, "aws:backup/vault:Vault")
    assert "ip-prod-us-east-1-vault" in {v["inputs"]["name"] for v in vaults}
    assert all(v["options"]["protect"] is True for v in vaults)
    locks = resources_of(plan, "aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert len(locks) == len(vaults), "every vault (platform and per tenant) is locked"
    for lock in locks:
        assert lock["inputs"]["minRetentionDays"] == 7 and lock["inputs"]["changeableForDays"] == 3
    (testing,) = resources_of(plan, "aws:backup/restoreTestingSelection:RestoreTestingSelection")
    assert testing["inputs"]["protectedResourceType"] == "RDS"


@pytest.mark.parametrize("stack", PROD)
def test_each_region_writes_only_its_own_latency_records(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    records = resources_of(plan, "aws:route53/record:Record")
    latency = [r for r in records if "setIdentifier" in r["inputs"]]
    assert latency and all(r["inputs"]["setIdentifier"] == plan["region"] for r in latency)
    assert all(r["inputs"]["latencyRoutingPolicies"] == [{"region": plan["region"]}] for r in latency)
    assert all(r["inputs"]["healthCheckId"] for r in latency)


def test_dr_report_states_mechanisms_per_tenant(prod_plans: list[dict[str, Any]]) -> None:
    found = mechanisms(prod_plans)
    for tenant, config in CATALOG.items():
        entry = found[tenant]
        assert entry["home"] == config.home_region and entry["tier"] == config.tier.name
        regions = {region for _, region in entry["mechanisms"]}
        assert regions <= set(config.residency), f"{tenant} has a copy outside its residency"
        kinds = {m for m, _ in entry["mechanisms"]}
        if len(config.residency) > 1:
            assert {"replicated automated backups", "AWS Backup copy", "document replication"} <= kinds
            assert ("cross-region read replica" in kinds) == (config.tier.name == "premium")
        else:
            assert regions == {config.home_region}
        traffic = entry["traffic"]
        assert {f"API latency record + health check in {r}" for r in config.regions} <= set(traffic)
        front_end = [t for t in traffic if t.startswith("front-end")]
        if front_end and len(config.regions) > 1:
            assert front_end == [f"front-end CloudFront {' → '.join(config.regions_home_first)} (with origin failover)"]
    report = render_report(prod_plans, {t: c.residency for t, c in CATALOG.items()})
    assert "| keystone-title | basic | 24 h / 24 h | us-east-1 |" in report
    assert "**no cross-region copy (single-region residency)**" in report
    assert "| maple-mutual | premium | 5 min / 1 h | ca-central-1 |" in report


def _promote(project: Path, stack: str, tenants: list[str]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    path.write_text(text.replace("promote: []", f"promote: {json.dumps(tenants)}"))


def test_promotion_switch_makes_the_surviving_region_primary(project_copy: Path, plans: dict[str, Any]) -> None:
    _promote(project_copy, "prod-us-west-2", ["harbor-mutual", "summit-casualty"])
    plan = build_plan("prod-us-west-2", project_copy)
    dbs = {r["name"]: r["inputs"] for r in resources_of(plan, "aws:rds/instance:Instance")}
    promoted = dbs["dr-harbor-mutual-replica"]  # premium: the replica loses its source
    assert "replicateSourceDb" not in promoted and promoted["manageMasterUserPassword"] is True
    assert promoted["multiAz"] is True and promoted["backupRetentionPeriod"] == 35
    restored = dbs["dr-summit-casualty-restored"]  # standard: restored from replicated backups
    assert restored["restoreToPointInTime"]["useLatestRestorableTime"] is True
    runtime = {
        r["tenant"]: r["inputs"]["data"]
        for r in resources_of(plan, "kubernetes:core/v1:ConfigMap")
        if r["inputs"]["metadata"]["name"] == "tenant-runtime"
    }
    assert runtime["harbor-mutual"]["DATABASE_HOST"].startswith("ip-prod-harbor-mutual-dr.")
    assert plan["outputs"]["disasterRecovery"]["promotedHere"] == ["harbor-mutual", "summit-casualty"]
    # Nothing of the failed region is touched: the plan is still this region's alone.
    assert {r["inputs"]["region"] for r in resources_of(plan, "pulumi:providers:aws")} == {"us-west-2"}
    before = {r["urn"] for r in plans["prod-us-west-2"]["resources"]}
    assert before - {r["urn"] for r in plan["resources"]} == set(), "promotion removes nothing"


def test_promotion_is_validated(project_copy: Path) -> None:
    _promote(project_copy, "prod-us-west-2", ["keystone-title"])
    with pytest.raises(Exception) as caught:
        build_plan("prod-us-west-2", project_copy)
    assert "may not hold data in us-west-2" in str(caught.value)
    _promote(project_copy, "prod-us-east-1", ["nobody"])
    with pytest.raises(Exception) as caught:
        build_plan("prod-us-east-1", project_copy)
    assert "'nobody' is not a tenant" in str(caught.value)


def test_bootstrap_without_peer_skips_dr_wiring_and_says_so() -> None:
    plan = build_plan("prod-us-east-1", fresh=True)
    assert resources_of(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig") == []
    assert resources_of(plan, "platform:index:TenantRecovery") == []
    assert all(
        not rule.get("copyActions") for p in resources_of(plan, "aws:backup/plan:Plan") for rule in p["inputs"]["rules"]
    )
    skipped = plan["outputs"]["skipped"]
    assert "Velero replication to us-west-2: prod-us-west-2 is not deployed yet" in skipped
    assert "copies of harbor-mutual to us-west-2: prod-us-west-2 does not hold its DR copies yet" in skipped
    assert "DR copies of pinnacle-life (home us-west-2): its primary does not exist in prod-us-west-2 yet" in skipped


@pytest.mark.parametrize("stack", PROD)
def test_velero_schedules_each_tenant_namespace_alone(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    schedules = {
        r["inputs"]["metadata"]["labels"]["tenant"]: r["inputs"]["spec"]
        for r in resources_of(plan, "kubernetes:velero.io/v1:Schedule")
    }
    served = {r["tenant"] for r in resources_of(plan, "kubernetes:core/v1:Namespace") if r["tenant"]}
    assert set(schedules) == served
    for tenant, spec in schedules.items():
        assert spec["template"]["includedNamespaces"] == [tenant]
        assert spec["template"]["ttl"] == f"{CATALOG[tenant].tier.database.backup_retention_days * 24}h0m0s"


@pytest.mark.parametrize("stack", PROD)
def test_velero_backups_replicate_only_inside_residency(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    region = plan["region"]
    (config,) = [
        r
        for r in resources_of(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        if r["name"] == "velero-backups"
    ]
    replicated = {rule["id"].removesuffix(f"-to-{PEER[region]}") for rule in config["inputs"]["rules"]}
    served = {r["tenant"] for r in resources_of(plan, "kubernetes:core/v1:Namespace") if r["tenant"]}
    # Inside residency, and only where the peer holds a key of the tenant (tests/test_keys_residency.py).
    assert replicated and replicated <= {t for t in served if PEER[region] in CATALOG[t].residency}
    for rule in config["inputs"]["rules"]:
        assert rule["filter"]["prefix"] == f"{rule['id'].removesuffix(f'-to-{PEER[region]}')}/"  # its location
        assert rule["destination"]["bucket"] == f"arn:aws:s3:::ip-prod-{PEER[region]}-velero"
    if region == "us-east-1":
        assert "keystone-title" in served and "keystone-title" not in replicated
