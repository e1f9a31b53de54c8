"""Findings of the independent scanner (Checkov) that are accepted, each with its reason, declared
in the component module that creates the resource as `SCANNER_SKIPS`. Nothing here is deployed:
`planner.checkov_export` collects the declarations from `components/*` and applies them to the
Checkov report of the offline plan (a skip that matches no failure fails the scan, so stale ones
go away). Why not a tag or a transform: a tag is deployed and visible in AWS, and a Pulumi
transform can only record by changing the inputs that are deployed; a constant beside the code
that makes the resource is reviewed with it and costs nothing at apply time. Checkov's own skip
comments do not exist in a Terraform-plan JSON (its plan runner passes no skips), so the exporter
applies these to Checkov's report, for Kubernetes manifests too."""

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScannerSkip:
    check: str  # Checkov check id, e.g. CKV_AWS_18
    type: str  # Pulumi type token of the resource, e.g. aws:s3/bucket:Bucket
    name: str  # its logical name; fnmatch pattern (`*-access-logs`)
    reason: str
    fix: str = ""  # set for a real finding kept open until this fix lands elsewhere
    # Narrows the skip to resources whose Pulumi inputs fit the reason (e.g. single-region tenants).
    when: Callable[[Mapping[str, Any]], bool] | None = None

    def matches(self, check: str, type_: str, name: str, inputs: Mapping[str, Any]) -> bool:
        return (
            check == self.check
            and type_ == self.type
            and fnmatch.fnmatchcase(name, self.name)
            and (self.when is None or self.when(inputs))
        )

    def pending(self) -> bool:
        """A real finding kept open until `fix` is applied (not an accepted one)."""
        return bool(self.fix)


def tag(key: str, inputs: Mapping[str, Any]) -> str:
    return str((inputs.get("tags") or {}).get(key, ""))


def dev(inputs: Mapping[str, Any]) -> bool:
    """A resource of the dev stack, the one stack of its environment (no peer region)."""
    return tag("environment", inputs) == "dev"


def single_region(inputs: Mapping[str, Any]) -> bool:
    """A tenant resource whose residency is one region (tag `residency`, e.g. us-east-1)."""
    residency = tag("residency", inputs)
    return bool(residency) and "+" not in residency


CF = "aws:cloudfront/distribution:Distribution"
RECORD = "aws:route53/record:Record"
DB = "aws:rds/instance:Instance"

