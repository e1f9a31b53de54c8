"""Adversarial corpus: misconfigurations an engineer could plausibly make, each one a small
mutation of a real plan (a deep copy of the `plans` fixture), each caught by the rule meant to
catch it and by no unrelated rule (the set of violated rule ids grows by exactly that id).

Targets are found by type, tenant and role (a substring of the logical name), never by URN, so
the corpus keeps working while the plans grow. Where a family concerns a resource kind today's
plans lack (a cluster role binding, a per-tenant cache user, a secret policy), the mutation builds
it beside a real resource of the same tenant. `NEAR_MISSES` are changes that look alike but are
compliant: no rule may fire on them."""

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from planner.policy import evaluate
from tests.conftest import config_for

Plan = dict[str, Any]
Resource = dict[str, Any]
Mutation = Callable[[Plan], None]

ACCOUNT = "123456789012"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
RDS = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"
K8S_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
NAMESPACE = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
CACHE_USER = "aws:elasticache/user:User"
CF = "aws:cloudfront/distribution:Distribution"


# ------------------------------------------------------------------------------ finding targets


def tenants(plan: Plan) -> list[str]:
    """Tenants with a namespace in the plan, sorted."""
    return sorted(
        {
            r["inputs"]["metadata"]["labels"]["tenant"]
            for r in plan["resources"]
            if r["type"] == NAMESPACE and (r["inputs"].get("metadata") or {}).get("labels", {}).get("tenant")
        }
    )


def mine(plan: Plan) -> str:
    return tenants(plan)[0]


def other(plan: Plan) -> str:
    return tenants(plan)[1]


def all_of(plan: Plan, type_: str, tenant: str | None = None, role: str = "") -> list[Resource]:
    """Resources of a type, of a tenant (None: any; "": the platform's), whose name has `role`."""
    return [
        r
        for r in plan["resources"]
        if r["type"] == type_
        and (tenant is None or (r["tenant"] or "") == tenant)
        and role in r["name"]
        and not r["type"].startswith("pulumi:providers:")
    ]


def find(plan: Plan, type_: str, tenant: str | None = None, role: str = "") -> Resource:
    found = all_of(plan, type_, tenant, role)
    assert found, f"no {type_} of tenant {tenant!r} with role {role!r} in the plan"
    return found[0]


def arn_of_role(plan: Plan, tenant: str, role: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{find(plan, ROLE, tenant, role)['inputs']['name']}"


def doc(r: Resource, prop: str = "policy") -> dict[str, Any]:
    return json.loads(r["inputs"][prop])


def set_doc(r: Resource, document: dict[str, Any], prop: str = "policy") -> None:
    r["inputs"][prop] = json.dumps(document)


def add_statement(r: Resource, statement: dict[str, Any], prop: str = "policy") -> None:
    document = doc(r, prop)
    document["Statement"].append(statement)
    set_doc(r, document, prop)


def drop(plan: Plan, resource: Resource) -> None:
    plan["resources"] = [r for r in plan["resources"] if r["urn"] != resource["urn"]]


def drop_deps(r: Resource, type_: str, plan: Plan) -> None:
    """Forget the dependencies on resources of a type (a value typed as text depends on nothing)."""
    types = {x["urn"]: x["type"] for x in plan["resources"]}
    r["options"]["dependsOn"] = [d for d in r["options"]["dependsOn"] if types.get(d) != type_]


def build(plan: Plan, like: Resource, type_: str, name: str, inputs: dict[str, Any], **options: Any) -> Resource:
    """A new resource beside `like`: same parent, provider and tenant."""
    chain = like["urn"].split("::")[2].rsplit("$", 1)[0]
    r: Resource = {
        "urn": f"urn:pulumi:{plan['stack']}::{plan['project']}::{chain}${type_}::{name}",
        "type": type_,
        "name": name,
        "custom": True,
        "parent": like["parent"],
        "provider": like["provider"] if type_.split(":")[0] == like["type"].split(":")[0] else None,
        "providers": {},
        "tenant": like["tenant"],
        "inputs": inputs,
        "options": {
            "protect": False,
            "retainOnDelete": False,
            "deleteBeforeReplace": False,
            "ignoreChanges": [],
            "dependsOn": [],
            "aliases": [],
            **options,
        },
    }
    plan["resources"].append(r)
    return r


def key_arn(plan: Plan, tenant: str) -> str:
    """The ARN the plan gives a tenant's main key (as its queues name it)."""
    return find(plan, QUEUE, tenant)["inputs"]["kmsMasterKeyId"]


def platform_alias(plan: Plan, role: str) -> Resource:
    """A platform key's alias, preferably the one whose name has `role`."""
    return (all_of(plan, ALIAS, "", role) or all_of(plan, ALIAS, ""))[0]


def alias_arn(plan: Plan, role: str) -> str:
    alias = platform_alias(plan, role)
    return f"arn:aws:kms:{plan['region']}:{ACCOUNT}:{alias['inputs']['name']}"


def allowing(document: dict[str, Any], service: str) -> dict[str, Any]:
    """The first Allow statement granting something on an ARN of `service` (s3, sqs, ...)."""
    return next(
        st
        for st in document["Statement"]
        if st["Effect"] == "Allow" and any(str(r).startswith(f"arn:aws:{service}:") for r in _list(st.get("Resource")))
    )


def admitting(document: dict[str, Any]) -> dict[str, Any]:
    """The first Allow statement naming AWS principals, its principal list made a list."""
    st = next(st for st in document["Statement"] if st["Effect"] == "Allow" and "AWS" in (st.get("Principal") or {}))
    st["Principal"]["AWS"] = _list(st["Principal"]["AWS"])
    return st


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def bucket_arn(policy: Resource) -> str:
    return f"arn:aws:s3:::{policy['inputs']['bucket']}"


def allow_authz(p: Plan) -> dict[str, Any]:
    """The spec of the tenant's ALLOW AuthorizationPolicy (a DENY one may sit beside it)."""
    return next(r for r in all_of(p, AUTHZ, mine(p)) if r["inputs"]["spec"].get("action", "ALLOW") == "ALLOW")[
        "inputs"
    ]["spec"]


def own_namespace_source(p: Plan) -> dict[str, Any]:
    return next(
        f["source"] for rule in allow_authz(p)["rules"] for f in rule.get("from", []) if "namespaces" in f["source"]
    )


def spec(plan: Plan, type_: str, tenant: str, role: str) -> dict[str, Any]:
    return find(plan, type_, tenant, role)["inputs"]["spec"]


def pod(plan: Plan, tenant: str | None = None) -> dict[str, Any]:
    return find(plan, DEPLOYMENT, tenant if tenant is not None else mine(plan))["inputs"]["spec"]["template"]["spec"]


def views(plan: Plan, tenant: str) -> dict[str, Any]:
    return next(r for r in all_of(plan, RELEASE) if r["inputs"].get("name") == f"grafana-{tenant}")["inputs"]["values"]


def oauth(plan: Plan) -> dict[str, Any]:
    return views(plan, mine(plan))["grafana.ini"]["auth.generic_oauth"]


def provider_in(plan: Plan, region: str) -> str:
    """The URN of an AWS provider for `region`, added when the plan has none."""
    for r in plan["resources"]:
        if r["type"] == "pulumi:providers:aws" and r["inputs"].get("region") == region:
            return r["urn"]
    like = next(r for r in plan["resources"] if r["type"] == "pulumi:providers:aws")
    new = copy.deepcopy(like)
    new["urn"], new["name"] = like["urn"].rsplit("::", 1)[0] + f"::aws-{region}", f"aws-{region}"
    new["inputs"] = {**like["inputs"], "region": region}
    plan["resources"].append(new)
    return new["urn"]


# ------------------------------------------------------------------------------ network (MT-3, MT-1)


def egress_rule_without_peers(p: Plan) -> None:
    # "the pods need 443 to something in the VPC": the `to` list is dropped, ports kept
    spec(p, NP, mine(p), "vpc-services")["egress"][0].pop("to")


def ingress_rule_without_from(p: Plan) -> None:
    spec(p, NP, mine(p), "router-ingress")["ingress"][0].pop("from")


def egress_to_the_internet(p: Plan) -> None:
    spec(p, NP, mine(p), "vpc-services")["egress"][0]["to"] = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def egress_to_all_private_space(p: Plan) -> None:
    spec(p, NP, mine(p), "vpc-services")["egress"][0]["to"] = [{"ipBlock": {"cidr": "10.0.0.0/8"}}]


def ingress_from_the_internet(p: Plan) -> None:
    spec(p, NP, mine(p), "router-ingress")["ingress"][0]["from"].append({"ipBlock": {"cidr": "0.0.0.0/0"}})


def egress_to_every_namespace(p: Plan) -> None:
    spec(p, NP, mine(p), "telemetry")["egress"][0]["to"][0]["namespaceSelector"] = {}


def ingress_from_other_tenant(p: Plan) -> None:
    selector = {"matchLabels": {"tenant": other(p)}}
    spec(p, NP, mine(p), "router-ingress")["ingress"][0]["from"].append({"namespaceSelector": selector})


def egress_to_every_tenant_namespace(p: Plan) -> None:
    selector = {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]}
    spec(p, NP, mine(p), "telemetry")["egress"][0]["to"].append({"namespaceSelector": selector})


