"""The aggregator (scatter-gather over the carrier and policy APIs) in every region that serves a
tenant, asserted on the plans: it runs hardened and scaled exactly like the APIs, is the tenant's
`/api` route, carries its fan-out settings (tier timeouts, flagged partial results, forwarded
token, tenant-scoped cache keys), reaches only its own namespace's carrier and policy APIs (the
NetworkPolicies and the mesh evaluated as the isolation analyzer evaluates them), is called only by
the router with the tenant's token, and its role only connects to the cache as the tenant's user."""

import ipaddress
import json
from typing import Any

import pytest

from catalog import Tenant
from components.platform.network import subnet_plan
from components.tenant.tenant_namespace import AGGREGATED, AGGREGATOR, ROUTER_NAMESPACE, ROUTER_PRINCIPAL
from planner import isolation
from planner.isolation import Caller, Destination, Pod
from tests.conftest import STACKS, resources_of
from tests.helpers import settings_for
from tests.test_policies_tenants import DEPLOYMENT, violations

Plan = dict[str, Any]
HARDENING_RULES = ("workload-security-context", "workload-resources", "workload-image-provenance")


def served(stack: str) -> list[Tenant]:
    return list(settings_for(stack).served_tenants)


def in_namespace(plan: Plan, type_: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["name"]: r
        for r in resources_of(plan, type_)
        if r["inputs"]["metadata"].get("namespace") == namespace
    }


def deployments(plan: Plan, namespace: str) -> dict[str, dict[str, Any]]:
    return in_namespace(plan, "kubernetes:apps/v1:Deployment", namespace)


