"""Whole stacks through the same runner as `make plan`: schema, verdict, tenants per region,
residency, providers, secrets, determinism, and the command line."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from catalog.loader import load_catalog
from planner.mocks import OFFLINE_PASSWORD, SECRET
from planner.runner import ROOT, ProgramError, build_plan
from tests.conftest import STACKS, resources_of

EXPECTED_TENANTS = {
    "dev": {"demo-basic", "demo-standard", "demo-premium"},
    "prod-us-east-1": {
        "granite-re",
        "harbor-mutual",
        "keystone-title",
        "lakeshore-farm",
        "pinnacle-life",
        "summit-casualty",
    },
    "prod-us-west-2": {
        "granite-re",
        "harbor-mutual",
        "lakeshore-farm",
        "pinnacle-life",
        "redwood-auto",
        "summit-casualty",
    },
    "prod-ca-central-1": {"maple-mutual"},
    "prod-ca-west-1": {"maple-mutual"},
}


HOME_TENANTS = {
    "dev": EXPECTED_TENANTS["dev"],
    "prod-us-east-1": {"granite-re", "harbor-mutual", "keystone-title", "lakeshore-farm", "summit-casualty"},
    "prod-us-west-2": {"pinnacle-life", "redwood-auto"},
    "prod-ca-central-1": {"maple-mutual"},
    "prod-ca-west-1": set(),
}


def test_every_stack_is_covered() -> None:
    assert set(STACKS) == set(EXPECTED_TENANTS)


@pytest.mark.parametrize("stack", STACKS)
def test_plan_is_valid_against_the_schema(plans: dict[str, Any], plan_schema: dict[str, Any], stack: str) -> None:
    jsonschema.validate(plans[stack], plan_schema)


@pytest.mark.parametrize("stack", STACKS)
def test_plan_has_no_mandatory_violation(plans: dict[str, Any], stack: str) -> None:
    blocking = [v for v in plans[stack]["policy"]["violations"] if v["enforcementLevel"] == "mandatory"]
    assert blocking == []


@pytest.mark.parametrize("stack", STACKS)
def test_stack_deploys_exactly_the_tenants_served_in_its_region(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    namespaces = {
        r["inputs"]["metadata"]["name"]
        for r in resources_of(plan, "kubernetes:core/v1:Namespace")
        if "tenant" in r["inputs"]["metadata"]["labels"]
    }
    databases = {
        r["tenant"] for r in resources_of(plan, "aws:rds/instance:Instance") if r["name"].startswith("tenant-")
    }
    assert namespaces == EXPECTED_TENANTS[stack]
    served = {t: out for s in plan["stacks"] for t, out in (s["outputs"].get("tenants") or {}).items()}
    assert set(served) == EXPECTED_TENANTS[stack]
    # Data lives only in the tenant's home region.
    assert databases == HOME_TENANTS[stack]
    assert {t for t, out in served.items() if out["home"]} == HOME_TENANTS[stack]


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_resources_stay_inside_residency(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    environment = "dev" if stack == "dev" else "prod"
    residency = {t.id: set(t.residency) for t in load_catalog(ROOT / "tenants" / environment)}
    providers = {r["urn"]: r for r in plan["resources"] if r["type"] == "pulumi:providers:aws"}
    tenant_aws = [r for r in plan["resources"] if r["tenant"] and r["custom"] and r["type"].startswith("aws:")]
    assert tenant_aws
    for r in tenant_aws:
        if r["type"].startswith(("aws:acm/", "aws:cloudfront/")) or r["inputs"].get("scope") == "CLOUDFRONT":
            continue  # global edge: no data stored (RES-1); its origins stay in residency (RES-4)
        region = r["inputs"].get("region") or providers[r["provider"]]["inputs"]["region"]
        assert region == plan["region"] and region in residency[r["tenant"]], r["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_aws_resource_uses_the_explicit_regional_provider(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for s in plan["stacks"]:  # one provider per stack, the region's
        (provider,) = [r for r in resources_of(plan, "pulumi:providers:aws") if r["stack"] == s["name"]]
        assert provider["inputs"]["region"] == plan["region"]
        aws = [r for r in plan["resources"] if r["custom"] and r["type"].startswith("aws:") and r["stack"] == s["name"]]
        assert all(r["provider"] == provider["urn"] for r in aws)
        for component in resources_of(plan, "eks:index:Cluster") + resources_of(plan, "eks:index:ManagedNodeGroup"):
            if component["stack"] == s["name"]:
                assert component["providers"]["aws"] == provider["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_resources_are_attributed_and_stateful_ones_protected(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for tenant in EXPECTED_TENANTS[stack]:
        # The Tenant component's own resources (DR copies held for a peer region are TenantRecovery's).
        owned = [r for r in plan["resources"] if r["tenant"] == tenant and r["name"].startswith(f"tenant-{tenant}")]
        types = {r["type"] for r in owned}
        everywhere = {"platform:index:Tenant", "aws:kms/key:Key", "kubernetes:core/v1:Namespace", "aws:sqs/queue:Queue"}
        home_only = {
            "aws:rds/instance:Instance",
            "aws:s3/bucket:Bucket",
            "aws:cognito/userPool:UserPool",
            "aws:budgets/budget:Budget",
        }
        assert everywhere <= types
        assert (home_only <= types) if tenant in HOME_TENANTS[stack] else not (home_only & types)
    for r in plan["resources"]:
        if r["type"] in ("aws:rds/instance:Instance", "aws:kms/key:Key", "aws:s3/bucket:Bucket") or (
            r["type"] == "kubernetes:core/v1:Namespace" and r["tenant"]
        ):
            assert r["options"]["protect"] is True, r["urn"]


# A key holding a credential (`adminPassword`, `admin_password`, `GF_SECURITY_ADMIN_PASSWORD`,
# `secretString`, `client_secret`...), unless it only names where one is (`passwordKey`, `secretName`).
SENSITIVE_KEY = re.compile(r"pass(word|wd)|secret(string|binary)?$|client_?secret|private_?key|api_?key|token$", re.I)
REFERENCE_KEY = re.compile(
    r"(key|name|id|ref|arn|version|days|size|validity|policy|path|tokens?|existingsecret|source)$", re.I
)


def clear_credentials(value: Any, path: str = "") -> list[str]:
    """Paths of credentials written in clear anywhere in a plan, JSON strings inside it included."""
    found: list[str] = []
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return found
    if isinstance(value, dict):
        env_name = value.get("name")
        env_value = value.get("value")  # a container env var {name, value}
        if isinstance(env_name, str) and SENSITIVE_KEY.search(env_name) and isinstance(env_value, str):
            found += [f"{path}.{env_name}"] if env_value != SECRET else []
        for key, item in value.items():
            sensitive = SENSITIVE_KEY.search(key) and not REFERENCE_KEY.search(key)
            if sensitive and isinstance(item, str | int | float) and not isinstance(item, bool) and item != SECRET:
                found.append(f"{path}.{key}")
            found += clear_credentials(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += clear_credentials(item, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_never_appear_in_clear(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    assert plan["outputs"]["kubeconfig"] == "[secret]"
    text = json.dumps(plan)
    # Every generated password (Grafana admins, ...) and every secret read offline is this string.
    assert OFFLINE_PASSWORD not in text and "BEGIN RSA" not in text and "PRIVATE KEY-----" not in text
    assert clear_credentials(plan["resources"]) == [] and clear_credentials(plan["outputs"]) == []


def test_clear_credentials_finds_a_grafana_admin_password() -> None:
    values = {"admin": {"existingSecret": "grafana-admin", "passwordKey": "admin-password"}}
    assert clear_credentials(values) == []
    assert clear_credentials({**values, "adminPassword": "hunter2"}) == [".adminPassword"]
    ini = {"grafana.ini": {"security": {"admin_password": "hunter2"}}}
    assert clear_credentials(ini) == [".grafana.ini.security.admin_password"]
    env = {"env": [{"name": "GF_SECURITY_ADMIN_PASSWORD", "value": "hunter2"}]}
    assert clear_credentials(env) == [".env[0].GF_SECURITY_ADMIN_PASSWORD"]
    version = {"secretString": json.dumps({"admin-user": "admin", "admin-password": "hunter2"})}
    assert clear_credentials(version) == [".secretString", ".secretString.admin-password"]
    assert clear_credentials({"secretString": SECRET, "passwordWo": SECRET}) == []
    # where API Gateway takes its keys from (apiKeySource) is a setting, not a credential
    assert clear_credentials({"apiKeySource": "AUTHORIZER"}) == []


def test_premium_tenants_get_dedicated_nodes_only_where_served(plans: dict[str, Any]) -> None:
    for stack, plan in plans.items():
        groups = {r["name"] for r in resources_of(plan, "eks:index:ManagedNodeGroup")}
        premium = {
            r["inputs"]["metadata"]["name"]
            for r in resources_of(plan, "kubernetes:core/v1:Namespace")
            if r["inputs"]["metadata"]["labels"].get("tier") == "premium"
        }
        assert {g.removeprefix("cluster-tenant-") for g in groups if g.startswith("cluster-tenant-")} == premium, stack


def test_tier_overrides_reach_the_database(plans: dict[str, Any]) -> None:
    db = {
        r["tenant"]: r["inputs"]
        for stack in ("prod-us-east-1", "prod-us-west-2")
        for r in resources_of(plans[stack], "aws:rds/instance:Instance")
        if "replicateSourceDb" not in r["inputs"]
    }
    assert db["granite-re"]["backupRetentionPeriod"] == 21  # standard tier is 14, overridden up
    assert db["summit-casualty"]["backupRetentionPeriod"] == 14
    assert db["pinnacle-life"]["instanceClass"] == "db.r7g.2xlarge"
    # Production: every tenant database is Multi-AZ, the basic tier included (seed 004).
    assert db["keystone-title"]["multiAz"] is True and db["harbor-mutual"]["multiAz"] is True


def test_plan_is_deterministic(plans: dict[str, Any]) -> None:
    again = build_plan("dev")
    first = {k: v for k, v in plans["dev"].items() if k != "policy"}
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)


def test_catalog_mistake_stops_before_any_resource(project_copy: Path) -> None:
    bad = project_copy / "tenants" / "dev" / "demo-basic.yaml"
    bad.write_text(bad.read_text().replace("tier: basic", "tier: platinum"))
    with pytest.raises(ProgramError) as caught:
        build_plan("dev", project_copy)
    assert (
        str(caught.value)
        == "tenants/dev/demo-basic.yaml: tier: unknown tier 'platinum' (one of: basic, standard, premium)"
    )
    assert caught.value.registered == 0


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_cli_config_error_is_one_line_without_traceback(project_copy: Path, tmp_path: Path) -> None:
    stack_file = project_copy / "Pulumi.prod-us-west-2.yaml"
    stack_file.write_text(stack_file.read_text().replace("aws:region: us-west-2", "aws:region: us-wast-2"))
    result = cli("plan", "--stack", "prod-us-west-2", "--root", str(project_copy), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Pulumi.prod-us-west-2.yaml: aws:region: 'us-wast-2' is not an AWS region"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_unknown_stack(tmp_path: Path) -> None:
    result = cli("plan", "--stack", "staging", "--out", str(tmp_path))
    assert result.returncode == 2 and "no such stack" in result.stderr and "Traceback" not in result.stderr


def test_cli_plan_and_saved_plan_give_the_same_verdict(tmp_path: Path) -> None:
    result = cli("plan", "--stack", "dev", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Resources per tenant" in result.stdout and "demo-premium [premium]" in result.stdout
    assert "Verdict: PASS" in result.stdout
    saved = tmp_path / "dev" / "plan.json"
    check = cli("policy", "--plan", str(saved))
    assert check.returncode == 0 and "Verdict: PASS" in check.stdout

    plan = json.loads(saved.read_text())
    for r in plan["resources"]:
        if r["type"] == "aws:rds/instance:Instance":
            r["inputs"]["publiclyAccessible"] = True
    saved.write_text(json.dumps(plan))
    blocked = cli("policy", "--plan", str(saved))
    assert blocked.returncode == 1
    assert "NET-RDS-1" in blocked.stdout and "Verdict: BLOCKED" in blocked.stdout


def test_schema_extends_the_shared_design_compatibly() -> None:
    """Ours adds only optional top-level properties (`stacks`): every plan valid under the shared
    design stays valid, and every field the design names keeps its definition."""
    shared_file = ROOT.parent / "shared" / "design" / "plan.schema.json"
    if not shared_file.is_file():
        pytest.skip("../shared is not beside this checkout")
    shared = json.loads(shared_file.read_text())
    ours = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    assert ours["required"] == shared["required"]
    assert {k: v for k, v in ours["properties"].items() if k in shared["properties"]} == shared["properties"]
    assert set(ours["properties"]) - set(shared["properties"]) == {"stacks"}
    assert {k: v for k, v in ours.items() if k != "properties"} == {
        k: v for k, v in shared.items() if k != "properties"
    }


def test_removing_a_tenant_file_cannot_destroy_its_data(project_copy: Path, plans: dict[str, Any]) -> None:
    from planner.summary import protected_removals

    (project_copy / "tenants" / "prod" / "keystone-title.yaml").unlink()
    head = build_plan("prod-us-east-1", project_copy)
    blocked = protected_removals(plans["prod-us-east-1"], head)
    assert {r["tenant"] for r in blocked} == {"keystone-title"}
    assert {r["type"] for r in blocked} >= {
        "aws:rds/instance:Instance",
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "kubernetes:core/v1:Namespace",
        "aws:cognito/userPool:UserPool",
    }
    assert not any(r["tenant"] == "keystone-title" for r in head["resources"])
