"""LGTM in its own namespace: Loki, Tempo and Mimir in multi-tenant mode on KMS-encrypted S3
(one bucket per store, lifecycle from retention, IRSA roles scoped to their own buckets), Grafana
with its own admin secret from Secrets Manager (each tenant's views too) and no access to Secrets
in the cluster, one set of data sources per tenant pinned to that tenant's id, and a Grafana Alloy
collector that ships each tenant namespace's logs, metrics and traces under the tenant's id
(`X-Scope-OrgID`) and platform signals under `platform`."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.edge.ingress_routing import INGRESS_CLASS
from components.platform.secrets_delivery import platform_secret_prefix
from components.shared.iam import document
from components.shared.k8s_helpers import SYSTEM_NODES, addon_namespace, release
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.shared.tags import platform_tags

NAMESPACE = "observability"
PLATFORM_TENANT = "platform"
TENANT_HEADER = "X-Scope-OrgID"
LOKI = "http://loki-gateway.observability.svc"
MIMIR = "http://mimir-gateway.observability.svc/prometheus"
TEMPO = "http://tempo-query-frontend.observability.svc:3100"
TEMPO_OTLP = "tempo-distributor.observability.svc:4317"
OTLP_GRPC_PORT = 4317
COLLECTOR_OTLP = f"http://alloy.{NAMESPACE}.svc:{OTLP_GRPC_PORT}"  # where workloads send traces
# store -> (buckets, days objects are kept). Loki keeps the longest tenant log retention (7 years).
STORES = {
    "loki": (("chunks", "ruler"), 2922),
    "tempo": (("traces",), 30),
    "mimir": (("blocks", "ruler", "alertmanager"), 400),
}


@dataclass
class ObservabilityArgs:
    settings: StackSettings
    tenants: Sequence[Tenant]  # served here: one data-source set and metrics pipeline each
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    entry_dns_name: pulumi.Input[str]  # the regional public entry: tenant views are reached through it
    entry_zone_id: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = ()  # External Secrets Operator (CRDs)


LOKI_REPLICAS = {
    "distributor": 3,
    "ingester": 3,
    "querier": 3,
    "queryFrontend": 2,
    "queryScheduler": 2,
    "compactor": 1,
    "indexGateway": 2,
    "read": 0,
    "write": 0,
    "backend": 0,
    "singleBinary": 0,
}


def bucket_name(settings: StackSettings, store: str, purpose: str) -> str:
    return f"{settings.regional_prefix}-{store}-{purpose}"


def grafana_admin_secret(tenant: Tenant | None = None) -> str:
    """The Kubernetes Secret (and Secrets Manager name suffix) of one Grafana's admin credential:
    the platform instance's, or one tenant's views'."""
    return f"grafana-admin-{tenant.id}" if tenant else "grafana-admin"


def grafana_identity(service_account: str) -> dict[str, object]:
    """Chart values: a named service account and no chart RBAC (see `_dashboards_reader`); the
    dashboards sidecar watches ConfigMaps only."""
    return {"serviceAccount": {"create": True, "name": service_account}, "rbac": {"create": False}}


def views_host(settings: StackSettings, tenant: Tenant) -> str:
    """A tenant's Grafana in this region (its signals are regional); under the entry's *.domain."""
    return f"views-{settings.region}-{tenant.id}.{settings.edge.domain}"


def datasources(tenants: Sequence[str], platform: bool = True) -> list[dict[str, object]]:
    """One Loki, Mimir and Tempo data source per tenant (and for the platform), each pinned to
    exactly one tenant id: a tenant's views can never query another tenant's signals."""
    found: list[dict[str, object]] = []
    for tenant in [*([PLATFORM_TENANT] if platform else []), *tenants]:
        for kind, url, type_ in (("logs", LOKI, "loki"), ("metrics", MIMIR, "prometheus"), ("traces", TEMPO, "tempo")):
            found.append(
                {
                    "name": f"{kind}-{tenant}",
                    "uid": f"{kind}-{tenant}",
                    "type": type_,
                    "url": url,
                    "access": "proxy",
                    "editable": False,
                    "jsonData": {"httpHeaderName1": TENANT_HEADER},
                    "secureJsonData": {"httpHeaderValue1": tenant},
                }
            )
    return found


