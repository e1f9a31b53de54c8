"""Tenant isolation across the stack: network policies, bindings and identities stay inside their
tenant, each tenant has its own database and keys, and no tenant resource references another's.

Kubernetes objects belong to the tenant whose namespace (a Namespace labelled tenant=<id>) they sit
in; AWS resources to the tenant of their tags or nearest tagged ancestor (`StackIndex.tenant`).
Tenant ids are matched as whole segments (delimited by '-', '/', ':' or either end), the longest
id winning, so 'acme' is not found inside 'acme-life'."""

import functools
import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, Severity
from pulumi_policy.proxy import UnknownValueError

from .frameworks import cis_eks, glba, naic, nydfs
from .props import ACCOUNT_PRINCIPAL, as_list, get, labels_of, pins_caller, tenant_label
from .rule import Res, Rule, of_types
from .tenancy import StackIndex, own_tenant, safe

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
AUTHORIZATION_POLICIES = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
)
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RDS = "aws:rds/instance:Instance"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TENANT_DATA_TYPES = (
    RDS,
    BUCKET_SSE,
    "aws:sqs/queue:Queue",
    "aws:sns/topic:Topic",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:secretsmanager/secret:Secret",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "aws:backup/vault:Vault",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:dynamodb/table:Table",
    "aws:kinesis/stream:Stream",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
)
NAME_LABEL = "kubernetes.io/metadata.name"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
OPEN_CIDRS = ("0.0.0.0/0", "::/0")
WIDEST_PRIVATE_PREFIX = 16  # a platform VPC is a /16 at most: a wider block reaches beyond it
NEGATED_SOURCES = ("notNamespaces", "notPrincipals", "notRequestPrincipals", "notIpBlocks", "notRemoteIpBlocks")
DATABASE_ENGINE = "mariadb"
# Inputs holding IAM-style JSON documents, and inputs holding one ARN, scanned for other tenants.
DOCUMENT_PROPS = ("policy", "assumeRolePolicy", "redrivePolicy")
ARN_PROPS = ("policyArn",)
DELIMITERS = "-/:"
WILDCARDS = "*?"  # an id next to a wildcard still names that tenant ('ip-prod-acme*')
TENANT_GROUP = re.compile(r"(?:^|:)tenant:([^:]+)(?::|$)")
SA_USER = re.compile(r"^system:serviceaccount:([^:]+):")
SA_GROUP = re.compile(r"^system:serviceaccounts:([^:]+)$")
MESH_PRINCIPAL_NS = re.compile(r"(?:^|/)ns/([^/]+)/")

Finding = tuple[str, str | None]


# ------------------------------------------------------------------------------ tenant ids in text


@functools.lru_cache(maxsize=4096)
def _segment_pattern(tenant: str) -> re.Pattern[str]:
    edge = re.escape(DELIMITERS + WILDCARDS)
    return re.compile(rf"(?<![^{edge}]){re.escape(tenant)}(?![^{edge}])", re.IGNORECASE)


def tenant_segments(text: str, tenants: Iterable[str]) -> list[tuple[int, int, str]]:
    """(start, end, id) of each tenant id found in `text` as a whole segment, dropping any found
    inside a longer tenant id's match ('acme' inside 'acme-life', 'life' inside 'acme-life')."""
    lowered = text.lower()
    # Substring test first: the regex runs only for the few ids the text can contain at all.
    spans = [
        (m.start(), m.end(), t)
        for t in tenants
        if t and t.lower() in lowered
        for m in _segment_pattern(t).finditer(text)
    ]
    return [(s, e, t) for s, e, t in spans if not any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _ in spans)]


def arn_name(arn: str) -> str:
    """The resource part of an ARN (after arn:partition:service:region:account:), where names live."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 else arn


def tenants_in_arn(arn: str, tenants: Iterable[str]) -> set[str]:
    return {t for _, _, t in tenant_segments(arn_name(arn), tenants)}


def wildcard_reaches(arn: str, own: str, tenants: Iterable[str]) -> set[str]:
    """Other tenants whose ids extend `own` ('acme' -> 'acme-life') that a wildcard right after
    `own` in the ARN would also match: 'ip-prod-acme-*' reaches 'ip-prod-acme-life-jobs'."""
    name = arn_name(arn)
    reached: set[str] = set()
    longer = [t for t in tenants if t.lower() != own.lower() and t.lower().startswith(own.lower())]
    if not longer or not any(w in name for w in "*?"):
        return reached
    for match in _segment_pattern(own).finditer(name):
        rest = name[match.end() :]
        wild = min((i for i in (rest.find("*"), rest.find("?")) if i >= 0), default=-1)
        if wild < 0:
            continue
        fixed = rest[:wild].lower()
        reached |= {t for t in longer if t.lower()[len(own) :].startswith(fixed)}
    return reached


def document_strings(value: Any) -> list[str]:
    """Every string value in a JSON document (given as text or as an object)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(item[k] for k in list(item.keys()))
        elif isinstance(item, Sequence):
            stack.extend(item)
    return found


