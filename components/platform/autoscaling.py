"""Autoscaling at every level: metrics-server (HPA on CPU/memory), KEDA (HPA on queue depth),
the Vertical Pod Autoscaler recommender, and the Cluster Autoscaler for the managed node groups,
each AWS caller with its own least-privilege IRSA role."""

from dataclasses import dataclass

import pulumi

from catalog import StackSettings
from components.shared.iam import document
from components.shared.k8s_helpers import SYSTEM_NODES, addon_namespace, release
from components.shared.service_account_role import ClusterOidc, ServiceAccountRole, statement
from components.shared.tags import platform_tags

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass
class AutoscalingArgs:
    settings: StackSettings
    cluster_name: str
    account_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]


def cluster_autoscaler_policy(cluster_name: str) -> str:
    return document(
        # Scale only the node groups EKS tagged as this cluster's.
        statement(
            ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            "*",
            StringEquals={
                "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
            },
        ),
        # Read-only discovery calls; these APIs have no resource-level permissions.
        statement(
            [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
                "eks:DescribeNodegroup",
            ],
            "*",
        ),
    )


def queue_reader_policy(region: str, account_id: str, name_prefix: str) -> str:
    return document(
        statement(
            ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            [f"arn:aws:sqs:{region}:{account_id}:{name_prefix}-*"],
        )
    )


class Autoscaling(pulumi.ComponentResource):
    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Autoscaling", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "autoscaling")

        oidc = ClusterOidc(args.oidc_provider_arn, args.oidc_provider_url)

        def irsa(role_name: str, namespace: str, service_account: str, policy: pulumi.Input[str]) -> ServiceAccountRole:
            return oidc.role(f"{name}-{role_name}", self, namespace, service_account, tags, policy)

        metrics_ns = addon_namespace(f"{name}-metrics-server", "metrics-server", self)
        release(f"{name}-metrics-server", "metrics-server", metrics_ns, {"replicas": 2, **SYSTEM_NODES}, self)

        vpa_ns = addon_namespace(f"{name}-vpa", "vpa", self)
        # Recommendation mode only: tenants read VPA recommendations; nothing evicts pods.
        release(
            f"{name}-vpa",
            "vertical-pod-autoscaler",
            vpa_ns,
            {
                "recommender": {"enabled": True, **SYSTEM_NODES},
                "updater": {"enabled": False},
                "admissionController": {"enabled": False},
            },
            self,
        )

        ca_ns = addon_namespace(f"{name}-cluster-autoscaler", "cluster-autoscaler", self)
        ca_role = irsa(
            "cluster-autoscaler",
            "cluster-autoscaler",
            "cluster-autoscaler",
            cluster_autoscaler_policy(args.cluster_name),
        )
        release(
            f"{name}-cluster-autoscaler",
            "cluster-autoscaler",
            ca_ns,
            {
                "autoDiscovery": {"clusterName": args.cluster_name},
                "awsRegion": s.region,
                "rbac": {
                    "serviceAccount": {
                        "create": True,
                        "name": "cluster-autoscaler",
                        "annotations": {IRSA_ANNOTATION: ca_role.arn},
                    }
                },
                "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
                **SYSTEM_NODES,
            },
            self,
        )

        keda_ns = addon_namespace(f"{name}-keda", "keda", self)
        keda_role = irsa(
            "keda",
            "keda",
            "keda-operator",
            pulumi.Output.from_input(args.account_id).apply(
                lambda account: queue_reader_policy(s.region, account, s.name_prefix)
            ),
        )
        release(
            f"{name}-keda",
            "keda",
            keda_ns,
            {
                "serviceAccount": {"operator": {"create": True, "name": "keda-operator"}},
                "podIdentity": {"aws": {"irsa": {"enabled": True, "roleArn": keda_role.arn}}},
                **SYSTEM_NODES,
            },
            self,
        )
        self.register_outputs({})
