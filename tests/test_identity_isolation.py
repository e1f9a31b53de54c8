"""Identity isolation on the plans (issue 12, item 3): in every region that serves a tenant, the
router's requests reach the tenant only with a JWT of the tenant's own issuer (the user pool of
its home region), a region that does not know that issuer yet refuses them, and no other policy
(a mesh-wide one in istio-system included) lets them through.

The mesh is judged by a small evaluator of Istio's AuthorizationPolicy semantics (istio/api
security/v1beta1/authorization_policy.proto: CUSTOM, then DENY, then ALLOW; `<iss>/<sub>` request
principals; exact/prefix/suffix/presence matching). Where the plan holds something the evaluator
does not model, it errs towards admitting: an ALLOW it cannot read matches, a DENY does not."""

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import pytest
from celpy.adapter import json_to_cel

from catalog import ConfigError
from catalog.loader import load_settings
from catalog.model import cognito_issuer
from planner.runner import build_plan, with_gates
from planner.stackconfig import read_stack_config
from tests.conftest import STACKS, resources_of

AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
REQUEST_AUTHN = "kubernetes:security.istio.io/v1:RequestAuthentication"
ROOT_NAMESPACE = "istio-system"
ROUTER = ("cluster.local/ns/nginx-ingress/sa/nginx-ingress", "nginx-ingress")
SOURCE_FIELDS = {
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
}


@dataclass(frozen=True)
class Request:
    principal: str  # the caller's mTLS identity
    namespace: str
    token_issuer: str | None = None  # the `iss` of the JWT it carries, if any
    subject: str = "user-1"


def matches(pattern: str, value: str | None) -> bool:
    if value is None or value == "":
        return False
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _source_matches(source: dict[str, Any], attributes: dict[str, str | None], deny: bool) -> bool:
    if set(source) - SOURCE_FIELDS:
        return not deny  # unmodelled field: an ALLOW is assumed to match, a DENY not
    for field, value in attributes.items():
        positive = source.get(f"{field}s")
        negative = source.get(f"not{field[0].upper()}{field[1:]}s")
        if positive is not None and not any(matches(p, value) for p in positive):
            return False
        if negative is not None and any(matches(p, value) for p in negative):
            return False
    return True


def _rule_matches(rule: dict[str, Any], attributes: dict[str, str | None], deny: bool) -> bool:
    if rule.get("to") or rule.get("when"):
        return not deny
    sources = [f.get("source", {}) for f in rule.get("from") or []]
    return not sources or any(_source_matches(s, attributes, deny) for s in sources)


def _applies(policy: dict[str, Any], namespace: str) -> bool:
    meta, spec = policy["inputs"]["metadata"], policy["inputs"].get("spec") or {}
    if meta.get("namespace") not in (namespace, ROOT_NAMESPACE):
        return False
    narrowed = spec.get("selector") or spec.get("targetRef") or spec.get("targetRefs")
    return not (narrowed and spec.get("action") == "DENY")  # a narrowed DENY may miss the workload


def request_principal(plan: dict[str, Any], namespace: str, request: Request) -> str | None:
    """`<iss>/<sub>` when a RequestAuthentication applying to the namespace validates the issuer."""
    issuers = {
        rule["issuer"]
        for ra in resources_of(plan, REQUEST_AUTHN)
        if ra["inputs"]["metadata"].get("namespace") in (namespace, ROOT_NAMESPACE)
        for rule in ra["inputs"]["spec"].get("jwtRules", [])
    }
    if request.token_issuer is None or request.token_issuer not in issuers:
        return None
    return f"{request.token_issuer}/{request.subject}"


def admitted(plan: dict[str, Any], namespace: str, request: Request) -> bool:
    attributes = {
        "principal": request.principal,
        "requestPrincipal": request_principal(plan, namespace, request),
        "namespace": request.namespace,
    }
    policies = [p for p in resources_of(plan, AUTHZ) if _applies(p, namespace)]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for policy in policies:
        spec = policy["inputs"].get("spec") or {}
        by_action.setdefault(spec.get("action", "ALLOW"), []).append(spec)
    for spec in by_action.get("DENY", []):
        if any(_rule_matches(rule, attributes, deny=True) for rule in spec.get("rules") or []):
            return False
    allows = by_action.get("ALLOW", [])
    if not allows:
        return True
    return any(_rule_matches(rule, attributes, deny=False) for spec in allows for rule in spec.get("rules") or [])


