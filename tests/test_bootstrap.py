"""The bootstrap project (bootstrap/), planned offline per stack: runners private and egress-only,
deployer CIDRs unique and clear of every regional VPC, the state backend locked down, GitHub trust
pinned, and the outputs the regional stacks read."""

import ipaddress
import json
from typing import Any

import pytest
import yaml

from components.platform.deployer import runner_project_name
from planner.fleet import platform_stacks
from planner.mocks import _hex
from planner.runner import ROOT, build_plan

BOOTSTRAP = ROOT / "bootstrap"
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in BOOTSTRAP.glob("Pulumi.*.yaml"))
REGIONAL_STACKS = platform_stacks(ROOT)
REPO = "insure/insurance-platform"
OIDC = "token.actions.githubusercontent.com"
OUTPUTS = ("vpcId", "cidr", "privateRouteTableIds", "runnerRoleArn", "runnerProject", "stateBucket", "secretsKeyAlias")


def stack_config(path: Any) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["config"]


@pytest.fixture(scope="module")
def plans() -> dict[str, dict[str, Any]]:
    return {stack: build_plan(stack, BOOTSTRAP) for stack in STACKS}


def resources(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def policy(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def test_one_bootstrap_stack_per_regional_stack() -> None:
    regional = {stack_config(BOOTSTRAP / f"Pulumi.{s}.yaml")["insurance-bootstrap:regionalStack"] for s in STACKS}
    assert regional == set(REGIONAL_STACKS)
    for stack in STACKS:
        config = stack_config(BOOTSTRAP / f"Pulumi.{stack}.yaml")
        target = config["insurance-bootstrap:regionalStack"]
        region = stack_config(ROOT / f"Pulumi.{target}.yaml")["aws:region"]
        assert config["aws:region"] == region
        assert stack == target, "bootstrap stacks carry their regional stack's name"
        # The regional stack reads this bootstrap stack and admits exactly its CIDR on 443.
        deployer = stack_config(ROOT / f"Pulumi.{target}.yaml")["insurance-platform:deployer"]
        assert deployer["bootstrapStack"] == f"organization/insurance-bootstrap/{stack}"
        assert deployer["cidr"] == config["insurance-bootstrap:deployerCidr"]


def test_deployer_cidrs_unique_and_clear_of_regional_vpcs() -> None:
    deployer = {
        s: ipaddress.ip_network(stack_config(BOOTSTRAP / f"Pulumi.{s}.yaml")["insurance-bootstrap:deployerCidr"])
        for s in STACKS
    }
    regional = {
        s: ipaddress.ip_network(stack_config(ROOT / f"Pulumi.{s}.yaml")["insurance-platform:vpcCidr"])
        for s in REGIONAL_STACKS
    }
    names = sorted(deployer)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not deployer[a].overlaps(deployer[b]), f"{a} and {b} deployer CIDRs overlap"
        for r, net in regional.items():
            assert not deployer[a].overlaps(net), f"deployer {a} overlaps regional {r} ({net})"


@pytest.mark.parametrize("stack", STACKS)
def test_runner_private_no_public_ip_egress_only(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    config = stack_config(BOOTSTRAP / f"Pulumi.{stack}.yaml")
    regional = config["insurance-bootstrap:regionalStack"]
    projects = {r["inputs"]["name"]: r for r in resources(plan, "aws:codebuild/project:Project")}
    assert runner_project_name(regional) in projects
    subnets = {f"subnet-{_hex(r['name'])}": r for r in resources(plan, "aws:ec2/subnet:Subnet")}  # mock ids
    nat_subnets = {n["inputs"]["subnetId"] for n in resources(plan, "aws:ec2/natGateway:NatGateway")}
    routes = resources(plan, "aws:ec2/route:Route")
    for project in projects.values():
        vpc = project["inputs"]["vpcConfig"]
        assert len(vpc["subnets"]) == 2
        for subnet_id in vpc["subnets"]:
            assert subnets[subnet_id]["inputs"].get("mapPublicIpOnLaunch") is False
            assert subnet_id not in nat_subnets
        # each private subnet's route table goes out through a NAT gateway, never an internet gateway
        for route in routes:
            assert "gatewayId" not in route["inputs"] and route["inputs"].get("natGatewayId")
        groups = resources(plan, "aws:ec2/securityGroup:SecurityGroup")
        assert len(vpc["securityGroupIds"]) == 1
        assert len(groups) == 1
        group = groups[0]
        assert not group["inputs"].get("ingress")
        assert group["inputs"]["egress"] and all(e["fromPort"] == 443 for e in group["inputs"]["egress"])
        assert project["inputs"]["encryptionKey"].startswith("arn:aws:kms:")
        assert project["inputs"]["environment"]["privilegedMode"] is False
    assert not resources(plan, "aws:ec2/securityGroupRule:SecurityGroupRule")
    assert not resources(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    zones = {s["inputs"]["availabilityZoneId"] for s in subnets.values()}
    assert len(zones) == 2  # two AZs, chosen by AZ ID


@pytest.mark.parametrize("stack", STACKS)
def test_runner_webhook_on_queued_workflow_jobs(plans: dict[str, dict[str, Any]], stack: str) -> None:
    hooks = resources(plans[stack], "aws:codebuild/webhook:Webhook")
    assert len(hooks) == 2
    for hook in hooks:
        assert hook["inputs"]["filterGroups"] == [{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}]


@pytest.mark.parametrize("stack", STACKS)
def test_flow_logs_encrypted(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    assert len(resources(plan, "aws:ec2/flowLog:FlowLog")) == 1
    for group in resources(plan, "aws:cloudwatch/logGroup:LogGroup"):
        assert group["inputs"]["kmsKeyId"].startswith("arn:aws:kms:"), group["name"]


def owner_stacks() -> list[str]:
    return [s for s in STACKS if stack_config(BOOTSTRAP / f"Pulumi.{s}.yaml")["insurance-bootstrap:accountOwner"]]


def test_one_account_owner_per_account() -> None:
    assert owner_stacks() == ["dev", "prod-us-east-1"]


@pytest.mark.parametrize("stack", STACKS)
def test_state_bucket_encrypted_versioned_tls_only_private(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    buckets = resources(plan, "aws:s3/bucket:Bucket")
    if stack not in owner_stacks():
        assert not buckets and not resources(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
        assert not resources(plan, "aws:iam/serviceLinkedRole:ServiceLinkedRole")
        return
    # The state bucket; the other one is the stack's access-log bucket (SecureBucket), which it logs to.
    (bucket,) = [b for b in buckets if b["name"] != "s3-access-logs"]

    def of_state(type_: str) -> list[dict[str, Any]]:
        return [r for r in resources(plan, type_) if r["inputs"].get("bucket") == bucket["inputs"]["bucket"]]

    assert bucket["options"]["protect"]
    assert bucket["inputs"]["bucket"] == plan["outputs"]["stateBucket"]
    (sse,) = of_state("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    rule = sse["inputs"]["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    (versioning,) = of_state("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["inputs"]["versioningConfiguration"]["status"] == "Enabled"
    (block,) = of_state("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block["inputs"][k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (bucket_policy,) = of_state("aws:s3/bucketPolicy:BucketPolicy")
    deny = [s for s in policy(bucket_policy["inputs"]["policy"])["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in deny)
    (lifecycle,) = of_state("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert all("expiration" not in r for r in lifecycle["inputs"]["rules"])  # current state never expires
    (alias,) = resources(plan, "aws:kms/alias:Alias")
    assert alias["inputs"]["name"] == plan["outputs"]["secretsKeyAlias"]
    assert resources(plan, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    (slr,) = resources(plan, "aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert slr["inputs"]["awsServiceName"] == "autoscaling.amazonaws.com"


def role(plan: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in resources(plan, "aws:iam/role:Role") if r["inputs"].get("name") == name]
    return found


def web_identity(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if s["Action"] == "sts:AssumeRoleWithWebIdentity"]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_role_pinned_to_repository_pull_requests(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    regional = stack_config(BOOTSTRAP / f"Pulumi.{stack}.yaml")["insurance-bootstrap:regionalStack"]
    trust = policy(role(plan, f"insurance-plan-{regional}")["inputs"]["assumeRolePolicy"])["Statement"]
    (github,) = web_identity(trust)
    assert github["Condition"] == {
        "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": f"repo:{REPO}:pull_request"}
    }
    others = [s for s in trust if s is not github]
    for statement in others:  # only its own previewer CodeBuild project
        assert statement["Principal"] == {"Service": "codebuild.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"].endswith(
            f":project/insurance-previewer-{regional}"
        )
    attached = {a["inputs"]["policyArn"] for a in resources(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" in attached


@pytest.mark.parametrize("stack", STACKS)
def test_bootstrap_role_pinned_to_main_environment(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    regional = stack_config(BOOTSTRAP / f"Pulumi.{stack}.yaml")["insurance-bootstrap:regionalStack"]
    trust = policy(role(plan, f"insurance-bootstrap-{regional}")["inputs"]["assumeRolePolicy"])["Statement"]
    assert len(trust) == 1
    (github,) = web_identity(trust)
    # The GitHub environment `bootstrap` admits only the main branch (its deployment branch rule).
    assert github["Condition"] == {
        "StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com", f"{OIDC}:sub": f"repo:{REPO}:environment:bootstrap"}
    }


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_role_only_for_its_codebuild_project_and_not_admin(plans: dict[str, dict[str, Any]], stack: str) -> None:
    plan = plans[stack]
    regional = stack_config(BOOTSTRAP / f"Pulumi.{stack}.yaml")["insurance-bootstrap:regionalStack"]
    deploy = role(plan, runner_project_name(regional))
    (trust,) = policy(deploy["inputs"]["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"].endswith(f":project/{runner_project_name(regional)}")
    attached = {a["inputs"]["policyArn"] for a in resources(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert not attached & {"arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/PowerUserAccess"}
    (managed,) = resources(plan, "aws:iam/policy:Policy")
    statements = policy(managed["inputs"]["policy"])["Statement"]
    assert all(a != "*" for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    (projects,) = [
        [
            p
            for p in resources(plan, "aws:codebuild/project:Project")
            if p["inputs"]["name"] == runner_project_name(regional)
        ]
    ]
    assert projects[0]["inputs"]["serviceRole"] == plan["outputs"]["runnerRoleArn"]


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_for_the_regional_stack(plans: dict[str, dict[str, Any]], stack: str) -> None:
    outputs = plans[stack]["outputs"]
    config = stack_config(BOOTSTRAP / f"Pulumi.{stack}.yaml")
    assert set(OUTPUTS) <= set(outputs)
    assert outputs["cidr"] == config["insurance-bootstrap:deployerCidr"]
    assert outputs["runnerProject"] == runner_project_name(config["insurance-bootstrap:regionalStack"])
    assert isinstance(outputs["privateRouteTableIds"], list) and len(outputs["privateRouteTableIds"]) == 2
    assert outputs["vpcId"].startswith("vpc-")
    assert outputs["secretsKeyAlias"] == "alias/insurance-pulumi-secrets"