def egress_to_namespaces_not_mine(p: Plan) -> None:
    selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [mine(p)]}]}
    spec(p, NP, mine(p), "telemetry")["egress"][0]["to"].append({"namespaceSelector": selector})


def no_default_deny(p: Plan) -> None:
    drop(p, find(p, NP, mine(p), "default-deny"))


def default_deny_ingress_only(p: Plan) -> None:
    spec(p, NP, mine(p), "default-deny")["policyTypes"] = ["Ingress"]


def no_dns_allow(p: Plan) -> None:
    drop(p, find(p, NP, mine(p), "allow-dns"))


def no_quota(p: Plan) -> None:
    drop(p, find(p, "kubernetes:core/v1:ResourceQuota", mine(p)))


def quota_without_pod_count(p: Plan) -> None:
    find(p, "kubernetes:core/v1:ResourceQuota", mine(p))["inputs"]["spec"]["hard"].pop("pods")


def no_limit_range(p: Plan) -> None:
    drop(p, find(p, "kubernetes:core/v1:LimitRange", mine(p)))


# ------------------------------------------------------------------------------ mesh and bindings (MT-4)


def authz_rule_without_from(p: Plan) -> None:
    # "let the batch callers in": a rule naming only paths
    allow_authz(p)["rules"].append({"to": [{"operation": {"paths": ["/batch/*"]}}]})


def authz_not_namespaces(p: Plan) -> None:
    allow_authz(p)["rules"].append({"from": [{"source": {"notNamespaces": ["kube-system"]}}]})


def authz_not_principals(p: Plan) -> None:
    allow_authz(p)["rules"].append(
        {"from": [{"source": {"notPrincipals": ["cluster.local/ns/kube-system/sa/default"]}}]}
    )


def authz_every_namespace(p: Plan) -> None:
    own_namespace_source(p)["namespaces"] = ["*"]


def authz_other_tenant_namespace(p: Plan) -> None:
    own_namespace_source(p)["namespaces"].append(other(p))


def authz_other_tenant_principal(p: Plan) -> None:
    principal = f"cluster.local/ns/{other(p)}/sa/carrier"
    allow_authz(p)["rules"].append({"from": [{"source": {"principals": [principal]}}]})


def authz_principal_wildcard_namespace(p: Plan) -> None:
    allow_authz(p)["rules"].append({"from": [{"source": {"principals": ["cluster.local/ns/*/sa/carrier"]}}]})


def binding_other_tenant_service_account(p: Plan) -> None:
    subjects = find(p, ROLE_BINDING, mine(p))["inputs"]["subjects"]
    subjects.append({"kind": "ServiceAccount", "name": "carrier", "namespace": other(p)})


def binding_other_tenant_group(p: Plan) -> None:
    subjects = find(p, ROLE_BINDING, mine(p))["inputs"]["subjects"]
    subjects.append({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"tenant:{other(p)}:operators"})


def service_account_assumes_other_tenants_role(p: Plan) -> None:
    account = find(p, "kubernetes:core/v1:ServiceAccount", mine(p), "carrier")
    account["inputs"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = arn_of_role(p, other(p), "carrier")


# ------------------------------------------------------------------------------ keys (MT-6)


def queue_with_other_tenants_key_arn(p: Plan) -> None:
    queue = find(p, QUEUE, mine(p), "carrier-jobs")
    queue["inputs"]["kmsMasterKeyId"] = key_arn(p, other(p))
    drop_deps(queue, KEY, p)


def log_group_with_platform_logs_alias(p: Plan) -> None:
    group = find(p, LOG_GROUP, mine(p))
    group["inputs"]["kmsKeyId"] = alias_arn(p, "platform-logs")
    drop_deps(group, KEY, p)


def tenant_secret(p: Plan) -> Resource:
    """The first tenant's secret; built beside its queue (encrypted with its key) when it has none."""
    found = all_of(p, SECRET, mine(p))
    if found:
        return found[0]
    queue = find(p, QUEUE, mine(p))
    key = next(r for r in all_of(p, KEY, mine(p)) if r["urn"] in queue["options"]["dependsOn"])
    inputs = {
        "name": f"insurance-platform/{p['stack']}/tenants/{mine(p)}/partner-api",
        "kmsKeyId": queue["inputs"]["kmsMasterKeyId"],
        "tags": queue["inputs"]["tags"],
    }
    return build(p, queue, SECRET, f"tenant-{mine(p)}-partner-api", inputs, dependsOn=[key["urn"]])


def secret_with_other_tenants_alias(p: Plan) -> None:
    secret = tenant_secret(p)
    secret["inputs"]["kmsKeyId"] = find(p, ALIAS, other(p), "key")["inputs"]["name"]
    drop_deps(secret, KEY, p)


def database_with_platform_key_id(p: Plan) -> None:
    db = find(p, RDS, mine(p))
    key_id = platform_alias(p, "platform-data")["inputs"]["targetKeyId"]
    db["inputs"]["kmsKeyId"] = f"arn:aws:kms:{p['region']}:{ACCOUNT}:key/{key_id}"
    drop_deps(db, KEY, p)


def database_secret_with_other_tenants_key(p: Plan) -> None:
    db = find(p, RDS, mine(p))
    db["inputs"]["masterUserSecretKmsKeyId"] = key_arn(p, other(p))


def topic_with_platform_key(p: Plan) -> None:
    topic = find(p, TOPIC, mine(p), "carrier-updates")
    topic["inputs"]["kmsMasterKeyId"] = alias_arn(p, "platform-platform-data")
    drop_deps(topic, KEY, p)


def bucket_encrypted_with_other_tenants_key(p: Plan) -> None:
    sse = find(p, BUCKET_SSE, mine(p), "documents")
    sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] = key_arn(p, other(p))
    drop_deps(sse, KEY, p)


def replica_encrypted_with_other_tenants_dr_key(p: Plan) -> None:
    config = find(p, REPLICATION, mine(p))
    rule = config["inputs"]["rules"][0]
    encryption = rule["destination"]["encryptionConfiguration"]
    encryption["replicaKmsKeyId"] = encryption["replicaKmsKeyId"].replace(mine(p), other(p))


# ------------------------------------------------------------------------------ references and wildcards (MT-7)


def role_policy_bucket_prefix_wildcard(p: Plan) -> None:
    policy = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    document = doc(policy)
    statement = allowing(document, "s3")
    statement["Resource"] = [f"arn:aws:s3:::ip-{p['stack'].split('-')[0]}-{p['region']}-*/*"]
    set_doc(policy, document)


def role_policy_queue_prefix_wildcard(p: Plan) -> None:
    policy = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    document = doc(policy)
    statement = allowing(document, "sqs")
    statement["Resource"] = [_list(statement["Resource"])[0].split(f"{mine(p)}-")[0] + "*"]
    set_doc(policy, document)


def role_policy_secrets_of_every_tenant(p: Plan) -> None:
    # "the services also need the shared partner credentials": every tenant's secrets path
    own = f"arn:aws:secretsmanager:{p['region']}:{ACCOUNT}:secret:insurance-platform/{p['stack']}/tenants/"
    add_statement(
        find(p, ROLE_POLICY, mine(p), "permissions-carrier"),
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": own + "*"},
    )


def role_policy_names_other_tenants_queue(p: Plan) -> None:
    mine_policy = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    theirs = doc(find(p, ROLE_POLICY, other(p), "permissions-carrier"))
    add_statement(mine_policy, allowing(theirs, "sqs") | {"Sid": "Peek"})


def queue_policy_admits_other_tenants_role(p: Plan) -> None:
    policy = find(p, QUEUE_POLICY, mine(p), "carrier-jobs")
    document = doc(policy)
    admitting(document)["Principal"]["AWS"].append(arn_of_role(p, other(p), "carrier"))
    set_doc(policy, document)


def bucket_policy_admits_other_tenants_role(p: Plan) -> None:
    policy = find(p, BUCKET_POLICY, mine(p), "documents")
    bucket = bucket_arn(policy) + "/*"
    add_statement(
        policy,
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": arn_of_role(p, other(p), "carrier")},
            "Action": "s3:GetObject",
            "Resource": bucket,
        },
    )


