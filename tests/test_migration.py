"""Migration from the one-stack-per-region layout to platform + tenant stacks (planner/migrate.py):
the state moves keep every stateful resource's physical name and protection, and follow what
`pulumi state move` does (pulumi/pulumi v3.259.0 pkg/cmd/pulumi/state/state_move.go)."""

import copy
import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from planner import migrate
from planner.migrate import Migration, legacy_snapshot, plan_migration

PROJECT = "insurance-platform"
PLATFORM = "prod-us-east-1"
ACME = f"{PLATFORM}.acme"
BETA = f"{PLATFORM}.beta"
FIXTURES = Path(__file__).parent / "fixtures" / "legacy-layout"
LEGACY_STACKS = ("dev", "prod-us-east-1", "prod-us-west-2", "prod-ca-central-1", "prod-ca-west-1")
TENANT_TOP_TYPES = {"platform:index:Tenant", "platform:index:TenantRecovery", "platform:index:TenantVault"}


def root_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"


class PlanBuilder:
    """Resources as the offline runner records them: mock URNs (the immediate parent's type only)."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def add(
        self,
        stack: str,
        type_: str,
        name: str,
        parent: dict[str, Any] | None = None,
        *,
        inputs: dict[str, Any] | None = None,
        provider: dict[str, Any] | None = None,
        protect: bool = False,
        retain: bool = False,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        parent_type = parent["type"] if parent else "pulumi:pulumi:Stack"
        resource = {
            "urn": f"urn:pulumi:{stack}::{PROJECT}::{parent_type}${type_}::{name}",
            "type": type_,
            "name": name,
            "custom": not type_.startswith("platform:index:"),
            "parent": parent["urn"] if parent else root_urn(stack),
            "provider": provider["urn"] if provider else None,
            "stack": stack,
            "tenant": tenant,
            "inputs": inputs or {},
            "options": {
                "protect": protect,
                "retainOnDelete": retain,
                "deleteBeforeReplace": False,
                "ignoreChanges": [],
                "dependsOn": [],
            },
        }
        self.resources.append(resource)
        return resource

    def platform(self, stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
        aws = self.add(stack, "pulumi:providers:aws", "aws-us-east-1", inputs={"region": "us-east-1"})
        cluster = self.add(stack, "platform:index:Cluster", "cluster")
        k8s = self.add(stack, "pulumi:providers:kubernetes", "cluster-k8s", cluster)
        network = self.add(stack, "platform:index:Network", "network")
        self.add(stack, "aws:ec2/vpc:Vpc", "network", network, provider=aws)
        self.add(
            stack,
            "aws:s3/bucket:Bucket",
            "s3-access-logs",
            inputs={"bucket": "ip-prod-logs"},
            provider=aws,
            protect=True,
        )
        return aws, k8s

    def tenant(self, stack: str, tenant: str, aws: dict[str, Any], k8s: dict[str, Any]) -> None:
        top = self.add(stack, "platform:index:Tenant", f"tenant-{tenant}", tenant=tenant)
        database = self.add(stack, "platform:index:TenantDatabase", f"tenant-{tenant}-db", top, tenant=tenant)
        self.add(
            stack,
            "aws:rds/instance:Instance",
            f"tenant-{tenant}-db",
            database,
            provider=aws,
            protect=True,
            tenant=tenant,
            inputs={
                "identifier": f"ip-prod-{tenant}",
                "deletionProtection": True,
                "skipFinalSnapshot": False,
                "finalSnapshotIdentifier": f"ip-prod-{tenant}-final",
                "kmsKeyId": f"arn:aws:kms:us-east-1:123456789012:key/{tenant}",
                "storageEncrypted": True,
            },
        )
        self.add(
            stack,
            "kubernetes:core/v1:Namespace",
            f"tenant-{tenant}",
            top,
            provider=k8s,
            protect=True,
            tenant=tenant,
            inputs={"metadata": {"name": f"tenant-{tenant}", "labels": {"tenant": tenant}}},
        )
        self.add(
            stack,
            "aws:sqs/queue:Queue",
            f"tenant-{tenant}-jobs",
            top,
            provider=aws,
            tenant=tenant,
            inputs={"name": f"ip-prod-{tenant}-jobs"},
        )
        self.add(stack, "aws:iam/role:Role", f"tenant-{tenant}-app", top, provider=aws, tenant=tenant)

    def plan(self, stack: str, stacks: list[str] | None = None) -> dict[str, Any]:
        plan: dict[str, Any] = {
            "project": PROJECT,
            "stack": stack,
            "region": "us-east-1",
            "resources": self.resources,
            "outputs": {},
        }
        if stacks is not None:
            plan["stacks"] = [
                {"name": s, "kind": "tenant" if "." in s else "platform", "tenant": s.partition(".")[2] or None}
                for s in stacks
            ]
        return plan


def legacy_layout() -> dict[str, Any]:
    """Today: one regional stack with the platform and two tenants, reduced to the fixture format."""
    b = PlanBuilder()
    aws, k8s = b.platform(PLATFORM)
    b.tenant(PLATFORM, "acme", aws, k8s)
    b.tenant(PLATFORM, "beta", aws, k8s)
    return legacy_snapshot(b.plan(PLATFORM), "test")


def new_layout() -> dict[str, Any]:
    """The split: the platform stack, and a tenant stack per tenant with its own providers at its root."""
    b = PlanBuilder()
    b.platform(PLATFORM)
    for stack, tenant in ((ACME, "acme"), (BETA, "beta")):
        aws = b.add(stack, "pulumi:providers:aws", "aws-us-east-1", inputs={"region": "us-east-1"})
        k8s = b.add(stack, "pulumi:providers:kubernetes", "cluster-k8s", inputs={"kubeconfig": "[secret]"})
        b.add(stack, "pulumi:pulumi:StackReference", "platform", inputs={"name": f"organization/{PROJECT}/{PLATFORM}"})
        b.tenant(stack, tenant, aws, k8s)
    return b.plan(PLATFORM, [PLATFORM, ACME, BETA])


def find(plan: dict[str, Any], stack: str, name: str, type_: str | None = None) -> dict[str, Any]:
    found = [
        r
        for r in plan["resources"]
        if r["stack"] == stack and r["urn"].endswith(f"::{name}") and (type_ is None or r["type"] == type_)
    ]
    assert len(found) == 1, (stack, name, found)
    return found[0]


def engine(stack: str, path: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{path}"


# --- happy path ------------------------------------------------------------------------------------


def test_happy_path_names_each_tenant_component_once_its_children_move_with_it() -> None:
    m = plan_migration(legacy_layout(), new_layout())
    assert m.errors == []
    # Only the roots of moved subtrees are named: state move takes every descendant along, and a child
    # moved without its parent would be re-parented to the destination root (a new URN).
    assert m.commands() == [
        (ACME, [engine(PLATFORM, "platform:index:Tenant::tenant-acme")]),
        (BETA, [engine(PLATFORM, "platform:index:Tenant::tenant-beta")]),
    ]
    assert sorted(r.path.rsplit("::", 1)[1] for r in m.moved[ACME]) == [
        "tenant-acme",
        "tenant-acme",
        "tenant-acme-app",
        "tenant-acme-db",
        "tenant-acme-db",
        "tenant-acme-jobs",
    ]
    assert {r.path for r in m.staying} == {
        "platform:index:Cluster::cluster",
        "platform:index:Network::network",
        "platform:index:Network$aws:ec2/vpc:Vpc::network",
        "aws:s3/bucket:Bucket::s3-access-logs",
    }
    assert m.deleted == []
    # The tenant programs declare their providers where the moves copy them, and a stack reference
    # is a read: nothing is created, every stack's first preview must show no change.
    assert m.created == []
    assert all(m.expect_no_changes(stack) for stack in (PLATFORM, ACME, BETA))
    # every stateful resource compared: bucket, and per tenant the database, the namespace and the queue
    assert len(m.stateful_checked) == 7


def test_urns_in_the_commands_are_the_engines_full_type_chain_not_the_mock_form() -> None:
    m = plan_migration(legacy_layout(), new_layout())
    database = next(r for r in m.moved[ACME] if r.type == "aws:rds/instance:Instance")
    assert (
        database.path == "platform:index:Tenant$platform:index:TenantDatabase$aws:rds/instance:Instance::tenant-acme-db"
    )
    assert database.urn.split("::")[2] == "platform:index:TenantDatabase$aws:rds/instance:Instance"  # mock form
    assert all("pulumi:pulumi:Stack$" not in urn for _, urns in m.commands() for urn in urns)


def test_providers_are_never_named_and_their_copies_land_at_the_destination_root() -> None:
    m = plan_migration(legacy_layout(), new_layout())
    assert all(
        not urn.split("::")[2].split("$")[-1].startswith("pulumi:providers:") for _, u in m.commands() for urn in u
    )
    # The kubernetes provider's parent (the cluster) stays: its copy is re-parented to the root.
    assert m.copied_providers[ACME] == {
        "pulumi:providers:aws::aws-us-east-1",
        "pulumi:providers:kubernetes::cluster-k8s",
    }
    assert {r.path: stacks for r, stacks in m.providers} == {
        "pulumi:providers:aws::aws-us-east-1": [PLATFORM, ACME, BETA],
        "platform:index:Cluster$pulumi:providers:kubernetes::cluster-k8s": [PLATFORM],
    }
    # The tenant programs declare providers at the copies' URNs: no provider change at their first up.
    assert not [n for n in m.notes if "provider reference changes" in n]


def test_a_tenant_provider_under_another_urn_is_reported_as_a_provider_change() -> None:
    new = new_layout()
    provider = find(new, ACME, "cluster-k8s")
    provider["urn"] = provider["urn"].replace("::cluster-k8s", "::tenant-k8s")
    for r in new["resources"]:
        if r["stack"] == ACME and r["provider"] and r["provider"].endswith("::cluster-k8s"):
            r["provider"] = provider["urn"]
    m = plan_migration(legacy_layout(), new)
    assert m.errors == []
    assert [n for n in m.notes if "provider reference changes" in n and "tenant-k8s" in n]


def test_a_tenant_aws_provider_in_another_region_is_an_error() -> None:
    new = new_layout()
    find(new, BETA, "aws-us-east-1")["inputs"]["region"] = "us-west-2"
    errors = plan_migration(legacy_layout(), new).errors
    assert errors and all("targets us-west-2" in e and "beta" in e for e in errors)


def test_batches_hold_at_most_the_batch_size_and_split_only_between_subtrees() -> None:
    legacy, new = legacy_layout(), new_layout()
    # a second root for acme: its DR vault component
    for plan, stack in ((legacy, PLATFORM), (new, ACME)):
        b = PlanBuilder()
        vault = b.add(stack, "platform:index:TenantVault", "dr-acme-vault", tenant="acme")
        b.add(stack, "aws:backup/vault:Vault", "dr-acme-vault", vault, inputs={"name": "ip-dr-acme"}, protect=True)
        plan["resources"] += legacy_snapshot(b.plan(stack), "test")["resources"] if plan is legacy else b.resources
    commands = plan_migration(legacy, new, batch=1).commands()
    assert [(dest, len(urns)) for dest, urns in commands] == [(ACME, 1), (ACME, 1), (BETA, 1)]
    assert plan_migration(legacy, new, batch=50).commands()[0][1] == [
        engine(PLATFORM, "platform:index:Tenant::tenant-acme"),
        engine(PLATFORM, "platform:index:TenantVault::dr-acme-vault"),
    ]


# --- what must stop the migration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("identifier", "ip-prod-acme-2"),
        ("deletionProtection", False),
        ("skipFinalSnapshot", True),
        ("finalSnapshotIdentifier", None),
        ("kmsKeyId", "arn:aws:kms:us-east-1:123456789012:key/platform"),
        ("storageEncrypted", False),
    ],
)
def test_a_stateful_resource_whose_name_or_data_protection_changes_is_an_error(field: str, value: Any) -> None:
    new = new_layout()
    find(new, ACME, "tenant-acme-db", "aws:rds/instance:Instance")["inputs"][field] = value
    errors = plan_migration(legacy_layout(), new).errors
    assert len(errors) == 1
    assert errors[0].startswith(f"{ACME}: platform:index:Tenant$platform:index:TenantDatabase$aws:rds")
    assert f": {field} " in errors[0]


def test_a_renamed_namespace_is_an_error() -> None:
    new = new_layout()
    find(new, BETA, "tenant-beta", "kubernetes:core/v1:Namespace")["inputs"]["metadata"]["name"] = "beta"
    assert [e for e in plan_migration(legacy_layout(), new).errors if "metadata.name" in e]


def test_an_unprotected_stateful_resource_by_type_is_compared_too() -> None:
    new = new_layout()
    find(new, ACME, "tenant-acme-jobs")["inputs"]["name"] = "ip-prod-acme-jobs-v2"
    assert [e for e in plan_migration(legacy_layout(), new).errors if "tenant-acme-jobs" in e and ": name " in e]


def test_a_renamed_table_is_an_error_though_no_force_new_list_names_it() -> None:
    legacy, new = legacy_layout(), new_layout()
    for plan, stack in ((legacy, PLATFORM), (new, ACME)):
        b = PlanBuilder()
        b.add(stack, "aws:dynamodb/table:Table", "tenant-acme-claims", inputs={"name": "ip-prod-acme-claims"})
        plan["resources"] += legacy_snapshot(b.plan(stack), "test")["resources"] if plan is legacy else b.resources
    assert plan_migration(legacy, new).errors == []
    find(new, ACME, "tenant-acme-claims")["inputs"]["name"] = "ip-prod-acme-claims-v2"
    assert plan_migration(legacy, new).errors == [
        f'{ACME}: aws:dynamodb/table:Table::tenant-acme-claims: name "ip-prod-acme-claims" -> '
        '"ip-prod-acme-claims-v2": physical name changes (a new resource)'
    ]


@pytest.mark.parametrize("option", ["protect", "retainOnDelete"])
def test_a_dropped_protection_is_an_error(option: str) -> None:
    legacy, new = legacy_layout(), new_layout()
    database = next(r for r in legacy["resources"] if r["type"] == "aws:rds/instance:Instance" and "acme" in r["urn"])
    database["options"][option] = True
    find(new, ACME, "tenant-acme-db", "aws:rds/instance:Instance")["options"][option] = False
    errors = plan_migration(legacy, new).errors
    assert errors == [
        f"{ACME}: platform:index:Tenant$platform:index:TenantDatabase$aws:rds/instance:Instance::tenant-acme-db: "
        f"{option} dropped (was set in the legacy stack)"
    ]


def test_a_gained_protection_is_a_note_not_an_error() -> None:
    new = new_layout()
    find(new, ACME, "tenant-acme-app")["options"]["protect"] = True
    m = plan_migration(legacy_layout(), new)
    assert m.errors == [] and [n for n in m.notes if "tenant-acme-app: gains protect" in n]


def test_a_stateful_resource_with_no_new_home_is_an_error_and_a_stateless_one_is_listed() -> None:
    new = new_layout()
    new["resources"] = [
        r for r in new["resources"] if not r["urn"].endswith(("::tenant-acme-jobs", "::tenant-acme-app"))
    ]
    m = plan_migration(legacy_layout(), new)
    assert [r.path.rsplit("::", 1)[1] for r in m.deleted] == ["tenant-acme-app", "tenant-acme-jobs"]
    assert m.errors == [
        "platform:index:Tenant$aws:sqs/queue:Queue::tenant-acme-jobs: stateful aws:sqs/queue:Queue has no home "
        "in the new layout: the next up deletes it"
    ]


def test_a_resource_found_in_two_new_stacks_is_an_error() -> None:
    new = new_layout()
    b = PlanBuilder()
    b.add(PLATFORM, "aws:s3/bucket:Bucket", "s3-access-logs", inputs={"bucket": "ip-prod-logs"}, protect=True)
    stray = b.resources[0]
    stray.update(urn=stray["urn"].replace(f"{PLATFORM}::", f"{ACME}::"), stack=ACME, parent=root_urn(ACME))
    new["resources"].append(stray)
    errors = plan_migration(legacy_layout(), new).errors
    assert errors == [
        f"aws:s3/bucket:Bucket::s3-access-logs: found in 2 new stacks ({PLATFORM}, {ACME}): no single home"
    ]


def test_a_child_attributed_to_another_stack_than_its_parent_is_an_error() -> None:
    new = new_layout()
    find(new, ACME, "tenant-acme-jobs")["stack"] = PLATFORM  # state move would drag it to acme anyway
    errors = plan_migration(legacy_layout(), new).errors
    assert errors == [
        f"platform:index:Tenant$aws:sqs/queue:Queue::tenant-acme-jobs: belongs to {PLATFORM} but its parent "
        f"platform:index:Tenant::tenant-acme moves to {ACME}: `pulumi state move` takes every child along"
    ]


def test_a_stateful_resource_without_legacy_inputs_cannot_be_proven_and_is_an_error() -> None:
    legacy = legacy_layout()
    for r in legacy["resources"]:
        if r["type"] == "aws:sqs/queue:Queue":
            del r["inputs"]
    errors = plan_migration(legacy, new_layout()).errors
    assert len(errors) == 2 and all("holds no inputs" in e for e in errors)


def test_a_plan_without_stacks_is_a_user_error() -> None:
    new = new_layout()
    del new["stacks"]
    with pytest.raises(migrate.ConfigError, match="stacks: missing"):
        plan_migration(legacy_layout(), new)


# --- resources moved out of platform components into tenant stacks (re-parent + alias) ----------------

SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
USER = "aws:elasticache/user:User"
ASSOCIATION = "aws:elasticache/userGroupAssociation:UserGroupAssociation"
SHARED = "platform:index:TenantSharedServices"
MOVED_OUT_TYPES = {
    SG,
    USER,
    "kubernetes:velero.io/v1:BackupStorageLocation",
    "kubernetes:velero.io/v1:Schedule",
    "aws:secretsmanager/secret:Secret",
    "kubernetes:helm.sh/v3:Release",
    "platform:index:TenantFrontEnd",
}


def moved_from(resource: dict[str, Any], parent_type: str) -> None:
    """The aliases components/shared/contract.py moved_from gives, in the plan's mock form."""
    stack, name = resource["stack"], resource["name"]
    resource["options"]["aliases"] = [
        f"urn:pulumi:{stack}::{PROJECT}::{resource['type']}::{name}",
        f"urn:pulumi:{stack}::{PROJECT}::{parent_type}${resource['type']}::{name}",
    ]


