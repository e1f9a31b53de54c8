"""What a regional stack's deployment needs before it can run (the bootstrap project, bootstrap/):
a small deployer VPC with a CodeBuild-hosted GitHub Actions runner inside it (the only place that
reaches the clusters' private API endpoints, through VPC peering the regional stack adds), the
account's Pulumi state backend, and the GitHub OIDC roles (read-only previews, bootstrap deploys).

Names are deterministic: workflows derive the runner labels from the regional stack's name
(`runner_project_name`), and the regional stack reads the outputs through a StackReference."""

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from catalog.model import deployer_name, plan_role_name
from components.platform.network import FlowLogsArgs, flow_logs
from components.shared.iam import account_root_statement, document
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
SECRETS_KEY_ALIAS = "alias/insurance-pulumi-secrets"
RUNNER_IMAGE = "aws/codebuild/standard:7.0"  # Ubuntu 22.04: what actions/setup-python supports
LOG_RETENTION_DAYS = 365
AZ_COUNT = 2  # runner subnets, one route table each (components/platform/deployer_access.py)


def runner_project_name(regional_stack: str) -> str:
    """CodeBuild project that runs `pulumi up` for `regional_stack` (runs-on: codebuild-<name>-…);
    its service role has the same name, which the regional stack's key policies name."""
    return deployer_name(regional_stack)


def preview_project_name(regional_stack: str) -> str:
    """CodeBuild project that runs pull-request previews with the read-only plan role."""
    return f"insurance-previewer-{regional_stack}"


def bootstrap_role_name(regional_stack: str) -> str:
    return f"insurance-bootstrap-{regional_stack}"


def state_bucket_name(account_id: str) -> str:
    return f"insurance-pulumi-state-{account_id}"


def deployer_subnets(cidr: str) -> tuple[list[str], list[str]]:
    """Private subnets: a quarter of the range each, one per AZ; public (NAT only): /28s after them."""
    network = ipaddress.ip_network(cidr)
    if network.prefixlen > 24:
        raise ValueError(f"deployer CIDR {cidr} is smaller than a /24")
    quarters = list(network.subnets(prefixlen_diff=2))
    public = list(quarters[AZ_COUNT].subnets(new_prefix=max(network.prefixlen + 4, 28)))
    return [str(q) for q in quarters[:AZ_COUNT]], [str(p) for p in public[:AZ_COUNT]]


@dataclass(frozen=True)
class GithubSettings:
    repository: str  # owner/name
    bootstrap_environment: str = "bootstrap"  # GitHub environment whose branch rule admits main only
    connection_arn: str | None = None  # CodeConnections GitHub connection (created once by a person)


@dataclass(frozen=True)
class BootstrapSettings:
    stack: str
    region: str
    regional_stack: str
    environment: str
    account_owner: bool
    deployer_cidr: str
    nat_gateways: str  # single | perAz
    github: GithubSettings
    state_region: str  # region of the account's state bucket and secrets key (the account owner's)
    runner: bool = True  # false: remove the deployer VPC and runners (sandbox teardown), keep the rest
    imports: dict[str, str] = field(default_factory=dict)  # adopt existing account-wide resources

    @property
    def tags(self) -> dict[str, str]:
        return {"environment": self.environment, "component": "deployer", "owner": "platform"}


def load_bootstrap_settings(config: pulumi.Config, stack: str, region: str) -> BootstrapSettings:
    """Validated settings of a bootstrap stack; raises ValueError naming the key."""
    github = config.require_object("github")
    repository = str(github.get("repository", ""))
    if repository.count("/") != 1 or "*" in repository:
        raise ValueError(f"github.repository must be exactly owner/name, got '{repository}'")
    cidr = config.require("deployerCidr")
    ipaddress.ip_network(cidr)
    nat = config.get("natGateways") or "single"
    if nat not in ("single", "perAz"):
        raise ValueError(f"natGateways must be single or perAz, got '{nat}'")
    imports = config.get_object("import") or {}
    unknown = set(imports) - {"oidcProvider", "autoscalingServiceRole"}
    if unknown:
        raise ValueError(f"import: unknown keys {sorted(unknown)} (oidcProvider, autoscalingServiceRole)")
    return BootstrapSettings(
        stack=stack,
        region=region,
        regional_stack=config.require("regionalStack"),
        environment=config.require("environment"),
        account_owner=config.require_bool("accountOwner"),
        deployer_cidr=cidr,
        nat_gateways=nat,
        github=GithubSettings(
            repository=repository,
            bootstrap_environment=str(github.get("bootstrapEnvironment") or "bootstrap"),
            connection_arn=github.get("connectionArn") or None,
        ),
        state_region=config.get("stateRegion") or region,
        runner=config.get_bool("runner") is not False,
        imports={k: str(v) for k, v in imports.items()},
    )


