"""Everything one tenant gets in a region (built by its tenant stack), composed from smaller components and driven by
its catalog file and tier. Data (database, document bucket, DynamoDB table, user directory, budget) lives only in
the tenant's home region; every region that serves the tenant runs its services, queues and topics."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from components.platform.cache import TenantCacheAccess
from components.platform.observability import COLLECTOR_OTLP
from components.platform.secrets_delivery import DATABASE_USERS_NAMESPACE, provisioner_account
from components.recovery.tenant_backup import TenantBackup, TenantBackupArgs
from components.shared.contract import PlatformContract
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs
from components.shared.tags import tenant_tags
from components.shared.warehouse import (
    Warehouse,
    WarehouseArgs,
    WarehouseLoadRole,
    WarehouseLoadRoleArgs,
    load_role_name,
    namespace_name,
)
from components.tenant.database_users import DatabaseUsers, DatabaseUsersArgs
from components.tenant.tenant_api import TenantApiAccess, TenantApiAccessArgs
from components.tenant.tenant_database import TenantDatabase, TenantDatabaseArgs
from components.tenant.tenant_identity import TenantIdentity, TenantIdentityArgs, operators_group
from components.tenant.tenant_key import TenantKey, TenantKeyArgs
from components.tenant.tenant_messaging import TenantMessaging, TenantMessagingArgs
from components.tenant.tenant_namespace import AGGREGATOR, TenantNamespace, TenantNamespaceArgs
from components.tenant.tenant_observability import TenantObservability, TenantObservabilityArgs
from components.tenant.tenant_permissions import TenantPermissions, TenantPermissionsArgs
from components.tenant.tenant_processors import SERVICES as PROCESSED_SERVICES
from components.tenant.tenant_processors import (
    TenantProcessors,
    TenantProcessorsArgs,
    processor_name,
    processor_role_names,
)
from components.tenant.tenant_services import TenantServices, TenantServicesArgs
from components.tenant.tenant_stream import (
    TenantStream,
    TenantStreamArgs,
    delivery_role_name,
    delivery_stream_name,
    events_stream_name,
)
from components.tenant.tenant_table import TenantTable, TenantTableArgs, table_name


def documents_bucket(settings: StackSettings, tenant: TenantConfig) -> str:
    """Deterministic: every region that serves the tenant can name its home-region bucket."""
    return f"{settings.name_prefix}-{tenant.home_region}-{tenant.id}-data"


@dataclass
class TenantArgs:
    settings: StackSettings
    tenant: TenantConfig
    account_id: pulumi.Input[str]
    platform: PlatformContract  # what the region's platform stack provides (its stack outputs)
    pod_security_group_id: pulumi.Input[str]  # the tenant's own pods (TenantSharedServices)
    cache: TenantCacheAccess  # the tenant's own user on the regional Redis
    promoted_database: aws.rds.Instance | None = None  # after a regional failover (TenantRecovery)


class Tenant(pulumi.ComponentResource):
    namespace: TenantNamespace
    identity: TenantIdentity
    key: TenantKey
    messaging: TenantMessaging
    database: TenantDatabase | None
    bucket: SecureBucket | None
    table: TenantTable | None
    stream: TenantStream | None
    warehouse: Warehouse | None  # premium only: pooled tiers load into the region's pool
    services: TenantServices
    processors: TenantProcessors
    api: TenantApiAccess | None

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Tenant", name, None, opts)
        s, t, platform = args.settings, args.tenant, args.platform
        home = s.region == t.home_region
        child = pulumi.ResourceOptions(parent=self)

        self.identity = TenantIdentity(
            f"{name}-identity",
            TenantIdentityArgs(
                settings=s,
                tenant=t,
                account_id=args.account_id,
                cluster_name=platform.cluster_name,
                oidc_provider_arn=platform.oidc_provider_arn,
                oidc_provider_url=platform.oidc_provider_url,
                namespace=t.namespace,
                home=home,
            ),
            child,
        )
        self.namespace = TenantNamespace(
            f"{name}-ns",
            TenantNamespaceArgs(
                settings=s,
                tenant=t,
                operators_group=operators_group(t.id),
                jwt_issuer=self.identity.issuer,
                pod_security_group_ids=[args.pod_security_group_id, platform.shared_pod_security_group_id],
            ),
            child,
        )
        roles = {w: r.role for w, r in self.identity.workload_roles.items()}
        # Home region: the only reader of the database master credential, from the platform
        # namespace (DatabaseUsers grants the secret); the tenant key lets it decrypt through
        # Secrets Manager. Created before the key, whose policy names it.
        provisioner = (
            ServiceAccountRole(
                f"{name}-db-provisioner",
                ServiceAccountRoleArgs(
                    oidc_provider_arn=platform.oidc_provider_arn,
                    oidc_provider_url=platform.oidc_provider_url,
                    namespace=DATABASE_USERS_NAMESPACE,
                    service_account=provisioner_account(t),
                    tags=tenant_tags(s, t),
                    role_name=f"{s.regional_prefix}-{t.id}-db-users",
                ),
                child,
            ).role
            if home
            else None
        )
        key_users = {w: r.arn for w, r in roles.items()} | ({"db-users": provisioner.arn} if provisioner else {})
        self.key = TenantKey(
            f"{name}-key",
            TenantKeyArgs(
                settings=s,
                tenant=t,
                account_id=args.account_id,
                workload_role_arns=key_users,
                secrets_role_arn=self.identity.secrets_role.arn,
                backup_role_arn=platform.backup_role_arn if home else None,
                processor_role_names=processor_role_names(s, t),
                event_delivery_role_name=delivery_role_name(s, t) if home else None,
                warehouse_load_role_name=load_role_name(s, t) if home else None,
            ),
            child,
        )
        self.messaging = TenantMessaging(
            f"{name}-messaging",
            TenantMessagingArgs(
                settings=s,
                tenant=t,
                kms_key_arn=self.key.arn,
                workload_role_arns=[r.arn for r in roles.values()],
                processor_role_arns={
                    svc: pulumi.Output.concat("arn:aws:iam::", args.account_id, ":role/", processor_name(s, t, svc))
                    for svc in PROCESSED_SERVICES
                },
            ),
            child,
        )

        self.database = None
        self.bucket = None
        self.table = None
        self.stream = None
        self.warehouse = None
        bucket_name = documents_bucket(s, t)
        if home:
            self.database = TenantDatabase(
                f"{name}-db",
                TenantDatabaseArgs(
                    settings=s,
                    tenant=t,
                    vpc_id=platform.vpc_id,
                    client_security_group_id=args.pod_security_group_id,
                    kms_key_arn=self.key.arn,
                    subnet_group_name=platform.db_subnet_group_name,
                    parameter_group_name=platform.db_parameter_group_name,
                    option_group_name=platform.db_option_group_name,
                    monitoring_role_arn=platform.db_monitoring_role_arn,
                ),
                child,
            )
            self.bucket = SecureBucket(
                f"{name}-documents",
                SecureBucketArgs(
                    bucket_name=bucket_name,
                    tags=tenant_tags(s, t),
                    retention_days=t.tier.document_retention_days,
                    kms_key_arn=self.key.arn,
                ),
                child,
            )
            self.table = TenantTable(
                f"{name}-table", TenantTableArgs(settings=s, tenant=t, kms_key_arn=self.key.arn), child
            )
            self.stream = TenantStream(
                f"{name}-stream",
                TenantStreamArgs(settings=s, tenant=t, account_id=args.account_id, kms_key_arn=self.key.arn),
                child,
            )
            self._budget(name, s, t)
            backup = TenantBackup(
                f"{name}-backup",
                TenantBackupArgs(
                    settings=s,
                    tenant=t,
                    account_id=args.account_id,
                    backup_role_arn=platform.backup_role_arn,
                    database_arn=self.database.instance.arn,
                    bucket=self.bucket.bucket,
                    kms_key_arn=self.key.arn,
                    table_arn=self.table.table.arn,
                ),
                child,
            )
            self._warehouse(name, s, t, args, backup)

        db = self.database.instance if self.database else args.promoted_database
        TenantPermissions(
            f"{name}-permissions",
            TenantPermissionsArgs(
                settings=s,
                tenant=t,
                account_id=args.account_id,
                workload_roles=roles,
                secrets_role=self.identity.secrets_role,
                queue_arns={svc: q.arn for svc, q in self.messaging.queues.items()},
                topic_arns={svc: topic.arn for svc, topic in self.messaging.topics.items()},
                bucket_arn=f"arn:aws:s3:::{bucket_name}",
                database_resource_id=db.resource_id if db else None,
                cache=args.cache,
                table_arn=self.table.table.arn if self.table else None,
                aggregator_role=self.identity.aggregator_role.role,
                event_stream_arn=self.stream.stream.arn if self.stream else None,
            ),
            child,
        )
        users = (
            DatabaseUsers(
                f"{name}-db-users",
                DatabaseUsersArgs(
                    settings=s,
                    tenant=t,
                    account_id=args.account_id,
                    oidc_provider_arn=platform.oidc_provider_arn,
                    oidc_provider_url=platform.oidc_provider_url,
                    database_resource_id=db.resource_id,
                    master_secret_arn=self.database.master_secret_arn if self.database else None,
                    provisioner_role=provisioner,
                    pod_security_group_ids=[args.pod_security_group_id, platform.shared_pod_security_group_id],
                ),
                child,
            )
            if db
            else None
        )

        runtime: dict[str, pulumi.Input[str]] = {
            "TENANT_ID": t.id,
            "TENANT_TIER": t.tier.name,
            "AWS_REGION": s.region,
            "HOME_REGION": t.home_region,
            "DOCUMENTS_BUCKET": bucket_name,
            # The event stream lives in the home region only (empty elsewhere, like DATABASE_HOST).
            "EVENTS_STREAM_NAME": self.stream.stream.name if self.stream else "",
            "PII_KEY_ARN": self.key.pii_key.arn if self.key.pii_key else "",
            # In regions other than home, the database is wired to the home primary by DR (issue 6).
            "DATABASE_HOST": db.address if db else "",  # empty: the home-region primary (see DR)
            "DATABASE_PORT": "3306",
            "DATABASE_TLS": "required",
            # Home region: the tenant's DynamoDB table (TenantTable); elsewhere none.
            "TABLE_NAME": self.table.table.name if self.table else "",
            # Traces go to the collector, which files them under this namespace's tenant id.
            "OTEL_EXPORTER_OTLP_ENDPOINT": COLLECTOR_OTLP,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_RESOURCE_ATTRIBUTES": f"tenant.id={t.id},deployment.environment={s.environment}",
        }
        for svc in self.messaging.queues:
            runtime[f"{svc.upper()}_JOBS_QUEUE_URL"] = self.messaging.queues[svc].url
            runtime[f"{svc.upper()}_UPDATES_TOPIC_ARN"] = self.messaging.topics[svc].arn
        if self.identity.issuer is not None:
            runtime["OIDC_ISSUER"] = self.identity.issuer
        self.services = TenantServices(
            f"{name}-services",
            TenantServicesArgs(
                settings=s,
                tenant=t,
                namespace=self.namespace.namespace_name,
                workload_role_arns={w: r.arn for w, r in roles.items()}
                | {AGGREGATOR: self.identity.aggregator_role.arn}
                | ({"migrations": users.migrations_role.arn} if users else {}),
                runtime_config=runtime,
                queue_urls={svc: q.url for svc, q in self.messaging.queues.items()},
                secrets_role_arn=self.identity.secrets_role.arn,
                database=db is not None,
                database_users=[users.job] if users and users.job else [],
                cache=args.cache,
                depends_on=[self.namespace],
            ),
            child,
        )
        replica = self.database.replica if self.database else None
        observability = TenantObservability(
            f"{name}-observability",
            TenantObservabilityArgs(
                settings=s,
                tenant=t,
                account_id=args.account_id,
                kms_key_arn=self.key.arn,
                database_identifier=db.identifier if db else None,
                replica_identifier=replica.identifier if replica else None,
                queue_names={svc: q.name for svc, q in self.messaging.queues.items()},
                dead_letter_queue_names={svc: q.name for svc, q in self.messaging.dead_letter_queues.items()},
                table_name=table_name(s, t) if self.table else None,
                stream_name=events_stream_name(s, t) if self.stream else None,
                delivery_stream_name=delivery_stream_name(s, t) if self.stream else None,
            ),
            child,
        )
        # Lambda processors of the job queues, wherever the queues are (every serving region).
        self.processors = TenantProcessors(
            f"{name}-processors",
            TenantProcessorsArgs(
                settings=s,
                tenant=t,
                account_id=args.account_id,
                kms_key_arn=self.key.arn,
                queues=self.messaging.queues,
                vpc_id=platform.vpc_id,
                subnet_ids=platform.private_subnet_ids,
                endpoints_security_group_id=platform.endpoints_security_group_id,
                alert_topic_arns={severity: topic.arn for severity, topic in observability.topics.items()},
            ),
            child,
        )
        health = self._latency_record(name, s, t, args)
        # Its own key on the region's public API, once its issuer is known here.
        self.api = None
        if self.identity.issuer is not None:
            self.api = TenantApiAccess(
                f"{name}-api",
                TenantApiAccessArgs(
                    settings=s,
                    tenant=t,
                    issuer=self.identity.issuer,
                    client_ids=[self.identity.web_client.id] if self.identity.web_client else [],
                    usage_plan_ids=platform.api_usage_plan_ids,
                    mapping_prefix=platform.api_mapping_prefix,
                    mapping_key_arn=platform.api_mapping_key_arn,
                    api_domain_name=platform.api_domain_name,
                    api_domain_zone_id=platform.api_domain_zone_id,
                    health_check_id=health.id,
                ),
                child,
            )
        self.register_outputs(
            {
                "namespace": self.namespace.namespace_name,
                "home": home,
                "databaseEndpoint": db.endpoint if db else None,
                "keyArn": self.key.arn,
            }
        )

    def _warehouse(self, name: str, s: StackSettings, t: TenantConfig, args: TenantArgs, backup: TenantBackup) -> None:
        """The tenant's COPY role from its landing zone and, for a dedicated tier, its own
        warehouse (components/shared/warehouse.py); pooled tiers load into the region's pool."""
        assert self.stream is not None
        platform = args.platform
        load = WarehouseLoadRole(
            f"{name}-wh-load",
            WarehouseLoadRoleArgs(
                settings=s,
                tenant=t,
                account_id=args.account_id,
                landing_bucket_arn=self.stream.bucket.arn,
                kms_key_arn=self.key.arn,
                tags=tenant_tags(s, t),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        if t.tier.warehouse.placement != "dedicated":
            return
        self.warehouse = Warehouse(
            f"{name}-warehouse",
            WarehouseArgs(
                name=namespace_name(s, t),
                spec=t.tier.warehouse,
                kms_key_arn=self.key.arn,
                logs_kms_key_arn=self.key.arn,  # its policy admits CloudWatch Logs here
                log_retention_days=t.tier.log_retention_days,
                vpc_id=platform.vpc_id,
                subnet_ids=platform.private_subnet_ids,
                client_security_group_ids=[args.pod_security_group_id],  # its own pods only
                s3_prefix_list_id=platform.s3_prefix_list_id,
                load_role_arns=[load.role.arn],
                backup_vault_name=backup.vault.name,
                backup_role_arn=platform.backup_role_arn,
                tags=tenant_tags(s, t),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _latency_record(
        self, name: str, s: StackSettings, t: TenantConfig, args: TenantArgs
    ) -> aws.route53.HealthCheck:
        """This region's answer for the tenant's platform host name: latency-routed, dropped when
        the region's entry fails its health check. Each regional stack writes only its own."""
        platform = args.platform
        health = aws.route53.HealthCheck(
            f"{name}-health",
            type="HTTPS",
            fqdn=platform.entry_dns_name,
            port=443,
            resource_path="/nginx-health",
            enable_sni=True,
            request_interval=10,
            failure_threshold=3,
            measure_latency=True,
            tags={**tenant_tags(s, t), "Name": f"{t.id}-{s.region}"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.route53.Record(
            f"{name}-latency",
            zone_id=s.edge.hosted_zone_id,
            name=f"{t.id}.{s.edge.domain}",
            type="A",
            set_identifier=s.region,
            latency_routing_policies=[aws.route53.RecordLatencyRoutingPolicyArgs(region=s.region)],
            health_check_id=health.id,
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=platform.entry_dns_name, zone_id=platform.entry_zone_id, evaluate_target_health=True
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return health

    def _budget(self, name: str, s: StackSettings, t: TenantConfig) -> None:
        emails = [c.email for c in t.contacts]
        aws.budgets.Budget(
            f"{name}-budget",
            name=f"{s.name_prefix}-tenant-{t.id}",
            budget_type="COST",
            limit_amount=str(t.tier.monthly_budget_usd),
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:tenant${t.id}"])],
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                    notification_type=kind,
                    subscriber_email_addresses=emails,
                )
                for threshold, kind in ((80, "ACTUAL"), (100, "FORECASTED"), (100, "ACTUAL"))
            ],
            tags=tenant_tags(s, t),
            opts=pulumi.ResourceOptions(parent=self),
        )
