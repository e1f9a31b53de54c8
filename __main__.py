"""Insurance platform, one regional stack: network, cluster and its platform add-ons, shared data
plane, public entry, and the tenants served in this region."""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from catalog import ConfigError
from catalog.loader import load_settings
from components.edge.global_edge import GlobalEdge, GlobalEdgeArgs
from components.edge.ingress_routing import IngressRouting, IngressRoutingArgs
from components.edge.public_entry import PublicEntry, PublicEntryArgs
from components.platform.account_baseline import (
    AccountBaseline,
    AccountBaselineArgs,
    RegionalAudit,
    RegionalAuditArgs,
    residency_bound,
)
from components.platform.autoscaling import Autoscaling, AutoscalingArgs
from components.platform.cache import Cache, CacheArgs
from components.platform.cluster import Cluster, ClusterArgs
from components.platform.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.platform.database_foundation import DatabaseFoundation, DatabaseFoundationArgs
from components.platform.deployer_access import DeployerEndpoint
from components.platform.endpoints import VpcEndpoints, VpcEndpointsArgs
from components.platform.keys import PlatformKeys, PlatformKeysArgs
from components.platform.network import Network, NetworkArgs, choose_zones
from components.platform.observability import Observability, ObservabilityArgs
from components.platform.platform_network import PlatformNetwork, PlatformNetworkArgs
from components.platform.pod_security_groups import TenantPodSecurityGroups, TenantPodSecurityGroupsArgs
from components.platform.secrets_delivery import SecretsDelivery, SecretsDeliveryArgs
from components.platform.service_mesh import ServiceMesh, ServiceMeshArgs
from components.recovery.backup_vault import BackupVault, BackupVaultArgs, TenantVault, TenantVaultArgs
from components.recovery.tenant_recovery import TenantRecovery, TenantRecoveryArgs
from components.recovery.velero import Velero, VeleroArgs
from components.shared.providers import config_value, regional_aws_provider
from components.tenant.tenant import Tenant, TenantArgs

try:
    settings = load_settings(config_value, pulumi.get_project(), pulumi.get_stack(), Path(__file__).parent)
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None

aws_provider = regional_aws_provider(settings)
invoke = pulumi.InvokeOptions(provider=aws_provider)
account_id = aws.get_caller_identity(opts=invoke).account_id
available = aws.get_availability_zones(
    state="available",
    filters=[aws.GetAvailabilityZonesFilterArgs(name="zone-type", values=["availability-zone"])],
    opts=invoke,
)
zones = choose_zones(available.names, available.zone_ids)
deployer = DeployerEndpoint.from_stack(pulumi.StackReference(settings.deployer.bootstrap_stack), settings.deployer.cidr)
platform_log_retention = 1096 if settings.environment == "prod" else 365  # NYDFS 500.06: 3 years; a year everywhere
on_aws = pulumi.ResourceOptions(provider=aws_provider)

# ---- regional foundation
keys = PlatformKeys("platform", PlatformKeysArgs(settings=settings, account_id=account_id), on_aws)
network = Network(
    "network",
    NetworkArgs(
        settings=settings,
        availability_zones=zones,
        account_id=account_id,
        logs_key_arn=keys.logs.arn,
        flow_log_retention_days=platform_log_retention,
    ),
    on_aws,
)
endpoints = VpcEndpoints(
    "endpoints",
    VpcEndpointsArgs(
        settings=settings,
        vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids,
        private_route_table_ids=network.private_route_table_ids,
        account_id=account_id,
    ),
    on_aws,
)