def served(plan: dict[str, Any]) -> list[str]:
    return sorted(r["tenant"] for r in resources_of(plan, "kubernetes:core/v1:Namespace") if r["tenant"])


def issuers_of(plans: dict[str, dict[str, Any]], environment: str) -> dict[str, str]:
    """Each tenant's own issuer, read from its home stack's outputs (the pool the home region created)."""
    found: dict[str, str] = {}
    for plan in plans.values():
        if plan["outputs"]["environment"] != environment:
            continue
        for tenant, out in plan["outputs"]["tenants"].items():
            if out["home"] and out["userPoolId"]:
                found[tenant] = cognito_issuer(plan["region"], out["userPoolId"])
    return found


def router(issuer: str | None = None) -> Request:
    return Request(*ROUTER, token_issuer=issuer)


# ---------------------------------------------------------------------------------- evaluator


def test_evaluator_follows_istio_order_and_matching() -> None:
    iss = "https://issuer.example/pool"

    def plan_of(*specs: dict[str, Any], namespace: str = "a") -> dict[str, Any]:
        ra = {
            "type": REQUEST_AUTHN,
            "inputs": {"metadata": {"namespace": "a"}, "spec": {"jwtRules": [{"issuer": iss}]}},
        }
        return {
            "resources": [ra]
            + [{"type": AUTHZ, "inputs": {"metadata": {"namespace": namespace}, "spec": s}} for s in specs]
        }

    allow_router = {"rules": [{"from": [{"source": {"principals": [ROUTER[0]], "requestPrincipals": [f"{iss}/*"]}}]}]}
    assert admitted(plan_of(allow_router), "a", router(iss))
    assert not admitted(plan_of(allow_router), "a", router())
    assert not admitted(plan_of(allow_router), "a", router("https://issuer.example/pool2"))  # not validated
    assert admitted(plan_of(), "a", router())  # no ALLOW policy: everything is admitted
    assert not admitted(plan_of({}), "a", router(iss))  # an ALLOW without rules admits nothing
    root_allow = {"rules": [{}]}
    assert admitted(plan_of(root_allow, namespace=ROOT_NAMESPACE), "a", router())
    deny = {"action": "DENY", "rules": [{"from": [{"source": {"notRequestPrincipals": [f"{iss}/*"]}}]}]}
    assert not admitted(plan_of(root_allow, deny), "a", router())
    assert admitted(plan_of(root_allow, deny), "a", router(iss))


# ---------------------------------------------------------------------------------- the plans


@pytest.mark.parametrize("stack", STACKS)
def test_router_reaches_a_tenant_only_with_its_own_token_in_every_serving_region(
    plans: dict[str, Any], stack: str
) -> None:
    plan = plans[stack]
    issuers = issuers_of(plans, plan["outputs"]["environment"])
    tenants = served(plan)
    assert tenants
    for tenant in tenants:
        own = issuers[tenant]  # steady state: the home region's pool is known here too
        assert admitted(plan, tenant, router(own)), f"{stack}: {tenant} refuses its own users"
        assert not admitted(plan, tenant, router()), f"{stack}: {tenant} admits the router without a token"
        for other, foreign in issuers.items():
            if other != tenant:
                assert not admitted(plan, tenant, router(foreign)), f"{stack}: {tenant} admits {other}'s tokens"
                caller = Request(f"cluster.local/ns/{other}/sa/carrier", other, token_issuer=own)
                assert not admitted(plan, tenant, caller), f"{stack}: {tenant} admits pods of {other}"