# ---------------------------------------------------------------------------------------- network
@dataclass
class DeployerNetworkArgs:
    settings: BootstrapSettings
    account_id: str
    zone_ids: list[str]  # available AZ IDs of the region, sorted; the first two are used
    logs_key_arn: pulumi.Input[str]


class DeployerNetwork(pulumi.ComponentResource):
    """A /24 VPC: private subnets in two AZs (by AZ ID) for the runners, NAT egress, flow logs,
    closed default security group; nothing in it accepts inbound connections."""

    vpc: aws.ec2.Vpc
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: DeployerNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:DeployerNetwork", name, None, opts)
        s = args.settings
        if len(args.zone_ids) < AZ_COUNT:
            raise ValueError(f"{s.region} offers fewer than {AZ_COUNT} availability zones")
        zones = args.zone_ids[:AZ_COUNT]
        tags = s.tags
        child = pulumi.ResourceOptions(parent=self)
        private_cidrs, public_cidrs = deployer_subnets(s.deployer_cidr)

        self.vpc = aws.ec2.Vpc(
            name,
            cidr_block=s.deployer_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={**tags, "Name": name},
            opts=child,
        )
        aws.ec2.DefaultSecurityGroup(name, vpc_id=self.vpc.id, ingress=[], egress=[], tags=tags, opts=child)
        igw = aws.ec2.InternetGateway(name, vpc_id=self.vpc.id, tags={**tags, "Name": name}, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        nat_zones = zones if s.nat_gateways == "perAz" else zones[:1]
        nats: dict[str, aws.ec2.NatGateway] = {}
        for zone, cidr in zip(zones, public_cidrs, strict=True):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone_id=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-public-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
            if zone in nat_zones:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={**tags, "Name": name}, opts=child)
                nats[zone] = aws.ec2.NatGateway(
                    f"{name}-{zone}",
                    allocation_id=eip.id,
                    subnet_id=subnet.id,
                    tags={**tags, "Name": f"{name}-{zone}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )

        self.private_subnet_ids = []
        self.private_route_table_ids = []
        for zone, cidr in zip(zones, private_cidrs, strict=True):
            nat = nats.get(zone) or nats[nat_zones[0]]
            # Routes to the regional VPC over peering are added by the regional stack (it owns the
            # peering connection); this table only knows the NAT gateway.
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                tags={**tags, "Name": f"{name}-private-{zone}"},
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["routes", "propagatingVgws"]),
            )
            aws.ec2.Route(
                f"{name}-private-{zone}-egress",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=child,
            )
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone_id=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-private-{zone}", "tier": "private"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            self.private_subnet_ids.append(subnet.id)
            self.private_route_table_ids.append(rt.id)

        # Runners: egress only (HTTPS: GitHub, PyPI, Pulumi plugins, AWS APIs, the peered EKS API).
        self.runner_security_group = aws.ec2.SecurityGroup(
            f"{name}-runner",
            name=f"{s.regional_stack}-deployer-runner",
            description="CodeBuild GitHub Actions runners: HTTPS egress only, no ingress",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="HTTPS", protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"]
                )
            ],
            tags=tags,
            opts=child,
        )
        self._flow_logs(name, args)
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "privateSubnetIds": self.private_subnet_ids,
                "privateRouteTableIds": self.private_route_table_ids,
            }
        )

    def _flow_logs(self, name: str, args: DeployerNetworkArgs) -> None:
        s = args.settings
        flow_logs(
            name,
            self,
            FlowLogsArgs(
                vpc_id=self.vpc.id,
                log_group_name=f"/insurance-bootstrap/{s.stack}/vpc-flow-logs",
                retention_days=LOG_RETENTION_DAYS,
                key_arn=args.logs_key_arn,
                account_id=args.account_id,
                tags=s.tags,
                protect=False,  # `runner: false` removes the deployer network (sandbox teardown)
            ),
        )


# ---------------------------------------------------------------------------------- state backend
@dataclass
class StateBackendArgs:
    settings: BootstrapSettings
    account_id: str