# ---- cluster and platform add-ons
cluster = Cluster(
    "cluster",
    ClusterArgs(
        settings=settings,
        vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        private_route_table_ids=network.private_route_table_ids,
        deployer=deployer,
        secrets_key_arn=keys.cluster_secrets.arn,
        node_volume_key_arn=keys.node_volumes.arn,
        logs_key_arn=keys.logs.arn,
        log_retention_days=platform_log_retention,
        dedicated_tenants=[t.id for t in settings.served_tenants if t.tier.placement == "dedicated"],
    ),
    on_aws,
)
on_cluster = pulumi.ResourceOptions(providers=[aws_provider, cluster.provider])
oidc = {"oidc_provider_arn": cluster.oidc_provider_arn, "oidc_provider_url": cluster.oidc_provider_url}
ClusterAddons(
    "cluster-addons",
    ClusterAddonsArgs(
        settings=settings,
        cluster_name=cluster.ready_name,
        volume_key_arn=keys.node_volumes.arn,
        logs_key_arn=keys.logs.arn,
        log_retention_days=platform_log_retention,
        node_groups=list(cluster.node_groups.values()),
        **oidc,
    ),
    on_cluster,
)
mesh = ServiceMesh("mesh", ServiceMeshArgs(settings=settings), on_cluster)
autoscaling = Autoscaling(
    "autoscaling",
    AutoscalingArgs(settings=settings, cluster_name=cluster.name, account_id=account_id, **oidc),
    on_cluster,
)
secrets = SecretsDelivery("secrets", SecretsDeliveryArgs(settings=settings, account_id=account_id, **oidc), on_cluster)
entry = PublicEntry(
    "entry",
    PublicEntryArgs(
        settings=settings,
        vpc_id=network.vpc.id,
        public_subnet_ids=network.public_subnet_ids,
        account_id=account_id,
        logs_key_arn=keys.logs.arn,
        log_retention_days=platform_log_retention,
    ),
    on_aws,
)
ingress = IngressRouting(
    "ingress",
    IngressRoutingArgs(
        settings=settings,
        cluster_name=cluster.name,
        vpc_id=network.vpc.id,
        target_group_arn=entry.target_group.arn,
        entry_security_group_id=entry.security_group.id,
        cluster_security_group_id=cluster.cluster_security_group_id,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_provider_url=cluster.oidc_provider_url,
        mesh=mesh,  # the router is meshed: its pods start after istiod
    ),
    on_cluster,
)

observability = Observability(
    "observability",
    ObservabilityArgs(
        settings=settings,
        tenants=settings.served_tenants,
        account_id=account_id,
        kms_key_arn=keys.platform_data.arn,
        entry_dns_name=entry.load_balancer.dns_name,
        entry_zone_id=entry.load_balancer.zone_id,
        depends_on=[secrets, ingress],
        **oidc,
    ),
    on_cluster,
)

# ---- shared data plane: tenant pods get their own security groups, which the data admits
pod_groups = TenantPodSecurityGroups(
    "tenant-pods",
    TenantPodSecurityGroupsArgs(
        settings=settings,
        tenants=settings.served_tenants,
        vpc_id=network.vpc.id,
        cluster_security_group_id=cluster.cluster_security_group_id,
        endpoints_security_group_id=endpoints.security_group.id,
    ),
    on_aws,
)
cache = Cache(
    "cache",
    CacheArgs(
        settings=settings,
        vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids,
        client_security_group_ids=[sg.id for sg in pod_groups.by_tenant.values()],
        kms_key_arn=keys.platform_data.arn,
        tenants=settings.served_tenants,
        node_type="cache.r7g.large" if settings.environment == "prod" else "cache.t4g.medium",
    ),
    on_aws,
)
databases = DatabaseFoundation(
    "databases",
    DatabaseFoundationArgs(settings=settings, private_subnet_ids=network.private_subnet_ids, account_id=account_id),
    on_aws,
)

if settings.account.owner:
    AccountBaseline("account", AccountBaselineArgs(settings=settings, account_id=account_id), on_aws)
elif residency_bound(settings.tenants):  # the owner's trail records its own region only
    RegionalAudit("audit", RegionalAuditArgs(settings=settings, account_id=account_id), on_aws)
vault = BackupVault(
    "backup", BackupVaultArgs(settings=settings, account_id=account_id, kms_key_arn=keys.platform_data.arn), on_aws
)

# ---- DR copies of the peer region's tenants (residency permitting)
recovery = {
    tenant.id: TenantRecovery(
        f"dr-{tenant.id}",
        TenantRecoveryArgs(
            settings=settings,
            tenant=tenant,
            account_id=account_id,
            vpc_id=network.vpc.id,
            # a copy of a tenant not served here admits nobody until it is (promotion)
            client_security_group_id=pod_groups.by_tenant[tenant.id].id if tenant.id in pod_groups.by_tenant else None,
            subnet_group_name=databases.subnet_group.name,
            parameter_group_name=databases.parameter_group.name,
            option_group_name=databases.option_group.name,
            monitoring_role_arn=databases.monitoring_role.arn,
        ),
        on_aws,
    )
    for tenant in settings.dr_tenants
}
# Each DR tenant's vault for the copies its home region's backup plan makes, under its DR key.
for tenant in settings.dr_tenants:
    TenantVault(
        f"dr-{tenant.id}-vault",
        TenantVaultArgs(settings=settings, tenant=tenant, kms_key_arn=recovery[tenant.id].key.arn, dr=True),
        on_aws,
    )

