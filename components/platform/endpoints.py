"""VPC endpoints: nodes and pods reach S3, ECR, STS, CloudWatch Logs, Secrets Manager, KMS, SQS,
SNS and the APIs the platform controllers call without leaving the VPC; each admits only this account."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.iam import document
from components.shared.tags import platform_tags

INTERFACE_SERVICES = (
    "ecr.api",
    "ecr.dkr",
    "sts",
    "logs",
    "secretsmanager",
    "kms",
    "ec2",
    "elasticloadbalancing",
    "autoscaling",
    # Tenant services publish and consume their queues and topics; their NetworkPolicies admit
    # only private addresses, so these must answer inside the VPC.
    "sqs",
    "sns",
)
GATEWAY_SERVICES = ("s3",)


def endpoint_policy(service: str, account: str) -> str:
    """Data perimeter: the endpoints serve principals of this account only. STS also serves
    AssumeRoleWithWebIdentity (every IRSA workload), an unsigned call that carries no
    aws:PrincipalAccount; it is admitted only for roles of this account."""
    statements: list[dict[str, object]] = [
        {
            "Sid": "OnlyThisAccount",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": account}},
        }
    ]
    if service == "sts":
        statements.append(
            {
                "Sid": "WebIdentityIntoThisAccountsRoles",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Resource": f"arn:aws:iam::{account}:role/*",
            }
        )
    return document(*statements)


@dataclass
class VpcEndpointsArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    account_id: pulumi.Input[str]


class VpcEndpoints(pulumi.ComponentResource):
    security_group: aws.ec2.SecurityGroup
    s3_prefix_list_id: pulumi.Output[str]

    def __init__(self, name: str, args: VpcEndpointsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:VpcEndpoints", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "endpoints")
        child = pulumi.ResourceOptions(parent=self)
        self.security_group = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            description="Interface endpoints: HTTPS from inside the VPC only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[s.vpc_cidr],
                )
            ],
            egress=[],
            tags={**tags, "Name": f"{name}-endpoints"},
            opts=child,
        )
        account = pulumi.Output.from_input(args.account_id)
        gateways: dict[str, aws.ec2.VpcEndpoint] = {}
        for service in GATEWAY_SERVICES:
            gateways[service] = aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=args.vpc_id,
                service_name=f"com.amazonaws.{s.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=args.private_route_table_ids,
                tags={**tags, "Name": f"{name}-{service}"},
                opts=child,
            )
        for service in INTERFACE_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=args.vpc_id,
                service_name=f"com.amazonaws.{s.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=args.private_subnet_ids,
                security_group_ids=[self.security_group.id],
                policy=account.apply(lambda a, service=service: endpoint_policy(service, a)),
                tags={**tags, "Name": f"{name}-{service}"},
                opts=child,
            )
        # The S3 gateway's prefix list: the warehouse's only egress (COPY with enhanced VPC routing).
        self.s3_prefix_list_id = gateways["s3"].prefix_list_id
        self.register_outputs({"securityGroupId": self.security_group.id})
