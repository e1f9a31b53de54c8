"""What the first real `pulumi up` and every later one depend on, and the mock engine accepts
anyway (issue 11): each test names the apply-time rule it encodes and where it was read."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.loader import load_settings
from components.platform.endpoints import endpoint_policy
from components.platform.network import choose_zones
from components.shared.secure_bucket import key_resource, replication_policy
from planner.rehearsal import dependency_closure, rehearse
from planner.runner import ROOT, build_plan, with_gates
from planner.stackconfig import read_stack_config
from tests.conftest import STACKS, resources_of


def waits_for(plan: dict[str, Any], resource: dict[str, Any], target_urn: str) -> bool:
    """Whether the engine creates `resource` only after `target_urn` (the rehearsal's closure)."""
    return target_urn in dependency_closure(plan)(resource["urn"])


PROD_PAIRS = [("prod-us-east-1", "prod-us-west-2"), ("prod-ca-central-1", "prod-ca-west-1")]


# ---- 1. the deploy runner reaches the private endpoint (bootstrap stack, peering)


@pytest.mark.parametrize("stack", STACKS)
def test_private_endpoint_is_reached_from_the_peered_deployer_only_and_kubernetes_waits_for_the_path(
    plans: dict[str, Any], stack: str
) -> None:
    plan = plans[stack]
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    deployer = config["insurance-platform:deployer"]
    (cluster,) = resources_of(plan, "eks:index:Cluster")
    assert cluster["inputs"]["endpointPublicAccess"] is False and cluster["inputs"]["endpointPrivateAccess"] is True
    (peering,) = resources_of(plan, "aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert peering["inputs"]["autoAccept"] is True
    routes = resources_of(plan, "aws:ec2/route:Route")
    to_deployer = [r for r in routes if r["inputs"]["destinationCidrBlock"] == deployer["cidr"]]
    back = [r for r in routes if r["inputs"]["destinationCidrBlock"] == config["insurance-platform:vpcCidr"]]
    assert len(to_deployer) == 3 and len(back) == 2, "every private route table of both VPCs"
    rules = [
        r
        for r in resources_of(plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["inputs"].get("cidrIpv4") == deployer["cidr"]
    ]
    assert [(r["inputs"]["fromPort"], r["inputs"]["toPort"]) for r in rules] == [(443, 443)]
    (provider,) = [p for p in resources_of(plan, "pulumi:providers:kubernetes") if p["stack"] == stack]
    for needed in [peering, *to_deployer, *back, *rules, cluster]:
        assert waits_for(plan, provider, needed["urn"]), f"the Kubernetes provider must wait for {needed['name']}"
    # Tenant stacks reach the cluster with the kubeconfig the platform stack exported (deployed first).
    for tenant_provider in resources_of(plan, "pulumi:providers:kubernetes"):
        if tenant_provider["stack"] != stack:
            assert tenant_provider["inputs"]["kubeconfig"] == plan["outputs"]["kubeconfig"]
    assert plan["outputs"]["deployerRoleArn"].endswith(f":role/insurance-deployer-{stack}")


@pytest.mark.parametrize("stack", STACKS)
def test_pull_request_previews_reach_the_cluster_read_only_and_never_its_secrets(
    plans: dict[str, Any], stack: str
) -> None:
    """The previewer runs a pull request's code with the plan role: it gets the EKS view policy
    (no Secrets, no writes) at cluster scope, and nothing else. pulumi-kubernetes 4.x previews
    need no more (provider.go: a Forbidden dry run falls back to client side)."""
    (cluster,) = resources_of(plans[stack], "eks:index:Cluster")
    entries = cluster["inputs"]["accessEntries"]
    plan_role = [e for e in entries.values() if e["principalArn"].endswith(f":role/insurance-plan-{stack}")]
    assert len(plan_role) == 1, "the plan role needs an access entry or every Kubernetes preview is refused"
    policies = plan_role[0]["accessPolicies"].values()
    assert [p["policyArn"].rsplit("/", 1)[-1] for p in policies] == ["AmazonEKSViewPolicy"]
    assert not plan_role[0].get("kubernetesGroups"), "no extra RBAC groups for pull-request code"


# ---- 2. one vpc-cni add-on, with its role, before any node


@pytest.mark.parametrize("stack", STACKS)
def test_one_vpc_cni_addon_with_its_own_role_exists_before_any_node(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (cluster,) = resources_of(plan, "eks:index:Cluster")
    # pulumi-eks nodejs/eks/cluster/cluster.ts creates its own VpcCniAddon unless useDefaultVpcCni.
    assert cluster["inputs"]["useDefaultVpcCni"] is True
    (cni,) = [r for r in resources_of(plan, "aws:eks/addon:Addon") if r["inputs"]["addonName"] == "vpc-cni"]
    assert cni["inputs"]["serviceAccountRoleArn"]
    config = json.loads(cni["inputs"]["configurationValues"])
    assert config["enableNetworkPolicy"] == "true" and config["env"]["ENABLE_POD_ENI"] == "true"
    groups = resources_of(plan, "eks:index:ManagedNodeGroup")
    assert groups and all(waits_for(plan, g, cni["urn"]) for g in groups)
    # Nodes get their trunk ENI (security groups for pods) from the VPC resource controller.
    attachments = resources_of(plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    (controller,) = [a for a in attachments if a["inputs"]["policyArn"].endswith("/AmazonEKSVPCResourceController")]
    assert all(waits_for(plan, g, controller["urn"]) for g in groups)


# ---- 4. the STS endpoint admits IRSA (AssumeRoleWithWebIdentity carries no aws:PrincipalAccount)


def allows(policy: str, action: str, resource: str, context: dict[str, str]) -> bool:
    """Enough of IAM evaluation for endpoint policies: an Allow whose action and resource match and
    whose StringEquals conditions hold on the request context (a missing key fails the test)."""
    for s in json.loads(policy)["Statement"]:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        if s["Effect"] != "Allow" or not any(a in ("*", action) for a in actions):
            continue
        pattern = s["Resource"]
        if pattern != "*" and not (pattern.endswith("*") and resource.startswith(pattern[:-1])):
            continue
        conditions = s.get("Condition", {}).get("StringEquals", {})
        if all(context.get(k) == v for k, v in conditions.items()):
            return True
    return False


def test_sts_endpoint_admits_web_identity_into_this_accounts_roles_only() -> None:
    sts = endpoint_policy("sts", "123456789012")
    web_identity: dict[str, str] = {}  # an unsigned call: no aws:PrincipalAccount in the context
    assert allows(sts, "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::123456789012:role/irsa", web_identity)
    assert not allows(sts, "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::999999999999:role/x", web_identity)
    assert not allows(sts, "sts:AssumeRole", "arn:aws:iam::999999999999:role/x", {"aws:PrincipalAccount": "9"})
    logs = endpoint_policy("logs", "123456789012")
    assert not allows(logs, "logs:PutLogEvents", "arn:aws:logs:x", {"aws:PrincipalAccount": "999999999999"})


# ---- 3, 5, 6. ordering on the cluster, key managers, alias grants, CNI injection and the STS
# condition keys over the real plans: the deploy rehearsal, last test of this file (each rule's
# violating and compliant cases, and a mutation of the real dev plan, are in test_rehearsal.py)


# ---- 5. grants on the peer's key name it by alias condition


def test_replica_key_grant_names_keys_by_alias_condition_not_alias_arn() -> None:
    alias_arn = "arn:aws:kms:us-west-2:123456789012:alias/p/prod-us-west-2/tenant/t/dr"
    statement = json.loads(replication_policy("arn:aws:s3:::a", "arn:aws:s3:::b", "arn:aws:kms:k", alias_arn))
    (grant,) = [s for s in statement["Statement"] if "kms:Encrypt" in s["Action"]]
    assert grant["Resource"] == ["arn:aws:kms:us-west-2:123456789012:key/*"]
    assert grant["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/p/prod-us-west-2/tenant/t/dr"}
    }
    assert key_resource("arn:aws:kms:us-east-1:1:key/abc") == {"Resource": ["arn:aws:kms:us-east-1:1:key/abc"]}


# ---- 7. tenant views wait for the IdP client secret


def test_tenant_views_are_skipped_until_the_client_secret_is_stored(project_copy: Path) -> None:
    stack_file = project_copy / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("clientSecretStored: true", "clientSecretStored: false"))
    plan = build_plan("dev", project_copy)
    grafanas = [
        r["inputs"]["name"]
        for r in resources_of(plan, "kubernetes:helm.sh/v3:Release")
        if r["inputs"]["chart"] == "grafana"
    ]
    assert grafanas == ["grafana"], "only the platform Grafana, no tenant view without its secret"
    assert any("clientSecretStored" in note for note in plan["outputs"]["skipped"])


def test_tenant_views_exist_once_the_secret_is_stored(plans: dict[str, Any]) -> None:
    grafanas = [
        r for r in resources_of(plans["dev"], "kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == "grafana"
    ]
    assert len(grafanas) == 1 + 3


# ---- 8. region pairs bootstrap without deadlock


@pytest.mark.parametrize(("home", "peer"), PROD_PAIRS + [(b, a) for a, b in PROD_PAIRS])
def test_first_deploy_names_nothing_in_the_peer_region(home: str, peer: str) -> None:
    plan = build_plan(home, fresh=True)
    peer_region = yaml.safe_load((ROOT / f"Pulumi.{peer}.yaml").read_text())["config"]["aws:region"]
    text = json.dumps([r["inputs"] for r in plan["resources"]])
    assert f":{peer_region}:" not in text, "a first deploy must not reference resources its peer has not created"
    assert plan["outputs"]["skipped"], "and it says what it left out"


@pytest.mark.parametrize(("home", "peer"), PROD_PAIRS)
def test_steady_state_wires_dr_both_ways(plans: dict[str, Any], home: str, peer: str) -> None:
    for stack in (home, peer):
        assert plans[stack]["outputs"]["skipped"] == []
        assert resources_of(plans[stack], "aws:s3/bucketReplicationConfig:BucketReplicationConfig")


def test_gates_in_the_stack_file_are_not_overridden(project_copy: Path) -> None:
    stack_file = project_copy / "Pulumi.prod-us-east-1.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["insurance-platform:dr"]["peerTenants"] = ["pinnacle-life"]
    stack_file.write_text(yaml.safe_dump(doc))
    config = with_gates(read_stack_config(project_copy, "prod-us-east-1"), project_copy, fresh=False)
    settings = load_settings(config.values.get, config.project, "prod-us-east-1", project_copy)
    assert [t.id for t in settings.dr_tenants] == ["pinnacle-life"]
    assert any("redwood-auto" in note for note in settings.skipped)


# ---- 9. cost allocation tags are a management-account step, not a stack resource


@pytest.mark.parametrize("stack", ["dev", "prod-us-east-1"])
def test_no_cost_tag_activation_and_the_account_budget_needs_no_tag(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    assert not resources_of(plan, "aws:costexplorer/costAllocationTag:CostAllocationTag")
    (budget,) = [
        b for b in resources_of(plan, "aws:budgets/budget:Budget") if b["inputs"]["name"].endswith("-platform")
    ]
    assert not budget["inputs"].get("costFilters")


# ---- 10. what AWS refuses at apply time


@pytest.mark.parametrize("stack", ["dev", "prod-us-east-1"])
def test_static_tls_version_parameter_applies_at_reboot(plans: dict[str, Any], stack: str) -> None:
    (group,) = resources_of(plans[stack], "aws:rds/parameterGroup:ParameterGroup")
    params = {p["name"]: p for p in group["inputs"]["parameters"]}
    assert params["tls_version"]["applyMethod"] == "pending-reboot"


def test_zones_are_chosen_by_id_and_skip_those_eks_refuses() -> None:
    names = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
    assert choose_zones(names, ["use1-az1", "use1-az3", "use1-az2", "use1-az4"]) == [
        "us-east-1a",
        "us-east-1c",
        "us-east-1d",
    ]
    assert choose_zones(["ca-central-1a", "ca-central-1b", "ca-central-1d"], ["cac1-az1", "cac1-az2", "cac1-az4"]) == [
        "ca-central-1a",
        "ca-central-1b",
        "ca-central-1d",
    ]


# ---- 11. later runs: nothing protected is replaced by a planned change


@pytest.mark.parametrize("stack", ["prod-us-east-1", "prod-us-west-2"])
def test_backup_replication_is_replaceable_not_protected(plans: dict[str, Any], stack: str) -> None:
    replications = resources_of(
        plans[stack], "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
    )
    assert replications
    for r in replications:
        # terraform-provider-aws: every argument of this resource is ForceNew.
        assert r["options"]["protect"] is False and r["options"]["deleteBeforeReplace"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_database_changes_apply_in_the_deploy_that_makes_them(plans: dict[str, Any], stack: str) -> None:
    for db in resources_of(plans[stack], "aws:rds/instance:Instance"):
        assert db["inputs"]["applyImmediately"] is True, db["name"]
        assert db["inputs"]["allowMajorVersionUpgrade"] is True, db["name"]


def test_rehearsal_of_every_stack_together_finds_nothing_mandatory(plans: dict[str, Any]) -> None:
    """The deploy rehearsal (make rehearse) over all five plans: ordering, names, peers, keys,
    chart values, Pod Security after injection and condition keys all hold today."""
    mandatory = [f for f in rehearse(list(plans.values())) if f.severity == "mandatory"]
    assert mandatory == [], "\n".join(f"{f.rule} {f.stack} {f.urn}: {f.message}" for f in mandatory)


def test_nightly_smoke_test_can_pass_the_tenant_jwt_requirement(plans: dict[str, Any]) -> None:
    """The smoke test reads what it needs from dev's outputs: a home tenant with a CloudFront front
    end and the pool of its own issuer; it calls with that issuer's token and expects 403 without."""
    outputs = plans["dev"]["outputs"]
    candidates = [
        t for t, v in outputs["tenants"].items() if v["home"] and "cloudfront" in outputs["frontEnds"].get(t, {})
    ]
    assert candidates and all(outputs["tenants"][t]["userPoolId"] for t in candidates)
    workflow = (ROOT / ".github/workflows/ephemeral.yml").read_text()
    assert "Authorization: Bearer $token" in workflow and 'test "$unauthenticated" = 403' in workflow