# ---- tenants served in this region
tenants = {
    tenant.id: Tenant(
        f"tenant-{tenant.id}",
        TenantArgs(
            settings=settings,
            tenant=tenant,
            account_id=account_id,
            vpc_id=network.vpc.id,
            cluster_name=cluster.ready_name,
            pod_security_group_id=pod_groups.by_tenant[tenant.id].id,
            shared_pod_security_group_id=pod_groups.shared.id,
            subnet_group_name=databases.subnet_group.name,
            parameter_group_name=databases.parameter_group.name,
            option_group_name=databases.option_group.name,
            monitoring_role_arn=databases.monitoring_role.arn,
            cache=cache.access_for(tenant.id),
            backup_role_arn=vault.role.arn,
            entry_dns_name=entry.load_balancer.dns_name,
            entry_zone_id=entry.load_balancer.zone_id,
            platform_addons=[mesh, autoscaling, secrets, ingress, cluster.vpc_cni],  # + SecurityGroupPolicy
            promoted_database=recovery[tenant.id].promoted if tenant.id in recovery else None,
            **oidc,
        ),
        on_cluster,
    )
    for tenant in settings.served_tenants
}

velero = Velero(
    "velero",
    VeleroArgs(
        settings=settings,
        tenants=settings.served_tenants,
        account_id=account_id,
        kms_key_arn=keys.platform_data.arn,
        tenant_keys={tenant_id: t.key.arn for tenant_id, t in tenants.items()},  # each backup location
        **oidc,
    ),
    on_cluster,
)

# Platform namespaces: default-deny with explicit allows, once their add-ons run
PlatformNetwork(
    "platform-network",
    PlatformNetworkArgs(settings=settings, depends_on=[mesh, autoscaling, secrets, ingress, observability, velero]),
    on_cluster,
)

# ---- the environment's global edge (CloudFront front-ends), on the edge.globalOwner stack only
edge = None
if settings.global_edge:
    keys_here = {**{i: r.key.arn for i, r in recovery.items()}, **{i: t.key.arn for i, t in tenants.items()}}
    edge = GlobalEdge("global-edge", GlobalEdgeArgs(settings=settings, tenant_keys=keys_here), on_aws)

pulumi.export("region", settings.region)
pulumi.export("environment", settings.environment)
pulumi.export("vpcId", network.vpc.id)
pulumi.export("clusterName", cluster.ready_name)
pulumi.export("deployerRoleArn", deployer.role_arn)
pulumi.export("skipped", list(settings.skipped))
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.eks_cluster.kubeconfig_json))
pulumi.export("entryDnsName", entry.load_balancer.dns_name)
pulumi.export("redisEndpoint", cache.replication_group.primary_endpoint_address)
pulumi.export("backupVault", vault.vault.name)
pulumi.export(
    "disasterRecovery",
    {
        "peerRegion": settings.dr.peer_region if settings.dr else None,
        # planner/gates.py reads these from the peer before its deploys (bootstrap order)
        "copiesHeldHere": {t.id: t.home_region for t in settings.dr_tenants},
        "promotedHere": list(settings.dr.promote) if settings.dr else [],
        "noCrossRegionCopy": sorted(
            t.id for t in settings.tenants if t.home_region == settings.region and not settings.copies_to_peer(t)
        ),
    },
)
if edge is not None:
    pulumi.export(
        "frontEnds",
        {
            tenant_id: (
                {"domain": f.certificate.domain_name, "cloudfront": f.distribution.domain_name}
                if f.distribution is not None
                else {"domain": f.certificate.domain_name, "addToTenantDns": f.pending_records}
            )
            for tenant_id, f in edge.front_ends.items()
        },
    )
pulumi.export(
    "tenants",
    {
        tenant_id: {
            "namespace": t.namespace.namespace_name,
            "home": t.database is not None,
            "databaseEndpoint": t.database.instance.endpoint if t.database else None,
            # the JWT issuer's pool (home region only); the nightly smoke test gets a token from it
            "userPoolId": t.identity.user_pool.id if t.identity.user_pool else None,
        }
        for tenant_id, t in tenants.items()
    },
)