class StateBackend(pulumi.ComponentResource):
    """The account's Pulumi backend: `s3://<bucket>` (KMS CMK + bucket key, versioned, private,
    ACLs off, TLS only, no expiry of current state) and the `awskms://` secrets-provider key."""

    bucket: SecureBucket
    key: aws.kms.Key

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:StateBackend", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        self.key = aws.kms.Key(
            f"{name}-secrets",
            description="Pulumi state bucket and stack secrets (awskms:// secrets provider)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=document(account_root_statement(args.account_id)),  # use is granted through IAM
            tags={**s.tags, "purpose": "pulumi-state"},
            opts=protected,
        )
        self.alias = aws.kms.Alias(f"{name}-secrets", name=SECRETS_KEY_ALIAS, target_key_id=self.key.key_id, opts=child)
        # Current state never expires; superseded versions (every update writes one) after 90 days.
        self.bucket = SecureBucket(
            name,
            SecureBucketArgs(
                bucket_name=state_bucket_name(args.account_id),
                tags={**s.tags, "purpose": "pulumi-state"},
                retention_days=None,
                noncurrent_days=90,
                kms_key_arn=self.key.arn,
                account_id=args.account_id,
            ),
            child,
        )
        self.register_outputs({"bucket": self.bucket.name, "keyArn": self.key.arn, "alias": self.alias.name})


# --------------------------------------------------------------------------------- GitHub access
@dataclass
class GithubAccessArgs:
    settings: BootstrapSettings
    account_id: str


def github_oidc_trust(provider_arn: str, subject: str) -> dict[str, Any]:
    """Web-identity trust for exactly one GitHub subject (repository + event, or environment)."""
    return {
        "Sid": "GithubActions",
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": subject},
        },
    }


def codebuild_trust(account_id: str, region: str, project: str) -> dict[str, Any]:
    """CodeBuild may assume the role only for this account's project (confused-deputy guard)."""
    return {
        "Sid": "CodeBuildProject",
        "Effect": "Allow",
        "Principal": {"Service": "codebuild.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {
                "aws:SourceAccount": account_id,
                "aws:SourceArn": f"arn:aws:codebuild:{region}:{account_id}:project/{project}",
            }
        },
    }


