"""A tenant's real-time event stream (seed 000: Kinesis for analytics and ML) and its delivery into
the tenant's S3 landing zone, in the tenant's home region only.

Per tenant, in its home-region tenant stack:
- a Kinesis data stream, on-demand capacity, encrypted at rest with the tenant's own data key
  (never `alias/aws/kinesis`), records kept `tier.event_retention_hours`;
- a Firehose stream reading that stream into the tenant's own landing bucket (a SecureBucket
  encrypted with the same tenant key), under `tenant=<id>/year=/month=/day=/`; failed records under
  `errors/tenant=<id>/...`; delivery errors logged to a tenant log group;
- the Firehose role, which may read only this stream, write only this bucket, use the tenant key
  only through Kinesis and S3, and log only to its own log stream.

Why a landing bucket and a delivery stream per tenant, not one platform landing bucket per region
with Firehose dynamic partitioning by tenant (the aws-samples multi-tenant pipeline's shape):
- Per-tenant encryption: a Firehose S3 destination writes every object with one key
  (`extended_s3_configuration.kms_key_arn`). One shared delivery stream would write every
  tenant's events with one key, so a tenant's events could no longer be shredded by destroying
  its key, nor read only by its principals. A per-tenant key already needs a per-tenant delivery
  stream; a bucket per tenant then keeps the bucket's default encryption, policy, lifecycle
  (document retention of the tier) and deletion with the tenant too.
- Residency: the stream, the delivery stream and the bucket are in the tenant's home region,
  which is inside its residency by construction (the catalog's rule); nothing is replicated.
- Isolation by ARN: workload roles name their own stream, Firehose its own bucket. A pooled
  bucket would rest tenant separation on prefix conditions in every policy.
- The tenant stack stays self-contained: no tenant writes into a platform-owned place (MT-11).

Consumers: the tenant's workload roles may put to and read only their own stream
(TenantPermissions); the key policy admits them through Kinesis (`kms:ViaService`), and the
Firehose role, named by condition, through Kinesis and S3.

Account quotas (one stream and one delivery stream per tenant home region; read 2026-11):
- Kinesis Data Streams: on-demand streams per account default 50 (per Region, DescribeLimits
  `OnDemandStreamCountLimit`); raise by support ticket before onboarding the 50th tenant of a
  region. Provisioned streams have no count limit, but shards are capped per account
  (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html).
- Amazon Data Firehose: 5,000 Firehose streams per Region by default (CreateDeliveryStream API
  reference; LimitExceededException beyond it; older pages say 50)
  (https://docs.aws.amazon.com/firehose/latest/dev/limits.html).

Firehose server-side encryption (`server_side_encryption`) applies only to Direct PUT sources:
with a Kinesis stream as source, records at rest before delivery are the stream's, encrypted with
the tenant key, and Firehose refuses StartDeliveryStreamEncryption
(https://docs.aws.amazon.com/firehose/latest/APIReference/API_StartDeliveryStreamEncryption.html)."""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.scanner import ScannerSkip
from components.shared.secure_bucket import BUCKET, SecureBucket, SecureBucketArgs
from components.shared.tags import tenant_tags

# Checkov findings accepted on the landing bucket (planner/checkov_export.py applies them).
SCANNER_SKIPS = (
    ScannerSkip(
        "CKV_AWS_144",
        BUCKET,
        "tenant-*-stream-landing",
        "events land in the home region only, like the stream they come from; the warehouse load "
        "(issue 14 item 6) is where a copy inside the residency is decided",
    ),
)

# Firehose writes bigger objects for the warehouse's COPY: up to 64 MiB or 5 minutes per object.
BUFFER_MIB = 64
BUFFER_SECONDS = 300
PRODUCER_ACTIONS = ["kinesis:PutRecord", "kinesis:PutRecords"]
CONSUMER_ACTIONS = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]


def events_stream_name(settings: StackSettings, tenant: Tenant) -> str:
    return f"{settings.name_prefix}-{tenant.id}-events"


def delivery_stream_name(settings: StackSettings, tenant: Tenant) -> str:
    return f"{events_stream_name(settings, tenant)}-delivery"


def landing_bucket_name(settings: StackSettings, tenant: Tenant) -> str:
    return f"{settings.name_prefix}-{tenant.home_region}-{tenant.id}-events"


def delivery_role_name(settings: StackSettings, tenant: Tenant) -> str:
    """Deterministic, so the tenant key's policy can name it before it exists."""
    return f"{settings.regional_prefix}-{tenant.id}-events-delivery"


def landing_prefix(tenant: Tenant) -> str:
    return f"tenant={tenant.id}/year=!{{timestamp:yyyy}}/month=!{{timestamp:MM}}/day=!{{timestamp:dd}}/"


