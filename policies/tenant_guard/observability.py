"""Observability and audit: every tenant's database is watched and its alerts reach someone, the
account's audit trail is complete and tamper-evident, audit records are write-once."""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .frameworks import fsbp, glba, naic, nydfs
from .props import as_list, get, labels_of, tags_of
from .rule import Res, Rule
from .tenancy import StackIndex

DB_ALARM_METRICS = ("CPUUtilization", "FreeStorageSpace", "DatabaseConnections")
DEFAULT_AUDIT_LOCK_DAYS = 1096  # NYDFS 500.06: audit trails kept 3 years


SERVICE_SIGNALS = {"service-5xx", "service-latency"}
# The data path's holders and the metrics each must be watched on, by (namespace, dimension).
TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"
DELIVERY = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
DATA_PATH_ALARMS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    TABLE: ("table", "AWS/DynamoDB", "TableName", ("ThrottledRequests", "SystemErrors")),
    STREAM: (
        "event stream",
        "AWS/Kinesis",
        "StreamName",
        ("GetRecords.IteratorAgeMilliseconds", "WriteProvisionedThroughputExceeded"),
    ),
    "aws:lambda/function:Function": ("job processor", "AWS/Lambda", "FunctionName", ("Errors", "Throttles")),
    DELIVERY: (
        "event delivery",
        "AWS/Firehose",
        "DeliveryStreamName",
        ("DeliveryToS3.DataFreshness", "DeliveryToS3.Success"),
    ),
}
# SELECT SUM(Metric) FROM SCHEMA("Namespace", ...) WHERE Dimension = 'value' (a Metrics Insights alarm)
_INSIGHTS = re.compile(
    r"SELECT\s+\w+\(\s*\"?([\w.]+)\"?\s*\)\s+FROM\s+SCHEMA\(\s*\"([^\"]+)\"[^)]*\)\s+WHERE\s+\"?(\w+)\"?\s*=\s*'([^']+)'",
    re.IGNORECASE,
)


def watched_series(alarm: Res) -> set[tuple[str, str, str, str]]:
    """(namespace, dimension, value, metric) an alarm with an action watches: its own metric, the
    metrics of its metric-math queries, and the one resource a Metrics Insights query filters on."""
    found: set[tuple[str, str, str, str]] = set()

    def add(namespace: Any, dimensions: Any, metric: Any) -> None:
        if isinstance(dimensions, Mapping) and namespace and metric:
            for key in list(dimensions.keys()):
                found.add((str(namespace), str(key), str(dimensions[key]), str(metric)))

    add(get(alarm.props, "namespace"), get(alarm.props, "dimensions"), get(alarm.props, "metricName"))
    for query in as_list(get(alarm.props, "metricQueries")):
        add(get(query, "metric.namespace"), get(query, "metric.dimensions"), get(query, "metric.metricName"))
        match = _INSIGHTS.search(str(get(query, "expression") or ""))
        if match:
            metric, namespace, key, value = match.groups()
            found.add((namespace, key, value, metric))
    return found


def data_path_alarm_coverage(resources: Sequence[Res], index: StackIndex) -> Iterable[tuple[str, str | None]]:
    """Each tenant table, event stream and delivery stream has alarms with actions on its metrics."""
    watched: set[tuple[str, str, str, str]] = set()
    for r in resources:
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm" and as_list(get(r.props, "alarmActions")):
            watched |= watched_series(r)
    for r in resources:
        if r.type not in DATA_PATH_ALARMS or not index.tenant(r):
            continue
        what, namespace, key, metrics = DATA_PATH_ALARMS[r.type]
        name = str(get(r.props, "name") or "")
        missing = [m for m in metrics if (namespace, key, name, m) not in watched]
        if missing:
            yield (f"the tenant {what} '{name}' has no alarm (with an action) on {', '.join(missing)}", r.urn)


