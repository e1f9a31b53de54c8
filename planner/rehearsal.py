"""Deploy rehearsal: apply-time rules the mock engine cannot see, checked over saved plans.

`rehearse(plans)` runs every cross-plan rule over all stacks' plans together; `replacements(old, new)`
compares two plans of one stack. Each rule is a plain function over plan dicts with a stable id and a
one-line rationale naming the upstream source it encodes (RULES below).

CLI: `python -m planner.rehearsal [PLAN.json ...]` (default: every build/*/plan.json); exit 1 on any
mandatory finding, 2 on an unreadable plan file, 0 otherwise.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.mocks import offline_key_id

ROOT = Path(__file__).resolve().parent.parent
HELM_KEYS_DIR = Path(__file__).resolve().parent / "helm_keys"
UNKNOWN = "[unknown]"
SECRET = "[secret]"

MANDATORY = "mandatory"
ADVISORY = "advisory"

Plan = dict[str, Any]
Resource = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "mandatory" | "advisory"
    stack: str
    urn: str
    message: str
    fix: str


@dataclass(frozen=True)
class Rule:
    id: str
    rationale: str  # one line, naming the upstream source
    check: Callable[[list[Plan]], list[Finding]]


# ---------------------------------------------------------------- plan helpers


def _resources(plan: Plan) -> list[Resource]:
    return list(plan.get("resources") or [])


def _meta(r: Resource) -> dict[str, Any]:
    meta = r.get("inputs", {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def _get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _env(stack: str) -> str:
    """Account grouping: `dev` is one account, every `prod-*` stack shares another."""
    return "dev" if stack == "dev" else "prod"


def _chart_name(release: Resource) -> str:
    """`oci://ghcr.io/nginx/charts/nginx-ingress` -> `nginx-ingress`; `repo/chart` -> `chart`."""
    chart = str(release.get("inputs", {}).get("chart") or "")
    return chart.rstrip("/").rsplit("/", 1)[-1]


def _releases(plan: Plan) -> list[Resource]:
    return [r for r in _resources(plan) if r["type"] == "kubernetes:helm.sh/v3:Release"]


_PLATFORM_DEPLOYED = "(the platform stack, deployed before its tenant stacks)"


def dependency_closure(plan: Plan) -> Callable[[str], set[str]]:
    """Everything a URN waits for: its dependsOn, its provider and its parent, transitively. The SDK sends
    a registration only after its dependsOn, provider and parent URNs resolve, and a URN resolves when its
    registration completes (pulumi 3.272 pulumi/runtime/resource.py prepare_resource), so a child of a
    component waits for everything the component waited for."""
    edges: dict[str, list[str]] = {}
    # A region's plan holds its platform stack and the tenant stacks under it; the fleet deploys
    # the platform first (planner/fleet.py waves), so a tenant stack waits for all of it.
    kinds = {s.get("name"): s.get("kind") for s in plan.get("stacks") or []}
    platform = next((n for n, k in kinds.items() if k == "platform"), str(plan.get("stack", "")))
    deployed_first = [r["urn"] for r in _resources(plan) if r.get("stack", platform) == platform]
    for r in _resources(plan):
        deps = list(r.get("options", {}).get("dependsOn") or [])
        deps += [r[k] for k in ("provider", "parent") if r.get(k)]
        if r.get("stack", platform) != platform:
            deps.append(_PLATFORM_DEPLOYED)
        edges[r["urn"]] = deps
    edges[_PLATFORM_DEPLOYED] = deployed_first
    memo: dict[str, set[str]] = {}

    def visit(urn: str) -> set[str]:
        if urn in memo:
            return memo[urn]
        memo[urn] = set()  # cycle guard
        seen: set[str] = set()
        stack = list(edges.get(urn, []))
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            if memo.get(dep):
                seen |= memo[dep]
                continue
            stack.extend(edges.get(dep, []))
        memo[urn] = seen
        return seen

    return visit


def _label(r: Resource) -> str:
    return f"{r['name']} ({r['type']})"


def _finding(rule: str, severity: str, plan: Plan, r: Resource | None, message: str, fix: str) -> Finding:
    return Finding(rule, severity, str(plan.get("stack", "")), r["urn"] if r else "", message, fix)


def _policy_doc(value: Any) -> dict[str, Any] | None:
    """A policy input as a dict; None when unknown, secret or not JSON."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or value in (UNKNOWN, SECRET):
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(doc.get("Statement")) if isinstance(s, dict)]


