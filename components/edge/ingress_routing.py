"""In-cluster routing behind the public entry: F5's NGINX Ingress Controller as the router (tenants
attach Ingresses of class `nginx` from their own namespaces), and the AWS Load Balancer Controller,
which binds the NGINX pods into the entry ALB's target group. Load balancers themselves are created
by Pulumi (PublicEntry), so the controller's role can only describe and (de)register targets."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings
from components.edge.public_entry import ROUTER_PORT
from components.shared.iam import document
from components.shared.k8s_helpers import SYSTEM_NODES, addon_namespace, release
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.shared.tags import platform_tags
from components.tenant.tenant_services import MERGEABLE_TYPE

ROUTER_NAMESPACE = "nginx-ingress"
ROUTER_SERVICE = "nginx-ingress-controller"
ROUTER_SERVICE_ACCOUNT = "nginx-ingress"
INGRESS_CLASS = "nginx"
LBC_NAMESPACE = "aws-load-balancer-controller"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"

# Read-only calls the controller makes to resolve targets; they have no resource-level scoping.
LBC_DESCRIBE = [
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
]


def load_balancer_controller_policy(target_group_arn: str) -> str:
    return document(
        statement(LBC_DESCRIBE, "*"),
        statement(
            ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], [target_group_arn]
        ),
    )


@dataclass
class IngressRoutingArgs:
    settings: StackSettings
    cluster_name: str
    vpc_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    entry_security_group_id: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]
    # The service mesh (ServiceMesh, or its istiod release): the router's pods get their sidecar
    # from istiod's injection webhook, so they may only start once it (and the CNI agent) runs.
    mesh: pulumi.Resource | None = None


class IngressRouting(pulumi.ComponentResource):
    router: k8s.helm.v3.Release

    def __init__(self, name: str, args: IngressRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:IngressRouting", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "ingress-routing")

        # The entry ALB reaches the NGINX pods (VPC CNI gives pods the cluster security group).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-entry-to-router",
            security_group_id=args.cluster_security_group_id,
            referenced_security_group_id=args.entry_security_group_id,
            ip_protocol="tcp",
            from_port=ROUTER_PORT,
            to_port=ROUTER_PORT,
            description="public entry ALB to the NGINX router pods",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

        lbc_ns = addon_namespace(f"{name}-lbc", LBC_NAMESPACE, self)
        lbc_role = ServiceAccountRole(
            f"{name}-lbc",
            ServiceAccountRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=LBC_NAMESPACE,
                service_account=LBC_SERVICE_ACCOUNT,
                tags=tags,
                policy=pulumi.Output.from_input(args.target_group_arn).apply(load_balancer_controller_policy),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        lbc = release(
            f"{name}-lbc",
            "aws-load-balancer-controller",
            lbc_ns,
            {
                "clusterName": args.cluster_name,
                "region": s.region,
                "vpcId": args.vpc_id,
                "replicaCount": 2,
                "serviceAccount": {
                    "create": True,
                    "name": LBC_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": lbc_role.arn},
                },
                # No load balancers from Kubernetes objects: the only internet entry is PublicEntry.
                "createIngressClassResource": False,
                "enableServiceMutatorWebhook": False,
                **SYSTEM_NODES,
            },
            self,
        )

        router_ns = addon_namespace(f"{name}-router", ROUTER_NAMESPACE, self, labels={"istio-injection": "enabled"})
        self.router = release(
            f"{name}-router",
            "nginx-ingress",
            router_ns,
            {
                "controller": {
                    "kind": "deployment",
                    "replicaCount": 3 if s.environment == "prod" else 2,
                    "ingressClass": {"name": INGRESS_CLASS, "create": True, "setAsDefaultIngress": False},
                    "service": {"create": True, "type": "ClusterIP"},
                    # Tenants' AuthorizationPolicies admit this identity (tenant_namespace.ROUTER_PRINCIPAL);
                    # the chart reads the name here (nginx/kubernetes-ingress v5.5.4 _helpers.tpl).
                    "serviceAccount": {"name": ROUTER_SERVICE_ACCOUNT},
                    "enableSnippets": False,  # no tenant-supplied NGINX configuration
                    "healthStatus": True,
                    "config": {
                        "entries": {
                            "server-tokens": "False",
                            "real-ip-header": "X-Forwarded-For",
                            "set-real-ip-from": s.vpc_cidr,
                            "hsts": "True",
                            "hsts-max-age": "31536000",
                        }
                    },
                    # Sidecar for mTLS towards tenant services; the ALB hop bypasses it.
                    "pod": {
                        "annotations": {
                            "sidecar.istio.io/inject": "true",
                            "traffic.sidecar.istio.io/excludeInboundPorts": f"{ROUTER_PORT},443",
                        }
                    },
                    **SYSTEM_NODES,
                },
                # The chart names the Service from serviceNameOverride, not controller.service.name.
                "serviceNameOverride": ROUTER_SERVICE,
            },
            self,
            depends_on=[args.mesh] if args.mesh is not None else (),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-entry-binding",
            api_version="elbv2.k8s.aws/v1beta1",
            kind="TargetGroupBinding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="public-entry", namespace=ROUTER_NAMESPACE),
            spec={
                "serviceRef": {"name": ROUTER_SERVICE, "port": ROUTER_PORT},
                "targetGroupARN": args.target_group_arn,
                "targetType": "ip",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[lbc, self.router]),
        )
        # The public API's host (API Gateway's backend Host): the platform owns its master; each
        # tenant's stack attaches a minion for its own `/tenants/<id>/` prefix (TenantServices).
        # Host-level settings live here: minions may carry neither redirects nor HSTS.
        k8s.networking.v1.Ingress(
            f"{name}-public-api",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="public-api",
                namespace=ROUTER_NAMESPACE,
                annotations={
                    MERGEABLE_TYPE: "master",
                    "nginx.org/redirect-to-https": "true",
                    "nginx.org/hsts": "true",
                },
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=INGRESS_CLASS, rules=[k8s.networking.v1.IngressRuleArgs(host=s.edge.api_host)]
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.router]),
        )
        self.register_outputs({"ingressClass": INGRESS_CLASS})
