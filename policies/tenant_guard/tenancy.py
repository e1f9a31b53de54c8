"""Tenant isolation: every tenant namespace is fenced, and every tenant resource says whose it is."""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import cis_eks, glba, naic, nydfs
from .props import get, labels_of, tags_of, tenant_label
from .rule import Res, Rule

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
TENANT_COMPONENT = "platform:index:Tenant"
QUOTA_KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods")
REQUIRED_TAGS = ("tenant", "tier", "environment")
# AWS resource types that take no tags; they are attributed to a tenant through their parent.
UNTAGGABLE = frozenset(
    {
        "aws:kms/alias:Alias",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketNotification:BucketNotification",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sqs/redrivePolicy:RedrivePolicy",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:cognito/userPoolClient:UserPoolClient",
        "aws:route53/record:Record",
        "aws:backup/selection:Selection",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:cloudwatch/logMetricFilter:LogMetricFilter",
    }
)


class StackIndex:
    """Parent links and tenant attribution over one stack's resources."""

    def __init__(self, resources: Sequence[Res]) -> None:
        self.by_urn = {r.urn: r for r in resources}
        self._tenant: dict[str, str | None] = {}

    def parent(self, r: Res) -> Res | None:
        return self.by_urn.get(r.parent_urn) if r.parent_urn else None

    def ancestors(self, r: Res) -> Iterable[Res]:
        current = self.parent(r)
        while current is not None:
            yield current
            current = self.parent(current)

    def tenant(self, r: Res) -> str | None:
        """The resource's own tenant tag/label, else its nearest tenant-owned ancestor's."""
        if r.urn not in self._tenant:
            own = tenant_label(r.props)
            parent = self.parent(r)
            self._tenant[r.urn] = own if own else (self.tenant(parent) if parent else None)
        return self._tenant[r.urn]

    def tenant_component(self, r: Res) -> Res | None:
        return next((a for a in self.ancestors(r) if a.type == TENANT_COMPONENT), None)


def _empty_selector(selector: Any) -> bool:
    if not isinstance(selector, Mapping):
        return selector is None
    return not get(selector, "matchLabels") and not get(selector, "matchExpressions")


def _is_default_deny(policy: Res) -> bool:
    spec = get(policy.props, "spec") or {}
    types = set(get(spec, "policyTypes") or [])
    return (
        _empty_selector(get(spec, "podSelector"))
        and {"Ingress", "Egress"} <= types
        and not get(spec, "ingress")
        and not get(spec, "egress")
    )


def _allows_dns(policy: Res) -> bool:
    for rule in get(policy.props, "spec.egress") or []:
        for port in get(rule, "ports") or []:
            if str(get(port, "port", "")) == "53":
                return True
    return False


def _has_quota(quota: Res) -> bool:
    hard = get(quota.props, "spec.hard") or {}
    return all(key in list(hard.keys()) for key in QUOTA_KEYS)


def _has_limits(limit_range: Res) -> bool:
    return any(
        get(item, "type") == "Container" and get(item, "default") and get(item, "defaultRequest")
        for item in get(limit_range.props, "spec.limits") or []
    )


def namespace_guardrails(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    in_namespace: dict[str, list[Res]] = defaultdict(list)
    for r in resources:
        ns = get(r.props, "metadata.namespace")
        if isinstance(ns, str):
            in_namespace[ns].append(r)
    for ns in resources:
        if ns.type != NAMESPACE or not labels_of(ns.props).get("tenant"):
            continue
        name = get(ns.props, "metadata.name")
        objects = in_namespace.get(name, []) if isinstance(name, str) else []
        missing = []
        if not any(o.type == QUOTA and _has_quota(o) for o in objects):
            missing.append(f"a ResourceQuota on {', '.join(QUOTA_KEYS)}")
        if not any(o.type == LIMIT_RANGE and _has_limits(o) for o in objects):
            missing.append("a LimitRange with container defaults")
        if not any(o.type == NETWORK_POLICY and _is_default_deny(o) for o in objects):
            missing.append("a default-deny NetworkPolicy (ingress and egress)")
        if not any(o.type == NETWORK_POLICY and _allows_dns(o) for o in objects):
            missing.append("a DNS egress allow")
        if missing:
            yield (f"tenant namespace '{name}' lacks {'; '.join(missing)}", ns.urn)


def tenant_attribution(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    index = StackIndex(resources)
    owners: dict[str, set[str]] = defaultdict(set)
    for r in resources:
        component = index.tenant_component(r)
        if component is None:
            continue
        if r.type.startswith("aws:") and r.type not in UNTAGGABLE:
            found, kind = tags_of(r.props), "tags"
        elif r.type.startswith("kubernetes:"):
            found, kind = labels_of(r.props), "labels"
        else:
            continue
        missing = [key for key in REQUIRED_TAGS if not found.get(key)]
        if missing:
            yield (
                f"tenant resource lacks the {kind} {', '.join(missing)} (cost and violations are reported per tenant)",
                r.urn,
            )
        if found.get("tenant"):
            owners[component.urn].add(str(found["tenant"]))
    for component_urn, tenants in owners.items():
        if len(tenants) > 1:
            yield (
                f"one tenant's resources are labelled for several tenants: {', '.join(sorted(tenants))}",
                component_urn,
            )


def pod_security_restricted(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    labels = labels_of(r.props)
    if labels.get("tenant") and labels.get("pod-security.kubernetes.io/enforce") != "restricted":
        yield "tenant namespace does not enforce the Pod Security 'restricted' profile"


RULES = (
    Rule(
        id="MT-1",
        name="tenant-namespace-guardrails",
        title="Every tenant namespace is fenced",
        description="Each tenant namespace has a ResourceQuota, a LimitRange, a default-deny NetworkPolicy for ingress and egress, and a DNS egress allow, so one tenant can neither starve nor reach another.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), cis_eks("4.3.2")),
        remediation="Create the namespace through the TenantNamespace component, which adds quota, limits and network policies from the tier.",
        stack_check=namespace_guardrails,
    ),
    Rule(
        id="K8S-NS-1",
        name="tenant-namespace-pod-security",
        title="Tenant namespaces enforce Pod Security 'restricted'",
        description="Tenant namespaces carry pod-security.kubernetes.io/enforce=restricted: no privileged, root or host-access pods.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), cis_eks("4.2.1")),
        remediation="Label the namespace pod-security.kubernetes.io/enforce=restricted (TenantNamespace does).",
        resource_types=(NAMESPACE,),
        check=pod_security_restricted,
    ),
    Rule(
        id="MT-8",
        name="tenant-resources-attributed",
        title="Tenant resources say whose they are",
        description="Every taggable resource of a tenant carries tenant, tier and environment tags (AWS) or labels (Kubernetes), all naming the same tenant, so cost, inventory and violations are reported per tenant.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.13"), glba("2")),
        remediation="Pass tenant_tags()/tenant_labels() (components/tags.py) to every resource of the Tenant component.",
        stack_check=tenant_attribution,
    ),
)
