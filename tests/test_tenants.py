"""Tenants complete, asserted on the plans: every piece a tenant gets follows its catalog file and
tier — services, scaling, routing, data, messaging, identity and cost."""

import json
import re
from typing import Any

import pytest

from catalog import TIERS
from catalog.loader import load_catalog
from components.tenant.tenant_services import doubled
from planner.runner import ROOT
from tests.conftest import resources_of

STACK = "prod-us-east-1"
CATALOG = {t.id: t for t in load_catalog(ROOT / "tenants" / "prod")}


def owned(plan: dict[str, Any], tenant: str, type_: str) -> list[dict[str, Any]]:
    return [r for r in resources_of(plan, type_) if r["tenant"] == tenant]


def named(plan: dict[str, Any], tenant: str, type_: str) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["metadata"]["name"]: r for r in owned(plan, tenant, type_)}


@pytest.fixture(scope="module")
def plan(plans: dict[str, Any]) -> dict[str, Any]:
    return plans[STACK]


SERVED = sorted(t for t in CATALOG if "us-east-1" in CATALOG[t].regions)


@pytest.mark.parametrize("tenant", SERVED)
def test_services_are_hardened_and_sized_by_tier(plan: dict[str, Any], tenant: str) -> None:
    tier = CATALOG[tenant].tier
    deployments = named(plan, tenant, "kubernetes:apps/v1:Deployment")
    assert set(deployments) == {"carrier-api", "carrier-worker", "policy-api", "policy-worker", "aggregator"}
    for name, d in deployments.items():
        pod = d["inputs"]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == name.split("-")[0]
        assert (
            pod["securityContext"]["runAsNonRoot"] is True
            and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        )
        (container,) = pod["containers"]
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["runAsNonRoot"] is True
        assert container["resources"]["requests"] == {"cpu": tier.service_cpu, "memory": tier.service_memory}
        assert container["resources"]["limits"] == {
            "cpu": doubled(tier.service_cpu),
            "memory": doubled(tier.service_memory),
        }
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["image"].startswith("222222222222.dkr.ecr.us-east-1.amazonaws.com/insurance/")
        assert not container["image"].endswith(":latest")
        assert d["options"]["ignoreChanges"] == ["spec.replicas"]
        if tier.placement == "dedicated":
            assert pod["nodeSelector"] == {"node-pool": "dedicated", "tenant": tenant}
            assert pod["tolerations"] == [
                {"key": "tenant", "operator": "Equal", "value": tenant, "effect": "NoSchedule"}
            ]
        else:
            assert pod["nodeSelector"] == {"node-pool": "shared"} and "tolerations" not in pod


