"""Issue 14 item 7 for the data path (DynamoDB table, Kinesis stream, Firehose delivery, landing
bucket, Lambda processors): alarm coverage, DR report, DynamoDB backup copies, image provenance,
tagging, protection and residency extend to them."""

import copy
from typing import Any

import pytest

from catalog.tiers import TIERS
from components.tenant.tenant_observability import DELIVERY_FRESHNESS_SECONDS, ITERATOR_AGE_SHARE_OF_RETENTION
from planner.policy import environment_config, evaluate
from policies.tenant_guard.observability import DATA_PATH_ALARMS, alarm_coverage, watched_series
from policies.tenant_guard.rule import Res
from tests.conftest import resources_of

Plan = dict[str, Any]
DEV_CONFIG = environment_config("dev")
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"
DELIVERY = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
TENANTS = ("demo-basic", "demo-standard", "demo-premium")


def _alarms(plan: Plan, tenant: str) -> dict[str, dict[str, Any]]:
    return {str(r["inputs"]["tags"].get("signal")): r for r in resources_of(plan, ALARM) if r["tenant"] == tenant}


# ------------------------------------------------------------------ alarm coverage (OBS-1)


@pytest.mark.parametrize("tenant", TENANTS)
def test_table_stream_and_delivery_alarm_to_the_tenants_topics(plans: dict[str, Plan], tenant: str) -> None:
    plan = plans["dev"]
    alarms = _alarms(plan, tenant)
    tier = TIERS[alarms["stream-iterator-age"]["inputs"]["tags"]["tier"]]
    (table,) = [r for r in resources_of(plan, TABLE) if r["tenant"] == tenant]
    (stream,) = [r for r in resources_of(plan, STREAM) if r["tenant"] == tenant]
    (delivery,) = [r for r in resources_of(plan, DELIVERY) if r["tenant"] == tenant]
    topics = {
        r["inputs"]["tags"]["severity"]: r["inputs"]["name"]
        for r in resources_of(plan, "aws:sns/topic:Topic")
        if r["tenant"] == tenant and "severity" in r["inputs"]["tags"]
    }
    for signal in ("table-throttles", "table-errors"):
        (query,) = alarms[signal]["inputs"]["metricQueries"]
        assert f"WHERE TableName = '{table['inputs']['name']}'" in query["expression"]
        assert 'SCHEMA("AWS/DynamoDB", Operation, TableName)' in query["expression"]
    age = alarms["stream-iterator-age"]["inputs"]
    assert age["dimensions"] == {"StreamName": stream["inputs"]["name"]}
    assert age["threshold"] == tier.event_retention_hours * 3600 * 1000 * ITERATOR_AGE_SHARE_OF_RETENTION
    assert alarms["stream-write-throttles"]["inputs"]["metricName"] == "WriteProvisionedThroughputExceeded"
    fresh = alarms["delivery-freshness"]["inputs"]
    assert fresh["dimensions"] == {"DeliveryStreamName": delivery["inputs"]["name"]}
    assert fresh["threshold"] == DELIVERY_FRESHNESS_SECONDS
    assert alarms["delivery-success"]["inputs"]["comparisonOperator"] == "LessThanThreshold"
    for signal in (
        "table-throttles",
        "table-errors",
        "stream-iterator-age",
        "stream-write-throttles",
        "delivery-success",
    ):
        inputs = alarms[signal]["inputs"]
        topic = topics[inputs["tags"]["severity"]]
        assert inputs["alarmActions"] == inputs["okActions"] and len(inputs["alarmActions"]) == 1
        assert inputs["alarmActions"][0].endswith(f":{topic}"), (signal, inputs)
        assert inputs["treatMissingData"] == "notBreaching"  # an idle stream or table is not a failure


def test_iterator_age_threshold_follows_the_tier_retention(plans: dict[str, Plan]) -> None:
    thresholds = {t: _alarms(plans["dev"], t)["stream-iterator-age"]["inputs"]["threshold"] for t in TENANTS}
    assert thresholds["demo-basic"] < thresholds["demo-standard"] < thresholds["demo-premium"]


