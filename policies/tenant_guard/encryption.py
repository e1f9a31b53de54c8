"""Encryption at rest with customer-managed keys, and in transit."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import cis_aws, cis_eks, fsbp, glba, naic, nydfs
from .props import get
from .rule import Res, Rule, of_types

RDS = "aws:rds/instance:Instance"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
KINESIS_STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
AT_REST = (nydfs("500.15"), naic("d"), glba("3"))


def rds_encryption(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    p = r.props
    if get(p, "storageEncrypted") is not True:
        yield "storage encryption is off: set storageEncrypted to true"
    key = get(p, "kmsKeyId")
    if not key:
        yield "no customer-managed KMS key: set kmsKeyId to the tenant's key (the AWS-managed aws/rds key cannot be scoped to one tenant)"
    elif isinstance(key, str) and key.endswith("alias/aws/rds"):
        yield "kmsKeyId names the AWS-managed aws/rds key: use the tenant's customer-managed key"
    if get(p, "performanceInsightsEnabled") is True and not get(p, "performanceInsightsKmsKeyId"):
        yield "Performance Insights is on without a customer-managed key: set performanceInsightsKmsKeyId"


def eks_secrets_encryption(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if r.type == EKS_COMPONENT:
        if not get(r.props, "encryptionConfigKeyArn"):
            yield "Kubernetes secrets are not envelope-encrypted: set encryptionConfigKeyArn to a customer-managed KMS key"
        return
    resources = get(r.props, "encryptionConfig.resources") or []
    if "secrets" not in list(resources) or not get(r.props, "encryptionConfig.provider.keyArn"):
        yield "Kubernetes secrets are not envelope-encrypted: encryptionConfig must cover 'secrets' with a KMS keyArn"


def kms_rotation(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    spec = get(r.props, "customerMasterKeySpec") or get(r.props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and get(r.props, "enableKeyRotation") is not True:
        yield "automatic key rotation is off: set enableKeyRotation to true"
    if get(r.props, "bypassPolicyLockoutSafetyCheck") is True:
        yield "bypassPolicyLockoutSafetyCheck is true: a bad key policy could lock every administrator out"


def _aws_managed_key(key: str, service: str) -> bool:
    alias = f"alias/aws/{service}"
    return key == alias or key.endswith(f":{alias}")


def event_streams_encrypted(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """Kinesis streams: SSE-KMS with a customer-managed key. Firehose: its S3 destination writes
    with a customer-managed key, and a Direct PUT stream (no Kinesis or MSK source) keeps its
    buffered records encrypted with one too; a Kinesis-sourced stream's records at rest are the
    source stream's (Firehose accepts SSE only for Direct PUT)."""
    if r.type == KINESIS_STREAM:
        if get(r.props, "encryptionType") != "KMS":
            yield "records are not encrypted at rest: set encryptionType to KMS with the tenant's key"
            return
        key = get(r.props, "kmsKeyId")
        if not isinstance(key, str) or not key:
            yield "no customer-managed KMS key: set kmsKeyId to the tenant's key"
        elif _aws_managed_key(key, "kinesis"):
            yield "kmsKeyId names the AWS-managed alias/aws/kinesis key: use the tenant's customer-managed key"
        return
    for destination in ("extendedS3Configuration", "s3Configuration"):
        config = get(r.props, destination)
        if config is None:
            continue
        key = get(config, "kmsKeyArn")
        if not isinstance(key, str) or not key:
            yield f"{destination} delivers objects without a customer-managed KMS key (kmsKeyArn)"
        elif _aws_managed_key(key, "s3"):
            yield f"{destination}.kmsKeyArn names the AWS-managed alias/aws/s3 key: use the tenant's key"
    if get(r.props, "kinesisSourceConfiguration") is None and get(r.props, "mskSourceConfiguration") is None:
        sse = get(r.props, "serverSideEncryption") or {}
        if get(sse, "enabled") is not True:
            yield "a Direct PUT delivery stream buffers records unencrypted: enable serverSideEncryption"
        elif get(sse, "keyType") != "CUSTOMER_MANAGED_CMK" or not get(sse, "keyArn"):
            yield "serverSideEncryption uses an AWS-owned key: set keyType CUSTOMER_MANAGED_CMK and keyArn"


def _tls_parameter_on(parameters: Sequence[Mapping[str, Any]]) -> bool:
    for parameter in parameters:
        if get(parameter, "name") == "require_secure_transport":
            return str(get(parameter, "value", "")).upper() in ("1", "ON", "TRUE")
    return False


# The platform stack's parameter groups that enforce TLS carry this suffix (DatabaseFoundation).
# A tenant stack's instance names one it does not manage; this rule, run on the platform stack,
# refuses any group with the suffix that does not enforce TLS, so the name is a promise kept.
TLS_GROUP_SUFFIX = "-tls"


