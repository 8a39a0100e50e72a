"""Reports show, checks judge: an integration's inventory rows take their colour from the findings that judged them.

The permission table shows what PERM-001, PERM-002 and CONSENT-001 decided; scope-group members what GRP-003
decided; RBAC assignments what SCOPE-006 decided. A WAIVED verdict is shown waived, never red. Built from builder
tenants through the engine and build_document, rendered, and read back as a user reads the page: which rows
are marked red, which waived, and which findings each row links to.
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


def table_rows(html: str, heading: str) -> dict[str, tuple[str, list[str], str]]:
    """The first table after `heading`: first cell -> (row class, links as "CHECK#anchor", row text)."""
    start = html.index(heading)
    table = html[html.index("<table", start): html.index("</table>", start)]
    body = table[table.index("<tbody"):]
    return {text.split(" ")[0]: (cls, links, text) for cls, links, text in Rows(body).rows}


def permission_rows(html: str) -> dict[str, tuple[str, list[str], str]]:
    return table_rows(html, "requested vs granted vs baseline")


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


def test_a_waived_grp_003_member_is_shown_waived_not_red():
    b = compliant_tenant()
    b.data("exchange.groups").clear()
    b.group("cctr_sec_group@contoso.com", ["support@contoso.com", "sales@contoso.com", "ceo@contoso.com"])
    waiver = Waiver(check="GRP-003", resource="ceo@contoso.com", reason="CEO's assistant reads it; SEC-9",
                    expires=date(2027, 1, 1))
    for waivers, expected_class, expected_status in (((), "bad", "FAIL"), ((waiver,), "waived", "WAIVED")):
        html, _ = render(b, waivers=waivers)
        members = table_rows(html, "<h4>Scope group</h4>")
        cls, links, _ = members["ceo@contoso.com"]
        assert cls == expected_class
        assert statuses_linked(html, links) == [expected_status]
        assert members["support@contoso.com"][0] == ""  # a queue mailbox: no finding, no mark


def test_rbac_assignment_rows_link_scope_006_and_take_its_status():
    b = compliant_tenant()
    b.role_assignment(APP, "cc-org-wide", "Application Mail.ReadWrite")  # organisation-wide: SCOPE-006 fails
    b.role_assignment(APP, "cc-scoped", "Application Mail.Send", custom_scope="CC queues")
    waiver = Waiver(check="SCOPE-006", resource=f"{APP}/cc-org-wide", reason="migration window; SEC-11",
                    expires=date(2027, 1, 1))
    for waivers, expected_class, expected_status in (((), "bad", "FAIL"), ((waiver,), "waived", "WAIVED")):
        html, _ = render(b, waivers=waivers)
        rows = table_rows(html, "RBAC for Applications</h4>")
        cls, links, _ = rows["cc-org-wide"]
        assert cls == expected_class
        assert [link.split("#")[0] for link in links] == ["SCOPE-006"]
        assert statuses_linked(html, links) == [expected_status]
        scoped_cls, scoped_links, _ = rows["cc-scoped"]
        assert scoped_cls == "" and statuses_linked(html, scoped_links) == ["PASS"]
