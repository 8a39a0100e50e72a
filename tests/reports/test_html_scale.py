"""report.html for many findings: what a check reads is said once per check, not on each of its rows."""

from __future__ import annotations

import dataclasses
import re

from markupsafe import escape

from auditor.models.findings import FindingsDocument
from auditor.reports import html_report
from tests.reports.conftest import many_findings


def groups(html: str) -> dict[str, str]:
    """Each check group's markup, by check id."""
    parts = re.split(r'(?=<details class="check" id="check-)', html.split('<section id="findings"', 1)[1])
    return {re.match(r'<details class="check" id="check-([^"]+)"', p).group(1): p  # type: ignore[union-attr]
            for p in parts[1:]}


def test_a_checks_sources_are_named_once_above_its_rows(sample_doc: FindingsDocument):
    doc = many_findings(sample_doc, 600)
    shown = groups(html_report.render(doc))
    checked = 0
    for check_id, markup in shown.items():
        mine = [f for f in doc.findings if f.check_id == check_id]
        if len(mine) < 2 or len({f.provenance for f in mine}) != 1 or not mine[0].provenance:
            continue
        for source in mine[0].provenance:
            assert markup.count(f"<code>{escape(source)}</code>") == 1, (check_id, source)
        assert markup.count('class="prov"') == 1 and "Evidence read from" in markup
        checked += 1
    assert checked >= 5, "the sample should have several checks whose rows share their sources"


def test_a_row_read_from_other_sources_names_them_in_its_evidence(sample_doc: FindingsDocument):
    doc = many_findings(sample_doc, 50)
    by_check: dict[str, list[int]] = {}
    for i, f in enumerate(doc.findings):
        by_check.setdefault(f.check_id, []).append(i)
    shown_order = next(sorted(idx, key=lambda i: doc.findings[i].status.rank) for idx in by_check.values()
                       if len(idx) > 1)
    target = shown_order[1]  # not the row the group takes its sources from
    changed = dataclasses.replace(doc.findings[target], provenance=("exchange.elsewhere: exo:Get-Elsewhere",))
    doc = dataclasses.replace(doc, findings=(*doc.findings[:target], changed, *doc.findings[target + 1:]))
    html = html_report.render(doc)
    row = re.search(rf'<tr id="f-{target}" class="finding".*?</tr>', html, re.DOTALL)
    assert row is not None
    assert '<p class="prov">Read from <code>exchange.elsewhere: exo:Get-Elsewhere</code></p>' in row.group(0)


def test_each_row_shows_its_own_findings_values_in_their_places(sample_doc: FindingsDocument):
    """The rows are laid out from flat row views unpacked in the template: every value lands in its cell."""
    html = html_report.render(sample_doc)
    for i, f in enumerate(sample_doc.findings):
        found = re.search(rf'<tr id="f-{i}" class="finding".*?</tr>', html, re.DOTALL)
        assert found is not None, i
        row = found.group(0)
        assert row.startswith(f'<tr id="f-{i}" class="finding" data-status="{f.status.value}" '
                              f'data-severity="{f.severity.value}" data-integration="{escape(f.integration)}">')
        assert f'<td><span class="st st-{f.status.value.lower()}">{f.status.value}</span></td>' in row
        assert f"<td>{escape(f.integration or 'tenant')}</td>" in row
        assert f'<span class="mono">{escape(f.resource)}</span></td>' in row
        assert f'<p class="msg">{escape(f.message)}</p>' in row or "Not evaluated: " in row
        assert f"<pre>{escape(html_report.pretty_json(f.evidence))}</pre>" in row
        assert (f"<pre>{escape(f.fix)}</pre>" in row) == bool(f.fix)
        pass_like = f.status.value in ("PASS", "SKIP")
        assert ('<details class="evidence pass-evidence">' in row) == pass_like
