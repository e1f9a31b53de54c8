"""The public API front door (PublicApi on the platform stack, TenantApiAccess on each tenant
stack): a key per tenant in its own tier's usage plan with the tier table's throttle and quota,
an authorizer on every method, KMS-encrypted and retained logs, X-Ray, WAF, a VPC link V2 to the
entry ALB over HTTPS, deployments that roll on change, and a latency record per serving region."""

import dataclasses
import itertools
import json
from typing import Any

import pulumi
import pytest

from catalog.tiers import TIERS
from components.edge.api_gateway import (
    ACCOUNT_BURST_LIMIT,
    ACCOUNT_RATE_LIMIT,
    STAGE,
    PublicApi,
    PublicApiArgs,
    configuration_hash,
)
from components.edge.ingress_routing import ROUTER_NAMESPACE
from components.tenant.tenant_namespace import AGGREGATOR
from programs.context import Region
from tests.conftest import STACKS, one, resources_of
from tests.helpers import of_type, run, settings_for, single

Plan = dict[str, Any]
TENANTS = ("demo-basic", "demo-standard", "demo-premium")
API_KEY = "aws:apigateway/apiKey:ApiKey"
PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
STAGE_TYPE = "aws:apigateway/stage:Stage"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RECORD = "aws:route53/record:Record"
PARAMETER = "aws:ssm/parameter:Parameter"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SERVICE = "kubernetes:core/v1:Service"
MERGEABLE = "nginx.org/mergeable-ingress-type"


@pytest.fixture(scope="module")
def dev(plans: dict[str, Plan]) -> Plan:
    return plans["dev"]


def _contract(plan: Plan) -> dict[str, Any]:
    return plan["outputs"]["contract"]


def _of_tenant(plan: Plan, type_: str, tenant: str) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, type_) if r["tenant"] == tenant]


@pytest.mark.parametrize("tenant", TENANTS)
def test_each_tenant_has_its_own_key_in_its_own_tiers_plan(dev: Plan, tenant: str) -> None:
    (key,) = _of_tenant(dev, API_KEY, tenant)
    assert key["stack"] == f"dev.{tenant}" and key["inputs"]["tags"]["tenant"] == tenant
    assert key["inputs"]["name"] == f"ip-dev-us-east-1-{tenant}"
    (plan_key,) = _of_tenant(dev, PLAN_KEY, tenant)
    assert key["urn"] in plan_key["options"]["dependsOn"]  # its own key, nobody else's
    tier = key["inputs"]["tags"]["tier"]
    assert plan_key["inputs"]["usagePlanId"] == _contract(dev)["apiUsagePlanIds"][tier]


def test_no_key_is_shared_and_tiers_have_distinct_plans(dev: Plan) -> None:
    keys = resources_of(dev, API_KEY)
    assert sorted(k["inputs"]["tags"]["tenant"] for k in keys) == sorted(TENANTS)
    assert len({k["inputs"]["name"] for k in keys}) == len(keys)
    plan_ids = _contract(dev)["apiUsagePlanIds"]
    assert set(plan_ids) == set(TIERS) and len(set(plan_ids.values())) == len(TIERS)


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_usage_plan_throttle_and_quota_come_from_the_tier_table(dev: Plan, tier: str) -> None:
    plan = one(dev, USAGE_PLAN, f"api-{tier}")["inputs"]
    spec = TIERS[tier].api
    assert plan["throttleSettings"] == {"rateLimit": spec.rate_limit_rps, "burstLimit": spec.burst_limit}
    assert plan["quotaSettings"] == {"limit": spec.quota_limit, "period": spec.quota_period}
    assert plan["apiStages"] == [{"apiId": one(dev, STAGE_TYPE, "api")["inputs"]["restApi"], "stage": STAGE}]
    assert plan["tags"]["tier"] == tier


