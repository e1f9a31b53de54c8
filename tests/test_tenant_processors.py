"""Tenant job processors (components/tenant/tenant_processors.py) as the dev plan holds them: one
Lambda function per tenant job queue, confined to that tenant's queue, key and log group, wired to
its queue with partial batch failures, sized by its tier, and watched."""

import json
from typing import Any

import pytest

from catalog.loader import processor_reservations
from catalog.tiers import LAMBDA_DEFAULT_CONCURRENCY, LAMBDA_UNRESERVED_MINIMUM, PROCESSOR_QUEUES, TIERS
from components.tenant.tenant_key import data_key_policy
from components.tenant.tenant_messaging import only_roles_policy
from components.tenant.tenant_processors import SERVICES, TIMEOUT_SECONDS, processor_policy
from tests.helpers import settings_for

Plan = dict[str, Any]
FUNCTION = "aws:lambda/function:Function"
TIER_OF = {"demo-basic": "basic", "demo-standard": "standard", "demo-premium": "premium"}


def each(plan: Plan, type_: str, tenant: str | None = None) -> list[Plan]:
    return [r for r in plan["resources"] if r["type"] == type_ and (tenant is None or r["tenant"] == tenant)]


def named(plan: Plan, type_: str, name: str) -> Plan:
    (found,) = [r for r in each(plan, type_) if r["name"] == name]
    return found


@pytest.fixture(scope="module")
def dev(plans: dict[str, Plan]) -> Plan:
    return plans["dev"]


@pytest.mark.parametrize("tenant", sorted(TIER_OF))
def test_one_function_per_job_queue_in_the_tenant_stack(dev: Plan, tenant: str) -> None:
    functions = each(dev, FUNCTION, tenant)
    assert sorted(f["inputs"]["tags"]["service"] for f in functions) == sorted(SERVICES)
    assert {f["stack"] for f in functions} == {f"dev.{tenant}"}


@pytest.mark.parametrize("tenant", sorted(TIER_OF))
def test_function_hardening(dev: Plan, tenant: str) -> None:
    tier = TIERS[TIER_OF[tenant]]
    for service in SERVICES:
        base = f"tenant-{tenant}-processors-{service}"
        fn = named(dev, FUNCTION, f"{base}-fn")["inputs"]
        assert fn["packageType"] == "Image" and "@sha256:" in fn["imageUri"], "image pinned by digest"
        assert fn["imageUri"].split("@")[0].endswith(f"/insurance/{service}-jobs-processor")
        assert fn["tracingConfig"] == {"mode": "Active"}
        assert len(set(fn["vpcConfig"]["subnetIds"])) == 3 and len(fn["vpcConfig"]["securityGroupIds"]) == 1
        assert fn.get("reservedConcurrentExecutions") == tier.processor_reserved_concurrency
        logs = named(dev, "aws:cloudwatch/logGroup:LogGroup", f"{base}-logs")
        assert logs["options"]["protect"] is True
        assert logs["inputs"]["retentionInDays"] == tier.log_retention_days and logs["inputs"]["kmsKeyId"]
        assert fn["loggingConfig"]["logGroup"] == logs["inputs"]["name"]


def test_function_environment_uses_the_tenants_own_key(dev: Plan) -> None:
    keys = {r["tenant"]: r for r in each(dev, "aws:kms/key:Key") if r["name"].endswith("-key")}
    for fn in each(dev, FUNCTION):
        if fn["tenant"] is None:  # the public API's authorizer: the platform's API mapping key
            assert fn["inputs"]["kmsKeyArn"].startswith("arn:aws:kms:")
            continue
        own = keys[fn["tenant"]]
        assert own["urn"] in fn["options"]["dependsOn"], "environment under the tenant's own data key"


@pytest.mark.parametrize("tenant", sorted(TIER_OF))
def test_event_source_reports_partial_failures_and_queue_redrives(dev: Plan, tenant: str) -> None:
    tier = TIERS[TIER_OF[tenant]]
    for service in SERVICES:
        mapping = named(
            dev, "aws:lambda/eventSourceMapping:EventSourceMapping", f"tenant-{tenant}-processors-{service}-jobs"
        )["inputs"]
        queue = named(dev, "aws:sqs/queue:Queue", f"tenant-{tenant}-messaging-{service}-jobs")["inputs"]
        assert mapping["eventSourceArn"].endswith(f":{queue['name']}")
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["scalingConfig"]["maximumConcurrency"] == tier.processor_max_concurrency
        assert json.loads(queue["redrivePolicy"])["deadLetterTargetArn"].endswith(f"{queue['name']}-dlq")
        # a retried batch must not reappear to another invocation while the first still runs
        assert queue["visibilityTimeoutSeconds"] >= 6 * TIMEOUT_SECONDS


