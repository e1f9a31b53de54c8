"""Command line of the offline plan.

    python -m planner plan [--stack dev] [--out build] [--policy-config FILE]
    python -m planner policy --plan build/dev/plan.json [--policy-config FILE]

Exit status: 0 pass, 1 mandatory policy violations, 2 a config or catalog mistake.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from catalog import ConfigError
from planner.policy import environment_config, mandatory, verdict
from planner.runner import ROOT, ProgramError, build_plan
from planner.summary import render, render_verdict


def _load_json(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(path, "(document)", f"cannot be read as JSON: {error}") from None


def plan_stack(stack: str, out: Path, policy_config: dict[str, Any] | None, root: Path = ROOT) -> int:
    plan = build_plan(stack, root)
    if policy_config is None:
        policy_config = environment_config(plan_environment(plan))
    plan["policy"] = verdict(plan, policy_config)
    target = out / stack
    target.mkdir(parents=True, exist_ok=True)
    (target / "plan.json").write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(render(plan))
    print(f"\nWrote {target / 'plan.json'}")
    return 1 if mandatory(plan["policy"]["violations"]) else 0


def plan_environment(plan: dict[str, Any]) -> str:
    return str(plan.get("outputs", {}).get("environment") or plan["stack"].split("-")[0])


def check_plan(path: str, policy_config: dict[str, Any] | None) -> int:
    plan = _load_json(path)
    if "resources" not in plan:
        raise ConfigError(path, "resources", "not a plan written by `make plan`")
    if policy_config is None:
        policy_config = environment_config(plan_environment(plan))
    result = verdict(plan, policy_config)
    print(f"Plan {path} ({plan.get('stack')}, {len(plan['resources'])} resources)")
    print("\n".join(render_verdict(result)))
    return 1 if mandatory(result["violations"]) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m planner", description="Offline plan and policy verdict of a stack."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan one stack offline and evaluate the policy pack")
    plan.add_argument("--stack", default="dev")
    plan.add_argument("--out", default=str(ROOT / "build"))
    plan.add_argument("--policy-config", help="policy pack config JSON (default: policies/config/<environment>.json)")
    plan.add_argument(
        "--root",
        default=str(ROOT),
        help="folder with the Pulumi.*.yaml, tenants/ and __main__.py to plan (code from this checkout)",
    )
    policy = commands.add_parser("policy", help="evaluate the policy pack on a saved plan")
    policy.add_argument("--plan", required=True)
    policy.add_argument("--policy-config")
    args = parser.parse_args(argv)
    try:
        config = _load_json(args.policy_config) if args.policy_config else None
        if args.command == "plan":
            return plan_stack(args.stack, Path(args.out), config, Path(args.root))
        return check_plan(args.plan, config)
    except (ConfigError, ProgramError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
