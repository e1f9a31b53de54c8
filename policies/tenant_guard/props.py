"""Reading resource properties the way both engine paths deliver them."""

import re
from collections.abc import Mapping
from typing import Any


def get(props: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """`get(props, "vpcConfig.endpointPublicAccess")`; presence is tested through keys(), which
    never raises on preview unknowns."""
    current: Any = props
    # "a.b\\.c" reads key "b.c" under "a" (Helm values have keys such as "datasources.yaml").
    for part in (p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", path)):
        if not isinstance(current, Mapping) or part not in list(current.keys()):
            return default
        current = current[part]
    return current


def as_list(value: Any) -> list[Any]:
    """A list input as a list; the engine's proxies are sequences but not `list` instances."""
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    return list(value)


def tags_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    tags = get(props, "tags")
    return tags if isinstance(tags, Mapping) else {}


def labels_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = get(props, "metadata.labels")
    return labels if isinstance(labels, Mapping) else {}


def tenant_label(props: Mapping[str, Any]) -> str | None:
    value = tags_of(props).get("tenant") or labels_of(props).get("tenant")
    return value if isinstance(value, str) and value else None
