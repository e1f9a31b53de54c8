"""The public API front door (seed 000: "API Gateway ... security, throttling, and monitoring"): one
regional REST API per platform stack, served only on its custom domain `*.api.<edge domain>`
(`<tenant>.api.<domain>` is the tenant's API host, latency-routed by the tenant's stacks).

- Every request needs the caller's tenant API key AND a token of that tenant's own issuer: a Lambda
  REQUEST authorizer (image pinned by digest) reads the tenant's mapping parameter
  (`<prefix>/<tenant>`, written by the tenant's stack: TenantApiAccess), accepts only tokens whose
  issuer is that tenant's Cognito user pool (and, where known, its app clients), and returns the
  tenant's own API key as `usageIdentifierKey` (`api_key_source="AUTHORIZER"`): clients never
  handle keys, and each tenant's key is metered against its tier's usage plan on its own.
- Usage plans: one per tier, throttle and quota from the tier table (catalog/tiers.py `ApiSpec`),
  applied per API key, so one tenant cannot spend another's share.
- Private integration: HTTP_PROXY over a VPC link V2 to the regional entry ALB (REST APIs reach an
  ALB directly through a VPC link V2 since November 2025), over HTTPS with a host name the ALB's
  wildcard certificate covers (`api.<domain>`); the authorizer's tenant travels as `X-Tenant-Id`,
  set by API Gateway, never by the client.
- AWS WAF (the regional entry's web ACL), access logs and execution logs in KMS-encrypted log
  groups with the platform's retention, X-Ray tracing, CloudWatch metrics, a client certificate
  for backend authentication (Security Hub APIGateway.2).
- The stage's deployment is replaced whenever the API's configuration (methods, integration,
  authorizer) changes: its `triggers` are a hash of that configuration.

One wildcard custom domain rather than one per tenant: API Gateway allows 120 public custom domain
names per account and Region by default (a region plans 200 tenants)."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog import StackSettings
from catalog.tiers import TIERS
from components.edge.public_entry import writes_validation_records
from components.shared.iam import account_root_statement, document, service_trust
from components.shared.scanner import ScannerSkip
from components.shared.tags import platform_tags
from components.tenant.tenant_services import API_DISPATCH_PREFIX, pinned_ref

STAGE = "v1"
TENANT_HEADER = "X-Tenant-Id"
AUTHORIZER_CACHE_SECONDS = 300  # keyed by the identity sources: token AND host (tenant)
AUTHORIZER_TIMEOUT_SECONDS = 10  # API Gateway waits at most 10 s for a Lambda authorizer
# The account's regional throttle for all APIs (default 10,000 requests per second, burst 5,000):
# the stage's default method throttle never promises more than the account grants.
ACCOUNT_RATE_LIMIT = 10_000
ACCOUNT_BURST_LIMIT = 5_000
EXECUTION_LOG_LEVEL = "ERROR"  # INFO and data traces would log request details (PII) at volume
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "domain": "$context.domainName",
        "tenant": "$context.authorizer.tenant",
        "apiKeyId": "$context.identity.apiKeyId",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatencyMs": "$context.integration.latency",
        "authorizerError": "$context.authorizer.error",
        "wafStatus": "$context.waf.status",
        "xrayTraceId": "$context.xrayTraceId",
    },
    sort_keys=True,
)


def api_domain(settings: StackSettings) -> str:
    """The API's parent domain; a tenant's API host is `<tenant>.<api_domain>`."""
    return settings.edge.api_host


def backend_uri(settings: StackSettings) -> str:
    """The integration's uri: `/tenants/{tenant}/` (TenantServices' route prefix) then the client's path."""
    return f"https://{api_domain(settings)}{API_DISPATCH_PREFIX}/{{tenant}}/{{proxy}}"


# The tenant in the path and the header is the authorizer's answer (`context.authorizer.tenant`,
# a parameter mapping source of REST APIs), never a value of the client's request.
INTEGRATION_PARAMETERS = {
    "integration.request.path.tenant": "context.authorizer.tenant",
    "integration.request.path.proxy": "method.request.path.proxy",
    f"integration.request.header.{TENANT_HEADER}": "context.authorizer.tenant",
}


def tenant_api_host(settings: StackSettings, tenant_id: str) -> str:
    return f"{tenant_id}.{api_domain(settings)}"


def mapping_prefix(settings: StackSettings) -> str:
    """SSM path of the authorizer's per-tenant entries (`<prefix>/<tenant>`)."""
    return f"/{settings.name_prefix}/{settings.region}/api-tenants"


