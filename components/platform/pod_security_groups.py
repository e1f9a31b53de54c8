"""The shared security group of the tenants' pods (VPC CNI security groups for pods): what every
tenant pod needs from the platform (DNS, istiod, the collector, the VPC endpoints, the router's
calls in, the cache). Each tenant's own group, which only its databases admit, belongs to its
tenant stack (TenantSharedServices); TenantNamespace attaches both with a SecurityGroupPolicy."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.platform.cache import REDIS_PORT
from components.platform.network import subnet_plan
from components.shared.tags import platform_tags
from components.tenant.tenant_database import MARIADB_PORT
from components.tenant.tenant_namespace import APP_PORT  # the router calls the tenants' API pods here

HTTPS = 443
PROBE_PORT = 15020  # istio-agent: kubelet probes rewritten by the sidecar injector
# Platform pods (CoreDNS, istiod, Alloy) carry the cluster security group: what tenant pods may
# open on it. 15012 is istiod's xDS/CA port; 4317 Alloy's OTLP gRPC receiver.
PLATFORM_PORTS: tuple[tuple[str, int, str], ...] = (
    ("udp", 53, "DNS (CoreDNS)"),
    ("tcp", 53, "DNS over TCP (CoreDNS)"),
    ("tcp", 15012, "istiod xDS and certificates"),
    ("tcp", 4317, "OTLP to the collector (Alloy)"),
)


@dataclass
class TenantPodSecurityGroupsArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]  # nodes and the platform's own pods
    endpoints_security_group_id: pulumi.Input[str]  # the interface VPC endpoints


class TenantPodSecurityGroups(pulumi.ComponentResource):
    shared: aws.ec2.SecurityGroup  # every tenant pod: platform services, never another tenant

    def __init__(
        self, name: str, args: TenantPodSecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("platform:index:TenantPodSecurityGroups", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        data_subnets, _ = subnet_plan(s.vpc_cidr)  # databases, cache and endpoints live here

        def to_cluster(protocol: str, port: int, what: str) -> aws.ec2.SecurityGroupEgressArgs:
            return aws.ec2.SecurityGroupEgressArgs(
                description=what,
                protocol=protocol,
                from_port=port,
                to_port=port,
                security_groups=[args.cluster_security_group_id],
            )

        # No rule names this group as a source except the cluster's for platform ports, so two
        # tenants sharing it gain no path to each other.
        self.shared = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            description="Tenant pods: platform services only (DNS, mesh, collector, endpoints)",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="The router (and kubelet probes) to the tenant's API",
                    protocol="tcp",
                    from_port=APP_PORT,
                    to_port=APP_PORT,
                    security_groups=[args.cluster_security_group_id],
                ),
                aws.ec2.SecurityGroupIngressArgs(
                    description="kubelet probes and the collector's scrapes (istio-agent)",
                    protocol="tcp",
                    from_port=PROBE_PORT,
                    to_port=PROBE_PORT,
                    security_groups=[args.cluster_security_group_id],
                ),
            ],
            egress=[
                *(to_cluster(protocol, port, what) for protocol, port, what in PLATFORM_PORTS),
                aws.ec2.SecurityGroupEgressArgs(
                    description="AWS APIs through the interface endpoints",
                    protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    security_groups=[args.endpoints_security_group_id],
                ),
                # Destinations only: the database's and the cache's own groups decide who gets in.
                aws.ec2.SecurityGroupEgressArgs(
                    description="MariaDB in the data subnets",
                    protocol="tcp",
                    from_port=MARIADB_PORT,
                    to_port=MARIADB_PORT,
                    cidr_blocks=data_subnets,
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    description="Redis in the data subnets",
                    protocol="tcp",
                    from_port=REDIS_PORT,
                    to_port=REDIS_PORT,
                    cidr_blocks=data_subnets,
                ),
            ],
            tags={**platform_tags(s, "tenant-pods"), "Name": f"{s.name_prefix}-{s.region}-tenant-pods"},
            opts=child,
        )
        for i, (protocol, port, what) in enumerate(PLATFORM_PORTS):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-platform-{i}",
                security_group_id=args.cluster_security_group_id,
                referenced_security_group_id=self.shared.id,
                ip_protocol=protocol,
                from_port=port,
                to_port=port,
                description=f"Tenant pods: {what}",
                tags=platform_tags(s, "tenant-pods"),
                opts=child,
            )

        self.register_outputs({"shared": self.shared.id})
