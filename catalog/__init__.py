"""Typed, validated configuration: stack settings, the tier table and the tenant catalog.

Everything here is plain Python (no Pulumi imports) so it can be validated, tested and reused by the
offline runner and the policy pack alike.
"""

from catalog.errors import ConfigError
from catalog.model import Contact, Overrides, StackSettings, Tenant
from catalog.tiers import TIERS, Tier, effective_tier

__all__ = [
    "TIERS",
    "ConfigError",
    "Contact",
    "Overrides",
    "StackSettings",
    "Tenant",
    "Tier",
    "effective_tier",
]
