"""Every chart pin has a key list of its values (planner/helm_keys/<chart-key>.json) generated for
that chart and version: bumping a pin without regenerating the list fails here."""

import json
from pathlib import Path

import pytest

from components.shared.versions import CHARTS
from planner.helm_keys.extract import check_values, extract

KEYS = Path(__file__).resolve().parents[1] / "planner" / "helm_keys"


@pytest.mark.parametrize("key", sorted(CHARTS))
def test_key_list_matches_the_pin(key: str) -> None:
    path = KEYS / f"{key}.json"
    assert path.exists(), f"no key list for {key}: run planner/helm_keys/extract.py"
    doc = json.loads(path.read_text())
    assert (doc["chart"], doc["version"]) == (CHARTS[key].chart, CHARTS[key].version)
    assert doc["source"]
    assert doc["paths"] == sorted(set(doc["paths"]))
    assert doc["open"] == sorted(set(doc["open"]))
    assert set(doc["open"]) <= set(doc["paths"]), "an open path the chart does not have"
    assert doc["paths"] or doc.get("unavailable"), "an empty key list must say why"


def test_no_stray_key_lists() -> None:
    assert {p.stem for p in KEYS.glob("*.json")} <= set(CHARTS)


def test_extract_strips_the_istio_prefix_and_stops_at_lists() -> None:
    values = {"_internal_defaults_do_not_set": {"cni": {"enabled": False}, "tolerations": [{"key": "a"}]}}
    paths, open_paths = extract(values, "istiod", [])
    assert "cni.enabled" in paths and "pilot.cni.enabled" in paths  # `pilot.` is istiod's legacy prefix
    assert "tolerations" in paths and not any(p.startswith("tolerations.") for p in paths)
    assert not any(p.startswith("_internal") for p in paths)
    assert "istio_cni" not in paths and open_paths == []


def test_check_values_reports_the_topmost_unknown_path() -> None:
    keys = {"paths": ["a", "a.b", "m"], "open": ["m"]}
    assert check_values({"a": {"b": 1, "c": {"d": 1}}, "m": {"anything": 1}, "x": 1}, keys) == ["a.c", "x"]
