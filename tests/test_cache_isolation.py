"""The shared Redis keeps tenants apart: each tenant served in a region has its own IAM-authenticated
ElastiCache user whose ACL reaches only keys under the tenant's prefix with commands that cannot
see or touch the rest of the keyspace; the `default` user is off; each tenant's roles may connect
only as that user; its services are told which user and prefix are theirs."""

import dataclasses
import fnmatch
import itertools
import json
import re
from typing import Any

import pulumi
import pytest

from catalog import StackSettings, Tenant
from components.platform.cache import Cache, CacheArgs, tenant_access_string
from components.shared.providers import regional_aws_provider
from components.tenant.shared_services import TenantSharedServices, TenantSharedServicesArgs
from planner.mocks import Registration
from tests.conftest import STACKS, resources_of
from tests.helpers import of_type, run, settings_for

USER = "aws:elasticache/user:User"
GROUP = "aws:elasticache/userGroup:UserGroup"
MEMBER = "aws:elasticache/userGroupAssociation:UserGroupAssociation"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
POLICY_TYPES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
GLOB = re.compile(r"[*?\[\]\\]")
# Commands a tenant must never hold (whole-keyspace effects, or views not limited by key
# patterns), with their ACL categories as Redis 7.0.15 `COMMAND INFO` reports them.
FORBIDDEN = {
    "flushall": {"keyspace", "write", "slow", "dangerous"},
    "flushdb": {"keyspace", "write", "slow", "dangerous"},
    "swapdb": {"keyspace", "write", "fast", "dangerous"},
    "keys": {"keyspace", "read", "slow", "dangerous"},
    "scan": {"keyspace", "read", "slow"},
    "randomkey": {"keyspace", "read", "slow"},
    "dbsize": {"keyspace", "read", "fast"},
    "sort": {"write", "set", "sortedset", "list", "slow", "dangerous"},
    "migrate": {"keyspace", "write", "slow", "dangerous"},
    "info": {"slow", "dangerous"},
    "eval": {"slow", "scripting"},
    "client|tracking": {"slow", "connection"},
    "client|list": {"admin", "slow", "dangerous", "connection"},
    "client|kill": {"admin", "slow", "dangerous", "connection"},
    "config|get": {"admin", "slow", "dangerous"},
    "function|flush": {"write", "slow", "scripting"},
    "function|load": {"write", "slow", "scripting"},
    "pubsub|channels": {"pubsub", "slow"},
}
NEEDED = {"get": {"read", "string", "fast"}, "set": {"write", "string", "slow"}, "del": {"keyspace", "write", "slow"}}


# ------------------------------------------------------------------------------ access strings


@dataclasses.dataclass
class Acl:
    """An access string read the way Redis applies it: rules left to right."""

    on: bool
    keys: list[str]
    channels: list[str]
    rules: list[str]  # command rules (+cmd, -cmd, +@cat, -@cat, allcommands, nocommands)

    @classmethod
    def parse(cls, text: str) -> "Acl":
        acl = cls(on=False, keys=[], channels=[], rules=[])
        for token in text.split():
            if token in ("on", "off"):
                acl.on = token == "on"
            elif token in ("allkeys", "resetkeys") or token.startswith(("~", "%")):
                acl.keys = [] if token == "resetkeys" else [*acl.keys, "*" if token == "allkeys" else token]
            elif token in ("allchannels", "resetchannels") or token.startswith("&"):
                acl.channels = [] if token == "resetchannels" else [*acl.channels, token.lstrip("&")]
            else:
                acl.rules.append(token)
        return acl

    def patterns(self) -> list[str]:
        return [k.split("~", 1)[1] if "~" in k else k for k in self.keys]

    def allows(self, command: str, categories: set[str]) -> bool:
        """Whether the rules leave `command` (or its container) allowed; the last matching rule wins."""
        allowed = False
        for rule in self.rules:
            sign, what = rule[0], rule[1:]
            if rule in ("allcommands", "+@all"):
                allowed = True
            elif rule in ("nocommands", "-@all"):
                allowed = False
            elif (sign in "+-" and what.startswith("@") and what[1:] in categories) or (
                sign in "+-" and what in (command, command.split("|")[0])
            ):
                allowed = sign == "+"
        return allowed


