"""Checks the Helm values of a plan against the key lists of planner/helm_keys/.

    python planner/helm_keys/check.py build/dev/plan.json

prints, per Helm release of the plan, every value path the chart (at the pinned version) does not
have, and exits 1 when there is one. Releases are matched to CHARTS by chart name and repository."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from components.shared.versions import CHARTS  # noqa: E402
from planner.helm_keys.extract import check_values  # noqa: E402


def chart_key(inputs: dict[str, Any]) -> str | None:
    repo = (inputs.get("repositoryOpts") or {}).get("repo")
    for key, chart in CHARTS.items():
        if chart.chart == inputs.get("chart") and chart.repo == repo:
            return key
    return None


def main(argv: list[str]) -> int:
    plan = json.loads(Path(argv[0]).read_text())
    found = 0
    for resource in plan["resources"]:
        if not str(resource.get("type", "")).startswith("kubernetes:helm.sh/"):
            continue
        inputs = resource["inputs"]
        key = chart_key(inputs)
        if key is None:
            print(f"{resource['name']}: chart {inputs.get('chart')} is not in CHARTS")
            found += 1
            continue
        keys = json.loads((HERE / f"{key}.json").read_text())
        if keys.get("unavailable"):
            print(f"{resource['name']} ({key}): not checked, {keys.get('note', 'no key list')}")
            continue
        for path in check_values(inputs.get("values") or {}, keys):
            print(f"{resource['name']} ({key} {keys['version']}): {path}")
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