class GithubAccess(pulumi.ComponentResource):
    """Account-wide (account owner only): the GitHub OIDC provider and the Auto Scaling
    service-linked role. Per stack: the read-only plan role (pull-request previews; also the
    previewer runner's service role) and the bootstrap role (this project, from `main` only)."""

    plan_role: aws.iam.Role
    bootstrap_role: aws.iam.Role
    provider_arn: str

    def __init__(self, name: str, args: GithubAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:GithubAccess", name, None, opts)
        s = args.settings
        account = args.account_id
        child = pulumi.ResourceOptions(parent=self)
        self.provider_arn = f"arn:aws:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}"
        if s.account_owner:
            aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=[STS_AUDIENCE],
                tags=s.tags,
                opts=pulumi.ResourceOptions(parent=self, protect=True, import_=s.imports.get("oidcProvider")),
            )
            # The regional stack's node-volume key policy names this role; KMS rejects a policy
            # whose principal does not exist, so it must exist before the first regional deploy.
            aws.iam.ServiceLinkedRole(
                f"{name}-autoscaling",
                aws_service_name="autoscaling.amazonaws.com",
                opts=pulumi.ResourceOptions(parent=self, protect=True, import_=s.imports.get("autoscalingServiceRole")),
            )
        repo = s.github.repository
        state_bucket = f"arn:aws:s3:::{state_bucket_name(account)}"
        self.plan_role = aws.iam.Role(
            f"{name}-plan",
            name=plan_role_name(s.regional_stack),
            description=f"Read-only pull-request previews of {s.regional_stack}",
            assume_role_policy=document(
                github_oidc_trust(self.provider_arn, f"repo:{repo}:pull_request"),
                codebuild_trust(account, s.region, preview_project_name(s.regional_stack)),
            ),
            max_session_duration=3600,
            tags=s.tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-plan-read-only",
            role=self.plan_role.name,
            policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-plan-state",
            role=self.plan_role.id,
            policy=document(
                {
                    "Sid": "ReadState",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [state_bucket, f"{state_bucket}/*"],
                },
                # The DIY backend takes a lock object for a preview too.
                {
                    "Sid": "PreviewLocks",
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                    "Resource": [f"{state_bucket}/.pulumi/locks/*"],
                },
                {
                    "Sid": "DecryptStateAndSecrets",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:DescribeKey"],
                    "Resource": f"arn:aws:kms:*:{account}:key/*",
                    "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": SECRETS_KEY_ALIAS}},
                },
                # The program reads platform secrets (e.g. replication master passwords) at plan time.
                {
                    "Sid": "PlatformSecretsReadAtPlanTime",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": f"arn:aws:secretsmanager:{s.region}:{account}:secret:insurance-platform/{s.regional_stack}/platform/*",
                },
            ),
            opts=child,
        )
        self.bootstrap_role = aws.iam.Role(
            f"{name}-bootstrap",
            name=bootstrap_role_name(s.regional_stack),
            description=f"Deploys bootstrap stack {s.stack} from the GitHub environment "
            f"'{s.github.bootstrap_environment}' (deployment branch: main)",
            assume_role_policy=document(
                github_oidc_trust(self.provider_arn, f"repo:{repo}:environment:{s.github.bootstrap_environment}")
            ),
            max_session_duration=3600,
            tags=s.tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-bootstrap",
            role=self.bootstrap_role.id,
            policy=document(
                {
                    "Sid": "BootstrapServices",
                    "Effect": "Allow",
                    "Action": [
                        "ec2:*",
                        "codebuild:*",
                        "iam:*",
                        "kms:*",
                        "s3:*",
                        "logs:*",
                        "sts:GetCallerIdentity",
                        "codeconnections:GetConnection",
                        "codeconnections:PassConnection",
                        "codeconnections:UseConnection",
                        "codestar-connections:GetConnection",
                        "codestar-connections:PassConnection",
                        "codestar-connections:UseConnection",
                    ],
                    "Resource": "*",
                }
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "planRoleArn": self.plan_role.arn,
                "bootstrapRoleArn": self.bootstrap_role.arn,
                "oidcProviderArn": self.provider_arn,
            }
        )


# ----------------------------------------------------------------------------------------- runner
# What `pulumi up` of the whole regional platform touches. IAM is among them (the platform creates
# IRSA, node, replication and backup roles), which makes this role admin-equivalent in practice:
# it could create a role with any policy and assume it. It is scoped by who can run it (the
# runner's own CodeBuild project only) rather than by what it can do.
DEPLOY_SERVICES = (
    "acm",
    "application-autoscaling",
    "autoscaling",
    "backup",
    "backup-storage",
    "budgets",
    "ce",
    "cloudfront",
    "cloudtrail",
    "cloudwatch",
    "cognito-idp",
    "ec2",
    "ecr",
    "eks",
    "elasticache",
    "elasticloadbalancing",
    "events",
    "iam",
    "kms",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "wafv2",
)


def deploy_policy(account_id: str, protected_roles: list[str], connection_arn: str | None) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DeployPlatform",
            "Effect": "Allow",
            "Action": [f"{svc}:*" for svc in DEPLOY_SERVICES],
            "Resource": "*",
        },
        {"Sid": "Identity", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        # The deployer cannot rewrite its own foundation: its roles, the state bucket, the state key.
        {
            "Sid": "KeepDeployerRoles",
            "Effect": "Deny",
            "Action": ["iam:*"],
            "Resource": [f"arn:aws:iam::{account_id}:role/{role}" for role in protected_roles]
            + [f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"],
        },
        {
            "Sid": "KeepStateBucket",
            "Effect": "Deny",
            "Action": [
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketPublicAccessBlock",
            ],
            "Resource": f"arn:aws:s3:::{state_bucket_name(account_id)}",
        },
        {
            "Sid": "KeepStateKey",
            "Effect": "Deny",
            "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:DeleteAlias"],
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": SECRETS_KEY_ALIAS}},
        },
    ]
    if connection_arn:
        statements.append(
            {
                "Sid": "GithubConnection",
                "Effect": "Allow",
                "Action": [
                    "codeconnections:GetConnection",
                    "codeconnections:GetConnectionToken",
                    "codestar-connections:GetConnection",
                    "codestar-connections:GetConnectionToken",
                ],
                "Resource": connection_arn,
            }
        )
    return document(*statements)


@dataclass
class DeployRunnerArgs:
    settings: BootstrapSettings
    account_id: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Input[str]
    key_arn: pulumi.Input[str]  # encrypts build artifacts and the runners' log group
    plan_role: aws.iam.Role


class DeployRunner(pulumi.ComponentResource):
    """Two CodeBuild-hosted GitHub Actions runners in the deployer VPC: `insurance-deployer-<stack>`
    (service role = the deploy role, runs `pulumi up`) and `insurance-previewer-<stack>` (service
    role = the read-only plan role, runs pull-request previews), each started by a webhook on
    WORKFLOW_JOB_QUEUED for jobs whose runs-on names it."""

    deploy_role: aws.iam.Role
    project: aws.codebuild.Project
    preview_project: aws.codebuild.Project

    def __init__(self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:DeployRunner", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        deploy_project = runner_project_name(s.regional_stack)
        protected_roles = [
            runner_project_name(s.regional_stack),
            plan_role_name(s.regional_stack),
            bootstrap_role_name(s.regional_stack),
        ]
        self.deploy_role = aws.iam.Role(
            f"{name}-deploy",
            name=runner_project_name(s.regional_stack),
            description=f"pulumi up of {s.regional_stack}, only from CodeBuild project {deploy_project}",
            assume_role_policy=document(codebuild_trust(args.account_id, s.region, deploy_project)),
            max_session_duration=4 * 3600,
            tags=s.tags,
            opts=child,
        )
        deploy = aws.iam.Policy(
            f"{name}-deploy",
            name=runner_project_name(s.regional_stack),
            description="Deploy the regional platform stack (see components/platform/deployer.py for the scope)",
            policy=deploy_policy(args.account_id, protected_roles, s.github.connection_arn),
            tags=s.tags,
            opts=child,
        )
        self._role_grants = [
            aws.iam.RolePolicyAttachment(
                f"{name}-deploy", role=self.deploy_role.name, policy_arn=deploy.arn, opts=child
            )
        ]

        self.project = self._project(name, deploy_project, self.deploy_role, args)
        preview = self._project(f"{name}-preview", preview_project_name(s.regional_stack), args.plan_role, args)
        self.preview_project = preview
        self.register_outputs({"runnerProject": self.project.name, "previewProject": preview.name})

    def _project(self, name: str, project: str, role: aws.iam.Role, args: DeployRunnerArgs) -> aws.codebuild.Project:
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/codebuild/{project}",
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=args.key_arn,
            tags=s.tags,
            opts=child,
        )
        # CodeBuild creates network interfaces in the subnets with the role's credentials, writes
        # its log group and encrypts with the key (the deploy role has these through its services).
        access = aws.iam.RolePolicy(
            f"{name}-codebuild",
            role=role.id,
            policy=pulumi.Output.all(log_group.arn, args.key_arn).apply(
                lambda values: document(
                    {
                        "Sid": "Logs",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": [values[0], f"{values[0]}:*"],
                    },
                    {
                        "Sid": "ArtifactKey",
                        "Effect": "Allow",
                        "Action": [
                            "kms:Encrypt",
                            "kms:Decrypt",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:DescribeKey",
                        ],
                        "Resource": values[1],
                    },
                    {
                        "Sid": "VpcNetworkInterfaces",
                        "Effect": "Allow",
                        "Action": [
                            "ec2:CreateNetworkInterface",
                            "ec2:DescribeDhcpOptions",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DeleteNetworkInterface",
                            "ec2:DescribeSubnets",
                            "ec2:DescribeSecurityGroups",
                            "ec2:DescribeVpcs",
                        ],
                        "Resource": "*",
                    },
                    {
                        "Sid": "VpcNetworkInterfacePermission",
                        "Effect": "Allow",
                        "Action": "ec2:CreateNetworkInterfacePermission",
                        "Resource": f"arn:aws:ec2:{s.region}:{args.account_id}:network-interface/*",
                        "Condition": {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}},
                    },
                )
            ),
            opts=child,
        )
        source_auth = (
            aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=s.github.connection_arn)
            if s.github.connection_arn
            else None  # the account's CodeBuild GitHub source credential (imported once by a person)
        )
        project_resource = aws.codebuild.Project(
            name,
            name=project,
            description=f"GitHub Actions runner for {s.github.repository} ({s.regional_stack})",
            service_role=role.arn,
            build_timeout=240,  # minutes: a first regional deploy creates a cluster and databases
            queued_timeout=60,
            encryption_key=args.key_arn,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="LINUX_CONTAINER",
                compute_type="BUILD_GENERAL1_MEDIUM",
                image=RUNNER_IMAGE,
                image_pull_credentials_type="CODEBUILD",
                privileged_mode=False,
            ),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{s.github.repository}.git",
                git_clone_depth=1,
                auth=source_auth,
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=log_group.name
                ),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id, subnets=args.private_subnet_ids, security_group_ids=[args.security_group_id]
            ),
            tags=s.tags,
            # CodeBuild checks at creation that the role may describe the VPC and write the logs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access, *self._role_grants]),
        )
        aws.codebuild.Webhook(
            name,
            project_name=project_resource.name,
            build_type="BUILD",
            filter_groups=[
                aws.codebuild.WebhookFilterGroupArgs(
                    filters=[aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED")]
                )
            ],
            opts=child,
        )
        return project_resource
