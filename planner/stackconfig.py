"""Build the config the Pulumi CLI would hand the program: project defaults from `Pulumi.yaml`
overlaid with `Pulumi.<stack>.yaml`, as `namespace:key` -> raw string (JSON for objects)."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from catalog import ConfigError


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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(path.name, "(document)", f"malformed YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(path.name, "(document)", "must be a YAML mapping")
    return data


def read_stack_config(root: Path, stack: str) -> StackConfig:
    project_file = root / "Pulumi.yaml"
    project_doc = _read_yaml(project_file)
    project = str(project_doc.get("name", ""))
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(stack_file.name, "(file)", f"no such stack (known stacks: {', '.join(known)})")

    values: dict[str, str] = {}
    for key, spec in (project_doc.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and ("value" in spec or "default" in spec):
            spec = spec.get("value", spec.get("default"))
        values[full] = _raw(spec)

    secrets: list[str] = []
    for key, value in (_read_yaml(stack_file).get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets.append(key)
            values[key] = "[secret]"  # ciphertext stays ciphertext offline
        else:
            values[key] = _raw(value)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=tuple(secrets))
