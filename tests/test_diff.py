"""The pull-request plan diff: per tenant, what is added, removed, changed or replaced, with
protected deletions and policy changes called out."""

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from catalog import ConfigError
from planner.diff import changed_paths, diff_plans, plan_of_revision, render_diff
from planner.policy import verdict
from planner.runner import ROOT
from tests.conftest import config_for


def test_changed_paths_are_dotted_input_paths() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    head = {"a": {"b": 2, "c": [1, 3]}, "d": "x", "e": True}
    assert list(changed_paths(base, head)) == ["a.b", "a.c[1]", "e"]


def test_diff_groups_changes_per_tenant(plans: dict[str, Any]) -> None:
    base = plans["dev"]
    head = copy.deepcopy(base)
    db = next(r for r in head["resources"] if r["type"] == "aws:rds/instance:Instance" and r["tenant"] == "demo-basic")
    db["inputs"]["backupRetentionPeriod"] = 10
    bucket = next(r for r in head["resources"] if r["type"] == "aws:s3/bucket:Bucket" and r["tenant"] == "demo-premium")
    bucket["inputs"]["bucket"] = "renamed-bucket"
    head["resources"] = [
        r for r in head["resources"] if not (r["tenant"] == "demo-standard" and r["type"] == "aws:kms/key:Key")
    ]
    extra = copy.deepcopy(next(r for r in head["resources"] if r["type"] == "aws:sqs/queue:Queue"))
    extra["urn"] += "-new"
    extra["name"] += "-new"
    head["resources"].append(extra)
    db["inputs"]["publiclyAccessible"] = True
    head["policy"] = verdict(head, config_for("dev"))

    d = diff_plans(base, head)
    (change,) = d.changed["demo-basic"]
    assert change.paths == ["backupRetentionPeriod", "publiclyAccessible"] and change.replace == []
    (replaced,) = d.changed["demo-premium"]
    assert replaced.replace == ["bucket"] and replaced.protected
    assert {c.type for c in d.removed["demo-standard"]} == {"aws:kms/key:Key"}
    assert all(c.protected for c in d.removed["demo-standard"])
    assert [c.name for c in d.added[extra["tenant"]]] == [extra["name"]]
    assert [v["ruleId"] for v in d.new_violations] == ["NET-RDS-1"]

    text = render_diff(d, "dev", "main")
    assert (
        "[demo-basic]" in text
        and "~ aws:rds/instance:Instance  tenant-demo-basic-db: backupRetentionPeriod, publiclyAccessible" in text
    )
    assert "REPLACE via bucket [PROTECTED: pulumi up refuses the replacement]" in text
    assert "- aws:kms/key:Key  tenant-demo-standard-key  [PROTECTED: pulumi up refuses the deletion]" in text
    assert "NEW   mandatory NET-RDS-1" in text


def test_identical_plans_have_no_changes(plans: dict[str, Any]) -> None:
    d = diff_plans(plans["dev"], copy.deepcopy(plans["dev"]))
    assert d.empty and render_diff(d, "dev", "HEAD").endswith("No changes.")


def test_make_diff_plans_the_base_revision_with_its_own_code() -> None:
    clean = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "planner", "diff", "--base", "HEAD", "--stack", "dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Plan diff of dev: HEAD -> working tree")
    if not clean.stdout.strip():
        assert result.stdout.rstrip().endswith("No changes.")
    assert str(ROOT / "build" / "diff") not in worktrees(ROOT)  # `make diff` removes the worktree it planned in


def worktrees(repo: Path) -> str:
    return subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True).stdout


FAKE_PLANNER = """import json, pathlib, sys
args = sys.argv[1:]
if {fail}:
    sys.exit("the base revision cannot plan")
out = pathlib.Path(args[args.index("--out") + 1]) / args[args.index("--stack") + 1]
out.mkdir(parents=True)
(out / "plan.json").write_text(json.dumps({{"resources": [], "revision": "base"}}))
"""


def git_repo(folder: Path, fail: bool) -> Path:
    """A repository whose one commit holds a stand-in planner (a real plan takes seconds)."""
    (folder / "planner").mkdir(parents=True)
    (folder / "planner" / "__main__.py").write_text(FAKE_PLANNER.format(fail=fail))
    for command in (
        ["init", "-q"],
        ["add", "planner"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base"],
    ):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    return folder


@pytest.mark.parametrize("fail", [False, True], ids=["planned", "planning-failed"])
def test_make_diff_removes_its_worktree(tmp_path: Path, fail: bool) -> None:
    repo, workdir = git_repo(tmp_path / "repo", fail), tmp_path / "repo" / "build" / "diff"
    if fail:
        with pytest.raises(RuntimeError, match="the base revision cannot plan"):
            plan_of_revision("HEAD", "dev", workdir, repo)
    else:
        assert plan_of_revision("HEAD", "dev", workdir, repo) == {"resources": [], "revision": "base"}
    assert worktrees(repo).count("\n") == 1  # the repository's own tree only
    assert list(workdir.iterdir()) == []


def test_make_diff_replaces_a_worktree_left_by_an_interrupted_run(tmp_path: Path) -> None:
    repo, workdir = git_repo(tmp_path / "repo", False), tmp_path / "repo" / "build" / "diff"
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(workdir / sha[:12]), sha], cwd=repo, check=True, capture_output=True
    )
    plan_of_revision("HEAD", "dev", workdir, repo)
    assert worktrees(repo).count("\n") == 1 and list(workdir.iterdir()) == []


def test_make_diff_of_a_ref_that_does_not_exist(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", False)
    with pytest.raises(ConfigError) as caught:
        plan_of_revision("no-such-ref", "dev", tmp_path / "diff", repo)
    assert str(caught.value) == "make diff: BASE: 'no-such-ref' is not a commit of this repository (git rev-parse)"
    assert worktrees(repo).count("\n") == 1
