"""Components under Pulumi's mock engine: the properties each one guarantees."""

import ipaddress
import json

import pulumi
import pytest

from catalog import TIERS, StackSettings
from catalog.tiers import Overrides, effective_tier
from components.platform.cache import TenantCacheAccess
from components.platform.cluster import CONTROL_PLANE_LOG_TYPES, Cluster, ClusterArgs
from components.platform.deployer_access import DeployerEndpoint
from components.platform.network import Network, NetworkArgs, subnet_plan
from components.shared.contract import PlatformContract
from components.shared.providers import regional_aws_provider
from components.tenant.tenant import Tenant, TenantArgs
from planner.mocks import Registration
from tests.helpers import of_type, run, settings_for, single

AZS = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-0000-4000-8000-000000000000"
OIDC_URL = "oidc.eks.us-east-1.amazonaws.com/id/TEST"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{OIDC_URL}"


@pytest.fixture(scope="module")
def dev() -> StackSettings:
    return settings_for("dev")


@pytest.fixture(scope="module")
def prod() -> StackSettings:
    return settings_for("prod-us-east-1")


def network(settings: StackSettings) -> list[Registration]:
    def program() -> None:
        provider = regional_aws_provider(settings)
        Network(
            "network",
            NetworkArgs(settings, AZS, "123456789012", KEY, 365),
            pulumi.ResourceOptions(provider=provider),
        )

    return run(program, settings)


# ------------------------------------------------------------------------------------ network


