"""Access: least-privilege IAM and Kubernetes RBAC, no AWS administrator policies, MFA and strong
passwords for tenant user directories, and messaging and resource policies that are neither
public nor encrypted with AWS-managed keys."""

import json
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import cis_aws, cis_eks, fsbp, glba, naic, nydfs
from .props import as_list, get
from .rule import Res, Rule

IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE = "aws:iam/role:Role"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
K8S_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
K8S_CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
K8S_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
K8S_CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
USER_POOL = "aws:cognito/userPool:UserPool"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"

# Services whose actions read or write the data itself.
DATA_SERVICES = frozenset({"s3", "sqs", "sns", "secretsmanager", "kms", "dynamodb", "rds-db", "ssm"})
# Actions of those services that touch data (lower case, fnmatch patterns); any action name with a
# wildcard counts as a data action too.
DATA_ACTIONS = (
    "kms:decrypt",
    "kms:encrypt",
    "kms:generatedatakey*",
    "kms:reencrypt*",
    "s3:getobject",
    "s3:getobjectversion",
    "s3:putobject",
    "s3:deleteobject",
    "s3:deleteobjectversion",
    "sqs:*message*",
    "sns:publish",
    "secretsmanager:getsecretvalue",
    "rds-db:connect",
    "ssm:getparameter*",
    "dynamodb:getitem",
    "dynamodb:batchgetitem",
    "dynamodb:query",
    "dynamodb:scan",
    "dynamodb:putitem",
    "dynamodb:updateitem",
    "dynamodb:deleteitem",
    "dynamodb:batchwriteitem",
)
ADMIN_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(AdministratorAccess|IAMFullAccess|PowerUserAccess)$")
ESCALATING_VERBS = ("bind", "escalate", "impersonate")
SHELL_RESOURCES = ("pods/exec", "pods/attach")
ADMIN_ROLES = ("cluster-admin", "admin")
# Resources whose creation or change starts pods (which may mount any secret of their namespace).
POD_MAKERS = frozenset(
    {"pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "replicationcontrollers"}
)
REQUIRED_PASSWORD_CLASSES = ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
MIN_PASSWORD_LENGTH = 14
# Condition keys that pin a "Principal: *" grant to known callers.
SCOPING_CONDITION_KEYS = frozenset(
    {"aws:sourcearn", "aws:sourceaccount", "aws:principalaccount", "aws:principalorgid", "aws:principalarn"}
)


# ------------------------------------------------------------------------------ policy documents


def policy_document(value: Any) -> Mapping[str, Any] | None:
    """A policy input (JSON string or object) as a mapping; None when absent or not a document."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return value if isinstance(value, Mapping) else None


def statements(document: Mapping[str, Any] | None) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, statement) for each statement; Statement may be one object or a list."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for i, st in enumerate(as_list(get(document, "Statement"))):
        if isinstance(st, Mapping):
            sid = get(st, "Sid")
            found.append((f"statement '{sid}'" if sid else f"statement #{i + 1}", st))
    return found


def _strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value) if v is not None]


def is_data_action(action: str) -> bool:
    service, _, name = action.lower().partition(":")
    if service not in DATA_SERVICES:
        return False
    return "*" in name or "?" in name or any(fnmatchcase(action.lower(), p) for p in DATA_ACTIONS)


def _identity_policies(r: Res) -> list[tuple[str, Any]]:
    if r.type == IAM_ROLE:
        return [
            (f"inline policy '{get(p, 'name') or i + 1}'", get(p, "policy"))
            for i, p in enumerate(as_list(get(r.props, "inlinePolicies")))
        ]
    return [("the policy", get(r.props, "policy"))]


def iam_least_privilege(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    for where, text in _identity_policies(r):
        for label, st in statements(policy_document(text)):
            if get(st, "Effect") != "Allow":
                continue
            if get(st, "NotAction") is not None:
                yield f"{where}, {label}: Allow with NotAction grants every action not listed"
            actions = _strings(get(st, "Action"))
            wildcards = [a for a in actions if a == "*" or a.endswith(":*")]
            if wildcards:
                yield f"{where}, {label}: allows every action of a service ({', '.join(wildcards)})"
            every_resource = "*" in _strings(get(st, "Resource")) or get(st, "NotResource") is not None
            data = [a for a in actions if a not in wildcards and is_data_action(a)]
            if every_resource and data:
                yield f"{where}, {label}: data actions {', '.join(data)} on every resource (*): name the resources"


def no_admin_policies(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    path = "managedPolicyArns" if r.type == IAM_ROLE else "policyArn"
    for arn in _strings(get(r.props, path)):
        match = ADMIN_POLICY.match(arn)
        if match:
            yield f"the AWS managed policy {match.group(1)} is attached: grant the specific actions the principal needs"


# ------------------------------------------------------------------------------ Kubernetes RBAC


def _subject(s: Any, namespace: Any) -> tuple[str, str, str]:
    kind, name = str(get(s, "kind", "")), str(get(s, "name", ""))
    ns = get(s, "namespace") or namespace or ""
    return kind, name, str(ns)


def _describe(kind: str, name: str, ns: str) -> str:
    return f"{kind} {ns}/{name}" if kind == "ServiceAccount" else f"{kind} {name}"


def rbac_least_privilege(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if r.type in (K8S_ROLE, K8S_CLUSTER_ROLE):
        reads_secrets, runs_pods = False, list[str]()
        for i, rule in enumerate(as_list(get(r.props, "rules"))):
            label = f"rule #{i + 1}"
            verbs = {v.lower() for v in _strings(get(rule, "verbs"))}
            resources = _strings(get(rule, "resources"))
            groups = _strings(get(rule, "apiGroups"))
            if "*" in verbs:
                yield f"{label} grants every verb (*)"
            if any(x == "*" or x.startswith("*/") for x in resources):
                scope = " of every API group" if "*" in groups else ""
                yield f"{label} grants every resource{scope} (*)"
            escalating = [v for v in ESCALATING_VERBS if v in verbs]
            if escalating:
                yield f"{label} grants {', '.join(escalating)}, which lets the holder raise its own privileges"
            shells = [x for x in SHELL_RESOURCES if x in resources]
            if shells:
                yield f"{label} grants {', '.join(shells)}: a shell in running pods and their secrets"
            if "secrets" in resources and verbs & {"list", "watch"}:
                yield f"{label} can list or watch secrets, which returns every secret's value"
            if "secrets" in resources and verbs & {"get", "list", "watch"}:
                reads_secrets = True
                if "get" in verbs and not verbs & {"list", "watch"} and not _strings(get(rule, "resourceNames")):
                    yield f"{label} can get every secret of the namespace by name: list the secrets in resourceNames"
            if "create" in verbs and set(resources) & POD_MAKERS:
                runs_pods = sorted(set(resources) & POD_MAKERS)
        if reads_secrets and runs_pods:
            yield (
                f"the role both reads secrets and creates {', '.join(runs_pods)}: "
                "a pod it starts can mount any secret of the namespace"
            )
        return
    namespace = get(r.props, "metadata.namespace")
    role = get(r.props, "roleRef.name")
    subjects = [_subject(s, namespace) for s in as_list(get(r.props, "subjects"))]
    if role in ADMIN_ROLES:
        outside = [_describe(*s) for s in subjects if not (s[0] == "ServiceAccount" and s[2] == "kube-system")]
        if outside:
            yield f"the {role} role is bound to {', '.join(outside)}, outside kube-system"
    if r.type == K8S_CLUSTER_ROLE_BINDING:
        tenant_groups = [name for kind, name, _ in subjects if kind == "Group" and name.startswith("tenant:")]
        if tenant_groups:
            yield f"tenant group(s) {', '.join(tenant_groups)} get cluster-wide permissions: bind them with a RoleBinding in the tenant's namespace"


# ------------------------------------------------------------------------------ user directories


def cognito_mfa_and_passwords(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "mfaConfiguration") != "ON":
        yield "MFA is not required of every user: set mfaConfiguration to ON"
    length = get(r.props, "passwordPolicy.minimumLength")
    if isinstance(length, bool) or not isinstance(length, (int, float)) or length < MIN_PASSWORD_LENGTH:
        yield f"passwords may be shorter than {MIN_PASSWORD_LENGTH} characters (passwordPolicy.minimumLength)"
    missing = [k for k in REQUIRED_PASSWORD_CLASSES if get(r.props, f"passwordPolicy.{k}") is not True]
    if missing:
        yield f"the password policy does not set {', '.join(missing)}"
    if get(r.props, "userPoolAddOns.advancedSecurityMode") != "ENFORCED":
        yield "threat protection does not block risky sign-ins: set userPoolAddOns.advancedSecurityMode to ENFORCED"
    if get(r.props, "deletionProtection") != "ACTIVE":
        yield "the user directory can be deleted with its users: set deletionProtection to ACTIVE"


# ------------------------------------------------------------------------------ messaging and resource policies


def _aws_managed(key: str, service: str) -> bool:
    alias = f"alias/aws/{service}"
    return key == alias or key.endswith(f":{alias}")


def messaging_encrypted(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    service = "sqs" if r.type == QUEUE else "sns"
    key = get(r.props, "kmsMasterKeyId")
    if not isinstance(key, str) or not key:
        if service == "sqs" and get(r.props, "sqsManagedSseEnabled") is True:
            yield "messages are encrypted with the SQS-owned key (SSE-SQS), not a customer-managed KMS key (kmsMasterKeyId)"
        else:
            yield "messages are not encrypted with a customer-managed KMS key (kmsMasterKeyId)"
    elif _aws_managed(key, service):
        yield f"messages are encrypted with the AWS-managed alias/aws/{service} key, not a customer-managed key"


def _is_everyone(principal: Any) -> bool:
    if isinstance(principal, Mapping):
        return any("*" in _strings(principal[k]) for k in list(principal.keys()))
    return "*" in _strings(principal)


def _scoped(condition: Any) -> bool:
    """Whether a condition pins the caller: a positive (not Not*, not *IfExists, not Null) test of
    a source or principal key against concrete values."""
    if not isinstance(condition, Mapping):
        return False
    for operator in list(condition.keys()):
        op = str(operator)
        if "not" in op.lower() or op.endswith("IfExists") or op == "Null":
            continue
        block = condition[operator]
        if not isinstance(block, Mapping):
            continue
        for key in list(block.keys()):
            values = _strings(block[key])
            if str(key).lower() in SCOPING_CONDITION_KEYS and values and "*" not in values:
                return True
    return False


def resource_policies_not_public(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    for label, st in statements(policy_document(get(r.props, "policy"))):
        if get(st, "Effect") != "Allow":
            continue  # Deny with Principal "*" is how resource policies fence themselves
        everyone = get(st, "NotPrincipal") is not None or _is_everyone(get(st, "Principal"))
        if everyone and not _scoped(get(st, "Condition")):
            yield f"{label} allows any principal (*) without an aws:SourceArn/SourceAccount/PrincipalAccount/PrincipalOrgID/PrincipalArn condition"
        if "*" in _strings(get(st, "Action")):
            yield f"{label} allows every action (*)"


RULES: tuple[Rule, ...] = (
    Rule(
        id="IAM-1",
        name="iam-least-privilege",
        title="IAM policies grant only named actions on named data",
        summary="no `*` actions; no data actions on `*` resources",
        description="No identity policy allows every action or every action of a service, allows everything except a list (NotAction), or grants data actions (object, message, secret, key, parameter and database access) on every resource. Read-only Describe/List/Get actions that have no resource-level permissions may use '*'.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), cis_aws("1.16"), fsbp("IAM.1"), fsbp("IAM.21")),
        remediation="List the exact actions the workload calls and name the tenant's own resources (bucket, queue, secret, key ARNs) in Resource.",
        resource_types=(IAM_POLICY, IAM_ROLE_POLICY, IAM_ROLE),
        check=iam_least_privilege,
    ),
    Rule(
        id="IAM-2",
        name="no-admin-policies",
        title="No AWS administrator policies are attached",
        summary="no AdministratorAccess / IAMFullAccess / PowerUserAccess attachments",
        description="No role, user or group gets the AWS managed AdministratorAccess, IAMFullAccess or PowerUserAccess policies, which grant control of the whole account including every tenant's data and keys.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), cis_aws("1.16"), fsbp("IAM.1")),
        remediation="Replace the managed policy with a scoped inline policy; break-glass administration goes through SSO permission sets, not stack resources.",
        resource_types=(
            IAM_ROLE,
            ROLE_POLICY_ATTACHMENT,
            POLICY_ATTACHMENT,
            USER_POLICY_ATTACHMENT,
            GROUP_POLICY_ATTACHMENT,
        ),
        check=no_admin_policies,
    ),
    Rule(
        id="K8S-RBAC-1",
        name="rbac-least-privilege",
        title="Kubernetes RBAC grants no wildcards, escalation or cluster admin",
        summary="no wildcards, escalate/bind/impersonate, exec, secret listing or unnamed secret reads, secrets + pod creation; no cluster-admin for tenants",
        description="Roles and ClusterRoles grant no wildcard verbs or resources, no bind/escalate/impersonate, no exec or attach into pods, no listing of secrets, no reading of secrets beyond named ones (resourceNames) and never secret reads together with creating or changing pods or their controllers; cluster-admin and admin are bound only to kube-system service accounts, and tenant groups never get cluster-wide bindings.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(
            nydfs("500.7"),
            naic("a"),
            cis_eks("4.1.1"),
            cis_eks("4.1.2"),
            cis_eks("4.1.3"),
            cis_eks("4.1.8"),
        ),
        remediation="List the exact verbs and resources a subject needs; bind tenant operators with a RoleBinding in their namespace to a narrow Role.",
        resource_types=(K8S_ROLE, K8S_CLUSTER_ROLE, K8S_ROLE_BINDING, K8S_CLUSTER_ROLE_BINDING),
        check=rbac_least_privilege,
    ),
    Rule(
        id="IAM-MFA-1",
        name="cognito-mfa-and-strong-passwords",
        title="Tenant user directories require MFA and strong passwords",
        summary="MFA on, strong passwords, threat protection, deletion protection",
        description="Every Cognito user pool requires MFA for all users, passwords of at least 14 characters with lower and upper case letters, numbers and symbols, enforces threat protection (advanced security) and cannot be deleted with its users.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.12"), naic("g"), glba("5")),
        remediation="Set mfaConfiguration ON, passwordPolicy (minimumLength 14, all four require* true), userPoolAddOns.advancedSecurityMode ENFORCED (Plus tier) and deletionProtection ACTIVE.",
        resource_types=(USER_POOL,),
        check=cognito_mfa_and_passwords,
    ),
    Rule(
        id="ENC-MSG-1",
        name="messaging-encrypted-with-customer-key",
        title="Queues and topics are encrypted with customer-managed keys",
        summary="SQS and SNS encrypted with a customer-managed key",
        description="Every SQS queue and SNS topic encrypts messages with a customer-managed KMS key (the tenant's own), never the AWS-managed alias/aws/sqs or alias/aws/sns key or SQS-owned SSE, so access to message contents follows the key policy.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), glba("3"), fsbp("SQS.1"), fsbp("SNS.1")),
        remediation="Set kmsMasterKeyId to the owning tenant's KMS key ARN (TenantMessaging does).",
        resource_types=(QUEUE, TOPIC),
        check=messaging_encrypted,
    ),
    Rule(
        id="NET-MSG-1",
        name="resource-policies-not-public",
        title="Resource policies are not open to everyone",
        summary="queue/topic/bucket/key policies not open to `*` without a scoping condition",
        description="No queue, topic, bucket or KMS key policy allows any principal ('*') unless a condition pins the caller by source ARN or account, principal account, organization or ARN, and none allows every action. Deny statements for any principal are how these policies fence themselves and are fine.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), fsbp("SQS.3"), fsbp("SNS.4"), fsbp("S3.2"), fsbp("KMS.5")),
        remediation="Name the tenant's own roles or the AWS service principal in Principal (with aws:SourceArn/aws:SourceAccount for services) and list the exact actions.",
        resource_types=(QUEUE, QUEUE_POLICY, TOPIC, TOPIC_POLICY, BUCKET_POLICY, KMS_KEY),
        check=resource_policies_not_public,
    ),
)