def moved_out_layouts(*, alias: bool = True, import_id: str = "ip-prod-users") -> tuple[dict[str, Any], dict[str, Any]]:
    """Legacy: acme's pod security group (with an egress rule) and cache user under platform
    components. New: both under acme's TenantSharedServices, aliased with moved_from, and the
    user's group membership declared as a UserGroupAssociation."""
    legacy_b, new_b = PlanBuilder(), PlanBuilder()
    aws, _ = legacy_b.platform(PLATFORM)
    pods = legacy_b.add(PLATFORM, "platform:index:TenantPodSecurityGroups", "tenant-pods")
    sg = legacy_b.add(PLATFORM, SG, "tenant-pods-acme", pods, provider=aws, tenant="acme")
    legacy_b.add(PLATFORM, RULE, "tenant-pods-acme-egress", sg, provider=aws, tenant="acme")
    cache = legacy_b.add(PLATFORM, "platform:index:Cache", "cache")
    legacy_b.add(PLATFORM, USER, "cache-acme", cache, provider=aws, tenant="acme", inputs={"userId": "ip-prod-acme"})
    legacy_b.add(PLATFORM, "aws:elasticache/userGroup:UserGroup", "cache", cache, provider=aws)

    new_b.platform(PLATFORM)
    new_b.add(PLATFORM, "platform:index:TenantPodSecurityGroups", "tenant-pods")
    cache = new_b.add(PLATFORM, "platform:index:Cache", "cache")
    new_b.add(PLATFORM, "aws:elasticache/userGroup:UserGroup", "cache", cache)
    aws = new_b.add(ACME, "pulumi:providers:aws", "aws-us-east-1", inputs={"region": "us-east-1"})
    shared = new_b.add(ACME, SHARED, "tenant-acme-shared", tenant="acme")
    sg = new_b.add(ACME, SG, "tenant-pods-acme", shared, provider=aws, tenant="acme")
    new_b.add(ACME, RULE, "tenant-pods-acme-egress", sg, provider=aws, tenant="acme")  # no alias of its own
    user = new_b.add(ACME, USER, "cache-acme", shared, provider=aws, tenant="acme", inputs={"userId": "ip-prod-acme"})
    if alias:
        moved_from(sg, "platform:index:TenantPodSecurityGroups")
        moved_from(user, "platform:index:Cache")
    new_b.add(
        ACME,
        ASSOCIATION,
        "cache-acme",
        shared,
        provider=aws,
        tenant="acme",
        inputs={"userGroupId": import_id, "userId": "ip-prod-acme"},
    )
    return legacy_snapshot(legacy_b.plan(PLATFORM), "test"), new_b.plan(PLATFORM, [PLATFORM, ACME])


