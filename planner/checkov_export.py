"""The offline plan as an independent scanner reads it: Checkov over a Terraform-plan JSON of the
AWS resources and over Kubernetes manifests of the kubernetes resources, with our accepted
findings (`SCANNER_SKIPS` in components/*) applied to its report.

    python -m planner.checkov_export --stack dev [--plan build/dev/plan.json] [--checkov PATH]

Writes build/<stack>/checkov-plan.json, checkov-k8s.yaml, checkov-terraform_plan.json,
checkov-kubernetes.json and checkov.md. Exit 1 on a failed check that is not skipped, or on a
skip that matches no failure (stale). Checkov's Terraform-plan runner reads no skip comments
(plan_runner.run_block passes an empty skip list), so skips are applied to its JSON report here,
for both frameworks alike.

The Terraform-plan shape follows checkov/terraform/plan_parser.py (3.3.30): resources under
planned_values.root_module.resources with address/mode/type/name/values; nested blocks as lists
of objects; references between resources in configuration.root_module.resources[].expressions
(`{"bucket": {"references": ["aws_s3_bucket.x.id", "aws_s3_bucket.x"]}}`), which the graph turns
into edges when the attribute is absent from `values` (as an unknown-until-apply id is in a real
plan) — that is how split S3 resources (encryption, logging, versioning, ...) reach their bucket.
"""

import argparse
import importlib
import json
import pkgutil
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

import components
from components.shared import scanner
from components.shared.scanner import ScannerSkip
from planner.__main__ import stacks
from planner.mocks import PlanMocks
from planner.runner import ROOT, build_plan

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_VERSION = next(
    (line.split("==")[1].strip() for line in (ROOT / "requirements-checkov.txt").read_text().splitlines()
     if line.startswith("checkov==")),
    "?",
)  # fmt: skip

# Pulumi AWS type token -> Terraform type where the generic rule (aws_<module>_<snake Name>, and
# no module prefix for ec2) is wrong; names from the provider's resource mapping (pulumi-aws
# provider/resources.go renames, e.g. "aws_db_instance": {Tok: awsResource(rdsMod, "Instance")}).
TF_TYPES: dict[str, str] = {
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketV2:BucketV2": "aws_s3_bucket",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "aws_s3_bucket_replication_configuration",
    "aws:s3/bucketLoggingV2:BucketLoggingV2": "aws_s3_bucket_logging",
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:rds/optionGroup:OptionGroup": "aws_db_option_group",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": (
        "aws_db_instance_automated_backups_replication"
    ),
    "aws:cloudtrail/trail:Trail": "aws_cloudtrail",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
}

# Pulumi pluralizes repeated Terraform blocks (rule -> rules); these keep the plural in Terraform.
PLURAL_IN_TERRAFORM = frozenset({"block_device_mappings", "tag_specifications", "option_settings", "ingress", "egress"})
# Maps whose keys are data, not attribute names.
VERBATIM = frozenset({"tags", "tags_all", "cost_filters", "values", "parameters_map", "labels"})


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).replace("-", "_").lower()


def singular(name: str) -> str:
    if name in PLURAL_IN_TERRAFORM:
        return name
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "aliases")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def tf_type(token: str) -> str | None:
    """The Terraform type of a Pulumi AWS type token; None for anything not of the AWS provider."""
    if token in TF_TYPES:
        return TF_TYPES[token]
    provider, _, rest = token.partition(":")
    if provider != "aws" or "/" not in rest:
        return None
    module, _, name = rest.rpartition(":")
    module = module.split("/")[0]
    prefix = "aws_" if module == "ec2" else f"aws_{snake(module)}_"
    return prefix + snake(name)


def tf_values(value: Any, key: str = "") -> Any:
    """Pulumi inputs as Terraform attributes: snake_case names, repeated blocks singular, a
    one-block object as a list of one (Terraform's nested-block shape)."""
    if isinstance(value, dict):
        if key in VERBATIM:
            return dict(value)
        return tf_attributes(value)
    if isinstance(value, list):
        return [tf_values(v) for v in value]
    return value