# ------------------------------------------------------------------------------ the stack's tenants


class Tenancy:
    """Tenant ids, tenant namespaces and attribution over one stack."""

    _last: "tuple[StackIndex, Tenancy] | None" = None

    @classmethod
    def of(cls, resources: Sequence[Res]) -> "Tenancy":
        """Shared by the stack rules of one evaluation, as StackIndex.of."""
        index = StackIndex.of(resources)
        if cls._last is None or cls._last[0] is not index:
            cls._last = (index, cls(resources))
        return cls._last[1]

    def __init__(self, resources: Sequence[Res]) -> None:
        self.index = StackIndex.of(resources)
        self.by_urn = self.index.by_urn
        self.ids: set[str] = set()
        self.namespace_tenant: dict[str, str] = {}  # tenant namespace -> tenant id
        self.namespace_labels: dict[str, dict[str, str]] = {}  # every namespace -> its labels
        for r in resources:
            try:
                tenant = tenant_label(r.props)
                if tenant:
                    self.ids.add(tenant)
                if r.type == NAMESPACE:
                    name = get(r.props, "metadata.name")
                    if isinstance(name, str) and name:
                        labels = labels_of(r.props)
                        self.namespace_labels[name] = {
                            **{str(k): str(labels[k]) for k in list(labels.keys())},
                            NAME_LABEL: name,
                        }
                        if tenant:
                            self.namespace_tenant[name] = tenant
            except UnknownValueError:
                continue
        self.alias_by_name: dict[str, Res] = {}
        self.alias_by_key_id: dict[str, Res] = {}
        for alias in (r for r in resources if r.type == KMS_ALIAS):
            for key, into in (("name", self.alias_by_name), ("targetKeyId", self.alias_by_key_id)):
                value = safe(lambda alias=alias, key=key: get(alias.props, key))
                if isinstance(value, str):
                    into[value] = alias
        # Tenants without a namespace in this stack: their namespace would be named and labelled by id.
        self.tenant_namespaces: dict[str, dict[str, str]] = {
            ns: self.namespace_labels[ns] for ns in self.namespace_tenant
        }
        for tenant in self.ids - set(self.namespace_tenant.values()):
            if tenant not in self.namespace_labels:
                self.tenant_namespaces[tenant] = {NAME_LABEL: tenant, "tenant": tenant}
                self.namespace_tenant[tenant] = tenant

    def key_owner(self, value: str) -> tuple[str, str] | tuple[None, None]:
        """Whose key a key ARN, id, alias or alias ARN is: ("tenant", id), ("platform", what), or
        (None, None) when the text names no key this stack can place (another stack's key id)."""
        name = value.split(":", 5)[-1] if value.startswith("arn:") else value
        if name.startswith("alias/aws/"):
            return None, None  # AWS-managed keys: the encryption rules (ENC-*) refuse them
        if name.startswith("alias/"):
            alias = self.alias_by_name.get(name)
            if alias is not None:
                tenant = self.index.tenant(alias)
                return ("tenant", tenant) if tenant else ("platform", f"platform key {name}")
            named = {t for _, _, t in tenant_segments(name, self.ids)}
            if len(named) == 1:
                return "tenant", named.pop()
            return ("platform", f"platform key {name}") if not named else (None, None)
        key_id = name.removeprefix("key/")
        alias = self.alias_by_key_id.get(key_id)
        if alias is None:
            return None, None
        tenant = self.index.tenant(alias)
        return ("tenant", tenant) if tenant else ("platform", f"platform key {get(alias.props, 'name')}")

    def namespace_owner(self, namespace: Any) -> str | None:
        return self.namespace_tenant.get(namespace) if isinstance(namespace, str) else None

    def k8s_owner(self, r: Res) -> str | None:
        """The tenant whose namespace the object sits in; a labelled object in a namespace this
        stack does not create belongs to its label's tenant."""
        namespace = get(r.props, "metadata.namespace")
        owner = self.index.namespace_tenant(r)
        if owner or (isinstance(namespace, str) and namespace in self.namespace_labels):
            return owner
        return self.index.tenant(r)

    def foreign_dependencies(self, r: Res, own: str) -> list[tuple[Res, str]]:
        """(dependency, its tenant) for each dependency of `r` that belongs to another tenant."""
        found: list[tuple[Res, str]] = []
        for urn in r.dependencies:
            d = self.by_urn.get(urn)
            other = self.index.tenant(d) if d is not None else None
            if d is not None and other and other != own:
                found.append((d, other))
        return found

    def other_namespaces(self, pattern: str, own: str) -> list[str]:
        """Other tenants' namespaces a namespace name or Istio-style pattern ('acme-*') matches."""
        return sorted(ns for ns, t in self.namespace_tenant.items() if t != own and fnmatchcase(ns, pattern))


