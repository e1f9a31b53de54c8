"""renovate.json must see every pin of components/shared/versions.py: its regex managers, applied the way
Renovate applies them, match each chart, Istio and the Velero plugin exactly once."""

import json
import re
from collections import Counter
from pathlib import Path

from components.shared.versions import CHARTS, ISTIO, VELERO_AWS_PLUGIN

ROOT = Path(__file__).resolve().parents[1]
CONFIG = json.loads((ROOT / "renovate.json").read_text())
MANAGERS = CONFIG["customManagers"]


def _selects(pattern: str, path: str) -> bool:
    """managerFilePatterns/fileMatch: `/regex/` is a regex; anything else a glob."""
    if pattern.startswith("/") and pattern.endswith("/"):
        return re.search(pattern[1:-1], path) is not None
    return Path(path).match(pattern)


def _python_re(js: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\(\?<(\w+)>", r"(?P<\1>", js))


def _matches() -> list[tuple[str, str, str]]:
    """(file, depName, currentValue) of every match of every regex manager."""
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py") if ".venv" not in p.parts]
    found = []
    for manager in MANAGERS:
        patterns = manager.get("managerFilePatterns") or manager.get("fileMatch") or []
        for path in (f for f in files if any(_selects(p, f) for p in patterns)):
            text = (ROOT / path).read_text()
            for match_string in manager["matchStrings"]:
                for m in _python_re(match_string).finditer(text):
                    groups = m.groupdict()
                    dep = groups.get("depName") or manager.get("depNameTemplate", "")
                    found.append((path, dep, groups["currentValue"]))
    return found


def test_every_manager_is_a_regex_manager_with_a_datasource() -> None:
    for manager in MANAGERS:
        assert manager["customType"] == "regex"
        assert manager.get("datasourceTemplate") or all("datasource" in s for s in manager["matchStrings"])
        for match_string in manager["matchStrings"]:
            assert "(?<currentValue>" in match_string
            _python_re(match_string)  # compiles


def test_every_chart_pin_is_matched_exactly_once() -> None:
    seen = Counter((dep, value) for path, dep, value in _matches() if path == "components/shared/versions.py")
    for key, chart in CHARTS.items():
        if chart.version == ISTIO:
            continue  # follows ISTIO, checked below
        dep = chart.chart.removeprefix("oci://")
        assert seen[(dep, chart.version)] == 1, (
            f"{key}: {dep} {chart.version} matched {seen[(dep, chart.version)]} times"
        )


def test_istio_and_velero_plugin_are_matched_exactly_once() -> None:
    seen = Counter((dep, value) for _, dep, value in _matches())
    assert seen[("istio/istio", ISTIO)] == 1
    image, tag = VELERO_AWS_PLUGIN.split(":")
    assert seen[(image, tag)] == 1


def test_nothing_else_is_matched() -> None:
    pinned = {(c.chart.removeprefix("oci://"), c.version) for c in CHARTS.values() if c.version != ISTIO}
    pinned |= {("istio/istio", ISTIO), tuple(VELERO_AWS_PLUGIN.split(":"))}
    assert {(dep, value) for _, dep, value in _matches()} == pinned


def test_python_and_actions_managers_are_enabled() -> None:
    assert {"custom.regex", "pip_requirements", "github-actions"} <= set(CONFIG["enabledManagers"])
    patterns = CONFIG["pip_requirements"]["managerFilePatterns"]
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        assert (ROOT / name).exists()
        assert any(_selects(p, name) for p in patterns), name
    assert CONFIG["dependencyDashboard"] is True
    assert CONFIG["prConcurrentLimit"] > 0
