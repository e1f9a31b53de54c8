"""The pack: every rule, and the CrossGuard policies built from them."""

from pulumi_policy import Policy

from . import (
    access,
    api_gateway,
    audit,
    dynamodb,
    edge,
    encryption,
    identity,
    isolation,
    network,
    observability,
    platform,
    residency,
    resilience,
    serverless,
    storage,
    tenancy,
    warehouse,
    workloads,
)
from .rule import Rule, to_policy

PACK_NAME = "tenant-guard"

RULES: tuple[Rule, ...] = (
    *encryption.RULES,
    *network.RULES,
    *identity.RULES,
    *audit.RULES,
    *resilience.RULES,
    *tenancy.RULES,
    *residency.RULES,
    *platform.RULES,
    *edge.RULES,
    *storage.RULES,
    *dynamodb.RULES,
    *workloads.RULES,
    *access.RULES,
    *isolation.RULES,
    *observability.RULES,
    *serverless.RULES,
    *warehouse.RULES,
    *api_gateway.RULES,
)
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
POLICIES: list[Policy] = [to_policy(rule) for rule in RULES]

assert len(RULES_BY_NAME) == len(RULES), "policy names must be unique"
assert len({rule.id for rule in RULES}) == len(RULES), "rule ids must be unique"
