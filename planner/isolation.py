"""Isolation analyzer: for every ordered pair of tenants (A, B) of a stack, every channel by which a
principal of A (its pods and service accounts, its IAM roles, its users) could read or write B's
data or act as B, computed from resource properties in build/<stack>/plan.json.

    python -m planner.isolation [--advisory] [plan.json ...]

Prints, per stack, the matrix (row A, column B, cell = channels) and every channel with the
resources and the rule that open it. Exits 1 when a channel exists, unless --advisory.

References between resources in a plan are the mock engine's ids and ARNs (planner/mocks.py), so
each resource's outputs are recomputed with the same mock to resolve them. What cannot be decided
from the plan is treated as open: an unknown IAM condition does not stop an Allow and does not
make a Deny apply; a NetworkPolicy port given by name matches every port.
"""

import argparse
import functools
import hashlib
import ipaddress
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from planner.mocks import OFFLINE_ACCOUNT_ID, PlanMocks

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("network", "mesh", "rbac", "iam", "secrets", "cache", "observability", "dns")

Resource = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Channel:
    kind: str
    source: str  # tenant A, whose principal can act
    target: str  # tenant B, whose data or identity is reached
    rule: str  # why the path is open, in one sentence
    evidence: tuple[str, ...]  # the resources (type::name) that open it

    def line(self) -> str:
        return f"[{self.kind}] {self.source} -> {self.target}: {self.rule} ({'; '.join(self.evidence)})"


def label(r: Resource) -> str:
    return f"{r['type'].rsplit(':', 1)[-1]}::{r['name']}"


# ---------------------------------------------------------------- wildcards and ARNs


