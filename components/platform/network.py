"""Regional network: a VPC over three AZs with private and public subnets, NAT and flow logs."""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.iam import document, service_trust
from components.shared.tags import platform_tags

AZ_COUNT = 3
# AZs where EKS cannot place a control plane (EKS User Guide, "Subnet requirements"). AZ names
# map to different physical zones per account; the IDs do not, so the choice goes by ID.
EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


def choose_zones(names: Sequence[str], zone_ids: Sequence[str]) -> list[str]:
    """The first AZ_COUNT zone names (in name order) whose IDs EKS supports."""
    usable = sorted(
        name for name, zone_id in zip(names, zone_ids, strict=True) if zone_id not in EKS_UNSUPPORTED_ZONE_IDS
    )
    return usable[:AZ_COUNT]


@dataclass
class NetworkArgs:
    settings: StackSettings
    availability_zones: list[str]
    account_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    flow_log_retention_days: int


def subnet_plan(cidr: str) -> tuple[list[str], list[str]]:
    """Private subnets get a quarter of the VPC each (pods take VPC IPs); public ones are small."""
    network = ipaddress.ip_network(cidr)
    quarters = list(network.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=2))
    return [str(q) for q in quarters[:AZ_COUNT]], [str(p) for p in public[:AZ_COUNT]]


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Network", name, None, opts)
        s = args.settings
        if len(args.availability_zones) < AZ_COUNT:
            raise ValueError(f"{s.region} offers fewer than {AZ_COUNT} availability zones")
        azs = args.availability_zones[:AZ_COUNT]
        tags = platform_tags(s, "network")
        child = pulumi.ResourceOptions(parent=self)

        self.vpc = aws.ec2.Vpc(
            name,
            cidr_block=s.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": name},
            opts=child,
        )
        # The default security group of a VPC must admit nothing (CIS AWS 5.4).
        aws.ec2.DefaultSecurityGroup(name, vpc_id=self.vpc.id, ingress=[], egress=[], tags=tags, opts=child)

        igw = aws.ec2.InternetGateway(name, vpc_id=self.vpc.id, tags={**tags, "Name": name}, opts=child)
        private_cidrs, public_cidrs = subnet_plan(s.vpc_cidr)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        self.public_subnet_ids = []
        public_subnets: list[aws.ec2.Subnet] = []
        for az, cidr in zip(azs, public_cidrs, strict=True):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{az}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-public-{az}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{az}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
            public_subnets.append(subnet)
            self.public_subnet_ids.append(subnet.id)

        nat_azs = azs if s.nat_gateways == "perAz" else azs[:1]
        nat_by_az: dict[str, aws.ec2.NatGateway] = {}
        for az, subnet in zip(azs, public_subnets, strict=True):
            if az not in nat_azs:
                continue
            eip = aws.ec2.Eip(f"{name}-nat-{az}", domain="vpc", tags={**tags, "Name": f"{name}-nat-{az}"}, opts=child)
            nat_by_az[az] = aws.ec2.NatGateway(
                f"{name}-{az}",
                allocation_id=eip.id,
                subnet_id=subnet.id,
                tags={**tags, "Name": f"{name}-{az}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )

        self.private_subnet_ids = []
        self.private_route_table_ids = []
        for az, cidr in zip(azs, private_cidrs, strict=True):
            nat = nat_by_az.get(az) or nat_by_az[nat_azs[0]]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{az}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={**tags, "Name": f"{name}-private-{az}"},
                opts=child,
            )
            subnet = aws.ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                tags={**tags, "Name": f"{name}-private-{az}", "kubernetes.io/role/internal-elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{az}", subnet_id=subnet.id, route_table_id=rt.id, opts=child)
            self.private_subnet_ids.append(subnet.id)
            self.private_route_table_ids.append(rt.id)

        self._flow_logs(name, args, tags)
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, tags: dict[str, str]) -> None:
        flow_logs(
            name,
            self,
            FlowLogsArgs(
                vpc_id=self.vpc.id,
                log_group_name=f"/{pulumi.get_project()}/{pulumi.get_stack()}/vpc-flow-logs",
                retention_days=args.flow_log_retention_days,
                key_arn=args.logs_key_arn,
                account_id=args.account_id,
                tags=tags,
                protect=True,
            ),
        )


@dataclass
class FlowLogsArgs:
    vpc_id: pulumi.Input[str]
    log_group_name: str
    retention_days: int
    key_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]
    tags: dict[str, str]
    protect: bool  # the log group holds the record of network activity


def flow_logs(name: str, parent: pulumi.Resource, args: FlowLogsArgs) -> aws.ec2.FlowLog:
    """Every packet's metadata into a KMS-encrypted log group, through a role that may write only there."""
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-flow-logs",
        name=args.log_group_name,
        retention_in_days=args.retention_days,
        kms_key_id=args.key_arn,
        tags=args.tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=args.protect),
    )
    role = aws.iam.Role(
        f"{name}-flow-logs",
        assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
            lambda account: service_trust("vpc-flow-logs.amazonaws.com", account)
        ),
        tags=args.tags,
        opts=child,
    )
    aws.iam.RolePolicy(
        f"{name}-flow-logs",
        role=role.id,
        policy=log_group.arn.apply(
            lambda arn: document(
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [arn, f"{arn}:*"],
                }
            )
        ),
        opts=child,
    )
    return aws.ec2.FlowLog(
        name,
        vpc_id=args.vpc_id,
        traffic_type="ALL",
        log_destination_type="cloud-watch-logs",
        log_destination=log_group.arn,
        iam_role_arn=role.arn,
        max_aggregation_interval=60,
        tags=args.tags,
        opts=child,
    )
