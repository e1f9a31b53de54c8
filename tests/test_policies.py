"""Each rule of the tenant-guard pack: a compliant and a violating case through the CrossGuard
policy object, and, on a clean plan, exactly that rule firing when exactly its violation is
introduced."""

import contextlib
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from planner.policy import effective_level, environment_config, evaluate
from policies.tenant_guard.pack import PACK_NAME, POLICIES, RULES, RULES_BY_NAME
from policies.tenant_guard.readme import rule_table
from policies.tenant_guard.rule import Res
from policies.tenant_guard.tenancy import namespace_guardrails
from tests.conftest import resources_of

ROOT = Path(__file__).resolve().parent.parent
DEV_CONFIG = environment_config("dev")


def _args(
    type_: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
    provider: tuple[str, dict[str, Any]] | None = ("aws-us-east-1", {"region": "us-east-1"}),
    config: dict[str, Any] | None = None,
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource_type=type_,
        props=unknown_checking_proxy(props),
        urn=f"urn:pulumi:test::p::{type_}::r",
        name="r",
        opts=PolicyResourceOptions(protect, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None),
        provider=PolicyProviderResource(f"pulumi:providers:{type_.split(':')[0]}", provider[1], "urn:p", provider[0])
        if provider
        else None,
        config=config or {},
    )


def resource_violations(
    name: str,
    type_: str,
    props: dict[str, Any],
    *,
    protect: bool = False,
    provider: tuple[str, dict[str, Any]] | None = ("aws-us-east-1", {"region": "us-east-1"}),
    config: dict[str, Any] | None = None,
) -> list[str]:
    policy = next(p for p in POLICIES if p.name == name)
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    args = _args(type_, props, protect=protect, provider=provider, config=config)
    validate = policy.validate
    assert callable(validate)
    validate(args, lambda message, urn=None: found.append(message))
    return found


RDS_OK: dict[str, Any] = {
    "engine": "mariadb",
    "storageEncrypted": True,
    "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
    "publiclyAccessible": False,
    "dbSubnetGroupName": "tenant-dbs",
    "manageMasterUserPassword": True,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "backupRetentionPeriod": 7,
    "copyTagsToSnapshot": True,
}
EKS_COMPONENT_OK: dict[str, Any] = {
    "endpointPublicAccess": False,
    "endpointPrivateAccess": True,
    "encryptionConfigKeyArn": "arn:aws:kms:us-east-1:1:key/k",
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "authenticationMode": "API",
}
EKS_CLUSTER_OK: dict[str, Any] = {
    "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "accessConfig": {"authenticationMode": "API"},
}
NAMESPACE_OK = {
    "metadata": {"name": "acme", "labels": {"tenant": "acme", "pod-security.kubernetes.io/enforce": "restricted"}}
}

# (policy, type, compliant props, violating change, expected message fragment)
RESOURCE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    (
        "rds-encrypted-with-customer-key",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"storageEncrypted": False},
        "storage encryption is off",
    ),
    (
        "rds-encrypted-with-customer-key",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"kmsKeyId": None},
        "no customer-managed KMS key",
    ),
    (
        "rds-encrypted-with-customer-key",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"kmsKeyId": "arn:aws:kms:us-east-1:1:alias/aws/rds"},
        "AWS-managed aws/rds",
    ),
    (
        "rds-encrypted-with-customer-key",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"performanceInsightsKmsKeyId": None},
        "Performance Insights",
    ),
    (
        "rds-not-publicly-accessible",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"publiclyAccessible": True},
        "publicly accessible",
    ),
    (
        "rds-not-publicly-accessible",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"dbSubnetGroupName": None},
        "no DB subnet group",
    ),
    (
        "rds-managed-master-password",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"password": "hunter2"},
        "master password is set",
    ),
    (
        "rds-managed-master-password",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"manageMasterUserPassword": False},
        "not managed by Secrets Manager",
    ),
    (
        "rds-managed-master-password",
        "aws:rds/instance:Instance",
        {
            **RDS_OK,
            "manageMasterUserPassword": None,
            "passwordWo": "x",
            "passwordWoVersion": 1,
            "tags": {"replication-source": "true"},
        },
        {"tags": {"tenant": "acme"}},
        "not managed by Secrets Manager",
    ),
    (
        "rds-managed-master-password",
        "aws:rds/instance:Instance",
        {
            **RDS_OK,
            "manageMasterUserPassword": None,
            "passwordWo": "x",
            "passwordWoVersion": 1,
            "tags": {"replication-source": "true"},
        },
        {"passwordWoVersion": None},
        "cannot be rotated",
    ),
    (
        "rds-deletion-safety",
        "aws:rds/instance:Instance",
        RDS_OK,
        {"deletionProtection": False},
        "deletion protection is off",
    ),
    ("rds-deletion-safety", "aws:rds/instance:Instance", RDS_OK, {"skipFinalSnapshot": True}, "no final snapshot"),
    ("rds-deletion-safety", "aws:rds/instance:Instance", RDS_OK, {"backupRetentionPeriod": 1}, "less than 7 days"),
    ("rds-deletion-safety", "aws:rds/instance:Instance", RDS_OK, {"copyTagsToSnapshot": None}, "copyTagsToSnapshot"),
    (
        "eks-private-endpoint",
        "eks:index:Cluster",
        EKS_COMPONENT_OK,
        {"endpointPublicAccess": None},
        "reachable from the internet",
    ),
    (
        "eks-private-endpoint",
        "eks:index:Cluster",
        EKS_COMPONENT_OK,
        {"endpointPrivateAccess": False},
        "private API endpoint is off",
    ),
    (
        "eks-private-endpoint",
        "aws:eks/cluster:Cluster",
        EKS_CLUSTER_OK,
        {"vpcConfig": {"endpointPublicAccess": True, "endpointPrivateAccess": True}},
        "reachable from the internet",
    ),
    (
        "eks-secrets-encryption",
        "eks:index:Cluster",
        EKS_COMPONENT_OK,
        {"encryptionConfigKeyArn": None},
        "not envelope-encrypted",
    ),
    (
        "eks-secrets-encryption",
        "aws:eks/cluster:Cluster",
        EKS_CLUSTER_OK,
        {"encryptionConfig": {"resources": [], "provider": {"keyArn": "k"}}},
        "not envelope-encrypted",
    ),
    (
        "eks-control-plane-logging",
        "eks:index:Cluster",
        EKS_COMPONENT_OK,
        {"enabledClusterLogTypes": ["api", "audit"]},
        "authenticator, controllerManager, scheduler",
    ),
    (
        "eks-control-plane-logging",
        "aws:eks/cluster:Cluster",
        EKS_CLUSTER_OK,
        {"enabledClusterLogTypes": None},
        "api, audit",
    ),
    (
        "eks-api-authentication",
        "eks:index:Cluster",
        EKS_COMPONENT_OK,
        {"authenticationMode": "API_AND_CONFIG_MAP"},
        "authentication mode to API",
    ),
    (
        "eks-api-authentication",
        "aws:eks/cluster:Cluster",
        EKS_CLUSTER_OK,
        {"accessConfig": {"authenticationMode": "CONFIG_MAP"}},
        "authentication mode to API",
    ),
    (
        "kms-key-rotation",
        "aws:kms/key:Key",
        {"enableKeyRotation": True},
        {"enableKeyRotation": False},
        "rotation is off",
    ),
    (
        "kms-key-rotation",
        "aws:kms/key:Key",
        {"enableKeyRotation": True},
        {"bypassPolicyLockoutSafetyCheck": True},
        "lock every administrator out",
    ),
    (
        "no-public-ingress",
        "aws:ec2/securityGroup:SecurityGroup",
        {"ingress": [{"fromPort": 3306, "toPort": 3306, "securityGroups": ["sg-1"]}]},
        {"ingress": [{"fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
        "ports 22-22 is open to the internet",
    ),
    (
        "no-public-ingress",
        "aws:ec2/securityGroup:SecurityGroup",
        {
            "ingress": [{"fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}],
            "tags": {"exposure": "public-entry"},
        },
        {"ingress": [{"fromPort": 0, "toPort": 65535, "ipv6CidrBlocks": ["::/0"]}]},
        "open to the internet",
    ),
    (
        "no-public-ingress",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "10.0.0.0/8", "fromPort": 443, "toPort": 443},
        {"cidrIpv4": "0.0.0.0/0"},
        "open to the internet",
    ),
    (
        "tenant-namespace-pod-security",
        "kubernetes:core/v1:Namespace",
        NAMESPACE_OK,
        {"metadata": {"name": "acme", "labels": {"tenant": "acme", "pod-security.kubernetes.io/enforce": "baseline"}}},
        "restricted",
    ),
]


LT_OK: dict[str, Any] = {
    "metadataOptions": {"httpTokens": "required"},
    "blockDeviceMappings": [
        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}}
    ],
}
IRSA_TRUST = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "oidc.eks.us-east-1.amazonaws.com/id/X:sub": "system:serviceaccount:keda:keda-operator",
                    "oidc.eks.us-east-1.amazonaws.com/id/X:aud": "sts.amazonaws.com",
                }
            },
        }
    ]
}
REDIS_OK: dict[str, Any] = {
    "atRestEncryptionEnabled": True,
    "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
    "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required",
    "userGroupIds": ["users"],
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "snapshotRetentionLimit": 7,
}
LB_OK: dict[str, Any] = {
    "internal": True,
    "dropInvalidHeaderFields": True,
    "enableDeletionProtection": True,
    "accessLogs": {"enabled": True, "bucket": "logs"},
}


def _trust(**condition: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(IRSA_TRUST))
    document["Statement"][0]["Condition"] = condition
    return {"assumeRolePolicy": json.dumps(document)}


