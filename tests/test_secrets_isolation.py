"""Secrets delivery and database credentials, proven on the plans of every stack (issue 12, item 3):

- a tenant's SecretStore can obtain only that tenant's reader role: the store authenticates as a
  service account of its own namespace, and the reader role trusts only that account, on the
  cluster's OIDC issuer; the External Secrets Operator itself may assume no role;
- no master credential reaches a tenant namespace: the reader role cannot read it, no
  ExternalSecret in a tenant namespace names it, workloads log in to the database as their own
  IAM-authenticated users; the only reader is the tenant's provisioner role, whose service account
  lives in the platform namespace `database-users`."""

import hashlib
import ipaddress
import json
import re
from typing import Any

import celpy
import celpy.celtypes
import pytest
from celpy.adapter import json_to_cel

from catalog.loader import load_catalog
from components.platform.secrets_delivery import DATABASE_USERS_NAMESPACE, STORE_ADMISSION
from components.tenant.database_users import users_sql
from planner.runner import ROOT
from planner.stackconfig import read_stack_config
from tests.conftest import STACKS, resources_of

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def tenant_namespaces(plan: dict[str, Any]) -> dict[str, str]:
    """Tenant namespace -> tenant id."""
    return {
        r["inputs"]["metadata"]["name"]: r["tenant"]
        for r in resources_of(plan, "kubernetes:core/v1:Namespace")
        if r["tenant"]
    }


