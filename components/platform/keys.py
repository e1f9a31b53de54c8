"""Regional platform KMS keys: one per purpose, rotation on, protected from deletion."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.iam import account_root_statement, document, logs_key_policy
from components.shared.tags import platform_tags


@dataclass
class PlatformKeysArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]


class PlatformKeys(pulumi.ComponentResource):
    """Customer-managed keys for platform logs, Kubernetes secrets, volumes and platform data."""

    logs: aws.kms.Key
    cluster_secrets: aws.kms.Key
    node_volumes: aws.kms.Key
    platform_data: aws.kms.Key

    def __init__(self, name: str, args: PlatformKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:PlatformKeys", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "keys")
        region = s.region

        def volumes_policy(account_id: str) -> str:
            # EC2 Auto Scaling launches the managed node groups' instances with encrypted volumes.
            autoscaling = (
                f"arn:aws:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
                "AWSServiceRoleForAutoScaling"
            )
            return document(
                account_root_statement(account_id),
                {
                    "Sid": "AutoScalingUsesKeyForNodeVolumes",
                    "Effect": "Allow",
                    "Principal": {"AWS": autoscaling},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "AutoScalingGrantsForAttachedVolumes",
                    "Effect": "Allow",
                    "Principal": {"AWS": autoscaling},
                    "Action": "kms:CreateGrant",
                    "Resource": "*",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                },
            )

        def root_only(account_id: str) -> str:
            return document(account_root_statement(account_id))

        account = pulumi.Output.from_input(args.account_id)
        self.logs = self._key(
            name, "logs", "platform CloudWatch Logs", account.apply(lambda a: logs_key_policy(a, region)), tags
        )
        self.cluster_secrets = self._key(
            name, "cluster-secrets", "EKS envelope encryption of Kubernetes secrets", account.apply(root_only), tags
        )
        self.node_volumes = self._key(
            name, "node-volumes", "EBS volumes of EKS worker nodes", account.apply(volumes_policy), tags
        )
        self.platform_data = self._key(
            name, "platform-data", "platform data at rest (cache, platform buckets)", account.apply(root_only), tags
        )
        self.register_outputs(
            {
                "logsKeyArn": self.logs.arn,
                "clusterSecretsKeyArn": self.cluster_secrets.arn,
                "nodeVolumesKeyArn": self.node_volumes.arn,
                "platformDataKeyArn": self.platform_data.arn,
            }
        )

    def _key(
        self, name: str, purpose: str, description: str, policy: pulumi.Input[str], tags: dict[str, str]
    ) -> aws.kms.Key:
        key = aws.kms.Key(
            f"{name}-{purpose}",
            description=f"{description} ({pulumi.get_stack()})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            tags={**tags, "purpose": purpose},
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias(
            f"{name}-{purpose}",
            name=f"alias/{pulumi.get_project()}/{pulumi.get_stack()}/{purpose}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key
