"""A region's platform stack: network, cluster and its add-ons, the shared data plane (cache,
database foundation, the tenant pods' shared group), observability, backup, the public entry, and
the account baseline. Tenants are not here: each has its own stack (programs/tenant.py), which
reads this stack's `contract`. The catalog still shapes a few shared things (dedicated node pools,
per-tenant log pipelines, Velero replication rules), so a tenant's onboarding redeploys this stack."""

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.edge.api_gateway import PublicApi, PublicApiArgs
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
from components.recovery.backup_vault import BackupVault, BackupVaultArgs
from components.recovery.velero import Velero, VeleroArgs
from components.shared.contract import PlatformContract
from components.shared.warehouse import WarehousePool, WarehousePoolArgs
from programs.context import Region


def build(settings: StackSettings) -> None:
    region = Region.of(settings)
    s, on_aws, account_id, retention = settings, region.on_aws, region.account_id, region.log_retention_days
    available = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="zone-type", values=["availability-zone"])],
        opts=pulumi.InvokeOptions(provider=region.provider),
    )
    deployer = DeployerEndpoint.from_stack(pulumi.StackReference(s.deployer.bootstrap_stack), s.deployer.cidr)

    # ---- regional foundation
    keys = PlatformKeys("platform", PlatformKeysArgs(settings=s, account_id=account_id), on_aws)
    network = Network(
        "network",
        NetworkArgs(
            settings=s,
            availability_zones=choose_zones(available.names, available.zone_ids),
            account_id=account_id,
            logs_key_arn=keys.logs.arn,
            flow_log_retention_days=retention,
        ),
        on_aws,
    )
    endpoints = VpcEndpoints(
        "endpoints",
        VpcEndpointsArgs(
            settings=s,
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
            settings=s,
            vpc_id=network.vpc.id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            private_route_table_ids=network.private_route_table_ids,
            deployer=deployer,
            secrets_key_arn=keys.cluster_secrets.arn,
            node_volume_key_arn=keys.node_volumes.arn,
            logs_key_arn=keys.logs.arn,
            log_retention_days=retention,
            dedicated_tenants=[t.id for t in s.served_tenants if t.tier.placement == "dedicated"],
        ),
        on_aws,
    )
    on_cluster = pulumi.ResourceOptions(providers=[region.provider, cluster.provider])
    oidc = {"oidc_provider_arn": cluster.oidc_provider_arn, "oidc_provider_url": cluster.oidc_provider_url}
    ClusterAddons(
        "cluster-addons",
        ClusterAddonsArgs(
            settings=s,
            cluster_name=cluster.ready_name,
            volume_key_arn=keys.node_volumes.arn,
            logs_key_arn=keys.logs.arn,
            log_retention_days=retention,
            node_groups=list(cluster.node_groups.values()),
            **oidc,
        ),
        on_cluster,
    )
    mesh = ServiceMesh("mesh", ServiceMeshArgs(settings=s), on_cluster)
    autoscaling = Autoscaling(
        "autoscaling", AutoscalingArgs(settings=s, cluster_name=cluster.name, account_id=account_id, **oidc), on_cluster
    )
    secrets = SecretsDelivery("secrets", SecretsDeliveryArgs(settings=s, account_id=account_id, **oidc), on_cluster)
    entry = PublicEntry(
        "entry",
        PublicEntryArgs(
            settings=s,
            vpc_id=network.vpc.id,
            public_subnet_ids=network.public_subnet_ids,
            account_id=account_id,
            logs_key_arn=keys.logs.arn,
            log_retention_days=retention,
        ),
        on_aws,
    )
    # The public API front door: API Gateway over a VPC link to the entry ALB, behind its WAF.
    api = PublicApi(
        "api",
        PublicApiArgs(
            settings=s,
            account_id=account_id,
            vpc_id=network.vpc.id,
            private_subnet_ids=network.private_subnet_ids,
            load_balancer_arn=entry.load_balancer.arn,
            load_balancer_security_group_id=entry.security_group.id,
            web_acl_arn=entry.web_acl.arn,
            logs_key_arn=keys.logs.arn,
            log_retention_days=retention,
        ),
        on_aws,
    )
    ingress = IngressRouting(
        "ingress",
        IngressRoutingArgs(
            settings=s,
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
            settings=s,
            tenants=s.served_tenants,
            account_id=account_id,
            kms_key_arn=keys.platform_data.arn,
            entry_dns_name=entry.load_balancer.dns_name,
            entry_zone_id=entry.load_balancer.zone_id,
            depends_on=[secrets, ingress],
            **oidc,
        ),
        on_cluster,
    )

    # ---- shared data plane: every tenant pod carries the shared group, which the cache admits
    pod_groups = TenantPodSecurityGroups(
        "tenant-pods",
        TenantPodSecurityGroupsArgs(
            settings=s,
            vpc_id=network.vpc.id,
            cluster_security_group_id=cluster.cluster_security_group_id,
            endpoints_security_group_id=endpoints.security_group.id,
        ),
        on_aws,
    )
    cache = Cache(
        "cache",
        CacheArgs(
            settings=s,
            vpc_id=network.vpc.id,
            private_subnet_ids=network.private_subnet_ids,
            client_security_group_id=pod_groups.shared.id,
            kms_key_arn=keys.platform_data.arn,
            node_type="cache.r7g.large" if s.environment == "prod" else "cache.t4g.medium",
        ),
        on_aws,
    )
    databases = DatabaseFoundation(
        "databases",
        DatabaseFoundationArgs(settings=s, private_subnet_ids=network.private_subnet_ids, account_id=account_id),
        on_aws,
    )

    # ---- account, backup
    if s.account.owner:
        AccountBaseline("account", AccountBaselineArgs(settings=s, account_id=account_id), on_aws)
    elif residency_bound(s.tenants):  # the owner's trail records its own region only
        RegionalAudit("audit", RegionalAuditArgs(settings=s, account_id=account_id), on_aws)
    vault = BackupVault(
        "backup", BackupVaultArgs(settings=s, account_id=account_id, kms_key_arn=keys.platform_data.arn), on_aws
    )
    velero = Velero(
        "velero",
        VeleroArgs(
            settings=s, tenants=s.served_tenants, account_id=account_id, kms_key_arn=keys.platform_data.arn, **oidc
        ),
        on_cluster,
    )
    # ---- analytics: the pooled warehouse of the tenants homed here whose tier pools it
    if any(t.home_region == s.region and t.tier.warehouse.placement == "pooled" for t in s.served_tenants):
        WarehousePool(
            "warehouse",
            WarehousePoolArgs(
                settings=s,
                account_id=account_id,
                kms_key_arn=keys.platform_data.arn,
                logs_kms_key_arn=keys.logs.arn,
                log_retention_days=retention,
                vpc_id=network.vpc.id,
                subnet_ids=network.private_subnet_ids,
                s3_prefix_list_id=endpoints.s3_prefix_list_id,
                backup_vault_name=vault.vault.name,
                backup_role_arn=vault.role.arn,
            ),
            on_aws,
        )
    # Platform namespaces: default-deny with explicit allows, once their add-ons run
    PlatformNetwork(
        "platform-network",
        PlatformNetworkArgs(settings=s, depends_on=[mesh, autoscaling, secrets, ingress, observability, velero]),
        on_cluster,
    )

    PlatformContract(
        vpc_id=network.vpc.id,
        cluster_name=cluster.ready_name,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_provider_url=cluster.oidc_provider_url,
        shared_pod_security_group_id=pod_groups.shared.id,
        private_subnet_ids=pulumi.Output.all(*network.private_subnet_ids),
        endpoints_security_group_id=endpoints.security_group.id,
        db_subnet_group_name=databases.subnet_group.name,
        db_parameter_group_name=databases.parameter_group.name,
        db_option_group_name=databases.option_group.name,
        db_monitoring_role_arn=databases.monitoring_role.arn,
        cache_host=cache.replication_group.primary_endpoint_address,
        cache_replication_group_id=cache.replication_group.replication_group_id,
        velero_bucket=velero.bucket,
        cache_user_group_id=cache.user_group.user_group_id,
        backup_role_arn=vault.role.arn,
        entry_dns_name=entry.load_balancer.dns_name,
        entry_zone_id=entry.load_balancer.zone_id,
        platform_data_key_arn=keys.platform_data.arn,
        s3_prefix_list_id=endpoints.s3_prefix_list_id,
        api_usage_plan_ids=pulumi.Output.all(**{t: p.id for t, p in api.usage_plans.items()}),
        api_domain_name=api.domain.regional_domain_name,
        api_domain_zone_id=api.domain.regional_zone_id,
        api_mapping_prefix=pulumi.Output.from_input(api.mapping_prefix),
        api_mapping_key_arn=api.mapping_key.arn,
        kubeconfig=cluster.eks_cluster.kubeconfig_json,
    ).export()
    pulumi.export("region", s.region)
    pulumi.export("environment", s.environment)
    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("clusterName", cluster.ready_name)
    pulumi.export("entryDnsName", entry.load_balancer.dns_name)
    pulumi.export("apiDomain", api.domain.regional_domain_name)
    pulumi.export("deployerRoleArn", deployer.role_arn)
    pulumi.export("skipped", list(s.skipped))
    pulumi.export("redisEndpoint", cache.replication_group.primary_endpoint_address)
    pulumi.export("backupVault", vault.vault.name)
    pulumi.export(
        "disasterRecovery",
        {"peerRegion": s.dr.peer_region if s.dr else None, "promotedHere": list(s.dr.promote) if s.dr else []},
    )
