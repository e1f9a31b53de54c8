"""The platform's one internet-facing entry point: an Application Load Balancer with TLS 1.2+
(ACM certificate), HTTP->HTTPS redirect, AWS WAF, access logs, deletion protection, forwarding to
the in-cluster NGINX router through an IP target group (bound by the Load Balancer Controller)."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.secure_bucket import SecureBucket, SecureBucketArgs
from components.tags import platform_tags
from components.waf import edge_web_acl, waf_log_group

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"  # TLS 1.3 + 1.2 with forward-secret AEAD ciphers
ROUTER_PORT = 80  # NGINX's plain listener inside the VPC; Istio mTLS from NGINX onwards
HEALTH_PATH = "/nginx-health"
PUBLIC_ENTRY_TAG = {"exposure": "public-entry"}


@dataclass
class PublicEntryArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Output[str]]
    account_id: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int


class PublicEntry(pulumi.ComponentResource):
    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    security_group: aws.ec2.SecurityGroup
    certificate: aws.acm.Certificate

    def __init__(self, name: str, args: PublicEntryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:PublicEntry", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "public-entry")
        child = pulumi.ResourceOptions(parent=self)
        lb_name = f"{s.name_prefix}-{s.region}-entry"[:32]

        # ALB access logs accept SSE-S3 only, so this bucket is the one stated exception to KMS.
        logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                bucket_name=f"{s.name_prefix}-{s.region}-alb-access-logs",
                tags={**tags, "purpose": "lb-access-logs"},
                retention_days=args.log_retention_days,
                sse_s3_reason="Elastic Load Balancing writes access logs with SSE-S3 only",
                account_id=args.account_id,
                policy_statements=[
                    {
                        "Sid": "ElbLogDelivery",
                        "Effect": "Allow",
                        "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": ["{bucket}/alb/AWSLogs/{account}/*"],
                    }
                ],
            ),
            child,
        )

        self.security_group = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            description="Public entry ALB: HTTPS (and HTTP for the redirect) from the internet",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description=f"{label} from the internet",
                    protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_blocks=["0.0.0.0/0"],
                    ipv6_cidr_blocks=["::/0"],
                )
                for port, label in ((443, "HTTPS"), (80, "HTTP, redirected to HTTPS"))
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="to the NGINX router pods",
                    protocol="tcp",
                    from_port=ROUTER_PORT,
                    to_port=ROUTER_PORT,
                    cidr_blocks=[s.vpc_cidr],
                )
            ],
            tags={**tags, **PUBLIC_ENTRY_TAG, "Name": lb_name},
            opts=child,
        )

        self.load_balancer = aws.lb.LoadBalancer(
            name,
            name=lb_name,
            load_balancer_type="application",
            internal=False,
            ip_address_type="ipv4",
            subnets=args.public_subnet_ids,
            security_groups=[self.security_group.id],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="strictest",
            enable_deletion_protection=True,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=logs.name, prefix="alb", enabled=True),
            tags={**tags, **PUBLIC_ENTRY_TAG},
            opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            name,
            name=f"{s.name_prefix}-{s.region}-router"[:32],
            target_type="ip",
            protocol="HTTP",
            port=ROUTER_PORT,
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=HEALTH_PATH, protocol="HTTP", matcher="200", interval=15, healthy_threshold=2
            ),
            tags=tags,
            opts=child,
        )

        # The platform wildcard certificate; tenant host names add theirs as SNI certificates.
        self.certificate = aws.acm.Certificate(
            name,
            domain_name=f"*.{s.edge.domain}",
            subject_alternative_names=[s.edge.domain],
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The wildcard and the apex validate with the same single DNS record.
        option = self.certificate.domain_validation_options.apply(lambda options: options[0])
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=s.edge.hosted_zone_id,
            name=option.apply(lambda o: o.resource_record_name or ""),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value or "")],
            ttl=300,
            allow_overwrite=True,  # both regions' certificates validate with the same record
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            name,
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=child,
        )

        # The name CloudFront front-ends use as this region's origin (GlobalEdge); each stack
        # writes only its own, so a region that is down simply stops answering.
        aws.route53.Record(
            f"{name}-origin",
            zone_id=s.edge.hosted_zone_id,
            name=s.edge.origin_host(s.region),
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=self.load_balancer.dns_name, zone_id=self.load_balancer.zone_id, evaluate_target_health=True
                )
            ],
            opts=child,
        )

        aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=validation.certificate_arn,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)],
            tags=tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            tags=tags,
            opts=child,
        )
        self._waf(name, s, args, tags)
        self.register_outputs(
            {"dnsName": self.load_balancer.dns_name, "targetGroupArn": self.target_group.arn, "accessLogs": logs.name}
        )

    def _waf(self, name: str, s: StackSettings, args: PublicEntryArgs, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        physical = f"{s.name_prefix}-{s.region}-entry"
        acl = edge_web_acl(name, physical, "REGIONAL", "entry", tags, child)
        aws.wafv2.WebAclAssociation(name, resource_arn=self.load_balancer.arn, web_acl_arn=acl.arn, opts=child)
        log_group = waf_log_group(f"{name}-waf", physical, args.log_retention_days, args.logs_key_arn, tags, self)
        aws.wafv2.WebAclLoggingConfiguration(
            name, resource_arn=acl.arn, log_destination_configs=[log_group.arn], opts=child
        )
