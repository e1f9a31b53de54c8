"""Velero backups of one tenant's namespace, built by its tenant stack: a backup location (its
prefix of the regional Velero bucket, SSE-KMS under the tenant's own key) and the tier's schedule.
The Velero server and bucket belong to the platform stack, deployed first."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from components.recovery.velero import NAMESPACE as VELERO_NAMESPACE
from components.recovery.velero import SCHEDULE, schedule_name
from components.shared.contract import moved_from
from components.shared.tags import tenant_labels


@dataclass
class NamespaceBackupsArgs:
    settings: StackSettings
    tenant: TenantConfig
    key_arn: pulumi.Input[str]  # the tenant's data key in this region
    bucket: pulumi.Input[str]  # the platform's Velero bucket (contract)


class NamespaceBackups(pulumi.ComponentResource):
    def __init__(self, name: str, args: NamespaceBackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:NamespaceBackups", name, None, opts)
        s, tenant = args.settings, args.tenant
        moved = pulumi.ResourceOptions(parent=self, aliases=moved_from("platform:index:Velero", "velero"))
        labels = tenant_labels(s, tenant)
        location = k8s.apiextensions.CustomResource(
            f"velero-{tenant.id}-location",
            api_version="velero.io/v1",
            kind="BackupStorageLocation",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=tenant.id, namespace=VELERO_NAMESPACE, labels=labels),
            spec={
                "provider": "aws",
                "objectStorage": {"bucket": args.bucket, "prefix": tenant.id},
                # velero-plugin-for-aws: SSE-KMS with this key for every object it uploads.
                "config": {"region": s.region, "kmsKeyId": args.key_arn},
            },
            opts=moved,
        )
        days = tenant.tier.database.backup_retention_days
        k8s.apiextensions.CustomResource(
            f"velero-{tenant.id}",
            api_version="velero.io/v1",
            kind="Schedule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=schedule_name(tenant), namespace=VELERO_NAMESPACE, labels=labels),
            spec={
                "schedule": SCHEDULE[tenant.tier.name],
                "template": {
                    "includedNamespaces": [tenant.namespace],
                    "snapshotVolumes": True,
                    "ttl": f"{days * 24}h0m0s",
                    "storageLocation": tenant.id,
                },
            },
            opts=pulumi.ResourceOptions.merge(moved, pulumi.ResourceOptions(depends_on=[location])),
        )
        self.register_outputs({"location": tenant.id})
