"""A tenant's CloudWatch side: its application log group (tenant key, tier retention), alert topics
per severity (tenant key) subscribed from its catalog contacts' preferences, and alarms on its
database (CPU, free storage, connections, replica lag), its queues (dead letters, age) and its
services (5xx ratio, p95 latency, from the mesh's access logs in its log group)."""

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
        self.register_outputs({"alertTopics": {k: v.arn for k, v in self.topics.items()}})

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
            treat_missing_data="notBreaching" if namespace == "AWS/SQS" else "breaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags={**tags, "severity": severity},
            opts=pulumi.ResourceOptions(parent=self),
        )
