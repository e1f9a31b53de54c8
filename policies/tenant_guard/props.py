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


# A principal that is a whole account: a bare account id or its root ARN.
ACCOUNT_PRINCIPAL = re.compile(r"^(?:\d{12}|arn:aws[a-z-]*:iam::\d{12}:root)$")
# Condition keys that name the calling principal itself (not its account or organization).
CALLER_KEYS = ("aws:principalarn", "aws:userid", "aws:principaltag/")


def pins_caller(condition: Any, keys: tuple[str, ...] = CALLER_KEYS) -> bool:
    """A positive test, against concrete values, of a key that names the caller itself."""
    if not isinstance(condition, Mapping):
        return False
    for operator in list(condition.keys()):
        block = condition[operator]
        if not isinstance(block, Mapping) or "not" in str(operator).lower() or str(operator).endswith("IfExists"):
            continue
        for key in list(block.keys()):
            values = [str(v) for v in as_list(block[key])]
            if str(key).lower().startswith(keys) and values and "*" not in values:
                return True
    return False
