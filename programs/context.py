"""What both programs start from: the AWS provider of the stack's region and the account."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.providers import regional_aws_provider


@dataclass(frozen=True)
class Region:
    settings: StackSettings
    provider: aws.Provider
    account_id: str

    @staticmethod
    def of(settings: StackSettings) -> "Region":
        provider = regional_aws_provider(settings)
        account_id = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=provider)).account_id
        return Region(settings, provider, account_id)

    @property
    def on_aws(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider)

    @property
    def log_retention_days(self) -> int:
        return 1096 if self.settings.environment == "prod" else 365  # NYDFS 500.06: 3 years; a year everywhere
