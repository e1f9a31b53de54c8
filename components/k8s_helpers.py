"""Shared shapes of the platform layer: an add-on namespace with Pod Security labels, and a Helm
release pinned from components/versions.py."""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.versions import CHARTS

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
    namespace: k8s.core.v1.Namespace,
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    release_name: str | None = None,  # default: the chart key
) -> k8s.helm.v3.Release:
    chart = CHARTS[chart_key]
    return k8s.helm.v3.Release(
        name,
        name=release_name or chart_key,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
        namespace=namespace.metadata.apply(lambda m: m.name or ""),
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        max_history=10,
        timeout=900,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[namespace, *depends_on]),
    )


SYSTEM_NODES: dict[str, Any] = {
    "nodeSelector": {"node-pool": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}],
}