def configuration_hash(configuration: Mapping[str, Any]) -> str:
    """The deployment trigger: any change to a method, integration or authorizer changes it, and
    a new deployment (created before the old one is destroyed) rolls the stage onto it."""
    return hashlib.sha256(json.dumps(configuration, sort_keys=True, default=str).encode()).hexdigest()


def authorizer_policy(region: str, account: str, prefix: str, key_arn: str, log_group_arn: str, vpc_id: str) -> str:
    """The authorizer reads the tenants' mapping entries (and nothing else of theirs), decrypts
    them through SSM only, writes its own log group, traces, and manages its VPC interfaces."""
    parameters = f"arn:aws:ssm:{region}:{account}:parameter{prefix}"
    return document(
        {"Sid": "TenantMappings", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"{parameters}/*"},
        {
            "Sid": "DecryptMappingsThroughSsm",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": f"{parameters}/*"},
            },
        },
        {
            "Sid": "OwnEnvironmentThroughLambda",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"lambda.{region}.amazonaws.com"}},
        },
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
        # X-Ray's write actions and the ENI Describe calls support no resource-level permissions.
        {
            "Sid": "Traces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
        {
            "Sid": "DescribeNetwork",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": "*",
        },
        {
            "Sid": "NetworkInterfacesInTheRegionsVpc",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
            "Condition": {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:{region}:{account}:vpc/{vpc_id}"}},
        },
    )


def mapping_key_policy(region: str, account: str, prefix: str, authorizer_role_arn: str) -> str:
    """The mapping entries' key: the account's IAM administers it (tenant deploy roles encrypt
    through SSM under their IAM grants), the authorizer decrypts only entries under the prefix
    through SSM, and its own environment through Lambda."""
    parameters = f"arn:aws:ssm:{region}:{account}:parameter{prefix}/*"
    return document(
        account_root_statement(account),
        {
            "Sid": "AuthorizerReadsTenantMappings",
            "Effect": "Allow",
            "Principal": {"AWS": authorizer_role_arn},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"ssm.{region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": parameters},
            },
        },
        {
            "Sid": "AuthorizerEnvironmentThroughLambda",
            "Effect": "Allow",
            "Principal": {"AWS": authorizer_role_arn},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": f"lambda.{region}.amazonaws.com"}},
        },
    )


def cloudwatch_role_policy(region: str, account: str, access_log_group_arn: str) -> str:
    """API Gateway's account role writes the execution logs (log groups it names after the API)
    and the access log group; only DescribeLogGroups authorises on '*' alone."""
    execution = f"arn:aws:logs:{region}:{account}:log-group:API-Gateway-Execution-Logs_*"
    return document(
        {
            "Sid": "ExecutionAndAccessLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"],
            "Resource": [
                execution,
                f"{execution}:log-stream:*",
                access_log_group_arn,
                f"{access_log_group_arn}:log-stream:*",
            ],
        },
        {
            "Sid": "DescribeStreams",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogStreams"],
            "Resource": [execution, access_log_group_arn],
        },
        {"Sid": "DescribeGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"},
    )


@dataclass
class PublicApiArgs:
    settings: StackSettings
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    load_balancer_arn: pulumi.Input[str]  # the regional entry ALB (PublicEntry)
    load_balancer_security_group_id: pulumi.Input[str]
    web_acl_arn: pulumi.Input[str]  # the regional entry's web ACL
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int


class PublicApi(pulumi.ComponentResource):
    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    usage_plans: dict[str, aws.apigateway.UsagePlan]
    domain: aws.apigateway.DomainName
    mapping_key: aws.kms.Key
    authorizer_function: aws.lambda_.Function
    mapping_prefix: str

    def __init__(self, name: str, args: PublicApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:PublicApi", name, None, opts)
        s = args.settings
        tags = platform_tags(s, "public-api")
        child = pulumi.ResourceOptions(parent=self)
        physical = f"{s.regional_prefix}-public-api"
        self.mapping_prefix = mapping_prefix(s)
        account = pulumi.Output.from_input(args.account_id)

        fn_role = aws.iam.Role(
            f"{name}-authorizer",
            name=f"{s.regional_prefix}-api-authorizer",
            description="The public API's authorizer: reads the tenants' mapping entries, nothing else of theirs",
            assume_role_policy=account.apply(lambda a: service_trust("lambda.amazonaws.com", a)),
            tags=tags,
            opts=child,
        )
        self.mapping_key = aws.kms.Key(
            f"{name}-mappings",
            description=f"Public API tenant mapping entries and the authorizer's environment ({pulumi.get_stack()})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account, fn_role.arn).apply(
                lambda v: mapping_key_policy(s.region, v[0], self.mapping_prefix, v[1])
            ),
            tags={**tags, "purpose": "api-mappings"},
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        self.rest_api = aws.apigateway.RestApi(
            name,
            name=physical,
            description=f"Public API of the insurance platform in {s.region}: tenants at <tenant>.{api_domain(s)}",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            disable_execute_api_endpoint=True,  # served only on the custom domain (WAF, TLS policy, DNS)
            api_key_source="AUTHORIZER",
            tags=tags,
            opts=child,
        )
        authorizer = self._authorizer(name, s, args, fn_role, tags)
        proxy = aws.apigateway.Resource(
            f"{name}-proxy",
            rest_api=self.rest_api.id,
            parent_id=self.rest_api.root_resource_id,
            path_part="{proxy+}",
            opts=child,
        )
        method = aws.apigateway.Method(
            f"{name}-proxy-any",
            rest_api=self.rest_api.id,
            resource_id=proxy.id,
            http_method="ANY",
            authorization="CUSTOM",
            authorizer_id=authorizer.id,
            api_key_required=True,
            request_parameters={"method.request.path.proxy": True},
            opts=child,
        )
        link_group = aws.ec2.SecurityGroup(
            f"{name}-vpc-link",
            vpc_id=args.vpc_id,
            description="Public API VPC link: HTTPS to the regional entry ALB only",
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to the entry ALB",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    security_groups=[args.load_balancer_security_group_id],
                )
            ],
            tags={**tags, "Name": f"{physical}-vpc-link"},
            opts=child,
        )
        link = aws.apigatewayv2.VpcLink(
            name,
            name=physical,
            subnet_ids=list(args.private_subnet_ids),
            security_group_ids=[link_group.id],
            tags=tags,
            opts=child,
        )
        # HTTPS to the ALB: the uri's host is the TLS server name and Host header, covered by the
        # entry's `*.<domain>` certificate. The tenant comes from the authorizer, never the client:
        # its path segment selects the tenant's route at the router (TenantServices._api_route).
        backend = backend_uri(s)
        integration = aws.apigateway.Integration(
            f"{name}-proxy-any",
            rest_api=self.rest_api.id,
            resource_id=proxy.id,
            http_method=method.http_method,
            type="HTTP_PROXY",
            integration_http_method="ANY",
            uri=backend,
            connection_type="VPC_LINK",
            connection_id=link.id,
            integration_target=args.load_balancer_arn,
            timeout_milliseconds=29_000,
            request_parameters=INTEGRATION_PARAMETERS,
            opts=child,
        )

        # Roll out on change: a new deployment whenever the methods, integration or authorizer change.
        configuration = pulumi.Output.all(
            method.authorization,
            method.authorizer_id,
            method.api_key_required,
            method.http_method,
            proxy.path_part,
            integration.type,
            integration.uri,
            integration.connection_type,
            integration.connection_id,
            integration.integration_target,
            integration.request_parameters,
            authorizer.authorizer_uri,
            authorizer.identity_source,
            authorizer.authorizer_result_ttl_in_seconds,
        ).apply(lambda v: configuration_hash({"routes": v}))
        deployment = aws.apigateway.Deployment(
            name,
            rest_api=self.rest_api.id,
            description="The public API's configuration; replaced when it changes (triggers)",
            triggers={"configuration": configuration},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[method, integration]),
        )
        self.stage = self._stage(name, s, args, deployment, tags)
        self.usage_plans = {
            tier: aws.apigateway.UsagePlan(
                f"{name}-{tier}",
                name=f"{physical}-{tier}",
                description=f"Per tenant API key of the {tier} tier: throttle and quota from the tier table",
                api_stages=[aws.apigateway.UsagePlanApiStageArgs(api_id=self.rest_api.id, stage=self.stage.stage_name)],
                throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                    rate_limit=spec.api.rate_limit_rps, burst_limit=spec.api.burst_limit
                ),
                quota_settings=aws.apigateway.UsagePlanQuotaSettingsArgs(
                    limit=spec.api.quota_limit, period=spec.api.quota_period
                ),
                tags={**tags, "tier": tier},
                opts=child,
            )
            for tier, spec in TIERS.items()
        }
        aws.wafv2.WebAclAssociation(
            f"{name}-waf", resource_arn=self.stage.arn, web_acl_arn=args.web_acl_arn, opts=child
        )
        self.domain = self._domain(name, s, tags)
        aws.apigateway.BasePathMapping(
            name,
            domain_name=self.domain.domain_name,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            opts=child,
        )
        self.register_outputs(
            {
                "restApiId": self.rest_api.id,
                "stage": self.stage.stage_name,
                "domain": self.domain.regional_domain_name,
                "usagePlans": {t: p.id for t, p in self.usage_plans.items()},
            }
        )

    def _cloudwatch_account(
        self,
        name: str,
        s: StackSettings,
        account: pulumi.Output[str],
        access_log_arn: pulumi.Output[str],
        tags: dict[str, str],
    ) -> aws.apigateway.Account:
        """API Gateway's CloudWatch role is a setting of the account in each Region (there is one
        platform stack per account and region, so each owns its region's); the IAM role is
        global, so its name carries the region."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-cloudwatch",
            name=f"{s.regional_prefix}-apigw-logs",
            description=f"API Gateway writes execution and access logs in {s.region}",
            assume_role_policy=account.apply(lambda a: service_trust("apigateway.amazonaws.com", a)),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-cloudwatch",
            role=role.id,
            policy=pulumi.Output.all(account, access_log_arn).apply(
                lambda v: cloudwatch_role_policy(s.region, v[0], v[1])
            ),
            opts=child,
        )
        return aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _log_group(
        self, name: str, log_name: pulumi.Input[str], args: PublicApiArgs, tags: dict[str, str]
    ) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            name,
            name=log_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

    def _authorizer(
        self, name: str, s: StackSettings, args: PublicApiArgs, role: aws.iam.Role, tags: dict[str, str]
    ) -> aws.apigateway.Authorizer:
        """The Lambda REQUEST authorizer: its cache key is the token AND the host, so a token
        accepted for one tenant's host is never reused for another's."""
        child = pulumi.ResourceOptions(parent=self)
        fn_name = f"{s.regional_prefix}-api-authorizer"
        log_group = self._log_group(f"{name}-authorizer-logs", f"/aws/lambda/{fn_name}", args, tags)
        group = aws.ec2.SecurityGroup(
            f"{name}-authorizer",
            vpc_id=args.vpc_id,
            description="Public API authorizer: HTTPS out (SSM, KMS, the tenants' Cognito key sets)",
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS to AWS APIs and Cognito JWKS (through the VPC endpoints and NAT)",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["0.0.0.0/0"],
                )
            ],
            tags={**tags, "Name": fn_name},
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-authorizer",
            role=role.id,
            policy=pulumi.Output.all(args.account_id, self.mapping_key.arn, log_group.arn, args.vpc_id).apply(
                lambda v: authorizer_policy(s.region, v[0], self.mapping_prefix, v[1], v[2], v[3])
            ),
            opts=child,
        )
        image = s.images.api_authorizer
        self.authorizer_function = aws.lambda_.Function(
            f"{name}-authorizer",
            name=fn_name,
            description=f"Public API authorizer: the tenant's own issuer only ({image.name}:{image.tag})",
            package_type="Image",
            image_uri=pinned_ref(image, self),
            architectures=["arm64"],
            role=role.arn,
            timeout=AUTHORIZER_TIMEOUT_SECONDS,
            memory_size=256,
            kms_key_arn=self.mapping_key.arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "MAPPING_PREFIX": self.mapping_prefix,  # <prefix>/<tenant>: issuer, clients, API key
                    "API_DOMAIN": api_domain(s),  # the tenant is the host's first label
                    "DEPLOYMENT_ENVIRONMENT": s.environment,
                }
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(args.private_subnet_ids), security_group_ids=[group.id]
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        authorizer = aws.apigateway.Authorizer(
            name,
            name="tenant-issuer",
            rest_api=self.rest_api.id,
            type="REQUEST",
            authorizer_uri=self.authorizer_function.invoke_arn,
            identity_source="method.request.header.Authorization,method.request.header.Host",
            authorizer_result_ttl_in_seconds=AUTHORIZER_CACHE_SECONDS,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-authorizer",
            function=self.authorizer_function.name,
            action="lambda:InvokeFunction",
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(self.rest_api.execution_arn, "/authorizers/", authorizer.id),
            opts=child,
        )
        return authorizer

    def _stage(
        self,
        name: str,
        s: StackSettings,
        args: PublicApiArgs,
        deployment: aws.apigateway.Deployment,
        tags: dict[str, str],
    ) -> aws.apigateway.Stage:
        child = pulumi.ResourceOptions(parent=self)
        access = self._log_group(f"{name}-access", f"/aws/apigateway/{s.regional_prefix}-public-api/access", args, tags)
        # API Gateway writes execution logs to this group; created here, it has the key and retention.
        execution = self._log_group(
            f"{name}-execution",
            pulumi.Output.concat("API-Gateway-Execution-Logs_", self.rest_api.id, f"/{STAGE}"),
            args,
            tags,
        )
        account = self._cloudwatch_account(name, s, pulumi.Output.from_input(args.account_id), access.arn, tags)
        certificate = aws.apigateway.ClientCertificate(
            name,
            description="Presented to the backend by the public API (backend authentication)",
            tags=tags,
            opts=child,
        )
        stage = aws.apigateway.Stage(
            name,
            rest_api=self.rest_api.id,
            stage_name=STAGE,
            deployment=deployment.id,
            description="The public API",
            xray_tracing_enabled=True,
            client_certificate_id=certificate.id,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=access.arn, format=ACCESS_LOG_FORMAT
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, execution]),
        )
        served = [t.tier.api for t in s.served_tenants]
        aws.apigateway.MethodSettings(
            name,
            rest_api=self.rest_api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                logging_level=EXECUTION_LOG_LEVEL,
                data_trace_enabled=False,
                metrics_enabled=True,
                caching_enabled=False,
                # The whole API at most what the account grants; each key is held to its tier's plan.
                throttling_rate_limit=min(ACCOUNT_RATE_LIMIT, sum(a.rate_limit_rps for a in served) or 1),
                throttling_burst_limit=min(ACCOUNT_BURST_LIMIT, sum(a.burst_limit for a in served) or 1),
            ),
            opts=child,
        )
        return stage

    def _domain(self, name: str, s: StackSettings, tags: dict[str, str]) -> aws.apigateway.DomainName:
        """`*.api.<domain>`: one regional custom domain for every tenant's API host."""
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-domain",
            domain_name=f"*.{api_domain(s)}",
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            tags=tags,
            opts=child,
        )
        records: list[pulumi.Input[str]] | None = None
        if writes_validation_records(s):  # the DR pair's record owner (same record in both regions)
            option = certificate.domain_validation_options.apply(lambda options: options[0])
            record = aws.route53.Record(
                f"{name}-domain-validation",
                zone_id=s.edge.hosted_zone_id,
                name=option.apply(lambda o: o.resource_record_name or ""),
                type=option.apply(lambda o: o.resource_record_type or "CNAME"),
                records=[option.apply(lambda o: o.resource_record_value or "")],
                ttl=300,
                allow_overwrite=True,
                opts=child,
            )
            records = [record.fqdn]
        validation = aws.acm.CertificateValidation(
            f"{name}-domain", certificate_arn=certificate.arn, validation_record_fqdns=records, opts=child
        )
        return aws.apigateway.DomainName(
            name,
            domain_name=f"*.{api_domain(s)}",
            regional_certificate_arn=validation.certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(types="REGIONAL"),
            security_policy="TLS_1_2",
            tags=tags,
            opts=child,
        )


# Checkov findings accepted on the API (planner/checkov_export.py applies them).
SCANNER_SKIPS = (
    ScannerSkip("CKV_AWS_116", "aws:lambda/function:Function", "api-authorizer",
                "API Gateway invokes the authorizer synchronously; a function DLQ serves asynchronous invocations only"),
    ScannerSkip("CKV_AWS_115", "aws:lambda/function:Function", "api-authorizer",
                "bounded by the stage's throttle (the tiers' rates) and its result cache; a reservation would take "
                "from the pool the tenants' job processors reserve from"),
    ScannerSkip("CKV_AWS_272", "aws:lambda/function:Function", "api-authorizer",
                "a container image: Lambda code signing applies to .zip packages only; the image is pinned by digest"),
    ScannerSkip("CKV2_AWS_71", "aws:acm/certificate:Certificate", "api-domain",
                "one wildcard for the tenants' API hosts <tenant>.api.<domain>: a custom domain per tenant would "
                "pass the account's 120 custom domains per region"),
)  # fmt: skip
