"""The public edge: one internet-facing load balancer, with TLS 1.2+, HTTP only as a redirect,
access logs, deletion protection and a WAF in front."""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, naic, nydfs
from .props import as_list, get, tags_of
from .rule import Res, Rule

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
# The pack runs without the program's code (its own virtualenv): these mirror components/edge/global_edge.py.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed cache policy
# AWS managed origin request policy AllViewerExceptHostHeader: CloudFront sends the origin's own name
# as Host, the name the regional entry certificate covers (AllViewer forwards the viewer's Host).
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
DEFAULT_ORIGIN_REQUEST_POLICIES = (ALL_VIEWER_EXCEPT_HOST,)
# catalog/model.tenant_origin_host: <tenant>-origin-<region>.<platform domain>
TENANT_ORIGIN = re.compile(r"^(?P<tenant>[a-z][a-z0-9-]*)-origin-[a-z]{2}-[a-z]+-\d\.")
DEFAULT_VIEWER_TLS = ("TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")
HTTPS_VIEWER = ("redirect-to-https", "https-only")
FAILOVER_CODES = {500, 502, 503, 504}
DEFAULT_TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
)


def _public_entry(r: Res) -> bool:
    return tags_of(r.props).get("exposure") == "public-entry"


def load_balancer_hygiene(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "internal") is not True and not _public_entry(r):
        yield "an internet-facing load balancer that is not the tagged public entry (exposure=public-entry)"
    if (
        get(r.props, "loadBalancerType", "application") == "application"
        and get(r.props, "dropInvalidHeaderFields") is not True
    ):
        yield "invalid HTTP headers are passed through: set dropInvalidHeaderFields"
    if get(r.props, "enableDeletionProtection") is not True:
        yield "deletion protection is off"
    if get(r.props, "accessLogs.enabled") is not True or not get(r.props, "accessLogs.bucket"):
        yield "access logs are off"


