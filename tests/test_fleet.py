"""Fleet deploys: affected stacks of a change on a scratch git repository built from the real stack
files and catalog, wave order, the runner's concurrency and failure isolation with fake commands,
derived tenant stack files, and one stack's `up` against a fake `pulumi`."""

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.fleet import (
    Outcome,
    affected,
    everything,
    main,
    markdown_report,
    materialize,
    merge_outcomes,
    platform_stacks,
    run_waves,
    write_reports,
)
from planner.runner import ROOT

PLATFORMS = ["dev", "prod-ca-central-1", "prod-ca-west-1", "prod-us-east-1", "prod-us-west-2"]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding copies of the real Pulumi.yaml, platform stack files and catalog,
    plus a component, a doc and a test, committed as the base on `main`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", repo / "Pulumi.yaml")
    for platform in PLATFORMS:
        shutil.copy(ROOT / f"Pulumi.{platform}.yaml", repo / f"Pulumi.{platform}.yaml")
    shutil.copytree(ROOT / "tenants", repo / "tenants")
    for path in ("components/tenant/database.py", "components/platform/cluster.py", "docs/x.md", "tests/test_x.py"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("# base\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "test")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "change")
    return repo


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))


def waves_of(repo: Path, environment: str | None = None) -> dict[int, list[str]]:
    result = affected(repo, "main", "HEAD", environment)
    return {w["wave"]: [e["stack"] for e in w["include"]] for w in result.waves()}


def test_platform_stacks_ignore_derived_tenant_files(repo: Path) -> None:
    (repo / "Pulumi.prod-us-east-1.harbor-mutual.yaml").write_text("config: {}\n")
    assert platform_stacks(repo) == PLATFORMS


def test_tenant_file_touches_its_stacks_and_their_platforms_in_wave_order(repo: Path) -> None:
    edit(repo, "tenants/prod/harbor-mutual.yaml", "Harbor Mutual Insurance Company", "Harbor Mutual Insurance Co.")
    commit(repo)
    assert waves_of(repo) == {
        0: ["prod-us-east-1", "prod-us-west-2"],  # the platform reads the catalog (node pools, views)
        1: ["prod-us-east-1.harbor-mutual"],  # home: primary data
        2: ["prod-us-west-2.harbor-mutual"],  # served away from home and DR copies: reads the home stack
    }


def test_tenant_of_another_region_also_touches_the_global_edge_owner(repo: Path) -> None:
    edit(repo, "tenants/prod/maple-mutual.yaml", "displayName:", "displayName: New")
    commit(repo)
    assert waves_of(repo) == {
        0: ["prod-ca-central-1", "prod-ca-west-1", "prod-us-east-1"],  # us-east-1: CloudFront of every prod tenant
        1: ["prod-ca-central-1.maple-mutual"],
        2: ["prod-ca-west-1.maple-mutual", "prod-us-east-1.maple-mutual"],  # its front-end on the owner
    }


def test_removed_tenant_keeps_its_stacks_marked_removed(repo: Path) -> None:
    (repo / "tenants/prod/pinnacle-life.yaml").unlink()
    commit(repo)
    result = affected(repo, "main")
    assert [(e.stack, e.wave, e.removed) for e in result.entries] == [
        ("prod-us-east-1", 0, False),
        ("prod-us-west-2", 0, False),
        ("prod-us-west-2.pinnacle-life", 1, True),  # its home stack: protections must fail the run, not vanish
        ("prod-us-east-1.pinnacle-life", 2, True),
    ]


def test_new_tenant_gets_its_stacks_from_the_head_revision(repo: Path) -> None:
    text = (repo / "tenants/prod/keystone-title.yaml").read_text()
    (repo / "tenants/prod/oak-title.yaml").write_text(
        text.replace("keystone-title", "oak-title").replace("keystone", "oak")
    )
    commit(repo)
    assert waves_of(repo) == {0: ["prod-us-east-1"], 1: ["prod-us-east-1.oak-title"]}


def test_platform_file_touches_the_platform_then_all_its_tenant_stacks(repo: Path) -> None:
    edit(repo, "Pulumi.prod-us-west-2.yaml", "maxSize: 30", "maxSize: 40")
    commit(repo)
    assert waves_of(repo) == {
        0: ["prod-us-west-2"],
        1: ["prod-us-west-2.pinnacle-life", "prod-us-west-2.redwood-auto"],
        2: [
            "prod-us-west-2.granite-re",
            "prod-us-west-2.harbor-mutual",
            "prod-us-west-2.lakeshore-farm",
            "prod-us-west-2.summit-casualty",
        ],
    }


