"""Bootstrap of one account-region (stack `<env>-<region>`): the deployer VPC and its CodeBuild
GitHub Actions runners, the account's Pulumi state backend and the GitHub OIDC roles. Needs only
AWS APIs, so it deploys from a GitHub-hosted runner (.github/workflows/bootstrap.yml)."""

import sys
from pathlib import Path

# This project lives in bootstrap/ and shares components/ with the platform program at the
# repository root; the Pulumi CLI puts only bootstrap/ on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pulumi_aws as aws

from components.platform.deployer import (
    SECRETS_KEY_ALIAS,
    DeployerNetwork,
    DeployerNetworkArgs,
    DeployRunner,
    DeployRunnerArgs,
    GithubAccess,
    GithubAccessArgs,
    StateBackend,
    StateBackendArgs,
    load_bootstrap_settings,
    runner_project_name,
    state_bucket_name,
)
from components.shared.iam import logs_key_policy

region = aws.config.region or ""
try:
    settings = load_bootstrap_settings(pulumi.Config(), pulumi.get_stack(), region)
except (ValueError, pulumi.ConfigMissingError) as error:
    raise pulumi.RunError(f"bootstrap/Pulumi.{pulumi.get_stack()}.yaml: {error}") from None

provider = aws.Provider(
    f"aws-{region}",
    region=region,
    default_tags=aws.ProviderDefaultTagsArgs(
        tags={"project": "insurance-bootstrap", "stack": settings.stack, "managed-by": "pulumi"}
    ),
)
invoke = pulumi.InvokeOptions(provider=provider)
on_aws = pulumi.ResourceOptions(provider=provider)
account_id = aws.get_caller_identity(opts=invoke).account_id

if settings.account_owner:
    StateBackend("state", StateBackendArgs(settings=settings, account_id=account_id), on_aws)
access = GithubAccess("github", GithubAccessArgs(settings=settings, account_id=account_id), on_aws)

if settings.runner:
    logs_key = aws.kms.Key(
        "deployer-logs",
        description=f"Deployer VPC flow logs, runner logs and build artifacts ({settings.stack})",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=logs_key_policy(account_id, region),
        tags=settings.tags,
        opts=on_aws,
    )
    zone_ids = sorted(aws.get_availability_zones(state="available", opts=invoke).zone_ids)
    network = DeployerNetwork(
        "deployer",
        DeployerNetworkArgs(settings=settings, account_id=account_id, zone_ids=zone_ids, logs_key_arn=logs_key.arn),
        on_aws,
    )
    runner = DeployRunner(
        "runner",
        DeployRunnerArgs(
            settings=settings,
            account_id=account_id,
            vpc_id=network.vpc.id,
            private_subnet_ids=network.private_subnet_ids,
            security_group_id=network.runner_security_group.id,
            key_arn=logs_key.arn,
            plan_role=access.plan_role,
        ),
        on_aws,
    )
    pulumi.export("vpcId", network.vpc.id)
    pulumi.export("cidr", settings.deployer_cidr)
    pulumi.export("privateRouteTableIds", network.private_route_table_ids)
    pulumi.export("runnerRoleArn", runner.deploy_role.arn)
    pulumi.export("runnerProject", runner.project.name)
    pulumi.export("previewProject", runner.preview_project.name)
else:
    pulumi.export("runnerProject", runner_project_name(settings.regional_stack))  # nothing runs it now

pulumi.export("stateBucket", state_bucket_name(account_id))
pulumi.export("secretsKeyAlias", SECRETS_KEY_ALIAS)
pulumi.export("secretsProvider", f"awskms://{SECRETS_KEY_ALIAS}?region={settings.state_region}")
pulumi.export("backendUrl", f"s3://{state_bucket_name(account_id)}?region={settings.state_region}")
pulumi.export("planRoleArn", access.plan_role.arn)
pulumi.export("bootstrapRoleArn", access.bootstrap_role.arn)
