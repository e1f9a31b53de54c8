"""Istio: base CRDs, the CNI node agent (so sidecars need no NET_ADMIN and tenant namespaces can
enforce Pod Security `restricted`), istiod, and mesh-wide STRICT mutual TLS."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings
from components.shared.k8s_helpers import SYSTEM_NODES, addon_namespace, release

MESH_NAMESPACE = "istio-system"


@dataclass
class ServiceMeshArgs:
    settings: StackSettings


class ServiceMesh(pulumi.ComponentResource):
    istiod: k8s.helm.v3.Release
    peer_authentication: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: ServiceMeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:ServiceMesh", name, None, opts)
        system = addon_namespace(f"{name}-system", MESH_NAMESPACE, self)
        cni_ns = addon_namespace(f"{name}-cni", "istio-cni", self, enforce="privileged")

        base = release(f"{name}-base", "istio-base", system, {"defaultRevision": "default"}, self)
        cni = release(
            f"{name}-cni",
            "istio-cni",
            cni_ns,
            {"cni": {"excludeNamespaces": ["kube-system", "istio-cni"]}},
            self,
            depends_on=[base],
        )
        self.istiod = release(
            f"{name}-istiod",
            "istiod",
            system,
            {
                # Injection reads pilot.cni.enabled: with it, sidecars get no istio-init container
                # (NET_ADMIN/NET_RAW), which Pod Security baseline and restricted reject.
                "pilot": {**SYSTEM_NODES, "autoscaleMin": 2, "replicaCount": 2, "cni": {"enabled": True}},
                "meshConfig": {
                    "enableAutoMtls": True,
                    "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
                    "accessLogFile": "/dev/stdout",
                    "accessLogEncoding": "JSON",  # tenant service metrics are read from these (TenantObservability)
                    # Apps start after their sidecar (global.proxy.* is deprecated for this).
                    "defaultConfig": {"holdApplicationUntilProxyStarts": True},
                },
            },
            self,
            depends_on=[base, cni],
        )
        # Mesh-wide: a PeerAuthentication in the root namespace applies to every workload.
        self.peer_authentication = k8s.apiextensions.CustomResource(
            f"{name}-strict-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace=MESH_NAMESPACE),
            spec={"mtls": {"mode": "STRICT"}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.istiod]),
        )
        self.register_outputs({"meshNamespace": MESH_NAMESPACE})
