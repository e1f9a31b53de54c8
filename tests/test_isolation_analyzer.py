"""The isolation analyzer (planner/isolation.py) finds each kind of channel between two tenants.

Each case opens one channel in a deep copy of a real plan by a small mutation an engineer could
plausibly make, and the analyzer must report new channels of exactly that kind, for that pair.
Synthetic minimal plans check the layered evaluation (NetworkPolicy ∧ security groups ∧ pod
security groups) from a fully closed start, and the matchers on their own."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from planner import isolation
from planner.isolation import Caller, Channel, analyze
from planner.mocks import PlanMocks
from tests.conftest import one

STACK = "prod-us-east-1"
ACCOUNT = "123456789012"
Plan = dict[str, Any]


@pytest.fixture(scope="module")
def base(plans: dict[str, Plan]) -> tuple[Plan, set[Channel]]:
    return plans[STACK], set(analyze(plans[STACK]))


def mock_id(plan: Plan, type_: str, name: str, inputs: dict[str, Any]) -> str:
    """The id the mock engine gives a resource (what other resources reference it by)."""
    if type_.startswith("eks:"):
        return name  # the cluster component's id is not referenced by other resources
    rid, _ = PlanMocks(plan["region"]).new_resource(
        pulumi.runtime.MockResourceArgs(type_, name, inputs, None, None, True)
    )
    return str(rid)


def add(plan: Plan, type_: str, name: str, inputs: dict[str, Any], tenant: str | None = None) -> str:
    """Register a resource in the plan copy as the program would; returns its mock id."""
    urn = f"urn:pulumi:{plan['stack']}::insurance-platform::{type_}::{name}"
    plan["resources"].append(
        {"urn": urn, "type": type_, "name": name, "custom": True, "parent": None, "provider": None, "tenant": tenant,
         "inputs": inputs, "options": {}}
    )  # fmt: skip
    return mock_id(plan, type_, name, inputs)


def k8s(kind: str, api: str, name: str, namespace: str | None, **body: Any) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **body}


def opened(base: tuple[Plan, set[Channel]], mutate: Callable[[Plan], None]) -> set[Channel]:
    plan, before = base
    changed = copy.deepcopy(plan)
    mutate(changed)
    after = set(analyze(changed))
    assert before <= after, f"the mutation closed channels: {sorted(c.line() for c in before - after)}"
    return after - before


def assert_opens(new: set[Channel], kind: str, a: str, b: str) -> None:
    assert new, "the analyzer saw no new channel"
    assert {c.kind for c in new} == {kind}, sorted(c.line() for c in new)
    assert (a, b) in {(c.source, c.target) for c in new}, sorted(c.line() for c in new)


def policy(r: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    return json.loads(r["inputs"][key])


# ---------------------------------------------------------------- network


def test_network_a_new_replica_admitting_the_vpc_is_reachable_from_other_tenants(base: Any) -> None:
    """A reporting replica of harbor-mutual behind a group that admits the VPC CIDR."""

    def mutate(plan: Plan) -> None:
        vpc = one(plan, "aws:ec2/vpc:Vpc", "network")["inputs"]["cidrBlock"]
        sg = add(
            plan,
            "aws:ec2/securityGroup:SecurityGroup",
            "tenant-harbor-mutual-db-reporting",
            {
                "description": "reporting replica",
                "ingress": [{"protocol": "tcp", "fromPort": 3306, "toPort": 3306, "cidrBlocks": [vpc]}],
                "egress": [],
            },
            "harbor-mutual",
        )
        primary = one(plan, "aws:rds/instance:Instance", "tenant-harbor-mutual-db")["inputs"]
        add(
            plan,
            "aws:rds/instance:Instance",
            "tenant-harbor-mutual-db-reporting",
            {"identifier": "ip-prod-harbor-mutual-reporting", "replicateSourceDb": primary["identifier"], "port": 3306,
             "dbSubnetGroupName": primary["dbSubnetGroupName"], "vpcSecurityGroupIds": [sg]},
            "harbor-mutual",
        )  # fmt: skip

    new = opened(base, mutate)
    assert_opens(new, "network", "granite-re", "harbor-mutual")
    assert all("tenant-harbor-mutual-db-reporting" in " ".join(c.evidence) for c in new)


# ---------------------------------------------------------------- mesh


def test_mesh_router_rule_without_request_principals_admits_other_tenants_users(base: Any) -> None:
    """granite-re's router rule loses `requestPrincipals` and its router DENY is dropped "to debug"."""

    def mutate(plan: Plan) -> None:
        authz = one(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "tenant-granite-re-ns-authz")
        authz["inputs"]["spec"]["rules"][0]["from"][0]["source"].pop("requestPrincipals")
        deny = one(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "tenant-granite-re-ns-router-jwt")
        plan["resources"].remove(deny)

    assert_opens(opened(base, mutate), "mesh", "harbor-mutual", "granite-re")


