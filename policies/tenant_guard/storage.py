"""Buckets and log groups: encrypted with customer keys, closed to the public, TLS-only, versioned,
and kept exactly as long as their retention says."""

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, glba, naic, nydfs
from .props import as_list, get, tags_of
from .rule import Res, Rule, of_types

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# Buckets written by AWS services that accept only SSE-S3 (ALB access logs).
DEFAULT_SSE_S3_PURPOSES = ("lb-access-logs", "s3-access-logs")  # delivery services that take SSE-S3 only
DEFAULT_MIN_LOG_RETENTION_DAYS = 90


def _companions(resources: Sequence[Res]) -> dict[str, dict[str, list[Res]]]:
    """Bucket URN -> companion type -> the companion resources that depend on it."""
    buckets = {r.urn for r in resources if r.type in BUCKET_TYPES}
    found: dict[str, dict[str, list[Res]]] = {urn: {} for urn in buckets}
    for r in resources:
        if r.type in (SSE, PAB, OWNERSHIP, VERSIONING, LIFECYCLE, POLICY):
            for dep in r.dependencies:
                if dep in found:
                    found[dep].setdefault(r.type, []).append(r)
    return found


def bucket_encryption(resources: Sequence[Res], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    by_urn = {r.urn: r for r in resources}
    exempt = config.get("sseS3Purposes", list(DEFAULT_SSE_S3_PURPOSES))
    for urn, companions in _companions(resources).items():
        rules = [rule for sse in companions.get(SSE, []) for rule in as_list(get(sse.props, "rules"))]
        if not rules:
            yield ("the bucket has no default encryption configuration", urn)
            continue
        for rule in rules:
            algorithm = get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
            if algorithm in ("aws:kms", "aws:kms:dsse"):
                if not get(rule, "applyServerSideEncryptionByDefault.kmsMasterKeyId"):
                    yield ("SSE-KMS without a customer-managed key (kmsMasterKeyId)", urn)
                elif get(rule, "bucketKeyEnabled") is not True:
                    yield ("SSE-KMS without an S3 bucket key (cost and KMS throttling)", urn)
            elif tags_of(by_urn[urn].props).get("purpose") not in exempt:
                yield (f"the bucket uses {algorithm}, not a customer-managed KMS key", urn)


def _denies_plain_http(policy: Res) -> bool:
    text = get(policy.props, "policy")
    try:
        document = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        return False
    return any(
        get(st, "Effect") == "Deny" and str(get(st, "Condition.Bool.aws:SecureTransport", "")).lower() == "false"
        for st in as_list(get(document, "Statement"))
    )


def bucket_baseline(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    for urn, c in _companions(resources).items():
        missing = []
        pab = c.get(PAB, [])
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        if not any(all(get(p.props, f) is True for f in flags) for p in pab):
            missing.append("a full public access block")
        if not any(get(o.props, "rule.objectOwnership") == "BucketOwnerEnforced" for o in c.get(OWNERSHIP, [])):
            missing.append("ACLs disabled (BucketOwnerEnforced)")
        if not any(_denies_plain_http(p) for p in c.get(POLICY, [])):
            missing.append("a policy denying non-TLS requests")
        if not any(get(v.props, "versioningConfiguration.status") == "Enabled" for v in c.get(VERSIONING, [])):
            missing.append("versioning")
        if not any(
            get(rule, "status") == "Enabled" and get(rule, "expiration.days")
            for lc in c.get(LIFECYCLE, [])
            for rule in as_list(get(lc.props, "rules"))
        ):
            missing.append("a lifecycle that expires objects after their retention")
        if missing:
            yield (f"the bucket lacks {'; '.join(missing)}", urn)


def log_group_policy(r: Res, config: Mapping[str, Any]) -> Iterable[str]:
    minimum = int(config.get("minLogRetentionDays", DEFAULT_MIN_LOG_RETENTION_DAYS))
    if not get(r.props, "kmsKeyId"):
        yield "log events are not encrypted with a customer-managed KMS key (kmsKeyId)"
    retention = get(r.props, "retentionInDays")
    if not isinstance(retention, (int, float)) or retention == 0:
        yield "no retention is set: logs would be kept forever, against the disposal schedule"
    elif retention < minimum:
        yield f"logs are kept {int(retention)} days, less than the required {minimum}"


RULES = (
    Rule(
        id="ENC-S3-1",
        name="s3-bucket-encrypted",
        title="Buckets are encrypted with customer-managed keys",
        summary="SSE-KMS with a customer key and bucket key (SSE-S3 only for approved purposes)",
        description="Every bucket has default encryption with a customer-managed KMS key and a bucket key; SSE-S3 only for buckets written by AWS services that accept nothing else (approved purposes).",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), glba("3"), fsbp("S3.17")),
        remediation="Create buckets with the SecureBucket component and pass the owning tenant's or the platform's KMS key.",
        stack_check=bucket_encryption,
        subject=of_types(*BUCKET_TYPES),
        config_schema={"sseS3Purposes": {"type": "array", "items": {"type": "string"}}},
    ),
    Rule(
        id="NET-S3-1",
        name="s3-bucket-baseline",
        title="Buckets are private, TLS-only, versioned and expire data",
        summary="public access block, ACLs off, TLS-only policy, versioning, lifecycle expiry",
        description="Every bucket blocks public access, disables ACLs, denies non-TLS requests, keeps versions, and expires objects after their retention.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), nydfs("500.13"), glba("6"), fsbp("S3.1"), fsbp("S3.5"), fsbp("S3.8")),
        remediation="Create buckets with the SecureBucket component, which adds all five companions.",
        stack_check=bucket_baseline,
        subject=of_types(*BUCKET_TYPES),
    ),
    Rule(
        id="LOG-CW-1",
        name="log-groups-encrypted-retained",
        title="Log groups are encrypted and retained",
        summary="KMS-encrypted, retention set and above the minimum",
        description="Every CloudWatch log group is encrypted with a customer-managed key and keeps events at least the configured minimum, never forever.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.6"), nydfs("500.13"), naic("i")),
        remediation="Set kmsKeyId to the platform logs key and retentionInDays from the tier table (tenants) or 1096 days (platform, prod).",
        resource_types=(LOG_GROUP,),
        check=log_group_policy,
        config_schema={"minLogRetentionDays": {"type": "integer", "minimum": 1}},
    ),
)
