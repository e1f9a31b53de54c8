"""Run one stack of the program under the mock engine and return its plan (plan.schema.json)."""

import functools
import json
import multiprocessing
import runpy
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from catalog.errors import ConfigError
from catalog.loader import GATE_KEYS, load_settings
from catalog.source import MAX_TENANT_BYTES, read_yaml
from catalog.stacks import StackName, tenant_stacks
from components.shared.contract import OUTPUT as CONTRACT
from components.shared.contract import platform_reference_name
from planner.mocks import PlanMocks, RecordingMonitor, Registration, offline_user_pool_id
from planner.stackconfig import StackConfig, read_stack_config

ROOT = Path(__file__).resolve().parent.parent


class ProgramError(Exception):
    """The program stopped with a message meant for the user (a config or catalog mistake)."""

    def __init__(self, message: str, registered: int) -> None:
        super().__init__(message)
        self.registered = registered  # resources registered before it stopped


def _no_stack_trace() -> source_pb2.StackTrace:
    """The source position the SDK attaches to each registration: the real CLI shows it; the plan
    does not record it, and walking the Python stack per resource costs a sixth of the plan time."""
    return source_pb2.StackTrace()


# Answered inline, an engine call runs on the stack of the coroutine that awaits it, so a long
# chain of outputs (a stack's deepest dependency path) nests that many calls: Python's default
# limit of 1000 frames is reached by a platform stack of today's size (the public API's chain).
RECURSION_LIMIT = 20_000


def _recording_speedups() -> None:
    # Not also an inline executor for the engine calls: answering them on the loop's own stack
    # overflows Python's recursion limit on a 200-tenant platform stack and the plan hangs.
    if hasattr(pulumi_resource, "_get_stack_trace"):  # private in the SDK: skip quietly if it moves
        pulumi_resource._get_stack_trace = _no_stack_trace  # pyright: ignore[reportPrivateUsage]


def record(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    region: str,
    config: dict[str, str] | None = None,
    secret_keys: tuple[str, ...] = (),
    stacks: dict[str, dict[str, Any]] | None = None,
) -> RecordingMonitor:
    """Run `program` inside a fresh stack under the mock engine; the monitor holds the record.
    `stacks`: outputs of the stacks it may reference (qualified name -> outputs)."""
    _recording_speedups()
    mocks = PlanMocks(region, stacks)
    monitor = RecordingMonitor(mocks)
    pulumi_settings.reset_options()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))
    # set_mocks made a throwaway root; run_in_stack makes the real one, as the CLI does.
    pulumi_settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]
    monitor.registrations.clear()
    try:
        _sync_await(run_in_stack(program))
    except pulumi.RunError as error:
        raise ProgramError(str(error), len(monitor.registrations)) from None
    finally:
        pulumi_settings.set_root_resource(None)  # pyright: ignore[reportArgumentType]
    return monitor


def with_gates(config: StackConfig, root: Path, fresh: bool) -> StackConfig:
    """The DR gates the deploy step reads from the peer (planner/gates.py) before every `up`:
    in the steady state the peer exists and holds every copy; on a fresh account (`fresh`) it has
    nothing yet. Gates already in the stack file are kept (nothing to emulate)."""
    key = f"{config.project}:dr"
    try:
        dr = json.loads(config.values.get(key) or "null")
    except json.JSONDecodeError:
        return config  # the program reports the malformed value
    if not isinstance(dr, dict) or any(gate in dr for gate in GATE_KEYS):
        return config
    environment = config.values.get(f"{config.project}:environment", "")
    catalog = root / config.values.get(f"{config.project}:tenantCatalog", f"tenants/{environment}")
    everyone = [] if fresh else sorted(p.stem for p in catalog.glob("*.yaml"))
    # The user pools of tenants homed in the peer, as the peer's plan names them (components/tenant/tenant.py).
    peer_region = dr.get("peerRegion")
    pools = {
        t: offline_user_pool_id(str(peer_region), f"tenant-{t}-identity-users")
        for t in everyone
        if _home_region(catalog / f"{t}.yaml") == peer_region
    }
    gates = {"peerDeployed": not fresh, "peerTenants": everyone, "peerHolds": everyone, "peerUserPools": pools}
    return replace(config, values={**config.values, key: json.dumps({**dr, **gates})})