def alarm_coverage(resources: Sequence[Res], _: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    index = StackIndex.of(resources)
    watched: dict[str, set[str]] = defaultdict(set)
    for r in resources:
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm" and as_list(get(r.props, "alarmActions")):
            identifier = get(r.props, "dimensions.DBInstanceIdentifier")
            if identifier:
                watched[str(identifier)].add(str(get(r.props, "metricName")))
    for r in resources:
        if r.type != "aws:rds/instance:Instance" or not index.tenant(r) or get(r.props, "replicateSourceDb"):
            continue
        missing = [m for m in DB_ALARM_METRICS if m not in watched.get(str(get(r.props, "identifier")), set())]
        if missing:
            yield (f"the tenant database has no alarm (with an action) on {', '.join(missing)}", r.urn)
    yield from data_path_alarm_coverage(resources, index)
    subscribed = {
        dep for r in resources if r.type == "aws:sns/topicSubscription:TopicSubscription" for dep in r.dependencies
    }
    alerting: dict[str, bool] = defaultdict(bool)
    for r in resources:
        if r.type == "aws:sns/topic:Topic" and tags_of(r.props).get("severity") == "critical":
            tenant = index.tenant(r)
            if tenant:
                alerting[tenant] |= r.urn in subscribed
    signals: dict[str, set[str]] = defaultdict(set)
    for r in resources:
        tenant = index.tenant(r)
        if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm" and tenant and as_list(get(r.props, "alarmActions")):
            signals[tenant].add(str(tags_of(r.props).get("signal", "")))
    for r in resources:
        if r.type == "kubernetes:core/v1:Namespace" and index.tenant(r):
            tenant = str(index.tenant(r))
            if not alerting.get(tenant):
                yield (f"tenant '{tenant}' has no critical alert topic with a subscriber", r.urn)
            missing = sorted(SERVICE_SIGNALS - signals[tenant])
            if missing:
                yield (f"tenant '{tenant}' services have no alarm on {', '.join(missing)}", r.urn)


def audit_trail(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    # A residency-bound environment records region by region (components/platform/account_baseline.py): a
    # single-region trail declares the region it records, and it must be its own.
    scope = tags_of(r.props).get("records-region")
    if get(r.props, "isMultiRegionTrail") is not True and (scope is None or scope != r.region):
        yield "the trail records one region only: set isMultiRegionTrail (or tag records-region with its own region)"
    if get(r.props, "enableLogFileValidation") is not True:
        yield "log files can be altered undetected: set enableLogFileValidation"
    if not get(r.props, "kmsKeyId"):
        yield "trail logs are not encrypted with a customer-managed key (kmsKeyId)"
    if get(r.props, "enableLogging") is False:
        yield "logging is stopped"
    if not get(r.props, "cloudWatchLogsGroupArn"):
        yield "no CloudWatch Logs delivery for alerting on API activity"


def audit_object_lock(resources: Sequence[Res], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    minimum = int(config.get("minAuditLockDays", DEFAULT_AUDIT_LOCK_DAYS))
    locks = {
        dep: r
        for r in resources
        if r.type == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
        for dep in r.dependencies
    }
    for r in resources:
        if r.type not in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            continue
        if tags_of(r.props).get("purpose") != "audit-trail":
            continue
        lock = locks.get(r.urn)
        mode = get(lock.props, "rule.defaultRetention.mode") if lock else None
        days = get(lock.props, "rule.defaultRetention.days") if lock else None
        if (
            get(r.props, "objectLockEnabled") is not True
            or mode != "COMPLIANCE"
            or not isinstance(days, (int, float))
            or days < minimum
        ):
            yield (f"audit records are not write-once for {minimum} days (object lock, compliance mode)", r.urn)


RULES = (
    Rule(
        id="OBS-1",
        name="tenant-alarm-coverage",
        title="Every tenant is watched and alerted",
        summary="database, table, event stream, delivery and processor alarms with actions; a critical alert topic with a subscriber per tenant",
        description="Each tenant database has CloudWatch alarms on CPU, free storage and connections with an alarm action; each tenant DynamoDB table on ThrottledRequests and SystemErrors, each event stream on GetRecords.IteratorAgeMilliseconds and WriteProvisionedThroughputExceeded, each Firehose delivery on DeliveryToS3.DataFreshness and DeliveryToS3.Success, each Lambda job processor on Errors and Throttles; each served tenant has a critical alert topic with at least one subscriber from its contacts, and alarms with actions on its services' 5xx ratio and p95 latency.",
        severity=Severity.MEDIUM,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.14"), naic("h")),
        remediation="Create tenants through the Tenant component (TenantObservability) and keep at least one contact per tenant that receives critical alerts.",
        stack_check=alarm_coverage,
        subject=lambda r: (
            (r.type == "aws:rds/instance:Instance" and not get(r.props, "replicateSourceDb"))
            or (r.type == "kubernetes:core/v1:Namespace" and bool(labels_of(r.props).get("tenant")))
            or r.type in DATA_PATH_ALARMS
        ),
    ),
    Rule(
        id="LOG-CT-1",
        name="audit-trail",
        title="The audit trail is complete and tamper-evident",
        summary="multi-region CloudTrail (or each residency-bound region its own), log-file validation, KMS, CloudWatch delivery",
        description="The account's CloudTrail records every region (or, where residency requires it, each region's own trail records that region), validates log files, encrypts them with a customer-managed key and delivers to CloudWatch Logs.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.6"), naic("i"), fsbp("CloudTrail.1"), fsbp("CloudTrail.2"), fsbp("CloudTrail.4")),
        remediation="Use the AccountBaseline component (one per account) for the trail.",
        resource_types=("aws:cloudtrail/trail:Trail",),
        check=audit_trail,
    ),
    Rule(
        id="BAK-S3-2",
        name="audit-records-write-once",
        title="Audit records are write-once",
        summary="audit buckets have object lock in compliance mode for the audit retention",
        description="Buckets holding audit trails have S3 Object Lock in compliance mode for at least the audit retention, so no one can delete or alter them early.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.6"), naic("i")),
        remediation="Create audit buckets with SecureBucketArgs(object_lock_days=...) — object lock must be enabled at bucket creation.",
        stack_check=audit_object_lock,
        subject=lambda r: (
            r.type in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
            and tags_of(r.props).get("purpose") == "audit-trail"
        ),
        config_schema={"minAuditLockDays": {"type": "integer", "minimum": 1}},
    ),
)


