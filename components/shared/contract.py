"""The one typed contract between a regional platform stack and its tenant stacks.

The platform stack exports it (`contract`, plus the secret `kubeconfig` on its own so the rest
stays readable in plans and previews); every tenant stack reads it through a StackReference,
never through copied values, so a platform change reaches each tenant on its next deploy. Adding a
field here is the only way a tenant stack gets something new from the platform."""

from dataclasses import dataclass, fields
from typing import Any

import pulumi

OUTPUT = "contract"
KUBECONFIG = "kubeconfig"


def platform_reference_name(project: str, platform_stack: str) -> str:
    """`organization/<project>/<stack>`: the DIY backend's (S3 state bucket) qualified name."""
    return f"organization/{project}/{platform_stack}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class PlatformContract:
    vpc_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]  # resolves once the cluster and its access entries exist
    oidc_provider_arn: pulumi.Output[str]  # IRSA: tenant workload roles trust it
    oidc_provider_url: pulumi.Output[str]
    shared_pod_security_group_id: pulumi.Output[str]  # platform services every tenant pod needs
    db_subnet_group_name: pulumi.Output[str]
    db_parameter_group_name: pulumi.Output[str]
    db_option_group_name: pulumi.Output[str]
    db_monitoring_role_arn: pulumi.Output[str]
    cache_host: pulumi.Output[str]  # the regional Redis primary endpoint
    cache_user_group_id: pulumi.Output[str]  # tenant cache users join it (UserGroupAssociation)
    backup_role_arn: pulumi.Output[str]  # AWS Backup's role: tenant keys grant it
    entry_dns_name: pulumi.Output[str]  # the regional public entry (ALB), for latency records
    entry_zone_id: pulumi.Output[str]
    platform_data_key_arn: pulumi.Output[str]  # Grafana credentials of the tenant views
    kubeconfig: pulumi.Output[str]  # secret

    def export(self) -> None:
        """Stack outputs of the platform stack (call once, in its program)."""
        pulumi.export(OUTPUT, {_camel(f.name): getattr(self, f.name) for f in fields(self) if f.name != KUBECONFIG})
        pulumi.export(KUBECONFIG, pulumi.Output.secret(self.kubeconfig))

    @staticmethod
    def read(reference: pulumi.StackReference) -> "PlatformContract":
        """The contract as a tenant stack sees it; a missing field fails the tenant's deploy with
        the field's name (the platform stack has not been deployed with this version yet)."""
        contract = reference.require_output(OUTPUT)

        def field(name: str) -> pulumi.Output[str]:
            key = _camel(name)

            def pick(value: Any) -> Any:
                if not isinstance(value, dict) or key not in value:
                    raise pulumi.RunError(
                        f"platform stack output '{OUTPUT}' has no '{key}': deploy the platform stack first"
                    )
                return value[key]

            return contract.apply(pick)

        values = {f.name: field(f.name) for f in fields(PlatformContract) if f.name != KUBECONFIG}
        return PlatformContract(**values, kubeconfig=reference.require_output(KUBECONFIG).apply(str))

    @staticmethod
    def output_keys() -> list[str]:
        return sorted(_camel(f.name) for f in fields(PlatformContract) if f.name != KUBECONFIG)


def moved_from(parent_type: str, parent_name: str) -> list[pulumi.Alias]:
    """Aliases of a resource that the one-stack-per-region layout created under a platform
    component (`parent_type`/`parent_name`) and this tenant stack now owns. `pulumi state move`
    (docs/migration.md) brings it here either re-parented to the stack root or, with
    `--include-parents`, under a copy of that component: both URNs resolve to this resource."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    former = f"urn:pulumi:{stack}::{project}::{parent_type}::{parent_name}"
    return [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE), pulumi.Alias(parent=former)]
