"""Policy reports beside each plan: Markdown for people (by tenant and by rule, with frameworks and
remediation), SARIF 2.1.0 for code scanning, JSON for machines; and the compliance matrix."""

import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
from collections import defaultdict
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from policies.tenant_guard.pack import PACK_NAME, RULES, RULES_BY_NAME
from policies.tenant_guard.readme import rule_table
from policies.tenant_guard.rule import Rule

ROOT = Path(__file__).resolve().parent.parent
PACK_VERSION = re.search(r"^version:\s*(\S+)", (ROOT / "policies" / "PulumiPolicy.yaml").read_text(), re.M)
VERSION = PACK_VERSION.group(1) if PACK_VERSION else "0.0.0"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
TOOLS = ("pulumi", "pulumi-aws", "pulumi-kubernetes", "pulumi-eks", "pulumi-policy")
RULES_PAGE = "docs/rules.md"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def repository_url() -> str:
    """Where the rules' help pages live: the GitHub repository in Actions, else its origin remote,
    else this checkout (a file URI)."""
    server, repository = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and repository:
        return f"{server}/{repository}"
    origin = _git("remote", "get-url", "origin") or ""
    found = re.match(r"(?:git@|https://)([^/:]+)[/:](.+?)(?:\.git)?$", origin)
    return f"https://{found.group(1)}/{found.group(2)}" if found else ROOT.as_uri()


def rule_help_uri(rule_id: str, revision: str | None = None) -> str:
    base = repository_url()
    if base.startswith("file:"):
        return f"{base}/{RULES_PAGE}#{rule_id.lower()}"
    return f"{base}/blob/{revision or 'main'}/{RULES_PAGE}#{rule_id.lower()}"


