"""Redshift Serverless: the analytics warehouse (the region's pool and premium tenants' own) follows
AWS Security Hub's RedshiftServerless controls and the platform's own: a compute usage limit on
every workgroup.

Controls (https://docs.aws.amazon.com/securityhub/latest/userguide/redshiftserverless-controls.html,
read 2026-11): .1 workgroups use enhanced VPC routing; .2 connections require SSL (`require_ssl`);
.3 workgroups prohibit public access; .4 namespaces are encrypted with customer managed KMS keys;
.5 namespaces do not use the default admin username (`admin`); .6 namespaces export connection and
user logs to CloudWatch Logs."""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, glba, naic, nydfs, residency_law
from .props import as_list, get, tags_of
from .rule import Res, Rule, of_types

NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
USAGE_LIMIT = "aws:redshiftserverless/usageLimit:UsageLimit"
REQUIRED_LOGS = ("connectionlog", "userlog", "useractivitylog")
DEFAULT_ADMIN = "admin"
SECRET = "[secret]"  # how a plan shows a secret input (the value is set, not readable here)


def _parameters(r: Res) -> dict[str, str]:
    return {
        str(get(p, "parameterKey")): str(get(p, "parameterValue")).lower()
        for p in as_list(get(r.props, "configParameters"))
    }