def rds_tls_required(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    groups = {get(r.props, "name"): r for r in resources if r.type == "aws:rds/parameterGroup:ParameterGroup"}
    for name, group in groups.items():
        if str(name).endswith(TLS_GROUP_SUFFIX) and not _tls_parameter_on(get(group.props, "parameters") or []):
            yield (
                f"parameter group '{name}' is named as enforcing TLS but does not set require_secure_transport",
                group.urn,
            )
    for r in resources:
        if r.type != RDS or str(get(r.props, "engine", "")) not in ("mariadb", "mysql"):
            continue
        if get(r.props, "replicateSourceDb"):
            continue  # a replica inherits the source's enforcement through its own group check below
        name = get(r.props, "parameterGroupName")
        if not name:
            yield ("uses the engine's default parameter group, which accepts unencrypted connections", r.urn)
            continue
        group = groups.get(name)
        if group is None and str(name).endswith(TLS_GROUP_SUFFIX):
            continue  # the platform stack's TLS group, checked when that stack is previewed
        if group is None:
            yield (
                f"parameter group '{name}' is not managed by this stack, so TLS enforcement cannot be verified",
                r.urn,
            )
        elif not _tls_parameter_on(get(group.props, "parameters") or []):
            yield (f"parameter group '{name}' does not set require_secure_transport to 1", r.urn)


RULES = (
    Rule(
        id="ENC-RDS-1",
        name="rds-encrypted-with-customer-key",
        title="Databases encrypted with a customer-managed key",
        summary="storage + Performance Insights encrypted with a customer-managed key",
        description="Every RDS instance encrypts its storage and Performance Insights data with a customer-managed KMS key, so tenant data at rest is unreadable without that tenant's key.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(*AT_REST, fsbp("RDS.3")),
        remediation="Set storageEncrypted: true and kmsKeyId to the tenant's KMS key ARN (TenantKey). Encryption cannot be added in place: snapshot, copy the snapshot with the key, restore.",
        resource_types=(RDS,),
        check=rds_encryption,
    ),
    Rule(
        id="ENC-RDS-3",
        name="rds-tls-required",
        title="Database connections require TLS",
        summary="the instance's parameter group sets `require_secure_transport`",
        description="Every MariaDB/MySQL instance uses a parameter group that sets require_secure_transport, so no client can connect without TLS: one managed by its own stack, or the platform stack's group named `*-tls`, which this rule refuses to exist without the setting.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), naic("d"), glba("3"), fsbp("RDS.44")),
        remediation="Attach the platform parameter group (DatabaseFoundation) or add require_secure_transport = 1 to the instance's parameter group.",
        stack_check=rds_tls_required,
        subject=of_types("aws:rds/parameterGroup:ParameterGroup", RDS),
    ),
    Rule(
        id="ENC-EKS-1",
        name="eks-secrets-encryption",
        title="Kubernetes secrets envelope-encrypted with KMS",
        summary="Kubernetes secrets envelope-encrypted with KMS",
        description="The EKS cluster encrypts Kubernetes secrets with a customer-managed KMS key (envelope encryption), on top of the default etcd encryption.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), cis_eks("5.3.1")),
        remediation="Pass encryptionConfigKeyArn (pulumi-eks) or encryptionConfig {resources: [secrets], provider.keyArn} with the platform cluster-secrets key.",
        resource_types=(EKS_COMPONENT, EKS_CLUSTER),
        check=eks_secrets_encryption,
    ),
    Rule(
        id="ENC-KIN-1",
        name="event-streams-encrypted-with-customer-key",
        title="Event streams and their deliveries encrypted with customer-managed keys",
        summary="Kinesis streams SSE-KMS with a customer key (not aws/kinesis); Firehose S3 delivery and Direct PUT buffers with one",
        description="Every Kinesis data stream encrypts records at rest with a customer-managed KMS key (the tenant's own, never the AWS-managed alias/aws/kinesis), and every Firehose delivery stream writes its S3 objects with a customer-managed key and, when fed by Direct PUT, keeps its buffered records encrypted with one; a Kinesis-sourced delivery stream holds records only in its encrypted source stream (AWS Config kinesis-firehose-delivery-stream-encrypted covers the Direct PUT case).",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(*AT_REST, fsbp("Kinesis.1")),
        remediation="Set encryptionType: KMS and kmsKeyId to the tenant's key on the stream, and extendedS3Configuration.kmsKeyArn to the same key on the delivery stream (TenantStream does).",
        resource_types=(KINESIS_STREAM, FIREHOSE),
        check=event_streams_encrypted,
    ),
    Rule(
        id="ENC-KMS-1",
        name="kms-key-rotation",
        title="KMS keys rotate automatically",
        summary="automatic key rotation, lockout safety check kept",
        description="Every symmetric customer-managed KMS key has automatic yearly rotation and keeps the key-policy lockout safety check.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.15"), cis_aws("3.6")),
        remediation="Set enableKeyRotation: true on the key and leave bypassPolicyLockoutSafetyCheck unset.",
        resource_types=("aws:kms/key:Key",),
        check=kms_rotation,
    ),
)
