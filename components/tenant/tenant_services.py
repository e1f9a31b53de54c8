"""A tenant's carrier and policy microservices: hardened Deployments (API and queue worker each),
Service, HPA (API, CPU) and KEDA scaling (worker, CPU plus queue depth) within the tier's bounds,
VPA recommendations, PDB from the tier, an Ingress on the tenant's host names, premium pods on the
tenant's dedicated nodes, and a schema-migration Job that must succeed before the services roll.

The aggregator (scatter-gather) is the tenant's API path (`/api`): it fans a client request out to
the carrier and policy APIs of its own namespace with per-call timeouts from the tier, forwards the
caller's token so each service enforces the tenant itself, answers with partial results flagged as
partial when a call fails or times out, and caches answers in Redis as the tenant's own user under
the tenant's key prefix. Hardened, scaled and budgeted like the APIs; TenantNamespace fences it in."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from catalog.model import Image
from components.platform.cache import REDIS_PORT, TenantCacheAccess
from components.platform.secrets_delivery import TENANT_STORE, TENANT_STORE_ACCOUNT, tenant_store_spec
from components.shared.tags import tenant_labels
from components.tenant.tenant_namespace import AGGREGATED, AGGREGATOR, APP_PORT, COMPONENT_LABEL, NAME_LABEL
from components.tenant.tenant_permissions import database_schema, database_user

SERVICES = ("carrier", "policy")
INGRESS_CLASS = "nginx"
RUN_AS = 10001
QUEUE_DEPTH_PER_REPLICA = "20"
CPU_TARGET = 70
API_PATH = "/api"  # the tenant's client API: the aggregator; /carrier and /policy stay direct
# The public API's requests reach the router on the platform's API host with the tenant in the path
# (`/tenants/<tenant>/...`, set by API Gateway from its authorizer's answer, never by the client):
# the platform's master Ingress owns the host, each tenant's minion claims only its own prefix.
MERGEABLE_TYPE = "nginx.org/mergeable-ingress-type"
API_DISPATCH_PREFIX = "/tenants"


def api_dispatch_path(tenant_id: str) -> str:
    """The tenant's prefix on the API host: what its minion claims and API Gateway prepends."""
    return f"{API_DISPATCH_PREFIX}/{tenant_id}/"


CACHE_TTL_SECONDS = 30


