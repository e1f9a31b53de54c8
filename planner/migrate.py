"""Migration from one regional stack holding everything to a platform stack + a stack per tenant.

    python -m planner.migrate --stack <platform> [--legacy FILE] [--plan FILE] [--out DIR] [--batch N]
    python -m planner.migrate --stack <platform> --write-legacy-snapshot FILE
    python -m planner.migrate --check-state EXPORT --expected FILE   (run by state-moves.sh)
    python -m planner.migrate --check-preview PREVIEW.json...        (run by state-moves.sh)

Compares the legacy layout (a snapshot of the regional stack's plan: tests/fixtures/legacy-layout/) with
the combined plan of the new layout (build/<platform>/plan.json: every resource names its `stack`) and
writes `<out>/state-moves.sh` (the `pulumi state move` commands that carry each tenant's resources out
of the regional stack, which stays the platform stack) and `<out>/report.md`.

Resources are matched on their URN path after the stack segment, as the engine forms it (the full chain
of parent types, the root stack left out; the offline plan's mock URNs hold the immediate parent's type
only, so the chain is rebuilt from `parent`). What `pulumi state move` does, as read in pulumi/pulumi
v3.259.0 pkg/cmd/pulumi/state/state_move.go, and what this module does about it:

- naming a provider is an error ("cannot move providers ... included automatically"): providers are never
  named. Every provider a moved resource references is *copied* into the destination (re-parented to its
  root unless its parent moves too) and stays in the source;
- every descendant of a named resource moves with it (`ChildrenOf` is transitive), providers excepted:
  only the roots of moved subtrees are named, and a subtree whose members belong to different stacks is
  an error;
- a moved resource whose parent does not move in the same command is re-parented to the destination's
  root stack and its URN is rebuilt from the new parent's type (rewriteURNs, since v3.224.0, #21953):
  `<type>::<name>`, and its descendants' chains start from it. Such a resource is a legitimate root of a
  move only if that URN is the new resource's own or one of its aliases (components/shared/contract.py
  moved_from: the new layout took pod security groups, cache users, Velero objects, Grafana views and
  CloudFront front ends out of platform components); otherwise it is an error. Legacy resources are
  matched on their exact path first, then on the path the move gives them, by path or alias (root-level
  aliases in the same stack, and those a child inherits from its parent's, as the engine does in
  step_generator.go generateAliases); a subtree is never split across commands;
- dependencies between moved and remaining resources are dropped from both states (a warning, not an
  error); the new programs express them through the stack reference;
- a URN already in the destination is an error, so the script marks each finished step and skips it on
  a re-run.

What the new layout creates but the cloud already has (ADOPTIONS: a cache user's UserGroupAssociation,
whose membership the legacy UserGroup's userIds held) is `pulumi import`ed into its stack after the
moves (`--file`: a planned import refuses a parent absent from the state, pkg/resource/deploy/step.go,
so the file also creates the new components above it; `--protect=false`, the program's setting).

Exit status: 0 safe, 1 a problem (one line each: a stateful resource replaced, deleted or unprotected, an
ambiguous or impossible move), 2 an unreadable input.
"""

import argparse
import json
import shlex
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog import ConfigError
from planner.rehearsal import FORCE_NEW, UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"
READ_TYPES = frozenset({"pulumi:pulumi:StackReference"})  # read, never created: not a change to preview
MIN_PULUMI = "3.226.0"  # state move keeps copied providers' dependencies consistent since (pulumi/pulumi#22141)
DEFAULT_BATCH = 50  # URNs named per `pulumi state move` (each names a whole subtree)

# Resources that hold data or identity: their physical name and protection must survive the move.
STATEFUL_TYPES = frozenset(
    {
        "aws:rds/instance:Instance",
        "aws:kms/key:Key",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:backup/vault:Vault",
        "kubernetes:core/v1:Namespace",
        "aws:cognito/userPool:UserPool",
        "aws:secretsmanager/secret:Secret",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:dynamodb/table:Table",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:sqs/queue:Queue",
        "aws:sns/topic:Topic",
        "aws:redshiftserverless/namespace:Namespace",
    }
)
# Inputs that name the physical resource (a change is a new resource under another name) ...
NAME_FIELDS = (
    "name",
    "namePrefix",
    "identifier",
    "identifierPrefix",
    "bucket",
    "bucketPrefix",
    "replicationGroupId",
    "metadata.name",
    "metadata.namespace",
)
# ... the inputs the provider cannot change in place (planner.rehearsal.FORCE_NEW, read from
# terraform-provider-aws, which pulumi-aws bridges) ...
# ... and the inputs that keep the data when the resource goes away.
PROTECTION_FIELDS = ("deletionProtection", "skipFinalSnapshot", "finalSnapshotIdentifier", "forceDestroy")
PROTECTION_OPTIONS = ("protect", "retainOnDelete")
SNAPSHOT_OPTIONS = ("protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges")
SECRET = "[secret]"  # planner.mocks.SECRET: a masked value in the plan


@dataclass(frozen=True)
class Adoption:
    """A resource the new layout declares (no legacy counterpart) that already exists in the cloud:
    its stack's first `up` would fail creating it, so the script `pulumi import`s it first."""

    type: str
    id_inputs: tuple[str, ...]  # the plan inputs that make the provider's import id, in order
    separator: str
    witness: str  # type of the legacy resource of the same name, moved to the same stack, proving it exists
    why: str
    id_format: str  # where the provider documents the import id


ADOPTIONS = {
    a.type: a
    for a in (
        Adoption(
            type="aws:elasticache/userGroupAssociation:UserGroupAssociation",
            id_inputs=("userGroupId", "userId"),
            separator=",",
            witness="aws:elasticache/user:User",
            why="the legacy Cache component listed the tenant's user in its UserGroup's userIds: the membership exists",
            id_format="pulumi-aws 7.51.1 elasticache/user_group_association.py, Import: `<user_group_id>,<user_id>`",
        ),
    )
}


