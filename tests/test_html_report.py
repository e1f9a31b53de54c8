"""The HTML report a compliance reviewer opens from the pull request's artifacts: self-contained,
findings by tenant and rule with filters, rule statuses, frameworks, DR table and the stack's
picture; rendered in headless Chromium, which must show the findings with nothing failing to load."""

import copy
import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from planner.html_report import CSP, report_html
from planner.policy import CONFIG_DIR, verdict
from planner.reports import provenance
from tests.conftest import config_for
from tests.test_policies import MUTATIONS


@pytest.fixture(scope="module")
def broken(plans: dict[str, Any]) -> dict[str, Any]:
    """The dev plan with three findings: two tenants' mandatory ones and the platform's advisory one."""
    plan = copy.deepcopy(plans["dev"])
    for policy in ("rds-not-publicly-accessible", "tenant-data-residency", "redis-high-availability"):
        MUTATIONS[policy](plan)
    plan["policy"] = verdict(plan, config_for("dev"))
    plan["policy"]["provenance"] = provenance(CONFIG_DIR / "dev.json")
    return plan


def test_page_holds_findings_rules_frameworks_dr_and_picture(broken: dict[str, Any]) -> None:
    page = report_html(broken)
    violations = broken["policy"]["violations"]
    rows = re.findall(r'<tr class="finding" data-tenant="([^"]*)" data-rule="([^"]*)" data-level="([^"]*)">', page)
    assert sorted(rows) == sorted(
        (v.get("tenant") or "(platform)", v["ruleId"], v["enforcementLevel"]) for v in violations
    )
    for v in violations:
        assert html.escape(v["message"]) in page
    assert 'id="verdict">BLOCKED<' in page and "policies/config/dev.json" in page
    assert '<tr data-status="fail"><td>NET-RDS-1</td>' in page
    assert '<tr data-status="not applicable"><td>LAM-1</td>' in page or "not applicable" in page
    tenants = {r["tenant"] for r in broken["resources"] if r.get("tenant")}
    for tenant in tenants:  # the DR table and the picture name every tenant of the region
        assert f"<tr><td>{tenant}</td>" in page, tenant
        assert f"tenant {tenant}<br>" in page, tenant
    assert "NYDFS" in page and "Frameworks" in page


def test_page_is_self_contained(broken: dict[str, Any]) -> None:
    page = report_html(broken)
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)  # nothing to fetch
    assert "@import" not in page and "url(" not in page


def _chromium() -> str | None:
    return next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
    )


def _render(path: Path, fragment: str = "") -> str:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is missing: .ci/run installs the distribution's chromium package")
        pytest.skip("no Chromium on this machine (CI installs it)")
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom",
         f"{path.as_uri()}{fragment}"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def _body(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, dom[:500]
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag.group(1)))


def test_chromium_shows_the_findings_and_nothing_fails(broken: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "policy-report.html"
    page.write_text(report_html(broken), encoding="utf-8")
    dom = _render(page)
    body = _body(dom)
    assert body["state"] == "ready", "the page's script did not run to the end"
    assert (body["errors"], body["blocked"]) == ("0", "0"), "a script error or a blocked load"
    assert body["shown"] == str(len(broken["policy"]["violations"]))
    for v in broken["policy"]["violations"]:
        assert html.escape(v["message"], quote=False) in dom  # the DOM serializer leaves quotes as they are
    # A link that presets the filter opens the page narrowed to one tenant's findings.
    narrowed = _body(_render(page, "#tenant=demo-basic"))
    own = [v for v in broken["policy"]["violations"] if v.get("tenant") == "demo-basic"]
    assert own and narrowed["shown"] == str(len(own)) and narrowed["errors"] == "0"


def test_chromium_sees_a_broken_page_as_broken(broken: dict[str, Any], tmp_path: Path) -> None:
    """The check above can fail: a page whose script throws, or that loads something, is caught."""
    page = tmp_path / "broken.html"
    text = report_html(broken).replace(
        "apply();\n  body.dataset.errors", "apply();undefinedCall();\n  body.dataset.errors"
    )
    page.write_text(text.replace("</body>", '<img src="https://example.com/x.png"></body>'), encoding="utf-8")
    body = _body(_render(page))
    assert body["state"] != "ready" or body.get("errors") != "0" or body.get("blocked") != "0"
