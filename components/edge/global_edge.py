"""The environment's global edge, created once by the stack named in `edge.globalOwner` (in
us-east-1, where CloudFront takes its certificates and web ACLs): one CloudFront front-end per
tenant, with its own certificate and WAF, failing over between the tenant's serving regions.

Front-ends carry the tenant's pages and assets (GET/HEAD/OPTIONS, the only methods CloudFront can
fail over); writes go to the tenant's API host, which Route 53 latency records with health checks
already steer away from a failed region. Failover needs no deployment: CloudFront retries the next
origin on its own, so a regional outage never waits for this stack."""

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from catalog import Tenant as TenantConfig
from catalog.model import GlobalEdgeSettings
from components.edge.waf import edge_web_acl, waf_log_group
from components.shared.tags import tenant_tags

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed: pages may carry personal data
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS managed: for versioned static assets
# AWS managed origin request policy AllViewerExceptHostHeader: every viewer header, cookie and query
# string except Host. CloudFront then sends the origin's own name as Host (and SNI), a name the
# regional entry certificate covers and the tenant's Ingress routes; forwarding the viewer's Host
# (AllViewer, 216adef6-...) made the ALB answer a tenant-owned domain with *.<platform domain> (502).
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"  # HSTS, nosniff, frame and referrer policies
STATIC_PATHS = ("/assets/*", "/static/*")
FAILOVER_STATUS_CODES = (500, 502, 503, 504)
VIEWER_TLS = "TLSv1.2_2021"
READ_METHODS = ["GET", "HEAD", "OPTIONS"]
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # the fixed hosted zone of every CloudFront alias target


@dataclass
class TenantFrontEndArgs:
    settings: StackSettings
    edge: GlobalEdgeSettings
    tenant: TenantConfig
    # The tenant's own key in this region, or None: edge logs (WAF, access) name viewers and paths,
    # personal data kept here only where the tenant's residency put a key of its own. Otherwise
    # the regional entry's logs, inside residency, are the record.
    logs_key_arn: pulumi.Input[str] | None


