"""Fleet deploys: every stack of the repository, the stacks a change touches, in dependency waves,
and a bounded-concurrency runner that isolates failures per tenant.

    python -m planner.fleet stacks [--environment prod] [--json]
    python -m planner.fleet affected --base origin/main [--head HEAD] [--environment prod] [--json]
    python -m planner.fleet affected --all --json                  # every stack (first deploy, dispatch)
    python -m planner.fleet materialize --stack prod-us-east-1.harbor-mutual
    python -m planner.fleet run --wave-file waves.json --jobs 4 -- <command with {stack}>
    python -m planner.fleet up|preview --stack prod-us-east-1.harbor-mutual

Waves (dependency order): 0 platform stacks; 1 tenant stacks that hold the tenant's primary (its
home, or promoted there); 2 tenant stacks that serve it away from home or hold its DR copies (they
read the home stack's outputs through the DR gates, planner/gates.py)."""

import argparse
import concurrent.futures
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from catalog import ConfigError
from catalog.loader import load_settings
from catalog.model import StackSettings
from catalog.stacks import SEPARATOR, StackName, derived_stack_file, tenants_with_stacks
from planner.stackconfig import read_stack_config

Kind = Literal["platform", "tenant"]
Result = Literal["ok", "failed", "skipped"]
ROOT = Path(__file__).resolve().parent.parent  # not planner.runner's: no Pulumi import for this CLI
PLATFORM_WAVE, HOME_WAVE, AWAY_WAVE = 0, 1, 2
TAIL_LINES = 20

# What a changed path touches. First match wins; a path no rule names touches every stack.
EVERY_STACK = (
    "Pulumi.yaml",
    "__main__.py",
    "requirements.txt",
    "constraints.txt",
    "catalog/",
    "programs/",
    "components/shared/",
    "components/edge/",  # edge and recovery parts are used by both kinds of stack
    "components/recovery/",
    "components/__init__.py",
    "policies/",  # the pack gates every stack at preview/up
)
TENANT_STACKS = ("components/tenant/",)
PLATFORM_STACKS = ("components/platform/",)
# Tooling of the offline plan only: no Pulumi stack changes, but every region's offline plan reruns.
OFFLINE_ONLY = (
    "planner/",
    "schemas/",
    "Makefile",
    "pyproject.toml",
    "requirements-dev.txt",
    "requirements-checkov.txt",
    "constraints-checkov.txt",
    ".github/",
)
# Nothing to deploy or plan (bootstrap/ is its own project with its own workflow).
NOTHING = ("docs/", "tests/", "bench/", "bootstrap/", "renovate.json", ".gitignore", "LICENSE")


class FleetError(Exception):
    """A user mistake or an unreadable revision: one line, no traceback."""


@dataclass(frozen=True)
class StackEntry:
    stack: str
    kind: Kind
    platform: str
    tenant: str | None
    region: str
    environment: str
    wave: int
    removed: bool = False  # exists at the base revision only (offboarded tenant, removed region)

    def matrix(self) -> dict[str, Any]:
        entry = asdict(self)
        del entry["wave"]
        return entry


@dataclass
class Fleet:
    """Every stack of one revision, with what the path rules need to know about each platform."""

    entries: dict[str, StackEntry] = field(default_factory=dict)
    catalogs: dict[str, str] = field(default_factory=dict)  # platform -> its tenant catalog folder
    edge_owners: set[str] = field(default_factory=set)  # platforms holding every tenant's front-end

    def platforms(self) -> list[str]:
        return sorted(s for s, e in self.entries.items() if e.kind == "platform")


# ---- every stack -------------------------------------------------------------------------------


