"""The one typed contract between a regional platform stack and its tenant stacks.

The platform stack exports it (`contract`, plus the secret `kubeconfig` on its own so the rest
stays readable in plans and previews); every tenant stack reads it through a StackReference,
never through copied values, so a platform change reaches each tenant on its next deploy. Adding a
field here is the only way a tenant stack gets something new from the platform."""

from dataclasses import dataclass, field, fields
from typing import Any

import pulumi
from pulumi.output import UNKNOWN

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
    vpc_id: pulumi.Output[str] = field(metadata={"doc": "the region's VPC: tenant security groups live in it"})
    cluster_name: pulumi.Output[str] = field(
        metadata={"doc": "the EKS cluster (resolves once it and its access entries exist): operator access entries"}
    )
    oidc_provider_arn: pulumi.Output[str] = field(
        metadata={"doc": "the cluster's IRSA provider: tenant workload roles trust it"}
    )
    oidc_provider_url: pulumi.Output[str] = field(
        metadata={"doc": "its issuer URL, for the trust condition on the service account"}
    )
    shared_pod_security_group_id: pulumi.Output[str] = field(
        metadata={"doc": "the group every tenant pod carries (platform services, the cache)"}
    )
    private_subnet_ids: pulumi.Output[list[str]] = field(
        metadata={"doc": "the private subnets, one per AZ (a list): tenant job processors (Lambda) attach across them"}
    )
    endpoints_security_group_id: pulumi.Output[str] = field(
        metadata={"doc": "the VPC endpoints' group: the only HTTPS egress of a tenant's job processors"}
    )
    db_subnet_group_name: pulumi.Output[str] = field(
        metadata={"doc": "DB subnet group of the data subnets: tenant databases and DR replicas"}
    )
    db_parameter_group_name: pulumi.Output[str] = field(
        metadata={"doc": "the TLS-only MariaDB parameter group (`*-tls`)"}
    )
    db_option_group_name: pulumi.Output[str] = field(metadata={"doc": "the MariaDB audit-plugin option group"})
    db_monitoring_role_arn: pulumi.Output[str] = field(metadata={"doc": "the RDS enhanced-monitoring role"})
    cache_host: pulumi.Output[str] = field(metadata={"doc": "the regional Redis primary endpoint"})
    cache_replication_group_id: pulumi.Output[str] = field(
        metadata={"doc": "the Redis replication group: tenant services sign their IAM tokens for it"}
    )
    velero_bucket: pulumi.Output[str] = field(
        metadata={"doc": "the regional Velero bucket: the tenant's backup location writes under its prefix"}
    )
    cache_user_group_id: pulumi.Output[str] = field(
        metadata={"doc": "the Redis user group a tenant's cache user joins (UserGroupAssociation)"}
    )
    backup_role_arn: pulumi.Output[str] = field(metadata={"doc": "AWS Backup's role: tenant keys grant it"})
    entry_dns_name: pulumi.Output[str] = field(
        metadata={"doc": "the regional public entry (ALB): latency records and tenant views point at it"}
    )
    entry_zone_id: pulumi.Output[str] = field(metadata={"doc": "its hosted zone id, for alias records"})
    platform_data_key_arn: pulumi.Output[str] = field(
        metadata={"doc": "the platform data key: Grafana credentials of the tenant views"}
    )
    s3_prefix_list_id: pulumi.Output[str] = field(
        metadata={"doc": "the S3 gateway endpoint's prefix list: a premium tenant's warehouse egress (COPY)"}
    )
    api_usage_plan_ids: pulumi.Output[dict[str, str]] = field(
        metadata={
            "doc": "the public API's usage plan per tier (tier -> id): the tenant's own API key joins its tier's plan"
        }
    )
    api_domain_name: pulumi.Output[str] = field(
        metadata={"doc": "the API's regional domain name (`*.api.<domain>`): the tenant's latency record aliases it"}
    )
    api_domain_zone_id: pulumi.Output[str] = field(metadata={"doc": "its hosted zone id, for the alias record"})
    api_mapping_prefix: pulumi.Output[str] = field(
        metadata={"doc": "SSM path of the authorizer's tenant entries: the tenant writes `<prefix>/<tenant>`"}
    )
    api_mapping_key_arn: pulumi.Output[str] = field(
        metadata={"doc": "the key the tenant's authorizer entry (SecureString) is encrypted with"}
    )
    kubeconfig: pulumi.Output[str] = field(
        metadata={
            "doc": "the cluster's kubeconfig (a secret output of its own): the tenant stack's Kubernetes provider"
        }
    )

    def export(self) -> None:
        """Stack outputs of the platform stack (call once, in its program)."""
        pulumi.export(OUTPUT, {_camel(f.name): getattr(self, f.name) for f in fields(self) if f.name != KUBECONFIG})
        pulumi.export(KUBECONFIG, pulumi.Output.secret(self.kubeconfig))

    @staticmethod
    def read(reference: pulumi.StackReference) -> "PlatformContract":
        """The contract as a tenant stack sees it. A field the platform stack does not export yet
        (not deployed with this version: a pull request adding a field, a migration before the
        platform's first `up` of the split) is unknown in a preview, as a resource output not
        created yet is, and fails a deploy with the field's name."""

        def pick(outputs: Any, key: str) -> Any:
            value = outputs.get(key) if isinstance(outputs, dict) else None
            if value is not None:
                return value
            if pulumi.runtime.is_dry_run():
                return pulumi.Output.from_input(UNKNOWN)
            raise pulumi.RunError(f"platform stack output '{key}' is missing: deploy the platform stack first")

        contract = reference.get_output(OUTPUT)

        def read_field(key: str) -> pulumi.Output[Any]:
            return contract.apply(lambda c: pick(c, key))

        values = {f.name: read_field(_camel(f.name)) for f in fields(PlatformContract) if f.name != KUBECONFIG}
        kubeconfig = reference.get_output(KUBECONFIG).apply(lambda k: pick({KUBECONFIG: k}, KUBECONFIG))
        return PlatformContract(**values, kubeconfig=kubeconfig)

    @staticmethod
    def reference_table() -> str:
        """The README's table of the contract (make docs)."""
        rows = ["| output key | field | what the tenant stack uses it for |", "|---|---|---|"]
        for f in fields(PlatformContract):
            key = f"`{OUTPUT}.{_camel(f.name)}`" if f.name != KUBECONFIG else f"`{KUBECONFIG}` (secret)"
            rows.append(f"| {key} | `{f.name}` | {f.metadata['doc']} |")
        return "\n".join(rows) + "\n"

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
