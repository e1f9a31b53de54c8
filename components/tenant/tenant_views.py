"""One tenant's operator views in its region: its Grafana (only its own data sources), the
dashboards ConfigMap its sidecar loads, and the DNS name through the regional entry. Built by
the tenant's stack into the platform's observability namespace, whose Grafana parts it shares."""

from dataclasses import dataclass

import pulumi

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from components.platform.observability import NAMESPACE, GrafanaParts
from components.shared.contract import moved_from
from components.shared.tags import platform_tags

OBSERVABILITY = "observability"  # the platform component's name: children keep their names


@dataclass
class TenantViewsArgs:
    settings: StackSettings
    tenant: TenantConfig
    kms_key_arn: pulumi.Input[str]  # the platform key, as for every Grafana credential
    entry_dns_name: pulumi.Input[str]
    entry_zone_id: pulumi.Input[str]


class TenantViews(GrafanaParts):
    def __init__(self, name: str, args: TenantViewsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantViews", name, None, opts)
        s, tenant = args.settings, args.tenant
        self.moved = moved_from(  # pyright: ignore[reportAttributeAccessIssue]
            "platform:index:Observability", OBSERVABILITY
        )
        self._dashboards(OBSERVABILITY, tenant)
        # Grafana cannot start without the client secret: its atomic release would roll back
        # and fail the whole deploy, so the views wait until the IdP admins have stored it.
        if s.operator_sso.client_secret_stored:
            tags = platform_tags(s, OBSERVABILITY)
            admin = self._grafana_admin(OBSERVABILITY, s, args, None, tags, tenant)
            self._tenant_views(OBSERVABILITY, s, args, tenant, NAMESPACE, [admin])
            self._may_read_dashboards(OBSERVABILITY, f"grafana-{tenant.id}", None)
        self.register_outputs({})
