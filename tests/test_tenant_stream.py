"""A tenant's event stream (TenantStream): on-demand Kinesis encrypted with the tenant's own key,
retention from the tier, delivered by a Firehose stream of its own into its own encrypted landing
bucket; the Firehose role and the workload roles reach only the tenant's own stream; the policy
pack's encryption, key ownership, protection and residency rules cover both."""

import copy
import json
from typing import Any

import pytest

from catalog.tiers import TIERS
from planner.policy import environment_config, evaluate
from tests.conftest import resources_of

Plan = dict[str, Any]
STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
DEV_CONFIG = environment_config("dev")
TENANTS = ("demo-basic", "demo-standard", "demo-premium")


def _of(plan: Plan, type_: str, tenant: str) -> dict[str, Any]:
    (found,) = [r for r in resources_of(plan, type_) if r["tenant"] == tenant]
    return found


def _named(plan: Plan, type_: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in resources_of(plan, type_) if r["name"] == name]
    return found


def _key_arn(plan: Plan, tenant: str) -> str:
    (key,) = [
        r
        for r in resources_of(plan, "aws:kms/key:Key")
        if r["tenant"] == tenant and r["name"] == f"tenant-{tenant}-key"
    ]
    return f"arn:aws:kms:{plan['region']}:123456789012:key/{_key_id(plan, key)}"


def _key_id(plan: Plan, key: dict[str, Any]) -> str:
    from planner.mocks import offline_key_id

    return offline_key_id(key["name"])


def _stream_arn(plan: Plan, tenant: str) -> str:
    return f"arn:aws:kinesis:{plan['region']}:123456789012:stream/{_of(plan, STREAM, tenant)['inputs']['name']}"


@pytest.mark.parametrize("tenant", TENANTS)
def test_stream_is_on_demand_encrypted_with_the_tenant_key_and_retained_per_tier(
    plans: dict[str, Plan], tenant: str
) -> None:
    plan = plans["dev"]
    stream = _of(plan, STREAM, tenant)
    inputs = stream["inputs"]
    assert inputs["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert inputs["encryptionType"] == "KMS"
    assert inputs["kmsKeyId"] == _key_arn(plan, tenant)
    tier = inputs["tags"]["tier"]
    assert inputs["retentionPeriod"] == TIERS[tier].event_retention_hours
    assert stream["options"]["protect"] is True


def test_tiers_retain_events_longer_as_they_rise_within_kinesis_limits() -> None:
    hours = [TIERS[t].event_retention_hours for t in ("basic", "standard", "premium")]
    assert hours == sorted(hours) and hours[0] < hours[-1]
    assert all(24 <= h <= 8760 for h in hours)


@pytest.mark.parametrize("tenant", TENANTS)
def test_delivery_reads_its_own_stream_into_its_own_bucket_with_its_own_key(
    plans: dict[str, Plan], tenant: str
) -> None:
    plan = plans["dev"]
    delivery = _of(plan, FIREHOSE, tenant)["inputs"]
    assert delivery["kinesisSourceConfiguration"]["kinesisStreamArn"] == _stream_arn(plan, tenant)
    s3 = delivery["extendedS3Configuration"]
    assert s3["kmsKeyArn"] == _key_arn(plan, tenant)
    assert s3["bucketArn"] == f"arn:aws:s3:::ip-dev-{plan['region']}-{tenant}-events"
    assert s3["prefix"].startswith(f"tenant={tenant}/") and f"tenant={tenant}/" in s3["errorOutputPrefix"]
    bucket = _named(
        plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"tenant-{tenant}-stream-landing",
    )
    rule = bucket["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": _key_arn(plan, tenant)}


@pytest.mark.parametrize("tenant", TENANTS)
def test_delivery_role_reaches_only_its_own_stream_bucket_key_and_log(plans: dict[str, Plan], tenant: str) -> None:
    plan = plans["dev"]
    policy = json.loads(
        _named(plan, "aws:iam/rolePolicy:RolePolicy", f"tenant-{tenant}-stream-delivery")["inputs"]["policy"]
    )
    bucket = f"arn:aws:s3:::ip-dev-{plan['region']}-{tenant}-events"
    log_group = f"arn:aws:logs:{plan['region']}:123456789012:log-group:/aws/kinesisfirehose/ip-dev-{tenant}-events"
    allowed = {
        _stream_arn(plan, tenant),
        bucket,
        f"{bucket}/*",
        _key_arn(plan, tenant),
        f"{log_group}:log-stream:S3Delivery",
    }
    for statement in policy["Statement"]:
        assert set(statement["Resource"]) <= allowed, statement
        assert "*" not in "".join(statement["Action"]), statement
    # The landing bucket uses an S3 Bucket Key: S3 then asks KMS with the bucket's ARN as context,
    # not the object's, so a condition on objects alone would refuse every delivery.
    (encrypt,) = [s for s in policy["Statement"] if s.get("Sid") == "EncryptOwnLandingObjects"]
    assert set(encrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]) == {bucket, f"{bucket}/*"}
    trust = json.loads(
        _named(plan, "aws:iam/role:Role", f"tenant-{tenant}-stream-delivery")["inputs"]["assumeRolePolicy"]
    )
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


