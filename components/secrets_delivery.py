"""Secrets Manager -> pods: the External Secrets Operator, whose IRSA role reads only the
platform's own secrets and may assume only the per-tenant secret-reader roles (one per tenant,
scoped to that tenant's secrets), so one tenant's SecretStore can never read another's."""

from dataclasses import dataclass

import pulumi

from catalog import StackSettings
from components.iam import document
from components.k8s_helpers import SYSTEM_NODES, addon_namespace, release
from components.service_account_role import ServiceAccountRole, ServiceAccountRoleArgs, statement
from components.tags import platform_tags

NAMESPACE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"


@dataclass
class SecretsDeliveryArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]


def tenant_secret_role_prefix(settings: StackSettings) -> str:
    """Name prefix of the per-tenant roles the operator may assume (created with each tenant)."""
    return f"{settings.name_prefix}-{settings.region}-secrets-"


def platform_secret_prefix(settings: StackSettings) -> str:
    return f"{settings.project}/{settings.stack}/platform/"


def operator_policy(settings: StackSettings, account_id: str) -> str:
    region = settings.region
    return document(
        statement(
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [f"arn:aws:secretsmanager:{region}:{account_id}:secret:{platform_secret_prefix(settings)}*"],
        ),
        statement(
            ["kms:Decrypt"],
            [f"arn:aws:kms:{region}:{account_id}:key/*"],
            StringEquals={"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"},
        ),
        statement(
            ["sts:AssumeRole"],
            [f"arn:aws:iam::{account_id}:role/{tenant_secret_role_prefix(settings)}*"],
        ),
    )


class SecretsDelivery(pulumi.ComponentResource):
    role: ServiceAccountRole

    def __init__(self, name: str, args: SecretsDeliveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:SecretsDelivery", name, None, opts)
        s = args.settings
        namespace = addon_namespace(f"{name}-ns", NAMESPACE, self)
        self.role = ServiceAccountRole(
            f"{name}-operator",
            ServiceAccountRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_provider_url=args.oidc_provider_url,
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                tags=platform_tags(s, "secrets-delivery"),
                policy=pulumi.Output.from_input(args.account_id).apply(lambda account: operator_policy(s, account)),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        release(
            f"{name}-operator",
            "external-secrets",
            namespace,
            {
                "installCRDs": True,
                "serviceAccount": {
                    "create": True,
                    "name": SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": self.role.arn},
                },
                **SYSTEM_NODES,
                "webhook": SYSTEM_NODES,
                "certController": SYSTEM_NODES,
            },
            self,
        )
        self.register_outputs({"operatorRoleArn": self.role.arn})