def _each(resources: Sequence[Res], check: Callable[[Res], list[Finding]]) -> Iterable[Finding]:
    """Run `check` per resource; a value unknown during preview skips that resource only."""
    for r in resources:
        try:
            found = check(r)
        except UnknownValueError:
            continue
        yield from found


# ------------------------------------------------------------------------------ MT-3 network policies


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    match_labels = get(selector, "matchLabels") or {}
    for key in list(match_labels.keys()):
        if labels.get(str(key)) != str(match_labels[key]):
            return False
    for expression in as_list(get(selector, "matchExpressions")):
        key, operator = str(get(expression, "key", "")), get(expression, "operator")
        values = {str(v) for v in as_list(get(expression, "values"))}
        present = key in labels
        if operator == "In":
            ok = present and labels[key] in values
        elif operator == "NotIn":
            ok = not present or labels[key] not in values
        elif operator == "Exists":
            ok = present
        elif operator == "DoesNotExist":
            ok = not present
        else:
            ok = True  # unknown operator: assume it may select
        if not ok:
            return False
    return True


def _peer_problems(tenancy: Tenancy, own: str, peer: Any, ingress: bool) -> list[str]:
    problems: list[str] = []
    selector = get(peer, "namespaceSelector")
    if isinstance(selector, Mapping):
        if not get(selector, "matchLabels") and not as_list(get(selector, "matchExpressions")):
            problems.append("selects every namespace (empty namespaceSelector)")
        else:
            others = sorted(
                ns
                for ns, labels in tenancy.tenant_namespaces.items()
                if tenancy.namespace_tenant[ns] != own and _selects(selector, labels)
            )
            named = (get(selector, "matchLabels") or {}).get("tenant")
            if isinstance(named, str) and named != own and named not in tenancy.namespace_tenant.values():
                others.append(f"tenant={named}")
            if others:
                problems.append(f"selects other tenants' namespaces: {', '.join(others)}")
    cidr = get(peer, "ipBlock.cidr")
    if cidr in OPEN_CIDRS:
        problems.append(f"admits the whole internet ({cidr})" if ingress else f"reaches the whole internet ({cidr})")
    elif isinstance(cidr, str) and _prefix_length(cidr) < WIDEST_PRIVATE_PREFIX:
        problems.append(f"{'admits' if ingress else 'reaches'} {cidr}, wider than any VPC of the platform")
    return problems


def _prefix_length(cidr: str) -> int:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen
    except ValueError:
        return 0


