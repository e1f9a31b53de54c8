"""Identity and access: managed database credentials, API-mode cluster authentication."""

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .encryption import EKS_CLUSTER, EKS_COMPONENT, RDS
from .frameworks import cis_eks, fsbp, glba, naic, nydfs
from .props import get, tags_of
from .rule import Res, Rule


def rds_managed_password(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if get(r.props, "replicateSourceDb"):
        return  # replicas take their credentials from the source
    if get(r.props, "password"):
        yield "a master password is set in code or config: use manageMasterUserPassword so Secrets Manager owns and rotates it"
    elif get(r.props, "manageMasterUserPassword") is True:
        return
    elif get(r.props, "passwordWo") and tags_of(r.props).get("replication-source") == "true":
        # RDS refuses replicas of a source whose password it manages: the password comes
        # write-only from a platform-owned secret (MasterCredentials), versioned for rotation.
        if get(r.props, "passwordWoVersion") is None:
            yield "a write-only master password without passwordWoVersion cannot be rotated"
    else:
        yield "the master password is not managed by Secrets Manager: set manageMasterUserPassword to true"


def eks_api_authentication(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    path = "authenticationMode" if r.type == EKS_COMPONENT else "accessConfig.authenticationMode"
    if get(r.props, path) != "API":
        yield "cluster access is not managed by EKS access entries alone: set the authentication mode to API (no aws-auth ConfigMap)"


RULES = (
    Rule(
        id="IAM-RDS-1",
        name="rds-managed-master-password",
        title="Database master credentials are managed, never literal",
        summary="Secrets Manager owns the password; none in code",
        description="No database master password appears in code, config or state; Secrets Manager generates, encrypts (tenant key) and rotates it. A replication source (RDS refuses managed passwords there) takes it write-only from a platform-owned secret, versioned for rotation.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a"), glba("1"), fsbp("RDS.10")),
        remediation="Remove password; set manageMasterUserPassword: true and masterUserSecretKmsKeyId to the tenant key.",
        resource_types=(RDS,),
        check=rds_managed_password,
    ),
    Rule(
        id="IAM-EKS-1",
        name="eks-api-authentication",
        title="Cluster access through EKS access entries",
        summary="EKS access entries only (mode API)",
        description="The cluster authenticates IAM principals only through EKS access entries (authentication mode API), so every grant is an auditable AWS resource with a scope.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), cis_eks("5.5.1")),
        remediation="Set authenticationMode: API and grant administrators through accessEntries with scoped access policies.",
        resource_types=(EKS_COMPONENT, EKS_CLUSTER),
        check=eks_api_authentication,
    ),
)
