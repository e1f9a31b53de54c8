"""DR gates of a regional stack, computed at deploy time from its peer stack's outputs (never
committed): `insurance-platform:dr.peerDeployed` (the peer stack exists),
`insurance-platform:dr.peerTenants` (tenants whose primary the peer has created),
`insurance-platform:dr.peerHolds` (this stack's tenants whose DR copies the peer already holds) and
`insurance-platform:dr.peerUserPools` (tenant id -> Cognito user pool id of the tenants homed in the
peer: every region serving a tenant requires JWTs of its home pool, and refuses its routed traffic
until it knows that pool).

    python -m planner.gates --stack prod-us-west-2            # print the gates
    python -m planner.gates --stack prod-us-west-2 --apply    # and write them into the stack config
    python -m planner.gates --stack prod-us-west-2.harbor-mutual --apply

A platform stack reads its peer platform stack (`dr.peerStack` of its file). A tenant stack
`<platform>.<tenant>` reads the same tenant's stack in the peer region, `<peerStack>.<tenant>`: its
outputs have the same shape restricted to that one tenant, so the gates name that tenant only, and
`dr.peerDeployed` says whether that peer tenant stack exists. The tenant stack's file is the derived
`Pulumi.<platform>.<tenant>.yaml` (`python -m planner.fleet materialize`); the peer is read from the
platform file, the one committed source.

`--apply` edits the stack's config through the Pulumi CLI in the (ephemeral CI) workspace:
`pulumi config rm --path` the list, then `pulumi config set --path 'key[i]' value` per item
(`key.<tenant>` per pool id); the
other `dr` keys (peerRegion, peerStack, promote) are left as they are. An empty gate is an absent
key (the program reads a missing list as empty)."""

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from catalog import ConfigError
from catalog.stacks import StackName, tenant_stack
from planner.runner import ROOT

NAMESPACE = "insurance-platform"
DR_KEY = f"{NAMESPACE}:dr"
GATES = ("peerTenants", "peerHolds")
POOLS = "peerUserPools"


class GateError(Exception):
    """The peer's outputs could not be read (anything but a missing stack)."""


def gate_values(peer_outputs: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """List gates from the peer stack's outputs; None (peer stack missing) means nothing exists there yet."""
    if not peer_outputs:
        return {gate: [] for gate in GATES}
    tenants = peer_outputs.get("tenants") or {}
    held = (peer_outputs.get("disasterRecovery") or {}).get("copiesHeldHere") or {}
    return {
        "peerTenants": sorted(
            t for t, entry in tenants.items() if isinstance(entry, dict) and entry.get("home") is True
        ),
        "peerHolds": sorted(held),
    }


def user_pools(peer_outputs: Mapping[str, Any] | None) -> dict[str, str]:
    """tenant id -> user pool id of the tenants homed in the peer whose pool exists there."""
    tenants = (peer_outputs or {}).get("tenants") or {}
    return {
        t: entry["userPoolId"]
        for t, entry in sorted(tenants.items())
        if isinstance(entry, dict) and entry.get("home") is True and isinstance(entry.get("userPoolId"), str)
    }


def peer_stack(stack: str, root: Path = ROOT) -> str | None:
    """The stack whose outputs open this stack's gates (None: no DR peer): `dr.peerStack` of the
    platform file for a platform stack, `<peerStack>.<tenant>` for a tenant stack."""
    name = StackName.parse(stack)
    document = yaml.safe_load((root / f"Pulumi.{name.platform}.yaml").read_text(encoding="utf-8")) or {}
    dr = (document.get("config") or {}).get(DR_KEY) or {}
    peer = dr.get("peerStack") if isinstance(dr, dict) else None
    if not peer:
        return None
    return tenant_stack(str(peer), name.tenant) if name.tenant else str(peer)


def _pulumi(args: Sequence[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise GateError(f"pulumi {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def read_peer_outputs(peer: str, root: Path = ROOT) -> dict[str, Any] | None:
    """The peer's stack outputs (secrets stay masked: the gates need none); None if it does not exist."""
    result = _pulumi(["stack", "output", "--stack", peer, "--json"], root, check=False)
    if result.returncode != 0:
        if f"no stack named '{peer}' found" in result.stderr:
            return None
        raise GateError(f"pulumi stack output --stack {peer}: {result.stderr.strip()}")
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError as error:
        raise GateError(f"pulumi stack output --stack {peer}: not JSON ({error})") from None
    return outputs if isinstance(outputs, dict) else {}


def apply_gates(
    stack: str,
    gates: Mapping[str, Sequence[str]],
    root: Path = ROOT,
    deployed: bool = False,
    pools: Mapping[str, str] | None = None,
) -> None:
    # A YAML boolean through --path: the program's loader reads dr.peerDeployed as a boolean.
    _pulumi(["config", "set", "--stack", stack, "--path", f"{DR_KEY}.peerDeployed", str(deployed).lower()], root)
    for gate in GATES:
        path = f"{DR_KEY}.{gate}"
        _pulumi(["config", "rm", "--stack", stack, "--path", path], root, check=False)  # absent already: fine
        for index, value in enumerate(gates.get(gate, ())):
            _pulumi(["config", "set", "--stack", stack, "--path", f"{path}[{index}]", value], root)
    path = f"{DR_KEY}.{POOLS}"
    _pulumi(["config", "rm", "--stack", stack, "--path", path], root, check=False)
    for tenant, pool in sorted((pools or {}).items()):
        _pulumi(["config", "set", "--stack", stack, "--path", f"{path}.{tenant}", pool], root)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planner.gates", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--apply", action="store_true", help="write the gates into the stack's config")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        name = StackName.parse(args.stack)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for needed in dict.fromkeys((args.stack, name.platform)):
        if not (args.root / f"Pulumi.{needed}.yaml").is_file():
            hint = " (python -m planner.fleet materialize --stack ...)" if needed != name.platform else ""
            print(f"error: no Pulumi.{needed}.yaml{hint}", file=sys.stderr)
            return 2
    peer = peer_stack(args.stack, args.root)
    if peer is None:
        print(f"{args.stack}: no DR peer, no gates")
        return 0
    try:
        outputs = read_peer_outputs(peer, args.root)
        gates = gate_values(outputs)
        state = "not deployed yet" if outputs is None else "deployed"
        print(f"{args.stack}: peer {peer} {state}")
        print(f"  dr.peerDeployed: {json.dumps(outputs is not None)}")
        pools = user_pools(outputs)
        for gate in GATES:
            print(f"  dr.{gate}: {json.dumps(gates[gate])}")
        print(f"  dr.{POOLS}: {json.dumps(pools)}")
        if args.apply:
            apply_gates(args.stack, gates, args.root, deployed=outputs is not None, pools=pools)
            print(f"  written to the config of {args.stack}")
    except GateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
