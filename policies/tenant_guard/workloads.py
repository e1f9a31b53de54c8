"""Kubernetes workloads: restricted pods, bounded resources, pinned images from approved
registries (and the same for the container images of Lambda functions), no default service accounts or mounted API tokens, secrets as files, no node ports or
cloud load balancers, and nothing in the default namespace."""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import cis_eks, glba, naic, nydfs
from .props import as_list, get
from .rule import Res, Rule

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
FUNCTION = "aws:lambda/function:Function"  # a container-image function runs an image like a pod

# Where each workload type keeps its pod spec.
POD_SPEC_PATHS: dict[str, str] = {
    DEPLOYMENT: "spec.template.spec",
    STATEFUL_SET: "spec.template.spec",
    DAEMON_SET: "spec.template.spec",
    REPLICA_SET: "spec.template.spec",
    JOB: "spec.template.spec",
    CRON_JOB: "spec.jobTemplate.spec.template.spec",
    POD: "spec",
}
WORKLOAD_TYPES = tuple(POD_SPEC_PATHS)
NAMESPACED_TYPES = (
    *WORKLOAD_TYPES,
    SERVICE,
    SERVICE_ACCOUNT,
    ROLE,
    ROLE_BINDING,
    NETWORK_POLICY,
    CONFIG_MAP,
    SECRET,
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
EXPOSING_SERVICE_TYPES = ("LoadBalancer", "NodePort")
DEFAULT_SERVICE_ACCOUNTS = ("", "default")


def pod_spec(r: Res) -> Mapping[str, Any]:
    spec = get(r.props, POD_SPEC_PATHS.get(r.type, "spec"))
    return spec if isinstance(spec, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, container) for every container and init container, e.g. ("init container 'migrate'", {...})."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for key, kind in (("initContainers", "init container"), ("containers", "container")):
        for c in as_list(get(spec, key)):
            if isinstance(c, Mapping):
                found.append((f"{kind} '{get(c, 'name', '?')}'", c))
    return found


def _effective(container: Mapping[str, Any], spec: Mapping[str, Any], path: str) -> Any:
    """A container security setting, else the pod's (the container's own value wins)."""
    sentinel = object()
    own = get(container, f"securityContext.{path}", sentinel)
    return own if own is not sentinel and own is not None else get(spec, f"securityContext.{path}")


def workload_security_context(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(r)
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if get(spec, flag) is True:
            yield f"the pod shares the node's namespaces ({flag}): remove {flag}"
    for volume in as_list(get(spec, "volumes")):
        if get(volume, "hostPath") is not None:
            yield f"volume '{get(volume, 'name', '?')}' mounts a node path (hostPath): use a PVC, emptyDir or projected volume"
    for label, c in containers(spec):
        if get(c, "securityContext.privileged") is True:
            yield f"{label} is privileged"
        if get(c, "securityContext.allowPrivilegeEscalation") is not False:
            yield f"{label} does not set allowPrivilegeEscalation: false"
        if _effective(c, spec, "runAsNonRoot") is not True:
            yield f"{label} may run as root: set runAsNonRoot: true (container or pod)"
        drop = {str(x).upper() for x in as_list(get(c, "securityContext.capabilities.drop"))}
        if "ALL" not in drop:
            yield f"{label} does not drop ALL capabilities"
        added = sorted({str(x).upper() for x in as_list(get(c, "securityContext.capabilities.add"))})
        extra = [cap for cap in added if cap not in ALLOWED_ADDED_CAPABILITIES]
        if extra:
            yield f"{label} adds capabilities {', '.join(extra)} (only NET_BIND_SERVICE is allowed)"
        if _effective(c, spec, "seccompProfile.type") not in ALLOWED_SECCOMP:
            yield f"{label} has no RuntimeDefault or Localhost seccomp profile (container or pod)"
        if get(c, "securityContext.readOnlyRootFilesystem") is not True:
            yield f"{label} has a writable root filesystem: set readOnlyRootFilesystem: true"


def workload_resources(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(pod_spec(r)):
        missing = [
            f"{kind}.{resource}"
            for kind in ("requests", "limits")
            for resource in ("cpu", "memory")
            if get(c, f"resources.{kind}.{resource}") in (None, "")
        ]
        if missing:
            yield f"{label} sets no {', '.join(missing)}"


DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
TENANT_LABEL = "tenant"  # components/tags.tenant_labels: set on every tenant workload


def _image_problem(image: Any) -> str | None:
    if not isinstance(image, str) or not image.strip():
        return "names no image"
    if "@" in image:
        return None if DIGEST.search(image) else f"image '{image}' has a malformed digest (@sha256:<64 hex>)"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image '{image}' has no tag or digest (it would pull :latest)"
    if last.rsplit(":", 1)[1] in ("", "latest"):
        return f"image '{image}' uses the mutable :latest tag"
    return None


def _tenant_workload(r: Res) -> bool:
    labels = get(r.props, "metadata.labels")
    return isinstance(labels, Mapping) and bool(labels.get(TENANT_LABEL))


def function_image_provenance(r: Res, registries: list[str]) -> Iterable[str]:
    """A container-image Lambda function names its image by digest in an approved registry. Lambda
    resolves a tag once, at create or update; a later push under that tag changes nothing until the
    next update, which then silently ships whatever the tag names by then. By digest, the plan shows
    the exact bytes and a new release is a reviewed change. (.zip packages: LAM-2.)"""
    if get(r.props, "packageType") != "Image":
        return
    image = get(r.props, "imageUri")
    problem = _image_problem(image)
    if problem:
        yield f"the function {problem}: pin it by digest (repository@sha256:...)"
    elif not DIGEST.search(str(image)):
        yield f"the function runs '{image}' by tag: pin it by digest (repository@sha256:...)"
    if registries and isinstance(image, str) and image and not image.startswith(tuple(registries)):
        yield f"the function's image '{image}' is not from an approved registry ({', '.join(registries)})"


def workload_image_provenance(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    registries = [str(p) for p in as_list(config.get("allowedRegistries")) if p]
    if r.type == FUNCTION:
        yield from function_image_provenance(r, registries)
        return
    tenant = _tenant_workload(r)
    for label, c in containers(pod_spec(r)):
        image = get(c, "image")
        problem = _image_problem(image)
        if problem:
            yield f"{label} {problem}: pin an exact tag or digest"
        elif tenant and not DIGEST.search(str(image)):
            # A tag can be moved to other content; tenant workloads run exactly what was resolved.
            yield f"{label} of a tenant workload runs '{image}' by tag: pin it by digest (@sha256:...)"
        if registries and isinstance(image, str) and image and not image.startswith(tuple(registries)):
            yield f"{label} pulls '{image}' from a registry that is not approved ({', '.join(registries)})"


def service_account_token(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if r.type == SERVICE_ACCOUNT:
        if get(r.props, "automountServiceAccountToken") is not False:
            yield "the service account mounts its API token into every pod: set automountServiceAccountToken: false"
        return
    spec = pod_spec(r)
    if get(spec, "automountServiceAccountToken") is not False:
        yield "the pod mounts a Kubernetes API token: set automountServiceAccountToken: false (IRSA projects its own token)"
    account = get(spec, "serviceAccountName") or get(spec, "serviceAccount") or ""
    if account in DEFAULT_SERVICE_ACCOUNTS:
        yield "the pod runs as the namespace's default service account: give the workload its own service account"


def secrets_as_files(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    for label, c in containers(pod_spec(r)):
        names = [get(e, "name", "?") for e in as_list(get(c, "env")) if get(e, "valueFrom.secretKeyRef") is not None]
        if names:
            yield f"{label} reads secrets into environment variables {', '.join(map(str, names))}: mount them as files"
        if any(get(e, "secretRef") is not None for e in as_list(get(c, "envFrom"))):
            yield f"{label} loads a whole secret into its environment (envFrom.secretRef): mount it as files"


def no_loadbalancer_services(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    kind = get(r.props, "spec.type")
    if kind in EXPOSING_SERVICE_TYPES:
        yield f"the service is of type {kind}: only the platform's public load balancer may accept outside traffic; use ClusterIP behind the ingress router"


def no_default_namespace(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    namespace = get(r.props, "metadata.namespace")
    if not isinstance(namespace, str) or not namespace:
        yield "metadata.namespace is not set, so the object lands in whatever namespace the provider defaults to"
    elif namespace == "default":
        yield "the object is in the 'default' namespace, outside every tenant's and the platform's guardrails"


RULES: tuple[Rule, ...] = (
    Rule(
        id="K8S-POD-1",
        name="workload-security-context",
        title="Pods run restricted",
        summary="non-root, no privilege escalation, drop ALL, seccomp, read-only root, no host access",
        description="Every container runs as non-root, without privilege or privilege escalation, drops all Linux capabilities (at most NET_BIND_SERVICE added back), uses the runtime's seccomp profile and a read-only root filesystem; no pod shares the node's network, PID or IPC namespaces or mounts node paths. A compromised workload therefore cannot reach the node or other tenants' pods.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(
            nydfs("500.7"),
            naic("a"),
            cis_eks("4.2.1"),
            cis_eks("4.2.5"),
            cis_eks("4.2.6"),
            cis_eks("4.2.8"),
            cis_eks("4.6.2"),
        ),
        remediation="Set the pod securityContext (runAsNonRoot: true, seccompProfile.type: RuntimeDefault) and, per container, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities.drop: [ALL]; remove hostNetwork/hostPID/hostIPC and hostPath volumes.",
        resource_types=WORKLOAD_TYPES,
        check=workload_security_context,
    ),
    Rule(
        id="K8S-POD-2",
        name="workload-resources",
        title="Containers declare CPU and memory requests and limits",
        summary="requests and limits for CPU and memory",
        description="Every container and init container requests and limits CPU and memory, so the scheduler places it honestly and no tenant's workload can starve others on a shared node.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("j")),
        remediation="Set resources.requests and resources.limits (cpu and memory) on every container from the tenant tier's sizing.",
        resource_types=WORKLOAD_TYPES,
        check=workload_resources,
    ),
    Rule(
        id="K8S-IMG-1",
        name="workload-image-provenance",
        title="Images are pinned and come from approved registries",
        summary="approved registries; tenant workloads and Lambda images by digest, platform ones by exact tag or digest (never `latest`)",
        description="Every container image names an exact tag or digest (never :latest or no tag), tenant workloads (label `tenant`) and container-image Lambda functions run images pinned by digest, and, when the approved registries are configured, images come from one of them, so what runs is what was scanned and reviewed.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.8"), naic("e"), glba("4"), cis_eks("5.1.4")),
        remediation="Pin the image by digest (tenant workloads: TenantServices resolves the configured tag to its digest in ECR) or an immutable version tag and pull it from the platform's ECR registry (policy config allowedRegistries).",
        resource_types=(*WORKLOAD_TYPES, FUNCTION),
        check=workload_image_provenance,
        config_schema={
            "allowedRegistries": {
                "type": "array",
                "description": "Image prefixes workloads may pull from, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/.",
                "items": {"type": "string"},
            }
        },
    ),
    Rule(
        id="K8S-SA-1",
        name="service-account-token",
        title="Workloads use their own service account without an API token",
        summary="no automounted service-account token, no `default` account",
        description="Each workload runs under its own service account (never the namespace default) and does not mount a Kubernetes API token, which workloads do not need (IRSA projects its own AWS token); a stolen pod token then cannot be used against the cluster API.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.ADVISORY,
        frameworks=(nydfs("500.7"), cis_eks("4.1.5"), cis_eks("4.1.6")),
        remediation="Create a service account per workload with automountServiceAccountToken: false, set serviceAccountName and automountServiceAccountToken: false in the pod spec.",
        resource_types=(*WORKLOAD_TYPES, SERVICE_ACCOUNT),
        check=service_account_token,
    ),
    Rule(
        id="K8S-SEC-1",
        name="secrets-as-files",
        title="Secrets are mounted as files, not environment variables",
        summary="secrets mounted as files, not environment variables",
        description="Containers read secrets from mounted files rather than environment variables, which leak into crash dumps, logs and child processes.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.ADVISORY,
        frameworks=(nydfs("500.15"), naic("d"), cis_eks("4.4.1")),
        remediation="Mount the secret (synced by the External Secrets Operator) as a read-only volume and read it from the file.",
        resource_types=WORKLOAD_TYPES,
        check=secrets_as_files,
    ),
    Rule(
        id="K8S-SVC-1",
        name="no-loadbalancer-services",
        title="No Service opens its own way in",
        summary="no LoadBalancer/NodePort services (the ALB is the only entry)",
        description="No Kubernetes Service is of type LoadBalancer or NodePort: the only entry from outside the cluster is the platform's public load balancer with its WAF and TLS policy.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1")),
        remediation="Use a ClusterIP Service and route to it through the platform ingress router.",
        resource_types=(SERVICE,),
        check=no_loadbalancer_services,
    ),
    Rule(
        id="K8S-NS-3",
        name="no-default-namespace",
        title="Nothing is deployed to the default namespace",
        summary="namespaced objects name a namespace other than `default`",
        description="Every namespaced object names its namespace explicitly and never uses 'default', which carries none of the tenant or platform guardrails (quotas, network policies, Pod Security level).",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), cis_eks("4.6.4"), cis_eks("4.6.1")),
        remediation="Set metadata.namespace to the tenant's namespace (or the add-on's platform namespace).",
        resource_types=NAMESPACED_TYPES,
        check=no_default_namespace,
    ),
)
