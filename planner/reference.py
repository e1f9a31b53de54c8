"""Reference pages generated from code (`make docs`), so they cannot drift from it: the tier table
(docs/tiers.md, from catalog/tiers.py) and the anatomy of each kind of stack (docs/anatomy.md, from
the dev plan and each component's docstring)."""

import dataclasses
import importlib
import inspect
import pkgutil
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pulumi

import components
from catalog.tiers import TIERS, Tier, for_environment

COMPONENT_PREFIX = "platform:index:"


def _flatten(value: object, prefix: str = "") -> list[tuple[str, object]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        rows: list[tuple[str, object]] = []
        for f in dataclasses.fields(value):
            rows += _flatten(getattr(value, f.name), f"{prefix}{f.name}.")
        return rows
    return [(prefix.rstrip("."), value)]


def _show(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "—"  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return f"{value:,}" if isinstance(value, int) else str(value)


def tier_table() -> str:
    tiers: list[Tier] = list(TIERS.values())
    columns = [t.name for t in tiers]
    rows = {name: [] for name, _ in _flatten(tiers[0]) if name != "name"}  # type: dict[str, list[str]]
    for tier in tiers:
        for name, value in _flatten(tier):
            if name != "name":
                rows[name].append(_show(value))
    production = {t.name: _show(for_environment(t, "prod").database.multi_az) for t in tiers}
    lines = [
        "# Tiers",
        "",
        "Generated from `catalog/tiers.py` (`make docs`); do not edit by hand. One column per tier; a",
        "tenant's `overrides` may only strengthen its tier, and production adds what seed 004 demands",
        "of every tier (`for_environment`).",
        "",
        f"| field | {' | '.join(columns)} |",
        f"|---|{'---|' * len(columns)}",
        *(f"| `{name}` | {' | '.join(values)} |" for name, values in rows.items()),
        f"| `database.multi_az` in production | {' | '.join(production[c] for c in columns)} |",
        "",
    ]
    return "\n".join(lines)


def component_classes() -> dict[str, type[pulumi.ComponentResource]]:
    """Type token -> the ComponentResource class registering it, across components/."""
    found: dict[str, type[pulumi.ComponentResource]] = {}
    for info in pkgutil.walk_packages(components.__path__, f"{components.__name__}."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == module.__name__:
                found[f"{COMPONENT_PREFIX}{cls.__name__}"] = cls
    return found


def _summary(cls: type | None) -> str:
    """The class's own docstring, else its module's: the first paragraph."""
    if cls is None:
        return ""
    doc = cls.__dict__.get("__doc__") or sys.modules[cls.__module__].__doc__
    if not doc:
        return ""
    first = " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split())
    return first.replace("|", "\\|")


def _tree(plan: Mapping[str, Any], stack: str, classes: Mapping[str, type]) -> list[str]:
    resources = [r for r in plan["resources"] if r.get("stack", plan["stack"]) == stack]
    by_urn = {r["urn"]: r for r in resources}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in resources:
        children.setdefault(r["parent"] if r["parent"] in by_urn else None, []).append(r)

    def size(urn: str) -> int:
        return sum(1 + size(c["urn"]) for c in children.get(urn, []))

    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        kinds = [r for r in children.get(parent, []) if r["type"].startswith(COMPONENT_PREFIX)]
        seen: Counter[str] = Counter(r["type"] for r in kinds)
        done: set[str] = set()
        for r in sorted(kinds, key=lambda r: r["name"]):
            if r["type"] in done:
                continue
            done.add(r["type"])
            noun = r["type"][len(COMPONENT_PREFIX) :]
            times = f" x{seen[r['type']]}" if seen[r["type"]] > 1 else ""
            resources_in = sum(size(k["urn"]) for k in kinds if k["type"] == r["type"])
            lines.append(
                f"{'  ' * depth}- **{noun}**{times} ({resources_in} resources) — {_summary(classes.get(r['type']))}"
            )
            walk(r["urn"], depth + 1)

    walk(None, 0)
    loose = Counter(r["type"] for r in children.get(None, []) if not r["type"].startswith(COMPONENT_PREFIX))
    if loose:
        lines.append(f"- outside components: {', '.join(f'{t} x{n}' for t, n in sorted(loose.items()))}")
    return lines


def anatomy(plan: Mapping[str, Any]) -> str:
    """The components of the plan's platform stack and of each tenant stack (one per tier),
    with their own docstrings, nested as they are built."""
    classes = component_classes()
    stacks = plan.get("stacks") or []
    platform = next(s for s in stacks if s["kind"] == "platform")
    tiers: dict[str, str] = {}
    for r in plan["resources"]:
        tags = r["inputs"].get("tags") or {}
        if r.get("tenant") and isinstance(tags, dict) and isinstance(tags.get("tier"), str):
            tiers.setdefault(r["tenant"], tags["tier"])
    lines = [
        "# Anatomy of the stacks",
        "",
        f"Generated by `make docs` from the offline plan of `{plan['stack']}` and each component's",
        "docstring; do not edit by hand. Counts are resources inside each component in that plan.",
        "",
        f"## Platform stack `{platform['name']}` ({platform['resources']} resources)",
        "",
        *_tree(plan, platform["name"], classes),
        "",
    ]
    for s in sorted((s for s in stacks if s["kind"] == "tenant"), key=lambda s: s["name"]):
        lines += [
            f"## Tenant stack `{s['name']}` ({tiers.get(s['tenant'], '?')} tier, {s['resources']} resources)",
            "",
            *_tree(plan, s["name"], classes),
            "",
        ]
    return "\n".join(lines)
