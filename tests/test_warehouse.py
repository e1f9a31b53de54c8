"""The analytics warehouse (components/shared/warehouse.py): Redshift Serverless, a pool per
platform stack for the pooled tiers and a namespace of its own per premium tenant; private,
encrypted with the right key, enhanced VPC routing, SSL required, audit logs exported into
keyed log groups with the tier's retention, a managed admin password, a usage limit per
workgroup, protected; one COPY role per tenant that reads only its own landing prefix; the
pairwise analyzer sees a COPY role widened to another tenant's landing bucket."""

import copy
import json
from typing import Any

import pytest

from catalog.tiers import POOLED_WAREHOUSE, TIERS
from planner.isolation import analyze
from tests.conftest import resources_of

Plan = dict[str, Any]
NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
USAGE_LIMIT = "aws:redshiftserverless/usageLimit:UsageLimit"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ACCOUNT = "123456789012"
TENANTS = ("demo-basic", "demo-standard", "demo-premium")


def _of(plan: Plan, type_: str, tenant: str | None) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, type_) if r["tenant"] == tenant]


def _one(plan: Plan, type_: str, tenant: str | None) -> dict[str, Any]:
    (found,) = _of(plan, type_, tenant)
    return found


def _key_arn(plan: Plan, tenant: str) -> str:
    from planner.mocks import offline_key_id

    return f"arn:aws:kms:{plan['region']}:{ACCOUNT}:key/{offline_key_id(f'tenant-{tenant}-key')}"


def _platform_key_arn(plan: Plan, name: str = "platform-platform-data") -> str:
    from planner.mocks import offline_key_id

    (key,) = [r for r in resources_of(plan, "aws:kms/key:Key") if r["name"] == name]
    return f"arn:aws:kms:{plan['region']}:{ACCOUNT}:key/{offline_key_id(key['name'])}"


def _warehouses(plan: Plan) -> list[tuple[str | None, dict[str, Any], dict[str, Any]]]:
    """(tenant or None for the pool, namespace, workgroup) of every warehouse in the plan."""
    found = []
    for ns in resources_of(plan, NAMESPACE):
        (wg,) = [
            w for w in resources_of(plan, WORKGROUP) if w["inputs"]["namespaceName"] == ns["inputs"]["namespaceName"]
        ]
        found.append((ns["tenant"], ns, wg))
    return found


def _parameters(workgroup: dict[str, Any]) -> dict[str, str]:
    return {p["parameterKey"]: p["parameterValue"] for p in workgroup["inputs"]["configParameters"]}


# ---------------------------------------------------------------- placement


