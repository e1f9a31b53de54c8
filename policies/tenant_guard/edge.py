"""The public edge: one internet-facing load balancer, with TLS 1.2+, HTTP only as a redirect,
access logs, deletion protection and a WAF in front."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, naic, nydfs
from .props import as_list, get, tags_of
from .rule import Res, Rule

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
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


RULES = (
    Rule(
        id="NET-LB-1",
        name="load-balancer-hygiene",
        title="Load balancers are private, logged and protected",
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
        description="Every internet-facing load balancer has an AWS WAF web ACL (managed rule groups and a rate limit) associated.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.5"), naic("h"), fsbp("ELB.16")),
        remediation="Associate the entry web ACL (PublicEntry) with the load balancer.",
        stack_check=waf_on_public_entry,
    ),
)
