"""Tags and labels: every resource says which stack made it; tenant resources say whose they are."""

from catalog import StackSettings, Tenant

DATA_CLASSIFICATION = "confidential-npi"  # tenant data holds nonpublic personal information


def provider_default_tags(settings: StackSettings) -> dict[str, str]:
    """Applied by the regional AWS provider to every AWS resource."""
    return {
        "project": settings.project,
        "environment": settings.environment,
        "stack": settings.stack,
        "managed-by": "pulumi",
    }


def platform_tags(settings: StackSettings, component: str) -> dict[str, str]:
    return {"environment": settings.environment, "component": component, "owner": "platform"}


def tenant_tags(settings: StackSettings, tenant: Tenant) -> dict[str, str]:
    """Cost allocation, policy attribution and residency travel with each tenant resource."""
    return {
        "tenant": tenant.id,
        "tier": tenant.tier.name,
        "environment": settings.environment,
        "residency": "+".join(tenant.residency),
        "data-classification": DATA_CLASSIFICATION,
    }


def tenant_labels(settings: StackSettings, tenant: Tenant) -> dict[str, str]:
    return {
        "tenant": tenant.id,
        "tier": tenant.tier.name,
        "environment": settings.environment,
        "app.kubernetes.io/managed-by": "pulumi",
    }