ERROR_RATIO = 0.05  # more than 5 % of a tenant's requests failing
LATENCY_P95_MS = 1500


def _rule(tenant: str, uid: str, title: str, expr: str, threshold: float, severity: str) -> dict[str, object]:
    return {
        "uid": f"{tenant}-{uid}"[:40],
        "title": title,
        "condition": "C",
        "for": "5m",
        "labels": {"tenant": tenant, "severity": severity},
        "annotations": {"summary": f"{title} ({tenant})"},
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": f"metrics-{tenant}",  # only this tenant's series
                "model": {"refId": "A", "expr": expr, "instant": True},
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "A",
                    "conditions": [{"evaluator": {"type": "gt", "params": [threshold]}}],
                },
            },
        ],
    }


def grafana_alerting(tenants: Sequence[Tenant]) -> dict[str, object]:
    """Per-tenant service alert rules (5xx ratio, p95 latency) on the tenant's own metrics, shown in
    its views. Paging goes one way only: the same thresholds as CloudWatch alarms on the tenant's
    SNS topics (TenantObservability), which carry the contacts' severities and webhooks."""
    groups = [
        {
            "orgId": 1,
            "name": f"tenant-{t.id}",
            "folder": t.id,
            "interval": "1m",
            "rules": [
                _rule(
                    t.id, "5xx", f"Service error ratio above {ERROR_RATIO:.0%}",
                    'sum(rate(istio_requests_total{reporter="destination",response_code=~"5.."}[5m])) / '
                    'sum(rate(istio_requests_total{reporter="destination"}[5m]))',
                    ERROR_RATIO, "critical",
                ),
                _rule(
                    t.id, "latency", f"Service p95 latency above {LATENCY_P95_MS} ms",
                    'histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m])))',
                    LATENCY_P95_MS, "warning",
                ),
            ],
        }
        for t in tenants
    ]  # fmt: skip
    return {"rules.yaml": {"apiVersion": 1, "groups": groups}}


def block(header: str, *items: str | list[str]) -> list[str]:
    """One Alloy block, one attribute or nested block per line (the syntax ends statements at
    newlines); `items` are attributes ("key = value") or nested blocks from `block`."""
    lines = [f"{header} {{"]
    for item in items:
        lines += [f"  {line}" for line in ([item] if isinstance(item, str) else item)]
    return [*lines, "}"]


def _q(text: str) -> str:
    return json.dumps(text)  # an Alloy string literal (same escapes as JSON)


def alloy_config(tenants: Sequence[str]) -> str:
    """Logs: the tenant is the pod's namespace when it is a tenant namespace, else `platform`.
    Metrics: one scrape and remote-write pipeline per tenant, so a tenant's series carry only its id.
    Traces: see `trace_pipeline`."""
    pattern = "|".join(tenants) or "^$"

    def rule(**attrs: str) -> list[str]:
        return block("rule", *(f"{k} = {v}" for k, v in attrs.items()))

    parts = [
        *block('discovery.kubernetes "pods"', 'role = "pod"'),
        *block(
            'discovery.relabel "pods"',
            "targets = discovery.kubernetes.pods.targets",
            rule(source_labels='["__meta_kubernetes_namespace"]', target_label='"namespace"'),
            rule(source_labels='["__meta_kubernetes_pod_name"]', target_label='"pod"'),
            rule(source_labels='["__meta_kubernetes_pod_container_name"]', target_label='"container"'),
            # A capture group: the default replacement is $1, the matched namespace.
            rule(source_labels='["__meta_kubernetes_namespace"]', regex=_q(f"({pattern})"), target_label='"tenant"'),
            rule(source_labels='["tenant"]', regex='"^$"', replacement=_q(PLATFORM_TENANT), target_label='"tenant"'),
        ),
        *block(
            'loki.source.kubernetes "pods"',
            "targets    = discovery.relabel.pods.output",
            "forward_to = [loki.process.tenant.receiver]",
        ),
        *block(
            'loki.process "tenant"',
            "forward_to = [loki.write.default.receiver]",
            block("stage.tenant", 'label = "tenant"'),
        ),
        *block(
            'loki.write "default"',
            block("endpoint", f"url = {_q(LOKI + '/loki/api/v1/push')}", f"tenant_id = {_q(PLATFORM_TENANT)}"),
        ),
    ]
    for tenant in [PLATFORM_TENANT, *tenants]:
        name = _block(tenant)
        keep = (
            rule(source_labels='["namespace"]', regex=_q(tenant), action='"keep"')
            if tenant != PLATFORM_TENANT
            else rule(source_labels='["namespace"]', regex=_q(pattern), action='"drop"')
        )
        parts += [
            *block(
                f'discovery.relabel "metrics_{name}"',
                "targets = discovery.relabel.pods.output",
                keep,
                rule(
                    source_labels='["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]',
                    regex='"true"',
                    action='"keep"',
                ),
            ),
            *block(
                f'prometheus.scrape "{name}"',
                f"targets    = discovery.relabel.metrics_{name}.output",
                f"forward_to = [prometheus.remote_write.{name}.receiver]",
            ),
            *block(
                f'prometheus.remote_write "{name}"',
                block(
                    "endpoint",
                    f"url     = {_q(MIMIR.removesuffix('/prometheus') + '/api/v1/push')}",
                    f"headers = {{ {_q(TENANT_HEADER)} = {_q(tenant)} }}",
                ),
            ),
        ]
    return "\n".join(parts + trace_pipeline(tenants)) + "\n"


