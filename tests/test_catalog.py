"""Every config or catalog mistake stops with one message naming the file and the field."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog import TIERS, ConfigError
from catalog.loader import load_catalog, load_settings, parse_tenant

VALID: dict[str, Any] = {
    "id": "acme-mutual",
    "displayName": "Acme Mutual",
    "tier": "standard",
    "homeRegion": "us-east-1",
    "regions": ["us-east-1", "us-west-2"],
    "residency": ["us-east-1", "us-west-2"],
    "domain": "acme.insure.example.com",
    "contacts": [{"name": "Ops", "email": "ops@acme.example.com"}],
}


def tenant(**changes: Any) -> str:
    data = {**VALID, **changes}
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)


def error_of(text: str, stem: str | None = "acme-mutual") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_tenant("tenants/prod/acme-mutual.yaml", text, stem)
    return caught.value


def test_valid_tenant_parses_into_typed_object() -> None:
    t = parse_tenant("f.yaml", tenant(), "acme-mutual")
    assert t.id == "acme-mutual"
    assert t.tier == TIERS["standard"]
    assert t.regions == ("us-east-1", "us-west-2")
    assert t.contacts[0].email == "ops@acme.example.com"
    assert t.served_in("us-west-2") and not t.served_in("eu-west-1")


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"tier": "gold"}, "tier", "unknown tier 'gold'"),
        ({"id": "Acme_Mutual"}, "id", "not a valid tenant id"),
        ({"id": "acme--mutual"}, "id", "not a valid tenant id"),
        ({"id": "9lives"}, "id", "not a valid tenant id"),
        ({"id": "kube-system"}, "id", "reserved"),
        ({"id": "api"}, "id", "reserved"),  # the public API's host api.<domain>
        ({"domain": "not a domain"}, "domain", "not a valid DNS name"),
        ({"domain": "-bad.example.com"}, "domain", "not a valid DNS name"),
        ({"domain": "localhost"}, "domain", "not a valid DNS name"),
        ({"homeRegion": "eu-west-1"}, "homeRegion", "not one of the tenant's regions"),
        ({"homeRegion": "us-east-9"}, "homeRegion", "not an AWS region"),
        ({"residency": ["us-east-1"]}, "regions", "served region 'us-west-2' is outside the tenant's residency"),
        ({"regions": ["us-east-1", "mars-north-1"]}, "regions", "'mars-north-1' is not an AWS region"),
        ({"regions": []}, "regions", "must not be empty"),
        ({"domainVerified": "yes"}, "domainVerified", "true or false"),
        ({"regions": ["us-east-1", "us-east-1"]}, "regions", "duplicate"),
        ({"displayName": None}, "displayName", "required key is missing"),
        ({"contacts": None}, "contacts", "required key is missing"),
        ({"teir": "basic"}, "teir", "unknown key"),
        ({"contacts": []}, "contacts", "non-empty list"),
        ({"contacts": [{"name": "Ops", "email": "not-an-email"}]}, "contacts[0].email", "not an email address"),
        ({"contacts": [{"name": "Ops", "email": "a@b.co", "phone": "1"}]}, "contacts[0].phone", "unknown key"),
    ],
)
def test_catalog_mistakes_name_file_and_field(changes: dict[str, Any], field: str, fragment: str) -> None:
    error = error_of(tenant(**changes))
    assert error.file == "tenants/prod/acme-mutual.yaml"
    assert error.field == field
    assert fragment in error.problem
    assert str(error).startswith(f"tenants/prod/acme-mutual.yaml: {field}: ")
    assert "\n" not in str(error)


def test_malformed_yaml_reports_position() -> None:
    error = error_of("id: acme-mutual\ntier: [basic\n")
    assert error.field == "(document)"
    assert "malformed YAML at line" in error.problem


def test_document_must_be_a_mapping() -> None:
    assert "mapping" in error_of("- just\n- a list\n").problem


def test_id_must_match_file_name() -> None:
    error = error_of(tenant(), stem="other-name")
    assert error.field == "id" and "must match the file name" in error.problem


@pytest.mark.parametrize(
    ("tier", "overrides", "field"),
    [
        ("premium", {"multiAz": False}, "overrides.multiAz"),
        ("standard", {"backupRetentionDays": 7}, "overrides.backupRetentionDays"),
        ("premium", {"dbInstanceClass": "db.t4g.medium"}, "overrides.dbInstanceClass"),
        ("basic", {"logRetentionDays": 30}, "overrides.logRetentionDays"),
        ("basic", {"logRetentionDays": 100}, "overrides.logRetentionDays"),
        ("standard", {"dbMaxAllocatedStorageGb": 10}, "overrides.dbMaxAllocatedStorageGb"),
        ("basic", {"backupRetentionDays": 40}, "overrides.backupRetentionDays"),
        ("basic", {"dbInstanceClass": "db.x2g.huge"}, "overrides.dbInstanceClass"),
        ("basic", {"deletionProtection": False}, "overrides.deletionProtection"),
    ],
)
def test_overrides_may_only_strengthen(tier: str, overrides: dict[str, Any], field: str) -> None:
    error = error_of(tenant(tier=tier, overrides=overrides))
    assert error.field == field


def test_overrides_that_strengthen_are_applied() -> None:
    t = parse_tenant(
        "f.yaml",
        tenant(
            tier="basic",
            overrides={
                "multiAz": True,
                "backupRetentionDays": 21,
                "dbInstanceClass": "db.r7g.large",
                "logRetentionDays": 365,
            },
        ),
        "acme-mutual",
    )
    assert t.tier.database.multi_az is True
    assert t.tier.database.backup_retention_days == 21
    assert t.tier.database.instance_class == "db.r7g.large"
    assert t.tier.log_retention_days == 365
    assert TIERS["basic"].database.multi_az is False  # the table itself is untouched


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "prod"
    write(folder, "acme-mutual.yaml", tenant())
    write(folder, "acme-mutual.yml", tenant(domain="other.example.com"))
    with pytest.raises(ConfigError) as caught:
        load_catalog(folder, display_root=tmp_path)
    assert caught.value.field == "id" and "duplicate tenant id 'acme-mutual'" in caught.value.problem
    assert caught.value.file == "tenants/prod/acme-mutual.yml"


def test_duplicate_domain_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "prod"
    write(folder, "acme-mutual.yaml", tenant())
    write(folder, "beta-life.yaml", tenant(id="beta-life"))
    with pytest.raises(ConfigError) as caught:
        load_catalog(folder, display_root=tmp_path)
    assert caught.value.field == "domain" and "already used" in caught.value.problem


def test_stray_file_in_catalog(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "prod"
    write(folder, "notes.txt", "hello")
    with pytest.raises(ConfigError, match=r"only <tenant-id>\.yaml files"):
        load_catalog(folder, display_root=tmp_path)


# ---------------------------------------------------------------------------- stack settings

STACK: dict[str, str] = {
    "aws:region": "us-east-1",
    "p:environment": "prod",
    "p:vpcCidr": "10.30.0.0/16",
    "p:deployer": json.dumps(
        {"bootstrapStack": "organization/insurance-bootstrap/prod-us-east-1", "cidr": "10.255.30.0/24"}
    ),
    "p:database": json.dumps({"engineVersion": "11.8"}),
    "p:edge": json.dumps(
        {"domain": "insure.example.com", "hostedZoneId": "Z0PROD0000000000000001", "globalOwner": "prod-us-east-1"}
    ),
    "p:globalEdge": json.dumps(
        {
            "zones": {"insure.example.com": "Z0PROD0000000000000001"},
            "origins": {"us-east-1": "insure.example.com", "us-west-2": "insure.example.com"},
        }
    ),
    "p:operatorSso": json.dumps(
        {
            "authUrl": "https://login.insure.example.com/oauth2/v1/authorize",
            "tokenUrl": "https://login.insure.example.com/oauth2/v1/token",
            "apiUrl": "https://login.insure.example.com/oauth2/v1/userinfo",
            "clientId": "tenant-views",
        }
    ),
    "p:account": json.dumps({"owner": True, "platformBudgetUsd": 60000, "budgetEmails": ["finops@insure.example.com"]}),
    "p:services": json.dumps(
        {
            "registry": "222222222222.dkr.ecr.us-east-1.amazonaws.com/insurance",
            "carrier": {"image": "carrier-service", "tag": "1.14.2"},
            "policy": {"image": "policy-service", "tag": "2.3.0"},
            "migrations": {"image": "schema-migrations", "tag": "2.3.0"},
            "carrierProcessor": {"image": "carrier-jobs-processor", "tag": "1.14.2"},
            "policyProcessor": {"image": "policy-jobs-processor", "tag": "2.3.0"},
            "aggregator": {"image": "aggregator-service", "tag": "1.0.0"},
            "apiAuthorizer": {"image": "api-authorizer", "tag": "1.0.3"},
        }
    ),
    "p:cluster": json.dumps(
        {
            "version": "1.35",
            "adminRoleArns": ["arn:aws:iam::222222222222:role/platform-admin"],
            **{
                pool: {"instanceTypes": ["m7g.large"], "minSize": 1, "maxSize": 3, "desiredSize": 2}
                for pool in ("systemNodes", "sharedNodes", "dedicatedNodes")
            },
        }
    ),
}


def settings_error(tmp_path: Path, **changes: str | None) -> ConfigError:
    write(tmp_path / "tenants" / "prod", "acme-mutual.yaml", tenant())
    values = {**STACK, **changes}
    with pytest.raises(ConfigError) as caught:
        load_settings(lambda key: values.get(key), "p", "prod-us-east-1", tmp_path)
    assert caught.value.file == "Pulumi.prod-us-east-1.yaml"
    return caught.value


def test_valid_stack_settings(tmp_path: Path) -> None:
    write(tmp_path / "tenants" / "prod", "acme-mutual.yaml", tenant())
    s = load_settings(lambda key: STACK.get(key), "p", "prod-us-east-1", tmp_path)
    carrier = s.images.carrier  # resolved to a digest through this registry at deploy time
    assert (carrier.registry_account, carrier.registry_region, carrier.name) == (
        "222222222222",
        "us-east-1",
        "insurance/carrier-service",
    )
    assert carrier.ref == "222222222222.dkr.ecr.us-east-1.amazonaws.com/insurance/carrier-service:1.14.2"
    assert s.region == "us-east-1" and s.environment == "prod"
    assert s.database.parameter_group_family == "mariadb11.8"
    assert [t.id for t in s.served_tenants] == ["acme-mutual"]


@pytest.mark.parametrize(
    ("key", "value", "field", "fragment"),
    [
        ("aws:region", "us-east-7", "aws:region", "not an AWS region"),
        ("aws:region", "moon-1", "aws:region", "not an AWS region"),
        ("aws:region", None, "aws:region", "required key is missing"),
        ("p:environment", "staging", "p.environment", "must be dev or prod"),
        ("p:vpcCidr", "8.8.0.0/16", "p.vpcCidr", "private IPv4"),
        ("p:vpcCidr", "banana", "p.vpcCidr", "not a CIDR"),
        ("p:natGateways", "single", "p.natGateways", "one NAT gateway per AZ"),
        ("p:database", json.dumps({"engineVersion": "latest"}), "p.database.engineVersion", "not a MariaDB version"),
        ("p:database", json.dumps({"engine": "11.8"}), "p.database.engineVersion", "required key is missing"),
        ("p:database", "{not json", "p:database", "must be an object"),
        (
            "p:cluster",
            json.dumps({**json.loads(STACK["p:cluster"]), "version": "1.29"}),
            "p.cluster.version",
            "standard support",
        ),
        (
            "p:cluster",
            json.dumps({**json.loads(STACK["p:cluster"]), "adminRoleArns": ["admin"]}),
            "p.cluster.adminRoleArns",
            "not an IAM role ARN",
        ),
        ("p:cluster", json.dumps({**json.loads(STACK["p:cluster"]), "nodes": 3}), "p.cluster.nodes", "unknown key"),
        (
            "p:edge",
            json.dumps({"domain": "insure..example.com", "hostedZoneId": "Z01", "globalOwner": "prod-us-east-1"}),
            "p.edge.domain",
            "not a valid DNS name",
        ),
        (
            "p:edge",
            json.dumps({"domain": "insure.example.com", "hostedZoneId": "zone-1", "globalOwner": "prod-us-east-1"}),
            "p.edge.hostedZoneId",
            "not a Route 53 hosted zone id",
        ),
        ("p:edge", None, "p.edge", "required key is missing"),
        (
            "p:edge",
            json.dumps({"domain": "insure.example.com", "hostedZoneId": "Z0PROD0000000000000001"}),
            "p.edge.globalOwner",
            "required key is missing",
        ),
        ("p:globalEdge", None, "p.globalEdge", "required on the global edge owner"),
        ("p:deployer", None, "p.deployer", "required key is missing"),
        (
            "p:services",
            json.dumps({**json.loads(STACK["p:services"]), "registry": "ghcr.io/acme"}),
            "p.services.registry",
            "resolved through ECR",
        ),
        (
            "p:deployer",
            json.dumps({"bootstrapStack": "organization/insurance-bootstrap/x", "cidr": "10.30.4.0/24"}),
            "p.deployer.cidr",
            "outside the stack's vpcCidr",
        ),
        (
            "p:deployer",
            json.dumps({"bootstrapStack": "insurance-bootstrap", "cidr": "10.255.30.0/24"}),
            "p.deployer.bootstrapStack",
            "not a stack reference",
        ),
        (
            "p:cluster",
            json.dumps(
                {
                    **json.loads(STACK["p:cluster"]),
                    "adminRoleArns": ["arn:aws:iam::222222222222:role/insurance-deployer-prod-us-east-1"],
                }
            ),
            "p.cluster.adminRoleArns",
            "is the deploy role",
        ),
        (
            "p:dr",
            json.dumps({"peerRegion": "us-west-2", "peerStack": "prod-us-west-2", "peerReady": True}),
            "p.dr.peerReady",
            "unknown key",
        ),
        ("p:operatorSso", None, "p.operatorSso", "required key is missing"),
        (
            "p:operatorSso",
            json.dumps({**json.loads(STACK["p:operatorSso"]), "tokenUrl": "http://login.insure.example.com/token"}),
            "p.operatorSso.tokenUrl",
            "must be an https:// URL",
        ),
        (
            "p:globalEdge",
            json.dumps({"zones": {}, "origins": {"us-east-1": "insure.example.com"}}),
            "p.globalEdge.origins.us-west-2",
            "tenant 'acme-mutual' is served there",
        ),
        (
            "p:globalEdge",
            json.dumps({"zones": {}, "origins": {"us-east-1": "other.example.com", "us-west-2": "insure.example.com"}}),
            "p.globalEdge.origins.us-east-1",
            "this stack's own edge.domain",
        ),
        (
            "p:globalEdge",
            json.dumps({"zones": {"insure.example.com": "zone-1"}, "origins": {}}),
            "p.globalEdge.zones.insure.example.com",
            "not a Route 53 hosted zone id",
        ),
        (
            "p:globalEdge",
            json.dumps({"zones": {}, "origins": {"us-east-99": "insure.example.com"}}),
            "p.globalEdge.origins.us-east-99",
            "not an AWS region",
        ),
        (
            "p:account",
            json.dumps({"owner": "yes", "platformBudgetUsd": 1, "budgetEmails": ["a@b.co"]}),
            "p.account.owner",
            "true or false",
        ),
        ("p:dr", json.dumps({"peerRegion": "us-east-1", "peerStack": "x"}), "p.dr.peerRegion", "another AWS region"),
        (
            "p:services",
            json.dumps({**json.loads(STACK["p:services"]), "carrier": {"image": "carrier-service", "tag": "latest"}}),
            "p.services.carrier.tag",
            "not latest",
        ),
        (
            "p:services",
            json.dumps({**json.loads(STACK["p:services"]), "registry": "https://registry"}),
            "p.services.registry",
            "not an ECR registry path",
        ),
        (
            "p:services",
            json.dumps({**json.loads(STACK["p:services"]), "policy": {"image": "Policy Service", "tag": "1"}}),
            "p.services.policy.image",
            "not an image name",
        ),
        (
            "p:services",
            json.dumps({k: v for k, v in json.loads(STACK["p:services"]).items() if k != "aggregator"}),
            "p.services.aggregator",
            "required key is missing",
        ),
        (
            "p:cluster",
            json.dumps({**json.loads(STACK["p:cluster"]), "adminRoleArns": []}),
            "p.cluster.adminRoleArns",
            "must not be empty",
        ),
        (
            "p:services",
            json.dumps(
                {
                    **json.loads(STACK["p:services"]),
                    "registry": "222222222222.dkr.ecr.us-west-2.amazonaws.com/insurance",
                }
            ),
            "p.services.registry",
            "pull only from ECR in the stack's region (us-east-1)",
        ),
        (
            "p:services",
            json.dumps({k: v for k, v in json.loads(STACK["p:services"]).items() if k != "policyProcessor"}),
            "p.services.policyProcessor",
            "required key is missing",
        ),
        (
            "p:account",
            json.dumps({**json.loads(STACK["p:account"]), "lambdaConcurrencyLimit": 50}),
            "p.account.lambdaConcurrencyLimit",
            "fewer than 100 unreserved",
        ),
        ("p:tenantCatalog", "tenants/nowhere", "p.tenantCatalog", "'tenants/nowhere' does not exist"),
    ],
)
def test_stack_config_mistakes(tmp_path: Path, key: str, value: str | None, field: str, fragment: str) -> None:
    error = settings_error(tmp_path, **{key: value})
    assert error.field == field
    assert fragment in error.problem


def test_global_edge_belongs_to_the_named_owner_in_us_east_1(tmp_path: Path) -> None:
    owner_elsewhere = json.dumps({**json.loads(STACK["p:edge"]), "globalOwner": "prod-us-west-2"})
    error = settings_error(tmp_path, **{"p:edge": owner_elsewhere})
    assert error.field == "p.globalEdge" and "only the global edge owner (prod-us-west-2)" in error.problem

    write(tmp_path / "tenants" / "prod", "acme-mutual.yaml", tenant())
    west = {**STACK, "aws:region": "us-west-2", "p:globalEdge": None}
    # the job processors' images come from the stack's own region (Lambda pulls only from there)
    west["p:services"] = STACK["p:services"].replace(".us-east-1.", ".us-west-2.")
    west["p:edge"] = json.dumps({**json.loads(STACK["p:edge"]), "globalOwner": "prod-us-west-2"})
    with pytest.raises(ConfigError) as caught:
        load_settings(lambda key: west.get(key), "p", "prod-us-west-2", tmp_path)
    assert caught.value.field == "p.edge.globalOwner" and "must run in us-east-1" in caught.value.problem

    west["p:edge"] = owner_elsewhere.replace("prod-us-west-2", "prod-us-east-1")
    s = load_settings(lambda key: west.get(key), "p", "prod-us-west-2", tmp_path)
    assert (
        s.global_edge is None
        and s.edge.tenant_origin_host("acme-mutual", "us-west-2") == "acme-mutual-origin-us-west-2.insure.example.com"
    )


def test_front_end_domain_may_not_take_an_api_host_name(tmp_path: Path) -> None:
    write(tmp_path / "tenants" / "prod", "acme-mutual.yaml", tenant(domain="acme-mutual.insure.example.com"))
    with pytest.raises(ConfigError) as caught:
        load_settings(lambda key: STACK.get(key), "p", "prod-us-east-1", tmp_path)
    assert caught.value.file.endswith("acme-mutual.yaml") and caught.value.field == "domain"
    assert "API host name of tenant 'acme-mutual'" in caught.value.problem


def test_managed_zone_lookup_prefers_the_most_specific_zone(tmp_path: Path) -> None:
    write(tmp_path / "tenants" / "prod", "acme-mutual.yaml", tenant())
    edge = json.dumps(
        {
            "zones": {"example.com": "Z0APEX", "insure.example.com": "Z0PROD"},
            "origins": {"us-east-1": "insure.example.com", "us-west-2": "insure.example.com"},
        }
    )
    s = load_settings(lambda key: {**STACK, "p:globalEdge": edge}.get(key), "p", "prod-us-east-1", tmp_path)
    assert s.global_edge is not None
    assert s.global_edge.zone_for("acme.insure.example.com") == "Z0PROD"
    assert s.global_edge.zone_for("www.example.com") == "Z0APEX"
    assert s.global_edge.zone_for("portal.acme.example.org") is None
    assert (
        s.global_edge.tenant_origin_host("acme-mutual", "us-west-2")
        == "acme-mutual-origin-us-west-2.insure.example.com"
    )


def test_node_pool_sizes_must_be_ordered(tmp_path: Path) -> None:
    cluster = json.loads(STACK["p:cluster"])
    cluster["sharedNodes"]["desiredSize"] = 9
    error = settings_error(tmp_path, **{"p:cluster": json.dumps(cluster)})
    assert error.field == "p.cluster.sharedNodes.desiredSize"


@pytest.mark.parametrize(
    ("domain", "fragment"),
    [
        ("insure.example.com", "is the platform's own domain"),
        ("insure.example.ca", "is the platform's own domain"),  # another serving region's domain (edge owner)
        ("views-us-east-1-beta-life.insure.example.com", "is a tenant's views host"),
        ("grafana.views-us-west-2-beta-life.insure.example.com", "sits under 'views-us-west-2-beta-life."),
        ("beta-life-origin-us-east-1.insure.example.com", "is a regional origin host"),
        (
            "x.origin-us-west-2.insure.example.com",
            "sits under 'origin-us-west-2.insure.example.com', a regional origin",
        ),
        ("portal.beta-life.insure.example.com", "the API host name of tenant 'beta-life'"),
    ],
)
def test_front_end_domain_may_not_take_a_platform_host_name(tmp_path: Path, domain: str, fragment: str) -> None:
    folder = tmp_path / "tenants" / "prod"
    write(folder, "acme-mutual.yaml", tenant(domain=domain))
    write(
        folder, "beta-life.yaml", tenant(id="beta-life", displayName="Beta Life", domain="portal.betalife.example.com")
    )
    edge = json.loads(STACK["p:globalEdge"])
    edge["origins"]["ca-central-1"] = "insure.example.ca"
    values = {**STACK, "p:globalEdge": json.dumps(edge)}
    with pytest.raises(ConfigError) as caught:
        load_settings(lambda key: values.get(key), "p", "prod-us-east-1", tmp_path)
    assert caught.value.file == "tenants/prod/acme-mutual.yaml" and caught.value.field == "domain"
    assert fragment in caught.value.problem and "\n" not in str(caught.value)


def test_front_end_domain_may_not_sit_under_another_tenants_domain(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "prod"
    write(folder, "acme-mutual.yaml", tenant(domain="claims.portal.betalife.example.com"))
    write(
        folder, "beta-life.yaml", tenant(id="beta-life", displayName="Beta Life", domain="portal.betalife.example.com")
    )
    with pytest.raises(ConfigError) as caught:
        load_catalog(folder, display_root=tmp_path)
    assert caught.value.file == "tenants/prod/acme-mutual.yaml" and caught.value.field == "domain"
    assert "sits under tenant 'beta-life''s domain 'portal.betalife.example.com'" in caught.value.problem


def test_front_end_domains_under_the_platform_domain_that_take_no_platform_name_are_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "prod"
    write(folder, "acme-mutual.yaml", tenant(domain="acme.insure.example.com"))
    write(folder, "beta-life.yaml", tenant(id="beta-life", displayName="Beta Life", domain="betalife.example.com"))
    s = load_settings(lambda key: STACK.get(key), "p", "prod-us-east-1", tmp_path)
    assert {t.domain for t in s.tenants} == {"acme.insure.example.com", "betalife.example.com"}
