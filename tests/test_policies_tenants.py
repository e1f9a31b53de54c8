"""Workload, access and tenant-isolation rules: a compliant and a violating case for each, resource
rules through the CrossGuard policy object (props behind the engine's unknown-checking proxy),
stack rules by calling the check on `Res` objects, plus the edge cases each rule must get right."""

import copy
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policies.tenant_guard import access, isolation, workloads
from policies.tenant_guard.pack import RULES as PACK_RULES
from policies.tenant_guard.rule import Res, Rule, to_policy

RULES: tuple[Rule, ...] = (*workloads.RULES, *access.RULES, *isolation.RULES)
POLICIES = {rule.name: to_policy(rule) for rule in RULES}


# ------------------------------------------------------------------------------ helpers


def _args(type_: str, props: dict[str, Any], *, config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    package = type_.split(":")[0]
    return ResourceValidationArgs(
        resource_type=type_,
        props=unknown_checking_proxy(props),
        urn=f"urn:pulumi:test::p::{type_}::r",
        name="r",
        opts=PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None),
        provider=PolicyProviderResource(f"pulumi:providers:{package}", {"region": "us-east-1"}, "urn:p", "p"),
        config=config or {},
    )


def violations(name: str, type_: str, props: dict[str, Any], *, config: dict[str, Any] | None = None) -> list[str]:
    policy = POLICIES[name]
    assert isinstance(policy, ResourceValidationPolicy) and callable(policy.validate)
    found: list[str] = []
    policy.validate(_args(type_, props, config=config), lambda message, urn=None: found.append(message))
    return found


def res(
    type_: str,
    name: str,
    props: dict[str, Any],
    *,
    parent: str | None = None,
    deps: Sequence[str] = (),
) -> Res:
    """A stack resource whose props are engine proxies (lists are not `list`, dicts not `dict`)."""
    return Res(
        type=type_,
        urn=f"urn:pulumi:test::p::{type_}::{name}",
        name=name,
        props=unknown_checking_proxy(props),
        parent_urn=parent,
        dependencies=tuple(deps),
    )


def run(check: Callable[..., Any], resources: Sequence[Res], config: dict[str, Any] | None = None) -> list[str]:
    return [message for message, _ in check(resources, config or {})]


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`base` with `change` applied recursively; a None value removes the key."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


# ------------------------------------------------------------------------------ workloads