RESOURCE_CASES += [
    (
        "node-hardening",
        "aws:ec2/launchTemplate:LaunchTemplate",
        LT_OK,
        {"metadataOptions": {"httpTokens": "optional"}},
        "IMDSv1",
    ),
    (
        "node-hardening",
        "aws:ec2/launchTemplate:LaunchTemplate",
        LT_OK,
        {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
        "not encrypted",
    ),
    (
        "node-hardening",
        "eks:index:ManagedNodeGroup",
        {"launchTemplate": {"id": "lt-1", "version": "1"}},
        {"launchTemplate": {}},
        "no launch template",
    ),
    (
        "node-hardening",
        "eks:index:ManagedNodeGroup",
        {"launchTemplate": {"id": "lt-1"}},
        {"remoteAccess": {"ec2SshKey": "k"}},
        "SSH",
    ),
    (
        "helm-releases-pinned",
        "kubernetes:helm.sh/v3:Release",
        {"chart": "keda", "version": "2.20.2", "repositoryOpts": {"repo": "https://kedacore.github.io/charts"}},
        {"version": "2.x"},
        "not pinned",
    ),
    (
        "helm-releases-pinned",
        "kubernetes:helm.sh/v3:Release",
        {"chart": "oci://ghcr.io/nginx/charts/nginx-ingress", "version": "2.6.0"},
        {"chart": "nginx-ingress"},
        "no explicit repository",
    ),
    (
        "eks-addons-pinned",
        "aws:eks/addon:Addon",
        {"addonVersion": "v1.22.3-eksbuild.1"},
        {"addonVersion": "latest"},
        "not pinned",
    ),
    (
        "irsa-trust-pinned",
        "aws:iam/role:Role",
        {"assumeRolePolicy": json.dumps(IRSA_TRUST)},
        _trust(StringLike={"oidc.eks.us-east-1.amazonaws.com/id/X:sub": "system:serviceaccount:*:*"}),
        "exactly one service account",
    ),
    (
        "irsa-trust-pinned",
        "aws:iam/role:Role",
        {"assumeRolePolicy": json.dumps(IRSA_TRUST)},
        _trust(StringEquals={"oidc.eks.us-east-1.amazonaws.com/id/X:sub": "system:serviceaccount:keda:keda-operator"}),
        "audience",
    ),
    (
        "irsa-trust-pinned",
        "aws:iam/role:Role",
        {"assumeRolePolicy": json.dumps(IRSA_TRUST)},
        {
            "assumeRolePolicy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}
            )
        },
        "any principal",
    ),
    (
        "namespace-pod-security-level",
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": "keda", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
        {"metadata": {"name": "keda", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        "approved list",
    ),
    (
        "namespace-pod-security-level",
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": "istio-cni", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        {"metadata": {"name": "istio-cni", "labels": {}}},
        "enforces no Pod Security level",
    ),
    (
        "redis-encrypted-and-authenticated",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        REDIS_OK,
        {"kmsKeyId": None},
        "at rest",
    ),
    (
        "redis-encrypted-and-authenticated",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        REDIS_OK,
        {"transitEncryptionMode": "preferred"},
        "without TLS",
    ),
    (
        "redis-encrypted-and-authenticated",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        REDIS_OK,
        {"userGroupIds": []},
        "no authentication",
    ),
    (
        "redis-high-availability",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        REDIS_OK,
        {"automaticFailoverEnabled": False},
        "failover",
    ),
    (
        "load-balancer-hygiene",
        "aws:lb/loadBalancer:LoadBalancer",
        LB_OK,
        {"internal": False},
        "not the tagged public entry",
    ),
    (
        "load-balancer-hygiene",
        "aws:lb/loadBalancer:LoadBalancer",
        LB_OK,
        {"enableDeletionProtection": False},
        "deletion protection",
    ),
    (
        "load-balancer-hygiene",
        "aws:lb/loadBalancer:LoadBalancer",
        LB_OK,
        {"dropInvalidHeaderFields": None},
        "invalid HTTP headers",
    ),
    (
        "listener-tls",
        "aws:lb/listener:Listener",
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"},
        {"sslPolicy": "ELBSecurityPolicy-2016-08"},
        "TLS 1.2+",
    ),
    (
        "listener-tls",
        "aws:lb/listener:Listener",
        {"protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}]},
        {"defaultActions": [{"type": "forward", "targetGroupArn": "tg"}]},
        "may only redirect",
    ),
    (
        "log-groups-encrypted-retained",
        "aws:cloudwatch/logGroup:LogGroup",
        {"kmsKeyId": "k", "retentionInDays": 365},
        {"retentionInDays": 0},
        "kept forever",
    ),
    (
        "log-groups-encrypted-retained",
        "aws:cloudwatch/logGroup:LogGroup",
        {"kmsKeyId": "k", "retentionInDays": 365},
        {"kmsKeyId": None},
        "not encrypted",
    ),
]


CF_ORIGIN = {"originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1.2"]}
CF_NO_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
CF_OK: dict[str, Any] = {
    "defaultCacheBehavior": {
        "viewerProtocolPolicy": "redirect-to-https",
        "cachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        "originRequestPolicyId": CF_NO_HOST,
        "targetOriginId": "failover",
    },
    "orderedCacheBehaviors": [
        {
            "pathPattern": "/assets/*",
            "viewerProtocolPolicy": "redirect-to-https",
            "originRequestPolicyId": CF_NO_HOST,
            "targetOriginId": "failover",
        }
    ],
    "viewerCertificate": {
        "acmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "minimumProtocolVersion": "TLSv1.2_2021",
        "sslSupportMethod": "sni-only",
    },
    "webAclId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/abc",
    "origins": [
        {"originId": r, "domainName": f"acme-origin-{r}.insure.example.com", "customOriginConfig": CF_ORIGIN}
        for r in ("us-east-1", "us-west-2")
    ],
    "originGroups": [
        {
            "originId": "failover",
            "members": [{"originId": "us-east-1"}, {"originId": "us-west-2"}],
            "failoverCriteria": {"statusCodes": [500, 502, 503, 504]},
        }
    ],
    "tags": {"tenant": "acme", "residency": "us-east-1+us-west-2"},
}
CF = "aws:cloudfront/distribution:Distribution"


def _cf_origins(**change: Any) -> list[dict[str, Any]]:
    return [{**CF_OK["origins"][0], **change}, CF_OK["origins"][1]]


RESOURCE_CASES += [
    (
        "front-end-hardening",
        CF,
        CF_OK,
        {"defaultCacheBehavior": {**CF_OK["defaultCacheBehavior"], "viewerProtocolPolicy": "allow-all"}},
        "plain HTTP",
    ),
    ("front-end-hardening", CF, CF_OK, {"viewerCertificate": {"cloudfrontDefaultCertificate": True}}, "no ACM"),
    (
        "front-end-hardening",
        CF,
        CF_OK,
        {"viewerCertificate": {**CF_OK["viewerCertificate"], "minimumProtocolVersion": "TLSv1"}},
        "less than TLS 1.2",
    ),
    ("front-end-hardening", CF, CF_OK, {"webAclId": None}, "no AWS WAF"),
    (
        "front-end-hardening",
        CF,
        CF_OK,
        {"origins": _cf_origins(customOriginConfig={**CF_ORIGIN, "originProtocolPolicy": "match-viewer"})},
        "without TLS",
    ),
    (
        "front-end-hardening",
        CF,
        CF_OK,
        {"origins": _cf_origins(customOriginConfig={**CF_ORIGIN, "originSslProtocols": ["TLSv1", "TLSv1.2"]})},
        "below 1.2",
    ),
    (
        "front-end-hardening",
        CF,
        CF_OK,
        {
            "defaultCacheBehavior": {
                **CF_OK["defaultCacheBehavior"],
                "cachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            }
        },
        "caches tenant pages",
    ),
    ("front-end-failover", CF, CF_OK, {"originGroups": []}, "cannot fail over"),
    (
        "front-end-failover",
        CF,
        CF_OK,
        {"originGroups": [{**CF_OK["originGroups"][0], "failoverCriteria": {"statusCodes": [500]}}]},
        "needs two regions",
    ),
    (
        "front-end-origins-inside-residency",
        CF,
        CF_OK,
        {"tags": {"tenant": "acme", "residency": "us-east-1"}},
        "outside the tenant's residency",
    ),
    (
        "front-end-origins-inside-residency",
        CF,
        CF_OK,
        {"origins": _cf_origins(domainName="shop.example.org")},
        "not a regional platform entry",
    ),
]


def _views(tenant: str = "acme", ini: dict[str, Any] | None = None) -> dict[str, Any]:
    grafana_ini = {
        "auth": {"disable_login_form": True},
        "auth.basic": {"enabled": False},
        "auth.anonymous": {"enabled": False},
        "auth.generic_oauth": {"enabled": True, "allowed_groups": f"{tenant}-operators", "role_attribute_strict": True},
        **(ini or {}),
    }
    source = {"name": f"logs-{tenant}", "secureJsonData": {"httpHeaderValue1": tenant}}
    return {
        "datasources": {"datasources.yaml": {"datasources": [source]}},
        "sidecar": {"dashboards": {"labelValue": tenant}},
        "grafana.ini": grafana_ini,
    }


HELM = "kubernetes:helm.sh/v3:Release"
VIEWS_OK = {"chart": "grafana", "name": "grafana-acme", "values": _views()}
RESOURCE_CASES += [
    (
        "tenant-views-access",
        HELM,
        VIEWS_OK,
        {
            "values": _views(
                ini={"auth.generic_oauth": {"enabled": True, "allowed_groups": "staff", "role_attribute_strict": True}}
            )
        },
        "exactly the group 'acme-operators'",
    ),
    ("tenant-views-access", HELM, VIEWS_OK, {"values": _views(ini={"auth.anonymous": {"enabled": True}})}, "anonymous"),
    ("tenant-views-access", HELM, VIEWS_OK, {"values": _views(ini={"auth": {}})}, "local logins"),
    (
        "tenant-views-access",
        HELM,
        VIEWS_OK,
        {"values": {**_views(), "sidecar": {"dashboards": {"labelValue": ""}}}},
        "other tenants' dashboards",
    ),
    (
        "tenant-views-access",
        HELM,
        VIEWS_OK,
        {"values": {**_views(), "datasources": _views("umbrella")["datasources"]}},
        "of tenant id 'umbrella'",
    ),
    (
        "tenant-views-access",
        HELM,
        {"chart": "grafana", "name": "grafana", "values": {"ingress": {"enabled": False}}},
        {"values": {"ingress": {"enabled": True}}},
        "all-tenant Grafana is exposed",
    ),
]

KINESIS = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
KEY = "arn:aws:kms:us-east-1:1:key/k"
KINESIS_OK: dict[str, Any] = {
    "encryptionType": "KMS",
    "kmsKeyId": KEY,
    "streamModeDetails": {"streamMode": "ON_DEMAND"},
}
FIREHOSE_OK: dict[str, Any] = {
    "destination": "extended_s3",
    "kinesisSourceConfiguration": {"kinesisStreamArn": "arn:aws:kinesis:us-east-1:1:stream/s", "roleArn": "r"},
    "extendedS3Configuration": {"bucketArn": "arn:aws:s3:::b", "roleArn": "r", "kmsKeyArn": KEY},
}
RESOURCE_CASES += [
    (
        "event-streams-encrypted-with-customer-key",
        KINESIS,
        KINESIS_OK,
        {"encryptionType": "NONE"},
        "not encrypted at rest",
    ),
    (
        "event-streams-encrypted-with-customer-key",
        KINESIS,
        KINESIS_OK,
        {"kmsKeyId": None},
        "no customer-managed KMS key",
    ),
    (
        "event-streams-encrypted-with-customer-key",
        KINESIS,
        KINESIS_OK,
        {"kmsKeyId": "arn:aws:kms:us-east-1:1:alias/aws/kinesis"},
        "alias/aws/kinesis",
    ),
    (
        "event-streams-encrypted-with-customer-key",
        FIREHOSE,
        FIREHOSE_OK,
        {"extendedS3Configuration": {"bucketArn": "arn:aws:s3:::b", "roleArn": "r"}},
        "without a customer-managed KMS key",
    ),
    (
        "event-streams-encrypted-with-customer-key",
        FIREHOSE,
        FIREHOSE_OK,
        {"extendedS3Configuration": {"bucketArn": "arn:aws:s3:::b", "roleArn": "r", "kmsKeyArn": "alias/aws/s3"}},
        "alias/aws/s3",
    ),
    # Direct PUT (no source stream): the delivery stream's own buffers must be encrypted too.
    (
        "event-streams-encrypted-with-customer-key",
        FIREHOSE,
        FIREHOSE_OK,
        {"kinesisSourceConfiguration": None},
        "Direct PUT",
    ),
    (
        "event-streams-encrypted-with-customer-key",
        FIREHOSE,
        {
            **FIREHOSE_OK,
            "kinesisSourceConfiguration": None,
            "serverSideEncryption": {"enabled": True, "keyType": "CUSTOMER_MANAGED_CMK", "keyArn": KEY},
        },
        {"serverSideEncryption": {"enabled": True, "keyType": "AWS_OWNED_CMK"}},
        "AWS-owned key",
    ),
]


TABLE = "aws:dynamodb/table:Table"
RDS = "aws:rds/instance:Instance"
TABLE_KEY = "arn:aws:kms:us-east-1:1:key/k"
TABLE_OK: dict[str, Any] = {
    "name": "ip-dev-acme-records",
    "billingMode": "PAY_PER_REQUEST",
    "serverSideEncryption": {"enabled": True, "kmsKeyArn": TABLE_KEY},
    "pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 7},
    "deletionProtectionEnabled": True,
    "replicas": [
        {
            "regionName": "us-west-2",
            "kmsKeyArn": TABLE_KEY,
            "pointInTimeRecovery": True,
            "deletionProtectionEnabled": True,
        }
    ],
}
REPLICA_OK = TABLE_OK["replicas"][0]
RDS_PROD = {**RDS_OK, "multiAz": True, "tags": {"environment": "prod", "tenant": "acme"}}

RESOURCE_CASES += [
    ("dynamodb-encrypted-with-customer-key", TABLE, TABLE_OK, {"serverSideEncryption": {"enabled": False}}, "AWS owned key"),
    ("dynamodb-encrypted-with-customer-key", TABLE, TABLE_OK, {"serverSideEncryption": {"enabled": True}}, "names no kmsKeyArn"),
    (
        "dynamodb-encrypted-with-customer-key",
        TABLE,
        TABLE_OK,
        {"serverSideEncryption": {"enabled": True, "kmsKeyArn": "arn:aws:kms:us-east-1:1:alias/aws/dynamodb"}},
        "AWS managed aws/dynamodb key",
    ),
    (
        "dynamodb-encrypted-with-customer-key",
        TABLE,
        TABLE_OK,
        {"replicas": [{**REPLICA_OK, "kmsKeyArn": None}]},
        "replica in us-west-2 has no kmsKeyArn",
    ),
    ("dynamodb-point-in-time-recovery", TABLE, TABLE_OK, {"pointInTimeRecovery": {"enabled": False}}, "DynamoDB.2"),
    (
        "dynamodb-point-in-time-recovery",
        TABLE,
        TABLE_OK,
        {"replicas": [{**REPLICA_OK, "pointInTimeRecovery": False}]},
        "replica in us-west-2",
    ),
    ("dynamodb-deletion-protection", TABLE, TABLE_OK, {"deletionProtectionEnabled": False}, "DynamoDB.6"),
    (
        "dynamodb-deletion-protection",
        TABLE,
        TABLE_OK,
        {"replicas": [{**REPLICA_OK, "deletionProtectionEnabled": False}]},
        "replica in us-west-2",
    ),
    ("rds-multi-az-in-production", RDS, RDS_PROD, {"multiAz": False}, "without a Multi-AZ standby"),
]  # fmt: skip


def test_multi_az_is_required_in_production_only() -> None:
    rule = "rds-multi-az-in-production"
    dev = {**RDS_OK, "multiAz": False, "tags": {"environment": "dev"}}
    assert resource_violations(rule, RDS, dev) == []  # dev may stay single-AZ
    replica = {**RDS_PROD, "multiAz": False, "replicateSourceDb": "arn:aws:rds:us-east-1:1:db:x"}
    assert resource_violations(rule, RDS, replica) == []  # a replica's HA is its primary's
    staging = {**RDS_PROD, "multiAz": False, "tags": {"environment": "staging"}}
    assert resource_violations(rule, RDS, staging, config={"environments": ["prod", "staging"]})


def _stack(*resources: tuple[str, dict[str, Any]]) -> list[Res]:
    return [Res(t, f"urn:{t}::{i}", f"r{i}", props) for i, (t, props) in enumerate(resources)]


def test_dynamodb_capacity_on_demand_or_autoscaled() -> None:
    from policies.tenant_guard.dynamodb import table_capacity

    provisioned = {**TABLE_OK, "billingMode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 5}
    assert list(table_capacity(_stack((TABLE, TABLE_OK)), {})) == []
    ((message, _),) = list(table_capacity(_stack((TABLE, provisioned)), {}))
    assert "ReadCapacityUnits and WriteCapacityUnits" in message
    target = "aws:appautoscaling/target:Target"
    scaled = [
        (target, {"serviceNamespace": "dynamodb", "resourceId": "table/ip-dev-acme-records", "scalableDimension": d})
        for d in ("dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits")
    ]
    assert list(table_capacity(_stack((TABLE, provisioned), *scaled), {})) == []
    ((message, _),) = list(table_capacity(_stack((TABLE, provisioned), scaled[0]), {}))
    assert "WriteCapacityUnits" in message and "ReadCapacityUnits" not in message


def test_dynamodb_backup_coverage_by_arn_or_wildcard() -> None:
    from policies.tenant_guard.dynamodb import table_backup_coverage

    selection = "aws:backup/selection:Selection"
    arn = "arn:aws:dynamodb:us-east-1:1:table/ip-dev-acme-records"
    assert list(table_backup_coverage(_stack((TABLE, TABLE_OK), (selection, {"resources": [arn]})), {})) == []
    wildcard = {"resources": ["arn:aws:dynamodb:us-east-1:1:table/ip-dev-*"]}
    assert list(table_backup_coverage(_stack((TABLE, TABLE_OK), (selection, wildcard)), {})) == []
    other = {"resources": ["arn:aws:dynamodb:us-east-1:1:table/ip-dev-acme-records-old"]}
    ((message, _),) = list(table_backup_coverage(_stack((TABLE, TABLE_OK), (selection, other)), {}))
    assert "in no AWS Backup plan" in message


def test_residency_covers_table_replica_regions() -> None:
    from policies.tenant_guard.residency import data_residency

    tags = {"tenant": "acme", "residency": "us-east-1+us-west-2"}
    config = {"residency": {"acme": ["us-east-1", "us-west-2"]}}
    inside = Res(TABLE, "urn:t", "t", {**TABLE_OK, "tags": tags}, provider_props={"region": "us-east-1"})
    assert list(data_residency([inside], config)) == []
    abroad = {**TABLE_OK, "tags": tags, "replicas": [{**REPLICA_OK, "regionName": "eu-west-1"}]}
    ((message, _),) = list(
        data_residency([Res(TABLE, "urn:t", "t", abroad, provider_props={"region": "us-east-1"})], config)
    )
    assert "replicate to eu-west-1, outside its residency" in message


def test_apigateway_stage_needs_execution_logging_and_waf() -> None:
    from policies.tenant_guard.api_gateway import execution_logging, waf_protected

    association = (
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        {"resourceArn": "arn:aws:apigateway:us-east-1::/restapis/a1/stages/v1"},
    )
    stack = _stack((APIGW_STAGE, APIGW_STAGE_OK), (APIGW_SETTINGS, APIGW_SETTINGS_OK), association)
    assert list(execution_logging(stack, {})) == [] and list(waf_protected(stack, {})) == []
    off = {**APIGW_SETTINGS_OK, "settings": {"loggingLevel": "OFF"}}
    ((message, _),) = list(execution_logging(_stack((APIGW_STAGE, APIGW_STAGE_OK), (APIGW_SETTINGS, off)), {}))
    assert "no execution logging" in message
    other_stage = (
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        {"resourceArn": "arn:aws:apigateway:us-east-1::/restapis/a1/stages/v2"},
    )
    ((message, _),) = list(waf_protected(_stack((APIGW_STAGE, APIGW_STAGE_OK), other_stage), {}))
    assert "no AWS WAF web ACL" in message


INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"


def _route(namespace: str, kind: str | None, host: str, *paths: str, **annotations: str) -> tuple[str, dict[str, Any]]:
    if kind:
        annotations["nginx.org/mergeable-ingress-type"] = kind
    return (
        INGRESS,
        {
            "metadata": {"name": "r", "namespace": namespace, "annotations": annotations},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": p, "pathType": "Prefix"} for p in paths]}}]},
        },
    )


def test_tenant_api_routes_claim_only_their_own_prefix() -> None:
    from policies.tenant_guard.isolation import api_routes_in_tenant

    namespaces = [
        ("kubernetes:core/v1:Namespace", {"metadata": {"name": t, "labels": {"tenant": t}}})
        for t in ("acme", "acme-life")
    ]
    api = "api.insure.example.com"

    def findings(*routes: tuple[str, dict[str, Any]]) -> list[str]:
        return [m for m, _ in api_routes_in_tenant(_stack(*namespaces, *routes), {})]

    compliant = [
        _route(
            "acme", "minion", api, "/tenants/acme/", **{"nginx.org/rewrites": "serviceName=aggregator rewrite=/api/"}
        ),
        _route("acme-life", "minion", api, "/tenants/acme-life/"),
        _route("acme", None, "acme.insure.example.com", "/api", "/carrier"),
        _route("nginx-ingress", "master", api),  # the platform's master
    ]
    assert findings(*compliant) == []
    violating = {
        "another tenant's prefix": _route("acme", "minion", api, "/tenants/acme-life/"),
        "every tenant's prefix": _route("acme", "minion", api, "/tenants/"),
        "its id without the slash": _route("acme", "minion", api, "/tenants/acme"),
        "a dot-dot segment": _route("acme", "minion", api, "/tenants/acme/../acme-life/"),
        "a master": _route("acme", "master", api),
        "another host's master": _route("acme", "master", "acme-life.insure.example.com"),
        "a minion of another host": _route("acme", "minion", "acme-life.insure.example.com", "/tenants/acme/"),
        "the whole API host": _route("acme", None, api, "/tenants/acme/"),
        "a path regex": _route("acme", "minion", api, "/tenants/acme/", **{"nginx.org/path-regex": "case_sensitive"}),
    }
    for case, route in violating.items():
        assert len(findings(route)) == 1, case
        assert findings(route)[0].startswith("tenant acme's Ingress r "), case


def test_apigateway_one_key_per_tenant_in_one_plan() -> None:
    from policies.tenant_guard.api_gateway import key_per_tenant

    key_type, plan_key_type = "aws:apigateway/apiKey:ApiKey", "aws:apigateway/usagePlanKey:UsagePlanKey"

    def stack(*keys: dict[str, Any], plan_keys: tuple[tuple[int, ...], ...]) -> list[Res]:
        found = [Res(key_type, f"urn:key{i}", f"k{i}", k) for i, k in enumerate(keys)]
        found += [
            Res(
                plan_key_type,
                f"urn:pk{j}",
                f"pk{j}",
                {"keyType": "API_KEY"},
                dependencies=tuple(f"urn:key{i}" for i in d),
            )
            for j, d in enumerate(plan_keys)
        ]
        return found

    acme, beta = {"tags": {"tenant": "acme"}}, {"tags": {"tenant": "beta"}}
    assert list(key_per_tenant(stack(acme, beta, plan_keys=((0,), (1,))), {})) == []
    messages = [m for m, _ in key_per_tenant(stack({"tags": {"tier": "basic"}}, plan_keys=((0,),)), {})]
    assert any("names no tenant" in m for m in messages)
    messages = [m for m, _ in key_per_tenant(stack(acme, acme, plan_keys=((0,), (1,))), {})]
    assert any("has 2 API keys" in m for m in messages)
    messages = [m for m, _ in key_per_tenant(stack(acme, plan_keys=((0,), (0,))), {})]
    assert any("joins 2 usage plans" in m for m in messages)
    messages = [m for m, _ in key_per_tenant(stack(acme, plan_keys=()), {})]
    assert any("in no usage plan" in m for m in messages)
    messages = [m for m, _ in key_per_tenant(stack(acme, plan_keys=((0,), ())), {})]
    assert any("does not own" in m for m in messages)


LAMBDA = "aws:lambda/function:Function"
LAMBDA_OK: dict[str, Any] = {
    "packageType": "Image",
    "imageUri": "111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-jobs-processor@sha256:" + "a" * 64,
    "kmsKeyArn": "arn:aws:kms:us-east-1:1:key/k",
    "vpcConfig": {"subnetIds": ["subnet-a", "subnet-b", "subnet-c"], "securityGroupIds": ["sg-1"]},
    "tracingConfig": {"mode": "Active"},
}
LAMBDA_ZIP_OK: dict[str, Any] = {**LAMBDA_OK, "packageType": "Zip", "runtime": "python3.13", "imageUri": None}
PERMISSION_OK: dict[str, Any] = {
    "action": "lambda:InvokeFunction",
    "function": "f",
    "principal": "events.amazonaws.com",
    "sourceArn": "arn:aws:events:us-east-1:1:rule/r",
}
RESOURCE_CASES += [
    ("lambda-no-public-access", "aws:lambda/permission:Permission", PERMISSION_OK, {"principal": "*"}, "everyone"),
    ("lambda-no-public-access", "aws:lambda/permission:Permission", PERMISSION_OK, {"sourceArn": None}, "any account"),
    (
        "lambda-no-public-access",
        "aws:lambda/functionUrl:FunctionUrl",
        {"functionName": "f", "authorizationType": "AWS_IAM"},
        {"authorizationType": "NONE"},
        "unauthenticated",
    ),
    ("workload-image-provenance", LAMBDA, LAMBDA_OK, {"imageUri": "r.example/insurance/p:1.0"}, "by tag"),
    ("lambda-supported-runtime", LAMBDA, LAMBDA_ZIP_OK, {"runtime": "python3.8"}, "not a supported"),
    ("lambda-in-vpc", LAMBDA, LAMBDA_OK, {"vpcConfig": None}, "not attached to a VPC"),
    ("lambda-in-vpc", LAMBDA, LAMBDA_OK, {"vpcConfig": {"subnetIds": ["subnet-a"]}}, "no security group"),
    (
        "lambda-multi-az",
        LAMBDA,
        LAMBDA_OK,
        {"vpcConfig": {"subnetIds": ["subnet-a", "subnet-a"], "securityGroupIds": ["sg-1"]}},
        "fewer than 2",
    ),
    ("lambda-environment-encrypted", LAMBDA, LAMBDA_OK, {"kmsKeyArn": None}, "AWS-managed key"),
    (
        "lambda-environment-encrypted",
        LAMBDA,
        LAMBDA_OK,
        {"kmsKeyArn": "arn:aws:kms:us-east-1:1:alias/aws/lambda"},
        "is AWS-managed",
    ),
    ("lambda-active-tracing", LAMBDA, LAMBDA_OK, {"tracingConfig": {"mode": "PassThrough"}}, "not active"),
]

APIGW_STAGE = "aws:apigateway/stage:Stage"
APIGW_STAGE_OK: dict[str, Any] = {
    "restApi": "a1",
    "stageName": "v1",
    "deployment": "d1",
    "xrayTracingEnabled": True,
    "clientCertificateId": "c1",
    "accessLogSettings": {"destinationArn": "arn:aws:logs:us-east-1:1:log-group:/aws/apigateway/x", "format": "{}"},
}
APIGW_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
APIGW_SETTINGS_OK: dict[str, Any] = {
    "restApi": "a1",
    "stageName": "v1",
    "methodPath": "*/*",
    "settings": {"loggingLevel": "ERROR", "metricsEnabled": True, "cachingEnabled": False},
}
APIGW_METHOD = "aws:apigateway/method:Method"
APIGW_METHOD_OK: dict[str, Any] = {
    "httpMethod": "ANY",
    "authorization": "CUSTOM",
    "authorizerId": "z1",
    "apiKeyRequired": True,
}
APIGW_INTEGRATION = "aws:apigateway/integration:Integration"
APIGW_INTEGRATION_OK: dict[str, Any] = {
    "type": "HTTP_PROXY",
    "uri": "https://api.example.com/{proxy}",
    "connectionType": "VPC_LINK",
    "connectionId": "l1",
}
APIGW_PLAN = "aws:apigateway/usagePlan:UsagePlan"
APIGW_PLAN_OK: dict[str, Any] = {
    "apiStages": [{"apiId": "a1", "stage": "v1"}],
    "throttleSettings": {"rateLimit": 25, "burstLimit": 50},
    "quotaSettings": {"limit": 200000, "period": "DAY"},
}
RESOURCE_CASES += [
    (
        "apigateway-backend-certificate",
        APIGW_STAGE,
        APIGW_STAGE_OK,
        {"clientCertificateId": None},
        "no client certificate",
    ),
    ("apigateway-xray-tracing", APIGW_STAGE, APIGW_STAGE_OK, {"xrayTracingEnabled": False}, "X-Ray tracing is off"),
    ("apigateway-access-logging", APIGW_STAGE, APIGW_STAGE_OK, {"accessLogSettings": None}, "no access log"),
    (
        "apigateway-cache-encrypted",
        APIGW_SETTINGS,
        APIGW_SETTINGS_OK,
        {"settings": {"loggingLevel": "ERROR", "cachingEnabled": True}},
        "unencrypted",
    ),
    (
        "apigateway-method-authorized",
        APIGW_METHOD,
        APIGW_METHOD_OK,
        {"authorization": "NONE", "authorizerId": None},
        "authorization 'NONE'",
    ),
    ("apigateway-method-authorized", APIGW_METHOD, APIGW_METHOD_OK, {"authorizerId": None}, "names no authorizer"),
    ("apigateway-method-authorized", APIGW_METHOD, APIGW_METHOD_OK, {"apiKeyRequired": False}, "API key"),
    (
        "apigateway-private-tls-backend",
        APIGW_INTEGRATION,
        APIGW_INTEGRATION_OK,
        {"uri": "http://api.example.com/"},
        "plain HTTP",
    ),
    (
        "apigateway-private-tls-backend",
        APIGW_INTEGRATION,
        APIGW_INTEGRATION_OK,
        {"connectionType": "INTERNET"},
        "internet",
    ),
    ("apigateway-usage-plan-limits", APIGW_PLAN, APIGW_PLAN_OK, {"throttleSettings": None}, "does not throttle"),
    ("apigateway-usage-plan-limits", APIGW_PLAN, APIGW_PLAN_OK, {"quotaSettings": None}, "no quota"),
]


RS_NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
RS_WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
RS_NAMESPACE_OK: dict[str, Any] = {
    "namespaceName": "ip-dev-acme",
    "adminUsername": "warehouse_owner",
    "manageAdminPassword": True,
    "adminPasswordSecretKmsKeyId": KEY,
    "kmsKeyId": KEY,
    "logExports": ["connectionlog", "userlog", "useractivitylog"],
}
RS_PARAMETERS = [
    {"parameterKey": "enable_user_activity_logging", "parameterValue": "true"},
    {"parameterKey": "require_ssl", "parameterValue": "true"},
]
RS_WORKGROUP_OK: dict[str, Any] = {
    "workgroupName": "ip-dev-acme",
    "enhancedVpcRouting": True,
    "publiclyAccessible": False,
    "subnetIds": ["subnet-a", "subnet-b", "subnet-c"],
    "securityGroupIds": ["sg-w"],
    "configParameters": RS_PARAMETERS,
}
RESOURCE_CASES += [
    ("warehouse-enhanced-vpc-routing", RS_WORKGROUP, RS_WORKGROUP_OK, {"enhancedVpcRouting": False}, "enhanced VPC"),
    (
        "warehouse-requires-ssl",
        RS_WORKGROUP,
        RS_WORKGROUP_OK,
        {"configParameters": [RS_PARAMETERS[0], {"parameterKey": "require_ssl", "parameterValue": "false"}]},
        "require_ssl",
    ),
    ("warehouse-requires-ssl", RS_WORKGROUP, RS_WORKGROUP_OK, {"configParameters": [RS_PARAMETERS[0]]}, "unencrypted"),
    ("warehouse-private", RS_WORKGROUP, RS_WORKGROUP_OK, {"publiclyAccessible": True}, "internet"),
    ("warehouse-private", RS_WORKGROUP, RS_WORKGROUP_OK, {"subnetIds": None}, "default VPC"),
    ("warehouse-private", RS_WORKGROUP, RS_WORKGROUP_OK, {"securityGroupIds": None}, "security group"),
    (
        "warehouse-user-activity-logged",
        RS_WORKGROUP,
        RS_WORKGROUP_OK,
        {"configParameters": [RS_PARAMETERS[1]]},
        "enable_user_activity_logging",
    ),
    ("warehouse-encrypted-with-customer-key", RS_NAMESPACE, RS_NAMESPACE_OK, {"kmsKeyId": None}, "customer managed"),
    (
        "warehouse-encrypted-with-customer-key",
        RS_NAMESPACE,
        RS_NAMESPACE_OK,
        {"kmsKeyId": "arn:aws:kms:us-east-1:1:alias/aws/redshift"},
        "customer managed",
    ),
    ("warehouse-admin-managed", RS_NAMESPACE, RS_NAMESPACE_OK, {"adminUsername": "admin"}, "default admin username"),
    ("warehouse-admin-managed", RS_NAMESPACE, RS_NAMESPACE_OK, {"manageAdminPassword": None}, "Secrets Manager"),
    ("warehouse-admin-managed", RS_NAMESPACE, RS_NAMESPACE_OK, {"adminUserPassword": "x"}, "written in the program"),
    (
        "warehouse-admin-managed",
        RS_NAMESPACE,
        RS_NAMESPACE_OK,
        {"adminPasswordSecretKmsKeyId": None},
        "AWS managed key",
    ),
    (
        "warehouse-audit-logging",
        RS_NAMESPACE,
        RS_NAMESPACE_OK,
        {"logExports": ["connectionlog", "userlog"]},
        "useractivitylog",
    ),
    ("warehouse-audit-logging", RS_NAMESPACE, RS_NAMESPACE_OK, {"logExports": None}, "connectionlog, userlog"),
]


RS_POOL_TRUST = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/ip-dev-us-east-1-warehouse-pool"}},
        }
    ]
}
RESOURCE_CASES += [
    (
        "warehouse-pool-inside-residency",
        "aws:iam/role:Role",
        {"assumeRolePolicy": json.dumps(RS_POOL_TRUST), "tags": {"tenant": "acme", "residency": "us-east-1+us-west-2"}},
        {"tags": {"tenant": "acme", "residency": "us-west-2"}},
        "outside its residency",
    ),
]


def test_warehouse_namespaces_are_protected_data_holders() -> None:
    assert resource_violations("stateful-resources-protected", RS_NAMESPACE, RS_NAMESPACE_OK, protect=True) == []
    (found,) = resource_violations("stateful-resources-protected", RS_NAMESPACE, RS_NAMESPACE_OK)
    assert "protect option" in found


def test_every_workgroup_needs_its_own_compute_usage_limit() -> None:
    from policies.tenant_guard.warehouse import usage_limited

    workgroup = Res(type=RS_WORKGROUP, urn="urn:w", name="w", props=RS_WORKGROUP_OK)
    other = Res(type=RS_WORKGROUP, urn="urn:o", name="o", props=RS_WORKGROUP_OK)
    limit = {"usageType": "serverless-compute", "amount": 100, "breachAction": "deactivate", "period": "monthly"}

    def limit_of(props: dict[str, Any], on: str = "urn:w") -> Res:
        return Res(
            type="aws:redshiftserverless/usageLimit:UsageLimit", urn="urn:l", name="l", props=props, dependencies=(on,)
        )

    assert list(usage_limited([workgroup, limit_of(limit)], {})) == []
    assert [u for _, u in usage_limited([workgroup, other, limit_of(limit)], {})] == ["urn:o"]
    assert [u for _, u in usage_limited([workgroup, limit_of({**limit, "breachAction": None})], {})] == ["urn:w"]
    assert [
        u for _, u in usage_limited([workgroup, limit_of({**limit, "usageType": "cross-region-datasharing"})], {})
    ] == ["urn:w"]


@pytest.mark.parametrize(("policy", "type_", "compliant", "change", "fragment"), RESOURCE_CASES)
def test_resource_rule_passes_compliant_and_catches_violation(
    policy: str, type_: str, compliant: dict[str, Any], change: dict[str, Any], fragment: str
) -> None:
    assert resource_violations(policy, type_, compliant) == []
    violating = {k: v for k, v in {**compliant, **change}.items() if v is not None}
    found = resource_violations(policy, type_, violating)
    assert len(found) == 1 and fragment in found[0], found


def test_rules_ignore_types_they_do_not_govern() -> None:
    assert resource_violations("rds-encrypted-with-customer-key", "aws:kms/key:Key", {}) == []


def test_protected_stateful_resources() -> None:
    assert resource_violations("stateful-resources-protected", "aws:rds/instance:Instance", RDS_OK, protect=True) == []
    assert resource_violations("stateful-resources-protected", "aws:kms/key:Key", {}, protect=False)
    # Only tenant namespaces hold tenant data.
    assert (
        resource_violations("stateful-resources-protected", "kubernetes:core/v1:Namespace", {"metadata": {"name": "x"}})
        == []
    )
    assert resource_violations("stateful-resources-protected", "kubernetes:core/v1:Namespace", NAMESPACE_OK)


def test_explicit_regional_provider() -> None:
    rule = "explicit-regional-provider"
    assert resource_violations(rule, "aws:ec2/vpc:Vpc", {}) == []
    assert (
        "default AWS provider" in resource_violations(rule, "aws:ec2/vpc:Vpc", {}, provider=("default_7_51_1", {}))[0]
    )
    assert "names no region" in resource_violations(rule, "aws:ec2/vpc:Vpc", {}, provider=("aws-x", {}))[0]
    # A resource-level region input wins over the provider's.
    assert resource_violations(rule, "aws:ec2/vpc:Vpc", {"region": "us-west-2"}, provider=("aws-x", {})) == []
    found = resource_violations(rule, "aws:ec2/vpc:Vpc", {}, config={"allowedRegions": ["us-west-2"]})
    assert "not an approved platform region" in found[0]
    assert resource_violations(rule, "aws:ec2/vpc:Vpc", {}, provider=None) == []  # components


def test_backup_minimum_comes_from_policy_config() -> None:
    found = resource_violations(
        "rds-deletion-safety", "aws:rds/instance:Instance", RDS_OK, config={"minBackupRetentionDays": 14}
    )
    assert found == ["automated backups are kept less than 14 days (backupRetentionPeriod)"]


def test_messages_never_echo_secret_values() -> None:
    found = resource_violations(
        "rds-managed-master-password", "aws:rds/instance:Instance", {**RDS_OK, "password": "s3cr3t-value"}
    )
    assert found and all("s3cr3t-value" not in m for m in found)


@pytest.mark.parametrize(
    ("policy", "type_", "props"),
    [
        (
            "eks-secrets-encryption",
            "eks:index:Cluster",
            {**EKS_COMPONENT_OK, "encryptionConfigKeyArn": UNKNOWN_STRING_VALUE},
        ),
        ("rds-encrypted-with-customer-key", "aws:rds/instance:Instance", {**RDS_OK, "kmsKeyId": UNKNOWN_STRING_VALUE}),
        (
            "no-public-ingress",
            "aws:ec2/securityGroup:SecurityGroup",
            {"ingress": [{"fromPort": 443, "toPort": 443, "cidrBlocks": UNKNOWN_ARRAY_VALUE}]},
        ),
    ],
)
def test_unknown_preview_values_are_not_violations(policy: str, type_: str, props: dict[str, Any]) -> None:
    """The SDK raises on reading an unknown; the engine turns that into a non-blocking 'cannot run
    during preview' note. The rule must not report a violation before reaching the unknown."""
    found: list[str] = []
    policy_object = next(p for p in POLICIES if p.name == policy)
    assert isinstance(policy_object, ResourceValidationPolicy) and callable(policy_object.validate)
    with pytest.raises(UnknownValueError):
        policy_object.validate(_args(type_, props), lambda message, urn=None: found.append(message))
    assert found == []


# ------------------------------------------------------------------------------ stack rules


def test_namespace_guardrails_unit() -> None:
    ns = Res("kubernetes:core/v1:Namespace", "urn:ns", "ns", NAMESPACE_OK)
    quota = Res(
        "kubernetes:core/v1:ResourceQuota",
        "urn:q",
        "q",
        {
            "metadata": {"namespace": "acme"},
            "spec": {
                "hard": {k: "1" for k in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "pods")}
            },
        },
    )
    limits = Res(
        "kubernetes:core/v1:LimitRange",
        "urn:l",
        "l",
        {
            "metadata": {"namespace": "acme"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "1"}}]},
        },
    )
    deny = Res(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "urn:d",
        "d",
        {"metadata": {"namespace": "acme"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
    )
    dns = Res(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "urn:n",
        "n",
        {
            "metadata": {"namespace": "acme"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53}]}]},
        },
    )
    assert list(namespace_guardrails([ns, quota, limits, deny, dns], {})) == []
    # A "deny" that allows everything is no default deny.
    allow_all = Res(
        deny.type,
        deny.urn,
        deny.name,
        {
            "metadata": {"namespace": "acme"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]},
        },
    )
    ((message, urn),) = list(namespace_guardrails([ns, quota, limits, allow_all, dns], {}))
    assert "default-deny" in message and urn == "urn:ns"
    # Guardrails in another namespace do not count.
    elsewhere = Res(quota.type, quota.urn, quota.name, {**quota.props, "metadata": {"namespace": "other"}})
    ((message, _),) = list(namespace_guardrails([ns, elsewhere, limits, deny, dns], {}))
    assert "ResourceQuota" in message


