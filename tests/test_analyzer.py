"""The pack through CrossGuard's own analyzer (the gRPC servicer `pulumi preview --policy-pack`
talks to), driven in-process: enforcement levels, pack configuration, preview unknowns and stack
policies behave as the engine will see them."""

from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.tenant_guard.pack import PACK_NAME, POLICIES
from tests.test_policies import EKS_COMPONENT_OK, RDS_OK

PROVIDER = proto.AnalyzerProviderResource(
    type="pulumi:providers:aws",
    urn="urn:pulumi:prod::p::pulumi:providers:aws::aws-us-east-1",
    name="aws-us-east-1",
    properties=json_format.ParseDict({"region": "us-east-1"}, struct_pb2.Struct()),
)


def analyzer(config: dict[str, Any] | None = None) -> Any:
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", POLICIES, EnforcementLevel.ADVISORY)
    if config:
        request = proto.ConfigureAnalyzerRequest()
        for name, value in config.items():
            level, properties = (
                (value, {}) if isinstance(value, str) else (value.pop("enforcementLevel", "mandatory"), value)
            )
            entry = request.policyConfig[name]
            entry.enforcementLevel = proto.EnforcementLevel.Value(level.upper())
            entry.properties.CopyFrom(json_format.ParseDict(properties, struct_pb2.Struct()))
        servicer.Configure(request, None)
    return servicer


def analyze(servicer: Any, type_: str, props: dict[str, Any], protect: bool = True) -> list[Any]:
    request = proto.AnalyzeRequest(
        type=type_,
        urn=f"urn:pulumi:prod::p::{type_}::r",
        name="r",
        properties=json_format.ParseDict(props, struct_pb2.Struct()),
        options=proto.AnalyzerResourceOptions(protect=protect),
        provider=PROVIDER,
    )
    return list(servicer.Analyze(request, None).diagnostics)


def test_compliant_resources_produce_no_diagnostics() -> None:
    assert analyze(analyzer(), "aws:rds/instance:Instance", RDS_OK) == []
    assert analyze(analyzer(), "eks:index:Cluster", EKS_COMPONENT_OK) == []


def test_violation_carries_pack_level_severity_and_the_rule_description() -> None:
    (diagnostic,) = analyze(analyzer(), "aws:rds/instance:Instance", {**RDS_OK, "publiclyAccessible": True})
    assert diagnostic.policyName == "rds-not-publicly-accessible"
    assert diagnostic.policyPackName == PACK_NAME
    assert diagnostic.enforcementLevel == proto.MANDATORY  # the rule's own level beats the pack default
    assert diagnostic.description.startswith("[NET-RDS-1]")
    assert "publiclyAccessible" in diagnostic.message


def test_pack_config_can_lower_or_disable_a_rule_and_set_its_parameters() -> None:
    public = {**RDS_OK, "publiclyAccessible": True}
    (lowered,) = analyze(analyzer({"rds-not-publicly-accessible": "advisory"}), "aws:rds/instance:Instance", public)
    assert lowered.enforcementLevel == proto.ADVISORY
    assert analyze(analyzer({"rds-not-publicly-accessible": "disabled"}), "aws:rds/instance:Instance", public) == []
    configured = analyzer({"rds-deletion-safety": {"enforcementLevel": "mandatory", "minBackupRetentionDays": 14}})
    (retention,) = analyze(configured, "aws:rds/instance:Instance", RDS_OK)
    assert "less than 14 days" in retention.message


def test_preview_unknowns_become_an_advisory_note_not_a_violation() -> None:
    notes = analyze(
        analyzer(), "eks:index:Cluster", {**EKS_COMPONENT_OK, "encryptionConfigKeyArn": UNKNOWN_STRING_VALUE}
    )
    (note,) = notes
    assert note.enforcementLevel == proto.ADVISORY and "during preview" in note.message


def test_protect_option_reaches_the_rule() -> None:
    (unprotected,) = analyze(analyzer(), "aws:kms/key:Key", {"enableKeyRotation": True}, protect=False)
    assert unprotected.policyName == "stateful-resources-protected"


@pytest.mark.parametrize("level", ["mandatory", "advisory"])
def test_stack_policies_through_the_analyzer(level: str) -> None:
    namespace = proto.AnalyzerResource(
        type="kubernetes:core/v1:Namespace",
        urn="urn:pulumi:prod::p::kubernetes:core/v1:Namespace::acme",
        name="acme",
        properties=json_format.ParseDict(
            {
                "metadata": {
                    "name": "acme",
                    "labels": {"tenant": "acme", "pod-security.kubernetes.io/enforce": "restricted"},
                }
            },
            struct_pb2.Struct(),
        ),
        options=proto.AnalyzerResourceOptions(protect=True),
    )
    servicer = analyzer({"tenant-namespace-guardrails": level})
    diagnostics = list(servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[namespace]), None).diagnostics)
    (guardrails,) = [d for d in diagnostics if d.policyName == "tenant-namespace-guardrails"]
    assert guardrails.urn == namespace.urn and "lacks a ResourceQuota" in guardrails.message
    assert guardrails.enforcementLevel == proto.EnforcementLevel.Value(level.upper())
