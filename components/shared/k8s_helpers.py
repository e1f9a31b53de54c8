"""Shared shapes of the platform layer: an add-on namespace with Pod Security labels, a Helm
release pinned from components/shared/versions.py, and NetworkPolicy specs written as Kubernetes writes
them (plain dicts, which the tests and the analyzer read the same way)."""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.shared.versions import CHARTS

# Add-ons that need host access (CNI, node agents) run under `privileged`; the rest `baseline`,
# with `restricted` audited and warned so drift toward privilege shows up.
PodSecurity = str


def addon_namespace(
    name: str,
    namespace: str,
    parent: pulumi.Resource,
    enforce: PodSecurity = "baseline",
    labels: Mapping[str, str] | None = None,
) -> k8s.core.v1.Namespace:
    return k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace,
            labels={
                "pod-security.kubernetes.io/enforce": enforce,
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
                "app.kubernetes.io/part-of": "platform",
                **(labels or {}),
            },
        ),
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )


def release(
    name: str,
    chart_key: str,
    namespace: k8s.core.v1.Namespace | str,  # a name: the namespace belongs to another stack
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    release_name: str | None = None,  # default: the chart key
    aliases: Sequence[pulumi.Alias] = (),  # where an earlier layout registered it
) -> k8s.helm.v3.Release:
    chart = CHARTS[chart_key]
    owner = [namespace] if isinstance(namespace, k8s.core.v1.Namespace) else []
    return k8s.helm.v3.Release(
        name,
        name=release_name or chart_key,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
        namespace=namespace if isinstance(namespace, str) else namespace.metadata.apply(lambda m: m.name or ""),
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        max_history=10,
        timeout=900,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*owner, *depends_on], aliases=list(aliases)),
    )


SYSTEM_NODES: dict[str, Any] = {
    "nodeSelector": {"node-pool": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}],
}


# Every fenced namespace resolves names through CoreDNS, and only through it.
DNS_EGRESS: dict[str, Any] = {
    "podSelector": {},
    "policyTypes": ["Egress"],
    "egress": [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": proto, "port": 53} for proto in ("UDP", "TCP")],
        }
    ],
}


def _selector(value: Mapping[str, Any] | None) -> k8s.meta.v1.LabelSelectorArgs | None:
    if value is None:
        return None
    return k8s.meta.v1.LabelSelectorArgs(
        match_labels=value.get("matchLabels"),
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=e["key"], operator=e["operator"], values=e.get("values"))
            for e in value.get("matchExpressions", [])
        ]
        or None,
    )


def _peers(peers: Sequence[Mapping[str, Any]]) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=_selector(p.get("namespaceSelector")),
            pod_selector=_selector(p.get("podSelector")),
            ip_block=k8s.networking.v1.IPBlockArgs(cidr=p["ipBlock"]["cidr"]) if "ipBlock" in p else None,
        )
        for p in peers
    ]


def _ports(ports: Sequence[Mapping[str, Any]] | None) -> list[k8s.networking.v1.NetworkPolicyPortArgs] | None:
    return [
        k8s.networking.v1.NetworkPolicyPortArgs(protocol=p["protocol"], port=p["port"]) for p in ports or []
    ] or None


def spec_args(spec: Mapping[str, Any]) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """The SDK's typed form of a spec written as Kubernetes writes it."""
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=_selector(spec["podSelector"]) or k8s.meta.v1.LabelSelectorArgs(),
        policy_types=list(spec["policyTypes"]),
        ingress=[
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=_peers(r.get("from", [])) or None, ports=_ports(r.get("ports"))
            )
            for r in spec["ingress"]
        ]
        if "ingress" in spec
        else None,
        egress=[
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=_peers(r.get("to", [])) or None, ports=_ports(r.get("ports"))
            )
            for r in spec["egress"]
        ]
        if "egress" in spec
        else None,
    )