def redis_glob(pattern: str, key: str) -> bool:
    return fnmatch.fnmatchcase(key, pattern)


def literal_prefix(pattern: str) -> str:
    """`acme:*` -> `acme:`; anything but a literal prefix followed by one trailing `*` is refused."""
    assert pattern.endswith("*") and not GLOB.search(pattern[:-1]), f"{pattern!r} is not `<literal prefix>*`"
    return pattern[:-1]


def users(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return resources_of(plan, USER)


def tenant_users(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for u in users(plan):
        if u["inputs"]["userName"] != "default":
            assert u["tenant"], f"{u['urn']} is a cache user of no tenant"
            assert u["tenant"] not in found, f"{u['tenant']} has two cache users"
            found[u["tenant"]] = u
    return found


def served(plan: dict[str, Any]) -> set[str]:
    return {r["tenant"] for r in resources_of(plan, "kubernetes:core/v1:Namespace") if r["tenant"]}


# ------------------------------------------------------------------------------------- plans


@pytest.mark.parametrize("stack", STACKS)
def test_no_cache_user_reaches_every_key_or_command(plans: dict[str, Any], stack: str) -> None:
    for u in users(plans[stack]):
        text = u["inputs"]["accessString"]
        acl = Acl.parse(text)
        assert "*" not in acl.patterns() and "*" not in acl.channels, f"{u['urn']}: {text}"
        assert "+@all" not in acl.rules and "allcommands" not in acl.rules, f"{u['urn']}: {text}"


@pytest.mark.parametrize("stack", STACKS)
def test_default_user_is_switched_off_and_holds_nothing(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    (redis,) = resources_of(plan, REDIS)
    (group,) = resources_of(plan, GROUP)
    assert redis["inputs"]["userGroupIds"] == [group["inputs"]["userGroupId"]]
    assert group["urn"] in redis["options"]["dependsOn"]
    by_id = {u["inputs"]["userId"]: u["inputs"] for u in users(plan)}
    defaults = [by_id[i] for i in group["inputs"]["userIds"] if by_id[i]["userName"] == "default"]
    assert len(defaults) == 1, "the group must replace the built-in default user with its own"
    acl = Acl.parse(defaults[0]["accessString"])
    assert not acl.on and not acl.keys and not acl.channels
    assert not [r for r in acl.rules if r.startswith("+") or r == "allcommands"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_served_tenant_has_its_own_iam_user_in_the_attached_group(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    own = tenant_users(plan)
    assert set(own) == served(plan) and own, "one cache user per tenant served here, no more"
    (group,) = resources_of(plan, GROUP)
    (redis,) = resources_of(plan, REDIS)
    assert int(redis["inputs"]["engineVersion"].split(".")[0]) >= 7  # IAM authentication: Redis OSS 7+
    assert redis["inputs"]["transitEncryptionEnabled"] is True  # IAM authentication requires TLS
    for tenant, u in own.items():
        i = u["inputs"]
        assert i["authenticationMode"] == {"type": "iam"} and "passwords" not in i
        assert i["userId"] == i["userName"] == i["userId"].lower() and len(i["userId"]) <= 40
        (member,) = [a for a in resources_of(plan, MEMBER) if a["tenant"] == tenant]
        assert member["stack"] == u["stack"] != plan["stack"], "the tenant's own stack adds its user"
        assert member["inputs"] == {"userGroupId": group["inputs"]["userGroupId"], "userId": i["userId"]}
        assert u["urn"] in member["options"]["dependsOn"]
        assert Acl.parse(i["accessString"]).on, f"{tenant}'s cache user is switched off"
    # Members join through their own stacks: the group keeps only the switched-off default user.
    assert group["options"]["ignoreChanges"] == ["userIds"] and len(group["inputs"]["userIds"]) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_each_tenant_user_reaches_only_its_own_prefix_with_safe_commands(plans: dict[str, Any], stack: str) -> None:
    for tenant, u in tenant_users(plans[stack]).items():
        acl = Acl.parse(u["inputs"]["accessString"])
        assert [literal_prefix(p) for p in acl.patterns()] == [f"{tenant}:"]
        assert all(k.startswith("~") for k in acl.keys)  # read and write, but only there
        assert [literal_prefix(c) for c in acl.channels] == [f"{tenant}:"]
        assert acl.rules[0] == "-@all", "start from nothing, then grant"
        for command, categories in FORBIDDEN.items():
            assert not acl.allows(command, categories), f"{tenant} may run {command}: {acl.rules}"
        for command, categories in NEEDED.items():
            assert acl.allows(command, categories), f"{tenant} cannot run {command}"


@pytest.mark.parametrize("stack", STACKS)
def test_key_prefixes_of_two_tenants_are_disjoint(plans: dict[str, Any], stack: str) -> None:
    own = tenant_users(plans[stack])
    for a, b in itertools.permutations(own, 2):
        pa = [literal_prefix(p) for p in Acl.parse(own[a]["inputs"]["accessString"]).patterns()]
        pb = [literal_prefix(p) for p in Acl.parse(own[b]["inputs"]["accessString"]).patterns()]
        for x, y in itertools.product(pa, pb):
            assert not x.startswith(y) and not y.startswith(x), f"{a} ({x}) and {b} ({y}) share keys"


def statements(document: str) -> list[dict[str, Any]]:
    found = json.loads(document)["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def grants_connect(statement: dict[str, Any]) -> bool:
    actions = as_list(statement.get("Action", []))
    return statement["Effect"] == "Allow" and any(fnmatch.fnmatch("elasticache:connect", a.lower()) for a in actions)


@pytest.mark.parametrize("stack", STACKS)
def test_each_tenant_connects_only_as_its_own_cache_user(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    own = tenant_users(plan)
    (redis,) = resources_of(plan, REDIS)
    group_arn = f"arn:aws:elasticache:{plan['region']}:123456789012:replicationgroup:"
    group_arn += redis["inputs"]["replicationGroupId"]
    connecting: dict[str, int] = {}
    for policy in (p for t in POLICY_TYPES for p in resources_of(plan, t)):
        for st in statements(policy["inputs"]["policy"]):
            if not grants_connect(st):
                continue
            tenant = policy["tenant"]
            assert tenant, f"{policy['urn']}: only tenant workload roles connect to the cache"
            user_arn = f"arn:aws:elasticache:{plan['region']}:123456789012:user:{own[tenant]['inputs']['userId']}"
            assert as_list(st["Action"]) == ["elasticache:Connect"], policy["urn"]
            assert sorted(as_list(st["Resource"])) == sorted([group_arn, user_arn]), policy["urn"]
            connecting[tenant] = connecting.get(tenant, 0) + 1
    assert connecting == {t: 3 for t in own}, "carrier, policy and the aggregator of every tenant, nobody else"


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_services_are_told_their_own_user_and_prefix(plans: dict[str, Any], stack: str) -> None:
    plan = plans[stack]
    own = tenant_users(plan)
    (group,) = resources_of(plan, GROUP)
    (redis,) = resources_of(plan, REDIS)
    for cm in resources_of(plan, "kubernetes:core/v1:ConfigMap"):
        if cm["inputs"]["metadata"]["name"] != "tenant-runtime":
            continue
        tenant, data = cm["tenant"], cm["inputs"]["data"]
        assert data["REDIS_USER"] == own[tenant]["inputs"]["userName"]
        assert data["REDIS_KEY_PREFIX"] == f"{tenant}:" and data["REDIS_AUTH"] == "iam"
        assert data["REDIS_REPLICATION_GROUP_ID"] == redis["inputs"]["replicationGroupId"]
        # Services start after the group admits the user (the user name resolves through it).
        (member,) = [a for a in resources_of(plan, MEMBER) if a["tenant"] == tenant]
        assert {member["urn"], own[tenant]["urn"]} <= set(cm["options"]["dependsOn"])
        assert group["inputs"]["userGroupId"] == member["inputs"]["userGroupId"]


# ------------------------------------------------------------------ synthetic: ids and changes


@pytest.fixture(scope="module")
def dev() -> StackSettings:
    return settings_for("dev")


def renamed(settings: StackSettings, *ids: str) -> list[Tenant]:
    base = settings.tenants[0]
    return [dataclasses.replace(base, id=i, domain=f"{i}.example.com") for i in ids]


def cache(settings: StackSettings, tenants: list[Tenant]) -> list[Registration]:
    """The platform's cache and each tenant's seat on it, in one synthetic program."""

    def program() -> None:
        provider = pulumi.ResourceOptions(provider=regional_aws_provider(settings))
        shared = Cache(
            "cache",
            CacheArgs(
                settings=settings,
                vpc_id="vpc-1",
                private_subnet_ids=[pulumi.Output.from_input("subnet-1")],
                client_security_group_id="sg-tenant-pods",
                kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
            ),
            provider,
        )
        for tenant in tenants:
            TenantSharedServices(
                f"tenant-{tenant.id}-shared",
                TenantSharedServicesArgs(
                    settings=settings,
                    tenant=tenant,
                    vpc_id="vpc-1",
                    cache_host=shared.replication_group.primary_endpoint_address,
                    cache_replication_group_id=shared.replication_group.replication_group_id,
                    cache_user_group_id=shared.user_group.user_group_id,
                    entry_dns_name="entry.us-east-1.elb.amazonaws.com",
                    entry_zone_id="Z35SXDOTRQ7X7K",
                ),
                provider,
            )

    return run(program, settings)


def test_a_tenant_id_that_extends_another_does_not_reach_its_keys(dev: StackSettings) -> None:
    regs = cache(dev, renamed(dev, "acme", "acme-2", "acme2"))
    patterns = {
        r.inputs["tags"]["tenant"]: Acl.parse(r.inputs["accessString"]).patterns()
        for r in of_type(regs, USER)
        if r.inputs["userName"] != "default"
    }
    for a, b in itertools.permutations(patterns, 2):
        for key in (f"{b}:session:1", f"{b}:"):
            assert not any(redis_glob(p, key) for p in patterns[a]), f"{a} reaches {b}'s key {key}"
        assert any(redis_glob(p, f"{a}:session:1") for p in patterns[a])


def test_tenant_ids_that_could_escape_their_prefix_are_refused() -> None:
    for bad in ("acme:x", "acme*", "ac?me", "[acme]", "Acme"):
        with pytest.raises(ValueError):
            tenant_access_string(bad)


def test_offboarding_a_tenant_changes_only_its_own_user_and_membership(dev: StackSettings) -> None:
    before = {r.urn: r for r in cache(dev, renamed(dev, "acme", "acme-2"))}
    after = {r.urn: r for r in cache(dev, renamed(dev, "acme"))}
    gone = set(before) - set(after)
    assert {before[u].inputs.get("tags", {}).get("tenant") for u in gone if before[u].custom} <= {"acme-2", None}
    assert {before[u].type for u in gone} >= {USER, MEMBER} and not set(after) - set(before)
    (member,) = [before[u] for u in gone if before[u].type == MEMBER]
    assert member.inputs["userId"] == "ip-dev-acme-2"
    changed = {
        (after[u].type, k)
        for u in after
        for k in set(before[u].inputs) | set(after[u].inputs)
        if before[u].inputs.get(k) != after[u].inputs.get(k)
    }
    assert changed == set(), "the platform's group and replication group are untouched (RemoveUserFromGroup)"
