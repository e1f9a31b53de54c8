"""Velero: Kubernetes-level backups, one schedule per tenant namespace (frequency and TTL from the
tier) so one tenant can be restored alone, each into the tenant's own backup location (a prefix of
the regional bucket) encrypted with the tenant's own key, and replicated to the peer region only
where the tenant's residency allows it and the tenant has a key of its own there (its data key, or
its DR key), which encrypts the replicas: destroying the tenant's keys shreds its namespace backups."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.recovery.tenant_backup import dr_key_alias
from components.shared.iam import document, service_trust
from components.shared.k8s_helpers import SYSTEM_NODES, addon_namespace, release
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs, key_resource
from components.shared.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.shared.tags import platform_tags
from components.shared.versions import VELERO_AWS_PLUGIN

NAMESPACE = "velero"
SCHEDULE = {"premium": "0 */4 * * *", "standard": "0 */12 * * *", "basic": "0 2 * * *"}


def velero_bucket(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-velero"


def schedule_name(tenant: Tenant) -> str:
    return f"{tenant.id}-namespace"


def velero_role_name(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-velero"


def velero_replication_role_name(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-velero-replication"


def tenant_key_alias(settings: StackSettings, stack: str, tenant: Tenant) -> str:
    """The alias of a tenant's data key on `stack` (components/tenant/tenant_key.py)."""
    return f"alias/{settings.project}/{stack}/tenant/{tenant.id}"


def tenant_keys_pattern(settings: StackSettings, stack: str) -> str:
    return f"alias/{settings.project}/{stack}/tenant/*"


def peer_replica_key(settings: StackSettings, tenant: Tenant) -> str | None:
    """The tenant's own key in the peer region, which encrypts its replicated namespace backups:
    its data key where the peer serves it, its DR key where the peer holds its DR copies; None
    (no replication) where the peer holds no key of the tenant or its residency excludes the peer."""
    if settings.dr is None or settings.dr.peer_region not in tenant.residency:
        return None
    if tenant.served_in(settings.dr.peer_region):
        return tenant_key_alias(settings, settings.dr.peer_stack, tenant)
    if settings.copies_to_peer(tenant):
        return dr_key_alias(settings, tenant).format(stack=settings.dr.peer_stack)
    return None


@dataclass
class VeleroArgs:
    settings: StackSettings
    tenants: Sequence[Tenant]  # served here
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]  # the platform key: the bucket's default (Velero's own metadata)
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]


