"""API Gateway (REST): the public API front door follows AWS Security Hub's APIGateway controls
that apply to REST APIs (APIGateway.1 execution logging, .2 backend authentication certificate,
.3 X-Ray, .4 WAF, .5 cache encryption, .8 authorization on routes, .9 access logging) and the
platform's own: every method behind an authorizer and an API key, every integration to the
backend over HTTPS, one API key per tenant in exactly one usage plan, and usage plans that
throttle and set a quota.

Reference: https://docs.aws.amazon.com/securityhub/latest/userguide/apigateway-controls.html"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, naic, nydfs
from .props import as_list, get, tags_of
from .rule import Res, Rule, of_types

STAGE = "aws:apigateway/stage:Stage"
METHOD = "aws:apigateway/method:Method"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
INTEGRATION = "aws:apigateway/integration:Integration"
API_KEY = "aws:apigateway/apiKey:ApiKey"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOGGING_LEVELS = frozenset({"ERROR", "INFO"})
AUTHORIZED = frozenset({"CUSTOM", "COGNITO_USER_POOLS"})


def _same_stage(stage: Res, other: Res, api_key: str = "restApi", stage_key: str = "stageName") -> bool:
    """`other` configures `stage`: same API and stage name, or (in a preview, before ids are
    known) it depends on the stage."""
    if stage.urn in other.dependencies:
        return True
    api, name = get(stage.props, "restApi"), get(stage.props, "stageName")
    return bool(api) and get(other.props, api_key) == api and get(other.props, stage_key) == name


def execution_logging(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """APIGateway.1: every stage logs execution at ERROR or INFO (method settings for all methods)."""
    settings = [r for r in resources if r.type == METHOD_SETTINGS]
    for stage in (r for r in resources if r.type == STAGE):
        levels = [
            get(m.props, "settings.loggingLevel")
            for m in settings
            if _same_stage(stage, m) and get(m.props, "methodPath") == "*/*"
        ]
        if not any(level in LOGGING_LEVELS for level in levels):
            yield (f"stage {stage.name} has no execution logging at ERROR or INFO for */* (MethodSettings)", stage.urn)


def backend_certificate(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """APIGateway.2: the stage presents a client certificate to its backend."""
    if not get(r.props, "clientCertificateId"):
        yield "the stage presents no client certificate to the backend: set clientCertificateId"


def xray_tracing(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """APIGateway.3: X-Ray active tracing on the stage."""
    if get(r.props, "xrayTracingEnabled") is not True:
        yield "X-Ray tracing is off: set xrayTracingEnabled"


def waf_protected(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """APIGateway.4: a WAF web ACL is associated with every stage."""
    associations = [r for r in resources if r.type == WAF_ASSOCIATION]
    for stage in (r for r in resources if r.type == STAGE):
        suffix = f"/restapis/{get(stage.props, 'restApi')}/stages/{get(stage.props, 'stageName')}"
        if not any(
            stage.urn in a.dependencies or str(get(a.props, "resourceArn") or "").endswith(suffix) for a in associations
        ):
            yield (f"stage {stage.name} has no AWS WAF web ACL (WebAclAssociation)", stage.urn)


def cache_encrypted(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """APIGateway.5: where responses are cached, the cache is encrypted."""
    if get(r.props, "settings.cachingEnabled") and not get(r.props, "settings.cacheDataEncrypted"):
        yield "the stage caches responses unencrypted: set settings.cacheDataEncrypted"


def method_authorized(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """APIGateway.8 and the platform's tenancy: every method has an authorizer and requires the
    tenant's API key (the usage plan meters that tenant only)."""
    authorization = get(r.props, "authorization")
    if authorization not in AUTHORIZED:
        yield f"method {get(r.props, 'httpMethod')} has authorization '{authorization}': use the tenant authorizer (CUSTOM)"
    elif not get(r.props, "authorizerId"):
        yield "the method names no authorizer (authorizerId)"
    if get(r.props, "apiKeyRequired") is not True:
        yield "the method does not require the tenant's API key (apiKeyRequired): its usage plan does not apply"