def topic_policy_admits_other_tenants_role(p: Plan) -> None:
    policy = find(p, TOPIC_POLICY, mine(p), "carrier-updates")
    document = doc(policy)
    admitting(document)["Principal"]["AWS"].append(arn_of_role(p, other(p), "policy"))
    set_doc(policy, document)


def key_policy_admits_other_tenants_role(p: Plan) -> None:
    key = find(p, KEY, mine(p))
    document = doc(key)
    own_role = arn_of_role(p, mine(p), "carrier")
    statement = next(
        st
        for st in document["Statement"]
        if st["Effect"] == "Allow" and own_role in _list((st.get("Principal") or {}).get("AWS"))
    )
    statement["Principal"]["AWS"] = [*_list(statement["Principal"]["AWS"]), arn_of_role(p, other(p), "carrier")]
    set_doc(key, document)


def trust_other_tenants_service_account(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "identity-carrier")
    document = doc(role, "assumeRolePolicy")
    equals = document["Statement"][0]["Condition"]["StringEquals"]
    sub = next(k for k in equals if k.endswith(":sub"))
    equals[sub] = f"system:serviceaccount:{other(p)}:carrier"
    set_doc(role, document, "assumeRolePolicy")


def operator_trust_caller_pattern_of_every_tenant(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "operators")
    document = doc(role, "assumeRolePolicy")
    pattern = arn_of_role(p, mine(p), "operators").split(mine(p))[0] + "*"
    document["Statement"][0]["Condition"] = {"ArnLike": {"aws:PrincipalArn": pattern}}
    set_doc(role, document, "assumeRolePolicy")


def role_policy_attached_to_other_tenants_role(p: Plan) -> None:
    # copy-paste of a tenant's inline policy onto the neighbour's role: the role input is the other's
    policy = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    theirs = find(p, ROLE, other(p), "identity-carrier")
    policy["inputs"]["role"] = theirs["inputs"]["name"]
    drop_deps(policy, ROLE, p)


def metrics_policy_attached_to_other_tenants_role(p: Plan) -> None:
    # one tenant's component manages a permission of the neighbour's role: nothing tenant-specific
    # in the document, but the first tenant's deploys now change the second tenant's permissions
    like = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    theirs = find(p, ROLE, other(p), "identity-carrier")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}],
    }
    build(
        p,
        like,
        ROLE_POLICY,
        f"{like['name']}-metrics",
        {"role": theirs["inputs"]["name"], "policy": json.dumps(document)},
    )


