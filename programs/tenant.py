"""One tenant's stack in one region (`<platform stack>.<tenant>`): its seat on the shared
services, everything it is served with here (namespace, identity, key, data, messaging, services,
views, namespace backups), the DR copies this region holds of it, and, on the global edge owner's
stacks, its CloudFront front-end. What it needs of the platform comes through one typed contract,
read from the platform stack's outputs (a StackReference), never from copied values."""

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from components.edge.global_edge import TenantFrontEnd, TenantFrontEndArgs
from components.recovery.backup_vault import TenantVault, TenantVaultArgs
from components.recovery.namespace_backups import NamespaceBackups, NamespaceBackupsArgs
from components.recovery.tenant_recovery import TenantRecovery, TenantRecoveryArgs
from components.shared.contract import PlatformContract, moved_from, platform_reference_name
from components.tenant.shared_services import TenantSharedServices, TenantSharedServicesArgs
from components.tenant.tenant import Tenant, TenantArgs
from components.tenant.tenant_views import TenantViews, TenantViewsArgs
from programs.context import Region


def build(settings: StackSettings, tenant: TenantConfig) -> None:
    region = Region.of(settings)
    s, t, on_aws = settings, tenant, region.on_aws
    platform = PlatformContract.read(pulumi.StackReference(platform_reference_name(s.project, s.stack)))
    served = t.id in {x.id for x in s.served_tenants}
    holds_copies = t.id in {x.id for x in s.dr_tenants}
    # The cluster's provider, as the platform stack's own: same kubeconfig, same logical name.
    cluster = k8s.Provider(
        "cluster-k8s",
        kubeconfig=platform.kubeconfig,
        opts=pulumi.ResourceOptions(aliases=moved_from("platform:index:Cluster", "cluster")),
    )
    on_cluster = pulumi.ResourceOptions(providers=[region.provider, cluster])

    recovery = None
    shared = None
    if served:
        shared = TenantSharedServices(
            f"tenant-{t.id}-shared",
            TenantSharedServicesArgs(
                settings=s,
                tenant=t,
                vpc_id=platform.vpc_id,
                cache_host=platform.cache_host,
                cache_replication_group_id=platform.cache_replication_group_id,
                cache_user_group_id=platform.cache_user_group_id,
                entry_dns_name=platform.entry_dns_name,
                entry_zone_id=platform.entry_zone_id,
            ),
            on_aws,
        )
    if holds_copies:
        recovery = TenantRecovery(
            f"dr-{t.id}",
            TenantRecoveryArgs(
                settings=s,
                tenant=t,
                account_id=region.account_id,
                vpc_id=platform.vpc_id,
                # a copy of a tenant not served here admits nobody until it is (promotion)
                client_security_group_id=shared.pod_security_group.id if shared else None,
                subnet_group_name=platform.db_subnet_group_name,
                parameter_group_name=platform.db_parameter_group_name,
                option_group_name=platform.db_option_group_name,
                monitoring_role_arn=platform.db_monitoring_role_arn,
            ),
            on_aws,
        )
        # The vault for the copies the home region's backup plan makes, under the DR key.
        TenantVault(
            f"dr-{t.id}-vault",
            TenantVaultArgs(settings=s, tenant=t, kms_key_arn=recovery.key.arn, dr=True),
            on_aws,
        )

    served_here = None
    if shared is not None:
        served_here = Tenant(
            f"tenant-{t.id}",
            TenantArgs(
                settings=s,
                tenant=t,
                account_id=region.account_id,
                platform=platform,
                pod_security_group_id=shared.pod_security_group.id,
                cache=shared.cache,
                promoted_database=recovery.promoted if recovery else None,
            ),
            on_cluster,
        )
        NamespaceBackups(
            f"tenant-{t.id}-backups",
            NamespaceBackupsArgs(settings=s, tenant=t, key_arn=served_here.key.arn, bucket=platform.velero_bucket),
            on_cluster,
        )
        TenantViews(
            f"tenant-{t.id}-views",
            TenantViewsArgs(
                settings=s,
                tenant=t,
                kms_key_arn=platform.platform_data_key_arn,
                entry_dns_name=platform.entry_dns_name,
                entry_zone_id=platform.entry_zone_id,
            ),
            on_cluster,
        )

    front_end = None
    if s.global_edge is not None:
        # Edge logs stay under the tenant's own key in this region, where it has one.
        key = served_here.key.arn if served_here else recovery.key.arn if recovery else None
        front_end = TenantFrontEnd(
            f"global-edge-{t.id}",
            TenantFrontEndArgs(settings=s, edge=s.global_edge, tenant=t, logs_key_arn=key),
            pulumi.ResourceOptions(
                provider=region.provider, aliases=moved_from("platform:index:GlobalEdge", "global-edge")
            ),
        )

    pulumi.export("tenant", t.id)
    pulumi.export("region", s.region)
    pulumi.export("environment", s.environment)
    pulumi.export("skipped", list(s.skipped_for(t)))
    # The same shapes a regional stack exported, for this tenant only: the peer's DR gates read
    # them (planner/gates.py), and so does the nightly smoke test.
    if served_here is not None:
        pulumi.export(
            "tenants",
            {
                t.id: {
                    "namespace": served_here.namespace.namespace_name,
                    "home": served_here.database is not None,
                    "databaseEndpoint": served_here.database.instance.endpoint if served_here.database else None,
                    "userPoolId": served_here.identity.user_pool.id if served_here.identity.user_pool else None,
                }
            },
        )
    pulumi.export(
        "disasterRecovery",
        {
            "peerRegion": s.dr.peer_region if s.dr else None,
            "copiesHeldHere": {t.id: t.home_region} if holds_copies else {},
            "noCrossRegionCopy": [t.id] if t.home_region == s.region and not s.copies_to_peer(t) else [],
        },
    )
    if front_end is not None:
        pulumi.export(
            "frontEnd",
            {"domain": front_end.certificate.domain_name, "cloudfront": front_end.distribution.domain_name}
            if front_end.distribution is not None
            else {"domain": front_end.certificate.domain_name, "addToTenantDns": front_end.pending_records},
        )
