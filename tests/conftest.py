"""Shared fixtures: offline plans of every stack (built once per session through the same runner
as `make plan`) and helpers to write catalog files."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from planner.fleet import platform_stacks
from planner.policy import environment_config, verdict
from planner.runner import ROOT, build_plan

STACKS = platform_stacks(ROOT)  # derived tenant stack files (gitignored) are not stacks to plan here


@pytest.fixture(scope="session")
def plans() -> dict[str, dict[str, Any]]:
    result = {}
    for stack in STACKS:
        plan = build_plan(stack)
        plan["policy"] = verdict(plan, config_for(stack))
        result[stack] = plan
    return result


def config_for(stack: str) -> dict[str, Any]:
    return environment_config("dev" if stack == "dev" else "prod")


@pytest.fixture(scope="session")
def plan_schema() -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of the project's config and catalog, for breaking things on purpose."""
    for name in ["__main__.py", "Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in STACKS)]:
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "tenants", tmp_path / "tenants")
    return tmp_path


def resources_of(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def one(plan: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    matches = [r for r in plan["resources"] if r["type"] == type_ and r["name"] == name]
    assert len(matches) == 1, f"expected one {type_} named {name}, found {len(matches)}"
    return matches[0]