@pytest.mark.parametrize("stack", STACKS)
def test_no_mesh_wide_allow_lets_the_router_skip_the_token(plans: dict[str, Any], stack: str) -> None:
    """An ALLOW someone adds in istio-system for the router (a plausible fix for a 403 elsewhere),
    and a mesh-wide RequestAuthentication validating every tenant's issuer, must not open a tenant
    to requests without its token or with another tenant's (the pin on its own issuer)."""
    plan = copy.deepcopy(plans[stack])
    issuers = issuers_of(plans, plan["outputs"]["environment"])
    plan["resources"].append(
        {
            "type": REQUEST_AUTHN,
            "inputs": {
                "metadata": {"name": "every-tenant", "namespace": ROOT_NAMESPACE},
                "spec": {"jwtRules": [{"issuer": i} for i in issuers.values()]},
            },
        }
    )
    plan["resources"].append(
        {
            "type": AUTHZ,
            "inputs": {
                "metadata": {"name": "allow-router", "namespace": ROOT_NAMESPACE},
                "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["nginx-ingress"]}}]}]},
            },
        }
    )
    for tenant in served(plan):
        assert not admitted(plan, tenant, router()), f"{stack}: a mesh-wide ALLOW opens {tenant}"
        foreign = [t for t in issuers if t != tenant]
        assert not [t for t in foreign if admitted(plan, tenant, router(issuers[t]))], f"{stack}: {tenant}"
        assert admitted(plan, tenant, router(issuers[tenant]))


@pytest.fixture(scope="module")
def fresh_west() -> dict[str, Any]:
    """prod-us-west-2 deployed before prod-us-east-1 exists: no pool of us-east-1 is known yet."""
    return build_plan("prod-us-west-2", fresh=True)


def test_region_that_does_not_know_the_issuer_refuses_the_router(
    plans: dict[str, Any], fresh_west: dict[str, Any]
) -> None:
    issuers = issuers_of(plans, "prod")
    away = [t for t in served(fresh_west) if fresh_west["outputs"]["tenants"][t]["home"] is False]
    assert away, "prod-us-west-2 serves tenants homed elsewhere"
    for tenant in away:
        for issuer in [None, *issuers.values()]:
            assert not admitted(fresh_west, tenant, router(issuer)), f"{tenant} admits {issuer} without its issuer"
        assert not [
            ra for ra in resources_of(fresh_west, REQUEST_AUTHN) if ra["inputs"]["metadata"]["namespace"] == tenant
        ]
    for tenant in set(served(fresh_west)) - set(away):  # homed here: its pool is created in this deploy
        own = cognito_issuer("us-west-2", fresh_west["outputs"]["tenants"][tenant]["userPoolId"])
        assert admitted(fresh_west, tenant, router(own)) and not admitted(fresh_west, tenant, router())


def test_the_issuer_a_region_learns_is_the_home_pool(plans: dict[str, Any]) -> None:
    """The pinned issuer everywhere is the one the home stack exports: its pool, its region."""
    issuers = issuers_of(plans, "prod")
    for stack in STACKS:
        plan = plans[stack]
        for ra in resources_of(plan, REQUEST_AUTHN):
            tenant = ra["inputs"]["metadata"]["namespace"]
            (rule,) = ra["inputs"]["spec"]["jwtRules"]
            if stack != "dev":
                assert rule["issuer"] == issuers[tenant], f"{stack}: {tenant}"
            assert rule["jwksUri"] == f"{rule['issuer']}/.well-known/jwks.json"


def test_a_pool_id_of_another_region_is_refused(project_copy: Path) -> None:
    config = with_gates(read_stack_config(project_copy, "prod-us-west-2"), project_copy, fresh=False)
    key = f"{config.project}:dr"
    dr = json.loads(config.values[key])
    dr["peerUserPools"]["harbor-mutual"] = "us-west-2_Abc123"  # the issuer would not be harbor's
    values = {**config.values, key: json.dumps(dr)}
    with pytest.raises(ConfigError, match="not a Cognito user pool id of us-east-1"):
        load_settings(values.get, config.project, "prod-us-west-2", project_copy)


# ---------------------------------------------------------------------------------- operators

VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAP_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
READ = {"get", "list", "watch"}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "carrier", "namespace": "harbor-mutual"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "carrier"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "carrier"}, "annotations": {"proxy.istio.io/config": "{}"}},
            "spec": {
                "serviceAccountName": "carrier",
                "containers": [{"name": "carrier", "image": "registry/carrier@sha256:1", "env": []}],
                "volumes": [],
            },
        },
    },
}