def test_a_resource_moved_out_of_a_platform_component_is_a_root_found_by_its_alias() -> None:
    legacy, new = moved_out_layouts()
    m = plan_migration(legacy, new)
    assert m.errors == []
    # Named alone: state move re-parents each to acme's root as <type>::<name>, an alias of the new
    # resource; the rule moves with its security group and is found by the alias it inherits.
    assert m.commands() == [
        (
            ACME,
            [
                engine(PLATFORM, f"platform:index:Cache${USER}::cache-acme"),
                engine(PLATFORM, f"platform:index:TenantPodSecurityGroups${SG}::tenant-pods-acme"),
            ],
        )
    ]
    assert sorted(r.name for r in m.moved[ACME]) == ["cache-acme", "tenant-pods-acme", "tenant-pods-acme-egress"]
    assert {r.path for r in m.staying} >= {
        "platform:index:Cache::cache",
        "platform:index:TenantPodSecurityGroups::tenant-pods",
    }
    assert m.deleted == [] and m.created == []


def test_a_resource_moved_out_of_its_parent_without_the_alias_is_an_error() -> None:
    legacy, new = moved_out_layouts(alias=False)
    errors = plan_migration(legacy, new).errors
    assert sorted(errors) == sorted(
        [
            f"platform:index:Cache${USER}::cache-acme: {ACME} declares {SHARED}${USER}::cache-acme with the same type "
            f"and name, but neither its path nor an alias is where `pulumi state move` puts it ({USER}::cache-acme "
            "when moved alone): the next ups delete it and create a new one",
            f"platform:index:TenantPodSecurityGroups${SG}::tenant-pods-acme: {ACME} declares {SHARED}${SG}::"
            f"tenant-pods-acme with the same type and name, but neither its path nor an alias is where `pulumi state "
            f"move` puts it ({SG}::tenant-pods-acme when moved alone): the next ups delete it and create a new one",
            f"platform:index:TenantPodSecurityGroups${SG}$"
            f"{RULE}::tenant-pods-acme-egress: {ACME} declares {SHARED}${SG}${RULE}::tenant-pods-acme-egress with the "
            "same type and name, but neither its path nor an alias is where `pulumi state move` puts it "
            f"({RULE}::tenant-pods-acme-egress when moved alone): the next ups delete it and create a new one",
        ]
    )


