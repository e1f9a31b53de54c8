"""An S3 bucket the way every bucket of the platform must be: encrypted (customer-managed KMS key
with a bucket key, or SSE-S3 where the writing AWS service accepts nothing else), versioned,
public access blocked, ACLs disabled, TLS-only, lifecycle from its retention, protected, server
access logs kept in the region's access-log bucket, object events published to EventBridge."""

import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime.settings import get_root_resource

from catalog.stacks import StackName
from components.shared.iam import document
from components.shared.scanner import ScannerSkip, dev, single_region

BUCKET = "aws:s3/bucket:Bucket"
ACCESS_LOGS = "s3-access-logs"
# Server access logs are audit records: kept as long as the platform's production logs (NYDFS
# 500.06, three years).
ACCESS_LOG_RETENTION_DAYS = 1096

# Checkov findings accepted on buckets made here (planner/checkov_export.py applies them). The
# access-log bucket needs no CKV_AWS_18 skip: Checkov's graph connects it to the logging
# configurations that target it and passes it.
SCANNER_SKIPS = (
    ScannerSkip(
        "CKV_AWS_145", BUCKET, ACCESS_LOGS,
        "S3 server access log delivery: SSE-S3 is the destination encryption AWS documents for it",
    ),
    ScannerSkip(
        "CKV_AWS_145", BUCKET, "entry-access-logs",
        "ALB access log delivery supports SSE-S3 only (public_entry.py states the reason)",
    ),
    # Cross-region replication (CKV_AWS_144) where a second copy is not wanted or already exists.
    ScannerSkip(
        "CKV_AWS_144", BUCKET, ACCESS_LOGS, "regional access records; a copy elsewhere would leave the residency"
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "entry-access-logs", "regional ALB logs; a copy elsewhere would leave the residency"
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "account-audit",
        "object-locked (WORM) audit trail; CloudTrail is multi-region, a region's outage delays reading only",
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "observability-*",
        "telemetry stores of the region (residency of telemetry); they hold history, not records of business",
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "velero-backups",
        "cluster objects are recreated from code; tenant data replicates through its database and bucket",
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "dr-*-documents", "this bucket is the cross-region replica (tenant_recovery.py)"
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "tenant-*-documents",
        "the tenant's residency is one region: a copy elsewhere would leave it", when=single_region,
    ),
    ScannerSkip(
        "CKV_AWS_144", BUCKET, "tenant-*-documents",
        "dev is one stack in one region: there is no peer region to replicate to", when=dev,
    ),
)  # fmt: skip


@dataclass
class SecureBucketArgs:
    bucket_name: str
    tags: dict[str, str]
    # Current objects expire after this (None: kept until deleted, e.g. Pulumi state); superseded
    # versions `noncurrent_days` after they were replaced.
    retention_days: int | None
    kms_key_arn: pulumi.Input[str] | None = None
    sse_s3_reason: str | None = None  # required when kms_key_arn is None: why no customer key
    # Extra grants; "{bucket}" and "{account}" in Resource/Condition strings are filled in.
    policy_statements: Sequence[dict[str, Any]] = field(default_factory=tuple)
    account_id: pulumi.Input[str] = ""
    object_lock_days: int | None = None  # WORM (compliance mode) for audit records
    noncurrent_days: int = 30
    # Server access logs go to the region's access-log bucket; False only for that bucket itself.
    server_access_logs: bool = True


