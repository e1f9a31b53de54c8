"""A tenant's Kubernetes boundary: namespace (Pod Security `restricted`), quota and limit range
from the tier, and default-deny network policies with a DNS-egress allow."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.tags import tenant_labels

POD_SECURITY = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


@dataclass
class TenantNamespaceArgs:
    settings: StackSettings
    tenant: Tenant


class TenantNamespace(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: TenantNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantNamespace", name, None, opts)
        tenant = args.tenant
        labels = tenant_labels(args.settings, tenant)
        ns_name = tenant.namespace

        # Holds the tenant's workloads and secrets: protected, and a replacement deletes first
        # because the name is fixed (pulumi-kubernetes#2459).
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns_name, labels={**labels, **POD_SECURITY}),
            opts=pulumi.ResourceOptions(parent=self, protect=True, delete_before_replace=True),
        )
        # Children reference the name through the namespace so they are created after it.
        self.namespace_name = self.namespace.metadata.apply(lambda m: m.name or ns_name)

        def meta(resource_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=resource_name, namespace=self.namespace_name, labels=labels)

        child = pulumi.ResourceOptions(parent=self)
        quota = tenant.tier.quota
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("tenant-quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": quota.requests_cpu,
                    "requests.memory": quota.requests_memory,
                    "limits.cpu": quota.limits_cpu,
                    "limits.memory": quota.limits_memory,
                    "pods": str(quota.pods),
                    "persistentvolumeclaims": str(quota.persistent_volume_claims),
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            ),
            opts=child,
        )
        d = tenant.tier.container_defaults
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("tenant-limits"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default_request={"cpu": d.request_cpu, "memory": d.request_memory},
                        default={"cpu": d.limit_cpu, "memory": d.limit_memory},
                        max={"cpu": d.max_cpu, "memory": d.max_memory},
                    )
                ]
            ),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta("default-deny"),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=meta("allow-dns-egress"),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": "kube-system"}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol=proto, port=53) for proto in ("UDP", "TCP")
                        ],
                    )
                ],
            ),
            opts=child,
        )
        self.register_outputs({"namespace": self.namespace_name})
