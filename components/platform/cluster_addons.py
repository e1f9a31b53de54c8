"""AWS-managed EKS add-ons, pinned (components/shared/versions.py): kube-proxy, CoreDNS, the EBS CSI driver with its own role, an
encrypted gp3 default StorageClass, and CloudWatch Container Insights whose Fluent Bit delivers each
tenant namespace's container logs into that tenant's own log group (tenant key, tier retention)."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from catalog import StackSettings, Tenant
from components.shared.iam import document
from components.shared.service_account_role import ClusterOidc, ServiceAccountRole, statement
from components.shared.tags import platform_tags
from components.shared.versions import EKS_ADDONS
from components.tenant.tenant_observability import log_group_name

INSIGHTS_LOG_GROUPS = ("application", "dataplane", "host", "performance")

# The add-on's own application pipeline (amazon-cloudwatch-observability chart defaults), kept as
# is: container inputs and the kubernetes filter. Tenant routing and outputs are appended.
_APPLICATION_INPUTS = """[INPUT]
  Name                tail
  Tag                 application.*
  Exclude_Path        /var/log/containers/cloudwatch-agent*, /var/log/containers/fluent-bit*, /var/log/containers/aws-node*, /var/log/containers/kube-proxy*
  Path                /var/log/containers/*.log
  multiline.parser    docker, cri
  DB                  /var/fluent-bit/state/flb_container.db
  Mem_Buf_Limit       50MB
  Skip_Long_Lines     On
  Refresh_Interval    10
  Rotate_Wait         30
  storage.type        filesystem
  Read_from_Head      ${READ_FROM_HEAD}

[INPUT]
  Name                tail
  Tag                 application.*
  Path                /var/log/containers/fluent-bit*
  multiline.parser    docker, cri
  DB                  /var/fluent-bit/state/flb_log.db
  Mem_Buf_Limit       5MB
  Skip_Long_Lines     On
  Refresh_Interval    10
  Read_from_Head      ${READ_FROM_HEAD}

[INPUT]
  Name                tail
  Tag                 application.*
  Path                /var/log/containers/cloudwatch-agent*
  multiline.parser    docker, cri
  DB                  /var/fluent-bit/state/flb_cwagent.db
  Mem_Buf_Limit       5MB
  Skip_Long_Lines     On
  Refresh_Interval    10
  Read_from_Head      ${READ_FROM_HEAD}

[FILTER]
  Name                kubernetes
  Match               application.*
  Kube_URL            https://kubernetes.default.svc:443
  Kube_Tag_Prefix     application.var.log.containers.
  Merge_Log           On
  Merge_Log_Key       log_processed
  K8S-Logging.Parser  On
  K8S-Logging.Exclude Off
  Labels              Off
  Annotations         Off
  Use_Kubelet         On
  Kubelet_Port        10250
  Buffer_Size         0
"""


def _output(match: str, group: str) -> str:
    """A CloudWatch Logs output into a group the platform created (never auto-created unencrypted)."""
    return (
        "[OUTPUT]\n"
        "  Name                cloudwatch_logs\n"
        f"  Match               {match}\n"
        "  region              ${AWS_REGION}\n"
        f"  log_group_name      {group}\n"
        "  log_stream_prefix   ${HOST_NAME}-\n"
        "  auto_create_group   false\n"
        "  extra_user_agent    container-insights\n"
    )


def application_log_config(settings: StackSettings, tenants: Sequence[Tenant]) -> str:
    """Fluent Bit's application pipeline: a tenant namespace's records are re-tagged
    `tenant.<id>` and leave the shared stream (keep=false), then go to that tenant's own log
    group, which the platform created (no auto-create: a missing group is an error, not a
    silently unencrypted one). Everything else goes to Container Insights' application group."""
    parts = [_APPLICATION_INPUTS]
    if tenants:
        pattern = "|".join(t.namespace for t in tenants)
        parts.append(
            "[FILTER]\n"
            "  Name                  rewrite_tag\n"
            "  Match                 application.*\n"
            f"  Rule                  $kubernetes['namespace_name'] ^({pattern})$ tenant.$kubernetes['namespace_name'] false\n"
            "  Emitter_Name          tenant_logs\n"
            "  Emitter_Storage.type  filesystem\n"
            "  Emitter_Mem_Buf_Limit 50MB\n"
        )
        parts += [_output(f"tenant.{t.namespace}", log_group_name(settings, t)) for t in tenants]
    parts.append(_output("application.*", "/aws/containerinsights/${CLUSTER_NAME}/application"))
    return "\n".join(parts)


@dataclass
class ClusterAddonsArgs:
    settings: StackSettings
    cluster_name: pulumi.Input[str]  # an Output of the cluster, so every add-on waits for it
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    volume_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]  # Container Insights' own log groups
    log_retention_days: int
    node_groups: Sequence[pulumi.Resource]  # CoreDNS and the CSI controller need nodes to run on


class ClusterAddons(pulumi.ComponentResource):
    addons: dict[str, aws.eks.Addon]
    storage_class: k8s.storage.v1.StorageClass

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:ClusterAddons", name, None, opts)
        tags = platform_tags(args.settings, "cluster-addons")

        def role(
            sa_name: str,
            service_account: str,
            managed: tuple[str, ...],
            policy: pulumi.Input[str] | None = None,
            namespace: str = "kube-system",
        ) -> ServiceAccountRole:
            oidc = ClusterOidc(args.oidc_provider_arn, args.oidc_provider_url)
            return oidc.role(f"{name}-{sa_name}", self, namespace, service_account, tags, policy, managed)

        ebs_role = role(
            "ebs-csi",
            "ebs-csi-controller-sa",
            ("arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",),
            pulumi.Output.from_input(args.volume_key_arn).apply(
                lambda key: document(
                    statement(
                        ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                        [key],
                    ),
                    statement(
                        ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                        [key],
                        Bool={"kms:GrantIsForAWSResource": "true"},
                    ),
                )
            ),
        )

        def addon(
            addon_name: str,
            role_arn: pulumi.Input[str] | None = None,
            config: Mapping[str, object] | None = None,
            after: Sequence[pulumi.Resource] = (),
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=args.cluster_name,
                addon_name=addon_name,
                addon_version=EKS_ADDONS[addon_name],
                service_account_role_arn=role_arn,
                configuration_values=json.dumps(config) if config else None,
                # Adopt what EKS bootstrapped; later upgrades keep nothing hand-edited.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
            )

        insights_role = role(
            "container-insights",
            "cloudwatch-agent",
            (
                "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
                "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            ),
            namespace="amazon-cloudwatch",
        )
        self.addons = {
            "kube-proxy": addon("kube-proxy"),
            "coredns": addon("coredns", after=args.node_groups),
            "aws-ebs-csi-driver": addon("aws-ebs-csi-driver", ebs_role.arn, after=args.node_groups),
            "amazon-cloudwatch-observability": addon(
                "amazon-cloudwatch-observability",
                insights_role.arn,
                {
                    "containerLogs": {
                        "fluentBit": {
                            "config": {
                                "extraFiles": {
                                    "application-log.conf": application_log_config(
                                        args.settings, args.settings.served_tenants
                                    )
                                }
                            }
                        }
                    }
                },
                after=[*args.node_groups, *self._insights_log_groups(name, args, tags)],
            ),
        }

        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-gp3-encrypted",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gp3-encrypted",
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain",  # a deleted claim must not delete tenant data
            parameters=pulumi.Output.from_input(args.volume_key_arn).apply(
                lambda key: {"type": "gp3", "encrypted": "true", "kmsKeyId": key}
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.addons["aws-ebs-csi-driver"]]),
        )
        self.register_outputs({addon_name: a.addon_version for addon_name, a in self.addons.items()})

    def _insights_log_groups(
        self, name: str, args: ClusterAddonsArgs, tags: dict[str, str]
    ) -> list[aws.cloudwatch.LogGroup]:
        """Created before the agent would create them unencrypted and kept forever."""
        return [
            aws.cloudwatch.LogGroup(
                f"{name}-insights-{group}",
                name=pulumi.Output.concat("/aws/containerinsights/", args.cluster_name, f"/{group}"),
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_key_arn,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, protect=True),
            )
            for group in INSIGHTS_LOG_GROUPS
        ]
