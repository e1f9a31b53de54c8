"""Benchmark of the offline plans on synthetic tenant catalogs (printed numbers, not timed tests).

    python bench/bench.py            # sizes 10, 50, 200 (make bench)
    python bench/bench.py 10 20      # other sizes

Each size runs in its own process on a scratch copy of the dev stack whose catalog holds N
generated tenants (tiers in rotation) and measures:
- the pull-request check of a one-tenant change: that tenant's stack planned with its platform's
  outputs (the platform stack is planned too, as a tenant stack reads it), then the policy pack
  over both: what `make plan STACK=dev.<tenant>` runs;
- the full regional plan (platform + every tenant stack, tenant stacks in JOBS worker
  processes) and the policy pack over it: what `make plan STACK=dev` runs;
- resources per stack, and peak memory (largest process, and the sum over the processes that
  ran at once)."""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TIERS = ("basic", "standard", "premium")
JOBS = max(2, os.cpu_count() or 2)


def make_project(folder: Path, tenants: int) -> dict[str, list[str]]:
    for name in ["__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml"]:
        shutil.copy(ROOT / name, folder / name)
    # Hundreds of tenants' job processors reserve more than the default 1,000 concurrent Lambda
    # executions: such a region runs with a raised quota, which the stack file then states.
    stack_file = folder / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    stack_file.write_text(
        text.replace("    owner: true", f"    lambdaConcurrencyLimit: {max(1000, 40 * tenants)}\n    owner: true", 1)
    )
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


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _tree_rss_mb(root: int) -> tuple[float, float]:
    """(largest process, sum) of resident memory over `root` and all its descendants (/proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    sizes = [rss.get(pid, 0.0) for pid in tree]
    return max(sizes), sum(sizes)


class MemorySampler(threading.Thread):
    """Samples the process tree every 0.2 s: worker processes are not this process's children
    (the forkserver's), so getrusage cannot see them."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.largest = self.total = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            largest, total = _tree_rss_mb(os.getpid())
            self.largest, self.total = max(self.largest, largest), max(self.total, total)


def one(tenants: int) -> dict[str, object]:
    from planner.policy import environment_config, evaluate
    from planner.runner import build_plan

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        registry = make_project(folder, tenants)
        config = environment_config("dev")
        config["tenant-data-residency"] = {"residency": registry}

        start = time.perf_counter()
        changed = build_plan(f"dev.bench-{tenants // 2:03d}", folder)
        evaluate(changed, config)
        pr_check = time.perf_counter() - start

        sampler = MemorySampler()
        sampler.start()
        start = time.perf_counter()
        plan = build_plan("dev", folder, jobs=JOBS)
        planned = time.perf_counter()
        sampler.stop.set()
        violations = evaluate(plan, config)
        done = time.perf_counter()
    sizes = [s["resources"] for s in plan["stacks"] if s["kind"] == "tenant"]
    return {
        "tenants": tenants,
        "resources": len(plan["resources"]),
        "platform": next(s["resources"] for s in plan["stacks"] if s["kind"] == "platform"),
        "tenant_min": min(sizes),
        "tenant_median": statistics.median(sizes),
        "tenant_max": max(sizes),
        "pr_check_s": pr_check,
        "plan_s": planned - start,
        "policy_s": done - planned,
        "peak_mb": max(_peak_mb(resource.RUSAGE_SELF), sampler.largest),
        "peak_sum_mb": max(_peak_mb(resource.RUSAGE_SELF), sampler.total),
        "violations": len(violations),
    }


def main(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        begin = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["wall_s"] = time.perf_counter() - begin
        rows.append(row)
    print(f"{JOBS} worker processes for the tenant stacks; times in seconds, memory in MB\n")
    header = (
        f"{'tenants':>7} {'resources':>9} {'platform':>8} {'tenant min/med/max':>18} {'PR check':>8} "
        f"{'region plan':>11} {'policy':>6} {'peak':>6} {'peak sum':>8} {'violations':>10}"
    )
    print(header)
    for r in rows:
        spread = f"{r['tenant_min']}/{r['tenant_median']:.0f}/{r['tenant_max']}"
        print(
            f"{r['tenants']:>7} {r['resources']:>9} {r['platform']:>8} {spread:>18} {r['pr_check_s']:>8.1f} "
            f"{r['plan_s']:>11.1f} {r['policy_s']:>6.1f} {r['peak_mb']:>6.0f} {r['peak_sum_mb']:>8.0f} "
            f"{r['violations']:>10}"
        )
    print(
        "\nPR check: plan of the changed tenant's stack with its platform, then the pack (target <= 15 s, "
        "flat in the number of tenants).\nRegion plan: platform + every tenant stack (target <= 60 s and "
        "<= 1 GB at 200 tenants); platform stack target <= 600 resources, tenant stack <= 150."
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]))))
    else:
        main([int(a) for a in sys.argv[1:]] or [10, 50, 200])
