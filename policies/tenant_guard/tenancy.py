"""Tenant isolation: every tenant namespace is fenced, and every tenant resource says whose it is."""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity
from pulumi_policy.proxy import UnknownValueError

from .frameworks import cis_eks, glba, naic, nydfs
from .props import as_list, get, labels_of, tags_of, tenant_label
from .rule import Res, Rule, of_types

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
TENANT_COMPONENT = "platform:index:Tenant"
QUOTA_KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods")
REQUIRED_TAGS = ("tenant", "tier", "environment")
# AWS resource types that take no tags; they are attributed to a tenant through their parent.
# Types whose resource is about another resource it names (the input holding the name or ARN, and
# the governed types): a role policy belongs to the role's tenant, a queue policy to the queue's.
ROLE = "aws:iam/role:Role"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SECRET = "aws:secretsmanager/secret:Secret"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DATABASE = "aws:rds/instance:Instance"
USER_POOL = "aws:cognito/userPool:UserPool"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_VAULT = "aws:backup/vault:Vault"
GOVERNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws:iam/rolePolicy:RolePolicy": ("role", (ROLE,)),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", (ROLE,)),
    "aws:iam/instanceProfile:InstanceProfile": ("role", (ROLE,)),
    "aws:eks/accessEntry:AccessEntry": ("principalArn", (ROLE,)),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ("principalArn", (ROLE,)),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("roleArn", (ROLE,)),
    **dict.fromkeys(
        (
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketVersioning:BucketVersioning",
            "aws:s3/bucketVersioningV2:BucketVersioningV2",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
            "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
            "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
            "aws:s3/bucketLogging:BucketLogging",
            "aws:s3/bucketLoggingV2:BucketLoggingV2",
            "aws:s3/bucketNotification:BucketNotification",
            "aws:s3/bucketAclV2:BucketAclV2",
            "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2",
        ),
        ("bucket", BUCKETS),
    ),
    "aws:sqs/queuePolicy:QueuePolicy": ("queueUrl", (QUEUE,)),
    "aws:sqs/redrivePolicy:RedrivePolicy": ("queueUrl", (QUEUE,)),
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": ("queueUrl", (QUEUE,)),
    "aws:sns/topicPolicy:TopicPolicy": ("arn", (TOPIC,)),
    "aws:sns/topicSubscription:TopicSubscription": ("topic", (TOPIC,)),
    "aws:sns/topicDataProtectionPolicy:TopicDataProtectionPolicy": ("arn", (TOPIC,)),
    "aws:kms/alias:Alias": ("targetKeyId", (KEY,)),
    "aws:kms/grant:Grant": ("keyId", (KEY,)),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("logGroupName", (LOG_GROUP,)),
    "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter": ("logGroup", (LOG_GROUP,)),
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretId", (SECRET,)),
    "aws:secretsmanager/secretPolicy:SecretPolicy": ("secretArn", (SECRET,)),
    "aws:secretsmanager/secretRotation:SecretRotation": ("secretId", (SECRET,)),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId", (SECURITY_GROUP,)),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("securityGroupId", (SECURITY_GROUP,)),
    "aws:ec2/securityGroupRule:SecurityGroupRule": ("securityGroupId", (SECURITY_GROUP,)),
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": (
        "sourceDbInstanceArn",
        (DATABASE,),
    ),
    "aws:cognito/userPoolClient:UserPoolClient": ("userPoolId", (USER_POOL,)),
    "aws:cognito/userPoolDomain:UserPoolDomain": ("userPoolId", (USER_POOL,)),
    "aws:backup/selection:Selection": ("planId", (BACKUP_PLAN,)),
    "aws:backup/vaultPolicy:VaultPolicy": ("backupVaultName", (BACKUP_VAULT,)),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": ("backupVaultName", (BACKUP_VAULT,)),
}