@pytest.mark.parametrize(
    ("signal", "what", "metric"),
    [
        ("table-throttles", "table", "ThrottledRequests"),
        ("table-errors", "table", "SystemErrors"),
        ("stream-iterator-age", "event stream", "GetRecords.IteratorAgeMilliseconds"),
        ("stream-write-throttles", "event stream", "WriteProvisionedThroughputExceeded"),
        ("delivery-freshness", "event delivery", "DeliveryToS3.DataFreshness"),
        ("delivery-success", "event delivery", "DeliveryToS3.Success"),
        ("processor-errors", "job processor", "Errors"),
        ("processor-throttles", "job processor", "Throttles"),
    ],
)
def test_a_missing_data_path_alarm_is_an_alarm_coverage_violation(
    plans: dict[str, Plan], signal: str, what: str, metric: str
) -> None:
    broken = copy.deepcopy(plans["dev"])
    dropped = next(
        r
        for r in resources_of(broken, ALARM)
        if r["tenant"] == "demo-basic" and r["inputs"]["tags"].get("signal") == signal
    )  # processors: the carrier one (the first)
    broken["resources"] = [r for r in broken["resources"] if r["urn"] != dropped["urn"]]
    (violation,) = evaluate(broken, DEV_CONFIG)
    assert violation["ruleId"] == "OBS-1" and violation["tenant"] == "demo-basic"
    assert violation["message"].startswith(f"the tenant {what} 'ip-dev-")
    assert violation["message"].endswith(f"has no alarm (with an action) on {metric}")


def test_an_alarm_without_action_or_on_another_resource_does_not_count(plans: dict[str, Plan]) -> None:
    broken = copy.deepcopy(plans["dev"])
    alarms = _alarms(broken, "demo-basic")
    alarms["delivery-success"]["inputs"]["alarmActions"] = []
    alarms["table-errors"]["inputs"]["metricQueries"][0]["expression"] = alarms["table-errors"]["inputs"][
        "metricQueries"
    ][0]["expression"].replace("demo-basic", "demo-premium")
    messages = sorted(v["message"] for v in evaluate(broken, DEV_CONFIG))
    assert messages == [
        "the tenant event delivery 'ip-dev-demo-basic-events-delivery' has no alarm (with an action) on DeliveryToS3.Success",
        "the tenant table 'ip-dev-demo-basic-records' has no alarm (with an action) on SystemErrors",
    ]


def _res(type_: str, props: dict[str, Any], i: int = 0) -> Res:
    return Res(type_, f"urn:{type_}::{i}", f"r{i}", props)


def test_alarm_coverage_unit_cases() -> None:
    tags = {"tenant": "acme", "tier": "basic", "environment": "dev"}
    table = _res(TABLE, {"name": "t-acme", "tags": tags})
    action = {"alarmActions": ["arn:aws:sns:us-east-1:1:acme-alerts-critical"], "tags": tags}
    insights = {
        **action,
        "metricQueries": [
            {
                "id": "q",
                "expression": "SELECT SUM(ThrottledRequests) FROM SCHEMA(\"AWS/DynamoDB\", Operation, TableName) WHERE TableName = 't-acme'",
            },
            {
                "id": "e",
                "expression": "SELECT SUM(SystemErrors) FROM SCHEMA(\"AWS/DynamoDB\", Operation, TableName) WHERE TableName = 't-acme'",
            },
        ],
    }
    assert watched_series(_res(ALARM, insights)) == {
        ("AWS/DynamoDB", "TableName", "t-acme", "ThrottledRequests"),
        ("AWS/DynamoDB", "TableName", "t-acme", "SystemErrors"),
    }
    assert list(alarm_coverage([table, _res(ALARM, insights, 1)], {})) == []
    single = {
        **action,
        "namespace": "AWS/DynamoDB",
        "metricName": "SystemErrors",
        "dimensions": {"TableName": "t-acme"},
    }
    ((message, urn),) = list(alarm_coverage([table, _res(ALARM, single, 1)], {}))
    assert urn == table.urn and message.endswith("on ThrottledRequests")
    # Untenanted (platform) resources are not the tenant rule's business.
    assert list(alarm_coverage([_res(STREAM, {"name": "platform-events"})], {})) == []
    assert set(DATA_PATH_ALARMS) == {TABLE, STREAM, DELIVERY, "aws:lambda/function:Function"}


# ------------------------------------------------------------------ image provenance (K8S-IMG-1) for Lambda

FUNCTION = "aws:lambda/function:Function"
DIGEST = "@sha256:" + "b" * 64


def _function(plan: Plan, tenant: str = "demo-basic") -> dict[str, Any]:
    return next(r for r in resources_of(plan, FUNCTION) if r["tenant"] == tenant)


