"""Reading the files people write — tenant files, stack files, the compliance configuration — before
any of their content is trusted: a size limit checked before parsing, strict UTF-8, YAML and JSON
without duplicate keys. Every failure is one `ConfigError` naming the file (and the key)."""

import json
from pathlib import Path
from typing import Any

import yaml

from catalog.errors import ConfigError

# A tenant file is 10-30 lines (under 2 KiB); 64 KiB leaves 30x room for comments and contacts
# while refusing a pasted log, a binary or a generated alias bomb before the parser sees it.
MAX_TENANT_BYTES = 64 * 1024
# A platform stack file is about 3 KiB; deploy gates add one line per tenant (200 tenants ~ 10 KiB).
MAX_STACK_BYTES = 256 * 1024
# The compliance configuration grows with the residency registry, one line per tenant.
MAX_POLICY_CONFIG_BYTES = 1024 * 1024


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_text(path: Path, file: str, limit: int) -> str:
    """`path` as UTF-8 text, refused when over `limit` bytes (checked before reading it all)."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise ConfigError(file, "(file)", f"{size} bytes is over the {limit // 1024} KiB limit for this file")
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(file, "(file)", f"cannot be read: {error.strerror or error}") from None
    if len(data) > limit:  # grew between stat and read
        raise ConfigError(file, "(file)", f"over the {limit // 1024} KiB limit for this file")
    return decode(data, file)


def decode(data: bytes, file: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise ConfigError(
            file, "(file)", f"not UTF-8 text (byte 0x{bad:02x} at offset {error.start}); save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")  # a UTF-8 byte order mark is harmless


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key written twice (YAML 1.2 requires unique keys; PyYAML
    keeps the last one silently, so `tier:` written twice would quietly pick one)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` overrides on purpose
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise _DuplicateKeyError(str(key), seen[key], line)
                    seen[key] = line
                except TypeError:
                    continue  # an unhashable key: the base class reports it
        return super().construct_mapping(node, deep=deep)  # pyright: ignore[reportArgumentType]


class _DuplicateKeyError(Exception):
    def __init__(self, key: str, first: int, second: int) -> None:
        self.key, self.first, self.second = key, first, second


def load_yaml(text: str, file: str) -> Any:
    """One YAML document (safe tags only) with unique keys at every depth."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe tags only
    except _DuplicateKeyError as dup:
        raise ConfigError(file, dup.key, f"key written twice (lines {dup.first} and {dup.second}); keep one") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or _one_line(str(exc)) or "cannot be parsed"
        raise ConfigError(file, "(document)", f"malformed YAML{where}: {_one_line(str(problem))}") from None
    except RecursionError:
        raise ConfigError(file, "(document)", "malformed YAML: nested too deeply") from None


def _unique_pairs(file: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ConfigError(file, key, "key written twice in one object; keep one")
            result[key] = value
        return result

    return hook


def load_json(text: str, file: str, field: str = "(document)") -> Any:
    """A JSON document with unique keys in every object."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs(file))
    except json.JSONDecodeError as error:
        raise ConfigError(
            file, field, f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise ConfigError(file, field, "malformed JSON: nested too deeply") from None


def read_yaml(path: Path, file: str, limit: int) -> Any:
    return load_yaml(read_text(path, file, limit), file)


def read_json(path: Path, file: str, limit: int = MAX_POLICY_CONFIG_BYTES) -> Any:
    return load_json(read_text(path, file, limit), file)