def _admitted_update(policy: dict[str, Any], groups: list[str], old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Evaluates the policy's real CEL (match conditions, then validations) as the API server would."""
    env = celpy.Environment()
    activation = {
        "object": json_to_cel(new),
        "oldObject": json_to_cel(old),
        "request": json_to_cel({"operation": "UPDATE", "userInfo": {"username": "op", "groups": groups}}),
    }

    def holds(expression: str) -> bool:
        return bool(env.program(env.compile(expression)).evaluate(activation))

    spec = policy["inputs"]["spec"]
    if not all(holds(c["expression"]) for c in spec.get("matchConditions", [])):
        return True  # the policy does not apply to this requester
    return all(holds(v["expression"]) for v in spec["validations"])


def _changed(change: Any) -> dict[str, Any]:
    new = copy.deepcopy(DEPLOYMENT)
    change(new)
    return new


OPERATOR_CHANGES = {
    "mount another secret": lambda d: d["spec"]["template"]["spec"]["volumes"].append(
        {"name": "db", "secret": {"secretName": "harbor-mutual-db-master"}}
    ),
    "read a secret into the environment": lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "x", "key": "password"}}}
    ),
    "swap the image": lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="evil:latest"),
    "run as another service account": lambda d: d["spec"]["template"]["spec"].update(serviceAccountName="policy"),
    "relabel the pods": lambda d: d["spec"]["template"]["metadata"]["labels"].update(app="policy"),
    "turn the sidecar off": lambda d: d["spec"]["template"]["metadata"]["annotations"].update(
        {"sidecar.istio.io/inject": "false"}
    ),
    "drop an annotation": lambda d: d["spec"]["template"]["metadata"].pop("annotations"),
    "scale": lambda d: d["spec"].update(replicas=0),
    "pause the rollout": lambda d: d["spec"].update(paused=True),
    "change the selector": lambda d: d["spec"]["selector"]["matchLabels"].update(app="x"),
}


