"""The web ACL rules every public edge shares (the regional entry ALB and the CloudFront front-ends):
AWS managed rule groups for common exploits, known bad inputs, SQL injection and bad IP reputation,
plus a per-IP rate limit."""

from typing import Literal

import pulumi
import pulumi_aws as aws

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
RATE_LIMIT_PER_5_MIN = 2000


def _rule_visibility(metric: str, sampled: bool) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=sampled
    )


def edge_rules(sampled: bool = True) -> list[aws.wafv2.WebAclRuleArgs]:
    rules = [
        aws.wafv2.WebAclRuleArgs(
            name=group,
            priority=priority,
            override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    vendor_name="AWS", name=group
                )
            ),
            visibility_config=_rule_visibility(group, sampled),
        )
        for priority, group in enumerate(MANAGED_RULE_GROUPS)
    ]
    rules.append(
        aws.wafv2.WebAclRuleArgs(
            name="rate-limit-per-ip",
            priority=len(MANAGED_RULE_GROUPS),
            action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                    limit=RATE_LIMIT_PER_5_MIN, aggregate_key_type="IP"
                )
            ),
            visibility_config=_rule_visibility("rate-limit-per-ip", sampled),
        )
    )
    return rules


def edge_web_acl(
    name: str,
    physical_name: str,
    scope: Literal["REGIONAL", "CLOUDFRONT"],
    metric_name: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    sampled_requests: bool = True,
) -> aws.wafv2.WebAcl:
    """`sampled_requests`: WAF keeps samples of matched requests (client IP, headers, URI) for three
    hours in the web ACL's region (us-east-1 for CloudFront); off where that region is outside the
    residency of the traffic's tenant. Metrics (counts, no request data) stay on."""
    return aws.wafv2.WebAcl(
        name,
        name=physical_name,
        scope=scope,
        default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
        rules=edge_rules(sampled_requests),
        visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=sampled_requests
        ),
        tags=tags,
        opts=opts,
    )


def waf_log_group(
    name: str,
    physical_name: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.LogGroup:
    """WAF logs: KMS-encrypted, retained, protected; WAF requires the aws-waf-logs- prefix."""
    return aws.cloudwatch.LogGroup(
        name,
        name=f"aws-waf-logs-{physical_name}",
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=True),
    )
