"""DR gates: the pure function, and the CLI against a fake `pulumi` executable on PATH."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from planner.gates import gate_values, user_pools
from planner.runner import ROOT

PEER_OUTPUTS = {
    "region": "us-east-1",
    "tenants": {
        "harbor-mutual": {
            "namespace": "harbor-mutual",
            "home": True,
            "databaseEndpoint": "db:3306",
            "userPoolId": "us-east-1_Harbor1",
        },
        "granite-re": {"namespace": "granite-re", "home": False, "databaseEndpoint": None, "userPoolId": None},
        "acme-mutual": {"namespace": "acme-mutual", "home": True, "databaseEndpoint": "db2:3306"},
    },
    "disasterRecovery": {
        "peerRegion": "us-west-2",
        "copiesHeldHere": {"pine-life": "us-west-2", "oak-re": "us-west-2"},
    },
}

FAKE_PULUMI = """#!{python}
import json, os, sys
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["stack", "output"]:
    peer = args[args.index("--stack") + 1]
    outputs = os.environ.get("FAKE_PULUMI_OUTPUTS")
    if not outputs:
        print(f"error: no stack named '{{peer}}' found", file=sys.stderr)
        sys.exit(255)
    if "--show-secrets" in args:
        sys.exit(3)
    print(open(outputs).read())
elif args[:2] == ["config", "rm"] and os.environ.get("FAKE_PULUMI_RM_FAILS"):
    print("error: configuration key not found", file=sys.stderr)
    sys.exit(255)
