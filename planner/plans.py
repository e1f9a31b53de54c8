"""`make plans`: plan every platform stack, each in its own process, and show each one's verdict —
for a blocked stack every mandatory finding, for a broken one its error — before failing.

    python -m planner.plans [--root .] [--out build] [stack ...]

Exit status: 0 every stack passes, 1 any stack is blocked, 2 any stack could not be planned.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from planner.fleet import platform_stacks
from planner.runner import ROOT
from planner.summary import render_verdict


def blocking_lines(plan: dict[str, Any]) -> list[str]:
    """The verdict's lines for mandatory (and remediate) findings, in full."""
    policy = plan["policy"]
    lines = render_verdict(policy)
    findings = [
        line
        for line, v in zip(lines[1:-1], policy["violations"], strict=True)
        if v["enforcementLevel"] in ("mandatory", "remediate")
    ]
    return [lines[0], *findings]


def plan_one(stack: str, root: Path, out: Path) -> tuple[int, list[str]]:
    result = subprocess.run(
        [sys.executable, "-m", "planner", "plan", "--stack", stack, "--root", str(root), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    plan_file = out / stack / "plan.json"
    if result.returncode not in (0, 1) or not plan_file.is_file():
        return 2, (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}").splitlines()
    plan = json.loads(plan_file.read_text(encoding="utf-8"))
    advisory = sum(1 for v in plan["policy"]["violations"] if v["enforcementLevel"] == "advisory")
    if result.returncode == 0:
        return 0, [f"Verdict: PASS ({len(plan['resources'])} resources, {advisory} advisory finding(s))"]
    return 1, [*blocking_lines(plan), "Verdict: BLOCKED (mandatory violations)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m planner.plans", description="Plan every platform stack and show each verdict."
    )
    parser.add_argument("stacks", nargs="*", help="platform stacks (default: every committed Pulumi.<stack>.yaml)")
    parser.add_argument("--root", default=str(ROOT))
    parser.add_argument("--out", default=str(ROOT / "build"))
    args = parser.parse_args(argv)
    root, out = Path(args.root), Path(args.out)
    outcome: dict[str, int] = {}
    for stack in args.stacks or platform_stacks(root):
        print(f"== {stack}", flush=True)
        status, lines = plan_one(stack, root, out)
        outcome[stack] = status
        print("\n".join(lines if status != 2 else ["ERROR (not planned):", *(f"  {line}" for line in lines)]))
        print(flush=True)
    blocked = [s for s, status in outcome.items() if status == 1]
    broken = [s for s, status in outcome.items() if status == 2]
    passed = [s for s, status in outcome.items() if status == 0]
    print(
        f"Stacks: {len(passed)} pass"
        + "".join(f", {len(g)} {w}: {' '.join(g)}" for g, w in ((blocked, "blocked"), (broken, "not planned")) if g)
    )
    return 2 if broken else 1 if blocked else 0


if __name__ == "__main__":
    sys.exit(main())