def test_subnet_plan_fits_the_vpc_without_overlap() -> None:
    private, public = subnet_plan("10.30.0.0/16")
    nets = [ipaddress.IPv4Network(c) for c in private + public]
    vpc = ipaddress.IPv4Network("10.30.0.0/16")
    assert all(n.subnet_of(vpc) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert all(n.prefixlen == 18 for n in nets[:3]), "private subnets are large: pods take VPC addresses"


@pytest.mark.parametrize(("stack", "nat_count"), [("dev", 1), ("prod-us-east-1", 3)])
def test_network_spans_three_azs_with_nat_per_mode(stack: str, nat_count: int) -> None:
    settings = settings_for(stack)
    regs = network(settings)
    vpc = single(regs, "aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == settings.vpc_cidr
    subnets = of_type(regs, "aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"]]
    public = [s for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"]]
    assert sorted(s.inputs["availabilityZone"] for s in private) == AZS[:3]
    assert sorted(s.inputs["availabilityZone"] for s in public) == AZS[:3]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in public)
    assert len(of_type(regs, "aws:ec2/natGateway:NatGateway")) == nat_count
    private_routes = [r for r in of_type(regs, "aws:ec2/routeTable:RouteTable") if "private" in r.name]
    assert len(private_routes) == 3
    assert all(r.inputs["routes"][0].get("natGatewayId") for r in private_routes)


def test_network_records_flow_logs_to_an_encrypted_log_group(dev: StackSettings) -> None:
    regs = network(dev)
    flow = single(regs, "aws:ec2/flowLog:FlowLog")
    group = single(regs, "aws:cloudwatch/logGroup:LogGroup")
    assert flow.inputs["trafficType"] == "ALL"
    assert group.urn in flow.options["dependsOn"]
    assert group.inputs["kmsKeyId"] == KEY and group.inputs["retentionInDays"] == 365
    assert group.options["protect"] is True
    default_sg = single(regs, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == [] and default_sg.inputs.get("egress", []) == []


def test_every_network_resource_uses_the_regional_provider(dev: StackSettings) -> None:
    regs = network(dev)
    provider = single(regs, "pulumi:providers:aws")
    assert provider.inputs["region"] == dev.region
    custom = [r for r in regs if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and all(r.provider == provider.urn for r in custom)


# ------------------------------------------------------------------------------------ cluster


DEPLOYER = DeployerEndpoint(
    "10.255.0.0/24",
    "vpc-deployer",
    ["rtb-1", "rtb-2"],
    "arn:aws:iam::123456789012:role/d",
    "arn:aws:iam::123456789012:role/p",
)


def cluster(settings: StackSettings, dedicated: list[str]) -> list[Registration]:
    def program() -> None:
        provider = regional_aws_provider(settings)
        subnets = [pulumi.Output.from_input(f"subnet-{i}") for i in range(3)]
        Cluster(
            "cluster",
            ClusterArgs(settings, "vpc-1", subnets, subnets, subnets, DEPLOYER, KEY, KEY, KEY, 731, dedicated),
            pulumi.ResourceOptions(providers=[provider]),
        )

    return run(program, settings)


def test_cluster_is_private_encrypted_logged_and_api_authenticated(prod: StackSettings) -> None:
    regs = cluster(prod, [])
    eks = single(regs, "eks:index:Cluster").inputs
    assert eks["endpointPublicAccess"] is False and eks["endpointPrivateAccess"] is True
    assert eks["authenticationMode"] == "API"
    assert eks["encryptionConfigKeyArn"] == KEY
    assert (
        sorted(eks["enabledClusterLogTypes"]) == sorted(CONTROL_PLANE_LOG_TYPES) and len(CONTROL_PLANE_LOG_TYPES) == 5
    )
    assert eks["createOidcProvider"] is True
    assert eks["skipDefaultNodeGroup"] is True
    assert eks["version"] == prod.cluster.version
    assert eks["deletionProtection"] is True
    by_policy: dict[str, set[str]] = {}
    for entry in eks["accessEntries"].values():
        (policy,) = entry["accessPolicies"].values()
        assert policy["accessScope"]["type"] == "cluster"
        by_policy.setdefault(policy["policyArn"].rsplit("/", 1)[-1], set()).add(entry["principalArn"])
    # admins administer; the pull-request previewer only views
    assert by_policy == {
        "AmazonEKSClusterAdminPolicy": set(prod.cluster.admin_role_arns),
        "AmazonEKSViewPolicy": {"arn:aws:iam::123456789012:role/p"},
    }
    logs = single(regs, "aws:cloudwatch/logGroup:LogGroup").inputs
    assert logs["name"] == f"/aws/eks/{eks['name']}/cluster" and logs["kmsKeyId"] == KEY


def test_nodes_are_al2023_with_imdsv2_and_encrypted_volumes(dev: StackSettings) -> None:
    regs = cluster(dev, [])
    template = single(regs, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["metadataOptions"]["httpTokens"] == "required"
    ebs = template["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["kmsKeyId"] == KEY
    groups = of_type(regs, "eks:index:ManagedNodeGroup")
    assert {g.name for g in groups} == {"cluster-system", "cluster-shared"}
    for group in groups:
        assert group.inputs["amiType"].startswith("AL2023_")
        assert group.inputs["launchTemplate"]["id"]
    system = next(g for g in groups if g.name == "cluster-system")
    assert system.inputs["taints"][0]["key"] == "CriticalAddonsOnly"


def test_premium_tenants_get_dedicated_tainted_nodes(dev: StackSettings) -> None:
    regs = cluster(dev, ["acme-life"])
    group = next(g for g in of_type(regs, "eks:index:ManagedNodeGroup") if g.name == "cluster-tenant-acme-life")
    assert group.inputs["taints"] == [{"key": "tenant", "value": "acme-life", "effect": "NO_SCHEDULE"}]
    assert group.inputs["labels"]["tenant"] == "acme-life"
    assert group.inputs["tags"]["tenant"] == "acme-life"


def test_kubernetes_provider_is_built_from_the_cluster_kubeconfig(dev: StackSettings) -> None:
    regs = cluster(dev, [])
    provider = single(regs, "pulumi:providers:kubernetes")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["current-context"] == f"{dev.name_prefix}-{dev.region}"
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "aws"


# ------------------------------------------------------------------------------------ tenant


def platform_contract() -> PlatformContract:
    """What a platform stack's outputs would give a tenant stack (synthetic values)."""
    values = {
        "vpc_id": "vpc-1",
        "cluster_name": "ip-dev-us-east-1",
        "oidc_provider_arn": OIDC_ARN,
        "oidc_provider_url": OIDC_URL,
        "shared_pod_security_group_id": "sg-shared-pods",
        "private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"],
        "endpoints_security_group_id": "sg-endpoints",
        "db_subnet_group_name": "db-subnets",
        "db_parameter_group_name": "db-params",
        "db_option_group_name": "db-options",
        "db_monitoring_role_arn": "arn:aws:iam::123456789012:role/rds-monitoring",
        "cache_host": "redis.internal",
        "cache_user_group_id": "ip-dev-us-east-1-redis-users",
        "cache_replication_group_id": "ip-dev-us-east-1-redis",
        "velero_bucket": "ip-dev-us-east-1-velero",
        "backup_role_arn": "arn:aws:iam::123456789012:role/backup",
        "entry_dns_name": "entry.us-east-1.elb.amazonaws.com",
        "entry_zone_id": "Z35SXDOTRQ7X7K",
        "platform_data_key_arn": "arn:aws:kms:us-east-1:123456789012:key/platform",
        "api_usage_plan_ids": {"basic": "plan-b", "standard": "plan-s", "premium": "plan-p"},
        "api_domain_name": "d-1.execute-api.us-east-1.amazonaws.com",
        "api_domain_zone_id": "Z1UJRXOUMOOFQ8",
        "api_mapping_prefix": "/ip-dev/us-east-1/api-tenants",
        "api_mapping_key_arn": "arn:aws:kms:us-east-1:123456789012:key/api-mappings",
        "s3_prefix_list_id": "pl-63a5400a",
        "kubeconfig": "{}",
    }
    return PlatformContract(**{k: pulumi.Output.from_input(v) for k, v in values.items()})


def tenant_resources(settings: StackSettings, tier: str) -> list[Registration]:
    base = next(t for t in settings.tenants if t.tier.name == tier)

    def program() -> None:
        aws_provider = regional_aws_provider(settings)
        import pulumi_kubernetes as k8s

        k8s_provider = k8s.Provider("k8s", kubeconfig="{}")
        Tenant(
            f"tenant-{base.id}",
            TenantArgs(
                settings=settings,
                tenant=base,
                account_id="123456789012",
                platform=platform_contract(),
                pod_security_group_id="sg-tenant-pods",
                cache=TenantCacheAccess(
                    host="redis.internal",
                    replication_group_id="ip-dev-us-east-1-redis",
                    user_id=f"ip-dev-{base.id}",
                    user_name=f"ip-dev-{base.id}",
                    key_prefix=f"{base.id}:",
                ),
            ),
            pulumi.ResourceOptions(providers=[aws_provider, k8s_provider]),
        )

    return run(program, settings)


@pytest.mark.parametrize("tier", ["basic", "standard", "premium"])
@pytest.mark.parametrize("stack", ["dev", "prod-us-east-1"])
def test_tenant_database_follows_its_tier(stack: str, tier: str) -> None:
    dev = settings_for(stack)  # the environment's rule applies on top of the tier (for_environment)
    regs = tenant_resources(dev, tier)
    tenant = next(t for t in dev.tenants if t.tier.name == tier and t.home_region == dev.region)
    spec = tenant.tier.database
    (db,) = [r for r in of_type(regs, "aws:rds/instance:Instance") if "replicateSourceDb" not in r.inputs]
    (key,) = [r for r in of_type(regs, "aws:kms/key:Key") if not r.name.endswith("-pii")]
    i = db.inputs
    assert i["engine"] == "mariadb" and i["engineVersion"] == dev.database.major_version
    assert i["instanceClass"] == spec.instance_class
    # Production: Multi-AZ whatever the tier (seed 004); dev: the tier's own value.
    assert i["multiAz"] is (True if dev.environment == "prod" else TIERS[tier].database.multi_az)
    assert i["backupRetentionPeriod"] == spec.backup_retention_days
    assert i["maxAllocatedStorage"] == spec.max_allocated_storage_gb
    assert i["storageEncrypted"] is True
    assert i["kmsKeyId"].startswith("arn:aws:kms:") and i["kmsKeyId"] == i["performanceInsightsKmsKeyId"]
    assert key.urn in db.options["dependsOn"], "the database is encrypted with the tenant's own key"
    assert i["publiclyAccessible"] is False
    assert i["dbSubnetGroupName"] == "db-subnets" and i["parameterGroupName"] == "db-params"
    assert "password" not in i
    if spec.read_replica or "read-replica" in spec.cross_region:
        # RDS refuses replicas of a source whose password it manages: a platform-owned secret
        # (tenant key, protected) feeds a write-only, versioned password instead.
        assert "manageMasterUserPassword" not in i and i["passwordWo"] == "[secret]"
        assert isinstance(i["passwordWoVersion"], int) and i["tags"]["replication-source"] == "true"
        (secret,) = of_type(regs, "aws:secretsmanager/secret:Secret")
        assert secret.inputs["kmsKeyId"] == i["kmsKeyId"] and secret.options["protect"] is True
        (version,) = of_type(regs, "aws:secretsmanager/secretVersion:SecretVersion")
        assert version.options["ignoreChanges"] == ["secretString"]  # generated once, rotated in AWS
    else:
        assert i["manageMasterUserPassword"] is True and i["masterUserSecretKmsKeyId"] == i["kmsKeyId"]
        assert "passwordWo" not in i and "replication-source" not in i["tags"]
    assert i["deletionProtection"] is True and i["skipFinalSnapshot"] is False
    assert i["finalSnapshotIdentifier"].endswith("-final")
    assert i["copyTagsToSnapshot"] is True
    assert set(i["enabledCloudwatchLogsExports"]) == {"audit", "error", "slowquery"}
    assert db.options["protect"] is True and key.options["protect"] is True


def test_tenant_database_admits_only_the_tenants_pods_on_3306(dev: StackSettings) -> None:
    regs = tenant_resources(dev, "basic")
    (group,) = [
        r.inputs for r in of_type(regs, "aws:ec2/securityGroup:SecurityGroup") if r.name == "tenant-demo-basic-db"
    ]
    (rule,) = group["ingress"]
    assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (3306, 3306, "tcp")
    assert rule["securityGroups"] == ["sg-tenant-pods"]  # not the shared pod group, not the cluster
    assert not rule.get("cidrBlocks") and not rule.get("ipv6CidrBlocks")
    assert group.get("egress", []) == []


def test_tenant_keys_rotate_and_name_only_admins_and_own_roles(dev: StackSettings) -> None:
    regs = tenant_resources(dev, "standard")
    keys = {r.name: r.inputs for r in of_type(regs, "aws:kms/key:Key")}
    assert set(keys) == {"tenant-demo-standard-key", "tenant-demo-standard-key-pii"}
    own_roles = {r.inputs["name"] for r in of_type(regs, "aws:iam/role:Role") if r.inputs.get("name")}
    for key in keys.values():
        assert key["enableKeyRotation"] is True and key["deletionWindowInDays"] == 30
        assert key["tags"]["tenant"] == "demo-standard" and key["tags"]["tier"] == "standard"
        for st in json.loads(key["policy"])["Statement"]:
            if st["Effect"] == "Deny":
                continue  # guard rails may name every principal (tests/test_keys_residency.py)
            principals = st["Principal"].get("AWS", [])
            for arn in [principals] if isinstance(principals, str) else principals:
                if arn == "arn:aws:iam::123456789012:root":
                    # No account-wide delegation: an account principal only for the exact roles it
                    # names (Velero's, some created by the peer stack later).
                    pinned = st["Condition"]["ArnEquals"]["aws:PrincipalArn"]
                    assert pinned and all(r.rsplit("/", 1)[-1].startswith("ip-dev-") for r in pinned), pinned
                    continue
                backup = arn == "arn:aws:iam::123456789012:role/backup"  # AWS Backup's role (TenantArgs)
                assert arn in dev.key_administrators("123456789012") or arn.rsplit("/", 1)[-1] in own_roles or backup, (
                    arn
                )


@pytest.mark.parametrize("tier", ["basic", "premium"])
def test_tenant_namespace_is_fenced_by_tier(dev: StackSettings, tier: str) -> None:
    regs = tenant_resources(dev, tier)
    t = TIERS[tier]
    ns = single(regs, "kubernetes:core/v1:Namespace")
    labels = ns.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["tier"] == tier and labels["tenant"] == ns.inputs["metadata"]["name"]
    assert ns.options["protect"] is True and ns.options["deleteBeforeReplace"] is True
    quota = single(regs, "kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"]
    assert quota["requests.cpu"] == t.quota.requests_cpu and quota["limits.memory"] == t.quota.limits_memory
    assert quota["pods"] == str(t.quota.pods) and quota["services.loadbalancers"] == "0"
    (limit,) = single(regs, "kubernetes:core/v1:LimitRange").inputs["spec"]["limits"]
    assert limit["default"] == {"cpu": t.container_defaults.limit_cpu, "memory": t.container_defaults.limit_memory}
    policies = {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in of_type(regs, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    deny = policies["default-deny"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny and "egress" not in deny
    dns = policies["allow-dns-egress"]
    assert {p["port"] for p in dns["egress"][0]["ports"]} == {53}
    (telemetry,) = policies["allow-telemetry-egress"]["egress"]
    assert telemetry["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
            # the collector only: Loki, Tempo and Mimir in the same namespace stay out of reach
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": "alloy"}},
        }
    ]
    assert [p["port"] for p in telemetry["ports"]] == [4317]
    # Cluster-scoped: the namespace, and the admission policy holding its operators to restarts.
    cluster_scoped = (
        "kubernetes:core/v1:Namespace",
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    )
    for r in regs:
        if r.type.startswith("kubernetes:") and r.type not in cluster_scoped and r.custom:
            # Only the creation of its database users runs outside, where the master credential is.
            platform = (r.parent or "").endswith(f"$platform:index:DatabaseUsers::tenant-{labels['tenant']}-db-users")
            expected = "database-users" if platform else ns.inputs["metadata"]["name"]
            assert r.inputs["metadata"]["namespace"] == expected, r.name
        elif r.type in cluster_scoped[1:]:
            assert r.inputs["metadata"]["name"] == f"{ns.inputs['metadata']['name']}-operators-restart-only"


def test_every_taggable_tenant_resource_carries_tenant_tier_environment(dev: StackSettings) -> None:
    # Not the stack's access-log bucket, which the run's first SecureBucket makes at stack level.
    regs = [r for r in tenant_resources(dev, "premium") if not r.name.startswith("s3-access-logs")]
    for r in regs:
        if r.type.startswith("aws:") and "tags" in r.inputs:
            assert {"tenant", "tier", "environment"} <= set(r.inputs["tags"]), r.urn
        if r.type.startswith("kubernetes:") and r.custom:
            assert {"tenant", "tier", "environment"} <= set(r.inputs["metadata"]["labels"]), r.urn


def test_effective_tier_applies_only_strengthening_values() -> None:
    basic = TIERS["basic"]
    stronger = effective_tier(basic, Overrides(multi_az=True, backup_retention_days=3, log_retention_days=365))
    assert stronger.database.multi_az is True
    assert stronger.database.backup_retention_days == basic.database.backup_retention_days
    assert stronger.log_retention_days == 365


def test_tenant_processors_group_only_reaches_the_endpoints_over_https(dev: StackSettings) -> None:
    regs = tenant_resources(dev, "basic")
    (group,) = [
        r.inputs
        for r in of_type(regs, "aws:ec2/securityGroup:SecurityGroup")
        if r.name == "tenant-demo-basic-processors-sg"
    ]
    assert group.get("ingress", []) == []
    (rule,) = group["egress"]
    assert (rule["fromPort"], rule["toPort"], rule["protocol"]) == (443, 443, "tcp")
    assert rule["securityGroups"] == ["sg-endpoints"]  # the contract's endpoints group, nothing else
    assert not rule.get("cidrBlocks") and not rule.get("ipv6CidrBlocks")
    functions = of_type(regs, "aws:lambda/function:Function")
    assert {tuple(f.inputs["vpcConfig"]["subnetIds"]) for f in functions} == {("subnet-a", "subnet-b", "subnet-c")}
