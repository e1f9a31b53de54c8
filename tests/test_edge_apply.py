"""Edge and workload fixes, each asserted where it shows: front-ends reach tenant-specific origins
without the viewer's Host (1), one stack per pair writes each ACM validation record (2), a verified
tenant domain gets a fresh certificate, not the expired request (3), ALB access logs are delivered
to the bucket in every allowed region (4), the router waits for the mesh (5), tenant workloads run
by digest (6)."""

import dataclasses
import fnmatch
import hashlib
import json
import re
from typing import Any

import pulumi
import pytest

from catalog import StackSettings
from catalog.regions import AWS_REGIONS
from planner.mocks import Registration
from tests.conftest import resources_of
from tests.helpers import of_type, run, settings_for, single

RECORD = "aws:route53/record:Record"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RELEASE = "kubernetes:helm.sh/v3:Release"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # CloudFront managed policy
PAIRS = [("prod-us-east-1", "prod-us-west-2"), ("prod-ca-central-1", "prod-ca-west-1")]
PROD = ("prod-us-east-1", "prod-us-west-2", "prod-ca-central-1", "prod-ca-west-1")


def _behaviors(distribution: dict[str, Any]) -> list[dict[str, Any]]:
    return [distribution["inputs"]["defaultCacheBehavior"], *distribution["inputs"]["orderedCacheBehaviors"]]


# ------------------------------------------------------------- 1: origins the ALB and router serve


def test_front_ends_reach_each_region_by_a_tenant_origin_its_entry_serves(plans: dict[str, Any]) -> None:
    by_region = {plans[stack]["region"]: plans[stack] for stack in PROD}
    distributions = [d for d in resources_of(plans["prod-us-east-1"], DISTRIBUTION)]
    assert distributions
    for d in distributions:
        tenant = d["tenant"]
        # CloudFront sends the origin's own name as Host, not the viewer's (tenant-owned) domain.
        assert {b["originRequestPolicyId"] for b in _behaviors(d)} == {ALL_VIEWER_EXCEPT_HOST}, tenant
        for origin in d["inputs"]["origins"]:
            host, region = origin["domainName"], origin["originId"]
            label, domain = host.split(".", 1)
            assert label == f"{tenant}-origin-{region}" and len(label) <= 63
            plan = by_region[region]
            # that region's stack publishes the name, as an alias of its entry load balancer ...
            (balancer,) = resources_of(plan, "aws:lb/loadBalancer:LoadBalancer")
            (record,) = [r for r in resources_of(plan, RECORD) if r["inputs"]["name"] == host]
            assert record["inputs"]["aliases"][0]["name"] == plan["outputs"]["entryDnsName"]
            assert balancer["name"] == "entry"
            # ... its entry certificate covers it (one label under *.domain) ...
            (certificate,) = [c for c in resources_of(plan, CERTIFICATE) if c["name"] == "entry"]
            assert certificate["inputs"]["domainName"] == f"*.{domain}" and fnmatch.fnmatch(host, f"*.{domain}")
            # ... and the router sends it to this tenant's services.
            (ingress,) = [
                i
                for i in resources_of(plan, INGRESS)
                if i["tenant"] == tenant and i["inputs"]["metadata"]["name"] == "tenant-routes"
            ]
            assert host in {rule["host"] for rule in ingress["inputs"]["spec"]["rules"]}


# ------------------------------------------------------- 2: one writer per ACM validation record