class Velero(pulumi.ComponentResource):
    bucket: pulumi.Output[str]  # the regional bucket: each tenant stack's location writes under its prefix

    def __init__(self, name: str, args: VeleroArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Velero", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "velero")
        child = pulumi.ResourceOptions(parent=self)
        namespace = addon_namespace(f"{name}-ns", NAMESPACE, self)
        bucket_name = velero_bucket(s, s.region)
        bucket = SecureBucket(
            f"{name}-backups",
            SecureBucketArgs(
                bucket_name=bucket_name,
                tags={**tags, "purpose": "velero"},
                retention_days=max((t.tier.database.backup_retention_days for t in args.tenants), default=7) + 1,
                kms_key_arn=args.kms_key_arn,
            ),
            child,
        )
        arn = f"arn:aws:s3:::{bucket_name}"
        role = ServiceAccountRole(
            f"{name}-server",
            ServiceAccountRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=NAMESPACE,
                service_account="velero",
                tags=tags,
                role_name=velero_role_name(s, s.region),  # tenant keys name it (TenantKey)
                policy=pulumi.Output.all(args.kms_key_arn, args.account_id).apply(
                    lambda v: document(
                        statement(["s3:ListBucket"], [arn]),
                        statement(
                            [
                                "s3:GetObject",
                                "s3:PutObject",
                                "s3:DeleteObject",
                                "s3:AbortMultipartUpload",
                                "s3:ListMultipartUploadParts",
                            ],
                            [f"{arn}/*"],
                        ),
                        statement(
                            ["kms:Decrypt", "kms:GenerateDataKey"],
                            [v[0]],
                            StringEquals={"kms:ViaService": f"s3.{s.region}.amazonaws.com"},
                        ),
                        # Each tenant's backup location: its own data key here.
                        statement(
                            ["kms:Decrypt", "kms:GenerateDataKey"],
                            [f"arn:aws:kms:{s.region}:{v[1]}:key/*"],
                            StringEquals={"kms:ViaService": f"s3.{s.region}.amazonaws.com"},
                            **{"ForAnyValue:StringLike": {"kms:ResourceAliases": tenant_keys_pattern(s, s.stack)}},
                        ),
                        # EBS snapshots of persistent volumes; these APIs take no resource scoping.
                        statement(["ec2:DescribeVolumes", "ec2:DescribeSnapshots"], "*"),
                        statement(
                            ["ec2:CreateSnapshot", "ec2:CreateTags", "ec2:CreateVolume", "ec2:DeleteSnapshot"],
                            "*",
                            StringEquals={"aws:RequestedRegion": s.region},
                        ),
                    )
                ),
            ),
            child,
        )
        release(
            f"{name}-server",
            "velero",
            namespace,
            {
                "initContainers": [
                    {
                        "name": "velero-plugin-for-aws",
                        "image": VELERO_AWS_PLUGIN,
                        "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
                    }
                ],
                "configuration": {
                    "backupStorageLocation": [
                        {"name": "default", "provider": "aws", "bucket": bucket_name, "config": {"region": s.region}}
                    ],
                    "volumeSnapshotLocation": [{"name": "default", "provider": "aws", "config": {"region": s.region}}],
                },
                "credentials": {"useSecret": False},
                "serviceAccount": {
                    "server": {"name": "velero", "annotations": {"eks.amazonaws.com/role-arn": role.arn}}
                },
                "schedules": {},  # per-tenant Schedule objects below, one per namespace
                **SYSTEM_NODES,
            },
            self,
        )
        if s.dr is not None and s.dr.peer_deployed:  # the peer's Velero bucket exists
            self._replicate(name, s, args, bucket, tags)
        self.bucket = bucket.bucket.bucket
        self.register_outputs({"bucket": bucket_name})

    def _replicate(
        self, name: str, s: StackSettings, args: VeleroArgs, bucket: SecureBucket, tags: dict[str, str]
    ) -> None:
        """Only the backups of tenants whose residency holds the peer region, and who have a key of
        their own there, leave this region, re-encrypted with that key."""
        assert s.dr is not None
        peer = s.dr.peer_region
        allowed = [(t, key) for t in args.tenants if (key := peer_replica_key(s, t))]
        if not allowed:
            return
        child = pulumi.ResourceOptions(parent=self)
        destination = f"arn:aws:s3:::{velero_bucket(s, peer)}"
        role = aws.iam.Role(
            f"{name}-replication",
            name=velero_replication_role_name(s, s.region),  # the peer's tenant keys name it
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda a: service_trust("s3.amazonaws.com", a)
            ),
            tags=tags,
            opts=child,
        )

        def policy(values: list[str]) -> str:
            source, account = values
            return document(
                statement(["s3:GetReplicationConfiguration", "s3:ListBucket"], [source]),
                statement(
                    ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
                    [f"{source}/*"],
                ),
                statement(["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], [f"{destination}/*"]),
                statement(
                    ["kms:Decrypt"],
                    [f"arn:aws:kms:{s.region}:{account}:key/*"],
                    **{"ForAnyValue:StringLike": {"kms:ResourceAliases": tenant_keys_pattern(s, s.stack)}},
                ),
                *(
                    {
                        "Effect": "Allow",
                        "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                        **key_resource(f"arn:aws:kms:{peer}:{account}:{key}"),
                    }
                    for _, key in allowed
                ),
            )

        aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, args.account_id).apply(policy),
            opts=child,
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-backups",
            bucket=bucket.bucket.id,
            role=role.arn,
            rules=[
                aws.s3.BucketReplicationConfigRuleArgs(
                    id=f"{tenant.id}-to-{peer}",
                    priority=i,
                    status="Enabled",
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=f"{tenant.id}/"),
                    delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status="Disabled"
                    ),
                    source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                        sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                            status="Enabled"
                        )
                    ),
                    destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                        bucket=destination,
                        encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                            replica_kms_key_id=pulumi.Output.from_input(args.account_id).apply(
                                lambda a, key=key: f"arn:aws:kms:{peer}:{a}:{key}"
                            )
                        ),
                    ),
                )
                for i, (tenant, key) in enumerate(allowed)
            ],
            opts=child,
        )