def test_mesh_rule_with_not_namespaces_admits_other_tenants_pods(base: Any) -> None:
    """A rule `notNamespaces: [kube-system]` plus an ingress policy opened to the cluster."""

    def mutate(plan: Plan) -> None:
        authz = one(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "tenant-granite-re-ns-authz")
        authz["inputs"]["spec"]["rules"].append({"from": [{"source": {"notNamespaces": ["kube-system"]}}]})
        same = one(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "tenant-granite-re-ns-allow-same-namespace")
        same["inputs"]["spec"]["ingress"] = [{"from": [{"namespaceSelector": {}}]}]  # "let the cluster in"
        for name in ("harbor-mutual", "granite-re"):  # and egress to any pod
            out = one(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", f"tenant-{name}-ns-allow-same-namespace")
            out["inputs"]["spec"]["egress"] = [{"to": [{"namespaceSelector": {}}]}]

    new = opened(base, mutate)
    assert_opens(new, "mesh", "harbor-mutual", "granite-re")


def test_mesh_aggregator_fanning_out_to_another_tenants_apis(base: Any) -> None:
    """ "One aggregator for the shared lookups": harbor-mutual's aggregator may call API pods of any
    namespace, granite-re's APIs admit aggregators from any namespace (network and mesh)."""

    def mutate(plan: Plan) -> None:
        out = one(
            plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "tenant-harbor-mutual-ns-allow-aggregator-egress"
        )
        out["inputs"]["spec"]["egress"][0]["to"][0]["namespaceSelector"] = {
            "matchLabels": {"istio-injection": "enabled"}
        }
        same = one(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "tenant-granite-re-ns-allow-same-namespace")
        aggregators = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "aggregator"}}}
        same["inputs"]["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}, **aggregators})
        authz = one(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "tenant-granite-re-ns-authz")
        authz["inputs"]["spec"]["rules"].append(
            {"from": [{"source": {"principals": ["cluster.local/ns/*/sa/aggregator"]}}]}
        )

    new = opened(base, mutate)
    assert_opens(new, "mesh", "harbor-mutual", "granite-re")
    assert any("allow-aggregator-egress" in " ".join(c.evidence) for c in new), sorted(c.line() for c in new)


# ---------------------------------------------------------------- Kubernetes RBAC


def test_rbac_binding_in_another_namespace_gives_secret_reads(base: Any) -> None:
    """harbor-mutual lets granite-re's operators read its secrets "to debug an integration"."""

    def mutate(plan: Plan) -> None:
        rules = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]
        api = "rbac.authorization.k8s.io/v1"
        add(plan, f"kubernetes:{api}:Role", "harbor-debug", k8s("Role", api, "debug", "harbor-mutual", rules=rules))
        binding = k8s(
            "RoleBinding", api, "debug", "harbor-mutual",
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "debug"},
            subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "tenant:granite-re:operators"}],
        )  # fmt: skip
        add(plan, f"kubernetes:{api}:RoleBinding", "harbor-debug", binding)

    assert_opens(opened(base, mutate), "rbac", "granite-re", "harbor-mutual")


