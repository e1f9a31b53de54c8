"""Issue 12, keys and residency, over the real plans of every stack:

- key administrators (platform admins, break-glass) can neither use a tenant key nor give themselves
  use of it (grant, policy, alias); only the deploy role writes key policies, and it still can (KMS
  lockout check); grants go only to AWS resources;
- every resource holding a tenant's data (database, replicas, backup replication, secrets, bucket,
  replica, vault recovery points and their copies, queues, topics, log groups) is encrypted with
  that tenant's key or its DR key: destroying them shreds every copy;
- activity and logs of the Canadian regions stay in Canada (trails, buckets, log groups, WAF and
  CloudFront request data, Loki/Tempo/Mimir and Velero storage)."""

import copy
import fnmatch
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from planner.mocks import offline_key_id
from planner.rehearsal import dependency_closure, key_policy_keeps_manager
from tests.conftest import resources_of
from tests.helpers import settings_for

Plan = dict[str, Any]
PROD = ["prod-us-east-1", "prod-us-west-2", "prod-ca-central-1", "prod-ca-west-1"]
CANADA = {"ca-central-1", "ca-west-1"}
ADMINS = ["arn:aws:iam::222222222222:role/platform-admin", "arn:aws:iam::222222222222:role/platform-break-glass"]
ACCOUNT = "123456789012"  # the mocks' account
WORKLOAD = f"arn:aws:iam::{ACCOUNT}:role/ip-prod-us-east-1-harbor-mutual-carrier"
# What would let a principal read with a key or hand itself that power.
READS = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
ESCALATIONS = ["kms:CreateGrant", "kms:PutKeyPolicy", "kms:UpdateAlias", "kms:CreateAlias"]
SERVICES = ["rds", "s3", "secretsmanager", "sqs", "sns", "logs", "backup", "ec2", "lambda"]


# ---------------------------------------------------------------- a small key policy evaluator


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(statement: dict[str, Any], principal: str) -> bool:
    p = statement.get("Principal")
    if p == "*":
        return True
    values = [str(v) for v in _list(p.get("AWS", []))] if isinstance(p, dict) else []
    # An account principal admits every principal of that account (and we over-approximate: any).
    return any(v in ("*", principal) or v.endswith(":root") for v in values)


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    op = operator.removesuffix("IfExists")
    if key not in context:
        return if_exists or op.endswith("NotEquals") or op.endswith("NotLike")
    actual = context[key].lower() if op == "Bool" else context[key]
    wanted = [str(v).lower() if op == "Bool" else str(v) for v in _list(expected)]
    if op in ("StringEquals", "ArnEquals", "Bool"):
        return actual in wanted
    if op in ("StringNotEquals", "ArnNotEquals"):
        return actual not in wanted
    if op in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, w) for w in wanted)
    if op in ("StringNotLike", "ArnNotLike"):
        return not any(fnmatch.fnmatchcase(actual, w) for w in wanted)
    raise AssertionError(f"condition operator {operator} is not modelled: extend the evaluator")


def _matches(statement: dict[str, Any], principal: str, action: str, context: dict[str, str]) -> bool:
    if not _principal_matches(statement, principal):
        return False
    if not any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _list(statement["Action"])):
        return False
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, expected in block.items()
    )


def allowed(policy: dict[str, Any], principal: str, action: str, context: dict[str, str]) -> bool:
    """IAM semantics inside one key policy: an explicit Deny wins, else some Allow must match."""
    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and _matches(s, principal, action, context) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, principal, action, context) for s in statements)


def contexts(principal: str, region: str) -> Iterator[dict[str, str]]:
    """Every request context a caller can bring: directly or through any service, with or without
    the grant-for-AWS-resource flag (a service sets it; a caller cannot)."""
    for service in [None, *SERVICES]:
        for grant in [None, "true", "false"]:
            context = {"aws:PrincipalArn": principal, "kms:CallerAccount": ACCOUNT}
            if service:
                context["kms:ViaService"] = f"{service}.{region}.amazonaws.com"
            if grant:
                context["kms:GrantIsForAWSResource"] = grant
            yield context