def test_tiers_only_add_api_capacity() -> None:
    specs = [TIERS[t].api for t in ("basic", "standard", "premium")]
    for lower, higher in itertools.pairwise(specs):
        assert lower.rate_limit_rps < higher.rate_limit_rps and lower.burst_limit < higher.burst_limit
        assert lower.quota_limit < higher.quota_limit
    assert all(s.burst_limit >= s.rate_limit_rps for s in specs)


def test_every_method_has_the_authorizer_and_requires_a_key(dev: Plan) -> None:
    authorizer = one(dev, "aws:apigateway/authorizer:Authorizer", "api")
    methods = resources_of(dev, METHOD)
    assert methods
    for method in methods:
        inputs = method["inputs"]
        assert inputs["authorization"] == "CUSTOM" and inputs["apiKeyRequired"] is True
        assert authorizer["urn"] in method["options"]["dependsOn"]
    a = authorizer["inputs"]
    assert a["type"] == "REQUEST"
    # the tenant is the host: a cached answer for one tenant's host never serves another's
    assert a["identitySource"] == "method.request.header.Authorization,method.request.header.Host"
    assert ":function:ip-dev-us-east-1-api-authorizer/invocations" in a["authorizerUri"]
    rest = one(dev, "aws:apigateway/restApi:RestApi", "api")["inputs"]
    assert rest["apiKeySource"] == "AUTHORIZER" and rest["disableExecuteApiEndpoint"] is True
    assert rest["endpointConfiguration"] == {"types": "REGIONAL"}


def test_authorizer_reads_only_the_mapping_entries_and_decrypts_through_ssm(dev: Plan) -> None:
    doc = json.loads(one(dev, "aws:iam/rolePolicy:RolePolicy", "api-authorizer")["inputs"]["policy"])
    by_sid = {st["Sid"]: st for st in doc["Statement"]}
    prefix = "arn:aws:ssm:us-east-1:123456789012:parameter/ip-dev/us-east-1/api-tenants"
    assert by_sid["TenantMappings"]["Resource"] == f"{prefix}/*"
    kms = by_sid["DecryptMappingsThroughSsm"]
    assert kms["Resource"] == _contract(dev)["apiMappingKeyArn"]
    assert kms["Condition"]["StringLike"] == {"kms:EncryptionContext:PARAMETER_ARN": f"{prefix}/*"}
    key_policy = json.loads(one(dev, "aws:kms/key:Key", "api-mappings")["inputs"]["policy"])
    reader = next(st for st in key_policy["Statement"] if st["Sid"] == "AuthorizerReadsTenantMappings")
    assert reader["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/ip-dev-us-east-1-api-authorizer"}
    assert reader["Condition"]["StringEquals"] == {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}


@pytest.mark.parametrize("tenant", TENANTS)
def test_authorizer_entry_is_a_secure_string_under_the_mapping_key(dev: Plan, tenant: str) -> None:
    (entry,) = _of_tenant(dev, PARAMETER, tenant)
    inputs = entry["inputs"]
    assert inputs["name"] == f"{_contract(dev)['apiMappingPrefix']}/{tenant}"
    assert inputs["type"] == "SecureString" and inputs["keyId"] == _contract(dev)["apiMappingKeyArn"]


def test_logs_are_encrypted_and_retained_and_the_stage_is_traced(dev: Plan) -> None:
    stage = one(dev, STAGE_TYPE, "api")["inputs"]
    logs_key = next(r for r in resources_of(dev, "aws:kms/key:Key") if r["name"] == "platform-logs")
    logs_key_arn = f"arn:aws:kms:us-east-1:123456789012:key/{_key_id(logs_key['name'])}"
    retention = Region.of(settings_for("dev")).log_retention_days
    access = one(dev, LOG_GROUP, "api-access")
    execution = one(dev, LOG_GROUP, "api-execution")
    for group in (access, execution):
        assert group["inputs"]["kmsKeyId"] == logs_key_arn
        assert group["inputs"]["retentionInDays"] == retention
        assert group["options"]["protect"] is True
    assert execution["inputs"]["name"] == f"API-Gateway-Execution-Logs_{stage['restApi']}/{STAGE}"
    assert stage["accessLogSettings"]["destinationArn"].endswith(f":log-group:{access['inputs']['name']}")
    assert "$context.authorizer.tenant" in stage["accessLogSettings"]["format"]
    assert stage["xrayTracingEnabled"] is True and stage["clientCertificateId"]
    method_settings = one(dev, "aws:apigateway/methodSettings:MethodSettings", "api")["inputs"]
    assert method_settings["methodPath"] == "*/*"
    s = method_settings["settings"]
    assert s["loggingLevel"] == "ERROR" and s["metricsEnabled"] is True and s["dataTraceEnabled"] is False
    assert 0 < s["throttlingRateLimit"] <= ACCOUNT_RATE_LIMIT and 0 < s["throttlingBurstLimit"] <= ACCOUNT_BURST_LIMIT