def test_a_moved_resource_landing_under_a_urn_its_program_does_not_know_is_an_error() -> None:
    legacy, new = moved_out_layouts()
    # The security group is found at the root of acme by its alias, but its legacy parent moves there
    # too (under a TenantPodSecurityGroups of acme): it would land as the parent's child, not at the root.
    pods = next(r for r in new["resources"] if r["type"] == "platform:index:TenantPodSecurityGroups")
    pods.update(stack=ACME, urn=pods["urn"].replace(f"{PLATFORM}::", f"{ACME}::"), parent=root_urn(ACME))
    sg = find(new, ACME, "tenant-pods-acme", SG)
    sg["options"]["aliases"] = sg["options"]["aliases"][:1]  # the root-level one only
    errors = plan_migration(legacy, new).errors
    assert errors[0] == (
        f"platform:index:TenantPodSecurityGroups${SG}::tenant-pods-acme: moves to {ACME} as "
        f"platform:index:TenantPodSecurityGroups${SG}::tenant-pods-acme, which is neither "
        f"{SHARED}${SG}::tenant-pods-acme nor one of its aliases: the next up would replace it"
    )
    # and its rule, moving with it, lands under that chain too: no alias finds it
    assert len(errors) == 2 and "tenant-pods-acme-egress: " in errors[1] and "same type and name" in errors[1]


