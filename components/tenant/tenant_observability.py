"""A tenant's CloudWatch side: its application log group (tenant key, tier retention), alert topics
per severity (tenant key) subscribed from its catalog contacts' preferences, and alarms on its
database (CPU, free storage, connections, replica lag), its queues (dead letters, age), its
services (5xx ratio, p95 latency, from the mesh's access logs in its log group) and, in its home
region, its DynamoDB table (throttled requests, system errors), its event stream (consumer lag,
write throttling) and the stream's delivery into its landing bucket (freshness, success).

Metric names and dimensions (read 2026-11):
- DynamoDB `ThrottledRequests` and `SystemErrors` carry the dimensions TableName *and* Operation
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html), so a
  TableName-only alarm would match no series: a Metrics Insights query sums them over every
  operation of the table (alarms on Metrics Insights queries:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-alarms.html).
  ThrottledRequests counts every throttle cause, the tier's on-demand maximum throughput
  (`MaxOnDemandThroughputExceeded`) included
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TroubleshootingThrottling-cloudwatch.html).
- Kinesis `GetRecords.IteratorAgeMilliseconds` and `WriteProvisionedThroughputExceeded`, namespace
  AWS/Kinesis, dimension StreamName (stream-level basic metrics, also on on-demand streams).
- Firehose `DeliveryToS3.DataFreshness` (seconds) and `DeliveryToS3.Success` (successful puts /
  all puts), namespace AWS/Firehose, dimension DeliveryStreamName."""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from catalog import StackSettings, Tenant
from components.platform.observability import ERROR_RATIO, LATENCY_P95_MS
from components.shared.tags import tenant_tags

SEVERITIES = ("critical", "warning")
FREE_STORAGE_BYTES = 10 * 1024**3
MAX_CONNECTIONS = 400
REPLICA_LAG_SECONDS = 300
OLDEST_MESSAGE_SECONDS = 900
# The event stream's consumer (Firehose) may fall behind by a quarter of the tier's retention
# before anyone is told: the rest of the retention is the time left to fix it before events expire
# unread (basic 6 h, standard 18 h, premium 42 h).
ITERATOR_AGE_SHARE_OF_RETENTION = 0.25
# Firehose buffers up to BUFFER_SECONDS (300 s, TenantStream): three intervals without a delivery is
# a stuck delivery, not a quiet stream.
DELIVERY_FRESHNESS_SECONDS = 900
SERVICE_ERROR_PERCENT = round(ERROR_RATIO * 100)  # the thresholds of the tenant's Grafana rules
SERVICE_P95_MS = LATENCY_P95_MS
# Istio's JSON access log of each inbound request, as Fluent Bit merges it (log_processed).
_INBOUND = '$.kubernetes.container_name = "istio-proxy" && $.log_processed.upstream_cluster = "inbound*"'
SERVICE_METRICS = {  # metric -> (filter pattern, value)
    "Requests": (f"{{ {_INBOUND} }}", "1"),
    "Errors5xx": (f"{{ {_INBOUND} && $.log_processed.response_code >= 500 }}", "1"),
    "LatencyMs": (f"{{ {_INBOUND} }}", "$.log_processed.duration"),
}


def metrics_namespace(settings: StackSettings, tenant: Tenant) -> str:
    return f"{settings.project}/tenants/{tenant.id}"


def log_group_name(settings: StackSettings, tenant: Tenant) -> str:
    return f"/{settings.project}/{settings.stack}/tenants/{tenant.id}"


@dataclass
class TenantObservabilityArgs:
    settings: StackSettings
    tenant: Tenant
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    database_identifier: pulumi.Input[str] | None  # primary here (home or promoted)
    replica_identifier: pulumi.Input[str] | None  # premium same-region read replica
    queue_names: dict[str, pulumi.Input[str]]  # service -> job queue
    dead_letter_queue_names: dict[str, pulumi.Input[str]]
    # Home region only (TenantTable, TenantStream); deterministic names, known at preview.
    table_name: str | None = None
    stream_name: str | None = None
    delivery_stream_name: str | None = None


