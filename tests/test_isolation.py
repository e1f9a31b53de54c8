"""Isolation proven on the plans: for every ordered pair of tenants (A, B) in a stack, nothing of
A admits B — network policies, mesh authorization, role bindings, IAM and key policies, queue,
topic and bucket policies, security groups and workload-role trust."""

import itertools
import json
import re
from typing import Any

import pytest

from planner.mocks import _hex
from tests.conftest import STACKS, resources_of


def mentions(text: str, tenant: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(tenant)}(?![a-z0-9])", text) is not None


def tenants_of(plan: dict[str, Any]) -> list[str]:
    """Tenants served by the stack (those with a namespace; DR-only copies have none)."""
    return sorted(r["tenant"] for r in resources_of(plan, "kubernetes:core/v1:Namespace") if r["tenant"])


def owned(plan: dict[str, Any], tenant: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, type_) if r["tenant"] == tenant]


def statements(document: str) -> list[dict[str, Any]]:
    parsed = json.loads(document)
    found = parsed["Statement"]
    return found if isinstance(found, list) else [found]


def principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    return [values] if isinstance(values, str) else list(values)


def pairs(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return list(itertools.permutations(tenants_of(plan), 2))


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_has_tenant_pairs_to_check(plans: dict[str, Any], stack: str) -> None:
    served = len(tenants_of(plans[stack]))
    assert served >= 1 and len(pairs(plans[stack])) == served * (served - 1)


@pytest.mark.parametrize("stack", STACKS)
def test_network_policies_of_one_tenant_never_admit_another(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for a, b in pairs(plan):
        for np in owned(plan, a, "kubernetes:networking.k8s.io/v1:NetworkPolicy"):
            assert np["inputs"]["metadata"]["namespace"] == a
            spec = np["inputs"]["spec"]
            peers = [p for rule in spec.get("ingress", []) for p in rule.get("from", [])]
            peers += [p for rule in spec.get("egress", []) for p in rule.get("to", [])]
            for peer in peers:
                selector = peer.get("namespaceSelector")
                if selector is not None:
                    assert selector.get("matchLabels"), f"{np['urn']} selects every namespace"
                    assert not mentions(json.dumps(selector), b), f"{np['urn']} admits {b}"


@pytest.mark.parametrize("stack", STACKS)
def test_mesh_admits_only_the_router_and_the_tenant_itself(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for a, b in pairs(plan):
        for ap in owned(plan, a, "kubernetes:security.istio.io/v1:AuthorizationPolicy"):
            for rule in ap["inputs"]["spec"]["rules"]:
                for source in (f["source"] for f in rule["from"]):
                    assert set(source.get("namespaces", [a])) == {a}
                    # the router, or the tenant's own aggregator (held to forwarding the caller's token)
                    own = ("cluster.local/ns/nginx-ingress/", f"cluster.local/ns/{a}/sa/aggregator")
                    assert all(p.startswith(own) for p in source.get("principals", []))
                    assert not mentions(json.dumps(source), b)
        (peer_auth,) = owned(plan, a, "kubernetes:security.istio.io/v1:PeerAuthentication")
        assert peer_auth["inputs"]["spec"]["mtls"]["mode"] == "STRICT"


@pytest.mark.parametrize("stack", STACKS)
def test_role_bindings_name_only_the_tenants_own_operators(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for a, b in pairs(plan):
        for binding in owned(plan, a, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"):
            assert binding["inputs"]["roleRef"]["kind"] == "Role"
            for subject in binding["inputs"]["subjects"]:
                assert subject["name"] == f"tenant:{a}:operators" and not mentions(subject["name"], b)
    for cluster_binding in resources_of(plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"):
        assert not cluster_binding["tenant"]


ENI_WRITES = {
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}
UNSCOPED_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    *ENI_WRITES,
}


@pytest.mark.parametrize("stack", STACKS)
def test_iam_policies_of_one_tenant_name_only_its_own_resources(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for a, b in pairs(plan):
        policies = owned(plan, a, "aws:iam/rolePolicy:RolePolicy")
        kinds = {p["name"].removeprefix(f"tenant-{a}-") for p in policies}
        # carrier, policy, aggregator, secret reader (+ with its database: migrations,
        # master-secret reader; + document replication; + in its home region, the Firehose role of
        # its event stream)
        assert {"permissions-carrier", "permissions-policy", "permissions-aggregator", "permissions-secrets"} <= kinds
        assert kinds <= {
            "permissions-carrier",
            "permissions-policy",
            "permissions-aggregator",
            "permissions-secrets",
            "db-users-migrations",
            "db-users-master-secret",
            "backup-replication",
            "stream-delivery",
            "processors-carrier-role",
            "processors-policy-role",
            "wh-load",  # its warehouse COPY role: its own landing prefix and key (test_warehouse)
        }, kinds
        own_databases = {r["urn"] for r in owned(plan, a, "aws:rds/instance:Instance")}
        own_keys = {r["urn"] for r in owned(plan, a, "aws:kms/key:Key")}
        for policy in policies:
            # The database user and the RDS-managed secret carry RDS ids, not the tenant's name:
            # they may appear only where the policy is built from the tenant's own database.
            from_own_database = bool(own_databases & set(policy["options"]["dependsOn"]))
            from_own_key = bool(own_keys & set(policy["options"]["dependsOn"]))
            for st in statements(policy["inputs"]["policy"]):
                resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                if resources == ["*"] and set(as_list(st["Action"])) <= UNSCOPED_ACTIONS:
                    # Actions AWS offers on `*` only (X-Ray, a Lambda function's VPC network
                    # interfaces); the interface writes are held to the region's VPC by condition.
                    assert "Condition" in st or not set(as_list(st["Action"])) & ENI_WRITES, policy["urn"]
                    continue
                assert "*" not in resources, f"{policy['urn']} uses * for {st['Action']}"
                for arn in resources:
                    rds_generated = arn.startswith("arn:aws:rds-db:") or ":secret:rds!" in arn
                    key_id = ":key/" in arn  # KMS key ids are random; only the tenant's own key may appear
                    # The shared cache, only to connect as the tenant's own cache user (test_cache_isolation).
                    shared_cache = ":replicationgroup:" in arn and st["Action"] == ["elasticache:Connect"]
                    shared_cache = shared_cache and any(":user:" in x and mentions(x, a) for x in resources)
                    assert (
                        mentions(arn, a)
                        or (rds_generated and from_own_database)
                        or (key_id and from_own_key)
                        or shared_cache
                    ), f"{policy['urn']}: {arn}"
                    assert not mentions(arn, b), f"{policy['urn']} reaches {b}: {arn}"


@pytest.mark.parametrize("stack", STACKS)
def test_workload_roles_trust_only_their_own_namespace(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for a, b in pairs(plan):
        for role in owned(plan, a, "aws:iam/role:Role"):
            trust = json.dumps(statements(role["inputs"]["assumeRolePolicy"]))
            assert not mentions(trust, b), f"{role['urn']} trusts {b}"
            if "AssumeRoleWithWebIdentity" in trust:
                # Its own namespace, or its own account in the platform namespace that creates its
                # database users (the only reader of its master credential).
                assert (
                    f"system:serviceaccount:{a}:" in trust
                    or f"system:serviceaccount:database-users:{a}-db-users" in trust
                )


PLATFORM_BACKUP_ROLES = ("-backup", "-velero", "-velero-replication")  # AWS Backup's and Velero's roles


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stack", STACKS)
def test_key_policies_name_only_admins_and_the_tenants_roles(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    admins = {
        arn
        for r in resources_of(plan, "eks:index:Cluster")
        for entry in r["inputs"]["accessEntries"].values()
        for arn in [entry["principalArn"]]
    } | {plan["outputs"]["deployerRoleArn"]}  # the deploy role administers keys (KMS lockout check)
    backup_roles = {f"arn:aws:iam::123456789012:role/ip-{plan['stack'].split('-')[0]}-{plan['region']}-backup"}
    for a, b in pairs(plan):
        own_roles = {
            f"arn:aws:iam::123456789012:role/{r['inputs']['name']}"
            for r in owned(plan, a, "aws:iam/role:Role")
            if r["inputs"].get("name")
        }
        keys = owned(plan, a, "aws:kms/key:Key")
        assert len(keys) >= 2  # data + PII (+ DR copies held for the peer region)
        for key in keys:
            for st in statements(key["inputs"]["policy"]):
                if st["Effect"] == "Deny":
                    continue  # guard rails over every principal (tests/test_keys_residency.py)
                for principal in principals(st):
                    if principal.endswith(":root"):
                        # Only as a carrier for a condition naming the tenant's own replication role,
                        # its event-delivery role (Firehose), its job processors' roles (Lambda), or
                        # the platform's backup roles (AWS Backup, Velero), which serve every tenant.
                        named = [
                            arn
                            for block in st["Condition"].values()
                            for arn in as_list(block.get("aws:PrincipalArn", []))
                        ]
                        assert named, f"{key['urn']} delegates to the account"
                        for arn in named:
                            assert arn.endswith(
                                (
                                    f"-{a}-replication",
                                    f"-{a}-events-delivery",
                                    f"-{a}-carrier-fn",
                                    f"-{a}-policy-fn",
                                    f"-{a}-wh-load",  # its warehouse COPY role, decrypting its landing objects
                                    *PLATFORM_BACKUP_ROLES,
                                )
                            ), arn
                            assert not mentions(arn, b)
                        continue
                    assert principal in admins | own_roles | backup_roles, f"{key['urn']} names {principal}"
                    assert not mentions(principal, b)


@pytest.mark.parametrize("stack", STACKS)
def test_queue_topic_and_bucket_policies_admit_only_the_tenants_roles(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    kinds = ("aws:sqs/queuePolicy:QueuePolicy", "aws:sns/topicPolicy:TopicPolicy", "aws:s3/bucketPolicy:BucketPolicy")
    for a, b in pairs(plan):
        own_roles = {
            f"arn:aws:iam::123456789012:role/{r['inputs']['name']}"
            for r in owned(plan, a, "aws:iam/role:Role")
            if r["inputs"].get("name")
        }
        for policy in (p for kind in kinds for p in owned(plan, a, kind)):
            for st in statements(policy["inputs"]["policy"]):
                assert not mentions(json.dumps(st), b), f"{policy['urn']} mentions {b}"
                if st["Effect"] == "Allow":
                    assert set(principals(st)) <= own_roles, f"{policy['urn']} admits {principals(st)}"
                else:
                    assert principals(st) == ["*"]  # deny everyone else


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_security_groups_admit_only_the_tenants_own_groups(plans: dict[str, Any], stack: str) -> None:
    """Every security group of tenant A admits by group only, and only groups of A: no CIDR, no
    cluster group (every platform pod and node), no other tenant's (the pair-by-pair network path
    analysis is tests/test_network_isolation.py)."""
    plan = plans[stack]
    tenant_groups = {r["urn"]: r for r in resources_of(plan, "aws:ec2/securityGroup:SecurityGroup") if r["tenant"]}
    ids = {f"sg-{_hex(r['name'])}": r["tenant"] for r in tenant_groups.values()}  # the mock engine's ids
    for a, _ in pairs(plan):
        for sg in owned(plan, a, "aws:ec2/securityGroup:SecurityGroup"):
            for rule in sg["inputs"]["ingress"]:
                assert not rule.get("cidrBlocks") and not rule.get("ipv6CidrBlocks")
                assert rule.get("self") or rule["securityGroups"], f"{sg['urn']}: a rule without source"
                for source in rule.get("securityGroups") or []:
                    assert ids.get(source) == a, f"{sg['urn']} admits {source}, not a group of {a}"
            # No tenant's security group is a dependency (source) of another tenant's.
            others = {urn for urn, other in tenant_groups.items() if other["tenant"] != a}
            assert not (set(sg["options"]["dependsOn"]) & others)


@pytest.mark.parametrize("stack", STACKS)
def test_no_tenant_resource_depends_on_another_tenants(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenant_of = {r["urn"]: r["tenant"] for r in plan["resources"]}
    for r in plan["resources"]:
        if r["tenant"]:
            for dep in r["options"]["dependsOn"]:
                assert tenant_of.get(dep) in (None, r["tenant"]), f"{r['urn']} depends on {dep}"
