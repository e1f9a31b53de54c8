"""The Checkov exporter (planner/checkov_export.py): Pulumi types and inputs as Terraform-plan JSON,
references between planned resources, skips declared in code, and Checkov itself on known-bad
resources (CI installs it: `make test` depends on .venv-checkov)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.tiers import TIERS
from components.shared.scanner import ScannerSkip, single_region
from planner.checkov_export import CHECKOV, apply_skips, declared_skips, export, run_checkov, tf_attributes, tf_type
from tests.conftest import resources_of

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
needs_checkov = pytest.mark.skipif(not CHECKOV.exists(), reason="make checkov installs .venv-checkov (CI does)")


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("aws:s3/bucket:Bucket", "aws_s3_bucket"),
        ("aws:s3/bucketV2:BucketV2", "aws_s3_bucket"),
        (SSE, "aws_s3_bucket_server_side_encryption_configuration"),
        ("aws:s3/bucketLogging:BucketLogging", "aws_s3_bucket_logging"),
        ("aws:rds/instance:Instance", "aws_db_instance"),
        ("aws:rds/subnetGroup:SubnetGroup", "aws_db_subnet_group"),
        ("aws:ec2/securityGroup:SecurityGroup", "aws_security_group"),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "aws_vpc_endpoint"),
        ("aws:cloudwatch/logGroup:LogGroup", "aws_cloudwatch_log_group"),
        ("aws:iam/rolePolicy:RolePolicy", "aws_iam_role_policy"),
        ("aws:lb/loadBalancer:LoadBalancer", "aws_lb"),
        ("aws:cloudtrail/trail:Trail", "aws_cloudtrail"),
        ("aws:wafv2/webAcl:WebAcl", "aws_wafv2_web_acl"),
        ("kubernetes:apps/v1:Deployment", None),
        ("eks:index:Cluster", None),
    ],
)
def test_pulumi_types_map_to_terraform_types(token: str, expected: str | None) -> None:
    assert tf_type(token) == expected


def test_inputs_become_terraform_attributes() -> None:
    values = tf_attributes(
        {
            "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": True}],
            "blockDeviceMappings": [{"deviceName": "/dev/xvda"}],
            "tags": {"costCenter": "x"},
            "originGroups": [{"originId": "g", "members": [{"originId": "a"}, {"originId": "b"}]}],
        }
    )
    # Repeated blocks singular, one-block objects as a list of one, as `terraform show -json` has them.
    assert values["rule"] == [
        {"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}], "bucket_key_enabled": True}
    ]
    assert values["block_device_mappings"] == [{"device_name": "/dev/xvda"}]  # plural in Terraform too
    assert values["tags"] == {"costCenter": "x"}  # data, not attribute names
    assert values["origin_group"][0]["member"] == [{"origin_id": "a"}, {"origin_id": "b"}]


def test_the_pulumi_eks_cluster_is_scanned_as_the_cluster_it_builds() -> None:
    inputs = {"name": "c", "endpointPrivateAccess": True, "endpointPublicAccess": False, "encryptionConfigKeyArn": "k"}
    exported = export(small_plan(resource("eks:index:Cluster", "cluster", inputs)))
    (cluster,) = exported.terraform_plan["planned_values"]["root_module"]["resources"]
    assert cluster["type"] == "aws_eks_cluster"
    assert cluster["values"]["encryption_config"] == [{"provider": [{"key_arn": "k"}], "resources": ["secrets"]}]
    assert cluster["values"]["vpc_config"] == [{"endpoint_private_access": True, "endpoint_public_access": False}]


def resource(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "name": name, "inputs": inputs, "custom": True, "urn": f"urn:{type_}::{name}"}


def small_plan(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"stack": "test", "region": "us-east-1", "resources": list(resources)}


def test_split_bucket_resources_reference_their_bucket() -> None:
    plan = small_plan(
        resource(BUCKET, "docs", {"bucket": "ip-test-docs"}),
        resource(SSE, "docs", {"bucket": "ip-test-docs", "rules": [{"bucketKeyEnabled": True}]}),
    )
    tf = export(plan).terraform_plan
    sse = next(r for r in tf["planned_values"]["root_module"]["resources"] if r["type"].endswith("_configuration"))
    assert "bucket" not in sse["values"]  # unknown until apply, as in a real plan
    config = next(r for r in tf["configuration"]["root_module"]["resources"] if r["address"] == sse["address"])
    assert config["expressions"]["bucket"]["references"] == ["aws_s3_bucket.docs.id", "aws_s3_bucket.docs"]


def test_every_aws_resource_of_a_real_plan_is_exported_once(plans: dict[str, dict[str, Any]]) -> None:
    plan = plans["prod-us-east-1"]
    exported = export(plan)
    planned = exported.terraform_plan["planned_values"]["root_module"]["resources"]
    aws = [r for r in plan["resources"] if r["custom"] and r["type"].startswith("aws:")]
    eks = [r for r in plan["resources"] if r["type"] in ("eks:index:Cluster", "eks:index:ManagedNodeGroup")]
    assert len(planned) == len(aws) + len(eks)
    assert len({r["address"] for r in planned}) == len(planned)
    assert all(re.fullmatch(r"aws_[a-z0-9_]+", r["type"]) for r in planned)
    # Every split S3 resource reaches its bucket through a reference (what Checkov's graph follows).
    config = {
        r["address"]: r["expressions"] for r in exported.terraform_plan["configuration"]["root_module"]["resources"]
    }
    split = [r for r in planned if r["type"].startswith("aws_s3_bucket_")]
    assert split and all(config[r["address"]]["bucket"]["references"][1].startswith("aws_s3_bucket.") for r in split), [
        r["address"] for r in split if "bucket" not in config[r["address"]]
    ]
    kinds = {m["kind"] for m in exported.manifests}
    assert {"Deployment", "NetworkPolicy", "Namespace"} <= kinds
    assert exported.not_scanned.get("kubernetes:helm.sh/v3:Release")


def report(*failed: tuple[str, str]) -> dict[str, Any]:
    return {
        "results": {"failed_checks": [{"check_id": c, "resource": r, "check_name": c} for c, r in failed]},
        "summary": {"passed": 3},
    }


def test_skips_apply_only_to_the_resource_and_check_they_name() -> None:
    skip = ScannerSkip("CKV_AWS_18", BUCKET, "logs-*", "the log bucket itself")
    origin = {
        "aws_s3_bucket.logs-a": (BUCKET, "logs-a", {}),
        "aws_s3_bucket.docs": (BUCKET, "docs", {}),
    }
    verdict = apply_skips(
        [
            report(
                ("CKV_AWS_18", "aws_s3_bucket.logs-a"),
                ("CKV_AWS_18", "aws_s3_bucket.docs"),
                ("CKV_AWS_21", "aws_s3_bucket.logs-a"),
            )
        ],
        origin,
        [("components.x", skip)],
    )
    assert [(f["check"], f["name"]) for f in verdict.failed] == [("CKV_AWS_18", "docs"), ("CKV_AWS_21", "logs-a")]
    assert verdict.skipped == [
        {
            "check": "CKV_AWS_18",
            "title": "CKV_AWS_18",
            "resource": "aws_s3_bucket.logs-a",
            "type": BUCKET,
            "name": "logs-a",
            "reason": "the log bucket itself",
            "module": "components.x",
            "fix": "",
        }
    ]
    assert verdict.used == {("components.x", skip)}
    # A skip that matched nothing is not used: the scan of every stack reports it stale.
    assert apply_skips([report()], origin, [("components.x", skip)]).used == set()


def test_a_skip_narrowed_by_inputs_leaves_the_others_failing() -> None:
    skip = ScannerSkip("CKV_AWS_144", BUCKET, "tenant-*", "one region", when=single_region)
    origin = {
        "aws_s3_bucket.tenant-a": (BUCKET, "tenant-a", {"tags": {"residency": "us-east-1"}}),
        "aws_s3_bucket.tenant-b": (BUCKET, "tenant-b", {"tags": {"residency": "us-east-1+us-west-2"}}),
    }
    verdict = apply_skips(
        [report(("CKV_AWS_144", "aws_s3_bucket.tenant-a"), ("CKV_AWS_144", "aws_s3_bucket.tenant-b"))],
        origin,
        [("m", skip)],
    )
    assert [f["name"] for f in verdict.failed] == ["tenant-b"]


def test_declared_skips_name_a_check_and_give_a_reason() -> None:
    skips = declared_skips()
    assert skips
    for module, skip in skips:
        assert re.fullmatch(r"CKV2?_(AWS|K8S)_\d+", skip.check), (module, skip)
        assert ":" in skip.type and len(skip.reason) > 20, (module, skip)


def test_every_tier_keeps_logs_a_year() -> None:
    """CKV_AWS_338 (NIST AU-11): tenant log groups keep at least a year, the basic tier included."""
    assert all(tier.log_retention_days >= 365 for tier in TIERS.values())


def test_every_bucket_logs_access_and_publishes_events(plans: dict[str, dict[str, Any]]) -> None:
    for stack, plan in plans.items():
        buckets = {r["inputs"]["bucket"]: r["name"] for r in resources_of(plan, BUCKET)}
        logging = {r["inputs"]["bucket"]: r["inputs"] for r in resources_of(plan, "aws:s3/bucketLogging:BucketLogging")}
        targets = [name for name, logical in buckets.items() if logical == "s3-access-logs"]
        assert len(targets) == 1, stack
        for name, logical in buckets.items():
            if logical == "s3-access-logs":
                assert name not in logging, "the access-log bucket must not log into itself"
                continue
            assert logging.get(name, {}).get("targetBucket") == targets[0], (stack, logical)
        events = {r["inputs"]["bucket"] for r in resources_of(plan, "aws:s3/bucketNotification:BucketNotification")
                  if r["inputs"].get("eventbridge") is True}  # fmt: skip
        assert events == set(buckets), stack


def checkov_failures(tmp_path: Path, plan: dict[str, Any], framework: str) -> set[tuple[str, str]]:
    exported = export(plan)
    if framework == "terraform_plan":
        target = tmp_path / "plan.json"
        target.write_text(json.dumps(exported.terraform_plan))
    else:
        target = tmp_path / "k8s.yaml"
        target.write_text(yaml.safe_dump_all(exported.manifests))
    result = run_checkov(CHECKOV, target, framework, tmp_path / "report.json")
    return {(c["check_id"], c["resource"]) for c in result["results"].get("failed_checks", [])}


@needs_checkov
def test_checkov_sees_an_unlogged_bucket_an_open_cluster_and_a_bucket_with_its_encryption(tmp_path: Path) -> None:
    plan = small_plan(
        resource(BUCKET, "bare", {"bucket": "ip-test-bare"}),
        resource(BUCKET, "sealed", {"bucket": "ip-test-sealed"}),
        resource("eks:index:Cluster", "open", {"name": "open", "endpointPublicAccess": True}),
        resource(
            SSE,
            "sealed",
            {
                "bucket": "ip-test-sealed",
                "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "k"}}],
            },
        ),
    )
    failed = checkov_failures(tmp_path, plan, "terraform_plan")
    assert ("CKV_AWS_18", "aws_s3_bucket.bare") in failed
    assert ("CKV_AWS_145", "aws_s3_bucket.bare") in failed
    # The encryption configuration reaches its bucket through the exported reference.
    assert ("CKV_AWS_145", "aws_s3_bucket.sealed") not in failed
    assert {("CKV_AWS_58", "aws_eks_cluster.open"), ("CKV_AWS_39", "aws_eks_cluster.open")} <= failed


@needs_checkov
def test_checkov_sees_an_image_by_tag_and_a_privileged_container(tmp_path: Path) -> None:
    pod = {"containers": [{"name": "app", "image": "repo/app:1.0", "securityContext": {"privileged": True}}]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "tenant-a"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod},
        },
    }
    failed = checkov_failures(
        tmp_path, small_plan(resource("kubernetes:apps/v1:Deployment", "app", deployment)), "kubernetes"
    )
    assert ("CKV_K8S_43", "Deployment.tenant-a.app") in failed  # image not pinned by digest
    assert ("CKV_K8S_16", "Deployment.tenant-a.app") in failed  # privileged