def platform_stacks(root: Path) -> list[str]:
    """`Pulumi.<name>.yaml` at the root whose name has no `.` (the others are derived tenant files)."""
    names = (p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
    return sorted(n for n in names if n and SEPARATOR not in n)


def platform_settings(root: Path, platform: str) -> StackSettings:
    config = read_stack_config(root, platform)
    return load_settings(config.values.get, config.project, platform, root)


def tenant_wave(settings: StackSettings, tenant: str) -> int:
    home = any(t.id == tenant and settings.home_here(t) for t in settings.tenants)
    return HOME_WAVE if home else AWAY_WAVE


def load_fleet(root: Path) -> Fleet:
    fleet = Fleet()
    for platform in platform_stacks(root):
        settings = platform_settings(root, platform)
        env, region = settings.environment, settings.region
        fleet.entries[platform] = StackEntry(platform, "platform", platform, None, region, env, PLATFORM_WAVE)
        fleet.catalogs[platform] = settings.catalog_dir.rstrip("/")
        if settings.global_edge is not None:
            fleet.edge_owners.add(platform)
        for tenant in tenants_with_stacks(settings):
            name = str(StackName(platform, tenant))
            wave = tenant_wave(settings, tenant)
            fleet.entries[name] = StackEntry(name, "tenant", platform, tenant, region, env, wave)
    return fleet


# ---- affected stacks ---------------------------------------------------------------------------


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        first = (result.stderr.strip() or "failed").splitlines()[0]
        raise FleetError(f"git {' '.join(args)}: {first}")
    return result.stdout


def changed_files(root: Path, base: str, head: str) -> list[str]:
    """Paths changed between the merge base of base and head, and head (`git diff base...head`)."""
    return [line for line in git(root, "diff", "--name-only", "--no-renames", f"{base}...{head}").splitlines() if line]


@contextlib.contextmanager
def revision_tree(root: Path, rev: str) -> Iterator[Path]:
    """The files settings loading reads (Pulumi.yaml, Pulumi.*.yaml, tenants/) at a revision, in a
    temporary directory removed afterwards whatever happens."""
    listed = git(root, "ls-tree", "--name-only", rev).splitlines()
    wanted = [p for p in listed if p == "tenants" or (p.startswith("Pulumi.") and p.endswith(".yaml"))]
    with tempfile.TemporaryDirectory(prefix="fleet-") as tmp:
        if wanted:
            archive = subprocess.run(
                ["git", "archive", "--format=tar", rev, "--", *wanted], cwd=root, capture_output=True
            )
            if archive.returncode != 0:
                raise FleetError(f"git archive {rev}: {archive.stderr.decode(errors='replace').strip()}")
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(tmp, filter="data")
        yield Path(tmp)


def fleet_at(root: Path, rev: str) -> Fleet:
    with revision_tree(root, rev) as tree:
        return load_fleet(tree) if (tree / "Pulumi.yaml").is_file() else Fleet()


def _under(path: str, prefixes: Sequence[str]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes)


def _tenant_file(path: str, fleet: Fleet) -> list[tuple[str, str]]:
    """(platform, tenant id) for every platform whose catalog folder holds this tenant file."""
    pure = PurePosixPath(path)
    if pure.suffix not in (".yaml", ".yml"):
        return []
    return [(p, pure.stem) for p, folder in fleet.catalogs.items() if str(pure.parent) == folder]


def stacks_for_path(path: str, fleets: Sequence[Fleet]) -> tuple[set[str], bool]:
    """Stacks a changed path touches (across the base and head fleets), and whether it reruns the
    offline plan of every region without touching a stack."""
    every = {s for f in fleets for s in f.entries}
    if _under(path, NOTHING) or (path.endswith(".md") and "/" not in path):
        return set(), False
    if _under(path, OFFLINE_ONLY):
        return set(), True
    if _under(path, EVERY_STACK):
        return every, False
    name = PurePosixPath(path).name
    if "/" not in path and name.startswith("Pulumi.") and name.endswith(".yaml") and name != "Pulumi.yaml":
        stack = name[len("Pulumi.") : -len(".yaml")]
        if SEPARATOR in stack:
            return set(), False  # a derived tenant stack file (gitignored): never the source
        return {s for f in fleets for s, e in f.entries.items() if e.platform == stack}, False
    touched: set[str] = set()
    for fleet in fleets:
        for platform, tenant in _tenant_file(path, fleet):
            mine = {s for s, e in fleet.entries.items() if e.tenant == tenant}
            touched |= mine | {fleet.entries[s].platform for s in mine}
            touched |= {platform} & fleet.edge_owners  # front-ends of every tenant of its catalog
    if touched or any(_tenant_file(path, f) for f in fleets):
        return touched, False
    if _under(path, TENANT_STACKS):
        return {s for f in fleets for s, e in f.entries.items() if e.kind == "tenant"}, False
    if _under(path, PLATFORM_STACKS):
        return {s for f in fleets for s, e in f.entries.items() if e.kind == "platform"}, False
    return every, False  # any path no rule names (conservative)


def merged_entries(base: Fleet, head: Fleet) -> dict[str, StackEntry]:
    """Head's view of every stack, and base's for stacks head no longer has (marked removed): an
    offboarded tenant's stacks stay in the plan so their protections fail loudly, never destroyed."""
    entries = dict(head.entries)
    for name, entry in base.entries.items():
        if name not in entries:
            entries[name] = StackEntry(**{**asdict(entry), "removed": True})
    return entries


@dataclass(frozen=True)
class Affected:
    entries: tuple[StackEntry, ...]
    offline_plan: tuple[str, ...]  # `make plan` targets: a platform (whole region) or a tenant stack

    def waves(self) -> list[dict[str, Any]]:
        numbers = sorted({e.wave for e in self.entries})
        return [{"wave": n, "include": [e.matrix() for e in self.entries if e.wave == n]} for n in numbers]

    def as_json(self) -> dict[str, Any]:
        return {
            "waves": self.waves(),
            "stacks": [e.stack for e in self.entries],
            "platforms": sorted({e.platform for e in self.entries}),
            "offlinePlan": list(self.offline_plan),
        }


def _ordered(entries: Mapping[str, StackEntry], names: set[str], environment: str | None) -> tuple[StackEntry, ...]:
    chosen = [entries[n] for n in names if n in entries]
    chosen = [e for e in chosen if environment is None or e.environment == environment]
    return tuple(sorted(chosen, key=lambda e: (e.wave, e.platform, e.stack)))


def affected(root: Path, base: str, head: str = "HEAD", environment: str | None = None) -> Affected:
    paths = changed_files(root, base, head)
    merge_base = git(root, "merge-base", base, head).strip()
    base_fleet, head_fleet = fleet_at(root, merge_base), fleet_at(root, head)
    entries = merged_entries(base_fleet, head_fleet)
    names: set[str] = set()
    offline_all = False
    targets: set[str] = set()  # what the offline plan runs: whole regions, or single tenant stacks
    for path in paths:
        touched, offline = stacks_for_path(path, (base_fleet, head_fleet))
        names |= touched
        offline_all |= offline
        tenant_file = any(_tenant_file(path, f) for f in (base_fleet, head_fleet))
        for name in touched:
            entry = entries[name]
            if not tenant_file:
                targets.add(entry.platform)  # a platform-level change: the whole region
            elif entry.kind == "tenant":
                # A one-tenant change plans that tenant's stacks with their platform, whatever
                # the region's size; an offboarded tenant's region is planned whole (its diff).
                targets.add(entry.platform if entry.removed else name)
    chosen = _ordered(entries, names, environment)
    if offline_all:
        targets |= set(head_fleet.platforms())
    in_scope = {
        t
        for t in targets
        if StackName.parse(t).platform in head_fleet.entries
        and (environment is None or head_fleet.entries[StackName.parse(t).platform].environment == environment)
    }
    whole = {t for t in in_scope if SEPARATOR not in t}
    plans = {t for t in in_scope if SEPARATOR not in t or StackName.parse(t).platform not in whole}
    return Affected(chosen, tuple(sorted(plans)))


def everything(root: Path, environment: str | None = None) -> Affected:
    fleet = load_fleet(root)
    chosen = _ordered(fleet.entries, set(fleet.entries), environment)
    return Affected(chosen, tuple(sorted({e.platform for e in chosen})))


# ---- derived tenant stack files ----------------------------------------------------------------


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        raise FleetError(f"{path.name}: no such file") from None
    except yaml.YAMLError as error:
        raise FleetError(f"{path.name}: malformed YAML ({error})") from None
    if not isinstance(document, dict):
        raise FleetError(f"{path.name}: must be a YAML mapping")
    return document


def materialize(root: Path, stack: str, secrets_provider: str | None = None) -> Path:
    """Write the gitignored `Pulumi.<platform>.<tenant>.yaml` from the committed platform file."""
    name = StackName.parse(stack)
    if name.tenant is None:
        raise FleetError(f"Pulumi.{stack}.yaml: '{stack}' is a platform stack; its file is committed, not derived")
    project = str(read_yaml(root / "Pulumi.yaml").get("name", ""))
    document: dict[str, Any] = {}
    if secrets_provider:
        document["secretsprovider"] = secrets_provider
    document.update(derived_stack_file(read_yaml(root / f"Pulumi.{name.platform}.yaml"), project, name))
    target = root / f"Pulumi.{stack}.yaml"
    header = (
        f"# Derived from Pulumi.{name.platform}.yaml by `python -m planner.fleet materialize`: never edit or commit.\n"
    )
    target.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


# ---- running a command per stack, wave by wave -------------------------------------------------


@dataclass
class Outcome:
    stack: str
    kind: str
    platform: str
    tenant: str | None
    wave: int
    result: Result
    seconds: float = 0.0
    reason: str = ""
    tail: list[str] = field(default_factory=list)


def load_waves(path: Path) -> list[dict[str, Any]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise FleetError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise FleetError(f"{path}: not JSON ({error})") from None
    waves = document.get("waves") if isinstance(document, dict) else None
    if not isinstance(waves, list):
        raise FleetError(f"{path}: waves: missing (the output of `affected --json`)")
    return sorted((w for w in waves if isinstance(w, dict)), key=lambda w: int(w.get("wave", 0)))


def blocked_by(entry: Mapping[str, Any], wave: int, done: Mapping[str, Outcome]) -> str | None:
    """Why an earlier outcome stops this stack: its own (an earlier pass), its platform stack, or (DR
    wave) its tenant's home stack."""
    own = done.get(str(entry.get("stack")))
    if own is not None and own.result != "ok":
        return f"{own.result} in an earlier pass"
    if entry.get("kind") != "tenant":
        return None
    platform = done.get(str(entry.get("platform")))
    if platform is not None and platform.result != "ok" and platform.wave < wave:
        return f"platform stack {platform.stack} {platform.result}"
    if wave >= AWAY_WAVE:
        for outcome in done.values():
            home = outcome.kind == "tenant" and outcome.wave == HOME_WAVE
            if home and outcome.tenant == entry.get("tenant") and outcome.result != "ok":
                return f"home stack {outcome.stack} {outcome.result}"
    return None


def run_one(entry: Mapping[str, Any], wave: int, command: Sequence[str], log_dir: Path | None) -> Outcome:
    stack = str(entry["stack"])
    argv = [part.replace("{stack}", stack) for part in command]
    started = time.monotonic()
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        output, code = result.stdout or "", result.returncode
    except OSError as error:
        output, code = f"{argv[0]}: {error}", 127
    seconds = round(time.monotonic() - started, 1)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{stack}.log").write_text(output, encoding="utf-8")
    return Outcome(
        stack=stack,
        kind=str(entry.get("kind", "")),
        platform=str(entry.get("platform", "")),
        tenant=entry.get("tenant"),
        wave=wave,
        result="ok" if code == 0 else "failed",
        seconds=seconds,
        reason="" if code == 0 else f"exit {code}",
        tail=output.splitlines()[-TAIL_LINES:],
    )


def run_waves(
    waves: Sequence[Mapping[str, Any]],
    command: Sequence[str],
    jobs: int,
    previous: Sequence[Outcome] = (),
    log_dir: Path | None = None,
    echo: bool = False,
) -> list[Outcome]:
    """Run `command` ({stack} replaced) for every stack, waves in order, at most `jobs` at once.
    `previous`: outcomes of earlier waves run elsewhere (other CI jobs), for the skip rules."""
    done: dict[str, Outcome] = {o.stack: o for o in previous}
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for wave in waves:
            number = int(wave.get("wave", 0))
            runnable: list[Mapping[str, Any]] = []
            for entry in wave.get("include") or []:
                reason = blocked_by(entry, number, done)
                if reason is None:
                    runnable.append(entry)
                    continue
                skipped = Outcome(
                    str(entry["stack"]),
                    str(entry.get("kind", "")),
                    str(entry.get("platform", "")),
                    entry.get("tenant"),
                    number,
                    "skipped",
                    reason=reason,
                )
                outcomes.append(skipped)
                done[skipped.stack] = skipped
            futures = [pool.submit(run_one, entry, number, command, log_dir) for entry in runnable]
            for future in concurrent.futures.as_completed(futures):
                outcome = future.result()
                if echo:
                    print_log(outcome, log_dir)
                outcomes.append(outcome)
                done[outcome.stack] = outcome
    return outcomes


def print_log(outcome: Outcome, log_dir: Path | None) -> None:
    grouped = os.environ.get("GITHUB_ACTIONS") == "true"
    print(f"::group::{outcome.stack}: {outcome.result}" if grouped else f"== {outcome.stack}: {outcome.result}")
    log = log_dir / f"{outcome.stack}.log" if log_dir else None
    print(log.read_text(encoding="utf-8") if log and log.is_file() else "\n".join(outcome.tail))
    if grouped:
        print("::endgroup::")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def markdown_report(outcomes: Sequence[Outcome]) -> str:
    counts = {r: sum(1 for o in outcomes if o.result == r) for r in ("ok", "failed", "skipped")}
    lines = [
        f"### Fleet: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped",
        "",
        "| tenant | stack | wave | result | seconds | last lines |",
        "|---|---|---|---|---|---|",
    ]
    ordered = sorted(outcomes, key=lambda o: (o.tenant or "", o.wave, o.stack))
    for o in ordered:
        detail = o.reason if o.result == "skipped" else "<br>".join(_cell(line) for line in o.tail[-3:])
        tenant = o.tenant or "(platform)"
        lines.append(f"| {tenant} | `{o.stack}` | {o.wave} | {o.result} | {o.seconds:.1f} | {detail} |")
    return "\n".join(lines) + "\n"


def read_reports(paths: Sequence[Path]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for path in paths:
        if not path.is_file():
            continue  # an earlier wave with nothing for this runner
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            outcomes += [Outcome(**item) for item in document["outcomes"]]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise FleetError(f"{path}: not a fleet report ({error})") from None
    return outcomes


def merge_outcomes(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """One outcome per stack, in order: a later pass replaces an earlier one, except a skip caused
    by that earlier outcome (the failure stays what the report shows)."""
    latest: dict[str, Outcome] = {}
    for outcome in outcomes:
        if outcome.stack in latest and outcome.result == "skipped":
            continue
        latest[outcome.stack] = outcome
    return list(latest.values())


def write_reports(outcomes: Sequence[Outcome], report: Path | None) -> str:
    text = markdown_report(outcomes)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps({"outcomes": [asdict(o) for o in outcomes]}, indent=2), encoding="utf-8")
    return text


# ---- one stack through the Pulumi CLI ----------------------------------------------------------


def pulumi(args: Sequence[str], root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=root, capture_output=True, text=True)


def stack_environment(root: Path, platform: str) -> str:
    config = read_yaml(root / f"Pulumi.{platform}.yaml").get("config") or {}
    project = str(read_yaml(root / "Pulumi.yaml").get("name", ""))
    environment = config.get(f"{project}:environment")
    if environment not in ("dev", "prod"):
        raise FleetError(f"Pulumi.{platform}.yaml: {project}:environment: must be dev or prod")
    return str(environment)


def deploy_stack(root: Path, stack: str, operation: Literal["up", "preview"]) -> int:
    """Materialize (tenant stacks), select (create on `up`), DR gates, then `pulumi up|preview` with
    the policy pack. A preview of a stack that does not exist yet is skipped: it is in the offline
    plan, and the preview role may not create stacks."""
    from planner import gates

    name = StackName.parse(stack)
    provider = os.environ.get("PULUMI_SECRETS_PROVIDER") or None
    if name.tenant is not None:
        materialize(root, stack, provider)
    if name.tenant is not None and retired(root, name):
        return retire_stack(root, stack, preview=operation == "preview")
    select = ["stack", "select", stack]
    if operation == "up":
        select += ["--create", *(["--secrets-provider", provider] if provider else [])]
    selected = pulumi(select, root)
    if selected.returncode != 0:
        if operation == "preview" and f"no stack named '{stack}' found" in selected.stderr:
            print(f"{stack}: not created yet, nothing to preview against (the offline plan covers it)")
            return 0
        print(f"error: pulumi stack select {stack}: {selected.stderr.strip()}", file=sys.stderr)
        return 1
    code = gates.main(["--stack", stack, "--apply", "--root", str(root)])
    sys.stdout.flush()  # the gates before pulumi's own output in a captured log
    if code != 0:
        return code
    environment = stack_environment(root, name.platform)
    policy = ["--policy-pack", "policies", "--policy-pack-config", f"policies/config/{environment}.json"]
    args = [operation, "--stack", stack, *(["--yes"] if operation == "up" else []), *policy, "--non-interactive"]
    return subprocess.run(["pulumi", *args], cwd=root, check=False).returncode


def retired(root: Path, name: StackName) -> bool:
    """Whether the catalog no longer gives this tenant a stack under its platform (offboarded,
    or no longer served or copied to that region)."""
    config = read_stack_config(root, name.platform)
    settings = load_settings(config.values.get, config.project, name.platform, root)
    return name.tenant not in tenants_with_stacks(settings)


def retire_stack(root: Path, stack: str, preview: bool = False, final: bool = False) -> int:
    """Offboarding a tenant stack, never losing data: `pulumi destroy --exclude-protected` deletes
    what is not protected (services, its seat on the shared services, its routing) and keeps every
    protected resource (database, keys, buckets, vaults, namespace, logs) and what they depend on.
    `final` (docs/offboarding.md, after retention, once the owners lifted the protections): destroy
    the rest, then remove the stack; a protection still in place stops it before `stack rm`."""
    selected = pulumi(["stack", "select", stack], root)
    if selected.returncode != 0:
        if f"no stack named '{stack}' found" in selected.stderr:
            print(f"{stack}: no such stack, nothing to retire")
            return 0
        print(f"error: pulumi stack select {stack}: {selected.stderr.strip()}", file=sys.stderr)
        return 1
    destroy = ["destroy", "--stack", stack, "--non-interactive"]
    destroy += ["--preview-only"] if preview else ["--yes"]
    destroy += [] if final else ["--exclude-protected"]
    code = subprocess.run(["pulumi", *destroy], cwd=root, check=False).returncode
    if code != 0 or preview or not final:
        return code
    return subprocess.run(
        ["pulumi", "stack", "rm", stack, "--yes", "--non-interactive"], cwd=root, check=False
    ).returncode


# ---- command line ------------------------------------------------------------------------------


def print_stacks(result: Affected, as_json: bool, names_only: bool = False) -> None:
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
        return
    for e in result.entries:
        if names_only:
            print(e.stack)
            continue
        suffix = " (removed)" if e.removed else ""
        print(f"wave {e.wave}  {e.kind:8}  {e.stack}{suffix}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m planner.fleet", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)
    stacks = sub.add_parser("stacks", help="every stack: platform stacks and their tenant stacks")
    stacks.add_argument("--environment", choices=("dev", "prod"))
    stacks.add_argument("--json", action="store_true")
    aff = sub.add_parser("affected", help="stacks a change touches, in waves")
    aff.add_argument("--base")
    aff.add_argument("--head", default="HEAD")
    aff.add_argument("--all", action="store_true", help="every stack (first deploy, manual dispatch)")
    aff.add_argument("--environment", choices=("dev", "prod"))
    aff.add_argument("--json", action="store_true")
    mat = sub.add_parser("materialize", help="write Pulumi.<platform>.<tenant>.yaml (gitignored)")
    mat.add_argument("--stack", required=True)
    run = sub.add_parser("run", help="run a command per stack, wave by wave (after `--`, {stack} replaced)")
    run.add_argument("--wave-file", type=Path, required=True)
    run.add_argument("--jobs", type=int, default=4)
    run.add_argument("--wave", type=int, help="only this wave")
    run.add_argument("--platform", help="only the stacks of this platform stack")
    run.add_argument("--after", type=Path, nargs="*", default=[], help="reports of earlier waves run elsewhere")
    run.add_argument("--report", type=Path, default=Path("build/fleet/report.json"))
    run.add_argument("--logs", type=Path, default=Path("build/fleet/logs"))
    rep = sub.add_parser("report", help="one per-tenant table from the reports of every wave job")
    rep.add_argument("reports", type=Path, nargs="*")
    for operation in ("up", "preview"):
        one = sub.add_parser(operation, help=f"materialize, select, DR gates, pulumi {operation} of one stack")
        one.add_argument("--stack", required=True)
    ret = sub.add_parser("retire", help="offboard a tenant stack: destroy all but its protected resources")
    ret.add_argument("--stack", required=True)
    ret.add_argument("--final", action="store_true", help="after retention: destroy the rest and remove the stack")
    return p


def select_waves(waves: Sequence[Mapping[str, Any]], wave: int | None, platform: str | None) -> list[dict[str, Any]]:
    chosen: list[dict[str, Any]] = []
    for w in waves:
        if wave is not None and int(w.get("wave", 0)) != wave:
            continue
        include = [e for e in w.get("include") or [] if platform is None or e.get("platform") == platform]
        if include:
            chosen.append({"wave": int(w.get("wave", 0)), "include": include})
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in args_in:
        at = args_in.index("--")
        args_in, command = args_in[:at], args_in[at + 1 :]
    args = parser().parse_args(args_in)
    root: Path = args.root
    try:
        if args.command == "stacks":
            print_stacks(everything(root, args.environment), args.json, names_only=True)
        elif args.command == "affected":
            if args.all == bool(args.base):
                raise FleetError("affected: give --base <ref> or --all")
            result = (
                everything(root, args.environment)
                if args.all
                else affected(root, args.base, args.head, args.environment)
            )
            print_stacks(result, args.json)
        elif args.command == "materialize":
            provider = os.environ.get("PULUMI_SECRETS_PROVIDER") or None
            print(materialize(root, args.stack, provider).name)
        elif args.command == "run":
            if not command or not any("{stack}" in part for part in command):
                raise FleetError("run: give the command after `--`, with {stack} where the stack name goes")
            waves = select_waves(load_waves(args.wave_file), args.wave, args.platform)
            outcomes = run_waves(waves, command, args.jobs, read_reports(args.after), args.logs, echo=True)
            print(write_reports(outcomes, args.report))
            return 1 if any(o.result == "failed" for o in outcomes) else 0
        elif args.command == "report":
            outcomes = merge_outcomes(read_reports(sorted(args.reports)))
            print(write_reports(outcomes, None))
            return 1 if any(o.result == "failed" for o in outcomes) else 0
        elif args.command == "retire":
            name = StackName.parse(args.stack)
            if name.tenant is None or not retired(root, name):
                raise FleetError(
                    f"retire: {args.stack} is not an offboarded tenant stack (its catalog file gives it a stack)"
                )
            materialize(root, args.stack, os.environ.get("PULUMI_SECRETS_PROVIDER") or None)
            return retire_stack(root, args.stack, final=args.final)
        else:
            return deploy_stack(root, args.stack, args.command)
    except (FleetError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