def grafana_isolation(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if not str(get(r.props, "chart", "")).endswith("grafana"):
        return
    for source in as_list(get(r.props, "values.datasources.datasources\\.yaml.datasources")):
        name = str(get(source, "name", ""))
        header = get(source, "jsonData.httpHeaderName1")
        value = str(get(source, "secureJsonData.httpHeaderValue1", ""))
        if header != "X-Scope-OrgID":
            yield f"data source '{name}' sends no tenant id (X-Scope-OrgID): it would read every tenant"
        elif "|" in value or value == "" or not name.endswith(f"-{value}"):
            yield f"data source '{name}' reads tenant id '{value}', not exactly the tenant it is named for"
    for group in as_list(get(r.props, "values.alerting.rules\\.yaml.groups")):
        tenant = str(get(group, "name", "")).removeprefix("tenant-")
        for rule in as_list(get(group, "rules")):
            for query in as_list(get(rule, "data")):
                uid = str(get(query, "datasourceUid", ""))
                if uid != "__expr__" and not uid.endswith(f"-{tenant}"):
                    yield f"alert rule '{get(rule, 'uid')}' of tenant '{tenant}' queries data source '{uid}'"


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def tenant_views_access(r: Res, _: Mapping[str, Any]) -> Iterable[str]:
    if not str(get(r.props, "chart", "")).endswith("grafana"):
        return
    release = str(get(r.props, "name", ""))
    if not release.startswith("grafana-"):
        # The platform's all-tenant instance: platform administrators only, through the cluster.
        if get(r.props, "values.ingress.enabled") is True:
            yield "the all-tenant Grafana is exposed through an ingress: only tenant instances may be"
        return
    tenant = release.removeprefix("grafana-")
    ini = "values.grafana\\.ini"
    for source in as_list(get(r.props, "values.datasources.datasources\\.yaml.datasources")):
        value = str(get(source, "secureJsonData.httpHeaderValue1", ""))
        if value != tenant:
            yield f"data source '{get(source, 'name')}' of tenant id '{value}' is in {tenant}'s Grafana"
    if get(r.props, "values.sidecar.dashboards.labelValue") != tenant:
        yield f"the dashboard sidecar loads other tenants' dashboards: set labelValue to '{tenant}'"
    if get(r.props, f"{ini}.auth\\.anonymous.enabled") is not False:
        yield "anonymous access is not disabled"
    if (
        get(r.props, f"{ini}.auth.disable_login_form") is not True
        or get(r.props, f"{ini}.auth\\.basic.enabled") is not False
    ):
        yield "local logins are possible: only the operators' single sign-on may admit users"
    oauth = f"{ini}.auth\\.generic_oauth"
    if (
        get(r.props, f"{oauth}.enabled") is not True
        or get(r.props, f"{oauth}.allowed_groups") != f"{tenant}-operators"
        or get(r.props, f"{oauth}.role_attribute_strict") is not True
    ):
        yield f"single sign-on does not admit exactly the group '{tenant}-operators'"
    # Operators view their tenant; a role that edits data sources or administers the instance
    # could point a data source at another tenant's id.
    path = str(get(r.props, f"{oauth}.role_attribute_path", ""))
    if re.search(r"\b(?:Admin|GrafanaAdmin|Editor)\b", path):
        yield f"single sign-on can map users to a role above Viewer (role_attribute_path {path})"
    if _truthy(get(r.props, f"{oauth}.allow_assign_grafana_admin")) or _truthy(
        get(r.props, f"{oauth}.skip_org_role_sync")
    ):
        yield "roles can be raised inside Grafana (allow_assign_grafana_admin or skip_org_role_sync)"
    if get(r.props, f"{ini}.users.auto_assign_org_role", "Viewer") != "Viewer":
        yield "new users are given a role above Viewer (users.auto_assign_org_role)"


RULES = (
    *RULES,
    Rule(
        id="OBS-2",
        name="observability-tenant-isolation",
        title="Tenant views read only their own tenant's signals",
        summary="every Grafana data source reads exactly the tenant it is named for",
        description="Every Grafana data source sends exactly one tenant id (X-Scope-OrgID) — the tenant it is named for — and every tenant alert rule queries only its own tenant's data sources, so no tenant's views or alerts read another tenant's signals.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), naic("a")),
        remediation="Generate data sources with components.platform.observability.datasources (one tenant id per data source); never use multi-tenant ('a|b') queries.",
        resource_types=("kubernetes:helm.sh/v3:Release",),
        check=grafana_isolation,
    ),
    Rule(
        id="OBS-3",
        name="tenant-views-access",
        title="Only a tenant's operators reach its views",
        summary="tenant Grafana: own data sources and dashboards, SSO for `<tenant>-operators` as Viewers only; platform Grafana not exposed",
        description="Each tenant's Grafana holds only that tenant's data sources and dashboards, has no anonymous or local logins, admits through single sign-on exactly the group '<tenant>-operators' as Viewers (no role mapping, assignment or sync bypass that raises them); the all-tenant platform Grafana is never exposed through an ingress.",
        severity=Severity.HIGH,
        enforcement=EnforcementLevel.MANDATORY,
        frameworks=(nydfs("500.7"), nydfs("500.12"), naic("a"), glba("1")),
        remediation="Build tenant views with Observability._tenant_views (one Grafana per tenant, OIDC allowed_groups = <tenant>-operators); keep the platform Grafana without ingress.",
        resource_types=("kubernetes:helm.sh/v3:Release",),
        check=tenant_views_access,
    ),
)