UNTAGGABLE = frozenset(
    {
        "aws:kms/alias:Alias",
        "aws:elasticache/userGroupAssociation:UserGroupAssociation",
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
        "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
        "aws:cloudwatch/logStream:LogStream",
        "aws:secretsmanager/secretPolicy:SecretPolicy",
        "aws:secretsmanager/secretRotation:SecretRotation",
        "aws:kms/grant:Grant",
        "aws:lambda/permission:Permission",
        "aws:lambda/functionUrl:FunctionUrl",
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
        "aws:sns/topicDataProtectionPolicy:TopicDataProtectionPolicy",
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "aws:s3/bucketAclV2:BucketAclV2",
        "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:cognito/userPoolDomain:UserPoolDomain",
        "aws:backup/vaultPolicy:VaultPolicy",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:redshiftserverless/usageLimit:UsageLimit",  # UsageLimitArgs has no tags
        # API Gateway's configuration objects carry no tags (the API, stage, keys and plans do)
        "aws:apigateway/resource:Resource",
        "aws:apigateway/method:Method",
        "aws:apigateway/integration:Integration",
        "aws:apigateway/authorizer:Authorizer",
        "aws:apigateway/deployment:Deployment",
        "aws:apigateway/methodSettings:MethodSettings",
        "aws:apigateway/basePathMapping:BasePathMapping",
        "aws:apigateway/usagePlanKey:UsagePlanKey",
        "aws:apigateway/account:Account",
    }
)


class StackIndex:
    """Parent links and tenant attribution over one stack's resources.

    A resource belongs to a tenant through, in order: its own `tenant` tag or label; the resource
    it governs (a role policy's role, a bucket policy's bucket, a queue policy's queue: GOVERNS);
    the tenant namespace a Kubernetes object sits in; for a component, the one tenant all its
    tagged descendants name; else its nearest attributed ancestor. CrossGuard gives stack policies
    the same parent links and dependencies (PolicyResource.parent/.dependencies), so this runs
    unchanged at preview time."""

    def __init__(self, resources: Sequence[Res]) -> None:
        self.by_urn = {r.urn: r for r in resources}
        self.children: dict[str, list[Res]] = defaultdict(list)
        self.by_type: dict[str, list[Res]] = defaultdict(list)
        for r in resources:
            self.by_type[r.type].append(r)
            if r.parent_urn:
                self.children[r.parent_urn].append(r)
        self.namespaces: dict[str, str] = {}  # tenant namespace -> tenant
        for ns in self.by_type[NAMESPACE]:
            name, tenant = safe(lambda ns=ns: get(ns.props, "metadata.name")), own_tenant(ns)
            if isinstance(name, str) and tenant:
                self.namespaces[name] = tenant
        self._tenant: dict[str, str | None] = {}
        self._below: dict[str, frozenset[str]] = {}
        self._names: dict[str, dict[str, list[Res]]] = {}

    _last: "tuple[tuple[int, ...], StackIndex] | None" = None

    @classmethod
    def of(cls, resources: Sequence[Res]) -> "StackIndex":
        """The index of these resources, shared by every stack rule of one evaluation (each rule
        gets new `Res` objects over the same engine props; the cached index holds those props, so
        their ids cannot be reused while it lives)."""
        key = tuple(id(r.props) for r in resources)
        if cls._last is None or cls._last[0] != key:
            cls._last = (key, cls(resources))
        return cls._last[1]

    def parent(self, r: Res) -> Res | None:
        return self.by_urn.get(r.parent_urn) if r.parent_urn else None

    def ancestors(self, r: Res) -> Iterable[Res]:
        current = self.parent(r)
        while current is not None:
            yield current
            current = self.parent(current)

    def tenant(self, r: Res) -> str | None:
        """The tenant `r` belongs to (see the class), None for the platform's resources."""
        if r.urn not in self._tenant:
            self._tenant[r.urn] = None  # a governance cycle ends here
            self._tenant[r.urn] = (
                own_tenant(r) or self.governed_tenant(r) or self.namespace_tenant(r) or self.lineage_tenant(r)
            )
        return self._tenant[r.urn]

    def lineage_tenant(self, r: Res) -> str | None:
        """Through the parent chain only: a component's one tagged tenant, else the parent's."""
        if r.provider_type is None and (below := self._tagged_below(r)) and len(below) == 1 and "" not in below:
            return next(iter(below))
        parent = self.parent(r)
        return self.tenant(parent) if parent else None

    def namespace_tenant(self, r: Res) -> str | None:
        if not r.type.startswith("kubernetes:"):
            return None
        namespace = safe(lambda: get(r.props, "metadata.namespace"))
        return self.namespaces.get(namespace) if isinstance(namespace, str) else None

    def _tagged_below(self, r: Res) -> frozenset[str]:
        """Own tenant values of every tagged or labelled descendant ("" for platform-tagged ones)."""
        if r.urn not in self._below:
            self._below[r.urn] = frozenset()
            found: set[str] = set()
            for child in self.children.get(r.urn, []):
                value = own_tag(child)
                if value is not None:
                    found.add(value)
                found |= self._tagged_below(child)
            self._below[r.urn] = frozenset(found)
        return self._below[r.urn]

    def governed(self, r: Res) -> list[Res]:
        """The resources `r` governs (GOVERNS): by the name or ARN in its input when it names a
        resource of this stack, else by its one dependency of the governed type (a reference to
        a resource not created yet is unknown during preview; the dependency still is)."""
        spec = GOVERNS.get(r.type)
        if spec is None:
            return []
        prop, types = spec
        values = safe(lambda: [v for v in as_list(get(r.props, prop)) if isinstance(v, str)]) or []
        found = [t for v in values for t in self._named(types, v)]
        if not found:
            deps = [d for d in (self.by_urn.get(u) for u in r.dependencies) if d is not None and d.type in types]
            found = deps if len(deps) == 1 else []
        return found

    def governed_tenant(self, r: Res) -> str | None:
        tenants = {self.tenant(t) for t in self.governed(r)} - {None}
        return next(iter(tenants)) if len(tenants) == 1 else None

    def _named(self, types: tuple[str, ...], value: str) -> list[Res]:
        found: list[Res] = []
        for type_ in types:
            if type_ not in self._names:
                names: dict[str, list[Res]] = defaultdict(list)
                for t in self.by_type.get(type_, []):
                    for name in {t.name, *physical_names(t)}:
                        names[name].append(t)
                self._names[type_] = names
            names = self._names[type_]
            for key in reference_keys(value):
                if key in names:
                    found += names[key]
                    break
        return found

    def tenant_component(self, r: Res) -> Res | None:
        return next((a for a in self.ancestors(r) if a.type == TENANT_COMPONENT), None)


