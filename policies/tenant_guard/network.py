"""Network exposure: private databases and API endpoints, no open ingress, VPC flow logs."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .encryption import EKS_CLUSTER, EKS_COMPONENT, RDS
from .frameworks import cis_eks, fsbp, naic, nydfs
from .props import as_list, get, tags_of
from .rule import Res, Rule, of_types

OPEN_CIDRS = ("0.0.0.0/0", "::/0")
PUBLIC_ENTRY_TAG = ("exposure", "public-entry")  # the one internet-facing load balancer's group
PUBLIC_ENTRY_PORTS = (80, 443)


def rds_not_public(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "publiclyAccessible") is True:
        yield "the database is publicly accessible: set publiclyAccessible to false"
    if not get(r.props, "dbSubnetGroupName") and not get(r.props, "replicateSourceDb"):
        yield "no DB subnet group: the instance would land in the default VPC; use the private tenant subnet group"


def eks_private_endpoint(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    prefix = "" if r.type == EKS_COMPONENT else "vpcConfig."
    # pulumi-eks defaults endpointPublicAccess to true: it must be set to false explicitly.
    if get(r.props, f"{prefix}endpointPublicAccess") is not False:
        yield "the Kubernetes API endpoint is reachable from the internet: set endpointPublicAccess to false"
    if get(r.props, f"{prefix}endpointPrivateAccess") is not True:
        yield "the private API endpoint is off: set endpointPrivateAccess to true"


def _open_ports(rule: Mapping[str, Any], cidr_keys: tuple[str, ...]) -> tuple[int, int] | None:
    cidrs: list[Any] = []
    for key in cidr_keys:
        value = get(rule, key)
        cidrs.extend(as_list(value))
    if not any(c in OPEN_CIDRS for c in cidrs):
        return None
    return int(get(rule, "fromPort", 0) or 0), int(get(rule, "toPort", 65535) or 65535)


def no_public_ingress(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    public_entry = tags_of(r.props).get(PUBLIC_ENTRY_TAG[0]) == PUBLIC_ENTRY_TAG[1]
    if r.type == "aws:ec2/securityGroup:SecurityGroup":
        rules = [(rule, ("cidrBlocks", "ipv6CidrBlocks")) for rule in get(r.props, "ingress") or []]
    else:
        rules = [(r.props, ("cidrIpv4", "cidrIpv6"))]
    for rule, keys in rules:
        ports = _open_ports(rule, keys)
        if ports is None:
            continue
        if public_entry and ports[0] == ports[1] and ports[0] in PUBLIC_ENTRY_PORTS:
            continue
        yield (
            f"ingress on ports {ports[0]}-{ports[1]} is open to the internet; only the public entry "
            f"load balancer may accept 80/443 from anywhere"
        )


def vpc_flow_logs(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    logged = {dep for r in resources if r.type == "aws:ec2/flowLog:FlowLog" for dep in r.dependencies}
    for r in resources:
        if r.type == "aws:ec2/vpc:Vpc" and r.urn not in logged:
            yield ("the VPC has no flow log, so network activity leaves no audit trail", r.urn)


RULES = (
    Rule(
        id="NET-RDS-1",
        name="rds-not-publicly-accessible",
        title="Databases are private",
        summary="not public, in the private subnet group",
        description="No RDS instance is reachable from the internet; every one sits in the private tenant subnet group.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), fsbp("RDS.2")),
        remediation="Set publiclyAccessible: false and dbSubnetGroupName to the platform's tenant-databases subnet group.",
        resource_types=(RDS,),
        check=rds_not_public,
    ),
    Rule(
        id="NET-EKS-1",
        name="eks-private-endpoint",
        title="Kubernetes API endpoint is private",
        summary="public endpoint off, private on",
        description="The EKS API server is reachable only from inside the VPC: public endpoint off, private endpoint on.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), cis_eks("5.4.2"), fsbp("EKS.1")),
        remediation="Set endpointPublicAccess: false and endpointPrivateAccess: true; operators reach the API through the VPC (VPN, SSM or an in-VPC runner).",
        resource_types=(EKS_COMPONENT, EKS_CLUSTER),
        check=eks_private_endpoint,
    ),
    Rule(
        id="NET-SG-1",
        name="no-public-ingress",
        title="No security group is open to the internet",
        summary="no 0.0.0.0/0 or ::/0 ingress except 80/443 on the public entry",
        description="No security group admits traffic from 0.0.0.0/0 or ::/0, except ports 80/443 on the one public entry load balancer.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), fsbp("EC2.19")),
        remediation="Admit traffic from security groups or private CIDRs only; put internet traffic through the public entry load balancer.",
        resource_types=(
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        ),
        check=no_public_ingress,
    ),
    Rule(
        id="NET-VPC-1",
        name="vpc-flow-logs",
        title="VPC flow logs are on",
        summary="every VPC has a flow log",
        description="Every VPC records its flow logs, so network activity can be reconstructed after an incident.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.6"), naic("i"), fsbp("EC2.6")),
        remediation="Add an aws.ec2.FlowLog for the VPC (the Network component does) to a KMS-encrypted log group.",
        stack_check=vpc_flow_logs,
        subject=of_types("aws:ec2/vpc:Vpc"),
    ),
)