def enhanced_vpc_routing(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """RedshiftServerless.1: COPY and UNLOAD go through the VPC (its S3 gateway endpoint)."""
    if get(r.props, "enhancedVpcRouting") is not True:
        yield "enhanced VPC routing is off: COPY and UNLOAD would leave the VPC (set enhancedVpcRouting)"


def require_ssl(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """RedshiftServerless.2: the workgroup refuses clients without TLS."""
    if _parameters(r).get("require_ssl") != "true":
        yield "the workgroup accepts unencrypted connections: set config parameter require_ssl to true"


def private_workgroup(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """RedshiftServerless.3, and where the endpoint lives: the VPC's subnets under a security group."""
    if get(r.props, "publiclyAccessible") is not False:
        yield "the workgroup may be reached from the internet: set publiclyAccessible to false"
    if not as_list(get(r.props, "subnetIds")):
        yield "the workgroup names no subnets: its endpoint would land in the default VPC"
    if not as_list(get(r.props, "securityGroupIds")):
        yield "the workgroup has no security group of its own (the VPC's default group would apply)"


def namespace_encrypted(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """RedshiftServerless.4: data under a customer managed key (an ARN, not an AWS managed alias)."""
    key = str(get(r.props, "kmsKeyId") or "")
    if not key or "alias/aws/" in key or key == "AWS_OWNED_KMS_KEY":
        yield "the namespace is not encrypted with a customer managed KMS key (kmsKeyId)"


def managed_admin(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """RedshiftServerless.5 and the admin's password: a non-default admin user whose password
    Secrets Manager generates and rotates under a customer managed key; none in the program."""
    if str(get(r.props, "adminUsername") or "").lower() == DEFAULT_ADMIN:
        yield "the namespace uses the default admin username 'admin'"
    if get(r.props, "manageAdminPassword") is not True:
        yield "the admin password is not managed by Secrets Manager (set manageAdminPassword)"
    if get(r.props, "adminUserPassword") or get(r.props, "adminUserPasswordWo"):
        yield "the admin password is written in the program: let Secrets Manager manage it"
    if get(r.props, "manageAdminPassword") is True and not get(r.props, "adminPasswordSecretKmsKeyId"):
        yield "the admin secret is under the AWS managed key: set adminPasswordSecretKmsKeyId"


def audit_logs(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """RedshiftServerless.6 (connection and user logs), plus the user activity log the platform's
    audit trail needs (each query, before it runs)."""
    exported = {str(x) for x in as_list(get(r.props, "logExports"))}
    missing = [log for log in REQUIRED_LOGS if log not in exported]
    if missing:
        yield f"the namespace does not export {', '.join(missing)} to CloudWatch Logs (logExports)"


def usage_limited(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    """Every workgroup has a serverless-compute usage limit with a breach action: the tier table's
    RPU-hour cap (catalog/tiers.py WarehouseSpec) bounds what one warehouse can spend."""
    limited: set[str] = set()
    for r in resources:
        if r.type != USAGE_LIMIT or get(r.props, "usageType") != "serverless-compute":
            continue
        amount = get(r.props, "amount")
        if not isinstance(amount, (int, float)) or amount <= 0 or not get(r.props, "breachAction"):
            continue
        limited.update(r.dependencies)
    for r in resources:
        if r.type == WORKGROUP and r.urn not in limited:
            yield ("the workgroup has no serverless-compute usage limit with a breach action", r.urn)


def user_activity_logged(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """The user activity log is empty unless the workgroup turns it on."""
    if _parameters(r).get("enable_user_activity_logging") != "true":
        yield "user activity logging is off: set config parameter enable_user_activity_logging to true"


# components/shared/warehouse.pool_role_name: <prefix>-<region>-warehouse-pool
_POOL_ROLE = re.compile(r":role/.*?-((?:us|ca|eu|ap|sa|me|af|il|mx)-[a-z]+-\d)-warehouse-pool$")


def _principal_arns(trust: Any) -> list[str]:
    doc = json.loads(trust) if isinstance(trust, str) else trust
    found: list[str] = []
    for statement in as_list(get(doc, "Statement")):
        for operator in ("ArnEquals", "ArnLike", "StringEquals", "StringLike"):
            found += [str(v) for v in as_list(get(statement, f"Condition.{operator}.aws:PrincipalArn"))]
        principal = get(statement, "Principal")
        if isinstance(principal, Mapping):
            found += [str(v) for v in as_list(principal.get("AWS"))]
    return found


def pool_inside_residency(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    """A tenant's COPY role lets only its home region's pool load its landing zone: the pool
    whose role it trusts (named by region) lies inside the tenant's residency. A premium
    tenant's own namespace is a tenant resource, held to its residency by RES-1."""
    residency = tags_of(r.props).get("residency")
    if not isinstance(residency, str) or not residency:
        return
    allowed = set(residency.split("+"))
    for arn in _principal_arns(get(r.props, "assumeRolePolicy")):
        match = _POOL_ROLE.search(arn)
        if match and match.group(1) not in allowed:
            yield (
                f"the role lets the warehouse pool of {match.group(1)} load this tenant's data, outside its "
                f"residency ({', '.join(sorted(allowed))})"
            )


RULES = (
    Rule(
        id="RS-1",
        name="warehouse-enhanced-vpc-routing",
        title="Warehouse traffic stays in the VPC",
        summary="Redshift Serverless workgroups use enhanced VPC routing",
        description="Every Redshift Serverless workgroup turns on enhanced VPC routing, so COPY from the tenants' landing buckets and any UNLOAD go through the VPC's S3 gateway endpoint under the workgroup's security group, not over the internet.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.1"), nydfs("500.15"), glba("3")),
        remediation="Set enhanced_vpc_routing=True on aws.redshiftserverless.Workgroup (components/shared/warehouse.py).",
        resource_types=(WORKGROUP,),
        check=enhanced_vpc_routing,
    ),
    Rule(
        id="RS-2",
        name="warehouse-requires-ssl",
        title="Warehouse connections are encrypted",
        summary="Redshift Serverless workgroups set require_ssl",
        description="Every Redshift Serverless workgroup sets the config parameter require_ssl to true, so no client reads tenant data over an unencrypted connection.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.2"), nydfs("500.15"), naic("c")),
        remediation="Add config_parameters require_ssl=true to the workgroup.",
        resource_types=(WORKGROUP,),
        check=require_ssl,
    ),
    Rule(
        id="RS-3",
        name="warehouse-private",
        title="Warehouses are private",
        summary="Redshift Serverless workgroups: no public access, VPC subnets, own security group",
        description="Every Redshift Serverless workgroup is not publicly accessible, names the platform's private subnets and carries a security group of its own (which admits only the warehouse's clients).",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.3"), nydfs("500.7"), glba("3")),
        remediation="Set publicly_accessible=False, subnet_ids to the private subnets and security_group_ids to the warehouse's group.",
        resource_types=(WORKGROUP,),
        check=private_workgroup,
    ),
    Rule(
        id="RS-4",
        name="warehouse-encrypted-with-customer-key",
        title="Warehouses are encrypted with a customer managed key",
        summary="Redshift Serverless namespaces use a customer managed KMS key",
        description="Every Redshift Serverless namespace encrypts its data with a customer managed KMS key: the tenant's own data key for a dedicated warehouse, the platform data key for the pool.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.4"), nydfs("500.15"), naic("c"), glba("3")),
        remediation="Set kms_key_id to the tenant's (or the platform's) data key ARN.",
        resource_types=(NAMESPACE,),
        check=namespace_encrypted,
    ),
    Rule(
        id="RS-5",
        name="warehouse-admin-managed",
        title="Warehouse admin credentials are managed",
        summary="non-default admin username, password managed by Secrets Manager under a customer key",
        description="Every Redshift Serverless namespace uses an admin username other than 'admin', lets Secrets Manager generate and keep the admin password (manageAdminPassword) under a customer managed key, and writes no password in the program.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.5"), nydfs("500.7"), naic("c")),
        remediation="Set admin_username (not 'admin'), manage_admin_password=True and admin_password_secret_kms_key_id; drop admin_user_password.",
        resource_types=(NAMESPACE,),
        check=managed_admin,
    ),
    Rule(
        id="RS-6",
        name="warehouse-audit-logging",
        title="Warehouses export their audit logs",
        summary="namespaces export connection, user and user-activity logs; workgroups turn user activity logging on",
        description="Every Redshift Serverless namespace exports its connection, user and user-activity logs to CloudWatch Logs (into log groups under the warehouse's key with the tier's retention), and every workgroup sets enable_user_activity_logging so the user-activity log records each query.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.6"), nydfs("500.6"), naic("i")),
        remediation="Set log_exports to connectionlog, userlog, useractivitylog on the namespace and enable_user_activity_logging=true on the workgroup.",
        resource_types=(NAMESPACE,),
        check=audit_logs,
    ),
    Rule(
        id="RS-7",
        name="warehouse-user-activity-logged",
        title="Warehouse queries are logged",
        summary="Redshift Serverless workgroups set enable_user_activity_logging",
        description="Every Redshift Serverless workgroup sets enable_user_activity_logging to true; without it the exported user-activity log stays empty.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(fsbp("RedshiftServerless.6"), nydfs("500.6")),
        remediation="Add config_parameters enable_user_activity_logging=true to the workgroup.",
        resource_types=(WORKGROUP,),
        check=user_activity_logged,
    ),
    Rule(
        id="RS-8",
        name="warehouse-usage-limited",
        title="Warehouse compute is capped",
        summary="every Redshift Serverless workgroup has a serverless-compute usage limit with a breach action",
        description="Every Redshift Serverless workgroup has a usage limit on serverless-compute RPU-hours with a breach action (tier table: monthly cap; the pool deactivates at its cap, a premium warehouse emits a metric), so one warehouse's runaway load has a bound.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.16"), naic("j")),
        remediation="Create aws.redshiftserverless.UsageLimit(resource_arn=workgroup.arn, usage_type='serverless-compute', amount=..., breach_action=...).",
        stack_check=usage_limited,
        subject=of_types(WORKGROUP),
    ),
    Rule(
        id="RS-9",
        name="warehouse-pool-inside-residency",
        title="Tenant data loads only into a warehouse inside its residency",
        summary="a tenant's COPY role trusts only a warehouse pool in a region its residency allows",
        description="A tenant's warehouse COPY role is assumable only by the pool role of a region inside the tenant's residency (its home region's pool), so its landing-zone data is loaded into no warehouse outside it; a premium tenant's own namespace, workgroup and snapshot plan are tenant resources held to its residency by RES-1 and RES-3.",
        severity=Severity.CRITICAL,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(residency_law(), nydfs("500.11"), glba("3")),
        remediation="Trust only pool_role_name(settings) of the tenant's home-region stack (components/shared/warehouse.py).",
        resource_types=("aws:iam/role:Role",),
        check=pool_inside_residency,
    ),
)
