"""Everything one tenant gets in a regional stack, composed from smaller components."""

from dataclasses import dataclass

import pulumi

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from components.tenant_database import TenantDatabase, TenantDatabaseArgs
from components.tenant_key import TenantKey, TenantKeyArgs
from components.tenant_namespace import TenantNamespace, TenantNamespaceArgs


@dataclass
class TenantArgs:
    settings: StackSettings
    tenant: TenantConfig
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]
    subnet_group_name: pulumi.Input[str]
    parameter_group_name: pulumi.Input[str]
    option_group_name: pulumi.Input[str]


class Tenant(pulumi.ComponentResource):
    """Namespace, key and database of one tenant; children inherit the regional providers."""

    namespace: TenantNamespace
    key: TenantKey
    database: TenantDatabase

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Tenant", name, None, opts)
        s, tenant = args.settings, args.tenant
        child = pulumi.ResourceOptions(parent=self)

        self.namespace = TenantNamespace(f"{name}-ns", TenantNamespaceArgs(settings=s, tenant=tenant), child)
        self.key = TenantKey(f"{name}-key", TenantKeyArgs(settings=s, tenant=tenant, account_id=args.account_id), child)
        self.database = TenantDatabase(
            f"{name}-db",
            TenantDatabaseArgs(
                settings=s,
                tenant=tenant,
                vpc_id=args.vpc_id,
                client_security_group_id=args.cluster_security_group_id,
                kms_key_arn=self.key.arn,
                subnet_group_name=args.subnet_group_name,
                parameter_group_name=args.parameter_group_name,
                option_group_name=args.option_group_name,
            ),
            child,
        )
        self.register_outputs(
            {
                "namespace": self.namespace.namespace_name,
                "keyArn": self.key.arn,
                "databaseEndpoint": self.database.instance.endpoint,
            }
        )
