"""A tenant's job processors (seed 000's Lambda event processors): one AWS Lambda function per job
queue of the tenant (carrier, policy), in the region that serves it.

Per-tenant functions, not one shared function in Lambda's tenant isolation mode: tenant isolation
mode keeps execution environments apart per tenant id, but every tenant's invocations still run
under one execution role, one environment-encryption key and one concurrency setting. A function
per tenant gives each tenant
- an execution role that reaches only its own queue, its own key and its own log group (least
  privilege on the tenant's own ARNs; the isolation analyzer checks it pairwise),
- an environment encrypted with the tenant's own KMS key (shredded with it at offboarding),
- a concurrency setting from its tier: reserved executions for standard and premium (a noisy
  neighbour cannot take them), a capped share of the unreserved pool for basic.

Code is an artifact, not this repository: a container image in the platform's ECR registry, pinned
to the digest its release tag names at deploy time (as the tenant's services are). Lambda code
signing (a code signing config with `untrusted_artifact_on_deployment: Enforce`) applies only to
.zip packages; for images, integrity rests on the digest pin (content-addressed: the function runs
exactly the bytes that digest names, whatever the tag later points to), the registry's tag
immutability and scan on push, and ECR's own-region rule (catalog/loader.py refuses a registry in
another region). Security Hub Lambda.2 (supported runtime) does not apply to images.

Each function: VPC-attached across the platform's private subnets (one per AZ) with a group of its
own whose only egress is HTTPS to the VPC endpoints; an SQS event source mapping that reports
partial batch failures (failed messages return to the queue and, after the queue's redrive count,
land in its dead-letter queue, whose depth TenantObservability alarms on); active X-Ray tracing;
a log group under the tenant key with the tier's retention; alarms on errors and throttles to
the tenant's alert topics."""

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.shared.iam import document, service_trust
from components.shared.scanner import ScannerSkip
from components.shared.tags import tenant_tags
from components.tenant.tenant_services import pinned_ref

SERVICES = ("carrier", "policy")
# SQS -> Lambda (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html): the
# queue's visibility timeout (300 s, TenantMessaging) must be at least six times the function's
# timeout, so a batch that is retried is not yet visible to another invocation.
TIMEOUT_SECONDS = 50
MEMORY_MB = 512
BATCH_SIZE = 10
BATCH_WINDOW_SECONDS = 5
ERROR_THRESHOLD = 0  # any failed invocation of a tenant's processor is worth a look
# The execution role's ENI permissions (the AWSLambdaVPCAccessExecutionRole actions). The Describe
# calls authorise only on "*"; the others are confined to the region's VPC (ec2:Vpc, carried by the
# network interface, subnet and security group resources). ENI ids name no tenant, so IAM cannot
# confine these to the tenant's own interfaces; the function's VpcConfig (deploy role) picks the
# subnets and the tenant's own group, and Lambda manages the interfaces it creates.
ENI_DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
ENI_MANAGE = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
QUEUE_CONSUMER = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def processor_name(settings: StackSettings, tenant: Tenant, service: str) -> str:
    """The function's and its role's name (at most 64 characters with the catalog's id rules)."""
    return f"{settings.regional_prefix}-{tenant.id}-{service}-fn"


def processor_role_names(settings: StackSettings, tenant: Tenant) -> list[str]:
    """Known before the roles exist: the tenant key's policy names them (TenantKey)."""
    return [processor_name(settings, tenant, service) for service in SERVICES]


def processor_log_group(settings: StackSettings, tenant: Tenant, service: str) -> str:
    return f"/aws/lambda/{processor_name(settings, tenant, service)}"


def processor_policy(
    region: str,
    account: str,
    queue_arn: str,
    key_arn: str,
    log_group_arn: str,
    vpc_id: str,
) -> str:
    """The execution role's only permissions: consume its own queue, decrypt with its own key
    through SQS and Lambda, write its own log group, send traces, and manage its VPC interfaces."""
    return document(
        {"Sid": "OwnQueue", "Effect": "Allow", "Action": QUEUE_CONSUMER, "Resource": queue_arn},
        {
            "Sid": "OwnKeyThroughSqsAndLambda",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": [f"sqs.{region}.amazonaws.com", f"lambda.{region}.amazonaws.com"]}
            },
        },
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
        # X-Ray's write actions support no resource-level permissions.
        {
            "Sid": "Traces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
        {"Sid": "DescribeNetwork", "Effect": "Allow", "Action": ENI_DESCRIBE, "Resource": "*"},
        {
            "Sid": "NetworkInterfacesInTheRegionsVpc",
            "Effect": "Allow",
            "Action": ENI_MANAGE,
            "Resource": "*",
            "Condition": {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{region}:{account}:vpc/{vpc_id}"}},
        },
    )


@dataclass
class TenantProcessorsArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]  # the tenant's data key: environment and log groups
    queues: Mapping[str, aws.sqs.Queue]  # service -> job queue (with its redrive to a DLQ)
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]  # the platform's private subnets, one per AZ
    endpoints_security_group_id: pulumi.Input[str]
    alert_topic_arns: Mapping[str, pulumi.Input[str]]  # severity -> the tenant's alert topic