@pytest.mark.parametrize("tenant", TENANTS)
def test_workloads_put_and_read_only_their_own_stream(plans: dict[str, Plan], tenant: str) -> None:
    plan = plans["dev"]
    for service in ("carrier", "policy"):
        doc = json.loads(
            _named(plan, "aws:iam/rolePolicy:RolePolicy", f"tenant-{tenant}-permissions-{service}")["inputs"]["policy"]
        )
        kinesis = [s for s in doc["Statement"] if any(a.startswith("kinesis:") for a in s["Action"])]
        assert [s["Resource"] for s in kinesis] == [[_stream_arn(plan, tenant)]]
        assert {"kinesis:PutRecords", "kinesis:GetRecords"} <= set(kinesis[0]["Action"])


@pytest.mark.parametrize("tenant", TENANTS)
def test_key_policy_admits_the_delivery_role_only_through_kinesis_and_s3(plans: dict[str, Plan], tenant: str) -> None:
    plan = plans["dev"]
    key = _named(plan, "aws:kms/key:Key", f"tenant-{tenant}-key")
    statements = {s["Sid"]: s for s in json.loads(key["inputs"]["policy"])["Statement"]}
    delivery = statements["FirehoseDeliversTenantEvents"]
    role = f"arn:aws:iam::123456789012:role/ip-dev-{plan['region']}-{tenant}-events-delivery"
    assert delivery["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [role]}
    assert set(delivery["Condition"]["StringEquals"]["kms:ViaService"]) == {
        f"kinesis.{plan['region']}.amazonaws.com",
        f"s3.{plan['region']}.amazonaws.com",
    }
    workloads = statements["TenantWorkloadsThroughAwsServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert f"kinesis.{plan['region']}.amazonaws.com" in workloads


def test_streams_exist_only_in_the_tenants_home_region(plans: dict[str, Plan]) -> None:
    seen = 0
    for plan in plans.values():
        homes = {
            r["tenant"]
            for r in resources_of(plan, "aws:rds/instance:Instance")
            if r["tenant"] and not r["inputs"].get("replicateSourceDb") and "dr-" not in r["name"]
        }
        streams = {r["tenant"] for r in resources_of(plan, STREAM)}
        assert streams == homes, plan["stack"]
        assert {r["tenant"] for r in resources_of(plan, FIREHOSE)} == homes, plan["stack"]
        seen += len(streams)
    assert seen >= len(TENANTS)


# ---------------------------------------------------------------- the policy pack on the stream


def _fired(plan: Plan, mutate: Any) -> set[str]:
    broken = copy.deepcopy(plan)
    mutate(broken)
    return {v["policy"] for v in evaluate(broken, DEV_CONFIG)}


def test_stream_with_another_tenants_key_breaks_key_ownership(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]

    def mutate(p: Plan) -> None:
        _of(p, STREAM, "demo-basic")["inputs"]["kmsKeyId"] = _key_arn(p, "demo-premium")

    assert _fired(plan, mutate) == {"tenant-data-uses-own-key"}


def test_delivery_writing_with_another_tenants_key_breaks_key_ownership(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]

    def mutate(p: Plan) -> None:
        _of(p, FIREHOSE, "demo-basic")["inputs"]["extendedS3Configuration"]["kmsKeyArn"] = _key_arn(p, "demo-premium")

    assert _fired(plan, mutate) == {"tenant-data-uses-own-key"}


def test_unprotected_stream_is_a_protection_violation(plans: dict[str, Plan]) -> None:
    assert _fired(plans["dev"], lambda p: _of(p, STREAM, "demo-basic")["options"].update(protect=False)) == {
        "stateful-resources-protected"
    }


def test_delivery_into_a_bucket_of_another_region_leaves_residency(plans: dict[str, Plan]) -> None:
    def mutate(p: Plan) -> None:
        s3 = _of(p, FIREHOSE, "demo-basic")["inputs"]["extendedS3Configuration"]
        s3["bucketArn"] = "arn:aws:s3:::ip-dev-eu-west-1-demo-basic-events"

    assert _fired(plans["dev"], mutate) == {"dr-copies-inside-residency"}


def test_delivery_from_a_stream_of_another_region_leaves_residency(plans: dict[str, Plan]) -> None:
    def mutate(p: Plan) -> None:
        source = _of(p, FIREHOSE, "demo-basic")["inputs"]["kinesisSourceConfiguration"]
        source["kinesisStreamArn"] = source["kinesisStreamArn"].replace(p["region"], "eu-west-1")

    assert _fired(plans["dev"], mutate) == {"dr-copies-inside-residency"}


def test_stream_outside_the_residency_region(plans: dict[str, Plan]) -> None:
    assert _fired(plans["dev"], lambda p: _of(p, STREAM, "demo-basic")["inputs"].update(region="us-west-2")) == {
        "tenant-data-residency"
    }


def test_untagged_stream_is_an_attribution_violation(plans: dict[str, Plan]) -> None:
    assert _fired(plans["dev"], lambda p: _of(p, STREAM, "demo-basic")["inputs"]["tags"].pop("tenant")) == {
        "tenant-resources-attributed"
    }
