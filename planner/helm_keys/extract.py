"""Key lists of a Helm chart's values.yaml: which value paths exist, and under which any key is allowed.

    python planner/helm_keys/extract.py <chart-key> <values.yaml> <source> [--chart-yaml Chart.yaml]

writes planner/helm_keys/<chart-key>.json with the chart name and version pinned in
components/shared/versions.py, `source` (owner/repo@tag:path, as given), `paths` (dotted path of every
mapping key in values.yaml; a list is a leaf) and `open` (paths under which any key is allowed:
empty or null defaults, free-form maps such as annotations or resources, config blobs, and the
aliases of sub-chart dependencies read from --chart-yaml). Only key names are written, never
default values. Istio charts keep their defaults under `_internal_defaults_do_not_set`, which
users do not write: the prefix is stripped.

`check_values(values, keys)` lists the paths of a values mapping that the chart does not have."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ISTIO_PREFIX = "_internal_defaults_do_not_set"

# Key names that are free-form maps by Kubernetes or chart convention, wherever they appear.
FREE_FORM = frozenset(
    {
        "affinity",
        "annotations",
        "commonAnnotations",
        "commonLabels",
        "containerSecurityContext",
        "env",
        "extraArgs",
        "extraLabels",
        "labels",
        "limits",
        "nodeSelector",
        "podAnnotations",
        "podLabels",
        "podSecurityContext",
        "requests",
        "resources",
        "securityContext",
        "selector",
        "serviceAnnotations",
        "serviceLabels",
    }
)

# Documented free-form blocks per chart: rendered with toYaml into a config file or object, so any
# key of the upstream program's configuration is accepted there.
CHART_OPEN: dict[str, tuple[str, ...]] = {
    "istiod": ("meshConfig",),
    "loki": (
        "loki.analytics",
        "loki.commonConfig",
        "loki.compactor",
        "loki.distributor",
        "loki.frontend",
        "loki.frontend_worker",
        "loki.index_gateway",
        "loki.ingester",
        "loki.limits_config",
        "loki.memberlistConfig",
        "loki.pattern_ingester",
        "loki.querier",
        "loki.query_range",
        "loki.query_scheduler",
        "loki.rulerConfig",
        "loki.runtimeConfig",
        "loki.server",
        "loki.storage_config",
        "loki.structuredConfig",
        "loki.tracing",
    ),
    "tempo": ("overrides", "per_tenant_overrides", "server"),
    "mimir": ("mimir.structuredConfig", "runtimeConfig"),
    "grafana": (
        "alerting",
        "dashboardProviders",
        "dashboards",
        "datasources",
        "envValueFrom",
        "grafana.ini",
        "notifiers",
    ),
    "nginx-ingress": ("controller.config.entries",),
    "velero": ("configuration.backupStorageLocation", "configuration.volumeSnapshotLocation", "schedules"),
}

# Read by the chart's templates but absent from values.yaml's defaults (evidence: the template line
# in the chart), so they are real keys: added to `paths` and `open`.
TEMPLATE_READ: dict[str, tuple[str, ...]] = {
    # tempo-distributed values.yaml `config:` template: `toYaml .Values.storage.trace.s3` (and gcs, azure).
    "tempo": ("storage.trace.s3", "storage.trace.gcs", "storage.trace.azure"),
    # nginx-ingress values.yaml documents these commented out; templates/controller-deployment.yaml
    # reads .Values.controller.nodeSelector, _helpers.tpl .Values.controller.serviceAccount.name.
    "nginx-ingress": ("controller.nodeSelector", "controller.serviceAccount.name"),
    # loki values.yaml `# bucketNames:`; _helpers.tpl requires loki.storage.bucketNames.chunks/.ruler.
    "loki": ("loki.storage.bucketNames",),
    # grafana values.yaml `# ingressClassName: nginx`; templates/ingress.yaml reads it.
    "grafana": ("ingress.ingressClassName",),
}

# Istio charts copy everything under a legacy prefix to the top level (templates/zzy_descope_legacy.yaml:
# `mustMergeOverwrite $.Values (index $.Values "pilot")`), so `<prefix>.<path>` is as valid as `<path>`.
LEGACY_PREFIX: dict[str, str] = {"istiod": "pilot", "istio-cni": "cni"}


def _walk(node: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        yield path, value
        if isinstance(value, Mapping) and value:
            yield from _walk(value, path)


def _user_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Istio's defaults sit under `_internal_defaults_do_not_set`; users set the same keys at top level."""
    merged = {k: v for k, v in values.items() if k != ISTIO_PREFIX}
    internal = values.get(ISTIO_PREFIX)
    if isinstance(internal, Mapping):
        for key, value in internal.items():
            merged.setdefault(str(key), value)
    return merged