DEPLOYMENT = workloads.DEPLOYMENT
SECURE_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
CONTAINER: dict[str, Any] = {
    "name": "carrier",
    # Tenant workloads run by digest (TenantServices resolves the configured tag in ECR).
    "image": "111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-service@sha256:" + "c" * 64,
    "securityContext": SECURE_CONTEXT,
    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "200m", "memory": "512Mi"}},
    "env": [{"name": "LOG_LEVEL", "value": "info"}],
}
POD_SPEC: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "serviceAccountName": "carrier",
    "automountServiceAccountToken": False,
    "containers": [CONTAINER],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def replaced(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`base` with top-level keys replaced by `change`; a None value removes the key."""
    return {k: v for k, v in {**base, **change}.items() if v is not None}


def deployment(spec: dict[str, Any] | None = None, **change: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "carrier", "namespace": "acme", "labels": {"tenant": "acme"}},
        "spec": {"replicas": 1, "template": {"spec": replaced(spec or POD_SPEC, change)}},
    }


def with_container(**change: Any) -> dict[str, Any]:
    return deployment(containers=[replaced(CONTAINER, change)])


def with_context(**change: Any) -> dict[str, Any]:
    return with_container(securityContext=replaced(SECURE_CONTEXT, change))


def untenanted(props: dict[str, Any]) -> dict[str, Any]:
    """The same workload without the `tenant` label: a platform workload."""
    return {**props, "metadata": {k: v for k, v in props["metadata"].items() if k != "labels"}}


# (policy, type, compliant props, violating props, expected fragment of the single message)
RESOURCE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ("workload-security-context", DEPLOYMENT, deployment(), with_context(privileged=True), "'carrier' is privileged"),
    ("workload-security-context", DEPLOYMENT, deployment(), deployment(hostNetwork=True), "hostNetwork"),
    ("workload-security-context", DEPLOYMENT, deployment(), deployment(hostPID=True), "hostPID"),
    ("workload-security-context", DEPLOYMENT, deployment(), deployment(hostIPC=True), "hostIPC"),
    (
        "workload-security-context",
        DEPLOYMENT,
        deployment(),
        deployment(volumes=[{"name": "docker", "hostPath": {"path": "/var/run"}}]),
        "volume 'docker' mounts a node path",
    ),
    (
        "workload-security-context",
        DEPLOYMENT,
        deployment(),
        with_context(allowPrivilegeEscalation=None),
        "'carrier' does not set allowPrivilegeEscalation: false",
    ),
    (
        "workload-security-context",
        DEPLOYMENT,
        deployment(),
        deployment(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
        "'carrier' may run as root",
    ),
    (
        "workload-security-context",
        DEPLOYMENT,
        deployment(),
        with_context(capabilities={"drop": ["NET_RAW"]}),
        "'carrier' does not drop ALL capabilities",
    ),
    (
        "workload-security-context",
        DEPLOYMENT,
        with_context(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
        with_context(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}),
        "adds capabilities SYS_ADMIN",
    ),
    (
        "workload-security-context",
        DEPLOYMENT,
        deployment(),
        deployment(securityContext={"runAsNonRoot": True}),
        "'carrier' has no RuntimeDefault or Localhost seccomp profile",
    ),
    (
        "workload-security-context",
        DEPLOYMENT,
        deployment(),
        with_context(readOnlyRootFilesystem=False),
        "'carrier' has a writable root filesystem",
    ),
    (
        "workload-resources",
        DEPLOYMENT,
        deployment(),
        with_container(resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "200m"}}),
        "container 'carrier' sets no limits.memory",
    ),
    (
        "workload-image-provenance",
        DEPLOYMENT,
        deployment(),
        with_container(image="nginx"),
        "image 'nginx' has no tag or digest",
    ),
    (
        "workload-image-provenance",
        DEPLOYMENT,
        with_container(image="registry.local:5000/app@sha256:" + "a" * 64),
        with_container(image="registry.local:5000/app:latest"),
        "mutable :latest tag",
    ),
    (  # a platform workload (no tenant label) may run an exact tag
        "workload-image-provenance",
        DEPLOYMENT,
        untenanted(with_container(image="registry.local:5000/team/app:2.0")),
        untenanted(with_container(image="registry.local:5000/team/app")),
        "has no tag or digest",
    ),
    (
        "service-account-token",
        DEPLOYMENT,
        deployment(),
        deployment(automountServiceAccountToken=None),
        "mounts a Kubernetes API token",
    ),
    ("service-account-token", DEPLOYMENT, deployment(), deployment(serviceAccountName=None), "default service account"),
    ("service-account-token", DEPLOYMENT, deployment(), deployment(serviceAccountName="default"), "default service"),
    (
        "service-account-token",
        workloads.SERVICE_ACCOUNT,
        {"metadata": {"name": "carrier", "namespace": "acme"}, "automountServiceAccountToken": False},
        {"metadata": {"name": "carrier", "namespace": "acme"}},
        "mounts its API token",
    ),
    (
        "secrets-as-files",
        DEPLOYMENT,
        with_container(env=[{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}}]),
        with_container(env=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]),
        "environment variables DB_PASSWORD",
    ),
    (
        "secrets-as-files",
        DEPLOYMENT,
        with_container(envFrom=[{"configMapRef": {"name": "tenant-runtime"}}]),
        with_container(envFrom=[{"secretRef": {"name": "db"}}]),
        "envFrom.secretRef",
    ),
    (
        "no-loadbalancer-services",
        workloads.SERVICE,
        {"metadata": {"namespace": "acme"}, "spec": {"type": "ClusterIP"}},
        {"metadata": {"namespace": "acme"}, "spec": {"type": "LoadBalancer"}},
        "type LoadBalancer",
    ),
    (
        "no-loadbalancer-services",
        workloads.SERVICE,
        {"metadata": {"namespace": "acme"}, "spec": {"ports": [{"port": 80}]}},
        {"metadata": {"namespace": "acme"}, "spec": {"type": "NodePort"}},
        "type NodePort",
    ),
    (
        "no-default-namespace",
        workloads.CONFIG_MAP,
        {"metadata": {"name": "cfg", "namespace": "acme"}},
        {"metadata": {"name": "cfg", "namespace": "default"}},
        "'default' namespace",
    ),
    ("no-default-namespace", DEPLOYMENT, deployment(), {"spec": deployment()["spec"]}, "metadata.namespace is not set"),
    (
        "no-default-namespace",
        access.K8S_ROLE_BINDING,
        {"metadata": {"name": "b", "namespace": "acme"}},
        {"metadata": {"name": "b"}},
        "not set",
    ),
]


# ------------------------------------------------------------------------------ access


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


SCOPED_POLICY = doc(
    {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
        "Resource": "arn:aws:sqs:us-east-1:123456789012:ip-prod-acme-jobs",
    },
    {
        "Effect": "Allow",
        "Action": ["ec2:DescribeInstances", "eks:DescribeCluster", "sqs:GetQueueAttributes", "s3:ListAllMyBuckets"],
        "Resource": "*",
    },
    {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
)
ROLE_POLICY = access.IAM_ROLE_POLICY
K8S_ROLE = access.K8S_ROLE
CLUSTER_ROLE_BINDING = access.K8S_CLUSTER_ROLE_BINDING
ROLE_RULES_OK = {"rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch"]}]}


def role_rule(**rule: Any) -> dict[str, Any]:
    return {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], **rule}]}


def crb(role: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {"roleRef": {"kind": "ClusterRole", "name": role}, "subjects": list(subjects)}


USER_POOL_OK: dict[str, Any] = {
    "mfaConfiguration": "ON",
    "passwordPolicy": {
        "minimumLength": 14,
        "requireLowercase": True,
        "requireUppercase": True,
        "requireNumbers": True,
        "requireSymbols": True,
    },
    "userPoolAddOns": {"advancedSecurityMode": "ENFORCED"},
    "deletionProtection": "ACTIVE",
}
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-0000-4000-8000-000000000000"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ip-prod-acme-jobs"
ROLE_ARN = "arn:aws:iam::123456789012:role/ip-prod-us-east-1-acme-carrier"
TENANT_QUEUE_POLICY = doc(
    {"Sid": "TenantWorkloads", "Effect": "Allow", "Principal": {"AWS": [ROLE_ARN]}, "Action": "sqs:SendMessage"},
    {
        "Sid": "NobodyElse",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": [ROLE_ARN]}},
    },
)


def public(**extra: Any) -> str:
    return doc({"Sid": "Open", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN, **extra})


RESOURCE_CASES += [
    (
        "iam-least-privilege",
        ROLE_POLICY,
        {"policy": SCOPED_POLICY},
        {"policy": doc({"Effect": "Allow", "Action": "*", "Resource": QUEUE_ARN})},
        "allows every action of a service (*)",
    ),
    (
        "iam-least-privilege",
        access.IAM_POLICY,
        {"policy": SCOPED_POLICY},
        # Statement as one object and Action as one string.
        {"policy": json.dumps({"Statement": {"Sid": "S3", "Effect": "Allow", "Action": "s3:*", "Resource": "x"}})},
        "statement 'S3': allows every action of a service (s3:*)",
    ),
    (
        "iam-least-privilege",
        ROLE_POLICY,
        {"policy": SCOPED_POLICY},
        {"policy": doc({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})},
        "data actions kms:Decrypt on every resource",
    ),
    (
        "iam-least-privilege",
        ROLE_POLICY,
        {"policy": SCOPED_POLICY},
        {"policy": doc({"Effect": "Allow", "Action": ["sqs:SendMessage", "s3:Get*"], "Resource": ["*"]})},
        "data actions sqs:SendMessage, s3:Get* on every resource",
    ),
    (
        "iam-least-privilege",
        ROLE_POLICY,
        {"policy": SCOPED_POLICY},
        {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": QUEUE_ARN})},
        "NotAction",
    ),
    (
        "iam-least-privilege",
        ROLE_POLICY,
        {"policy": SCOPED_POLICY},
        {"policy": doc({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "NotResource": QUEUE_ARN})},
        "secretsmanager:GetSecretValue on every resource",
    ),
    (
        "iam-least-privilege",
        access.IAM_ROLE,
        {"inlinePolicies": [{"name": "data", "policy": SCOPED_POLICY}]},
        {
            "inlinePolicies": [
                {"name": "data", "policy": doc({"Effect": "Allow", "Action": "rds-db:connect", "Resource": "*"})}
            ]
        },
        "inline policy 'data', statement #1: data actions rds-db:connect",
    ),
    (
        "no-admin-policies",
        access.IAM_ROLE,
        {"managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
        {
            "managedPolicyArns": [
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ]
        },
        "AdministratorAccess",
    ),
    (
        "no-admin-policies",
        access.ROLE_POLICY_ATTACHMENT,
        {"policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "role": "r"},
        {"policyArn": "arn:aws:iam::aws:policy/IAMFullAccess", "role": "r"},
        "IAMFullAccess",
    ),
    (
        "no-admin-policies",
        access.ROLE_POLICY_ATTACHMENT,
        {"policyArn": "arn:aws:iam::123456789012:policy/PowerUserAccess", "role": "r"},  # a customer policy
        {"policyArn": "arn:aws:iam::aws:policy/PowerUserAccess", "role": "r"},
        "PowerUserAccess",
    ),
    ("rbac-least-privilege", K8S_ROLE, ROLE_RULES_OK, role_rule(verbs=["*"]), "every verb"),
    (
        "rbac-least-privilege",
        access.K8S_CLUSTER_ROLE,
        ROLE_RULES_OK,
        role_rule(apiGroups=["*"], resources=["*"]),
        "every resource of every API group",
    ),
    ("rbac-least-privilege", K8S_ROLE, ROLE_RULES_OK, role_rule(verbs=["get", "escalate"]), "escalate"),
    (
        "rbac-least-privilege",
        K8S_ROLE,
        ROLE_RULES_OK,
        role_rule(resources=["pods/exec"], verbs=["create"]),
        "pods/exec",
    ),
    (
        "rbac-least-privilege",
        K8S_ROLE,
        role_rule(resources=["secrets"], verbs=["get"], resourceNames=["app"]),
        role_rule(resources=["secrets"], verbs=["get", "list"]),
        "list or watch secrets",
    ),
    (
        "rbac-least-privilege",
        CLUSTER_ROLE_BINDING,
        crb("cluster-admin", {"kind": "ServiceAccount", "name": "addon", "namespace": "kube-system"}),
        crb("cluster-admin", {"kind": "Group", "name": "ops"}),
        "cluster-admin role is bound to Group ops",
    ),
    (
        "rbac-least-privilege",
        access.K8S_ROLE_BINDING,
        {
            "metadata": {"namespace": "kube-system"},
            "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "addon"}],  # namespace defaults to the binding's
        },
        {
            "metadata": {"namespace": "acme"},
            "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "app"}],
        },
        "ServiceAccount acme/app",
    ),
    (
        "rbac-least-privilege",
        CLUSTER_ROLE_BINDING,
        crb("view", {"kind": "Group", "name": "platform:auditors"}),
        crb("view", {"kind": "Group", "name": "tenant:acme:operators"}),
        "tenant:acme:operators get cluster-wide permissions",
    ),
    (
        "cognito-mfa-and-strong-passwords",
        access.USER_POOL,
        USER_POOL_OK,
        merged(USER_POOL_OK, {"mfaConfiguration": "OPTIONAL"}),
        "MFA",
    ),
    (
        "cognito-mfa-and-strong-passwords",
        access.USER_POOL,
        USER_POOL_OK,
        merged(USER_POOL_OK, {"passwordPolicy": {"minimumLength": 8}}),
        "shorter than 14",
    ),
    (
        "cognito-mfa-and-strong-passwords",
        access.USER_POOL,
        USER_POOL_OK,
        merged(USER_POOL_OK, {"passwordPolicy": {"requireSymbols": False}}),
        "requireSymbols",
    ),
    (
        "cognito-mfa-and-strong-passwords",
        access.USER_POOL,
        USER_POOL_OK,
        merged(USER_POOL_OK, {"userPoolAddOns": {"advancedSecurityMode": "AUDIT"}}),
        "ENFORCED",
    ),
    (
        "cognito-mfa-and-strong-passwords",
        access.USER_POOL,
        USER_POOL_OK,
        merged(USER_POOL_OK, {"deletionProtection": None}),
        "ACTIVE",
    ),
    (
        "messaging-encrypted-with-customer-key",
        access.QUEUE,
        {"kmsMasterKeyId": KEY},
        {"sqsManagedSseEnabled": True},
        "SSE-SQS",
    ),
    (
        "messaging-encrypted-with-customer-key",
        access.QUEUE,
        {"kmsMasterKeyId": KEY},
        {"kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:alias/aws/sqs"},
        "AWS-managed alias/aws/sqs",
    ),
    (
        "messaging-encrypted-with-customer-key",
        access.TOPIC,
        {"kmsMasterKeyId": KEY},
        {"name": "updates"},
        "not encrypted with a customer-managed KMS key",
    ),
    (
        "messaging-encrypted-with-customer-key",
        access.TOPIC,
        {"kmsMasterKeyId": KEY},
        {"kmsMasterKeyId": "alias/aws/sns"},
        "AWS-managed alias/aws/sns",
    ),
    (
        "resource-policies-not-public",
        access.QUEUE_POLICY,
        {"policy": TENANT_QUEUE_POLICY, "queueUrl": "q"},
        {"policy": public(Principal="*")},
        "statement 'Open' allows any principal",
    ),
    (
        "resource-policies-not-public",
        access.TOPIC_POLICY,
        {
            "policy": public(
                Principal={"Service": "s3.amazonaws.com"}, Condition={"ArnLike": {"aws:SourceArn": "arn:aws:s3:::b"}}
            )
        },
        {"policy": public(Principal={"AWS": ["*"]})},
        "allows any principal",
    ),
    (
        "resource-policies-not-public",
        access.BUCKET_POLICY,
        {"policy": public(Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-123"}})},
        # A negated condition admits everyone else.
        {"policy": public(Principal="*", Condition={"StringNotEquals": {"aws:SourceAccount": "123456789012"}})},
        "allows any principal",
    ),
    (
        "resource-policies-not-public",
        access.QUEUE,
        {"policy": public(Principal={"AWS": "*"}, Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}})},
        # ...IfExists passes callers that carry no such key.
        {"policy": public(Principal={"AWS": "*"}, Condition={"StringEqualsIfExists": {"aws:SourceAccount": "1"}})},
        "allows any principal",
    ),
    (
        "resource-policies-not-public",
        access.KMS_KEY,
        {
            "policy": doc(
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*", "Resource": "*"}
            )
        },
        {
            "policy": doc(
                {"Sid": "All", "Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "*", "Resource": "*"}
            )
        },
        "statement 'All' allows every action",
    ),
]


@pytest.mark.parametrize(("policy", "type_", "compliant", "violating", "fragment"), RESOURCE_CASES)
def test_resource_rule_passes_compliant_and_catches_violation(
    policy: str, type_: str, compliant: dict[str, Any], violating: dict[str, Any], fragment: str
) -> None:
    assert violations(policy, type_, compliant) == []
    found = violations(policy, type_, violating)
    assert len(found) == 1 and fragment in found[0], found


# ------------------------------------------------------------------------------ workload edge cases


def test_every_workload_kind_is_read_at_its_pod_spec() -> None:
    bad = replaced(POD_SPEC, {"hostPID": True})
    cron = {"metadata": {"namespace": "acme"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": bad}}}}}
    pod = {"metadata": {"namespace": "acme"}, "spec": bad}
    for type_, props in ((workloads.CRON_JOB, cron), (workloads.POD, pod)):
        assert violations("workload-security-context", type_, props) == [
            "the pod shares the node's namespaces (hostPID): remove hostPID"
        ]
    for type_ in (workloads.JOB, workloads.STATEFUL_SET, workloads.DAEMON_SET):
        assert violations("workload-security-context", type_, deployment(hostIPC=True))


def test_container_settings_override_pod_settings() -> None:
    # The pod says non-root and RuntimeDefault; one container overrides both.
    found = violations(
        "workload-security-context",
        DEPLOYMENT,
        with_context(runAsNonRoot=False, seccompProfile={"type": "Unconfined"}),
    )
    assert len(found) == 2 and all("'carrier'" in m for m in found)
    # And container-level settings alone suffice.
    alone = deployment(
        securityContext=None,
        containers=[
            replaced(
                CONTAINER,
                {
                    "securityContext": {
                        **SECURE_CONTEXT,
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
                    }
                },
            )
        ],
    )
    assert violations("workload-security-context", DEPLOYMENT, alone) == []


def test_init_containers_are_checked_and_named() -> None:
    init = {"name": "migrate", "image": "app:1.0"}
    found = violations("workload-security-context", DEPLOYMENT, deployment(initContainers=[init]))
    assert found and all(m.startswith("init container 'migrate'") for m in found)
    found = violations("workload-resources", DEPLOYMENT, deployment(initContainers=[init]))
    assert found == ["init container 'migrate' sets no requests.cpu, requests.memory, limits.cpu, limits.memory"]


def test_one_message_per_problem() -> None:
    bare = deployment(securityContext=None, hostNetwork=True, containers=[{"name": "app", "image": "app:1"}])
    found = violations("workload-security-context", DEPLOYMENT, bare)
    assert len(found) == 6, found  # hostNetwork + five container settings


def test_allowed_registries_come_from_policy_config() -> None:
    config = {"allowedRegistries": ["111111111111.dkr.ecr.us-east-1.amazonaws.com/"]}
    assert violations("workload-image-provenance", DEPLOYMENT, deployment(), config=config) == []
    found = violations(
        "workload-image-provenance",
        DEPLOYMENT,
        with_container(image="docker.io/library/nginx@sha256:" + "d" * 64),
        config=config,
    )
    assert len(found) == 1 and "not approved" in found[0]
    assert POLICIES["workload-image-provenance"].config_schema is not None


def test_secret_values_are_never_echoed() -> None:
    props = with_container(
        env=[
            {"name": "API_TOKEN", "value": "s3cr3t-value"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        ]
    )
    found = violations("secrets-as-files", DEPLOYMENT, props)
    assert len(found) == 1 and "DB_PASSWORD" in found[0] and "API_TOKEN" not in found[0]
    assert all("s3cr3t-value" not in m for m in found)


def test_unknown_preview_values_are_not_violations() -> None:
    policy = POLICIES["workload-image-provenance"]
    assert isinstance(policy, ResourceValidationPolicy) and callable(policy.validate)
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        policy.validate(
            _args(DEPLOYMENT, with_container(image=UNKNOWN_STRING_VALUE)), lambda m, urn=None: found.append(m)
        )
    assert found == []


def test_rules_ignore_types_they_do_not_govern() -> None:
    assert violations("workload-security-context", access.IAM_ROLE, {"spec": {"hostPID": True}}) == []
    assert violations("no-default-namespace", "kubernetes:core/v1:Namespace", {"metadata": {"name": "x"}}) == []


# ------------------------------------------------------------------------------ access edge cases


def test_iam_least_privilege_edge_cases() -> None:
    check = "iam-least-privilege"
    # Deny statements and metadata actions on "*" are fine; unparseable documents are not guessed at.
    assert violations(check, ROLE_POLICY, {"policy": SCOPED_POLICY}) == []
    assert violations(check, ROLE_POLICY, {"policy": "not json"}) == []
    # Lower-case and wildcard spellings of data actions are data actions.
    lower = doc({"Effect": "Allow", "Action": ["KMS:generateDataKey", "ssm:GetParametersByPath"], "Resource": "*"})
    assert "KMS:generateDataKey, ssm:GetParametersByPath" in violations(check, ROLE_POLICY, {"policy": lower})[0]
    # A wildcard action is reported once, not again as a data action.
    assert (
        len(violations(check, ROLE_POLICY, {"policy": doc({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})}))
        == 1
    )
    # Every inline policy is read.
    role = {
        "inlinePolicies": [
            {"name": "a", "policy": SCOPED_POLICY},
            {"name": "b", "policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
        ]
    }
    assert [m.split(",")[0] for m in violations(check, access.IAM_ROLE, role)] == ["inline policy 'b'"]


def test_resource_policy_deny_for_everyone_is_allowed() -> None:
    assert violations("resource-policies-not-public", access.QUEUE_POLICY, {"policy": TENANT_QUEUE_POLICY}) == []
    deny_all = doc({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"})
    assert violations("resource-policies-not-public", access.BUCKET_POLICY, {"policy": deny_all}) == []
    # NotPrincipal with Allow grants everyone else.
    not_principal = doc({"Effect": "Allow", "NotPrincipal": {"AWS": ROLE_ARN}, "Action": "sqs:SendMessage"})
    assert violations("resource-policies-not-public", access.QUEUE_POLICY, {"policy": not_principal})


def test_rbac_bindings_to_plain_roles_are_fine() -> None:
    binding = {
        "metadata": {"namespace": "acme"},
        "roleRef": {"kind": "Role", "name": "tenant-operators"},
        "subjects": [{"kind": "Group", "name": "tenant:acme:operators"}],
    }
    assert violations("rbac-least-privilege", access.K8S_ROLE_BINDING, binding) == []


# ------------------------------------------------------------------------------ stack fixtures


def namespace(name: str, tenant: str | None = None) -> Res:
    labels = {"tenant": tenant} if tenant else {"app.kubernetes.io/part-of": "platform"}
    return res("kubernetes:core/v1:Namespace", f"ns-{name}", {"metadata": {"name": name, "labels": labels}})


NAMESPACES = [
    namespace("acme", "acme"),
    namespace("acme-life", "acme-life"),
    namespace("harbor-mutual", "harbor-mutual"),
    namespace("kube-system"),
    namespace("nginx-ingress"),
]


def peer_by_name(ns: str, **extra: Any) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}, **extra}


def netpol(ns: str, ingress: list[Any] | None = None, egress: list[Any] | None = None, name: str = "np") -> Res:
    spec: dict[str, Any] = {"podSelector": {}}
    if ingress is not None:
        spec["ingress"] = [{"from": ingress}]
    if egress is not None:
        spec["egress"] = [{"to": egress}]
    return res(isolation.NETWORK_POLICY, name, {"metadata": {"namespace": ns}, "spec": spec})


# ------------------------------------------------------------------------------ MT-3


def test_network_policies_allow_own_and_platform_namespaces() -> None:
    ok = netpol(
        "acme",
        ingress=[peer_by_name("nginx-ingress"), {"podSelector": {"matchLabels": {"app": "carrier"}}}],
        egress=[
            peer_by_name("kube-system", podSelector={"matchLabels": {"k8s-app": "kube-dns"}}),
            peer_by_name("acme"),
            {"ipBlock": {"cidr": "10.20.8.0/24"}},  # one data subnet
            {"namespaceSelector": {"matchExpressions": [{"key": "tenant", "operator": "DoesNotExist"}]}},
        ],
    )
    assert run(isolation.network_policies_in_tenant, [*NAMESPACES, ok]) == []


@pytest.mark.parametrize(
    ("peers", "fragment"),
    [
        ([{"namespaceSelector": {}}], "selects every namespace"),
        ([peer_by_name("harbor-mutual")], "other tenants' namespaces: harbor-mutual"),
        # Prefix collision: acme-life is another tenant, not acme.
        ([{"namespaceSelector": {"matchLabels": {"tenant": "acme-life"}}}], "namespaces: acme-life"),
        ([{"namespaceSelector": {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]}}], "acme-life, harbor"),
        ([{"namespaceSelector": {"matchLabels": {"tenant": "not-in-this-stack"}}}], "tenant=not-in-this-stack"),
        ([{"ipBlock": {"cidr": "0.0.0.0/0"}}], "whole internet"),
    ],
)
def test_network_policies_crossing_tenants(peers: list[Any], fragment: str) -> None:
    found = run(isolation.network_policies_in_tenant, [*NAMESPACES, netpol("acme", ingress=peers)])
    assert len(found) == 1 and fragment in found[0] and found[0].startswith("tenant acme:"), found


@pytest.mark.parametrize(
    ("peers", "fragment"),
    [
        # Egress to the internet is no longer "the NAT's business": a tenant names its destinations.
        ([{"ipBlock": {"cidr": "0.0.0.0/0"}}], "reaches the whole internet (0.0.0.0/0)"),
        ([{"ipBlock": {"cidr": "::/0"}}], "reaches the whole internet (::/0)"),
        ([{"ipBlock": {"cidr": "10.0.0.0/8"}}], "reaches 10.0.0.0/8, wider than any VPC"),
        ([], "names no peers (to), so it admits every destination"),
    ],
)
def test_tenant_egress_names_its_destinations(peers: list[Any], fragment: str) -> None:
    found = run(isolation.network_policies_in_tenant, [*NAMESPACES, netpol("acme", egress=peers)])
    assert len(found) == 1 and fragment in found[0] and found[0].startswith("tenant acme: egress rule #1"), found


def test_tenant_ingress_rule_without_peers_admits_everyone() -> None:
    found = run(isolation.network_policies_in_tenant, [*NAMESPACES, netpol("acme", ingress=[])])
    assert found == ["tenant acme: ingress rule #1 names no peers (from), so it admits every source"]


def test_network_policies_in_platform_namespaces_may_select_tenants() -> None:
    router = netpol(
        "nginx-ingress", egress=[{"namespaceSelector": {"matchExpressions": [{"key": "tenant", "operator": "Exists"}]}}]
    )
    assert run(isolation.network_policies_in_tenant, [*NAMESPACES, router]) == []


def test_network_policy_violation_is_reported_on_the_policy() -> None:
    bad = netpol("acme-life", egress=[peer_by_name("acme")])
    ((message, urn),) = list(isolation.network_policies_in_tenant([*NAMESPACES, bad], {}))
    assert urn == bad.urn and message.startswith("tenant acme-life: egress rule #1, peer #1")


# ------------------------------------------------------------------------------ MT-4


def binding(ns: str, *subjects: dict[str, Any]) -> Res:
    return res(
        isolation.ROLE_BINDING,
        f"rb-{ns}",
        {"metadata": {"namespace": ns}, "roleRef": {"kind": "Role", "name": "r"}, "subjects": list(subjects)},
    )


def authz(ns: str, source: dict[str, Any], action: str | None = None) -> Res:
    spec: dict[str, Any] = {"rules": [{"from": [{"source": source}]}]}
    if action:
        spec["action"] = action
    return res(isolation.AUTHORIZATION_POLICIES[0], f"authz-{ns}", {"metadata": {"namespace": ns}, "spec": spec})


def service_account(ns: str, role_arn: str) -> Res:
    props = {"metadata": {"namespace": ns, "name": "carrier", "annotations": {"eks.amazonaws.com/role-arn": role_arn}}}
    return res(isolation.SERVICE_ACCOUNT, f"sa-{ns}", props)


def role_arn(tenant: str) -> str:
    return f"arn:aws:iam::123456789012:role/ip-prod-us-east-1-{tenant}-carrier"


def test_bindings_and_identities_within_the_tenant() -> None:
    resources = [
        *NAMESPACES,
        binding("acme", {"kind": "Group", "name": "tenant:acme:operators"}, {"kind": "ServiceAccount", "name": "app"}),
        binding("acme-life", {"kind": "Group", "name": "tenant:acme-life:operators"}),
        authz("acme", {"principals": ["cluster.local/ns/nginx-ingress/sa/nginx-ingress"], "namespaces": ["acme"]}),
        authz("acme-life", {"namespaces": ["harbor-mutual"]}, action="DENY"),
        service_account("acme", role_arn("acme")),
        service_account("acme-life", role_arn("acme-life")),  # contains 'acme' only inside 'acme-life'
        service_account("harbor-mutual", "arn:aws:iam::123456789012:role/ip-prod-us-east-1-platform-reader"),
    ]
    assert run(isolation.bindings_in_tenant, resources) == []


@pytest.mark.parametrize(
    ("resource", "fragment"),
    [
        (binding("acme", {"kind": "ServiceAccount", "name": "app", "namespace": "harbor-mutual"}), "harbor-mutual/app"),
        (binding("acme", {"kind": "Group", "name": "tenant:acme-life:operators"}), "of tenant acme-life"),
        (binding("acme", {"kind": "User", "name": "system:serviceaccount:acme-life:app"}), "of tenant acme-life"),
        (binding("acme", {"kind": "Group", "name": "system:serviceaccounts:harbor-mutual"}), "harbor-mutual"),
        (authz("acme", {"namespaces": ["harbor-mutual"]}), "namespaces of other tenants: harbor-mutual"),
        (authz("acme", {"namespaces": ["acme-*"]}), "namespaces of other tenants: acme-life"),
        (authz("acme", {"namespaces": ["*"]}), "every namespace"),
        (authz("acme", {"principals": ["cluster.local/ns/acme-life/sa/carrier"]}), "cluster.local/ns/acme-life/sa"),
        (service_account("acme", role_arn("acme-life")), "belongs to tenant acme-life"),
        (service_account("acme-life", role_arn("harbor-mutual")), "belongs to tenant harbor-mutual"),
    ],
)
def test_bindings_crossing_tenants(resource: Res, fragment: str) -> None:
    found = list(isolation.bindings_in_tenant([*NAMESPACES, resource], {}))
    assert len(found) == 1 and fragment in found[0][0] and found[0][1] == resource.urn, found


# ------------------------------------------------------------------------------ MT-5 / MT-6 / MT-7


def tags(tenant: str | None, **extra: str) -> dict[str, Any]:
    return {"tags": {"tenant": tenant, "tier": "standard", **extra} if tenant else {"owner": "platform", **extra}}


def key(tenant: str | None) -> Res:
    return res(isolation.KMS_KEY, f"key-{tenant or 'platform'}", tags(tenant))


def database(tenant: str, name: str | None = None, deps: Sequence[Res] = (), **props: Any) -> Res:
    return res(
        isolation.RDS,
        name or f"db-{tenant}",
        {"engine": "mariadb", **tags(tenant), **props},
        deps=[d.urn for d in deps],
    )


KEYS = {t: key(t) for t in ("acme", "acme-life", "harbor-mutual")}
PLATFORM_KEY = key(None)


def test_one_primary_database_per_tenant() -> None:
    primary = database("acme", deps=[KEYS["acme"], PLATFORM_KEY])
    replica = database("acme", "db-acme-replica", replicateSourceDb="ip-prod-acme")  # engine comes from the source
    other = database("acme-life", deps=[KEYS["acme-life"]])
    assert run(isolation.one_database_per_tenant, [*KEYS.values(), PLATFORM_KEY, primary, replica, other]) == []
    assert run(isolation.one_database_per_tenant, [*KEYS.values()]) == []  # a tenant with no data here


def test_two_primaries_for_one_tenant() -> None:
    first, second = database("acme"), database("acme", "db-acme-2")
    found = list(isolation.one_database_per_tenant([first, second, database("acme-life")], {}))
    assert {urn for _, urn in found} == {first.urn, second.urn}
    assert all("tenant acme has 2 primary databases" in message for message, _ in found)


@pytest.mark.parametrize(
    ("db", "fragment"),
    [
        (database("acme", engine="postgres"), "engine is postgres"),
        (database("acme", deps=[KEYS["harbor-mutual"]]), "depends on key-harbor-mutual of tenant harbor-mutual"),
        (database("acme", replicateSourceDb="arn:aws:rds:us-east-1:1:db:ip-prod-acme-life"), "of tenant acme-life"),
    ],
)
def test_database_violations(db: Res, fragment: str) -> None:
    found = run(isolation.one_database_per_tenant, [*KEYS.values(), db])
    assert len(found) == 1 and fragment in found[0], found


def test_tenant_data_uses_own_key() -> None:
    bucket = res("aws:s3/bucket:Bucket", "bucket-acme", tags("acme"))
    sse = res(isolation.BUCKET_SSE, "bucket-acme-sse", {"bucket": "b"}, deps=[bucket.urn, KEYS["acme"].urn])
    queue = res("aws:sqs/queue:Queue", "q-acme", tags("acme"), deps=[KEYS["acme"].urn])
    platform_logs = res("aws:cloudwatch/logGroup:LogGroup", "platform-logs", tags(None), deps=[PLATFORM_KEY.urn])
    resources = [*KEYS.values(), PLATFORM_KEY, bucket, sse, queue, platform_logs, database("acme", deps=[KEYS["acme"]])]
    assert run(isolation.tenant_data_own_key, resources) == []

    # Bucket encryption is attributed through the bucket it configures.
    bad_sse = res(isolation.BUCKET_SSE, "bucket-acme-sse", {"bucket": "b"}, deps=[bucket.urn, PLATFORM_KEY.urn])
    assert run(isolation.tenant_data_own_key, [*KEYS.values(), PLATFORM_KEY, bucket, bad_sse]) == [
        "tenant acme's data is encrypted with platform key key-platform, not its own"
    ]
    logs = res("aws:cloudwatch/logGroup:LogGroup", "logs-acme", tags("acme"), deps=[KEYS["acme-life"].urn])
    secret = res("aws:secretsmanager/secret:Secret", "secret-acme", tags("acme"), deps=[PLATFORM_KEY.urn])
    found = run(isolation.tenant_data_own_key, [*KEYS.values(), PLATFORM_KEY, logs, secret])
    assert found == [
        "tenant acme's data is encrypted with tenant acme-life's key key-acme-life",
        "tenant acme's data is encrypted with platform key key-platform, not its own",
    ]


def role_policy(tenant: str, parent: Res, *resources_: str) -> Res:
    document = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": list(resources_)})
    return res("aws:iam/rolePolicy:RolePolicy", f"policy-{tenant}", {"policy": document}, parent=parent.urn)


ROLES = {t: res("aws:iam/role:Role", f"role-{t}", tags(t)) for t in ("acme", "acme-life", "harbor-mutual")}


def bucket_arn(tenant: str, suffix: str = "data") -> str:
    return f"arn:aws:s3:::ip-prod-us-east-1-{tenant}-{suffix}"


def test_no_cross_tenant_references_compliant() -> None:
    resources = [
        *ROLES.values(),
        # Untaggable policies are attributed through their parent role; own ids are never flagged,
        # and 'acme' inside 'acme-life' is acme-life's id, not acme's.
        role_policy("acme", ROLES["acme"], bucket_arn("acme"), bucket_arn("acme") + "/*"),
        role_policy("acme-life", ROLES["acme-life"], bucket_arn("acme-life"), bucket_arn("acme-life", "*")),
        res(
            "aws:sqs/queue:Queue",
            "q-harbor",
            {
                **tags("harbor-mutual"),
                "policy": doc({"Effect": "Allow", "Principal": {"AWS": role_arn("harbor-mutual")}}),
            },
        ),
        # The mock ARN form of the offline plan.
        res(
            "aws:iam/policy:Policy",
            "p-acme",
            {**tags("acme"), "policy": doc({"Resource": "arn:aws:sqs:us-east-1:1:ip-prod-acme-jobs"})},
        ),
        # Platform resources may name every tenant.
        res(
            "aws:iam/policy:Policy",
            "p-platform",
            {**tags(None), "policy": doc({"Resource": [bucket_arn("acme"), bucket_arn("acme-life")]})},
        ),
        res("aws:sqs/queue:Queue", "q-acme", tags("acme"), deps=[ROLES["acme"].urn, PLATFORM_KEY.urn]),
        PLATFORM_KEY,
    ]
    assert run(isolation.no_cross_tenant_references, resources) == []


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: role_policy("acme", ROLES["acme"], bucket_arn("acme-life")), "of tenant acme-life"),
        (lambda: role_policy("acme-life", ROLES["acme-life"], bucket_arn("acme")), "of tenant acme"),
        # A wildcard after the tenant's own id also reaches the tenant whose id extends it.
        (
            lambda: role_policy("acme", ROLES["acme"], "arn:aws:s3:::ip-prod-us-east-1-acme-*"),
            "also matches tenant acme-life",
        ),
        (
            lambda: role_policy("acme", ROLES["acme"], "arn:aws:s3:::ip-prod-us-east-1-acme*"),
            "also matches tenant acme-life",
        ),
        (
            lambda: res(
                "aws:iam/role:Role",
                "role-acme",
                {
                    **tags("acme"),
                    "inlinePolicies": [
                        {"name": "q", "policy": doc({"Resource": "arn:aws:sqs:us-east-1:1:ip-prod-harbor-mutual-jobs"})}
                    ],
                },
            ),
            "inlinePolicies[0] names arn:aws:sqs:us-east-1:1:ip-prod-harbor-mutual-jobs",
        ),
        (
            lambda: res(
                "aws:iam/role:Role",
                "role-acme",
                {
                    **tags("acme"),
                    "assumeRolePolicy": doc(
                        {"Condition": {"StringEquals": {"oidc:sub": "system:serviceaccount:harbor-mutual:carrier"}}}
                    ),
                },
            ),
            "trusts service account system:serviceaccount:harbor-mutual:carrier",
        ),
        (
            lambda: res(
                "aws:kms/key:Key",
                "key-acme",
                {**tags("acme"), "policy": doc({"Principal": {"AWS": role_arn("acme-life")}})},
            ),
            "policy names arn:aws:iam::123456789012:role/ip-prod-us-east-1-acme-life-carrier",
        ),
        (
            lambda: res("aws:sqs/queue:Queue", "q-acme", tags("acme"), deps=[KEYS["harbor-mutual"].urn]),
            "depends on key-harbor-mutual",
        ),
    ],
)
def test_cross_tenant_references(make: Callable[[], Res], fragment: str) -> None:
    resource = make()
    found = list(isolation.no_cross_tenant_references([*ROLES.values(), *KEYS.values(), resource], {}))
    assert len(found) == 1 and fragment in found[0][0] and found[0][1] == resource.urn, found


def test_tenant_ids_come_from_namespace_labels_too() -> None:
    # 'orchard' has no tagged AWS resource in this stack, only its namespace.
    policy = role_policy("acme", ROLES["acme"], bucket_arn("orchard"))
    found = run(isolation.no_cross_tenant_references, [namespace("orchard", "orchard"), ROLES["acme"], policy])
    assert found and "of tenant orchard" in found[0]


def test_tenant_segments_match_whole_ids_only() -> None:
    ids = {"acme", "acme-life", "life", "harbor-mutual"}
    assert isolation.tenants_in_arn(bucket_arn("acme-life"), ids) == {"acme-life"}
    assert isolation.tenants_in_arn(bucket_arn("acme"), ids) == {"acme"}
    assert isolation.tenants_in_arn("arn:aws:s3:::ip-prod-acmecorp-data", ids) == set()
    assert isolation.tenants_in_arn("arn:aws:iam::1:role/acme/x", ids) == {"acme"}
    assert isolation.tenants_in_arn("arn:aws:sqs:us-east-1:1:acme-life", ids) == {"acme-life"}
    assert isolation.wildcard_reaches("arn:aws:s3:::ip-acme-l*", "acme", ids) == {"acme-life"}
    assert isolation.wildcard_reaches("arn:aws:s3:::ip-acme-data-*", "acme", ids) == set()
    assert isolation.wildcard_reaches("arn:aws:s3:::ip-acme-life-*", "acme-life", ids) == set()


# ------------------------------------------------------------------------------ stack rules under the engine


def test_unknown_values_skip_only_the_resource_that_holds_them() -> None:
    unknown = res(isolation.NETWORK_POLICY, "np-unknown", {"metadata": {"namespace": UNKNOWN_STRING_VALUE}})
    bad = netpol("acme", ingress=[{"namespaceSelector": {}}])
    assert len(run(isolation.network_policies_in_tenant, [*NAMESPACES, unknown, bad])) == 1
    policy = role_policy("acme", ROLES["acme"], bucket_arn("acme-life"))
    pending = res(
        "aws:iam/rolePolicy:RolePolicy", "pending", {"policy": UNKNOWN_STRING_VALUE}, parent=ROLES["acme"].urn
    )
    assert len(run(isolation.no_cross_tenant_references, [*ROLES.values(), pending, policy])) == 1


def _policy_resource(r: Res, by_urn: dict[str, PolicyResource]) -> PolicyResource:
    return PolicyResource(
        resource_type=r.type,
        props=r.props,
        urn=r.urn,
        name=r.name,
        opts=PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], r.parent_urn),
        provider=None,
        parent=by_urn.get(r.parent_urn or ""),
        dependencies=[by_urn[d] for d in r.dependencies if d in by_urn],
        property_dependencies={},
    )


def test_stack_rules_run_through_the_crossguard_policy() -> None:
    """Parents and dependencies arrive through PolicyResource objects, as the engine passes them."""
    policy = role_policy("acme", ROLES["acme"], bucket_arn("harbor-mutual"))
    queue = res("aws:sqs/queue:Queue", "q-acme", tags("acme"), deps=[KEYS["harbor-mutual"].urn])
    by_urn: dict[str, PolicyResource] = {}
    for r in [*ROLES.values(), *KEYS.values(), policy, queue]:  # parents and dependencies first
        by_urn[r.urn] = _policy_resource(r, by_urn)
    stack_policy = POLICIES["no-cross-tenant-references"]
    assert isinstance(stack_policy, StackValidationPolicy) and callable(stack_policy.validate)
    found: list[tuple[str, str | None]] = []
    stack_policy.validate(StackValidationArgs(list(by_urn.values())), lambda m, urn=None: found.append((m, urn)))
    assert sorted(urn or "" for _, urn in found) == sorted([policy.urn, queue.urn])


# ------------------------------------------------------------------------------ metadata


def test_rule_metadata_is_complete_and_unique() -> None:
    assert [r.name for r in workloads.RULES] == [
        "workload-security-context",
        "workload-resources",
        "workload-image-provenance",
        "service-account-token",
        "secrets-as-files",
        "no-loadbalancer-services",
        "no-default-namespace",
    ]
    assert [r.id for r in access.RULES] == ["IAM-1", "IAM-2", "K8S-RBAC-1", "IAM-MFA-1", "ENC-MSG-1", "NET-MSG-1"]
    assert [r.id for r in isolation.RULES] == ["MT-3", "MT-4", "MT-5", "MT-6", "MT-7", "MT-9", "MT-12"]
    assert len({r.name for r in RULES}) == len({r.id for r in RULES}) == len(RULES)
    pack_names = {r.name: r for r in PACK_RULES}
    pack_ids = {r.id: r for r in PACK_RULES}
    for rule in RULES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        assert rule.title and len(rule.description) > 40 and rule.remediation and rule.frameworks, rule.id
        assert (rule.check is None) == rule.is_stack_rule, rule.id
        assert bool(rule.resource_types) != rule.is_stack_rule, rule.id
        # A stack rule says what it examines, so the reports can tell "pass" from "nothing to check".
        assert (rule.subject is not None) == rule.is_stack_rule, rule.id
        # Either not in the pack yet, or registered as this very rule.
        assert pack_names.get(rule.name, rule) is rule and pack_ids.get(rule.id, rule) is rule, rule.id
        policy = POLICIES[rule.name]
        assert isinstance(policy, StackValidationPolicy if rule.is_stack_rule else ResourceValidationPolicy)
        assert policy.description.startswith(f"[{rule.id}]")
    assert all(r.severity.value == "critical" for r in isolation.RULES)
    advisory = {r.name for r in RULES if r.enforcement.value == "advisory"}
    assert advisory == {"service-account-token", "secrets-as-files"}