def test_a_resource_staying_in_the_platform_is_found_only_under_its_unchanged_urn() -> None:
    legacy, new = moved_out_layouts()
    # acme's user declared by the platform under another component, aliased at the root: the user never
    # moves, so it stays under its legacy URN, which the root alias does not name.
    user = find(new, ACME, "cache-acme", USER)
    network = find(new, PLATFORM, "network", "platform:index:Network")
    user.update(stack=PLATFORM, urn=user["urn"].replace(f"{ACME}::", f"{PLATFORM}::"), parent=network["urn"])
    user["urn"] = user["urn"].replace(f"{SHARED}$", "platform:index:Network$")
    user["options"]["aliases"] = [f"urn:pulumi:{PLATFORM}::{PROJECT}::{USER}::cache-acme"]
    new["resources"] = [r for r in new["resources"] if r["type"] != ASSOCIATION]
    errors = plan_migration(legacy, new).errors
    assert errors == [
        f"platform:index:Cache${USER}::cache-acme: stays in {PLATFORM} under this URN, which is neither "
        f"platform:index:Network${USER}::cache-acme nor one of its aliases: the next up would replace it"
    ]


def test_a_child_declared_in_a_tenant_stack_under_a_copy_of_its_platform_parent_is_an_error() -> None:
    legacy, new = moved_out_layouts()
    # acme declares its own Cache component holding the user: the legacy Cache stays in the platform,
    # so the move re-parents the user to acme's root, not under that copy.
    b = PlanBuilder()
    copy_ = b.add(ACME, "platform:index:Cache", "acme-cache")
    b.add(ACME, USER, "cache-acme", copy_, tenant="acme", inputs={"userId": "ip-prod-acme"})
    new["resources"] = [r for r in new["resources"] if r["type"] not in (USER, ASSOCIATION)] + b.resources
    errors = plan_migration(legacy, new).errors
    assert errors == [
        f"platform:index:Cache${USER}::cache-acme: belongs to {ACME} but its parent goes to {PLATFORM}: "
        f"`pulumi state move` would re-parent it to the root as {USER}::cache-acme, which is neither "
        f"platform:index:Cache${USER}::cache-acme nor one of its aliases"
    ]


def test_an_alias_under_a_parent_or_in_another_stack_does_not_count() -> None:
    legacy, new = moved_out_layouts()
    user = find(new, ACME, "cache-acme", USER)
    user["options"]["aliases"] = [
        f"urn:pulumi:{BETA}::{PROJECT}::{USER}::cache-acme",  # another stack
        f"urn:pulumi:{ACME}::{PROJECT}::platform:index:Cache${USER}::cache-acme",  # the mock form drops the chain
    ]
    errors = plan_migration(legacy, new).errors
    assert len(errors) == 1
    assert errors[0].startswith(f"platform:index:Cache${USER}::cache-acme: {ACME} declares {SHARED}${USER}::cache-acme")


def test_a_membership_the_cloud_already_has_is_imported_under_a_new_parent_component() -> None:
    legacy, new = moved_out_layouts()
    m = plan_migration(legacy, new)
    assert m.errors == [] and m.created == []
    [imp] = m.imports
    assert (imp.stack, imp.resource.type, imp.id) == (ACME, ASSOCIATION, "ip-prod-users,ip-prod-acme")
    # `pulumi import` refuses a parent absent from the state: the import file creates the component.
    assert migrate.import_file(m, ACME) == {
        "nameTable": {"aws-us-east-1": engine(ACME, "pulumi:providers:aws::aws-us-east-1")},
        "resources": [
            {"type": SHARED, "name": "tenant-acme-shared", "logicalName": "tenant-acme-shared", "component": True},
            {
                "type": ASSOCIATION,
                "name": "cache-acme",
                "logicalName": "cache-acme",
                "id": "ip-prod-users,ip-prod-acme",
                "provider": "aws-us-east-1",
                "parent": "tenant-acme-shared",
            },
        ],
    }
    assert m.expect_no_changes(ACME)


