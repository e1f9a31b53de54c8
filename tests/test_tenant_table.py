"""Issue 14, items 4 and 8: each tenant's DynamoDB table (TenantTable) and production Multi-AZ for
every tenant database. Component properties under the mock engine, the key and role policies that
let only the tenant's own roles use the table, and the environment rule on the tier table."""

import json
from dataclasses import replace
from typing import Any

import pytest

from catalog import TIERS, StackSettings
from catalog.tiers import for_environment
from components.tenant.tenant_permissions import STREAM_ACTIONS, TABLE_ACTIONS
from components.tenant.tenant_table import table_name, table_replica_regions
from tests.helpers import of_type, settings_for, single

TABLE = "aws:dynamodb/table:Table"


@pytest.fixture(scope="module")
def dev() -> StackSettings:
    return settings_for("dev")


@pytest.fixture(scope="module")
def premium(dev: StackSettings) -> list[Any]:
    from tests.test_components import tenant_resources

    return tenant_resources(dev, "premium")


# ------------------------------------------------------------------------------ item 8


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_production_makes_every_tier_multi_az_and_dev_keeps_the_tier(tier: str) -> None:
    base = TIERS[tier]
    assert for_environment(base, "prod").database.multi_az is True
    assert for_environment(base, "dev") == base
    # Only adds protection: nothing else of the tier changes.
    assert replace(for_environment(base, "prod"), database=base.database) == base


def test_loader_applies_the_environment_rule_to_every_tenant() -> None:
    for stack in ("prod-us-east-1", "prod-us-west-2", "prod-ca-central-1"):
        assert all(t.tier.database.multi_az for t in settings_for(stack).tenants), stack
    dev = {t.id: t.tier.database.multi_az for t in settings_for("dev").tenants}
    assert dev["demo-basic"] is False and dev["demo-premium"] is True


# ------------------------------------------------------------------------------ item 4


@pytest.mark.parametrize("tier", ["basic", "premium"])
def test_table_is_encrypted_recoverable_protected_and_sized_by_tier(dev: StackSettings, tier: str) -> None:
    from tests.test_components import tenant_resources

    regs = tenant_resources(dev, tier)
    tenant = next(t for t in dev.tenants if t.tier.name == tier)
    table = single(regs, TABLE)
    i = table.inputs
    (key,) = [r for r in of_type(regs, "aws:kms/key:Key") if not r.name.endswith("-pii")]
    assert i["name"] == table_name(dev, tenant) and tenant.id in i["name"]
    assert i["serverSideEncryption"]["enabled"] is True
    assert i["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert key.urn in table.options["dependsOn"], "the table is encrypted with the tenant's own key"
    assert i["pointInTimeRecovery"] == {
        "enabled": True,
        "recoveryPeriodInDays": min(35, tenant.tier.database.backup_retention_days),
    }
    assert i["deletionProtectionEnabled"] is True and table.options["protect"] is True
    assert i["billingMode"] == "PAY_PER_REQUEST"
    assert i["onDemandThroughput"] == {
        "maxReadRequestUnits": TIERS[tier].table.max_read_request_units,
        "maxWriteRequestUnits": TIERS[tier].table.max_write_request_units,
    }
    assert i["streamEnabled"] is True and i["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert i["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert "replicas" not in i  # DR is AWS Backup copies inside residency (see tenant_table.py)
    assert i["tags"]["tenant"] == tenant.id and i["tags"]["tier"] == tier


def test_table_is_in_the_tenants_backup_selection(premium: list[Any]) -> None:
    (selection,) = [
        s.inputs for s in of_type(premium, "aws:backup/selection:Selection") if not s.name.endswith("-snapshots")
    ]  # the other one selects its warehouse (test_warehouse)
    assert any(r.endswith(":table/ip-dev-demo-premium-records") for r in selection["resources"])


def test_tenant_key_lets_its_roles_use_the_table_only_through_dynamodb(premium: list[Any]) -> None:
    key = next(r for r in of_type(premium, "aws:kms/key:Key") if not r.name.endswith("-pii"))
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    workloads = statements["TenantWorkloadsThroughAwsServices"]
    assert "dynamodb.us-east-1.amazonaws.com" in workloads["Condition"]["StringEquals"]["kms:ViaService"]
    own = {r.inputs["name"] for r in of_type(premium, "aws:iam/role:Role") if r.inputs.get("name")}
    assert all(p.rsplit("/", 1)[-1] in own for p in workloads["Principal"]["AWS"])
    grants = statements["DeployRoleGrantsToAwsServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert "dynamodb.us-east-1.amazonaws.com" in grants  # CreateTable with the key creates DynamoDB's grant
    backup = statements["AwsBackupBacksUpAndRestores"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert "dynamodb.us-east-1.amazonaws.com" in backup
    describe = statements["DynamoDbDescribesTheKey"]
    assert describe["Principal"] == {"Service": "dynamodb.amazonaws.com"}
    assert set(describe["Action"]) == {"kms:DescribeKey", "kms:ListGrants"}


def test_workload_roles_reach_only_their_own_table_indexes_and_stream(premium: list[Any]) -> None:
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/ip-dev-demo-premium-records"
    policies = [r for r in of_type(premium, "aws:iam/rolePolicy:RolePolicy") if "permissions" in r.name]
    # The aggregator's role reaches the cache only (tests/test_aggregator.py): no table.
    workloads = [p for p in policies if not p.name.endswith(("-secrets", "-aggregator"))]
    assert workloads
    for p in workloads:
        doc = json.loads(p.inputs["policy"])
        table = [s for s in doc["Statement"] if any(str(a).startswith("dynamodb:") for a in s["Action"])]
        by_sid = {s["Sid"]: s for s in table}
        assert set(by_sid) == {"OwnTable", "OwnTableStream"}, p.name
        assert by_sid["OwnTable"]["Resource"] == [arn, f"{arn}/index/*"]
        assert by_sid["OwnTable"]["Action"] == TABLE_ACTIONS and "dynamodb:Scan" not in TABLE_ACTIONS
        assert by_sid["OwnTableStream"]["Resource"] == [f"{arn}/stream/*"]
        assert by_sid["OwnTableStream"]["Action"] == STREAM_ACTIONS
    # Nothing else in the tenant's stack may touch a table.
    for p in policies:
        if p in workloads:
            continue
        assert "dynamodb:" not in p.inputs["policy"], p.name


def test_tables_live_only_in_the_home_region() -> None:
    from tests.test_components import tenant_resources

    west = settings_for("prod-us-west-2")
    served = next(t for t in west.tenants if t.tier.name == "premium")  # what tenant_resources builds
    assert served.id == "harbor-mutual" and served.home_region != west.region
    regs = tenant_resources(west, "premium")
    assert of_type(regs, TABLE) == []
    assert all("dynamodb:" not in r.inputs["policy"] for r in of_type(regs, "aws:iam/rolePolicy:RolePolicy"))


def test_replica_regions_stay_inside_residency_and_its_zone() -> None:
    maple = next(t for t in settings_for("prod-ca-central-1").tenants if t.id == "maple-mutual")
    assert table_replica_regions(maple, ["ca-central-1", "ca-west-1", "us-east-1"]) == ["ca-west-1"]
    mixed = replace(maple, residency=("ca-central-1", "us-east-1"))
    assert table_replica_regions(mixed, ["us-east-1", "ca-west-1"]) == []  # never mixes zones
