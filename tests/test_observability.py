"""Observability and cost per tenant, asserted on the plans: LGTM multi-tenant on encrypted S3,
tenant-pinned Grafana views and collector pipelines, CloudWatch alarms and alert routing from the
catalog's contact preferences, the audit trail, and cost allocation."""

import json
import re
from typing import Any

import pytest

from catalog.loader import load_catalog
from components.platform.observability import STORES, datasources
from components.shared.versions import CHARTS
from planner.runner import ROOT
from tests.conftest import STACKS, resources_of

CATALOG = {t.id: t for t in load_catalog(ROOT / "tenants" / "prod")}


def release(plan: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in resources_of(plan, "kubernetes:helm.sh/v3:Release") if r["inputs"]["name"] == name]
    return found["inputs"]


def served(plan: dict[str, Any]) -> list[str]:
    return sorted(r["tenant"] for r in resources_of(plan, "kubernetes:core/v1:Namespace") if r["tenant"])


@pytest.mark.parametrize("stack", STACKS)
def test_lgtm_runs_multi_tenant_on_encrypted_s3_with_scoped_roles(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    for chart in ("loki", "tempo", "mimir", "grafana", "alloy"):
        r = release(plan, chart)
        assert r["namespace"] == "observability" and r["version"] == CHARTS[chart].version
    assert release(plan, "loki")["values"]["loki"]["auth_enabled"] is True
    assert release(plan, "tempo")["values"]["multitenancyEnabled"] is True
    assert release(plan, "mimir")["values"]["mimir"]["structuredConfig"]["multitenancy_enabled"] is True
    buckets = {
        r["inputs"]["tags"]["purpose"]: r
        for r in resources_of(plan, "aws:s3/bucket:Bucket")
        if r["name"].startswith("observability-")
    }
    assert set(buckets) == {f"{s}-{p}" for s, (ps, _) in STORES.items() for p in ps}
    for store, (purposes, _days) in STORES.items():
        role = next(
            r for r in resources_of(plan, "aws:iam/rolePolicy:RolePolicy") if r["name"] == f"observability-{store}"
        )
        resources = {res for st in json.loads(role["inputs"]["policy"])["Statement"] for res in st["Resource"]}
        assert {res.split(":::")[1].split("/")[0] for res in resources if res.startswith("arn:aws:s3:::")} == {
            buckets[f"{store}-{p}"]["inputs"]["bucket"] for p in purposes
        }
    lifecycle = {
        r["name"]: r["inputs"]["rules"][0]["expiration"]["days"]
        for r in resources_of(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    }
    assert (
        lifecycle["observability-loki-chunks"]
        == STORES["loki"][1]
        >= max(t.tier.log_retention_days for t in CATALOG.values())
    )


@pytest.mark.parametrize("stack", STACKS)
def test_each_tenant_sees_only_its_own_signals(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = served(plan)
    grafana = release(plan, "grafana")
    sources = grafana["values"]["datasources"]["datasources.yaml"]["datasources"]
    assert sources == datasources(tenants)
    for source in sources:
        tenant = source["secureJsonData"]["httpHeaderValue1"]
        assert source["name"].endswith(f"-{tenant}") and "|" not in tenant
    assert grafana["values"]["admin"]["existingSecret"] == "grafana-admin"
    config = release(plan, "alloy")["values"]["alloy"]["configMap"]["content"]
    blocks = _blocks(config)
    # Logs: run the pods' relabel rules as Alloy would, for a pod of every tenant, of a platform
    # namespace and of a namespace named like a tenant with a suffix; the Loki tenant is the label
    # the `tenant` stage reads, and a pod's own labels never reach it.
    logs = blocks['loki.process "tenant"']
    assert 'stage.tenant {\n    label = "tenant"' in logs and "labelmap" not in blocks['discovery.relabel "pods"']
    rules = _relabel_rules(blocks['discovery.relabel "pods"'])
    for namespace, expected in [*((t, t) for t in tenants), ("observability", "platform")] + [
        (f"{t}-x", "platform") for t in tenants
    ]:
        pod = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_pod_label_tenant": "someone-else"}
        assert (_relabel(pod, rules) or {}).get("tenant") == expected, namespace
    # Metrics: each namespace's scrapes are written under its own org only.
    writers = {h.split('"')[1]: b for h, b in blocks.items() if h.startswith("prometheus.remote_write")}
    for tenant in tenants:
        keep = _relabel_rules(blocks[f'discovery.relabel "metrics_{tenant.replace("-", "_")}"'])
        for other in tenants:
            kept = _relabel({"namespace": other, "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true"}, keep)
            assert (kept is not None) == (other == tenant), (tenant, other)
        assert f'"X-Scope-OrgID" = "{tenant}"' in writers[tenant.replace("-", "_")]
    folders = {
        r["inputs"]["metadata"]["annotations"]["grafana_folder"]
        for r in resources_of(plan, "kubernetes:core/v1:ConfigMap")
        if "grafana_dashboard" in r["inputs"]["metadata"].get("labels", {})
    }
    assert folders == set(tenants)


@pytest.mark.parametrize("stack", STACKS)
def test_each_tenant_has_its_own_views_behind_its_operators_group(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = served(plan)
    platform = release(plan, "grafana")
    assert not platform["values"].get("ingress", {}).get("enabled")  # all-tenant instance: not exposed
    records = {r["inputs"]["name"]: r["inputs"] for r in resources_of(plan, "aws:route53/record:Record")}
    dashboards = {
        r["inputs"]["metadata"]["labels"]["grafana_dashboard"]: r["inputs"]["metadata"]["annotations"]["grafana_folder"]
        for r in resources_of(plan, "kubernetes:core/v1:ConfigMap")
        if "grafana_dashboard" in r["inputs"]["metadata"].get("labels", {})
    }
    for tenant in tenants:
        views = release(plan, f"grafana-{tenant}")["values"]
        assert views["datasources"]["datasources.yaml"]["datasources"] == datasources([tenant], platform=False)
        assert views["sidecar"]["dashboards"]["labelValue"] == tenant and dashboards[tenant] == tenant
        assert {g["name"] for g in views["alerting"]["rules.yaml"]["groups"]} == {f"tenant-{tenant}"}
        ini = views["grafana.ini"]
        oauth = ini["auth.generic_oauth"]
        assert oauth["allowed_groups"] == f"{tenant}-operators" and oauth["role_attribute_strict"] is True
        assert oauth["auth_url"].startswith("https://") and "client_secret" not in oauth  # from Secrets Manager
        assert ini["auth"]["disable_login_form"] is True and ini["auth.anonymous"]["enabled"] is False
        secret_ref = views["envValueFrom"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]["secretKeyRef"]
        assert secret_ref == {"name": "grafana-oauth", "key": "client-secret"}
        (host,) = views["ingress"]["hosts"]
        assert host == f"views-{plan['region']}-{tenant}.{host.split('.', 1)[1]}" and host in records
        assert ini["server"]["root_url"] == f"https://{host}/"


def test_grafana_admin_secret_lives_in_secrets_manager(plans: dict[str, Any]) -> None:
    plan = plans["prod-us-east-1"]
    # The platform Grafana's; each tenant's views have their own (tests/test_identity_isolation.py).
    (secret,) = [
        r for r in resources_of(plan, "aws:secretsmanager/secret:Secret") if r["name"].endswith("grafana-admin")
    ]
    assert secret["inputs"]["name"] == "insurance-platform/prod-us-east-1/platform/grafana-admin"
    (oauth,) = [r for r in resources_of(plan, "aws:secretsmanager/secret:Secret") if "grafana-oauth" in r["name"]]
    assert oauth["inputs"]["name"] == "insurance-platform/prod-us-east-1/platform/grafana-oauth"
    assert oauth["inputs"]["kmsKeyId"] and not [
        r for r in resources_of(plan, "aws:secretsmanager/secretVersion:SecretVersion") if "grafana-oauth" in r["name"]
    ]  # the IdP's administrators set the value; it never passes through code or state
    (version,) = [
        r
        for r in resources_of(plan, "aws:secretsmanager/secretVersion:SecretVersion")
        if r["name"].endswith("grafana-admin")
    ]
    assert version["inputs"]["secretString"] == "[secret]" and version["options"]["ignoreChanges"] == ["secretString"]
    sync = next(
        r
        for r in resources_of(plan, "kubernetes:external-secrets.io/v1:ExternalSecret")
        if r["inputs"]["metadata"]["name"] == "grafana-admin"
    )
    assert sync["inputs"]["spec"]["dataFrom"][0]["extract"]["key"] == secret["inputs"]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_container_insights_addon_with_its_own_role(plans: dict[str, Any], stack: str) -> None:
    addons = {r["inputs"]["addonName"]: r["inputs"] for r in resources_of(plans[stack], "aws:eks/addon:Addon")}
    assert addons["amazon-cloudwatch-observability"]["serviceAccountRoleArn"]


@pytest.mark.parametrize("stack", ["prod-us-east-1", "prod-us-west-2"])
def test_every_tenant_has_log_group_alarms_and_alert_routing(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    region = plan["region"]
    alarms = {r["inputs"]["name"]: r["inputs"] for r in resources_of(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    subscriptions = resources_of(plan, "aws:sns/topicSubscription:TopicSubscription")
    metric_filters = resources_of(plan, "aws:cloudwatch/logMetricFilter:LogMetricFilter")
    for tenant in served(plan):
        config = CATALOG[tenant]
        (group,) = [
            r
            for r in resources_of(plan, "aws:cloudwatch/logGroup:LogGroup")
            if r["tenant"] == tenant
            and not r["name"].startswith("global-edge-")  # edge logs: test_global_edge
            and not r["inputs"]["name"].startswith("/aws/rds/")  # database exports: test_keys_residency
            and not r["inputs"]["name"].startswith(("/aws/lambda/", "/aws/kinesisfirehose/"))  # their own tests
            and not r["inputs"]["name"].startswith("/aws/redshift/")  # a premium warehouse's audit logs: test_warehouse
        ]
        assert group["inputs"]["retentionInDays"] == config.tier.log_retention_days and group["inputs"]["kmsKeyId"]
        home = config.home_region == region
        for metric in ("db-cpu", "db-free-storage", "db-connections"):
            assert (f"{tenant}-{metric}" in alarms) == home
        assert (f"{tenant}-replica-lag" in alarms) == (home and config.tier.database.read_replica)
        for service in ("carrier", "policy"):
            assert alarms[f"{tenant}-{service}-dead-letters"]["alarmActions"]
        # Service alarms read metrics that filters on the tenant's own log group produce.
        filters = {f["inputs"]["name"]: f["inputs"] for f in metric_filters if f["tenant"] == tenant}
        assert set(filters) == {f"{tenant}-Requests", f"{tenant}-Errors5xx", f"{tenant}-LatencyMs"}
        assert all(f["logGroupName"] == group["inputs"]["name"] for f in filters.values())
        assert all('"istio-proxy"' in f["pattern"] and '"inbound*"' in f["pattern"] for f in filters.values())
        errors = alarms[f"{tenant}-service-5xx"]
        (ratio,) = [q for q in errors["metricQueries"] if q.get("returnData")]
        assert ratio["expression"] == "100 * FILL(errors5xx, 0) / requests" and errors["threshold"] == 5
        latency = alarms[f"{tenant}-service-latency"]
        assert latency["extendedStatistic"] == "p95" and latency["threshold"] == 1500
        assert errors["tags"]["severity"] == "critical" and latency["tags"]["severity"] == "warning"
        mine = [s for s in subscriptions if s["tenant"] == tenant]
        expected = sum((1 + (1 if c.webhook else 0)) for c in config.contacts for _ in c.severities)
        assert len(mine) == expected
    harbor = [s["inputs"] for s in subscriptions if s["tenant"] == "harbor-mutual"]
    assert {"protocol": "https", "endpoint": "https://hooks.harbormutual.example.com/platform-alerts"}.items() <= next(
        s for s in harbor if s["protocol"] == "https"
    ).items()


def test_audit_trail_and_cost_allocation_exist_once_per_account(plans: dict[str, Any]) -> None:
    # One account trail per AWS account; dev's records every region, prod's (residency-bound: a
    # Canadian tenant) only its own, beside each prod region's trail (tests/test_keys_residency.py).
    owners = [s for s in STACKS if any(r["name"] == "account-audit" for r in plans[s]["resources"])]
    assert sorted(owners) == ["dev", "prod-us-east-1"]
    (dev_trail,) = resources_of(plans["dev"], "aws:cloudtrail/trail:Trail")
    assert dev_trail["inputs"]["isMultiRegionTrail"] is True
    plan = plans["prod-us-east-1"]
    (trail,) = resources_of(plan, "aws:cloudtrail/trail:Trail")
    i = trail["inputs"]
    assert i["enableLogFileValidation"] and i["kmsKeyId"] and i["cloudWatchLogsGroupArn"]
    assert i["isMultiRegionTrail"] is False and i["includeGlobalServiceEvents"] is True
    (lock,) = resources_of(plan, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock["inputs"]["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 1827}
    budgets = {r["inputs"]["name"] for r in resources_of(plan, "aws:budgets/budget:Budget")}
    assert "ip-prod-platform" in budgets and "ip-prod-tenant-harbor-mutual" in budgets


@pytest.mark.parametrize("stack", ["prod-us-east-1", "prod-us-west-2"])
def test_service_alerts_show_in_views_and_page_once_through_cloudwatch(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    alarms = {r["inputs"]["name"]: r["inputs"] for r in resources_of(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")}
    for tenant in served(plan):
        alerting = release(plan, f"grafana-{tenant}")["values"]["alerting"]
        assert set(alerting) == {"rules.yaml"}  # no Grafana contact points: one paging path, no double pages
        (group,) = alerting["rules.yaml"]["groups"]
        assert group["name"] == f"tenant-{tenant}" and group["folder"] == tenant
        thresholds = {}
        for rule in group["rules"]:
            assert {q["datasourceUid"] for q in rule["data"]} == {f"metrics-{tenant}", "__expr__"}
            (condition,) = rule["data"][1]["model"]["conditions"]
            thresholds[rule["labels"]["severity"]] = condition["evaluator"]["params"][0]
        # The view's rules and the paging alarms fire at the same thresholds.
        assert alarms[f"{tenant}-service-5xx"]["threshold"] == round(thresholds["critical"] * 100)
        assert alarms[f"{tenant}-service-latency"]["threshold"] == thresholds["warning"]
        assert alarms[f"{tenant}-service-5xx"]["tags"]["severity"] == "critical"
        assert alarms[f"{tenant}-service-latency"]["tags"]["severity"] == "warning"


def _relabel_rules(body: str) -> list[dict[str, Any]]:
    """The `rule { ... }` blocks of an Alloy discovery.relabel body, as attribute maps."""
    rules, current = [], None
    for line in body.splitlines():
        line = line.strip()
        if line == "rule {":
            current = {}
        elif line == "}" and current is not None:
            rules.append(current)
            current = None
        elif current is not None and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            current[key] = json.loads(value)
    return rules


def _relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus relabelling (replace, keep, drop), as Alloy applies it: anchored regex, `;` joins."""
    out = dict(labels)
    for rule in rules:
        value = ";".join(out.get(label, "") for label in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if (action == "keep" and not match) or (action == "drop" and match):
            return None
        if action == "replace" and match:
            found = [match.group(0), *match.groups()]
            replacement = str(rule.get("replacement", "$1"))
            out[rule["target_label"]] = re.sub(
                r"\$(\d+)",
                lambda ref, found=found: (found[int(ref[1])] or "") if int(ref[1]) < len(found) else "",
                replacement,
            )
    return out


def _blocks(config: str) -> dict[str, str]:
    """Top-level Alloy blocks by header (`kind "label"`), each with its body."""
    found: dict[str, str] = {}
    header, body = "", []
    for line in config.splitlines():
        if not line.startswith(" ") and line.endswith("{"):
            header, body = line[:-1].strip(), []
        elif line == "}":
            found[header] = "\n".join(body)
        else:
            body.append(line)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_traces_are_filed_under_the_namespace_that_sent_them(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = served(plan)
    alloy = release(plan, "alloy")["values"]["alloy"]
    assert {"name": "otlp-grpc", "port": 4317, "targetPort": 4317, "protocol": "TCP"} in alloy["extraPorts"]
    assert release(plan, "tempo")["values"]["traces"]["otlp"]["grpc"]["enabled"] is True
    blocks = _blocks(alloy["configMap"]["content"])
    # What the sender claims is discarded before the namespace is looked up from its connection.
    assert 'delete_key(attributes, \\"k8s.namespace.name\\")' in blocks['otelcol.processor.transform "untrusted"']
    assert "k8sattributes.source.input" in blocks['otelcol.processor.transform "untrusted"']
    assert "pod_association" not in blocks['otelcol.processor.k8sattributes "source"']  # by connection only
    for tenant in tenants:
        name = tenant.replace("-", "_")
        span_filter = blocks[f'otelcol.processor.filter "traces_{name}"']
        assert f'!= \\"{tenant}\\"' in span_filter and f"otelcol.exporter.otlp.traces_{name}.input" in span_filter
        exporter = blocks[f'otelcol.exporter.otlp "traces_{name}"']
        assert f'"X-Scope-OrgID" = "{tenant}"' in exporter and "tempo-distributor" in exporter
    platform = blocks['otelcol.processor.filter "traces_platform"']
    assert all(tenant in platform for tenant in tenants)  # tenant spans never land under `platform`
    runtime = [
        r["inputs"]["data"]
        for r in resources_of(plan, "kubernetes:core/v1:ConfigMap")
        if r["inputs"]["metadata"]["name"] == "tenant-runtime"
    ]
    assert len(runtime) == len(tenants)
    assert all(d["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://alloy.observability.svc:4317" for d in runtime)


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_container_logs_land_in_the_tenants_own_log_group(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    tenants = served(plan)
    (addon,) = [
        r["inputs"]
        for r in resources_of(plan, "aws:eks/addon:Addon")
        if r["inputs"]["addonName"] == "amazon-cloudwatch-observability"
    ]
    config = json.loads(addon["configurationValues"])["containerLogs"]["fluentBit"]["config"]["extraFiles"][
        "application-log.conf"
    ]
    rule = next(line for line in config.splitlines() if line.strip().startswith("Rule"))
    assert f"^({'|'.join(tenants)})$" in rule and rule.rstrip().endswith("false")  # moved, not copied
    outputs = [section for section in config.split("[OUTPUT]")[1:]]
    groups = {
        r["tenant"]: r["inputs"]["name"]
        for r in resources_of(plan, "aws:cloudwatch/logGroup:LogGroup")
        if r["name"].endswith("-observability-logs")
    }
    assert set(groups) == set(tenants)
    for tenant in tenants:
        (section,) = [o for o in outputs if f"Match               tenant.{tenant}\n" in o]
        assert f"log_group_name      {groups[tenant]}\n" in section and "auto_create_group   false" in section
    (shared,) = [o for o in outputs if "Match               application.*" in o]
    assert "/aws/containerinsights/${CLUSTER_NAME}/application" in shared
    insights = [r for r in resources_of(plan, "aws:cloudwatch/logGroup:LogGroup") if "-insights-" in r["name"]]
    assert len(insights) == 4
    for group in insights:
        assert group["inputs"]["kmsKeyId"] and group["inputs"]["retentionInDays"] >= 90
        assert group["options"]["protect"] is True


@pytest.mark.parametrize("stack", ["dev", "prod-us-east-1"])
def test_loki_runs_as_microservices_not_the_deprecated_simple_scalable_mode(plans: dict[str, Any], stack: str) -> None:
    """The loki chart (values.yaml at 18.x) marks SimpleScalable deprecated, removed in Loki 4."""
    (loki,) = [r for r in resources_of(plans[stack], "kubernetes:helm.sh/v3:Release") if r["inputs"]["chart"] == "loki"]
    values = loki["inputs"]["values"]
    assert values["deploymentMode"] == "Distributed"
    assert all(values[target]["replicas"] == 0 for target in ("read", "write", "backend", "singleBinary"))
    assert all(values[target]["replicas"] >= 2 for target in ("distributor", "ingester", "querier"))
