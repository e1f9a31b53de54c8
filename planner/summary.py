"""The readable summary `make plan` prints: counts per component and tenant, then the verdict."""

from collections import Counter
from collections.abc import Mapping
from typing import Any


def _top_component(resource: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    current = resource
    while current.get("parent") in by_urn:
        current = by_urn[current["parent"]]
    return current


def resource_counts(plan: Mapping[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """(per top-level component, per tenant) counts of the resources the stack would create."""
    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    per_component: Counter[str] = Counter()
    per_tenant: Counter[str] = Counter()
    for r in resources:
        top = _top_component(r, by_urn)
        label = f"{top['name']} ({top['type']})" if top is not r or not r["custom"] else f"{r['name']} ({r['type']})"
        per_component[label] += 1
        per_tenant[r.get("tenant") or "(platform)"] += 1
    return per_component, per_tenant


def protected_by_tenant(plan: Mapping[str, Any]) -> Counter[str]:
    return Counter(r.get("tenant") or "(platform)" for r in plan["resources"] if r["options"]["protect"])


def protected_removals(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Protected resources of `base` that `head` no longer declares: `pulumi up` refuses to delete
    them, which is what stops a removed tenant file from destroying data (docs/offboarding.md)."""
    kept = {r["urn"] for r in head["resources"]}
    return [r for r in base["resources"] if r["options"]["protect"] and r["urn"] not in kept]


def render(plan: Mapping[str, Any]) -> str:
    resources = plan["resources"]
    custom = sum(1 for r in resources if r["custom"])
    tiers = {
        r["tenant"]: r["inputs"].get("metadata", {}).get("labels", {}).get("tier")
        for r in resources
        if r["type"] == "kubernetes:core/v1:Namespace" and r.get("tenant")
    }
    per_component, per_tenant = resource_counts(plan)
    protected = protected_by_tenant(plan)
    lines = [
        f"Plan of {plan['project']}/{plan['stack']} in {plan['region']}: {len(resources)} resources "
        f"({custom} custom, {len(resources) - custom} components and providers)",
        "",
        "Resources per component:",
    ]
    width = max((len(k) for k in per_component), default=0)
    lines += [f"  {name.ljust(width)}  {count:5d}" for name, count in sorted(per_component.items())]
    lines += ["", "Resources per tenant (protected: a deletion is refused):"]
    for tenant, count in sorted(per_tenant.items(), key=lambda kv: (kv[0] == "(platform)", kv[0])):
        tier = f" [{tiers[tenant]}]" if tiers.get(tenant) else ""
        lines.append(f"  {(tenant + tier).ljust(32)}  {count:5d}   protected {protected[tenant]:3d}")
    lines += ["", *render_verdict(plan["policy"])]
    return "\n".join(lines)


def render_verdict(policy: Mapping[str, Any]) -> list[str]:
    violations = policy["violations"]
    blocking = [v for v in violations if v["enforcementLevel"] in ("mandatory", "remediate")]
    advisory = [v for v in violations if v["enforcementLevel"] == "advisory"]
    lines = [
        f"Policy pack {policy['pack']}: {len(blocking)} mandatory violation(s), {len(advisory)} advisory finding(s)"
    ]
    for v in violations:
        where = v["urn"].rsplit("::", 1)[-1] if v["urn"] else "(stack)"
        tenant = f" tenant={v['tenant']}" if v.get("tenant") else ""
        lines.append(f"  {v['enforcementLevel'].upper():9} {v['ruleId']:10} {where}{tenant}: {v['message']}")
    lines.append("Verdict: " + ("BLOCKED (mandatory violations)" if blocking else "PASS"))
    return lines