def _action_covers(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, `*` and `?` wildcards."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


# ---------------------------------------------------------------- REH-ORDER-1

CLUSTER_TYPES = ("eks:index:Cluster", "aws:eks/cluster:Cluster")


def _urn_type(urn: str) -> str:
    """`urn:pulumi:stack::project::parent$type::name` -> `type`."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def order_cluster_scoped(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        clusters = {r["urn"] for r in _resources(plan) if r["type"] in CLUSTER_TYPES}
        # pulumi-eks's inner aws:eks/cluster:Cluster is not registered by this program but can appear as a dependency.
        for r in _resources(plan):
            clusters |= {d for d in r.get("options", {}).get("dependsOn") or [] if _urn_type(d) in CLUSTER_TYPES}
        if not clusters:
            continue
        deps = dependency_closure(plan)
        for r in _resources(plan):
            scoped = "clusterName" in r.get("inputs", {}) or r["type"] == "pulumi:providers:kubernetes"
            if not scoped or r["urn"] in clusters or deps(r["urn"]) & clusters:
                continue
            name = r["inputs"].get("clusterName")
            message = (
                f"{_label(r)} takes cluster name {name!r} as a plain value; nothing orders it after the cluster"
                if name is not None
                else f"{_label(r)} does not wait for the EKS cluster"
            )
            findings.append(
                _finding(
                    "REH-ORDER-1",
                    MANDATORY,
                    plan,
                    r,
                    message,
                    "pass the cluster's output (cluster.eks_cluster.name / core.cluster.name) or depends_on=[cluster]",
                )
            )
    return findings


# ---------------------------------------------------------------- REH-ORDER-2

# API group -> (charts any of which installs the CRDs, charts any of which serves the webhook).
# An empty chart set means "no webhook the plan must wait for".
CRD_OWNERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "security.istio.io": (frozenset({"base"}), frozenset({"istiod"})),
    "networking.istio.io": (frozenset({"base"}), frozenset({"istiod"})),
    "telemetry.istio.io": (frozenset({"base"}), frozenset()),
    "extensions.istio.io": (frozenset({"base"}), frozenset()),
    "external-secrets.io": (frozenset({"external-secrets"}), frozenset({"external-secrets"})),
    "generators.external-secrets.io": (frozenset({"external-secrets"}), frozenset({"external-secrets"})),
    "keda.sh": (frozenset({"keda"}), frozenset({"keda"})),
    "eventing.keda.sh": (frozenset({"keda"}), frozenset({"keda"})),
    "elbv2.k8s.aws": (frozenset({"aws-load-balancer-controller"}), frozenset({"aws-load-balancer-controller"})),
    "velero.io": (frozenset({"velero"}), frozenset()),
    "autoscaling.k8s.io": (frozenset({"vpa", "vertical-pod-autoscaler"}), frozenset()),
    "k8s.nginx.org": (frozenset({"nginx-ingress"}), frozenset()),
    "appprotect.f5.com": (frozenset({"nginx-ingress"}), frozenset()),
}
# Groups whose CRDs an EKS add-on installs (SecurityGroupPolicy comes with the VPC CNI add-on).
ADDON_CRD_OWNERS: dict[str, str] = {"vpcresources.k8s.aws": "vpc-cni"}


def _api_group(r: Resource) -> tuple[str, str] | None:
    """(group, kind) of a Kubernetes object; None for non-Kubernetes resources and Helm releases."""
    typ = r["type"]
    if not typ.startswith("kubernetes:") or typ.startswith("kubernetes:helm.sh/"):
        return None
    if typ.endswith(":CustomResource"):
        api_version = str(r.get("inputs", {}).get("apiVersion") or "")
        kind = str(r.get("inputs", {}).get("kind") or "")
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        return group, kind
    module = typ.split(":")[1]  # e.g. security.istio.io/v1
    kind = typ.split(":")[2]
    group = module.rsplit("/", 1)[0] if "/" in module else ""
    return group, kind


def order_crd_owner(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        deps = dependency_closure(plan)
        by_chart: dict[str, set[str]] = {}
        for rel in _releases(plan):
            by_chart.setdefault(_chart_name(rel), set()).add(rel["urn"])
        addons: dict[str, set[str]] = {}
        for r in _resources(plan):
            if r["type"] == "aws:eks/addon:Addon":
                addons.setdefault(str(r["inputs"].get("addonName")), set()).add(r["urn"])
        for r in _resources(plan):
            gk = _api_group(r)
            if gk is None:
                continue
            group, kind = gk
            needs: list[tuple[str, set[str]]] = []
            if group in CRD_OWNERS:
                crd_charts, hook_charts = CRD_OWNERS[group]
                needs.append(("CRD", set().union(*(by_chart.get(c, set()) for c in crd_charts))))
                if hook_charts:
                    needs.append(("webhook", set().union(*(by_chart.get(c, set()) for c in hook_charts))))
                owner_desc = {"CRD": "/".join(sorted(crd_charts)), "webhook": "/".join(sorted(hook_charts))}
            elif group in ADDON_CRD_OWNERS:
                needs.append(("CRD", addons.get(ADDON_CRD_OWNERS[group], set())))
                owner_desc = {"CRD": f"EKS add-on {ADDON_CRD_OWNERS[group]}"}
            else:
                continue
            mine = deps(r["urn"])
            for what, owners in needs:
                if not owners:
                    findings.append(
                        _finding(
                            "REH-ORDER-2",
                            ADVISORY,
                            plan,
                            r,
                            f"{_label(r)} ({group}/{kind}) needs the {what} from {owner_desc[what]}, which this plan does not install",
                            "make sure it is installed before this stack is applied, or add it to the stack",
                        )
                    )
                elif not owners & mine:
                    findings.append(
                        _finding(
                            "REH-ORDER-2",
                            MANDATORY,
                            plan,
                            r,
                            f"{_label(r)} ({group}/{kind}) does not wait for the {what} owner {owner_desc[what]}",
                            f"depends_on the {owner_desc[what]} release so the {what} exists first",
                        )
                    )
    return findings


# ---------------------------------------------------------------- REH-ORDER-3

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
ISTIO_CHARTS = frozenset({"base", "istiod", "cni", "istio-cni", "ztunnel", "gateway"})


def _namespace_labels(plan: Plan) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in _resources(plan):
        if r["type"] == "kubernetes:core/v1:Namespace":
            name = _meta(r).get("name")
            if isinstance(name, str):
                out[name] = dict(_meta(r).get("labels") or {})
    return out


def _pod_template_labels(r: Resource) -> dict[str, Any]:
    spec = r.get("inputs", {}).get("spec") or {}
    kind = r["type"].rsplit(":", 1)[-1]
    if kind == "Pod":
        return dict(_meta(r).get("labels") or {})
    if kind == "CronJob":
        spec = _get(spec, "jobTemplate.spec") or {}
    return dict(_get(spec, "template.metadata.labels") or {})


def _mentions_inject(value: Any) -> bool:
    """A Helm values tree that sets `sidecar.istio.io/inject: "true"` anywhere (pod labels/annotations)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "sidecar.istio.io/inject" and str(v).lower() == "true":
                return True
            if _mentions_inject(v):
                return True
    elif isinstance(value, list):
        return any(_mentions_inject(v) for v in value)
    return False


def order_mesh(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        labels = _namespace_labels(plan)
        injected = {ns for ns, lab in labels.items() if lab.get("istio-injection") == "enabled"}
        istiod = {r["urn"] for r in _releases(plan) if _chart_name(r) == "istiod"}
        deps = dependency_closure(plan)
        for r in _resources(plan):
            kind = r["type"].rsplit(":", 1)[-1]
            if r["type"] == "kubernetes:helm.sh/v3:Release":
                if _chart_name(r) in ISTIO_CHARTS:
                    continue
                ns = r["inputs"].get("namespace")
                opted_in = _mentions_inject(r["inputs"].get("values"))
            elif r["type"].startswith("kubernetes:") and kind in WORKLOAD_KINDS:
                ns = _meta(r).get("namespace")
                opted_in = str(_pod_template_labels(r).get("sidecar.istio.io/inject", "")).lower() == "true"
            else:
                continue
            if ns not in injected and not opted_in:
                continue
            why = (
                f"namespace {ns} is labelled istio-injection=enabled"
                if ns in injected
                else "its pods opt in to injection"
            )
            if not istiod:
                findings.append(
                    _finding(
                        "REH-ORDER-3",
                        ADVISORY,
                        plan,
                        r,
                        f"{_label(r)}: {why}, but this plan has no istiod release",
                        "install istiod before the workloads, or drop the injection label",
                    )
                )
            elif not istiod & deps(r["urn"]):
                findings.append(
                    _finding(
                        "REH-ORDER-3",
                        MANDATORY,
                        plan,
                        r,
                        f"{_label(r)}: {why}, but it does not wait for istiod; its first pods may start without sidecars",
                        "depends_on the istiod release (e.g. pass mesh.ready into the component)",
                    )
                )
    return findings


# ---------------------------------------------------------------- REH-NAME-1

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

Check = Callable[[str], str | None]


def _length(lo: int, hi: int) -> Check:
    return lambda v: None if lo <= len(v) <= hi else f"length {len(v)} outside {lo}-{hi}"


def _pattern(regex: str, what: str) -> Check:
    compiled = re.compile(regex)
    return lambda v: None if compiled.fullmatch(v) else f"must be {what}"


def _s3_bucket(v: str) -> str | None:
    if not 3 <= len(v) <= 63:
        return f"length {len(v)} outside 3-63"
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", v):
        return "only lowercase letters, digits, dots and hyphens; must start and end with a letter or digit"
    if ".." in v:
        return "must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(v)
        return "must not be formatted as an IP address"
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if v.startswith(prefix):
            return f"must not start with {prefix!r}"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if v.endswith(suffix):
            return f"must not end with {suffix!r}"
    return None


def _rds_id(hi: int) -> Check:
    def check(v: str) -> str | None:
        if not 1 <= len(v) <= hi:
            return f"length {len(v)} outside 1-{hi}"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", v):
            return "must start with a letter and hold only letters, digits and hyphens"
        if "--" in v or v.endswith("-"):
            return "must not contain two consecutive hyphens or end with a hyphen"
        return None

    return check


def _elb_name(v: str) -> str | None:
    if not 1 <= len(v) <= 32:
        return f"length {len(v)} outside 1-32"
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", v):
        return "only letters, digits and hyphens; must not start or end with a hyphen"
    if v.startswith("internal-"):
        return "must not start with 'internal-'"
    return None


def _kms_alias(v: str) -> str | None:
    if not v.startswith("alias/"):
        return "must start with 'alias/'"
    if v.startswith("alias/aws/"):
        return "the 'alias/aws/' prefix is reserved for AWS managed keys"
    if not 7 <= len(v) <= 256:
        return f"length {len(v)} outside 7-256"
    if not re.fullmatch(r"alias/[A-Za-z0-9/_-]+", v):
        return "only letters, digits, '/', '_' and '-' after 'alias/'"
    return None


def _all(*checks: Check) -> Check:
    def check(v: str) -> str | None:
        for c in checks:
            problem = c(v)
            if problem:
                return problem
        return None

    return check


S3_NAMING = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"

_IAM_CHARS = _pattern(r"[\w+=,.@-]+", "letters, digits, +=,.@_-")
_EKS_NAME = _all(
    _length(1, 100), _pattern(r"[0-9A-Za-z][A-Za-z0-9_-]*", "alphanumeric first, then letters, digits, - or _")
)
_QUEUE_OR_TOPIC = _pattern(r"[A-Za-z0-9_-]+(\.fifo)?", "letters, digits, '-' and '_' (plus .fifo)")

# type -> (input holding the physical name, check, source of the limit)
NAME_RULES: dict[str, tuple[str, Check, str]] = {
    "aws:s3/bucket:Bucket": ("bucket", _s3_bucket, S3_NAMING),
    "aws:s3/bucketV2:BucketV2": ("bucket", _s3_bucket, S3_NAMING),
    "aws:iam/role:Role": ("name", _all(_length(1, 64), _IAM_CHARS), IAM_QUOTAS),
    "aws:iam/policy:Policy": ("name", _all(_length(1, 128), _IAM_CHARS), IAM_QUOTAS),
    "aws:iam/rolePolicy:RolePolicy": ("name", _all(_length(1, 128), _IAM_CHARS), IAM_QUOTAS),
    "aws:kms/alias:Alias": ("name", _kms_alias, "KMS API CreateAlias AliasName"),
    "aws:sqs/queue:Queue": ("name", _all(_length(1, 80), _QUEUE_OR_TOPIC), "SQS API CreateQueue QueueName"),
    "aws:sns/topic:Topic": ("name", _all(_length(1, 256), _QUEUE_OR_TOPIC), "SNS API CreateTopic Name"),
    "aws:rds/instance:Instance": ("identifier", _rds_id(63), "RDS API CreateDBInstance DBInstanceIdentifier"),
    "aws:rds/parameterGroup:ParameterGroup": (
        "name",
        _rds_id(255),
        "RDS API CreateDBParameterGroup DBParameterGroupName",
    ),
    "aws:rds/optionGroup:OptionGroup": ("name", _rds_id(255), "RDS API CreateOptionGroup OptionGroupName"),
    "aws:rds/subnetGroup:SubnetGroup": (
        "name",
        _all(
            _length(1, 255),
            _pattern(r"(?!default$)[A-Za-z0-9 ._-]+", "letters, digits, spaces, '.', '_' or '-', not 'default'"),
        ),
        "RDS API CreateDBSubnetGroup DBSubnetGroupName",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId",
        _rds_id(40),
        "ElastiCache API CreateReplicationGroup ReplicationGroupId",
    ),
    "aws:elasticache/user:User": ("userId", _rds_id(40), "ElastiCache API CreateUser UserId"),
    "aws:elasticache/userGroup:UserGroup": ("userGroupId", _rds_id(40), "ElastiCache API CreateUserGroup UserGroupId"),
    "aws:elasticache/subnetGroup:SubnetGroup": (
        "name",
        _all(_length(1, 255), _pattern(r"[a-z0-9-]+", "lowercase letters, digits and hyphens")),
        "ElastiCache API CreateCacheSubnetGroup CacheSubnetGroupName",
    ),
    "aws:lb/loadBalancer:LoadBalancer": ("name", _elb_name, "ELBv2 API CreateLoadBalancer Name"),
    "aws:lb/targetGroup:TargetGroup": ("name", _elb_name, "ELBv2 API CreateTargetGroup Name"),
    "aws:cloudwatch/logGroup:LogGroup": (
        "name",
        _all(_length(1, 512), _pattern(r"[.\-_/#A-Za-z0-9]+", "letters, digits and . - _ / #")),
        "CloudWatch Logs API CreateLogGroup logGroupName",
    ),
    "eks:index:Cluster": ("name", _EKS_NAME, "EKS API CreateCluster name"),
    "aws:eks/cluster:Cluster": ("name", _EKS_NAME, "EKS API CreateCluster name"),
    "aws:secretsmanager/secret:Secret": (
        "name",
        _all(_length(1, 512), _pattern(r"[A-Za-z0-9/_+=.@-]+", "letters, digits and /_+=.@-")),
        "Secrets Manager API CreateSecret Name",
    ),
    "aws:backup/vault:Vault": (
        "name",
        _all(_length(2, 50), _pattern(r"[A-Za-z0-9_-]+", "letters, digits, '-' and '_'")),
        "terraform-provider-aws internal/service/backup/vault.go (name ValidateFunc)",
    ),
    "aws:backup/plan:Plan": (
        "name",
        _all(_length(1, 50), _pattern(r"[A-Za-z0-9_.-]+", "letters, digits and -_.")),
        "AWS Backup API CreateBackupPlan BackupPlanName",
    ),
    "aws:cognito/userPool:UserPool": (
        "name",
        _all(_length(1, 128), _pattern(r"[\w\s+=,.@-]+", r"[\w\s+=,.@-]+")),
        "Cognito API CreateUserPool PoolName",
    ),
    "aws:budgets/budget:Budget": (
        "name",
        _all(_length(1, 100), _pattern(r"[^:\\]+", "free of ':' and '\\'")),
        "Budgets API Budget.BudgetName",
    ),
    "aws:codebuild/project:Project": (
        "name",
        _pattern(r"[A-Za-z0-9][A-Za-z0-9_-]{1,254}", "2-255 letters, digits, - or _ starting alphanumeric"),
        "CodeBuild API CreateProject name",
    ),
    "kubernetes:helm.sh/v3:Release": (
        "name",
        _all(_length(1, 53), _pattern(_DNS1123_LABEL.pattern[1:-1], "a DNS-1123 label")),
        "Helm: release names are DNS-1123 labels of at most 53 characters",
    ),
}

K8S_NAMES = "https://kubernetes.io/docs/concepts/overview/working-with-objects/names/"
K8S_LABELS = "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set"
# Kinds whose names must be DNS labels (RFC 1123 / RFC 1035), per the Kubernetes names doc.
DNS_LABEL_KINDS = {"Namespace": _DNS1123_LABEL, "Service": _DNS1035_LABEL}


def _k8s_name_problem(kind: str, name: str) -> str | None:
    regex = DNS_LABEL_KINDS.get(kind)
    if regex is not None:
        if len(name) > 63 or not regex.match(name):
            return f"{kind} names must be DNS labels (<=63, lowercase alphanumeric and '-')"
        return None
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        return "names must be DNS-1123 subdomains (<=253, lowercase alphanumeric, '-' and '.')"
    return None


def _label_problem(key: str, value: Any) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"label key prefix {prefix!r} must be a DNS subdomain"
    if not 1 <= len(name) <= 63 or not _LABEL_NAME.match(name):
        return f"label key {key!r}: name part must be <=63 alphanumeric, '-', '_' or '.'"
    if isinstance(value, str) and value not in (UNKNOWN, SECRET) and (len(value) > 63 or not _LABEL_VALUE.match(value)):
        return f"label {key}={value!r}: values must be <=63, alphanumeric at both ends"
    return None


def names_within_limits(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        for r in _resources(plan):
            rule = NAME_RULES.get(r["type"])
            if rule is not None:
                key, check, source = rule
                value = r.get("inputs", {}).get(key)
                if isinstance(value, str) and value not in (UNKNOWN, SECRET):  # absent: autonamed
                    problem = check(value)
                    if problem:
                        findings.append(
                            _finding(
                                "REH-NAME-1",
                                MANDATORY,
                                plan,
                                r,
                                f"{_label(r)} {key}={value!r}: {problem} ({source})",
                                "shorten or reshape the name (derive it from a shorter prefix)",
                            )
                        )
            if r["type"].startswith("kubernetes:") and not r["type"].startswith("kubernetes:helm.sh/"):
                meta = _meta(r)
                name = meta.get("name")
                kind = r["type"].rsplit(":", 1)[-1]
                if isinstance(name, str) and name not in (UNKNOWN, SECRET):
                    problem = _k8s_name_problem(kind, name)
                    if problem:
                        findings.append(
                            _finding(
                                "REH-NAME-1",
                                MANDATORY,
                                plan,
                                r,
                                f"{_label(r)} name {name!r}: {problem} ({K8S_NAMES})",
                                "rename the object",
                            )
                        )
                for key, value in dict(meta.get("labels") or {}).items():
                    problem = _label_problem(str(key), value)
                    if problem:
                        findings.append(
                            _finding(
                                "REH-NAME-1",
                                MANDATORY,
                                plan,
                                r,
                                f"{_label(r)}: {problem} ({K8S_LABELS})",
                                "fix the label",
                            )
                        )
    return findings


# ---------------------------------------------------------------- REH-NAME-2

# type -> scope of uniqueness: "global" (S3), "account" (IAM, Budgets) or "region".
UNIQUE_SCOPE: dict[str, str] = {
    "aws:s3/bucket:Bucket": "global",
    "aws:s3/bucketV2:BucketV2": "global",
    "aws:iam/role:Role": "account",
    "aws:iam/policy:Policy": "account",
    "aws:budgets/budget:Budget": "account",
    "aws:kms/alias:Alias": "region",
    "aws:sqs/queue:Queue": "region",
    "aws:sns/topic:Topic": "region",
    "aws:rds/instance:Instance": "region",
    "aws:rds/parameterGroup:ParameterGroup": "region",
    "aws:rds/optionGroup:OptionGroup": "region",
    "aws:rds/subnetGroup:SubnetGroup": "region",
    "aws:elasticache/replicationGroup:ReplicationGroup": "region",
    "aws:elasticache/user:User": "region",
    "aws:elasticache/userGroup:UserGroup": "region",
    "aws:elasticache/subnetGroup:SubnetGroup": "region",
    "aws:lb/loadBalancer:LoadBalancer": "region",
    "aws:lb/targetGroup:TargetGroup": "region",
    "aws:cloudwatch/logGroup:LogGroup": "region",
    "eks:index:Cluster": "region",
    "aws:secretsmanager/secret:Secret": "region",
    "aws:backup/vault:Vault": "region",
    "aws:codebuild/project:Project": "region",
}
# Same namespace of physical names under two Pulumi types.
_NAME_FAMILY = {"aws:s3/bucketV2:BucketV2": "aws:s3/bucket:Bucket", "aws:eks/cluster:Cluster": "eks:index:Cluster"}


def unique_names(plans: list[Plan]) -> list[Finding]:
    seen: dict[tuple[str, ...], tuple[Plan, Resource]] = {}
    findings: list[Finding] = []
    for plan in plans:
        stack = str(plan.get("stack", ""))
        for r in _resources(plan):
            typ = str(_NAME_FAMILY.get(r["type"], r["type"]))
            scope = UNIQUE_SCOPE.get(typ)
            if scope is None:
                continue
            key_input = NAME_RULES[typ][0]
            value = r.get("inputs", {}).get(key_input)
            if not isinstance(value, str) or value in (UNKNOWN, SECRET):
                continue
            if typ in ("aws:elasticache/replicationGroup:ReplicationGroup", "aws:rds/instance:Instance"):
                value = value.lower()  # these identifiers are stored lowercase
            if scope == "global":
                key: tuple[str, ...] = (typ, value)
            elif scope == "account":
                key = (_env(stack), typ, value)
            else:
                key = (_env(stack), str(plan.get("region", "")), typ, value)
            if key in seen:
                first_plan, first = seen[key]
                where = {
                    "global": "globally",
                    "account": f"in the {_env(stack)} account",
                    "region": f"in {_env(stack)}/{plan.get('region')}",
                }[scope]
                findings.append(
                    _finding(
                        "REH-NAME-2",
                        MANDATORY,
                        plan,
                        r,
                        f"{_label(r)} {key_input}={value!r} is also used by {first['urn']} (stack {first_plan.get('stack')}); "
                        f"names must be unique {where}",
                        "put the stack or region into the name",
                    )
                )
            else:
                seen[key] = (plan, r)
    return findings


# ---------------------------------------------------------------- REH-PEER-1

_ARN = re.compile(r"arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:([^\"\s,\]\}]+)")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _physical_names(plan: Plan) -> set[str]:
    """Names and ids the plan's resources would have (as planner/mocks.py forms them)."""
    names: set[str] = set()
    for r in _resources(plan):
        inputs = r.get("inputs", {})
        for key in ("name", "identifier", "bucket", "replicationGroupId", "userId", "userGroupId"):
            value = inputs.get(key)
            if isinstance(value, str) and value not in (UNKNOWN, SECRET):
                names.add(value)
        if r["type"] == "aws:kms/key:Key":
            names.add(offline_key_id(r["name"]))
    return names


def _arn_name_candidates(resource: str) -> set[str]:
    """The resource-name part of an ARN's resource field: `db:x` -> x, `key/id` -> id, `alias/a/b` kept."""
    out = {resource}
    if resource.startswith("alias/"):
        return out
    for sep in (":", "/"):
        if sep in resource:
            out.add(resource.split(sep, 1)[1])
    return out


def _peer_stacks(root: Path) -> dict[str, str]:
    peers: dict[str, str] = {}
    try:
        import yaml  # the planner's own dependency; only needed to name a missing peer
    except ImportError:  # pragma: no cover
        return peers
    for path in root.glob("Pulumi.*.yaml"):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        dr = (doc.get("config") or {}).get("insurance-platform:dr") or {}
        if "." in path.name[len("Pulumi.") : -len(".yaml")]:
            continue  # a derived tenant stack file (python -m planner.fleet materialize)
        if isinstance(dr, dict) and dr.get("peerStack"):
            peers[path.name[len("Pulumi.") : -len(".yaml")]] = str(dr["peerStack"])
    return peers


def peer_references(plans: list[Plan], root: Path = ROOT) -> list[Finding]:
    findings: list[Finding] = []
    peers = _peer_stacks(root)
    by_region: dict[tuple[str, str], Plan] = {}
    for plan in plans:
        by_region[(_env(str(plan.get("stack", ""))), str(plan.get("region", "")))] = plan
    names_of: dict[str, set[str]] = {}
    for plan in plans:
        stack = str(plan.get("stack", ""))
        region = str(plan.get("region", ""))
        env = _env(stack)
        own_names = _physical_names(plan)
        for r in _resources(plan):
            refs: set[tuple[str, str]] = set()  # (region, arn); region "" for S3
            for text in _strings(r.get("inputs", {})):
                for m in _ARN.finditer(text):
                    service, arn_region, _account, res = m.groups()
                    arn = m.group(0)
                    if "*" in arn or "?" in arn or "${" in arn:
                        continue  # a pattern, not a reference
                    if arn_region and arn_region != region:
                        refs.add((arn_region, arn))
                    elif service == "s3" and not arn_region and r["type"].startswith("aws:s3/bucketReplicationConfig"):
                        bucket = res.split("/", 1)[0]
                        if bucket not in own_names:
                            refs.add(("", arn))
            for arn_region, arn in sorted(refs):
                if arn_region:
                    peer = by_region.get((env, arn_region))
                else:  # an S3 destination: the peer is this stack's configured DR peer
                    peer_name = peers.get(stack)
                    peer = next((p for p in plans if p.get("stack") == peer_name), None)
                if peer is None:
                    peer_name = peers.get(stack) or f"the {env} stack in {arn_region or 'the peer region'}"
                    findings.append(
                        _finding(
                            "REH-PEER-1",
                            ADVISORY,
                            plan,
                            r,
                            f"{_label(r)} references {arn}; peer plan ({peer_name}) not among the inputs: not checked",
                            "run the rehearsal with the peer stack's plan too",
                        )
                    )
                    continue
                peer_stack = str(peer.get("stack", ""))
                if peer_stack not in names_of:
                    names_of[peer_stack] = _physical_names(peer)
                res = arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
                if not _arn_name_candidates(res) & names_of[peer_stack]:
                    findings.append(
                        _finding(
                            "REH-PEER-1",
                            MANDATORY,
                            plan,
                            r,
                            f"{_label(r)} references {arn}, which the peer plan {peer_stack} does not create",
                            "derive the reference from the peer's exported names, or gate it on the peer being deployed",
                        )
                    )
    return findings


# ---------------------------------------------------------------- REH-KMS-1


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [str(p) for p in _as_list(principal.get("AWS"))]
    return []


_NOT_OPERATORS = ("ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike")


def _denied_managers(doc: dict[str, Any], managers: list[str], deployer: str | None) -> set[str]:
    """Managers a Deny on kms:PutKeyPolicy takes the call away from. A Deny that exempts callers
    only by `aws:PrincipalArn` is read exactly (an account-root manager then keeps the call only
    through an exempted deployer); any other condition may not apply: not counted."""
    denied: set[str] = set()
    for s in _statements(doc):
        if s.get("Effect") != "Deny" or "NotAction" in s or "NotPrincipal" in s:
            continue
        if not any(_action_covers(str(a), "kms:PutKeyPolicy") for a in _as_list(s.get("Action"))):
            continue
        principals = _principals(s)
        condition = dict(s.get("Condition") or {})
        exempt: list[str] = []
        if condition:
            keys = [(op, k) for op, block in condition.items() for k in dict(block)]
            if not all(
                op.removesuffix("IfExists") in _NOT_OPERATORS and k.lower() == "aws:principalarn" for op, k in keys
            ):
                continue
            exempt = [str(v) for op, block in condition.items() for v in _as_list(dict(block).get(next(iter(block))))]
        for m in managers:
            if "*" not in principals and m not in principals:
                continue
            caller = deployer if m.endswith(":root") or re.fullmatch(r"\d{12}", m) else m
            if not caller or not any(_action_covers(e, caller) for e in exempt):
                denied.add(m)
    return denied


def key_policy_keeps_manager(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        deployer = (plan.get("outputs") or {}).get("deployerRoleArn")
        for r in _resources(plan):
            if r["type"] != "aws:kms/key:Key":
                continue
            raw = r.get("inputs", {}).get("policy")
            if raw is None:
                continue  # no policy input: KMS applies the default key policy (root keeps access)
            doc = _policy_doc(raw)
            if doc is None:
                findings.append(
                    _finding(
                        "REH-KMS-1",
                        ADVISORY,
                        plan,
                        r,
                        f"{_label(r)} policy is not known at plan time: not checked",
                        "-",
                    )
                )
                continue
            managers: list[str] = []
            others: list[str] = []  # same-account principals that could be the deployer
            for s in _statements(doc):
                if s.get("Effect") != "Allow" or "NotAction" in s:
                    continue
                if not any(_action_covers(str(a), "kms:PutKeyPolicy") for a in _as_list(s.get("Action"))):
                    continue
                for p in _principals(s):
                    if re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:root|\d{12}", p) or (deployer and p == deployer):
                        managers.append(p)
                    elif p.startswith("arn:aws"):
                        others.append(p)
            denied = _denied_managers(doc, managers, deployer)
            if managers and set(managers) <= denied:
                findings.append(
                    _finding(
                        "REH-KMS-1",
                        MANDATORY,
                        plan,
                        r,
                        f"{_label(r)} key policy allows kms:PutKeyPolicy to {', '.join(sorted(set(managers)))} but a Deny "
                        "takes it away again; CreateKey/PutKeyPolicy reject it (lockout safety check)",
                        "exempt the deployer role from the Deny (ArnNotEquals aws:PrincipalArn)",
                    )
                )
                continue
            if not managers and others and not deployer:
                findings.append(
                    _finding(
                        "REH-KMS-1",
                        ADVISORY,
                        plan,
                        r,
                        f"{_label(r)} key policy lets only {', '.join(sorted(set(others)))} call kms:PutKeyPolicy; the plan "
                        "has no deployerRoleArn output to confirm that is the deploying role: not checked",
                        "export deployerRoleArn from the stack",
                    )
                )
            elif not managers:
                findings.append(
                    _finding(
                        "REH-KMS-1",
                        MANDATORY,
                        plan,
                        r,
                        f"{_label(r)} key policy lets neither the account root nor the deployer role call kms:PutKeyPolicy; "
                        "CreateKey/PutKeyPolicy reject it (lockout safety check)",
                        "add a statement allowing kms:* (or kms:PutKeyPolicy) to arn:aws:iam::<account>:root",
                    )
                )
    return findings


# ---------------------------------------------------------------- REH-KMS-2

ALIAS_ACTIONS = frozenset({"kms:createalias", "kms:deletealias", "kms:updatealias", "kms:listaliases"})
_ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[^:]*:[^:]*:alias/")


def _iam_policies(r: Resource) -> list[Any]:
    inputs = r.get("inputs", {})
    if r["type"] in (
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    ):
        return [inputs.get("policy")]
    if r["type"] == "aws:iam/role:Role":
        return [p.get("policy") for p in _as_list(inputs.get("inlinePolicies")) if isinstance(p, dict)]
    return []


def no_alias_arn_grants(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        for r in _resources(plan):
            for raw in _iam_policies(r):
                doc = _policy_doc(raw)
                if doc is None:
                    continue
                for s in _statements(doc):
                    if s.get("Effect") != "Allow":
                        continue
                    aliases = [str(x) for x in _as_list(s.get("Resource")) if _ALIAS_ARN.match(str(x))]
                    actions = [str(a) for a in _as_list(s.get("Action"))]
                    key_ops = [a for a in actions if a.lower() not in ALIAS_ACTIONS]
                    if aliases and key_ops:
                        findings.append(
                            _finding(
                                "REH-KMS-2",
                                MANDATORY,
                                plan,
                                r,
                                f"{_label(r)} grants {', '.join(key_ops)} on alias ARN {aliases[0]}: an alias ARN in Resource "
                                "matches the alias, not the key, so the key operations are denied",
                                "grant on the key ARN, or on key/* with a kms:ResourceAliases condition",
                            )
                        )
    return findings


# ---------------------------------------------------------------- REH-REPLACE-1

# ForceNew arguments (terraform-provider-aws schemas, camelCased as pulumi-aws names them) of every
# type with protected instances in the plans. Dotted paths reach into single nested blocks.
FORCE_NEW: dict[str, set[str]] = {
    "aws:rds/instance:Instance": {
        "availabilityZone",
        "characterSetName",
        "customIamInstanceProfile",
        "dbName",
        "engine",
        "identifier",
        "identifierPrefix",
        "kmsKeyId",
        "ncharCharacterSetName",
        "restoreToPointInTime",
        "s3Import",
        "snapshotIdentifier",
        "storageEncrypted",
        "timezone",
        "username",
    },
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": {
        "kmsKeyId",
        "preSignedUrl",
        "retentionPeriod",
        "sourceDbInstanceArn",
    },
    "aws:kms/key:Key": {"customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"},
    "aws:s3/bucket:Bucket": {"bucket", "bucketPrefix", "objectLockEnabled"},
    "aws:backup/vault:Vault": {"name", "kmsKeyArn"},
    "aws:secretsmanager/secret:Secret": {"name", "namePrefix"},
    "aws:cloudwatch/logGroup:LogGroup": {"name", "namePrefix", "logGroupClass"},
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        "atRestEncryptionEnabled",
        "dataTieringEnabled",
        "globalReplicationGroupId",
        "kmsKeyId",
        "networkType",
        "port",
        "replicationGroupId",
        "securityGroupNames",
        "snapshotArns",
        "snapshotName",
        "subnetGroupName",
    },
    "aws:elasticache/user:User": {"userId", "userName"},
    "aws:elasticache/userGroup:UserGroup": {"userGroupId", "engine"},
    "aws:cognito/userPool:UserPool": {
        "aliasAttributes",
        "name",
        "usernameAttributes",
        "usernameConfiguration.caseSensitive",
    },
    "aws:sqs/queue:Queue": {"name", "fifoQueue"},
    "aws:sns/topic:Topic": {"name", "fifoTopic"},
    "aws:iam/role:Role": {"name", "namePrefix"},
    "aws:ec2/vpc:Vpc": {"cidrBlock"},
    "aws:ec2/subnet:Subnet": {"cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId"},
    # Kubernetes object names are immutable; the provider replaces the object when they change.
    "kubernetes:core/v1:Namespace": {"metadata.name"},
    "kubernetes:batch/v1:Job": {"spec.template"},  # a Job's pod template is immutable
}

FORCE_NEW_SOURCES: dict[str, str] = {
    "aws:rds/instance:Instance": "internal/service/rds/instance.go",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": "internal/service/rds/instance_automated_backups_replication.go",
    "aws:kms/key:Key": "internal/service/kms/key.go",
    "aws:s3/bucket:Bucket": "internal/service/s3/bucket.go",
    "aws:backup/vault:Vault": "internal/service/backup/vault.go",
    "aws:secretsmanager/secret:Secret": "internal/service/secretsmanager/secret.go",
    "aws:cloudwatch/logGroup:LogGroup": "internal/service/logs/group.go",
    "aws:elasticache/replicationGroup:ReplicationGroup": "internal/service/elasticache/replication_group.go",
    "aws:elasticache/user:User": "internal/service/elasticache/user.go",
    "aws:elasticache/userGroup:UserGroup": "internal/service/elasticache/user_group.go",
    "aws:cognito/userPool:UserPool": "internal/service/cognitoidp/user_pool.go",
    "aws:sqs/queue:Queue": "internal/service/sqs/queue.go",
    "aws:sns/topic:Topic": "internal/service/sns/topic.go",
    "aws:iam/role:Role": "internal/service/iam/role.go",
    "aws:ec2/vpc:Vpc": "internal/service/ec2/vpc_.go",
    "aws:ec2/subnet:Subnet": "internal/service/ec2/vpc_subnet.go",
    "kubernetes:core/v1:Namespace": "Kubernetes API: metadata.name is immutable",
    "kubernetes:batch/v1:Job": "Kubernetes API: a Job's spec.template is immutable",
}


def forces_replacement(type_: str, path: str) -> bool:
    """Whether a change at input `path` (dotted, `[i]` for list items) replaces a `type_` resource."""
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in FORCE_NEW.get(type_, ()))


def _is_unknown(value: Any) -> bool:
    return value in (UNKNOWN, SECRET) or (isinstance(value, str) and UNKNOWN in value)


def renames(new: Mapping[str, Any]) -> dict[str, str]:
    """Old URN -> new URN for every resource of `new` that carries an alias (a rename or a move
    to another parent): the engine updates it in place instead of replacing it."""
    return {alias: r["urn"] for r in new["resources"] for alias in r.get("options", {}).get("aliases") or []}


def replacements(old: Plan, new: Plan) -> list[Finding]:
    """Changes between two plans of one stack that would replace, or remove, a protected resource."""
    findings: list[Finding] = []
    moved = renames(new)
    old_by = {moved.get(r["urn"], r["urn"]): r for r in _resources(old)}
    new_by = {r["urn"]: r for r in _resources(new)}
    for urn, before in old_by.items():
        after = new_by.get(urn)
        protected = bool(before.get("options", {}).get("protect")) or bool(
            after and after.get("options", {}).get("protect")
        )
        if not protected:
            continue
        if after is None:
            findings.append(
                _finding(
                    "REH-REPLACE-1",
                    MANDATORY,
                    new,
                    before,
                    f"{_label(before)} is protected and disappears from the new plan (removal of a protected resource)",
                    "keep the resource (same name and parent), or add an alias if it moved",
                )
            )
            continue
        for prop in sorted(FORCE_NEW.get(before["type"], set())):
            a = _get(before.get("inputs", {}), prop)
            b = _get(after.get("inputs", {}), prop)
            if a == b:
                continue
            if _is_unknown(a) or _is_unknown(b):
                findings.append(
                    _finding(
                        "REH-REPLACE-1",
                        ADVISORY,
                        new,
                        after,
                        f"{_label(after)} force-new input {prop} is unknown at plan time in one plan: not compared",
                        "-",
                    )
                )
                continue
            findings.append(
                _finding(
                    "REH-REPLACE-1",
                    MANDATORY,
                    new,
                    after,
                    f"{_label(after)} {prop} changes {a!r} -> {b!r}: would replace a protected resource",
                    "keep the old value (or migrate deliberately: unprotect, snapshot, replace)",
                )
            )
    return findings


# ---------------------------------------------------------------- REH-CHART-1


def _load_key_files(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "chart" in doc and "version" in doc:
            out[(str(doc["chart"]), str(doc["version"]))] = doc
    return out


def _leaf_paths(values: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(values, dict) and values:
        for k, v in values.items():
            yield from _leaf_paths(v, f"{prefix}.{k}" if prefix else str(k))
    elif prefix:
        yield prefix  # scalars, lists (not descended) and empty maps


def _under(path: str, roots: set[str]) -> bool:
    return any(path == o or path.startswith(o + ".") for o in roots)


def chart_values_known(plans: list[Plan], keys_dir: Path = HELM_KEYS_DIR) -> list[Finding]:
    findings: list[Finding] = []
    key_files = _load_key_files(keys_dir)
    for plan in plans:
        for r in _releases(plan):
            chart = str(r["inputs"].get("chart") or "")
            version = str(r["inputs"].get("version") or "")
            doc = key_files.get((chart, version)) or key_files.get((_chart_name(r), version))
            if doc is None:
                findings.append(
                    _finding(
                        "REH-CHART-1",
                        MANDATORY,
                        plan,
                        r,
                        f"{_label(r)} chart {chart} {version}: values not verified against the chart (no key file)",
                        f"add {keys_dir.name}/<chart>.json for {chart} {version}",
                    )
                )
                continue
            if doc.get("unavailable"):
                # The upstream values.yaml could not be read where the key file was made: say so on
                # every plan, without blocking, until someone regenerates the file.
                findings.append(
                    _finding(
                        "REH-CHART-1",
                        ADVISORY,
                        plan,
                        r,
                        f"{_label(r)} chart {chart} {version}: key file marked unavailable ({doc.get('note', '')})",
                        f"regenerate {keys_dir.name}/{chart}.json with planner/helm_keys/extract.py",
                    )
                )
                continue
            paths = {str(p) for p in doc.get("paths") or []}
            open_roots = {str(p) for p in doc.get("open") or []}
            values = r["inputs"].get("values")
            if not isinstance(values, dict):
                continue
            for leaf in _leaf_paths(values):
                if leaf in paths or _under(leaf, open_roots):
                    continue
                findings.append(
                    _finding(
                        "REH-CHART-1",
                        MANDATORY,
                        plan,
                        r,
                        f"{_label(r)} sets values key {leaf!r}, which chart {chart} {version} does not have",
                        "fix the key (check the chart's values.yaml at the pinned version)",
                    )
                )
    return findings


# ---------------------------------------------------------------- REH-PSS-1


def injected_pods_meet_pss(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        releases = _releases(plan)
        has_cni = any(_chart_name(r) in ("cni", "istio-cni") for r in releases)
        istiod = [r for r in releases if _chart_name(r) == "istiod"]
        cni_on = any(_get(r["inputs"].get("values") or {}, "pilot.cni.enabled") is True for r in istiod)
        for r in _resources(plan):
            if r["type"] != "kubernetes:core/v1:Namespace":
                continue
            labels = dict(_meta(r).get("labels") or {})
            level = labels.get("pod-security.kubernetes.io/enforce")
            if labels.get("istio-injection") != "enabled" or level not in ("baseline", "restricted"):
                continue
            if has_cni and cni_on:
                continue
            missing = [
                m
                for m, ok in (("an istio-cni release", has_cni), ("istiod values pilot.cni.enabled: true", cni_on))
                if not ok
            ]
            findings.append(
                _finding(
                    "REH-PSS-1",
                    MANDATORY,
                    plan,
                    r,
                    f"namespace {_meta(r).get('name')} enforces Pod Security {level!r} with sidecar injection, but the plan lacks "
                    f"{' and '.join(missing)}: injected pods get the istio-init container (NET_ADMIN, NET_RAW) and are rejected",
                    "install the istio-cni chart and set pilot.cni.enabled: true in the istiod values (istio_cni.enabled is not read)",
                )
            )
    return findings


# ---------------------------------------------------------------- REH-COND-1

# Condition keys absent from the request context of unsigned STS calls: the IAM doc lists each as present
# only "for all signed requests" (or for principals with tags), and these calls are not signed.
_PRINCIPAL_KEYS = (
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principaltag/*",
    "aws:principalisawsservice",
    "aws:principalservicename",
)
ABSENT_KEYS: dict[str, tuple[str, ...]] = {
    "sts:AssumeRoleWithWebIdentity": _PRINCIPAL_KEYS,
    "sts:AssumeRoleWithSAML": _PRINCIPAL_KEYS,
}
# Resources whose `policy` input is a resource policy evaluated on those calls.
RESOURCE_POLICY_TYPES = ("aws:ec2/vpcEndpoint:VpcEndpoint",)


def _federated_callers(plan: Plan) -> dict[str, list[Resource]]:
    """Unsigned STS calls the platform makes -> the roles that trust them (IRSA: OIDC web identity; SAML)."""
    callers: dict[str, list[Resource]] = {}
    for r in _resources(plan):
        if r["type"] != "aws:iam/role:Role":
            continue
        doc = _policy_doc(r.get("inputs", {}).get("assumeRolePolicy"))
        if doc is None:
            continue
        for s in _statements(doc):
            principal = s.get("Principal")
            federated = [str(f) for f in _as_list(principal.get("Federated"))] if isinstance(principal, dict) else []
            actions = [str(a) for a in _as_list(s.get("Action"))]
            for call, provider in (
                ("sts:AssumeRoleWithWebIdentity", ":oidc-provider/"),
                ("sts:AssumeRoleWithSAML", ":saml-provider/"),
            ):
                trusted = any(provider in f for f in federated) and any(_action_covers(a, call) for a in actions)
                if trusted and r not in callers.setdefault(call, []):
                    callers[call].append(r)
    return callers


def _required_absent_keys(statement: dict[str, Any], absent: tuple[str, ...]) -> list[str]:
    hits: list[str] = []
    for operator, block in dict(statement.get("Condition") or {}).items():
        if not isinstance(block, dict) or str(operator).endswith("IfExists") or operator == "Null":
            continue
        for key in block:
            if any(fnmatch.fnmatchcase(str(key).lower(), k) for k in absent):
                hits.append(f"{operator}:{key}")
    return hits


def conditions_present_on_calls(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for plan in plans:
        callers = _federated_callers(plan)
        if not callers:
            continue
        for r in _resources(plan):
            if r["type"] not in RESOURCE_POLICY_TYPES:
                continue
            if r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint" and not str(r["inputs"].get("serviceName", "")).endswith(
                ".sts"
            ):
                continue
            doc = _policy_doc(r.get("inputs", {}).get("policy"))
            if doc is None:
                continue
            allows = [s for s in _statements(doc) if s.get("Effect") == "Allow" and "NotAction" not in s]
            # Any one Allow suffices: a call another statement admits without the key is not denied.
            admitted = {
                call
                for call in callers
                for s in allows
                if any(_action_covers(str(a), call) for a in _as_list(s.get("Action")))
                and not _required_absent_keys(s, ABSENT_KEYS[call])
            }
            for s in allows:
                actions = [str(a) for a in _as_list(s.get("Action"))]
                hit_calls: list[str] = []
                hit_keys: set[str] = set()
                for call, roles in callers.items():
                    if call in admitted or not any(_action_covers(a, call) for a in actions):
                        continue
                    keys = _required_absent_keys(s, ABSENT_KEYS[call])
                    if keys:
                        hit_calls.append(f"{call} ({len(roles)} role(s), e.g. {roles[0]['name']})")
                        hit_keys.update(keys)
                if hit_calls:
                    findings.append(
                        _finding(
                            "REH-COND-1",
                            MANDATORY,
                            plan,
                            r,
                            f"{_label(r)} statement {s.get('Sid', '')!r} allows only when {', '.join(sorted(hit_keys))} holds, "
                            f"but the key is absent on the unsigned {'; '.join(hit_calls)}: those calls are denied",
                            "use the ...IfExists operator for that key, or add an Allow for the federated calls",
                        )
                    )
    return findings


# ---------------------------------------------------------------- REH-BAK-1

REGION_SETTINGS = "aws:backup/regionSettings:RegionSettings"


def _arn_region(value: Any) -> str | None:
    parts = str(value).split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


def dynamodb_copies_enabled(plans: list[Plan]) -> list[Finding]:
    """A tenant's backup plan that copies to another region, and whose selection holds its
    DynamoDB table, needs AWS Backup's advanced DynamoDB features in the table's region (where the
    recovery point is made) and, when that region's plan is rehearsed too, in the copy's region."""
    enabled = {
        (_env(str(p.get("stack", ""))), p.get("region"))
        for p in plans
        for r in _resources(p)
        if r["type"] == REGION_SETTINGS and _get(r.get("inputs"), "resourceTypeManagementPreference.DynamoDB") is True
    }
    rehearsed = {(_env(str(p.get("stack", ""))), p.get("region")) for p in plans}
    findings: list[Finding] = []
    for plan in plans:
        env = _env(str(plan.get("stack", "")))
        by_urn = {r["urn"]: r for r in _resources(plan)}
        for selection in _resources(plan):
            if selection["type"] != "aws:backup/selection:Selection":
                continue
            tables = [a for a in _as_list(selection["inputs"].get("resources")) if ":dynamodb:" in str(a)]
            backup_plans = [
                by_urn[d]
                for d in selection.get("options", {}).get("dependsOn") or []
                if d in by_urn and by_urn[d]["type"] == "aws:backup/plan:Plan"
            ]
            copies = {
                region
                for p in backup_plans
                for rule in _as_list(p["inputs"].get("rules"))
                for action in _as_list(rule.get("copyActions") if isinstance(rule, dict) else None)
                if isinstance(action, dict) and (region := _arn_region(action.get("destinationVaultArn")))
            }
            if not tables or not copies:
                continue
            sources = {r for t in tables if (r := _arn_region(t))}
            needed = sources | {r for r in copies if (env, r) in rehearsed}
            for region in sorted(r for r in needed if (env, r) not in enabled):
                findings.append(
                    _finding(
                        "REH-BAK-1",
                        MANDATORY,
                        plan,
                        selection,
                        f"{_label(selection)} copies DynamoDB table(s) to {', '.join(sorted(copies))}, but "
                        f"AWS Backup's advanced DynamoDB features are not on in {region}: the copy job fails "
                        "and the table has no recovery point outside its region",
                        f"plan the {region} platform stack with its BackupVault (aws.backup.RegionSettings "
                        "resourceTypeManagementPreference DynamoDB: true)",
                    )
                )
    return findings


# ---------------------------------------------------------------- registry

RULES: list[Rule] = [
    Rule(
        "REH-ORDER-1",
        "EKS APIs (CreateAddon, CreateAccessEntry, ...) fail with ResourceNotFoundException until the cluster is ACTIVE; "
        "Pulumi orders only on outputs/depends_on (pulumi docs: resource options dependsOn; inputs and outputs)",
        order_cluster_scoped,
    ),
    Rule(
        "REH-ORDER-2",
        "a custom resource is rejected ('no matches for kind') until its CRD is established, and by a failurePolicy=Fail "
        "webhook until it serves (helm.sh/docs/chart_best_practices/custom_resource_definitions; istio/istio@1.30.3:"
        "manifests/charts/istio-control/istio-discovery/templates/validatingwebhookconfiguration.yaml failurePolicy: Fail)",
        order_crd_owner,
    ),
    Rule(
        "REH-ORDER-3",
        "sidecars are added only by istiod's mutating webhook at pod creation (istio/istio@1.30.3:manifests/charts/"
        "istio-control/istio-discovery/templates/mutatingwebhook.yaml); pods created earlier run without one",
        order_mesh,
    ),
    Rule(
        "REH-NAME-1",
        "physical names must meet each service's naming limits (S3 bucketnamingrules, IAM quotas, KMS/SQS/SNS/RDS/"
        "ElastiCache/ELBv2/Logs/EKS/Secrets Manager/Backup/Cognito/Budgets/CodeBuild API references; Kubernetes names/labels docs)",
        names_within_limits,
    ),
    Rule(
        "REH-NAME-2",
        "S3 bucket names are global, IAM names account-wide, other names per account and Region "
        "(S3 bucketnamingrules 'unique across all AWS accounts'; IAM 'names must be unique within the account')",
        unique_names,
    ),
    Rule(
        "REH-PEER-1",
        "cross-Region references (CreateDBInstanceReadReplica SourceDBInstanceIdentifier, StartDBInstanceAutomatedBackups"
        "Replication SourceDBInstanceArn, Backup copy DestinationBackupVaultArn, S3 replication Destination) fail unless "
        "the peer resource exists",
        peer_references,
    ),
    Rule(
        "REH-KMS-1",
        "KMS CreateKey/PutKeyPolicy reject a policy that does not let the caller call PutKeyPolicy again unless "
        "BypassPolicyLockoutSafetyCheck (KMS API Reference: CreateKey, PutKeyPolicy; KMS guide 'Default key policy')",
        key_policy_keeps_manager,
    ),
    Rule(
        "REH-KMS-2",
        "an alias ARN in an IAM policy's Resource controls access to the alias, not to the KMS key "
        "(KMS guide 'Using aliases to control access' / alias-access.html; kms:ResourceAliases condition)",
        no_alias_arn_grants,
    ),
    Rule(
        "REH-CHART-1",
        "Helm silently ignores values keys the chart does not read (helm.sh/docs/chart_template_guide/values_files); "
        "keys are checked against the pinned chart's values (planner/helm_keys)",
        chart_values_known,
    ),
    Rule(
        "REH-PSS-1",
        "without pilot.cni.enabled istiod injects istio-init with NET_ADMIN/NET_RAW (istio/istio@1.30.3:manifests/charts/"
        "istio-control/istio-discovery/files/injection-template.yaml), which Pod Security baseline/restricted reject "
        "(kubernetes.io/docs/concepts/security/pod-security-standards)",
        injected_pods_meet_pss,
    ),
    Rule(
        "REH-COND-1",
        "aws:PrincipalAccount/Arn/OrgID/Tag/IsAWSService are present only on signed requests; AssumeRoleWithWebIdentity/"
        "SAML are unsigned (IAM guide reference_policies_condition-keys, Availability)",
        conditions_present_on_calls,
    ),
    Rule(
        "REH-BAK-1",
        "AWS Backup copies DynamoDB recovery points across Regions and accounts only with advanced DynamoDB "
        "backup on (aws-backup devguide advanced-ddb-backup.html; UpdateRegionSettings "
        "ResourceTypeManagementPreference)",
        dynamodb_copies_enabled,
    ),
]

REPLACE_RULE = Rule(
    "REH-REPLACE-1",
    "a change to a ForceNew argument replaces the resource (hashicorp/terraform-provider-aws schemas ForceNew: true; "
    "pulumi-aws 7.51 bridges provider v6); Pulumi refuses to delete a protected resource",
    lambda plans: replacements(plans[0], plans[1]) if len(plans) == 2 else [],
)


def rehearse(plans: list[Plan]) -> list[Finding]:
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule.check(plans))
    return findings


# ---------------------------------------------------------------- CLI


def _name_of(plans: list[Plan], urn: str) -> str:
    for plan in plans:
        for r in _resources(plan):
            if r["urn"] == urn:
                return f"{r['name']} [{r['type']}]"
    return urn or "-"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    paths = [Path(a) for a in args] or sorted((ROOT / "build").glob("*/plan.json"))
    plans: list[Plan] = []
    for path in paths:
        try:
            plan = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"cannot read plan {path}: {exc}", file=sys.stderr)
            return 2
        if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
            print(f"cannot read plan {path}: not a plan", file=sys.stderr)
            return 2
        plans.append(plan)
    findings = rehearse(plans)
    by_stack: dict[str, list[Finding]] = {}
    for f in findings:
        by_stack.setdefault(f.stack, []).append(f)
    for stack in sorted(by_stack):
        print(f"== {stack}")
        for f in sorted(by_stack[stack], key=lambda f: (f.rule, f.severity, f.urn)):
            print(f"  {f.rule} {f.severity} {_name_of(plans, f.urn)}: {f.message} -- fix: {f.fix}")
    mandatory = sum(1 for f in findings if f.severity == MANDATORY)
    print(
        f"{len(findings)} finding(s): {mandatory} mandatory, {len(findings) - mandatory} advisory, over {len(plans)} plan(s)"
    )
    return 1 if mandatory else 0


if __name__ == "__main__":
    raise SystemExit(main())