# Skips that belong next to resources in modules this change did not edit (other work on issue 12
# owns them): keyed by that module, reported as declared there. Move each into its module's
# SCANNER_SKIPS when that file is next touched. Entries with `fix` are real findings, listed until
# the fix lands (the scan then reports them stale, so they cannot outlive it).
ELSEWHERE: dict[str, tuple[ScannerSkip, ...]] = {
    "components.edge.global_edge": (
        ScannerSkip("CKV_AWS_86", CF, "global-edge-*",
                    "access logs go to CloudWatch Logs by log delivery (standard logging v2); Checkov reads only logging_config"),
        ScannerSkip("CKV2_AWS_32", CF, "global-edge-*",
                    "response headers policy is the AWS-managed SecurityHeadersPolicy by id, not a resource in the plan"),
        ScannerSkip("CKV_AWS_305", CF, "global-edge-*", "origin is an application, not a static site: no root object"),
        ScannerSkip("CKV_AWS_310", CF, "global-edge-*",
                    "the tenant is served from one region: no second origin to fail over to",
                    when=lambda inputs: len(inputs.get("origins") or []) == 1),
        ScannerSkip("CKV_AWS_374", CF, "global-edge-*",
                    "clients and brokers travel; residency is enforced on data, not on where a viewer stands"),
        ScannerSkip("CKV2_AWS_47", CF, "global-edge-*",
                    "Log4j is covered by AWSManagedRulesKnownBadInputsRuleSet; the check also demands the anonymous-IP "
                    "list, which would block brokers behind VPN or hosting egress"),
        ScannerSkip("CKV2_AWS_23", RECORD, "global-edge-*-a",
                    "alias to the tenant's CloudFront distribution, whose domain is known only after apply"),
        ScannerSkip("CKV2_AWS_31", "aws:wafv2/webAcl:WebAcl", "global-edge-maple-mutual",
                    "residency-restricted tenant without an edge key: its edge WAF logs would leave residency; the "
                    "regional entry's WAF logs are the record (global_edge.py)"),
    ),
    "components.edge.public_entry": (
        ScannerSkip("CKV_AWS_260", "aws:ec2/securityGroup:SecurityGroup", "entry",
                    "port 80 only answers with a redirect to HTTPS (listener default action)"),
        ScannerSkip("CKV2_AWS_71", "aws:acm/certificate:Certificate", "entry",
                    "one wildcard for the tenants' regional origin names under the platform domain"),
        ScannerSkip("CKV2_AWS_76", "aws:lb/loadBalancer:LoadBalancer", "entry",
                    "Log4j is covered by AWSManagedRulesKnownBadInputsRuleSet; the check also demands the anonymous-IP list"),
    ),
    "components.edge.ingress_routing": (
        ScannerSkip("CKV_AWS_260", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ingress-entry-to-router",
                    "the public ALB's redirect port, see public_entry"),
    ),
    "components.platform.autoscaling": (
        ScannerSkip("CKV_AWS_355", "aws:iam/rolePolicy:RolePolicy", "autoscaling-cluster-autoscaler",
                    "the restrictable actions are limited by the cluster's ASG tags (condition); Describe* take no resource"),
    ),
    "components.tenant.tenant_messaging": (
        ScannerSkip("CKV_AWS_385", "aws:sns/topicPolicy:TopicPolicy", "tenant-*-messaging-*",
                    "principals are the tenant's own roles; the only \"*\" principal is in the NobodyElse Deny"),
    ),
    "components.tenant.tenant_database": (
        ScannerSkip("CKV_AWS_157", DB, "tenant-*-db", "single-AZ only where the tier says so (basic: RTO 24 h)"),
        ScannerSkip("CKV_AWS_157", DB, "tenant-*-db-replica", "a read replica; the primary is Multi-AZ"),
        ScannerSkip("CKV_AWS_133", DB, "tenant-*-db-replica", "a read replica; backups are taken from the primary"),
        ScannerSkip("CKV2_AWS_57", "aws:secretsmanager/secret:Secret", "tenant-*-db-master",
                    "master credential of a replication source",
                    fix="rotate it (rotation_rules, or manage_master_user_password on the source) or stop creating it "
                        "(issue 12 item 3: no master credential for tenants)"),
    ),
    "components.recovery.tenant_recovery": (
        ScannerSkip("CKV_AWS_157", DB, "dr-*-replica", "the cross-region replica; Multi-AZ comes with promotion"),
        ScannerSkip("CKV2_AWS_5", "aws:ec2/securityGroup:SecurityGroup", "dr-*-db",
                    "for the database restored from the replicated backups at failover; nothing to attach before"),
    ),
    "components.platform.observability": (
        ScannerSkip("CKV2_AWS_57", "aws:secretsmanager/secret:Secret", "observability-grafana-*",
                    "Grafana admin and OAuth client secrets", fix="rotation (a rotation Lambda for the admin password; "
                    "the IdP rotates the OAuth client secret) or accept with a reason"),
    ),
    "components.tenant.tenant_identity": (
        ScannerSkip("CKV_AWS_61", "aws:iam/role:Role", "tenant-*-identity-operators",
                    "operators role trusts the account root (with tenant-operator tag and MFA conditions)",
                    fix="Principal {'AWS': [the operator identities' role ARNs from config, e.g. the Identity Center "
                        "permission-set role]} instead of arn:aws:iam::<account>:root; keep the tag and MFA conditions"),
    ),
    "components.platform.account_baseline": (
        ScannerSkip("CKV_AWS_252", "aws:cloudtrail/trail:Trail", "*-audit",
                    "a notice per delivered log file is noise; alerting runs on the CloudWatch Logs metric filters"),
        ScannerSkip("CKV_AWS_67", "aws:cloudtrail/trail:Trail", "*-audit",
                    "residency: a region whose tenants may not leave it records its own activity in its own trail; "
                    "a multi-region trail would store it in the owner's region (docs/decisions.md)",
                    when=lambda inputs: not inputs.get("isMultiRegionTrail")),
        ScannerSkip("CKV_AWS_144", "aws:s3/bucket:Bucket", "audit-audit",
                    "the regional trail's bucket is object-locked in its region; a replica outside the residency is "
                    "not allowed, and the account trail's bucket is the cross-region record where residency permits"),
    ),
    "components.platform.pod_security_groups": (
        ScannerSkip("CKV2_AWS_5", "aws:ec2/securityGroup:SecurityGroup", "tenant-pods*",
                    "attached to the tenant's pods by the VPC CNI SecurityGroupPolicy (a Kubernetes object the "
                    "Terraform-plan scan does not connect to the group)"),
    ),
}  # fmt: skip
