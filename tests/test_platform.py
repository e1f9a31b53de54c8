"""The regional platform layer, asserted on every stack's plan: add-ons pinned and isolated, every
AWS caller with its own narrowly trusted role, private AWS access, encrypted Redis, and one hardened
public entry."""

import ipaddress
import json
from typing import Any

import pytest

from components.edge.public_entry import TLS_POLICY
from components.edge.waf import MANAGED_RULE_GROUPS
from components.platform.endpoints import GATEWAY_SERVICES, INTERFACE_SERVICES
from components.shared.versions import CHARTS, EKS_ADDONS
from tests.conftest import STACKS, resources_of


def by_name(plan: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources_of(plan, type_)}


def namespace_labels(plan: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        r["inputs"]["metadata"]["name"]: r["inputs"]["metadata"]["labels"]
        for r in resources_of(plan, "kubernetes:core/v1:Namespace")
    }


@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_is_pinned_upstream_and_in_its_own_labelled_namespace(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    everything = resources_of(plan, "kubernetes:helm.sh/v3:Release")
    # Tenant views are more releases of the Grafana chart (test_observability covers them).
    releases = [r for r in everything if not r["inputs"]["name"].startswith("grafana-")]
    views = [r for r in everything if r["inputs"]["name"].startswith("grafana-")]
    assert {r["inputs"]["name"] for r in releases} == set(CHARTS)
    labels = namespace_labels(plan)
    used_namespaces = set()
    for r in releases + views:
        spec = CHARTS[r["inputs"]["name"].split("-")[0] if r in views else r["inputs"]["name"]]
        assert r["inputs"]["version"] == spec.version
        assert r["inputs"]["chart"] == spec.chart
        assert r["inputs"].get("repositoryOpts", {}).get("repo") == spec.repo
        namespace = r["inputs"]["namespace"]
        assert namespace not in ("default", "kube-system")
        assert labels[namespace]["pod-security.kubernetes.io/enforce"] in ("baseline", "privileged")
        assert labels[namespace]["pod-security.kubernetes.io/warn"] == "restricted"
        used_namespaces.add(namespace)
    privileged = {ns for ns, lab in labels.items() if lab["pod-security.kubernetes.io/enforce"] == "privileged"}
    assert privileged == {"istio-cni"}, "only the CNI node agent may run privileged"
    # Istio base and istiod share istio-system and the five LGTM charts share observability;
    # every other chart has its own namespace.
    assert len(used_namespaces) == len(releases) - 1 - 4


@pytest.mark.parametrize("stack", STACKS)
def test_eks_addons_are_pinned_and_the_cni_enforces_network_policy(plans: dict[str, Any], stack: str) -> None:
    addons = {r["inputs"]["addonName"]: r["inputs"] for r in resources_of(plans[stack], "aws:eks/addon:Addon")}
    assert {name: a["addonVersion"] for name, a in addons.items()} == EKS_ADDONS
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {
        "enableNetworkPolicy": "true",
        "env": {"ENABLE_POD_ENI": "true", "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"},  # issue 12
    }
    assert addons["vpc-cni"]["serviceAccountRoleArn"] and addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"]
    cluster = resources_of(plans[stack], "eks:index:Cluster")[0]["inputs"]
    assert cluster["corednsAddonOptions"]["enabled"] is False, "CoreDNS has a single owner: the pinned add-on"


@pytest.mark.parametrize("stack", STACKS)
def test_default_storage_class_is_encrypted_gp3_with_the_volume_key(plans: dict[str, Any], stack: str) -> None:
    (sc,) = resources_of(plans[stack], "kubernetes:storage.k8s.io/v1:StorageClass")
    i = sc["inputs"]
    assert i["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert i["provisioner"] == "ebs.csi.aws.com" and i["reclaimPolicy"] == "Retain"
    assert i["parameters"]["type"] == "gp3" and i["parameters"]["encrypted"] == "true"
    keys = {r["name"]: r for r in resources_of(plans[stack], "aws:kms/key:Key")}
    assert i["parameters"]["kmsKeyId"].startswith("arn:aws:kms:")
    assert keys["platform-node-volumes"]["urn"] in sc["options"]["dependsOn"]


def irsa_roles(plan: dict[str, Any], tenant: bool = False) -> list[tuple[dict[str, Any], str]]:
    """(role, trusted subject) of the platform's IRSA roles, or of the tenants' with tenant=True."""
    roles = []
    for r in resources_of(plan, "aws:iam/role:Role"):
        if bool(r["tenant"]) != tenant:
            continue
        policy = json.loads(r["inputs"]["assumeRolePolicy"])
        (st,) = policy["Statement"]
        if st["Action"] == "sts:AssumeRoleWithWebIdentity":
            (subject,) = [v for k, v in st["Condition"]["StringEquals"].items() if k.endswith(":sub")]
            roles.append((r, subject))
    return roles


@pytest.mark.parametrize("stack", STACKS)
def test_every_addon_role_trusts_only_its_own_service_account(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    roles = irsa_roles(plan)
    subjects = {subject for _, subject in roles}
    assert subjects == {
        "system:serviceaccount:kube-system:aws-node",
        "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        "system:serviceaccount:cluster-autoscaler:cluster-autoscaler",
        "system:serviceaccount:keda:keda-operator",
        "system:serviceaccount:external-secrets:external-secrets",
        "system:serviceaccount:aws-load-balancer-controller:aws-load-balancer-controller",
        "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent",
        "system:serviceaccount:observability:loki",
        "system:serviceaccount:observability:tempo",
        "system:serviceaccount:observability:mimir",
        "system:serviceaccount:velero:velero",
    }
    assert len(subjects) == len(roles), "one role per service account"
    for role, subject in roles:
        (st,) = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
        assert (
            st["Principal"]["Federated"].startswith("arn:aws:iam::") and "oidc-provider" in st["Principal"]["Federated"]
        )
        assert list(st["Condition"]) == ["StringEquals"]
        assert [v for k, v in st["Condition"]["StringEquals"].items() if k.endswith(":aud")] == ["sts.amazonaws.com"]
        assert role["inputs"]["tags"]["service-account"] == subject.removeprefix("system:serviceaccount:").replace(
            ":", "/"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_helm_service_accounts_carry_the_role_trusted_for_them(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    roles = {subject: role["inputs"]["tags"] for role, subject in irsa_roles(plan)}
    releases = {r["inputs"]["name"]: r["inputs"] for r in resources_of(plan, "kubernetes:helm.sh/v3:Release")}
    ca = releases["cluster-autoscaler"]
    assert ca["values"]["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    assert f"system:serviceaccount:{ca['namespace']}:cluster-autoscaler" in roles
    lbc = releases["aws-load-balancer-controller"]
    assert f"system:serviceaccount:{lbc['namespace']}:{lbc['values']['serviceAccount']['name']}" in roles
    eso = releases["external-secrets"]
    assert f"system:serviceaccount:{eso['namespace']}:{eso['values']['serviceAccount']['name']}" in roles
    keda = releases["keda"]
    assert keda["values"]["podIdentity"]["aws"]["irsa"]["enabled"] is True
    assert f"system:serviceaccount:{keda['namespace']}:keda-operator" in roles


def role_policies(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: json.loads(r["inputs"]["policy"]) for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy")}


def test_addon_permissions_are_scoped(plans: dict[str, Any]) -> None:
    plan = plans["prod-us-east-1"]
    policies = role_policies(plan)
    ca = policies["autoscaling-cluster-autoscaler"]["Statement"]
    mutate = next(st for st in ca if "autoscaling:SetDesiredCapacity" in st["Action"])
    assert mutate["Condition"]["StringEquals"]["aws:ResourceTag/k8s.io/cluster-autoscaler/ip-prod-us-east-1"] == "owned"
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for st in ca if st is not mutate for a in st["Action"])
    lbc = policies["ingress-lbc"]["Statement"]
    register = next(st for st in lbc if "elasticloadbalancing:RegisterTargets" in st["Action"])
    (target_group,) = resources_of(plan, "aws:lb/targetGroup:TargetGroup")
    (arn,) = register["Resource"]
    assert f":targetgroup/{target_group['inputs']['name']}/" in arn, "only the entry target group"
    assert all(a.split(":")[1].startswith("Describe") for st in lbc if st is not register for a in st["Action"])
    keda = policies["autoscaling-keda"]["Statement"]
    assert keda[0]["Resource"] == ["arn:aws:sqs:us-east-1:123456789012:ip-prod-*"]
    eso = policies["secrets-operator"]["Statement"]
    assert eso[0]["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:insurance-platform/prod-us-east-1/platform/*"
    ]
    # Tenant SecretStores authenticate as their own namespace's service account: the operator
    # itself may assume no role at all.
    assert len(eso) == 2 and not any(a.startswith("sts:") for st in eso for a in st["Action"])
    for name, policy in policies.items():
        if not name.startswith(("autoscaling-", "ingress-", "secrets-", "cluster-addons-")):
            continue
        for st in policy["Statement"]:
            assert st["Effect"] == "Allow" and "*" not in st["Action"], name


@pytest.mark.parametrize("stack", STACKS)
def test_node_roles_hold_no_cni_permissions(plans: dict[str, Any], stack: str) -> None:
    attachments = by_name(plans[stack], "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    node = [a["inputs"]["policyArn"] for name, a in attachments.items() if name.startswith("cluster-node-")]
    assert sorted(node) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_node_groups_leave_desired_size_to_the_autoscaler(plans: dict[str, Any], stack: str) -> None:
    for group in resources_of(plans[stack], "eks:index:ManagedNodeGroup"):
        assert group["inputs"]["ignoreScalingChanges"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_vpc_endpoints_keep_aws_traffic_private(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    endpoints = resources_of(plan, "aws:ec2/vpcEndpoint:VpcEndpoint")
    services = {e["inputs"]["serviceName"].removeprefix(f"com.amazonaws.{plan['region']}.") for e in endpoints}
    # sqs and sns: tenant pods may reach only private addresses on 443 (their NetworkPolicies)
    assert {"s3", "ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "kms", "sqs", "sns"} <= services
    assert services == set(INTERFACE_SERVICES) | set(GATEWAY_SERVICES)
    for e in endpoints:
        if e["inputs"]["vpcEndpointType"] == "Interface":
            assert e["inputs"]["privateDnsEnabled"] is True
            assert json.loads(e["inputs"]["policy"])["Statement"][0]["Condition"]["StringEquals"][
                "aws:PrincipalAccount"
            ]
    sg = by_name(plan, "aws:ec2/securityGroup:SecurityGroup")["endpoints"]["inputs"]
    (rule,) = sg["ingress"]
    assert rule["fromPort"] == rule["toPort"] == 443 and rule["cidrBlocks"] != ["0.0.0.0/0"]


@pytest.mark.parametrize("stack", STACKS)
def test_no_security_group_opens_a_non_https_port_to_the_internet(plans: dict[str, Any], stack: str) -> None:
    for sg in resources_of(plans[stack], "aws:ec2/securityGroup:SecurityGroup"):
        for rule in sg["inputs"].get("ingress", []):
            if "0.0.0.0/0" in rule.get("cidrBlocks", []) or "::/0" in rule.get("ipv6CidrBlocks", []):
                assert sg["name"] == "entry" and rule["fromPort"] in (80, 443) and rule["fromPort"] == rule["toPort"]
    for rule in resources_of(plans[stack], "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if "cidrIpv4" in rule["inputs"]:  # only the peered deploy runner, to the cluster endpoint
            assert ipaddress.ip_network(rule["inputs"]["cidrIpv4"]).is_private
            assert (rule["name"], rule["inputs"]["fromPort"], rule["inputs"]["toPort"]) == (
                "cluster-deployer-endpoint",
                443,
                443,
            )
        else:
            assert rule["inputs"]["referencedSecurityGroupId"]


@pytest.mark.parametrize("stack", STACKS)
def test_public_entry_is_the_only_internet_facing_load_balancer(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (lb,) = resources_of(plan, "aws:lb/loadBalancer:LoadBalancer")
    i = lb["inputs"]
    assert i["internal"] is False and i["tags"]["exposure"] == "public-entry"
    assert i["enableDeletionProtection"] is True and i["dropInvalidHeaderFields"] is True
    assert i["accessLogs"]["enabled"] is True and i["accessLogs"]["bucket"].endswith("-alb-access-logs")
    listeners = {r["inputs"]["port"]: r["inputs"] for r in resources_of(plan, "aws:lb/listener:Listener")}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["sslPolicy"] == TLS_POLICY
    assert listeners[443]["certificateArn"].startswith("arn:aws:acm:")
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect" and redirect["redirect"]["protocol"] == "HTTPS"
    (acl,) = [r for r in resources_of(plan, "aws:wafv2/webAcl:WebAcl") if r["inputs"]["scope"] == "REGIONAL"]
    groups = [
        r["statement"]["managedRuleGroupStatement"]["name"]
        for r in acl["inputs"]["rules"]
        if "managedRuleGroupStatement" in r["statement"]
    ]
    assert groups == list(MANAGED_RULE_GROUPS) and acl["inputs"]["scope"] == "REGIONAL"
    # the same web ACL protects the load balancer and the public API's stage (PublicApi), nothing else
    associations = {r["name"]: r for r in resources_of(plan, "aws:wafv2/webAclAssociation:WebAclAssociation")}
    assert set(associations) == {"entry", "api-waf"}
    assert lb["urn"] in associations["entry"]["options"]["dependsOn"]
    assert all(acl["urn"] in a["options"]["dependsOn"] for a in associations.values())
    (binding,) = [r for r in resources_of(plan, "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")]
    assert binding["inputs"]["spec"]["serviceRef"] == {"name": "nginx-ingress-controller", "port": 80}
    assert binding["inputs"]["spec"]["targetType"] == "ip"


@pytest.mark.parametrize("stack", STACKS)
def test_mesh_wide_strict_mtls(plans: dict[str, Any], stack: str) -> None:
    (pa,) = [
        r
        for r in resources_of(plans[stack], "kubernetes:security.istio.io/v1:PeerAuthentication")
        if r["inputs"]["metadata"]["namespace"] == "istio-system"
    ]
    assert pa["inputs"]["metadata"] == {"name": "default", "namespace": "istio-system"}
    assert pa["inputs"]["spec"] == {"mtls": {"mode": "STRICT"}}
    istiod = next(
        r for r in resources_of(plans[stack], "kubernetes:helm.sh/v3:Release") if r["inputs"]["name"] == "istiod"
    )
    assert istiod["urn"] in pa["options"]["dependsOn"]
    assert istiod["inputs"]["values"]["pilot"]["cni"]["enabled"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_redis_is_encrypted_authenticated_and_highly_available(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (rg,) = resources_of(plan, "aws:elasticache/replicationGroup:ReplicationGroup")
    i = rg["inputs"]
    assert i["atRestEncryptionEnabled"] is True and i["kmsKeyId"].startswith("arn:aws:kms:")
    assert i["transitEncryptionEnabled"] is True and i["transitEncryptionMode"] == "required"
    assert i["automaticFailoverEnabled"] is True and i["multiAzEnabled"] is True and i["numCacheClusters"] >= 2
    assert "authToken" not in i and len(i["userGroupIds"]) == 1
    users = {u["inputs"]["userName"]: u["inputs"] for u in resources_of(plan, "aws:elasticache/user:User")}
    assert users["default"]["accessString"].startswith("off")
    tenant_users = [u for name, u in users.items() if name != "default"]  # one per tenant: test_cache_isolation
    assert tenant_users and all(u["authenticationMode"]["type"] == "iam" for u in tenant_users)
    assert all(u["userId"] == u["userName"] for u in tenant_users)
    sg = by_name(plan, "aws:ec2/securityGroup:SecurityGroup")["cache"]["inputs"]
    (rule,) = sg["ingress"]
    assert rule["fromPort"] == 6379 and rule["securityGroups"] and not rule.get("cidrBlocks")