def _record_sets(plan: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    found = set()
    for r in resources_of(plan, RECORD):
        i = r["inputs"]
        assert "[unknown]" not in (i["name"], i["type"]), r["urn"]
        found.add((i["zoneId"], i["name"].rstrip(".").lower(), i["type"], i.get("setIdentifier", "")))
    return found


@pytest.mark.parametrize("pair", PAIRS)
def test_no_route53_record_is_written_by_both_stacks_of_a_pair(plans: dict[str, Any], pair: tuple[str, str]) -> None:
    first, second = (plans[stack] for stack in pair)
    assert _record_sets(first) & _record_sets(second) == set()
    # The pair member whose region sorts first writes the entry certificate's record; both wait.
    owner, waiter = sorted((first, second), key=lambda p: p["region"])
    # The same for the public API's `*.api.<domain>` certificate (PublicApi).
    for certificate in ("entry", "api-domain"):
        for plan in (owner, waiter):
            (validation,) = [v for v in resources_of(plan, VALIDATION) if v["name"] == certificate]
            records = [r for r in resources_of(plan, RECORD) if r["name"] == f"{certificate}-validation"]
            if plan is owner:
                (record,) = records
                assert validation["inputs"]["validationRecordFqdns"] == [record["inputs"]["name"].rstrip(".")]
            else:
                assert records == [] and not validation["inputs"].get("validationRecordFqdns")
        # Both certificates are validated by that one record (same domain, same account).
        domains = {
            c["inputs"]["domainName"]
            for plan in (owner, waiter)
            for c in resources_of(plan, CERTIFICATE)
            if c["name"] == certificate
        }
        assert len(domains) == 1 and next(iter(domains)).startswith("*."), certificate


# ----------------------------------------------- 3: tenant-owned domain: request, then fresh cert


def _front_end(settings: StackSettings, verified: bool) -> list[Registration]:
    from components.edge.global_edge import TenantFrontEnd, TenantFrontEndArgs
    from components.shared.providers import regional_aws_provider

    assert settings.global_edge is not None
    base = next(t for t in settings.tenants if settings.global_edge.zone_for(t.domain) is None)
    tenant = dataclasses.replace(base, domain_verified=verified)

    def program() -> None:
        TenantFrontEnd(
            f"global-edge-{tenant.id}",
            TenantFrontEndArgs(settings=settings, edge=settings.global_edge, tenant=tenant, logs_key_arn=None),  # type: ignore[arg-type]
            pulumi.ResourceOptions(provider=regional_aws_provider(settings)),
        )

    return run(program, settings)


def test_verified_tenant_domain_gets_a_fresh_certificate_not_the_pending_request() -> None:
    settings = settings_for("prod-us-east-1")
    pending, verified = _front_end(settings, False), _front_end(settings, True)

    # Phase 1: only the request; its records go to the tenant; nothing waits on their DNS.
    (request,) = of_type(pending, CERTIFICATE)
    assert request.name.endswith("-request")
    assert not of_type(pending, VALIDATION) and not of_type(pending, DISTRIBUTION)

    # Phase 2: another logical certificate (a new ACM request; the old one, possibly expired after
    # 72 h, is deleted), validated from the record the tenant already has, and only it is used.
    (certificate,) = of_type(verified, CERTIFICATE)
    assert certificate.urn != request.urn
    assert certificate.inputs["domainName"] == request.inputs["domainName"]
    validation = single(verified, VALIDATION)
    assert not validation.inputs.get("validationRecordFqdns")  # the tenant's DNS holds the record
    assert certificate.urn in validation.options["dependsOn"]
    assert validation.inputs["certificateArn"].endswith(f":{certificate.name}")
    distribution = single(verified, DISTRIBUTION)
    assert distribution.inputs["viewerCertificate"]["acmCertificateArn"] == validation.inputs["certificateArn"]
    assert validation.urn in distribution.options["dependsOn"]
    assert not of_type(verified, RECORD)  # the platform never writes into the tenant's DNS


# ------------------------------------------------------------ 4: ALB access-log delivery


def _log_delivery_statement(plan: dict[str, Any]) -> dict[str, Any]:
    (policy,) = [p for p in resources_of(plan, "aws:s3/bucketPolicy:BucketPolicy") if p["name"] == "entry-access-logs"]
    return next(s for s in json.loads(policy["inputs"]["policy"])["Statement"] if s.get("Sid") == "ElbLogDelivery")


@pytest.mark.parametrize(
    ("stack", "principal"),
    [
        ("prod-us-east-1", {"AWS": "arn:aws:iam::127311923021:root"}),
        ("prod-us-west-2", {"AWS": "arn:aws:iam::797873946194:root"}),
        ("prod-ca-central-1", {"AWS": "arn:aws:iam::985666609251:root"}),
        ("prod-ca-west-1", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),  # launched 2023
    ],
)
def test_alb_access_logs_are_granted_to_the_regions_delivery_principal(
    plans: dict[str, Any], stack: str, principal: dict[str, str]
) -> None:
    plan = plans[stack]
    assert _log_delivery_statement(plan)["Principal"] == principal
    # ELB tests the bucket when access logs are switched on: the policy must exist by then.
    (policy,) = [p for p in resources_of(plan, "aws:s3/bucketPolicy:BucketPolicy") if p["name"] == "entry-access-logs"]
    (balancer,) = resources_of(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert policy["urn"] in balancer["options"]["dependsOn"]


def test_every_catalog_region_has_an_access_log_principal_and_others_fail_clearly() -> None:
    from components.edge.public_entry import ELB_ACCOUNTS, elb_log_delivery_principal

    for region in AWS_REGIONS:
        principal = elb_log_delivery_principal(region)
        assert principal in ({"AWS": f"arn:aws:iam::{ELB_ACCOUNTS.get(region)}:root"}, {"Service": ELB_SERVICE})
    with pytest.raises(ValueError, match="no ALB access-log principal known for region xx-moon-1"):
        elb_log_delivery_principal("xx-moon-1")


ELB_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


# ---------------------------------------------------------------- 5: router after the mesh


def test_router_release_waits_for_istiod() -> None:
    import pulumi_kubernetes as k8s

    from components.edge.ingress_routing import IngressRouting, IngressRoutingArgs
    from components.platform.service_mesh import ServiceMesh, ServiceMeshArgs
    from components.shared.providers import regional_aws_provider

    settings = settings_for("dev")

    def program() -> None:
        providers = [regional_aws_provider(settings), k8s.Provider("k8s", kubeconfig="{}")]
        on_cluster = pulumi.ResourceOptions(providers=providers)
        mesh = ServiceMesh("mesh", ServiceMeshArgs(settings=settings), on_cluster)
        IngressRouting(
            "ingress",
            IngressRoutingArgs(
                settings=settings,
                cluster_name="ip-dev-us-east-1",
                vpc_id="vpc-1",
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.example",
                oidc_provider_url="oidc.example",
                target_group_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1",
                entry_security_group_id="sg-entry",
                cluster_security_group_id="sg-cluster",
                mesh=mesh,
            ),
            on_cluster,
        )

    registrations = run(program, settings)
    releases = {r.name: r for r in of_type(registrations, RELEASE)}
    assert releases["mesh-istiod"].urn in releases["ingress-router"].options["dependsOn"]
    assert releases["mesh-cni"].urn in releases["ingress-router"].options["dependsOn"]


# ------------------------------------------------------------------ 6: workloads by digest

_DIGEST_REF = re.compile(r"^(?P<repository>\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[^@:]+)@sha256:[0-9a-f]{64}$")


def _images(plan: dict[str, Any]) -> list[str]:
    found = []
    for r in plan["resources"]:
        if r["type"] in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job") and r["tenant"]:
            found += [c["image"] for c in r["inputs"]["spec"]["template"]["spec"]["containers"]]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod-us-west-2"])
def test_tenant_workloads_run_the_digest_their_tag_resolves_to(plans: dict[str, Any], stack: str) -> None:
    settings = settings_for(stack)
    configured = {
        i.repository: i
        for i in (
            settings.images.carrier,
            settings.images.policy,
            settings.images.migrations,
            settings.images.aggregator,
        )
    }
    images = _images(plans[stack])
    assert images and {"schema-migrations", "aggregator-service"} <= {
        i.split("@")[0].rsplit("/", 1)[-1] for i in images
    }
    for image in images:
        match = _DIGEST_REF.match(image)
        assert match, image
        wanted = configured[match["repository"]]
        account, rest = wanted.repository.split(".", 1)
        repository = rest.split("/", 1)[1]
        # the offline engine's answer for this registry, repository and tag (planner/mocks.py)
        digest = hashlib.sha256(f"{account}/{repository}:{wanted.tag}".encode()).hexdigest()
        assert image == f"{wanted.repository}@sha256:{digest}"


def test_image_policy_requires_digests_for_tenant_workloads() -> None:
    from tests.test_policies_tenants import DEPLOYMENT, untenanted, violations, with_container

    tagged = "111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-service:1.14.2"
    pinned = "111111111111.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-service@sha256:" + "0" * 64
    assert violations("workload-image-provenance", DEPLOYMENT, with_container(image=pinned)) == []
    (found,) = violations("workload-image-provenance", DEPLOYMENT, with_container(image=tagged))
    assert "tenant workload" in found and "pin it by digest" in found
    (found,) = violations("workload-image-provenance", DEPLOYMENT, with_container(image=pinned[:-1]))
    assert "malformed digest" in found
    # Platform workloads (no tenant label) may still run an exact tag.
    assert violations("workload-image-provenance", DEPLOYMENT, untenanted(with_container(image=tagged))) == []


# --------------------------------------------------------------- EDGE-CF-1 on the new origins


def test_front_end_policy_refuses_forwarded_host_and_other_tenants_origins() -> None:
    from tests.test_policies import CF, CF_OK, resource_violations

    assert resource_violations("front-end-hardening", CF, CF_OK) == []
    forwarding = {
        **CF_OK,
        "defaultCacheBehavior": {
            **CF_OK["defaultCacheBehavior"],
            "originRequestPolicyId": "216adef6-5c7f-47e4-b989-5492eafa07d3",
        },
    }
    (found,) = resource_violations("front-end-hardening", CF, forwarding)
    assert "(default)" in found and "AllViewerExceptHostHeader" in found
    for host in ("origin-us-east-1.insure.example.com", "other-origin-us-east-1.insure.example.com"):
        origins = [{**CF_OK["origins"][0], "domainName": host}, CF_OK["origins"][1]]
        (found,) = resource_violations("front-end-hardening", CF, {**CF_OK, "origins": origins})
        assert f"origin {host} is not tenant 'acme'" in found
    # RES-4 still reads the region from a tenant origin, and still refuses one outside residency.
    outside = [{**CF_OK["origins"][0], "domainName": "acme-origin-eu-west-1.insure.example.com"}]
    (found,) = resource_violations("front-end-origins-inside-residency", CF, {**CF_OK, "origins": outside})
    assert "is in eu-west-1, outside" in found
    unknown = [{**CF_OK["origins"][0], "domainName": "acme.example.net"}]
    (found,) = resource_violations("front-end-origins-inside-residency", CF, {**CF_OK, "origins": unknown})
    assert "its region is unknown" in found