"""


def test_missing_peer_opens_no_gate() -> None:
    assert gate_values(None) == {"peerTenants": [], "peerHolds": []}
    assert gate_values({}) == {"peerTenants": [], "peerHolds": []}


def test_gates_from_peer_outputs() -> None:
    gates = gate_values(PEER_OUTPUTS)
    assert gates["peerTenants"] == ["acme-mutual", "harbor-mutual"]  # home only, sorted
    assert gates["peerHolds"] == ["oak-re", "pine-life"]


def test_user_pools_only_of_tenants_homed_in_the_peer_with_a_pool() -> None:
    assert user_pools(PEER_OUTPUTS) == {"harbor-mutual": "us-east-1_Harbor1"}
    assert user_pools(None) == {} and user_pools({"region": "us-east-1"}) == {}


def test_peer_deployed_before_tenants_or_copies() -> None:
    assert gate_values({"region": "us-east-1"}) == {"peerTenants": [], "peerHolds": []}
    assert gate_values({"tenants": {"a": {"home": "true"}}, "disasterRecovery": {"copiesHeldHere": {}}}) == {
        "peerTenants": [],  # only a real boolean counts
        "peerHolds": [],
    }


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI.format(python=sys.executable))
    script.chmod(0o755)
    root = tmp_path / "repo"
    root.mkdir()
    for stack in ("prod-us-west-2", "dev"):
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", root / f"Pulumi.{stack}.yaml")
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_PULUMI_LOG": str(tmp_path / "calls.jsonl"),
        "ROOT": str(root),
    }


def gates_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner.gates", "--root", env["ROOT"], *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["FAKE_PULUMI_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_cli_reads_the_peer_named_in_the_stack_file_without_secrets(
    fake_pulumi: dict[str, str], tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(PEER_OUTPUTS))
    env = {**fake_pulumi, "FAKE_PULUMI_OUTPUTS": str(outputs)}
    result = gates_cli(env, "--stack", "prod-us-west-2")
    assert result.returncode == 0, result.stderr
    assert '"acme-mutual", "harbor-mutual"' in result.stdout and '"oak-re", "pine-life"' in result.stdout
    assert calls(env) == [["stack", "output", "--stack", "prod-us-east-1", "--json"]]  # no config written


def test_cli_apply_writes_list_items_by_path(fake_pulumi: dict[str, str], tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(PEER_OUTPUTS))
    env = {**fake_pulumi, "FAKE_PULUMI_OUTPUTS": str(outputs)}
    result = gates_cli(env, "--stack", "prod-us-west-2", "--apply")
    assert result.returncode == 0, result.stderr
    key = "insurance-platform:dr"
    assert calls(env)[1:] == [
        ["config", "set", "--stack", "prod-us-west-2", "--path", f"{key}.peerDeployed", "true"],
        ["config", "rm", "--stack", "prod-us-west-2", "--path", f"{key}.peerTenants"],
        ["config", "set", "--stack", "prod-us-west-2", "--path", f"{key}.peerTenants[0]", "acme-mutual"],
        ["config", "set", "--stack", "prod-us-west-2", "--path", f"{key}.peerTenants[1]", "harbor-mutual"],
        ["config", "rm", "--stack", "prod-us-west-2", "--path", f"{key}.peerHolds"],
        ["config", "set", "--stack", "prod-us-west-2", "--path", f"{key}.peerHolds[0]", "oak-re"],
        ["config", "set", "--stack", "prod-us-west-2", "--path", f"{key}.peerHolds[1]", "pine-life"],
        ["config", "rm", "--stack", "prod-us-west-2", "--path", f"{key}.peerUserPools"],
        [
            "config",
            "set",
            "--stack",
            "prod-us-west-2",
            "--path",
            f"{key}.peerUserPools.harbor-mutual",
            "us-east-1_Harbor1",
        ],
    ]
    touched = {c[c.index("--path") + 1].split("[")[0] for c in calls(env) if c[0] == "config"}
    gates = {f"{key}.{g}" for g in ("peerDeployed", "peerTenants", "peerHolds", "peerUserPools")}
    assert touched - {f"{key}.peerUserPools.harbor-mutual"} == gates  # others intact


def test_cli_missing_peer_clears_the_gates(fake_pulumi: dict[str, str]) -> None:
    env = {**fake_pulumi, "FAKE_PULUMI_RM_FAILS": "1"}  # nothing to remove on a fresh workspace: fine
    result = gates_cli(env, "--stack", "prod-us-west-2", "--apply")
    assert result.returncode == 0, result.stderr
    assert "not deployed yet" in result.stdout
    assert [c[:2] for c in calls(env)] == [
        ["stack", "output"],
        ["config", "set"],
        ["config", "rm"],
        ["config", "rm"],
        ["config", "rm"],  # no pool known: the region refuses routed traffic of the peer's tenants
    ]
    assert calls(env)[1][-1] == "false"  # peerDeployed


def test_cli_other_errors_fail(fake_pulumi: dict[str, str], tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text("not json")
    env = {**fake_pulumi, "FAKE_PULUMI_OUTPUTS": str(outputs)}
    result = gates_cli(env, "--stack", "prod-us-west-2", "--apply")
    assert result.returncode == 1
    assert [c[:2] for c in calls(env)] == [["stack", "output"]]  # nothing written from a bad read


def test_cli_stack_without_peer(fake_pulumi: dict[str, str]) -> None:
    result = gates_cli(fake_pulumi, "--stack", "dev", "--apply")
    assert result.returncode == 0 and "no DR peer" in result.stdout
    assert calls(fake_pulumi) == []


def test_tenant_stack_reads_the_same_tenant_stack_of_the_peer(fake_pulumi: dict[str, str], tmp_path: Path) -> None:
    from catalog.stacks import TENANT_KEY

    root = Path(fake_pulumi["ROOT"])
    (root / "Pulumi.prod-us-west-2.harbor-mutual.yaml").write_text(f"config:\n  insurance-platform:{TENANT_KEY}: x\n")
    tenant_outputs = {  # the peer tenant stack's outputs: the same shape, that one tenant only
        "tenants": {"harbor-mutual": PEER_OUTPUTS["tenants"]["harbor-mutual"]},
        "disasterRecovery": {"peerRegion": "us-west-2", "copiesHeldHere": {}},
    }
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(tenant_outputs))
    env = {**fake_pulumi, "FAKE_PULUMI_OUTPUTS": str(outputs)}
    result = gates_cli(env, "--stack", "prod-us-west-2.harbor-mutual", "--apply")
    assert result.returncode == 0, result.stderr
    assert calls(env)[0] == ["stack", "output", "--stack", "prod-us-east-1.harbor-mutual", "--json"]
    written = [c for c in calls(env) if c[:2] == ["config", "set"]]
    assert {c[c.index("--stack") + 1] for c in written} == {"prod-us-west-2.harbor-mutual"}
    values = {c[-2]: c[-1] for c in written}
    assert values == {
        "insurance-platform:dr.peerDeployed": "true",
        "insurance-platform:dr.peerTenants[0]": "harbor-mutual",
        "insurance-platform:dr.peerUserPools.harbor-mutual": "us-east-1_Harbor1",
    }


def test_platform_stack_still_reads_the_peer_platform_stack(fake_pulumi: dict[str, str]) -> None:
    result = gates_cli(fake_pulumi, "--stack", "prod-us-west-2")
    assert result.returncode == 0, result.stderr
    assert calls(fake_pulumi) == [["stack", "output", "--stack", "prod-us-east-1", "--json"]]
    assert "not deployed yet" in result.stdout and "dr.peerDeployed: false" in result.stdout


def test_tenant_stack_without_its_derived_file_is_one_line(fake_pulumi: dict[str, str]) -> None:
    result = gates_cli(fake_pulumi, "--stack", "prod-us-west-2.harbor-mutual", "--apply")
    assert result.returncode == 2 and calls(fake_pulumi) == []
    assert result.stderr.strip() == (
        "error: no Pulumi.prod-us-west-2.harbor-mutual.yaml (python -m planner.fleet materialize --stack ...)"
    )


def test_dev_tenant_stack_has_no_peer(fake_pulumi: dict[str, str]) -> None:
    (Path(fake_pulumi["ROOT"]) / "Pulumi.dev.demo-basic.yaml").write_text("config: {}\n")
    result = gates_cli(fake_pulumi, "--stack", "dev.demo-basic", "--apply")
    assert result.returncode == 0 and "no DR peer" in result.stdout and calls(fake_pulumi) == []
