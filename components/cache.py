"""Regional Redis (ElastiCache): replication group across AZs with automatic failover, encrypted
at rest (KMS) and in transit (TLS required), IAM authentication through an RBAC user group (no
password exists), private subnets, only the tenants' pod security groups admitted."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.tags import platform_tags
from components.versions import REDIS_ENGINE_VERSION

REDIS_PORT = 6379


@dataclass
class CacheArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Output[str]]
    client_security_group_ids: list[pulumi.Output[str]]  # the tenants' pod security groups
    kms_key_arn: pulumi.Input[str]
    node_type: str = "cache.r7g.large"


class Cache(pulumi.ComponentResource):
    replication_group: aws.elasticache.ReplicationGroup

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Cache", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "cache")
        child = pulumi.ResourceOptions(parent=self)
        group_id = f"{s.name_prefix}-{s.region}-redis"

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
                    security_groups=args.client_security_group_ids,
                )
            ]
            if args.client_security_group_ids
            else [],
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
        # The mandatory "default" user is switched off; clients authenticate with IAM as "platform".
        default_user = aws.elasticache.User(
            f"{name}-default",
            user_id=f"{group_id}-default",
            user_name="default",
            engine="redis",
            access_string="off -@all",
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="no-password-required"),
            tags=tags,
            opts=child,
        )
        app_user = aws.elasticache.User(
            f"{name}-platform",
            user_id=f"{group_id}-platform",
            user_name=f"{group_id}-platform",
            engine="redis",
            access_string="on ~* +@all -@dangerous",
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="iam"),
            tags=tags,
            opts=child,
        )
        user_group = aws.elasticache.UserGroup(
            name,
            user_group_id=f"{group_id}-users",
            engine="redis",
            user_ids=[default_user.user_id, app_user.user_id],
            tags=tags,
            opts=child,
        )
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
            user_group_ids=[user_group.user_group_id],
            snapshot_retention_limit=7,
            snapshot_window="02:00-03:00",
            maintenance_window="sun:05:30-sun:06:30",
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            tags=tags,
            opts=child,
        )
        self.register_outputs(
            {"primaryEndpoint": self.replication_group.primary_endpoint_address, "user": app_user.user_name}
        )
