"""Network isolation proven on the plans: tenant pods carry their own security groups (VPC CNI
security groups for pods); for every ordered pair of tenants (A, B) no security-group path leads
from A's pods to B's database, replica or DR copy; tenant egress names its destinations, never the
VPC; the cache admits tenant pods only."""

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

import pulumi
import pytest

from catalog import StackSettings
from components.platform.network import subnet_plan
from components.recovery.tenant_recovery import TenantRecovery, TenantRecoveryArgs
from components.tenant.tenant_namespace import TELEMETRY_COLLECTOR
from planner.mocks import _hex
from tests.conftest import STACKS, resources_of
from tests.helpers import of_type, run, settings_for
from tests.test_isolation import pairs, tenants_of

SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SGP = "kubernetes:vpcresources.k8s.aws/v1beta1:SecurityGroupPolicy"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DATABASE = "aws:rds/instance:Instance"


def group_id(resource: dict[str, Any]) -> str:
    return f"sg-{_hex(resource['name'])}"  # the mock engine's id of a security group


def cluster_group(plan: dict[str, Any]) -> str:
    (eks,) = resources_of(plan, "eks:index:Cluster")
    return f"sg-{_hex(eks['inputs']['name'], 'cluster')}"


def groups(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group_id(r): r for r in resources_of(plan, SG)}


def sources(plan: dict[str, Any], group: str) -> set[str]:
    """Everything a security group admits: groups by id, CIDRs as 'cidr:<block>', its own members
    as the group id itself; inline rules and standalone ingress-rule resources alike."""
    found: set[str] = set()
    resource = groups(plan).get(group)
    for rule in (resource or {}).get("inputs", {}).get("ingress", []):
        found |= set(rule.get("securityGroups") or [])
        found |= {f"cidr:{c}" for c in (rule.get("cidrBlocks") or []) + (rule.get("ipv6CidrBlocks") or [])}
        found |= {f"prefix-list:{p}" for p in rule.get("prefixListIds") or []}
        if rule.get("self"):
            found.add(group)
    for rule in standalone_rules(plan):
        i = rule["inputs"]
        if i.get("securityGroupId") == group:
            found |= {i[k] for k in ("referencedSecurityGroupId", "sourceSecurityGroupId") if i.get(k)}
            found |= {f"cidr:{c}" for k in ("cidrIpv4", "cidrIpv6", "cidrBlocks") for c in _listed(i.get(k))}
            found |= {f"prefix-list:{p}" for k in ("prefixListId", "prefixListIds") for p in _listed(i.get(k))}
    return found


