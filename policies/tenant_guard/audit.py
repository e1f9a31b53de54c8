"""Audit trail: control-plane logging."""

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .encryption import EKS_CLUSTER, EKS_COMPONENT
from .frameworks import cis_eks, fsbp, naic, nydfs
from .props import get
from .rule import Res, Rule

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def eks_logging(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    enabled = set(get(r.props, "enabledClusterLogTypes") or [])
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


RULES = (
    Rule(
        id="LOG-EKS-1",
        name="eks-control-plane-logging",
        title="All EKS control-plane logs are on",
        summary="all five control-plane log types",
        description="The cluster sends all five control-plane log types (api, audit, authenticator, controllerManager, scheduler) to CloudWatch, the audit trail of every Kubernetes API call.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.6"), naic("i"), cis_eks("2.1.1"), fsbp("EKS.8")),
        remediation="Set enabledClusterLogTypes to all five types; the Cluster component pre-creates the KMS-encrypted log group with retention.",
        resource_types=(EKS_COMPONENT, EKS_CLUSTER),
        check=eks_logging,
    ),
)