def provenance(config_path: Path | None, now: datetime.datetime | None = None) -> dict[str, Any]:
    """What a report was made from: the commit (and whether the tree differed from it), the time,
    the policy configuration file and its hash, the pack and tool versions."""
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    config: dict[str, Any] = {"path": None, "sha256": None}
    if config_path is not None:
        shown = config_path.resolve()
        config = {
            "path": shown.relative_to(ROOT).as_posix() if shown.is_relative_to(ROOT) else str(config_path),
            "sha256": hashlib.sha256(config_path.read_bytes()).hexdigest(),
        }
    tools = {"python": platform.python_version(), PACK_NAME: VERSION}
    for name in TOOLS:
        try:
            tools[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            tools[name] = None
    return {
        "commit": commit,
        "treeModified": bool(dirty) if dirty is not None else None,
        "repository": repository_url(),
        "generatedAt": (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policyConfiguration": config,
        "tools": tools,
    }


def short(urn: str | None) -> str:
    return urn.rsplit("::", 1)[-1] if urn else "(stack)"


def catalog_file(plan: Mapping[str, Any], tenant: str | None) -> str | None:
    """The tenant's catalog file (`tenants/<environment>/<tenant>.yaml`), if this checkout has it."""
    if not tenant:
        return None
    environment = str((plan.get("outputs") or {}).get("environment") or plan["stack"].split("-")[0].split(".")[0])
    path = ROOT / "tenants" / environment / f"{tenant}.yaml"
    return path.relative_to(ROOT).as_posix() if path.is_file() else None


def finding_file(plan: Mapping[str, Any], finding: Mapping[str, Any]) -> str:
    """Where a reviewer looks first: the tenant's catalog file for a tenant's finding (what the pull
    request changed), the stack file for a finding on the stack as a whole, else the component."""
    found = catalog_file(plan, finding.get("tenant"))
    if found:
        return found
    if not finding.get("urn"):
        platform_stack = plan["stack"].split(".")[0]
        if (ROOT / f"Pulumi.{platform_stack}.yaml").is_file():
            return f"Pulumi.{platform_stack}.yaml"
    return source_file(plan, finding.get("urn"))


def source_file(plan: Mapping[str, Any], urn: str | None) -> str:
    """The component that built the resource: its module, else the program."""
    by_urn = {r["urn"]: r for r in plan["resources"]}
    current = by_urn.get(urn or "")
    while current is not None:  # the innermost component whose module exists
        if current["type"].startswith("platform:index:"):
            component = current["type"].rsplit(":", 1)[-1]
            module = re.sub(r"(?<!^)(?=[A-Z])", "_", component).lower()
            found = sorted((ROOT / "components").glob(f"*/{module}.py"))
            if found:
                return found[0].relative_to(ROOT).as_posix()
        current = by_urn.get(current["parent"] or "")
    return "__main__.py"


def level(enforcement: str) -> str:
    return "error" if enforcement in ("mandatory", "remediate") else "warning"


def rule_status(
    rule: Rule, violations: Sequence[Mapping[str, Any]], coverage: Mapping[str, Any]
) -> tuple[str, int | None]:
    """(pass | fail | not applicable | disabled, resources it examined). A rule with findings
    fails; one that examined nothing in this plan is not applicable, which is not a pass."""
    seen = coverage.get(rule.id) or {}
    checked = seen.get("checked")
    if any(v["policy"] == rule.name for v in violations):
        return "fail", checked
    if seen.get("enforcementLevel") == "disabled":
        return "disabled", checked
    if checked == 0:
        return "not applicable", 0
    return "pass", checked


def report_json(plan: Mapping[str, Any]) -> dict[str, Any]:
    violations = plan["policy"]["violations"]
    coverage = plan["policy"].get("coverage") or {}
    statuses = {r.id: rule_status(r, violations, coverage) for r in RULES}
    return {
        "pack": PACK_NAME,
        "version": VERSION,
        "project": plan["project"],
        "stack": plan["stack"],
        "region": plan["region"],
        "provenance": plan["policy"].get("provenance"),
        "summary": {
            "resources": len(plan["resources"]),
            "rules": len(RULES),
            "mandatory": sum(1 for v in violations if level(v["enforcementLevel"]) == "error"),
            "advisory": sum(1 for v in violations if v["enforcementLevel"] == "advisory"),
            "verdict": "blocked" if any(level(v["enforcementLevel"]) == "error" for v in violations) else "pass",
            "rulesPassed": sum(1 for status, _ in statuses.values() if status == "pass"),
            "rulesFailed": sum(1 for status, _ in statuses.values() if status == "fail"),
            "rulesNotApplicable": sum(1 for status, _ in statuses.values() if status == "not applicable"),
            "rulesDisabled": sum(1 for status, _ in statuses.values() if status == "disabled"),
        },
        "rules": [
            {
                "id": r.id,
                "policy": r.name,
                "title": r.title,
                "severity": r.severity.value,
                "enforcementLevel": r.enforcement.value,
                "frameworks": [str(f) for f in r.frameworks],
                "status": statuses[r.id][0],
                "checked": statuses[r.id][1],
                "help": rule_help_uri(r.id),
            }
            for r in RULES
        ],
        "violations": [
            {**v, "status": "fail", "checked": statuses[v["ruleId"]][1], "file": finding_file(plan, v)}
            for v in violations
        ],
    }


def report_markdown(plan: Mapping[str, Any]) -> str:
    data = report_json(plan)
    violations = data["violations"]
    s = data["summary"]
    lines = [
        f"# Policy report — {data['project']}/{data['stack']} ({data['region']})",
        "",
        f"Pack **{PACK_NAME} {VERSION}**, {s['rules']} rules over {s['resources']} resources. "
        f"Verdict: **{s['verdict'].upper()}** — {s['mandatory']} mandatory violation(s), {s['advisory']} advisory finding(s).",
        "",
        f"Rules: {s['rulesPassed']} pass, {s['rulesFailed']} fail, {s['rulesNotApplicable']} not applicable "
        f"(nothing of theirs in this plan), {s['rulesDisabled']} disabled by the policy configuration.",
        "",
        *provenance_lines(data.get("provenance")),
    ]
    if violations:
        by_tenant: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for v in violations:
            by_tenant[v.get("tenant") or "(platform)"].append(v)
        lines += ["## Findings by tenant", ""]
        for tenant in sorted(by_tenant, key=lambda t: (t == "(platform)", t)):
            lines += [f"### {tenant}", "", "| level | rule | resource | finding |", "|---|---|---|---|"]
            for v in by_tenant[tenant]:
                lines.append(f"| {v['enforcementLevel']} | {v['ruleId']} | `{short(v['urn'])}` | {v['message']} |")
            lines.append("")
        lines += ["## Findings by rule", ""]
        for name in sorted({v["policy"] for v in violations}, key=lambda n: RULES_BY_NAME[n].id):
            rule = RULES_BY_NAME[name]
            hits = [v for v in violations if v["policy"] == name]
            lines += [
                f"### {rule.id} {rule.title} ({len(hits)})",
                "",
                rule.description,
                "",
                f"- Frameworks: {'; '.join(str(f) for f in rule.frameworks)}",
                f"- Severity {rule.severity.value}, enforcement {rule.enforcement.value}",
                f"- Remediation: {rule.remediation}",
                "",
            ]
            lines += [
                f"  - `{short(v['urn'])}`{' (' + v['tenant'] + ')' if v.get('tenant') else ''}: {v['message']}"
                for v in hits
            ]
            lines.append("")
    else:
        lines += ["No findings: every rule passed on every resource.", ""]
    lines += [
        "## Rules evaluated",
        "",
        "| id | rule | severity | enforcement | frameworks | status | resources checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in data["rules"]:
        checked = "" if r["checked"] is None else str(r["checked"])
        lines.append(
            f"| {r['id']} | {r['title']} | {r['severity']} | {r['enforcementLevel']} | {'; '.join(r['frameworks'])} "
            f"| {r['status']} | {checked} |"
        )
    return "\n".join(lines) + "\n"


def provenance_lines(found: Mapping[str, Any] | None) -> list[str]:
    if not found:
        return ["Provenance: not recorded (a plan made before reports recorded it).", ""]
    config = found["policyConfiguration"]
    tools = ", ".join(f"{k} {v}" for k, v in found["tools"].items() if v)
    commit = found["commit"] or "(not a git checkout)"
    modified = " with uncommitted changes" if found.get("treeModified") else ""
    return [
        "| made from | |",
        "|---|---|",
        f"| commit | `{commit}`{modified} |",
        f"| time (UTC) | {found['generatedAt']} |",
        f"| policy configuration | `{config['path']}` sha256 `{config['sha256']}` |"
        if config["path"]
        else "| policy configuration | none (every rule at its default level) |",
        f"| tools | {tools} |",
        "",
    ]


def _sarif_rule(rule: Rule, revision: str | None) -> dict[str, Any]:
    return {
        "id": rule.id,
        "helpUri": rule_help_uri(rule.id, revision),
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": rule.remediation, "markdown": f"**Remediation:** {rule.remediation}"},
        "defaultConfiguration": {"level": level(rule.enforcement.value)},
        "properties": {
            "tags": ["security", "compliance", *(str(f) for f in rule.frameworks)],
            "security-severity": SECURITY_SEVERITY[rule.severity.value],
            "precision": "high",
            "policy": rule.name,
        },
    }


def report_sarif(plan: Mapping[str, Any]) -> dict[str, Any]:
    index = {rule.id: i for i, rule in enumerate(RULES)}
    made = plan["policy"].get("provenance") or {}
    revision = made.get("commit")
    results = []
    for v in plan["policy"]["violations"]:
        fingerprint = hashlib.sha256(f"{v['ruleId']}|{v['urn']}|{v['message']}".encode()).hexdigest()[:32]
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": finding_file(plan, v), "uriBaseId": "SRCROOT"},
                "region": {"startLine": 1},
            },
        }
        if v["urn"]:
            location["logicalLocations"] = [
                {"fullyQualifiedName": v["urn"], "name": short(v["urn"]), "kind": "resource"}
            ]
        results.append(
            {
                "ruleId": v["ruleId"],
                "ruleIndex": index[v["ruleId"]],
                "level": level(v["enforcementLevel"]),
                "message": {"text": v["message"]},
                "locations": [location],
                "partialFingerprints": {"tenantGuard/v1": fingerprint},
                "properties": {
                    "tenant": v.get("tenant"),
                    "stack": plan["stack"],
                    "frameworks": v["frameworks"],
                    "component": source_file(plan, v["urn"]),
                },
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": PACK_NAME,
                "version": VERSION,
                "informationUri": made.get("repository") or repository_url(),
                "rules": [_sarif_rule(r, revision) for r in RULES],
            }
        },
        "automationDetails": {"id": f"{PACK_NAME}/{plan['stack']}/"},
        "originalUriBaseIds": {"SRCROOT": {"description": {"text": "the repository's root"}}},
        "invocations": [
            {
                "executionSuccessful": True,
                **({"endTimeUtc": made["generatedAt"]} if made.get("generatedAt") else {}),
                "properties": {
                    "policyConfiguration": made.get("policyConfiguration"),
                    "tools": made.get("tools"),
                    "treeModified": made.get("treeModified"),
                },
            }
        ],
        "results": results,
    }
    if revision:
        run["versionControlProvenance"] = [
            {"repositoryUri": made.get("repository") or repository_url(), "revisionId": revision}
        ]
    return {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}