@pytest.mark.parametrize("tenant", sorted(TIER_OF))
def test_role_reaches_only_its_own_queue_key_and_log_group(dev: Plan, tenant: str) -> None:
    for service in SERVICES:
        doc = json.loads(
            named(dev, "aws:iam/rolePolicy:RolePolicy", f"tenant-{tenant}-processors-{service}-role")["inputs"][
                "policy"
            ]
        )
        by_sid = {st["Sid"]: st for st in doc["Statement"]}
        assert by_sid["OwnQueue"]["Resource"] == f"arn:aws:sqs:us-east-1:123456789012:ip-dev-{tenant}-{service}-jobs"
        assert "sqs:SendMessage" not in by_sid["OwnQueue"]["Action"]
        assert by_sid["OwnKeyThroughSqsAndLambda"]["Resource"].startswith("arn:aws:kms:")
        assert by_sid["OwnLogGroup"]["Resource"][0].endswith(f"-{tenant}-{service}-fn")
        wildcards = [st for st in doc["Statement"] if st["Resource"] == "*"]
        assert {a for st in wildcards for a in st["Action"]} <= {
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        }
        assert all(st.get("Condition") for st in wildcards if any(a.startswith("ec2:C") for a in st["Action"]))


def test_processor_policy_unit() -> None:
    doc = json.loads(
        processor_policy("us-east-1", "1", "arn:aws:sqs:us-east-1:1:q", "arn:aws:kms:us-east-1:1:key/k", "lg", "vpc-1")
    )
    eni = next(st for st in doc["Statement"] if st["Sid"] == "NetworkInterfacesInTheRegionsVpc")
    assert eni["Condition"] == {"ArnEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:1:vpc/vpc-1"}}
    kms = next(st for st in doc["Statement"] if st["Sid"] == "OwnKeyThroughSqsAndLambda")
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == [
        "sqs.us-east-1.amazonaws.com",
        "lambda.us-east-1.amazonaws.com",
    ]


def test_queue_deny_exempts_only_its_own_processor(dev: Plan) -> None:
    for tenant in TIER_OF:
        for service in SERVICES:
            doc = json.loads(
                named(dev, "aws:sqs/queuePolicy:QueuePolicy", f"tenant-{tenant}-messaging-{service}-jobs")["inputs"][
                    "policy"
                ]
            )
            deny = next(st for st in doc["Statement"] if st["Sid"] == "NobodyElse")
            exempt = [a for a in deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"] if a.endswith("-fn")]
            assert exempt == [f"arn:aws:iam::123456789012:role/ip-dev-us-east-1-{tenant}-{service}-fn"]
            allow = next(st for st in doc["Statement"] if st["Sid"] == "TenantWorkloads")
            assert not [a for a in allow["Principal"]["AWS"] if a.endswith("-fn")], "identity policy grants it"
    assert (
        "x"
        in json.loads(only_roles_policy("q", ["r"], ["sqs:SendMessage"], ["x"]))["Statement"][1]["Condition"][
            "StringNotEquals"
        ]["aws:PrincipalArn"]
    )


def test_tenant_key_names_its_processors_through_sqs_and_lambda_only() -> None:
    role = "arn:aws:iam::1:role/ip-dev-us-east-1-acme-carrier-fn"
    doc = json.loads(data_key_policy("us-east-1", "1", [], "arn:aws:iam::1:role/deploy", [], None, processors=[role]))
    st = next(s for s in doc["Statement"] if s["Sid"] == "JobProcessorsDecryptThroughSqsAndLambda")
    assert st["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert st["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [role]
    assert set(st["Condition"]["StringEquals"]["kms:ViaService"]) == {
        "sqs.us-east-1.amazonaws.com",
        "lambda.us-east-1.amazonaws.com",
    }


@pytest.mark.parametrize("tenant", sorted(TIER_OF))
def test_errors_and_throttles_alarm_to_the_tenants_topics(dev: Plan, tenant: str) -> None:
    topics = {
        r["inputs"]["tags"]["severity"]: r["inputs"]["name"]
        for r in each(dev, "aws:sns/topic:Topic", tenant)
        if "severity" in r["inputs"]["tags"]
    }
    for service in SERVICES:
        for what, severity in (("errors", "critical"), ("throttles", "warning")):
            alarm = named(dev, "aws:cloudwatch/metricAlarm:MetricAlarm", f"tenant-{tenant}-processors-{service}-{what}")
            inputs = alarm["inputs"]
            assert inputs["namespace"] == "AWS/Lambda"
            assert inputs["dimensions"]["FunctionName"] == f"ip-dev-us-east-1-{tenant}-{service}-fn"
            assert [a.rsplit(":", 1)[-1] for a in inputs["alarmActions"]] == [topics[severity]]


@pytest.mark.parametrize("stack", ["dev", "prod-us-east-1", "prod-us-west-2", "prod-ca-central-1", "prod-ca-west-1"])
def test_reservations_of_a_region_leave_the_unreserved_minimum(stack: str) -> None:
    """Every committed stack's tenants fit its account quota with 100 executions unreserved."""
    s = settings_for(stack)
    reserved = processor_reservations(s.region, s.tenants, s.dr)
    expected = sum(t.tier.processor_reserved_concurrency or 0 for t in s.served_tenants) * PROCESSOR_QUEUES
    assert reserved == expected
    assert reserved <= s.account.lambda_concurrency_limit - LAMBDA_UNRESERVED_MINIMUM
    assert s.account.lambda_concurrency_limit == LAMBDA_DEFAULT_CONCURRENCY


def test_tier_concurrency_is_consistent() -> None:
    assert all(t.processor_max_concurrency >= 2 for t in TIERS.values()), "Lambda's SQS maximum concurrency floor"
    for t in TIERS.values():
        reserved = t.processor_reserved_concurrency
        assert reserved is None or reserved >= t.processor_max_concurrency