def listener_tls(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    protocol = get(r.props, "protocol")
    allowed = config.get("allowedTlsPolicies", list(DEFAULT_TLS_POLICIES))
    if protocol in ("HTTPS", "TLS"):
        if get(r.props, "sslPolicy") not in allowed:
            yield "the TLS policy is not an approved TLS 1.2+ policy"
        return
    actions = as_list(get(r.props, "defaultActions"))
    redirects = all(get(a, "type") == "redirect" and get(a, "redirect.protocol") == "HTTPS" for a in actions)
    if not actions or not redirects:
        yield f"a plain {protocol} listener serves traffic: it may only redirect to HTTPS"


def waf_on_public_entry(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    protected = {dep for r in resources if r.type == WAF_ASSOCIATION for dep in r.dependencies}
    for r in resources:
        if r.type == LOAD_BALANCER and get(r.props, "internal") is not True and r.urn not in protected:
            yield ("the internet-facing load balancer has no AWS WAF web ACL", r.urn)


def _behaviors(r: Res) -> list[Any]:
    return [get(r.props, "defaultCacheBehavior"), *as_list(get(r.props, "orderedCacheBehaviors"))]


def front_end_hardening(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    if any(get(b, "viewerProtocolPolicy") not in HTTPS_VIEWER for b in _behaviors(r)):
        yield "a cache behavior serves plain HTTP: use redirect-to-https"
    certificate = get(r.props, "viewerCertificate")
    if get(certificate, "cloudfrontDefaultCertificate") is True or not get(certificate, "acmCertificateArn"):
        yield "the front-end has no ACM certificate of its own (the default *.cloudfront.net one allows TLS 1.0)"
    elif get(certificate, "minimumProtocolVersion") not in config.get("allowedViewerTls", list(DEFAULT_VIEWER_TLS)):
        yield "viewers may connect with less than TLS 1.2 (minimumProtocolVersion)"
    if not get(r.props, "webAclId"):
        yield "the distribution has no AWS WAF web ACL"
    for origin in as_list(get(r.props, "origins")):
        custom = get(origin, "customOriginConfig")
        if custom is None:
            continue
        if get(custom, "originProtocolPolicy") != "https-only":
            yield f"origin {get(origin, 'originId')} is reached without TLS: originProtocolPolicy https-only"
        elif any(p != "TLSv1.2" for p in as_list(get(custom, "originSslProtocols"))):
            yield f"origin {get(origin, 'originId')} accepts TLS below 1.2"
    if get(r.props, "defaultCacheBehavior.cachePolicyId") != CACHING_DISABLED:
        yield "the default behavior caches tenant pages at edges (personal data): use CachingDisabled; cache only static paths"
    yield from _origin_routing(r, config)


def _origin_routing(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    """The origin sees CloudFront's Host, not the viewer's: the origin's name must be covered by the
    regional certificate and routed to this tenant, i.e. `<tenant>-origin-<region>.<domain>`."""
    allowed = config.get("allowedOriginRequestPolicies", list(DEFAULT_ORIGIN_REQUEST_POLICIES))
    forwarding = [
        get(b, "pathPattern") or "default" for b in _behaviors(r) if get(b, "originRequestPolicyId") not in allowed
    ]
    if forwarding:
        yield (
            f"behaviors ({', '.join(forwarding)}) do not use an approved origin request policy "
            "(AllViewerExceptHostHeader): a forwarded viewer Host is not covered by the origin's certificate"
        )
    tenant = tags_of(r.props).get("tenant")
    if not isinstance(tenant, str) or not tenant:
        return
    for origin in as_list(get(r.props, "origins")):
        if get(origin, "customOriginConfig") is None:
            continue
        host = str(get(origin, "domainName") or "")
        match = TENANT_ORIGIN.match(host)
        if match is None or match["tenant"] != tenant:
            yield f"origin {host} is not tenant '{tenant}'s own origin name ({tenant}-origin-<region>.<domain>)"


def front_end_failover(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    origins = {get(o, "originId") for o in as_list(get(r.props, "origins"))}
    if len(origins) < 2:
        return
    groups = {get(g, "originId"): g for g in as_list(get(r.props, "originGroups"))}
    behaviors = _behaviors(r)
    single = [get(b, "pathPattern") or "default" for b in behaviors if get(b, "targetOriginId") not in groups]
    if single:
        yield f"behaviors ({', '.join(single)}) target one region: they cannot fail over"
    for group_id in sorted({get(b, "targetOriginId") for b in behaviors} & set(groups)):
        group = groups[group_id]
        members = {get(m, "originId") for m in as_list(get(group, "members"))}
        codes = set(as_list(get(group, "failoverCriteria.statusCodes")))
        if len(members) < 2 or not codes >= FAILOVER_CODES:
            yield (
                f"origin group {group_id} needs two regions and failover on "
                f"{', '.join(map(str, sorted(FAILOVER_CODES)))}"
            )


RULES = (
    Rule(
        id="NET-LB-1",
        name="load-balancer-hygiene",
        title="Load balancers are private, logged and protected",
        summary="only the tagged public entry faces the internet; logs, deletion protection",
        description="Only the tagged public entry load balancer faces the internet; every load balancer drops invalid headers, keeps access logs and has deletion protection.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), nydfs("500.6"), fsbp("ELB.4"), fsbp("ELB.5"), fsbp("ELB.6")),
        remediation="Create load balancers internal; the single public entry is PublicEntry (exposure=public-entry) with access logs and deletion protection.",
        resource_types=(LOAD_BALANCER,),
        check=load_balancer_hygiene,
    ),
    Rule(
        id="TLS-LB-1",
        name="listener-tls",
        title="Listeners speak TLS 1.2+; HTTP only redirects",
        summary="approved TLS 1.2+ policy; HTTP listeners only redirect",
        description="HTTPS/TLS listeners use an approved TLS 1.2+ security policy; plain HTTP listeners only redirect to HTTPS.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), fsbp("ELB.1"), fsbp("ELB.17")),
        remediation="Use ELBSecurityPolicy-TLS13-1-2-Res-2021-06 on HTTPS listeners; make port 80 a 301 redirect to HTTPS.",
        resource_types=(LISTENER,),
        check=listener_tls,
        config_schema={"allowedTlsPolicies": {"type": "array", "items": {"type": "string"}}},
    ),
    Rule(
        id="NET-EDGE-1",
        name="waf-on-public-entry",
        title="The public entry is behind AWS WAF",
        summary="every internet-facing load balancer has a WAF web ACL",
        description="Every internet-facing load balancer has an AWS WAF web ACL (managed rule groups and a rate limit) associated.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.5"), naic("h"), fsbp("ELB.16")),
        remediation="Associate the entry web ACL (PublicEntry) with the load balancer.",
        stack_check=waf_on_public_entry,
        subject=lambda r: r.type == LOAD_BALANCER and get(r.props, "internal") is not True,
    ),
    Rule(
        id="EDGE-CF-1",
        name="front-end-hardening",
        title="Tenant front-ends: TLS 1.2+ both ways, WAF, no cached pages",
        summary="front-ends: TLS 1.2+ both ways, WAF, own origin name, no viewer Host, no cached pages",
        description="Every CloudFront distribution redirects HTTP to HTTPS, presents its own ACM certificate with TLS 1.2+ to viewers, reaches origins over HTTPS with TLS 1.2 only, by the tenant's own origin name (<tenant>-origin-<region>) without forwarding the viewer's Host header, has an AWS WAF web ACL, and does not cache its default (page) behavior, because tenant pages carry personal data.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(
            nydfs("500.15"),
            nydfs("500.5"),
            naic("d"),
            fsbp("CloudFront.3"),
            fsbp("CloudFront.6"),
            fsbp("CloudFront.7"),
            fsbp("CloudFront.9"),
            fsbp("CloudFront.10"),
        ),
        remediation="Build front-ends with TenantFrontEnd (components/edge/global_edge.py): it sets the certificate, TLSv1.2_2021, https-only origins named <tenant>-origin-<region>, AllViewerExceptHostHeader, the tenant's CLOUDFRONT web ACL and CachingDisabled on the default behavior.",
        resource_types=(DISTRIBUTION,),
        check=front_end_hardening,
        config_schema={
            "allowedViewerTls": {"type": "array", "items": {"type": "string"}},
            "allowedOriginRequestPolicies": {"type": "array", "items": {"type": "string"}},
        },
    ),
    Rule(
        id="EDGE-CF-2",
        name="front-end-failover",
        title="Front-ends of multi-region tenants fail over between regions",
        summary="multi-region front-ends fail over between two regions on 5xx",
        description="A CloudFront distribution with origins in more than one region sends every behavior to an origin group of two regions that fails over on 500, 502, 503 and 504, so a regional outage does not take the tenant's front-end down.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.16"), naic("j"), fsbp("CloudFront.4")),
        remediation="Let TenantFrontEnd build the 'failover' origin group (home region first) and target it from every behavior.",
        resource_types=(DISTRIBUTION,),
        check=front_end_failover,
    ),
)