def write_reports(plan: Mapping[str, Any], folder: Path) -> list[Path]:
    from planner.html_report import report_html  # it builds on this module

    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "policy-report.json": json.dumps(report_json(plan), indent=2) + "\n",
        "policy-report.md": report_markdown(plan),
        "policy-report.sarif": json.dumps(report_sarif(plan), indent=2) + "\n",
        "policy-report.html": report_html(plan),
    }
    for name, text in written.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [folder / name for name in written]


def compliance_matrix(rules: Sequence[Rule] = RULES) -> str:
    by_framework: dict[str, dict[str, list[Rule]]] = defaultdict(lambda: defaultdict(list))
    for rule in rules:
        for f in rule.frameworks:
            by_framework[f.name][f.reference].append(rule)
    lines = [
        "# Compliance matrix",
        "",
        "Generated from the tenant-guard rules (`make docs`); do not edit by hand. Each framework",
        "section lists the rules that serve it; what each rule checks, why, and how to fix a finding",
        "is written once, in [rules.md](rules.md).",
        "",
    ]
    for framework in sorted(by_framework):
        lines += [f"## {framework}", "", "| section | rules |", "|---|---|"]
        sections = by_framework[framework]
        for reference in sorted(sections, key=_natural):
            named = ", ".join(
                f"[{r.id}](rules.md#{r.id.lower()}) {r.title}" for r in sorted(sections[reference], key=lambda r: r.id)
            )
            lines.append(f"| {reference} | {named} |")
        lines.append("")
    return "\n".join(lines)


