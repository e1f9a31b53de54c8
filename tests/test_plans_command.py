"""`make plans` (planner/plans.py): every stack is planned before it fails, and a blocked stack
shows all its mandatory findings, not the first lines of them."""

from pathlib import Path

import pytest

from planner import plans


def test_blocked_stack_shows_every_mandatory_finding() -> None:
    def finding(level: str, i: int) -> dict[str, str]:
        return {"enforcementLevel": level, "ruleId": f"R-{i}", "urn": f"urn:x::r{i}", "tenant": "t", "message": f"m{i}"}

    violations = [finding("mandatory", i) for i in range(6)] + [finding("advisory", 9), finding("remediate", 7)]
    lines = plans.blocking_lines({"policy": {"pack": "tenant-guard", "violations": violations}})
    assert lines[0] == "Policy pack tenant-guard: 7 mandatory violation(s), 1 advisory finding(s)"
    assert [line.split()[1] for line in lines[1:]] == [*(f"R-{i}" for i in range(6)), "R-7"]


def test_plans_every_stack_before_failing(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = project_copy / "tenants" / "dev"
    basic = (catalog / "demo-basic.yaml").read_text()
    # Onboarded without the compliance registry entry (RES-1): dev is blocked.
    (catalog / "demo-extra.yaml").write_text(basic.replace("demo-basic", "demo-extra"))
    out = project_copy / "out"
    # The blocked stack first, then one that cannot be planned: the stack after them is still planned.
    status = plans.main(["dev", "nosuch", "prod-ca-west-1", "--root", str(project_copy), "--out", str(out)])
    text = capsys.readouterr().out
    dev, rest = text.split("== nosuch\n")
    nosuch, west = rest.split("== prod-ca-west-1\n")
    assert dev.splitlines()[1:4] == [
        "Policy pack tenant-guard: 1 mandatory violation(s), 0 advisory finding(s)",
        "  MANDATORY RES-1      tenant-demo-extra-ns tenant=demo-extra: tenant 'demo-extra' is not in the "
        'compliance residency registry: add "demo-extra": ["us-east-1"] under tenant-data-residency.residency '
        "in policies/config/dev.json in the same pull request (`make onboard` writes both)",
        "Verdict: BLOCKED (mandatory violations)",
    ]
    assert nosuch.startswith("ERROR (not planned):\n  error: Pulumi.nosuch.yaml: (file): no such stack")
    assert west.startswith("Verdict: PASS (") and (out / "prod-ca-west-1" / "plan.json").is_file()
    assert text.rstrip().endswith("Stacks: 1 pass, 1 blocked: dev, 1 not planned: nosuch")
    assert status == 2
