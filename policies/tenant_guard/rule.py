"""A rule = the metadata a compliance reviewer reads + one plain check function.

Resource checks take one `Res`; stack checks take every `Res` of the stack. `to_policy` wraps a
rule into the CrossGuard policy object that both `pulumi preview --policy-pack` and the offline
evaluator run, so there is one implementation of each rule.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .frameworks import Framework


@dataclass
class Res:
    """What a check sees of one resource, whichever engine path produced it."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    parent_urn: str | None = None
    provider_type: str | None = None
    provider_name: str | None = None
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    @property
    def region(self) -> str | None:
        """Effective AWS region: the resource's own `region` input, else its provider's."""
        own = self.props.get("region") if "region" in list(self.props.keys()) else None
        if isinstance(own, str) and own:
            return own
        region = self.provider_props.get("region") if "region" in list(self.provider_props.keys()) else None
        return region if isinstance(region, str) and region else None


ResourceCheck = Callable[[Res, Mapping[str, Any]], Iterable[str]]
Subject = Callable[[Res], bool]
StackCheck = Callable[[Sequence[Res], Mapping[str, Any]], Iterable[tuple[str, str | None]]]


@dataclass(frozen=True)
class Rule:
    id: str  # stable control id, e.g. ENC-RDS-1
    name: str  # CrossGuard policy name (stable, kebab-case)
    title: str
    summary: str  # one line for the README rule table
    description: str  # what it checks and why, for a compliance reviewer
    severity: Severity
    enforcement: EnforcementLevel
    frameworks: tuple[Framework, ...]
    remediation: str
    resource_types: tuple[str, ...] = ()  # for resource rules; "aws:*" matches a whole package
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    config_schema: Mapping[str, Any] | None = None
    # What a stack rule examines, one resource at a time: the reports count these, so a rule with
    # nothing to examine in a stack reads "not applicable" rather than "pass". Resource rules
    # examine the resources of their types.
    subject: Subject | None = None

    @property
    def is_stack_rule(self) -> bool:
        return self.stack_check is not None

    def examines(self, r: Res) -> bool:
        """Whether the rule examines `r` (counted as "checked" in the reports)."""
        return self.subject(r) if self.subject is not None else self.applies_to(r.type)

    def applies_to(self, resource_type: str) -> bool:
        return any(
            resource_type == t or (t.endswith("*") and resource_type.startswith(t[:-1])) for t in self.resource_types
        )


def of_types(*types: str) -> Subject:
    """A stack rule's subject: the resources of these types."""
    return lambda r: r.type in types


def res_from_args(args: ResourceValidationArgs) -> Res:
    provider = args.provider
    return Res(
        type=args.resource_type,
        urn=args.urn,
        name=args.name,
        props=args.props,
        protect=bool(args.opts.protect) if args.opts else False,
        parent_urn=args.opts.parent if args.opts else None,
        provider_type=provider.resource_type if provider else None,
        provider_name=provider.name if provider else None,
        provider_props=provider.props if provider else {},
    )


def res_from_policy_resource(r: PolicyResource) -> Res:
    provider = r.provider
    return Res(
        type=r.resource_type,
        urn=r.urn,
        name=r.name,
        props=r.props,
        protect=bool(r.opts.protect) if r.opts else False,
        parent_urn=r.parent.urn if r.parent else None,
        provider_type=provider.resource_type if provider else None,
        provider_name=provider.name if provider else None,
        provider_props=provider.props if provider else {},
        dependencies=tuple(d.urn for d in r.dependencies),
    )


def to_policy(rule: Rule) -> Policy:
    common: dict[str, Any] = dict(
        name=rule.name,
        description=f"[{rule.id}] {rule.description}",
        enforcement_level=rule.enforcement,
        display_name=rule.title,
        severity=rule.severity,
        framework=PolicyComplianceFramework(
            name=rule.frameworks[0].name,
            version=rule.frameworks[0].version,
            reference=rule.frameworks[0].reference,
        ),
        tags=[rule.id, *(str(f) for f in rule.frameworks)],
        remediation_steps=rule.remediation,
        config_schema=PolicyConfigSchema(properties=dict(rule.config_schema)) if rule.config_schema else None,
    )
    if rule.stack_check is not None:
        stack_check = rule.stack_check

        def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
            resources = [res_from_policy_resource(r) for r in args.resources]
            for message, urn in stack_check(resources, args.get_config()):
                report(message, urn)

        return StackValidationPolicy(validate=validate_stack, **common)

    assert rule.check is not None, f"{rule.id} has no check"
    check = rule.check

    def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        for message in check(res_from_args(args), args.get_config()):
            report(message, None)

    return ResourceValidationPolicy(validate=validate_resource, **common)