def _key_id(name: str) -> str:
    from planner.mocks import offline_key_id

    return offline_key_id(name)


def test_stage_is_behind_the_entry_waf(dev: Plan) -> None:
    association = one(dev, "aws:wafv2/webAclAssociation:WebAclAssociation", "api-waf")
    stage = one(dev, STAGE_TYPE, "api")
    assert stage["urn"] in association["options"]["dependsOn"]
    assert association["inputs"]["resourceArn"].endswith(f"/stages/{STAGE}")
    entry_acl = one(dev, "aws:wafv2/webAcl:WebAcl", "entry")
    assert entry_acl["urn"] in association["options"]["dependsOn"]


def test_private_integration_reaches_the_entry_alb_over_https(dev: Plan) -> None:
    integration = one(dev, INTEGRATION, "api-proxy-any")
    inputs = integration["inputs"]
    alb = one(dev, "aws:lb/loadBalancer:LoadBalancer", "entry")
    link = one(dev, "aws:apigatewayv2/vpcLink:VpcLink", "api")
    assert inputs["type"] == "HTTP_PROXY" and inputs["connectionType"] == "VPC_LINK"
    assert inputs["integrationTarget"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/"
    )
    assert alb["urn"] in integration["options"]["dependsOn"] and link["urn"] in integration["options"]["dependsOn"]
    domain = settings_for("dev").edge.domain
    assert inputs["uri"] == f"https://api.{domain}/tenants/{{tenant}}/{{proxy}}"
    # the entry's wildcard certificate covers the uri's host (TLS server name and Host header)
    certificate = one(dev, "aws:acm/certificate:Certificate", "entry")["inputs"]["domainName"]
    assert certificate == f"*.{domain}"
    # the tenant reaches the backend from the authorizer only
    assert inputs["requestParameters"]["integration.request.header.X-Tenant-Id"] == "context.authorizer.tenant"
    group = next(r for r in resources_of(dev, "aws:ec2/securityGroup:SecurityGroup") if r["name"] == "api-vpc-link")
    (egress,) = group["inputs"]["egress"]
    assert egress["fromPort"] == egress["toPort"] == 443 and "cidrBlocks" not in egress


def test_custom_domain_is_one_regional_wildcard_with_tls12(dev: Plan) -> None:
    (domain,) = resources_of(dev, "aws:apigateway/domainName:DomainName")
    inputs = domain["inputs"]
    assert inputs["domainName"] == f"*.api.{settings_for('dev').edge.domain}"
    assert inputs["securityPolicy"] == "TLS_1_2" and inputs["endpointConfiguration"] == {"types": "REGIONAL"}