def pod_of(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["inputs"]["spec"]["template"]["spec"]


def env_of(deployment: dict[str, Any]) -> dict[str, str]:
    (container,) = pod_of(deployment)["containers"]
    return {e["name"]: e["value"] for e in container.get("env") or []}


@pytest.mark.parametrize("stack", STACKS)
def test_every_serving_region_runs_the_aggregator_with_scaling_budget_and_route(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    tenants = served(stack)
    assert tenants, f"{stack} serves no tenant"
    for t in tenants:
        ns = t.namespace
        assert AGGREGATOR in deployments(plan, ns), f"{stack}: no aggregator in {ns}"
        service = in_namespace(plan, "kubernetes:core/v1:Service", ns)[AGGREGATOR]["inputs"]["spec"]
        assert service["type"] == "ClusterIP" and service["selector"]["app.kubernetes.io/name"] == AGGREGATOR
        hpa = in_namespace(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", ns)[AGGREGATOR]["inputs"]["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (t.tier.hpa_min, t.tier.hpa_max)
        assert hpa["scaleTargetRef"]["name"] == AGGREGATOR
        vpa = in_namespace(plan, "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler", ns)[AGGREGATOR]
        assert vpa["inputs"]["spec"]["updatePolicy"]["updateMode"] == "Off"
        pdbs = in_namespace(plan, "kubernetes:policy/v1:PodDisruptionBudget", ns)
        if t.tier.pdb_min_available is None:
            assert AGGREGATOR not in pdbs
        else:
            assert pdbs[AGGREGATOR]["inputs"]["spec"]["minAvailable"] == t.tier.pdb_min_available
        ingresses = in_namespace(plan, "kubernetes:networking.k8s.io/v1:Ingress", ns)
        assert set(ingresses) == {"tenant-routes", "public-api-route"}  # the API's route: tests/test_api_gateway.py
        for rule in ingresses["tenant-routes"]["inputs"]["spec"]["rules"]:
            routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
            assert routes == {"/carrier": "carrier-api", "/policy": "policy-api", "/api": AGGREGATOR}


@pytest.mark.parametrize("stack", STACKS)
def test_the_aggregator_is_hardened_exactly_like_the_apis(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    for t in served(stack):
        found = deployments(plan, t.namespace)
        aggregator, api = found[AGGREGATOR], found["carrier-api"]
        for rule in HARDENING_RULES:
            assert violations(rule, DEPLOYMENT, aggregator["inputs"]) == [], f"{t.id}: {rule}"
        mine, theirs = pod_of(aggregator), pod_of(api)
        assert mine["serviceAccountName"] == AGGREGATOR and mine["automountServiceAccountToken"] is False
        for key in ("securityContext", "nodeSelector", "tolerations", "volumes", "enableServiceLinks"):
            assert mine.get(key) == theirs.get(key), f"{t.id}: {key}"
        (c,), (a,) = mine["containers"], theirs["containers"]
        for key in (
            "securityContext",
            "resources",
            "livenessProbe",
            "readinessProbe",
            "ports",
            "volumeMounts",
            "envFrom",
        ):
            assert c.get(key) == a.get(key), f"{t.id}: container {key}"
        assert c["resources"]["requests"] == {"cpu": t.tier.service_cpu, "memory": t.tier.service_memory}
        assert "/aggregator-service@sha256:" in c["image"]
        assert aggregator["options"]["ignoreChanges"] == ["spec.replicas"]


@pytest.mark.parametrize("stack", STACKS)
def test_fan_out_settings_come_from_the_tier_and_stay_in_the_tenant(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    for t in served(stack):
        env = env_of(deployments(plan, t.namespace)[AGGREGATOR])
        runtime = in_namespace(plan, "kubernetes:core/v1:ConfigMap", t.namespace)["tenant-runtime"]["inputs"]["data"]
        assert env["FANOUT_CALL_TIMEOUT_MS"] == str(t.tier.fanout_call_timeout_ms)
        assert env["FANOUT_DEADLINE_MS"] == str(t.tier.fanout_deadline_ms)
        assert t.tier.fanout_call_timeout_ms < t.tier.fanout_deadline_ms
        assert env["PARTIAL_RESULTS"] == "flagged" and env["FORWARD_AUTHORIZATION"] == "true"
        for api in AGGREGATED:
            assert env[f"{api.upper()}_API_URL"] == f"http://{api}-api.{t.namespace}.svc.cluster.local"
        # Cache keys under the tenant's own prefix (its Redis user's ACL), per caller.
        assert env["CACHE_KEY_PREFIX"].startswith(runtime["REDIS_KEY_PREFIX"]) and env["CACHE_KEY_SCOPE"]
        assert runtime["REDIS_AUTH"] == "iam" and runtime["REDIS_USER"]
        assert not any(k.startswith("DATABASE_USER") for k in env), "the aggregator has no database user"


def _tenant_pods(st: isolation.Stack) -> dict[str, list[Pod]]:
    return {ns: st.pods(ns) for ns in st.namespaces if st.namespace_tenant(ns)}


def _aggregator_pod(pods: list[Pod]) -> Pod:
    (pod,) = [p for p in pods if p.service_account == AGGREGATOR]
    return pod


@pytest.mark.parametrize("stack", STACKS)
def test_the_aggregator_reaches_only_its_own_carrier_and_policy_apis(plans: dict[str, Plan], stack: str) -> None:
    st = isolation.Stack(plans[stack])
    settings = settings_for(stack)
    data = tuple(ipaddress.ip_network(c) for c in subnet_plan(settings.vpc_cidr)[0])
    everywhere = _tenant_pods(st)
    router = Pod(ROUTER_NAMESPACE, (), "nginx-ingress")
    for t in served(stack):
        aggregator = _aggregator_pod(everywhere[t.namespace])
        for ns, pods in everywhere.items():
            for pod in pods:
                if pod == aggregator:
                    continue
                labels = pod.label_map
                wanted = (
                    ns == t.namespace
                    and labels.get("app.kubernetes.io/component") == "api"
                    and labels.get("app.kubernetes.io/name") in AGGREGATED
                )
                reached = any(st.netpol.path(aggregator, Destination(port, pod=pod)) for port in pod.ports)
                assert reached == wanted, f"{stack}: aggregator of {t.id} -> {ns}/{pod.service_account}: {reached}"
                # Nobody in the cluster but the router calls the aggregator.
                assert not st.netpol.path(pod, Destination(8080, pod=aggregator)), f"{ns}/{pod.service_account}"
        assert st.netpol.allows(aggregator, "Ingress", router, (), 8080, "TCP")
        assert st.netpol.allows(aggregator, "Egress", None, data, 6379, "TCP")  # its Redis user
        assert st.netpol.allows(aggregator, "Egress", None, data, 443, "TCP")  # STS for the IAM token
        assert not st.netpol.allows(aggregator, "Egress", None, data, 3306, "TCP"), "no database"


@pytest.mark.parametrize("stack", STACKS)
def test_the_router_needs_the_tenants_token_and_the_aggregator_forwards_it(plans: dict[str, Plan], stack: str) -> None:
    st = isolation.Stack(plans[stack])
    everywhere = _tenant_pods(st)
    for t in served(stack):
        ns, pods = t.namespace, everywhere[t.namespace]
        aggregator = _aggregator_pod(pods)
        apis = [
            p for p in pods if p.service_account in AGGREGATED and p.label_map["app.kubernetes.io/component"] == "api"
        ]
        assert len(apis) == len(AGGREGATED)
        issuers = [issuer for issuer, _ in isolation.accepted_issuers(st, aggregator)]
        assert len(issuers) <= 1
        own = issuers[0] if issuers else None
        calls = Caller(f"cluster.local/ns/{ns}/sa/{AGGREGATOR}", ns, None)
        for api in apis:
            assert isolation.authorized(st, api, calls) is None, f"{t.id}: the aggregator called without a token"
            with_token = isolation.authorized(st, api, Caller(calls.principal, ns, own)) if own else None
            assert bool(with_token) == bool(own), f"{t.id}: the aggregator with the caller's token"
        router = Caller(ROUTER_PRINCIPAL, ROUTER_NAMESPACE, None)
        assert isolation.authorized(st, aggregator, router) is None, f"{t.id}: router without a token"
        assert bool(isolation.authorized(st, aggregator, Caller(ROUTER_PRINCIPAL, ROUTER_NAMESPACE, own))) == bool(own)
        carrier = Caller(f"cluster.local/ns/{ns}/sa/carrier", ns, own)
        assert isolation.authorized(st, aggregator, carrier) is None, f"{t.id}: only the router calls the aggregator"


@pytest.mark.parametrize("stack", STACKS)
def test_the_aggregator_role_only_connects_as_the_tenants_cache_user(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    for t in served(stack):
        (sa,) = [
            r
            for r in resources_of(plan, "kubernetes:core/v1:ServiceAccount")
            if r["inputs"]["metadata"] == {**r["inputs"]["metadata"], "name": AGGREGATOR, "namespace": t.namespace}
        ]
        assert sa["inputs"]["automountServiceAccountToken"] is False
        assert sa["inputs"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        (role,) = [
            r for r in resources_of(plan, "aws:iam/role:Role") if r["name"] == f"tenant-{t.id}-identity-aggregator"
        ]
        trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
        assert f"system:serviceaccount:{t.namespace}:{AGGREGATOR}" in trust.values()
        (policy,) = [
            r
            for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy")
            if r["name"] == f"tenant-{t.id}-permissions-aggregator"
        ]
        (statement,) = json.loads(policy["inputs"]["policy"])["Statement"]
        assert statement["Action"] == ["elasticache:Connect"]
        users = [arn for arn in statement["Resource"] if ":user:" in arn]
        assert len(users) == 1 and users[0].endswith(f"-{t.id}"), users
