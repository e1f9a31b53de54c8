"""Platform layer: hardened nodes, pinned add-ons and charts, IRSA trust pinned to one service
account, Pod Security on every namespace, and encrypted, highly available Redis."""

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import cis_eks, fsbp, glba, naic, nydfs
from .props import ACCOUNT_PRINCIPAL, CALLER_KEYS, as_list, get, labels_of, pins_caller, tags_of
from .rule import Res, Rule

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
EKS_ADDON = "aws:eks/addon:Addon"
IAM_ROLE = "aws:iam/role:Role"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
NAMESPACE = "kubernetes:core/v1:Namespace"
VERSION_RANGE_MARKS = ("^", "~", "*", "x", ">", "<", "||", " ")
DEFAULT_PRIVILEGED_NAMESPACES = ("istio-cni",)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def node_hardening(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if r.type == LAUNCH_TEMPLATE:
        if get(r.props, "metadataOptions.httpTokens") != "required":
            yield "instance metadata allows IMDSv1: set metadataOptions.httpTokens to required"
        mappings = as_list(get(r.props, "blockDeviceMappings"))
        if not mappings:
            yield "no block device mapping: the root volume would use the AMI's unencrypted default"
        for mapping in mappings:
            if not _truthy(get(mapping, "ebs.encrypted")) or not get(mapping, "ebs.kmsKeyId"):
                yield f"volume {get(mapping, 'deviceName', '?')} is not encrypted with a customer-managed KMS key"
        return
    # Node groups must take their hardening from a launch template, and no SSH.
    if not get(r.props, "launchTemplate.id") and not get(r.props, "launchTemplate.name"):
        yield "the node group uses no launch template, so IMDSv2 and volume encryption are not enforced"
    if get(r.props, "remoteAccess"):
        yield "SSH remote access is configured on worker nodes: use SSM Session Manager instead"


def _pinned(version: Any) -> bool:
    return (
        isinstance(version, str)
        and bool(version.strip())
        and version != "latest"
        and not any(mark in version for mark in VERSION_RANGE_MARKS)
    )


def helm_pinned(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    version = get(r.props, "version")
    if not _pinned(version):
        yield "the chart version is not pinned to one exact version (components/shared/versions.py)"
    chart = str(get(r.props, "chart", ""))
    if not chart.startswith("oci://") and not get(r.props, "repositoryOpts.repo"):
        yield "the chart comes from no explicit repository"


def addon_pinned(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if not _pinned(get(r.props, "addonVersion")):
        yield "the EKS add-on version is not pinned (components/shared/versions.py)"


def _policy_document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return value if isinstance(value, Mapping) else None


def irsa_trust(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    document = _policy_document(get(r.props, "assumeRolePolicy"))
    if document is None:
        return
    for st in as_list(get(document, "Statement")):
        if get(st, "Effect") != "Allow":
            continue
        principal = get(st, "Principal")
        if principal == "*" or get(principal, "AWS") == "*":
            yield "the role can be assumed by any principal"
            continue
        accounts = [str(p) for p in as_list(get(principal, "AWS")) if ACCOUNT_PRINCIPAL.match(str(p))]
        if accounts and not pins_caller(get(st, "Condition"), TRUST_CALLER_KEYS):
            yield (
                f"the role trusts every principal of {', '.join(accounts)} without a condition naming the caller "
                "(aws:PrincipalArn, aws:PrincipalTag/<key> or sts:ExternalId)"
            )
        actions = as_list(get(st, "Action"))
        if "sts:AssumeRoleWithWebIdentity" not in actions:
            continue
        condition = get(st, "Condition") or {}
        equals = get(condition, "StringEquals") or {}
        subjects = {k: v for k, v in equals.items() if str(k).endswith(":sub")}
        audiences = {k: v for k, v in equals.items() if str(k).endswith(":aud")}
        if get(condition, "StringLike") or len(subjects) != 1:
            yield "the web-identity trust does not pin exactly one service account (StringEquals on :sub)"
            continue
        (subject,) = subjects.values()
        if not isinstance(subject, str) or not subject.startswith("system:serviceaccount:") or "*" in subject:
            yield "the web-identity trust names no single service account"
        if list(audiences.values()) != ["sts.amazonaws.com"]:
            yield "the web-identity trust does not require the sts.amazonaws.com audience"


# A trust may also name its caller by the ExternalId the caller must present.
TRUST_CALLER_KEYS = (*CALLER_KEYS, "sts:externalid")


def namespace_pod_security(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    labels = labels_of(r.props)
    level = labels.get("pod-security.kubernetes.io/enforce")
    if level not in ("privileged", "baseline", "restricted"):
        yield "the namespace enforces no Pod Security level (pod-security.kubernetes.io/enforce)"
        return
    allowed = config.get("privilegedNamespaces", list(DEFAULT_PRIVILEGED_NAMESPACES))
    if level == "privileged" and get(r.props, "metadata.name") not in allowed:
        yield "the namespace allows privileged pods without being on the approved list"


def redis_encryption(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "atRestEncryptionEnabled") is not True or not get(r.props, "kmsKeyId"):
        yield "data at rest is not encrypted with a customer-managed KMS key (atRestEncryptionEnabled, kmsKeyId)"
    if get(r.props, "transitEncryptionEnabled") is not True or get(r.props, "transitEncryptionMode") == "preferred":
        yield "clients may connect without TLS: set transitEncryptionEnabled and transitEncryptionMode required"
    if not get(r.props, "authToken") and not as_list(get(r.props, "userGroupIds")):
        yield "no authentication: use an RBAC user group (IAM users) or an auth token"


def _acl_problems(tenant: str, access: str) -> list[str]:
    problems: list[str] = []
    tokens = access.split()
    for token in tokens:
        if token in ("allkeys", "allchannels"):
            problems.append(f"'{token}' reaches every tenant's keys or channels")
            continue
        if token.startswith("&"):
            pattern = token[1:]
        elif token.startswith("~") or (token.startswith("%") and "~" in token):
            pattern = token.split("~", 1)[1]
        else:
            continue
        if not re.split(r"[*?\[]", pattern, maxsplit=1)[0].startswith(f"{tenant}:"):
            problems.append(f"pattern '{token}' is not confined to the prefix '{tenant}:'")
    lowered = [t.lower() for t in tokens]
    if "+@dangerous" in lowered or "+@admin" in lowered or ("+@all" in lowered and "-@dangerous" not in lowered):
        problems.append(
            "administrative or dangerous commands are allowed (+@all without -@dangerous, +@dangerous, +@admin)"
        )
    return problems


def cache_users_confined(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    access = str(get(r.props, "accessString", ""))
    enabled = access.split()[:1] == ["on"]
    if get(r.props, "userName") == "default" and enabled:
        yield "the default user is enabled: every client that reaches the cache is that user; set its access string to 'off'"
    no_password = (
        get(r.props, "authenticationMode.type") == "no-password-required" or get(r.props, "noPasswordRequired") is True
    )
    if enabled and no_password:
        yield "an enabled user needs no password or IAM token: use authenticationMode iam"
    tenant = tags_of(r.props).get("tenant")
    if isinstance(tenant, str) and tenant:
        for problem in _acl_problems(tenant, access):
            yield f"tenant {tenant}'s cache user: {problem}"


def redis_availability(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "automaticFailoverEnabled") is not True or get(r.props, "multiAzEnabled") is not True:
        yield "no automatic Multi-AZ failover: a node or AZ failure takes the cache down"
    limit = get(r.props, "snapshotRetentionLimit")
    if not isinstance(limit, (int, float)) or limit < 1:
        yield "no automatic snapshots (snapshotRetentionLimit)"


RULES = (
    Rule(
        id="ENC-EKS-2",
        name="node-hardening",
        title="Worker nodes require IMDSv2 and encrypt their volumes",
        summary="node launch templates: IMDSv2 required, volumes KMS-encrypted; no SSH",
        description="Every node group launches from a launch template that requires IMDSv2 (no instance credentials for pods via IMDSv1) and encrypts every volume with a customer-managed key; no SSH access.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), nydfs("500.7"), cis_eks("3.1"), fsbp("EC2.8")),
        remediation="Use the Cluster component's launch template (httpTokens required, encrypted gp3 with the node-volumes key) for every managed node group.",
        resource_types=(LAUNCH_TEMPLATE, MANAGED_NODE_GROUP, NODE_GROUP),
        check=node_hardening,
    ),
    Rule(
        id="SUP-HELM-1",
        name="helm-releases-pinned",
        title="Helm charts are pinned",
        summary="one exact chart version from an explicit repository",
        description="Every Helm release names one exact chart version from an explicit repository, so what runs in production changes only through a reviewed version bump.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.8"), cis_eks("5.1.4")),
        remediation="Pin the version in components/shared/versions.py and pass the chart's repository.",
        resource_types=(HELM_RELEASE, HELM_CHART),
        check=helm_pinned,
    ),
    Rule(
        id="SUP-ADDON-1",
        name="eks-addons-pinned",
        title="EKS add-ons are pinned",
        summary="EKS add-on versions pinned",
        description="Every AWS-managed EKS add-on names its exact version, so upgrades are deliberate and reviewed.",
        severity=Severity.LOW,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.8"),),
        remediation="Set addonVersion from components/shared/versions.py (check with aws eks describe-addon-versions).",
        resource_types=(EKS_ADDON,),
        check=addon_pinned,
    ),
    Rule(
        id="IAM-3",
        name="irsa-trust-pinned",
        title="Workload roles trust exactly one service account",
        summary="no role assumable by anyone; account trusts name the caller; IRSA trust = exactly one service account + STS audience",
        description="No role is assumable by everyone, a role trusting a whole account names the caller in a condition (principal ARN, principal tag or external ID), and every web-identity (IRSA) role trusts exactly one namespace/service account of the cluster's OIDC issuer with the STS audience.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), cis_eks("5.1.5")),
        remediation="Create workload roles with the ServiceAccountRole component (StringEquals on <issuer>:sub and <issuer>:aud).",
        resource_types=(IAM_ROLE,),
        check=irsa_trust,
    ),
    Rule(
        id="K8S-NS-2",
        name="namespace-pod-security-level",
        title="Every namespace enforces a Pod Security level",
        summary="every namespace enforces a level; privileged only if approved",
        description="Each namespace the platform creates declares its enforced Pod Security level; only approved system namespaces (node agents such as the Istio CNI) may be privileged.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), cis_eks("4.2.1")),
        remediation="Label the namespace pod-security.kubernetes.io/enforce=baseline (add-ons) or restricted (tenants); request an exception for privileged.",
        resource_types=(NAMESPACE,),
        check=namespace_pod_security,
        config_schema={"privilegedNamespaces": {"type": "array", "items": {"type": "string"}}},
    ),
    Rule(
        id="ENC-REDIS-1",
        name="redis-encrypted-and-authenticated",
        title="Redis is encrypted and authenticated",
        summary="KMS at rest, TLS required, RBAC/IAM or token auth",
        description="Every ElastiCache replication group encrypts data at rest with a customer-managed key, requires TLS for every connection and authenticates clients.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), fsbp("ElastiCache.4"), fsbp("ElastiCache.5"), fsbp("ElastiCache.6")),
        remediation="Set atRestEncryptionEnabled with kmsKeyId, transitEncryptionEnabled with transitEncryptionMode required, and userGroupIds (IAM users).",
        resource_types=(REDIS,),
        check=redis_encryption,
    ),
    Rule(
        id="BAK-REDIS-1",
        name="redis-high-availability",
        title="Redis survives a node or AZ failure",
        summary="Multi-AZ automatic failover, snapshots",
        description="ElastiCache replication groups fail over automatically across AZs and keep daily snapshots.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.ADVISORY,
        frameworks=(naic("j"), fsbp("ElastiCache.1"), fsbp("ElastiCache.3")),
        remediation="Set automaticFailoverEnabled and multiAzEnabled with at least two cache clusters, and snapshotRetentionLimit >= 1.",
        resource_types=(REDIS,),
        check=redis_availability,
    ),
    Rule(
        id="MT-10",
        name="cache-users-confined",
        title="Cache users are authenticated and confined to their tenant",
        summary="cache default user off; no user without password/IAM; tenant users confined to `<tenant>:` keys, no dangerous commands",
        description="The ElastiCache default user is disabled, no enabled user connects without a password or IAM token, and a tenant's cache user reaches only keys (and channels) under its own '<tenant>:' prefix, without administrative or dangerous commands.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), fsbp("ElastiCache.6")),
        remediation="Keep the default user 'off -@all'; give each tenant an IAM-authenticated user with '~<tenant>:* &<tenant>:* +@all -@dangerous' or narrower.",
        resource_types=("aws:elasticache/user:User",),
        check=cache_users_confined,
    ),
)