def trace_pipeline(tenants: Sequence[str]) -> list[str]:
    """Traces: the tenant is the namespace of the pod that sent the span, looked up by its
    connection (k8sattributes), never what the span claims: a namespace attribute the sender set
    is deleted first. One filter and exporter per tenant, so a span reaches Tempo only under its
    own namespace's id; everything else goes under `platform`."""
    pattern = "|".join(tenants) or "^$"
    exporters = [PLATFORM_TENANT, *tenants]
    namespace = 'resource.attributes["k8s.namespace.name"]'
    strip = 'delete_key(attributes, "k8s.namespace.name")'
    parts = [
        *block(
            'otelcol.receiver.otlp "workloads"',
            block("grpc", f'endpoint = "0.0.0.0:{OTLP_GRPC_PORT}"'),
            block("output", "traces = [otelcol.processor.transform.untrusted.input]"),
        ),
        *block(
            'otelcol.processor.transform "untrusted"',
            'error_mode = "ignore"',
            block(
                "trace_statements",
                'context    = "resource"',
                f"statements = [{_q(strip)}]",
            ),
            block("output", "traces = [otelcol.processor.k8sattributes.source.input]"),
        ),
        *block(
            'otelcol.processor.k8sattributes "source"',
            block("extract", 'metadata = ["k8s.namespace.name", "k8s.pod.name", "k8s.deployment.name"]'),
            block(
                "output",
                "traces = [" + ", ".join(f"otelcol.processor.filter.traces_{_block(t)}.input" for t in exporters) + "]",
            ),
        ),
    ]
    for tenant in exporters:
        name = _block(tenant)
        drop = (
            f"{namespace} != {_q(tenant)}"
            if tenant != PLATFORM_TENANT
            else f"IsMatch({namespace}, {_q(f'^({pattern})$')})"
        )
        parts += [
            *block(
                f'otelcol.processor.filter "traces_{name}"',
                'error_mode = "ignore"',
                block("traces", f"span = [{_q(drop)}]"),
                block("output", f"traces = [otelcol.exporter.otlp.traces_{name}.input]"),
            ),
            *block(
                f'otelcol.exporter.otlp "traces_{name}"',
                block(
                    "client",
                    f"endpoint = {_q(TEMPO_OTLP)}",
                    f"headers  = {{ {_q(TENANT_HEADER)} = {_q(tenant)} }}",
                    block("tls", "insecure = true"),  # in-cluster; Tempo is not exposed
                ),
            ),
        ]
    return parts


def _block(tenant: str) -> str:
    return tenant.replace("-", "_")


class GrafanaArgs(Protocol):
    settings: StackSettings
    kms_key_arn: pulumi.Input[str]
    entry_dns_name: pulumi.Input[str]
    entry_zone_id: pulumi.Input[str]