def error_prefix(tenant: Tenant) -> str:
    return f"errors/tenant={tenant.id}/!{{firehose:error-output-type}}/year=!{{timestamp:yyyy}}/month=!{{timestamp:MM}}/day=!{{timestamp:dd}}/"


def delivery_trust(account: str) -> str:
    """Firehose assumes the role for this account's delivery streams only (confused deputy)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "firehose.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        },
        sort_keys=True,
    )


def delivery_policy(region: str, stream: str, bucket: str, key: str, log_stream: str) -> str:
    """The delivery role's whole reach: its stream, its bucket, its key through those two
    services, its log stream."""
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadOwnStream", "Effect": "Allow", "Action": CONSUMER_ACTIONS, "Resource": [stream]},
        {
            "Sid": "WriteOwnLandingBucket",
            "Effect": "Allow",
            "Action": [
                "s3:AbortMultipartUpload",
                "s3:GetBucketLocation",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
            ],
            "Resource": [bucket, f"{bucket}/*"],
        },
        {
            "Sid": "DecryptOwnStream",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [key],
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": f"kinesis.{region}.amazonaws.com",
                    "kms:EncryptionContext:aws:kinesis:arn": stream,
                }
            },
        },
        {
            "Sid": "EncryptOwnLandingObjects",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": [key],
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                # With an S3 Bucket Key the context is the bucket ARN, without one the object ARN.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/*"]},
            },
        },
        {"Sid": "OwnDeliveryLog", "Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": [log_stream]},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass
class TenantStreamArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]  # the tenant's data key (TenantKey)


class TenantStream(pulumi.ComponentResource):
    stream: aws.kinesis.Stream
    delivery: aws.kinesis.FirehoseDeliveryStream
    bucket: SecureBucket
    role: aws.iam.Role

    def __init__(self, name: str, args: TenantStreamArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantStream", name, None, opts)
        s, t = args.settings, args.tenant
        if s.region != t.home_region:
            raise ValueError(
                f"tenant {t.id}: its event stream lives in its home region {t.home_region}, not {s.region}"
            )
        tags = tenant_tags(s, t)
        child = pulumi.ResourceOptions(parent=self)

        self.stream = aws.kinesis.Stream(
            f"{name}-events",
            name=events_stream_name(s, t),
            stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode="ON_DEMAND"),
            encryption_type="KMS",
            kms_key_id=args.kms_key_arn,
            retention_period=t.tier.event_retention_hours,
            tags=tags,
            # The stream holds up to a retention period of the tenant's events.
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.bucket = SecureBucket(
            f"{name}-landing",
            SecureBucketArgs(
                bucket_name=landing_bucket_name(s, t),
                tags={**tags, "purpose": "event-landing"},
                retention_days=t.tier.document_retention_days,
                kms_key_arn=args.kms_key_arn,
            ),
            child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-delivery",
            name=f"/aws/kinesisfirehose/{events_stream_name(s, t)}",
            retention_in_days=t.tier.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        log_stream = aws.cloudwatch.LogStream(
            f"{name}-delivery", name="S3Delivery", log_group_name=log_group.name, opts=child
        )
        self.role = aws.iam.Role(
            f"{name}-delivery",
            name=delivery_role_name(s, t),
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(delivery_trust),
            tags=tags,
            opts=child,
        )
        access = aws.iam.RolePolicy(
            f"{name}-delivery",
            role=self.role.id,
            policy=pulumi.Output.all(self.stream.arn, self.bucket.arn, args.kms_key_arn, log_group.arn).apply(
                lambda v: delivery_policy(s.region, v[0], v[1], v[2], f"{v[3]}:log-stream:S3Delivery")
            ),
            opts=child,
        )
        self.delivery = aws.kinesis.FirehoseDeliveryStream(
            f"{name}-delivery",
            name=delivery_stream_name(s, t),
            destination="extended_s3",
            kinesis_source_configuration=aws.kinesis.FirehoseDeliveryStreamKinesisSourceConfigurationArgs(
                kinesis_stream_arn=self.stream.arn, role_arn=self.role.arn
            ),
            extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                bucket_arn=self.bucket.arn,
                role_arn=self.role.arn,
                kms_key_arn=args.kms_key_arn,
                prefix=landing_prefix(t),
                error_output_prefix=error_prefix(t),
                buffering_size=BUFFER_MIB,
                buffering_interval=BUFFER_SECONDS,
                compression_format="GZIP",
                cloudwatch_logging_options=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationCloudwatchLoggingOptionsArgs(
                    enabled=True, log_group_name=log_group.name, log_stream_name=log_stream.name
                ),
            ),
            tags=tags,
            # Firehose checks its role's access when the delivery stream is created. Protected: a
            # new delivery stream starts reading its Kinesis source at LATEST
            # (https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html), so a
            # replacement would skip every event not yet delivered.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access], protect=True),
        )
        self.register_outputs({"streamArn": self.stream.arn, "landingBucket": self.bucket.name})
