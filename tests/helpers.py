"""Helpers for running components under the mock engine and reading what they registered."""

from collections.abc import Callable
from typing import Any

from catalog import StackSettings
from catalog.loader import load_settings
from planner.mocks import Registration
from planner.runner import ROOT, record
from planner.stackconfig import read_stack_config


def settings_for(stack: str) -> StackSettings:
    config = read_stack_config(ROOT, stack)
    return load_settings(config.values.get, config.project, stack, ROOT)


def run(program: Callable[[], None], settings: StackSettings) -> list[Registration]:
    monitor = record(program, project=settings.project, stack=settings.stack, region=settings.region)
    return monitor.registrations


def of_type(registrations: list[Registration], type_: str) -> list[Registration]:
    return [r for r in registrations if r.type == type_]


def single(registrations: list[Registration], type_: str) -> Registration:
    found = of_type(registrations, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def get(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value[part]
    return value