class TenantFrontEnd(pulumi.ComponentResource):
    """One tenant's CloudFront distribution on its own domain. A tenant-owned domain (outside the
    platform's zones) first gets only a certificate *request* (`<name>-request`): the tenant's DNS
    adds its validation record (stack output `frontEnds`), then the catalog sets
    `domainVerified: true` and the distribution follows, so no deployment ever waits on someone
    else's DNS.

    The request and the certificate the distribution uses are distinct logical resources: ACM
    gives up on an unvalidated request after 72 hours, so the verified phase requests a fresh
    certificate (`<name>`), which validates at once from the record the tenant already published
    (ACM's validation CNAME is the same for every certificate of that domain in this account), and
    the request is deleted."""

    certificate: aws.acm.Certificate  # the distribution's certificate, or the pending request
    distribution: aws.cloudfront.Distribution | None
    pending_records: pulumi.Output[list[dict[str, str]]] | None

    def __init__(self, name: str, args: TenantFrontEndArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantFrontEnd", name, None, opts)
        s, t = args.settings, args.tenant
        tags = {**tenant_tags(s, t), "component": "front-end"}
        child = pulumi.ResourceOptions(parent=self)
        zone = args.edge.zone_for(t.domain)

        self.distribution = None
        self.pending_records = None
        if zone is None and not t.domain_verified:
            self.certificate = aws.acm.Certificate(
                f"{name}-request",
                domain_name=t.domain,
                validation_method="DNS",
                key_algorithm="EC_prime256v1",
                tags=tags,
                # Until this change the request was `<name>`: adopt it instead of requesting anew.
                opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=name)]),
            )
            self.pending_records = self.certificate.domain_validation_options.apply(
                lambda options: [
                    {
                        "name": o.resource_record_name or "",
                        "type": o.resource_record_type or "",
                        "value": o.resource_record_value or "",
                    }
                    for o in options
                ]
            )
            self.register_outputs({"domain": t.domain, "pendingValidation": self.pending_records})
            return

        self.certificate = aws.acm.Certificate(
            name,
            domain_name=t.domain,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=tags,
            opts=child,
        )
        validation = self._validation(name, zone)
        # No request data of a tenant outside its residency: no samples, and logs only under its own key here.
        acl = edge_web_acl(
            name,
            f"{s.name_prefix}-edge-{t.id}",
            "CLOUDFRONT",
            f"edge-{t.id}",
            tags,
            child,
            sampled_requests=s.region in t.residency,
        )
        if args.logs_key_arn is not None:
            log_group = waf_log_group(
                f"{name}-waf", f"{s.name_prefix}-edge-{t.id}", t.tier.log_retention_days, args.logs_key_arn, tags, self
            )
            aws.wafv2.WebAclLoggingConfiguration(
                name, resource_arn=acl.arn, log_destination_configs=[log_group.arn], opts=child
            )

        regions = list(t.regions_home_first)
        origins = [
            aws.cloudfront.DistributionOriginArgs(
                origin_id=region,
                # Published by that region's entry (PublicEntry) and routed by the tenant's Ingress.
                domain_name=args.edge.tenant_origin_host(t.id, region),
                custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                    http_port=80,
                    https_port=443,
                    origin_protocol_policy="https-only",
                    origin_ssl_protocols=["TLSv1.2"],
                    origin_read_timeout=30,
                    origin_keepalive_timeout=5,
                ),
                connection_attempts=2,
                connection_timeout=5,  # a dead region fails over in seconds
            )
            for region in regions
        ]
        target = regions[0]
        groups = []
        if len(regions) > 1:
            target = "failover"
            groups = [
                aws.cloudfront.DistributionOriginGroupArgs(
                    origin_id=target,
                    failover_criteria=aws.cloudfront.DistributionOriginGroupFailoverCriteriaArgs(
                        status_codes=list(FAILOVER_STATUS_CODES)
                    ),
                    members=[aws.cloudfront.DistributionOriginGroupMemberArgs(origin_id=r) for r in regions[:2]],
                )
            ]

        self.distribution = aws.cloudfront.Distribution(
            name,
            enabled=True,
            comment=f"{t.id} front-end ({s.environment})",
            aliases=[t.domain],
            origins=origins,
            origin_groups=groups,
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=target,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=READ_METHODS,
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_DISABLED,
                origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST,
                response_headers_policy_id=SECURITY_HEADERS,
                compress=True,
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=path,
                    target_origin_id=target,
                    viewer_protocol_policy="redirect-to-https",
                    allowed_methods=["GET", "HEAD"],
                    cached_methods=["GET", "HEAD"],
                    cache_policy_id=CACHING_OPTIMIZED,
                    origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST,
                    response_headers_policy_id=SECURITY_HEADERS,
                    compress=True,
                )
                for path in STATIC_PATHS
            ],
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=validation.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=VIEWER_TLS,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            web_acl_id=acl.arn,
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class="PriceClass_100",  # North America and Europe edges only
            tags=tags,
            opts=child,
        )
        if args.logs_key_arn is not None:
            self._access_logs(name, s, t, self.distribution, args.logs_key_arn, tags)
        if zone is not None:
            for record_type in ("A", "AAAA"):
                aws.route53.Record(
                    f"{name}-{record_type.lower()}",
                    zone_id=zone,
                    name=t.domain,
                    type=record_type,
                    aliases=[
                        aws.route53.RecordAliasArgs(
                            name=self.distribution.domain_name, zone_id=CLOUDFRONT_ZONE_ID, evaluate_target_health=False
                        )
                    ],
                    opts=child,
                )
        self.register_outputs({"domain": t.domain, "distribution": self.distribution.domain_name, "origins": regions})

    def _validation(self, name: str, zone: str | None) -> aws.acm.CertificateValidation:
        """In a platform zone the validation record is ours to write; a verified tenant-owned
        domain already carries it (the same CNAME as the request's), so the validation only waits
        until ACM has issued this fresh certificate from it."""
        child = pulumi.ResourceOptions(parent=self)
        fqdns: list[pulumi.Input[str]] | None = None
        if zone is not None:
            option = self.certificate.domain_validation_options.apply(lambda options: options[0])
            record = aws.route53.Record(
                f"{name}-validation",
                zone_id=zone,
                name=option.apply(lambda o: o.resource_record_name or ""),
                type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                records=[option.apply(lambda o: o.resource_record_value or "")],
                ttl=300,
                opts=child,
            )
            fqdns = [record.fqdn]
        return aws.acm.CertificateValidation(
            name, certificate_arn=self.certificate.arn, validation_record_fqdns=fqdns, opts=child
        )

    def _access_logs(
        self,
        name: str,
        s: StackSettings,
        t: TenantConfig,
        distribution: aws.cloudfront.Distribution,
        key_arn: pulumi.Input[str],
        tags: dict[str, str],
    ) -> None:
        """CloudFront standard logging (v2) into a KMS-encrypted, retained log group."""
        child = pulumi.ResourceOptions(parent=self)
        physical = f"{s.name_prefix}-edge-{t.id}"
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-access",
            name=f"/{s.name_prefix}/edge/{t.id}/access",
            retention_in_days=t.tier.log_retention_days,
            kms_key_id=key_arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        source = aws.cloudwatch.LogDeliverySource(
            name, name=physical, log_type="ACCESS_LOGS", resource_arn=distribution.arn, tags=tags, opts=child
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            name,
            name=physical,
            output_format="json",
            delivery_destination_configuration=aws.cloudwatch.LogDeliveryDestinationDeliveryDestinationConfigurationArgs(
                destination_resource_arn=log_group.arn
            ),
            tags=tags,
            opts=child,
        )
        aws.cloudwatch.LogDelivery(
            name,
            delivery_source_name=source.name,
            delivery_destination_arn=destination.arn,
            tags=tags,
            opts=child,
        )


@dataclass
class GlobalEdgeArgs:
    settings: StackSettings
    tenant_keys: Mapping[str, pulumi.Input[str]]  # tenant id -> its own key in this region


class GlobalEdge(pulumi.ComponentResource):
    front_ends: dict[str, TenantFrontEnd]

    def __init__(self, name: str, args: GlobalEdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:GlobalEdge", name, None, opts)
        s = args.settings
        assert s.global_edge is not None, "only the edge.globalOwner stack builds the global edge"
        self.front_ends = {
            t.id: TenantFrontEnd(
                f"{name}-{t.id}",
                TenantFrontEndArgs(settings=s, edge=s.global_edge, tenant=t, logs_key_arn=args.tenant_keys.get(t.id)),
                pulumi.ResourceOptions(parent=self),
            )
            for t in s.tenants
        }
        self.register_outputs({"frontEnds": sorted(self.front_ends)})