Mutation = Callable[[dict[str, Any]], None]


def _each(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    found = resources_of(plan, type_)
    assert found, f"the clean plan has no {type_}"
    return found


def _first(plan: dict[str, Any], type_: str, tenant: str | None = None, name: str | None = None) -> dict[str, Any]:
    return next(
        r
        for r in _each(plan, type_)
        if (tenant is None or r["tenant"] == tenant) and (name is None or name in r["name"])
    )


def _pool(plan: dict[str, Any], type_: str) -> dict[str, Any]:
    """The region's pooled warehouse (platform stack) resource of that type."""
    return next(r for r in _each(plan, type_) if r["tenant"] is None)


def _widen_irsa_trust(plan: dict[str, Any]) -> None:
    role = next(
        r for r in _each(plan, "aws:iam/role:Role") if "AssumeRoleWithWebIdentity" in r["inputs"]["assumeRolePolicy"]
    )
    document = json.loads(role["inputs"]["assumeRolePolicy"])
    condition = document["Statement"][0]["Condition"]
    condition["StringLike"] = condition.pop("StringEquals")
    role["inputs"]["assumeRolePolicy"] = json.dumps(document)


def _drop(plan: dict[str, Any], type_: str, name_part: str) -> None:
    plan["resources"] = [r for r in plan["resources"] if not (r["type"] == type_ and name_part in r["name"])]


def _pod(plan: dict[str, Any]) -> dict[str, Any]:
    return _first(plan, "kubernetes:apps/v1:Deployment")["inputs"]["spec"]["template"]["spec"]


def _container(plan: dict[str, Any]) -> dict[str, Any]:
    return _pod(plan)["containers"][0]


def _edit_policy(resource: dict[str, Any], statement: int = 0, **change: Any) -> None:
    document = json.loads(resource["inputs"]["policy"])
    document["Statement"][statement].update(change)
    resource["inputs"]["policy"] = json.dumps(document)


def _alert_reads_another_tenant(plan: dict[str, Any]) -> None:
    grafana = next(r for r in _each(plan, "kubernetes:helm.sh/v3:Release") if r["inputs"]["name"] == "grafana")
    group = grafana["inputs"]["values"]["alerting"]["rules.yaml"]["groups"][0]
    group["rules"][0]["data"][0]["datasourceUid"] = "metrics-demo-premium"


def _grafana_reads_two_tenants(plan: dict[str, Any]) -> None:
    grafana = next(r for r in _each(plan, "kubernetes:helm.sh/v3:Release") if r["inputs"]["name"] == "grafana")
    source = grafana["inputs"]["values"]["datasources"]["datasources.yaml"]["datasources"][3]
    source["secureJsonData"]["httpHeaderValue1"] = "demo-basic|demo-premium"


def _second_primary_db(plan: dict[str, Any]) -> None:
    db = copy.deepcopy(_first(plan, "aws:rds/instance:Instance", "demo-basic"))
    db["urn"] += "-2"
    db["name"] += "-2"
    plan["resources"].append(db)


def _platform_key_for_queue(plan: dict[str, Any]) -> None:
    queue = _first(plan, "aws:sqs/queue:Queue", "demo-basic")
    platform_key = next(r for r in _each(plan, "aws:kms/key:Key") if r["tenant"] is None)
    queue["options"]["dependsOn"] = [d for d in queue["options"]["dependsOn"] if "aws:kms/key:Key" not in d] + [
        platform_key["urn"]
    ]


def _other_tenant_dependency(plan: dict[str, Any]) -> None:
    _first(plan, "aws:sqs/queue:Queue", "demo-basic")["options"]["dependsOn"].append(
        _first(plan, "aws:iam/role:Role", "demo-premium")["urn"]
    )


def _views_admit_everyone(plan: dict[str, Any]) -> None:
    views = next(r for r in _each(plan, HELM) if r["inputs"]["name"] == "grafana-demo-basic")
    views["inputs"]["values"]["grafana.ini"]["auth.generic_oauth"]["allowed_groups"] = "staff"


def _second_origin_without_failover(plan: dict[str, Any]) -> None:
    """demo-premium may live in us-west-2 too: a second origin there, but no origin group."""
    origins = _first(plan, CF, "demo-premium")["inputs"]["origins"]
    origins.append(
        {**origins[0], "originId": "us-west-2", "domainName": "demo-premium-origin-us-west-2.dev.insure.example.com"}
    )


def _public_function(plan: dict[str, Any]) -> None:
    """A resource policy on demo-basic's carrier processor that lets anyone invoke it."""
    function = _first(plan, "aws:lambda/function:Function", "demo-basic")
    permission = copy.deepcopy(function)
    permission.update(
        type="aws:lambda/permission:Permission",
        name=function["name"].replace("-fn", "-public"),
        urn=function["urn"]
        .replace("aws:lambda/function:Function", "aws:lambda/permission:Permission")
        .replace("-fn", "-public"),
        inputs={"action": "lambda:InvokeFunction", "function": function["inputs"]["name"], "principal": "*"},
    )
    permission["options"]["dependsOn"] = [function["urn"]]
    plan["resources"].append(permission)


def _zip_on_old_runtime(plan: dict[str, Any]) -> None:
    inputs = _first(plan, "aws:lambda/function:Function", "demo-basic")["inputs"]
    inputs.pop("imageUri")
    inputs.update(packageType="Zip", runtime="python3.8", handler="app.handler", s3Bucket="b", s3Key="k")


MUTATIONS: dict[str, Mutation] = {
    "tenant-writes-stay-its-own": lambda p: _first(p, "kubernetes:velero.io/v1:Schedule", "demo-basic")["inputs"][
        "spec"
    ]["template"].update(includedNamespaces=["demo-premium"]),
    "rds-encrypted-with-customer-key": lambda p: _first(p, "aws:rds/instance:Instance")["inputs"].update(
        storageEncrypted=False
    ),
    "rds-tls-required": lambda p: _first(p, "aws:rds/parameterGroup:ParameterGroup")["inputs"]["parameters"][0].update(
        value="0"
    ),
    "eks-secrets-encryption": lambda p: _first(p, "eks:index:Cluster")["inputs"].pop("encryptionConfigKeyArn"),
    "kms-key-rotation": lambda p: _first(p, "aws:kms/key:Key")["inputs"].update(enableKeyRotation=False),
    "rds-not-publicly-accessible": lambda p: _first(p, "aws:rds/instance:Instance")["inputs"].update(
        publiclyAccessible=True
    ),
    "eks-private-endpoint": lambda p: _first(p, "eks:index:Cluster")["inputs"].update(endpointPublicAccess=True),
    "no-public-ingress": lambda p: _first(p, "aws:ec2/securityGroup:SecurityGroup")["inputs"]["ingress"][0].update(
        cidrBlocks=["0.0.0.0/0"]
    ),
    "vpc-flow-logs": lambda p: _drop(p, "aws:ec2/flowLog:FlowLog", ""),
    "rds-managed-master-password": lambda p: _first(p, "aws:rds/instance:Instance")["inputs"].update(
        manageMasterUserPassword=False
    ),
    "eks-api-authentication": lambda p: _first(p, "eks:index:Cluster")["inputs"].update(
        authenticationMode="API_AND_CONFIG_MAP"
    ),
    "eks-control-plane-logging": lambda p: _first(p, "eks:index:Cluster")["inputs"].update(
        enabledClusterLogTypes=["api"]
    ),
    "rds-deletion-safety": lambda p: _first(p, "aws:rds/instance:Instance")["inputs"].update(deletionProtection=False),
    "stateful-resources-protected": lambda p: _first(p, "aws:kms/key:Key")["options"].update(protect=False),
    "tenant-namespace-guardrails": lambda p: _drop(p, "kubernetes:core/v1:LimitRange", "demo-basic"),
    "tenant-namespace-pod-security": lambda p: _first(p, "kubernetes:core/v1:Namespace", "demo-basic")["inputs"][
        "metadata"
    ]["labels"].update({"pod-security.kubernetes.io/enforce": "baseline"}),
    "node-hardening": lambda p: _first(p, "aws:ec2/launchTemplate:LaunchTemplate")["inputs"]["metadataOptions"].update(
        httpTokens="optional"
    ),
    "helm-releases-pinned": lambda p: _first(p, "kubernetes:helm.sh/v3:Release")["inputs"].update(version="^3.0"),
    "eks-addons-pinned": lambda p: _first(p, "aws:eks/addon:Addon")["inputs"].pop("addonVersion"),
    "irsa-trust-pinned": _widen_irsa_trust,
    "namespace-pod-security-level": lambda p: _first(p, "kubernetes:core/v1:Namespace", None, "keda")["inputs"][
        "metadata"
    ]["labels"].pop("pod-security.kubernetes.io/enforce"),
    "redis-encrypted-and-authenticated": lambda p: _first(p, "aws:elasticache/replicationGroup:ReplicationGroup")[
        "inputs"
    ].update(transitEncryptionMode="preferred"),
    "redis-high-availability": lambda p: _first(p, "aws:elasticache/replicationGroup:ReplicationGroup")[
        "inputs"
    ].update(multiAzEnabled=False),
    "load-balancer-hygiene": lambda p: _first(p, "aws:lb/loadBalancer:LoadBalancer")["inputs"]["accessLogs"].update(
        enabled=False
    ),
    "listener-tls": lambda p: _first(p, "aws:lb/listener:Listener", None, "entry-https")["inputs"].update(
        sslPolicy="ELBSecurityPolicy-2016-08"
    ),
    "waf-on-public-entry": lambda p: _drop(p, "aws:wafv2/webAclAssociation:WebAclAssociation", "entry"),
    "s3-bucket-encrypted": lambda p: _first(p, "aws:s3/bucket:Bucket", None, "entry-access-logs")["inputs"]["tags"].pop(
        "purpose"
    ),
    "s3-bucket-baseline": lambda p: _first(p, "aws:s3/bucketVersioning:BucketVersioning")["inputs"][
        "versioningConfiguration"
    ].update(status="Suspended"),
    "log-groups-encrypted-retained": lambda p: _first(p, "aws:cloudwatch/logGroup:LogGroup")["inputs"].update(
        retentionInDays=30
    ),
    "tenant-resources-attributed": lambda p: _first(p, "aws:ec2/securityGroup:SecurityGroup", "demo-basic")["inputs"][
        "tags"
    ].pop("tier"),
    "tenant-data-residency": lambda p: _first(p, "aws:kms/key:Key", "demo-basic")["inputs"].update(region="us-west-2"),
    "explicit-regional-provider": lambda p: _first(p, "aws:ec2/vpc:Vpc").update(provider=None),
    "workload-security-context": lambda p: _container(p)["securityContext"].update(privileged=True),
    "workload-resources": lambda p: _container(p)["resources"].pop("limits"),
    "workload-image-provenance": lambda p: _container(p).update(image="nginx:latest"),
    "service-account-token": lambda p: _pod(p).update(automountServiceAccountToken=True),
    "secrets-as-files": lambda p: (
        _container(p)
        .setdefault("env", [])
        .append({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}})
    ),
    "no-loadbalancer-services": lambda p: _first(p, "kubernetes:core/v1:Service")["inputs"]["spec"].update(
        type="LoadBalancer"
    ),
    "no-default-namespace": lambda p: _first(p, "kubernetes:core/v1:ConfigMap")["inputs"]["metadata"].update(
        namespace="default"
    ),
    "iam-least-privilege": lambda p: _edit_policy(
        _first(p, "aws:iam/rolePolicy:RolePolicy", None, "secrets-operator"), Action="secretsmanager:*"
    ),
    "no-admin-policies": lambda p: _first(p, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")["inputs"].update(
        policyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    ),
    "rbac-least-privilege": lambda p: _first(p, "kubernetes:rbac.authorization.k8s.io/v1:Role")["inputs"]["rules"][
        0
    ].update(verbs=["*"]),
    "cognito-mfa-and-strong-passwords": lambda p: _first(p, "aws:cognito/userPool:UserPool")["inputs"].update(
        mfaConfiguration="OPTIONAL"
    ),
    "messaging-encrypted-with-customer-key": lambda p: _first(p, "aws:sqs/queue:Queue")["inputs"].update(
        kmsMasterKeyId="alias/aws/sqs"
    ),
    "event-streams-encrypted-with-customer-key": lambda p: _first(p, KINESIS)["inputs"].update(
        kmsKeyId="alias/aws/kinesis"
    ),
    # a platform bucket: on a tenant's queue MT-9 (principals named) fires as well
    "resource-policies-not-public": lambda p: _edit_policy(
        next(r for r in _each(p, "aws:s3/bucketPolicy:BucketPolicy") if not r["tenant"]),
        1,
        Principal="*",
        Condition={},
    ),
    "network-policies-stay-in-tenant": lambda p: _first(
        p, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "demo-basic", "allow-dns"
    )["inputs"]["spec"]["egress"][0]["to"][0].update(namespaceSelector={}),
    "tenant-api-routes-own-prefix": lambda p: _first(
        p, "kubernetes:networking.k8s.io/v1:Ingress", "demo-basic", "api-route"
    )["inputs"]["spec"]["rules"][0]["http"]["paths"][0].update(path="/tenants/demo-premium/"),
    "bindings-stay-in-tenant": lambda p: _first(p, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "demo-basic")[
        "inputs"
    ]["subjects"].append(
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "tenant:demo-premium:operators"}
    ),
    "one-database-per-tenant": _second_primary_db,
    "observability-tenant-isolation": _grafana_reads_two_tenants,
    "tenant-alarm-coverage": lambda p: _drop(
        p, "aws:cloudwatch/metricAlarm:MetricAlarm", "demo-basic-observability-db-cpu"
    ),
    "audit-trail": lambda p: _first(p, "aws:cloudtrail/trail:Trail")["inputs"].update(enableLogFileValidation=False),
    "audit-records-write-once": lambda p: _drop(
        p, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", ""
    ),
    "dr-copies-inside-residency": lambda p: _first(p, "aws:backup/plan:Plan", "demo-basic")["inputs"]["rules"][
        0
    ].update(
        copyActions=[
            {
                "destinationVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:x",
                "lifecycle": {"deleteAfter": 7},
            }
        ]
    ),
    "tenant-data-uses-own-key": _platform_key_for_queue,
    "no-cross-tenant-references": _other_tenant_dependency,
    "front-end-hardening": lambda p: _first(p, CF)["inputs"]["viewerCertificate"].update(
        minimumProtocolVersion="TLSv1"
    ),
    "front-end-failover": _second_origin_without_failover,
    "tenant-views-access": _views_admit_everyone,
    "front-end-origins-inside-residency": lambda p: _first(p, CF, "demo-basic")["inputs"]["origins"][0].update(
        domainName="demo-basic-origin-us-west-2.dev.insure.example.com"
    ),
    "tenant-resource-policies-name-principals": lambda p: _edit_policy(
        _first(p, "aws:sqs/queuePolicy:QueuePolicy", "demo-basic"),
        Principal={"AWS": "arn:aws:iam::123456789012:root"},
        Condition={"StringEquals": {"aws:PrincipalAccount": "123456789012"}},
    ),
    "lambda-no-public-access": _public_function,
    "lambda-supported-runtime": _zip_on_old_runtime,
    "lambda-in-vpc": lambda p: _first(p, "aws:lambda/function:Function", "demo-basic")["inputs"].pop("vpcConfig"),
    "lambda-multi-az": lambda p: _first(p, "aws:lambda/function:Function", "demo-basic")["inputs"]["vpcConfig"].update(
        subnetIds=_first(p, "aws:lambda/function:Function", "demo-basic")["inputs"]["vpcConfig"]["subnetIds"][:1]
    ),
    "lambda-environment-encrypted": lambda p: _first(p, "aws:lambda/function:Function", "demo-basic")["inputs"].pop(
        "kmsKeyArn"
    ),
    "lambda-active-tracing": lambda p: _first(p, "aws:lambda/function:Function", "demo-basic")["inputs"].update(
        tracingConfig={"mode": "PassThrough"}
    ),
    "lambda-queue-failure-handling": lambda p: _first(
        p, "aws:lambda/eventSourceMapping:EventSourceMapping", "demo-basic"
    )["inputs"].update(functionResponseTypes=[]),
    "cache-users-confined": lambda p: _first(p, "aws:elasticache/user:User", None, "default")["inputs"].update(
        accessString="on ~* +@all"
    ),
    "dynamodb-encrypted-with-customer-key": lambda p: _first(p, TABLE, "demo-basic")["inputs"].update(
        serverSideEncryption={"enabled": True, "kmsKeyArn": "alias/aws/dynamodb"}
    ),
    "dynamodb-point-in-time-recovery": lambda p: _first(p, TABLE, "demo-basic")["inputs"].update(
        pointInTimeRecovery={"enabled": False}
    ),
    "dynamodb-deletion-protection": lambda p: _first(p, TABLE, "demo-basic")["inputs"].update(
        deletionProtectionEnabled=False
    ),
    "dynamodb-capacity-scales": lambda p: _first(p, TABLE, "demo-basic")["inputs"].update(
        billingMode="PROVISIONED", readCapacity=5, writeCapacity=5
    ),
    "dynamodb-in-backup-plan": lambda p: _first(p, "aws:backup/selection:Selection", "demo-basic")["inputs"].update(
        resources=[
            r
            for r in _first(p, "aws:backup/selection:Selection", "demo-basic")["inputs"]["resources"]
            if ":table/" not in r
        ]
    ),
    "apigateway-execution-logging": lambda p: _first(p, "aws:apigateway/methodSettings:MethodSettings")["inputs"][
        "settings"
    ].update(loggingLevel="OFF"),
    "apigateway-backend-certificate": lambda p: _first(p, "aws:apigateway/stage:Stage")["inputs"].pop(
        "clientCertificateId"
    ),
    "apigateway-xray-tracing": lambda p: _first(p, "aws:apigateway/stage:Stage")["inputs"].update(
        xrayTracingEnabled=False
    ),
    "apigateway-waf": lambda p: _drop(p, "aws:wafv2/webAclAssociation:WebAclAssociation", "api-waf"),
    "apigateway-cache-encrypted": lambda p: _first(p, "aws:apigateway/methodSettings:MethodSettings")["inputs"][
        "settings"
    ].update(cachingEnabled=True),
    "apigateway-method-authorized": lambda p: _first(p, "aws:apigateway/method:Method")["inputs"].update(
        authorization="NONE", authorizerId=None
    ),
    "apigateway-access-logging": lambda p: _first(p, "aws:apigateway/stage:Stage")["inputs"].pop("accessLogSettings"),
    "apigateway-private-tls-backend": lambda p: _first(p, "aws:apigateway/integration:Integration")["inputs"].update(
        uri="http://api.dev.insure.example.com/{proxy}"
    ),
    # demo-basic's key also joins the premium plan: a second usage plan key for the same key
    "apigateway-key-per-tenant": lambda p: p["resources"].append(
        {
            **copy.deepcopy(_first(p, "aws:apigateway/usagePlanKey:UsagePlanKey", "demo-basic")),
            "urn": "urn:extra-plan-key",
        }
    ),
    "apigateway-usage-plan-limits": lambda p: _first(p, "aws:apigateway/usagePlan:UsagePlan")["inputs"].pop(
        "throttleSettings"
    ),
    # the dev plan promoted to prod: demo-basic's tier database is single-AZ
    "rds-multi-az-in-production": lambda p: _first(p, "aws:rds/instance:Instance", "demo-basic")["inputs"][
        "tags"
    ].update(environment="prod"),
    # Redshift Serverless (demo-premium's own warehouse, the region's pool)
    "warehouse-enhanced-vpc-routing": lambda p: _first(p, RS_WORKGROUP, "demo-premium")["inputs"].update(
        enhancedVpcRouting=False
    ),
    "warehouse-requires-ssl": lambda p: _first(p, RS_WORKGROUP, "demo-premium")["inputs"].update(
        configParameters=[RS_PARAMETERS[0], {"parameterKey": "require_ssl", "parameterValue": "false"}]
    ),
    "warehouse-private": lambda p: _first(p, RS_WORKGROUP, "demo-premium")["inputs"].update(publiclyAccessible=True),
    "warehouse-user-activity-logged": lambda p: _pool(p, RS_WORKGROUP)["inputs"].update(
        configParameters=[RS_PARAMETERS[1]]
    ),
    "warehouse-encrypted-with-customer-key": lambda p: _pool(p, RS_NAMESPACE)["inputs"].update(
        kmsKeyId="arn:aws:kms:us-east-1:123456789012:alias/aws/redshift"
    ),
    "warehouse-admin-managed": lambda p: _first(p, RS_NAMESPACE, "demo-premium")["inputs"].update(
        adminUsername="admin"
    ),
    "warehouse-audit-logging": lambda p: _pool(p, RS_NAMESPACE)["inputs"].update(
        logExports=["connectionlog", "userlog"]
    ),
    "warehouse-usage-limited": lambda p: _drop(p, "aws:redshiftserverless/usageLimit:UsageLimit", "demo-premium"),
    "warehouse-pool-inside-residency": lambda p: _first(p, "aws:iam/role:Role", "demo-basic", "-wh-load")[
        "inputs"
    ].update(
        assumeRolePolicy=_first(p, "aws:iam/role:Role", "demo-basic", "-wh-load")["inputs"]["assumeRolePolicy"].replace(
            "us-east-1-warehouse-pool", "eu-west-1-warehouse-pool"
        )
    ),
}