def test_deployment_trigger_is_the_hash_of_the_routes_in_the_plan(dev: Plan) -> None:
    method = one(dev, METHOD, "api-proxy-any")["inputs"]
    integration = one(dev, INTEGRATION, "api-proxy-any")["inputs"]
    authorizer = one(dev, "aws:apigateway/authorizer:Authorizer", "api")["inputs"]
    proxy = one(dev, "aws:apigateway/resource:Resource", "api-proxy")["inputs"]
    routes = [
        method["authorization"],
        method["authorizerId"],
        method["apiKeyRequired"],
        method["httpMethod"],
        proxy["pathPart"],
        integration["type"],
        integration["uri"],
        integration["connectionType"],
        integration["connectionId"],
        integration["integrationTarget"],
        integration["requestParameters"],
        authorizer["authorizerUri"],
        authorizer["identitySource"],
        authorizer["authorizerResultTtlInSeconds"],
    ]
    deployment = one(dev, "aws:apigateway/deployment:Deployment", "api")
    assert deployment["inputs"]["triggers"] == {"configuration": configuration_hash({"routes": routes})}
    assert not deployment["options"].get("deleteBeforeReplace")  # the new one exists before the old goes


def _public_api(domain: str) -> list[Any]:
    base = settings_for("dev")
    settings = dataclasses.replace(base, edge=dataclasses.replace(base.edge, domain=domain))

    def program() -> None:
        PublicApi(
            "api",
            PublicApiArgs(
                settings=settings,
                account_id="123456789012",
                vpc_id="vpc-1",
                private_subnet_ids=["subnet-a", "subnet-b"],
                load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/e/1",
                load_balancer_security_group_id="sg-alb",
                web_acl_arn="arn:aws:wafv2:us-east-1:123456789012:regional/webacl/e/1",
                logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
                log_retention_days=365,
            ),
            pulumi.ResourceOptions(),
        )

    return run(program, settings)


def test_a_route_change_rolls_out_a_new_deployment() -> None:
    """The backend route's host changes (a new edge domain): the deployment's trigger changes,
    so Pulumi replaces it (create before delete) and the stage moves to the new one."""
    before = _public_api("dev.insure.example.com")
    after = _public_api("dev2.insure.example.com")
    uri = [single(r, "aws:apigateway/integration:Integration").inputs["uri"] for r in (before, after)]
    assert uri[0] != uri[1]
    triggers = [single(r, "aws:apigateway/deployment:Deployment").inputs["triggers"] for r in (before, after)]
    assert triggers[0] != triggers[1]
    again = _public_api("dev.insure.example.com")
    assert single(again, "aws:apigateway/deployment:Deployment").inputs["triggers"] == triggers[0]
    assert len(of_type(before, "aws:apigateway/usagePlan:UsagePlan")) == len(TIERS)


@pytest.mark.parametrize("tenant", TENANTS)
def test_latency_record_per_serving_region_aliases_the_api_domain(dev: Plan, tenant: str) -> None:
    (record,) = [r for r in _of_tenant(dev, RECORD, tenant) if r["name"].endswith("-api-latency")]
    inputs = record["inputs"]
    assert inputs["name"] == f"{tenant}.api.{settings_for('dev').edge.domain}"
    assert inputs["setIdentifier"] == "us-east-1"
    assert inputs["latencyRoutingPolicies"] == [{"region": "us-east-1"}]
    (alias,) = inputs["aliases"]
    assert alias["name"] == _contract(dev)["apiDomainName"] and alias["zoneId"] == _contract(dev)["apiDomainZoneId"]
    assert alias["evaluateTargetHealth"] is True
    health = one(dev, "aws:route53/healthCheck:HealthCheck", f"tenant-{tenant}-health")
    assert health["urn"] in record["options"]["dependsOn"]


def test_every_serving_region_answers_for_its_tenants(plans: dict[str, Plan]) -> None:
    for stack in ("prod-us-east-1", "prod-us-west-2"):
        plan = plans[stack]
        settings = settings_for(stack)
        records = {r["tenant"]: r["inputs"] for r in resources_of(plan, RECORD) if r["name"].endswith("-api-latency")}
        keyed = {r["tenant"] for r in resources_of(plan, API_KEY)}
        assert set(records) == keyed and keyed, stack
        for tenant, inputs in records.items():
            assert (
                inputs["setIdentifier"] == settings.region and inputs["name"] == f"{tenant}.api.{settings.edge.domain}"
            )
        # home tenants always (their pool is here); others once their issuer reached this region
        homed = {t.id for t in settings.served_tenants if t.home_region == settings.region}
        assert homed <= keyed <= {t.id for t in settings.served_tenants}, stack


