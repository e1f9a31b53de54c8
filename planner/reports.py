"""Policy reports beside each plan: Markdown for people (by tenant and by rule, with frameworks and
remediation), SARIF 2.1.0 for code scanning, JSON for machines; and the compliance matrix."""

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from policies.tenant_guard.pack import PACK_NAME, RULES, RULES_BY_NAME
from policies.tenant_guard.rule import Rule

ROOT = Path(__file__).resolve().parent.parent
PACK_VERSION = re.search(r"^version:\s*(\S+)", (ROOT / "policies" / "PulumiPolicy.yaml").read_text(), re.M)
VERSION = PACK_VERSION.group(1) if PACK_VERSION else "0.0.0"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def short(urn: str | None) -> str:
    return urn.rsplit("::", 1)[-1] if urn else "(stack)"


def source_file(plan: Mapping[str, Any], urn: str | None) -> str:
    """Where a reviewer fixes a finding: the component's module, else the program."""
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


def report_json(plan: Mapping[str, Any]) -> dict[str, Any]:
    violations = plan["policy"]["violations"]
    failed = {v["policy"] for v in violations}
    return {
        "pack": PACK_NAME,
        "version": VERSION,
        "project": plan["project"],
        "stack": plan["stack"],
        "region": plan["region"],
        "summary": {
            "resources": len(plan["resources"]),
            "rules": len(RULES),
            "mandatory": sum(1 for v in violations if level(v["enforcementLevel"]) == "error"),
            "advisory": sum(1 for v in violations if v["enforcementLevel"] == "advisory"),
            "verdict": "blocked" if any(level(v["enforcementLevel"]) == "error" for v in violations) else "pass",
        },
        "rules": [
            {
                "id": r.id,
                "policy": r.name,
                "title": r.title,
                "severity": r.severity.value,
                "enforcementLevel": r.enforcement.value,
                "frameworks": [str(f) for f in r.frameworks],
                "status": "fail" if r.name in failed else "pass",
            }
            for r in RULES
        ],
        "violations": violations,
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
        "| id | rule | severity | enforcement | frameworks | status |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["rules"]:
        lines.append(
            f"| {r['id']} | {r['title']} | {r['severity']} | {r['enforcementLevel']} | {'; '.join(r['frameworks'])} | {r['status']} |"
        )
    return "\n".join(lines) + "\n"


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
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
    results = []
    for v in plan["policy"]["violations"]:
        fingerprint = hashlib.sha256(f"{v['ruleId']}|{v['urn']}|{v['message']}".encode()).hexdigest()[:32]
        location: dict[str, Any] = {
            "physicalLocation": {"artifactLocation": {"uri": source_file(plan, v["urn"])}, "region": {"startLine": 1}},
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
                "properties": {"tenant": v.get("tenant"), "stack": plan["stack"], "frameworks": v["frameworks"]},
            }
        )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": PACK_NAME, "version": VERSION, "rules": [_sarif_rule(r) for r in RULES]}},
                "automationDetails": {"id": f"{PACK_NAME}/{plan['stack']}/"},
                "results": results,
            }
        ],
    }


def write_reports(plan: Mapping[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "policy-report.json": json.dumps(report_json(plan), indent=2) + "\n",
        "policy-report.md": report_markdown(plan),
        "policy-report.sarif": json.dumps(report_sarif(plan), indent=2) + "\n",
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
        "section lists the rules that serve it and what they check. Rule details, severities and",
        "remediation: `policies/tenant_guard/`, and every plan's `policy-report.md`.",
        "",
    ]
    for framework in sorted(by_framework):
        lines += [f"## {framework}", "", "| section | rule | enforcement | what it checks |", "|---|---|---|---|"]
        sections = by_framework[framework]
        for reference in sorted(sections, key=_natural):
            for rule in sorted(sections[reference], key=lambda r: r.id):
                lines.append(
                    f"| {reference} | {rule.id} {rule.title} | {rule.enforcement.value} | {rule.description} |"
                )
        lines.append("")
    return "\n".join(lines)


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