def network_policies_in_tenant(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    tenancy = Tenancy.of(resources)

    def check(r: Res) -> list[Finding]:
        own = tenancy.k8s_owner(r) if r.type == NETWORK_POLICY else None
        if own is None:
            return []
        found: list[Finding] = []
        for direction, rules_path, peers_key in (("ingress", "spec.ingress", "from"), ("egress", "spec.egress", "to")):
            for i, rule in enumerate(as_list(get(r.props, rules_path))):
                if not as_list(get(rule, peers_key)):
                    # A rule without peers matches every source or destination, in the cluster and out.
                    everything = "every source" if direction == "ingress" else "every destination"
                    found.append(
                        (
                            f"tenant {own}: {direction} rule #{i + 1} names no peers ({peers_key}), so it admits {everything}",
                            r.urn,
                        )
                    )
                for j, peer in enumerate(as_list(get(rule, peers_key))):
                    for problem in _peer_problems(tenancy, own, peer, direction == "ingress"):
                        found.append((f"tenant {own}: {direction} rule #{i + 1}, peer #{j + 1} {problem}", r.urn))
        return found

    return _each(resources, check)


# ------------------------------------------------------------------------------ MT-4 bindings and identities


def _binding_problems(tenancy: Tenancy, own: str, r: Res) -> list[str]:
    namespace = get(r.props, "metadata.namespace")
    problems: list[str] = []
    for s in as_list(get(r.props, "subjects")):
        kind, name = str(get(s, "kind", "")), str(get(s, "name", ""))
        if kind == "ServiceAccount":
            sa_namespace = get(s, "namespace") or namespace
            other = tenancy.namespace_owner(sa_namespace)
            if other and other != own:
                problems.append(f"binds service account {sa_namespace}/{name} of tenant {other}")
            continue
        tenants = {m.group(1) for m in TENANT_GROUP.finditer(name)}
        for pattern in (SA_USER, SA_GROUP):
            match = pattern.match(name)
            owner = tenancy.namespace_owner(match.group(1)) if match else None
            if owner:
                tenants.add(owner)
        others = sorted(t for t in tenants if t != own)
        if others:
            problems.append(f"binds {kind} {name} of tenant {', '.join(others)}")
    return problems


def _authorization_problems(tenancy: Tenancy, own: str, r: Res) -> list[str]:
    if get(r.props, "spec.action", "ALLOW") not in ("ALLOW", None):
        return []  # DENY/AUDIT/CUSTOM policies naming other tenants grant nothing
    problems: list[str] = []
    for i, rule in enumerate(as_list(get(r.props, "spec.rules"))):
        if not as_list(get(rule, "from")):
            problems.append(f"rule #{i + 1} has no 'from': it admits every workload of every namespace")
        for source in (get(f, "source") for f in as_list(get(rule, "from"))):
            negated = [key for key in NEGATED_SOURCES if as_list(get(source, key))]
            if negated:
                problems.append(
                    f"rule #{i + 1} admits every source except some ({', '.join(negated)}), other tenants included"
                )
            for ns in map(str, as_list(get(source, "namespaces"))):
                if ns == "*":
                    problems.append(f"rule #{i + 1} admits every namespace (*)")
                elif others := tenancy.other_namespaces(ns, own):
                    problems.append(f"rule #{i + 1} admits namespaces of other tenants: {', '.join(others)}")
            for principal in map(str, as_list(get(source, "principals"))):
                match = MESH_PRINCIPAL_NS.search(principal)
                if principal == "*":
                    problems.append(f"rule #{i + 1} admits every principal (*)")
                elif match and (others := tenancy.other_namespaces(match.group(1), own)):
                    problems.append(f"rule #{i + 1} admits principal {principal} of another tenant's namespace")
    return problems


def _service_account_problems(tenancy: Tenancy, own: str, r: Res) -> list[str]:
    annotations = get(r.props, "metadata.annotations")
    arn = annotations.get(ROLE_ARN_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(arn, str):
        return []
    named = tenants_in_arn(arn, tenancy.ids)
    others = sorted(named - {own})
    if others and own not in named:
        return [f"assumes IAM role {arn}, which belongs to tenant {', '.join(others)}"]
    return []


def bindings_in_tenant(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    tenancy = Tenancy.of(resources)
    checks = {ROLE_BINDING: _binding_problems, SERVICE_ACCOUNT: _service_account_problems}
    checks.update(dict.fromkeys(AUTHORIZATION_POLICIES, _authorization_problems))

    def check(r: Res) -> list[Finding]:
        problem_check = checks.get(r.type)
        own = tenancy.k8s_owner(r) if problem_check else None
        if problem_check is None or own is None:
            return []
        return [(f"tenant {own}: {p}", r.urn) for p in problem_check(tenancy, own, r)]

    return _each(resources, check)


# ------------------------------------------------------------------------------ MT-5 databases


def one_database_per_tenant(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    tenancy = Tenancy.of(resources)
    primaries: dict[str, list[str]] = defaultdict(list)

    def check(r: Res) -> list[Finding]:
        own = tenancy.index.tenant(r) if r.type == RDS else None
        if own is None:
            return []
        found: list[Finding] = []
        source = get(r.props, "replicateSourceDb")
        engine = get(r.props, "engine")
        if source:
            others = sorted(tenants_in_arn(str(source), tenancy.ids) - {own})
            if others:
                found.append((f"tenant {own}'s replica copies a database of tenant {', '.join(others)}", r.urn))
        else:
            primaries[own].append(r.urn)
        if (engine or not source) and engine != DATABASE_ENGINE:
            found.append((f"tenant {own}'s database engine is {engine or 'unset'}, not {DATABASE_ENGINE}", r.urn))
        for d, other in tenancy.foreign_dependencies(r, own):
            found.append((f"tenant {own}'s database depends on {d.name} of tenant {other}", r.urn))
        return found

    yield from _each(resources, check)
    for tenant, urns in sorted(primaries.items()):
        if len(urns) > 1:
            for urn in urns:
                yield (f"tenant {tenant} has {len(urns)} primary databases in this stack; exactly one is allowed", urn)


# ------------------------------------------------------------------------------ MT-6 keys

KEY_INPUTS = (
    "kmsKeyId",
    "kmsMasterKeyId",
    "kmsKeyArn",
    "masterUserSecretKmsKeyId",
    "performanceInsightsKmsKeyId",
    "encryptionKeyArn",
    "serverSideEncryption.kmsKeyArn",  # DynamoDB tables
    "extendedS3Configuration.kmsKeyArn",  # Firehose S3 destination
    "serverSideEncryption.keyArn",  # Firehose Direct PUT buffers
)
RULE_KEY_INPUTS = (
    "applyServerSideEncryptionByDefault.kmsMasterKeyId",  # bucket encryption rules
    "destination.encryptionConfiguration.replicaKmsKeyId",  # bucket replication rules
)


def _key_references(r: Res) -> list[tuple[str, str]]:
    """(input, text) of every KMS key the resource names."""
    found = [(p, v) for p in KEY_INPUTS if isinstance(v := get(r.props, p), str) and v]
    for i, rule in enumerate(as_list(get(r.props, "rules"))):
        found += [(f"rules[{i}].{p}", v) for p in RULE_KEY_INPUTS if isinstance(v := get(rule, p), str) and v]
    for i, replica in enumerate(as_list(get(r.props, "replicas"))):  # DynamoDB global-table replicas
        if isinstance(v := get(replica, "kmsKeyArn"), str) and v:
            found.append((f"replicas[{i}].kmsKeyArn", v))
    return found


def tenant_data_own_key(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    tenancy = Tenancy.of(resources)

    def owner(r: Res) -> str | None:
        if r.type == BUCKET_SSE:
            for dep in r.dependencies:
                bucket = tenancy.by_urn.get(dep)
                if bucket is not None and bucket.type in BUCKET_TYPES and tenancy.index.tenant(bucket):
                    return tenancy.index.tenant(bucket)
        return tenancy.index.tenant(r)

    def check(r: Res) -> list[Finding]:
        own = owner(r) if r.type in TENANT_DATA_TYPES else None
        if own is None:
            return []
        found: list[Finding] = []
        for dep in r.dependencies:
            key = tenancy.by_urn.get(dep)
            if key is None or key.type != KMS_KEY:
                continue
            key_tenant = tenant_label(key.props)
            if key_tenant is None:
                found.append((f"tenant {own}'s data is encrypted with platform key {key.name}, not its own", r.urn))
            elif key_tenant != own:
                found.append((f"tenant {own}'s data is encrypted with tenant {key_tenant}'s key {key.name}", r.urn))
        # A key named by ARN, id or alias text creates no dependency: resolve the text itself.
        for prop, value in _key_references(r):
            kind, whose = tenancy.key_owner(value)
            if kind == "platform":
                found.append((f"tenant {own}'s {prop} names {whose}, not the tenant's own key", r.urn))
            elif kind == "tenant" and whose != own:
                found.append((f"tenant {own}'s {prop} names {value}, a key of tenant {whose}", r.urn))
        return found

    return _each(resources, check)


# ------------------------------------------------------------------------------ MT-7 references


def _referenced_arns(r: Res) -> list[tuple[str, str]]:
    """(input, string) for every string of the resource's policy documents and ARN inputs."""
    found: list[tuple[str, str]] = []
    for prop in DOCUMENT_PROPS:
        found += [(prop, s) for s in document_strings(get(r.props, prop))]
    for i, inline in enumerate(as_list(get(r.props, "inlinePolicies"))):
        found += [(f"inlinePolicies[{i}]", s) for s in document_strings(get(inline, "policy"))]
    for prop in ARN_PROPS:
        value = get(r.props, prop)
        if isinstance(value, str):
            found.append((prop, value))
    return found


# Condition keys whose ARN values say who may call or from where: a wildcard there is a grant too.
GRANTING_CONDITION_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
RESOURCE_SCOPING_KEYS = frozenset({"kms:resourcealiases", "aws:resourcetag/tenant"})


def _scoped_to_own(condition: Any, own: str, tenants: Iterable[str]) -> bool:
    """Whether a condition confines a wildcard Resource to the tenant's own resources: a positive
    test of the resource's alias or tenant tag whose every value names the tenant
    ('key/*' with kms:ResourceAliases = the tenant's alias)."""
    if not isinstance(condition, Mapping):
        return False
    for operator in list(condition.keys()):
        block = condition[operator]
        if not isinstance(block, Mapping) or "not" in str(operator).lower() or str(operator).endswith("IfExists"):
            continue
        for key in list(block.keys()):
            if str(key).lower() not in RESOURCE_SCOPING_KEYS:
                continue
            values = [str(v) for v in as_list(block[key])]
            named = [{t for _, _, t in tenant_segments(v, tenants)} for v in values]
            if values and all(n == {own} and "*" not in v for n, v in zip(named, values, strict=True)):
                return True
    return False


def _granted_patterns(r: Res, own: str, tenants: Iterable[str]) -> list[tuple[str, str]]:
    """(input, ARN pattern) for each wildcard ARN an Allow statement grants: in Resource, or as the
    caller (aws:PrincipalArn / aws:SourceArn conditions)."""
    documents = [(p, get(r.props, p)) for p in DOCUMENT_PROPS]
    documents += [
        (f"inlinePolicies[{i}]", get(p, "policy")) for i, p in enumerate(as_list(get(r.props, "inlinePolicies")))
    ]
    found: list[tuple[str, str]] = []
    for prop, text in documents:
        document = text
        if isinstance(text, str):
            try:
                document = json.loads(text)
            except ValueError:
                continue
        for st in as_list(get(document, "Statement")) if isinstance(document, Mapping) else []:
            if get(st, "Effect") != "Allow":
                continue
            condition = get(st, "Condition")
            values = [] if _scoped_to_own(condition, own, tenants) else [str(v) for v in as_list(get(st, "Resource"))]
            if isinstance(condition, Mapping):
                for operator in list(condition.keys()):
                    block = condition[operator]
                    if isinstance(block, Mapping) and "not" not in str(operator).lower():
                        for key in list(block.keys()):
                            if str(key).lower() in GRANTING_CONDITION_KEYS:
                                values += [str(v) for v in as_list(block[key])]
            found += [(prop, v) for v in values if v.startswith("arn:") and any(w in arn_name(v) for w in WILDCARDS)]
    return found


def _anchored(pattern: str, own: str, tenants: Iterable[str]) -> bool:
    """Whether the fixed text before the first wildcard of an ARN pattern's resource part names
    the tenant: 'ip-prod-acme-*' is the tenant's, 'ip-prod-*' is everyone's."""
    name = arn_name(pattern)
    first = min(i for i in (name.find("*"), name.find("?")) if i >= 0)
    return own in {t for _, _, t in tenant_segments(name[:first], tenants)}


def no_cross_tenant_references(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    tenancy = Tenancy.of(resources)

    def check(r: Res) -> list[Finding]:
        own = tenancy.index.tenant(r)
        if own is None:
            return []
        found: list[Finding] = []
        for d, other in tenancy.foreign_dependencies(r, own):
            found.append((f"tenant {own}'s resource depends on {d.name} of tenant {other}", r.urn))
        for prop, text in _referenced_arns(r):
            if text.startswith("arn:"):
                others = sorted(tenants_in_arn(text, tenancy.ids) - {own})
                if others:
                    found.append((f"tenant {own}'s {prop} names {text}, of tenant {', '.join(others)}", r.urn))
                elif reached := sorted(wildcard_reaches(text, own, tenancy.ids)):
                    found.append(
                        (f"tenant {own}'s {prop} pattern {text} also matches tenant {', '.join(reached)}", r.urn)
                    )
            elif match := SA_USER.match(text):
                other = tenancy.namespace_owner(match.group(1))
                if other and other != own:
                    found.append((f"tenant {own}'s {prop} trusts service account {text} of tenant {other}", r.urn))
        for prop, pattern in _granted_patterns(r, own, tenancy.ids):
            if not _anchored(pattern, own, tenancy.ids):
                found.append(
                    (
                        f"tenant {own}'s {prop} grants {pattern}: the wildcard comes before the tenant's id, so it matches other tenants' resources",
                        r.urn,
                    )
                )
        # Whose a resource is follows what it governs (a role policy, the role); one tenant's
        # component attaching it to another tenant's role, bucket or queue opens that one up.
        governed = tenancy.index.governed_tenant(r)
        placed = own_tenant(r) or tenancy.index.namespace_tenant(r) or tenancy.index.lineage_tenant(r)
        if governed and placed and governed != placed:
            targets = ", ".join(t.name for t in tenancy.index.governed(r))
            found.append((f"tenant {placed}'s {r.type.split(':')[-1]} governs {targets} of tenant {governed}", r.urn))
        return found

    return _each(resources, check)


# ------------------------------------------------------------------------------ MT-9 resource policy principals

RESOURCE_POLICY_TYPES = (
    "aws:sqs/queue:Queue",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:s3/bucketPolicy:BucketPolicy",
    KMS_KEY,
    "aws:secretsmanager/secret:Secret",
    "aws:secretsmanager/secretPolicy:SecretPolicy",
    "aws:backup/vaultPolicy:VaultPolicy",
)


def _principal_problems(document: Any) -> list[str]:
    problems: list[str] = []
    for i, st in enumerate(as_list(get(document, "Statement")) if isinstance(document, Mapping) else []):
        if get(st, "Effect") != "Allow":
            continue
        label = f"statement '{get(st, 'Sid')}'" if get(st, "Sid") else f"statement #{i + 1}"
        principal = get(st, "Principal")
        if get(st, "NotPrincipal") is not None:
            problems.append(f"{label} allows everyone but the listed principals (NotPrincipal)")
            continue
        if isinstance(principal, Mapping):
            named = [str(v) for v in as_list(get(principal, "AWS"))]
        else:
            named = [str(v) for v in as_list(principal)]
        wide = [p for p in named if p == "*" or ACCOUNT_PRINCIPAL.match(p)]
        if wide and not pins_caller(get(st, "Condition")):
            problems.append(
                f"{label} allows {', '.join(wide)}: every role of the account (other tenants' included), "
                "whatever account or organization condition it carries; name the tenant's roles"
            )
    return problems


def resource_policies_name_principals(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    index = StackIndex.of(resources)

    def check(r: Res) -> list[Finding]:
        own = index.tenant(r) if r.type in RESOURCE_POLICY_TYPES else None
        if own is None:
            return []
        text = get(r.props, "policy")
        document = text
        if isinstance(text, str):
            try:
                document = json.loads(text)
            except ValueError:
                return []
        return [(f"tenant {own}'s policy: {p}", r.urn) for p in _principal_problems(document)]

    return _each(resources, check)


# ------------------------------------------------------------------------------ MT-12 routes on the API host

MERGEABLE = "nginx.org/mergeable-ingress-type"  # F5 NGINX Ingress Controller mergeable Ingresses
PATH_REGEX = "nginx.org/path-regex"
API_HOST_LABEL = "api"  # the public API's backend host `api.<domain>` (components.edge.api_gateway)
API_DISPATCH_PREFIX = "/tenants"  # components.tenant.tenant_services.api_dispatch_path


def _route_problems(own: str, r: Res) -> list[str]:
    annotations = get(r.props, "metadata.annotations") or {}
    kind = annotations.get(MERGEABLE) if isinstance(annotations, Mapping) else None
    rules = as_list(get(r.props, "spec.rules"))
    hosts = [str(x.get("host") or "") for x in rules if isinstance(x, Mapping)]
    on_api_host = [h for h in hosts if h.split(".", 1)[0] == API_HOST_LABEL]
    if kind == "master":
        return [f"is a mergeable master (hosts {', '.join(hosts) or 'none'}): only the platform owns a host's master"]
    if kind != "minion":
        return [
            f"claims the platform's API host {h} as a whole: attach a minion for /tenants/{own}/" for h in on_api_host
        ]
    problems: list[str] = []
    if len(on_api_host) != len(hosts) or not hosts:
        problems.append(
            f"is a minion on {', '.join(h for h in hosts if h not in on_api_host) or 'no host'}: tenant minions attach only to the API host's master"
        )
    if isinstance(annotations, Mapping) and PATH_REGEX in annotations:
        problems.append(f"uses {PATH_REGEX}: a regular expression can match another tenant's prefix")
    own_prefix = f"{API_DISPATCH_PREFIX}/{own}/"
    for x in rules:
        for path in as_list(get(x, "http.paths")) if isinstance(x, Mapping) else []:
            value = str(get(path, "path") or "/")
            if not value.startswith(own_prefix) or ".." in value:
                problems.append(f"claims {value} on {x.get('host')}: its only prefix there is {own_prefix}")
    return problems


def api_routes_in_tenant(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[Finding]:
    """A tenant's Ingresses never own a host's master, never claim the API host as a whole, and its
    minions (on the API host only) claim only the tenant's own `/tenants/<id>/` prefix."""
    tenancy = Tenancy.of(resources)

    def check(r: Res) -> list[Finding]:
        own = tenancy.k8s_owner(r) if r.type == INGRESS else None
        if own is None:
            return []
        return [(f"tenant {own}'s Ingress {get(r.props, 'metadata.name')} {p}", r.urn) for p in _route_problems(own, r)]

    return _each(resources, check)


RULES: tuple[Rule, ...] = (
    Rule(
        id="MT-3",
        name="network-policies-stay-in-tenant",
        title="Tenant network policies admit no other tenant",
        summary="no network policy admits another tenant's (or every) namespace, has a rule without peers, or reaches the internet or more than a VPC",
        description="No NetworkPolicy in a tenant's namespace opens traffic to or from every namespace (an empty namespaceSelector) or to another tenant's namespace, nor admits ingress from the whole internet; selecting platform namespaces (DNS, ingress router, mesh) is allowed.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), cis_eks("4.3.2")),
        remediation="Select peers by kubernetes.io/metadata.name of the platform namespace (or pods of the tenant's own namespace); reach other tenants only through their public API.",
        stack_check=network_policies_in_tenant,
        subject=of_types(NETWORK_POLICY),
    ),
    Rule(
        id="MT-4",
        name="bindings-stay-in-tenant",
        title="Tenant bindings and identities name only the tenant's own principals",
        summary="role bindings, mesh authorization (no source-less or negated rules) and IRSA annotations stay in the tenant",
        description="RoleBindings in a tenant's namespace bind only that tenant's service accounts and groups, Istio AuthorizationPolicies admit only the tenant's own namespace and principals (or platform ones), and the tenant's service accounts assume only the tenant's own IAM roles.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), cis_eks("4.1.1")),
        remediation="Bind the tenant's own groups (tenant:<id>:...) and service accounts; annotate service accounts with the role TenantIdentity created for that tenant.",
        stack_check=bindings_in_tenant,
        subject=of_types(ROLE_BINDING, SERVICE_ACCOUNT, *AUTHORIZATION_POLICIES),
    ),
    Rule(
        id="MT-5",
        name="one-database-per-tenant",
        title="Each tenant has its own database",
        summary="at most one primary MariaDB per tenant, built only from its own resources",
        description="A stack holds at most one primary database per tenant (read replicas aside), running MariaDB, and a tenant's database depends on nothing that belongs to another tenant (keys, security groups, parameter or subnet groups, source instances).",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("2")),
        remediation="Create tenant databases only through TenantDatabase, one per tenant and region, with the tenant's key and security group.",
        stack_check=one_database_per_tenant,
        subject=of_types(RDS),
    ),
    Rule(
        id="MT-6",
        name="tenant-data-uses-own-key",
        title="Tenant data is encrypted with the tenant's own key",
        summary="tenant data is encrypted with that tenant's own key (by dependency, ARN, key id or alias)",
        description="Every tenant database, DynamoDB table (and replica), bucket encryption configuration, queue, topic, log group and secret is encrypted with a KMS key tagged for the same tenant, never a platform key or another tenant's key, so revoking or destroying one tenant's key affects that tenant only (crypto-shredding).",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), glba("3")),
        remediation="Pass the tenant's TenantKey ARN to the resource's KMS key input.",
        stack_check=tenant_data_own_key,
        subject=of_types(*TENANT_DATA_TYPES),
    ),
    Rule(
        id="MT-7",
        name="no-cross-tenant-references",
        title="No tenant resource references another tenant",
        summary="no dependency on, ARN of, or wildcard reaching another tenant; nothing attached to another tenant's resource",
        description="No resource of a tenant depends on another tenant's resource, and no policy document on a tenant's resources (IAM, trust, key, queue, topic or bucket policy) names another tenant's resources or service accounts, directly or through a wildcard that reaches a tenant whose id extends this one's.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1")),
        remediation="Reference only the tenant's own resources; anything shared belongs to the platform and is granted through platform roles.",
        stack_check=no_cross_tenant_references,
        subject=lambda r: r.type.startswith(("aws:", "kubernetes:")),
    ),
    Rule(
        id="MT-9",
        name="tenant-resource-policies-name-principals",
        title="Tenant resource policies name the principals they admit",
        summary="tenant queue/topic/bucket/key/secret policies name principals: no account root or `*`, even with an account condition",
        description="No Allow statement of a tenant's queue, topic, bucket, key, secret or vault policy admits a whole account (its root or a bare account id) or any principal ('*') — not even with an aws:PrincipalAccount, SourceAccount or PrincipalOrgID condition, which every other tenant's roles satisfy — unless a condition pins the caller's own ARN or tag; and none uses NotPrincipal.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1")),
        remediation="List the tenant's own role ARNs (TenantIdentity) in Principal, or AWS service principals with aws:SourceArn; never the account root.",
        stack_check=resource_policies_name_principals,
        subject=of_types(*RESOURCE_POLICY_TYPES),
    ),
    Rule(
        id="MT-12",
        name="tenant-api-routes-own-prefix",
        title="A tenant's routes on the public API host are its own prefix",
        summary="tenant Ingresses: no mergeable master, no whole-API-host claim; minions only on the API host and only under /tenants/<own id>/",
        description="The public API reaches tenants through one host (api.<domain>) whose master Ingress the platform owns; API Gateway puts the authorizer's tenant in the path. A tenant's Ingress is never a mergeable master (of any host) nor claims the API host as a whole, and its minions attach only to the API host and claim only /tenants/<its id>/ (no path regex), so no tenant receives requests the authorizer accepted for another.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1")),
        remediation="Route the public API through TenantServices._api_route: one minion, host api.<domain>, path /tenants/<id>/ to the tenant's aggregator.",
        stack_check=api_routes_in_tenant,
        subject=of_types(INGRESS),
    ),
)