def test_processor_images_are_pinned_in_the_approved_registry(plans: dict[str, Plan]) -> None:
    registries = DEV_CONFIG["workload-image-provenance"]["allowedRegistries"]
    functions = resources_of(plans["dev"], FUNCTION)
    assert functions
    for function in functions:
        image = function["inputs"]["imageUri"]
        assert function["inputs"]["packageType"] == "Image"
        assert image.startswith(tuple(registries)) and "@sha256:" in image, image


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-jobs-processor:1.4.2", "by tag"),
        ("111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-jobs-processor", "no tag or digest"),
        ("111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-jobs-processor@sha256:abc", "malformed"),
        (f"222222222222.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-jobs-processor{DIGEST}", "approved registry"),
        (f"public.ecr.aws/someone/carrier-jobs-processor{DIGEST}", "approved registry"),
    ],
)
def test_a_tag_only_or_foreign_function_image_is_an_image_provenance_violation(
    plans: dict[str, Plan], image: str, fragment: str
) -> None:
    broken = copy.deepcopy(plans["dev"])
    _function(broken)["inputs"]["imageUri"] = image
    (violation,) = evaluate(broken, DEV_CONFIG)
    assert violation["policy"] == "workload-image-provenance" and violation["ruleId"] == "K8S-IMG-1"
    assert violation["tenant"] == "demo-basic" and fragment in violation["message"], violation["message"]


def test_function_image_rule_unit_cases() -> None:
    from policies.tenant_guard.serverless import supported_runtime
    from policies.tenant_guard.workloads import workload_image_provenance

    config = {"allowedRegistries": ["111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/"]}
    pinned = {
        "packageType": "Image",
        "imageUri": f"111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/p{DIGEST}",
    }
    assert list(workload_image_provenance(_res(FUNCTION, pinned), config)) == []
    tagged = _res(FUNCTION, {**pinned, "imageUri": "111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/p:1"})
    (message,) = list(workload_image_provenance(tagged, config))
    assert "by tag" in message
    assert list(supported_runtime(tagged, {})) == []  # one rule owns image provenance
    # A .zip function has no image: LAM-2's runtime check is its rule.
    assert (
        list(workload_image_provenance(_res(FUNCTION, {"packageType": "Zip", "runtime": "python3.13"}), config)) == []
    )


# ------------------------------------------------------------------ DynamoDB copies need advanced features (REH-BAK-1)

REGION_SETTINGS = "aws:backup/regionSettings:RegionSettings"
PROD = ("prod-us-east-1", "prod-us-west-2", "prod-ca-central-1", "prod-ca-west-1")


