"""A Mermaid picture of a region's plan: its platform stack's components, the contract it
exports, and the tenant stacks that read it, with their resource counts (GitHub renders it)."""

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _noun(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def render_mermaid(plan: Mapping[str, Any]) -> str:
    resources = plan["resources"]
    by_urn = {r["urn"]: r for r in resources}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in resources:
        parent = r["parent"] if r["parent"] in by_urn else None
        children.setdefault(parent, []).append(r)

    def size(urn: str) -> int:
        return 1 + sum(size(c["urn"]) for c in children.get(urn, []))

    protected = Counter(r.get("tenant") for r in resources if r["options"]["protect"])
    tiers: dict[str, str] = {}
    for r in resources:  # any tagged or labelled resource of the tenant names its tier
        marks = r["inputs"].get("tags") or (r["inputs"].get("metadata") or {}).get("labels") or {}
        if isinstance(marks, dict) and r.get("tenant") and isinstance(marks.get("tier"), str):
            tiers.setdefault(r["tenant"], marks["tier"])
    stacks = plan.get("stacks") or [
        {"name": plan["stack"], "kind": "platform", "tenant": None, "outputs": plan.get("outputs", {})}
    ]
    homes = {
        tenant
        for s in stacks
        for tenant, out in ((s.get("outputs") or {}).get("tenants") or {}).items()
        if isinstance(out, dict) and out.get("home")
    }
    contract = sorted(((plan.get("outputs") or {}).get("contract") or {}).keys())
    lines = [
        "```mermaid",
        "flowchart LR",
        f'  stack(["{plan["project"]} / {plan["stack"]}<br/>{plan["region"]} · {len(resources)} resources in {len(stacks)} stacks"])',
    ]
    platform_name = next((s["name"] for s in stacks if s.get("kind") == "platform"), plan["stack"])
    tops = sorted(children.get(None, []), key=lambda r: r["name"])
    platform = [
        r for r in tops if r.get("stack", platform_name) == platform_name and r["type"].startswith("platform:index:")
    ]
    count = Counter(r.get("stack", platform_name) for r in resources)
    lines.append(f'  subgraph platform_stack["Platform stack {platform_name} · {count[platform_name]} resources"]')
    for top in platform:
        lines.append(f'    {_id(top["name"])}["{_noun(top["type"])}<br/>{size(top["urn"]) - 1} resources"]')
    lines.append("  end")
    lines.append("  stack --> platform_stack")
    if contract:
        lines.append(f'  contract[/"contract: {", ".join(contract)} + kubeconfig (secret)"/]')
        lines.append("  platform_stack -- stack outputs --> contract")
    lines.append('  subgraph tenants["Tenant stacks (StackReference to the platform)"]')
    tenant_stacks = [s for s in stacks if s.get("kind") == "tenant"]
    for s in tenant_stacks:
        tenant = s["tenant"]
        outputs = s.get("outputs") or {}
        roles = [
            "home" if tenant in homes else "served" if outputs.get("tenants") else "",
            "DR copies" if ((outputs.get("disasterRecovery") or {}).get("copiesHeldHere") or {}) else "",
            "front-end" if outputs.get("frontEnd") else "",
        ]
        what = " + ".join(r for r in roles if r) or "nothing yet"
        lines.append(
            f'    {_id(s["name"])}["{s["name"]}<br/>{tenant} · {tiers.get(tenant, "?")} · {what}<br/>'
            f'{count[s["name"]]} resources, {protected[tenant]} protected"]'
        )
    lines.append("  end")
    for s in tenant_stacks:
        lines.append(f"  {'contract' if contract else 'platform_stack'} --> {_id(s['name'])}")
    lines.append("```")
    return "\n".join(lines) + "\n"
