"""Insurance platform, one regional stack: network, cluster, shared data plane and tenants."""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from catalog import ConfigError
from catalog.loader import load_settings
from components.cluster import Cluster, ClusterArgs
from components.database_foundation import DatabaseFoundation, DatabaseFoundationArgs
from components.keys import PlatformKeys, PlatformKeysArgs
from components.network import Network, NetworkArgs
from components.providers import config_value, regional_aws_provider
from components.tenant import Tenant, TenantArgs

try:
    settings = load_settings(config_value, pulumi.get_project(), pulumi.get_stack(), Path(__file__).parent)
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None

aws_provider = regional_aws_provider(settings)
invoke = pulumi.InvokeOptions(provider=aws_provider)
account_id = aws.get_caller_identity(opts=invoke).account_id
zones = sorted(aws.get_availability_zones(state="available", opts=invoke).names)
platform_log_retention = 1096 if settings.environment == "prod" else 90  # NYDFS 500.06: 3 years
on_aws = pulumi.ResourceOptions(provider=aws_provider)

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
cluster = Cluster(
    "cluster",
    ClusterArgs(
        settings=settings,
        vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        secrets_key_arn=keys.cluster_secrets.arn,
        node_volume_key_arn=keys.node_volumes.arn,
        logs_key_arn=keys.logs.arn,
        log_retention_days=platform_log_retention,
        dedicated_tenants=[t.id for t in settings.served_tenants if t.tier.placement == "dedicated"],
    ),
    pulumi.ResourceOptions(providers={"aws": aws_provider}),
)
databases = DatabaseFoundation(
    "databases", DatabaseFoundationArgs(settings=settings, private_subnet_ids=network.private_subnet_ids), on_aws
)

tenants = {
    tenant.id: Tenant(
        f"tenant-{tenant.id}",
        TenantArgs(
            settings=settings,
            tenant=tenant,
            account_id=account_id,
            vpc_id=network.vpc.id,
            cluster_security_group_id=cluster.cluster_security_group_id,
            subnet_group_name=databases.subnet_group.name,
            parameter_group_name=databases.parameter_group.name,
            option_group_name=databases.option_group.name,
        ),
        pulumi.ResourceOptions(providers=[aws_provider, cluster.provider]),
    )
    for tenant in settings.served_tenants
}

pulumi.export("region", settings.region)
pulumi.export("environment", settings.environment)
pulumi.export("vpcId", network.vpc.id)
pulumi.export("clusterName", cluster.eks_cluster.eks_cluster.apply(lambda c: c.name))
pulumi.export("kubeconfig", pulumi.Output.secret(cluster.eks_cluster.kubeconfig_json))
pulumi.export(
    "tenants",
    {
        tenant_id: {"namespace": t.namespace.namespace_name, "databaseEndpoint": t.database.instance.endpoint}
        for tenant_id, t in tenants.items()
    },
)
