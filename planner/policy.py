"""Evaluate the tenant-guard pack on a plan, through the same CrossGuard policy objects
`pulumi preview --policy-pack policies` runs."""

import asyncio
import gc
import inspect
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from catalog.errors import ConfigError
from catalog.source import read_json
from policies.tenant_guard.pack import PACK_NAME, POLICIES, RULES, RULES_BY_NAME
from policies.tenant_guard.rule import res_from_policy_resource

PackConfig = Mapping[str, Any]  # the --policy-pack-config JSON: {"all": level, "<policy>": level | {...}}
CONFIG_DIR = Path(__file__).resolve().parent.parent / "policies" / "config"


def environment_config(environment: str) -> dict[str, Any]:
    """The compliance-owned pack configuration of an environment (policies/config/<env>.json)."""
    path = CONFIG_DIR / f"{environment}.json"
    if not path.is_file():
        return {}
    config = read_json(path, f"policies/config/{path.name}")
    if not isinstance(config, dict):
        raise ConfigError(f"policies/config/{path.name}", "(document)", "must be a JSON object")
    return config


def effective_level(policy_name: str, default: EnforcementLevel, config: PackConfig) -> EnforcementLevel:
    """Per-policy config > pack-wide 'all' > the policy's own level (as the engine resolves it)."""
    entry = config.get(policy_name)
    if isinstance(entry, str):
        return EnforcementLevel(entry)
    if isinstance(entry, Mapping) and "enforcementLevel" in entry:
        return EnforcementLevel(entry["enforcementLevel"])
    if "all" in config:
        return EnforcementLevel(config["all"])
    return default


def policy_config(policy_name: str, config: PackConfig) -> dict[str, Any]:
    entry = config.get(policy_name)
    if not isinstance(entry, Mapping):
        return {}
    return {k: v for k, v in entry.items() if k != "enforcementLevel"}


def _options(resource: Mapping[str, Any]) -> PolicyResourceOptions:
    opts = resource["options"]
    return PolicyResourceOptions(
        protect=opts["protect"],
        ignore_changes=list(opts["ignoreChanges"]),
        delete_before_replace=opts["deleteBeforeReplace"],
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource["parent"],
    )


def _provider(resource: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> PolicyProviderResource | None:
    if not resource["custom"] or resource["type"].startswith("pulumi:providers:"):
        return None
    package = resource["type"].split(":", 1)[0]
    urn = resource["provider"]
    if urn is None or urn not in by_urn:
        # The engine would use the package's default provider, configured from stack config.
        return PolicyProviderResource(f"pulumi:providers:{package}", {}, f"default_{package}", f"default_{package}")
    provider = by_urn[urn]
    return PolicyProviderResource(provider["type"], unknown_checking_proxy(provider["inputs"]), urn, provider["name"])


def _run(validate: Any, args: Any, report: Any) -> None:
    functions = validate if isinstance(validate, list) else [validate]
    for function in functions:
        try:
            result = function(args, report)
            if inspect.isawaitable(result):
                asyncio.new_event_loop().run_until_complete(result)
        except UnknownValueError:
            # As the engine does: a value unknown until deployment is no violation.
            continue


def evaluate(
    plan: Mapping[str, Any], config: PackConfig | None = None, coverage: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every violation of the pack on the plan, with rule metadata, sorted for stable output.
    `coverage`, if given, receives per rule id its effective level and how many resources it examined."""
    # The plan is large and long-lived: without freezing it, each garbage collection rescans it
    # and stack rules grow superlinearly with the stack (measured by `make bench`).
    gc.collect()
    gc.freeze()
    try:
        return _evaluate(plan, config, coverage)
    finally:
        gc.unfreeze()


def _evaluate(
    plan: Mapping[str, Any], config: PackConfig | None, coverage: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    config = config or {}
    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    tenant_of = {r["urn"]: r.get("tenant") for r in resources}
    violations: list[dict[str, Any]] = []

    def reporter(policy_name: str, level: EnforcementLevel, default_urn: str | None):
        rule = RULES_BY_NAME[policy_name]

        def report(message: str, urn: str | None = None) -> None:
            target = urn or default_urn
            violations.append(
                {
                    "policy": policy_name,
                    "ruleId": rule.id,
                    "enforcementLevel": level.value,
                    "severity": rule.severity.value,
                    "message": message,
                    "urn": target,
                    "tenant": tenant_of.get(target) if target else None,
                    "frameworks": [str(f) for f in rule.frameworks],
                    "remediation": rule.remediation,
                }
            )

        return report

    analyzed = [r for r in resources if not r["type"].startswith("pulumi:providers:")]
    stack_resources: dict[str, PolicyResource] = {}
    for r in analyzed:
        stack_resources[r["urn"]] = PolicyResource(
            resource_type=r["type"],
            props=unknown_checking_proxy(r["inputs"]),
            urn=r["urn"],
            name=r["name"],
            opts=_options(r),
            provider=_provider(r, by_urn),
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
    for r in analyzed:
        pr = stack_resources[r["urn"]]
        pr.parent = stack_resources.get(r["parent"]) if r["parent"] else None
        pr.dependencies = [stack_resources[d] for d in r["options"]["dependsOn"] if d in stack_resources]

    for policy in POLICIES:
        rule = RULES_BY_NAME[policy.name]
        level = effective_level(policy.name, rule.enforcement, config)
        if level == EnforcementLevel.DISABLED:
            continue
        if isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(list(stack_resources.values()), policy_config(policy.name, config))
            _run(policy.validate, args, reporter(policy.name, level, None))
            continue
        assert isinstance(policy, ResourceValidationPolicy)
        for r in analyzed:
            if not rule.applies_to(r["type"]):
                continue
            pr = stack_resources[r["urn"]]
            args = ResourceValidationArgs(
                resource_type=r["type"],
                props=pr.props,
                urn=r["urn"],
                name=r["name"],
                opts=pr.opts,
                provider=pr.provider,
                config=policy_config(policy.name, config),
            )
            _run(policy.validate, args, reporter(policy.name, level, r["urn"]))
    violations.sort(key=lambda v: (v["enforcementLevel"] != "mandatory", v["ruleId"], v["urn"] or "", v["message"]))
    if coverage is not None:
        examined = [res_from_policy_resource(pr) for pr in stack_resources.values()]
        types = Counter(r.type for r in examined)
        for rule in RULES:
            if rule.subject is None:  # a resource rule examines every resource of its types
                checked = sum(n for t, n in types.items() if rule.applies_to(t))
            else:
                checked = sum(1 for r in examined if _examines(rule, r))
            coverage[rule.id] = {
                "enforcementLevel": effective_level(rule.name, rule.enforcement, config).value,
                "checked": checked,
            }
    return violations


def _examines(rule: Any, r: Any) -> bool:
    try:
        return bool(rule.examines(r))
    except UnknownValueError:  # decided by a value known only at deploy: the rule looks at it then
        return True


def verdict(plan: Mapping[str, Any], config: PackConfig | None = None) -> dict[str, Any]:
    """The pack's findings on the plan and, per rule, what it examined (`coverage`)."""
    coverage: dict[str, dict[str, Any]] = {}
    return {"pack": PACK_NAME, "violations": evaluate(plan, config, coverage), "coverage": coverage}


def mandatory(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["enforcementLevel"] in ("mandatory", "remediate")]
