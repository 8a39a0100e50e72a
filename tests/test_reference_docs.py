"""The reference pages stay complete: a baseline key, a snapshot section or an Exchange cmdlet added to the code
without its line in docs/ fails here, and so does a documented key the code no longer knows."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from auditor.collect.allowlist import ALLOWED_CMDLETS
from auditor.models import baseline as bl
from auditor.models.snapshot import SECTION_NAMES

DOCS = Path(__file__).resolve().parent.parent / "docs"
TABLES = {
    "[tenant]": bl.TenantConfig, "[auth]": bl.AuthConfig, "[exchange]": bl.ExchangeConfig,
    "[policy]": bl.PolicyConfig, "[[integration]]": bl.Integration, "[sweep]": bl.SweepConfig,
    "[[waiver]]": bl.Waiver, "[history]": bl.HistoryConfig, "[report]": bl.ReportConfig,
}


def part(text: str, heading: str) -> str:
    """The text from the `heading` line up to the next `## ` heading."""
    start = text.index(heading)
    following = text.find("\n## ", start + 1)
    return text[start: following if following >= 0 else len(text)]


def documented_keys(text: str) -> set[str]:
    """First-column keys of the tables in one part of the page: rows that start with | `key` |."""
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))


@pytest.mark.parametrize("heading", TABLES)
def test_baseline_md_documents_exactly_the_keys_the_reader_knows(heading: str):
    text = (DOCS / "baseline.md").read_text(encoding="utf-8")
    known = {f.name for f in dataclasses.fields(TABLES[heading])}
    assert documented_keys(part(text, f"## `{heading}`")) == known


def test_snapshot_md_documents_every_section():
    text = (DOCS / "snapshot.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([\w.]+)` \|", part(text, "## Sections"), flags=re.MULTILINE))
    assert rows == set(SECTION_NAMES)


def test_microsoft_facts_cover_every_cmdlet_the_auditor_may_send():
    text = (DOCS / "microsoft-facts.md").read_text(encoding="utf-8")
    missing = [name for name in ALLOWED_CMDLETS if f"`{name}" not in text]
    assert missing == []