def rules_page(rules: Sequence[Rule] = RULES) -> str:
    """docs/rules.md: every rule once, the page SARIF help links and the matrix point to."""
    lines = [
        "# Policy rules",
        "",
        "Generated from `policies/tenant_guard/` (`make docs`); do not edit by hand. Every rule runs at",
        "`pulumi preview`/`up` (CrossGuard) and in the offline plan; reports say per rule pass, fail,",
        "not applicable (nothing of its kind in the plan) or disabled, with the resources it checked.",
        "",
        rule_table(rules),
        "",
    ]
    for rule in rules:
        kind = "stack rule (sees every resource of the stack)" if rule.is_stack_rule else "resource rule"
        lines += [
            f'<a id="{rule.id.lower()}"></a>',
            f"## {rule.id} {rule.title}",
            "",
            rule.description,
            "",
            f"- Policy name: `{rule.name}` ({kind})",
            f"- Severity {rule.severity.value}, enforcement {rule.enforcement.value}",
            f"- Frameworks: {'; '.join(str(f) for f in rule.frameworks)}",
            *([f"- Resource types: {', '.join(f'`{t}`' for t in rule.resource_types)}"] if rule.resource_types else []),
            f"- Remediation: {rule.remediation}",
            "",
        ]
    return "\n".join(lines)


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
