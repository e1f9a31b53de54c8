"""Lambda: the tenant job processors (and any function) follow AWS Security Hub's Lambda controls
that apply (Lambda.1 no public resource policy, Lambda.2 supported runtime for .zip packages,
Lambda.3 in a VPC, Lambda.5 across AZs, Lambda.7 active tracing) and the platform's own: an
environment under a customer-managed key, and queue event sources that report partial batch
failures onto a queue with a dead-letter redrive.

Reference: https://docs.aws.amazon.com/securityhub/latest/userguide/lambda-controls.html"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, naic, nydfs
from .props import as_list, get
from .rule import Res, Rule, of_types

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"

# Lambda's supported managed runtimes (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html,
# 2026-11), the list Security Hub Lambda.2 checks against. A deprecated one is a violation.
SUPPORTED_RUNTIMES = frozenset(
    {
        "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
        "nodejs20.x", "nodejs22.x", "nodejs24.x",
        "java11", "java17", "java21", "java25",
        "dotnet8", "dotnet10",
        "ruby3.3", "ruby3.4",
        "provided.al2023", "provided.al2",
    }
)  # fmt: skip
MIN_AZS = 2


def no_public_function(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """Lambda.1: a resource-based policy statement (aws.lambda_.Permission) must not admit
    everyone, nor an AWS service without naming the source (confused deputy); a function URL must
    authenticate (AWS_IAM)."""
    if r.type == FUNCTION_URL:
        if get(r.props, "authorizationType") == "NONE":
            yield "the function URL takes unauthenticated requests: set authorizationType to AWS_IAM"
        return
    principal = str(get(r.props, "principal") or "")
    if principal == "*":
        yield "the function's resource policy admits everyone (principal '*')"
    elif principal.endswith(".amazonaws.com") and not (get(r.props, "sourceArn") or get(r.props, "sourceAccount")):
        yield f"the function's resource policy admits {principal} from any account: set sourceArn or sourceAccount"
    if get(r.props, "functionUrlAuthType") == "NONE":
        yield "the permission opens an unauthenticated function URL"


def supported_runtime(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """Lambda.2 (zip packages only; an image brings its own runtime, and its provenance, digest and
    registry, is K8S-IMG-1's, the one image rule for pods and functions alike)."""
    if get(r.props, "packageType") == "Image":
        return
    runtime = get(r.props, "runtime")
    if runtime not in SUPPORTED_RUNTIMES:
        yield f"runtime '{runtime}' is not a supported Lambda runtime"


def in_vpc(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """Lambda.3: the function sends its traffic through the platform's VPC, under a security group."""
    if not as_list(get(r.props, "vpcConfig.subnetIds")):
        yield "the function is not attached to a VPC (vpcConfig.subnetIds)"
    elif not as_list(get(r.props, "vpcConfig.securityGroupIds")):
        yield "the function has no security group (vpcConfig.securityGroupIds)"


def multi_az(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """Lambda.5: a VPC-attached function spans at least two AZs. A plan knows a subnet only by its
    id (the platform stack owns the subnets), so this counts distinct subnets; the platform's
    private subnets are one per AZ by construction (components/platform/network.py)."""
    subnets = {str(s) for s in as_list(get(r.props, "vpcConfig.subnetIds"))}
    if subnets and len(subnets) < MIN_AZS:
        yield f"the function's {len(subnets)} subnet(s) cover fewer than {MIN_AZS} availability zones"


def environment_key(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """The environment (and the function's configuration) is encrypted with a customer-managed
    key: the tenant's own for a tenant function (tenant-data-uses-own-key style check by ARN)."""
    key = str(get(r.props, "kmsKeyArn") or "")
    if not key:
        yield "the environment is encrypted with Lambda's AWS-managed key: set kmsKeyArn to the tenant's key"
    elif ":alias/aws/" in key:
        yield f"the environment key {key} is AWS-managed: use the tenant's customer-managed key"


def active_tracing(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """Lambda.7: every invocation is traced (X-Ray active tracing)."""
    if get(r.props, "tracingConfig.mode") != "Active":
        yield "X-Ray tracing is not active: set tracingConfig.mode to Active"


def queue_failure_handling(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """An SQS event source reports partial batch failures (only the failed messages return to
    the queue) and its queue redrives repeatedly failing messages to a dead-letter queue. The
    queue is found by ARN, or, in a preview where its ARN is not known yet, among the mapping's
    dependencies."""
    queues = [q for q in resources if q.type == QUEUE]
    by_arn = {str(get(q.props, "arn")): q for q in queues if get(q.props, "arn")}
    by_urn = {q.urn: q for q in queues}
    for r in resources:
        if r.type != MAPPING:
            continue
        source = str(get(r.props, "eventSourceArn") or "")
        if not source.startswith("arn:aws:sqs:") and not any(d in by_urn for d in r.dependencies):
            continue
        if "ReportBatchItemFailures" not in [str(v) for v in as_list(get(r.props, "functionResponseTypes"))]:
            yield (
                "the queue's event source does not report partial batch failures: a failed message "
                "returns its whole batch (set functionResponseTypes to ReportBatchItemFailures)",
                r.urn,
            )
        queue = by_arn.get(source) or next((by_urn[d] for d in r.dependencies if d in by_urn), None)
        if queue is not None and not get(queue.props, "redrivePolicy"):
            yield (f"the source queue {queue.name} has no dead-letter redrive (redrivePolicy)", r.urn)


AT_REST = (nydfs("500.15"), naic("d"))
RULES = (
    Rule(
        id="LAM-1",
        name="lambda-no-public-access",
        title="Functions are not public",
        summary="no resource policy admits everyone or an unscoped service; function URLs use IAM",
        description="No Lambda resource-based policy admits '*' or an AWS service without its source ARN or account, and no function URL takes unauthenticated requests.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), fsbp("Lambda.1")),
        remediation="Invoke the function through its event source mapping (no permission needed), or grant a named principal with sourceArn/sourceAccount; use AWS_IAM for function URLs.",
        resource_types=(PERMISSION, FUNCTION_URL),
        check=no_public_function,
    ),
    Rule(
        id="LAM-2",
        name="lambda-supported-runtime",
        title="Functions run supported code artifacts",
        summary="zip: a supported runtime (images: K8S-IMG-1)",
        description="A .zip function uses a runtime Lambda still supports; a container-image function's image (pinned by digest, approved registry) is checked by workload-image-provenance.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.8"), fsbp("Lambda.2")),
        remediation="Move the function to a supported runtime.",
        resource_types=(FUNCTION,),
        check=supported_runtime,
    ),
    Rule(
        id="LAM-3",
        name="lambda-in-vpc",
        title="Functions run in the VPC",
        summary="subnets and a security group in vpcConfig",
        description="Every function is attached to the platform's private subnets under a security group, so its traffic stays under the VPC's controls (endpoints, flow logs).",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), fsbp("Lambda.3")),
        remediation="Set vpcConfig with the platform's private subnets (contract.privateSubnetIds) and the function's own security group.",
        resource_types=(FUNCTION,),
        check=in_vpc,
    ),
    Rule(
        id="LAM-4",
        name="lambda-multi-az",
        title="Functions span availability zones",
        summary="VPC subnets in at least two AZs",
        description="A VPC-attached function has subnets in at least two availability zones, so one zone's loss does not stop it.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(naic("j"), nydfs("500.16"), fsbp("Lambda.5")),
        remediation="Attach the function to every private subnet of the platform (one per AZ).",
        resource_types=(FUNCTION,),
        check=multi_az,
    ),
    Rule(
        id="LAM-5",
        name="lambda-environment-encrypted",
        title="Function environments use a customer-managed key",
        summary="kmsKeyArn set to a customer-managed (tenant) key",
        description="A function's environment variables and configuration are encrypted with a customer-managed key (the tenant's, for tenant functions), not Lambda's AWS-managed key.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=AT_REST,
        remediation="Set kmsKeyArn to the tenant key (Tenant.key) and let the deploy role create grants through Lambda.",
        resource_types=(FUNCTION,),
        check=environment_key,
    ),
    Rule(
        id="LAM-6",
        name="lambda-active-tracing",
        title="Function invocations are traced",
        summary="X-Ray active tracing",
        description="Every function samples and records its invocations with AWS X-Ray (active tracing), for incident reconstruction.",
        severity=Severity.LOW,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.6"), naic("i"), fsbp("Lambda.7")),
        remediation="Set tracingConfig.mode to Active (the role needs xray:PutTraceSegments and xray:PutTelemetryRecords).",
        resource_types=(FUNCTION,),
        check=active_tracing,
    ),
    Rule(
        id="LAM-7",
        name="lambda-queue-failure-handling",
        title="Queue processors keep failed messages",
        summary="partial batch failures reported; the source queue redrives to a DLQ",
        description="An SQS event source mapping reports partial batch failures, and its queue redrives messages that keep failing to a dead-letter queue (Security Hub's retired Lambda.4 asked for a DLQ; for queue sources the queue's redrive is the DLQ).",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(naic("j"), nydfs("500.16")),
        remediation="Set functionResponseTypes: [ReportBatchItemFailures] on the mapping and a redrivePolicy on the queue (TenantMessaging does).",
        stack_check=queue_failure_handling,
        subject=of_types(MAPPING),
    ),
)