# ---------------------------------------------------------------- dispatch to the tenant's aggregator


def test_the_tenant_in_the_backend_path_is_the_authorizers_never_the_clients(dev: Plan) -> None:
    """API Gateway fills `{tenant}` from the authorizer's context (a REST API parameter mapping
    source); only the client's proxy path comes from the request, after the tenant's prefix."""
    inputs = one(dev, INTEGRATION, "api-proxy-any")["inputs"]
    parameters = inputs["requestParameters"]
    assert parameters["integration.request.path.tenant"] == "context.authorizer.tenant"
    from_client = {k: v for k, v in parameters.items() if v.startswith("method.request.")}
    assert from_client == {"integration.request.path.proxy": "method.request.path.proxy"}
    path = inputs["uri"].split("/", 3)[3]
    assert path.index("{tenant}") < path.index("{proxy}") and path.startswith("tenants/{tenant}/")


def _routes(plan: Plan) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, INGRESS) if (r["inputs"]["metadata"].get("annotations") or {}).get(MERGEABLE)]


@pytest.mark.parametrize("stack", STACKS)
def test_the_platform_owns_the_api_hosts_master_once(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    host = settings_for(stack).edge.api_host
    masters = [r for r in _routes(plan) if r["inputs"]["metadata"]["annotations"][MERGEABLE] == "master"]
    assert len(masters) == 1, [m["name"] for m in masters]
    (master,) = masters
    assert master["tenant"] is None and master["stack"] == stack
    assert master["inputs"]["metadata"]["namespace"] == ROUTER_NAMESPACE
    (rule,) = master["inputs"]["spec"]["rules"]
    assert rule == {"host": host}  # a master has no paths
    annotations = master["inputs"]["metadata"]["annotations"]
    assert annotations["nginx.org/redirect-to-https"] == "true" and annotations["nginx.org/hsts"] == "true"


@pytest.mark.parametrize("stack", STACKS)
def test_each_served_tenant_has_one_minion_on_its_own_prefix_to_its_own_aggregator(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    settings = settings_for(stack)
    minions = [r for r in _routes(plan) if r["inputs"]["metadata"]["annotations"][MERGEABLE] == "minion"]
    served = {t.id for t in settings.served_tenants}
    assert sorted(r["tenant"] for r in minions) == sorted(served)  # exactly one each
    backend = one(plan, INTEGRATION, "api-proxy-any")["inputs"]["uri"]
    for minion in minions:
        tenant, inputs = minion["tenant"], minion["inputs"]
        assert minion["stack"] == f"{stack}.{tenant}" and inputs["metadata"]["namespace"] == tenant
        assert "tls" not in inputs["spec"]
        (rule,) = inputs["spec"]["rules"]
        assert rule["host"] == settings.edge.api_host
        (path,) = rule["http"]["paths"]
        # the path API Gateway builds for this tenant's requests, and nobody else's
        prefix = backend.replace("{tenant}", tenant).split(settings.edge.api_host, 1)[1].replace("{proxy}", "")
        assert path["path"] == prefix == f"/tenants/{tenant}/" and path["pathType"] == "Prefix"
        service = path["backend"]["service"]
        assert service == {"name": AGGREGATOR, "port": {"name": "http"}}
        aggregator = [
            r
            for r in resources_of(plan, SERVICE)
            if r["inputs"]["metadata"]["name"] == AGGREGATOR and r["inputs"]["metadata"]["namespace"] == tenant
        ]
        assert len(aggregator) == 1 and any(p.get("name") == "http" for p in aggregator[0]["inputs"]["spec"]["ports"])
        assert inputs["metadata"]["annotations"]["nginx.org/rewrites"] == f"serviceName={AGGREGATOR} rewrite=/api/"
    prefixes = [m["inputs"]["spec"]["rules"][0]["http"]["paths"][0]["path"] for m in minions]
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a)]  # no prefix covers another
