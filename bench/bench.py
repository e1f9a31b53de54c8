"""Benchmark of the offline plan and the policy evaluation on synthetic tenant catalogs.

    python bench/bench.py            # sizes 10, 50, 200 (make bench)
    python bench/bench.py 10 20      # other sizes

Each size runs in its own process (so peak memory is that size's alone) on a scratch copy of the
dev stack whose catalog holds N generated tenants (tiers in rotation). Prints seconds and peak
memory per size, and how the stack rules scale (seconds per 1,000 resources)."""

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TIERS = ("basic", "standard", "premium")


def make_project(folder: Path, tenants: int) -> dict[str, list[str]]:
    for name in ["__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml"]:
        shutil.copy(ROOT / name, folder / name)
    catalog = folder / "tenants" / "dev"
    catalog.mkdir(parents=True)
    registry = {}
    for i in range(tenants):
        tenant = f"bench-{i:03d}"
        (catalog / f"{tenant}.yaml").write_text(
            f"id: {tenant}\ndisplayName: Bench Tenant {i}\ntier: {TIERS[i % 3]}\nhomeRegion: us-east-1\n"
            f"regions: [us-east-1]\nresidency: [us-east-1, us-west-2]\ndomain: {tenant}.bench.example.com\n"
            f"contacts:\n  - {{name: Bench, email: bench@example.com}}\n"
        )
        registry[tenant] = ["us-east-1", "us-west-2"]
    return registry


def one(tenants: int) -> dict[str, float]:
    from planner.policy import environment_config, evaluate
    from planner.runner import build_plan
    from policies.tenant_guard.pack import RULES

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        registry = make_project(folder, tenants)
        config = environment_config("dev")
        config["tenant-data-residency"] = {"residency": registry}
        start = time.perf_counter()
        plan = build_plan("dev", folder)
        planned = time.perf_counter()
        stack_only = {**config, **{r.name: "disabled" for r in RULES if not r.is_stack_rule}}
        evaluate(plan, stack_only)
        stack_rules = time.perf_counter()
        violations = evaluate(plan, config)
        done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "tenants": tenants,
        "resources": len(plan["resources"]),
        "plan_s": planned - start,
        "stack_rules_s": stack_rules - planned,
        "policy_s": done - stack_rules,
        "peak_mb": peak_mb,
        "violations": len(violations),
    }


def main(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"{'tenants':>8} {'resources':>10} {'plan s':>8} {'policy s':>9} {'stack rules s':>14} {'peak MB':>8} {'violations':>10}"
    )
    for r in rows:
        print(
            f"{r['tenants']:>8} {r['resources']:>10} {r['plan_s']:>8.1f} {r['policy_s']:>9.1f} "
            f"{r['stack_rules_s']:>14.2f} {r['peak_mb']:>8.0f} {r['violations']:>10}"
        )
    base = rows[0]
    for r in rows[1:]:
        size = r["resources"] / base["resources"]
        print(
            f"{base['tenants']} -> {r['tenants']} tenants: resources x{size:.1f}, plan x{r['plan_s'] / base['plan_s']:.1f}, "
            f"policy x{r['policy_s'] / base['policy_s']:.1f}, stack rules x{r['stack_rules_s'] / base['stack_rules_s']:.1f} "
            f"(linear would be x{size:.1f})"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]))))
    else:
        main([int(a) for a in sys.argv[1:]] or [10, 50, 200])
