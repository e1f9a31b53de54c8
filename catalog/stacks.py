"""The project's stacks come in two kinds, named so tooling can derive one from the other:

- a **platform stack** per environment and region (`dev`, `prod-us-east-1`): network, cluster,
  add-ons, shared data plane, observability, backup, edge ownership. Its `Pulumi.<stack>.yaml` is
  committed and is the region's only configuration.
- a **tenant stack** per tenant per region that serves it or holds its DR copies
  (`prod-us-east-1.harbor-mutual`): everything of that tenant there. Nobody writes its config: the
  tooling derives it from the platform stack's file and the catalog (`python -m planner stacks`).

A stack name never holds more than one `.`; platform stack names and tenant ids hold none."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalog import ConfigError
from catalog.model import StackSettings

SEPARATOR = "."
TENANT_KEY = "tenant"  # <project>:tenant in a tenant stack's derived config (informational)


@dataclass(frozen=True)
class StackName:
    platform: str  # the regional platform stack (the tenant stack's own platform)
    tenant: str | None = None

    @staticmethod
    def parse(name: str) -> "StackName":
        platform, dot, tenant = name.partition(SEPARATOR)
        if not platform or (dot and (not tenant or SEPARATOR in tenant)):
            raise ConfigError(
                f"Pulumi.{name}.yaml", "(stack name)", f"'{name}' is not <platform> or <platform>.<tenant>"
            )
        return StackName(platform, tenant or None)

    @property
    def is_tenant(self) -> bool:
        return self.tenant is not None

    def __str__(self) -> str:
        return f"{self.platform}{SEPARATOR}{self.tenant}" if self.tenant else self.platform


def tenant_stack(platform: str, tenant: str) -> str:
    return str(StackName(platform, tenant))


def tenants_with_stacks(settings: StackSettings) -> tuple[str, ...]:
    """Tenants with a stack under this platform stack: those served here (or promoted here) and
    those whose DR copies residency lets this region hold; on the edge owner's platform, every
    tenant of the environment (its CloudFront front-end). Catalog-only, so the set is known before
    any deploy; a DR stack whose primary does not exist yet plans nothing (see `skipped`)."""
    if settings.global_edge is not None:  # the edge owner's stacks hold every tenant's front-end
        return tuple(sorted(t.id for t in settings.tenants))
    served = {t.id for t in settings.served_tenants}
    return tuple(sorted(served | {t.id for t in settings.dr_candidates}))


def tenant_stacks(settings: StackSettings) -> tuple[str, ...]:
    return tuple(tenant_stack(settings.stack, t) for t in tenants_with_stacks(settings))


def derived_stack_file(platform_file: Mapping[str, Any], project: str, stack: StackName) -> dict[str, Any]:
    """The `Pulumi.<platform>.<tenant>.yaml` the tooling writes before a tenant stack's run: the
    platform stack's config, its encrypted values left out (a tenant stack reads none), naming the
    tenant. Never committed (.gitignore); the committed platform file stays the one source."""
    config = {
        key: value
        for key, value in (platform_file.get("config") or {}).items()
        if not (isinstance(value, Mapping) and set(value) == {"secure"})
    }
    config[f"{project}:{TENANT_KEY}"] = stack.tenant
    return {"config": config}