def _listed(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def standalone_rules(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Ingress rules outside their group: aws.vpc.SecurityGroupIngressRule, and the older
    aws.ec2.SecurityGroupRule of type ingress."""
    legacy = [r for r in resources_of(plan, LEGACY_RULE) if r["inputs"].get("type") == "ingress"]
    return resources_of(plan, RULE) + legacy


def pod_groups(plan: dict[str, Any], tenant: str) -> set[str]:
    """The groups every pod of the tenant's namespace carries (its SecurityGroupPolicy)."""
    policies = [r for r in resources_of(plan, SGP) if r["inputs"]["metadata"]["namespace"] == tenant]
    assert len(policies) == 1, f"{tenant}: expected one SecurityGroupPolicy, found {len(policies)}"
    spec = policies[0]["inputs"]["spec"]
    assert spec["podSelector"] == {}, "the policy must select every pod of the namespace"
    return set(spec["securityGroups"]["groupIds"])


def own_pod_group(plan: dict[str, Any], tenant: str) -> str:
    """The tenant's own pod group: the one of its SecurityGroupPolicy that is tagged for it."""
    all_groups = groups(plan)
    (own,) = [g for g in pod_groups(plan, tenant) if all_groups[g]["tenant"] == tenant]
    return own


def databases(plan: dict[str, Any], tenant: str) -> list[dict[str, Any]]:
    """The tenant's primary, same-region replica and DR copies in this stack."""
    return [r for r in resources_of(plan, DATABASE) if r["tenant"] == tenant]


def reachable(plan: dict[str, Any], carried: Iterable[str], group: str) -> bool:
    """Whether a pod carrying `carried` groups may open a connection into `group`. Any CIDR source
    counts as a path: pods take their addresses from the VPC's subnets."""
    admitted = sources(plan, group)
    return bool(admitted & set(carried)) or any(s.startswith(("cidr:", "prefix-list:")) for s in admitted)


@pytest.mark.parametrize("stack", STACKS)
def test_every_tenant_namespace_puts_its_pods_in_its_own_security_group(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    all_groups = groups(plan)
    for tenant in tenants_of(plan):
        carried = pod_groups(plan, tenant)
        assert carried <= set(all_groups), f"{tenant}: its pods would carry a group the plan does not create"
        assert all(all_groups[g]["tenant"] in (None, tenant) for g in carried), "another tenant's group"
        assert cluster_group(plan) not in carried, "the cluster group would admit the pods into every database"
        own = own_pod_group(plan, tenant)
        # Its own group admits only itself; nothing else of the plan names it but its own data.
        assert sources(plan, own) == {own}


@pytest.mark.parametrize("stack", STACKS)
def test_no_security_group_path_from_one_tenants_pods_to_anothers_database(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    checked = 0
    for a, b in pairs(plan):
        carried = pod_groups(plan, a)
        for db in databases(plan, b):
            db_groups = db["inputs"]["vpcSecurityGroupIds"]
            assert db_groups and set(db_groups) <= set(groups(plan)), f"{db['urn']}: groups not in the plan"
            for group in db_groups:
                assert not reachable(plan, carried, group), f"{a}'s pods reach {db['urn']} through {group}"
                checked += 1
    # DR copies held for a tenant the region serves count too (prod-us-east-1 and -us-west-2).
    assert checked or len(tenants_of(plan)) < 2


@pytest.mark.parametrize("stack", STACKS)
def test_each_database_admits_only_its_own_tenants_pods(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    served = set(tenants_of(plan))
    dbs = resources_of(plan, DATABASE)
    assert dbs
    for db in dbs:
        tenant = db["tenant"]
        expected = {own_pod_group(plan, tenant)} if tenant in served else set()
        for group in db["inputs"]["vpcSecurityGroupIds"]:
            assert sources(plan, group) == expected, f"{db['urn']} admits {sources(plan, group)}"
        assert tenant in served or not any(sources(plan, g) for g in db["inputs"]["vpcSecurityGroupIds"])


def test_a_dr_copy_of_a_tenant_not_served_here_admits_nobody() -> None:
    settings = settings_for("prod-us-west-2")
    (tenant,) = [t for t in settings.tenants if t.id == "harbor-mutual"]  # home us-east-1

    def program() -> None:
        TenantRecovery(
            "dr-harbor-mutual",
            TenantRecoveryArgs(
                settings=settings,
                tenant=tenant,
                account_id="123456789012",
                vpc_id="vpc-1",
                client_security_group_id=None,  # not served here (main passes None then)
                subnet_group_name="db-subnets",
                parameter_group_name="db-params",
                option_group_name="db-options",
                monitoring_role_arn="arn:aws:iam::123456789012:role/rds-monitoring",
            ),
            pulumi.ResourceOptions(),
        )

    (group,) = of_type(run(program, settings), SG)
    assert group.inputs["ingress"] == [] and group.inputs["egress"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_cache_admits_the_tenants_pods_and_nothing_else(plans: dict[str, Any], stack: str) -> None:
    """Every tenant pod carries the shared group, which the platform stack's cache admits: the
    cache needs no rule per tenant (a tenant stack never edits a platform group), and its keys
    stay apart by each tenant's Redis user (tests/test_cache_isolation.py)."""
    plan = plans[stack]
    (cache,) = [r for r in resources_of(plan, SG) if r["name"] == "cache"]
    assert sources(plan, group_id(cache)) == {shared_group(plan)}
    (rule,) = cache["inputs"]["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 6379, 6379)


def shared_group(plan: dict[str, Any]) -> str:
    shared = {g for t in tenants_of(plan) for g in pod_groups(plan, t) if groups(plan)[g]["tenant"] is None}
    (group,) = shared
    return group


@pytest.mark.parametrize("stack", STACKS)
def test_shared_pod_group_gives_no_tenant_a_way_in(plans: dict[str, Any], stack: str) -> None:
    """The group every tenant pod carries is admitted by the platform's cluster group on the
    platform ports only, by the shared cache, and by no tenant's data store: sharing it opens no
    tenant-to-tenant path."""
    plan = plans[stack]
    group = shared_group(plan)
    assert all(group in pod_groups(plan, t) for t in tenants_of(plan))
    assert sources(plan, group) == {cluster_group(plan)}  # the router and kubelet, in
    (cache,) = [group_id(r) for r in resources_of(plan, SG) if r["name"] == "cache"]
    for other, resource in groups(plan).items():
        if other != cache:
            assert group not in sources(plan, other), f"{resource['urn']} admits every tenant's pods"
    into = [r for r in standalone_rules(plan) if group in (r["inputs"].get("referencedSecurityGroupId"),)]
    assert {r["inputs"]["securityGroupId"] for r in into} == {cluster_group(plan)}
    ports = {(r["inputs"]["ipProtocol"], r["inputs"]["fromPort"], r["inputs"]["toPort"]) for r in into}
    assert ports == {("udp", 53, 53), ("tcp", 53, 53), ("tcp", 15012, 15012), ("tcp", 4317, 4317)}


def _cidrs(peer: dict[str, Any]) -> ipaddress.IPv4Network | None:
    block = peer.get("ipBlock")
    return ipaddress.IPv4Network(block["cidr"]) if block else None


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_egress_names_its_destinations_never_the_vpc(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    settings: StackSettings = settings_for(stack)
    vpc = ipaddress.IPv4Network(settings.vpc_cidr)
    data_subnets = {ipaddress.IPv4Network(c) for c in subnet_plan(settings.vpc_cidr)[0]}
    for tenant in tenants_of(plan):
        holds_data = settings.home_here(next(t for t in settings.tenants if t.id == tenant))
        database_ports: set[int] = set()
        policies = [r for r in resources_of(plan, NETWORK_POLICY) if r["tenant"] == tenant]
        assert policies
        for np in policies:
            for rule in np["inputs"]["spec"].get("egress", []):
                peers = rule.get("to", [])
                assert peers, f"{np['urn']}: an egress rule without `to` allows every destination"
                ports = {p["port"] for p in rule.get("ports", [])}
                for peer in peers:
                    block = _cidrs(peer)
                    if block is not None:
                        assert block != vpc and not block.supernet_of(vpc) and block.prefixlen > 0
                        assert block in data_subnets, f"{np['urn']}: {block} is not a data subnet"
                        assert not peer["ipBlock"].get("except")
                        assert ports and ports <= {443, 6379, 3306}, f"{np['urn']}: ports {ports}"
                        database_ports |= ports & {3306}
                    elif "namespaceSelector" in peer:
                        # another namespace: only named pods of it (the collector, CoreDNS, istiod)
                        assert peer.get("podSelector", {}).get("matchLabels"), f"{np['urn']}: a whole namespace"
                        assert ports, f"{np['urn']}: every port of {peer}"
                        if peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "observability"}:
                            assert peer["podSelector"]["matchLabels"] == TELEMETRY_COLLECTOR
                    else:
                        # its own namespace: every pod, or (the aggregator) named pods on named ports
                        assert "podSelector" in peer, f"{np['urn']}: {peer}"
                        assert peer["podSelector"] == {} or ports, f"{np['urn']}: every port of {peer}"
        assert database_ports == ({3306} if holds_data else set()), f"{tenant}: database egress {database_ports}"


@pytest.mark.parametrize("stack", STACKS)
def test_security_groups_for_pods_are_switched_on(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (cni,) = [r for r in resources_of(plan, "aws:eks/addon:Addon") if r["inputs"]["addonName"] == "vpc-cni"]
    config = json.loads(cni["inputs"]["configurationValues"])
    assert config["env"]["ENABLE_POD_ENI"] == "true"
    assert config["env"]["POD_SECURITY_GROUP_ENFORCING_MODE"] == "standard"
    assert config["enableNetworkPolicy"] == "true"  # NetworkPolicy still applies to branch-ENI pods
    attachments = resources_of(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    (controller,) = [a for a in attachments if a["inputs"]["policyArn"].endswith("/AmazonEKSVPCResourceController")]
    assert controller["inputs"]["role"].split("-eksRole-")[0] == "cluster"  # pulumi-eks's cluster role
    # Tenant pods land on the shared and dedicated pools: trunk ENIs need non-`t` Nitro types.
    for group in resources_of(plan, "eks:index:ManagedNodeGroup"):
        if group["name"] != "cluster-system":
            assert all(not t.startswith("t") for t in group["inputs"]["instanceTypes"]), group["name"]


# ---------------------------------------------------------------- platform namespaces


def platform_namespaces(plan: dict[str, Any]) -> list[str]:
    return sorted(
        r["inputs"]["metadata"]["name"]
        for r in resources_of(plan, "kubernetes:core/v1:Namespace")
        if not r["tenant"] and r["inputs"]["metadata"]["labels"].get("app.kubernetes.io/part-of") == "platform"
    )


def policies_in(plan: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, NETWORK_POLICY) if r["inputs"]["metadata"].get("namespace") == namespace]


@pytest.mark.parametrize("stack", STACKS)
def test_platform_namespaces_deny_by_default_and_allow_only_named_peers(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    namespaces = platform_namespaces(plan)
    assert {"observability", "nginx-ingress", "external-secrets", "keda", "istio-system"} <= set(namespaces)
    for namespace in namespaces:
        policies = policies_in(plan, namespace)
        denies = [p for p in policies if p["inputs"]["metadata"]["name"] == "default-deny"]
        assert len(denies) == 1, f"{namespace}: no default-deny"
        deny = denies[0]
        assert deny["inputs"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        others = {p["urn"] for p in policies if p is not deny}
        assert others <= set(deny["options"]["dependsOn"]), f"{namespace}: the deny would close before the allows"
        for p in policies:
            spec = p["inputs"]["spec"]
            for rule in spec.get("ingress", []):
                assert rule.get("from"), f"{p['urn']}: an ingress rule without `from` admits everyone"
            for rule in spec.get("egress", []):
                assert rule.get("to"), f"{p['urn']}: an egress rule without `to` allows everything"


def _may_be_tenant(peer: dict[str, Any], tenants: list[str]) -> bool:
    """Whether a NetworkPolicy peer (seen from another namespace) can match a tenant's pods."""
    if "ipBlock" in peer:
        return True  # pods take VPC addresses
    selector = peer.get("namespaceSelector")
    if selector is None:
        return False  # the policy's own namespace
    # {} or a tenant label or a tenant's name
    return selector.get("matchLabels", {}).get("kubernetes.io/metadata.name") in (None, *tenants)


@pytest.mark.parametrize("stack", STACKS)
def test_tenants_may_reach_only_the_collector_in_observability(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = tenants_of(plan)
    open_to_tenants = []
    for p in policies_in(plan, "observability"):
        spec = p["inputs"]["spec"]
        for rule in spec.get("ingress", []):
            if any(_may_be_tenant(peer, tenants) for peer in rule["from"]):
                assert spec["podSelector"] == {"matchLabels": TELEMETRY_COLLECTOR}, f"{p['urn']} opens a store"
                assert [(x["protocol"], x["port"]) for x in rule["ports"]] == [("TCP", 4317)], p["urn"]
                open_to_tenants.append(p["urn"])
    assert open_to_tenants, "tenants could not send telemetry at all"


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_ingress_admits_only_itself_the_router_and_the_collector(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    router = {"kubernetes.io/metadata.name": "nginx-ingress"}
    observability = {"kubernetes.io/metadata.name": "observability"}
    for tenant in tenants_of(plan):
        for np in [r for r in resources_of(plan, NETWORK_POLICY) if r["tenant"] == tenant]:
            for rule in np["inputs"]["spec"].get("ingress", []):
                assert rule.get("from"), f"{np['urn']}: an ingress rule without `from` admits everyone"
                ports = [(p["protocol"], p["port"]) for p in rule.get("ports", [])]
                for peer in rule["from"]:
                    assert "ipBlock" not in peer, np["urn"]
                    namespaces = peer.get("namespaceSelector", {}).get("matchLabels")
                    if "namespaceSelector" not in peer:
                        assert peer["podSelector"] == {}  # its own namespace
                    elif namespaces == router:
                        assert ports == [("TCP", 8080)], np["urn"]
                    else:
                        assert namespaces == observability, f"{np['urn']}: {peer}"
                        assert peer["podSelector"]["matchLabels"] == TELEMETRY_COLLECTOR
                        assert ports == [("TCP", 15020)], np["urn"]
