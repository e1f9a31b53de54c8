"""The deploy runner's path to the private cluster endpoint: a VPC peering between this region's
VPC and the bootstrap stack's deployer VPC (same account and region), routes both ways, and HTTPS
from the deployer CIDR into the cluster security group. Nothing else of the VPC is opened: the
runner's security group has no inbound rules, and only 443 on the cluster security group admits it.

EKS resolves a private-only endpoint's name through public DNS to the private IPs of its network
interfaces in this VPC, so a peered runner reaches it without private hosted zone sharing."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.platform.deployer import AZ_COUNT as DEPLOYER_AZ_COUNT


@dataclass
class DeployerEndpoint:
    """What the bootstrap stack exports about its runner (read through a StackReference)."""

    cidr: str  # from this stack's config (validated against vpcCidr); the bootstrap uses the same
    vpc_id: pulumi.Input[str]
    route_table_ids: pulumi.Input[list[str]]
    role_arn: pulumi.Input[str]  # the runner's role: it runs `pulumi up`, so it creates the cluster
    preview_role_arn: pulumi.Input[str]  # the read-only plan role of pull-request previews

    @staticmethod
    def from_stack(reference: pulumi.StackReference, cidr: str) -> "DeployerEndpoint":
        return DeployerEndpoint(
            cidr=cidr,
            vpc_id=reference.require_output("vpcId").apply(str),
            route_table_ids=reference.require_output("privateRouteTableIds").apply(lambda ids: [str(i) for i in ids]),
            role_arn=reference.require_output("runnerRoleArn").apply(str),
            preview_role_arn=reference.require_output("planRoleArn").apply(str),
        )


@dataclass
class DeployerAccessArgs:
    deployer: DeployerEndpoint
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    route_table_ids: list[pulumi.Output[str]]  # this VPC's private route tables
    cluster_security_group_id: pulumi.Input[str]
    tags: dict[str, str]


class DeployerAccess(pulumi.ComponentResource):
    peering: aws.ec2.VpcPeeringConnection

    def __init__(self, name: str, args: DeployerAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:DeployerAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        d = args.deployer
        self.peering = aws.ec2.VpcPeeringConnection(
            name,
            vpc_id=args.vpc_id,
            peer_vpc_id=d.vpc_id,
            auto_accept=True,  # same account and region
            tags={**args.tags, "Name": name},
            opts=child,
        )
        # Peering resolves no private DNS by itself; the endpoint's public name already answers
        # with its private addresses, so no DNS options are needed.
        routes: list[pulumi.Resource] = [
            aws.ec2.Route(
                f"{name}-to-deployer-{i}",
                route_table_id=table,
                destination_cidr_block=d.cidr,
                vpc_peering_connection_id=self.peering.id,
                opts=child,
            )
            for i, table in enumerate(args.route_table_ids)
        ]
        routes += [
            aws.ec2.Route(
                f"{name}-from-deployer-{i}",
                route_table_id=pulumi.Output.from_input(d.route_table_ids).apply(lambda ids, i=i: ids[i]),
                destination_cidr_block=args.vpc_cidr,
                vpc_peering_connection_id=self.peering.id,
                opts=child,
            )
            for i in range(DEPLOYER_AZ_COUNT)  # one route table per runner subnet
        ]
        self.endpoint_rule = aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoint",
            security_group_id=args.cluster_security_group_id,
            description="Kubernetes API from the deploy runner (bootstrap stack)",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=d.cidr,
            tags=args.tags,
            opts=child,
        )
        self.ready: list[pulumi.Resource] = [self.peering, *routes, self.endpoint_rule]
        self.register_outputs({"peeringId": self.peering.id})