@dataclass(frozen=True)
class Resource:
    urn: str  # as the plan records it
    type: str
    path: str  # the engine's URN after the stack segment: <type chain>::<name>
    parent: str | None  # the parent's plan URN, None at the root
    custom: bool
    stack: str
    inputs: Mapping[str, Any] | None  # None: the snapshot does not hold them
    options: Mapping[str, Any] | None
    provider: str | None  # plan URN of the explicit provider
    aliases: tuple[str, ...] = ()  # engine paths of its root-level aliases in its own stack

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_PREFIX)

    @property
    def is_root_stack(self) -> bool:
        return self.type == ROOT_STACK_TYPE

    @property
    def stateful(self) -> bool:
        options = self.options or {}
        return self.type in STATEFUL_TYPES or any(options.get(o) for o in PROTECTION_OPTIONS)


@dataclass(frozen=True)
class Import:
    """One resource to `pulumi import` into `stack` after the moves, with the new components it
    needs as parents (`pulumi import` refuses a parent absent from the stack's state)."""

    stack: str
    resource: Resource
    id: str
    adoption: Adoption
    components: list[Resource]  # created by the import, outermost first
    parent_urn: str | None  # engine URN of a parent already in the state after the moves
    provider_urn: str


@dataclass
class Migration:
    platform: str
    project: str
    region: str
    batch: int
    moved: dict[str, list[Resource]] = field(default_factory=dict)  # destination -> legacy resources
    roots: dict[str, list[Resource]] = field(default_factory=dict)  # destination -> the URNs to name
    staying: list[Resource] = field(default_factory=list)
    providers: list[tuple[Resource, list[str]]] = field(default_factory=list)  # legacy provider, new stacks
    deleted: list[Resource] = field(default_factory=list)
    created: list[Resource] = field(default_factory=list)
    stateful_checked: list[tuple[Resource, Resource]] = field(default_factory=list)
    copied_providers: dict[str, set[str]] = field(default_factory=dict)  # destination -> engine paths
    broken_dependencies: list[tuple[Resource, str]] = field(default_factory=list)
    tenant_stacks: list[str] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def expect_no_changes(self, stack: str) -> bool:
        """Whether the stack's first preview after the moves should show no step at all: nothing
        created or deleted there and no provider reference changing."""
        if any(r.stack == stack for r in self.created):
            return False
        if stack == self.platform:
            return not self.deleted and all(self.platform in stacks for _, stacks in self.providers)
        return not any(n.startswith(f"{stack}: ") and "provider reference changes" in n for n in self.notes)

    def expected_state(self) -> list[dict[str, str]]:
        """The engine URNs (in the source stack) the moves rely on: every named root and every stateful
        resource, moved or staying, must be in the real state under exactly this URN."""
        roots = {r.urn for rs in self.roots.values() for r in rs}
        entries = []
        for dest, moved in sorted(self.moved.items()):
            for r in moved:
                role = "root" if r.urn in roots else "stateful" if r.stateful else "moved"
                entries.append({"urn": engine_urn(self.platform, self.project, r.path), "role": role, "dest": dest})
        for r in self.staying:
            if not r.is_root_stack:
                role = "stateful" if r.stateful else "staying"
                entries.append(
                    {"urn": engine_urn(self.platform, self.project, r.path), "role": role, "dest": self.platform}
                )
        return sorted(entries, key=lambda e: e["urn"])

    def commands(self) -> list[tuple[str, list[str]]]:
        """(destination, engine URNs in the source stack) per `pulumi state move`."""
        result = []
        for dest in sorted(self.roots):
            urns = [engine_urn(self.platform, self.project, r.path) for r in self.roots[dest]]
            result += [(dest, urns[i : i + self.batch]) for i in range(0, len(urns), self.batch)]
        return result


def last_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1]