def pinned_ref(image: Image, parent: pulumi.Resource) -> pulumi.Output[str]:
    """`<repository>@sha256:...` for the image's tag, looked up in its registry at deploy time: the
    pods run exactly the image the tag named then, even if the tag is later moved. The read goes to
    the registry's own region (pulumi-aws v7 `region` argument, through the stack's provider, which
    the parent passes down); every stack file keeps its registry in its own region today."""
    found = aws.ecr.get_image_output(
        repository_name=image.name,
        image_tag=image.tag,
        registry_id=image.registry_account,
        region=image.registry_region,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    return found.image_digest.apply(lambda digest: f"{image.repository}@{digest}")


def cache_environment(cache: TenantCacheAccess) -> dict[str, pulumi.Input[str]]:
    """The tenant's own cache user (an IAM token signed for the replication group and this user
    replaces a password) and the key prefix every key it uses must start with."""
    return {
        "REDIS_HOST": cache.host,
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_TLS": "true",
        "REDIS_AUTH": "iam",
        "REDIS_USER": cache.user_name,
        "REDIS_REPLICATION_GROUP_ID": cache.replication_group_id,
        "REDIS_KEY_PREFIX": cache.key_prefix,
    }


def aggregator_environment(tenant: Tenant, cache: TenantCacheAccess) -> dict[str, str]:
    """The aggregator's fan-out: the two APIs of its own namespace (full names, so a search path
    never resolves another namespace's service), timeouts from the tier, partial answers flagged,
    the caller's Authorization header forwarded, cache keys under the tenant's prefix and per
    caller (a tenant's users may see different answers)."""
    tier = tenant.tier
    return {
        **{f"{api.upper()}_API_URL": f"http://{api}-api.{tenant.namespace}.svc.cluster.local" for api in AGGREGATED},
        "FANOUT_CALL_TIMEOUT_MS": str(tier.fanout_call_timeout_ms),
        "FANOUT_DEADLINE_MS": str(tier.fanout_deadline_ms),
        "PARTIAL_RESULTS": "flagged",
        "FORWARD_AUTHORIZATION": "true",
        "CACHE_KEY_PREFIX": f"{cache.key_prefix}{AGGREGATOR}:",
        "CACHE_KEY_SCOPE": "request-principal",
        "CACHE_TTL_SECONDS": str(CACHE_TTL_SECONDS),
    }


def doubled(quantity: str) -> str:
    number, unit = re.fullmatch(r"(\d+)(\D*)", quantity).groups()  # type: ignore[union-attr]
    return f"{int(number) * 2}{unit}"


@dataclass
class TenantServicesArgs:
    settings: StackSettings
    tenant: Tenant
    namespace: pulumi.Input[str]
    workload_role_arns: Mapping[str, pulumi.Input[str]]  # by service
    runtime_config: Mapping[str, pulumi.Input[str]]  # non-secret settings, as a ConfigMap
    queue_urls: Mapping[str, pulumi.Input[str]]
    secrets_role_arn: pulumi.Input[str]  # the tenant's SecretStore reads as this role (auth.jwt)
    database: bool  # a database is reachable here: the schema migrations run before the rollout
    cache: TenantCacheAccess
    database_users: Sequence[pulumi.Resource] = ()  # the users exist before the migrations log in
    depends_on: Sequence[pulumi.Resource] = ()  # namespace policies and platform add-ons (CRDs)


class TenantServices(pulumi.ComponentResource):
    deployments: dict[str, k8s.apps.v1.Deployment]
    migration: k8s.batch.v1.Job | None

    def __init__(self, name: str, args: TenantServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantServices", name, None, opts)
        s, t = args.settings, args.tenant
        self._labels = tenant_labels(s, t)
        self._namespace = args.namespace
        self._tenant = t
        self._pinned: dict[Image, pulumi.Output[str]] = {}
        after = list(args.depends_on)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)

        self._secret_store(name, s, args.secrets_role_arn, child)
        for workload in (*SERVICES, AGGREGATOR, "migrations"):
            role = args.workload_role_arns.get(workload)
            k8s.core.v1.ServiceAccount(
                f"{name}-{workload}-sa",
                metadata=self._meta(workload, annotations={"eks.amazonaws.com/role-arn": role} if role else None),
                automount_service_account_token=False,
                opts=child,
            )
        config = k8s.core.v1.ConfigMap(
            f"{name}-runtime",
            metadata=self._meta("tenant-runtime"),
            data={**args.runtime_config, **cache_environment(args.cache)},
            opts=child,
        )

        self.migration = None
        gate: list[pulumi.Resource] = [config]
        if args.database:
            after_users = pulumi.ResourceOptions(parent=self, depends_on=[*after, *args.database_users])
            self.migration = self._migration(name, s, config, after_users)
            gate.append(self.migration)

        self.deployments = {}
        tier = t.tier
        for service in SERVICES:
            image: Image = getattr(s.images, service)
            rollout = pulumi.ResourceOptions(parent=self, depends_on=[*after, *gate])
            api = self._deployment(
                f"{name}-{service}-api", f"{service}-api", service, "api", image, [], tier.hpa_min, rollout
            )
            worker = self._deployment(
                f"{name}-{service}-worker",
                f"{service}-worker",
                service,
                "worker",
                image,
                ["worker"],
                tier.hpa_min,
                rollout,
            )
            self.deployments[f"{service}-api"], self.deployments[f"{service}-worker"] = api, worker
            k8s.core.v1.Service(
                f"{name}-{service}",
                metadata=self._meta(f"{service}-api"),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    selector=self._selector(service, "api"),
                    ports=[
                        k8s.core.v1.ServicePortArgs(name="http", port=80, target_port=APP_PORT, app_protocol="http")
                    ],
                ),
                opts=child,
            )
            self._cpu_autoscaler(f"{name}-{service}-api", f"{service}-api", api)
            self._queue_scaling(name, s, service, args.queue_urls[service], worker)
            for component, deployment in (("api", api), ("worker", worker)):
                self._recommendations_and_budget(
                    f"{name}-{service}-{component}", f"{service}-{component}", service, component, deployment, child
                )
        self._aggregator(name, s, args.cache, pulumi.ResourceOptions(parent=self, depends_on=[*after, *gate]), child)
        self._ingress(name, s, child)
        self.register_outputs({"deployments": list(self.deployments)})

    # ---------------------------------------------------------------------------------- pieces

    def _aggregator(
        self,
        name: str,
        s: StackSettings,
        cache: TenantCacheAccess,
        rollout: pulumi.ResourceOptions,
        child: pulumi.ResourceOptions,
    ) -> None:
        """Scatter-gather in front of the carrier and policy APIs: an API like theirs (router
        ingress, probes, hardening, tier resources and scaling) without a database user."""
        t = self._tenant
        env = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in aggregator_environment(t, cache).items()]
        deployment = self._deployment(
            f"{name}-{AGGREGATOR}",
            AGGREGATOR,
            AGGREGATOR,
            "api",
            s.images.aggregator,
            [],
            t.tier.hpa_min,
            rollout,
            env=env,
            database=False,
        )
        self.deployments[AGGREGATOR] = deployment
        k8s.core.v1.Service(
            f"{name}-{AGGREGATOR}",
            metadata=self._meta(AGGREGATOR),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=self._selector(AGGREGATOR, "api"),
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port=APP_PORT, app_protocol="http")],
            ),
            opts=child,
        )
        self._cpu_autoscaler(f"{name}-{AGGREGATOR}", AGGREGATOR, deployment)
        self._recommendations_and_budget(f"{name}-{AGGREGATOR}", AGGREGATOR, AGGREGATOR, "api", deployment, child)

    def _cpu_autoscaler(self, name: str, target: str, deployment: k8s.apps.v1.Deployment) -> None:
        tier = self._tenant.tier
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata=self._meta(target),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=target
                ),
                min_replicas=tier.hpa_min,
                max_replicas=tier.hpa_max,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=CPU_TARGET
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )

    def _recommendations_and_budget(
        self,
        name: str,
        target: str,
        service: str,
        component: str,
        deployment: k8s.apps.v1.Deployment,
        child: pulumi.ResourceOptions,
    ) -> None:
        """VPA recommendations (never applied: the HPA scales on CPU) and the tier's PDB."""
        tier = self._tenant.tier
        self._custom(
            f"{name}-vpa",
            "autoscaling.k8s.io/v1",
            "VerticalPodAutoscaler",
            target,
            {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "updatePolicy": {"updateMode": "Off"},  # recommendations only
            },
            [deployment],
        )
        if tier.pdb_min_available is not None:
            k8s.policy.v1.PodDisruptionBudget(
                name,
                metadata=self._meta(target),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    min_available=tier.pdb_min_available,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector(service, component)),
                ),
                opts=child,
            )

    def _meta(
        self, name: str, labels: Mapping[str, str] | None = None, annotations: Mapping[str, Any] | None = None
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=self._namespace, labels={**self._labels, **(labels or {})}, annotations=annotations
        )

    def _image(self, image: Image) -> pulumi.Output[str]:
        if image not in self._pinned:
            self._pinned[image] = pinned_ref(image, self)
        return self._pinned[image]

    def _selector(self, service: str, component: str) -> dict[str, str]:
        return {NAME_LABEL: service, COMPONENT_LABEL: component}

    def _custom(
        self, name: str, api_version: str, kind: str, object_name: str, spec: Any, after: Sequence[pulumi.Resource]
    ) -> None:
        k8s.apiextensions.CustomResource(
            name,
            api_version=api_version,
            kind=kind,
            metadata=self._meta(object_name),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )

    def _pod(
        self,
        service_account: str,
        containers: list[k8s.core.v1.ContainerArgs],
        restart: str | None = None,
    ) -> k8s.core.v1.PodSpecArgs:
        t = self._tenant
        dedicated = t.tier.placement == "dedicated"
        return k8s.core.v1.PodSpecArgs(
            service_account_name=service_account,
            automount_service_account_token=False,  # IRSA mounts its own projected token
            enable_service_links=False,
            restart_policy=restart,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=RUN_AS,
                run_as_group=RUN_AS,
                fs_group=RUN_AS,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            node_selector={"node-pool": "dedicated", "tenant": t.id} if dedicated else {"node-pool": "shared"},
            tolerations=[k8s.core.v1.TolerationArgs(key="tenant", operator="Equal", value=t.id, effect="NoSchedule")]
            if dedicated
            else None,
            containers=containers,
            volumes=[
                k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi"))
            ],
        )

    def _container(
        self,
        name: str,
        image: Image,
        args: list[str],
        probes: bool = True,
        database_user: str | None = None,
        env: Sequence[k8s.core.v1.EnvVarArgs] = (),
    ) -> k8s.core.v1.ContainerArgs:
        tier = self._tenant.tier

        def probe(path: str) -> k8s.core.v1.ProbeArgs:
            return k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=APP_PORT), period_seconds=10, failure_threshold=3
            )

        return k8s.core.v1.ContainerArgs(
            name=name,
            image=self._image(image),
            args=args or None,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=APP_PORT)] if probes else None,
            env_from=[
                k8s.core.v1.EnvFromSourceArgs(config_map_ref=k8s.core.v1.ConfigMapEnvSourceArgs(name="tenant-runtime"))
            ],
            # Each workload logs in as its own user with an RDS IAM token (rds-db:connect of its role).
            env=[
                *(
                    [
                        k8s.core.v1.EnvVarArgs(name="DATABASE_USER", value=database_user),
                        k8s.core.v1.EnvVarArgs(name="DATABASE_NAME", value=database_schema(self._tenant)),
                        k8s.core.v1.EnvVarArgs(name="DATABASE_AUTH", value="iam"),
                    ]
                    if database_user
                    else []
                ),
                *env,
            ]
            or None,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": tier.service_cpu, "memory": tier.service_memory},
                limits={"cpu": doubled(tier.service_cpu), "memory": doubled(tier.service_memory)},
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                privileged=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            liveness_probe=probe("/healthz") if probes else None,
            readiness_probe=probe("/ready") if probes else None,
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
        )

    def _deployment(
        self,
        name: str,
        object_name: str,
        service: str,
        component: str,
        image: Image,
        args: list[str],
        replicas: int,
        opts: pulumi.ResourceOptions,
        env: Sequence[k8s.core.v1.EnvVarArgs] = (),
        database: bool = True,
    ) -> k8s.apps.v1.Deployment:
        labels = {**self._labels, **self._selector(service, component)}
        user = database_user(self._tenant, service) if database else None
        pod = self._pod(service, [self._container(service, image, args, database_user=user, env=env)])
        pod.topology_spread_constraints = [
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector(service, component)),
            )
        ]
        return k8s.apps.v1.Deployment(
            name,
            metadata=self._meta(object_name, labels=self._selector(service, component)),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector(service, component)),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=pod,
                ),
            ),
            # The autoscalers own the replica count after creation.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["spec.replicas"])),
        )

    def _queue_scaling(
        self, name: str, s: StackSettings, service: str, queue_url: pulumi.Input[str], worker: k8s.apps.v1.Deployment
    ) -> None:
        tier = self._tenant.tier
        self._custom(
            f"{name}-{service}-queue-auth",
            "keda.sh/v1alpha1",
            "TriggerAuthentication",
            f"{service}-queue",
            {"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
            [],
        )
        self._custom(
            f"{name}-{service}-worker-scaling",
            "keda.sh/v1alpha1",
            "ScaledObject",
            f"{service}-worker",
            pulumi.Output.from_input(queue_url).apply(
                lambda url: {
                    "scaleTargetRef": {"name": f"{service}-worker"},
                    "minReplicaCount": tier.hpa_min,
                    "maxReplicaCount": tier.hpa_max,
                    "triggers": [
                        {
                            "type": "aws-sqs-queue",
                            "authenticationRef": {"name": f"{service}-queue"},
                            "metadata": {
                                "queueURL": url,
                                "queueLength": QUEUE_DEPTH_PER_REPLICA,
                                "awsRegion": s.region,
                            },
                        },
                        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(CPU_TARGET)}},
                    ],
                }
            ),
            [worker],
        )

    def _secret_store(
        self, name: str, s: StackSettings, secrets_role_arn: pulumi.Input[str], child: pulumi.ResourceOptions
    ) -> None:
        """The tenant's SecretStore, bound to its own namespace: the operator authenticates as the
        store's service account here (auth.jwt), the only identity the reader role trusts."""
        k8s.core.v1.ServiceAccount(
            f"{name}-secrets-sa",
            metadata=self._meta(TENANT_STORE_ACCOUNT, annotations={"eks.amazonaws.com/role-arn": secrets_role_arn}),
            automount_service_account_token=False,
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-secret-store",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata=self._meta(TENANT_STORE),
            spec=tenant_store_spec(s.region),
            opts=child,
        )

    def _migration(
        self, name: str, s: StackSettings, config: pulumi.Resource, opts: pulumi.ResourceOptions
    ) -> k8s.batch.v1.Job:
        t = self._tenant
        container = self._container(
            "migrate", s.images.migrations, ["migrate"], probes=False, database_user=database_user(t, "migrations")
        )
        pod = self._pod("migrations", [container], restart="Never")
        return k8s.batch.v1.Job(
            f"{name}-migrate",
            metadata=self._meta("schema-migrate", labels={"app.kubernetes.io/name": "schema-migrations"}),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=2,
                active_deadline_seconds=1800,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # A sidecar would keep the Job running after the migration finished.
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**self._labels, "app.kubernetes.io/name": "schema-migrations"},
                        annotations={"sidecar.istio.io/inject": "false"},
                    ),
                    spec=pod,
                ),
            ),
            # A new image replaces the Job (its template is immutable), which runs it again.
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(delete_before_replace=True, depends_on=[config])
            ),
        )

    def _ingress(self, name: str, s: StackSettings, child: pulumi.ResourceOptions) -> None:
        t = self._tenant
        # /carrier and /policy reach each API as before; the API path goes to the aggregator.
        routes = [*((f"/{service}", f"{service}-api") for service in SERVICES), (API_PATH, AGGREGATOR)]
        paths = [
            k8s.networking.v1.HTTPIngressPathArgs(
                path=path,
                path_type="Prefix",
                backend=k8s.networking.v1.IngressBackendArgs(
                    service=k8s.networking.v1.IngressServiceBackendArgs(
                        name=backend, port=k8s.networking.v1.ServiceBackendPortArgs(name="http")
                    )
                ),
            )
            for path, backend in routes
        ]
        # The tenant's front-end reaches this region by its origin name (CloudFront sends it as Host).
        hosts = [t.domain, f"{t.id}.{s.edge.domain}", s.edge.tenant_origin_host(t.id, s.region)]
        k8s.networking.v1.Ingress(
            f"{name}-routes",
            metadata=self._meta(
                "tenant-routes", annotations={"nginx.org/redirect-to-https": "true", "nginx.org/hsts": "true"}
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=INGRESS_CLASS,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=host, http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=paths)
                    )
                    for host in hosts
                ],
            ),
            opts=child,
        )
        self._api_route(name, s, child)

    def _api_route(self, name: str, s: StackSettings, child: pulumi.ResourceOptions) -> None:
        """The public API's requests for this tenant: a minion of the platform's master on the API
        host (F5 NGINX Ingress Controller mergeable Ingresses may sit in other namespaces than their
        master). It claims only `/tenants/<id>/` and rewrites it to the aggregator's own `/api/`;
        TLS, redirect and HSTS are the master's (minions may not carry them)."""
        t = self._tenant
        k8s.networking.v1.Ingress(
            f"{name}-api-route",
            metadata=self._meta(
                "public-api-route",
                annotations={
                    MERGEABLE_TYPE: "minion",
                    "nginx.org/rewrites": f"serviceName={AGGREGATOR} rewrite={API_PATH}/",
                },
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=INGRESS_CLASS,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=s.edge.api_host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path=api_dispatch_path(t.id),
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=AGGREGATOR, port=k8s.networking.v1.ServiceBackendPortArgs(name="http")
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=child,
        )