def extract(values: Mapping[str, Any], chart_key: str, aliases: list[str]) -> tuple[list[str], list[str]]:
    values = _user_values(values)
    paths: set[str] = set()
    open_paths: set[str] = set()
    for path, value in _walk(values):
        paths.add(path)
        name = path.rsplit(".", 1)[-1]
        empty = value is None or (isinstance(value, Mapping) and not value)
        if (empty or name in FREE_FORM) and not isinstance(value, list):
            open_paths.add(path)
    for path in CHART_OPEN.get(chart_key, ()):
        if path in paths:  # a documented blob that this version no longer has must not hide a typo
            open_paths.add(path)
        else:
            print(f"warning: {chart_key}: {path} is not in values.yaml", file=sys.stderr)
    for path in TEMPLATE_READ.get(chart_key, ()):
        paths.add(path)
        open_paths.add(path)
    prefix = LEGACY_PREFIX.get(chart_key)
    if prefix:
        paths |= {prefix} | {f"{prefix}.{p}" for p in paths if not p.startswith(f"{prefix}.")}
        open_paths |= {f"{prefix}.{p}" for p in open_paths if not p.startswith(f"{prefix}.")}
    for alias in aliases:
        paths.add(alias)
        open_paths.add(alias)
    return sorted(paths), sorted(open_paths)


def dependency_aliases(chart_yaml: Path) -> list[str]:
    chart = yaml.safe_load(chart_yaml.read_text()) or {}
    return sorted({str(d.get("alias") or d["name"]) for d in chart.get("dependencies") or []})


def pinned(chart_key: str) -> tuple[str, str]:
    sys.path.insert(0, str(HERE.parents[1]))
    from components.shared.versions import CHARTS

    return CHARTS[chart_key].chart, CHARTS[chart_key].version


def check_values(values: Mapping[str, Any], keys: Mapping[str, Any]) -> list[str]:
    """Paths of `values` that the chart does not have: the topmost unknown path of each branch."""
    known = set(keys["paths"])
    open_paths = set(keys["open"])
    unknown: list[str] = []

    def visit(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if path in open_paths:
                continue
            if path not in known:
                unknown.append(path)
                continue
            if isinstance(value, Mapping):
                visit(value, path)

    visit(values, "")
    return unknown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Writes the key list of a chart's values.yaml.")
    parser.add_argument("chart_key", help="a key of components.shared.versions.CHARTS")
    parser.add_argument("values", help="the chart's values.yaml at the pinned tag, or - when it cannot be read")
    parser.add_argument("source", help="owner/repo@tag:path of that values.yaml")
    parser.add_argument("--chart-yaml", type=Path, help="the chart's Chart.yaml (sub-chart aliases become open)")
    parser.add_argument("--note", help="a caveat to keep with the key list (e.g. the tag read is not the pin)")
    parser.add_argument("--out", type=Path, help="default: planner/helm_keys/<chart-key>.json")
    args = parser.parse_args(argv)

    chart, version = pinned(args.chart_key)
    # "-": no values.yaml could be read; the file records the pin and why, with no key lists.
    values = yaml.safe_load(Path(args.values).read_text()) or {} if args.values != "-" else None
    aliases = dependency_aliases(args.chart_yaml) if args.chart_yaml else []
    doc: dict[str, Any] = {"chart": chart, "version": version, "source": args.source}
    if args.note:
        doc["note"] = args.note
    if values is None:
        doc |= {"unavailable": True, "paths": [], "open": []}
    else:
        paths, open_paths = extract(values, args.chart_key, aliases)
        doc |= {"paths": paths, "open": open_paths}
    out = args.out or HERE / f"{args.chart_key}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{out}: {len(doc['paths'])} paths, {len(doc['open'])} open")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
