"""AWS-managed EKS add-ons, pinned (components/versions.py): VPC CNI with network-policy
enforcement and its own IRSA role, kube-proxy, CoreDNS, the EBS CSI driver with its own role, and
an encrypted gp3 default StorageClass."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings
from components.iam import document
from components.service_account_role import ClusterOidc, ServiceAccountRole, statement
from components.tags import platform_tags
from components.versions import EKS_ADDONS

VPC_CNI_CONFIG = {"enableNetworkPolicy": "true"}  # the VPC CNI enforces NetworkPolicies itself


@dataclass
class ClusterAddonsArgs:
    settings: StackSettings
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    node_groups: Sequence[pulumi.Resource]  # CoreDNS and the CSI controller need nodes to run on


class ClusterAddons(pulumi.ComponentResource):
    addons: dict[str, aws.eks.Addon]
    storage_class: k8s.storage.v1.StorageClass

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:ClusterAddons", name, None, opts)
        tags = platform_tags(args.settings, "cluster-addons")

        def role(
            sa_name: str,
            service_account: str,
            managed: tuple[str, ...],
            policy: pulumi.Input[str] | None = None,
            namespace: str = "kube-system",
        ) -> ServiceAccountRole:
            oidc = ClusterOidc(args.oidc_provider_arn, args.oidc_provider_url)
            return oidc.role(f"{name}-{sa_name}", self, namespace, service_account, tags, policy, managed)

        cni_role = role("vpc-cni", "aws-node", ("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",))
        ebs_role = role(
            "ebs-csi",
            "ebs-csi-controller-sa",
            ("arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",),
            pulumi.Output.from_input(args.volume_key_arn).apply(
                lambda key: document(
                    statement(
                        ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                        [key],
                    ),
                    statement(
                        ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                        [key],
                        Bool={"kms:GrantIsForAWSResource": "true"},
                    ),
                )
            ),
        )

        def addon(
            addon_name: str,
            role_arn: pulumi.Input[str] | None = None,
            config: Mapping[str, str] | None = None,
            after: Sequence[pulumi.Resource] = (),
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=args.cluster_name,
                addon_name=addon_name,
                addon_version=EKS_ADDONS[addon_name],
                service_account_role_arn=role_arn,
                configuration_values=json.dumps(config) if config else None,
                # Adopt what EKS bootstrapped; later upgrades keep nothing hand-edited.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
            )

        insights_role = role(
            "container-insights",
            "cloudwatch-agent",
            (
                "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
                "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            ),
            namespace="amazon-cloudwatch",
        )
        self.addons = {
            "vpc-cni": addon("vpc-cni", cni_role.arn, VPC_CNI_CONFIG),
            "kube-proxy": addon("kube-proxy"),
            "coredns": addon("coredns", after=args.node_groups),
            "aws-ebs-csi-driver": addon("aws-ebs-csi-driver", ebs_role.arn, after=args.node_groups),
            "amazon-cloudwatch-observability": addon(
                "amazon-cloudwatch-observability", insights_role.arn, after=args.node_groups
            ),
        }

        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3-encrypted",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gp3-encrypted",
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain",  # a deleted claim must not delete tenant data
            parameters=pulumi.Output.from_input(args.volume_key_arn).apply(
                lambda key: {"type": "gp3", "encrypted": "true", "kmsKeyId": key}
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.addons["aws-ebs-csi-driver"]]),
        )
        self.register_outputs({addon_name: a.addon_version for addon_name, a in self.addons.items()})