def platform_bucket_policy_on_tenant_bucket(p: Plan) -> None:
    # a platform change (outside the tenant's component) adds a bucket policy to a tenant bucket:
    # it belongs to the tenant whose bucket it governs, and admits another tenant
    bucket = find(p, BUCKET, mine(p), "documents")
    platform = find(p, ROLE_POLICY, "", "")
    name = bucket["inputs"]["bucket"]
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": arn_of_role(p, other(p), "carrier")},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }
    build(
        p,
        platform,
        BUCKET_POLICY,
        "shared-read",
        {"bucket": name, "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
    )
    p["resources"][-1]["tenant"] = None


def platform_role_policy_on_tenant_role(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "identity-carrier")
    theirs = allowing(doc(find(p, ROLE_POLICY, other(p), "permissions-carrier")), "sqs")
    platform = find(p, ROLE_POLICY, "", "")
    document = {"Version": "2012-10-17", "Statement": [theirs]}
    build(p, platform, ROLE_POLICY, "carrier-extra", {"role": role["inputs"]["name"], "policy": json.dumps(document)})
    p["resources"][-1]["tenant"] = None


# ------------------------------------------------------------------------------ principals (MT-9)


def queue_policy_account_root_with_account_condition(p: Plan) -> None:
    policy = find(p, QUEUE_POLICY, mine(p), "carrier-jobs")
    document = doc(policy)
    statement = admitting(document)
    statement["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    statement["Condition"] = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    set_doc(policy, document)


def topic_policy_everyone_in_the_organization(p: Plan) -> None:
    policy = find(p, TOPIC_POLICY, mine(p), "carrier-updates")
    document = doc(policy)
    statement = admitting(document)
    statement["Principal"] = "*"
    statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}
    set_doc(policy, document)


def bucket_policy_bare_account(p: Plan) -> None:
    policy = find(p, BUCKET_POLICY, mine(p), "documents")
    bucket = bucket_arn(policy) + "/*"
    add_statement(
        policy, {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:GetObject", "Resource": bucket}
    )


def key_policy_enable_iam_permissions(p: Plan) -> None:
    key = find(p, KEY, mine(p))
    add_statement(
        key,
        {
            "Sid": "EnableIamUserPermissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
    )


def secret_policy_account_root(p: Plan) -> None:
    secret = tenant_secret(p)
    arn = f"arn:aws:secretsmanager:{p['region']}:{ACCOUNT}:secret:{secret['inputs']['name']}"
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    build(
        p,
        secret,
        "aws:secretsmanager/secretPolicy:SecretPolicy",
        f"{secret['name']}-policy",
        {"secretArn": arn, "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
    )
    p["resources"][-1]["options"]["dependsOn"] = [secret["urn"]]


# ------------------------------------------------------------------------------ trust (IAM-3)


def operator_trust_without_condition(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "operators")
    document = doc(role, "assumeRolePolicy")
    document["Statement"][0].pop("Condition")
    set_doc(role, document, "assumeRolePolicy")


def operator_trust_mfa_only(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "operators")
    document = doc(role, "assumeRolePolicy")
    document["Statement"][0]["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    set_doc(role, document, "assumeRolePolicy")


def operator_trust_account_condition(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "operators")
    document = doc(role, "assumeRolePolicy")
    document["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    set_doc(role, document, "assumeRolePolicy")


def irsa_trust_any_service_account_of_namespace(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "identity-carrier")
    document = doc(role, "assumeRolePolicy")
    condition = document["Statement"][0]["Condition"]
    sub = next(k for k in condition["StringEquals"] if k.endswith(":sub"))
    condition["StringLike"] = {sub: f"system:serviceaccount:{mine(p)}:*"}
    del condition["StringEquals"][sub]
    set_doc(role, document, "assumeRolePolicy")


def irsa_trust_without_audience(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "identity-policy")
    document = doc(role, "assumeRolePolicy")
    equals = document["Statement"][0]["Condition"]["StringEquals"]
    del equals[next(k for k in equals if k.endswith(":aud"))]
    set_doc(role, document, "assumeRolePolicy")


def secrets_role_trusts_everyone(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "identity-policy")
    document = doc(role, "assumeRolePolicy")
    document["Statement"][0]["Principal"] = {"AWS": "*"}
    set_doc(role, document, "assumeRolePolicy")


# ------------------------------------------------------------------------------ IAM-1, IAM-2


def role_policy_service_wildcard(p: Plan) -> None:
    policy = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    document = doc(policy)
    allowing(document, "sqs")["Action"] = "sqs:*"
    set_doc(policy, document)


def role_policy_decrypt_everything(p: Plan) -> None:
    add_statement(
        find(p, ROLE_POLICY, mine(p), "permissions-carrier"),
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
    )


def role_policy_not_action(p: Plan) -> None:
    policy = find(p, ROLE_POLICY, mine(p), "permissions-policy")
    document = doc(policy)
    statement = document["Statement"][0]
    statement["NotAction"] = "iam:*"
    statement.pop("Action")
    set_doc(policy, document)


def admin_policy_on_operators(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "operators")
    build(
        p,
        role,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        f"{role['name']}-admin",
        {"role": role["inputs"]["name"], "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )


def power_user_on_carrier(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "identity-carrier")
    build(
        p,
        role,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        f"{role['name']}-power",
        {"role": role["inputs"]["name"], "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
    )


# ------------------------------------------------------------------------------ Kubernetes RBAC (K8S-RBAC-1)


def operators_get_secrets_and_create_pods(p: Plan) -> None:
    rules = find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"]
    rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    rules.append({"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete"]})


def operators_get_any_secret(p: Plan) -> None:
    find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"].append(
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
    )


def operators_list_secrets(p: Plan) -> None:
    rules = find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"]
    rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"], "resourceNames": ["app-config"]})


def operators_exec(p: Plan) -> None:
    find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"].append(
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
    )


def operators_every_verb(p: Plan) -> None:
    find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"][0]["verbs"] = ["*"]


def operators_escalate(p: Plan) -> None:
    rules = find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"]
    rules.append({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate", "bind"]})


def operators_bound_to_admin(p: Plan) -> None:
    find(p, ROLE_BINDING, mine(p))["inputs"]["roleRef"]["name"] = "admin"


def operators_cluster_wide(p: Plan) -> None:
    binding = find(p, ROLE_BINDING, mine(p))
    inputs = copy.deepcopy(binding["inputs"])
    inputs["metadata"].pop("namespace", None)
    inputs["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    build(
        p, binding, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", f"{binding['name']}-cluster", inputs
    )


# ------------------------------------------------------------------------------ observability (OBS-*)


def grafana_maps_operators_to_admin(p: Plan) -> None:
    oauth(p)["role_attribute_path"] = f"contains(groups[*], '{mine(p)}-operators') && 'Admin' || 'Viewer'"


def grafana_allows_assigning_server_admin(p: Plan) -> None:
    oauth(p)["allow_assign_grafana_admin"] = True


def grafana_skips_role_sync(p: Plan) -> None:
    oauth(p)["skip_org_role_sync"] = True


def grafana_new_users_editors(p: Plan) -> None:
    views(p, mine(p))["grafana.ini"]["users"]["auto_assign_org_role"] = "Editor"


def grafana_anonymous(p: Plan) -> None:
    views(p, mine(p))["grafana.ini"]["auth.anonymous"]["enabled"] = True


def grafana_admits_other_operators(p: Plan) -> None:
    oauth(p)["allowed_groups"] = f"{mine(p)}-operators {other(p)}-operators"


def grafana_loads_every_dashboard(p: Plan) -> None:
    views(p, mine(p))["sidecar"]["dashboards"]["labelValue"] = ""


def grafana_data_source_two_tenants(p: Plan) -> None:
    # the platform's all-tenant Grafana: "one data source for both tenants' logs"
    grafana = next(r for r in all_of(p, RELEASE) if r["inputs"].get("name") == "grafana")
    source = grafana["inputs"]["values"]["datasources"]["datasources.yaml"]["datasources"][0]
    source["secureJsonData"]["httpHeaderValue1"] = f"{mine(p)}|{other(p)}"


def grafana_views_read_another_tenant(p: Plan) -> None:
    source = views(p, mine(p))["datasources"]["datasources.yaml"]["datasources"][0]
    source["name"] = source["name"].replace(mine(p), other(p))
    source["secureJsonData"]["httpHeaderValue1"] = other(p)


def platform_grafana_behind_ingress(p: Plan) -> None:
    grafana = next(r for r in all_of(p, RELEASE) if r["inputs"].get("name") == "grafana")
    grafana["inputs"]["values"].setdefault("ingress", {})["enabled"] = True


def no_database_cpu_alarm(p: Plan) -> None:
    drop(p, find(p, "aws:cloudwatch/metricAlarm:MetricAlarm", mine(p), "db-cpu"))


def service_alarm_without_action(p: Plan) -> None:
    find(p, "aws:cloudwatch/metricAlarm:MetricAlarm", mine(p), "service-5xx")["inputs"]["alarmActions"] = []


def no_critical_subscribers(p: Plan) -> None:
    for subscription in all_of(p, "aws:sns/topicSubscription:TopicSubscription", mine(p), "critical"):
        drop(p, subscription)


# ------------------------------------------------------------------------------ cache (MT-10)


def cache_default_user_enabled(p: Plan) -> None:
    # "give the default user a password instead": still the one user every client can be
    user = find(p, CACHE_USER, None, "default")["inputs"]
    user.update(accessString="on ~* +@all", authenticationMode={"type": "password", "passwordCount": 1})


def tenant_cache_user(p: Plan, access: str, mode: str = "iam") -> None:
    """The first tenant's cache user given `access`: its own user when the plan has one, else one
    built beside the default user."""
    tenant = mine(p)
    existing = all_of(p, CACHE_USER, tenant)
    if existing:
        existing[0]["inputs"].update(accessString=access, authenticationMode={"type": mode})
        return
    like = find(p, CACHE_USER, None, "default")
    user_id = like["inputs"]["userId"].removesuffix("-default") + f"-{tenant}"
    inputs = {
        "userId": user_id,
        "userName": user_id,
        "engine": "redis",
        "authenticationMode": {"type": mode},
        "accessString": access,
        "tags": {**find(p, QUEUE, tenant)["inputs"]["tags"], "component": "cache"},
    }
    build(p, like, CACHE_USER, f"cache-{tenant}", inputs)
    p["resources"][-1]["tenant"] = tenant


def tenant_cache_user_every_key(p: Plan) -> None:
    tenant_cache_user(p, "on ~* +@read +@write")


def tenant_cache_user_other_prefix(p: Plan) -> None:
    tenant_cache_user(p, f"on ~{mine(p)}:* ~{other(p)}:* +@read +@write")


def tenant_cache_user_all_commands(p: Plan) -> None:
    tenant_cache_user(p, f"on ~{mine(p)}:* +@all")


def tenant_cache_user_without_password(p: Plan) -> None:
    tenant_cache_user(p, f"on ~{mine(p)}:* +@read", mode="no-password-required")


# ------------------------------------------------------------------------------ residency (RES-*)


def queue_policy_in_another_region(p: Plan) -> None:
    # only one tenant of dev is restricted to us-east-1: the first one
    policy = find(p, QUEUE_POLICY, "demo-basic", "carrier-jobs")
    policy["provider"] = provider_in(p, "us-west-2")


def bucket_in_another_region(p: Plan) -> None:
    bucket = find(p, BUCKET, "demo-basic", "documents")
    bucket["provider"] = provider_in(p, "us-west-2")


def backup_copy_to_europe(p: Plan) -> None:
    plan = find(p, "aws:backup/plan:Plan", mine(p))
    plan["inputs"]["rules"][0]["copyActions"] = [
        {"destinationVaultArn": f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:dr", "lifecycle": {"deleteAfter": 7}}
    ]


def replication_to_a_bucket_in_europe(p: Plan) -> None:
    rule = find(p, REPLICATION, mine(p))["inputs"]["rules"][0]
    bucket = rule["destination"]["bucket"]
    peer = next(r for r in ("us-west-2", "us-east-1", "ca-west-1", "ca-central-1") if r in bucket)
    rule["destination"]["bucket"] = bucket.replace(peer, "eu-west-1")


def replication_key_in_europe(p: Plan) -> None:
    encryption = find(p, REPLICATION, mine(p))["inputs"]["rules"][0]["destination"]["encryptionConfiguration"]
    parts = encryption["replicaKmsKeyId"].split(":")
    parts[3] = "eu-west-1"
    encryption["replicaKmsKeyId"] = ":".join(parts).replace(f"/{p['stack'].split('-', 1)[1]}/", "/prod-eu-west-1/")


def replication_rule_added_for_every_prefix_to_us(p: Plan) -> None:
    # Canadian tenant: "replicate everything to the US DR bucket too"
    config = find(p, REPLICATION, mine(p))
    extra = copy.deepcopy(config["inputs"]["rules"][0])
    extra["id"], extra["priority"] = "everything-to-us", 2
    extra["destination"]["bucket"] = f"arn:aws:s3:::ip-prod-us-east-1-{mine(p)}-data-dr"
    extra["destination"]["encryptionConfiguration"]["replicaKmsKeyId"] = (
        f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/insurance-platform/prod-us-east-1/tenant/{mine(p)}/dr"
    )
    config["inputs"]["rules"].append(extra)


def platform_network_policy_in_tenant_namespace(p: Plan) -> None:
    # an add-on (scraping, say) puts an unlabelled policy into the tenant's namespace: it is the
    # tenant's through its namespace, and admits every namespace
    like = find(p, RELEASE, "")
    inputs = {
        "metadata": {"name": "allow-scrape", "namespace": mine(p)},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": {}}]}]},
    }
    build(p, like, NP, f"observability-scrape-{mine(p)}", inputs)
    p["resources"][-1]["tenant"] = None


def automated_backups_from_europe(p: Plan) -> None:
    # the source database lives in another stack: only its component says whose the copy is
    copy_ = find(p, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", None, "")
    parts = copy_["inputs"]["sourceDbInstanceArn"].split(":")
    parts[3] = "eu-west-1"
    copy_["inputs"]["sourceDbInstanceArn"] = ":".join(parts)


def default_provider(p: Plan) -> None:
    find(p, LOG_GROUP, "")["provider"] = None


def origin_in_another_region(p: Plan) -> None:
    distribution = find(p, CF, "demo-basic")
    origin = distribution["inputs"]["origins"][0]
    origin["domainName"] = origin["domainName"].replace("us-east-1", "us-west-2")


# ------------------------------------------------------------------------------ attribution and databases (MT-8, MT-5)


def tenant_resource_without_tier(p: Plan) -> None:
    del find(p, QUEUE, mine(p))["inputs"]["tags"]["tier"]


def tenant_resource_without_tenant_tag(p: Plan) -> None:
    del find(p, LOG_GROUP, mine(p), "observability-logs")["inputs"]["tags"]["tenant"]


def tenant_config_map_without_tier(p: Plan) -> None:
    del find(p, "kubernetes:core/v1:ConfigMap", mine(p), "services")["inputs"]["metadata"]["labels"]["tier"]


def second_primary_database(p: Plan) -> None:
    db = find(p, RDS, mine(p))
    twin = copy.deepcopy(db)
    twin["urn"], twin["name"] = db["urn"] + "-reporting", db["name"] + "-reporting"
    twin["inputs"]["identifier"] += "-reporting"
    p["resources"].append(twin)
    # created through TenantDatabase, so watched like the first
    for alarm in all_of(p, "aws:cloudwatch/metricAlarm:MetricAlarm", mine(p), "db-"):
        copied = copy.deepcopy(alarm)
        copied["urn"] += "-reporting"
        copied["inputs"]["dimensions"]["DBInstanceIdentifier"] = twin["inputs"]["identifier"]
        p["resources"].append(copied)


def database_engine_mysql(p: Plan) -> None:
    find(p, RDS, mine(p))["inputs"]["engine"] = "mysql"


# ------------------------------------------------------------------------------ single-resource families


def edit(type_: str, path: str, value: Any, tenant: str | None = "", role: str = "") -> Mutation:
    """Set `path` (dots; '[n]' indexes a list) of the first matching resource to `value`; `tenant`
    "" means the platform's resource, None any, "*" the plan's first tenant."""

    def mutate(p: Plan) -> None:
        owner = mine(p) if tenant == "*" else tenant
        target: Any = find(p, type_, owner, role)["inputs"]
        parts = path.split(".")
        for part in parts[:-1]:
            name, _, index = part.partition("[")
            target = target[name] if name else target
            if index:
                target = target[int(index[:-1])]
        if value is DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value

    return mutate


DELETE = object()
T = "*"  # the plan's first tenant


def remove(type_: str, tenant: str | None = "", role: str = "") -> Mutation:
    return lambda p: drop(p, find(p, type_, mine(p) if tenant == T else tenant, role))


def container(p: Plan) -> dict[str, Any]:
    return pod(p)["containers"][0]


def privileged(p: Plan) -> None:
    container(p)["securityContext"]["privileged"] = True


def run_as_root(p: Plan) -> None:
    container(p)["securityContext"]["runAsNonRoot"] = False
    pod(p).get("securityContext", {}).pop("runAsNonRoot", None)


def host_network(p: Plan) -> None:
    pod(p)["hostNetwork"] = True


def sys_admin(p: Plan) -> None:
    container(p)["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]


def host_path(p: Plan) -> None:
    pod(p).setdefault("volumes", []).append({"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}})


def writable_root(p: Plan) -> None:
    container(p)["securityContext"]["readOnlyRootFilesystem"] = False


def no_limits(p: Plan) -> None:
    container(p)["resources"].pop("limits")


def latest_image(p: Plan) -> None:
    image = container(p)["image"]
    container(p)["image"] = image.split("@")[0].rsplit(":", 1)[0] + ":latest"


def tenant_image_by_tag(p: Plan) -> None:
    image = container(p)["image"]
    container(p)["image"] = image.split("@")[0] + ":2.3.1"


def image_from_docker_hub(p: Plan) -> None:
    container(p)["image"] = "docker.io/library/redis@sha256:" + "a" * 64


def load_balancer_service(p: Plan) -> None:
    find(p, SERVICE, mine(p))["inputs"]["spec"]["type"] = "LoadBalancer"


def node_port_service(p: Plan) -> None:
    find(p, SERVICE, mine(p))["inputs"]["spec"]["type"] = "NodePort"


def config_map_in_default(p: Plan) -> None:
    find(p, "kubernetes:core/v1:ConfigMap", mine(p))["inputs"]["metadata"]["namespace"] = "default"


def tenant_namespace_baseline(p: Plan) -> None:
    labels = find(p, NAMESPACE, mine(p))["inputs"]["metadata"]["labels"]
    labels["pod-security.kubernetes.io/enforce"] = "baseline"


def observability_namespace_privileged(p: Plan) -> None:
    namespace = next(r for r in all_of(p, NAMESPACE, "") if r["inputs"]["metadata"]["name"] == "observability")
    namespace["inputs"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"


def token_automount(p: Plan) -> None:
    pod(p)["automountServiceAccountToken"] = True


def secret_in_env(p: Plan) -> None:
    container(p).setdefault("env", []).append(
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    )


def http_listener_forwards(p: Plan) -> None:
    listener = next(r for r in all_of(p, "aws:lb/listener:Listener") if r["inputs"]["protocol"] == "HTTP")
    listener["inputs"]["defaultActions"] = [{"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:x"}]


def viewer_http(p: Plan) -> None:
    find(p, CF, mine(p))["inputs"]["defaultCacheBehavior"]["viewerProtocolPolicy"] = "allow-all"


def page_caching(p: Plan) -> None:
    # CachingOptimized instead of CachingDisabled
    find(p, CF, mine(p))["inputs"]["defaultCacheBehavior"]["cachePolicyId"] = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def viewer_host_forwarded(p: Plan) -> None:
    # AllViewer instead of AllViewerExceptHostHeader
    find(p, CF, mine(p))["inputs"]["defaultCacheBehavior"]["originRequestPolicyId"] = (
        "216adef6-5c7f-47e4-b989-5492eafa07d3"
    )


def single_region_behavior(p: Plan) -> None:
    distribution = next(d for d in all_of(p, CF) if len(d["inputs"]["origins"]) > 1)
    behavior = distribution["inputs"]["defaultCacheBehavior"]
    behavior["targetOriginId"] = distribution["inputs"]["origins"][0]["originId"]


def no_waf_association(p: Plan) -> None:
    drop(p, find(p, "aws:wafv2/webAclAssociation:WebAclAssociation", "", "entry"))


def no_api_waf_association(p: Plan) -> None:
    drop(p, find(p, "aws:wafv2/webAclAssociation:WebAclAssociation", "", "api-waf"))


def no_flow_log(p: Plan) -> None:
    drop(p, find(p, "aws:ec2/flowLog:FlowLog"))


def no_audit_log_type(p: Plan) -> None:
    cluster = find(p, "eks:index:Cluster")
    cluster["inputs"]["enabledClusterLogTypes"] = [
        t for t in cluster["inputs"]["enabledClusterLogTypes"] if t != "audit"
    ]


def audit_lock_governance(p: Plan) -> None:
    lock = find(p, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    lock["inputs"]["rule"]["defaultRetention"]["mode"] = "GOVERNANCE"


def tls_deny_removed(p: Plan) -> None:
    policy = find(p, BUCKET_POLICY, mine(p), "documents")
    document = doc(policy)
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "DenyInsecureTransport"]
    document["Statement"].append(
        {
            "Sid": "Placeholder",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteBucket",
            "Resource": bucket_arn(policy),
        }
    )
    set_doc(policy, document)


def database_open_to_internet(p: Plan) -> None:
    rule = find(p, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    rule["inputs"]["cidrIpv4"] = "0.0.0.0/0"


def literal_master_password(p: Plan) -> None:
    db = find(p, RDS, mine(p))
    db["inputs"].pop("manageMasterUserPassword", None)
    db["inputs"]["password"] = "Correct-Horse-42"


def bucket_key_off(p: Plan) -> None:
    find(p, BUCKET_SSE, mine(p), "documents")["inputs"]["rules"][0]["bucketKeyEnabled"] = False


def bucket_sse_s3(p: Plan) -> None:
    rule = find(p, BUCKET_SSE, mine(p), "documents")["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]
    rule["sseAlgorithm"] = "AES256"
    rule.pop("kmsMasterKeyId")


def queue_sse_sqs(p: Plan) -> None:
    queue = find(p, QUEUE, mine(p), "policy-jobs")
    queue["inputs"].pop("kmsMasterKeyId")
    queue["inputs"]["sqsManagedSseEnabled"] = True
    drop_deps(queue, KEY, p)


def performance_insights_without_key(p: Plan) -> None:
    db = find(p, RDS, mine(p))
    db["inputs"]["performanceInsightsEnabled"] = True
    db["inputs"].pop("performanceInsightsKmsKeyId", None)


def bucket_policy_public(p: Plan) -> None:
    # "let the dashboards fetch the ruler files": a platform bucket readable by anyone
    policy = find(p, BUCKET_POLICY, "", "loki-ruler")
    bucket = bucket_arn(policy) + "/*"
    add_statement(policy, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": bucket})


def tls_parameter_off(p: Plan) -> None:
    parameters = find(p, "aws:rds/parameterGroup:ParameterGroup")["inputs"]["parameters"]
    next(x for x in parameters if x["name"] == "require_secure_transport")["value"] = "0"


# ------------------------------------------------------------------------------ the corpus

CASES: list[tuple[str, str, str, Mutation]] = [
    # network: tenant network policies (MT-3) and namespace guardrails (MT-1)
    ("egress rule without peers", "dev", "MT-3", egress_rule_without_peers),
    ("ingress rule without from", "dev", "MT-3", ingress_rule_without_from),
    ("egress to 0.0.0.0/0", "dev", "MT-3", egress_to_the_internet),
    ("egress to 10.0.0.0/8", "dev", "MT-3", egress_to_all_private_space),
    ("ingress from 0.0.0.0/0", "dev", "MT-3", ingress_from_the_internet),
    ("egress to every namespace", "dev", "MT-3", egress_to_every_namespace),
    ("ingress from another tenant", "dev", "MT-3", ingress_from_other_tenant),
    ("egress to every tenant namespace", "dev", "MT-3", egress_to_every_tenant_namespace),
    ("egress to every namespace but mine", "dev", "MT-3", egress_to_namespaces_not_mine),
    ("egress without peers in another stack", "prod-us-east-1", "MT-3", egress_rule_without_peers),
    ("no default deny", "dev", "MT-1", no_default_deny),
    ("default deny for ingress only", "dev", "MT-1", default_deny_ingress_only),
    ("no DNS allow", "dev", "MT-1", no_dns_allow),
    ("no resource quota", "dev", "MT-1", no_quota),
    ("quota without pod count", "dev", "MT-1", quota_without_pod_count),
    ("no limit range", "dev", "MT-1", no_limit_range),
    # mesh and bindings (MT-4)
    ("authorization rule without from", "dev", "MT-4", authz_rule_without_from),
    ("authorization notNamespaces", "dev", "MT-4", authz_not_namespaces),
    ("authorization notPrincipals", "dev", "MT-4", authz_not_principals),
    ("authorization every namespace", "dev", "MT-4", authz_every_namespace),
    ("authorization other tenant's namespace", "dev", "MT-4", authz_other_tenant_namespace),
    ("authorization other tenant's principal", "dev", "MT-4", authz_other_tenant_principal),
    ("authorization principal in any namespace", "dev", "MT-4", authz_principal_wildcard_namespace),
    ("binding other tenant's service account", "dev", "MT-4", binding_other_tenant_service_account),
    ("binding other tenant's group", "dev", "MT-4", binding_other_tenant_group),
    ("service account assumes other tenant's role", "dev", "MT-4", service_account_assumes_other_tenants_role),
    # keys (MT-6)
    ("queue with another tenant's key ARN", "dev", "MT-6", queue_with_other_tenants_key_arn),
    ("log group with the platform logs alias", "dev", "MT-6", log_group_with_platform_logs_alias),
    ("secret with another tenant's alias", "dev", "MT-6", secret_with_other_tenants_alias),
    ("database with the platform key by id", "dev", "MT-6", database_with_platform_key_id),
    ("master secret with another tenant's key", "dev", "MT-6", database_secret_with_other_tenants_key),
    ("topic with the platform data alias", "dev", "MT-6", topic_with_platform_key),
    ("bucket with another tenant's key", "dev", "MT-6", bucket_encrypted_with_other_tenants_key),
    ("replica with another tenant's DR key", "prod-us-east-1", "MT-6", replica_encrypted_with_other_tenants_dr_key),
    # references and wildcards (MT-7)
    ("bucket ARN prefix wildcard", "dev", "MT-7", role_policy_bucket_prefix_wildcard),
    ("queue ARN prefix wildcard", "dev", "MT-7", role_policy_queue_prefix_wildcard),
    ("secrets of every tenant", "dev", "MT-7", role_policy_secrets_of_every_tenant),
    ("role policy names another tenant's queue", "dev", "MT-7", role_policy_names_other_tenants_queue),
    ("queue policy admits another tenant's role", "dev", "MT-7", queue_policy_admits_other_tenants_role),
    ("bucket policy admits another tenant's role", "dev", "MT-7", bucket_policy_admits_other_tenants_role),
    ("topic policy admits another tenant's role", "dev", "MT-7", topic_policy_admits_other_tenants_role),
    ("key policy admits another tenant's role", "dev", "MT-7", key_policy_admits_other_tenants_role),
    ("trust of another tenant's service account", "dev", "MT-7", trust_other_tenants_service_account),
    ("operator trust for every tenant's callers", "dev", "MT-7", operator_trust_caller_pattern_of_every_tenant),
    ("role policy attached to another tenant's role", "dev", "MT-7", role_policy_attached_to_other_tenants_role),
    ("platform bucket policy on a tenant bucket", "dev", "MT-7", platform_bucket_policy_on_tenant_bucket),
    ("metrics policy on another tenant's role", "dev", "MT-7", metrics_policy_attached_to_other_tenants_role),
    ("platform role policy on a tenant role", "dev", "MT-7", platform_role_policy_on_tenant_role),
    (
        "queue policy admits another tenant (us-east-1)",
        "prod-us-east-1",
        "MT-7",
        queue_policy_admits_other_tenants_role,
    ),
    # principals (MT-9)
    ("queue policy: account root + account condition", "dev", "MT-9", queue_policy_account_root_with_account_condition),
    ("topic policy: everyone in the organization", "dev", "MT-9", topic_policy_everyone_in_the_organization),
    ("bucket policy: bare account id", "dev", "MT-9", bucket_policy_bare_account),
    ("key policy: enable IAM permissions", "dev", "MT-9", key_policy_enable_iam_permissions),
    ("secret policy: account root", "dev", "MT-9", secret_policy_account_root),
    # trust (IAM-3)
    ("operator trust without condition", "dev", "IAM-3", operator_trust_without_condition),
    ("operator trust with MFA only", "dev", "IAM-3", operator_trust_mfa_only),
    ("operator trust with an account condition", "dev", "IAM-3", operator_trust_account_condition),
    ("IRSA trust for every service account", "dev", "IAM-3", irsa_trust_any_service_account_of_namespace),
    ("IRSA trust without audience", "dev", "IAM-3", irsa_trust_without_audience),
    ("role trusts everyone", "dev", "IAM-3", secrets_role_trusts_everyone),
    # identity policies (IAM-1, IAM-2)
    ("sqs:* on the tenant queue", "dev", "IAM-1", role_policy_service_wildcard),
    ("kms:Decrypt on *", "dev", "IAM-1", role_policy_decrypt_everything),
    ("NotAction", "dev", "IAM-1", role_policy_not_action),
    ("AdministratorAccess on operators", "dev", "IAM-2", admin_policy_on_operators),
    ("PowerUserAccess on a workload", "dev", "IAM-2", power_user_on_carrier),
    # Kubernetes RBAC (K8S-RBAC-1)
    ("get secrets + create pods", "dev", "K8S-RBAC-1", operators_get_secrets_and_create_pods),
    ("get any secret", "dev", "K8S-RBAC-1", operators_get_any_secret),
    ("list secrets", "dev", "K8S-RBAC-1", operators_list_secrets),
    ("exec into pods", "dev", "K8S-RBAC-1", operators_exec),
    ("every verb", "dev", "K8S-RBAC-1", operators_every_verb),
    ("escalate and bind", "dev", "K8S-RBAC-1", operators_escalate),
    ("operators bound to admin", "dev", "K8S-RBAC-1", operators_bound_to_admin),
    ("operators bound cluster-wide", "dev", "K8S-RBAC-1", operators_cluster_wide),
    # observability (OBS-*)
    ("Grafana maps operators to Admin", "dev", "OBS-3", grafana_maps_operators_to_admin),
    ("Grafana allows assigning server admin", "dev", "OBS-3", grafana_allows_assigning_server_admin),
    ("Grafana skips role sync", "dev", "OBS-3", grafana_skips_role_sync),
    ("Grafana new users are editors", "dev", "OBS-3", grafana_new_users_editors),
    ("Grafana anonymous access", "dev", "OBS-3", grafana_anonymous),
    ("Grafana admits another tenant's operators", "dev", "OBS-3", grafana_admits_other_operators),
    ("Grafana loads every dashboard", "dev", "OBS-3", grafana_loads_every_dashboard),
    ("platform Grafana behind an ingress", "dev", "OBS-3", platform_grafana_behind_ingress),
    ("data source reads two tenants", "dev", "OBS-2", grafana_data_source_two_tenants),
    ("tenant views read another tenant", "dev", "OBS-3", grafana_views_read_another_tenant),
    ("no database CPU alarm", "dev", "OBS-1", no_database_cpu_alarm),
    ("service alarm without action", "dev", "OBS-1", service_alarm_without_action),
    ("no critical alert subscriber", "dev", "OBS-1", no_critical_subscribers),
    # cache (MT-10)
    ("default cache user enabled", "dev", "MT-10", cache_default_user_enabled),
    ("tenant cache user on every key", "dev", "MT-10", tenant_cache_user_every_key),
    ("tenant cache user on another tenant's prefix", "dev", "MT-10", tenant_cache_user_other_prefix),
    ("tenant cache user with every command", "dev", "MT-10", tenant_cache_user_all_commands),
    ("tenant cache user without password", "dev", "MT-10", tenant_cache_user_without_password),
    # residency (RES-*)
    ("queue policy in another region", "dev", "RES-1", queue_policy_in_another_region),
    ("bucket in another region", "dev", "RES-1", bucket_in_another_region),
    ("backup copy to Europe", "dev", "RES-3", backup_copy_to_europe),
    ("replication to a bucket in Europe", "prod-us-east-1", "RES-3", replication_to_a_bucket_in_europe),
    ("replication key in Europe", "prod-us-east-1", "RES-3", replication_key_in_europe),
    (
        "Canadian replication widened to the US",
        "prod-ca-central-1",
        "RES-3",
        replication_rule_added_for_every_prefix_to_us,
    ),
    ("default AWS provider", "dev", "RES-2", default_provider),
    ("platform network policy in a tenant namespace", "dev", "MT-3", platform_network_policy_in_tenant_namespace),
    ("automated backups replicated from Europe", "prod-us-east-1", "RES-3", automated_backups_from_europe),
    ("front-end origin in another region", "dev", "RES-4", origin_in_another_region),
    # attribution and databases (MT-8, MT-5)
    ("tenant queue without tier tag", "dev", "MT-8", tenant_resource_without_tier),
    ("tenant log group without tenant tag", "dev", "MT-8", tenant_resource_without_tenant_tag),
    ("tenant config map without tier label", "dev", "MT-8", tenant_config_map_without_tier),
    ("second primary database", "dev", "MT-5", second_primary_database),
    ("database engine MySQL", "dev", "MT-5", database_engine_mysql),
    # encryption
    ("database storage unencrypted", "dev", "ENC-RDS-1", edit(RDS, "storageEncrypted", False, T)),
    ("database without customer key", "dev", "ENC-RDS-1", edit(RDS, "kmsKeyId", DELETE, T)),
    ("Performance Insights without key", "dev", "ENC-RDS-1", performance_insights_without_key),
    ("TLS parameter off", "dev", "ENC-RDS-3", tls_parameter_off),
    ("default parameter group", "dev", "ENC-RDS-3", edit(RDS, "parameterGroupName", DELETE, T)),
    ("cluster secrets unencrypted", "dev", "ENC-EKS-1", edit("eks:index:Cluster", "encryptionConfigKeyArn", DELETE)),
    ("tenant key rotation off", "dev", "ENC-KMS-1", edit(KEY, "enableKeyRotation", False, T)),
    ("key lockout safety bypassed", "dev", "ENC-KMS-1", edit(KEY, "bypassPolicyLockoutSafetyCheck", True, T)),
    ("queue with SSE-SQS", "dev", "ENC-MSG-1", queue_sse_sqs),
    ("topic with alias/aws/sns", "dev", "ENC-MSG-1", edit(TOPIC, "kmsMasterKeyId", "alias/aws/sns", T)),
    ("bucket with SSE-S3", "dev", "ENC-S3-1", bucket_sse_s3),
    ("bucket key off", "dev", "ENC-S3-1", bucket_key_off),
    (
        "Redis TLS preferred",
        "dev",
        "ENC-REDIS-1",
        edit("aws:elasticache/replicationGroup:ReplicationGroup", "transitEncryptionMode", "preferred"),
    ),
    (
        "Redis at rest unencrypted",
        "dev",
        "ENC-REDIS-1",
        edit("aws:elasticache/replicationGroup:ReplicationGroup", "atRestEncryptionEnabled", False),
    ),
    (
        "nodes allow IMDSv1",
        "dev",
        "ENC-EKS-2",
        edit("aws:ec2/launchTemplate:LaunchTemplate", "metadataOptions.httpTokens", "optional"),
    ),
    (
        "node volume unencrypted",
        "dev",
        "ENC-EKS-2",
        edit("aws:ec2/launchTemplate:LaunchTemplate", "blockDeviceMappings[0].ebs.encrypted", "false"),
    ),
    # network exposure
    ("database publicly accessible", "dev", "NET-RDS-1", edit(RDS, "publiclyAccessible", True, T)),
    ("API endpoint public", "dev", "NET-EKS-1", edit("eks:index:Cluster", "endpointPublicAccess", True)),
    ("ingress rule from 0.0.0.0/0", "dev", "NET-SG-1", database_open_to_internet),
    ("platform bucket readable by everyone", "dev", "NET-MSG-1", bucket_policy_public),
    ("no flow log", "dev", "NET-VPC-1", no_flow_log),
    # identity
    ("literal master password", "dev", "IAM-RDS-1", literal_master_password),
    (
        "aws-auth ConfigMap authentication",
        "dev",
        "IAM-EKS-1",
        edit("eks:index:Cluster", "authenticationMode", "CONFIG_MAP"),
    ),
    ("MFA optional", "dev", "IAM-MFA-1", edit("aws:cognito/userPool:UserPool", "mfaConfiguration", "OPTIONAL", T)),
    (
        "8-character passwords",
        "dev",
        "IAM-MFA-1",
        edit("aws:cognito/userPool:UserPool", "passwordPolicy.minimumLength", 8, T),
    ),
    # workloads
    ("privileged container", "dev", "K8S-POD-1", privileged),
    ("container as root", "dev", "K8S-POD-1", run_as_root),
    ("host network", "dev", "K8S-POD-1", host_network),
    ("SYS_ADMIN capability", "dev", "K8S-POD-1", sys_admin),
    ("hostPath volume", "dev", "K8S-POD-1", host_path),
    ("writable root filesystem", "dev", "K8S-POD-1", writable_root),
    ("no limits", "dev", "K8S-POD-2", no_limits),
    ("latest image", "dev", "K8S-IMG-1", latest_image),
    ("tenant image by tag", "dev", "K8S-IMG-1", tenant_image_by_tag),
    ("image from Docker Hub", "dev", "K8S-IMG-1", image_from_docker_hub),
    ("LoadBalancer service", "dev", "K8S-SVC-1", load_balancer_service),
    ("NodePort service", "dev", "K8S-SVC-1", node_port_service),
    ("config map in default", "dev", "K8S-NS-3", config_map_in_default),
    ("tenant namespace baseline", "dev", "K8S-NS-1", tenant_namespace_baseline),
    ("observability namespace privileged", "dev", "K8S-NS-2", observability_namespace_privileged),
    ("service account token mounted", "dev", "K8S-SA-1", token_automount),
    ("secret in environment", "dev", "K8S-SEC-1", secret_in_env),
    # edge
    (
        "load balancer passes invalid headers",
        "dev",
        "NET-LB-1",
        edit("aws:lb/loadBalancer:LoadBalancer", "dropInvalidHeaderFields", False),
    ),
    (
        "load balancer without access logs",
        "dev",
        "NET-LB-1",
        edit("aws:lb/loadBalancer:LoadBalancer", "accessLogs.enabled", False),
    ),
    (
        "listener TLS 1.0 policy",
        "dev",
        "TLS-LB-1",
        edit("aws:lb/listener:Listener", "sslPolicy", "ELBSecurityPolicy-2016-08", "", "https"),
    ),
    ("HTTP listener forwards", "dev", "TLS-LB-1", http_listener_forwards),
    ("no WAF on the entry", "dev", "NET-EDGE-1", no_waf_association),
    ("no WAF on the public API stage", "dev", "APIGW-4", no_api_waf_association),
    ("viewer TLS 1.0", "dev", "EDGE-CF-1", edit(CF, "viewerCertificate.minimumProtocolVersion", "TLSv1", T)),
    ("viewer HTTP allowed", "dev", "EDGE-CF-1", viewer_http),
    ("front-end without WAF", "dev", "EDGE-CF-1", edit(CF, "webAclId", DELETE, T)),
    ("pages cached at the edge", "dev", "EDGE-CF-1", page_caching),
    ("viewer Host forwarded", "dev", "EDGE-CF-1", viewer_host_forwarded),
    ("multi-region front-end without failover", "prod-us-east-1", "EDGE-CF-2", single_region_behavior),
    # audit
    ("single-region trail", "dev", "LOG-CT-1", edit("aws:cloudtrail/trail:Trail", "isMultiRegionTrail", False)),
    ("trail without key", "dev", "LOG-CT-1", edit("aws:cloudtrail/trail:Trail", "kmsKeyId", DELETE)),
    ("no audit log type", "dev", "LOG-EKS-1", no_audit_log_type),
    ("audit lock in governance mode", "dev", "BAK-S3-2", audit_lock_governance),
    ("platform log group kept 7 days", "dev", "LOG-CW-1", edit(LOG_GROUP, "retentionInDays", 7)),
    ("tenant log group kept forever", "dev", "LOG-CW-1", edit(LOG_GROUP, "retentionInDays", 0, T)),
    # resilience
    ("database deletion protection off", "dev", "BAK-RDS-1", edit(RDS, "deletionProtection", False, T)),
    ("database skips final snapshot", "dev", "BAK-RDS-1", edit(RDS, "skipFinalSnapshot", True, T)),
    ("database backups for a day", "dev", "BAK-RDS-1", edit(RDS, "backupRetentionPeriod", 1, T)),
    (
        "Redis single AZ",
        "dev",
        "BAK-REDIS-1",
        edit("aws:elasticache/replicationGroup:ReplicationGroup", "multiAzEnabled", False),
    ),
    # storage
    (
        "bucket public access allowed",
        "dev",
        "NET-S3-1",
        edit("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "restrictPublicBuckets", False, T),
    ),
    (
        "bucket versioning suspended",
        "dev",
        "NET-S3-1",
        edit("aws:s3/bucketVersioning:BucketVersioning", "versioningConfiguration.status", "Suspended", T),
    ),
    ("bucket accepts plain HTTP", "dev", "NET-S3-1", tls_deny_removed),
    (
        "bucket ACLs enabled",
        "dev",
        "NET-S3-1",
        edit("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "rule.objectOwnership", "ObjectWriter", T),
    ),
    (
        "bucket never expires objects",
        "dev",
        "NET-S3-1",
        remove("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", T),
    ),
    # supply chain
    ("chart version range", "dev", "SUP-HELM-1", edit(RELEASE, "version", "^8.0.0", "")),
    ("add-on unpinned", "dev", "SUP-ADDON-1", edit("aws:eks/addon:Addon", "addonVersion", DELETE)),
]


def unprotect(type_: str) -> Mutation:
    def mutate(p: Plan) -> None:
        find(p, type_, mine(p))["options"]["protect"] = False

    return mutate


CASES += [
    ("tenant database unprotected", "dev", "BAK-PROT-1", unprotect(RDS)),
    ("tenant key unprotected", "dev", "BAK-PROT-1", unprotect(KEY)),
]


# ------------------------------------------------------------------------------ near misses: compliant look-alikes


def key_wildcard_pinned_by_own_alias(p: Plan) -> None:
    alias = find(p, ALIAS, mine(p), "key")["inputs"]["name"]
    add_statement(
        find(p, ROLE_POLICY, mine(p), "permissions-carrier"),
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": f"arn:aws:kms:{p['region']}:{ACCOUNT}:key/*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}},
        },
    )


def own_prefix_wildcard(p: Plan) -> None:
    policy = find(p, ROLE_POLICY, mine(p), "permissions-carrier")
    document = doc(policy)
    statement = allowing(document, "sqs")
    statement["Resource"] = [_list(statement["Resource"])[0].split(f"{mine(p)}-")[0] + f"{mine(p)}-*"]
    set_doc(policy, document)


def queue_policy_with_own_roles_only(p: Plan) -> None:
    policy = find(p, QUEUE_POLICY, mine(p), "carrier-jobs")
    document = doc(policy)
    admitting(document)["Principal"]["AWS"] = [arn_of_role(p, mine(p), "carrier")]
    set_doc(policy, document)


def narrower_egress(p: Plan) -> None:
    spec(p, NP, mine(p), "vpc-services")["egress"][0]["to"] = [{"ipBlock": {"cidr": "10.20.8.0/24"}}]


def operator_trust_pinned_by_principal_arn(p: Plan) -> None:
    role = find(p, ROLE, mine(p), "operators")
    document = doc(role, "assumeRolePolicy")
    caller = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_{mine(p)}-operators_0123"
    document["Statement"][0]["Condition"] = {"ArnEquals": {"aws:PrincipalArn": caller}}
    set_doc(role, document, "assumeRolePolicy")


def operators_get_named_secret(p: Plan) -> None:
    rules = find(p, K8S_ROLE, mine(p), "operators")["inputs"]["rules"]
    rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["app-config"]})


def tenant_cache_user_confined(p: Plan) -> None:
    tenant_cache_user(p, f"on ~{mine(p)}:* &{mine(p)}:* +@all -@dangerous")


def queue_with_own_key_alias(p: Plan) -> None:
    queue = find(p, QUEUE, mine(p), "carrier-jobs")
    queue["inputs"]["kmsMasterKeyId"] = find(p, ALIAS, mine(p), "key")["inputs"]["name"]
    drop_deps(queue, KEY, p)


def platform_bucket_policy_for_own_role(p: Plan) -> None:
    bucket = find(p, BUCKET, mine(p), "documents")
    name = bucket["inputs"]["bucket"]
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": arn_of_role(p, mine(p), "carrier")},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
    }
    build(
        p,
        find(p, ROLE_POLICY, "", ""),
        BUCKET_POLICY,
        "own-read",
        {"bucket": name, "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
    )
    p["resources"][-1]["tenant"] = None


def grafana_viewer_mapping(p: Plan) -> None:
    oauth(p)["role_attribute_path"] = f"contains(groups[*], '{mine(p)}-operators') && 'Viewer'"


NEAR_MISSES: list[tuple[str, str, Mutation]] = [
    ("key/* pinned to the tenant's own alias", "prod-us-east-1", key_wildcard_pinned_by_own_alias),
    ("wildcard after the tenant's own prefix", "dev", own_prefix_wildcard),
    ("queue policy naming the tenant's own role", "dev", queue_policy_with_own_roles_only),
    ("egress to one subnet", "dev", narrower_egress),
    ("operator trust pinned by principal ARN", "dev", operator_trust_pinned_by_principal_arn),
    ("operators get one named secret", "dev", operators_get_named_secret),
    ("tenant cache user confined to its prefix", "dev", tenant_cache_user_confined),
    ("queue with the tenant's own alias", "dev", queue_with_own_key_alias),
    ("platform bucket policy for the tenant's own role", "dev", platform_bucket_policy_for_own_role),
    ("Grafana mapping to Viewer", "dev", grafana_viewer_mapping),
]


# ------------------------------------------------------------------------------ tests

_BASELINE: dict[str, set[str]] = {}


def violated(plan: Plan, stack: str) -> set[str]:
    return {v["ruleId"] for v in evaluate(plan, config_for(stack))}


def baseline(plans: dict[str, Plan], stack: str) -> set[str]:
    if stack not in _BASELINE:
        _BASELINE[stack] = violated(plans[stack], stack)
    return _BASELINE[stack]


def test_the_corpus_is_large_and_covers_every_family() -> None:
    assert len(CASES) >= 100
    assert len({name for name, *_ in CASES}) == len(CASES), "case names are unique"
    families = {rule.split("-")[0] for _, _, rule, _ in CASES}
    assert {"ENC", "MT", "RES", "NET", "IAM", "OBS", "K8S", "EDGE", "LOG", "BAK", "TLS", "SUP"} <= families


@pytest.mark.parametrize(("stack", "rule", "mutate"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misconfiguration_is_caught_by_its_rule_alone(
    plans: dict[str, Plan], stack: str, rule: str, mutate: Mutation
) -> None:
    before = baseline(plans, stack)
    broken = copy.deepcopy(plans[stack])
    mutate(broken)
    after = violated(broken, stack)
    assert after - before == {rule}


@pytest.mark.parametrize(("stack", "mutate"), [c[1:] for c in NEAR_MISSES], ids=[c[0] for c in NEAR_MISSES])
def test_compliant_look_alike_is_not_flagged(plans: dict[str, Plan], stack: str, mutate: Mutation) -> None:
    before = baseline(plans, stack)
    changed = copy.deepcopy(plans[stack])
    mutate(changed)
    assert violated(changed, stack) - before == set()