class GrafanaParts(pulumi.ComponentResource):
    """What the platform Grafana and each tenant's views build alike (admin credential, secret
    sync, dashboards, RBAC). Child names start with OBSERVABILITY whichever stack builds them, so
    a tenant's views keep the names they had under the platform component."""

    moved: ClassVar[list[pulumi.Alias]] = []  # TenantViews: its children moved out of Observability

    def _opts(self, **options: object) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, aliases=list(self.moved), **options)  # pyright: ignore[reportArgumentType]

    def _grafana_admin(
        self,
        name: str,
        s: StackSettings,
        args: GrafanaArgs,
        store: pulumi.Resource | None,
        tags: dict[str, str],
        tenant: Tenant | None = None,
    ) -> k8s.apiextensions.CustomResource:
        """One Grafana's own admin credential: generated once into its own Secrets Manager secret,
        synced into its own Kubernetes Secret (`grafana_admin_secret`) that only its pods mount."""
        suffix = f"-{tenant.id}" if tenant else ""
        target = grafana_admin_secret(tenant)
        admin = aws.secretsmanager.Secret(
            f"{name}-grafana-admin{suffix}",
            name=f"{platform_secret_prefix(s)}{target}",
            description=f"Admin credentials of {'the tenant views of ' + tenant.id if tenant else 'the platform Grafana'}"
            " (rotate in Secrets Manager; synced by External Secrets)",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30,
            tags=tags,
            opts=self._opts(),
        )
        password = aws.secretsmanager.get_random_password_output(
            password_length=40, exclude_punctuation=True, opts=pulumi.InvokeOutputOptions(parent=self)
        ).random_password
        aws.secretsmanager.SecretVersion(
            f"{name}-grafana-admin{suffix}",
            secret_id=admin.id,
            secret_string=pulumi.Output.secret(
                password.apply(lambda p: json.dumps({"admin-user": "admin", "admin-password": p}))
            ),
            # Generated once; rotation happens in Secrets Manager, not on every deployment.
            opts=self._opts(ignore_changes=["secretString"]),
        )
        return self._synced(
            f"{name}-grafana-admin{suffix}-sync",
            target,
            admin.name,
            lambda key: {"dataFrom": [{"extract": {"key": key}}]},
            store,
        )

    def _dashboards_reader(self, name: str, namespace: k8s.core.v1.Namespace) -> k8s.rbac.v1.Role:
        """What the dashboards sidecar of every Grafana needs: ConfigMaps of this namespace. The
        chart's own role would add every Secret (cluster-wide by default), other Grafanas' admin
        credentials included, so the releases create none (`rbac.create: false`)."""
        return k8s.rbac.v1.Role(
            f"{name}-grafana-dashboards-reader",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="grafana-dashboards-reader", namespace=NAMESPACE),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["configmaps"], verbs=["get", "list", "watch"])
            ],
            opts=self._opts(depends_on=[namespace]),
        )

    def _may_read_dashboards(self, name: str, service_account: str, role: k8s.rbac.v1.Role | None) -> None:
        k8s.rbac.v1.RoleBinding(
            f"{name}-{service_account}-dashboards",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{service_account}-dashboards", namespace=NAMESPACE),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name="grafana-dashboards-reader"
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=service_account, namespace=NAMESPACE)],
            opts=self._opts(depends_on=[role] if role else []),
        )

    def _operator_sso_secret(
        self,
        name: str,
        s: StackSettings,
        args: GrafanaArgs,
        store: pulumi.Resource,
        tags: dict[str, str],
    ) -> k8s.apiextensions.CustomResource:
        """The tenant-views OAuth client secret: the platform creates the (empty) secret, the IdP's
        administrators put the client secret in it, External Secrets delivers it to Grafana."""
        secret = aws.secretsmanager.Secret(
            f"{name}-grafana-oauth",
            name=f"{platform_secret_prefix(s)}grafana-oauth",
            description=f"Client secret of OIDC client '{s.operator_sso.client_id}' (tenant views); set by the IdP admins",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=30,
            tags=tags,
            opts=self._opts(),
        )
        return self._synced(
            f"{name}-grafana-oauth-sync",
            "grafana-oauth",
            secret.name,
            lambda key: {"data": [{"secretKey": "client-secret", "remoteRef": {"key": key}}]},
            store,
        )

    def _synced(
        self,
        name: str,
        target: str,
        secret_name: pulumi.Output[str],
        data: Callable[[str], dict[str, object]],
        store: pulumi.Resource | None,
    ) -> k8s.apiextensions.CustomResource:
        """A Kubernetes Secret `target` kept in sync with a Secrets Manager secret (External Secrets)."""
        return k8s.apiextensions.CustomResource(
            name,
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=target, namespace=NAMESPACE),
            spec=secret_name.apply(
                lambda key: {
                    "refreshInterval": "1h",
                    "secretStoreRef": {"kind": "SecretStore", "name": "platform-secrets"},
                    "target": {"name": target, "creationPolicy": "Owner"},
                    **data(key),
                }
            ),
            opts=self._opts(depends_on=[store] if store else []),
        )

    def _tenant_views(
        self,
        name: str,
        s: StackSettings,
        args: GrafanaArgs,
        tenant: Tenant,
        namespace: k8s.core.v1.Namespace | str,
        secrets: Sequence[pulumi.Resource],
    ) -> None:
        """The tenant's own Grafana: only its data sources, dashboards and alerts exist there, and
        only members of its operators group get in (OIDC, no local logins). One instance per
        tenant because OSS Grafana scopes data sources to an organization, not a folder: folder
        permissions alone would still let any viewer query any data source in Explore."""
        sso, host = s.operator_sso, views_host(s, tenant)
        release(
            f"{name}-grafana-{tenant.id}",
            "grafana",
            namespace,
            {
                **grafana_identity(f"grafana-{tenant.id}"),
                "admin": {
                    "existingSecret": grafana_admin_secret(tenant),
                    "userKey": "admin-user",
                    "passwordKey": "admin-password",
                },
                "datasources": {
                    "datasources.yaml": {"apiVersion": 1, "datasources": datasources([tenant.id], platform=False)}
                },
                "alerting": grafana_alerting([tenant]),
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "resource": "configmap",  # its role reads no Secrets
                        "label": "grafana_dashboard",
                        "labelValue": tenant.id,  # only this tenant's dashboard ConfigMaps
                        "folderAnnotation": "grafana_folder",
                        "provider": {"foldersFromFilesStructure": True},
                    }
                },
                "envValueFrom": {
                    "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": {
                        "secretKeyRef": {"name": "grafana-oauth", "key": "client-secret"}
                    }
                },
                "grafana.ini": {
                    "server": {"root_url": f"https://{host}/"},
                    "auth": {"disable_login_form": True, "oauth_auto_login": True},
                    "auth.basic": {"enabled": False},
                    "auth.anonymous": {"enabled": False},
                    "users": {"allow_sign_up": False, "auto_assign_org_role": "Viewer"},
                    "auth.generic_oauth": {
                        "enabled": True,
                        "name": f"{tenant.display_name} operators",
                        "client_id": sso.client_id,
                        "scopes": "openid email profile groups",
                        "auth_url": sso.auth_url,
                        "token_url": sso.token_url,
                        "api_url": sso.api_url,
                        "use_pkce": True,
                        "allow_sign_up": True,  # first sign-in of a group member creates the user
                        "groups_attribute_path": sso.groups_claim,
                        "allowed_groups": sso.group(tenant.id),
                        "role_attribute_path": "'Viewer'",
                        "role_attribute_strict": True,
                    },
                },
                "ingress": {
                    "enabled": True,
                    "ingressClassName": INGRESS_CLASS,
                    "hosts": [host],
                    "path": "/",
                    "pathType": "Prefix",
                },
                **SYSTEM_NODES,
            },
            self,
            depends_on=list(secrets),
            release_name=f"grafana-{tenant.id}",
            aliases=self.moved,
        )
        aws.route53.Record(
            f"{name}-views-{tenant.id}",
            zone_id=s.edge.hosted_zone_id,
            name=host,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.entry_dns_name, zone_id=args.entry_zone_id, evaluate_target_health=True
                )
            ],
            opts=self._opts(),
        )

    def _dashboards(self, name: str, tenant: Tenant) -> None:
        """The tenant's folder: its services (rate, errors, latency), queues and database."""

        def panel(title: str, expr: str, uid: str) -> dict[str, object]:
            return {
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": uid},
                "targets": [{"expr": expr}],
            }

        uid = f"metrics-{tenant.id}"
        dashboard = {
            "uid": f"{tenant.id}-overview",
            "title": f"{tenant.display_name} — services, queues, database",
            "tags": [tenant.id, tenant.tier.name],
            "panels": [
                panel(
                    "Requests / s",
                    'sum by (destination_workload) (rate(istio_requests_total{reporter="destination"}[5m]))',
                    uid,
                ),
                panel(
                    "Errors (5xx) / s",
                    'sum by (destination_workload) (rate(istio_requests_total{response_code=~"5.."}[5m]))',
                    uid,
                ),
                panel(
                    "Latency p95 (ms)",
                    "histogram_quantile(0.95, sum by (le, destination_workload) (rate(istio_request_duration_milliseconds_bucket[5m])))",
                    uid,
                ),
                panel("Queue depth", "sum by (queueName) (keda_scaler_metrics_value)", uid),
                panel("Database connections", "sum(aws_rds_database_connections_average)", uid),
            ],
        }
        k8s.core.v1.ConfigMap(
            f"{name}-dashboards-{tenant.id}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"dashboards-{tenant.id}",
                namespace=NAMESPACE,
                labels={"grafana_dashboard": tenant.id, "tenant": tenant.id, "tier": tenant.tier.name},
                annotations={"grafana_folder": tenant.id},
            ),
            data={f"{tenant.id}-overview.json": json.dumps(dashboard, sort_keys=True)},
            opts=self._opts(),
        )


