"""A tenant's Kubernetes boundary: namespace (Pod Security `restricted`, Istio injection), quota
and limit range from the tier, default-deny network policies with only the allows its services
need, STRICT mTLS with an authorization policy that admits only the tenant itself and router requests
carrying a JWT of the tenant's own issuer (in every serving region; a region that does not know the
issuer yet refuses the router), the aggregator fenced in (only the router calls it; it reaches only
the tenant's carrier and policy APIs, and only with the caller's token), and namespace-only RBAC for its operators: view, logs and rollout
restart, enforced by an admission policy that refuses any other change to a deployment."""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.platform.network import subnet_plan
from components.shared.k8s_helpers import DNS_EGRESS, spec_args
from components.shared.tags import tenant_labels

POD_SECURITY = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
APP_PORT = 8080
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
AGGREGATOR = "aggregator"  # components.tenant.tenant_services: its Deployment, service account, role
AGGREGATED = ("carrier", "policy")  # the APIs it fans out to, in its own namespace only
ROUTER_NAMESPACE = "nginx-ingress"  # components.edge.ingress_routing
ROUTER_PRINCIPAL = f"cluster.local/ns/{ROUTER_NAMESPACE}/sa/nginx-ingress"
MESH_NAMESPACE = "istio-system"
MESH_CONTROL_PLANE = {"app": "istiod"}  # istiod chart's pod labels
MESH_CONTROL_PLANE_PORT = 15012  # xDS and certificates; the webhook port 15017 is the API server's
TELEMETRY_NAMESPACE = "observability"  # components.platform.observability: Alloy's OTLP receiver
# The alloy chart's selector labels (release "alloy"): the collector only, never Loki/Tempo/Mimir.
TELEMETRY_COLLECTOR = {"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": "alloy"}
TELEMETRY_PORT = 4317
METRICS_PORT = 15020  # istio-agent's merged Prometheus metrics, scraped by Alloy
# Egress the tenant's services need in the data subnets (never the whole VPC): AWS interface
# endpoints and Redis everywhere it runs, its own database where this region holds it. Which
# database and which cache user is the security groups' and IAM's business.
ENDPOINTS_PORT = 443
CACHE_PORT = 6379
DATABASE_PORT = 3306
OPERATOR_RULES = [
    (
        "",
        ["pods", "pods/log", "services", "endpoints", "configmaps", "events", "persistentvolumeclaims"],
        ["get", "list", "watch"],
    ),
    ("apps", ["deployments", "replicasets"], ["get", "list", "watch"]),
    # `kubectl rollout restart` patches the pod template's restartedAt annotation; the admission
    # policy below refuses every other change (a patch could otherwise mount any secret).
    ("apps", ["deployments"], ["patch"]),
    ("batch", ["jobs"], ["get", "list", "watch"]),
    ("autoscaling", ["horizontalpodautoscalers"], ["get", "list", "watch"]),
]


RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
# apps/v1 DeploymentSpec besides the pod template: a restart leaves each of them as it was.
DEPLOYMENT_FIELDS = (
    "replicas",
    "selector",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
)


def _unchanged(path: str) -> str:
    """CEL: the optional field `path` is absent in both or equal in both."""
    new, old = f"object.{path}", f"oldObject.{path}"
    return f"has({new}) == has({old}) && (!has({new}) || {new} == {old})"


def restart_only_validations() -> list[tuple[str, str]]:
    """(CEL expression, message) pairs an operator's deployment update must satisfy."""
    new, old = "object.spec.template.metadata.annotations", "oldObject.spec.template.metadata.annotations"
    r = RESTART_ANNOTATION
    only_restart = (
        f"(!has({new}) || {new}.all(k, k == '{r}' || (has({old}) && k in {old} && {old}[k] == {new}[k])))"
        f" && (!has({old}) || {old}.all(k, k == '{r}' || (has({new}) && k in {new})))"
    )
    restart = "tenant operators may only restart a deployment (kubectl rollout restart)"
    return [
        ("object.spec.template.spec == oldObject.spec.template.spec", f"{restart}: the pod spec is unchanged"),
        (_unchanged("spec.template.metadata.labels"), f"{restart}: the pod labels are unchanged"),
        (only_restart, f"{restart}: only the {r} annotation of the pod template may change"),
        *((_unchanged(f"spec.{f}"), f"{restart}: spec.{f} is unchanged") for f in DEPLOYMENT_FIELDS),
    ]


@dataclass
class TenantNamespaceArgs:
    settings: StackSettings
    tenant: Tenant
    operators_group: str
    jwt_issuer: pulumi.Input[str] | None = None  # the tenant's own OAuth2 issuer; None: router refused
    # Security groups for every pod of the namespace (TenantPodSecurityGroups.group_ids)
    pod_security_group_ids: list[pulumi.Input[str]] | None = None


