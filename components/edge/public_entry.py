"""The platform's one internet-facing entry point: an Application Load Balancer with TLS 1.2+
(ACM certificate), HTTP->HTTPS redirect, AWS WAF, access logs, deletion protection, forwarding to
the in-cluster NGINX router through an IP target group (bound by the Load Balancer Controller)."""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from components.edge.waf import edge_web_acl, waf_log_group
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.shared.tags import platform_tags

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"  # TLS 1.3 + 1.2 with forward-secret AEAD ciphers
ROUTER_PORT = 80  # NGINX's plain listener inside the VPC; Istio mTLS from NGINX onwards
HEALTH_PATH = "/nginx-health"
PUBLIC_ENTRY_TAG = {"exposure": "public-entry"}

# Who may write ALB access logs into the bucket, per region: the Elastic Load Balancing account of
# each Region available before August 2022, the log delivery service principal in Regions launched
# since (ELB User Guide, "Enable access logs for your Application Load Balancer", step 2 "Attach a
# policy to your S3 bucket"; the same account table is in terraform-provider-aws
# internal/service/elb/service_account_data_source.go). Every region catalog/regions.py allows.
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
ELB_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}
ELB_LOG_DELIVERY_SERVICE_REGIONS = frozenset(
    {
        "ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ap-east-2",
        "ca-west-1", "eu-central-2", "eu-south-2", "il-central-1", "me-central-1", "mx-central-1",
    }
)  # fmt: skip


def elb_log_delivery_principal(region: str) -> dict[str, str]:
    """The bucket-policy principal Elastic Load Balancing writes access logs as in `region`."""
    if region in ELB_ACCOUNTS:
        return {"AWS": f"arn:aws:iam::{ELB_ACCOUNTS[region]}:root"}
    if region in ELB_LOG_DELIVERY_SERVICE_REGIONS:
        return {"Service": ELB_LOG_DELIVERY_SERVICE}
    raise ValueError(
        f"no ALB access-log principal known for region {region}: add it to ELB_ACCOUNTS (Regions "
        "before August 2022) or ELB_LOG_DELIVERY_SERVICE_REGIONS (components/edge/public_entry.py) from "
        "the Elastic Load Balancing User Guide"
    )


def writes_validation_records(settings: StackSettings) -> bool:
    """ACM's DNS validation CNAME is the same for a domain in every region of an account, so one
    stack of a DR pair writes it (the one whose region sorts first) and the other only waits for
    its certificate: if both wrote it, destroying either stack would delete the other's record."""
    return settings.dr is None or settings.region <= settings.dr.peer_region


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
    web_acl: aws.wafv2.WebAcl  # also protects the public API's stage (PublicApi)

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
                        "Principal": elb_log_delivery_principal(s.region),
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
            # ELB checks it may write to the bucket when access logs are turned on: after its policy
            # (a dependency on the component is one on each of its resources, the policy included).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
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
        # The wildcard and the apex validate with the same single DNS record, which is also the
        # peer region's: only the pair's record owner writes it (writes_validation_records).
        records: list[pulumi.Input[str]] | None = None
        if writes_validation_records(s):
            option = self.certificate.domain_validation_options.apply(lambda options: options[0])
            record = aws.route53.Record(
                f"{name}-validation",
                zone_id=s.edge.hosted_zone_id,
                name=option.apply(lambda o: o.resource_record_name or ""),
                type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                records=[option.apply(lambda o: o.resource_record_value or "")],
                ttl=300,
                allow_overwrite=True,  # adopt the record if it is already there (an earlier owner)
                opts=child,
            )
            records = [record.fqdn]
        validation = aws.acm.CertificateValidation(
            name,
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=records,
            opts=child,
        )

        # Each tenant's origin name in this region (for its CloudFront front-end) is an alias of this
        # load balancer written by the tenant's stack (TenantSharedServices).
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
        acl = self.web_acl = edge_web_acl(name, physical, "REGIONAL", "entry", tags, child)
        aws.wafv2.WebAclAssociation(name, resource_arn=self.load_balancer.arn, web_acl_arn=acl.arn, opts=child)
        log_group = waf_log_group(f"{name}-waf", physical, args.log_retention_days, args.logs_key_arn, tags, self)
        aws.wafv2.WebAclLoggingConfiguration(
            name, resource_arn=acl.arn, log_destination_configs=[log_group.arn], opts=child
        )