def _home_region(path: Path) -> object:
    stat = path.stat()
    return _home_region_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _home_region_of(path: Path, _mtime: int, _size: int) -> object:
    try:
        document = read_yaml(path, path.name, MAX_TENANT_BYTES)
    except ConfigError:
        return None  # the program reports the unreadable file, naming it
    return document.get("homeRegion") if isinstance(document, dict) else None


def bootstrap_skips(stack: str, root: Path = ROOT) -> list[str]:
    """What this stack leaves out on its first deploy in a fresh account (pass 1), and why."""
    name = StackName.parse(stack)
    config = with_gates(read_stack_config(root, stack), root, fresh=True)
    settings = load_settings(config.values.get, config.project, name.platform, root)
    if name.tenant is None:
        return list(settings.skipped)
    tenant = next((t for t in settings.tenants if t.id == name.tenant), None)
    return list(settings.skipped_for(tenant)) if tenant else []


def run_program(
    stack: str, root: Path = ROOT, fresh: bool = False, stacks: dict[str, dict[str, Any]] | None = None
) -> tuple[str, list[Registration], dict[str, Any], str]:
    """Run `<root>/__main__.py` for `stack`; returns (project, registrations, outputs, region).
    `stacks`: outputs of already planned stacks it references (a tenant stack's platform)."""
    config = with_gates(read_stack_config(root, stack), root, fresh)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    def program() -> None:
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    monitor = record(
        program,
        project=config.project,
        stack=stack,
        region=config.region,
        config=config.values,
        secret_keys=config.secret_keys,
        stacks=stacks,
    )
    return config.project, list(monitor.registrations), monitor.stack_outputs, config.region


def tenant_of(registrations: list[Registration]) -> dict[str, str | None]:
    """Tenant per URN: the resource's own `tenant` tag or label; for a component, the tenant of all
    its tagged descendants (when they agree); otherwise the nearest attributed ancestor's."""
    by_urn = {r.urn: r for r in registrations}
    children: dict[str, list[str]] = {}
    for r in registrations:
        if r.parent:
            children.setdefault(r.parent, []).append(r.urn)

    def own(r: Registration) -> str | None:
        """The tenant tag/label; "" when the resource is tagged but for no tenant (platform)."""
        tags = r.inputs.get("tags")
        labels = (r.inputs.get("metadata") or {}).get("labels")
        if not isinstance(tags, dict) and not isinstance(labels, dict):
            return None  # untaggable: attributed through its parent
        value = (tags or {}).get("tenant") or (labels or {}).get("tenant")
        return value if isinstance(value, str) else ""

    def tagged_below(urn: str) -> set[str]:
        found: set[str] = set()
        for child in children.get(urn, []):
            value = own(by_urn[child])
            if value is not None:
                found.add(value)
            found |= tagged_below(child)
        return found

    result: dict[str, str | None] = {}
    for r in registrations:
        value = own(r) or None
        if value is None and not r.custom:
            below = tagged_below(r.urn)
            value = next(iter(below)) if len(below) == 1 and "" not in below else None
        result[r.urn] = value
    for r in registrations:
        current: Registration | None = r
        while current is not None and result.get(current.urn) is None:
            current = by_urn.get(current.parent) if current.parent else None
        result[r.urn] = result[current.urn] if current is not None else None
    return result


