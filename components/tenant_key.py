"""A tenant's own customer-managed KMS key: encrypts its database, backups and secrets."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.iam import account_root_statement, document
from components.tags import tenant_tags


@dataclass
class TenantKeyArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]


class TenantKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: TenantKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantKey", name, None, opts)
        tenant = args.tenant
        self.key = aws.kms.Key(
            name,
            description=f"Data key of tenant {tenant.id} ({args.settings.stack})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(lambda a: document(account_root_statement(a))),
            tags=tenant_tags(args.settings, tenant),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias(
            name,
            name=f"alias/{args.settings.project}/{args.settings.stack}/tenant/{tenant.id}",
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.key.arn
        self.register_outputs({"keyArn": self.arn})