def test_a_membership_of_a_user_the_legacy_layout_did_not_have_is_created_not_imported() -> None:
    legacy, new = moved_out_layouts()
    legacy["resources"] = [r for r in legacy["resources"] if r["type"] != USER]
    new["resources"] = [r for r in new["resources"] if r["type"] != USER]
    m = plan_migration(legacy, new)
    assert m.imports == [] and sorted(r.type for r in m.created) == [ASSOCIATION, SHARED]


def test_an_import_id_unknown_in_the_plan_is_an_error() -> None:
    legacy, new = moved_out_layouts(import_id="[unknown]")
    errors = plan_migration(legacy, new).errors
    assert len(errors) == 1 and errors[0].startswith(f"{ACME}: {SHARED}${ASSOCIATION}::cache-acme: exists in the cloud")
    assert "needs userGroupId, unknown in the plan" in errors[0]


def test_the_script_imports_after_the_moves_and_before_the_previews(tmp_path: Path) -> None:
    legacy, new = moved_out_layouts()
    out = tmp_path / "migration"
    args = ["--legacy", write(tmp_path / "l.json", legacy), "--plan", write(tmp_path / "p.json", new)]
    assert migrate.main(["--stack", PLATFORM, *args, "--out", str(out)]) == 0
    script = (out / "state-moves.sh").read_text(encoding="utf-8")
    steps = [line.split(" ")[1].split("-")[0] for line in script.splitlines() if line.startswith(("step ", "preview "))]
    # The platform is previewed and deployed (its contract output) before the tenant stacks' previews.
    assert steps == ["backup", "stack", "move", "import", PLATFORM.split("-")[0], "up", ACME.split("-")[0]]
    assert (
        f'step import-{ACME} pulumi import --stack {ACME} --file "$HERE/imports/{ACME}.json" '
        "--protect=false --generate-code=false --yes"
    ) in script
    assert (
        json.loads((out / "imports" / f"{ACME}.json").read_text())["resources"][1]["id"] == "ip-prod-users,ip-prod-acme"
    )
    report = (out / "report.md").read_text(encoding="utf-8")
    assert f"| {ACME} | {ASSOCIATION} | cache-acme | `ip-prod-users,ip-prod-acme` |" in report
    assert subprocess.run(["bash", "-n", str(out / "state-moves.sh")], check=False).returncode == 0


# --- the command line, the script and the report -------------------------------------------------------


def write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_the_script_backs_up_first_creates_the_tenant_stacks_and_moves_once(tmp_path: Path) -> None:
    legacy, plan = write(tmp_path / "legacy.json", legacy_layout()), write(tmp_path / "plan.json", new_layout())
    out = tmp_path / "migration"
    args = ["--stack", PLATFORM, "--legacy", legacy, "--plan", plan, "--out", str(out)]
    assert migrate.main(args) == 0
    script = (out / "state-moves.sh").read_text(encoding="utf-8")
    assert subprocess.run(["bash", "-n", str(out / "state-moves.sh")], check=False).returncode == 0
    assert "set -euo pipefail" in script
    lines = [line for line in script.splitlines() if line.startswith("step ")]
    assert lines[0] == (
        f'step backup-{PLATFORM} pulumi stack export --stack {PLATFORM} --file "$MIGRATION_DIR/backup/{PLATFORM}.json"'
    )
    assert lines[1:3] == [
        f'step stack-{stack} "$PYTHON" -m planner.fleet materialize --stack {stack}' for stack in (ACME, BETA)
    ]
    assert lines[3] == f"step move-001-{ACME} pulumi state move --source {PLATFORM} --dest {ACME} --yes \\"
    assert f"  {shlex.quote(engine(PLATFORM, 'platform:index:Tenant::tenant-acme'))}\n" in script
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Verdict: safe" in report and f"| {ACME} | 6 | 1 | 3 |" in report


def fake_tools(bin_dir: Path, log: Path, version: str) -> None:
    """`pulumi` and `python` that only log their arguments (`pulumi version` answers `version`)."""
    for tool in ("pulumi", "python"):
        fake = bin_dir / tool
        answer = f'if [ "$1" = version ]; then echo {version}; exit 0; fi\n' if tool == "pulumi" else ""
        fake.write_text(f'#!/bin/sh\n{answer}echo "{tool} $*" >> {log}\n', encoding="utf-8")
        fake.chmod(0o755)