def test_rbac_eks_access_policy_scoped_to_two_namespaces(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        assoc = one(
            plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "tenant-granite-re-identity-operators-view"
        )
        assoc["inputs"]["accessScope"]["namespaces"].append("harbor-mutual")

    assert_opens(opened(base, mutate), "rbac", "granite-re", "harbor-mutual")


# ---------------------------------------------------------------- IAM


def _carrier_policy(plan: Plan, tenant: str) -> dict[str, Any]:
    return one(plan, "aws:iam/rolePolicy:RolePolicy", f"tenant-{tenant}-permissions-carrier")


def test_iam_prefix_wildcard_in_an_identity_policy(base: Any) -> None:
    """`ip-prod-us-east-1-granite-re-data/*` generalised to `ip-prod-us-east-1-*-data/*`."""

    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        own = "arn:aws:s3:::ip-prod-us-east-1-granite-re-data/*"
        r["inputs"]["policy"] = r["inputs"]["policy"].replace(own, "arn:aws:s3:::ip-prod-us-east-1-*-data/*")

    assert_opens(opened(base, mutate), "iam", "granite-re", "harbor-mutual")


def test_iam_explicit_deny_of_a_queue_policy_holds_against_a_wildcard(base: Any) -> None:
    """The same widening on queues: each tenant queue denies every other principal (NobodyElse)."""

    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        r["inputs"]["policy"] = r["inputs"]["policy"].replace(
            "ip-prod-granite-re-carrier-jobs", "ip-prod-*-carrier-jobs"
        )

    assert opened(base, mutate) == set()


def _processor_policy(plan: Plan, tenant: str) -> dict[str, Any]:
    return one(plan, "aws:iam/rolePolicy:RolePolicy", f"tenant-{tenant}-processors-carrier-role")


def _widen_processor_queue(plan: Plan, tenant: str) -> None:
    r = _processor_policy(plan, tenant)
    r["inputs"]["policy"] = r["inputs"]["policy"].replace(f"ip-prod-{tenant}-carrier-jobs", "ip-prod-*-carrier-jobs")


def test_iam_processor_role_widened_to_every_queue_is_held_by_the_queue_deny(base: Any) -> None:
    """A job processor's (Lambda) role policy widened to every tenant's carrier queue: each queue
    denies principals other than its tenant's workloads and its own processor (NobodyElse)."""
    assert opened(base, lambda plan: _widen_processor_queue(plan, "granite-re")) == set()


def test_iam_processor_role_reaching_another_tenants_queue(base: Any) -> None:
    """The same widening, with harbor-mutual's queue exempting every carrier processor from its
    deny (a StringNotLike pattern instead of its own processor's ARN): granite-re's Lambda may
    consume harbor-mutual's jobs."""

    def mutate(plan: Plan) -> None:
        _widen_processor_queue(plan, "granite-re")
        r = one(plan, "aws:sqs/queuePolicy:QueuePolicy", "tenant-harbor-mutual-messaging-carrier-jobs")
        doc = policy(r)
        deny = next(st for st in doc["Statement"] if st["Sid"] == "NobodyElse")
        names = deny["Condition"].pop("StringNotEquals")["aws:PrincipalArn"]
        processors = f"arn:aws:iam::{ACCOUNT}:role/ip-prod-us-east-1-*-carrier-fn"
        deny["Condition"]["StringNotLike"] = {
            "aws:PrincipalArn": [n for n in names if not n.endswith("-fn")] + [processors]
        }
        r["inputs"]["policy"] = json.dumps(doc)

    new = opened(base, mutate)
    assert_opens(new, "iam", "granite-re", "harbor-mutual")
    assert any("processors-carrier-role" in c.line() or "carrier-fn" in c.line() for c in new), sorted(
        c.line() for c in new
    )


def test_iam_wildcard_on_event_streams_reaches_another_tenants_stream(base: Any) -> None:
    """The same widening on event streams: `stream/ip-prod-granite-re-events` generalised to
    `stream/ip-prod-*-events`. A stream has no resource policy to fence it (unlike the queues),
    so the identity policy's grant is the channel."""

    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        assert "stream/ip-prod-granite-re-events" in r["inputs"]["policy"]
        r["inputs"]["policy"] = r["inputs"]["policy"].replace(
            "stream/ip-prod-granite-re-events", "stream/ip-prod-*-events"
        )

    new = opened(base, mutate)
    assert_opens(new, "iam", "granite-re", "harbor-mutual")
    assert all("kinesis:" in c.rule for c in new), sorted(c.line() for c in new)


def test_iam_grant_on_the_api_mapping_prefix_reaches_another_tenants_authorizer_entry(base: Any) -> None:
    """The public API's authorizer entries (`<prefix>/<tenant>`, SSM SecureStrings holding the
    tenant's API key) are tenant-owned targets: a workload grant on the whole prefix reads
    harbor-mutual's key."""

    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        doc = policy(r)
        prefix = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/ip-prod/us-east-1/api-tenants"
        doc["Statement"].append({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"{prefix}/*"})
        r["inputs"]["policy"] = json.dumps(doc)

    new = opened(base, mutate)
    assert_opens(new, "iam", "granite-re", "harbor-mutual")
    assert all("ssm:GetParameter" in c.rule for c in new), sorted(c.line() for c in new)


def test_iam_not_resource_reaches_every_other_bucket(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        doc = policy(r)
        doc["Statement"].append(
            {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::ip-prod-*-audit*"}
        )
        r["inputs"]["policy"] = json.dumps(doc)

    assert_opens(opened(base, mutate), "iam", "granite-re", "harbor-mutual")


def test_iam_bucket_policy_admitting_any_principal_with_a_principal_arn_pattern(base: Any) -> None:
    """harbor-mutual's bucket admits any principal whose ARN is a role `ip-prod-us-east-1-*` (naming
    the account root instead would only delegate to the caller's identity policy: no channel)."""

    def mutate(plan: Plan) -> None:
        r = one(plan, "aws:s3/bucketPolicy:BucketPolicy", "tenant-harbor-mutual-documents")
        doc = policy(r)
        doc["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
             "Resource": "*", "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ip-prod-us-east-1-*"}}}
        )  # fmt: skip
        r["inputs"]["policy"] = json.dumps(doc)

    new = opened(base, mutate)
    assert_opens(new, "iam", "granite-re", "harbor-mutual")
    assert {c.target for c in new} == {"harbor-mutual"}