def test_missing_service_alarm_is_an_alarm_coverage_violation(plans: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(plans["dev"])
    _drop(broken, "aws:cloudwatch/metricAlarm:MetricAlarm", "demo-basic-observability-service-latency")
    (violation,) = evaluate(broken, DEV_CONFIG)
    assert violation["ruleId"] == "OBS-1" and violation["tenant"] == "demo-basic"
    assert violation["message"] == "tenant 'demo-basic' services have no alarm on service-latency"


def test_every_rule_has_a_mutation() -> None:
    assert set(MUTATIONS) == {rule.name for rule in RULES}


@pytest.mark.parametrize("policy", sorted(MUTATIONS))
def test_exactly_the_rule_fires_on_exactly_its_violation(plans: dict[str, dict[str, Any]], policy: str) -> None:
    clean = plans["dev"]
    assert evaluate(clean, DEV_CONFIG) == []
    broken = copy.deepcopy(clean)
    MUTATIONS[policy](broken)
    fired = {v["policy"] for v in evaluate(broken, DEV_CONFIG)}
    assert fired == {policy}


def test_violations_carry_tenant_rule_frameworks_and_remediation(plans: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(plans["dev"])
    MUTATIONS["tenant-data-residency"](broken)
    (violation,) = evaluate(broken, DEV_CONFIG)
    assert violation["tenant"] == "demo-basic"
    assert violation["ruleId"] == "RES-1" and violation["severity"] == "critical"
    assert violation["enforcementLevel"] == "mandatory"
    assert (
        violation["message"]
        == "tenant 'demo-basic' data would be stored in us-west-2, outside its residency (us-east-1)"
    )
    assert violation["frameworks"] and violation["remediation"]
    assert violation["urn"].endswith("aws:kms/key:Key::tenant-demo-basic-key")


def _registry(**changes: list[str] | None) -> dict[str, Any]:
    config = copy.deepcopy(DEV_CONFIG)
    registry = config["tenant-data-residency"]["residency"]
    for tenant, regions in changes.items():
        if regions is None:
            registry.pop(tenant.replace("_", "-"))
        else:
            registry[tenant.replace("_", "-")] = regions
    return config


def test_residency_registry_in_policy_config_is_authoritative(plans: dict[str, dict[str, Any]]) -> None:
    found = evaluate(plans["dev"], _registry(demo_standard=["us-west-2"]))
    assert found and {v["tenant"] for v in found} == {"demo-standard"}
    assert {v["policy"] for v in found} == {"tenant-data-residency"}
    assert any("which the compliance registry does not allow" in v["message"] for v in found)
    assert any("data would be stored in us-east-1" in v["message"] for v in found)


def test_catalog_residency_wider_than_the_registry_is_a_violation(plans: dict[str, dict[str, Any]]) -> None:
    # demo-standard's catalog allows us-east-1 and us-west-2; compliance registered only us-east-1.
    (finding,) = evaluate(plans["dev"], _registry(demo_standard=["us-east-1"]))
    assert (
        finding["message"]
        == "tenant 'demo-standard' declares residency in us-west-2, which the compliance registry does not allow "
        "(tenant-data-residency.residency.demo-standard in policies/config/dev.json)"
    )
    assert finding["tenant"] == "demo-standard" and finding["urn"].endswith("Namespace::tenant-demo-standard-ns")


def test_unregistered_tenant_and_missing_registry_are_violations(plans: dict[str, dict[str, Any]]) -> None:
    missing = evaluate(plans["dev"], _registry(demo_basic=None))
    # The console line says which file and key to add, with the entry the catalog implies.
    assert any(
        v["message"] == "tenant 'demo-basic' is not in the compliance residency registry: add "
        '"demo-basic": ["us-east-1"] under tenant-data-residency.residency in policies/config/dev.json '
        "in the same pull request (`make onboard` writes both)"
        for v in missing
    ), [v["message"] for v in missing]
    no_registry = evaluate(plans["dev"], {})
    assert [v["message"] for v in no_registry if v["urn"] is None] == [
        "no residency registry is configured: compliance must pass policies/config/<environment>.json"
    ]


def test_environment_configs_match_their_schema() -> None:
    import jsonschema

    schema = json.loads((ROOT / "policies" / "config" / "schema.json").read_text())
    for environment in ("dev", "prod"):
        jsonschema.validate(environment_config(environment), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tenant-data-residency": {"residency": {"x": []}}}, schema)


def test_enforcement_levels_follow_pack_config(plans: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(plans["dev"])
    MUTATIONS["kms-key-rotation"](broken)
    assert evaluate(broken, {**DEV_CONFIG, "kms-key-rotation": "advisory"})[0]["enforcementLevel"] == "advisory"
    assert evaluate(broken, {"all": "disabled"}) == []
    assert (
        effective_level("x", EnforcementLevel.MANDATORY, {"x": {"enforcementLevel": "advisory"}})
        == EnforcementLevel.ADVISORY
    )


def test_pack_metadata_is_complete() -> None:
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python" and pack["version"]
    assert PACK_NAME == "tenant-guard"
    for rule in RULES:
        assert rule.id and rule.title and len(rule.description) > 40 and rule.remediation
        assert rule.frameworks, rule.id
        assert (rule.check is None) == rule.is_stack_rule
    for policy in POLICIES:
        rule = RULES_BY_NAME[policy.name]
        expected = StackValidationPolicy if rule.is_stack_rule else ResourceValidationPolicy
        assert isinstance(policy, expected)
        assert policy.enforcement_level == rule.enforcement
        assert policy.description.startswith(f"[{rule.id}]")


def test_pack_entry_point_serves_the_same_policies() -> None:
    source = (ROOT / "policies" / "__main__.py").read_text()
    assert "from tenant_guard.pack import PACK_NAME, POLICIES" in source
    assert json.dumps(sorted(p.name for p in POLICIES)) == json.dumps(sorted(r.name for r in RULES))


def _unknown_like(value: Any) -> Any:
    from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE

    if isinstance(value, bool):
        return UNKNOWN_BOOLEAN_VALUE
    if isinstance(value, (int, float)):
        return UNKNOWN_NUMBER_VALUE
    if isinstance(value, list):
        return UNKNOWN_ARRAY_VALUE
    return UNKNOWN_STRING_VALUE


@pytest.mark.parametrize(("policy", "type_", "compliant", "change", "fragment"), RESOURCE_CASES)
def test_no_false_violation_when_any_input_is_unknown_at_preview(
    policy: str, type_: str, compliant: dict[str, Any], change: dict[str, Any], fragment: str
) -> None:
    """Whatever compliant input is still unknown during a preview, the rule reports nothing (the
    engine turns the SDK's UnknownValueError into a non-blocking note)."""
    del change, fragment
    policy_object = next(p for p in POLICIES if p.name == policy)
    assert isinstance(policy_object, ResourceValidationPolicy) and callable(policy_object.validate)
    for key, value in compliant.items():
        found: list[str] = []
        props = {**compliant, key: _unknown_like(value)}

        def report(message: str, urn: str | None = None, found: list[str] = found) -> None:
            found.append(message)

        with contextlib.suppress(UnknownValueError):
            policy_object.validate(_args(type_, props), report)
        assert found == [], f"{policy}: unknown {key} reported {found}"


def test_tenant_alert_rules_may_query_only_their_own_tenant(plans: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(plans["dev"])
    _alert_reads_another_tenant(broken)
    (violation,) = evaluate(broken, DEV_CONFIG)
    assert violation["ruleId"] == "OBS-2" and "metrics-demo-premium" in violation["message"]


def test_rule_table_is_generated_from_the_rules() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    assert rule_table(RULES) in page, "run `make docs`"
    for rule in RULES:
        assert f"| {rule.id} | {rule.name}" in page
