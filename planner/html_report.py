"""The page a compliance reviewer opens from a pull request's artifacts: one self-contained HTML file
per stack (no network, no external script or style; a Content-Security-Policy forbids them), with
the verdict, what the report was made from, the findings by tenant and by rule with filters, the
rules with their status and frameworks, the DR table and the stack's picture.

Filters can be preset in the address (`policy-report.html#tenant=acme&rule=RES-1&level=mandatory`),
so a link in a review comment opens the page already narrowed."""

import html
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from catalog.tiers import TIERS
from planner.dr import mechanisms
from planner.reports import report_json, short

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem 1.5rem;color:#1b1f24}
h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}code{font-size:12px}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:4px;font-weight:700;color:#fff}
.pass{background:#1a7f37}.blocked{background:#cf222e}.st-fail{color:#cf222e;font-weight:600}
.st-pass{color:#1a7f37}.st-na{color:#6e7781}.filters{display:flex;gap:.75rem;flex-wrap:wrap;margin:.5rem 0}
.filters label{display:flex;flex-direction:column;font-size:12px}.hidden{display:none}
.stacks{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:.5rem}
.box{border:1px solid #d0d7de;border-radius:6px;padding:.5rem}.platform{background:#f6f8fa}
.arrow{margin:.5rem 0;color:#57606a}
"""

SCRIPT = """
(function(){
  var body=document.body;var errors=0,blocked=0;
  window.addEventListener('error',function(){errors++;body.dataset.errors=String(errors);});
  document.addEventListener('securitypolicyviolation',function(){blocked++;body.dataset.blocked=String(blocked);});
  var controls={tenant:document.getElementById('f-tenant'),rule:document.getElementById('f-rule'),
    level:document.getElementById('f-level'),text:document.getElementById('f-text')};
  function apply(){
    var shown=0;
    document.querySelectorAll('tr.finding').forEach(function(row){
      var ok=(!controls.tenant.value||row.dataset.tenant===controls.tenant.value)&&
        (!controls.rule.value||row.dataset.rule===controls.rule.value)&&
        (!controls.level.value||row.dataset.level===controls.level.value)&&
        (!controls.text.value||row.textContent.toLowerCase().indexOf(controls.text.value.toLowerCase())>=0);
      row.classList.toggle('hidden',!ok);if(ok){shown++;}
    });
    document.getElementById('shown').textContent=String(shown);body.dataset.shown=String(shown);
  }
  var preset=new URLSearchParams(location.hash.replace(/^#/,''));
  ['tenant','rule','level','text'].forEach(function(k){
    if(preset.get(k)!==null){controls[k].value=preset.get(k);}
    controls[k].addEventListener('input',apply);controls[k].addEventListener('change',apply);
  });
  apply();
  body.dataset.errors=String(errors);body.dataset.blocked=String(blocked);body.dataset.state='ready';
})();
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _options(values: list[str], everything: str) -> str:
    return f'<option value="">{_e(everything)}</option>' + "".join(
        f'<option value="{_e(v)}">{_e(v)}</option>' for v in values
    )


def _status_class(status: str) -> str:
    return {"fail": "st-fail", "pass": "st-pass"}.get(status, "st-na")


def _provenance(made: Mapping[str, Any] | None) -> str:
    if not made:
        return "<p>Provenance: not recorded (a plan made before reports recorded it).</p>"
    config = made["policyConfiguration"]
    rows = [
        ("commit", f"<code>{_e(made['commit'] or '(not a git checkout)')}</code>"
         + (" with uncommitted changes" if made.get("treeModified") else "")),
        ("time (UTC)", _e(made["generatedAt"])),
        ("policy configuration", f"<code>{_e(config['path'])}</code> sha256 <code>{_e(config['sha256'])}</code>"
         if config["path"] else "none (every rule at its default level)"),
        ("tools", _e(", ".join(f"{k} {v}" for k, v in made["tools"].items() if v))),
    ]  # fmt: skip
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _findings(violations: list[Mapping[str, Any]]) -> str:
    tenants = sorted({v.get("tenant") or "(platform)" for v in violations})
    rules = sorted({v["ruleId"] for v in violations})
    rows = "".join(
        f'<tr class="finding" data-tenant="{_e(v.get("tenant") or "(platform)")}" data-rule="{_e(v["ruleId"])}" '
        f'data-level="{_e(v["enforcementLevel"])}"><td>{_e(v.get("tenant") or "(platform)")}</td>'
        f'<td>{_e(v["enforcementLevel"])}</td><td><a href="#rule-{_e(v["ruleId"].lower())}">{_e(v["ruleId"])}</a></td>'
        f"<td><code>{_e(short(v['urn']))}</code></td><td>{_e(v['message'])}</td><td><code>{_e(v['file'])}</code></td>"
        f"<td>{_e(v['remediation'])}</td></tr>"
        for v in sorted(violations, key=lambda v: (v.get("tenant") or "~", v["ruleId"], v["urn"] or ""))
    )
    return (
        '<div class="filters">'
        f'<label>Tenant<select id="f-tenant">{_options(tenants, "every tenant")}</select></label>'
        f'<label>Rule<select id="f-rule">{_options(rules, "every rule")}</select></label>'
        f'<label>Level<select id="f-level">{_options(["mandatory", "advisory"], "every level")}</select></label>'
        '<label>Text<input id="f-text" type="search" placeholder="resource, message…"></label>'
        f'</div><p><span id="shown">{len(violations)}</span> of {len(violations)} finding(s) shown.</p>'
        "<table><thead><tr><th>tenant</th><th>level</th><th>rule</th><th>resource</th><th>finding</th>"
        f"<th>file</th><th>what to do</th></tr></thead><tbody>{rows}</tbody></table>"
        + ("" if violations else "<p>No findings: every applicable rule passed on every resource.</p>")
    )


def _by_rule(report: Mapping[str, Any]) -> str:
    hits: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for v in report["violations"]:
        hits[v["ruleId"]].append(v)
    parts = []
    for r in report["rules"]:
        if r["id"] not in hits:
            continue
        items = "".join(
            f"<li><code>{_e(short(v['urn']))}</code> ({_e(v.get('tenant') or 'platform')}): {_e(v['message'])}</li>"
            for v in hits[r["id"]]
        )
        parts.append(
            f'<h3 id="rule-{_e(r["id"].lower())}">{_e(r["id"])} {_e(r["title"])} ({len(hits[r["id"]])})</h3>'
            f"<p>Frameworks: {_e('; '.join(r['frameworks']))}. Severity {_e(r['severity'])}, "
            f'enforcement {_e(r["enforcementLevel"])}. <a href="{_e(r["help"])}">Rule page</a></p><ul>{items}</ul>'
        )
    return "".join(parts) or "<p>No rule failed.</p>"


def _rules(report: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr data-status="{_e(r["status"])}"><td>{_e(r["id"])}</td><td>{_e(r["title"])}</td>'
        f"<td>{_e(r['severity'])}</td><td>{_e(r['enforcementLevel'])}</td>"
        f'<td class="{_status_class(r["status"])}">{_e(r["status"])}</td>'
        f"<td>{'' if r['checked'] is None else r['checked']}</td><td>{_e('; '.join(r['frameworks']))}</td></tr>"
        for r in report["rules"]
    )
    return (
        "<table><thead><tr><th>id</th><th>rule</th><th>severity</th><th>enforcement</th><th>status</th>"
        f"<th>resources checked</th><th>frameworks</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _frameworks(report: Mapping[str, Any]) -> str:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for r in report["rules"]:
        for f in r["frameworks"]:
            by[f.split(" ", 1)[0] if not f.startswith("NYDFS") else "NYDFS"][r["status"]] += 1
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{c['pass']}</td><td>{c['fail']}</td><td>{c['not applicable']}</td>"
        f"<td>{c['disabled']}</td></tr>"
        for name, c in sorted(by.items())
    )
    return (
        "<table><thead><tr><th>framework</th><th>rules passing</th><th>failing</th><th>not applicable</th>"
        f"<th>disabled</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _dr(plan: Mapping[str, Any]) -> str:
    rows = []
    for tenant, entry in sorted(mechanisms([plan]).items()):
        tier = TIERS.get(entry.get("tier") or "")
        target = f"{tier.rpo_minutes} min / {tier.rto_minutes} min" if tier else "?"
        where = "; ".join(f"{m} ({r})" for m, r in entry["mechanisms"])
        rows.append(
            f"<tr><td>{_e(tenant)}</td><td>{_e(entry.get('tier'))}</td><td>{_e(target)}</td>"
            f"<td>{_e(entry.get('home', '—'))}</td><td>{_e(where)}</td><td>{_e('; '.join(entry['traffic']))}</td></tr>"
        )
    return (
        "<p>What this stack's plan holds for each tenant; the environment-wide view across regions is "
        "<code>make dr-report</code>.</p><table><thead><tr><th>tenant</th><th>tier</th><th>RPO / RTO</th>"
        f"<th>home</th><th>mechanisms (where)</th><th>traffic</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _picture(plan: Mapping[str, Any]) -> str:
    resources = plan["resources"]
    stacks = plan.get("stacks") or [{"name": plan["stack"], "kind": "platform", "tenant": None}]
    platform_name = next((s["name"] for s in stacks if s["kind"] == "platform"), plan["stack"])
    count = Counter(r.get("stack", platform_name) for r in resources)
    components = Counter(
        r["type"].rsplit(":", 1)[-1]
        for r in resources
        if r.get("stack", platform_name) == platform_name and r["type"].startswith("platform:index:")
        and not (r["parent"] or "").count("platform:index:")
    )  # fmt: skip
    tenants = "".join(
        f'<div class="box"><strong>{_e(s["name"])}</strong><br>tenant {_e(s["tenant"])}<br>'
        f"{count[s['name']]} resources</div>"
        for s in stacks
        if s["kind"] == "tenant"
    )
    contract = sorted(((plan.get("outputs") or {}).get("contract") or {}).keys())
    return (
        f'<div class="box platform"><strong>Platform stack {_e(platform_name)}</strong> · '
        f"{count[platform_name]} resources<br>{_e(', '.join(f'{n}' for n in sorted(components)))}</div>"
        f'<div class="arrow">↓ exports the contract ({_e(", ".join(contract) or "none")}) and a kubeconfig; '
        "every tenant stack reads it through a StackReference</div>"
        f'<div class="stacks">{tenants or "<p>No tenant stacks in this plan.</p>"}</div>'
    )


def report_html(plan: Mapping[str, Any]) -> str:
    report = report_json(plan)
    s = report["summary"]
    data = json.dumps({"stack": report["stack"], "verdict": s["verdict"], "findings": len(report["violations"])})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Policy report — {_e(report["project"])}/{_e(report["stack"])}</title><style>{STYLE}</style></head>
<body data-state="loading" data-report="{_e(data)}">
<h1>Policy report — {_e(report["project"])}/{_e(report["stack"])} ({_e(report["region"])})</h1>
<p><span class="verdict {_e(s["verdict"])}" id="verdict">{_e(s["verdict"].upper())}</span>
{s["mandatory"]} mandatory violation(s), {s["advisory"]} advisory finding(s); pack {_e(report["pack"])}
{_e(report["version"])}, {s["rules"]} rules over {s["resources"]} resources: {s["rulesPassed"]} pass,
{s["rulesFailed"]} fail, {s["rulesNotApplicable"]} not applicable, {s["rulesDisabled"]} disabled.</p>
<h2>Made from</h2>{_provenance(report.get("provenance"))}
<h2>Findings</h2>{_findings(report["violations"])}
<h2>Findings by rule</h2>{_by_rule(report)}
<h2>Rules</h2>{_rules(report)}
<h2>Frameworks</h2>{_frameworks(report)}
<h2>Disaster recovery</h2>{_dr(plan)}
<h2>The stack</h2>{_picture(plan)}
<script>{SCRIPT}</script>
</body></html>
"""