def test_tenant_component_touches_every_tenant_stack_only(repo: Path) -> None:
    edit(repo, "components/tenant/database.py", "base", "head")
    commit(repo)
    result = affected(repo, "main")
    every = everything(repo)
    assert {e.stack for e in result.entries} == {e.stack for e in every.entries if e.kind == "tenant"}
    assert result.offline_plan == tuple(PLATFORMS)  # regional plans of every affected platform


def test_platform_component_touches_every_platform_stack_only(repo: Path) -> None:
    edit(repo, "components/platform/cluster.py", "base", "head")
    commit(repo)
    assert waves_of(repo) == {0: PLATFORMS}


@pytest.mark.parametrize("path", ["catalog/model.py", "__main__.py", "policies/pack.py", "programs/tenant.py"])
def test_shared_code_touches_every_stack(repo: Path, path: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text("# head\n")
    commit(repo)
    assert {e.stack for e in affected(repo, "main").entries} == {e.stack for e in everything(repo).entries}


def test_docs_and_tests_touch_nothing_and_tooling_only_the_offline_plans(repo: Path) -> None:
    edit(repo, "docs/x.md", "base", "head")
    edit(repo, "tests/test_x.py", "base", "head")
    (repo / "README.md").write_text("# head\n")
    commit(repo)
    result = affected(repo, "main")
    assert result.entries == () and result.offline_plan == () and result.waves() == []
    (repo / "planner").mkdir()
    (repo / "planner/runner.py").write_text("# head\n")
    commit(repo, "tooling")
    result = affected(repo, "main")
    assert result.entries == () and result.offline_plan == tuple(PLATFORMS)


def test_environment_filter(repo: Path) -> None:
    edit(repo, "components/platform/cluster.py", "base", "head")
    commit(repo)
    assert waves_of(repo, "dev") == {0: ["dev"]}


def test_revision_trees_are_cleaned_up(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    (repo / "tenants/prod/pinnacle-life.yaml").unlink()
    commit(repo)
    affected(repo, "main")
    assert list(scratch.iterdir()) == []


def test_cli_affected_json_is_a_matrix_per_wave(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "tenants/prod/harbor-mutual.yaml", "tier: premium", "tier: standard")
    commit(repo)
    assert main(["--root", str(repo), "affected", "--base", "main", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    first = document["waves"][0]["include"][0]
    assert first == {
        "stack": "prod-us-east-1",
        "kind": "platform",
        "platform": "prod-us-east-1",
        "tenant": None,
        "region": "us-east-1",
        "environment": "prod",
        "removed": False,
    }
    assert [w["wave"] for w in document["waves"]] == [0, 1, 2]
    assert document["platforms"] == ["prod-us-east-1", "prod-us-west-2"]
    # A one-tenant change plans that tenant's stacks (each with its platform), not whole regions.
    assert document["offlinePlan"] == ["prod-us-east-1.harbor-mutual", "prod-us-west-2.harbor-mutual"]


def test_offline_plan_covers_whole_regions_for_platform_changes(repo: Path) -> None:
    edit(repo, "Pulumi.prod-us-west-2.yaml", "promote: []", "promote: []  # reviewed")
    edit(repo, "tenants/prod/harbor-mutual.yaml", "tier: premium", "tier: standard")
    commit(repo)
    assert affected(repo, "main").offline_plan == ("prod-us-east-1.harbor-mutual", "prod-us-west-2")


def test_cli_unknown_ref_is_one_line(repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "planner.fleet", "--root", str(repo), "affected", "--base", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stderr.startswith("error: git diff")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_catalog_mistake_at_head_is_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "tenants/prod/harbor-mutual.yaml", "tier: premium", "tier: platinum")
    commit(repo)
    assert main(["--root", str(repo), "affected", "--base", "main"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: tenants/prod/harbor-mutual.yaml: tier: unknown tier 'platinum' (one of: basic, standard, premium)"
    )


# ---- materialize -------------------------------------------------------------------------------


def test_materialize_writes_the_derived_tenant_stack_file(repo: Path) -> None:
    platform_file = repo / "Pulumi.prod-us-east-1.yaml"
    platform_file.write_text(platform_file.read_text() + "  insurance-platform:webhookToken:\n    secure: v1:AAAA\n")
    target = materialize(repo, "prod-us-east-1.harbor-mutual", "awskms://alias/pulumi?region=us-east-1")
    assert target.name == "Pulumi.prod-us-east-1.harbor-mutual.yaml"
    document = yaml.safe_load(target.read_text())
    platform = yaml.safe_load((repo / "Pulumi.prod-us-east-1.yaml").read_text())["config"]
    assert document["secretsprovider"] == "awskms://alias/pulumi?region=us-east-1"
    assert document["config"]["insurance-platform:tenant"] == "harbor-mutual"
    assert document["config"]["aws:region"] == "us-east-1"
    secure = {k for k, v in platform.items() if isinstance(v, dict) and set(v) == {"secure"}}
    assert secure == {"insurance-platform:webhookToken"} and not secure & set(document["config"])
    assert set(document["config"]) == (set(platform) - secure) | {"insurance-platform:tenant"}
    assert "secretsprovider" not in yaml.safe_load(materialize(repo, "prod-us-east-1.harbor-mutual").read_text())


def test_materialized_files_are_gitignored() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "-q", "Pulumi.prod-us-east-1.harbor-mutual.yaml"], cwd=ROOT, check=False
    )
    assert result.returncode == 0
    assert subprocess.run(["git", "check-ignore", "-q", "Pulumi.dev.yaml"], cwd=ROOT, check=False).returncode == 1


def test_materialize_refuses_a_platform_stack(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(repo), "materialize", "--stack", "prod-us-east-1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: Pulumi.prod-us-east-1.yaml: 'prod-us-east-1' is a platform stack; its file is committed, not derived"
    )


# ---- run ---------------------------------------------------------------------------------------

FAKE = """
import os, sys, time
stack, log = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write(f"start {stack} {time.monotonic()}\\n")
time.sleep(float(os.environ.get("FAKE_SLEEP", "0.2")))
with open(log, "a") as f:
    f.write(f"end {stack} {time.monotonic()}\\n")
print(f"line 1 of {stack}")
print(f"last line of {stack}")
sys.exit(1 if stack in os.environ.get("FAKE_FAIL", "").split(",") else 0)
"""


def entry(stack: str) -> dict[str, Any]:
    platform, _, tenant = stack.partition(".")
    return {"stack": stack, "kind": "tenant" if tenant else "platform", "platform": platform, "tenant": tenant or None}


WAVES = [
    {"wave": 0, "include": [entry("east"), entry("west")]},
    {"wave": 1, "include": [entry("east.acme"), entry("east.bolt"), entry("west.cedar"), entry("east.dune")]},
    {"wave": 2, "include": [entry("west.acme"), entry("west.bolt"), entry("east.cedar")]},
]


def fake_command(tmp_path: Path) -> tuple[list[str], Path]:
    log = tmp_path / "calls.log"
    return [sys.executable, "-c", FAKE, "{stack}", str(log)], log


def intervals(log: Path) -> dict[str, tuple[float, float]]:
    spans: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        _, stack, at = line.split()
        spans.setdefault(stack, []).append(float(at))
    return {s: (t[0], t[1]) for s, t in spans.items()}


def test_run_waves_in_order_with_bounded_concurrency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    command, log = fake_command(tmp_path)
    outcomes = run_waves(WAVES, command, jobs=2)
    assert {o.stack: o.result for o in outcomes} == {e["stack"]: "ok" for w in WAVES for e in w["include"]}
    spans = intervals(log)
    for earlier, later in itertools.pairwise(WAVES):
        last_end = max(spans[e["stack"]][1] for e in earlier["include"])
        first_start = min(spans[e["stack"]][0] for e in later["include"])
        assert last_end <= first_start  # a wave starts when the one before has finished
    events = sorted([(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()])
    running, peak = 0, 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak == 2  # parallel, never more than --jobs
    assert outcomes[0].tail[-1].startswith("last line of")


def test_failed_tenant_stack_does_not_stop_the_others_but_skips_its_dr_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "east.acme")
    monkeypatch.setenv("FAKE_SLEEP", "0")
    command, _ = fake_command(tmp_path)
    results = {o.stack: (o.result, o.reason) for o in run_waves(WAVES, command, jobs=3)}
    assert results["east.acme"] == ("failed", "exit 1")
    assert results["west.acme"] == ("skipped", "home stack east.acme failed")
    assert {s for s, (r, _) in results.items() if r == "ok"} == {
        "east",
        "west",
        "east.bolt",
        "west.cedar",
        "east.dune",
        "west.bolt",
        "east.cedar",
    }


def test_failed_platform_stack_skips_the_tenant_stacks_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "west")
    monkeypatch.setenv("FAKE_SLEEP", "0")
    command, log = fake_command(tmp_path)
    results = {o.stack: (o.result, o.reason) for o in run_waves(WAVES, command, jobs=3)}
    assert results["west.cedar"] == ("skipped", "platform stack west failed")
    assert results["west.bolt"] == ("skipped", "platform stack west failed")
    assert results["east.cedar"] == ("skipped", "home stack west.cedar skipped")  # its home never ran
    assert results["east.bolt"] == ("ok", "") and results["east.acme"] == ("ok", "")
    assert "west.cedar" not in intervals(log)  # never started


def test_skips_carry_across_jobs_through_earlier_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0")
    command, log = fake_command(tmp_path)
    earlier = [Outcome("west", "platform", "west", None, 0, "failed", 1.0, "exit 1")]
    outcomes = run_waves(WAVES[1:2], command, jobs=2, previous=earlier)
    assert {o.stack: o.result for o in outcomes}["west.cedar"] == "skipped"
    assert "west.cedar" not in intervals(log)


def test_cli_run_reports_per_tenant_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_FAIL", "east.bolt")
    monkeypatch.setenv("FAKE_SLEEP", "0")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    wave_file = tmp_path / "waves.json"
    wave_file.write_text(json.dumps({"waves": WAVES}))
    command, _ = fake_command(tmp_path)
    report = tmp_path / "report.json"
    args = [
        "run",
        "--wave-file",
        str(wave_file),
        "--jobs",
        "2",
        "--report",
        str(report),
        "--logs",
        str(tmp_path / "logs"),
    ]
    assert main([*args, "--", *command]) == 1
    table = summary.read_text()
    assert "| bolt | `east.bolt` | 1 | failed |" in table and "last line of east.bolt" in table
    assert "| bolt | `west.bolt` | 2 | skipped |" in table and "home stack east.bolt failed" in table
    assert "| acme | `east.acme` | 1 | ok |" in table
    saved = {o["stack"]: o for o in json.loads(report.read_text())["outcomes"]}
    assert saved["east.bolt"]["result"] == "failed" and saved["east.bolt"]["tenant"] == "bolt"
    assert (tmp_path / "logs" / "east.bolt.log").read_text().startswith("line 1 of east.bolt")
    # One platform's part of one wave, as a CI job runs it, continuing after the report above.
    monkeypatch.setenv("FAKE_FAIL", "")
    again = ["run", "--wave-file", str(wave_file), "--wave", "2", "--platform", "west", "--after", str(report)]
    assert main([*again, "--report", str(tmp_path / "w2.json"), "--", *command]) == 0
    assert {o["stack"]: o["result"] for o in json.loads((tmp_path / "w2.json").read_text())["outcomes"]} == {
        "west.acme": "ok",
        "west.bolt": "skipped",
    }


def test_cli_run_needs_a_command_with_the_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wave_file = tmp_path / "waves.json"
    wave_file.write_text(json.dumps({"waves": WAVES}))
    assert main(["run", "--wave-file", str(wave_file), "--", "true"]) == 2
    assert "{stack}" in capsys.readouterr().err


def test_markdown_report_escapes_table_cells() -> None:
    text = markdown_report([Outcome("a.b", "tenant", "a", "b", 1, "failed", 2.0, "exit 1", ["x | y"])])
    assert "x \\| y" in text and "1 failed" in text


# ---- one stack: materialize, select, gates, up -------------------------------------------------

FAKE_PULUMI = """#!{python}
import json, os, sys
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["stack", "select"] and "--create" not in args and os.environ.get("FAKE_NO_STACK"):
    print(f"error: no stack named '{{args[2]}}' found", file=sys.stderr)
    sys.exit(255)
if args[:2] == ["stack", "output"]:
    print(f"error: no stack named '{{args[args.index('--stack') + 1]}}' found", file=sys.stderr)
    sys.exit(255)
"""


@pytest.fixture
def fake_pulumi(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "pulumi.jsonl"
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    return log


def pulumi_calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_up_of_a_tenant_stack_materializes_selects_gates_then_updates_with_the_pack(
    repo: Path, fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_SECRETS_PROVIDER", "awskms://alias/state?region=us-east-1")
    stack = "prod-us-west-2.harbor-mutual"
    assert main(["--root", str(repo), "up", "--stack", stack]) == 0
    calls = pulumi_calls(fake_pulumi)
    assert calls[0] == [
        "stack",
        "select",
        stack,
        "--create",
        "--secrets-provider",
        "awskms://alias/state?region=us-east-1",
    ]
    assert calls[1] == ["stack", "output", "--stack", "prod-us-east-1.harbor-mutual", "--json"]  # peer tenant stack
    assert all(c[0] == "config" and c[c.index("--stack") + 1] == stack for c in calls[2:-1])
    assert calls[-1] == [
        "up",
        "--stack",
        stack,
        "--yes",
        "--policy-pack",
        "policies",
        "--policy-pack-config",
        "policies/config/prod.json",
    ]
    assert (repo / f"Pulumi.{stack}.yaml").is_file()


def test_preview_of_a_stack_not_created_yet_is_skipped_without_creating_it(
    repo: Path, fake_pulumi: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_NO_STACK", "1")
    assert main(["--root", str(repo), "preview", "--stack", "dev.demo-basic"]) == 0
    assert pulumi_calls(fake_pulumi) == [["stack", "select", "dev.demo-basic"]]
    assert "not created yet" in capsys.readouterr().out


def test_a_stack_failed_in_an_earlier_pass_is_not_retried_and_stays_failed_in_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SLEEP", "0")
    command, log = fake_command(tmp_path)
    pass_1 = [
        Outcome("east", "platform", "east", None, 0, "ok"),
        Outcome("east.acme", "tenant", "east", "acme", 1, "failed", 1.0, "exit 1"),
    ]
    pass_2 = run_waves(WAVES[1:], command, jobs=2, previous=pass_1)
    results = {o.stack: (o.result, o.reason) for o in pass_2}
    assert results["east.acme"] == ("skipped", "failed in an earlier pass")
    assert results["west.acme"] == ("skipped", "home stack east.acme skipped")
    assert results["east.bolt"] == ("ok", "")
    assert "east.acme" not in intervals(log)
    merged = {o.stack: o.result for o in merge_outcomes([*pass_1, *pass_2])}
    assert merged["east.acme"] == "failed" and merged["east.bolt"] == "ok"


def test_cli_report_merges_the_wave_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "p1" / "report.json", tmp_path / "p2" / "report.json"
    write_reports([Outcome("east.acme", "tenant", "east", "acme", 1, "failed", 1.0, "exit 1")], first)
    write_reports(
        [Outcome("east.acme", "tenant", "east", "acme", 1, "skipped", reason="failed in an earlier pass")], second
    )
    capsys.readouterr()
    assert main(["report", str(second), str(first)]) == 1
    assert "| acme | `east.acme` | 1 | failed |" in capsys.readouterr().out


def test_make_lists_platform_stacks_only(repo: Path) -> None:
    shutil.copy(ROOT / "Makefile", repo / "Makefile")
    (repo / "Pulumi.dev.demo-basic.yaml").write_text("config: {}\n")  # a derived tenant stack file
    result = subprocess.run(["make", "-s", "help"], cwd=repo, capture_output=True, text=True, check=True)
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("make plans")]
    assert f"({' '.join(PLATFORMS)})" in line
    for stack, environment in (("dev.demo-basic", "dev"), ("prod-us-east-1.harbor-mutual", "prod"), ("dev", "dev")):
        flags = subprocess.run(
            ["make", "-s", "--eval", "flags: ; @echo $(POLICY_FLAGS)", "flags", f"STACK={stack}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        )
        assert flags.stdout.strip().endswith(f"policies/config/{environment}.json"), stack  # the platform's pack config


def test_an_offboarded_tenant_stack_is_destroyed_except_what_is_protected(repo: Path, fake_pulumi: Path) -> None:
    (repo / "tenants/prod/pinnacle-life.yaml").unlink()
    stack = "prod-us-west-2.pinnacle-life"
    assert main(["--root", str(repo), "up", "--stack", stack]) == 0
    calls = pulumi_calls(fake_pulumi)
    assert calls == [["stack", "select", stack], ["destroy", "--stack", stack, "--yes", "--exclude-protected"]]
    assert not any(c[0] in ("up", "stack") and "rm" in c for c in calls), "the stack itself stays"
    fake_pulumi.unlink()
    assert main(["--root", str(repo), "preview", "--stack", stack]) == 0
    assert pulumi_calls(fake_pulumi)[-1] == ["destroy", "--stack", stack, "--preview-only", "--exclude-protected"]


def test_final_retirement_removes_the_stack_only_after_a_full_destroy(repo: Path, fake_pulumi: Path) -> None:
    (repo / "tenants/prod/pinnacle-life.yaml").unlink()
    stack = "prod-us-west-2.pinnacle-life"
    assert main(["--root", str(repo), "retire", "--stack", stack, "--final"]) == 0
    assert pulumi_calls(fake_pulumi)[1:] == [["destroy", "--stack", stack, "--yes"], ["stack", "rm", stack, "--yes"]]
    assert main(["--root", str(repo), "retire", "--stack", "prod-us-west-2.harbor-mutual"]) == 2  # still a tenant
