"""Account-wide controls, created once per AWS account (the stack with `account.owner`): the audit
trail with log-file validation into a KMS-encrypted, object-locked bucket and a CloudWatch log group,
and the account's monthly budget.

Residency: a multi-region trail delivers every region's activity to its home region's bucket, and
CloudTrail cannot leave a region out of one. Where a tenant's residency excludes the owner's region
(the Canadian tenants, for a us-east-1 owner), the owner's trail records its own region only (and the
global services, which CloudTrail records in us-east-1) and every regional stack keeps its own
single-region trail, bucket and log group in its region (`RegionalAudit`). Regions without a stack
are then covered by the organization's region-deny SCP (docs/decisions.md), not by a trail.

Cost allocation tags are not activated here: Cost Explorer accepts a tag key only after billing has
seen it (up to 24 hours after the first tagged resource) and only from the organization's
management account. `COST_TAGS` lists what the README's day-one step activates there."""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.iam import account_root_statement, document, service_trust
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.shared.tags import platform_tags

# NYDFS 500.06: records to reconstruct material transactions 5 years, audit trails 3 years.
AUDIT_RETENTION_DAYS = 1827
AUDIT_LOG_GROUP_DAYS = 1827  # a CloudWatch Logs retention value (5 years)
COST_TAGS = ("tenant", "tier", "environment", "owner")  # activated in the management account


def records_every_region(settings: StackSettings) -> bool:
    """Whether a multi-region trail homed here keeps every tenant's activity inside its residency."""
    return all(settings.region in t.residency for t in settings.tenants)


def residency_bound(tenants: tuple[Tenant, ...]) -> bool:
    """Whether some tenant's residency leaves out a region another tenant's allows: then activity
    is recorded region by region (a RegionalAudit on every regional stack)."""
    regions = {r for t in tenants for r in t.residency}
    return any(set(t.residency) != regions for t in tenants)


@dataclass
class AccountBaselineArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]


class AccountBaseline(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail

    def __init__(self, name: str, args: AccountBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:AccountBaseline", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "audit")
        child = pulumi.ResourceOptions(parent=self)
        self.trail = audit_trail(
            self, name, s, args.account_id, f"{s.name_prefix}-audit", multi_region=records_every_region(s)
        )
        aws.budgets.Budget(
            f"{name}-platform-budget",
            name=f"{s.name_prefix}-platform",
            budget_type="COST",
            limit_amount=str(s.account.platform_budget_usd),
            limit_unit="USD",
            time_unit="MONTHLY",
            # The whole account: a tag filter would count nothing until its tag is activated.
            notifications=[
                aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN",
                    threshold=threshold,
                    threshold_type="PERCENTAGE",
                    notification_type=kind,
                    subscriber_email_addresses=list(s.account.budget_emails),
                )
                for threshold, kind in ((80, "ACTUAL"), (100, "FORECASTED"))
            ],
            tags=tags,
            opts=child,
        )
        self.register_outputs({"trail": self.trail.arn})


def audit_trail(
    parent: pulumi.Resource,
    name: str,
    s: StackSettings,
    account_id: pulumi.Input[str],
    trail_name: str,
    multi_region: bool,
) -> aws.cloudtrail.Trail:
    """A trail, its key, object-locked bucket and log group, all in this stack's region; one region
    only unless `multi_region`."""
    tags = {**platform_tags(s, "audit"), **({} if multi_region else {"records-region": s.region})}
    child = pulumi.ResourceOptions(parent=parent)
    account = pulumi.Output.from_input(account_id)

    def trail_arn(account: str) -> str:
        return f"arn:aws:cloudtrail:{s.region}:{account}:trail/{trail_name}"

    key = aws.kms.Key(
        f"{name}-audit",
        description=f"CloudTrail audit log of the account ({s.stack})",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=account.apply(
            lambda a: document(
                account_root_statement(a),
                {
                    "Sid": "CloudTrailEncryptsThisTrail",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceArn": trail_arn(a)},
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{a}:trail/*"},
                    },
                },
                {
                    "Sid": "CloudWatchLogsForTheTrailLogGroup",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{s.region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{s.region}:{a}:*"}},
                },
            )
        ),
        tags={**tags, "purpose": "audit"},
        opts=pulumi.ResourceOptions(parent=parent, protect=True),
    )
    bucket = SecureBucket(
        f"{name}-audit",
        SecureBucketArgs(
            bucket_name=f"{s.name_prefix}-{s.region}-audit-trail",
            tags={**tags, "purpose": "audit-trail"},
            retention_days=AUDIT_RETENTION_DAYS,
            kms_key_arn=key.arn,
            object_lock_days=AUDIT_RETENTION_DAYS,
            account_id=account_id,
            policy_statements=[
                {
                    "Sid": "CloudTrailAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": ["{bucket}"],
                    "Condition": {
                        "StringEquals": {
                            "aws:SourceArn": f"arn:aws:cloudtrail:{s.region}:{{account}}:trail/{trail_name}"
                        }
                    },
                },
                {
                    "Sid": "CloudTrailWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": ["{bucket}/AWSLogs/{account}/*"],
                    "Condition": {
                        "StringEquals": {
                            "s3:x-amz-acl": "bucket-owner-full-control",
                            "aws:SourceArn": f"arn:aws:cloudtrail:{s.region}:{{account}}:trail/{trail_name}",
                        }
                    },
                },
            ],
        ),
        child,
    )
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-audit",
        name=f"/{s.project}/{s.stack}/cloudtrail",
        retention_in_days=AUDIT_LOG_GROUP_DAYS,
        kms_key_id=key.arn,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=True),
    )
    role = aws.iam.Role(
        f"{name}-trail-logs",
        assume_role_policy=account.apply(lambda a: service_trust("cloudtrail.amazonaws.com", a)),
        tags=tags,
        opts=child,
    )
    aws.iam.RolePolicy(
        f"{name}-trail-logs",
        role=role.id,
        policy=log_group.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [f"{arn}:*"],
                        }
                    ],
                }
            )
        ),
        opts=child,
    )
    return aws.cloudtrail.Trail(
        f"{name}-audit",
        name=trail_name,
        s3_bucket_name=bucket.name,
        kms_key_id=key.arn,
        is_multi_region_trail=multi_region,
        # Global services (IAM, STS, CloudFront) are recorded in us-east-1 only.
        include_global_service_events=s.region == "us-east-1",
        enable_log_file_validation=True,
        enable_logging=True,
        cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
        cloud_watch_logs_role_arn=role.arn,
        tags=tags,
        opts=child,
    )


@dataclass
class RegionalAuditArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]


class RegionalAudit(pulumi.ComponentResource):
    """This region's activity, recorded and kept in this region (a residency-bound environment)."""

    trail: aws.cloudtrail.Trail

    def __init__(self, name: str, args: RegionalAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:RegionalAudit", name, None, opts)
        s = args.settings
        self.trail = audit_trail(self, name, s, args.account_id, f"{s.regional_prefix}-audit", multi_region=False)
        self.register_outputs({"trail": self.trail.arn})