def test_iam_workload_trust_widened_to_every_namespace(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        r = one(plan, "aws:iam/role:Role", "tenant-harbor-mutual-identity-carrier")
        doc = policy(r, "assumeRolePolicy")
        condition = doc["Statement"][0]["Condition"]
        sub = next(k for k in condition["StringEquals"] if k.endswith(":sub"))
        condition["StringLike"] = {sub: "system:serviceaccount:*:carrier"}
        del condition["StringEquals"][sub]
        r["inputs"]["assumeRolePolicy"] = json.dumps(doc)

    assert_opens(opened(base, mutate), "iam", "granite-re", "harbor-mutual")


def test_iam_key_policy_granting_another_tenants_role(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        r = one(plan, "aws:kms/key:Key", "tenant-harbor-mutual-key")
        doc = policy(r)
        role = f"arn:aws:iam::{ACCOUNT}:role/ip-prod-us-east-1-granite-re-carrier"
        doc["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:Decrypt", "Resource": "*"}
        )
        r["inputs"]["policy"] = json.dumps(doc)

    assert_opens(opened(base, mutate), "iam", "granite-re", "harbor-mutual")


HARBOR_TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ip-prod-harbor-mutual-records"


def test_iam_prefix_wildcard_over_tenant_tables(base: Any) -> None:
    """The table grant `table/ip-prod-granite-re-records` generalised to `table/ip-prod-*-records`."""

    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        r["inputs"]["policy"] = r["inputs"]["policy"].replace(
            "table/ip-prod-granite-re-records", "table/ip-prod-*-records"
        )

    new = opened(base, mutate)
    assert_opens(new, "iam", "granite-re", "harbor-mutual")
    assert any("tenant-harbor-mutual-table" in c.rule for c in new)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("dynamodb:GetItem", HARBOR_TABLE),
        ("dynamodb:Query", f"{HARBOR_TABLE}/index/*"),
        ("dynamodb:GetRecords", f"{HARBOR_TABLE}/stream/*"),
    ],
)
def test_iam_grant_on_another_tenants_table_index_or_stream(base: Any, action: str, resource: str) -> None:
    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        doc = policy(r)
        doc["Statement"].append({"Effect": "Allow", "Action": action, "Resource": resource})
        r["inputs"]["policy"] = json.dumps(doc)

    new = opened(base, mutate)
    assert_opens(new, "iam", "granite-re", "harbor-mutual")
    assert {c.target for c in new} == {"harbor-mutual"}


