"""Plan diff for pull requests: two offline plans (base revision vs working tree) compared per
tenant — resources added, removed, changed (with the changed input paths) or likely replaced —
plus what changes in the policy verdict. Secrets are already masked in plans."""

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.errors import ConfigError
from planner.rehearsal import forces_replacement, renames
from planner.runner import ROOT


@dataclass
class Change:
    type: str
    name: str
    urn: str
    protected: bool
    paths: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)


@dataclass
class PlanDiff:
    added: dict[str, list[Change]] = field(default_factory=lambda: defaultdict(list))
    removed: dict[str, list[Change]] = field(default_factory=lambda: defaultdict(list))
    changed: dict[str, list[Change]] = field(default_factory=lambda: defaultdict(list))
    new_violations: list[Mapping[str, Any]] = field(default_factory=list)
    fixed_violations: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.new_violations or self.fixed_violations)


def changed_paths(base: Any, head: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(base, dict) and isinstance(head, dict):
        for key in sorted(set(base) | set(head)):
            yield from changed_paths(base.get(key), head.get(key), f"{prefix}.{key}" if prefix else key)
    elif isinstance(base, list) and isinstance(head, list) and len(base) == len(head):
        for i, (b, h) in enumerate(zip(base, head, strict=True)):
            yield from changed_paths(b, h, f"{prefix}[{i}]")
    elif base != head:
        yield prefix or "(value)"


def _owner(resource: Mapping[str, Any]) -> str:
    return resource.get("tenant") or "(platform)"


def _violation_key(v: Mapping[str, Any]) -> tuple[str, str, str]:
    return (v["policy"], v.get("urn") or "", v["message"])


def diff_plans(base: Mapping[str, Any], head: Mapping[str, Any]) -> PlanDiff:
    result = PlanDiff()
    moved = renames(head)  # aliased resources are the same resource under a new URN
    old: dict[str, Mapping[str, Any]] = {moved.get(str(r["urn"]), str(r["urn"])): r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    for urn in sorted(new.keys() - old.keys()):
        r = new[urn]
        result.added[_owner(r)].append(Change(r["type"], r["name"], urn, r["options"]["protect"]))
    for urn in sorted(old.keys() - new.keys()):
        r = old[urn]
        result.removed[_owner(r)].append(Change(r["type"], r["name"], urn, r["options"]["protect"]))
    for urn in sorted(old.keys() & new.keys()):
        b, h = old[urn], new[urn]
        paths = list(changed_paths(b["inputs"], h["inputs"]))
        # Plans written before aliases were recorded have none: the same as an empty list.
        paths += [
            f"options.{p}" for p in changed_paths({"aliases": [], **b["options"]}, {"aliases": [], **h["options"]})
        ]
        if paths:
            replace = [p for p in paths if forces_replacement(h["type"], p)]  # the rehearsal's table
            result.changed[_owner(h)].append(Change(h["type"], h["name"], urn, h["options"]["protect"], paths, replace))
    base_v = {_violation_key(v): v for v in base.get("policy", {}).get("violations", [])}
    head_v = {_violation_key(v): v for v in head.get("policy", {}).get("violations", [])}
    result.new_violations = [head_v[k] for k in sorted(head_v.keys() - base_v.keys())]
    result.fixed_violations = [base_v[k] for k in sorted(base_v.keys() - head_v.keys())]
    return result


def render_diff(d: PlanDiff, stack: str, base_label: str) -> str:
    count = lambda group: sum(len(v) for v in group.values())  # noqa: E731
    replacements = sum(1 for changes in d.changed.values() for c in changes if c.replace)
    lines = [
        f"Plan diff of {stack}: {base_label} -> working tree",
        f"  {count(d.added)} to add, {count(d.changed)} to change ({replacements} likely replaced), {count(d.removed)} to remove",
    ]
    if d.empty:
        return "\n".join([*lines, "", "No changes."])
    owners = sorted(set(d.added) | set(d.removed) | set(d.changed), key=lambda o: (o == "(platform)", o))
    for owner in owners:
        lines += ["", f"[{owner}]"]
        lines += [f"  + {c.type}  {c.name}" for c in d.added.get(owner, [])]
        for c in d.changed.get(owner, []):
            mark = "±" if c.replace else "~"
            shown = ", ".join(c.paths[:8]) + (f" (+{len(c.paths) - 8} more)" if len(c.paths) > 8 else "")
            note = f"  REPLACE via {', '.join(c.replace)}" if c.replace else ""
            guard = " [PROTECTED: pulumi up refuses the replacement]" if c.replace and c.protected else ""
            lines.append(f"  {mark} {c.type}  {c.name}: {shown}{note}{guard}")
        for c in d.removed.get(owner, []):
            guard = "  [PROTECTED: pulumi up refuses the deletion]" if c.protected else ""
            lines.append(f"  - {c.type}  {c.name}{guard}")
    if d.new_violations or d.fixed_violations:
        lines += ["", "Policy verdict changes:"]
        lines += [
            f"  NEW   {v['enforcementLevel']:9} {v['ruleId']} {v.get('tenant') or ''}: {v['message']}"
            for v in d.new_violations
        ]
        lines += [
            f"  FIXED {v['enforcementLevel']:9} {v['ruleId']} {v.get('tenant') or ''}: {v['message']}"
            for v in d.fixed_violations
        ]
    return "\n".join(lines)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)


def plan_of_revision(
    ref: str, stack: str, workdir: Path = ROOT / "build" / "diff", repo: Path = ROOT
) -> dict[str, Any]:
    """Plan `stack` as revision `ref` would, with that revision's own code, in a git worktree that
    is removed again afterwards, also when planning fails."""
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0 or not ref.strip():
        raise ConfigError("make diff", "BASE", f"'{ref}' is not a commit of this repository (git rev-parse)")
    sha = found.stdout.strip()
    tree, out = workdir / sha[:12], workdir / f"{sha[:12]}-plans"
    _remove_worktree(repo, tree)  # left by an interrupted run
    added = _git(repo, "worktree", "add", "--detach", str(tree), sha)
    if added.returncode != 0:
        raise RuntimeError(f"cannot check out {ref} into {tree}: {' '.join(added.stderr.split())}")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "planner", "plan", "--stack", stack, "--out", str(out)],
            cwd=tree,
            capture_output=True,
            text=True,
            check=False,
        )
        plan_file = out / stack / "plan.json"
        if result.returncode not in (0, 1) or not plan_file.is_file():
            raise RuntimeError(f"planning {stack} at {ref} failed:\n{result.stderr.strip() or result.stdout.strip()}")
        return json.loads(plan_file.read_text(encoding="utf-8"))
    finally:
        _remove_worktree(repo, tree)
        shutil.rmtree(out, ignore_errors=True)


def _remove_worktree(repo: Path, tree: Path) -> None:
    """Remove the worktree and git's record of it (`--force`: the base plan wrote build files in it)."""
    if tree.exists():
        _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(tree, ignore_errors=True)  # not a worktree git knows (any more): plain files
    _git(repo, "worktree", "prune")
