"""One tenant's seat on the platform's shared services in its region, built by the tenant's stack:
its pods' own security group (which only its databases admit), its IAM-authenticated user on the
shared Redis (ACL limited to its key prefix) and that user's membership of the cache's user group,
and its origin name on the regional public entry."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from components.platform.cache import TenantCacheAccess, cache_user_id, key_prefix, tenant_access_string
from components.shared.contract import moved_from
from components.shared.tags import tenant_tags


@dataclass
class TenantSharedServicesArgs:
    settings: StackSettings
    tenant: TenantConfig
    vpc_id: pulumi.Input[str]
    cache_host: pulumi.Input[str]
    cache_replication_group_id: pulumi.Input[str]
    cache_user_group_id: pulumi.Input[str]
    entry_dns_name: pulumi.Input[str]  # the regional entry: the tenant's origin name aliases it
    entry_zone_id: pulumi.Input[str]


class TenantSharedServices(pulumi.ComponentResource):
    pod_security_group: aws.ec2.SecurityGroup
    cache: TenantCacheAccess

    def __init__(self, name: str, args: TenantSharedServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantSharedServices", name, None, opts)
        s, tenant = args.settings, args.tenant
        tags = tenant_tags(s, tenant)

        def moved(parent_type: str, parent_name: str, **options: object) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=moved_from(parent_type, parent_name), **options)  # pyright: ignore[reportArgumentType]

        # Nothing but the tenant's own pods and databases name this group.
        self.pod_security_group = aws.ec2.SecurityGroup(
            f"tenant-pods-{tenant.id}",
            vpc_id=args.vpc_id,
            description=f"Pods of tenant {tenant.id}: admitted by its own database and the cache",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="The tenant's own pods", protocol="-1", from_port=0, to_port=0, self=True
                )
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="The tenant's own pods", protocol="-1", from_port=0, to_port=0, self=True
                )
            ],
            tags={**tags, "Name": f"{s.name_prefix}-{tenant.id}-pods"},
            opts=moved("platform:index:TenantPodSecurityGroups", "tenant-pods"),
        )

        user_id = cache_user_id(s, tenant.id)
        user = aws.elasticache.User(
            f"cache-{tenant.id}",
            user_id=user_id,
            user_name=user_id,
            engine="redis",
            access_string=tenant_access_string(tenant.id),
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="iam"),
            tags=tags,
            opts=moved("platform:index:Cache", "cache"),
        )
        membership = aws.elasticache.UserGroupAssociation(
            f"cache-{tenant.id}",
            user_group_id=args.cache_user_group_id,
            user_id=user.user_id,
            # Each membership change puts the group in `modifying` for minutes and the provider
            # retries only within this timeout: tenant stacks of a wave join one group in parallel.
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=pulumi.CustomTimeouts(create="60m", delete="60m")),
        )
        self.cache = TenantCacheAccess(
            host=args.cache_host,
            replication_group_id=args.cache_replication_group_id,
            user_id=user_id,
            # Resolves once the group admits the user: services start when it can log in.
            user_name=pulumi.Output.all(user.user_name, membership.id).apply(lambda v: v[0]),
            key_prefix=key_prefix(tenant.id),
        )
        # The name the tenant's CloudFront front-end uses as this region's origin; only this
        # region's stack writes it, so a region that is down simply stops answering.
        aws.route53.Record(
            f"entry-origin-{tenant.id}",
            zone_id=s.edge.hosted_zone_id,
            name=s.edge.tenant_origin_host(tenant.id, s.region),
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=args.entry_dns_name, zone_id=args.entry_zone_id, evaluate_target_health=True
                )
            ],
            opts=moved("platform:index:PublicEntry", "entry"),
        )
        self.register_outputs({"podSecurityGroup": self.pod_security_group.id, "cacheUser": user_id})