def test_iam_table_resource_policy_naming_another_tenants_role(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        role = f"arn:aws:iam::{ACCOUNT}:role/ip-prod-us-east-1-granite-re-carrier"
        statement = {"Effect": "Allow", "Principal": {"AWS": role}, "Action": "dynamodb:GetItem", "Resource": "*"}
        doc = {"Version": "2012-10-17", "Statement": [statement]}
        add(
            plan,
            "aws:dynamodb/resourcePolicy:ResourcePolicy",
            "tenant-harbor-mutual-table-policy",
            {"resourceArn": HARBOR_TABLE, "policy": json.dumps(doc)},
            tenant="harbor-mutual",
        )

    assert_opens(opened(base, mutate), "iam", "granite-re", "harbor-mutual")


# ---------------------------------------------------------------- secrets delivery


def test_secrets_cluster_store_without_conditions(base: Any) -> None:
    """A ClusterSecretStore "for convenience" naming granite-re's secret reader role: it acts with
    the controller's identity, which that role no longer trusts (it admits only its namespace's
    store account), so no channel opens. Admission also refuses ExternalSecrets through a
    ClusterSecretStore outside observability (SecretsDelivery)."""

    def mutate(plan: Plan) -> None:
        role = one(plan, "aws:iam/role:Role", "tenant-granite-re-identity-secrets")["inputs"]["name"]
        provider = {
            "aws": {
                "service": "SecretsManager",
                "region": plan["region"],
                "role": f"arn:aws:iam::{ACCOUNT}:role/{role}",
            }
        }
        api = "external-secrets.io/v1"
        add(
            plan,
            f"kubernetes:{api}:ClusterSecretStore",
            "shared-secrets",
            k8s("ClusterSecretStore", api, "shared", None, spec={"provider": provider}),
        )

    assert not opened(base, mutate)


def test_secrets_reader_role_trusting_the_shared_controller_opens_the_store_channel(base: Any) -> None:
    """The fix the issue asks for holds in the plan: granite-re's reader role trusts only a service
    account of its namespace, so no store reaches it. Trusting the shared controller again (as it
    once did) lets a store in another namespace name the role."""
    _, before = base
    assert not [c.line() for c in before if c.kind == "secrets"]

    def mutate(plan: Plan) -> None:
        role = one(plan, "aws:iam/role:Role", "tenant-granite-re-identity-secrets")
        operator = one(plan, "aws:iam/role:Role", "secrets-operator")
        _, state = PlanMocks(plan["region"]).new_resource(
            pulumi.runtime.MockResourceArgs(
                "aws:iam/role:Role", "secrets-operator", operator["inputs"], None, None, True
            )
        )
        controller = state["arn"]
        trust = {"Effect": "Allow", "Principal": {"AWS": controller}, "Action": "sts:AssumeRole"}
        role["inputs"]["assumeRolePolicy"] = json.dumps({"Version": "2012-10-17", "Statement": [trust]})
        provider = {"aws": {"service": "SecretsManager", "region": plan["region"]}}
        provider["aws"]["role"] = f"arn:aws:iam::{ACCOUNT}:role/{role['inputs']['name']}"
        api = "external-secrets.io/v1"
        add(
            plan,
            f"kubernetes:{api}:SecretStore",
            "harbor-borrowed",
            k8s("SecretStore", api, "borrowed", "harbor-mutual", spec={"provider": provider}),
            tenant="harbor-mutual",
        )

    assert_opens(opened(base, mutate), "secrets", "harbor-mutual", "granite-re")


# ---------------------------------------------------------------- cache


def test_cache_default_user_switched_on_with_every_key(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        one(plan, "aws:elasticache/user:User", "cache-default")["inputs"]["accessString"] = "on ~* +@all"

    assert_opens(opened(base, mutate), "cache", "granite-re", "harbor-mutual")


def test_cache_tenant_role_may_connect_as_the_all_keys_user(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        r = _carrier_policy(plan, "granite-re")
        doc = policy(r)
        doc["Statement"].append(
            {
                "Effect": "Allow",
                "Action": "elasticache:Connect",
                "Resource": f"arn:aws:elasticache:{plan['region']}:{ACCOUNT}:user:*",
            }
        )
        r["inputs"]["policy"] = json.dumps(doc)

    assert_opens(opened(base, mutate), "cache", "granite-re", "harbor-mutual")


# ---------------------------------------------------------------- observability


def _grafana(plan: Plan, tenant: str) -> dict[str, Any]:
    return one(plan, "kubernetes:helm.sh/v3:Release", f"observability-grafana-{tenant}")["inputs"]["values"]


def test_observability_data_source_with_another_tenants_org(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        sources = _grafana(plan, "granite-re")["datasources"]["datasources.yaml"]["datasources"]
        sources[0]["secureJsonData"]["httpHeaderValue1"] = "harbor-mutual"

    new = opened(base, mutate)
    assert_opens(new, "observability", "granite-re", "harbor-mutual")
    assert {c.target for c in new} == {"harbor-mutual"}


def test_observability_tenant_grafana_users_become_editors(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        _grafana(plan, "granite-re")["grafana.ini"]["auth.generic_oauth"]["role_attribute_path"] = "'Editor'"

    assert_opens(opened(base, mutate), "observability", "granite-re", "harbor-mutual")


def test_observability_store_with_multitenancy_switched_off(base: Any) -> None:
    """Loki without `auth_enabled`: every tenant's Grafana reads one shared org."""

    def mutate(plan: Plan) -> None:
        one(plan, "kubernetes:helm.sh/v3:Release", "observability-loki")["inputs"]["values"]["loki"]["auth_enabled"] = (
            False
        )

    new = opened(base, mutate)
    assert_opens(new, "observability", "granite-re", "harbor-mutual")
    assert all("Release::observability-loki" in c.evidence for c in new)


# ---------------------------------------------------------------- DNS and host names


def test_dns_tenant_ingress_claims_another_tenants_views_host(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        ingress = one(plan, "kubernetes:networking.k8s.io/v1:Ingress", "tenant-granite-re-services-routes")
        ingress["inputs"]["spec"]["rules"].append({"host": "views-us-east-1-harbor-mutual.insure.example.com"})

    new = opened(base, mutate)
    assert_opens(new, "dns", "granite-re", "harbor-mutual")


def _api_route(plan: Plan, tenant: str) -> dict[str, Any]:
    return one(plan, "kubernetes:networking.k8s.io/v1:Ingress", f"tenant-{tenant}-services-api-route")


def test_dns_api_minions_on_the_shared_api_host_claim_only_their_paths(base: Any) -> None:
    plan, channels = base
    routes = [_api_route(plan, t) for t in ("granite-re", "harbor-mutual")]
    assert {r["inputs"]["spec"]["rules"][0]["host"] for r in routes} == {"api.insure.example.com"}
    assert not [c for c in channels if c.kind == "dns"]
    assert isolation.covers("api.x/tenants/a/", "api.x/tenants/a/sub")
    assert not isolation.covers("api.x/tenants/a/", "api.x/tenants/ab/")
    assert not isolation.covers("b.api.x", "api.x/tenants/b/")  # a name under a host where B owns a path only


def test_dns_api_minion_claims_another_tenants_path(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        _api_route(plan, "granite-re")["inputs"]["spec"]["rules"][0]["http"]["paths"][0]["path"] = (
            "/tenants/harbor-mutual/"
        )

    assert_opens(opened(base, mutate), "dns", "granite-re", "harbor-mutual")


def test_dns_api_minion_claims_every_tenants_prefix(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        _api_route(plan, "granite-re")["inputs"]["spec"]["rules"][0]["http"]["paths"][0]["path"] = "/tenants/"

    assert_opens(opened(base, mutate), "dns", "granite-re", "harbor-mutual")


def test_dns_tenant_claims_the_api_host_as_a_master(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        _api_route(plan, "granite-re")["inputs"]["metadata"]["annotations"]["nginx.org/mergeable-ingress-type"] = (
            "master"
        )

    assert_opens(opened(base, mutate), "dns", "granite-re", "harbor-mutual")


def test_dns_certificate_with_a_wildcard_over_another_tenants_host(base: Any) -> None:
    def mutate(plan: Plan) -> None:
        cert = one(plan, "aws:acm/certificate:Certificate", "global-edge-granite-re-request")
        cert["inputs"]["subjectAlternativeNames"] = ["*.insure.example.com"]

    assert_opens(opened(base, mutate), "dns", "granite-re", "harbor-mutual")


# ---------------------------------------------------------------- every stack


def test_every_stack_is_analyzed_pair_by_pair(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        tenants = {r["tenant"] for r in plan["resources"] if r.get("tenant")}
        for channel in analyze(plan):
            assert channel.kind in isolation.KINDS
            assert channel.source != channel.target and {channel.source, channel.target} <= tenants, (stack, channel)
            assert channel.evidence, channel


# ---------------------------------------------------------------- synthetic plans


def synthetic(*, open_db: bool = False, pod_eni: bool = True, except_db: bool = False) -> Plan:
    """Two tenants, each a namespace with default-deny and egress to the VPC on 3306, its own pod
    security group (SecurityGroupPolicy), and a database admitting only its own group."""
    plan: Plan = {"stack": "synthetic", "region": "us-east-1", "project": "p", "resources": []}
    add(plan, "aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    pods_subnet = add(plan, "aws:ec2/subnet:Subnet", "pods", {"cidrBlock": "10.0.0.0/18"})
    db_subnet = add(plan, "aws:ec2/subnet:Subnet", "db", {"cidrBlock": "10.0.64.0/24"})
    add(plan, "eks:index:Cluster", "cluster", {"name": "c"})
    add(plan, "eks:index:ManagedNodeGroup", "nodes", {"subnetIds": [pods_subnet]})
    env = {"env": {"ENABLE_POD_ENI": "true"}} if pod_eni else {}
    add(plan, "aws:eks/addon:Addon", "vpc-cni", {"addonName": "vpc-cni", "configurationValues": json.dumps(env)})
    add(plan, "aws:rds/subnetGroup:SubnetGroup", "dbs", {"name": "dbs", "subnetIds": [db_subnet]})
    groups = {}
    for t in ("a", "b"):
        groups[t] = add(plan, "aws:ec2/securityGroup:SecurityGroup", f"pods-{t}", {"egress": [{"protocol": "tcp", "fromPort": 3306, "toPort": 3306, "cidrBlocks": ["10.0.0.0/16"]}]}, t)  # fmt: skip
    for t in ("a", "b"):
        net = "networking.k8s.io/v1"
        add(plan, "kubernetes:core/v1:Namespace", f"ns-{t}", k8s("Namespace", "v1", t, None), t)
        add(plan, f"kubernetes:{net}:NetworkPolicy", f"{t}-deny", k8s("NetworkPolicy", net, "deny", t, spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))  # fmt: skip
        block = {"cidr": "10.0.0.0/16", **({"except": ["10.0.64.0/24"]} if except_db else {})}
        egress = [{"to": [{"ipBlock": block}], "ports": [{"port": 3306, "protocol": "TCP"}]}]
        add(plan, f"kubernetes:{net}:NetworkPolicy", f"{t}-db", k8s("NetworkPolicy", net, "db", t, spec={"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}))  # fmt: skip
        sgp = {"podSelector": {}, "securityGroups": {"groupIds": [groups[t]]}}
        add(plan, "kubernetes:vpcresources.k8s.aws/v1beta1:SecurityGroupPolicy", f"{t}-sgp", k8s("SecurityGroupPolicy", "vpcresources.k8s.aws/v1beta1", "pods", t, spec=sgp))  # fmt: skip
        template = {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"serviceAccountName": "api", "containers": [{"name": "api"}]},
        }
        add(plan, "kubernetes:apps/v1:Deployment", f"{t}-api", k8s("Deployment", "apps/v1", "api", t, spec={"template": template}))  # fmt: skip
        admitted = [groups[t], groups["a"]] if open_db and t == "b" else [groups[t]]
        db_sg = add(plan, "aws:ec2/securityGroup:SecurityGroup", f"db-{t}", {"ingress": [{"protocol": "tcp", "fromPort": 3306, "toPort": 3306, "securityGroups": admitted}]}, t)  # fmt: skip
        add(plan, "aws:rds/instance:Instance", f"db-{t}", {"identifier": f"db-{t}", "port": 3306, "dbSubnetGroupName": "dbs", "vpcSecurityGroupIds": [db_sg]}, t)  # fmt: skip
    return plan


def test_synthetic_closed_plan_has_no_channel() -> None:
    assert analyze(synthetic()) == []


def test_synthetic_database_admitting_the_other_tenants_pod_group() -> None:
    found = analyze(synthetic(open_db=True))
    assert [(c.kind, c.source, c.target) for c in found] == [("network", "a", "b")]
    assert any("SecurityGroupPolicy::a-sgp" in e for e in found[0].evidence)


def test_synthetic_network_policy_except_blocks_what_the_security_group_admits() -> None:
    assert analyze(synthetic(open_db=True, except_db=True)) == []


def test_synthetic_security_group_policy_needs_pod_enis() -> None:
    """Without ENABLE_POD_ENI pods carry the node's cluster security group: b's database does not
    admit it, so still closed; admitting the cluster group opens every tenant."""
    assert analyze(synthetic(pod_eni=False)) == []
    plan = synthetic(pod_eni=False)
    cluster_sg = isolation.Stack(plan).cluster_security_group()
    db_b = one(plan, "aws:ec2/securityGroup:SecurityGroup", "db-b")
    db_b["inputs"]["ingress"][0]["securityGroups"].append(cluster_sg)
    assert [(c.kind, c.source, c.target) for c in analyze(plan)] == [("network", "a", "b")]


def test_cli_fails_on_a_channel_unless_advisory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed, leaky = tmp_path / "closed.json", tmp_path / "leaky.json"
    closed.write_text(json.dumps(synthetic()))
    leaky.write_text(json.dumps(synthetic(open_db=True)))
    assert isolation.main([str(closed)]) == 0
    assert isolation.main([str(leaky)]) == 1
    assert isolation.main(["--advisory", str(leaky)]) == 0
    out = capsys.readouterr().out
    assert "[network] a -> b" in out and "zero is mandatory" in out


# ---------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("arn:aws:iam::1:role/tenant-*", "arn:aws:iam::1:role/tenant-b-reader", True),
        ("arn:aws:iam::1:role/tenant-a-*", "arn:aws:iam::1:role/tenant-b-reader", False),
        ("arn:aws:sqs:*:1:ip-prod-?-jobs", "arn:aws:sqs:us-east-1:1:ip-prod-b-jobs", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::BUCKET/key", False),
        ("*", "arn:aws:kms:us-east-1:1:key/x", True),
    ],
)
def test_wildcards_in_resource_names(pattern: str, arn: str, expected: bool) -> None:
    assert isolation.arn_matches(pattern, arn) is expected


def test_statement_action_resource_and_negations() -> None:
    origin = {"type": "t", "name": "n"}
    s = isolation.Statement("Allow", {"NotAction": "iam:*", "NotResource": "arn:aws:s3:::a/*"}, origin)
    assert s.covers("S3:GetObject", "arn:aws:s3:::b/k")
    assert not s.covers("s3:GetObject", "arn:aws:s3:::a/k")
    assert not s.covers("iam:PassRole", "arn:aws:s3:::b/k")


def test_conditions_decided_when_known_and_open_when_not() -> None:
    origin = {"type": "t", "name": "n"}
    s = isolation.Statement(
        "Allow", {"Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1:role/a-*"}}}, origin
    )
    assert s.condition({"aws:PrincipalArn": ["arn:aws:iam::1:role/a-x"]}) is True
    assert s.condition({"aws:PrincipalArn": ["arn:aws:iam::1:role/b-x"]}) is False
    assert s.condition({}) is None
    negated = isolation.Statement("Deny", {"Condition": {"StringNotEquals": {"aws:PrincipalTag/t": "a"}}}, origin)
    assert negated.condition({"aws:PrincipalTag/t": ["b"]}) is True


def test_iam_same_account_evaluation() -> None:
    """Resource policy naming the role suffices; naming the account needs the identity policy
    too when the resource policy is required (KMS, trust); an explicit Deny always wins."""
    plan: Plan = {"stack": "synthetic", "region": "us-east-1", "resources": []}
    role_id = add(plan, "aws:iam/role:Role", "a-role", {"name": "a-role", "assumeRolePolicy": "{}"}, "a")
    identity = {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}
    add(plan, "aws:iam/rolePolicy:RolePolicy", "a-role", {"role": role_id, "policy": json.dumps(identity)}, "a")
    stack = isolation.Stack(plan)
    iam = isolation.Iam(stack)
    role = one(plan, "aws:iam/role:Role", "a-role")
    origin = {"type": "aws:kms/key:Key", "name": "b-key"}
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/b"
    to_account = isolation.Statement(
        "Allow", {"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*"}, origin
    )
    direct = isolation.Statement("Allow", {"Principal": {"AWS": stack.arn(role)}, "Action": "kms:Decrypt"}, origin)
    assert iam.can(role, "kms:Decrypt", arn, [to_account], required=True)
    assert iam.can(role, "kms:Decrypt", arn, [], required=True) is None
    assert iam.can(role, "s3:GetObject", "arn:aws:s3:::b/k", [to_account], required=True) is None
    assert iam.can(role, "kms:Decrypt", arn, [direct], required=True)
    identity["Statement"].append({"Effect": "Deny", "Action": "kms:*", "Resource": "*"})
    one(plan, "aws:iam/rolePolicy:RolePolicy", "a-role")["inputs"]["policy"] = json.dumps(identity)
    assert isolation.Iam(isolation.Stack(plan)).can(role, "kms:Decrypt", arn, [direct], required=True) is None


def test_istio_mtls_only_fields_never_match_plain_text() -> None:
    """istio.io ISTIO-SECURITY-2021-004: `notNamespaces` compares an empty source to the list."""
    source = {"notNamespaces": ["kube-system"]}
    assert isolation._source_matches(source, Caller("cluster.local/ns/a/sa/x", "a", None))
    assert not isolation._source_matches(source, Caller(None, None, None))
    assert isolation._rule_matches({}, Caller(None, None, None))


def test_network_policy_peers() -> None:
    pod = isolation.Pod("a", (("app", "api"),), "api")
    assert isolation.selects({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]}, pod.label_map)
    assert not isolation.selects({"matchLabels": {"app": "worker"}}, pod.label_map)
    nets = (isolation.ipaddress.ip_network("10.0.64.0/24"),)
    assert isolation._ip_block_matches({"cidr": "10.0.0.0/16"}, nets)
    assert not isolation._ip_block_matches({"cidr": "10.0.0.0/16", "except": ["10.0.64.0/20"]}, nets)
    assert isolation._port_matches([{"port": "http"}], 3306, "TCP")
    assert not isolation._port_matches([{"port": 443, "protocol": "TCP"}], 3306, "TCP")