def tenant_keys(plans: dict[str, Plan]) -> Iterator[tuple[Plan, dict[str, Any]]]:
    for stack in [*PROD, "dev"]:
        for key in resources_of(plans[stack], "aws:kms/key:Key"):
            if key["tenant"]:
                yield plans[stack], key


def deployer_of(plan: Plan) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/insurance-deployer-{plan['stack']}"


def test_key_administrators_can_neither_use_a_tenant_key_nor_grant_themselves_its_use(plans: dict[str, Plan]) -> None:
    checked = 0
    for plan, key in tenant_keys(plans):
        policy = json.loads(key["inputs"]["policy"])
        admins = settings_for(plan["stack"]).cluster.admin_role_arns
        assert set(ADMINS) <= set(admins) or plan["stack"] == "dev"
        for admin in admins:
            for action in READS + ESCALATIONS:
                for context in contexts(admin, plan["region"]):
                    assert not allowed(policy, admin, action, context), (key["name"], admin, action, context)
        checked += 1
    assert checked >= 40  # data, PII and DR keys of every prod and dev tenant


def test_only_the_deploy_role_writes_key_policies_and_grants_go_only_to_aws_resources(plans: dict[str, Plan]) -> None:
    for plan, key in tenant_keys(plans):
        policy = json.loads(key["inputs"]["policy"])
        deployer, region = deployer_of(plan), plan["region"]
        # KMS lockout check: the caller of CreateKey/PutKeyPolicy keeps PutKeyPolicy.
        assert allowed(policy, deployer, "kms:PutKeyPolicy", {"aws:PrincipalArn": deployer}), key["name"]
        for other in [WORKLOAD, f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:role/anyone"]:
            for context in contexts(other, region):
                assert not allowed(policy, other, "kms:PutKeyPolicy", context), (key["name"], other)
        for principal in [deployer, WORKLOAD, f"arn:aws:iam::{ACCOUNT}:role/ip-prod-{region}-backup"]:
            for context in contexts(principal, region):
                if context.get("kms:GrantIsForAWSResource") != "true":
                    assert not allowed(policy, principal, "kms:CreateGrant", context), (key["name"], principal, context)
        # The deploy role reads only what it writes: secret values, vault set-up and the job
        # processors' environment (CreateFunction encrypts it as the caller), never directly.
        for context in contexts(deployer, region):
            via = context.get("kms:ViaService", "").split(".")[0]
            if allowed(policy, deployer, "kms:Decrypt", context):
                assert via in ("secretsmanager", "backup", "lambda"), (key["name"], context)


def test_key_administration_actions_are_listed_never_wildcards(plans: dict[str, Plan]) -> None:
    for _, key in tenant_keys(plans):
        for s in json.loads(key["inputs"]["policy"])["Statement"]:
            if s["Effect"] == "Allow" and s["Sid"] in ("PlatformAdministers", "DeployRoleManages"):
                assert not [a for a in _list(s["Action"]) if "*" in a], (key["name"], s["Sid"])


def test_reh_kms1_sees_a_deny_that_takes_put_key_policy_from_the_deploy_role(plans: dict[str, Plan]) -> None:
    plan = copy.deepcopy(plans["prod-ca-central-1"])
    (key,) = [k for k in resources_of(plan, "aws:kms/key:Key") if k["name"] == "tenant-maple-mutual-key"]
    assert not [f for f in key_policy_keeps_manager([plan]) if f.urn == key["urn"]]
    policy = json.loads(key["inputs"]["policy"])
    deny = next(s for s in policy["Statement"] if s["Sid"] == "OnlyTheDeployRoleChangesThePolicy")
    del deny["Condition"]  # "nobody changes the policy": KMS refuses it (lockout safety check)
    key["inputs"]["policy"] = json.dumps(policy)
    (finding,) = [f for f in key_policy_keeps_manager([plan]) if f.urn == key["urn"]]
    assert finding.severity == "mandatory" and "a Deny" in finding.message


# ---------------------------------------------------------------- crypto-shredding


def _key_index(plans: dict[str, Plan]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Key id -> key resource, alias name -> key resource, over every stack."""
    by_id: dict[str, dict[str, Any]] = {}
    by_alias: dict[str, dict[str, Any]] = {}
    for plan in plans.values():
        keys = {offline_key_id(k["name"]): k for k in resources_of(plan, "aws:kms/key:Key")}
        by_id.update(keys)
        for alias in resources_of(plan, "aws:kms/alias:Alias"):
            by_alias[alias["inputs"]["name"]] = keys[alias["inputs"]["targetKeyId"]]
    return by_id, by_alias


def _key_of(value: str, by_id: dict[str, Any], by_alias: dict[str, Any]) -> dict[str, Any]:
    if match := re.fullmatch(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/(.+)", value):
        return by_id[match.group(1)]
    if match := re.fullmatch(r"arn:aws:kms:[a-z0-9-]+:\d{12}:(alias/.+)", value):
        return by_alias[match.group(1)]
    raise AssertionError(f"not a key or alias ARN: {value}")


# Where each data-holding resource type names the key its data is encrypted with.
KEY_FIELDS: dict[str, list[str]] = {
    "aws:rds/instance:Instance": ["kmsKeyId", "performanceInsightsKmsKeyId", "masterUserSecretKmsKeyId"],
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": ["kmsKeyId"],
    "aws:secretsmanager/secret:Secret": ["kmsKeyId"],
    "aws:sqs/queue:Queue": ["kmsMasterKeyId"],
    "aws:sns/topic:Topic": ["kmsMasterKeyId"],
    "aws:cloudwatch/logGroup:LogGroup": ["kmsKeyId"],
    "aws:backup/vault:Vault": ["kmsKeyArn"],
}


def _data_keys(r: dict[str, Any]) -> list[str]:
    """Every key ARN that encrypts data this resource holds or writes somewhere ("" for none)."""
    i = r["inputs"]
    found = [i[f] for f in KEY_FIELDS.get(r["type"], []) if i.get(f)]
    if r["type"] == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        found += [rule["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId", "") for rule in i["rules"]]
    if r["type"] == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
        found += [rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"] for rule in i["rules"]]
    return found


def test_destroying_a_tenants_keys_shreds_every_copy_of_its_data(plans: dict[str, Plan]) -> None:
    by_id, by_alias = _key_index(plans)
    vault_keys: dict[tuple[str, str], dict[str, Any]] = {}  # (region, vault name) -> its key
    holders = 0
    for stack in PROD:
        plan = plans[stack]
        for r in plan["resources"]:
            for value in _data_keys(r):
                if not value:  # SSE-S3: nobody's key (the ALB log bucket: ELB writes only SSE-S3)
                    assert r["tenant"] is None, f"{stack} {r['name']} holds {r['tenant']} data under no key"
                    continue
                key = _key_of(value, by_id, by_alias)
                if r["type"] == "aws:backup/vault:Vault":
                    vault_keys[(plan["region"], r["inputs"]["name"])] = key
                if r["tenant"] is None:
                    continue
                holders += 1
                assert key["tenant"] == r["tenant"], f"{stack} {r['name']} holds {r['tenant']} data under {key['name']}"
                assert key["options"]["protect"] is True
    assert holders > 150
    # Recovery points: every tenant's backup plan writes to a vault under that tenant's key, and
    # copies to a vault under its DR key in the peer region.
    for stack in PROD:
        plan = plans[stack]
        for backup in resources_of(plan, "aws:backup/plan:Plan"):
            tenant = backup["tenant"]
            for rule in backup["inputs"]["rules"]:
                assert vault_keys[(plan["region"], rule["targetVaultName"])]["tenant"] == tenant
                for action in rule.get("copyActions", []):
                    _, _, _, region, _, _, name = action["destinationVaultArn"].split(":")
                    dr_key = vault_keys[(region, name)]
                    assert dr_key["tenant"] == tenant and "DR copies" in dr_key["inputs"]["description"]


def test_velero_backs_up_each_namespace_under_its_tenants_keys_only(plans: dict[str, Plan]) -> None:
    by_id, by_alias = _key_index(plans)
    for stack in PROD:
        plan = plans[stack]
        locations = {
            r["inputs"]["metadata"]["name"]: r["inputs"]["spec"]
            for r in resources_of(plan, "kubernetes:velero.io/v1:BackupStorageLocation")
        }
        schedules = resources_of(plan, "kubernetes:velero.io/v1:Schedule")
        assert schedules
        for schedule in schedules:
            tenant = schedule["inputs"]["metadata"]["labels"]["tenant"]
            location = locations[schedule["inputs"]["spec"]["template"]["storageLocation"]]
            assert location["objectStorage"]["prefix"] == tenant
            assert _key_of(location["config"]["kmsKeyId"], by_id, by_alias)["tenant"] == tenant
        for config in resources_of(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
            if config["name"] != "velero-backups":
                continue
            for rule in config["inputs"]["rules"]:
                tenant = rule["filter"]["prefix"].removesuffix("/")
                replica = _key_of(rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"], by_id, by_alias)
                assert replica["tenant"] == tenant, (stack, rule["id"], replica["name"])


def test_no_tenant_data_in_the_platform_vault(plans: dict[str, Plan]) -> None:
    """Tenant data is backed up into its own vault under its own key (destroying the key shreds the
    copies), with one deliberate exception: the pooled warehouse's snapshots, which hold pooled
    tenants' schemas under the platform key, kept at most 14 days (an offboarded tenant's dropped
    schema is gone from every snapshot two weeks later; docs/decisions.md)."""
    for stack in PROD:
        for backup in resources_of(plans[stack], "aws:backup/plan:Plan"):
            for rule in backup["inputs"]["rules"]:
                if backup["inputs"]["name"] == f"ip-prod-{plans[stack]['region']}-pool-warehouse":
                    assert backup["tenant"] is None and rule["lifecycle"]["deleteAfter"] <= 14
                    continue
                assert not rule["targetVaultName"].endswith(f"{plans[stack]['region']}-vault")


# ---------------------------------------------------------------- residency of audit and telemetry


def _region(plan: Plan, r: dict[str, Any]) -> str:
    (provider,) = [p for p in resources_of(plan, "pulumi:providers:aws") if r["provider"].startswith(p["urn"])]
    return provider["inputs"]["region"]


STORES = (
    "aws:s3/bucket:Bucket",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudtrail/trail:Trail",
    "aws:backup/vault:Vault",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination",
)


@pytest.mark.parametrize("stack", ["prod-ca-central-1", "prod-ca-west-1"])
def test_canadian_stacks_keep_every_log_trail_and_telemetry_store_in_canada(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    stores = [r for r in plan["resources"] if r["type"] in STORES]
    assert len(stores) > 20
    for r in stores:
        assert _region(plan, r) in CANADA, r["name"]
    # Where the stores' clients write: replication, Velero, Loki, Tempo, Mimir.
    for r in resources_of(plan, "aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        for rule in r["inputs"]["rules"]:
            assert rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"].split(":")[3] in CANADA
    regions = set()
    for release in resources_of(plan, "kubernetes:helm.sh/v3:Release"):
        text = json.dumps(release["inputs"].get("values", {}))
        regions |= set(re.findall(r'"region": "([a-z]{2}-[a-z]+-\d)"', text))
        regions |= set(re.findall(r"s3\.([a-z]{2}-[a-z]+-\d)\.amazonaws\.com", text))
    assert regions and regions <= CANADA, regions


@pytest.mark.parametrize("stack", ["prod-ca-central-1", "prod-ca-west-1"])
def test_canadian_activity_is_recorded_by_a_trail_in_its_own_region(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    (trail,) = resources_of(plan, "aws:cloudtrail/trail:Trail")
    i = trail["inputs"]
    assert i["isMultiRegionTrail"] is False and i["includeGlobalServiceEvents"] is False
    assert i["s3BucketName"].startswith(f"ip-prod-{plan['region']}-") and i["enableLogFileValidation"] is True


def test_no_trail_outside_canada_records_canadian_regions(plans: dict[str, Plan]) -> None:
    """A multi-region trail delivers every region's activity to its own region's bucket."""
    recorded: dict[str, list[str]] = {}
    for stack in PROD:
        plan = plans[stack]
        for trail in resources_of(plan, "aws:cloudtrail/trail:Trail"):
            home = _region(plan, trail)
            if trail["inputs"]["isMultiRegionTrail"]:
                raise AssertionError(f"{stack}: the multi-region trail {trail['name']} in {home} records Canada")
            recorded.setdefault(home, []).append(trail["name"])
    # Every prod region still records its activity, exactly once.
    assert {r: len(t) for r, t in recorded.items()} == {plans[s]["region"]: 1 for s in PROD}


def test_a_canadian_tenants_front_end_keeps_no_request_data_in_us_east_1(plans: dict[str, Plan]) -> None:
    plan = plans["prod-us-east-1"]  # the global edge owner
    maple = [r for r in plan["resources"] if r["tenant"] == "maple-mutual"]
    assert any(r["type"] == "aws:cloudfront/distribution:Distribution" for r in maple)
    types = {r["type"] for r in maple}
    assert not types & {
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "aws:cloudwatch/logDelivery:LogDelivery",
        "aws:s3/bucket:Bucket",
    }, types
    (acl,) = [r for r in maple if r["type"] == "aws:wafv2/webAcl:WebAcl"]
    assert acl["inputs"]["visibilityConfig"]["sampledRequestsEnabled"] is False
    assert all(rule["visibilityConfig"]["sampledRequestsEnabled"] is False for rule in acl["inputs"]["rules"])
    # A tenant whose residency holds us-east-1 keeps its samples and logs there.
    (harbor,) = [r for r in resources_of(plan, "aws:wafv2/webAcl:WebAcl") if r["tenant"] == "harbor-mutual"]
    assert harbor["inputs"]["visibilityConfig"]["sampledRequestsEnabled"] is True


@pytest.mark.parametrize("stack", ["dev", "prod-us-east-1", "prod-us-west-2", "prod-ca-central-1", "prod-ca-west-1"])
def test_exported_database_logs_land_under_the_databases_own_key(plans: dict[str, Any], stack: str) -> None:
    """RDS creates an export's log group under CloudWatch's default key unless it exists already:
    every exported log of every tenant database (primary, replica, DR copy) has its group made
    first, under the same key as the database, so destroying the tenant key shreds them too."""
    plan = plans[stack]
    closure = dependency_closure(plan)
    groups = {r["inputs"]["name"]: r for r in resources_of(plan, "aws:cloudwatch/logGroup:LogGroup")}
    instances = [
        r for r in resources_of(plan, "aws:rds/instance:Instance") if r["inputs"].get("enabledCloudwatchLogsExports")
    ]
    assert instances
    for db in instances:
        for log in db["inputs"]["enabledCloudwatchLogsExports"]:
            group = groups.get(f"/aws/rds/instance/{db['inputs']['identifier']}/{log}")
            assert group is not None, f"{db['name']}: RDS would create its {log} log group under the default key"
            assert group["inputs"]["kmsKeyId"] == db["inputs"]["kmsKeyId"], f"{db['name']} {log}"
            assert group["urn"] in closure(db["urn"]), f"{db['name']} must wait for its {log} log group"
