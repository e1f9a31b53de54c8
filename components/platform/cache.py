"""Regional Redis (ElastiCache): replication group across AZs with automatic failover, encrypted
at rest (KMS) and in transit (TLS required), private subnets, only tenant pods admitted (the group
they all carry). Clients authenticate with IAM (no password exists) as their tenant's own RBAC
user, whose ACL reaches only keys under the tenant's prefix: each tenant stack creates its user
and adds it to the group here (TenantSharedServices); the mandatory `default` user is off."""

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.tags import platform_tags
from components.shared.versions import REDIS_ENGINE_VERSION

REDIS_PORT = 6379

# What a tenant's cache client may run, on its own keys only (checked against Redis 7.0 ACLs):
# data and key commands, MULTI/EXEC, AUTH/HELLO/PING/SELECT. Then removed again: @dangerous
# (FLUSHALL/FLUSHDB/SWAPDB act on every tenant's keys; KEYS, SORT BY/GET, MIGRATE, CLIENT LIST/KILL,
# INFO, CONFIG), scripting and pub/sub (FUNCTION FLUSH/LOAD are @write; PUBSUB CHANNELS lists every
# channel), and the commands without key arguments that reveal other tenants' key names or counts:
# SCAN, RANDOMKEY, DBSIZE, and CLIENT TRACKING (BCAST invalidations carry any prefix's key names).
CLIENT_COMMANDS = (
    "-@all +@read +@write +@keyspace +@connection +@transaction"
    " -@dangerous -@scripting -@pubsub -scan -randomkey -dbsize -client|tracking"
)
DISABLED_DEFAULT_USER = "off -@all"
_TENANT_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")  # no ':' and no glob characters


def key_prefix(tenant_id: str) -> str:
    """The tenant's key and channel namespace. Tenant ids hold no ':', so `acme:` never matches
    `acme-2:...`: the prefixes of two tenants are disjoint."""
    if not _TENANT_ID.fullmatch(tenant_id):
        raise ValueError(f"tenant id {tenant_id!r} cannot name a cache key prefix")
    return f"{tenant_id}:"


def tenant_access_string(tenant_id: str) -> str:
    prefix = key_prefix(tenant_id)
    return f"on ~{prefix}* resetchannels &{prefix}* {CLIENT_COMMANDS}"


def cache_group_id(settings: StackSettings) -> str:
    return f"{settings.name_prefix}-{settings.region}-redis"


def cache_user_id(settings: StackSettings, tenant_id: str) -> str:
    """User id and user name (IAM authentication requires them equal), lowercase as ElastiCache
    ARNs in IAM policies must be; unique in the region, at most 40 characters."""
    return f"{settings.name_prefix}-{tenant_id}"


@dataclass(frozen=True)
class TenantCacheAccess:
    """What one tenant's services need to reach the cache as their own user."""

    host: pulumi.Input[str]
    replication_group_id: pulumi.Input[str]  # signs the IAM token (`<group id>/?Action=connect&User=<user>`)
    user_id: str
    user_name: pulumi.Input[str]  # resolves once the user belongs to the group attached to the cache
    key_prefix: str


@dataclass
class CacheArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Output[str]]
    client_security_group_id: pulumi.Input[str]  # the group every tenant pod carries
    kms_key_arn: pulumi.Input[str]
    node_type: str = "cache.r7g.large"


class Cache(pulumi.ComponentResource):
    replication_group: aws.elasticache.ReplicationGroup
    user_group: aws.elasticache.UserGroup

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Cache", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "cache")
        child = pulumi.ResourceOptions(parent=self)
        group_id = cache_group_id(s)

        security_group = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            # EC2 replaces a group whose description changes: the old text stays, the rules decide.
            description="Redis: only the EKS cluster may connect",
            # Only tenant pods use Redis; no platform component does, so the cluster group is out.
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="Redis (TLS) from the tenants' pods",
                    protocol="tcp",
                    from_port=REDIS_PORT,
                    to_port=REDIS_PORT,
                    security_groups=[args.client_security_group_id],
                )
            ],
            egress=[],
            tags={**tags, "Name": group_id},
            opts=child,
        )
        subnets = aws.elasticache.SubnetGroup(
            name,
            name=group_id,
            description="Private subnets for the platform Redis",
            subnet_ids=args.private_subnet_ids,
            tags=tags,
            opts=child,
        )
        # A Redis user group must hold a user named "default"; this one is switched off, so a
        # connection that has not authenticated as a tenant's user can run nothing.
        default_user = aws.elasticache.User(
            f"{name}-default",
            user_id=f"{group_id}-default",
            user_name="default",
            engine="redis",
            access_string=DISABLED_DEFAULT_USER,
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="no-password-required"),
            tags=tags,
            opts=child,
        )
        self.user_group = aws.elasticache.UserGroup(
            name,
            user_group_id=f"{group_id}-users",
            engine="redis",
            user_ids=[default_user.user_id],
            tags=tags,
            # Tenant stacks add their users (UserGroupAssociation), which changes this list in AWS:
            # the provider's documented pairing is to ignore it here.
            # Protected: a replacement (its id or engine changed) would drop every tenant's membership.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["userIds"], protect=True),
        )
        # IAM authentication needs Redis OSS 7.0+ and in-transit encryption (both below).
        self.replication_group = aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=group_id,
            description="Platform Redis cache",
            engine="redis",
            engine_version=REDIS_ENGINE_VERSION,
            node_type=args.node_type,
            num_cache_clusters=3 if s.environment == "prod" else 2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group.id],
            port=REDIS_PORT,
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[self.user_group.user_group_id],
            snapshot_retention_limit=7,
            snapshot_window="02:00-03:00",
            maintenance_window="sun:05:30-sun:06:30",
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            tags=tags,
            opts=child,
        )
        self.register_outputs({"primaryEndpoint": self.replication_group.primary_endpoint_address})
