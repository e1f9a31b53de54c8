"""A Mermaid picture of one stack's plan: platform components, then each tenant with the
components it is made of and their resource counts (GitHub renders it in Markdown)."""

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
    tiers = {
        r["tenant"]: r["inputs"]["metadata"]["labels"].get("tier")
        for r in resources
        if r["type"] == "kubernetes:core/v1:Namespace" and r.get("tenant")
    }
    homes = {t for t, out in (plan.get("outputs", {}).get("tenants") or {}).items() if out.get("home")}
    lines = [
        "```mermaid",
        "flowchart LR",
        f'  stack(["{plan["project"]} / {plan["stack"]}<br/>{plan["region"]} · {len(resources)} resources"])',
    ]
    platform, tenants = [], []
    for top in sorted(children.get(None, []), key=lambda r: r["name"]):
        if top["type"] == "platform:index:Tenant":
            tenants.append(top)
        elif top["type"].startswith("platform:index:"):
            platform.append(top)
    lines.append('  subgraph platform["Regional platform"]')
    for top in platform:
        lines.append(f'    {_id(top["name"])}["{_noun(top["type"])}<br/>{size(top["urn"]) - 1} resources"]')
    lines.append("  end")
    for top in platform:
        lines.append(f"  stack --> {_id(top['name'])}")
    lines.append('  subgraph tenants["Tenants served here"]')
    for top in tenants:
        tenant = top.get("tenant") or top["name"]
        where = "home" if tenant in homes else "served"
        lines.append(
            f'    {_id(top["name"])}["{tenant} · {tiers.get(tenant, "?")} · {where}<br/>'
            f'{size(top["urn"]) - 1} resources, {protected[tenant]} protected"]'
        )
    lines.append("  end")
    for top in tenants:
        node = _id(top["name"])
        lines.append(f"  stack --> {node}")
        for part in sorted(children.get(top["urn"], []), key=lambda r: r["name"]):
            label = _noun(part["type"])
            lines.append(f'  {node} --> {_id(part["name"])}["{label} · {size(part["urn"])}"]')
    lines.append("```")
    return "\n".join(lines) + "\n"
