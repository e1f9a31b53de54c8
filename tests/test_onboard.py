"""Onboarding is one pull request: `make onboard` writes the tenant file and its residency registry
entry together; the plan of the new tenant's stack then passes the pack, and without the entry
the console line names the file and key to add. Mistakes write nothing."""

import json
import shutil
from pathlib import Path

import pytest

from catalog import ConfigError
from catalog.loader import parse_tenant
from planner.__main__ import main
from planner.onboard import Onboarding, onboard
from planner.policy import evaluate
from planner.runner import build_plan

ACME = Onboarding(
    environment="prod",
    tenant_id="acme-mutual",
    display_name="Acme Mutual Insurance",
    tier="standard",
    home_region="us-east-1",
    regions=("us-east-1", "us-west-2"),
    residency=("us-east-1", "us-west-2"),
    domain="portal.acmemutual.example.com",
    contacts=("Acme IT Operations <it-ops@acmemutual.example.com>",),
)


@pytest.fixture
def project(project_copy: Path) -> Path:
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "policies" / "config", project_copy / "policies" / "config"
    )
    return project_copy


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in [*root.glob("tenants/**/*.yaml"), *root.glob("policies/config/*.json")]
    }


def test_onboard_writes_the_tenant_file_and_its_registry_entry_and_the_plan_passes(project: Path) -> None:
    before = json.loads((project / "policies/config/prod.json").read_text())
    tenant, registry = onboard(ACME, project)
    assert tenant == project / "tenants/prod/acme-mutual.yaml"
    parsed = parse_tenant("tenants/prod/acme-mutual.yaml", tenant.read_text(), "acme-mutual")
    assert (parsed.id, parsed.tier.name, parsed.home_region) == ("acme-mutual", "standard", "us-east-1")
    after = json.loads(registry.read_text())
    residency = after["tenant-data-residency"]["residency"]
    assert residency.pop("acme-mutual") == ["us-east-1", "us-west-2"]
    assert after == before  # nothing else in the compliance configuration moved
    plan = build_plan("prod-us-east-1.acme-mutual", project)
    assert any(r.get("tenant") == "acme-mutual" for r in plan["resources"])
    found = evaluate(plan, json.loads(registry.read_text()))
    assert [v for v in found if v["enforcementLevel"] == "mandatory"] == []


def test_without_the_registry_entry_the_finding_names_file_and_key(project: Path) -> None:
    onboard(ACME, project)
    config = json.loads((project / "policies/config/prod.json").read_text())
    del config["tenant-data-residency"]["residency"]["acme-mutual"]
    plan = build_plan("prod-us-east-1.acme-mutual", project)
    (finding,) = [v for v in evaluate(plan, config) if v["ruleId"] == "RES-1"]
    assert finding["message"] == (
        "tenant 'acme-mutual' is not in the compliance residency registry: add "
        '"acme-mutual": ["us-east-1", "us-west-2"] under tenant-data-residency.residency in '
        "policies/config/prod.json in the same pull request (`make onboard` writes both)"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tier": "gold"}, "tenants/prod/acme-mutual.yaml: tier: unknown tier 'gold'"),
        ({"tenant_id": "harbor-mutual"}, "tenants/prod/harbor-mutual.yaml: id: tenant 'harbor-mutual' already has"),
        (
            {"regions": ("us-east-1", "eu-west-1"), "residency": ("us-east-1", "eu-west-1")},
            "regions: no prod stack runs in eu-west-1",
        ),
        ({"domain": "treaty.granitere.example.com"}, "domain: domain 'treaty.granitere.example.com' is already used"),
        ({"contacts": ("it-ops@acme.example.com",)}, "make onboard: CONTACT[0]: 'it-ops@acme.example.com' is not"),
    ],
)
def test_a_mistake_is_one_line_and_writes_nothing(project: Path, change: dict[str, object], expected: str) -> None:
    before = _snapshot(project)
    with pytest.raises(ConfigError) as caught:
        onboard(Onboarding(**{**ACME.__dict__, **change}), project)  # pyright: ignore[reportArgumentType]
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert _snapshot(project) == before


def test_the_command_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["onboard", "--environment", "prod", "--id", "harbor-mutual", "--name", "H", "--tier", "standard",
         "--home", "us-east-1", "--regions", "us-east-1", "--residency", "us-east-1",
         "--domain", "h.example.com", "--contact", "H <h@example.com>"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "tenants/prod/harbor-mutual.yaml: id:" in err