def replication_policy(source: str, destination: str, source_key: str, replica_key: str) -> str:
    """What an S3 replication role needs: read versions of `source`, write replicas into
    `destination`, decrypt with the source key and encrypt with the replica key — nothing else.
    `replica_key` may be an alias ARN (the peer's key id is not known here): IAM does not match a
    key operation against an alias ARN, so the grant names the region's keys by that alias."""
    return document(
        {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": [source]},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            "Resource": [f"{source}/*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": [f"{destination}/*"],
        },
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [source_key]},
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], **key_resource(replica_key)},
    )


def key_resource(key: str) -> dict[str, object]:
    """Resource (and condition) of a KMS key grant: a key ARN as is; an alias ARN as the keys of
    its region and account that carry that alias (kms:ResourceAliases)."""
    prefix, _, alias = key.partition(":alias/")
    if not alias:
        return {"Resource": [key]}
    return {
        "Resource": [f"{prefix}:key/*"],
        "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{alias}"}},
    }


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:SecureBucket", name, None, opts)
        if args.kms_key_arn is None and not args.sse_s3_reason:
            raise ValueError(f"bucket {args.bucket_name}: SSE-S3 needs a stated reason; pass kms_key_arn")
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "encryption": "aws:kms" if args.kms_key_arn is not None else "AES256"}
        self.bucket = aws.s3.Bucket(
            name,
            bucket=args.bucket_name,
            object_lock_enabled=True if args.object_lock_days else None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        if args.object_lock_days:
            aws.s3.BucketObjectLockConfiguration(
                name,
                bucket=self.bucket.id,
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode="COMPLIANCE", days=args.object_lock_days
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket
        if args.kms_key_arn is not None:
            encryption = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
            )
        else:
            encryption = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=encryption,
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name,
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketVersioning(
            name,
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.retention_days)
                        if args.retention_days is not None
                        else None
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child,
        )
        extra = list(args.policy_statements)

        def policy(values: list[str]) -> str:
            arn, account = values
            deny_plain_http = {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
            filled = json.loads(json.dumps(extra).replace("{bucket}", arn).replace("{account}", account))
            return document(deny_plain_http, *filled)

        aws.s3.BucketPolicy(
            name,
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, args.account_id).apply(policy),
            opts=child,
        )
        # Object-level events to EventBridge (no cost without a rule): the hook for alerting on
        # deletes or unexpected writes; one BucketNotification per bucket, so it lives here.
        aws.s3.BucketNotification(name, bucket=self.bucket.id, eventbridge=True, opts=child)
        if args.server_access_logs:
            target_bucket, after = AccessLogBucket.target_for(self)
            aws.s3.BucketLogging(
                name,
                bucket=self.bucket.id,
                target_bucket=target_bucket,
                target_prefix=f"{name}/",
                target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                    partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                        partition_date_source="EventTime"
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=after),
            )
        self.register_outputs({"bucket": self.name, "arn": self.arn})


def access_log_bucket_name(project: str, stack: str, name: str = ACCESS_LOGS) -> str:
    return f"{project}-{stack}-{name}"


# Per program run (its root stack resource) and provider: the access-log bucket already made.
_ACCESS_LOG_BUCKETS: "weakref.WeakKeyDictionary[pulumi.Resource, dict[int, AccessLogBucket]]" = (
    weakref.WeakKeyDictionary()
)


class AccessLogBucket(pulumi.ComponentResource):
    """The region's destination of S3 server access logs, one per stack and AWS provider, made by
    the first SecureBucket that needs it (a stack-level resource, so its name does not depend on
    which bucket came first); the bootstrap project's state bucket gets its own."""

    name: pulumi.Output[str]

    @classmethod
    def target_for(cls, source: pulumi.Resource) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
        """(bucket name, what to wait for). A tenant stack's buckets log to its platform stack's
        bucket (deployed first; same account and region), so no stack per tenant adds one."""
        stack = StackName.parse(pulumi.get_stack())
        if stack.is_tenant:
            return access_log_bucket_name(pulumi.get_project(), stack.platform), []
        target = cls.of_region(source)
        return target.name, [target]

    @classmethod
    def of_region(cls, source: pulumi.Resource) -> "AccessLogBucket":
        root = get_root_resource()
        provider = source.get_provider(BUCKET)
        per_stack = _ACCESS_LOG_BUCKETS.setdefault(root, {}) if root is not None else {}
        key = id(provider)
        if key not in per_stack:
            per_stack[key] = cls(ACCESS_LOGS if not per_stack else f"{ACCESS_LOGS}-{len(per_stack) + 1}", provider)
        return per_stack[key]

    def __init__(self, name: str, provider: pulumi.ProviderResource | None) -> None:
        super().__init__("platform:index:AccessLogBucket", name, None, pulumi.ResourceOptions(provider=provider))
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id
        # Project and stack: a bootstrap stack and its regional stack share account and region.
        bucket_name = access_log_bucket_name(pulumi.get_project(), pulumi.get_stack(), name)
        logs = SecureBucket(
            name,
            SecureBucketArgs(
                bucket_name=bucket_name,
                tags={"component": "audit", "owner": "platform", "purpose": "s3-access-logs"},
                retention_days=ACCESS_LOG_RETENTION_DAYS,
                sse_s3_reason="S3 server access log delivery (logging.s3.amazonaws.com) writes with SSE-S3",
                account_id=account,
                server_access_logs=False,
                # S3 delivers the logs as its logging service principal, from this account's buckets only.
                policy_statements=[
                    {
                        "Sid": "S3ServerAccessLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": "{bucket}/*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": "{account}"}},
                    }
                ],
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.name = logs.name
        self.register_outputs({"bucket": self.name})
