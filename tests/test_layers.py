"""Layers as stacks (issue 13): a platform stack per region and a stack per tenant per region,
joined by one typed contract, planned together into one regional picture."""

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from catalog import ConfigError
from catalog.loader import load_settings
from catalog.stacks import StackName, derived_stack_file
from components.shared.contract import PlatformContract
from planner.policy import evaluate
from planner.runner import ROOT, ProgramError, build_plan
from planner.stackconfig import read_stack_config
from tests.conftest import STACKS, config_for

# What the platform stack may still hold per tenant: capacity the catalog reserves for it.
PLATFORM_PER_TENANT = {"eks:index:ManagedNodeGroup"}


def settings_of(stack: str) -> Any:
    config = read_stack_config(ROOT, stack)
    return load_settings(config.values.get, config.project, stack, ROOT)


def by_stack(plan: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for r in plan["resources"]:
        found.setdefault(r["stack"], []).append(r)
    return found


def stacks_from_the_files(stack: str) -> list[str]:
    """An oracle from the raw files (not the loader the runner uses): a tenant has a stack where it
    is served, where its residency lets the region hold its DR copies, and on the edge owner's
    platform. The platform stack first, then its tenant stacks by name."""
    import yaml

    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    region, environment = doc["aws:region"], doc["insurance-platform:environment"]
    peer = (doc.get("insurance-platform:dr") or {}).get("peerRegion")
    owner = doc["insurance-platform:edge"]["globalOwner"] == stack
    tenants = []
    for path in (ROOT / "tenants" / environment).glob("*.yaml"):
        t = yaml.safe_load(path.read_text())
        if owner or region in t["regions"] or (t["homeRegion"] == peer and region in t["residency"]):
            tenants.append(f"{stack}.{t['id']}")
    return [stack, *sorted(tenants)]


@pytest.mark.parametrize("stack", STACKS)
def test_a_region_plans_its_platform_then_one_stack_per_tenant(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    expected = stacks_from_the_files(stack)
    assert [s["name"] for s in plan["stacks"]] == expected
    assert plan["stacks"][0]["kind"] == "platform" and {s["kind"] for s in plan["stacks"][1:]} <= {"tenant"}
    groups = by_stack(plan)
    assert set(groups) == set(expected), "every resource names a stack of the region"
    for s in plan["stacks"]:
        assert s["resources"] == len(groups[s["name"]])
        assert all(r["urn"].startswith(f"urn:pulumi:{s['name']}::") for r in groups[s["name"]])


@pytest.mark.parametrize("stack", STACKS)
def test_every_tenant_resource_lives_in_its_own_tenant_stack(plans: dict[str, Any], stack: str) -> None:
    for r in plans[stack]["resources"]:
        name = StackName.parse(r["stack"])
        if name.is_tenant:
            assert r["tenant"] in (name.tenant, None), f"{r['urn']} belongs to {r['tenant']}"
        elif r["tenant"] is not None:
            assert r["type"] in PLATFORM_PER_TENANT, f"{r['urn']} is {r['tenant']}'s but sits in the platform stack"


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_stacks_read_the_platform_contract_and_copy_nothing(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    contract = plan["outputs"]["contract"]
    assert sorted(contract) == PlatformContract.output_keys()
    assert "kubeconfig" in plan["outputs"] and "kubeconfig" not in contract  # the secret stays apart
    # Values the contract carries reach the tenant stacks as the platform exported them.
    vpc = contract["vpcId"]
    groups = [
        r for r in plan["resources"] if r["type"] == "aws:ec2/securityGroup:SecurityGroup" and r["stack"] != stack
    ]
    assert groups and all(g["inputs"]["vpcId"] == vpc for g in groups)


def test_the_contract_is_one_typed_object_not_twenty_arguments() -> None:
    from components.tenant.tenant import TenantArgs

    fields = TenantArgs.__dataclass_fields__
    assert "platform" in fields and len(fields) <= 8
    assert fields["platform"].type is PlatformContract


@pytest.mark.parametrize("stack", STACKS)
def test_crossguard_passes_every_stack_on_its_own(plans: dict[str, Any], stack: str) -> None:
    """`pulumi preview` runs the pack per stack: no stack may pass only with its region around it."""
    plan = plans[stack]
    for name, resources in by_stack(plan).items():
        alone = {**plan, "stack": name, "resources": resources}
        alone.pop("stacks", None)
        mandatory = [v for v in evaluate(alone, config_for(stack)) if v["enforcementLevel"] == "mandatory"]
        assert not mandatory, f"{name}: {mandatory[:3]}"


def test_the_platform_stack_no_longer_grows_with_tenants(plans: dict[str, Any]) -> None:
    """Per tenant, the platform stack holds only the dedicated node group the tier reserves."""
    for stack in STACKS:
        settings = settings_of(stack)
        dedicated = {t.id for t in settings.served_tenants if t.tier.placement == "dedicated"}
        per_tenant = [r for r in by_stack(plans[stack])[stack] if r["tenant"]]
        assert {r["tenant"] for r in per_tenant} == dedicated
        assert [r["type"] for r in per_tenant] == ["eks:index:ManagedNodeGroup"] * len(dedicated)


def test_a_tenant_stack_plans_alone_with_its_platform(plans: dict[str, Any]) -> None:
    plan = build_plan("dev.demo-basic")
    assert plan["stack"] == "dev.demo-basic" and [s["name"] for s in plan["stacks"]] == ["dev", "dev.demo-basic"]
    whole = {r["urn"] for r in plans["dev"]["resources"] if r["stack"] in ("dev", "dev.demo-basic")}
    assert {r["urn"] for r in plan["resources"]} == whole


@pytest.mark.parametrize(
    ("name", "problem"),
    [("dev.", "is not <platform>"), ("dev.a.b", "is not <platform>"), ("dev.nobody", "no such tenant")],
)
def test_a_bad_tenant_stack_name_is_one_line(name: str, problem: str) -> None:
    with pytest.raises((ConfigError, ProgramError)) as caught:
        build_plan(name)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_a_tenant_stack_config_is_derived_never_committed() -> None:
    platform = read_stack_config(ROOT, "prod-us-east-1")
    tenant = read_stack_config(ROOT, "prod-us-east-1.harbor-mutual")
    assert tenant.values == {**platform.values, f"{platform.project}:tenant": "harbor-mutual"}
    derived = derived_stack_file({"config": {"a:b": {"secure": "x"}, "a:c": 1}}, "p", StackName("s", "t"))
    assert derived == {"config": {"a:c": 1, "p:tenant": "t"}}, "encrypted values never leave their stack"
    assert "Pulumi.*.*.yaml" in (ROOT / ".gitignore").read_text()


@pytest.mark.parametrize("stack", STACKS)
def test_moved_resources_keep_their_logical_names_and_carry_aliases(plans: dict[str, Any], stack: str) -> None:
    """What the one-stack layout built under platform components now lives in tenant stacks
    under the same names, aliased to where `pulumi state move` puts it (docs/migration.md)."""
    moved = {  # name prefix -> the platform component that held it
        "tenant-pods-": "platform:index:TenantPodSecurityGroups",
        "cache-": "platform:index:Cache",
        "velero-": "platform:index:Velero",
        "observability-": "platform:index:Observability",
    }
    checked = 0
    for r in plans[stack]["resources"]:
        old_parent = next((c for prefix, c in moved.items() if r["name"].startswith(prefix)), None)
        if r["stack"] == stack or old_parent is None or not r["custom"] or "UserGroupAssociation" in r["type"]:
            continue
        aliases = r["options"].get("aliases") or []
        assert f"urn:pulumi:{r['stack']}::{plans[stack]['project']}::{r['type']}::{r['name']}" in aliases
        assert any(f"::{old_parent}${r['type']}::{r['name']}" in a for a in aliases), r["urn"]
        checked += 1
    assert checked


def test_main_reads_like_the_layers() -> None:
    for program in ["__main__.py", "programs/platform.py", "programs/tenant.py"]:
        tree = ast.parse((ROOT / program).read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], program
    assert len((ROOT / "__main__.py").read_text().splitlines()) <= 30
    packages = {p.name for p in (ROOT / "components").iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert packages == {"shared", "platform", "tenant", "recovery", "edge"}
    assert not list((ROOT / "components").glob("*.py"))[1:], "modules live in their layer's package"


def test_the_regional_plan_file_validates(plans: dict[str, Any], plan_schema: dict[str, Any], tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    plan = json.loads(json.dumps(plans["prod-us-east-1"], default=str))
    jsonschema.validate(plan, plan_schema)


# Contract fields only a premium tenant's home stack reads (components/shared/warehouse.py).
PREMIUM_HOME_FIELDS = {"s3PrefixListId"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_contract_field_reaches_a_tenant_stack(plans: dict[str, Any], stack: str) -> None:
    """No dead field, and the value a tenant stack uses is the one the platform exported."""
    plan = plans[stack]
    tenant_inputs = json.dumps([r["inputs"] for r in plan["resources"] if r["stack"] != stack])
    served = any(s["outputs"].get("tenants") for s in plan["stacks"][1:])
    if not served:
        pytest.skip("no tenant served in this region")
    for key, value in plan["outputs"]["contract"].items():
        if isinstance(value, dict):
            # a map (apiUsagePlanIds: tier -> plan): each tenant reads its own entry
            assert value and all(isinstance(v, str) and v for v in value.values()), key
            assert any(json.dumps(v) in tenant_inputs for v in value.values()), (
                f"contract field {key} is read by no tenant stack"
            )
            continue
        # a string, or a list of strings (privateSubnetIds), read whole by some tenant resource
        items = value if isinstance(value, list) else [value]
        assert items and all(isinstance(v, str) and v for v in items), key
        if key in PREMIUM_HOME_FIELDS and not any(
            r["type"] == "aws:redshiftserverless/workgroup:Workgroup" and r["stack"] != stack for r in plan["resources"]
        ):
            continue  # read only where a premium tenant is homed (its own warehouse)
        assert json.dumps(value)[1:-1] in tenant_inputs, f"contract field {key} is read by no tenant stack"


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_buckets_log_to_the_platform_access_log_bucket(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    platform_buckets = {
        r["inputs"]["bucket"] for r in plan["resources"] if r["type"] == "aws:s3/bucket:Bucket" and r["stack"] == stack
    }
    assert not [r for r in plan["resources"] if r["type"] == "platform:index:AccessLogBucket" and r["stack"] != stack]
    for r in plan["resources"]:
        if r["type"] == "aws:s3/bucketLogging:BucketLogging" and r["stack"] != stack:
            assert r["inputs"]["targetBucket"] in platform_buckets, r["urn"]


def test_a_tenant_database_may_name_only_the_platforms_tls_group(plans: dict[str, Any]) -> None:
    """ENC-RDS-3 at a tenant stack's own preview: the platform's `*-tls` group passes because the
    platform stack's preview refuses such a group without TLS; any other foreign group fails."""
    import copy

    plan = plans["dev"]
    tenant = [r for r in plan["resources"] if r["stack"] == "dev.demo-basic"]
    alone = {**plan, "stack": "dev.demo-basic", "resources": copy.deepcopy(tenant)}
    alone.pop("stacks")

    def tls_findings(p: dict[str, Any]) -> list[dict[str, Any]]:
        return [v for v in evaluate(p, config_for("dev")) if v["ruleId"] == "ENC-RDS-3"]

    assert tls_findings(alone) == []
    (db,) = [r for r in alone["resources"] if r["type"] == "aws:rds/instance:Instance"]
    db["inputs"]["parameterGroupName"] = "default.mariadb11.8"
    assert [v["urn"] for v in tls_findings(alone)] == [db["urn"]]

    platform = {**plan, "resources": copy.deepcopy([r for r in plan["resources"] if r["stack"] == "dev"])}
    platform.pop("stacks")
    assert tls_findings(platform) == []
    (group,) = [r for r in platform["resources"] if r["type"] == "aws:rds/parameterGroup:ParameterGroup"]
    for parameter in group["inputs"]["parameters"]:
        if parameter["name"] == "require_secure_transport":
            parameter["value"] = "0"
    assert [v["urn"] for v in tls_findings(platform)] == [group["urn"]]


def test_tenant_stacks_wait_for_their_platform_in_the_rehearsal(plans: dict[str, Any]) -> None:
    """The fleet deploys a region's platform stack before its tenant stacks: the rehearsal's
    ordering rules see a tenant workload wait for istiod, the CRDs and the cluster that way."""
    from planner.rehearsal import MANDATORY, dependency_closure, rehearse

    plan = plans["dev"]
    closure = dependency_closure(plan)
    (istiod,) = [r for r in plan["resources"] if r["name"] == "mesh-istiod"]
    workloads = [r for r in plan["resources"] if r["type"] == "kubernetes:apps/v1:Deployment" and r["stack"] != "dev"]
    assert workloads and all(istiod["urn"] in closure(w["urn"]) for w in workloads)
    findings = rehearse([plans[s] for s in STACKS])
    assert [f for f in findings if f.severity == MANDATORY] == []


def test_a_region_holding_only_dr_copies_gets_the_tenant_stack(project_copy: Path) -> None:
    from planner.runner import region_stacks

    source = (project_copy / "tenants" / "prod" / "keystone-title.yaml").read_text()
    copy_allowed = source.replace("residency: [us-east-1]", "residency: [us-east-1, us-west-2]")
    assert copy_allowed != source
    (project_copy / "tenants" / "prod" / "keystone-title.yaml").write_text(copy_allowed)
    assert "prod-us-west-2.keystone-title" in region_stacks("prod-us-west-2", project_copy)
    assert "prod-us-west-2.keystone-title" not in region_stacks("prod-us-west-2")  # residency: us-east-1 only


def test_planning_tenant_stacks_in_worker_processes_changes_nothing(plans: dict[str, Any]) -> None:
    parallel = build_plan("dev", jobs=2)
    assert json.dumps(parallel, sort_keys=True) == json.dumps(
        {k: v for k, v in plans["dev"].items() if k != "policy"}, sort_keys=True
    )


def test_a_tenant_stack_previews_before_its_platform_exports_the_contract() -> None:
    """A pull request adding a contract field, or the migration before the platform's first `up`
    of the split: the tenant stack's preview sees the missing values as unknown, not an error."""
    from components.shared.contract import platform_reference_name
    from planner.runner import plan_stack

    plan = plan_stack("dev.demo-basic", ROOT, False, {platform_reference_name("insurance-platform", "dev"): {}})
    groups = [r for r in plan["resources"] if r["type"] == "aws:ec2/securityGroup:SecurityGroup"]
    assert groups and {g["inputs"]["vpcId"] for g in groups} == {"[unknown]"}


@pytest.mark.parametrize(
    ("what", "mutate"),
    [
        ("schedule", lambda r: r["inputs"]["spec"]["template"].update(includedNamespaces=["demo-premium"])),
        ("schedule", lambda r: r["inputs"]["spec"]["template"].update(storageLocation="demo-premium")),
        ("location", lambda r: r["inputs"]["spec"]["objectStorage"].update(prefix="demo-premium")),
        ("membership", lambda r: r["inputs"].update(userId="ip-dev-demo-premium")),
    ],
)
def test_a_tenant_stack_writes_only_its_own_things_into_shared_places(
    plans: dict[str, Any], what: str, mutate: Any
) -> None:
    """MT-11 at the tenant stack's own preview: Velero objects and the cache membership it adds."""
    import copy

    plan = plans["dev"]
    alone = {
        **plan,
        "stack": "dev.demo-basic",
        "resources": copy.deepcopy([r for r in plan["resources"] if r["stack"] == "dev.demo-basic"]),
    }
    alone.pop("stacks")

    def findings() -> list[str]:
        return [v["urn"] for v in evaluate(alone, config_for("dev")) if v["ruleId"] == "MT-11"]

    assert findings() == []
    types = {
        "schedule": "kubernetes:velero.io/v1:Schedule",
        "location": "kubernetes:velero.io/v1:BackupStorageLocation",
        "membership": "aws:elasticache/userGroupAssociation:UserGroupAssociation",
    }
    (target,) = [r for r in alone["resources"] if r["type"] == types[what]]
    mutate(target)
    assert findings() == [target["urn"]]