def access_logging(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """APIGateway.9: access logs to a destination, in a format."""
    if not get(r.props, "accessLogSettings.destinationArn") or not get(r.props, "accessLogSettings.format"):
        yield "the stage writes no access log: set accessLogSettings (destinationArn and format)"


def backend_tls(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """An HTTP integration reaches its backend over TLS (an https uri: for a VPC link V2 private
    integration, the uri's host is the TLS server name and Host header)."""
    if get(r.props, "type") not in ("HTTP", "HTTP_PROXY"):
        return
    uri = str(get(r.props, "uri") or "")
    if not uri.startswith("https://"):
        yield f"the integration reaches its backend over plain HTTP ({uri}): use an https uri"
    if get(r.props, "connectionType") != "VPC_LINK":
        yield "the integration reaches its backend over the internet: use a private integration (VPC_LINK)"


def key_per_tenant(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """One API key per tenant, in exactly one usage plan: a key names its tenant (tag), no tenant
    has two, and no key joins two plans (or a plan twice), so a tier's tenants never share a
    quota and the authorizer's key is the tenant's own."""
    keys = [r for r in resources if r.type == API_KEY]
    owners: dict[str, list[Res]] = defaultdict(list)
    for key in keys:
        tenant = tags_of(key.props).get("tenant")
        if not tenant:
            yield ("the API key names no tenant (tag 'tenant'): keys are per tenant, never per tier", key.urn)
        else:
            owners[str(tenant)].append(key)
    for tenant, found in owners.items():
        if len(found) > 1:
            yield (f"tenant '{tenant}' has {len(found)} API keys in one stack: one key per tenant", found[1].urn)
    by_urn = {k.urn: k for k in keys}
    joins: dict[str, list[Res]] = defaultdict(list)
    for plan_key in (r for r in resources if r.type == USAGE_PLAN_KEY):
        owned = [d for d in plan_key.dependencies if d in by_urn]
        if not owned:
            yield ("the usage plan key joins an API key this stack does not own (another tenant's?)", plan_key.urn)
        for key_urn in owned:
            joins[key_urn].append(plan_key)
    for key in keys:
        if key.urn not in joins:
            yield ("the API key is in no usage plan: its tenant would be neither throttled nor metered", key.urn)
        elif len(joins[key.urn]) > 1:
            yield (f"the API key joins {len(joins[key.urn])} usage plans: one plan (its tier's) per key", key.urn)


def plan_limits(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """A usage plan throttles (rate and burst) and sets a quota: the tier's promise, and the cap
    on what one tenant's key may spend."""
    if not get(r.props, "throttleSettings.rateLimit") or not get(r.props, "throttleSettings.burstLimit"):
        yield "the usage plan does not throttle: set throttleSettings (rateLimit, burstLimit) from the tier"
    if not get(r.props, "quotaSettings.limit") or not get(r.props, "quotaSettings.period"):
        yield "the usage plan has no quota: set quotaSettings (limit, period) from the tier"
    if not as_list(get(r.props, "apiStages")):
        yield "the usage plan applies to no API stage"


AUDIT = (nydfs("500.6"), naic("i"))
RULES = (
    Rule(
        id="APIGW-1",
        name="apigateway-execution-logging",
        title="API stages log execution",
        summary="MethodSettings */* loggingLevel ERROR or INFO",
        description="Every REST API stage has execution logging at ERROR or INFO for all methods, into a log group the platform created (KMS key, retention).",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(*AUDIT, fsbp("APIGateway.1")),
        remediation="Add aws.apigateway.MethodSettings(method_path='*/*', settings.logging_level='ERROR') for the stage (PublicApi does).",
        stack_check=execution_logging,
        subject=of_types(STAGE),
    ),
    Rule(
        id="APIGW-2",
        name="apigateway-backend-certificate",
        title="API stages authenticate to their backend",
        summary="stage clientCertificateId",
        description="Every REST API stage presents an API Gateway client certificate to its backend, which the backend can verify.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), fsbp("APIGateway.2")),
        remediation="Create an aws.apigateway.ClientCertificate and set the stage's client_certificate_id.",
        resource_types=(STAGE,),
        check=backend_certificate,
    ),
    Rule(
        id="APIGW-3",
        name="apigateway-xray-tracing",
        title="API stages are traced",
        summary="stage xrayTracingEnabled",
        description="Every REST API stage samples and records requests with AWS X-Ray, joining the traces of the services behind it.",
        severity=Severity.LOW,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(*AUDIT, fsbp("APIGateway.3")),
        remediation="Set xray_tracing_enabled=True on the stage.",
        resource_types=(STAGE,),
        check=xray_tracing,
    ),
    Rule(
        id="APIGW-4",
        name="apigateway-waf",
        title="API stages are behind AWS WAF",
        summary="a WebAclAssociation per stage",
        description="Every REST API stage is associated with an AWS WAF web ACL (the regional entry's managed rule groups and per-IP rate limit).",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), fsbp("APIGateway.4")),
        remediation="Associate the regional web ACL with the stage's ARN (aws.wafv2.WebAclAssociation).",
        stack_check=waf_protected,
        subject=of_types(STAGE),
    ),
    Rule(
        id="APIGW-5",
        name="apigateway-cache-encrypted",
        title="API response caches are encrypted",
        summary="settings.cacheDataEncrypted where caching is on",
        description="A REST API stage that caches responses encrypts its cache (responses carry tenant data).",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), fsbp("APIGateway.5")),
        remediation="Set settings.cache_data_encrypted=True in the stage's MethodSettings, or keep caching off.",
        resource_types=(METHOD_SETTINGS,),
        check=cache_encrypted,
    ),
    Rule(
        id="APIGW-6",
        name="apigateway-method-authorized",
        title="Every API method has an authorizer and a tenant key",
        summary="authorization CUSTOM/COGNITO with authorizerId; apiKeyRequired",
        description="No REST API method is open: each names an authorizer (the tenant-issuer Lambda authorizer) and requires the tenant's API key, so its tier's usage plan throttles and meters it.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), fsbp("APIGateway.8")),
        remediation="Set authorization='CUSTOM', authorizer_id and api_key_required=True on the method.",
        resource_types=(METHOD,),
        check=method_authorized,
    ),
    Rule(
        id="APIGW-7",
        name="apigateway-access-logging",
        title="API stages write access logs",
        summary="stage accessLogSettings destination and format",
        description="Every REST API stage writes an access log record per request (caller, tenant, API key id, status, latency) to a KMS-encrypted log group.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(*AUDIT, fsbp("APIGateway.9")),
        remediation="Set access_log_settings (destination_arn of the access log group, format) on the stage.",
        resource_types=(STAGE,),
        check=access_logging,
    ),
    Rule(
        id="APIGW-8",
        name="apigateway-private-tls-backend",
        title="API integrations reach the backend privately over TLS",
        summary="HTTP integrations: VPC_LINK and an https uri",
        description="An HTTP integration reaches its backend through a VPC link (never the internet) and over TLS (an https uri).",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d")),
        remediation="Use connection_type='VPC_LINK' with the VPC link V2 and the ALB as integration_target, and an https:// uri with a host the ALB's certificate covers.",
        resource_types=(INTEGRATION,),
        check=backend_tls,
    ),
    Rule(
        id="APIGW-9",
        name="apigateway-key-per-tenant",
        title="One API key per tenant, in one usage plan",
        summary="keys tagged with their tenant; one key per tenant; one plan per key",
        description="Every API key belongs to one tenant and joins exactly one usage plan (its tier's): tenants of a tier never share a key or a quota.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a")),
        remediation="Create the key in the tenant's stack (TenantApiAccess) with the tenant's tags and one UsagePlanKey to its tier's plan.",
        stack_check=key_per_tenant,
        subject=of_types(API_KEY, USAGE_PLAN_KEY),
    ),
    Rule(
        id="APIGW-10",
        name="apigateway-usage-plan-limits",
        title="Usage plans throttle and set quotas",
        summary="throttleSettings and quotaSettings from the tier table",
        description="Every usage plan applies to a stage with a rate, a burst and a quota (the tier table's ApiSpec), so one tenant's traffic is capped.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(naic("j"), nydfs("500.16")),
        remediation="Set throttle_settings and quota_settings on the plan from catalog/tiers.py (PublicApi does).",
        resource_types=(USAGE_PLAN,),
        check=plan_limits,
    ),
)