PHYSICAL_NAME_PROPS = ("name", "bucket", "identifier", "roleName")
AUTONAME = re.compile(r"^(?P<name>.+)-[0-9a-f]{7,8}$")  # Pulumi auto-naming: <logical name>-<random hex>


def physical_names(r: Res) -> list[str]:
    names = safe(lambda: [get(r.props, p) for p in PHYSICAL_NAME_PROPS]) or []
    return [n for n in names if isinstance(n, str) and n]


def reference_keys(value: str) -> list[str]:
    """Names a reference may carry: the value, its ARN resource's last segment, a queue URL's last
    path segment, and the logical name of an auto-named physical name."""
    keys = [value]
    if value.startswith("arn:"):
        resource = value.split(":", 5)[-1]
        keys += [resource, re.split(r"[:/]", resource)[-1]]
    elif value.startswith("https://"):
        keys.append(value.rstrip("/").rsplit("/", 1)[-1])
    keys += [m.group("name") for k in list(keys) if (m := AUTONAME.match(k))]
    return keys


def safe(read: Callable[[], Any]) -> Any:
    """A value read from props, or None when the engine does not know it yet (preview)."""
    try:
        return read()
    except UnknownValueError:
        return None


def own_tag(r: Res) -> str | None:
    """The resource's own tenant tag/label; "" when it is tagged or labelled for no tenant (the
    platform's); None when it carries neither tags nor labels."""

    def read() -> str | None:
        tags, labels = get(r.props, "tags"), get(r.props, "metadata.labels")
        if not isinstance(tags, Mapping) and not isinstance(labels, Mapping):
            return None
        return tenant_label(r.props) or ""

    return safe(read)


def own_tenant(r: Res) -> str | None:
    return own_tag(r) or None


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
    index = StackIndex.of(resources)
    owners: dict[str, set[str]] = defaultdict(set)
    for r in resources:
        component = index.tenant_component(r)
        # A tenant's resource: inside its Tenant component, or inside any component that holds
        # only that tenant's resources (a front-end the global edge builds for it).
        if component is None and not index.lineage_tenant(r):
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
        if found.get("tenant") and component is not None:
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