def plan_stack(
    stack: str, root: Path = ROOT, fresh: bool = False, stacks: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The plan of one stack alone (platform or tenant), each resource naming its stack."""
    project, registrations, outputs, region = run_program(stack, root, fresh, stacks)
    tenants = tenant_of(registrations)
    resources = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "custom": r.custom,
            "parent": r.parent,
            "provider": r.provider,
            "providers": r.providers,
            "tenant": tenants.get(r.urn),
            "stack": stack,
            "inputs": r.inputs,
            "options": r.options,
        }
        for r in sorted(registrations, key=lambda r: r.urn)  # registration order varies run to run
    ]
    return {"project": project, "stack": stack, "region": region, "resources": resources, "outputs": outputs}


def region_stacks(stack: str, root: Path = ROOT, fresh: bool = False) -> tuple[str, ...]:
    """The tenant stacks under a platform stack, as the tooling derives them from the catalog."""
    config = with_gates(read_stack_config(root, stack), root, fresh)
    return tenant_stacks(load_settings(config.values.get, config.project, stack, root))


def _warm() -> None:
    """A worker's start: import what every tenant stack's program imports, once."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import programs.platform
    import programs.tenant  # noqa: F401


def _plan_tenants(
    job: tuple[list[str], str, bool, dict[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    names, root, fresh, stacks = job
    return [plan_stack(name, Path(root), fresh, stacks) for name in names]


def region_outputs(platform: dict[str, Any], tenants: list[dict[str, Any]]) -> dict[str, Any]:
    """What the region exports, as one picture: the platform stack's outputs with its tenant
    stacks' per-tenant outputs merged in (`tenants`, `frontEnds`, the DR facts, `skipped`). Each
    stack's own outputs stay under `stacks[].outputs`."""
    merged = dict(platform)
    merged["tenants"] = {k: v for o in tenants for k, v in (o.get("tenants") or {}).items()}
    merged["frontEnds"] = {o["tenant"]: o["frontEnd"] for o in tenants if "frontEnd" in o}
    dr = dict(platform.get("disasterRecovery") or {})
    dr["copiesHeldHere"] = {
        k: v for o in tenants for k, v in ((o.get("disasterRecovery") or {}).get("copiesHeldHere") or {}).items()
    }
    dr["noCrossRegionCopy"] = sorted(
        t for o in tenants for t in (o.get("disasterRecovery") or {}).get("noCrossRegionCopy") or []
    )
    merged["disasterRecovery"] = dr
    merged["skipped"] = [*(platform.get("skipped") or []), *(n for o in tenants for n in o.get("skipped") or [])]
    return merged


def build_plan(stack: str, root: Path = ROOT, fresh: bool = False, jobs: int = 1) -> dict[str, Any]:
    """The plan of a whole region, without the policy verdict (see planner.policy): its platform
    stack, then every tenant stack under it, each reading the platform's outputs as its
    StackReference would. `stack` may also name one tenant stack: its plan holds that stack and
    its platform (the pull-request check of a one-tenant change). `fresh`: as the first deploy in
    an empty account would run it (no peer deployed yet). `jobs` > 1: the tenant stacks are
    planned by that many processes (this one and `jobs - 1` workers)."""
    name = StackName.parse(stack)
    # Workers start (and import the program) while this process plans the platform, then this
    # process plans its own share of the tenant stacks beside them: `jobs` processes in all.
    pool = None
    if jobs > 1 and not name.is_tenant:
        pool = multiprocessing.get_context("forkserver").Pool(jobs - 1, initializer=_warm)
    try:
        platform = plan_stack(name.platform, root, fresh)
        if CONTRACT not in platform["outputs"]:  # a project without tenant stacks (bootstrap/)
            return platform
        referenced = {platform_reference_name(platform["project"], name.platform): platform["outputs"]}
        tenant_names = [str(name)] if name.is_tenant else list(region_stacks(name.platform, root, fresh))
        chunks = [tenant_names[i::jobs] for i in range(jobs)] if pool is not None else [tenant_names]
        others = (
            pool.map_async(_plan_tenants, [(c, str(root), fresh, referenced) for c in chunks[1:]]) if pool else None
        )
        parts = [_plan_tenants((chunks[0], str(root), fresh, referenced)), *(others.get() if others else [])]
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    tenants = sorted((p for part in parts for p in part), key=lambda p: p["stack"])
    everything = [platform, *tenants]
    return {
        "project": platform["project"],
        "stack": str(name),  # a tenant stack's plan carries its platform too (what it reads and waits for)
        "region": platform["region"],
        "resources": [r for p in everything for r in p["resources"]],
        "outputs": region_outputs(platform["outputs"], [p["outputs"] for p in tenants]),
        "stacks": [
            {
                "name": p["stack"],
                "kind": "tenant" if StackName.parse(p["stack"]).is_tenant else "platform",
                "tenant": StackName.parse(p["stack"]).tenant,
                "resources": len(p["resources"]),
                "outputs": p["outputs"],
            }
            for p in everything
        ],
    }
