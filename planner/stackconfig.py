"""Build the config the Pulumi CLI would hand the program: project defaults from `Pulumi.yaml`
overlaid with `Pulumi.<stack>.yaml`, as `namespace:key` -> raw string (JSON for objects)."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog import ConfigError
from catalog.source import MAX_STACK_BYTES, read_yaml
from catalog.stacks import StackName, derived_stack_file


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: tuple[str, ...]

    @property
    def region(self) -> str:
        return self.values.get("aws:region", "")


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    data = read_yaml(path, path.name, MAX_STACK_BYTES) or {}
    if not isinstance(data, dict):
        raise ConfigError(path.name, "(document)", "must be a YAML mapping")
    return data


def read_stack_config(root: Path, stack: str) -> StackConfig:
    project_file = root / "Pulumi.yaml"
    project_doc = _read_yaml(project_file)
    project = str(project_doc.get("name", ""))
    name = StackName.parse(stack)
    stack_file = root / f"Pulumi.{name.platform}.yaml"  # a tenant stack's config derives from it
    if not stack_file.is_file():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml") if p.name.count(".") == 2
        )
        raise ConfigError(stack_file.name, "(file)", f"no such stack (known stacks: {', '.join(known)})")

    values: dict[str, str] = {}
    for key, spec in (project_doc.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and ("value" in spec or "default" in spec):
            spec = spec.get("value", spec.get("default"))
        values[full] = _raw(spec)

    secrets: list[str] = []
    document = _read_yaml(stack_file)
    if name.is_tenant:  # what `python -m planner.fleet materialize` writes before a real run
        document = derived_stack_file(document, project, name)
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.append(key)
            values[key] = "[secret]"  # ciphertext stays ciphertext offline
        else:
            values[key] = _raw(value)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=tuple(secrets))