def test_the_script_refuses_a_pulumi_cli_without_the_provider_dependency_fix(tmp_path: Path) -> None:
    legacy, plan = write(tmp_path / "legacy.json", legacy_layout()), write(tmp_path / "plan.json", new_layout())
    out = tmp_path / "migration"
    assert migrate.main(["--stack", PLATFORM, "--legacy", legacy, "--plan", plan, "--out", str(out)]) == 0
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    fake_tools(bin_dir, log, "v3.225.1")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MIGRATION_DIR": str(out), "PYTHON": "python"}
    run = subprocess.run(["bash", str(out / "state-moves.sh")], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1 and "older than 3.226.0" in run.stderr
    assert not log.exists()  # nothing exported, created or moved


def test_the_script_skips_finished_steps_on_a_rerun(tmp_path: Path) -> None:
    """Run the generated script with a fake `pulumi` on PATH: a re-run does not move twice."""
    legacy, plan = write(tmp_path / "legacy.json", legacy_layout()), write(tmp_path / "plan.json", new_layout())
    out = tmp_path / "migration"
    assert migrate.main(["--stack", PLATFORM, "--legacy", legacy, "--plan", plan, "--out", str(out)]) == 0
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    fake_tools(bin_dir, log, "v3.259.0")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MIGRATION_DIR": str(out), "PYTHON": "python"}
    for _ in range(2):
        subprocess.run(["bash", str(out / "state-moves.sh")], check=True, env=env, cwd=tmp_path, capture_output=True)
    calls = [c.split(" --")[0] for c in log.read_text(encoding="utf-8").splitlines()]
    check = ["pulumi preview", "python -m planner.migrate"]
    # every run previews every stack; the platform is deployed once, between its preview and the tenants'
    first_run = [*check, "pulumi up", *check * 2]
    again = check * 3
    previews = [c for c in log.read_text(encoding="utf-8").splitlines() if c.startswith("pulumi preview")]
    assert previews[0] == f"pulumi preview --stack {PLATFORM} --json --expect-no-changes"
    assert calls == [
        "pulumi stack export",
        "python -m planner.migrate",  # --check-state of the export
        "python -m planner.fleet materialize",
        "python -m planner.fleet materialize",
        "pulumi state move",
        "pulumi state move",
        *first_run,
        "python -m planner.migrate",  # the state is checked again on every run
        *again,
    ]
    # After a reviewed provider update, EXPECT_NO_CHANGES=0 previews without the flag.
    log.unlink()
    env["EXPECT_NO_CHANGES"] = "0"
    subprocess.run(["bash", str(out / "state-moves.sh")], check=True, env=env, cwd=tmp_path, capture_output=True)
    assert not [c for c in log.read_text(encoding="utf-8").splitlines() if "--expect-no-changes" in c]


def test_the_command_line_exits_1_with_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = new_layout()
    find(new, ACME, "tenant-acme-db", "aws:rds/instance:Instance")["inputs"]["identifier"] = "renamed"
    find(new, BETA, "tenant-beta", "kubernetes:core/v1:Namespace")["options"]["protect"] = False
    legacy, plan = write(tmp_path / "legacy.json", legacy_layout()), write(tmp_path / "plan.json", new)
    assert migrate.main(["--stack", PLATFORM, "--legacy", legacy, "--plan", plan, "--out", str(tmp_path)]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
    assert "BLOCKED, 2 problem(s)" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_an_unreadable_input_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write(tmp_path / "plan.json", new_layout())
    missing = str(tmp_path / "nope.json")
    assert migrate.main(["--stack", PLATFORM, "--legacy", missing, "--plan", plan, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {missing}: (document): cannot be read")


def test_previews_expect_no_changes_only_where_the_report_predicts_none(tmp_path: Path) -> None:
    new = new_layout()
    b = PlanBuilder()
    b.add(ACME, "aws:iam/role:Role", "tenant-acme-new-role")
    new["resources"] += b.resources
    legacy, plan = write(tmp_path / "legacy.json", legacy_layout()), write(tmp_path / "plan.json", new)
    assert migrate.main(["--stack", PLATFORM, "--legacy", legacy, "--plan", plan, "--out", str(tmp_path)]) == 0
    previews = [line for line in (tmp_path / "state-moves.sh").read_text().splitlines() if line.startswith("preview ")]
    assert previews == [
        f"preview {PLATFORM} --expect-no-changes",
        f"preview {ACME}",
        f"preview {BETA} --expect-no-changes",
    ]


def preview_step(op: str, type_: str, *, protect: bool = False, new_protect: bool | None = None) -> dict[str, Any]:
    urn = engine(ACME, f"platform:index:Tenant${type_}::x")
    old = {"urn": urn, "type": type_, "protect": protect}
    new = {"urn": urn, "type": type_, "protect": protect if new_protect is None else new_protect}
    return {"op": op, "urn": urn, "oldState": old, "newState": None if op == "delete" else new}


def test_check_preview_blocks_a_stateful_replace_delete_or_unprotect() -> None:
    problems, notes = migrate.check_preview(
        {
            "steps": [
                preview_step("replace", "aws:rds/instance:Instance", protect=True),
                preview_step("delete", "aws:sqs/queue:Queue"),
                preview_step("update", "aws:cognito/userPool:UserPool", protect=True, new_protect=False),
                preview_step("delete", "aws:iam/role:Role"),
                preview_step("delete", "pulumi:providers:kubernetes"),
                preview_step("same", "aws:kms/key:Key", protect=True),
                preview_step("update", "aws:iam/role:Role", protect=True),
            ]
        }
    )
    assert [p.split("::x: ")[1] for p in problems] == ["replace", "delete", "protect dropped"]
    assert [n.split("::x: ")[1] for n in notes] == ["delete", "delete"]


def test_check_preview_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = write(tmp_path / "clean.json", {"steps": [preview_step("same", "aws:rds/instance:Instance")]})
    bad = write(tmp_path / "bad.json", {"steps": [preview_step("replace", "aws:s3/bucket:Bucket")]})
    assert migrate.main(["--check-preview", clean]) == 0
    assert migrate.main(["--check-preview", clean, bad]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: {bad}: {engine(ACME, 'platform:index:Tenant$aws:s3/bucket:Bucket::x')}: replace"
    ]
    (tmp_path / "empty.json").write_text("")
    assert migrate.main(["--check-preview", str(tmp_path / "empty.json")]) == 2


def test_check_state_blocks_when_a_named_root_or_a_stateful_resource_is_not_in_the_real_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = plan_migration(legacy_layout(), new_layout())
    expected = {"platform": PLATFORM, "urns": m.expected_state()}
    urns = [e["urn"] for e in expected["urns"]]
    assert engine(PLATFORM, "platform:index:Tenant::tenant-acme") in urns
    root = engine(PLATFORM, "platform:index:Tenant::tenant-acme")
    queue = engine(PLATFORM, "platform:index:Tenant$aws:sqs/queue:Queue::tenant-acme-jobs")
    role = engine(PLATFORM, "platform:index:Tenant$aws:iam/role:Role::tenant-acme-app")
    state = {"version": 3, "deployment": {"resources": [{"urn": u} for u in urns]}}
    assert migrate.check_state(state, expected) == ([], [])
    state["deployment"]["resources"] = [{"urn": u} for u in urns if u not in (root, queue, role)]
    problems, notes = migrate.check_state(state, expected)
    assert sorted(problems) == [
        f"{queue} (stateful, for {ACME}) is not in the state",
        f"{root} (root, for {ACME}) is not in the state",
    ]
    assert notes == [f"{role} (moved, for {ACME}) is not in the state"]
    export, expected_file = write(tmp_path / "export.json", state), write(tmp_path / "expected.json", expected)
    assert migrate.main(["--check-state", export, "--expected", expected_file]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 2
    assert migrate.main(["--check-state", expected_file, "--expected", expected_file]) == 2


# --- the real legacy layout -------------------------------------------------------------------------------


def simulated_split(legacy: dict[str, Any]) -> dict[str, Any]:
    """The legacy snapshot cut the way issue 13 cuts it: each tenant's top-level components into
    `<platform>.<tenant>`, with its own providers at the root of its stack; the rest stays."""
    platform = legacy["stack"]
    by_urn = {r["urn"]: r for r in legacy["resources"]}

    def top(r: dict[str, Any]) -> dict[str, Any]:
        while r["parent"] in by_urn:
            r = by_urn[r["parent"]]
        return r

    stack_of = {
        urn: f"{platform}.{top(r)['tenant']}" if top(r)["type"] in TENANT_TOP_TYPES else platform
        for urn, r in by_urn.items()
    }
    providers = [r for r in legacy["resources"] if r["type"].startswith("pulumi:providers:")]

    def in_stack(urn: str, stack: str) -> str:
        return urn.replace(f"urn:pulumi:{platform}::", f"urn:pulumi:{stack}::", 1)

    def tenant_provider(urn: str, stack: str) -> str:
        return in_stack(
            f"{urn.rsplit('::', 2)[0]}::pulumi:pulumi:Stack${by_urn[urn]['type']}::{urn.rsplit('::', 1)[1]}", stack
        )

    resources = []
    for urn, r in by_urn.items():
        stack = stack_of[urn]
        moved = {
            **copy.deepcopy(r),
            "stack": stack,
            "urn": in_stack(urn, stack),
            "parent": in_stack(r["parent"], stack) if r["parent"] in by_urn else root_urn(stack),
        }
        if stack != platform and r.get("provider"):
            moved["provider"] = tenant_provider(r["provider"], stack)
        resources.append(moved)
    tenant_stacks = sorted(set(stack_of.values()) - {platform})
    for stack in tenant_stacks:
        for p in providers:
            resources.append(
                {
                    **copy.deepcopy(p),
                    "urn": tenant_provider(p["urn"], stack),
                    "parent": root_urn(stack),
                    "stack": stack,
                    "inputs": {"region": legacy["region"]} if p["type"] == "pulumi:providers:aws" else {},
                }
            )
    stacks = [{"name": platform, "kind": "platform", "tenant": None}]
    stacks += [{"name": s, "kind": "tenant", "tenant": s.split(".")[1]} for s in tenant_stacks]
    return {**legacy, "resources": resources, "stacks": stacks, "outputs": {}}


@pytest.mark.parametrize("stack", LEGACY_STACKS)
def test_the_legacy_layout_split_by_tenant_keeps_every_stateful_resource(stack: str) -> None:
    """The real legacy snapshots, split the way the new layout splits them: no error, every
    stateful resource compared, only tenant components named, every tenant subtree moved whole."""
    legacy = json.loads((FIXTURES / f"{stack}.json").read_text(encoding="utf-8"))
    m = plan_migration(legacy, simulated_split(legacy))
    assert m.errors == []
    stateful = [r for r in legacy["resources"] if "inputs" in r]
    assert len(m.stateful_checked) == len(stateful) > 0
    assert {r.type for roots in m.roots.values() for r in roots} <= TENANT_TOP_TYPES
    assert m.deleted == []
    for dest, moved in m.moved.items():
        assert m.copied_providers[dest] == {"pulumi:providers:aws::aws-" + legacy["region"]} | (
            {"pulumi:providers:kubernetes::cluster-k8s"}
            if any(r.type.startswith("kubernetes:") for r in moved)
            else set()
        )


def test_the_legacy_snapshots_hold_inputs_of_every_stateful_resource() -> None:
    for stack in LEGACY_STACKS:
        legacy = json.loads((FIXTURES / f"{stack}.json").read_text(encoding="utf-8"))
        missing = [
            r["urn"]
            for r in legacy["resources"]
            if (r["type"] in migrate.STATEFUL_TYPES or (r.get("options") or {}).get("protect")) and "inputs" not in r
        ]
        assert missing == [], stack


@pytest.mark.parametrize("platform", LEGACY_STACKS)
def test_real_layout_moves_keep_every_stateful_resource(platform: str) -> None:
    """The real end-to-end check: today's legacy snapshot against the combined plan of the new layout.
    Skips ONLY while `build_plan` still plans the one-stack-per-region layout (no `stacks` key);
    once the split is merged it runs, and must pass before the migration is run."""
    from planner.runner import build_plan

    plan = build_plan(platform)
    if "stacks" not in plan:
        pytest.skip("build_plan output has no `stacks` key: the new layout is not merged yet")
    legacy = json.loads((FIXTURES / f"{platform}.json").read_text(encoding="utf-8"))
    m: Migration = plan_migration(legacy, plan)
    assert m.errors == []
    assert m.stateful_checked
    # What the new layout moved out of platform components into tenant stacks is moved, not re-created,
    # and every tenant's cache user keeps its group membership through an import.
    assert not [r for r in m.deleted if r.stateful]
    # (Resources the legacy layout never had — issue 14's tables, streams, processors — are created.)
    moved_out = {(r["type"], r["urn"].rsplit("::", 1)[-1]) for r in legacy["resources"] if r["type"] in MOVED_OUT_TYPES}
    assert not {(r.type, r.path.rsplit("::", 1)[-1]) for r in m.created} & moved_out
    moved_users = sorted(r.name for moved in m.moved.values() for r in moved if r.type == USER)
    assert moved_users and sorted(i.resource.name for i in m.imports) == moved_users