class TenantProcessors(pulumi.ComponentResource):
    functions: dict[str, aws.lambda_.Function]
    security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, args: TenantProcessorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantProcessors", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        child = pulumi.ResourceOptions(parent=self)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"Job processors of tenant {t.id}: HTTPS to the VPC endpoints only",
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to the VPC endpoints (SQS, KMS, Logs, STS)",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_groups=[args.endpoints_security_group_id],
                )
            ],
            tags={**tags, "Name": f"{s.name_prefix}-{t.id}-processors"},
            opts=child,
        )
        self.functions = {}
        for service in SERVICES:
            self.functions[service] = self._processor(name, service, args, tags)
        self.register_outputs(
            {"functions": {k: f.arn for k, f in self.functions.items()}, "securityGroup": self.security_group.id}
        )

    def _processor(
        self, name: str, service: str, args: TenantProcessorsArgs, tags: dict[str, str]
    ) -> aws.lambda_.Function:
        s, t = args.settings, args.tenant
        tier = t.tier
        child = pulumi.ResourceOptions(parent=self)
        fn_name = processor_name(s, t, service)
        base = f"{name}-{service}"
        queue = args.queues[service]
        svc_tags = {**tags, "service": service}

        log_group = aws.cloudwatch.LogGroup(
            f"{base}-logs",
            name=processor_log_group(s, t, service),
            retention_in_days=tier.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=svc_tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        role = aws.iam.Role(
            f"{base}-role",
            name=fn_name,
            description=f"Job processor of tenant {t.id} ({service}): its own queue, key and log group",
            assume_role_policy=pulumi.Output.from_input(args.account_id).apply(
                lambda a: service_trust("lambda.amazonaws.com", a)
            ),
            tags=svc_tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{base}-role",
            role=role.id,
            policy=pulumi.Output.all(
                args.account_id,
                queue.arn,
                args.kms_key_arn,
                log_group.arn,
                args.vpc_id,
            ).apply(lambda v: processor_policy(s.region, *v)),
            opts=child,
        )
        image = s.images.processor(service)
        function = aws.lambda_.Function(
            f"{base}-fn",
            name=fn_name,
            description=f"Processes tenant {t.id}'s {service} jobs ({image.name}:{image.tag})",
            package_type="Image",
            image_uri=pinned_ref(image, self),
            architectures=["arm64"],
            role=role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=MEMORY_MB,
            reserved_concurrent_executions=tier.processor_reserved_concurrency,
            kms_key_arn=args.kms_key_arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "TENANT_ID": t.id,
                    "TENANT_TIER": tier.name,
                    "JOB_SERVICE": service,
                    "JOBS_QUEUE_URL": queue.url,
                    "DEPLOYMENT_ENVIRONMENT": s.environment,
                }
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.subnet_ids, security_group_ids=[self.security_group.id]
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            tags=svc_tags,
            # The role's permissions exist before Lambda checks them (ENIs, the queue).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.lambda_.EventSourceMapping(
            f"{base}-jobs",
            event_source_arn=queue.arn,
            function_name=function.arn,
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=BATCH_WINDOW_SECONDS,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=tier.processor_max_concurrency
            ),
            tags=svc_tags,
            opts=child,
        )
        for what, metric, severity in (("errors", "Errors", "critical"), ("throttles", "Throttles", "warning")):
            topic = args.alert_topic_arns[severity]
            aws.cloudwatch.MetricAlarm(
                f"{base}-{what}",
                name=f"{t.id}-{service}-processor-{what}",
                alarm_description=f"{severity}: {metric} of tenant {t.id}'s {service} job processor",
                namespace="AWS/Lambda",
                metric_name=metric,
                dimensions={"FunctionName": function.name},
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                comparison_operator="GreaterThanThreshold",
                threshold=ERROR_THRESHOLD,
                treat_missing_data="notBreaching",
                alarm_actions=[topic],
                ok_actions=[topic],
                tags={**svc_tags, "severity": severity, "signal": f"processor-{what}"},
                opts=child,
            )
        return function


# Checkov findings accepted on the job processors (planner/checkov_export.py applies them).
SCANNER_SKIPS = (
    ScannerSkip("CKV_AWS_116", "aws:lambda/function:Function", "tenant-*-processors-*-fn",
                "invoked by its SQS event source mapping: a failed message returns to the queue and moves to the "
                "queue's dead-letter queue (redrive); a function DLQ serves asynchronous invocations only"),
    ScannerSkip("CKV_AWS_115", "aws:lambda/function:Function", "tenant-*-processors-*-fn",
                "tiers without a reservation share the account pool; the event source mapping's maximum "
                "concurrency caps each function",
                when=lambda inputs: inputs.get("reservedConcurrentExecutions") in (None, -1)),
    ScannerSkip("CKV_AWS_272", "aws:lambda/function:Function", "tenant-*-processors-*-fn",
                "a container image: Lambda code signing applies to .zip packages only; the image is pinned by digest"),
)  # fmt: skip