def engine_urn(stack: str, project: str, path: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{path}"


def _resources(plan: Mapping[str, Any], source: str, default_stack: str) -> list[Resource]:
    """The plan's resources with their engine URN paths (the chain of parent types, as the engine
    builds it in sdk/go/common/resource/urn/urn.go New: the parent's qualified type, then the type)."""
    raw = plan.get("resources")
    if not isinstance(raw, list):
        raise ConfigError(source, "resources", "not a plan (no resource list)")
    by_urn: dict[str, Mapping[str, Any]] = {}
    for i, r in enumerate(raw):
        if not isinstance(r, Mapping) or not all(isinstance(r.get(k), str) for k in ("urn", "type")):
            raise ConfigError(source, f"resources[{i}]", "needs string 'urn' and 'type'")
        by_urn[r["urn"]] = r
    chains: dict[str, str] = {}

    def chain(urn: str, seen: tuple[str, ...] = ()) -> str:
        if urn in chains:
            return chains[urn]
        r = by_urn[urn]
        parent = r.get("parent")
        if r["type"] == ROOT_STACK_TYPE or not parent or last_type(parent) == ROOT_STACK_TYPE:
            qualified = r["type"]
        elif parent not in by_urn or parent in seen:
            raise ConfigError(source, f"{urn}: parent", f"'{parent}' is not a resource of the plan")
        else:
            qualified = f"{chain(parent, (*seen, urn))}${r['type']}"
        chains[urn] = qualified
        return qualified

    result = []
    for urn, r in by_urn.items():
        name = urn.rsplit("::", 1)[-1]
        parent = r.get("parent")
        result.append(
            Resource(
                urn=urn,
                type=r["type"],
                path=f"{chain(urn)}::{name}",
                parent=None if not parent or last_type(parent) == ROOT_STACK_TYPE else parent,
                custom=bool(r.get("custom")),
                stack=str(r.get("stack") or default_stack),
                inputs=r.get("inputs"),
                options=r.get("options"),
                provider=r.get("provider"),
                aliases=_alias_paths(r.get("options"), str(r.get("stack") or default_stack)),
            )
        )
    return result


def _alias_paths(options: Mapping[str, Any] | None, stack: str) -> tuple[str, ...]:
    """The engine paths of a resource's aliases that the plan records exactly: those in its own
    stack whose parent is the root stack (`<type>::<name>`). The plan's mock form of an alias
    under a parent holds only that parent's type, not its chain, so those are left out: an alias
    never counted can only turn a move into a reported problem, never into a silent new URN."""
    paths = []
    for alias in (options or {}).get("aliases") or []:
        if not isinstance(alias, str) or alias.count("::") < 3:
            continue
        prefix, qualified, name = alias.rsplit("::", 2)
        chain = [t for t in qualified.split("$") if t != ROOT_STACK_TYPE]
        if prefix.split("::")[0] == f"urn:pulumi:{stack}" and len(chain) == 1:
            paths.append(f"{chain[0]}::{name}")
    return tuple(sorted(set(paths)))


def qualified_type(path: str) -> str:
    return path.rsplit("::", 1)[0]


def inherited_alias(child: Resource, parent: Resource, parent_alias: str) -> str:
    """The alias the engine gives a child whose parent was found under `parent_alias`
    (pkg/resource/deploy/step_generator.go inheritedChildAlias): the alias's type chain, the
    child's type, and the child's name with the parent's name prefix replaced by the alias's."""
    name = child.name
    if name.startswith(parent.name):
        name = parent_alias.rsplit("::", 1)[1] + name[len(parent.name) :]
    return f"{qualified_type(parent_alias)}${child.type}::{name}"


def _field(inputs: Mapping[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def compare_stateful(old: Resource, new: Resource) -> list[str]:
    """One line per difference that replaces the physical resource or loses a protection."""
    where = f"{new.stack}: {new.path}"
    if old.inputs is None:
        return [f"{where}: stateful but the legacy snapshot holds no inputs: its physical name cannot be compared"]
    problems = []
    force_new = tuple(sorted(FORCE_NEW.get(new.type, set()) - set(NAME_FIELDS)))
    for name in NAME_FIELDS + force_new + PROTECTION_FIELDS:
        before, after = _field(old.inputs, name), _field(new.inputs or {}, name)
        if UNKNOWN in (before, after):
            problems.append(f"{where}: {name} is unknown in the plan: cannot be compared")
        elif before != after:
            what = (
                "physical name changes (a new resource)"
                if name in NAME_FIELDS
                else "forces a replacement"
                if name in force_new
                else "data protection changes"
            )
            problems.append(f"{where}: {name} {json.dumps(before)} -> {json.dumps(after)}: {what}")
    for option in PROTECTION_OPTIONS:
        before, after = bool((old.options or {}).get(option)), bool((new.options or {}).get(option))
        if before and not after:
            problems.append(f"{where}: {option} dropped (was set in the legacy stack)")
    return problems


def plan_migration(legacy: Mapping[str, Any], new: Mapping[str, Any], batch: int = DEFAULT_BATCH) -> Migration:
    """Where every legacy resource goes, the state moves that take it there, and what is unsafe."""
    platform = str(new.get("stack"))
    if legacy.get("stack") != platform:
        raise ConfigError("legacy snapshot", "stack", f"'{legacy.get('stack')}' is not the platform stack '{platform}'")
    stacks = new.get("stacks")
    if not isinstance(stacks, list):
        raise ConfigError("plan", "stacks", "missing: not a combined plan of the new layout")
    kinds = {str(s.get("name")): s.get("kind") for s in stacks if isinstance(s, Mapping)}
    if kinds.get(platform) != "platform":
        raise ConfigError("plan", "stacks", f"'{platform}' is not listed as the platform stack")
    m = Migration(platform, str(new.get("project")), str(new.get("region")), batch)
    m.tenant_stacks = sorted(name for name, kind in kinds.items() if kind == "tenant")

    old = _resources(legacy, "legacy snapshot", platform)
    news = _resources(new, "plan", platform)
    for r in news:
        if r.stack not in kinds:
            raise ConfigError("plan", f"{r.urn}: stack", f"'{r.stack}' is not in the plan's stacks")
    by_path: dict[str, list[Resource]] = defaultdict(list)
    for r in news:
        if not r.is_root_stack:
            by_path[r.path].append(r)
    new_by_urn = {r.urn: r for r in news}
    by_alias = _alias_index(news, new_by_urn)

    home: dict[str, Resource | None] = {}  # legacy URN -> its counterpart in the new layout
    post: dict[str, str] = {}  # legacy URN -> its engine path in its new stack once the moves are done
    for r in sorted(old, key=lambda r: qualified_type(r.path).count("$")):  # parents first
        if r.is_root_stack:
            m.staying.append(r)  # the regional stack's root is the platform stack's root
            continue
        found = by_path.get(r.path, [])
        if r.is_provider:
            # Never moved: `pulumi state move` copies the providers the moved resources use (below).
            m.providers.append((r, sorted({n.stack for n in found})))
            continue
        if not found:
            # Exact path first; then where `pulumi state move` puts it: under its moved parent's new
            # URN, or re-parented to the destination's root, found by path or by alias.
            for candidate in _moved_paths(r, home.get(r.parent) if r.parent else None, post, platform):
                found = list({n.urn: n for n in by_path.get(candidate, []) + by_alias.get(candidate, [])}.values())
                if found:
                    break
        in_stacks = sorted({n.stack for n in found})
        if len(in_stacks) > 1:
            m.errors.append(f"{r.path}: found in {len(in_stacks)} new stacks ({', '.join(in_stacks)}): no single home")
            continue
        home[r.urn] = found[0] if found else None
        if not found:
            m.deleted.append(r)
            if r.stateful:
                m.errors.append(f"{r.path}: stateful {r.type} has no home in the new layout: the next up deletes it")
            continue
        target = found[0]
        # Stateful today, or made stateful by the new layout where the snapshot lets us compare.
        if r.stateful or (target.stateful and r.inputs is not None):
            m.stateful_checked.append((r, target))
            m.errors += compare_stateful(r, target)
        gained = [o for o in PROTECTION_OPTIONS if (target.options or {}).get(o) and not (r.options or {}).get(o)]
        if gained:
            m.notes.append(f"{target.stack}: {r.path}: gains {', '.join(gained)}")
        if target.stack == platform:
            m.staying.append(r)
            post[r.urn] = r.path  # never moved: its URN stays
            if r.path not in _accepted_paths(r, target, home, post):
                m.errors.append(
                    f"{r.path}: stays in {platform} under this URN, which is neither {target.path} nor one of its "
                    "aliases: the next up would replace it"
                )
        else:
            m.moved.setdefault(target.stack, []).append(r)
            post[r.urn] = _post_move_path(r, target, home, post)

    _plan_roots(m, old, home, post)
    _providers_and_dependencies(m, old, home, new_by_urn)

    matched = {(n.stack, n.path) for n in home.values() if n is not None}
    m.created = [
        n
        for n in news
        if not (n.is_root_stack or n.is_provider or n.type in READ_TYPES) and (n.stack, n.path) not in matched
    ]
    # A resource deleted here and created elsewhere under the same type and name is a move whose URN
    # the new program does not know (no alias): the next ups would delete and re-create it.
    created_as = defaultdict(list)
    for n in m.created:
        created_as[(n.type, n.name)].append(n)
    for r in m.deleted:
        for n in created_as.get((r.type, r.name), []):
            m.errors.append(
                f"{r.path}: {n.stack} declares {n.path} with the same type and name, but neither its path nor an "
                f"alias is where `pulumi state move` puts it ({r.type}::{r.name} when moved alone): "
                "the next ups delete it and create a new one"
            )
    # The tenant programs' own providers, unless they take over the copy `pulumi state move` put there.
    m.created += [
        n
        for n in news
        if n.is_provider and n.stack != platform and n.path not in m.copied_providers.get(n.stack, set())
    ]
    platform_providers = {r.path for r, stacks in m.providers if platform in stacks}
    m.created += [n for n in news if n.is_provider and n.stack == platform and n.path not in platform_providers]
    _plan_imports(m, old, home, post, new_by_urn)
    for r, in_stacks in m.providers:
        if platform not in in_stacks:
            m.notes.append(
                f"{r.path}: provider no longer declared by the platform program: removed from its state at the next up (no cloud resource)"
            )
    return m


def _plan_imports(
    m: Migration,
    old: list[Resource],
    home: Mapping[str, Resource | None],
    post: Mapping[str, str],
    new_by_urn: Mapping[str, Resource],
) -> None:
    """The created resources that already exist in the cloud (ADOPTIONS, where the legacy layout
    proves it) become imports, with the new components that parent them; they leave `created`."""
    state_urn = {}  # new URN -> its engine path in its stack's state after the moves
    for r in old:
        target = home.get(r.urn)
        if target is not None and r.urn in post:
            state_urn[target.urn] = post[r.urn]
    moved_names = {(r.type, r.name, t.stack) for r in old if (t := home.get(r.urn)) is not None}
    imported: set[str] = set()
    created = {n.urn for n in m.created}
    for n in m.created:
        adoption = ADOPTIONS.get(n.type)
        if adoption is None or (adoption.witness, n.name, n.stack) not in moved_names:
            continue
        where = f"{n.stack}: {n.path}"
        values = [_field(n.inputs or {}, f) for f in adoption.id_inputs]
        bad = [
            f
            for f, v in zip(adoption.id_inputs, values, strict=True)
            if not isinstance(v, str) or v in (UNKNOWN, SECRET)
        ]
        if bad:
            m.errors.append(
                f"{where}: exists in the cloud ({adoption.why}) but its import id needs {', '.join(bad)}, unknown in the plan"
            )
            continue
        provider = new_by_urn.get(n.provider) if n.provider else None
        if provider is None or provider.path not in m.copied_providers.get(n.stack, set()):
            m.errors.append(
                f"{where}: exists in the cloud ({adoption.why}) but its provider is not in {n.stack}'s state after the moves: "
                "`pulumi import` would create one from no configuration"
            )
            continue
        components: list[Resource] = []
        parent_urn = None
        ancestor = new_by_urn.get(n.parent) if n.parent else None
        while ancestor is not None:
            if ancestor.urn in state_urn:
                parent_urn = engine_urn(n.stack, m.project, state_urn[ancestor.urn])
                break
            if ancestor.custom or ancestor.urn not in created:
                m.errors.append(
                    f"{where}: exists in the cloud but its parent {ancestor.path} will not be in {n.stack}'s state to import it under"
                )
                break
            components.insert(0, ancestor)
            ancestor = new_by_urn.get(ancestor.parent) if ancestor.parent else None
        else:
            m.imports.append(
                Import(
                    n.stack,
                    n,
                    adoption.separator.join(str(v) for v in values),
                    adoption,
                    components,
                    parent_urn,
                    engine_urn(n.stack, m.project, provider.path),
                )
            )
            imported |= {n.urn, *(c.urn for c in components)}
    m.created = [n for n in m.created if n.urn not in imported]


def import_file(m: Migration, stack: str) -> dict[str, Any]:
    """The `pulumi import --file` document of a stack (pkg/cmd/pulumi/operations/import.go importFile:
    nameTable of existing parents and providers, resources by name; a `component` entry creates a
    parent component in the same import, pulumi v3.94.0+)."""
    names: dict[str, str] = {}  # key -> what it names (URN or new URN)
    key_of: dict[str, str] = {}

    def key(urn: str, wanted: str) -> str:
        if urn not in key_of:
            candidate, i = wanted, 2
            while candidate in names:
                candidate, i = f"{wanted}-{i}", i + 1
            names[candidate], key_of[urn] = urn, candidate
        return key_of[urn]

    name_table: dict[str, str] = {}
    resources: list[dict[str, Any]] = []
    for imp in (i for i in m.imports if i.stack == stack):
        provider = key(imp.provider_urn, imp.provider_urn.rsplit("::", 1)[1])
        name_table[provider] = imp.provider_urn
        parent = key(imp.parent_urn, "parent-" + imp.parent_urn.rsplit("::", 1)[1]) if imp.parent_urn else None
        if imp.parent_urn and parent:
            name_table[parent] = imp.parent_urn
        for c in imp.components:
            if c.urn in key_of:
                parent = key_of[c.urn]
                continue
            entry: dict[str, Any] = {
                "type": c.type,
                "name": key(c.urn, c.name),
                "logicalName": c.name,
                "component": True,
            }
            if parent:
                entry["parent"] = parent
            resources.append(entry)
            parent = key_of[c.urn]
        entry = {
            "type": imp.resource.type,
            "name": key(imp.resource.urn, imp.resource.name),
            "logicalName": imp.resource.name,
            "id": imp.id,
            "provider": provider,
        }
        if parent:
            entry["parent"] = parent
        resources.append(entry)
    return {"nameTable": dict(sorted(name_table.items())), "resources": resources}


def _alias_index(news: list[Resource], by_urn: Mapping[str, Resource]) -> dict[str, list[Resource]]:
    """Engine path -> the new resources that path is an alias of: their own root-level aliases, and
    the aliases the engine derives for a child from each of its parent's (inherited_alias)."""
    every: dict[str, tuple[str, ...]] = {}

    def aliases(n: Resource) -> tuple[str, ...]:
        if n.urn not in every:
            parent = by_urn.get(n.parent) if n.parent else None
            inherited = tuple(inherited_alias(n, parent, a) for a in aliases(parent)) if parent else ()
            every[n.urn] = n.aliases + inherited
        return every[n.urn]

    index: dict[str, list[Resource]] = defaultdict(list)
    for n in news:
        for alias in aliases(n):
            if alias != n.path:
                index[alias].append(n)
    return index


def _moved_paths(r: Resource, parent_home: Resource | None, post: Mapping[str, str], platform: str) -> list[str]:
    """Where `pulumi state move` can put a legacy resource that has no new resource at its own path
    (pulumi v3.259.0 state_move.go rewriteURNs: the URN is rebuilt from its new parent's type): under
    its parent, if that moves to a tenant stack, or at the destination's root, if it moves alone."""
    candidates = []
    if r.parent and parent_home is not None and parent_home.stack != platform and r.parent in post:
        candidates.append(f"{qualified_type(post[r.parent])}${r.type}::{r.name}")
    if r.parent:
        candidates.append(f"{r.type}::{r.name}")
    return candidates


def _post_move_path(r: Resource, target: Resource, home: Mapping[str, Resource | None], post: Mapping[str, str]) -> str:
    """The engine path of a moved legacy resource in its destination: under its parent's new URN if
    the parent moves to the same stack, otherwise re-parented to the destination's root."""
    if r.parent is None:
        return r.path
    parent_home = home.get(r.parent)
    if parent_home is not None and parent_home.stack == target.stack and r.parent in post:
        return f"{qualified_type(post[r.parent])}${r.type}::{r.name}"
    return f"{r.type}::{r.name}"


def _accepted_paths(
    r: Resource, target: Resource, home: Mapping[str, Resource | None], post: Mapping[str, str]
) -> set[str]:
    """The URNs (engine paths) under which the new program finds `target` in its stack's state: its
    own, its root-level aliases, and the alias inherited from the one its parent is found under."""
    accepted = {target.path, *target.aliases}
    if r.parent is None:
        return accepted
    parent_home = home.get(r.parent)
    if parent_home is not None and parent_home.stack == target.stack and r.parent in post:
        parent_found_as = post[r.parent]
        if parent_found_as != parent_home.path and target.parent == parent_home.urn:
            accepted.add(inherited_alias(target, parent_home, parent_found_as))
    return accepted


def _plan_roots(
    m: Migration,
    old: list[Resource],
    home: Mapping[str, Resource | None],
    post: Mapping[str, str],
) -> None:
    """Name only the roots of moved subtrees; `pulumi state move` takes every descendant along and
    re-parents to the destination's root whatever moves without its parent. Every moved resource
    must land under a URN its new program finds it by (its path or an alias)."""
    dest_of = {urn: (n.stack if n is not None else None) for urn, n in home.items()}
    children: dict[str, list[Resource]] = defaultdict(list)
    for r in old:
        if r.parent:
            children[r.parent].append(r)

    def descendants(urn: str) -> Iterable[Resource]:
        for child in children.get(urn, []):
            yield child
            yield from descendants(child.urn)

    for dest, moved in m.moved.items():
        roots = []
        for r in moved:
            parent_dest = dest_of.get(r.parent) if r.parent else None
            target = home[r.urn]
            assert target is not None
            lands = post[r.urn] in _accepted_paths(r, target, home, post)
            if r.parent is None or parent_dest != dest:
                roots.append(r)
            if lands:
                continue
            if r.parent is not None and parent_dest != dest:
                where = parent_dest or ("no home" if r.parent in dest_of else "no single home")
                m.errors.append(
                    f"{r.path}: belongs to {dest} but its parent goes to {where}: `pulumi state move` would "
                    f"re-parent it to the root as {post[r.urn]}, which is neither {target.path} nor one of its aliases"
                )
            else:
                m.errors.append(
                    f"{r.path}: moves to {dest} as {post[r.urn]}, which is neither {target.path} "
                    "nor one of its aliases: the next up would replace it"
                )
        for root in roots:
            for d in descendants(root.urn):
                if d.is_provider or dest_of.get(d.urn) == dest:
                    continue
                if d.urn in dest_of and dest_of[d.urn] is None:
                    m.notes.append(f"{d.path}: moves to {dest} with its parent, then its next up deletes it (no home)")
                elif d.urn in dest_of:
                    m.errors.append(
                        f"{d.path}: belongs to {dest_of[d.urn]} but its parent {root.path} moves to {dest}: "
                        "`pulumi state move` takes every child along"
                    )
        m.roots[dest] = sorted(roots, key=lambda r: r.path)


def _providers_and_dependencies(
    m: Migration, old: list[Resource], home: Mapping[str, Resource | None], new_by_urn: Mapping[str, Resource]
) -> None:
    old_by_urn = {r.urn: r for r in old}
    dest_of = {urn: (n.stack if n is not None else None) for urn, n in home.items()}
    switches: Counter[tuple[str, str, str]] = Counter()
    for dest, moved in m.moved.items():
        copies = m.copied_providers.setdefault(dest, set())
        for r in moved:
            target = home[r.urn]
            assert target is not None
            # The provider the engine will diff against at the first up of the destination.
            provider = new_by_urn.get(target.provider) if target.provider else None
            if provider is not None and provider.type == "pulumi:providers:aws":
                region = (provider.inputs or {}).get("region")
                if isinstance(region, str) and region != m.region:
                    m.errors.append(
                        f"{target.path}: its provider {provider.path} in {dest} targets {region}, not {m.region}: "
                        "the new provider's DiffConfig replaces every resource using it"
                    )
            if r.provider and r.provider in old_by_urn:
                legacy_provider = old_by_urn[r.provider]
                # Copied to the root of the destination unless the provider's parent moves there too.
                parent_moves = legacy_provider.parent and dest_of.get(legacy_provider.parent) == dest
                copied = legacy_provider.path if parent_moves else legacy_provider.path.rsplit("$", 1)[-1]
                copies.add(copied)
                if provider is not None and provider.path != copied:
                    switches[(dest, copied, provider.path)] += 1
            for dep in (r.options or {}).get("dependsOn") or []:
                if dest_of.get(dep) != dest and dep in old_by_urn and not old_by_urn[dep].is_provider:
                    m.broken_dependencies.append((r, old_by_urn[dep].path))
    for (dest, copied, path), count in sorted(switches.items()):
        m.notes.append(
            f"{dest}: provider reference changes from the copied {copied} to {path} for {count} resources: "
            "no replacement unless the new provider's DiffConfig reports one (pulumi preview shows it)"
        )


def render_script(m: Migration, legacy_source: str, plan_source: str) -> str:
    q = shlex.quote
    tenant_stacks = sorted(set(m.tenant_stacks) | set(m.roots))
    lines = [
        "#!/usr/bin/env bash",
        f"# Moves the tenants' resources out of the regional stack {m.platform} into their tenant stacks.",
        f"# Generated by `python -m planner.migrate --stack {m.platform}` from {plan_source} and {legacy_source};",
        "# regenerate it, do not edit it. Runbook: docs/migration.md. Run from the project directory with",
        "# deploys frozen. Each finished step is marked under $MIGRATION_DIR/done, so a re-run after a failure",
        "# resumes where it stopped (a second `pulumi state move` of the same URNs would fail).",
        "set -euo pipefail",
        "",
        f'MIGRATION_DIR="${{MIGRATION_DIR:-build/{m.platform}/migration}}"',
        'PYTHON="${PYTHON:-.venv/bin/python}"',
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"  # where this script and expected-urns.json are',
        'mkdir -p "$MIGRATION_DIR/done" "$MIGRATION_DIR/backup"',
        "",
        "step() {  # step <id> <command...>: run once",
        '  local id="$1"; shift',
        '  if [[ -e "$MIGRATION_DIR/done/$id" ]]; then echo "== $id: done before, skipped"; return 0; fi',
        '  echo "== $id"',
        '  "$@"',
        '  touch "$MIGRATION_DIR/done/$id"',
        "}",
        "",
        "# 0. `pulumi state move` copies the kubernetes provider, which depends on the cluster left in the",
        f"#    platform stack: CLIs before v{MIN_PULUMI} fail the destination's integrity check (pulumi/pulumi#22093).",
        'version="$(pulumi version)"; version="${version#v}"',
        f"if ! printf '%s\\n%s\\n' {MIN_PULUMI} \"$version\" | sort -V -C; then",
        f'  echo "pulumi $version is older than {MIN_PULUMI}: upgrade the CLI first" >&2; exit 1',
        "fi",
        "",
        "# 1. Back up the source stack's state once (pulumi stack import --file restores it).",
        f'step backup-{m.platform} pulumi stack export --stack {q(m.platform)} --file "$MIGRATION_DIR/backup/{m.platform}.json"',
        "#    The state must hold every URN the moves name and every stateful resource, as the plan computed",
        "#    them (state move only warns about a URN it does not find, and moves the others).",
        f'"$PYTHON" -m planner.migrate --check-state "$MIGRATION_DIR/backup/{m.platform}.json" --expected "$HERE/expected-urns.json"',
        "",
        "# 2. Create (or select) every tenant stack and write its derived Pulumi.<stack>.yaml.",
    ]
    for stack in tenant_stacks:
        lines.append(f'step stack-{stack} "$PYTHON" -m planner.fleet materialize --stack {q(stack)}')
    lines += [
        "",
        "# 3. Move each tenant's resources (named: the roots of moved subtrees; their children move with",
        "#    them; providers are copied by pulumi, never named).",
    ]
    for n, (dest, urns) in enumerate(m.commands(), start=1):
        lines.append(f"step move-{n:03d}-{dest} pulumi state move --source {q(m.platform)} --dest {q(dest)} --yes \\")
        lines += [f"  {q(u)}" + (" \\" if i < len(urns) - 1 else "") for i, u in enumerate(urns)]
    lines += [
        "",
        "# 4. Import what the new layout declares and the cloud already has (planner.migrate ADOPTIONS):",
        "#    the stack's first up would fail creating it. The file also creates the new components that",
        "#    parent it (pulumi import refuses a parent absent from the state); an entry already in the",
        "#    state with the same id is skipped by pulumi.",
    ]
    for stack in sorted({i.stack for i in m.imports}):
        lines.append(
            f'step import-{stack} pulumi import --stack {q(stack)} --file "$HERE/imports/{stack}.json" '
            "--protect=false --generate-code=false --yes"
        )
    if not m.imports:
        lines.append("#    (nothing to import)")
    lines += [
        "",
        "# 5. Preview the platform stack, deploy it (its contract output), then preview every tenant stack:",
        "#    no stateful resource may be replaced, deleted or unprotected (planner.migrate --check-preview);",
        "#    --expect-no-changes where the report predicts none.",
        "preview() {  # preview <stack> [pulumi preview flags...]",
        '  local stack="$1"; shift',
        '  local out="$MIGRATION_DIR/preview-$stack.json" rc=0 flag flags=()',
        '  for flag in "$@"; do  # EXPECT_NO_CHANGES=0: a provider update was reviewed and is expected',
        '    [[ "$flag" == --expect-no-changes && "${EXPECT_NO_CHANGES:-1}" == 0 ]] || flags+=("$flag")',
        "  done",
        '  echo "== preview $stack ${flags[*]+${flags[*]}}"',
        '  pulumi preview --stack "$stack" --json ${flags[@]+"${flags[@]}"} > "$out" || rc=$?',
        '  "$PYTHON" -m planner.migrate --check-preview "$out"',
        '  return "$rc"',
        "}",
    ]
    lines.append(f"preview {q(m.platform)}" + (" --expect-no-changes" if m.expect_no_changes(m.platform) else ""))
    lines += [
        "# The tenant stacks read the platform's `contract` output, which the one-stack program never",
        "# exported: until the platform's first up of the split their previews would see every contract",
        "# value unknown (shown as replacements). Its preview above is clean, so deploy it first.",
        f"step up-{m.platform} pulumi up --stack {q(m.platform)} --yes",
    ]
    for stack in tenant_stacks:
        lines.append(f"preview {q(stack)}" + (" --expect-no-changes" if m.expect_no_changes(stack) else ""))
    lines += [
        'echo "moves done and previews clean: resume deploys (docs/migration.md, step 6)"',
        "",
    ]
    return "\n".join(lines)


def render_report(m: Migration) -> str:
    moved_count = sum(len(v) for v in m.moved.values())
    lines = [
        f"# Migration of {m.platform} to the platform + tenant stack layout",
        "",
        f"Verdict: {'BLOCKED, ' + str(len(m.errors)) + ' problem(s)' if m.errors else 'safe to run state-moves.sh'}",
        "",
        f"- moved: {moved_count} resources into {len(m.moved)} tenant stacks, {len(m.commands())} `pulumi state move` commands",
        f"- staying in {m.platform}: {len(m.staying)}",
        f"- providers (copied by the moves, never moved): {len(m.providers)}",
        f"- no home in the new layout (the next up DELETES them): {len(m.deleted)}",
        f"- new in the new layout (the next up CREATES them): {len(m.created)}",
        f"- imported before the first up (exist in the cloud, new to pulumi): {len(m.imports)}",
        f"- stateful resources compared (physical name and protection): {len(m.stateful_checked)}",
        "",
    ]
    if m.errors:
        lines += ["## Problems", "", *[f"- {e}" for e in m.errors], ""]
    lines += [
        "## Moved, by destination",
        "",
        "| stack | resources | named roots | stateful | providers copied |",
        "|---|---|---|---|---|",
    ]
    for dest in sorted(m.moved):
        stateful = sum(1 for r in m.moved[dest] if r.stateful)
        copies = ", ".join(sorted(m.copied_providers.get(dest, ()))) or "none recorded"
        lines.append(f"| {dest} | {len(m.moved[dest])} | {len(m.roots.get(dest, []))} | {stateful} | {copies} |")
    lines += ["", f"## Staying in {m.platform}, by type", ""]
    lines += [f"- {count} x {typ}" for typ, count in sorted(Counter(r.type for r in m.staying).items())] or ["- none"]
    lines += ["", "## Providers (never moved: each move copies the ones its resources use)", ""]
    lines += [f"- `{r.path}`: declared by {', '.join(stacks) or 'no new stack'}" for r, stacks in m.providers] or [
        "- none"
    ]
    lines += ["", "## Deleted (no new home)", ""]
    lines += [f"- {r.type} `{r.path}`{' (STATEFUL)' if r.stateful else ''}" for r in m.deleted] or ["- none"]
    lines += ["", "## Created (no legacy counterpart), by stack and type", ""]
    created = Counter((r.stack, r.type) for r in m.created)
    lines += [f"- {stack}: {count} x {typ}" for (stack, typ), count in sorted(created.items())] or ["- none"]
    lines += ["", "## Imported (`pulumi import` after the moves, before the first up)", ""]
    if m.imports:
        lines += ["| stack | type | name | import id | components created with it |", "|---|---|---|---|---|"]
        for imp in sorted(m.imports, key=lambda i: (i.stack, i.resource.path)):
            components = ", ".join(f"`{c.path}`" for c in imp.components) or "none"
            lines.append(f"| {imp.stack} | {imp.resource.type} | {imp.resource.name} | `{imp.id}` | {components} |")
    else:
        lines.append("- none")
    lines += ["", "Declared in planner/migrate.py ADOPTIONS (created by the new layout, already in the cloud):", ""]
    lines += [
        f"- {a.type}, when the legacy {a.witness} of the same name moves to the same stack: {a.why}; "
        f"id {' + '.join(a.id_inputs)} joined by `{a.separator}` ({a.id_format})"
        for a in ADOPTIONS.values()
    ]
    lines += ["", "## Stateful resources: physical name and protection before -> after", ""]
    lines += ["| stack | type | URN path | names | protect / retainOnDelete |", "|---|---|---|---|---|"]
    for old, new in sorted(m.stateful_checked, key=lambda p: (p[1].stack, p[1].path)):
        names = ", ".join(
            f"{f}={_field(new.inputs or {}, f)}" for f in NAME_FIELDS if _field(new.inputs or {}, f) is not None
        )
        flags = "/".join(str(bool((new.options or {}).get(o))).lower() for o in PROTECTION_OPTIONS)
        ok = "" if not compare_stateful(old, new) else " **differs**"
        lines.append(f"| {new.stack} | {new.type} | `{new.path}` | {names}{ok} | {flags} |")
    if m.broken_dependencies:
        lines += ["", f"## Dependencies `pulumi state move` drops ({len(m.broken_dependencies)})", ""]
        lines += [f"- `{r.path}` on `{dep}`" for r, dep in m.broken_dependencies[:50]]
    if m.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in m.notes]]
    return "\n".join(lines) + "\n"


def legacy_snapshot(plan: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The legacy-layout snapshot of a plan (tests/fixtures/legacy-layout/): every resource's
    identity, and the inputs and options of the stateful ones. Write it from the layout deployed
    today before the split is merged; the migration is checked against it."""
    resources = []
    for r in plan["resources"]:
        entry = {k: r.get(k) for k in ("urn", "type", "parent", "custom", "tenant", "provider")}
        options = r.get("options") or {}
        if r["type"] in STATEFUL_TYPES or any(options.get(o) for o in PROTECTION_OPTIONS):
            entry["inputs"] = r.get("inputs") or {}
            entry["options"] = {k: options.get(k) for k in SNAPSHOT_OPTIONS}
        resources.append(entry)
    return {
        "project": plan["project"],
        "stack": plan["stack"],
        "region": plan["region"],
        "source": source,
        "resources": sorted(resources, key=lambda r: r["urn"]),
    }


def check_state(export: Mapping[str, Any], expected: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, notes): the expected URNs missing from a `pulumi stack export` (apitype
    UntypedDeployment: deployment.resources[].urn). A named root or a stateful resource missing is a
    problem; another resource missing is a note (the state differs from the legacy plan)."""
    deployment = export.get("deployment")
    resources = deployment.get("resources") if isinstance(deployment, Mapping) else None
    if not isinstance(resources, list):
        raise ConfigError("stack export", "deployment.resources", "missing: not a `pulumi stack export` file")
    present = {r.get("urn") for r in resources if isinstance(r, Mapping)}
    problems, notes = [], []
    for entry in expected.get("urns") or []:
        if entry["urn"] in present:
            continue
        line = f"{entry['urn']} ({entry['role']}, for {entry['dest']}) is not in the state"
        (problems if entry["role"] in ("root", "stateful") else notes).append(line)
    return problems, notes


REPLACING_OPS = frozenset({"delete", "replace", "create-replacement", "delete-replaced", "discard-replaced"})


def check_preview(digest: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, notes) of a `pulumi preview --json` digest (pkg/display/json.go PreviewDigest: steps
    with op, urn, oldState/newState as apitype.ResourceV3): a stateful resource replaced, deleted or
    losing protect/retainOnDelete is a problem; any other delete or replace is a note."""
    problems, notes = [], []
    for step in digest.get("steps") or []:
        if not isinstance(step, Mapping):
            continue
        op, urn = str(step.get("op")), str(step.get("urn"))
        old, new = step.get("oldState") or {}, step.get("newState") or {}
        typ = str(old.get("type") or new.get("type") or (last_type(urn) if urn.count("::") >= 3 else ""))
        stateful = typ in STATEFUL_TYPES or any(old.get(o) or new.get(o) for o in PROTECTION_OPTIONS)
        if op in REPLACING_OPS:
            reasons = ", ".join(str(r) for r in step.get("replaceReasons") or [])
            line = f"{urn}: {op}" + (f" (replace reasons: {reasons})" if reasons else "")
            (problems if stateful and not typ.startswith(PROVIDER_PREFIX) else notes).append(line)
        for option in PROTECTION_OPTIONS:
            if old.get(option) and new and not new.get(option):
                problems.append(f"{urn}: {option} dropped")
    return problems, notes


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(str(path), "(document)", f"cannot be read as JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(str(path), "(document)", "not a JSON object")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m planner.migrate", description="State moves from the regional stack into tenant stacks."
    )
    parser.add_argument("--stack", help="the platform stack (today's regional stack)")
    parser.add_argument("--legacy", help="legacy-layout snapshot (default tests/fixtures/legacy-layout/<stack>.json)")
    parser.add_argument("--plan", help="combined plan of the new layout (default: planned now, as `make plan` does)")
    parser.add_argument("--out", help="output folder (default build/<stack>/migration)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="URNs named per `pulumi state move`")
    parser.add_argument(
        "--write-legacy-snapshot", metavar="FILE", help="write the snapshot of the current program's plan and stop"
    )
    parser.add_argument(
        "--check-preview",
        nargs="+",
        metavar="FILE",
        help="check `pulumi preview --json` outputs: exit 1 if a stateful resource is replaced, deleted or unprotected",
    )
    parser.add_argument(
        "--check-state",
        metavar="EXPORT",
        help="check a `pulumi stack export` holds every URN of --expected (written next to state-moves.sh)",
    )
    parser.add_argument("--expected", metavar="FILE", help="expected-urns.json, with --check-state")
    args = parser.parse_args(argv)
    if args.check_state:
        if not args.expected:
            parser.error("--check-state needs --expected")
        return _check_state(args.check_state, args.expected)
    if args.check_preview:
        return _check_previews(args.check_preview)
    if not args.stack:
        parser.error("--stack is required")
    try:
        if args.batch < 1:
            raise ConfigError("--batch", "(value)", "must be at least 1")
        if args.write_legacy_snapshot:
            from planner.runner import build_plan

            snapshot = legacy_snapshot(
                build_plan(args.stack), f"python -m planner.migrate --write-legacy-snapshot ({args.stack})"
            )
            Path(args.write_legacy_snapshot).write_text(
                json.dumps(snapshot, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8"
            )
            print(f"Wrote {args.write_legacy_snapshot}")
            return 0
        legacy_path = Path(args.legacy or ROOT / "tests" / "fixtures" / "legacy-layout" / f"{args.stack}.json")
        legacy = _read_json(legacy_path)
        if args.plan:
            plan, plan_source = _read_json(Path(args.plan)), args.plan
        else:
            from planner.runner import build_plan

            plan, plan_source = build_plan(args.stack), f"the offline plan of {args.stack}"
        if plan.get("stack") != args.stack:
            raise ConfigError(plan_source, "stack", f"'{plan.get('stack')}' is not '{args.stack}'")
        migration = plan_migration(legacy, plan, args.batch)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out or ROOT / "build" / args.stack / "migration")
    out.mkdir(parents=True, exist_ok=True)
    script = out / "state-moves.sh"
    script.write_text(render_script(migration, str(legacy_path), plan_source), encoding="utf-8")
    script.chmod(0o755)
    (out / "report.md").write_text(render_report(migration), encoding="utf-8")
    expected = {"platform": migration.platform, "urns": migration.expected_state()}
    (out / "expected-urns.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    for stack in sorted({i.stack for i in migration.imports}):
        (out / "imports").mkdir(exist_ok=True)
        (out / "imports" / f"{stack}.json").write_text(
            json.dumps(import_file(migration, stack), indent=1) + "\n", encoding="utf-8"
        )
    for error in migration.errors:
        print(f"error: {error}", file=sys.stderr)
    moved = sum(len(v) for v in migration.moved.values())
    print(
        f"{args.stack}: {moved} moved into {len(migration.moved)} tenant stacks, {len(migration.staying)} staying, "
        f"{len(migration.deleted)} deleted, {len(migration.created)} created, {len(migration.imports)} imported, "
        f"{len(migration.stateful_checked)} stateful compared; wrote {script} and {out / 'report.md'}"
    )
    return 1 if migration.errors else 0


def _check_state(export: str, expected: str) -> int:
    try:
        problems, notes = check_state(_read_json(Path(export)), _read_json(Path(expected)))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"{export}: note: {note}")
    for problem in problems:
        print(f"error: {export}: {problem}", file=sys.stderr)
    print(f"{export}: {'BLOCKED' if problems else 'every URN the moves rely on is in the state'}")
    return 1 if problems else 0


def _check_previews(files: list[str]) -> int:
    failed = False
    for file in files:
        try:
            problems, notes = check_preview(_read_json(Path(file)))
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for note in notes:
            print(f"{file}: note: {note}")
        for problem in problems:
            print(f"error: {file}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        print(f"{file}: {'BLOCKED' if problems else 'no stateful resource replaced, deleted or unprotected'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
