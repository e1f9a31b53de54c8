"""Deploy rehearsal rules: a violating and a compliant synthetic plan per rule, plus mutations of the dev plan."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from planner import rehearsal
from planner.mocks import offline_key_id
from planner.rehearsal import Finding, rehearse, replacements

ACCT = "123456789012"


def res(
    typ: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    deps: list[str] | None = None,
    protect: bool = False,
    stack: str = "dev",
    parent: str | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:{stack}::p::{typ}::{name}",
        "type": typ,
        "name": name,
        "custom": True,
        "parent": parent,
        "provider": provider,
        "providers": {},
        "tenant": None,
        "inputs": inputs or {},
        "options": {
            "protect": protect,
            "retainOnDelete": False,
            "deleteBeforeReplace": False,
            "ignoreChanges": [],
            "dependsOn": deps or [],
        },
    }


def plan(*resources: dict[str, Any], stack: str = "dev", region: str = "us-east-1", **outputs: Any) -> dict[str, Any]:
    return {"project": "p", "stack": stack, "region": region, "outputs": outputs, "resources": list(resources)}


def rules(findings: list[Finding], rule: str, severity: str = "mandatory") -> list[Finding]:
    return [f for f in findings if f.rule == rule and f.severity == severity]


def release(
    name: str, chart: str, ns: str, values: dict[str, Any] | None = None, deps: list[str] | None = None
) -> dict[str, Any]:
    inputs = {"chart": chart, "version": "1.0.0", "namespace": ns, "values": values or {}}
    return res("kubernetes:helm.sh/v3:Release", name, inputs, deps=deps)


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return res("kubernetes:core/v1:Namespace", f"ns-{name}", {"metadata": {"name": name, "labels": labels}})


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def dev_plan() -> dict[str, Any]:
    from planner.runner import build_plan

    return build_plan("dev")


# ---------------------------------------------------------------- REH-ORDER-1

CLUSTER = res("eks:index:Cluster", "cluster", {"name": "c1"})


def test_order1_plain_cluster_name_is_flagged() -> None:
    addon = res("aws:eks/addon:Addon", "kube-proxy", {"clusterName": "c1", "addonName": "kube-proxy"})
    found = rules(rehearse([plan(CLUSTER, addon)]), "REH-ORDER-1")
    assert [f.urn for f in found] == [addon["urn"]]


def test_order1_transitive_dependency_and_provider_pass() -> None:
    role = res("aws:iam/role:Role", "role", deps=[CLUSTER["urn"]])
    addon = res("aws:eks/addon:Addon", "vpc-cni", {"clusterName": "c1"}, deps=[role["urn"]])
    k8s = res("pulumi:providers:kubernetes", "k8s", deps=[CLUSTER["urn"]])
    assert not rules(rehearse([plan(CLUSTER, role, addon, k8s)]), "REH-ORDER-1")


def test_order1_dev_plan_mutation(dev_plan: dict[str, Any]) -> None:
    mutated = copy.deepcopy(dev_plan)
    provider = next(r for r in mutated["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert not [f for f in rehearsal.order_cluster_scoped([mutated]) if f.urn == provider["urn"]]
    provider["options"]["dependsOn"] = []
    assert [f for f in rehearsal.order_cluster_scoped([mutated]) if f.urn == provider["urn"]]


# ---------------------------------------------------------------- REH-ORDER-2


def test_order2_custom_resource_needs_crd_and_webhook_owner() -> None:
    base = release("mesh-base", "base", "istio-system")
    istiod = release("mesh-istiod", "istiod", "istio-system", deps=[base["urn"]])
    pa = res(
        "kubernetes:security.istio.io/v1:PeerAuthentication",
        "mtls",
        {"metadata": {"name": "default"}},
        deps=[base["urn"]],
    )
    found = rules(rehearse([plan(base, istiod, pa)]), "REH-ORDER-2")
    assert len(found) == 1 and "webhook" in found[0].message


def test_order2_generic_custom_resource_and_parent_chain() -> None:
    eso = release("eso", "external-secrets", "external-secrets")
    component = res("platform:index:Tenant", "tenant", deps=[eso["urn"]])
    store = res(
        "kubernetes:apiextensions.k8s.io/v1:CustomResource",
        "store",
        {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "s"}},
        parent=component["urn"],
    )
    assert not rules(rehearse([plan(eso, component, store)]), "REH-ORDER-2")
    orphan = copy.deepcopy(store)
    orphan["parent"] = None
    assert rules(rehearse([plan(eso, orphan)]), "REH-ORDER-2")


def test_order2_missing_owner_is_advisory() -> None:
    sgp = res("kubernetes:vpcresources.k8s.aws/v1beta1:SecurityGroupPolicy", "sgp", {"metadata": {"name": "x"}})
    found = rehearse([plan(sgp)])
    assert rules(found, "REH-ORDER-2", "advisory") and not rules(found, "REH-ORDER-2")


# ---------------------------------------------------------------- REH-ORDER-3


def test_order3_workload_in_injected_namespace_waits_for_istiod() -> None:
    istiod = release("mesh-istiod", "istiod", "istio-system")
    ns = namespace("shop", {"istio-injection": "enabled"})
    deploy = res("kubernetes:apps/v1:Deployment", "web", {"metadata": {"name": "web", "namespace": "shop"}})
    found = rules(rehearse([plan(istiod, ns, deploy)]), "REH-ORDER-3")
    assert [f.urn for f in found] == [deploy["urn"]]
    deploy["options"]["dependsOn"] = [istiod["urn"]]
    assert not rules(rehearse([plan(istiod, ns, deploy)]), "REH-ORDER-3")


def test_order3_pod_label_opt_in_and_release_annotation() -> None:
    istiod = release("mesh-istiod", "istiod", "istio-system")
    job = res(
        "kubernetes:batch/v1:Job",
        "migrate",
        {
            "metadata": {"name": "m", "namespace": "plain"},
            "spec": {"template": {"metadata": {"labels": {"sidecar.istio.io/inject": "true"}}}},
        },
    )
    router = release(
        "router", "oci://x/nginx-ingress", "plain", {"pod": {"annotations": {"sidecar.istio.io/inject": "true"}}}
    )
    found = rules(rehearse([plan(istiod, job, router)]), "REH-ORDER-3")
    assert {f.urn for f in found} == {job["urn"], router["urn"]}


def test_order3_dev_router_is_flagged_until_ordered(dev_plan: dict[str, Any]) -> None:
    mutated = copy.deepcopy(dev_plan)
    istiod = next(r for r in mutated["resources"] if r["name"] == "mesh-istiod" and r["type"].endswith(":Release"))
    router = next(r for r in mutated["resources"] if r["name"] == "ingress-router" and r["type"].endswith(":Release"))
    router["options"]["dependsOn"] = [*router["options"]["dependsOn"], istiod["urn"]]
    assert not [f for f in rehearsal.order_mesh([mutated]) if f.urn == router["urn"]]
    router["options"]["dependsOn"] = []
    router["parent"] = None
    router["inputs"]["values"] = {"pod": {"annotations": {"sidecar.istio.io/inject": "true"}}}
    assert [f for f in rehearsal.order_mesh([mutated]) if f.urn == router["urn"]]


# ---------------------------------------------------------------- REH-NAME-1


@pytest.mark.parametrize(
    ("typ", "inputs"),
    [
        ("aws:s3/bucket:Bucket", {"bucket": "My_Bucket"}),
        ("aws:s3/bucket:Bucket", {"bucket": "a..b"}),
        ("aws:s3/bucket:Bucket", {"bucket": "192.168.1.1"}),
        ("aws:s3/bucket:Bucket", {"bucket": "xn--abc"}),
        ("aws:s3/bucket:Bucket", {"bucket": "data-s3alias"}),
        ("aws:iam/role:Role", {"name": "r" * 65}),
        ("aws:iam/policy:Policy", {"name": "p" * 129}),
        ("aws:kms/alias:Alias", {"name": "alias/aws/mine"}),
        ("aws:kms/alias:Alias", {"name": "mine"}),
        ("aws:sqs/queue:Queue", {"name": "q" * 81}),
        ("aws:rds/instance:Instance", {"identifier": "1db"}),
        ("aws:rds/instance:Instance", {"identifier": "db--x"}),
        ("aws:rds/instance:Instance", {"identifier": "db-"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", {"replicationGroupId": "r" * 41}),
        ("aws:lb/loadBalancer:LoadBalancer", {"name": "internal-entry"}),
        ("aws:lb/targetGroup:TargetGroup", {"name": "t" * 33}),
        ("aws:cloudwatch/logGroup:LogGroup", {"name": "/x/" + "l" * 510}),
        ("eks:index:Cluster", {"name": "c" * 101}),
        ("kubernetes:core/v1:Namespace", {"metadata": {"name": "Tenant_A"}}),
        ("kubernetes:core/v1:Service", {"metadata": {"name": "1svc"}}),
        ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "ok", "labels": {"tier": "v" * 64}}}),
    ],
)
def test_name1_violations(typ: str, inputs: dict[str, Any]) -> None:
    assert rules(rehearse([plan(res(typ, "x", inputs))]), "REH-NAME-1")


def test_name1_compliant_and_autonamed() -> None:
    ok = [
        res("aws:s3/bucket:Bucket", "b", {"bucket": "ip-dev-us-east-1-data"}),
        res("aws:iam/role:Role", "r", {"name": "ip-dev-role"}),
        res("aws:iam/role:Role", "auto", {}),  # autonamed: skipped
        res("aws:kms/alias:Alias", "a", {"name": "alias/insurance-platform/dev/x"}),
        res("aws:rds/instance:Instance", "db", {"identifier": "ip-dev-db"}),
        res("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "tenant-a", "labels": {"tenant": "a"}}}),
    ]
    assert not rules(rehearse([plan(*ok)]), "REH-NAME-1")


def test_name1_dev_plan_mutation(dev_plan: dict[str, Any]) -> None:
    mutated = copy.deepcopy(dev_plan)
    bucket = next(r for r in mutated["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert not [f for f in rehearsal.names_within_limits([mutated]) if f.urn == bucket["urn"]]
    bucket["inputs"]["bucket"] = bucket["inputs"]["bucket"] + "x" * 63
    assert [f for f in rehearsal.names_within_limits([mutated]) if f.urn == bucket["urn"]]


# ---------------------------------------------------------------- REH-NAME-2


def test_name2_duplicates_by_scope() -> None:
    dev = plan(
        res("aws:s3/bucket:Bucket", "b", {"bucket": "shared"}),
        res("aws:sqs/queue:Queue", "q", {"name": "jobs"}),
        res("aws:iam/role:Role", "r", {"name": "ops"}),
    )
    east = plan(
        res("aws:s3/bucket:Bucket", "b", {"bucket": "shared"}, stack="prod-us-east-1"),
        res("aws:sqs/queue:Queue", "q", {"name": "jobs"}, stack="prod-us-east-1"),  # other account
        res("aws:iam/role:Role", "r", {"name": "ops"}, stack="prod-us-east-1"),
        stack="prod-us-east-1",
    )
    west = plan(
        res("aws:iam/role:Role", "r", {"name": "ops"}, stack="prod-us-west-2"),  # IAM is account-wide
        res("aws:sqs/queue:Queue", "q", {"name": "jobs"}, stack="prod-us-west-2"),  # other region
        stack="prod-us-west-2",
        region="us-west-2",
    )
    found = rules(rehearse([dev, east, west]), "REH-NAME-2")
    assert sorted(f.urn for f in found) == sorted([east["resources"][0]["urn"], west["resources"][0]["urn"]])
    assert all("is also used by" in f.message for f in found)


def test_name2_real_dev_plan_has_no_internal_duplicates(dev_plan: dict[str, Any]) -> None:
    assert not rehearsal.unique_names([dev_plan])


# ---------------------------------------------------------------- REH-PEER-1

EAST_DB = res("aws:rds/instance:Instance", "db", {"identifier": "ip-prod-acme"}, stack="prod-us-east-1")


def _replica(source: str) -> dict[str, Any]:
    return res(
        "aws:rds/instance:Instance",
        "replica",
        {"identifier": "ip-prod-acme-replica", "replicateSourceDb": source},
        stack="prod-us-west-2",
    )


def test_peer1_reference_must_exist_in_peer_plan() -> None:
    east = plan(EAST_DB, stack="prod-us-east-1")
    good = plan(_replica(f"arn:aws:rds:us-east-1:{ACCT}:db:ip-prod-acme"), stack="prod-us-west-2", region="us-west-2")
    bad = plan(_replica(f"arn:aws:rds:us-east-1:{ACCT}:db:ip-prod-gone"), stack="prod-us-west-2", region="us-west-2")
    assert not rules(rehearse([east, good]), "REH-PEER-1")
    assert rules(rehearse([east, bad]), "REH-PEER-1")


def test_peer1_missing_peer_plan_is_advisory_and_kms_key_ids_match() -> None:
    lone = plan(_replica(f"arn:aws:rds:us-east-1:{ACCT}:db:ip-prod-acme"), stack="prod-us-west-2", region="us-west-2")
    found = rehearse([lone])
    assert rules(found, "REH-PEER-1", "advisory") and not rules(found, "REH-PEER-1")
    key = res("aws:kms/key:Key", "dr-key", {}, stack="prod-us-east-1")
    key_id = offline_key_id("dr-key")  # the id the mock engine gives this key
    user = res(
        "aws:rds/instance:Instance",
        "r",
        {"kmsKeyId": f"arn:aws:kms:us-east-1:{ACCT}:key/{key_id}"},
        stack="prod-us-west-2",
    )
    assert not rules(
        rehearse([plan(key, stack="prod-us-east-1"), plan(user, stack="prod-us-west-2", region="us-west-2")]),
        "REH-PEER-1",
    )


# ---------------------------------------------------------------- REH-KMS-1

ROOT_ADMIN = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "kms:*", "Resource": "*"}
DEPLOYER = f"arn:aws:iam::{ACCT}:role/deployer"


def test_kms1_policy_without_manager_is_flagged() -> None:
    use_only = {"Effect": "Allow", "Principal": {"AWS": DEPLOYER}, "Action": ["kms:Decrypt"], "Resource": "*"}
    key = res("aws:kms/key:Key", "k", {"policy": policy(use_only)})
    assert rules(rehearse([plan(key, deployerRoleArn=DEPLOYER)]), "REH-KMS-1")


def test_kms1_root_or_deployer_manager_passes() -> None:
    deployer = {"Effect": "Allow", "Principal": {"AWS": [DEPLOYER]}, "Action": ["kms:Put*"], "Resource": "*"}
    keys = [
        res("aws:kms/key:Key", "a", {"policy": policy(ROOT_ADMIN)}),
        res("aws:kms/key:Key", "b", {"policy": policy(deployer)}),
    ]
    assert not [f for f in rehearse([plan(*keys, deployerRoleArn=DEPLOYER)]) if f.rule == "REH-KMS-1"]
    # Without the deployerRoleArn output the role cannot be confirmed: advisory only.
    assert rules(rehearse([plan(keys[1])]), "REH-KMS-1", "advisory")


def test_kms1_dev_plan_mutation(dev_plan: dict[str, Any]) -> None:
    mutated = copy.deepcopy(dev_plan)
    key = next(r for r in mutated["resources"] if r["name"] == "account-audit" and r["type"] == "aws:kms/key:Key")
    assert not [f for f in rehearsal.key_policy_keeps_manager([mutated]) if f.urn == key["urn"]]
    doc = json.loads(key["inputs"]["policy"])
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Action") != "kms:*"]
    key["inputs"]["policy"] = json.dumps(doc)
    assert [f for f in rehearsal.key_policy_keeps_manager([mutated]) if f.urn == key["urn"]]


# ---------------------------------------------------------------- REH-KMS-2

ALIAS_ARN = f"arn:aws:kms:us-east-1:{ACCT}:alias/app"


def test_kms2_key_ops_on_alias_arn_flagged_everywhere() -> None:
    grant = {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ALIAS_ARN}
    items = [
        res("aws:iam/rolePolicy:RolePolicy", "rp", {"policy": policy(grant)}),
        res("aws:iam/policy:Policy", "p", {"policy": policy(grant)}),
        res("aws:iam/role:Role", "r", {"inlinePolicies": [{"name": "i", "policy": policy(grant)}]}),
    ]
    assert len(rules(rehearse([plan(*items)]), "REH-KMS-2")) == 3


def test_kms2_alias_management_and_key_arns_pass() -> None:
    manage = {"Effect": "Allow", "Action": ["kms:CreateAlias", "kms:DeleteAlias"], "Resource": ALIAS_ARN}
    key_grant = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": f"arn:aws:kms:us-east-1:{ACCT}:key/abc"}
    items = [
        res("aws:iam/rolePolicy:RolePolicy", "rp", {"policy": policy(manage, key_grant)}),
        res("aws:iam/rolePolicy:RolePolicy", "unknown", {"policy": "[unknown]"}),
    ]
    assert not rules(rehearse([plan(*items)]), "REH-KMS-2")


# ---------------------------------------------------------------- REH-REPLACE-1


def test_replace1_force_new_change_on_protected_resource() -> None:
    old = plan(
        res(
            "aws:rds/instance:Instance",
            "db",
            {"identifier": "a", "storageEncrypted": True, "instanceClass": "x"},
            protect=True,
        )
    )
    new = copy.deepcopy(old)
    new["resources"][0]["inputs"]["instanceClass"] = "y"  # in place
    assert not replacements(old, new)
    new["resources"][0]["inputs"]["storageEncrypted"] = False
    found = replacements(old, new)
    assert [f.rule for f in found] == ["REH-REPLACE-1"] and "storageEncrypted" in found[0].message


def test_replace1_removal_unknown_and_unprotected() -> None:
    ns = res("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "a"}}, protect=True)
    vault = res("aws:backup/vault:Vault", "v", {"name": "v", "kmsKeyArn": "arn:1"}, protect=True)
    queue = res("aws:sqs/queue:Queue", "q", {"name": "q"})
    old = plan(ns, vault, queue)
    new = copy.deepcopy(old)
    new["resources"] = [new["resources"][1]]
    new["resources"][0]["inputs"]["kmsKeyArn"] = "[unknown]"
    found = replacements(old, new)
    assert [(f.severity, f.urn) for f in found if f.severity == "mandatory"] == [("mandatory", ns["urn"])]
    assert [f.urn for f in found if f.severity == "advisory"] == [vault["urn"]]


def test_replace1_dev_plan_mutation(dev_plan: dict[str, Any]) -> None:
    assert not [f for f in replacements(dev_plan, dev_plan) if f.severity == "mandatory"]
    mutated = copy.deepcopy(dev_plan)
    bucket = next(r for r in mutated["resources"] if r["type"] == "aws:s3/bucket:Bucket" and r["options"]["protect"])
    bucket["inputs"]["bucket"] = bucket["inputs"]["bucket"] + "-v2"
    assert [f.urn for f in replacements(dev_plan, mutated) if f.severity == "mandatory"] == [bucket["urn"]]


# ---------------------------------------------------------------- REH-CHART-1


def _keys(tmp_path: Path) -> Path:
    doc = {
        "chart": "istiod",
        "version": "1.0.0",
        "source": "test",
        "paths": ["pilot.cni.enabled", "pilot.env"],
        "open": ["meshConfig"],
    }
    (tmp_path / "istiod.json").write_text(json.dumps(doc))
    return tmp_path


def test_chart1_unknown_key_and_missing_file(tmp_path: Path) -> None:
    bad = release("istiod", "istiod", "istio-system", {"istio_cni": {"enabled": True}})
    other = release("lbc", "aws-load-balancer-controller", "kube-system")
    found = rehearsal.chart_values_known([plan(bad, other)], _keys(tmp_path))
    assert {(f.urn, "istio_cni.enabled" in f.message) for f in found} == {(bad["urn"], True), (other["urn"], False)}


def test_chart1_known_open_and_list_values_pass(tmp_path: Path) -> None:
    good = release(
        "istiod",
        "istiod",
        "istio-system",
        {"pilot": {"cni": {"enabled": True}, "env": [{"name": "A"}]}, "meshConfig": {"anything": {"deep": 1}}},
    )
    assert not rehearsal.chart_values_known([plan(good)], _keys(tmp_path))


# ---------------------------------------------------------------- REH-PSS-1

TENANT_NS = namespace("acme", {"istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "restricted"})


def test_pss1_needs_cni_and_pilot_cni_enabled() -> None:
    wrong_key = release("mesh-istiod", "istiod", "istio-system", {"istio_cni": {"enabled": True}})
    cni = release("mesh-cni", "cni", "istio-cni")
    assert rules(rehearse([plan(TENANT_NS, wrong_key, cni)]), "REH-PSS-1")
    right = release("mesh-istiod", "istiod", "istio-system", {"pilot": {"cni": {"enabled": True}}})
    assert rules(rehearse([plan(TENANT_NS, right)]), "REH-PSS-1")  # no istio-cni release
    assert not rules(rehearse([plan(TENANT_NS, right, cni)]), "REH-PSS-1")


def test_pss1_privileged_or_uninjected_namespace_passes() -> None:
    privileged = namespace("a", {"istio-injection": "enabled", "pod-security.kubernetes.io/enforce": "privileged"})
    plain = namespace("b", {"pod-security.kubernetes.io/enforce": "restricted"})
    assert not rules(rehearse([plan(privileged, plain)]), "REH-PSS-1")


# ---------------------------------------------------------------- REH-COND-1

IRSA = res(
    "aws:iam/role:Role",
    "irsa",
    {
        "assumeRolePolicy": policy(
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        )
    },
)


def _sts_endpoint(condition: dict[str, Any], action: Any = "*") -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "*", "Condition": condition}
    return res(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "sts",
        {"serviceName": "com.amazonaws.us-east-1.sts", "policy": policy(statement)},
    )


def test_cond1_principal_account_on_sts_endpoint_with_irsa() -> None:
    endpoint = _sts_endpoint({"StringEquals": {"aws:PrincipalAccount": ACCT}})
    assert rules(rehearse([plan(IRSA, endpoint)]), "REH-COND-1")
    assert not rules(rehearse([plan(endpoint)]), "REH-COND-1")  # no IRSA roles: no such calls


def test_cond1_ifexists_or_uncovered_action_passes() -> None:
    ifexists = _sts_endpoint({"StringEqualsIfExists": {"aws:PrincipalAccount": ACCT}})
    other_action = _sts_endpoint({"StringEquals": {"aws:PrincipalAccount": ACCT}}, action=["sts:AssumeRole"])
    assert not rules(rehearse([plan(IRSA, ifexists, other_action)]), "REH-COND-1")


def test_cond1_a_second_allow_for_web_identity_admits_the_call() -> None:
    """components/platform/endpoints.py: the account perimeter plus an Allow for AssumeRoleWithWebIdentity;
    IAM needs one Allow, so the call goes through and nothing is reported."""
    perimeter: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    perimeter["Condition"] = {"StringEquals": {"aws:PrincipalAccount": ACCT}}
    web_identity = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Resource": f"arn:aws:iam::{ACCT}:role/*",
    }
    endpoint = _sts_endpoint({"StringEquals": {"aws:PrincipalAccount": ACCT}})
    endpoint["inputs"]["policy"] = policy(perimeter, web_identity)
    assert not rules(rehearse([plan(IRSA, endpoint)]), "REH-COND-1")
    endpoint["inputs"]["policy"] = policy(perimeter)
    assert rules(rehearse([plan(IRSA, endpoint)]), "REH-COND-1")


def test_cond1_dev_plan_mutation(dev_plan: dict[str, Any]) -> None:
    mutated = copy.deepcopy(dev_plan)
    endpoint = next(r for r in mutated["resources"] if str(r["inputs"].get("serviceName", "")).endswith(".sts"))
    endpoint["inputs"]["policy"] = policy({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    assert not rehearsal.conditions_present_on_calls([mutated])
    endpoint["inputs"]["policy"] = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sts:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
        }
    )
    assert rehearsal.conditions_present_on_calls([mutated])


# ---------------------------------------------------------------- registry and CLI


def test_every_rule_has_id_and_rationale() -> None:
    ids = [r.id for r in rehearsal.RULES] + [rehearsal.REPLACE_RULE.id]
    assert len(ids) == len(set(ids)) == 13
    assert all(r.rationale for r in rehearsal.RULES)


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(plan(res("aws:sqs/queue:Queue", "q", {"name": "ok"}))))
    dirty = tmp_path / "dirty.json"
    dirty.write_text(json.dumps(plan(res("aws:sqs/queue:Queue", "q", {"name": "bad name"}))))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert rehearsal.main([str(clean)]) == 0
    assert rehearsal.main([str(dirty)]) == 1
    out = capsys.readouterr().out
    assert "== dev" in out and "REH-NAME-1 mandatory q [aws:sqs/queue:Queue]" in out and "finding(s)" in out
    assert rehearsal.main([str(broken)]) == 2