def _restarted(at: str, base: dict[str, Any] = DEPLOYMENT) -> dict[str, Any]:
    new = copy.deepcopy(base)
    new["spec"]["template"]["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = at
    return new


@pytest.fixture(scope="module")
def east(plans: dict[str, Any]) -> dict[str, Any]:
    return plans["prod-us-east-1"]


def _policy_of(plan: dict[str, Any], tenant: str) -> dict[str, Any]:
    (policy,) = [r for r in resources_of(plan, VAP) if r["tenant"] == tenant]
    return policy


def test_operators_may_restart_a_deployment(east: dict[str, Any]) -> None:
    policy, group = _policy_of(east, "harbor-mutual"), "tenant:harbor-mutual:operators"
    first = _restarted("2026-11-30T08:00:00Z")
    assert _admitted_update(policy, [group, "system:authenticated"], DEPLOYMENT, first)
    assert _admitted_update(policy, [group], first, _restarted("2026-11-30T09:00:00Z", first))
    bare = copy.deepcopy(DEPLOYMENT)
    del bare["spec"]["template"]["metadata"]["annotations"]
    assert _admitted_update(policy, [group], bare, _restarted("2026-11-30T08:00:00Z", bare))


@pytest.mark.parametrize("change", sorted(OPERATOR_CHANGES))
def test_operators_may_change_nothing_else(east: dict[str, Any], change: str) -> None:
    policy, group = _policy_of(east, "harbor-mutual"), "tenant:harbor-mutual:operators"
    new = _changed(OPERATOR_CHANGES[change])
    assert not _admitted_update(policy, [group], DEPLOYMENT, new), change
    assert not _admitted_update(policy, [group], DEPLOYMENT, _restarted("2026-11-30T08:00:00Z", new)), change
    # The platform's deploy (not an operator) is not held by it.
    assert _admitted_update(policy, ["system:masters"], DEPLOYMENT, new)


@pytest.mark.parametrize("stack", STACKS)
def test_every_tenants_operators_are_held_by_the_policy_bound_to_their_real_group(
    plans: dict[str, Any], stack: str
) -> None:
    plan = plans[stack]
    for tenant in served(plan):
        (entry,) = [r for r in resources_of(plan, "aws:eks/accessEntry:AccessEntry") if r["tenant"] == tenant]
        (group,) = entry["inputs"]["kubernetesGroups"]
        policy = _policy_of(plan, tenant)
        spec = policy["inputs"]["spec"]
        assert spec["failurePolicy"] == "Fail"
        assert spec["matchConstraints"]["resourceRules"] == [
            {"apiGroups": ["apps"], "apiVersions": ["*"], "operations": ["UPDATE"], "resources": ["deployments"]}
        ]
        assert not _admitted_update(policy, [group], DEPLOYMENT, _changed(OPERATOR_CHANGES["mount another secret"]))
        bindings = [b for b in resources_of(plan, VAP_BINDING) if b["tenant"] == tenant]
        assert [b["inputs"]["spec"] for b in bindings] == [
            {"policyName": policy["inputs"]["metadata"]["name"], "validationActions": ["Deny"]}
        ]
        (role,) = [r for r in resources_of(plan, ROLE) if r["tenant"] == tenant]
        for rule in role["inputs"]["rules"]:
            writes = set(rule["verbs"]) - READ
            if writes:  # the only write: the restart patch the policy holds
                assert (rule["apiGroups"], rule["resources"], writes) == (["apps"], ["deployments"], {"patch"})
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"] + rule["verbs"]


# ---------------------------------------------------------------------------------- Grafana admins

RELEASE = "kubernetes:helm.sh/v3:Release"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"


def _grafanas(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, RELEASE) if r["inputs"]["chart"] == "grafana"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_grafana_has_its_own_generated_admin_credential(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    grafanas = _grafanas(plan)
    views = [g for g in grafanas if g["inputs"]["values"].get("ingress", {}).get("enabled")]
    assert len(views) == len(served(plan)) and len(grafanas) == 1 + len(views)  # platform + one per tenant
    syncs = {
        e["inputs"]["spec"]["target"]["name"]: e["inputs"]["spec"]
        for e in resources_of(plan, EXTERNAL_SECRET)
        if e["inputs"]["metadata"]["namespace"] == "observability"
    }
    secrets = {r["inputs"]["name"]: r for r in resources_of(plan, "aws:secretsmanager/secret:Secret")}
    versions = {
        r["inputs"]["secretId"]: r for r in resources_of(plan, "aws:secretsmanager/secretVersion:SecretVersion")
    }
    remote_keys = []
    for grafana in grafanas:
        admin = grafana["inputs"]["values"]["admin"]["existingSecret"]
        (source,) = syncs[admin]["dataFrom"]
        key = source["extract"]["key"]
        remote_keys.append(key)
        secret = secrets[key]  # generated by this stack into its own secret, then kept
        (version,) = [v for v in versions.values() if v["parent"] == secret["parent"] and v["name"] == secret["name"]]
        assert version["inputs"]["secretString"] == "[secret]" and version["options"]["ignoreChanges"] == [
            "secretString"
        ]
    assert len(set(remote_keys)) == len(grafanas), f"{stack}: Grafanas share an admin credential"
    admin_secrets = [g["inputs"]["values"]["admin"]["existingSecret"] for g in grafanas]
    assert len(set(admin_secrets)) == len(grafanas)


@pytest.mark.parametrize("stack", STACKS)
def test_no_grafana_can_read_secrets(plans: dict[str, Any], stack: str) -> None:
    """A Grafana that can read Secrets reads every other Grafana's admin credential (the chart's
    default: a ClusterRole on configmaps and secrets for its dashboards sidecar)."""
    plan = plans[stack]
    accounts = set()
    for grafana in _grafanas(plan):
        values = grafana["inputs"]["values"]
        assert values["rbac"]["create"] is False, grafana["name"]
        assert values["sidecar"]["dashboards"]["resource"] == "configmap"
        accounts.add(values["serviceAccount"]["name"])
    assert len(accounts) == len(_grafanas(plan))
    roles = {
        (r["inputs"]["metadata"].get("namespace"), r["inputs"]["metadata"]["name"]): r["inputs"]["rules"]
        for t in ("Role", "ClusterRole")
        for r in resources_of(plan, f"kubernetes:rbac.authorization.k8s.io/v1:{t}")
    }
    for t in ("RoleBinding", "ClusterRoleBinding"):
        for binding in resources_of(plan, f"kubernetes:rbac.authorization.k8s.io/v1:{t}"):
            subjects = binding["inputs"]["subjects"]
            if not any(s["kind"] == "ServiceAccount" and s["name"] in accounts for s in subjects):
                continue
            ref = binding["inputs"]["roleRef"]
            namespace = binding["inputs"]["metadata"].get("namespace") if ref["kind"] == "Role" else None
            for rule in roles[(namespace, ref["name"])]:
                assert not {"secrets", "*"} & set(rule["resources"]), f"{stack}: {binding['name']} reads secrets"
