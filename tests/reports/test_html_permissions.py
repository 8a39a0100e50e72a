"""The integration's permission table shows what PERM-001, PERM-002 and CONSENT-001 decided, never its own verdict.

Built from builder tenants through the engine and build_document, rendered, and read back as a user reads the
page: which rows are marked red, which waived, and which findings each row links to.
"""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

from auditor.engine import evaluate
from auditor.models.baseline import Waiver
from auditor.pipeline import build_document
from auditor.reports import html_report
from tests.builders import APP, SnapshotBuilder, baseline, cert, compliant_tenant, integration, user_owner


class Rows(HTMLParser):
    """Each <tr> of an HTML fragment: its class, the findings its verdict links point to, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, list[str], str]] = []
        self._row: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr":
            self._row, self._cls, self._links = [], found.get("class") or "", []
        elif tag == "a" and "vlink" in (found.get("class") or ""):
            self._links.append(f"{found.get('title')}{found.get('href')}")

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows.append((self._cls, self._links, " ".join(" ".join(self._row).split())))
            self._row = None


def permission_rows(html: str) -> dict[str, tuple[str, list[str], str]]:
    """The first integration's permission table: name -> (row class, links as "CHECK#anchor", row text)."""
    start = html.index("requested vs granted vs baseline")
    table = html[html.index("<table", start): html.index("</table>", start)]
    return {text.split(" ")[0]: (cls, links, text) for cls, links, text in Rows(table).rows
            if not text.startswith("Permission ")}


def statuses_linked(html: str, anchors: list[str]) -> list[str]:
    """The status each linked finding row carries in the findings list (`<tr id="f-N" ... data-status=...>`)."""
    out = []
    for link in anchors:
        anchor = link.split("#", 1)[1]
        row = re.search(rf'<tr id="{anchor}" class="finding"[^>]*>', html)
        assert row, f"link to a missing finding row: {link}"
        out.append(re.search(r'data-status="(\w+)"', row.group(0)).group(1))
    return out


def render(snap: SnapshotBuilder, waivers: tuple[Waiver, ...] = (), **overrides) -> tuple[str, dict]:
    base = baseline(integration(**overrides), waivers=waivers)
    snapshot = snap.build()
    html = html_report.render(build_document(snapshot, base, evaluate(snapshot, base)))
    return html, permission_rows(html)


def extra_permission_tenant() -> SnapshotBuilder:
    """The compliant tenant, except the app also requests and holds Mail.Read, which the baseline does not list."""
    b = compliant_tenant()
    b.data("graph.applications").clear()
    b.sections["graph.servicePrincipals"]["data"] = [
        sp for sp in b.data("graph.servicePrincipals") if sp["appId"] != APP]
    b.sections["graph.appRoleAssignments"]["data"] = []
    b.app(APP, requested=("Mail.ReadWrite", "Mail.Send", "Mail.Read"), credentials=[], certificates=[cert()],
          owners=[user_owner("owner@contoso.com")])
    return b


def test_a_permission_beyond_the_baseline_is_red_and_links_its_perm_002_failure():
    html, rows = render(extra_permission_tenant())
    cls, links, text = rows["Mail.Read"]
    assert "bad" in cls.split()
    assert [link.split("#")[0] for link in links] == ["PERM-002"]
    assert statuses_linked(html, links) == ["FAIL"]
    assert "beyond the baseline" in text
    assert rows["Mail.ReadWrite"][0] == "" and rows["Mail.ReadWrite"][1] == []


def test_a_waived_perm_002_shows_the_row_waived_not_red():
    waiver = Waiver(check="PERM-002", resource=APP, reason="vendor needs Mail.Read; ticket SEC-7",
                    expires=date(2027, 1, 1))
    html, rows = render(extra_permission_tenant(), waivers=(waiver,))
    cls, links, _ = rows["Mail.Read"]
    assert "bad" not in cls.split()
    assert "waived" in cls.split()
    assert statuses_linked(html, links) == ["WAIVED"]


def test_a_baseline_permission_without_consent_links_consent_001():
    b = compliant_tenant()
    b.sections["graph.appRoleAssignments"]["data"] = [
        a for a in b.data("graph.appRoleAssignments") if a["appRoleId"] != "b633e1c5-b582-4048-a93e-9f11b44c7e96"]
    html, rows = render(b)
    cls, links, text = rows["Mail.Send"]
    assert "bad" in cls.split() and "no admin consent" in text
    assert [link.split("#")[0] for link in links] == ["CONSENT-001"]
    assert statuses_linked(html, links) == ["FAIL"]


def test_rows_stay_unmarked_when_the_checks_pass():
    _, rows = render(compliant_tenant())
    assert {name: (cls, links) for name, (cls, links, _) in rows.items()} == {
        "Mail.ReadWrite": ("", []), "Mail.Send": ("", [])}


def test_rows_the_checks_skipped_say_not_judged_and_link_the_skips():
    b = SnapshotBuilder()
    b.app(APP, requested=("Mail.ReadWrite",), service_principal=False)  # APP-001 fails: every PERM/CONSENT skips
    html, rows = render(b)
    cls, links, text = rows["Mail.ReadWrite"]
    assert cls == "" and "not judged" in text and "as intended" not in text
    assert sorted(link.split("#")[0] for link in links) == ["CONSENT-001", "PERM-001", "PERM-002"]
    assert set(statuses_linked(html, links)) == {"SKIP"}
