"""The stack's explicit regional AWS provider: every AWS resource and invoke goes through it."""

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.shared.tags import provider_default_tags


def regional_aws_provider(settings: StackSettings) -> aws.Provider:
    return aws.Provider(
        f"aws-{settings.region}",
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=provider_default_tags(settings)),
    )


def config_value(key: str) -> str | None:
    """Raw Pulumi config value for `namespace:name` (JSON text for structured values)."""
    namespace, _, name = key.rpartition(":")
    return pulumi.Config(namespace or None).get(name)