class TenantObservability(pulumi.ComponentResource):
    topics: dict[str, aws.sns.Topic]
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: TenantObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:TenantObservability", name, None, opts)
        s, t = args.settings, args.tenant
        tags = tenant_tags(s, t)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name(s, t),
            retention_in_days=t.tier.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

        self.topics = {}
        for severity in SEVERITIES:
            topic = aws.sns.Topic(
                f"{name}-alerts-{severity}",
                name=f"{s.name_prefix}-{t.id}-alerts-{severity}",
                kms_master_key_id=args.kms_key_arn,
                tags={**tags, "severity": severity},
                opts=child,
            )
            aws.sns.TopicPolicy(
                f"{name}-alerts-{severity}",
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, args.account_id).apply(
                    lambda v: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "CloudWatchAlarmsOfThisAccount",
                                    "Effect": "Allow",
                                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                    "Action": "sns:Publish",
                                    "Resource": v[0],
                                    "Condition": {"StringEquals": {"aws:SourceAccount": v[1]}},
                                }
                            ],
                        },
                        sort_keys=True,
                    )
                ),
                opts=child,
            )
            for i, contact in enumerate(t.contacts):
                if severity not in contact.severities:
                    continue
                aws.sns.TopicSubscription(
                    f"{name}-alerts-{severity}-email-{i}",
                    topic=topic.arn,
                    protocol="email",
                    endpoint=contact.email,
                    opts=child,
                )
                if contact.webhook:
                    aws.sns.TopicSubscription(
                        f"{name}-alerts-{severity}-webhook-{i}",
                        topic=topic.arn,
                        protocol="https",
                        endpoint=contact.webhook,
                        opts=child,
                    )
            self.topics[severity] = topic

        if args.database_identifier is not None:
            db = {"DBInstanceIdentifier": args.database_identifier}
            self._alarm(
                name, "db-cpu", "AWS/RDS", "CPUUtilization", db, "GreaterThanThreshold", 80, "warning", tags, periods=3
            )
            self._alarm(
                name,
                "db-free-storage",
                "AWS/RDS",
                "FreeStorageSpace",
                db,
                "LessThanThreshold",
                FREE_STORAGE_BYTES,
                "critical",
                tags,
            )
            self._alarm(
                name,
                "db-connections",
                "AWS/RDS",
                "DatabaseConnections",
                db,
                "GreaterThanThreshold",
                MAX_CONNECTIONS,
                "warning",
                tags,
            )
        if args.replica_identifier is not None:
            replica = {"DBInstanceIdentifier": args.replica_identifier}
            self._alarm(
                name,
                "replica-lag",
                "AWS/RDS",
                "ReplicaLag",
                replica,
                "GreaterThanThreshold",
                REPLICA_LAG_SECONDS,
                "warning",
                tags,
            )
        self._service_alarms(name, s, t, tags)
        for service, queue in args.dead_letter_queue_names.items():
            self._alarm(
                name, f"{service}-dead-letters", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                {"QueueName": queue}, "GreaterThanThreshold", 0, "critical", tags, statistic="Maximum",
            )  # fmt: skip
        for service, queue in args.queue_names.items():
            self._alarm(
                name, f"{service}-queue-age", "AWS/SQS", "ApproximateAgeOfOldestMessage",
                {"QueueName": queue}, "GreaterThanThreshold", OLDEST_MESSAGE_SECONDS, "warning", tags, statistic="Maximum",
            )  # fmt: skip
        self._data_path_alarms(name, args, tags)
        self.register_outputs({"alertTopics": {k: v.arn for k, v in self.topics.items()}})

    def _data_path_alarms(self, name: str, args: TenantObservabilityArgs, tags: dict[str, str]) -> None:
        """The home region's table, event stream and its delivery: each alarm to the tenant's topics."""
        t = args.tenant
        if args.table_name is not None:
            for what, metric, severity in (
                ("table-throttles", "ThrottledRequests", "warning"),
                ("table-errors", "SystemErrors", "critical"),
            ):
                self._insights_alarm(name, what, "AWS/DynamoDB", metric, "TableName", args.table_name, severity, tags)
        if args.stream_name is not None:
            stream: dict[str, pulumi.Input[str]] = {"StreamName": args.stream_name}
            lag_ms = round(t.tier.event_retention_hours * 3600 * 1000 * ITERATOR_AGE_SHARE_OF_RETENTION)
            self._alarm(
                name, "stream-iterator-age", "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream,
                "GreaterThanThreshold", lag_ms, "critical", tags, statistic="Maximum", signal="stream-iterator-age",
            )  # fmt: skip
            self._alarm(
                name, "stream-write-throttles", "AWS/Kinesis", "WriteProvisionedThroughputExceeded", stream,
                "GreaterThanThreshold", 0, "warning", tags, statistic="Sum", signal="stream-write-throttles",
            )  # fmt: skip
        if args.delivery_stream_name is not None:
            delivery: dict[str, pulumi.Input[str]] = {"DeliveryStreamName": args.delivery_stream_name}
            self._alarm(
                name, "delivery-freshness", "AWS/Firehose", "DeliveryToS3.DataFreshness", delivery,
                "GreaterThanThreshold", DELIVERY_FRESHNESS_SECONDS, "critical", tags, statistic="Maximum",
                signal="delivery-freshness",
            )  # fmt: skip
            self._alarm(
                name, "delivery-success", "AWS/Firehose", "DeliveryToS3.Success", delivery,
                "LessThanThreshold", 1, "critical", tags, statistic="Minimum", signal="delivery-success",
            )  # fmt: skip

    def _insights_alarm(
        self,
        name: str,
        what: str,
        namespace: str,
        metric: str,
        key: str,
        value: str,
        severity: str,
        tags: dict[str, str],
    ) -> None:
        """An alarm on one resource's metric summed over a dimension it also carries (Operation)."""
        topic = self.topics[severity]
        query = f"SELECT SUM({metric}) FROM SCHEMA(\"{namespace}\", Operation, {key}) WHERE {key} = '{value}'"
        aws.cloudwatch.MetricAlarm(
            f"{name}-{what}",
            name=f"{tags['tenant']}-{what}",
            alarm_description=f"{severity}: {metric} of tenant {tags['tenant']}'s {value}",
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="q", expression=query, period=300, return_data=True)
            ],
            evaluation_periods=1,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags={**tags, "severity": severity, "signal": what},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _service_alarms(self, name: str, s: StackSettings, t: Tenant, tags: dict[str, str]) -> None:
        """Metric filters on the tenant's own log group turn its services' inbound requests (mesh
        access logs) into request, 5xx and latency metrics of the tenant alone."""
        namespace = metrics_namespace(s, t)
        for metric, (pattern, value) in SERVICE_METRICS.items():
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{metric.lower()}",
                name=f"{t.id}-{metric}",
                log_group_name=self.log_group.name,
                pattern=pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric,
                    namespace=namespace,
                    value=value,
                    unit="Milliseconds" if metric == "LatencyMs" else "Count",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        def series(metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=metric.lower(),
                return_data=False,
                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                    namespace=namespace, metric_name=metric, period=300, stat="Sum"
                ),
            )

        critical, warning = self.topics["critical"], self.topics["warning"]
        aws.cloudwatch.MetricAlarm(
            f"{name}-service-5xx",
            name=f"{t.id}-service-5xx",
            alarm_description=f"critical: more than {SERVICE_ERROR_PERCENT} % of tenant {t.id}'s requests fail (5xx)",
            metric_queries=[
                series("Requests"),
                series("Errors5xx"),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="ratio", expression="100 * FILL(errors5xx, 0) / requests", label="5xx %", return_data=True
                ),
            ],
            evaluation_periods=2,
            comparison_operator="GreaterThanThreshold",
            threshold=SERVICE_ERROR_PERCENT,
            treat_missing_data="notBreaching",
            alarm_actions=[critical.arn],
            ok_actions=[critical.arn],
            tags={**tags, "severity": "critical", "signal": "service-5xx"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-service-latency",
            name=f"{t.id}-service-latency",
            alarm_description=f"warning: p95 latency of tenant {t.id}'s requests above {SERVICE_P95_MS} ms",
            namespace=namespace,
            metric_name="LatencyMs",
            extended_statistic="p95",
            period=300,
            evaluation_periods=2,
            comparison_operator="GreaterThanThreshold",
            threshold=SERVICE_P95_MS,
            treat_missing_data="notBreaching",
            alarm_actions=[warning.arn],
            ok_actions=[warning.arn],
            tags={**tags, "severity": "warning", "signal": "service-latency"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alarm(
        self,
        name: str,
        what: str,
        namespace: str,
        metric: str,
        dimensions: dict[str, pulumi.Input[str]],
        comparison: str,
        threshold: float,
        severity: str,
        tags: dict[str, str],
        periods: int = 2,
        statistic: str = "Average",
        signal: str | None = None,
    ) -> None:
        topic = self.topics[severity]
        aws.cloudwatch.MetricAlarm(
            f"{name}-{what}",
            name=f"{tags['tenant']}-{what}",
            alarm_description=f"{severity}: {metric} of tenant {tags['tenant']}",
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=300,
            evaluation_periods=periods,
            comparison_operator=comparison,
            threshold=threshold,
            # Queues, streams and deliveries publish nothing while idle: silence is not a failure.
            treat_missing_data="breaching" if namespace == "AWS/RDS" else "notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags={**tags, "severity": severity, **({"signal": signal} if signal else {})},
            opts=pulumi.ResourceOptions(parent=self),
        )