def statements(document: str) -> list[dict[str, Any]]:
    found = json.loads(document)["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def roles_by_name(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["name"]: r for r in resources_of(plan, ROLE) if r["inputs"].get("name")}


def role_name(arn: str) -> str:
    return arn.rsplit(":role/", 1)[-1]


def web_identity_subjects(role: dict[str, Any]) -> list[str]:
    """The service accounts a role admits; fails on any other kind of trust."""
    subjects = []
    for st in statements(role["inputs"]["assumeRolePolicy"]):
        assert st["Effect"] == "Allow"
        assert set(st["Principal"]) == {"Federated"} and ":oidc-provider/oidc.eks." in st["Principal"]["Federated"]
        assert st["Action"] == "sts:AssumeRoleWithWebIdentity", st
        (equals,) = [st["Condition"]["StringEquals"]]
        (aud,) = [v for k, v in equals.items() if k.endswith(":aud")]
        assert aud == "sts.amazonaws.com"
        (sub,) = [v for k, v in equals.items() if k.endswith(":sub")]
        assert set(st["Condition"]) == {"StringEquals"}, "no wildcard (StringLike) subjects"
        subjects.append(sub)
    return subjects


def is_master_secret(arn: str) -> bool:
    """RDS-managed master secrets are named rds!db-<id>; MasterCredentials names <identifier>/master."""
    return ":secret:rds!" in arn or arn.endswith("/master") or arn.endswith("/master-*")


def policies_of(plan: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(p, st) for p in resources_of(plan, ROLE_POLICY) for st in statements(p["inputs"]["policy"])]


def containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = resource["inputs"]["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# ------------------------------------------------------------------------- (a) SecretStores


@pytest.mark.parametrize("stack", STACKS)
def test_reader_role_trusts_only_its_own_namespace(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for namespace, tenant in tenant_namespaces(plan).items():
        (reader,) = [r for n, r in roles_by_name(plan).items() if n.endswith(f"-secrets-{tenant}")]
        assert web_identity_subjects(reader) == [f"system:serviceaccount:{namespace}:tenant-secrets"]


@pytest.mark.parametrize("stack", STACKS)
def test_operator_may_assume_no_role(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (operator,) = [p for p in resources_of(plan, ROLE_POLICY) if p["name"] == "secrets-operator"]
    actions = [a for st in statements(operator["inputs"]["policy"]) for a in as_list(st["Action"])]
    assert actions and not any(a.startswith("sts:") for a in actions), actions
    # Nor does any role trust another role (the operator's or any other): no chain into a role.
    for role in resources_of(plan, ROLE):
        for st in statements(role["inputs"]["assumeRolePolicy"]):
            principal = st.get("Principal")
            aws = as_list(principal.get("AWS", [])) if isinstance(principal, dict) else [principal]
            assert not any(":role/" in str(p) or p == "*" for p in aws), f"{role['name']} trusts {aws}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_store_resolves_to_a_role_of_its_own_namespace(plans: dict[str, Any], stack: str) -> None:
    """SecretStore in namespace N -> service account N/<ref> (ESO resolves a namespaced store's
    account in the store's namespace) -> its role -> that role admits only N/<ref>."""
    plan = plans[stack]
    roles = roles_by_name(plan)
    accounts = {
        (a["inputs"]["metadata"]["namespace"], a["inputs"]["metadata"]["name"]): a
        for a in resources_of(plan, SERVICE_ACCOUNT)
    }
    tenants = tenant_namespaces(plan)
    bound = set()
    for store in resources_of(plan, SECRET_STORE):
        namespace = store["inputs"]["metadata"]["namespace"]
        aws = store["inputs"]["spec"]["provider"]["aws"]
        if namespace not in tenants and namespace != DATABASE_USERS_NAMESPACE:
            continue  # the platform's own stores (observability) read platform secrets only
        assert set(aws) == {"service", "region", "auth"}, f"{store['name']}: no role chaining, no prefix tricks"
        ref = aws["auth"]["jwt"]["serviceAccountRef"]
        assert set(ref) == {"name"}, f"{store['name']}: the account is always the store's own namespace's"
        account = accounts[(namespace, ref["name"])]
        role = roles[role_name(account["inputs"]["metadata"]["annotations"][ROLE_ANNOTATION])]
        assert web_identity_subjects(role) == [f"system:serviceaccount:{namespace}:{ref['name']}"]
        assert role["tenant"] == store["tenant"], f"{store['name']} reads as another tenant's role"
        bound.add(store["tenant"])
    assert set(tenants.values()) <= bound, "every tenant namespace has its bound store"


# -------------------------------------------------------------- (b) no master credential


@pytest.mark.parametrize("stack", STACKS)
def test_reader_role_reads_only_the_tenants_app_secrets(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    readers = [p for p in resources_of(plan, ROLE_POLICY) if p["name"].endswith("-permissions-secrets")]
    assert len(readers) == len(tenant_namespaces(plan))
    for policy in readers:
        tenant = policy["tenant"]
        for st in statements(policy["inputs"]["policy"]):
            for arn in as_list(st["Resource"]):
                assert re.fullmatch(rf"arn:aws:secretsmanager:[a-z0-9-]+:\d+:secret:[^:]+/tenants/{tenant}/\*", arn), (
                    f"{policy['name']}: {arn}"
                )


@pytest.mark.parametrize("stack", STACKS)
def test_master_credential_is_read_only_in_the_platform_namespace(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    roles = {r["urn"]: r for r in resources_of(plan, ROLE)}
    readers = 0
    for policy, st in policies_of(plan):
        reads = any(a in ("*", "secretsmanager:*", "secretsmanager:GetSecretValue") for a in as_list(st["Action"]))
        broad = [arn for arn in as_list(st["Resource"]) if arn == "*" or arn.endswith(":secret:*")]
        if not reads or not ([arn for arn in as_list(st["Resource"]) if is_master_secret(arn)] or broad):
            continue
        readers += 1
        assert policy["tenant"], f"{policy['name']} reads a master secret"
        (role,) = [roles[u] for u in policy["options"]["dependsOn"] if u in roles]
        assert role["tenant"] == policy["tenant"]
        assert web_identity_subjects(role) == [
            f"system:serviceaccount:{DATABASE_USERS_NAMESPACE}:{policy['tenant']}-db-users"
        ], f"{policy['name']}: the master secret is read outside the platform namespace"
    homes = {r["tenant"] for r in resources_of(plan, "aws:rds/instance:Instance") if r["name"].startswith("tenant-")}
    assert readers == len(homes), "one reader per tenant database, no more"


@pytest.mark.parametrize("stack", STACKS)
def test_no_external_secret_in_a_tenant_namespace_names_a_master_secret(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = tenant_namespaces(plan)
    masters_synced = 0
    for external in resources_of(plan, EXTERNAL_SECRET):
        spec = json.dumps(external["inputs"]["spec"])
        namespace = external["inputs"]["metadata"]["namespace"]
        keys = re.findall(r'"key": "([^"]+)"', spec)
        if any(is_master_secret(k) for k in keys):
            masters_synced += 1
            assert namespace == DATABASE_USERS_NAMESPACE, f"{external['name']} syncs a master secret into {namespace}"
        if namespace in tenants:
            assert external["inputs"]["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "tenant-secrets"}
    homes = {r["tenant"] for r in resources_of(plan, "aws:rds/instance:Instance") if r["name"].startswith("tenant-")}
    assert masters_synced == len(homes)


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_workloads_log_in_as_their_own_database_user(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = tenant_namespaces(plan)
    checked = 0
    for type_ in WORKLOADS:
        for workload in resources_of(plan, type_):
            namespace = workload["inputs"]["metadata"]["namespace"]
            if namespace not in tenants:
                continue
            tenant = tenants[namespace]
            pod = workload["inputs"]["spec"]["template"]["spec"]
            # No Kubernetes Secret at all in a tenant's pods: a credential could only come from one.
            assert not any("secret" in v or "projected" in v for v in pod.get("volumes", [])), workload["name"]
            for c in containers(workload):
                assert not any("valueFrom" in e for e in c.get("env", [])), workload["name"]
                assert not any("secretRef" in e for e in c.get("envFrom", [])), workload["name"]
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                if pod["serviceAccountName"] == "aggregator":
                    # The aggregator talks to the tenant's APIs and cache only: no database login.
                    assert "DATABASE_USER" not in env and "DATABASE_AUTH" not in env, workload["name"]
                    continue
                user = f"{tenant.replace('-', '_')}_{pod['serviceAccountName']}"
                assert env.get("DATABASE_USER") == user and env.get("DATABASE_AUTH") == "iam", workload["name"]
                checked += 1
    assert checked >= 4 * len(tenants)


@pytest.mark.parametrize("stack", STACKS)
def test_database_roles_connect_only_as_their_own_user(plans: dict[str, Any], stack: str) -> None:
    """rds-db:connect names one user of the tenant's own database: the role's own service account."""
    plan = plans[stack]
    roles = {r["urn"]: r for r in resources_of(plan, ROLE)}
    resource_ids: dict[str, set[str]] = {}
    connects = 0
    for policy, st in policies_of(plan):
        if not any(a.startswith("rds-db:") or a in ("*", "rds-db:*") for a in as_list(st["Action"])):
            continue
        (role,) = [roles[u] for u in policy["options"]["dependsOn"] if u in roles]
        (subject,) = web_identity_subjects(role)
        namespace, account = subject.split(":")[2:]
        tenant = policy["tenant"]
        assert namespace == tenant_namespace(plan, tenant)
        for arn in as_list(st["Resource"]):
            match = re.fullmatch(r"arn:aws:rds-db:[a-z0-9-]+:\d+:dbuser:(db-[A-Za-z0-9]+)/([a-z0-9_]+)", arn)
            assert match, f"{policy['name']}: {arn}"
            assert match[2] == f"{tenant.replace('-', '_')}_{account}", f"{policy['name']} connects as {match[2]}"
            resource_ids.setdefault(tenant, set()).add(match[1])
            connects += 1
    homes = {r["tenant"] for r in resources_of(plan, "aws:rds/instance:Instance") if r["name"].startswith("tenant-")}
    assert connects == 3 * len(homes)  # carrier, policy, migrations
    assert all(len(ids) == 1 for ids in resource_ids.values()), resource_ids  # one database per tenant
    owners = [tenant for tenant, ids in resource_ids.items() for _ in ids]
    all_ids = [i for ids in resource_ids.values() for i in ids]
    assert len(set(all_ids)) == len(owners), "no two tenants share a database resource id"


def tenant_namespace(plan: dict[str, Any], tenant: str) -> str:
    (namespace,) = [n for n, t in tenant_namespaces(plan).items() if t == tenant]
    return namespace


@pytest.mark.parametrize("stack", STACKS)
def test_databases_admit_iam_authentication(plans: dict[str, Any], stack: str) -> None:
    instances = resources_of(plans[stack], "aws:rds/instance:Instance")
    assert instances
    for db in instances:
        assert db["inputs"]["iamDatabaseAuthenticationEnabled"] is True, db["name"]


# ----------------------------------------------------------------------- the users' grants


def test_users_are_iam_authenticated_tls_only_and_confined_to_their_schema() -> None:
    tenant = next(t for t in load_catalog(ROOT / "tenants" / "prod") if "-" in t.id)
    schema = tenant.id.replace("-", "_")
    statements_ = [line for line in users_sql(tenant).splitlines() if line]
    users = {m[1] for line in statements_ if (m := re.match(r"CREATE USER IF NOT EXISTS '([a-z_]+)'@'%'", line))}
    assert users == {f"{schema}_carrier", f"{schema}_policy", f"{schema}_migrations"}
    for user in users:
        assert (
            f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';" in statements_
        )
        assert any(line.startswith(f"ALTER USER '{user}'@'%' REQUIRE SSL") for line in statements_)
    for line in statements_:
        if line.startswith("GRANT"):
            assert re.fullmatch(rf"GRANT [A-Z ,]+ ON `{schema}`\.\* TO '{schema}_[a-z]+'@'%';", line), line
            assert "GRANT OPTION" not in line
    services = [line for line in statements_ if line.startswith("GRANT") and "_migrations'" not in line]
    assert services and all("ALL" not in line and "DROP" not in line for line in services), "DDL is the migrations'"


@pytest.mark.parametrize("stack", STACKS)
def test_users_are_created_from_the_platform_namespace_before_the_migrations(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    jobs = resources_of(plan, "kubernetes:batch/v1:Job")
    creators = [j for j in jobs if j["inputs"]["metadata"]["namespace"] == DATABASE_USERS_NAMESPACE]
    homes = {r["tenant"] for r in resources_of(plan, "aws:rds/instance:Instance") if r["name"].startswith("tenant-")}
    assert {j["tenant"] for j in creators} == homes
    for creator in creators:
        pod = creator["inputs"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"{creator['tenant']}-db-users"
        # A changed script must rerun the Job: its digest sits in the (immutable) pod template.
        (script,) = [
            c
            for c in resources_of(plan, "kubernetes:core/v1:ConfigMap")
            if c["tenant"] == creator["tenant"] and c["inputs"]["metadata"]["namespace"] == DATABASE_USERS_NAMESPACE
        ]
        sql = script["inputs"]["data"]["users.sql"]
        annotations = creator["inputs"]["spec"]["template"]["metadata"]["annotations"]
        assert hashlib.sha256(sql.encode()).hexdigest() in annotations.values()
        assert creator["options"]["deleteBeforeReplace"] is True
        # Its pods carry the tenant's own security groups, the only ones its database admits.
        labels = creator["inputs"]["spec"]["template"]["metadata"]["labels"]
        (groups,) = [
            g
            for g in resources_of(plan, "kubernetes:vpcresources.k8s.aws/v1beta1:SecurityGroupPolicy")
            if g["inputs"]["metadata"]["namespace"] == DATABASE_USERS_NAMESPACE
            and g["tenant"] == creator["tenant"]
            and g["inputs"]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert groups["inputs"]["spec"]["podSelector"]["matchLabels"]["tenant"] == creator["tenant"]
        (migration,) = [j for j in jobs if j["tenant"] == creator["tenant"] and j["name"].endswith("-services-migrate")]
        assert creator["urn"] in migration["options"]["dependsOn"]


# ------------------------------------------------------------------ admission of new stores

VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAP_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"


def admitted(policy: dict[str, Any], obj: dict[str, Any]) -> bool:
    """Every validation of the policy holds for obj (standard CEL, as the API server evaluates it;
    an evaluation error counts as a refusal, failurePolicy Fail)."""
    env = celpy.Environment()
    for validation in policy["inputs"]["spec"]["validations"]:
        program = env.program(env.compile(validation["expression"]))
        try:
            result = program.evaluate({"object": json_to_cel(obj)})
        except Exception:  # CELEvalError and friends: the API server refuses
            return False
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            return False
    return True


def store(aws: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "SecretStore", "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "x", **aws}}}}


def external(spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ExternalSecret", "spec": {"target": {"name": "t"}, **spec}}


JWT = {"auth": {"jwt": {"serviceAccountRef": {"name": "tenant-secrets"}}}}
REFUSED = {
    "no auth: the operator's own role": store({}),
    "a role chained after the namespace's account": store({**JWT, "role": "arn:aws:iam::1:role/other"}),
    "additional roles": store({**JWT, "additionalRoles": ["arn:aws:iam::1:role/other"]}),
    "another namespace's account": store(
        {"auth": {"jwt": {"serviceAccountRef": {"name": "tenant-secrets", "namespace": "other"}}}}
    ),
    "static keys": store({"auth": {"secretRef": {"accessKeyIDSecretRef": {"name": "k", "key": "id"}}}}),
    "a store of another provider": {"kind": "SecretStore", "spec": {"provider": {"vault": {"server": "x"}}}},
    "a ClusterSecretStore": external({"secretStoreRef": {"kind": "ClusterSecretStore", "name": "p"}}),
    "a ClusterSecretStore for one key": external(
        {
            "secretStoreRef": {"name": "tenant-secrets"},
            "data": [
                {
                    "secretKey": "a",
                    "remoteRef": {"key": "k"},
                    "sourceRef": {"storeRef": {"kind": "ClusterSecretStore", "name": "p"}},
                }
            ],
        }
    ),
    "a ClusterSecretStore for extraction": external(
        {
            "dataFrom": [
                {"extract": {"key": "k"}, "sourceRef": {"storeRef": {"kind": "ClusterSecretStore", "name": "p"}}}
            ]
        }
    ),
}


@pytest.mark.parametrize("stack", STACKS)
def test_admission_admits_the_plans_stores_and_refuses_any_other_identity(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (policy,) = [r for r in resources_of(plan, VAP) if r["inputs"]["metadata"]["name"] == STORE_ADMISSION]
    (binding,) = [r for r in resources_of(plan, VAP_BINDING) if r["inputs"]["spec"]["policyName"] == STORE_ADMISSION]
    name = STORE_ADMISSION
    assert binding["inputs"]["spec"] == {"policyName": name, "validationActions": ["Deny"]}
    match = policy["inputs"]["spec"]["matchConstraints"]
    assert policy["inputs"]["spec"]["failurePolicy"] == "Fail"
    (rule,) = match["resourceRules"]
    assert set(rule["resources"]) == {"secretstores", "externalsecrets"} and set(rule["operations"]) >= {
        "CREATE",
        "UPDATE",
    }
    # Every namespace but the platform's observability stores (which read as the operator).
    assert match["namespaceSelector"] == {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["observability"]}]
    }
    excluded = {"observability"}
    checked = 0
    for type_ in (SECRET_STORE, EXTERNAL_SECRET):
        for r in resources_of(plan, type_):
            if r["inputs"]["metadata"]["namespace"] not in excluded:
                assert admitted(policy, {"kind": type_.rsplit(":", 1)[-1], "spec": r["inputs"]["spec"]}), r["name"]
                checked += 1
    assert checked >= len(tenant_namespaces(plan))
    for why, obj in REFUSED.items():
        assert not admitted(policy, obj), f"admitted {why}"


@pytest.mark.parametrize("stack", STACKS)
def test_database_users_namespace_serves_nothing_and_reaches_only_dns_and_mariadb(
    plans: dict[str, Any], stack: str
) -> None:
    plan = plans[stack]
    policies = [
        r["inputs"]["spec"]
        for r in resources_of(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r["inputs"]["metadata"]["namespace"] == DATABASE_USERS_NAMESPACE
    ]
    # Something selects every pod for both directions with no allow: the default is deny.
    assert any(
        p["podSelector"] == {}
        and set(p["policyTypes"]) == {"Ingress", "Egress"}
        and not p.get("ingress")
        and not p.get("egress")
        for p in policies
    )
    assert not any(p.get("ingress") for p in policies), "nothing may connect in"
    ports = set()
    for p in policies:
        for rule in p.get("egress", []):
            assert rule.get("to") and rule.get("ports"), "every egress names its peers and ports"
            ports |= {(port["protocol"], port["port"]) for port in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 3306)}
    # MariaDB only in the data subnets, never the whole VPC (the nodes, the endpoints, the runners' peering).
    vpc = read_stack_config(ROOT, stack).values["insurance-platform:vpcCidr"]
    blocks = [
        peer["ipBlock"]["cidr"]
        for p in policies
        for rule in p.get("egress", [])
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert (
        blocks
        and vpc not in blocks
        and all(ipaddress.IPv4Network(b).subnet_of(ipaddress.IPv4Network(vpc)) for b in blocks)
    )
