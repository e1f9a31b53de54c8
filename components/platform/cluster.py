"""Regional EKS cluster: private API endpoint reached by the deploy runner through a peering,
API access entries, KMS-encrypted secrets, all control-plane logs, OIDC for IRSA, the VPC CNI add-on
with its own role before any node, managed node groups on AL2023 with IMDSv2 and encrypted volumes,
and a Kubernetes provider built from its kubeconfig."""

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from catalog import StackSettings
from catalog.model import NodePool
from components.platform.deployer_access import DeployerAccess, DeployerAccessArgs, DeployerEndpoint
from components.shared.iam import document
from components.shared.service_account_role import ClusterOidc
from components.shared.tags import platform_tags
from components.shared.versions import EKS_ADDONS

CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# Pull-request previews run the pull request's code with the plan role, so it may only read, and
# not Secrets (AmazonEKSViewPolicy). pulumi-kubernetes previews need no more: Diff compares with the
# checkpoint, a Forbidden server-side dry run falls back to client side (provider.go Create/Update),
# and Helm releases render client-only (helm_release.go renderChartManifest).
PREVIEW_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
# The VPC CNI gets its own IRSA role (ClusterAddons), so nodes keep only what kubelet needs.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
# Graviton instance types throughout; AL2023 (Amazon Linux 2 node images are end of life).
NODE_AMI_TYPE = "AL2023_ARM_64_STANDARD"
NODE_VOLUME_GB = 50
# The VPC CNI enforces NetworkPolicies itself and gives tenant pods their own security groups
# (branch ENIs, SecurityGroupPolicy). `standard` mode keeps NetworkPolicy and kubelet probes
# working as for other pods; pod groups apply to traffic to other hosts in the VPC (databases,
# cache, endpoints), while traffic leaving the VPC is SNATed to the node (no tenant NetworkPolicy
# allows it). Only trunk-capable instance types (not `t`) run branch-ENI pods.
VPC_CNI_CONFIG = {
    "enableNetworkPolicy": "true",
    "env": {"ENABLE_POD_ENI": "true", "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"},
}
# pulumi-eks gives its cluster role AmazonEKSClusterPolicy only; the VPC resource controller
# (security groups for pods) manages trunk and branch ENIs with this one.
VPC_RESOURCE_CONTROLLER_POLICY = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"
# The VPC CNI add-on and its role were children of ClusterAddons; the aliases keep them in place.
_FORMER_PARENT = pulumi.create_urn("cluster-addons", "platform:index:ClusterAddons")


@dataclass
class ClusterArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    deployer: DeployerEndpoint  # the bootstrap stack's runner network, peered to reach the endpoint
    secrets_key_arn: pulumi.Input[str]
    node_volume_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    dedicated_tenants: list[str] = field(default_factory=list)  # premium tenants with own nodes