class TenantNamespace(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: TenantNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantNamespace", name, None, opts)
        s, tenant = args.settings, args.tenant
        labels = tenant_labels(s, tenant)
        ns_name = tenant.namespace

        # Holds the tenant's workloads and secrets: protected, and a replacement deletes first
        # because the name is fixed (pulumi-kubernetes#2459).
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns_name, labels={**labels, **POD_SECURITY, "istio-injection": "enabled"}
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=True, delete_before_replace=True),
        )
        # Children reference the name through the namespace so they are created after it.
        self.namespace_name = self.namespace.metadata.apply(lambda m: m.name or ns_name)

        def meta(resource_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=resource_name, namespace=self.namespace_name, labels=labels)

        child = pulumi.ResourceOptions(parent=self)
        self._quota(name, tenant, meta, child)
        self._network_policies(name, s, tenant, meta, child)
        if args.pod_security_group_ids:
            # Every pod of the namespace gets the tenant's groups on a branch ENI (VPC CNI).
            k8s.apiextensions.CustomResource(
                f"{name}-pod-security-groups",
                api_version="vpcresources.k8s.aws/v1beta1",
                kind="SecurityGroupPolicy",
                metadata=meta("tenant-pods"),
                spec={
                    "podSelector": {},
                    "securityGroups": {"groupIds": args.pod_security_group_ids},
                },
                opts=child,
            )
        self._mesh_policies(name, ns_name, args.jwt_issuer, meta, child)

        role = k8s.rbac.v1.Role(
            f"{name}-operators",
            metadata=meta("tenant-operators"),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[group], resources=resources, verbs=verbs)
                for group, resources, verbs in OPERATOR_RULES
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-operators",
            metadata=meta("tenant-operators"),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name="tenant-operators"
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(kind="Group", name=args.operators_group, api_group="rbac.authorization.k8s.io")
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        self._operators_restart_only(name, ns_name, args.operators_group, labels)
        self.register_outputs({"namespace": self.namespace_name})

    def _operators_restart_only(self, name: str, ns_name: str, group: str, labels: dict[str, str]) -> None:
        """Admission (GA in Kubernetes 1.30): requests of the tenant's operators group (its EKS
        access entry's Kubernetes group) may update a deployment only to restart it."""
        ar = k8s.admissionregistration.v1
        policy_name = f"{ns_name}-operators-restart-only"
        policy = ar.ValidatingAdmissionPolicy(
            f"{name}-operators-restart-only",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, labels=labels),
            spec=ar.ValidatingAdmissionPolicySpecArgs(
                failure_policy="Fail",
                match_constraints=ar.MatchResourcesArgs(
                    resource_rules=[
                        ar.NamedRuleWithOperationsArgs(
                            api_groups=["apps"], api_versions=["*"], operations=["UPDATE"], resources=["deployments"]
                        )
                    ]
                ),
                match_conditions=[
                    ar.MatchConditionArgs(name="tenant-operators", expression=f"'{group}' in request.userInfo.groups")
                ],
                validations=[ar.ValidationArgs(expression=e, message=m) for e, m in restart_only_validations()],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ar.ValidatingAdmissionPolicyBinding(
            f"{name}-operators-restart-only",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, labels=labels),
            spec=ar.ValidatingAdmissionPolicyBindingSpecArgs(policy_name=policy_name, validation_actions=["Deny"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _quota(self, name: str, tenant: Tenant, meta, child: pulumi.ResourceOptions) -> None:
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

    def _network_policies(
        self, name: str, s: StackSettings, tenant: Tenant, meta, child: pulumi.ResourceOptions
    ) -> None:
        np = k8s.networking.v1
        everything = k8s.meta.v1.LabelSelectorArgs()
        # The aggregator's pods get their own, narrower rules (allow-aggregator-egress, the router).
        not_aggregator = k8s.meta.v1.LabelSelectorArgs(
            match_expressions=[
                k8s.meta.v1.LabelSelectorRequirementArgs(key=NAME_LABEL, operator="NotIn", values=[AGGREGATOR])
            ]
        )
        aggregator = k8s.meta.v1.LabelSelectorArgs(match_labels={NAME_LABEL: AGGREGATOR})
        aggregated_apis = k8s.meta.v1.LabelSelectorArgs(
            match_labels={COMPONENT_LABEL: "api"},
            match_expressions=[
                k8s.meta.v1.LabelSelectorRequirementArgs(key=NAME_LABEL, operator="In", values=list(AGGREGATED))
            ],
        )

        def namespace(label: str) -> k8s.meta.v1.LabelSelectorArgs:
            return k8s.meta.v1.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": label})

        def tcp(port: int) -> np.NetworkPolicyPortArgs:
            return np.NetworkPolicyPortArgs(protocol="TCP", port=port)

        data_subnets, _ = subnet_plan(s.vpc_cidr)
        vpc_ports = [ENDPOINTS_PORT, CACHE_PORT] + ([DATABASE_PORT] if s.home_here(tenant) else [])
        policies: dict[str, np.NetworkPolicySpecArgs] = {
            "default-deny": np.NetworkPolicySpecArgs(pod_selector=everything, policy_types=["Ingress", "Egress"]),
            "allow-dns-egress": spec_args(DNS_EGRESS),
            "allow-same-namespace": np.NetworkPolicySpecArgs(
                pod_selector=not_aggregator,
                policy_types=["Ingress", "Egress"],
                ingress=[np.NetworkPolicyIngressRuleArgs(from_=[np.NetworkPolicyPeerArgs(pod_selector=everything)])],
                egress=[np.NetworkPolicyEgressRuleArgs(to=[np.NetworkPolicyPeerArgs(pod_selector=everything)])],
            ),
            "allow-router-ingress": np.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/component": "api"}),
                policy_types=["Ingress"],
                ingress=[
                    np.NetworkPolicyIngressRuleArgs(
                        from_=[np.NetworkPolicyPeerArgs(namespace_selector=namespace(ROUTER_NAMESPACE))],
                        ports=[tcp(APP_PORT)],
                    )
                ],
            ),
            # Alloy scrapes the sidecars' merged metrics (Istio's prometheus.io/port annotation).
            "allow-metrics-scrape": np.NetworkPolicySpecArgs(
                pod_selector=everything,
                policy_types=["Ingress"],
                ingress=[
                    np.NetworkPolicyIngressRuleArgs(
                        from_=[
                            np.NetworkPolicyPeerArgs(
                                namespace_selector=namespace(TELEMETRY_NAMESPACE),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=TELEMETRY_COLLECTOR),
                            )
                        ],
                        ports=[tcp(METRICS_PORT)],
                    )
                ],
            ),
            "allow-mesh-control-plane": np.NetworkPolicySpecArgs(
                pod_selector=everything,
                policy_types=["Egress"],
                egress=[
                    np.NetworkPolicyEgressRuleArgs(
                        to=[
                            np.NetworkPolicyPeerArgs(
                                namespace_selector=namespace(MESH_NAMESPACE),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=MESH_CONTROL_PLANE),
                            )
                        ],
                        ports=[tcp(MESH_CONTROL_PLANE_PORT)],
                    )
                ],
            ),
            "allow-telemetry-egress": np.NetworkPolicySpecArgs(
                pod_selector=everything,
                policy_types=["Egress"],
                egress=[
                    np.NetworkPolicyEgressRuleArgs(
                        to=[
                            np.NetworkPolicyPeerArgs(
                                namespace_selector=namespace(TELEMETRY_NAMESPACE),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=TELEMETRY_COLLECTOR),
                            )
                        ],
                        ports=[tcp(TELEMETRY_PORT)],
                    )
                ],
            ),
            "allow-vpc-services-egress": np.NetworkPolicySpecArgs(
                pod_selector=not_aggregator,
                policy_types=["Egress"],
                egress=[
                    np.NetworkPolicyEgressRuleArgs(
                        to=[np.NetworkPolicyPeerArgs(ip_block=np.IPBlockArgs(cidr=cidr)) for cidr in data_subnets],
                        ports=[tcp(port) for port in vpc_ports],
                    )
                ],
            ),
            # The aggregator calls the tenant's carrier and policy APIs (pod port, after the
            # Service) and caches in Redis as the tenant's user (STS through the endpoints for its
            # IAM token); never the database, the workers or another namespace.
            "allow-aggregator-egress": np.NetworkPolicySpecArgs(
                pod_selector=aggregator,
                policy_types=["Egress"],
                egress=[
                    np.NetworkPolicyEgressRuleArgs(
                        to=[np.NetworkPolicyPeerArgs(pod_selector=aggregated_apis)], ports=[tcp(APP_PORT)]
                    ),
                    np.NetworkPolicyEgressRuleArgs(
                        to=[np.NetworkPolicyPeerArgs(ip_block=np.IPBlockArgs(cidr=cidr)) for cidr in data_subnets],
                        ports=[tcp(ENDPOINTS_PORT), tcp(CACHE_PORT)],
                    ),
                ],
            ),
        }
        for policy_name, spec in policies.items():
            logical = "allow-dns" if policy_name == "allow-dns-egress" else policy_name  # stable since v1
            k8s.networking.v1.NetworkPolicy(f"{name}-{logical}", metadata=meta(policy_name), spec=spec, opts=child)

    def _mesh_policies(
        self,
        name: str,
        ns_name: str,
        issuer: pulumi.Input[str] | None,
        meta,
        child: pulumi.ResourceOptions,
    ) -> None:
        k8s.apiextensions.CustomResource(
            f"{name}-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=meta("strict-mtls"),
            spec={"mtls": {"mode": "STRICT"}},
            opts=child,
        )
        same_namespace = {"from": [{"source": {"namespaces": [ns_name]}}]}
        router = {"principals": [ROUTER_PRINCIPAL]}
        allow: pulumi.Input[dict[str, Any]]
        deny: pulumi.Input[dict[str, Any]]
        if issuer is None:
            # Issuer not known in this region yet: fail closed, the router's requests are refused.
            allow = {"action": "ALLOW", "rules": [same_namespace]}
            deny = {"action": "DENY", "rules": [{"from": [{"source": router}]}]}
        else:
            k8s.apiextensions.CustomResource(
                f"{name}-jwt",
                api_version="security.istio.io/v1",
                kind="RequestAuthentication",
                metadata=meta("tenant-jwt"),
                spec=pulumi.Output.from_input(issuer).apply(
                    lambda iss: {
                        "jwtRules": [
                            {"issuer": iss, "jwksUri": f"{iss}/.well-known/jwks.json", "forwardOriginalToken": True}
                        ]
                    }
                ),
                opts=child,
            )
            # The request principal is `<iss>/<sub>`: pinned to this tenant's issuer, so a token of
            # another issuer (another tenant's pool) never matches.
            own_tokens = pulumi.Output.from_input(issuer).apply(lambda iss: [f"{iss}/*"])
            allow = own_tokens.apply(
                lambda tokens: {
                    "action": "ALLOW",
                    "rules": [{"from": [{"source": {**router, "requestPrincipals": tokens}}]}, same_namespace],
                }
            )
            deny = own_tokens.apply(
                lambda tokens: {
                    "action": "DENY",
                    "rules": [{"from": [{"source": {**router, "notRequestPrincipals": tokens}}]}],
                }
            )
        k8s.apiextensions.CustomResource(
            f"{name}-authz",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta("allow-router-and-tenant"),
            spec=allow,
            opts=child,
        )
        # DENY is evaluated before every ALLOW (mesh-wide ones in istio-system included): no other
        # policy can admit the router's requests without the tenant's own token.
        k8s.apiextensions.CustomResource(
            f"{name}-router-jwt",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta("router-requires-tenant-jwt"),
            spec=deny,
            opts=child,
        )
        self._aggregator_policies(name, ns_name, issuer, meta, child)

    def _aggregator_policies(
        self, name: str, ns_name: str, issuer: pulumi.Input[str] | None, meta, child: pulumi.ResourceOptions
    ) -> None:
        """The aggregator answers only the router (which the namespace's DENY already holds to the
        tenant's token), and whatever it calls in its namespace it calls with the caller's token,
        so the carrier and policy APIs check the tenant themselves (RequestAuthentication keeps
        the token: forwardOriginalToken)."""
        aggregator = f"cluster.local/ns/{ns_name}/sa/{AGGREGATOR}"
        k8s.apiextensions.CustomResource(
            f"{name}-aggregator-callers",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta("aggregator-router-only"),
            spec={
                "selector": {"matchLabels": {NAME_LABEL: AGGREGATOR}},
                "action": "DENY",
                "rules": [{"from": [{"source": {"notPrincipals": [ROUTER_PRINCIPAL]}}]}],
            },
            opts=child,
        )
        forwards: pulumi.Input[dict[str, Any]]
        if issuer is None:
            # No issuer known here: the router is refused, so the aggregator has nothing to forward.
            forwards = {"action": "DENY", "rules": [{"from": [{"source": {"principals": [aggregator]}}]}]}
        else:
            forwards = pulumi.Output.from_input(issuer).apply(
                lambda iss: {
                    "action": "DENY",
                    "rules": [
                        {"from": [{"source": {"principals": [aggregator], "notRequestPrincipals": [f"{iss}/*"]}}]}
                    ],
                }
            )
        k8s.apiextensions.CustomResource(
            f"{name}-aggregator-token",
            api_version="security.istio.io/v1",
            kind="AuthorizationPolicy",
            metadata=meta("aggregator-forwards-tenant-jwt"),
            spec=forwards,
            opts=child,
        )