@pytest.mark.parametrize("tenant", SERVED)
def test_scaling_and_disruption_follow_the_tier(plan: dict[str, Any], tenant: str) -> None:
    tier = CATALOG[tenant].tier
    for hpa in owned(plan, tenant, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        assert (hpa["inputs"]["spec"]["minReplicas"], hpa["inputs"]["spec"]["maxReplicas"]) == (
            tier.hpa_min,
            tier.hpa_max,
        )
    scaled = named(plan, tenant, "kubernetes:keda.sh/v1alpha1:ScaledObject")
    assert set(scaled) == {"carrier-worker", "policy-worker"}
    for obj in scaled.values():
        spec = obj["inputs"]["spec"]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (tier.hpa_min, tier.hpa_max)
        assert [t["type"] for t in spec["triggers"]] == ["aws-sqs-queue", "cpu"]
        assert spec["triggers"][0]["metadata"]["queueURL"].endswith(
            f"-{tenant}-{obj['inputs']['metadata']['name'].split('-')[0]}-jobs"
        )
    vpas = owned(plan, tenant, "kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler")
    assert len(vpas) == 5 and all(v["inputs"]["spec"]["updatePolicy"]["updateMode"] == "Off" for v in vpas)
    pdbs = owned(plan, tenant, "kubernetes:policy/v1:PodDisruptionBudget")
    if tier.pdb_min_available is None:
        assert pdbs == []
    else:
        assert len(pdbs) == 5 and {p["inputs"]["spec"]["minAvailable"] for p in pdbs} == {tier.pdb_min_available}


@pytest.mark.parametrize("tenant", SERVED)
def test_route_on_the_tenant_host_names(plan: dict[str, Any], tenant: str) -> None:
    (ingress,) = [
        r
        for r in owned(plan, tenant, "kubernetes:networking.k8s.io/v1:Ingress")
        if r["inputs"]["metadata"]["name"] == "tenant-routes"  # public-api-route: tests/test_api_gateway.py
    ]
    spec = ingress["inputs"]["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert [r["host"] for r in spec["rules"]] == [
        CATALOG[tenant].domain,
        f"{tenant}.insure.example.com",
        f"{tenant}-origin-us-east-1.insure.example.com",  # what its CloudFront front-end sends as Host
    ]
    services = {p["backend"]["service"]["name"] for r in spec["rules"] for p in r["http"]["paths"]}
    assert services == {"carrier-api", "policy-api", "aggregator"}


HOME = sorted(t for t in SERVED if CATALOG[t].home_region == "us-east-1")


@pytest.mark.parametrize("tenant", HOME)
def test_schema_migration_runs_before_the_services(plan: dict[str, Any], tenant: str) -> None:
    (job,) = [j for j in owned(plan, tenant, "kubernetes:batch/v1:Job") if j["name"].endswith("-services-migrate")]
    assert job["inputs"]["metadata"]["namespace"] == CATALOG[tenant].namespace
    assert job["options"]["deleteBeforeReplace"] is True
    pod = job["inputs"]["spec"]["template"]["spec"]
    # The configured tag (2.3.0), resolved to its digest in ECR at deploy time.
    assert re.search(r"/schema-migrations@sha256:[0-9a-f]{64}$", pod["containers"][0]["image"])
    assert pod["restartPolicy"] == "Never"
    # Its own database user (IAM authentication), created before it runs; no credential mounted.
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["DATABASE_USER"] == f"{tenant.replace('-', '_')}_migrations" and env["DATABASE_AUTH"] == "iam"
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    (users,) = [j for j in owned(plan, tenant, "kubernetes:batch/v1:Job") if j["name"].endswith("-db-users-job")]
    assert users["urn"] in job["options"]["dependsOn"]
    for d in owned(plan, tenant, "kubernetes:apps/v1:Deployment"):
        assert job["urn"] in d["options"]["dependsOn"]


@pytest.mark.parametrize("tenant", HOME)
def test_database_is_complete(plan: dict[str, Any], tenant: str) -> None:
    tier = CATALOG[tenant].tier
    dbs = owned(plan, tenant, "aws:rds/instance:Instance")
    (primary,) = [d for d in dbs if "replicateSourceDb" not in d["inputs"]]
    i = primary["inputs"]
    assert i["monitoringInterval"] == 60 and i["monitoringRoleArn"]
    assert i["iamDatabaseAuthenticationEnabled"] is True and i["autoMinorVersionUpgrade"] is True
    assert i["optionGroupName"] and i["dbSubnetGroupName"].endswith("-tenant-databases")
    replicas = [d for d in dbs if "replicateSourceDb" in d["inputs"]]
    assert len(replicas) == (1 if tier.database.read_replica else 0)
    for replica in replicas:
        assert replica["inputs"]["replicateSourceDb"] == i["identifier"]
        assert replica["inputs"]["kmsKeyId"] == i["kmsKeyId"] and replica["options"]["protect"] is True


@pytest.mark.parametrize("tenant", HOME)
def test_documents_bucket_uses_the_tenant_key_and_tier_retention(plan: dict[str, Any], tenant: str) -> None:
    tier = CATALOG[tenant].tier
    documents = f"tenant-{tenant}-documents"  # beside it, the event landing bucket (test_tenant_stream.py)
    (bucket,) = [b for b in owned(plan, tenant, "aws:s3/bucket:Bucket") if b["name"] == documents]
    assert bucket["inputs"]["bucket"] == f"ip-prod-us-east-1-{tenant}-data" and bucket["options"]["protect"] is True
    (sse,) = [
        r
        for r in owned(
            plan, tenant, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
        if r["name"] == documents
    ]
    (rule,) = sse["inputs"]["rules"]
    key = next(k for k in owned(plan, tenant, "aws:kms/key:Key") if not k["name"].endswith("-pii"))
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"] is True
    assert key["urn"] in sse["options"]["dependsOn"]
    (lifecycle,) = [
        r
        for r in owned(plan, tenant, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r["name"] == documents
    ]
    assert lifecycle["inputs"]["rules"][0]["expiration"]["days"] == tier.document_retention_days


@pytest.mark.parametrize("tenant", SERVED)
def test_messaging_is_encrypted_with_dead_letters(plan: dict[str, Any], tenant: str) -> None:
    queues = {q["inputs"]["name"]: q for q in owned(plan, tenant, "aws:sqs/queue:Queue")}
    key = next(k for k in owned(plan, tenant, "aws:kms/key:Key") if not k["name"].endswith("-pii"))
    for service in ("carrier", "policy"):
        main, dlq = queues[f"ip-prod-{tenant}-{service}-jobs"], queues[f"ip-prod-{tenant}-{service}-jobs-dlq"]
        redrive = json.loads(main["inputs"]["redrivePolicy"])
        assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].endswith(f"{service}-jobs-dlq")
        for q in (main, dlq):
            assert key["urn"] in q["options"]["dependsOn"] and q["inputs"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    topics = [t for t in owned(plan, tenant, "aws:sns/topic:Topic") if t["inputs"]["name"].endswith("-updates")]
    assert sorted(t["inputs"]["name"] for t in topics) == [
        f"ip-prod-{tenant}-carrier-updates",
        f"ip-prod-{tenant}-policy-updates",
    ]
    assert all(key["urn"] in t["options"]["dependsOn"] for t in topics)


@pytest.mark.parametrize("tenant", SERVED)
def test_identity_is_the_tenants_own(plan: dict[str, Any], tenant: str) -> None:
    accounts = {
        name: account
        for name, account in named(plan, tenant, "kubernetes:core/v1:ServiceAccount").items()
        if account["inputs"]["metadata"]["namespace"] == CATALOG[tenant].namespace
    }
    assert set(accounts) == {"carrier", "policy", "aggregator", "migrations", "tenant-secrets"}
    home = CATALOG[tenant].home_region == "us-east-1"
    roles = {"carrier": "carrier", "policy": "policy", "aggregator": "aggregator", "tenant-secrets": "secrets"} | (
        {"migrations": "migrations"} if home else {}
    )
    for name, role in roles.items():
        annotation = accounts[name]["inputs"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        suffix = f"ip-prod-us-east-1-secrets-{tenant}" if role == "secrets" else f"ip-prod-us-east-1-{tenant}-{role}"
        assert annotation.endswith(f":role/{suffix}")
    if not home:  # no database here: the migrations run in the home region
        assert "annotations" not in accounts["migrations"]["inputs"]["metadata"]
    (entry,) = owned(plan, tenant, "aws:eks/accessEntry:AccessEntry")
    assert entry["inputs"]["kubernetesGroups"] == [f"tenant:{tenant}:operators"]
    (association,) = [
        a
        for a in resources_of(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        if a["tenant"] == tenant
    ]
    assert association["inputs"]["accessScope"] == {"type": "namespace", "namespaces": [tenant]}
    pools = owned(plan, tenant, "aws:cognito/userPool:UserPool")
    if CATALOG[tenant].home_region == "us-east-1":
        (pool,) = pools
        assert pool["inputs"]["mfaConfiguration"] == "ON" and pool["inputs"]["passwordPolicy"]["minimumLength"] >= 14
        assert pool["inputs"]["userPoolAddOns"]["advancedSecurityMode"] == "ENFORCED"
        assert pool["options"]["protect"] is True
        (jwt,) = owned(plan, tenant, "kubernetes:security.istio.io/v1:RequestAuthentication")
        assert jwt["inputs"]["spec"]["jwtRules"][0]["issuer"].startswith("https://cognito-idp.us-east-1.amazonaws.com/")
    else:
        assert pools == []


@pytest.mark.parametrize("tenant", HOME)
def test_budget_alerts_the_tenants_contacts(plan: dict[str, Any], tenant: str) -> None:
    (budget,) = owned(plan, tenant, "aws:budgets/budget:Budget")
    i = budget["inputs"]
    assert i["limitAmount"] == str(CATALOG[tenant].tier.monthly_budget_usd) and i["timeUnit"] == "MONTHLY"
    assert i["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:tenant${tenant}"]}]
    emails = sorted(c.email for c in CATALOG[tenant].contacts)
    assert {(n["threshold"], n["notificationType"]) for n in i["notifications"]} == {
        (80, "ACTUAL"),
        (100, "FORECASTED"),
        (100, "ACTUAL"),
    }
    assert all(sorted(n["subscriberEmailAddresses"]) == emails for n in i["notifications"])


def test_tier_table_is_monotonic() -> None:
    basic, standard, premium = (TIERS[n] for n in ("basic", "standard", "premium"))
    for lower, higher in ((basic, standard), (standard, premium)):
        assert lower.hpa_max <= higher.hpa_max and lower.hpa_min <= higher.hpa_min
        assert lower.database.backup_retention_days <= higher.database.backup_retention_days
        assert lower.log_retention_days <= higher.log_retention_days
        assert lower.rpo_minutes >= higher.rpo_minutes and lower.rto_minutes >= higher.rto_minutes
        assert lower.monthly_budget_usd <= higher.monthly_budget_usd
        # A higher tier answers sooner: its fan-out gives up on a slow service no later.
        assert lower.fanout_call_timeout_ms >= higher.fanout_call_timeout_ms
        assert lower.fanout_deadline_ms >= higher.fanout_deadline_ms