class Cluster(pulumi.ComponentResource):
    eks_cluster: eks.Cluster
    name: str  # the physical name, for values and policies that only need to name it
    ready_name: pulumi.Output[str]  # the same name once the cluster exists: for EKS API resources
    provider: k8s.Provider
    cluster_security_group_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    node_groups: dict[str, eks.ManagedNodeGroup]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Cluster", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "cluster")
        cluster_name = f"{s.name_prefix}-{s.region}"
        self.name = cluster_name
        child = pulumi.ResourceOptions(parent=self)

        # EKS writes control-plane logs here; creating the group first gives it a key and retention.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        node_role = aws.iam.Role(
            f"{name}-node",
            assume_role_policy=document(
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
            tags=tags,
            opts=child,
        )
        for arn in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{arn.rsplit('/', 1)[-1]}", role=node_role.name, policy_arn=arn, opts=child
            )

        self.eks_cluster = eks.Cluster(
            name,
            name=cluster_name,
            version=s.cluster.version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            node_associate_public_ip_address=False,
            endpoint_private_access=True,
            endpoint_public_access=False,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                f"admin-{i}": eks.AccessEntryArgs(
                    principal_arn=arn,
                    access_policies={
                        "cluster-admin": eks.AccessPolicyAssociationArgs(
                            policy_arn=CLUSTER_ADMIN_POLICY,
                            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                        )
                    },
                )
                for i, arn in enumerate(s.cluster.admin_role_arns)
            }
            | {
                "previewer": eks.AccessEntryArgs(
                    principal_arn=args.deployer.preview_role_arn,
                    access_policies={
                        "view": eks.AccessPolicyAssociationArgs(
                            policy_arn=PREVIEW_POLICY,
                            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                        )
                    },
                )
            },
            encryption_config_key_arn=args.secrets_key_arn,
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            create_oidc_provider=True,
            skip_default_node_group=True,
            # pulumi-eks would otherwise create a second vpc-cni add-on without our IRSA role.
            use_default_vpc_cni=True,
            # CoreDNS and kube-proxy are pinned EKS add-ons owned by ClusterAddons.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=False),
            instance_roles=[node_role],
            deletion_protection=s.environment == "prod",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        self.cluster_security_group_id = self.eks_cluster.eks_cluster.apply(
            lambda c: c.vpc_config.cluster_security_group_id
        )
        self.ready_name = self.eks_cluster.eks_cluster.apply(lambda c: c.name)
        vpc_resource_controller = aws.iam.RolePolicyAttachment(
            f"{name}-vpc-resource-controller",
            role=self.eks_cluster.eks_cluster.apply(lambda c: c.role_arn.apply(lambda arn: arn.rsplit("/", 1)[-1])),
            policy_arn=VPC_RESOURCE_CONTROLLER_POLICY,
            opts=child,
        )
        self.oidc_provider_arn = self.eks_cluster.oidc_provider_arn
        self.oidc_provider_url = self.eks_cluster.oidc_provider_url
        self.deployer_access = DeployerAccess(
            f"{name}-deployer",
            DeployerAccessArgs(
                deployer=args.deployer,
                vpc_id=args.vpc_id,
                vpc_cidr=s.vpc_cidr,
                route_table_ids=args.private_route_table_ids,
                cluster_security_group_id=self.cluster_security_group_id,
                tags=tags,
            ),
            child,
        )
        # The CNI add-on with its IRSA role exists before any node: EKS's bootstrap aws-node would
        # otherwise run on the node role, which has no CNI permissions, and nodes stay NotReady.
        cni_role = ClusterOidc(self.oidc_provider_arn, self.oidc_provider_url).role(
            "cluster-addons-vpc-cni",
            self,
            "kube-system",
            "aws-node",
            tags,
            managed_policy_arns=("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",),
            aliases=[pulumi.Alias(parent=_FORMER_PARENT)],
        )
        self.vpc_cni = aws.eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=self.ready_name,
            addon_name="vpc-cni",
            addon_version=EKS_ADDONS["vpc-cni"],
            service_account_role_arn=cni_role.arn,
            configuration_values=json.dumps(VPC_CNI_CONFIG),
            resolve_conflicts_on_create="OVERWRITE",  # adopt EKS's bootstrap aws-node
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self, aliases=[pulumi.Alias(name="cluster-addons-vpc-cni", parent=_FORMER_PARENT)]
            ),
        )

        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes",
            description="EKS managed nodes: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # Pods cannot reach instance credentials; workloads use IRSA instead.
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=NODE_VOLUME_GB,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=args.node_volume_key_arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume")
            ],
            tags=tags,
            opts=child,
        )

        # pool -> (sizes, node labels, taints, extra tags); dedicated pools are billed to their tenant.
        pools: dict[str, tuple[NodePool, dict[str, str], list[aws.eks.NodeGroupTaintArgs], dict[str, str]]] = {
            "system": (
                s.cluster.system_nodes,
                {"node-pool": "system"},
                [aws.eks.NodeGroupTaintArgs(key="CriticalAddonsOnly", value="true", effect="NO_SCHEDULE")],
                {},
            ),
            "shared": (s.cluster.shared_nodes, {"node-pool": "shared"}, [], {}),
        }
        for tenant_id in args.dedicated_tenants:
            pools[f"tenant-{tenant_id}"] = (
                s.cluster.dedicated_nodes,
                {"node-pool": "dedicated", "tenant": tenant_id},
                [aws.eks.NodeGroupTaintArgs(key="tenant", value=tenant_id, effect="NO_SCHEDULE")],
                {"tenant": tenant_id},
            )

        self.node_groups = {}
        for pool_name, (pool, labels, taints, extra_tags) in pools.items():
            self.node_groups[pool_name] = eks.ManagedNodeGroup(
                f"{name}-{pool_name}",
                cluster=self.eks_cluster,
                node_role=node_role,
                ami_type=NODE_AMI_TYPE,
                instance_types=list(pool.instance_types),
                subnet_ids=args.private_subnet_ids,
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=pool.min_size, max_size=pool.max_size, desired_size=pool.desired_size
                ),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=launch_template.id, version=launch_template.latest_version.apply(str)
                ),
                labels=labels,
                taints=taints,
                ignore_scaling_changes=True,  # the cluster autoscaler owns the desired size
                # EKS tags each group's Auto Scaling group k8s.io/cluster-autoscaler/<cluster>=owned,
                # which is all the cluster autoscaler may touch.
                tags={**tags, **extra_tags, "node-pool": pool_name},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.vpc_cni, vpc_resource_controller]),
            )

        # Every Kubernetes resource goes through this provider, so it waits for the cluster (its
        # kubeconfig) and for the runner's network path to the private endpoint.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.eks_cluster.kubeconfig_json,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployer_access]),
        )
        self.register_outputs(
            {
                "clusterName": cluster_name,
                "oidcProviderArn": self.oidc_provider_arn,
                "clusterSecurityGroupId": self.cluster_security_group_id,
            }
        )