def tf_attributes(inputs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        name = snake(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            name = singular(name)
        if isinstance(value, dict) and name not in VERBATIM:
            out[name] = [tf_values(value, name)]
        else:
            out[name] = tf_values(value, name)
    return out


def k8s_id(manifest: dict[str, Any]) -> str:
    """Checkov's id of a manifest (checkov/kubernetes/kubernetes_utils.py get_resource_id)."""
    metadata = manifest.get("metadata") or {}
    return f"{manifest.get('kind')}.{metadata.get('namespace', 'default')}.{metadata.get('name')}"


@dataclass
class Export:
    terraform_plan: dict[str, Any]
    manifests: list[dict[str, Any]]
    # scanner resource id (Terraform address or Kind.namespace.name) -> (Pulumi type, logical name, inputs)
    origin: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    not_scanned: dict[str, int] = field(default_factory=dict)  # type token -> count, and why in NOT_SCANNED


NOT_SCANNED = {
    "kubernetes:helm.sh/v3:Release": "Helm releases: the chart renders in-cluster; values are not manifests",
}


def eks_cluster(inputs: dict[str, Any]) -> dict[str, Any]:
    """The aws:eks/cluster:Cluster that pulumi-eks builds from its component's arguments (the
    component's children are made in its own provider, so the plan has only the arguments); as
    nodejs/eks/cluster/cluster.ts (createCore) passes them."""
    vpc = {
        "endpointPrivateAccess": inputs.get("endpointPrivateAccess"),
        "endpointPublicAccess": inputs.get("endpointPublicAccess"),
        "publicAccessCidrs": inputs.get("publicAccessCidrs"),
    }
    cluster: dict[str, Any] = {
        "name": inputs.get("name"),
        "version": inputs.get("version"),
        "enabledClusterLogTypes": inputs.get("enabledClusterLogTypes"),
        "vpcConfig": {k: v for k, v in vpc.items() if v is not None},
        "deletionProtection": inputs.get("deletionProtection"),
        "tags": inputs.get("tags"),
    }
    if inputs.get("authenticationMode"):
        cluster["accessConfig"] = {"authenticationMode": inputs["authenticationMode"]}
    if inputs.get("encryptionConfigKeyArn"):
        cluster["encryptionConfig"] = {
            "provider": {"keyArn": inputs["encryptionConfigKeyArn"]},
            "resources": ["secrets"],
        }
    return {k: v for k, v in cluster.items() if v is not None}


def eks_node_group(inputs: dict[str, Any]) -> dict[str, Any]:
    """The aws:eks/nodeGroup:NodeGroup of a pulumi-eks ManagedNodeGroup: the same arguments, the
    cluster and role given as objects there (nodejs/eks/nodes/nodegroup.ts)."""
    return {k: v for k, v in inputs.items() if k not in ("cluster", "nodeRole", "ignoreScalingChanges")}


# pulumi-eks components: scanned as the AWS resource each builds.
COMPONENTS = {
    "eks:index:Cluster": ("aws:eks/cluster:Cluster", eks_cluster),
    "eks:index:ManagedNodeGroup": ("aws:eks/nodeGroup:NodeGroup", eks_node_group),
}


def _aws_view(r: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(AWS type token, inputs) a resource is scanned as; None if it is not an AWS resource."""
    if r["type"] in COMPONENTS:
        token, convert = COMPONENTS[r["type"]]
        return token, convert(r["inputs"])
    if r.get("custom") and tf_type(r["type"]):
        return r["type"], r["inputs"]
    return None


def _reference_index(plan: dict[str, Any], addresses: dict[str, str]) -> dict[str, str]:
    """Every id and ARN the mock engine gives a planned AWS resource -> its Terraform address, so a
    value naming another planned resource becomes a reference as in a real plan."""
    mocks = PlanMocks(plan.get("region") or "us-east-1")
    index: dict[str, str] = {}
    for r in plan["resources"]:
        address = addresses.get(r["urn"])
        if not address or r["type"] in COMPONENTS:
            continue
        rid, state = mocks.new_resource(
            pulumi.runtime.MockResourceArgs(r["type"], r["name"], r["inputs"], provider="", resource_id="")
        )
        for value in (rid, state.get("arn"), state.get("dnsName")):
            if isinstance(value, str) and len(value) > 6:
                index.setdefault(value, address)
        if isinstance(state.get("arn"), str):
            index.setdefault(f"{state['arn']}:*", address)  # "${aws_cloudwatch_log_group.x.arn}:*"
    return index


def _references(
    values: dict[str, Any], index: dict[str, str], address: str, unknown: dict[str, Any], depth: int = 0
) -> dict[str, Any]:
    """Turn every value naming another planned resource (its id, ARN or DNS name) into a reference
    in `configuration`, as a real plan has it while the value is unknown until apply; blocks one
    level down too (route53 `alias.name`). Edits `values`; returns the expressions."""
    expressions: dict[str, Any] = {}
    for key, value in list(values.items()):
        if depth == 0 and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested = [_references(v, index, address, {}, depth + 1) for v in value]
            if any(nested):
                expressions[key] = nested
            continue
        items = value if isinstance(value, list) else [value]
        targets = [index.get(v) if isinstance(v, str) else None for v in items]
        target = next((t for t in targets if t and t != address), None)
        if target is None:
            continue
        unknown[key] = True
        if isinstance(value, list):  # checkov adds the reference to the known items
            values[key] = [None if t else v for v, t in zip(items, targets, strict=True)]
        else:
            del values[key]
        attribute = "arn" if "arn" in key or key.endswith(("key_id", "_key")) else "id"
        attribute = "dns_name" if key == "name" and depth else attribute
        expressions[key] = {"references": [f"{target}.{attribute}", target]}
    return expressions


def _address_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"r_{cleaned}"


def export(plan: dict[str, Any]) -> Export:
    result = Export({}, [])
    addresses: dict[str, str] = {}
    taken: set[str] = set()
    views: dict[str, dict[str, Any]] = {}
    for r in plan["resources"]:
        view = _aws_view(r)
        if view is None:
            continue
        kind = str(tf_type(view[0]))
        views[r["urn"]] = view[1]
        base = f"{kind}.{_address_name(r['name'])}"
        address, n = base, 1
        while address in taken:
            n += 1
            address = f"{base}_{n}"
        taken.add(address)
        addresses[r["urn"]] = address
        result.origin[address] = (r["type"], r["name"], r["inputs"])
    index = _reference_index(plan, addresses)

    planned, changes, configuration = [], [], []
    for r in plan["resources"]:
        address = addresses.get(r["urn"])
        if address is None:
            continue
        kind, name = address.split(".", 1)
        values = tf_attributes(views[r["urn"]])
        unknown: dict[str, Any] = {}
        expressions = _references(values, index, address, unknown)
        planned.append({"address": address, "mode": "managed", "type": kind, "name": name, "values": values})
        changes.append(
            {
                "address": address,
                "mode": "managed",
                "type": kind,
                "name": name,
                "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": unknown},
            }
        )
        configuration.append(
            {"address": address, "mode": "managed", "type": kind, "name": name, "expressions": expressions}
        )

    result.terraform_plan = {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": configuration}},
    }

    for r in plan["resources"]:
        token = r["type"]
        if token in NOT_SCANNED:
            result.not_scanned[token] = result.not_scanned.get(token, 0) + 1
            continue
        if not token.startswith("kubernetes:") or not r.get("custom") or token.startswith("pulumi:"):
            continue
        manifest = {k: v for k, v in r["inputs"].items() if not k.startswith("__")}
        if "kind" not in manifest or "apiVersion" not in manifest:
            continue
        manifest.setdefault("metadata", {}).setdefault("name", r["name"])
        result.manifests.append(manifest)
        result.origin[k8s_id(manifest)] = (token, r["name"], r["inputs"])
    return result


def declared_skips() -> list[tuple[str, ScannerSkip]]:
    """(module, skip) for every SCANNER_SKIPS declared in components/*, and those kept in
    components/shared/scanner.py for other modules (ELSEWHERE)."""
    found = []
    for info in pkgutil.walk_packages(components.__path__, "components."):
        module = importlib.import_module(info.name)
        found += [(module.__name__, skip) for skip in getattr(module, "SCANNER_SKIPS", ())]
    found += [(module, skip) for module, skips in scanner.ELSEWHERE.items() for skip in skips]
    return found


@dataclass
class Verdict:
    failed: list[dict[str, Any]]  # not skipped: {check, resource, type, name, title}
    skipped: list[dict[str, Any]]  # accepted or pending a fix, with reason, module (and fix)
    used: set[tuple[str, ScannerSkip]]
    passed: int
    checks: set[str]


def apply_skips(
    results: Iterable[dict[str, Any]],
    origin: dict[str, tuple[str, str, dict[str, Any]]],
    skips: list[tuple[str, ScannerSkip]],
) -> Verdict:
    """Checkov's JSON report(s) with our skips applied."""
    verdict = Verdict([], [], set(), 0, set())
    for report in results:
        checks = report.get("results", {})
        verdict.passed += int(report.get("summary", {}).get("passed", 0))
        for record in checks.get("passed_checks", []) + checks.get("failed_checks", []):
            verdict.checks.add(record["check_id"])
        for record in checks.get("failed_checks", []):
            resource = record.get("resource_address") or record["resource"]
            type_, name, inputs = origin.get(resource, ("?", resource, {}))
            finding = {
                "check": record["check_id"],
                "title": record.get("check_name", ""),
                "resource": resource,
                "type": type_,
                "name": name,
            }
            hit = next((ms for ms in skips if ms[1].matches(record["check_id"], type_, name, inputs)), None)
            if hit is None:
                verdict.failed.append(finding)
            else:
                verdict.used.add(hit)
                module, skip = hit
                verdict.skipped.append({**finding, "reason": skip.reason, "module": module, "fix": skip.fix})
    return verdict


def run_checkov(checkov: Path, target: Path, framework: str, out: Path) -> dict[str, Any]:
    """One Checkov run, its JSON report written to `out`. Checkov exits 1 on findings; only a
    report it could not write is an error here."""
    command = [str(checkov), "-f", str(target), "--framework", framework, "-o", "json", "--skip-download"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov {framework} on {target} gave no report: {done.stderr[-2000:]}") from None
    if isinstance(report, list):  # one report per framework; we asked for one
        report = next((r for r in report if r.get("check_type") == framework), {"results": {}})
    if report.get("summary", {}).get("parsing_errors"):
        raise RuntimeError(f"checkov could not parse {target}")
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def render(stack: str, exported: Export, verdict: Verdict, seconds: float) -> str:
    accepted = [f for f in verdict.skipped if not f["fix"]]
    pending = [f for f in verdict.skipped if f["fix"]]
    lines = [
        f"# Checkov {CHECKOV_VERSION} on {stack}",
        "",
        f"{len(verdict.checks)} checks; {verdict.passed} passed, {len(verdict.failed)} failed, "
        f"{len(accepted)} accepted, {len(pending)} pending a fix elsewhere; "
        f"{len(exported.terraform_plan['planned_values']['root_module']['resources'])} AWS resources, "
        f"{len(exported.manifests)} Kubernetes manifests; {seconds:.0f} s",
        "",
    ]
    if verdict.failed:
        lines += ["## Failed", ""]
        lines += [f"- {f['check']} {f['type']} {f['name']}: {f['title']}" for f in verdict.failed]
        lines.append("")
    if pending:
        lines += ["## Pending a fix (real findings; components/shared/scanner.py ELSEWHERE)", ""]
        lines += [f"- {f['check']} {f['name']} ({f['module']}): {f['fix']}" for f in pending]
        lines.append("")
    if accepted:
        lines += ["## Accepted (SCANNER_SKIPS)", ""]
        lines += [f"- {f['check']} {f['type']} {f['name']}: {f['reason']} ({f['module']})" for f in accepted]
        lines.append("")
    if exported.not_scanned:
        lines += ["## Not scanned", ""]
        lines += [f"- {n} x {t}: {NOT_SCANNED[t]}" for t, n in sorted(exported.not_scanned.items())]
        lines.append("")
    return "\n".join(lines)


def scan(stack: str, plan_path: Path, out: Path, checkov: Path) -> tuple[Verdict, str]:
    """One stack's plan (planned now when `make plan` has not written it) through Checkov."""
    plan = json.loads(plan_path.read_text(encoding="utf-8")) if plan_path.exists() else build_plan(stack)
    exported = export(plan)
    out.mkdir(parents=True, exist_ok=True)
    tf_file = out / "checkov-plan.json"
    tf_file.write_text(json.dumps(exported.terraform_plan, indent=1) + "\n", encoding="utf-8")
    k8s_file = out / "checkov-k8s.yaml"
    k8s_file.write_text(yaml.safe_dump_all(exported.manifests, sort_keys=False), encoding="utf-8")
    started = time.monotonic()
    reports = [
        run_checkov(checkov, tf_file, "terraform_plan", out / "checkov-terraform_plan.json"),
        run_checkov(checkov, k8s_file, "kubernetes", out / "checkov-kubernetes.json"),
    ]
    verdict = apply_skips(reports, exported.origin, declared_skips())
    text = render(stack, exported, verdict, time.monotonic() - started)
    (out / "checkov.md").write_text(text, encoding="utf-8")
    return verdict, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planner.checkov_export")
    parser.add_argument("--stack", action="append", help="repeatable; default every stack (then stale skips fail)")
    parser.add_argument("--out", default="build")
    parser.add_argument("--checkov", default=str(CHECKOV))
    args = parser.parse_args(argv)
    checkov = Path(args.checkov)
    if not checkov.exists():
        print(f"error: no Checkov at {checkov} (`make checkov` installs it into .venv-checkov)", file=sys.stderr)
        return 2
    every = stacks()
    chosen = args.stack or every
    failed, used = 0, set[tuple[str, ScannerSkip]]()
    for stack in chosen:
        verdict, text = scan(stack, Path(args.out) / stack / "plan.json", Path(args.out) / stack, checkov)
        print(text)
        failed += len(verdict.failed)
        used |= verdict.used
    stale = [ms for ms in declared_skips() if ms not in used]
    if set(chosen) >= set(every) and stale:
        print("Stale skips (they match no failure in any stack: delete them):")
        print("\n".join(f"  - {m}: {s.check} {s.type} {s.name}" for m, s in stale))
    else:
        stale = []
    print(f"checkov: {failed} failed, {len(stale)} stale skips over {len(chosen)} stack(s)")
    return 1 if failed or stale else 0


if __name__ == "__main__":
    sys.exit(main())