class Observability(GrafanaParts):
    buckets: dict[str, SecureBucket]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Observability", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "observability")
        child = pulumi.ResourceOptions(parent=self)
        tenant_ids = [t.id for t in args.tenants]
        namespace = addon_namespace(f"{name}-ns", NAMESPACE, self)

        self.buckets = {}
        roles: dict[str, ServiceAccountRole] = {}
        for store, (purposes, days) in STORES.items():
            for purpose in purposes:
                self.buckets[f"{store}-{purpose}"] = SecureBucket(
                    f"{name}-{store}-{purpose}",
                    SecureBucketArgs(
                        bucket_name=bucket_name(s, store, purpose),
                        tags={**tags, "purpose": f"{store}-{purpose}"},
                        retention_days=days,
                        kms_key_arn=args.kms_key_arn,
                    ),
                    child,
                )
            arns = [f"arn:aws:s3:::{bucket_name(s, store, p)}" for p in purposes]
            roles[store] = ServiceAccountRole(
                f"{name}-{store}",
                ServiceAccountRoleArgs(
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_provider_url=args.oidc_provider_url,
                    namespace=NAMESPACE,
                    service_account=store,
                    tags=tags,
                    policy=pulumi.Output.from_input(args.kms_key_arn).apply(
                        lambda key, arns=arns: document(
                            statement(["s3:ListBucket"], arns),
                            statement(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [f"{a}/*" for a in arns]),
                            statement(
                                ["kms:Decrypt", "kms:GenerateDataKey"],
                                [key],
                                StringEquals={"kms:ViaService": f"s3.{s.region}.amazonaws.com"},
                            ),
                        )
                    ),
                ),
                child,
            )

        def irsa(store: str) -> dict[str, object]:
            return {"create": True, "name": store, "annotations": {"eks.amazonaws.com/role-arn": roles[store].arn}}

        loki_retention = {t.id: {"retention_period": f"{t.tier.log_retention_days * 24}h"} for t in args.tenants}
        release(
            f"{name}-loki",
            "loki",
            namespace,
            {
                # SimpleScalable is deprecated (removed in Loki 4, chart values.yaml); microservices
                # with the simple-scalable and single-binary targets scaled to zero.
                "deploymentMode": "Distributed",
                **{target: {"replicas": n} for target, n in LOKI_REPLICAS.items()},
                "loki": {
                    "auth_enabled": True,
                    "schemaConfig": {
                        "configs": [
                            {
                                "from": "2026-01-01",
                                "store": "tsdb",
                                "object_store": "s3",
                                "schema": "v13",
                                "index": {"prefix": "loki_index_", "period": "24h"},
                            }
                        ]
                    },
                    "storage": {
                        "type": "s3",
                        "bucketNames": {p: bucket_name(s, "loki", p) for p in STORES["loki"][0]},
                        "s3": {"region": s.region},
                    },
                    "limits_config": {"retention_period": "2160h"},  # 90 days unless the tier says more
                    "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
                    "runtimeConfig": {"overrides": loki_retention},
                },
                "serviceAccount": irsa("loki"),
                "minio": {"enabled": False},
            },
            self,
        )
        release(
            f"{name}-tempo",
            "tempo",
            namespace,
            {
                "multitenancyEnabled": True,
                "traces": {"otlp": {"grpc": {"enabled": True}}},  # the distributor's OTLP receiver for Alloy
                "storage": {
                    "trace": {
                        "backend": "s3",
                        "s3": {
                            "bucket": bucket_name(s, "tempo", "traces"),
                            "endpoint": f"s3.{s.region}.amazonaws.com",
                            "region": s.region,
                        },
                    }
                },
                "serviceAccount": irsa("tempo"),
            },
            self,
        )
        release(
            f"{name}-mimir",
            "mimir",
            namespace,
            {
                "minio": {"enabled": False},
                "kafka": {"enabled": False},  # the classic (non-Kafka) architecture
                "serviceAccount": irsa("mimir"),
                "mimir": {
                    "structuredConfig": {
                        "multitenancy_enabled": True,
                        "ingest_storage": {"enabled": False},
                        "common": {
                            "storage": {
                                "backend": "s3",
                                "s3": {"endpoint": f"s3.{s.region}.amazonaws.com", "region": s.region},
                            }
                        },
                        "blocks_storage": {"s3": {"bucket_name": bucket_name(s, "mimir", "blocks")}},
                        "alertmanager_storage": {"s3": {"bucket_name": bucket_name(s, "mimir", "alertmanager")}},
                        "ruler_storage": {"s3": {"bucket_name": bucket_name(s, "mimir", "ruler")}},
                    }
                },
            },
            self,
        )

        store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="platform-secrets", namespace=NAMESPACE),
            spec={"provider": {"aws": {"service": "SecretsManager", "region": s.region}}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.depends_on]),
        )
        admin_secret = self._grafana_admin(name, s, args, store, tags)
        dashboards_reader = self._dashboards_reader(name, namespace)
        release(
            f"{name}-grafana",
            "grafana",
            namespace,
            {
                **grafana_identity("grafana"),
                "admin": {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"},
                "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": datasources(tenant_ids)}},
                "alerting": grafana_alerting(args.tenants),
                "sidecar": {
                    "dashboards": {
                        "enabled": True,
                        "resource": "configmap",  # its role reads no Secrets
                        "label": "grafana_dashboard",
                        "folderAnnotation": "grafana_folder",
                        "provider": {"foldersFromFilesStructure": True},
                    }
                },
                "grafana.ini": {"auth.anonymous": {"enabled": False}, "users": {"allow_sign_up": False}},
                **SYSTEM_NODES,
            },
            self,
            depends_on=[admin_secret, dashboards_reader],
        )
        self._may_read_dashboards(name, "grafana", dashboards_reader)
        release(
            f"{name}-alloy",
            "alloy",
            namespace,
            {
                "controller": {"type": "daemonset"},
                "alloy": {
                    "configMap": {"content": alloy_config(tenant_ids)},
                    "extraPorts": [
                        {"name": "otlp-grpc", "port": OTLP_GRPC_PORT, "targetPort": OTLP_GRPC_PORT, "protocol": "TCP"}
                    ],
                },
            },
            self,
        )
        self._operator_sso_secret(name, s, args, store, tags)  # tenant views (TenantViews) mount it
        self.register_outputs(
            {
                "namespace": NAMESPACE,
                "tenants": tenant_ids,
                "views": [views_host(s, t) for t in args.tenants] if s.operator_sso.client_secret_stored else [],
            }
        )
