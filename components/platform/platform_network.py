"""Default-deny NetworkPolicies for the platform's own namespaces, with explicit allows per
component: DNS, HTTPS out (the Kubernetes API; AWS APIs where the component calls them), the
control plane's calls into webhooks and aggregated APIs, the collector's scrapes, and the few
cross-namespace paths the platform needs (router -> tenants and Grafana, everyone -> istiod and the
collector). Tenants may reach the collector (Alloy) in `observability`, never Loki, Tempo or Mimir.

Ports are the charts' container ports at the pinned versions (NetworkPolicy matches the pod's
port, not the Service's): KEDA 9443/6443 (kedacore/charts v2.20.2 webhooks/metrics-server
deployment), External Secrets webhook 10250 (values `webhook.port`), AWS Load Balancer
Controller 9443 (`webhookBindPort` default), VPA admission controller 8000 (`admissionController
.httpPort`), metrics-server 10250 (`containerPort`), istiod 15012/15017. The VPC CNI network policy
agent always admits the node's own IP, so kubelet probes need no rule."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings
from components.edge.ingress_routing import LBC_NAMESPACE, ROUTER_NAMESPACE
from components.edge.public_entry import ROUTER_PORT
from components.platform.network import subnet_plan
from components.platform.observability import NAMESPACE as OBSERVABILITY
from components.platform.observability import OTLP_GRPC_PORT
from components.platform.secrets_delivery import NAMESPACE as EXTERNAL_SECRETS
from components.platform.service_mesh import MESH_NAMESPACE
from components.recovery.velero import NAMESPACE as VELERO
from components.shared.k8s_helpers import DNS_EGRESS, spec_args
from components.tenant.tenant_namespace import (
    APP_PORT,
    MESH_CONTROL_PLANE,
    MESH_CONTROL_PLANE_PORT,
    TELEMETRY_COLLECTOR,
)

GRAFANA = {"app.kubernetes.io/name": "grafana"}  # every Grafana release (platform and tenant views)
GRAFANA_PORT = 3000
ISTIOD_WEBHOOK_PORT = 15017
# The `kubernetes` Service's ClusterIP: EKS picks 172.20.0.0/16 for a VPC in 10.0.0.0/8, else
# 10.100.0.0/16 (no service CIDR is set on the cluster). Pods reach the API server through it;
# the control plane's own ENIs sit in the cluster's subnets (the VPC).
KUBERNETES_API_ADDRESSES = ("172.20.0.1/32", "10.100.0.1/32")
EVERYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Allowances:
    # HTTPS to any address: AWS APIs without an interface endpoint, S3 (gateway endpoint), an IdP;
    # otherwise HTTPS only to the VPC and the Kubernetes API's ClusterIP
    https_anywhere: bool = False
    webhook_ports: tuple[int, ...] = ()  # served to the API server (control plane in the VPC)
    extra: Mapping[str, Any] = field(default_factory=dict)  # more policies: name -> spec (dict)


def _namespace(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def platform_allowances(settings: StackSettings) -> dict[str, Allowances]:
    """Per platform namespace, what it needs beyond its own namespace, DNS and the Kubernetes API."""
    _, public_subnets = subnet_plan(settings.vpc_cidr)
    tenants = {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]}  # tags.tenant_labels
    return {
        MESH_NAMESPACE: Allowances(
            https_anywhere=True,  # istiod fetches the tenant issuers' JWKS (RequestAuthentication)
            webhook_ports=(ISTIOD_WEBHOOK_PORT,),
            extra={
                # Every sidecar (router, tenants) fetches its configuration and certificate.
                "allow-sidecars-to-istiod": {
                    "podSelector": {"matchLabels": MESH_CONTROL_PLANE},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": _tcp(MESH_CONTROL_PLANE_PORT)}],
                }
            },
        ),
        "istio-cni": Allowances(),
        ROUTER_NAMESPACE: Allowances(
            extra={
                # The public entry ALB (public subnets) forwards to NGINX's plain listener.
                "allow-entry-ingress": {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {"from": [{"ipBlock": {"cidr": c}} for c in public_subnets], "ports": _tcp(ROUTER_PORT)}
                    ],
                },
                "allow-routes-egress": {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "namespaceSelector": tenants,
                                    "podSelector": {"matchLabels": {"app.kubernetes.io/component": "api"}},
                                }
                            ],
                            "ports": _tcp(APP_PORT),
                        },
                        {
                            "to": [
                                {
                                    "namespaceSelector": _namespace(OBSERVABILITY),
                                    "podSelector": {"matchLabels": GRAFANA},
                                }
                            ],
                            "ports": _tcp(GRAFANA_PORT),
                        },
                    ],
                },
            }
        ),
        OBSERVABILITY: Allowances(
            https_anywhere=True,  # S3 (gateway endpoint) for Loki, Tempo, Mimir; the IdP for Grafana
            extra={
                # Everyone may send telemetry to the collector, and only to it.
                "allow-otlp-to-collector": {
                    "podSelector": {"matchLabels": TELEMETRY_COLLECTOR},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": _tcp(OTLP_GRPC_PORT)}],
                },
                "allow-router-to-grafana": {
                    "podSelector": {"matchLabels": GRAFANA},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {"from": [{"namespaceSelector": _namespace(ROUTER_NAMESPACE)}], "ports": _tcp(GRAFANA_PORT)}
                    ],
                },
                # The collector scrapes annotated pods everywhere, host-network ones at node IPs.
                "allow-collector-scrapes": {
                    "podSelector": {"matchLabels": TELEMETRY_COLLECTOR},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": settings.vpc_cidr}}]}],
                },
            },
        ),
        EXTERNAL_SECRETS: Allowances(https_anywhere=True, webhook_ports=(10250,)),
        "keda": Allowances(https_anywhere=True, webhook_ports=(9443, 6443)),  # admission webhooks, external metrics API
        "cluster-autoscaler": Allowances(https_anywhere=True),
        "vpa": Allowances(webhook_ports=(8000,)),
        "metrics-server": Allowances(
            webhook_ports=(10250,),  # the resource metrics API, aggregated by the API server
            extra={
                "allow-kubelet-egress": {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {"cidr": settings.vpc_cidr}}], "ports": _tcp(10250)}],
                }
            },
        ),
        LBC_NAMESPACE: Allowances(https_anywhere=True, webhook_ports=(9443,)),
        VELERO: Allowances(https_anywhere=True),
    }


def platform_policies(settings: StackSettings, allowances: Allowances) -> dict[str, dict[str, Any]]:
    """The NetworkPolicy specs of one platform namespace, by name; `default-deny` last."""
    everything: dict[str, Any] = {}
    https = (
        [{"ipBlock": {"cidr": EVERYWHERE}}]
        if allowances.https_anywhere
        else [{"ipBlock": {"cidr": c}} for c in (settings.vpc_cidr, *KUBERNETES_API_ADDRESSES)]
    )
    policies: dict[str, dict[str, Any]] = {
        "allow-same-namespace": {
            "podSelector": everything,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": everything}]}],
            "egress": [{"to": [{"podSelector": everything}]}],
        },
        "allow-dns-egress": DNS_EGRESS,
        "allow-https-egress": {
            "podSelector": everything,
            "policyTypes": ["Egress"],
            "egress": [{"to": https, "ports": _tcp(443)}],
        },
        # Sidecars (the router's) and the collector's clients, wherever they run.
        "allow-mesh-and-telemetry-egress": {
            "podSelector": everything,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": _namespace(MESH_NAMESPACE),
                            "podSelector": {"matchLabels": MESH_CONTROL_PLANE},
                        }
                    ],
                    "ports": _tcp(MESH_CONTROL_PLANE_PORT),
                },
                {
                    "to": [
                        {
                            "namespaceSelector": _namespace(OBSERVABILITY),
                            "podSelector": {"matchLabels": TELEMETRY_COLLECTOR},
                        }
                    ],
                    "ports": _tcp(OTLP_GRPC_PORT),
                },
            ],
        },
        "allow-collector-scrapes": {
            "podSelector": everything,
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": _namespace(OBSERVABILITY),
                            "podSelector": {"matchLabels": TELEMETRY_COLLECTOR},
                        }
                    ]
                }
            ],
        },
    }
    if allowances.webhook_ports:
        policies["allow-control-plane-ingress"] = {
            "podSelector": everything,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": settings.vpc_cidr}}], "ports": _tcp(*allowances.webhook_ports)}],
        }
    for name, spec in allowances.extra.items():
        policies[name if name not in policies else f"{name}-own"] = dict(spec)
    policies["default-deny"] = {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]}
    return policies


@dataclass
class PlatformNetworkArgs:
    settings: StackSettings
    # The components that create the platform namespaces (and their releases): the policies come
    # after them, so a first install runs unfenced and the fence closes once everything is up.
    depends_on: Sequence[pulumi.Resource] = ()


class PlatformNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, args: PlatformNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:PlatformNetwork", name, None, opts)
        s = args.settings
        for namespace, allowances in platform_allowances(s).items():
            allows: list[pulumi.Resource] = []
            for policy, spec in platform_policies(s, allowances).items():
                # The deny closes last: the allows are in place before anything is cut off.
                after = [*args.depends_on, *allows] if policy == "default-deny" else list(args.depends_on)
                resource = k8s.networking.v1.NetworkPolicy(
                    f"{name}-{namespace}-{policy}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=policy, namespace=namespace, labels={"app.kubernetes.io/part-of": "platform"}
                    ),
                    spec=spec_args(spec),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=after),
                )
                allows.append(resource)
        self.register_outputs({"namespaces": sorted(platform_allowances(s))})