@pytest.mark.parametrize("stack", ["dev", *PROD])
def test_each_platform_stack_turns_on_advanced_dynamodb_backup_once_in_its_region(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    (settings,) = resources_of(plan, REGION_SETTINGS)
    assert settings["stack"] == stack  # the platform stack, never a tenant stack
    assert settings["inputs"]["resourceTypeManagementPreference"] == {"DynamoDB": True}
    assert settings["inputs"]["resourceTypeOptInPreference"]["DynamoDB"] is True
    assert settings["options"]["ignoreChanges"] == ["resourceTypeOptInPreference"]
    assert "region" not in settings["inputs"]  # the stack's own regional provider


def _table_copying_selections(plan: Plan) -> list[dict[str, Any]]:
    copying = {
        p["urn"]
        for p in resources_of(plan, "aws:backup/plan:Plan")
        if any(rule.get("copyActions") for rule in p["inputs"]["rules"])
    }
    return [
        s
        for s in resources_of(plan, "aws:backup/selection:Selection")
        if any(":table/" in a for a in s["inputs"]["resources"]) and copying & set(s["options"]["dependsOn"])
    ]


def test_prod_tables_are_copied_and_the_regions_allow_it(plans: dict[str, Plan]) -> None:
    from planner.rehearsal import dynamodb_copies_enabled

    prod = [plans[s] for s in PROD]
    assert _table_copying_selections(plans["prod-us-east-1"]), "some tenant table is copied to its DR region"
    assert dynamodb_copies_enabled(prod) == []


def test_a_table_copy_without_the_region_setting_is_refused(plans: dict[str, Plan]) -> None:
    from planner.rehearsal import dynamodb_copies_enabled

    prod = [copy.deepcopy(plans[s]) for s in PROD]
    east = prod[0]
    east["resources"] = [r for r in east["resources"] if r["type"] != REGION_SETTINGS]
    findings = dynamodb_copies_enabled(prod)
    copying = _table_copying_selections(east)
    # Each table copied from us-east-1 (made there) and each copied into it from us-west-2.
    into_east = _table_copying_selections(prod[1])
    assert {f.urn for f in findings} == {s["urn"] for s in copying + into_east}
    assert all(f.rule == "REH-BAK-1" and "not on in us-east-1" in f.message for f in findings)
    # Turned off rather than absent: the same.
    prod = [copy.deepcopy(plans[s]) for s in PROD]
    (settings,) = resources_of(prod[0], REGION_SETTINGS)
    settings["inputs"]["resourceTypeManagementPreference"] = {"DynamoDB": False}
    assert {f.urn for f in dynamodb_copies_enabled(prod)} == {s["urn"] for s in copying + into_east}


def test_a_single_plan_is_judged_on_its_own_region_only(plans: dict[str, Plan]) -> None:
    from planner.rehearsal import dynamodb_copies_enabled

    assert dynamodb_copies_enabled([plans["prod-us-east-1"]]) == []  # the peer's plan is not here
    assert dynamodb_copies_enabled([plans["dev"]]) == []  # dev copies nothing


# ------------------------------------------------------------------ DR report (planner/dr.py)


def test_dr_report_states_each_tenants_table_stream_and_landing_bucket(plans: dict[str, Plan]) -> None:
    from catalog.loader import load_catalog
    from planner.dr import REGION_LOCAL_REASON, mechanisms, render_report
    from planner.runner import ROOT

    catalog = {t.id: t for t in load_catalog(ROOT / "tenants" / "prod")}
    prod = [plans[s] for s in PROD]
    found = mechanisms(prod)
    for tenant, config in catalog.items():
        entry = found[tenant]
        home = config.home_region
        pitr = min(35, config.tier.database.backup_retention_days)
        assert (f"DynamoDB table, point-in-time recovery ({pitr} d)", home) in entry["mechanisms"]
        assert ("DynamoDB table in AWS Backup daily recovery points", home) in entry["mechanisms"]
        copies = {r for m, r in entry["mechanisms"] if m == "DynamoDB table recovery points (AWS Backup copy)"}
        # Copied exactly where the tenant's other recovery points go: the peer, inside residency.
        assert copies == {r for m, r in entry["mechanisms"] if m == "AWS Backup copy"}
        assert copies <= set(config.residency) - {home}
        assert bool(copies) == (len(config.residency) > 1)
        assert entry["region_local"] == [
            ("event landing bucket", home),
            (f"event stream ({config.tier.event_retention_hours} h replay)", home),
        ]
    report = render_report(prod, {t: c.residency for t, c in catalog.items()})
    assert "| region-local (no copy) |" in report and REGION_LOCAL_REASON in report
    (keystone,) = [line for line in report.splitlines() if line.startswith("| keystone-title |")]
    assert keystone.endswith("| event landing bucket (us-east-1); event stream (24 h replay) (us-east-1) |")
    assert "DynamoDB table recovery points (AWS Backup copy)" not in keystone


# ------------------------------------------------------------------ tagging, protection, residency


def _holder(plan: Plan, kind: str, tenant: str = "demo-basic") -> dict[str, Any]:
    type_, name = {
        "table": (TABLE, f"tenant-{tenant}-table"),
        "stream": (STREAM, f"tenant-{tenant}-stream-events"),
        "delivery": (DELIVERY, f"tenant-{tenant}-stream-delivery"),
        "landing bucket": ("aws:s3/bucket:Bucket", f"tenant-{tenant}-stream-landing"),
    }[kind]
    (found,) = [r for r in resources_of(plan, type_) if r["name"] == name]
    return found


HOLDERS = ("table", "stream", "delivery", "landing bucket")


@pytest.mark.parametrize("kind", HOLDERS)
def test_data_path_holders_are_tagged_protected_and_home(plans: dict[str, Plan], kind: str) -> None:
    for tenant in TENANTS:
        r = _holder(plans["dev"], kind, tenant)
        assert r["options"]["protect"] is True
        tags = r["inputs"]["tags"]
        assert tags["tenant"] == tenant and tags["tier"] and tags["environment"] == "dev" and tags["residency"]
        assert "region" not in r["inputs"]  # the stack's regional provider: the tenant's home region


@pytest.mark.parametrize(
    ("kind", "break_it", "policy"),
    [
        (kind, change, policy)
        for kind in HOLDERS
        for change, policy in (
            ("untag", "tenant-resources-attributed"),
            ("unprotect", "stateful-resources-protected"),
            ("abroad", "tenant-data-residency"),
        )
    ],
)
def test_each_rule_fires_on_each_data_path_holder(
    plans: dict[str, Plan], kind: str, break_it: str, policy: str
) -> None:
    broken = copy.deepcopy(plans["dev"])
    r = _holder(broken, kind)
    if break_it == "untag":
        r["inputs"]["tags"].pop("tier")
    elif break_it == "unprotect":
        r["options"]["protect"] = False
    else:
        r["inputs"]["region"] = "us-west-2"  # demo-basic's residency is us-east-1 only
    violations = evaluate(broken, DEV_CONFIG)
    assert {v["policy"] for v in violations} == {policy}, violations
    assert {v["urn"] for v in violations} == {r["urn"]}