def wildcard(pattern: str, value: str, *, fold: bool = False) -> bool:
    """IAM/Kubernetes style wildcard: `*` any run of characters, `?` one character."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return _compiled(pattern).fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def arn_matches(pattern: str, arn: str) -> bool:
    return pattern == "*" or wildcard(pattern, arn)


def action_matches(pattern: str, action: str) -> bool:
    return wildcard(pattern, action, fold=True)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_doc(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------- IAM statements


@dataclass(frozen=True)
class Statement:
    effect: str
    doc: dict[str, Any]
    origin: Resource

    def _any(self, key: str, not_key: str, value: str, match: Any) -> bool:
        if key in self.doc:
            return any(match(p, value) for p in as_list(self.doc[key]))
        if not_key in self.doc:
            return not any(match(p, value) for p in as_list(self.doc[not_key]))
        return True  # a resource policy's statement without Resource covers its own resource

    def covers(self, action: str, arn: str) -> bool:
        return self._any("Action", "NotAction", action, action_matches) and self._any(
            "Resource", "NotResource", arn, arn_matches
        )

    def principals(self) -> list[tuple[str, str]]:
        p = self.doc.get("Principal")
        if p == "*":
            return [("AWS", "*")]
        if isinstance(p, dict):
            return [(kind, v) for kind, values in p.items() for v in as_list(values)]
        return []

    def names_principal(self, arn: str, account: str = OFFLINE_ACCOUNT_ID) -> str | None:
        """'direct' when the statement names `arn`, 'account' when it names the account (the
        caller's own identity policy must allow too), None otherwise."""
        for kind, value in self.principals():
            if kind != "AWS":
                continue
            if value == "*" or arn_matches(value, arn):
                return "direct"
            if value in (account, f"arn:aws:iam::{account}:root"):
                return "account"
        return None

    def condition(self, context: dict[str, list[str]]) -> bool | None:
        """True/False when every condition can be decided from `context`, None when one cannot."""
        verdict: bool | None = True
        for operator, pairs in (self.doc.get("Condition") or {}).items():
            for key, expected in (pairs or {}).items():
                one = _condition(operator, context.get(key) or context.get(key.lower()), as_list(expected))
                if one is False:
                    return False
                if one is None:
                    verdict = None
        return verdict


def _condition(operator: str, actual: list[str] | None, expected: list[Any]) -> bool | None:
    base = operator.split(":")[-1]
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        return None
    if actual is None:
        return True if if_exists else None
    negate = base.startswith(("StringNot", "ArnNot"))
    like = base.endswith(("Like", "Equals")) and ("Like" in base or base.startswith("Arn"))
    values = [str(v) for v in expected]

    def hit(a: str) -> bool:
        if base == "Bool":
            return a.lower() in (v.lower() for v in values)
        if base.startswith("StringEqualsIgnoreCase"):
            return a.lower() in (v.lower() for v in values)
        return any(wildcard(v, a) if like else a == v for v in values)

    if base.startswith(("String", "Arn", "Bool")):
        found = any(hit(a) for a in actual)
        return not found if negate else found
    return None


# ---------------------------------------------------------------- labels and NetworkPolicy


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Kubernetes label selector: matchLabels and matchExpressions; empty selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass(frozen=True)
class Pod:
    """A workload's pods as NetworkPolicies, security groups and the mesh see them."""

    namespace: str
    labels: tuple[tuple[str, str], ...]
    service_account: str
    ports: tuple[int, ...] = (8080,)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Destination:
    """Pods (namespace + labels) or an address range outside the cluster, on one port."""

    port: int
    protocol: str = "TCP"
    pod: Pod | None = None
    networks: tuple[Network, ...] = ()


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for p in ports:
        if str(p.get("protocol", "TCP")).upper() != protocol.upper():
            continue
        value = p.get("port")
        if value is None or isinstance(value, str):  # all ports, or a named port: maybe this one
            return True
        if int(value) <= port <= int(p.get("endPort") or value):
            return True
    return False


def _ip_block_matches(block: dict[str, Any], networks: Iterable[Network]) -> bool:
    parsed = _networks(block.get("cidr", "0.0.0.0/0"))
    if not parsed:
        return True  # a value the plan cannot show (unknown at preview): assume it matches
    cidr, excepts = parsed[0], _networks(block.get("except"))
    for net in networks:
        if net.version != cidr.version or not net.overlaps(cidr):
            continue
        if not any(net.version == e.version and net.subnet_of(e) for e in excepts):  # type: ignore[arg-type]
            return True
    return False


class NetworkPolicies:
    """The NetworkPolicies of a stack, evaluated as the Kubernetes API defines them: a pod is
    isolated for a direction once a policy of that type selects it; then only the union of the
    selecting policies' rules admits traffic. Peers: podSelector (same namespace),
    namespaceSelector (+ podSelector), ipBlock with except; empty `to`/`from` is everyone."""

    def __init__(self, stack: "Stack") -> None:
        self.stack = stack
        self.policies = [
            r for r in stack.resources if r["type"].endswith("NetworkPolicy") and "networking" in r["type"]
        ]

    def _selecting(self, pod: Pod, direction: str) -> list[Resource]:
        found = []
        for r in self.policies:
            meta, spec = r["inputs"].get("metadata") or {}, r["inputs"].get("spec") or {}
            if meta.get("namespace") != pod.namespace or not selects(spec.get("podSelector"), pod.label_map):
                continue
            types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
            if direction in types:
                found.append(r)
        return found

    def _peer(self, peer: dict[str, Any], policy_ns: str, other: Pod | None, networks: Iterable[Network]) -> bool:
        if "ipBlock" in peer:
            return _ip_block_matches(peer["ipBlock"], networks)
        if other is None:
            return False
        if "namespaceSelector" in peer:
            if not selects(peer["namespaceSelector"], self.stack.namespace_labels(other.namespace)):
                return False
        elif other.namespace != policy_ns:
            return False
        return selects(peer.get("podSelector"), other.label_map)

    def allows(
        self, pod: Pod, direction: str, peer: Pod | None, networks: tuple[Network, ...], port: int, protocol: str
    ) -> str | None:
        """The policy (or 'no policy') that lets `pod` send (Egress) to / receive (Ingress) from
        the peer on `port`, or None when the pod's policies block it."""
        selecting = self._selecting(pod, direction)
        if not selecting:
            return f"no {direction} NetworkPolicy selects {pod.namespace} pods"
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        if peer is not None:
            networks = networks or self.stack.pod_networks
        for r in selecting:
            ns = r["inputs"]["metadata"]["namespace"]
            for rule in (r["inputs"].get("spec") or {}).get(key) or []:
                if not _port_matches(rule.get("ports"), port, protocol):
                    continue
                peers = rule.get(peers_key)
                if not peers or any(self._peer(p, ns, peer, networks) for p in peers):
                    return label(r)
        return None

    def path(self, src: Pod, dest: Destination) -> list[str] | None:
        out = self.allows(src, "Egress", dest.pod, dest.networks, dest.port, dest.protocol)
        if out is None:
            return None
        if dest.pod is None:
            return [out]
        inbound = self.allows(dest.pod, "Ingress", src, self.stack.pod_networks, dest.port, dest.protocol)
        return None if inbound is None else [out, inbound]


# ---------------------------------------------------------------- the stack


class Stack:
    """One plan, indexed: tenant of every resource, mock outputs, references, namespaces."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.name: str = plan.get("stack", "?")
        self.region: str = plan.get("region", "us-east-1")
        self.resources: list[Resource] = [r for r in plan["resources"] if isinstance(r, dict)]
        self.by_urn = {r["urn"]: r for r in self.resources}
        self.tenants = sorted({r["tenant"] for r in self.resources if r.get("tenant")})
        self._mocks = PlanMocks(self.region)
        self.outputs: dict[str, tuple[str, dict[str, Any]]] = {}
        self.refs: dict[str, Resource] = {}
        for r in self.resources:
            self._index(r)
        self.namespaces: dict[str, Resource] = {
            r["inputs"]["metadata"]["name"]: r
            for r in self.of_type("kubernetes:core/v1:Namespace")
            if (r["inputs"].get("metadata") or {}).get("name")
        }
        self._tenant: dict[str, str | None] = {}
        self.netpol = NetworkPolicies(self)

    # -- mock outputs and references

    def _index(self, r: Resource) -> None:
        if not r.get("custom") or r["type"].startswith(("pulumi:", "eks:")):
            return
        try:
            rid, state = self._mocks.new_resource(
                pulumi.runtime.MockResourceArgs(r["type"], r["name"], dict(r["inputs"]), None, None, True)
            )
        except Exception:  # a plan edited by hand may not fit the mock
            rid, state = r["name"], {}
        self.outputs[r["urn"]] = (rid or r["name"], state)
        for key in (rid, state.get("arn"), state.get("name") if r["type"] == "aws:iam/role:Role" else None):
            if isinstance(key, str) and key:
                self.refs.setdefault(key, r)
        for key in ("userId", "userGroupId", "replicationGroupId", "bucket"):
            value = r["inputs"].get(key)
            if isinstance(value, str):
                self.refs.setdefault(value, r)

    def ref(self, value: Any) -> Resource | None:
        return self.refs.get(value) if isinstance(value, str) else None

    def arn(self, r: Resource) -> str:
        return str(self.outputs.get(r["urn"], ("", {}))[1].get("arn", ""))

    def rid(self, r: Resource) -> str:
        return self.outputs.get(r["urn"], (r["name"], {}))[0]

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r["type"] in types]

    # -- tenants

    def tenant_of(self, r: Resource | None) -> str | None:
        """The plan's `tenant`, else the parent chain's, else the tenant namespace it lives in,
        else the tenant its logical name governs (`...-<tenant>`)."""
        if r is None:
            return None
        urn = r["urn"]
        if urn not in self._tenant:
            self._tenant[urn] = None  # cycle guard
            found = r.get("tenant") or self.tenant_of(self.by_urn.get(r.get("parent") or ""))
            namespace = (
                (r["inputs"].get("metadata") or {}).get("namespace") if r["type"].startswith("kubernetes:") else None
            )
            if not found and namespace:
                found = self.namespace_tenant(namespace)
            if not found:
                found = next(
                    (t for t in sorted(self.tenants, key=len, reverse=True) if r["name"].endswith(f"-{t}")), None
                )
            self._tenant[urn] = found
        return self._tenant[urn]

    def namespace_tenant(self, namespace: str) -> str | None:
        r = self.namespaces.get(namespace)
        return (r.get("tenant") or self.tenant_of(r)) if r is not None else None

    def tenant_namespaces(self, tenant: str) -> list[str]:
        return sorted(
            ns for ns, r in self.namespaces.items() if r.get("tenant") == tenant or self.tenant_of(r) == tenant
        )

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        r = self.namespaces.get(namespace)
        labels = dict(((r or {}).get("inputs", {}).get("metadata") or {}).get("labels") or {})
        labels["kubernetes.io/metadata.name"] = namespace
        return labels

    def owned(self, tenant: str, *types: str) -> list[Resource]:
        return [r for r in self.resources if r["type"] in types and self.tenant_of(r) == tenant]

    # -- workloads and networks

    def pods(self, namespace: str) -> list[Pod]:
        """One Pod per workload template in the namespace (a bare namespace gets an unlabelled pod)."""
        found = []
        for r in self.resources:
            if not r["type"].startswith("kubernetes:") or r["inputs"].get("kind") not in WORKLOAD_KINDS:
                continue
            if (r["inputs"].get("metadata") or {}).get("namespace") != namespace:
                continue
            template = _pod_template(r["inputs"])
            labels = (template.get("metadata") or {}).get("labels") or {}
            sa = (template.get("spec") or {}).get("serviceAccountName") or "default"
            ports = sorted(
                {
                    int(p["containerPort"])
                    for c in (template.get("spec") or {}).get("containers") or []
                    for p in c.get("ports") or []
                    if isinstance(p.get("containerPort"), int | float)
                }
            )
            found.append(Pod(namespace, tuple(sorted(labels.items())), sa, tuple(ports) or (8080,)))
        return sorted(set(found), key=str) or [Pod(namespace, (), "default")]

    @property
    def pod_networks(self) -> tuple[Network, ...]:
        """Where pod (and node) addresses come from: the node groups' subnets, else the VPC."""
        subnets: list[Network] = []
        for group in self.of_type("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup"):
            subnets += self.subnet_networks(group["inputs"].get("subnetIds") or [])
        return tuple(sorted(set(subnets), key=str)) or self.vpc_networks

    @property
    def vpc_networks(self) -> tuple[Network, ...]:
        return tuple(
            ipaddress.ip_network(v["inputs"]["cidrBlock"])
            for v in self.of_type("aws:ec2/vpc:Vpc")
            if v["inputs"].get("cidrBlock")
        )

    def subnet_networks(self, ids: Iterable[Any]) -> list[Network]:
        nets = []
        for sid in ids:
            s = self.ref(sid)
            if s is not None and s["inputs"].get("cidrBlock"):
                nets.append(ipaddress.ip_network(s["inputs"]["cidrBlock"]))
        return nets

    def service_account_labels(self, pod: Pod) -> dict[str, str]:
        for r in self.of_type("kubernetes:core/v1:ServiceAccount"):
            meta = r["inputs"].get("metadata") or {}
            if meta.get("namespace") == pod.namespace and meta.get("name") == pod.service_account:
                return dict(meta.get("labels") or {})
        return {}

    def cluster_security_group(self) -> str | None:
        """The security group EKS creates for the cluster (mock: planner/mocks.py `_eks_cluster`)."""
        for c in self.of_type("eks:index:Cluster"):
            name = c["inputs"].get("name") or c["name"]
            return "sg-" + hashlib.sha256(f"{name}/cluster".encode()).hexdigest()[:17]
        return None


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet")


def _pod_template(inputs: dict[str, Any]) -> dict[str, Any]:
    spec = inputs.get("spec") or {}
    if inputs.get("kind") == "Pod":
        return {"metadata": inputs.get("metadata"), "spec": spec}
    if inputs.get("kind") == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return spec.get("template") or {}


# ---------------------------------------------------------------- security groups


@dataclass(frozen=True)
class SgRule:
    port_from: int
    port_to: int
    protocol: str
    groups: tuple[str, ...]
    networks: tuple[Network, ...]
    origin: str


def _networks(*lists: Any) -> tuple[Network, ...]:
    out = []
    for cidr in (c for lst in lists for c in as_list(lst)):
        try:
            out.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            continue
    return tuple(out)


def _sg_rule(r: Resource, raw: dict[str, Any], sg: str) -> SgRule:
    protocol = str(raw.get("ipProtocol") or raw.get("protocol") or "-1").lower()
    lo, hi = raw.get("fromPort"), raw.get("toPort")
    if protocol in ("-1", "all") or not isinstance(lo, int | float):
        lo, hi = 0, 65535
    groups = [
        *as_list(raw.get("securityGroups")),
        raw.get("referencedSecurityGroupId"),
        raw.get("sourceSecurityGroupId"),
    ]
    if raw.get("self"):
        groups.append(sg)
    return SgRule(
        int(lo),
        int(hi if isinstance(hi, int | float) else lo),
        protocol,
        tuple(g for g in groups if g),
        _networks(raw.get("cidrBlocks"), raw.get("ipv6CidrBlocks"), raw.get("cidrIpv4"), raw.get("cidrIpv6")),
        label(r),
    )


def security_group_rules(stack: Stack, sg: str, direction: str) -> list[SgRule]:
    """Inline rules of aws:ec2/securityGroup plus the standalone rule resources that target it.
    The EKS cluster security group (made by EKS, not in the plan) lets everything out."""
    if sg == stack.cluster_security_group() and direction == "egress":
        return [SgRule(0, 65535, "-1", (), _networks("0.0.0.0/0"), "EKS cluster security group (egress all)")]
    rules = []
    owner = stack.ref(sg)
    if owner is not None and owner["type"] == "aws:ec2/securityGroup:SecurityGroup":
        rules += [_sg_rule(owner, raw, sg) for raw in owner["inputs"].get(direction) or []]
    rule_types = {
        "ingress": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "egress": "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    }
    for r in stack.resources:
        if r["type"] == rule_types[direction] and r["inputs"].get("securityGroupId") == sg:
            rules.append(_sg_rule(r, r["inputs"], sg))
        rule_resource = r["type"] == "aws:ec2/securityGroupRule:SecurityGroupRule"
        if rule_resource and r["inputs"].get("securityGroupId") == sg and r["inputs"].get("type") == direction:
            rules.append(_sg_rule(r, r["inputs"], sg))
    return rules


def _sg_admits(rules: list[SgRule], port: int, groups: Iterable[str], networks: Iterable[Network]) -> str | None:
    groups, networks = set(groups), list(networks)
    for rule in rules:
        if rule.protocol not in ("-1", "all", "tcp", "6") or not rule.port_from <= port <= rule.port_to:
            continue
        if groups & set(rule.groups) or any(
            n.overlaps(m) for n in networks for m in rule.networks if n.version == m.version
        ):
            return rule.origin
    return None


def pod_security_groups(stack: Stack, pod: Pod) -> tuple[list[str], str]:
    """Security groups a pod's traffic carries: those of the SecurityGroupPolicies selecting it
    when the VPC CNI has pod ENIs enabled, else its node's (the cluster security group, or the
    launch template's groups)."""
    policies = []
    for r in stack.resources:
        inputs = r["inputs"]
        if (
            inputs.get("kind") != "SecurityGroupPolicy"
            or (inputs.get("metadata") or {}).get("namespace") != pod.namespace
        ):
            continue
        spec = inputs.get("spec") or {}
        if ("podSelector" in spec and selects(spec["podSelector"], pod.label_map)) or (
            "serviceAccountSelector" in spec
            and selects(spec["serviceAccountSelector"], stack.service_account_labels(pod))
        ):
            policies.append(r)
    if policies and _pod_eni_enabled(stack):
        groups = sorted(
            {
                g
                for r in policies
                for g in as_list(((r["inputs"].get("spec") or {}).get("securityGroups") or {}).get("groupIds"))
            }
        )
        return groups, ", ".join(label(r) for r in policies)
    node_groups: list[str] = []
    for lt in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        node_groups += as_list(lt["inputs"].get("vpcSecurityGroupIds"))
    cluster = stack.cluster_security_group()
    why = (
        "no SecurityGroupPolicy selects the pod"
        if not policies
        else "SecurityGroupPolicy present but ENABLE_POD_ENI is off"
    )
    return sorted(set(node_groups) or ({cluster} if cluster else set())), f"{why}: node security groups"


def _pod_eni_enabled(stack: Stack) -> bool:
    for addon in stack.of_type("aws:eks/addon:Addon"):
        if addon["inputs"].get("addonName") == "vpc-cni":
            config = policy_doc(addon["inputs"].get("configurationValues"))
            return str((config.get("env") or {}).get("ENABLE_POD_ENI", "false")).lower() == "true"
    return True  # no managed add-on in the plan: assume the operator configured the CNI


# ---------------------------------------------------------------- network


@dataclass(frozen=True)
class Endpoint:
    """A data store of a tenant reachable over the VPC: its security groups, port, addresses."""

    resource: Resource
    groups: tuple[str, ...]
    port: int
    networks: tuple[Network, ...]


def data_endpoints(stack: Stack) -> list[Endpoint]:
    """Databases (primary, replica), caches, and security groups of a tenant's data copies that
    wait for a restore (DR): the groups a restored copy will carry."""
    found: list[Endpoint] = []
    attached: set[str] = set()
    db_nets: list[Network] = []
    for g in stack.of_type("aws:rds/subnetGroup:SubnetGroup"):
        db_nets += stack.subnet_networks(g["inputs"].get("subnetIds") or [])
    for r in stack.of_type("aws:rds/instance:Instance", "aws:rds/cluster:Cluster"):
        groups = tuple(as_list(r["inputs"].get("vpcSecurityGroupIds")))
        attached |= set(groups)
        group = stack.ref(r["inputs"].get("dbSubnetGroupName"))
        nets = stack.subnet_networks(group["inputs"].get("subnetIds") or []) if group else db_nets
        found.append(Endpoint(r, groups, int(r["inputs"].get("port") or 3306), tuple(nets or stack.vpc_networks)))
    for r in stack.of_type(
        "aws:elasticache/replicationGroup:ReplicationGroup", "aws:elasticache/serverlessCache:ServerlessCache"
    ):
        groups = tuple(as_list(r["inputs"].get("securityGroupIds")))
        attached |= set(groups)
        group = stack.ref(r["inputs"].get("subnetGroupName"))
        nets = stack.subnet_networks(group["inputs"].get("subnetIds") or []) if group else []
        found.append(Endpoint(r, groups, int(r["inputs"].get("port") or 6379), tuple(nets or stack.vpc_networks)))
    for sg in stack.of_type("aws:ec2/securityGroup:SecurityGroup"):
        sg_id = stack.rid(sg)
        if sg_id in attached or not stack.tenant_of(sg):
            continue
        for rule in security_group_rules(stack, sg_id, "ingress"):
            if rule.port_from == rule.port_to and rule.port_from in (3306, 5432, 6379):
                found.append(Endpoint(sg, (sg_id,), rule.port_from, tuple(db_nets or stack.vpc_networks)))
                break
    return found


def reach(stack: Stack, pod: Pod, endpoint: Endpoint) -> list[str] | None:
    """Evidence that `pod` can open a TCP connection to `endpoint`: its egress NetworkPolicies,
    its security groups' egress, and the endpoint's security groups' ingress; None if blocked."""
    np = stack.netpol.allows(pod, "Egress", None, endpoint.networks, endpoint.port, "TCP")
    if np is None:
        return None
    groups, why = pod_security_groups(stack, pod)
    out = next(
        (
            o
            for g in groups
            if (
                o := _sg_admits(
                    security_group_rules(stack, g, "egress"), endpoint.port, endpoint.groups, endpoint.networks
                )
            )
        ),
        None,
    )
    if out is None:
        return None
    inbound = next(
        (
            i
            for g in endpoint.groups
            if (i := _sg_admits(security_group_rules(stack, g, "ingress"), endpoint.port, groups, stack.pod_networks))
        ),
        None,
    )
    if inbound is None:
        return None
    return [np, f"{why} ({', '.join(groups)})", out, inbound]


def network_channels(stack: Stack) -> Iterator[Channel]:
    """A's pods can connect to B's database/cache/replica: NetworkPolicy egress ∧ pod security
    group egress ∧ B's security group ingress admitting A's pod security group or addresses."""
    endpoints = [e for e in data_endpoints(stack) if stack.tenant_of(e.resource)]
    for a in stack.tenants:
        pods = [p for ns in stack.tenant_namespaces(a) for p in stack.pods(ns)]
        for e in endpoints:
            b = stack.tenant_of(e.resource)
            if b == a or b is None:
                continue
            for pod in pods:
                evidence = reach(stack, pod, e)
                if evidence:
                    rule = f"pods of {pod.namespace} ({pod.service_account}) reach {label(e.resource)} on {e.port}"
                    yield Channel("network", a, b, rule, (*evidence, label(e.resource)))
                    break


# ---------------------------------------------------------------- mesh


def _mesh_root(stack: Stack) -> str:
    for r in stack.of_type("kubernetes:helm.sh/v3:Release"):
        root = ((r["inputs"].get("values") or {}).get("meshConfig") or {}).get("rootNamespace")
        if root:
            return str(root)
    return "istio-system"


def _istio(stack: Stack, kind: str, namespace: str, pod: Pod) -> list[Resource]:
    root = _mesh_root(stack)
    found = []
    for r in stack.resources:
        inputs = r["inputs"]
        if inputs.get("kind") != kind or not str(inputs.get("apiVersion", "")).startswith("security.istio.io"):
            continue
        ns = (inputs.get("metadata") or {}).get("namespace")
        selector = (inputs.get("spec") or {}).get("selector")
        if (ns == namespace and (not selector or selects(selector, pod.label_map))) or (ns == root and not selector):
            found.append(r)
    return found


def mtls_mode(stack: Stack, pod: Pod) -> str:
    policies = _istio(stack, "PeerAuthentication", pod.namespace, pod)
    own = [r for r in policies if r["inputs"]["metadata"].get("namespace") == pod.namespace]
    for r in own or policies:
        return str(((r["inputs"].get("spec") or {}).get("mtls") or {}).get("mode", "PERMISSIVE")).upper()
    return "PERMISSIVE"


@dataclass(frozen=True)
class Caller:
    """A request as the destination's sidecar sees it."""

    principal: str | None  # mTLS identity, None for plain text
    namespace: str | None
    issuer: str | None  # issuer of a JWT that passed RequestAuthentication, None for no token


def _source_matches(source: dict[str, Any], caller: Caller) -> bool:
    def field(name: str, value: str | None, *, positive: bool) -> bool:
        patterns = source.get(name)
        if patterns is None:
            return True
        hit = value is not None and any(wildcard(p, value) for p in patterns)
        return hit if positive else (value is not None and not hit)  # mTLS-only fields never match plain text

    request = f"{caller.issuer}/*" if caller.issuer else None
    checks = [
        field("principals", caller.principal, positive=True),
        field("notPrincipals", caller.principal, positive=False),
        field("namespaces", caller.namespace, positive=True),
        field("notNamespaces", caller.namespace, positive=False),
    ]
    if "requestPrincipals" in source:
        checks.append(
            request is not None
            and any(
                wildcard(p, request) or p == "*" or p.startswith(f"{caller.issuer}/")
                for p in source["requestPrincipals"]
            )
        )
    if "notRequestPrincipals" in source:
        checks.append(request is None or not any(wildcard(p, request) for p in source["notRequestPrincipals"]))
    return all(checks)


def _rule_matches(rule: dict[str, Any], caller: Caller) -> bool:
    sources = rule.get("from")
    return not sources or any(_source_matches(s.get("source") or {}, caller) for s in sources)


def authorized(stack: Stack, pod: Pod, caller: Caller) -> str | None:
    """Istio's order: a matching DENY denies; no ALLOW policy allows; a matching ALLOW allows."""
    policies = _istio(stack, "AuthorizationPolicy", pod.namespace, pod)
    for r in policies:
        spec = r["inputs"].get("spec") or {}
        if str(spec.get("action", "ALLOW")).upper() == "DENY" and any(
            _rule_matches(x, caller) for x in spec.get("rules") or []
        ):
            return None
    allows = [r for r in policies if str((r["inputs"].get("spec") or {}).get("action", "ALLOW")).upper() == "ALLOW"]
    if not allows:
        return f"no ALLOW AuthorizationPolicy for {pod.namespace}"
    for r in allows:
        for i, x in enumerate((r["inputs"].get("spec") or {}).get("rules") or []):
            if _rule_matches(x, caller):
                return f"{label(r)} rule {i}"
    return None


def accepted_issuers(stack: Stack, pod: Pod) -> list[tuple[str, Resource]]:
    return [
        (str(rule.get("issuer")), r)
        for r in _istio(stack, "RequestAuthentication", pod.namespace, pod)
        for rule in (r["inputs"].get("spec") or {}).get("jwtRules") or []
    ]


def issuer_tenants(stack: Stack) -> dict[str, str]:
    """Issuer URL of every tenant's user pool in this stack."""
    found = {}
    for r in stack.of_type("aws:cognito/userPool:UserPool"):
        tenant = stack.tenant_of(r)
        if tenant:
            found[f"https://cognito-idp.{stack.region}.amazonaws.com/{stack.rid(r)}"] = tenant
    return found


def router(stack: Stack) -> tuple[str, str] | None:
    """Namespace and service account of the shared router (the ingress controller the tenants'
    Ingresses name)."""
    classes = {
        (r["inputs"].get("spec") or {}).get("ingressClassName")
        for r in stack.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    }
    for r in stack.of_type("kubernetes:helm.sh/v3:Release"):
        values = r["inputs"].get("values") or {}
        controller = values.get("controller") or {}
        ingress_class = (controller.get("ingressClass") or {}).get("name") or controller.get(
            "ingressClassResource", {}
        ).get("name")
        if ingress_class and ingress_class in classes:
            sa = (controller.get("serviceAccount") or {}).get("name") or r["inputs"].get("name")
            return str(r["inputs"].get("namespace")), str(sa)
    return None


def _router_channels(stack: Stack, b: str, pods: list[Pod], entry: tuple[str, str]) -> Iterator[Channel]:
    issuers = issuer_tenants(stack)
    router_pod = Pod(entry[0], (), entry[1])
    via = Caller(f"cluster.local/ns/{entry[0]}/sa/{entry[1]}", entry[0], None)
    for pod in pods:
        if not any(stack.netpol.allows(pod, "Ingress", router_pod, (), port, "TCP") for port in pod.ports):
            continue
        rule = authorized(stack, pod, via)
        if rule:
            why = f"{pod.namespace} admits what the router {entry[0]} forwards without a token ({rule}, mTLS {mtls_mode(stack, pod)})"
            yield from (Channel("mesh", a, b, why, (rule.split(" rule ")[0],)) for a in stack.tenants if a != b)
            return
        for issuer, ra in accepted_issuers(stack, pod):
            a = issuers.get(issuer)
            admitted = authorized(stack, pod, Caller(via.principal, via.namespace, issuer)) if a and a != b else None
            if a and admitted:
                why = f"{pod.namespace} accepts tokens of {a}'s issuer through the router"
                yield Channel("mesh", a, b, why, (label(ra), admitted))


def _direct_channel(stack: Stack, a: str, b: str, pods: list[Pod]) -> Channel | None:
    for pod in pods:
        strict = mtls_mode(stack, pod) == "STRICT"
        for src in (p for ns in stack.tenant_namespaces(a) for p in stack.pods(ns)):
            for port in pod.ports:
                path = stack.netpol.path(src, Destination(port, pod=pod))
                if not path:
                    continue
                caller = Caller(f"cluster.local/ns/{src.namespace}/sa/{src.service_account}", src.namespace, None)
                admitted = authorized(stack, pod, caller) or (
                    None if strict else authorized(stack, pod, Caller(None, None, None))
                )
                if admitted:
                    why = f"pods of {src.namespace} call {pod.namespace} on {port} directly ({admitted})"
                    return Channel("mesh", a, b, why, tuple(path))
    return None


def mesh_channels(stack: Stack) -> Iterator[Channel]:
    """B's workloads admit A: through the shared router without a token of B's own issuer (A's
    users call B's API), or from A's pods directly (NetworkPolicy path ∧ AuthorizationPolicy,
    plain text when B's mTLS is not STRICT)."""
    entry = router(stack)
    for b in stack.tenants:
        pods = [p for ns in stack.tenant_namespaces(b) for p in stack.pods(ns)]
        if entry is not None:
            yield from _router_channels(stack, b, pods, entry)
        for a in stack.tenants:
            channel = _direct_channel(stack, a, b, pods) if a != b else None
            if channel is not None:
                yield channel


# ---------------------------------------------------------------- Kubernetes RBAC

DANGEROUS = (
    ("", "secrets", ("get", "list", "watch")),
    ("", "pods/log", ("get",)),
    ("", "configmaps", ("get", "list")),
    ("", "pods", ("create",)),
    ("", "pods/exec", ("create", "get")),
    ("", "pods/attach", ("create", "get")),
    ("", "pods/portforward", ("create", "get")),
    ("", "serviceaccounts/token", ("create",)),
    ("", "serviceaccounts", ("impersonate",)),
    ("", "users", ("impersonate",)),
    ("", "groups", ("impersonate",)),
    ("apps", "deployments", ("create", "update", "patch")),
    ("apps", "statefulsets", ("create", "update", "patch")),
    ("apps", "daemonsets", ("create", "update", "patch")),
    ("batch", "jobs", ("create", "update", "patch")),
    ("batch", "cronjobs", ("create", "update", "patch")),
    ("rbac.authorization.k8s.io", "roles", ("escalate", "bind")),
    ("rbac.authorization.k8s.io", "rolebindings", ("create", "update", "patch")),
)
# EKS access policies (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html):
# every one reads pods and logs at least; Admin/ClusterAdmin/Edit also write workloads and secrets.
EKS_POLICIES = (
    "AmazonEKSViewPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSAdminViewPolicy",
)


def dangerous_rights(rules: list[dict[str, Any]]) -> list[str]:
    found = []
    for rule in rules:
        groups, resources, verbs = rule.get("apiGroups") or [""], rule.get("resources") or [], rule.get("verbs") or []
        for group, resource, risky in DANGEROUS:
            if ("*" in groups or group in groups) and ("*" in resources or resource in resources):
                hit = [v for v in verbs if v == "*" or v in risky]
                if hit:
                    found.append(f"{'/'.join(hit)} {resource}")
    return sorted(set(found))


def tenant_subjects(stack: Stack, tenant: str) -> set[tuple[str, str]]:
    """(kind, name) the API server sees for A's principals: its service accounts, the groups and
    user names its IAM roles get from EKS access entries, and the groups everyone has."""
    subjects = {("Group", "system:authenticated"), ("Group", "system:serviceaccounts")}
    for ns in stack.tenant_namespaces(tenant):
        subjects.add(("Group", f"system:serviceaccounts:{ns}"))
        subjects |= {("ServiceAccount", f"{ns}:{p.service_account}") for p in stack.pods(ns)}
        subjects |= {
            ("ServiceAccount", f"{ns}:{(r['inputs'].get('metadata') or {}).get('name')}")
            for r in stack.of_type("kubernetes:core/v1:ServiceAccount")
            if (r["inputs"].get("metadata") or {}).get("namespace") == ns
        }
    roles = {stack.arn(r) for r in stack.owned(tenant, "aws:iam/role:Role")}
    for entry in stack.of_type("aws:eks/accessEntry:AccessEntry"):
        if entry["inputs"].get("principalArn") in roles:
            subjects |= {("Group", g) for g in entry["inputs"].get("kubernetesGroups") or []}
            subjects.add(("User", str(entry["inputs"].get("userName") or entry["inputs"]["principalArn"])))
    return subjects


def _subject_key(subject: dict[str, Any], binding_ns: str | None) -> tuple[str, str]:
    if subject.get("kind") == "ServiceAccount":
        return ("ServiceAccount", f"{subject.get('namespace') or binding_ns}:{subject.get('name')}")
    return (str(subject.get("kind")), str(subject.get("name")))


def rbac_channels(stack: Stack) -> Iterator[Channel]:
    """A's subjects hold rights that read B's data or run code as B in B's namespace: RoleBindings
    in B's namespace, ClusterRoleBindings, EKS access policies scoped to B's namespace or the cluster."""
    roles = {}
    for r in stack.resources:
        kind = r["inputs"].get("kind")
        if kind in ("Role", "ClusterRole") and r["type"].startswith("kubernetes:rbac"):
            meta = r["inputs"].get("metadata") or {}
            roles[(kind, meta.get("namespace") if kind == "Role" else None, meta.get("name"))] = r
    bindings = [
        r
        for r in stack.resources
        if r["inputs"].get("kind") in ("RoleBinding", "ClusterRoleBinding") and r["type"].startswith("kubernetes:rbac")
    ]
    for a in stack.tenants:
        subjects = tenant_subjects(stack, a)
        own = set(stack.tenant_namespaces(a))
        for binding in bindings:
            inputs = binding["inputs"]
            ns = (inputs.get("metadata") or {}).get("namespace") if inputs["kind"] == "RoleBinding" else None
            if ns in own or not any(_subject_key(s, ns) in subjects for s in inputs.get("subjects") or []):
                continue
            ref = inputs.get("roleRef") or {}
            role = roles.get((ref.get("kind"), ns if ref.get("kind") == "Role" else None, ref.get("name")))
            rights = dangerous_rights(role["inputs"].get("rules") or []) if role else []
            if role is None or not rights:
                continue
            targets = [stack.namespace_tenant(ns)] if ns else list(stack.tenants)
            for b in {t for t in targets if t and t != a}:
                yield Channel(
                    "rbac", a, b, f"{', '.join(rights)} in {ns or 'every namespace'}", (label(binding), label(role))
                )
        if ("Group", "system:masters") in subjects:
            entries = [
                e
                for e in stack.of_type("aws:eks/accessEntry:AccessEntry")
                if "system:masters" in (e["inputs"].get("kubernetesGroups") or [])
            ]
            for b in stack.tenants:
                if b != a:
                    yield Channel(
                        "rbac",
                        a,
                        b,
                        f"an access entry of {a} puts its role in system:masters",
                        tuple(label(e) for e in entries),
                    )
        roles_of_a = {stack.arn(r) for r in stack.owned(a, "aws:iam/role:Role")}
        for assoc in stack.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation"):
            inputs = assoc["inputs"]
            if inputs.get("principalArn") not in roles_of_a:
                continue
            policy = str(inputs.get("policyArn", "")).rsplit("/", 1)[-1]
            scope = inputs.get("accessScope") or {}
            namespaces = scope.get("namespaces") or [] if scope.get("type") == "namespace" else ["*"]
            if policy not in EKS_POLICIES:
                continue
            for b in stack.tenants:
                if b != a and any(wildcard(p, ns) for p in namespaces for ns in stack.tenant_namespaces(b)):
                    yield Channel("rbac", a, b, f"{policy} on namespaces {namespaces}", (label(assoc),))


# ---------------------------------------------------------------- IAM


# What AWS-managed policies attached to a role allow, for the few that could reach tenant data.
MANAGED = {
    "AdministratorAccess": [("*", "*")],
    "PowerUserAccess": [("*", "*")],
    "ReadOnlyAccess": [("*", "*")],
    "AmazonS3FullAccess": [("s3:*", "*")],
    "AmazonS3ReadOnlyAccess": [("s3:Get*", "*"), ("s3:List*", "*")],
    "AmazonSQSFullAccess": [("sqs:*", "*")],
    "AmazonDynamoDBFullAccess": [("dynamodb:*", "*")],
    "AmazonDynamoDBReadOnlyAccess": [("dynamodb:Get*", "*"), ("dynamodb:Query", "*"), ("dynamodb:Scan", "*")],
    "AmazonSNSFullAccess": [("sns:*", "*")],
    "AmazonKinesisFullAccess": [("kinesis:*", "*")],
    "AmazonKinesisReadOnlyAccess": [("kinesis:Get*", "*"), ("kinesis:Describe*", "*"), ("kinesis:List*", "*")],
    "SecretsManagerReadWrite": [("secretsmanager:*", "*")],
    "AWSKeyManagementServicePowerUser": [("kms:*", "*")],
}


class Iam:
    """Roles, their identity policies, and the resource policies of the plan."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.roles = stack.of_type("aws:iam/role:Role")
        self._identity: dict[str, list[Statement]] = {}

    def identity(self, role: Resource) -> list[Statement]:
        if role["urn"] not in self._identity:
            found: list[Statement] = []
            keys = {self.stack.rid(role), self.stack.arn(role), role["inputs"].get("name"), role["urn"]}
            for r in self.stack.resources:
                inputs = r["inputs"]
                if r["type"] == "aws:iam/rolePolicy:RolePolicy" and inputs.get("role") in keys:
                    found += _statements(inputs.get("policy"), r)
                elif r["type"] == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and inputs.get("role") in keys:
                    policy = self.stack.ref(inputs.get("policyArn"))
                    if policy is not None:
                        found += _statements(policy["inputs"].get("policy"), policy)
                    for action, resource in MANAGED.get(str(inputs.get("policyArn", "")).rsplit("/", 1)[-1], []):
                        found.append(Statement("Allow", {"Action": action, "Resource": resource}, r))
            for inline in as_list(role["inputs"].get("inlinePolicies")):
                found += _statements((inline or {}).get("policy"), role)
            self._identity[role["urn"]] = found
        return self._identity[role["urn"]]

    def context(self, role: Resource) -> dict[str, list[str]]:
        ctx = {"aws:PrincipalArn": [self.stack.arn(role)], "aws:PrincipalAccount": [OFFLINE_ACCOUNT_ID]}
        for k, v in (role["inputs"].get("tags") or {}).items():
            ctx[f"aws:PrincipalTag/{k}"] = [str(v)]
        return ctx

    def identity_allows(self, role: Resource, action: str, arn: str, ctx: dict[str, list[str]]) -> Statement | None:
        statements = [s for s in self.identity(role) if s.covers(action, arn)]
        if any(s.effect == "Deny" and s.condition(ctx) is True for s in statements):
            return None
        return next((s for s in statements if s.effect == "Allow" and s.condition(ctx) is not False), None)

    def can(
        self,
        role: Resource,
        action: str,
        arn: str,
        resource_policy: list[Statement],
        *,
        required: bool = False,
    ) -> list[str] | None:
        """Evidence that `role` may do `action` on `arn` within the account, or None.
        Same account: the identity policy or the resource policy suffices; a KMS key policy or
        a role's trust policy (`required`) must allow, directly or by naming the account (then
        the identity policy must allow too)."""
        ctx = self.context(role)
        principal = self.stack.arn(role)
        relevant = [s for s in resource_policy if s.covers(action, arn)]
        own_statements = [s for s in self.identity(role) if s.covers(action, arn)]
        denies = [s for s in relevant if s.effect == "Deny" and s.names_principal(principal)]
        if any(s.condition(ctx) is True for s in denies + [s for s in own_statements if s.effect == "Deny"]):
            return None  # an explicit Deny that surely applies wins
        grants = [s for s in relevant if s.effect == "Allow" and s.condition(ctx) is not False]
        direct = next((s for s in grants if s.names_principal(principal) == "direct"), None)
        delegated = next((s for s in grants if s.names_principal(principal) == "account"), None)
        own = self.identity_allows(role, action, arn, ctx)
        if direct is not None:
            return [label(direct.origin) + f" grants {action}"]
        if not required:
            return [label(own.origin) + f" allows {action}"] if own is not None else None
        if delegated is not None and own is not None:
            return [label(own.origin) + f" allows {action}", label(delegated.origin) + " delegates to IAM"]
        return None

    def trust(self, target: Resource) -> list[Statement]:
        return _statements(target["inputs"].get("assumeRolePolicy"), target)


def _statements(value: Any, origin: Resource) -> list[Statement]:
    return [
        Statement(str(s.get("Effect", "Allow")), s, origin)
        for s in as_list(policy_doc(value).get("Statement"))
        if isinstance(s, dict)
    ]


@dataclass(frozen=True)
class Target:
    resource: Resource
    arn: str
    actions: tuple[str, ...]
    policy: tuple[Statement, ...]
    required: bool = False  # the resource policy must grant (KMS key policy)


def data_targets(stack: Stack, tenant: str) -> list[Target]:
    """B's data in AWS with the actions that read or write it and the policies that govern it."""
    policies: dict[str, list[Statement]] = defaultdict(list)
    for r in stack.resources:
        inputs = r["inputs"]
        if r["type"] == "aws:s3/bucketPolicy:BucketPolicy":
            policies[f"arn:aws:s3:::{inputs.get('bucket')}"] += _statements(inputs.get("policy"), r)
        elif r["type"] == "aws:sqs/queuePolicy:QueuePolicy":
            q = stack.ref(inputs.get("queueUrl"))
            if q is not None:
                policies[stack.arn(q)] += _statements(inputs.get("policy"), r)
        elif r["type"] == "aws:sns/topicPolicy:TopicPolicy":
            policies[str(inputs.get("arn"))] += _statements(inputs.get("policy"), r)
        elif r["type"] == "aws:kinesis/resourcePolicy:ResourcePolicy":
            policies[str(inputs.get("resourceArn"))] += _statements(inputs.get("policy"), r)
        elif r["type"] == "aws:secretsmanager/secretPolicy:SecretPolicy":
            s = stack.ref(inputs.get("secretArn"))
            if s is not None:
                policies[stack.arn(s)] += _statements(inputs.get("policy"), r)
        elif r["type"] == "aws:kms/keyPolicy:KeyPolicy":
            k = stack.ref(inputs.get("keyId"))
            if k is not None:
                policies[stack.arn(k)] += _statements(inputs.get("policy"), r)
        elif r["type"] == "aws:dynamodb/resourcePolicy:ResourcePolicy":
            policies[str(inputs.get("resourceArn"))] += _statements(inputs.get("policy"), r)
    found = []
    for r in stack.resources:
        if stack.tenant_of(r) != tenant:
            continue
        arn, t = stack.arn(r), r["type"]
        if t == "aws:s3/bucket:Bucket":
            found.append(Target(r, f"{arn}/*", ("s3:GetObject", "s3:PutObject"), tuple(policies[arn])))
        elif t == "aws:sqs/queue:Queue":
            found.append(Target(r, arn, ("sqs:ReceiveMessage", "sqs:SendMessage"), tuple(policies[arn])))
        elif t == "aws:sns/topic:Topic":
            found.append(Target(r, arn, ("sns:Publish", "sns:Subscribe"), tuple(policies[arn])))
        elif t == "aws:dynamodb/table:Table":
            # Items, the indexes (which project them) and the stream (every change, both images).
            actions = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
            found.append(Target(r, arn, actions, tuple(policies[arn])))
            found.append(Target(r, f"{arn}/index/*", ("dynamodb:Query",), tuple(policies[arn])))
            found.append(Target(r, f"{arn}/stream/*", ("dynamodb:GetRecords",), tuple(policies[arn])))
        elif t == "aws:kinesis/stream:Stream":
            found.append(Target(r, arn, ("kinesis:GetRecords", "kinesis:PutRecord"), tuple(policies[arn])))
        elif t == "aws:secretsmanager/secret:Secret":
            found.append(Target(r, arn, ("secretsmanager:GetSecretValue",), tuple(policies[arn])))
        elif t == "aws:ssm/parameter:Parameter":
            # The public API authorizer's entry of the tenant: its API key and accepted issuer.
            found.append(Target(r, arn, ("ssm:GetParameter", "ssm:PutParameter"), ()))
        elif t == "aws:kms/key:Key":
            doc = _statements(r["inputs"].get("policy"), r) + policies[arn]
            found.append(
                Target(r, arn, ("kms:Decrypt", "kms:CreateGrant", "kms:PutKeyPolicy"), tuple(doc), required=True)
            )
        elif t == "aws:rds/instance:Instance":
            state = stack.outputs.get(r["urn"], ("", {}))[1]
            rid = state.get("resourceId")
            if rid:
                found.append(
                    Target(
                        r, f"arn:aws:rds-db:{stack.region}:{OFFLINE_ACCOUNT_ID}:dbuser:{rid}/*", ("rds-db:connect",), ()
                    )
                )
            for secret in state.get("masterUserSecrets") or []:
                found.append(Target(r, secret["secretArn"], ("secretsmanager:GetSecretValue",), ()))
    return found


def tenant_roles(stack: Stack, iam: Iam, tenant: str) -> dict[str, tuple[Resource, list[str]]]:
    """A's IAM principals: its own roles, then every role they can assume in turn (with how)."""
    found = {r["urn"]: (r, [f"{label(r)} is {tenant}'s"]) for r in stack.owned(tenant, "aws:iam/role:Role")}
    queue = list(found)
    while queue:
        src, how = found[queue.pop()]
        for dst in iam.roles:
            if dst["urn"] in found or stack.tenant_of(dst) not in (None, tenant):
                continue
            evidence = iam.can(src, "sts:AssumeRole", stack.arn(dst), iam.trust(dst), required=True)
            if evidence:
                found[dst["urn"]] = (dst, [*how, *evidence])
                queue.append(dst["urn"])
    return found


def iam_channels(stack: Stack) -> Iterator[Channel]:
    """A's roles (and the roles they can assume) read/write B's buckets, queues, topics, event
    streams, secrets, API authorizer entries (SSM parameters), keys, database users, DynamoDB tables (items, indexes, stream), or assume B's roles; A's service accounts match B's role trust; B's
    queue admits a topic of A (aws:SourceArn)."""
    iam = Iam(stack)
    targets = {b: data_targets(stack, b) for b in stack.tenants}
    for a in stack.tenants:
        principals = tenant_roles(stack, iam, a)
        for b in stack.tenants:
            if b == a:
                continue
            for role, how in principals.values():
                for target in targets[b]:
                    for action in target.actions:
                        evidence = iam.can(role, action, target.arn, list(target.policy), required=target.required)
                        if evidence:
                            yield Channel(
                                "iam",
                                a,
                                b,
                                f"{label(role)} may {action} on {label(target.resource)}",
                                (*how[1:], *evidence),
                            )
                            break
                for dst in stack.owned(b, "aws:iam/role:Role"):
                    evidence = iam.can(role, "sts:AssumeRole", stack.arn(dst), iam.trust(dst), required=True)
                    if evidence:
                        yield Channel("iam", a, b, f"{label(role)} may assume {label(dst)}", (*how[1:], *evidence))
            yield from _web_identity(stack, iam, a)
            yield from _service_sources(stack, a, targets)


def _web_identity(stack: Stack, iam: Iam, a: str) -> Iterator[Channel]:
    """A service account of A (one in the plan, or one A may name to fit a wildcard) matches the
    web-identity trust of another tenant's role."""
    namespaces = stack.tenant_namespaces(a)
    existing = {s for kind, s in tenant_subjects(stack, a) if kind == "ServiceAccount"}
    for dst in iam.roles:
        b = stack.tenant_of(dst)
        if b in (None, a):
            continue
        for s in iam.trust(dst):
            if s.effect != "Allow" or not any(k == "Federated" for k, _ in s.principals()):
                continue
            conditions = [(k, v) for op in (s.doc.get("Condition") or {}).values() for k, v in (op or {}).items()]
            wanted = [str(v).rsplit(":", 1)[-1].replace("*", "x") for k, v in conditions if k.endswith(":sub")]
            accounts = existing | {f"{ns}:{name}" for ns in namespaces for name in wanted}
            for account in sorted(accounts):
                ns, name = account.split(":", 1)
                ctx = {k: [f"system:serviceaccount:{ns}:{name}"] for k, _ in conditions if k.endswith(":sub")}
                ctx |= {k: ["sts.amazonaws.com"] for k, _ in conditions if k.endswith(":aud")}
                if s.condition(ctx) is not False:
                    why = f"service account {ns}/{name} matches the trust of {label(dst)}"
                    yield Channel("iam", a, str(b), why, (label(dst),))
                    break


def _service_sources(stack: Stack, a: str, targets: dict[str, list[Target]]) -> Iterator[Channel]:
    """B's queue/topic policy lets a service act on behalf of A's resource (aws:SourceArn)."""
    own = {stack.arn(r) for r in stack.resources if stack.tenant_of(r) == a and stack.arn(r)}
    for b, items in targets.items():
        if b == a:
            continue
        for target in items:
            for s in target.policy:
                if s.effect != "Allow" or not any(k == "Service" for k, _ in s.principals()):
                    continue
                keys = {k.lower() for op in (s.doc.get("Condition") or {}).values() for k in (op or {})}
                if "aws:sourcearn" not in keys:
                    continue  # only a source ARN ties the service's call to a resource of A
                for source in sorted(own):
                    if s.condition({"aws:SourceArn": [source], "aws:SourceAccount": [OFFLINE_ACCOUNT_ID]}) is not False:
                        yield Channel(
                            "iam", a, b, f"{label(s.origin)} admits a service acting for {source}", (label(s.origin),)
                        )
                        break


# ---------------------------------------------------------------- secrets delivery


def secrets_channels(stack: Stack) -> Iterator[Channel]:
    """A store A's ExternalSecrets can use reads B's secrets: a SecretStore in A's namespace or a
    ClusterSecretStore open to it, acting as the controller's role or a role it names; and, since
    a tenant writes its own SecretStore, any tenant role the controller may assume whose trust is
    not tied to that tenant by something the store's author cannot choose."""
    iam = Iam(stack)
    controller = _secrets_controller(stack)
    targets = {
        b: [t for t in data_targets(stack, b) if "secretsmanager:GetSecretValue" in t.actions] for b in stack.tenants
    }
    stores = [
        r
        for r in stack.resources
        if r["inputs"].get("kind") in ("SecretStore", "ClusterSecretStore")
        and "external-secrets" in str(r["inputs"].get("apiVersion"))
    ]
    for a in stack.tenants:
        own = set(stack.tenant_namespaces(a))
        if not own:
            continue
        usable = []
        for store in stores:
            meta, spec = store["inputs"].get("metadata") or {}, store["inputs"].get("spec") or {}
            if store["inputs"]["kind"] == "SecretStore" and meta.get("namespace") not in own:
                continue
            if store["inputs"]["kind"] == "ClusterSecretStore" and not _cluster_store_open(stack, spec, own):
                continue
            usable.append(store)
        for store in usable:
            aws = ((store["inputs"].get("spec") or {}).get("provider") or {}).get("aws") or {}
            acting = _store_principal(
                stack, iam, controller, aws, (store["inputs"].get("metadata") or {}).get("namespace")
            )
            if acting is None:
                continue
            role, how = acting
            for b in stack.tenants:
                if b == a:
                    continue
                for t in targets[b]:
                    evidence = iam.can(role, "secretsmanager:GetSecretValue", t.arn, list(t.policy))
                    if evidence:
                        yield Channel(
                            "secrets",
                            a,
                            b,
                            f"{label(store)} reads {label(t.resource)} as {label(role)}",
                            (*how, *evidence),
                        )
                        break
        if controller is None:
            continue
        for b in stack.tenants:
            if b == a:
                continue
            for dst in stack.owned(b, "aws:iam/role:Role"):
                trust = iam.trust(dst)
                evidence = iam.can(controller, "sts:AssumeRole", stack.arn(dst), trust, required=True)
                if evidence and (_secret_reader(stack, iam, dst, targets[b]) or _reads_secrets(iam, dst)):
                    yield Channel(
                        "secrets",
                        a,
                        b,
                        f"a SecretStore in {sorted(own)[0]} may name {label(dst)}: the controller assumes it and its trust does not pin the tenant",
                        (label(controller), *evidence),
                    )


def _secrets_controller(stack: Stack) -> Resource | None:
    """The External Secrets controller's IAM role (its service account's IRSA annotation)."""
    for r in stack.of_type("kubernetes:helm.sh/v3:Release"):
        if "external-secrets" not in str(r["inputs"].get("chart")):
            continue
        annotations = (((r["inputs"].get("values") or {}).get("serviceAccount") or {}).get("annotations")) or {}
        role_arn = annotations.get("eks.amazonaws.com/role-arn")
        return next((x for x in stack.of_type("aws:iam/role:Role") if stack.arn(x) == role_arn), None)
    return None


def _cluster_store_open(stack: Stack, spec: dict[str, Any], namespaces: set[str]) -> bool:
    conditions = spec.get("conditions")
    if not conditions:
        return True
    for c in conditions:
        names = c.get("namespaces") or []
        if any(n in namespaces for n in names):
            return True
        if "namespaceSelector" in c and any(
            selects(c["namespaceSelector"], stack.namespace_labels(n)) for n in namespaces
        ):
            return True
        if any(re.fullmatch(p, n) for p in c.get("namespaceRegexes") or [] for n in namespaces):
            return True
    return False


def _store_principal(
    stack: Stack, iam: Iam, controller: Resource | None, aws: dict[str, Any], namespace: str | None
) -> tuple[Resource, list[str]] | None:
    """The role a store acts as: the controller's, or with `auth.jwt` the role annotated on the
    named service account (assumed with that account's token); then `role`, assumed from it."""
    acting, how = controller, [f"controller role {label(controller)}"] if controller else []
    account = (((aws.get("auth") or {}).get("jwt") or {}).get("serviceAccountRef")) or None
    if account is not None:
        acting, how = _service_account_role(stack, iam, account.get("namespace") or namespace, account.get("name"))
    named = next((x for x in iam.roles if stack.arn(x) == aws.get("role")), None)
    if acting is None or named is None:
        return (acting, how) if acting is not None and not aws.get("role") else None
    evidence = iam.can(acting, "sts:AssumeRole", stack.arn(named), iam.trust(named), required=True)
    return (named, [*how, *evidence]) if evidence else None


def _service_account_role(
    stack: Stack, iam: Iam, namespace: str | None, name: Any
) -> tuple[Resource | None, list[str]]:
    """The IRSA role of a service account, when its token satisfies the role's trust."""
    for sa in stack.of_type("kubernetes:core/v1:ServiceAccount"):
        meta = sa["inputs"].get("metadata") or {}
        if meta.get("namespace") != namespace or meta.get("name") != name:
            continue
        arn = (meta.get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        role = next((x for x in iam.roles if stack.arn(x) == arn), None)
        if role is None:
            return None, []
        sub = f"system:serviceaccount:{namespace}:{name}"
        for s in iam.trust(role):
            keys = [k for op in (s.doc.get("Condition") or {}).values() for k in (op or {})]
            ctx = {
                k: [sub] if k.endswith(":sub") else ["sts.amazonaws.com"] for k in keys if k.endswith((":sub", ":aud"))
            }
            if (
                s.effect == "Allow"
                and any(k == "Federated" for k, _ in s.principals())
                and s.condition(ctx) is not False
            ):
                return role, [f"{label(sa)} -> {label(role)}"]
    return None, []


def _reads_secrets(iam: Iam, role: Resource) -> bool:
    """The role reads some secret (perhaps one made outside the program, under B's path)."""
    return any(
        s.effect == "Allow" and s.covers("secretsmanager:GetSecretValue", s_arn)
        for s in iam.identity(role)
        for s_arn in _resources_of(s)
    )


def _resources_of(s: Statement) -> list[str]:
    return [str(x) for x in as_list(s.doc.get("Resource"))] or ["*"]


def _secret_reader(stack: Stack, iam: Iam, role: Resource, targets: list[Target]) -> bool:
    return any(iam.can(role, "secretsmanager:GetSecretValue", t.arn, list(t.policy)) for t in targets)


# ---------------------------------------------------------------- cache

READ_WRITE = ("+@all", "+@read", "+@write", "+@string", "+@hash", "+get", "+set", "+@keyspace")


def _patterns(access: str) -> tuple[bool, list[str], bool]:
    """(on, key patterns, may read or write) of an ElastiCache/Redis ACL access string."""
    tokens = access.split()
    on = "on" in tokens and tokens.index("on") > max((i for i, t in enumerate(tokens) if t == "off"), default=-1)
    keys = [t[1:] for t in tokens if t.startswith("~")] + (["*"] if "allkeys" in tokens else [])
    commands = any(t.lower() in READ_WRITE or t == "allcommands" for t in tokens)
    return on, keys, commands


def key_overlaps(pattern: str, prefix: str) -> bool:
    """Can a key under `prefix` match the glob `pattern` (conservative: compare literal heads)?"""
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return head.startswith(prefix) or prefix.startswith(head)


def cache_channels(stack: Stack) -> Iterator[Channel]:
    """A's pods reach a cache (NetworkPolicy ∧ security groups) and A can connect as a user whose
    ACL is on, may read/write, and has key patterns overlapping B's prefix (`<B>:`): a user
    without a password, or an IAM user A's role may elasticache:Connect as."""
    iam = Iam(stack)
    users = {u["inputs"].get("userId"): u for u in stack.of_type("aws:elasticache/user:User")}
    groups = {g["inputs"].get("userGroupId"): g for g in stack.of_type("aws:elasticache/userGroup:UserGroup")}
    for e in data_endpoints(stack):
        if e.resource["type"] != "aws:elasticache/replicationGroup:ReplicationGroup":
            continue
        owner = stack.tenant_of(e.resource)
        # Members: the group's own list, and every user a UserGroupAssociation adds (tenant stacks).
        joined = stack.of_type("aws:elasticache/userGroupAssociation:UserGroupAssociation")
        members = [
            users[u]
            for g in as_list(e.resource["inputs"].get("userGroupIds"))
            for u in [
                *as_list((groups.get(g) or {"inputs": {}})["inputs"].get("userIds")),
                *(j["inputs"].get("userId") for j in joined if j["inputs"].get("userGroupId") == g),
            ]
            if u in users
        ]
        for a in stack.tenants:
            pod = next((p for ns in stack.tenant_namespaces(a) for p in stack.pods(ns) if reach(stack, p, e)), None)
            if pod is None:
                continue
            path = reach(stack, pod, e) or []
            roles = tenant_roles(stack, iam, a)
            for user in members:
                on, keys, commands = _patterns(str(user["inputs"].get("accessString", "")))
                if not (on and commands):
                    continue
                mode = ((user["inputs"].get("authenticationMode") or {}).get("type") or "").lower()
                how: list[str] | None = None
                if mode == "no-password-required" or user["inputs"].get("noPasswordRequired"):
                    how = [f"{label(user)} needs no password"]
                elif mode == "iam":
                    user_arn = (
                        f"arn:aws:elasticache:{stack.region}:{OFFLINE_ACCOUNT_ID}:user:{user['inputs'].get('userId')}"
                    )
                    how = next(
                        (
                            ev
                            for role, _ in roles.values()
                            if (ev := iam.can(role, "elasticache:Connect", user_arn, []))
                        ),
                        None,
                    )
                if how is None:
                    continue
                for b in stack.tenants:
                    if b != a and (owner in (None, b)) and any(key_overlaps(k, f"{b}:") for k in keys):
                        yield Channel(
                            "cache",
                            a,
                            b,
                            f"{label(user)} ({user['inputs'].get('accessString')}) covers {b}: keys",
                            (*path, *how),
                        )


# ---------------------------------------------------------------- observability

# Pod ports of multi-tenant stores that trust the X-Scope-OrgID header sent by their client
# (grafana/helm-charts: tempo-distributed distributor 3100/9095/4317/4318, jaeger, zipkin;
# loki and mimir gateways 8080, distributors 3100/8080/9095).
STORE_CHARTS = {
    "tempo-distributed": ("tempo", (3100, 3200, 4317, 4318, 9095, 9411, 14250, 14268)),
    "tempo": ("tempo", (3100, 3200, 4317, 4318, 9095, 9411, 14250, 14268)),
    "loki": ("loki", (80, 3100, 8080, 9095)),
    "mimir-distributed": ("mimir", (80, 8080, 9095)),
}


def _grafana_tenant(stack: Stack, release: Resource) -> str | None:
    values = release["inputs"].get("values") or {}
    oauth = (values.get("grafana.ini") or {}).get("auth.generic_oauth") or {}
    groups = str(oauth.get("allowed_groups", ""))
    for t in stack.tenants:
        if f"{t}-operators" in groups.split(",") or f"{t}-operators" in groups.split():
            return t
    return stack.tenant_of(release)


def _store_of(stack: Stack, url: str) -> Resource | None:
    """The store release a data source URL points at (`http://<release>-<component>.<namespace>.svc...`)."""
    host = re.sub(r"^[a-z]+://", "", url).split("/", 1)[0].split(":", 1)[0]
    service, _, rest = host.partition(".")
    for r in stack.of_type("kubernetes:helm.sh/v3:Release"):
        chart = str(r["inputs"].get("chart", "")).rsplit("/", 1)[-1]
        name, namespace = str(r["inputs"].get("name", "")), str(r["inputs"].get("namespace", ""))
        if chart in STORE_CHARTS and service.startswith(name) and rest.split(".", 1)[0] == namespace:
            return r
    return None


def _multitenant(release: Resource) -> bool:
    """Whether the store keeps tenants apart by X-Scope-OrgID (chart defaults: Tempo off, Loki and
    Mimir on)."""
    values = release["inputs"].get("values") or {}
    chart = str(release["inputs"].get("chart", "")).rsplit("/", 1)[-1]
    if chart.startswith("tempo"):
        return bool(values.get("multitenancyEnabled", False))
    if chart == "loki":
        return bool((values.get("loki") or {}).get("auth_enabled", True))
    config = ((values.get("mimir") or {}).get("structuredConfig")) or {}
    return bool(config.get("multitenancy_enabled", True))


def observability_channels(stack: Stack) -> Iterator[Channel]:
    """A tenant Grafana of A whose data source sends another tenant's X-Scope-OrgID, or whose
    users may edit data sources (Editor/Admin, editable), or whose data source reads a store with
    multi-tenancy off; and A's pods reaching a store directly, where the client chooses the
    tenant header."""
    for release in stack.of_type("kubernetes:helm.sh/v3:Release"):
        values = release["inputs"].get("values") or {}
        chart = str(release["inputs"].get("chart", "")).rsplit("/", 1)[-1]
        if chart == "grafana":
            a = _grafana_tenant(stack, release)
            if a is None:
                continue
            for ds in ((values.get("datasources") or {}).get("datasources.yaml") or {}).get("datasources") or []:
                store = _store_of(stack, str(ds.get("url", "")))
                if store is not None and not _multitenant(store):
                    why = f"data source {ds.get('name')} reads {label(store)}, whose multi-tenancy is off"
                    yield from (
                        Channel("observability", a, b, why, (label(release), label(store)))
                        for b in stack.tenants
                        if b != a
                    )
            ini = values.get("grafana.ini") or {}
            role = str((ini.get("auth.generic_oauth") or {}).get("role_attribute_path", "'Viewer'"))
            auto = str((ini.get("users") or {}).get("auto_assign_org_role", "Viewer"))
            sources = ((values.get("datasources") or {}).get("datasources.yaml") or {}).get("datasources") or []
            for ds in sources:
                org = str((ds.get("secureJsonData") or {}).get("httpHeaderValue1", ""))
                header = str((ds.get("jsonData") or {}).get("httpHeaderName1", ""))
                for b in stack.tenants:
                    if b != a and header.lower() == "x-scope-orgid" and b in re.split(r"[|,]", org):
                        yield Channel(
                            "observability",
                            a,
                            b,
                            f"data source {ds.get('name')} of {a}'s Grafana sends X-Scope-OrgID {org}",
                            (label(release),),
                        )
            writable = [
                why
                for why, bad in (
                    (f"role_attribute_path {role}", any(x in role for x in ("Admin", "Editor"))),
                    (f"auto_assign_org_role {auto}", auto in ("Admin", "Editor")),
                    ("editable data sources", any(ds.get("editable") for ds in sources)),
                )
                if bad
            ]
            if writable:
                for b in stack.tenants:
                    if b != a:
                        yield Channel(
                            "observability",
                            a,
                            b,
                            f"{a}'s Grafana users may change the tenant header ({', '.join(writable)})",
                            (label(release),),
                        )
        elif chart in STORE_CHARTS:
            name, ports = STORE_CHARTS[chart]
            store = Pod(str(release["inputs"].get("namespace")), (("app.kubernetes.io/name", name),), "store")
            for a in stack.tenants:
                hit = next(
                    (
                        (p, port, path)
                        for ns in stack.tenant_namespaces(a)
                        for p in stack.pods(ns)
                        for port in ports
                        if (path := stack.netpol.path(p, Destination(port, pod=store)))
                    ),
                    None,
                )
                if hit is None:
                    continue
                pod, port, path = hit
                for b in stack.tenants:
                    if b != a:
                        yield Channel(
                            "observability",
                            a,
                            b,
                            f"pods of {pod.namespace} reach {chart} in {store.namespace} on {port} and choose the X-Scope-OrgID",
                            (*path, label(release)),
                        )


# ---------------------------------------------------------------- DNS and host names


def host_claims(stack: Stack) -> dict[str, list[tuple[str, Resource]]]:
    """Per tenant, the host names its resources answer for or prove control of."""
    claims: dict[str, list[tuple[str, Resource]]] = defaultdict(list)
    for r in stack.resources:
        inputs, hosts = r["inputs"], []
        if r["type"] == "aws:route53/record:Record":
            name = str(inputs.get("name", "")).rstrip(".").lower()
            hosts.append(re.sub(r"^_[0-9a-f]+\.", "", name))  # an ACM validation record proves control of the host
        elif r["type"] == "aws:cloudfront/distribution:Distribution":
            hosts += as_list(inputs.get("aliases"))
        elif r["type"] == "aws:acm/certificate:Certificate":
            hosts += [inputs.get("domainName"), *as_list(inputs.get("subjectAlternativeNames"))]
        elif inputs.get("kind") == "Ingress":
            spec = inputs.get("spec") or {}
            hosts += [h for x in spec.get("rules") or [] for h in _ingress_claims(inputs, x)] + [
                h for t in spec.get("tls") or [] for h in t.get("hosts") or []
            ]
        elif r["type"] == "kubernetes:helm.sh/v3:Release":
            hosts += as_list(((inputs.get("values") or {}).get("ingress") or {}).get("hosts"))
        tenant = _grafana_tenant(stack, r) if r["type"] == "kubernetes:helm.sh/v3:Release" else stack.tenant_of(r)
        if tenant:
            claims[tenant] += [(str(h).lower().rstrip("."), r) for h in hosts if h and isinstance(h, str)]
    return claims


def _ingress_claims(inputs: dict[str, Any], rule: dict[str, Any]) -> list[str]:
    """What one Ingress rule claims: its whole host, except a mergeable minion (F5 NGINX Ingress
    Controller), which adds only its paths to its host's master: `host/path` per path."""
    host = rule.get("host")
    if not isinstance(host, str):
        return []
    annotations = (inputs.get("metadata") or {}).get("annotations") or {}
    if annotations.get("nginx.org/mergeable-ingress-type") != "minion":
        return [host]
    paths = [p.get("path") or "/" for p in (rule.get("http") or {}).get("paths") or []]
    return [f"{host}{p if str(p).startswith('/') else '/' + str(p)}" for p in paths] or [host]


def _split_claim(claim: str) -> tuple[str, str]:
    host, slash, path = claim.partition("/")
    return host, f"/{path}" if slash else "/"


def covers(claim: str, host: str) -> bool:
    """`claim` equals `host`, sits under it, or is a wildcard that matches it; where either is a
    path claim (`host/path`, a minion's), the paths must also overlap (one a prefix of the other),
    and a name under a host whose owner claims only a path there is not that owner's."""
    claim_host, claim_path = _split_claim(claim)
    owned_host, owned_path = _split_claim(host)
    if not (claim_path.startswith(owned_path) or owned_path.startswith(claim_path)):
        return False
    if claim_host == owned_host:
        return True
    if claim_host.startswith("*.") and owned_host.endswith(claim_host[1:]):
        return True
    return owned_path == "/" and claim_host.endswith(f".{owned_host}")


def dns_channels(stack: Stack) -> Iterator[Channel]:
    """A resource of A claims a host name B's resources answer for (same name, a name under it,
    or a wildcard over it): A can receive B's users' traffic or obtain a certificate for it."""
    claims = host_claims(stack)
    for a in stack.tenants:
        for b in stack.tenants:
            if a == b:
                continue
            for claim, r in claims.get(a, []):
                owned = next(((h, o) for h, o in claims.get(b, []) if covers(claim, h)), None)
                if owned is not None:
                    yield Channel(
                        "dns",
                        a,
                        b,
                        f"{label(r)} claims {claim}, a name of {b} ({owned[0]})",
                        (label(r), label(owned[1])),
                    )
                    break


# ---------------------------------------------------------------- the analyzer

ANALYSES = {
    "network": network_channels,
    "mesh": mesh_channels,
    "rbac": rbac_channels,
    "iam": iam_channels,
    "secrets": secrets_channels,
    "cache": cache_channels,
    "observability": observability_channels,
    "dns": dns_channels,
}


def analyze(plan: dict[str, Any]) -> list[Channel]:
    """Every channel between two different tenants of the plan, deduplicated."""
    stack = Stack(plan)
    found: list[Channel] = []
    for analysis in ANALYSES.values():
        found += [c for c in analysis(stack) if c.source != c.target]
    return sorted(set(found), key=lambda c: (c.source, c.target, c.kind, c.rule))


def counts(channels: list[Channel]) -> Counter[str]:
    return Counter(c.kind for c in channels)


def matrix(plan: dict[str, Any], channels: list[Channel]) -> str:
    tenants = sorted({r["tenant"] for r in plan["resources"] if r.get("tenant")})
    cells = Counter((c.source, c.target) for c in channels)
    width = max([len(t) for t in tenants] + [6])
    head = " " * width + " " + " ".join(f"{i:>4}" for i in range(1, len(tenants) + 1))
    lines = [head]
    for i, a in enumerate(tenants, 1):
        row = " ".join(f"{'-' if a == b else cells[(a, b)]:>4}" for b in tenants)
        lines.append(f"{a:<{width}} {row}   ({i})")
    return "\n".join(lines)


def report(plan: dict[str, Any], channels: list[Channel]) -> str:
    by_kind = counts(channels)
    lines = [
        f"Isolation of {plan.get('stack')}: {len(channels)} channel(s) between tenants"
        + (f" ({', '.join(f'{k} {by_kind[k]}' for k in KINDS if by_kind[k])})" if channels else ""),
        "rows: tenant A whose principals act; columns: tenant B reached (numbered as the rows)",
        matrix(plan, channels),
    ]
    lines += [f"  {c.line()}" for c in channels]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planner.isolation", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("plans", nargs="*", type=Path, help="plan.json files (default: build/*/plan.json)")
    parser.add_argument("--advisory", action="store_true", help="report channels without failing")
    args = parser.parse_args(argv)
    paths = args.plans or sorted((ROOT / "build").glob("*/plan.json"))
    if not paths:
        print("no plans: run `make plan` or `make plans` first", file=sys.stderr)
        return 2
    total = 0
    for path in paths:
        plan = json.loads(path.read_text())
        channels = analyze(plan)
        total += len(channels)
        print(report(plan, channels))
    if total and not args.advisory:
        print(f"Verdict: {total} channel(s) between tenants; zero is mandatory")
        return 1
    print(f"Verdict: {total} channel(s) between tenants" + (" (advisory)" if total else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