VELERO_SCHEDULE = "kubernetes:velero.io/v1:Schedule"
VELERO_LOCATION = "kubernetes:velero.io/v1:BackupStorageLocation"
CACHE_USER = "aws:elasticache/user:User"
CACHE_MEMBERSHIP = "aws:elasticache/userGroupAssociation:UserGroupAssociation"


def shared_places_stay_own(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """A tenant stack writes into places every tenant shares (Velero's namespace, the cache's user
    group); what it writes there must name only that tenant's own things."""
    own_users = {get(r.props, "userId") for r in resources if r.type == CACHE_USER}
    for r in resources:
        tenant = labels_of(r.props).get("tenant")
        if r.type == VELERO_SCHEDULE and tenant:
            template = get(r.props, "spec", {}).get("template") or {}
            if as_list(template.get("includedNamespaces")) != [tenant]:
                yield (
                    f"Velero schedule of {tenant} backs up {template.get('includedNamespaces')}, not only its namespace",
                    r.urn,
                )
            if template.get("storageLocation") != tenant:
                yield (f"Velero schedule of {tenant} stores into location {template.get('storageLocation')!r}", r.urn)
        elif r.type == VELERO_LOCATION and tenant:
            prefix = (get(r.props, "spec", {}).get("objectStorage") or {}).get("prefix")
            if prefix != tenant:
                yield (f"Velero location of {tenant} writes under prefix {prefix!r}, not its own", r.urn)
        elif r.type == CACHE_MEMBERSHIP and get(r.props, "userId") not in own_users:
            yield (f"cache group membership for user {get(r.props, 'userId')!r}, which this stack does not own", r.urn)


RULES = (
    Rule(
        id="MT-11",
        name="tenant-writes-stay-its-own",
        title="What a tenant stack writes into shared places names only that tenant",
        summary="Velero schedules and locations cover only the tenant's namespace and prefix; cache memberships only its own user",
        description="A tenant's stack writes into places every tenant shares: Velero's namespace (its backup location and schedule) and the regional cache's user group (its membership). Each names only that tenant's own namespace, storage prefix and cache user, so a tenant's change cannot back up, restore or connect as another tenant.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("3")),
        remediation="Build them with NamespaceBackups and TenantSharedServices (components/recovery, components/tenant), which take the tenant from the catalog.",
        stack_check=shared_places_stay_own,
        subject=of_types(VELERO_SCHEDULE, VELERO_LOCATION, CACHE_MEMBERSHIP),
    ),
    Rule(
        id="MT-1",
        name="tenant-namespace-guardrails",
        title="Every tenant namespace is fenced",
        summary="quota + limit range + default deny + DNS allow per tenant namespace",
        description="Each tenant namespace has a ResourceQuota, a LimitRange, a default-deny NetworkPolicy for ingress and egress, and a DNS egress allow, so one tenant can neither starve nor reach another.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), cis_eks("4.3.2")),
        remediation="Create the namespace through the TenantNamespace component, which adds quota, limits and network policies from the tier.",
        stack_check=namespace_guardrails,
        subject=lambda r: r.type == NAMESPACE and bool(labels_of(r.props).get("tenant")),
    ),
    Rule(
        id="K8S-NS-1",
        name="tenant-namespace-pod-security",
        title="Tenant namespaces enforce Pod Security 'restricted'",
        summary="Pod Security `restricted` enforced",
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
        summary="tenant/tier/environment tags on every resource of a tenant's components, one tenant per Tenant component",
        description="Every taggable resource of a tenant carries tenant, tier and environment tags (AWS) or labels (Kubernetes), all naming the same tenant, so cost, inventory and violations are reported per tenant.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.13"), glba("2")),
        remediation="Pass tenant_tags()/tenant_labels() (components/shared/tags.py) to every resource of the Tenant component.",
        stack_check=tenant_attribution,
        subject=lambda r: r.type.startswith(("aws:", "kubernetes:")),
    ),
)
