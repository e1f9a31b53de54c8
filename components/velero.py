"""Velero: Kubernetes-level backups, one schedule per tenant namespace (frequency and TTL from the
tier) so one tenant can be restored alone, into a KMS-encrypted bucket whose replication to the
peer region copies only the backups of tenants whose residency allows that region."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.iam import document, service_trust
from components.k8s_helpers import SYSTEM_NODES, addon_namespace, release
from components.secure_bucket import SecureBucket, SecureBucketArgs, replication_policy
from components.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.tags import platform_tags
from components.versions import VELERO_AWS_PLUGIN

NAMESPACE = "velero"
SCHEDULE = {"premium": "0 */4 * * *", "standard": "0 */12 * * *", "basic": "0 2 * * *"}


def velero_bucket(settings: StackSettings, region: str) -> str:
    return f"{settings.name_prefix}-{region}-velero"


def schedule_name(tenant: Tenant) -> str:
    return f"{tenant.id}-namespace"


@dataclass
class VeleroArgs:
    settings: StackSettings
    tenants: Sequence[Tenant]  # served here
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]


class Velero(pulumi.ComponentResource):
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
                policy=pulumi.Output.from_input(args.kms_key_arn).apply(
                    lambda key: document(
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
                            [key],
                            StringEquals={"kms:ViaService": f"s3.{s.region}.amazonaws.com"},
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
        server = release(
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
        for tenant in args.tenants:
            days = tenant.tier.database.backup_retention_days
            k8s.apiextensions.CustomResource(
                f"{name}-{tenant.id}",
                api_version="velero.io/v1",
                kind="Schedule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=schedule_name(tenant),
                    namespace=NAMESPACE,
                    labels={"tenant": tenant.id, "tier": tenant.tier.name},
                ),
                spec={
                    "schedule": SCHEDULE[tenant.tier.name],
                    "template": {
                        "includedNamespaces": [tenant.namespace],
                        "snapshotVolumes": True,
                        "ttl": f"{days * 24}h0m0s",
                        "storageLocation": "default",
                    },
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[server]),
            )
        if s.dr is not None and s.dr.peer_deployed:  # the peer's Velero bucket exists
            self._replicate(name, s, args, bucket, tags)
        self.register_outputs({"bucket": bucket_name})

    def _replicate(
        self, name: str, s: StackSettings, args: VeleroArgs, bucket: SecureBucket, tags: dict[str, str]
    ) -> None:
        """Only the backups of tenants whose residency holds the peer region leave this region."""
        assert s.dr is not None
        peer = s.dr.peer_region
        allowed = [t for t in args.tenants if peer in t.residency]
        if not allowed:
            return
        child = pulumi.ResourceOptions(parent=self)
        destination = f"arn:aws:s3:::{velero_bucket(s, peer)}"
        peer_key = f"alias/{s.project}/{s.dr.peer_stack}/platform-data"
        role = aws.iam.Role(
            f"{name}-replication",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda a: service_trust("s3.amazonaws.com", a)
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-replication",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, args.account_id, args.kms_key_arn).apply(
                lambda v: replication_policy(v[0], destination, v[2], f"arn:aws:kms:{peer}:{v[1]}:{peer_key}")
            ),
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
                    filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=f"backups/{schedule_name(tenant)}"),
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
                                lambda a: f"arn:aws:kms:{peer}:{a}:{peer_key}"
                            )
                        ),
                    ),
                )
                for i, tenant in enumerate(allowed)
            ],
            opts=child,
        )