def test_premium_has_its_own_warehouse_and_pooled_tiers_share_the_regions_pool(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    placed = {tenant: ns["stack"] for tenant, ns, _ in _warehouses(plan)}
    assert placed == {None: "dev", "demo-premium": "dev.demo-premium"}
    assert TIERS["premium"].warehouse.placement == "dedicated"
    assert {TIERS[t].warehouse.placement for t in ("basic", "standard")} == {"pooled"}
    pool = _one(plan, NAMESPACE, None)
    # The pool attaches one role only, which chains into the pooled tenants' COPY roles.
    (chain,) = pool["inputs"]["iamRoles"]
    assert chain == f"arn:aws:iam::{ACCOUNT}:role/ip-dev-us-east-1-warehouse-pool"
    premium = _one(plan, NAMESPACE, "demo-premium")
    assert premium["inputs"]["iamRoles"] == [f"arn:aws:iam::{ACCOUNT}:role/ip-dev-us-east-1-demo-premium-wh-load"]


def test_a_region_without_pooled_tenants_has_no_pool(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        pooled_here = any(
            r["tenant"] and r["inputs"]["tags"]["tier"] in ("basic", "standard")
            for r in resources_of(plan, "aws:kinesis/stream:Stream")
        )
        assert bool(_of(plan, NAMESPACE, None)) == pooled_here, stack


# ---------------------------------------------------------------- security defaults


def test_namespaces_encrypt_with_the_right_customer_key_and_manage_the_admin_password(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    for tenant, ns, _ in _warehouses(plan):
        key = _key_arn(plan, tenant) if tenant else _platform_key_arn(plan)
        inputs = ns["inputs"]
        assert inputs["kmsKeyId"] == key, tenant
        assert inputs["manageAdminPassword"] is True and "adminUserPassword" not in inputs
        assert inputs["adminPasswordSecretKmsKeyId"] == key
        assert ns["options"]["protect"] is True


def test_workgroups_are_private_routed_through_the_vpc_and_require_ssl(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    # The platform's private subnets, as the job processors (Lambda) attach to them.
    private = {
        subnet
        for f in resources_of(plan, "aws:lambda/function:Function")
        for subnet in f["inputs"]["vpcConfig"]["subnetIds"]
    }
    for tenant, _, wg in _warehouses(plan):
        inputs = wg["inputs"]
        assert inputs["publiclyAccessible"] is False, tenant
        assert inputs["enhancedVpcRouting"] is True, tenant
        assert len(set(inputs["subnetIds"])) >= 3, tenant  # Redshift Serverless: three AZs at least
        assert set(inputs["subnetIds"]) == private, tenant
        assert _parameters(wg)["require_ssl"] == "true"
        assert _parameters(wg)["enable_user_activity_logging"] == "true"


def test_security_groups_admit_only_the_clients_and_let_out_only_https_to_s3(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    groups = {
        r["tenant"]: r["inputs"]
        for r in resources_of(plan, "aws:ec2/securityGroup:SecurityGroup")
        if r["name"] in ("warehouse", "tenant-demo-premium-warehouse")
    }
    assert set(groups) == {None, "demo-premium"}
    for sg in groups.values():
        (egress,) = sg["egress"]
        assert (egress["fromPort"], egress["toPort"]) == (443, 443) and "cidrBlocks" not in egress
        assert len(egress["prefixListIds"]) == 1
    # The premium warehouse admits only its own pods' group; the pool, which holds many tenants'
    # schemas, admits no one over the network (tenants query it through the Data API, as themselves).
    (ingress,) = groups["demo-premium"]["ingress"]
    assert (ingress["fromPort"], ingress["toPort"]) == (5439, 5439)
    assert "cidrBlocks" not in ingress and len(ingress["securityGroups"]) == 1
    assert not groups[None].get("ingress")


def test_audit_logs_go_to_keyed_log_groups_with_the_tier_retention(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    for tenant, ns, _ in _warehouses(plan):
        name = ns["inputs"]["namespaceName"]
        assert ns["inputs"]["logExports"] == ["connectionlog", "userlog", "useractivitylog"]
        groups = {r["inputs"]["name"]: r["inputs"] for r in _of(plan, LOG_GROUP, tenant)}
        for log in ns["inputs"]["logExports"]:
            group = groups[f"/aws/redshift/{name}/{log}"]
            if tenant:  # the tenant's own key, the tier's retention
                assert group["kmsKeyId"] == ns["inputs"]["kmsKeyId"]
                assert group["retentionInDays"] == TIERS["premium"].log_retention_days
            else:  # the platform's logs key (CloudWatch Logs may use it), the region's retention
                assert group["kmsKeyId"] == _platform_key_arn(plan, "platform-logs")
                assert group["retentionInDays"] >= 365


def test_every_workgroup_has_a_compute_usage_limit_from_the_tier_table(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    for tenant, _, wg in _warehouses(plan):
        spec = TIERS["premium"].warehouse if tenant else POOLED_WAREHOUSE
        (limit,) = [u for u in _of(plan, USAGE_LIMIT, tenant) if wg["urn"] in u["options"]["dependsOn"]]
        assert limit["inputs"]["usageType"] == "serverless-compute"
        assert limit["inputs"]["amount"] == spec.monthly_rpu_hours
        assert limit["inputs"]["breachAction"] == spec.breach_action
        assert (wg["inputs"]["baseCapacity"], wg["inputs"]["maxCapacity"]) == (spec.base_rpu, spec.max_rpu)


def test_snapshots_are_taken_by_aws_backup_and_stay_in_the_home_region(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    for tenant, ns, _ in _warehouses(plan):
        spec = TIERS["premium"].warehouse if tenant else POOLED_WAREHOUSE
        (plan_,) = [p for p in _of(plan, "aws:backup/plan:Plan", tenant) if "warehouse" in p["name"]]
        (rule,) = plan_["inputs"]["rules"]
        assert rule["lifecycle"]["deleteAfter"] == spec.snapshot_retention_days
        assert not rule.get("copyActions")
        (selection,) = [s for s in _of(plan, "aws:backup/selection:Selection", tenant) if "warehouse" in s["name"]]
        assert len(selection["inputs"]["resources"]) == 1 and ns["urn"] in selection["options"]["dependsOn"]


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize("tenant", TENANTS)
def test_each_tenant_has_one_copy_role_reading_only_its_landing_prefix_with_its_key(
    plans: dict[str, Plan], tenant: str
) -> None:
    plan = plans["dev"]
    (role,) = [r for r in _of(plan, ROLE, tenant) if r["name"].endswith("-wh-load")]
    (policy,) = [r for r in _of(plan, ROLE_POLICY, tenant) if r["name"].endswith("-wh-load")]
    bucket = f"arn:aws:s3:::ip-dev-us-east-1-{tenant}-events"
    doc = json.loads(policy["inputs"]["policy"])
    resources = {res for s in doc["Statement"] for res in s["Resource"]}
    assert resources == {bucket, f"{bucket}/tenant={tenant}/*", _key_arn(plan, tenant)}
    actions = {a for s in doc["Statement"] for a in s["Action"]}
    assert actions == {"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]
    if TIERS[role["inputs"]["tags"]["tier"]].warehouse.placement == "pooled":
        # Only the pool's chaining role may assume it.
        assert trust["Condition"] == {
            "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ip-dev-us-east-1-warehouse-pool"}
        }
    else:
        assert trust["Principal"] == {"Service": ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]}
    # The tenant's key admits its COPY role, through S3 only.
    (key,) = [r for r in _of(plan, "aws:kms/key:Key", tenant) if r["name"] == f"tenant-{tenant}-key"]
    (statement,) = [
        s for s in json.loads(key["inputs"]["policy"])["Statement"] if s.get("Sid") == "WarehouseLoadsLandingZone"
    ]
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        role_arn := f"arn:aws:iam::{ACCOUNT}:role/{role['inputs']['name']}"
    ]
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert role_arn.endswith(f"-{tenant}-wh-load")


def test_the_pool_role_reads_nothing_and_chains_only_into_copy_roles(plans: dict[str, Plan]) -> None:
    plan = plans["dev"]
    (policy,) = [r for r in _of(plan, ROLE_POLICY, None) if r["name"] == "warehouse-chain"]
    (statement,) = json.loads(policy["inputs"]["policy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/ip-dev-us-east-1-*-wh-load"


def test_no_copy_role_reaches_two_tenants_landing_buckets(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        for policy in resources_of(plan, ROLE_POLICY):
            if not policy["name"].endswith("-wh-load"):
                continue
            buckets = {
                res.split("/", 1)[0]
                for s in json.loads(policy["inputs"]["policy"])["Statement"]
                for res in s["Resource"]
                if res.startswith("arn:aws:s3:::")
            }
            assert buckets == {
                f"arn:aws:s3:::ip-{plan['stack'].split('-')[0]}-{plan['region']}-{policy['tenant']}-events"
            }, policy["name"]


def test_a_copy_role_widened_to_another_tenants_landing_bucket_is_an_isolation_channel(plans: dict[str, Plan]) -> None:
    plan = plans["prod-us-east-1"]
    before = set(analyze(plan))
    changed = copy.deepcopy(plan)
    (policy,) = [r for r in _of(changed, ROLE_POLICY, "granite-re") if r["name"].endswith("-wh-load")]
    own = "arn:aws:s3:::ip-prod-us-east-1-granite-re-events/tenant=granite-re/*"
    assert own in policy["inputs"]["policy"]
    policy["inputs"]["policy"] = policy["inputs"]["policy"].replace(own, "arn:aws:s3:::ip-prod-us-east-1-*-events/*")
    new = set(analyze(changed)) - before
    assert ("granite-re", "harbor-mutual") in {(c.source, c.target) for c in new}, sorted(c.line() for c in new)
    assert all(c.kind == "iam" and "wh-load" in c.rule for c in new), sorted(c.line() for c in new)


# ---------------------------------------------------------------- residency


def test_residency_rules_cover_the_warehouse_regions_and_snapshot_copies(plans: dict[str, Plan]) -> None:
    """A premium warehouse placed, or its snapshots copied, outside the tenant's residency is a
    RES-1 / RES-3 violation; a pooled tenant's COPY role trusting another region's pool is RS-9."""
    from planner.policy import environment_config, evaluate

    config = environment_config("dev")
    clean = plans["dev"]

    moved = copy.deepcopy(clean)
    _one(moved, NAMESPACE, "demo-premium")["inputs"]["region"] = "eu-west-1"
    # RES-2 too: a region input that overrides the stack's regional provider
    assert {v["ruleId"] for v in evaluate(moved, config)} == {"RES-1", "RES-2"}

    copied = copy.deepcopy(clean)
    (plan_,) = [p for p in _of(copied, "aws:backup/plan:Plan", "demo-premium") if "warehouse" in p["name"]]
    vault = f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:elsewhere"
    plan_["inputs"]["rules"][0]["copyActions"] = [{"destinationVaultArn": vault, "lifecycle": {"deleteAfter": 35}}]
    assert {v["ruleId"] for v in evaluate(copied, config)} == {"RES-3"}

    trusted = copy.deepcopy(clean)
    (role,) = [r for r in _of(trusted, ROLE, "demo-standard") if r["name"].endswith("-wh-load")]
    role["inputs"]["assumeRolePolicy"] = role["inputs"]["assumeRolePolicy"].replace(
        "us-east-1-warehouse", "eu-west-1-warehouse"
    )
    assert {v["ruleId"] for v in evaluate(trusted, config)} == {"RS-9"}
