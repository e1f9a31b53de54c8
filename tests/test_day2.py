"""Day-2 changes stay in place: a tier upgrade, an override, an engine upgrade and retention changes
plan as updates of protected resources, never replacements (planner.rehearsal.replacements, the
force-new table read from terraform-provider-aws), and `make diff` says so."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.diff import diff_plans, render_diff
from planner.rehearsal import replacements
from planner.runner import build_plan
from tests.conftest import resources_of

STACK = "prod-us-east-1"
GUARD = "[PROTECTED: pulumi up refuses the replacement]"  # how `make diff` marks such a change


def edit_tenant(root: Path, tenant: str, **changes: Any) -> None:
    path = root / "tenants" / "prod" / f"{tenant}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def edit_stack(root: Path, key: str, value: Any) -> None:
    path = root / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def db(plan: dict[str, Any], identifier: str) -> dict[str, Any]:
    (instance,) = [
        r for r in resources_of(plan, "aws:rds/instance:Instance") if r["inputs"]["identifier"] == identifier
    ]
    return instance


def assert_in_place(base: dict[str, Any], head: dict[str, Any]) -> None:
    blocking = [f for f in replacements(base, head) if f.severity == "mandatory"]
    assert blocking == [], "\n".join(f.message for f in blocking)
    assert GUARD not in render_diff(diff_plans(base, head), STACK, "base")


def test_tier_upgrade_basic_to_standard_updates_the_database_in_place(
    plans: dict[str, Any], project_copy: Path
) -> None:
    edit_tenant(project_copy, "lakeshore-farm", tier="standard")
    head = build_plan(STACK, project_copy)
    before, after = db(plans[STACK], "ip-prod-lakeshore-farm"), db(head, "ip-prod-lakeshore-farm")
    # Multi-AZ already (every production database is); the class grows, in place.
    assert before["urn"] == after["urn"] and before["inputs"]["instanceClass"] != after["inputs"]["instanceClass"]
    assert before["inputs"]["multiAz"] is True and after["inputs"]["multiAz"] is True
    assert_in_place(plans[STACK], head)


def test_override_and_retention_changes_stay_in_place(plans: dict[str, Any], project_copy: Path) -> None:
    edit_tenant(project_copy, "summit-casualty", overrides={"backupRetentionDays": 30, "logRetentionDays": 731})
    head = build_plan(STACK, project_copy)
    assert db(head, "ip-prod-summit-casualty")["inputs"]["backupRetentionPeriod"] == 30
    assert_in_place(plans[STACK], head)


@pytest.mark.parametrize("version", ["11.8.3", "12.3"])
def test_engine_upgrades_update_databases_and_replace_only_unprotected_groups(
    plans: dict[str, Any], project_copy: Path, version: str
) -> None:
    edit_stack(project_copy, "insurance-platform:database", {"engineVersion": version, "applyImmediately": True})
    head = build_plan(STACK, project_copy)
    assert_in_place(plans[STACK], head)
    groups = resources_of(head, "aws:rds/parameterGroup:ParameterGroup")
    assert all(not g["options"]["protect"] for g in groups)
    if version == "12.3":  # a major upgrade: new parameter family, the instances move onto it
        assert groups[0]["inputs"]["family"] == "mariadb12.3"
        assert db(head, "ip-prod-harbor-mutual")["inputs"]["engineVersion"] == "12.3"


def test_a_change_to_a_force_new_property_of_a_protected_resource_is_caught(plans: dict[str, Any]) -> None:
    """The guard itself: renaming a protected database identifier would replace it."""
    head = {**plans[STACK], "resources": [dict(r) for r in plans[STACK]["resources"]]}
    for r in head["resources"]:
        if r["type"] == "aws:rds/instance:Instance" and r["inputs"]["identifier"] == "ip-prod-harbor-mutual":
            r["inputs"] = {**r["inputs"], "identifier": "ip-prod-harbor-mutual-2"}
    (finding,) = [f for f in replacements(plans[STACK], head) if f.severity == "mandatory"]
    assert "identifier" in finding.message
    assert GUARD in render_diff(diff_plans(plans[STACK], head), STACK, "base")  # make diff says so


def test_a_renamed_resource_with_an_alias_is_the_same_resource(plans: dict[str, Any]) -> None:
    """The VPC CNI add-on moved from ClusterAddons into Cluster; its alias makes the engine update
    it in place, and the diff and the replacement check see it the same way."""
    head = plans[STACK]
    (addon,) = [r for r in resources_of(head, "aws:eks/addon:Addon") if r["inputs"]["addonName"] == "vpc-cni"]
    (former,) = addon["options"]["aliases"]
    assert "platform:index:ClusterAddons$aws:eks/addon:Addon::cluster-addons-vpc-cni" in former
    base = {**head, "resources": [{**r, "urn": former} if r is addon else r for r in head["resources"]]}
    diff = diff_plans(base, head)
    assert not diff.removed and not diff.added
    unaliased = {
        **head,
        "resources": [
            {**r, "options": {**r["options"], "aliases": []}} if r is addon else r for r in head["resources"]
        ],
    }
    assert [c.name for cs in diff_plans(base, unaliased).removed.values() for c in cs] == ["cluster-vpc-cni"]
