"""Reports are written without the cyclic collector's sweeps, and the collector always comes back after."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from auditor.errors import OutputError
from auditor.pipeline import write_reports
from auditor.reports.gc_pause import collector_paused
from tests.reports.conftest import many_findings

FORMATS = ["json", "csv", "html", "junit", "markdown", "ps1"]


@pytest.fixture
def sweeps():
    """The collector's runs while the test body runs."""
    seen: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(count)
    yield seen
    gc.callbacks.remove(count)


def test_writing_many_findings_runs_no_collector_sweep(sample_doc, tmp_path: Path, sweeps):
    doc = many_findings(sample_doc, 3000)
    write_reports(sample_doc, tmp_path / "first", FORMATS)  # the writers' modules imported
    sweeps.clear()  # building the document and importing ran some
    write_reports(doc, tmp_path, FORMATS)
    assert len(sweeps) <= 1  # once, as it comes back (main ran it 362 times for these 3,000 findings)
    assert gc.isenabled()
    assert {p.name for p in tmp_path.iterdir()} == {"findings.json", "findings.csv", "report.html", "junit.xml",
                                                    "summary.md", "remediation.ps1", "first"}


def test_the_collector_comes_back_when_a_writer_fails(sample_doc, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the reports should go", encoding="utf-8")
    with pytest.raises(OutputError):
        write_reports(sample_doc, blocker, ["json"])
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off(sample_doc, tmp_path: Path):
    gc.disable()
    try:
        write_reports(sample_doc, tmp_path, ["json"])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_writers_bring_the_collector_back_when_the_last_ends():
    second_in, first_out = threading.Event(), threading.Event()
    states: dict[str, bool] = {}

    def second() -> None:
        with collector_paused():
            second_in.set()
            first_out.wait(5)
            states["after the first ended"] = gc.isenabled()
        states["after both ended"] = gc.isenabled()

    thread = threading.Thread(target=second)
    with collector_paused():
        thread.start()
        second_in.wait(5)
    first_out.set()
    thread.join(5)
    assert states == {"after the first ended": False, "after both ended": True}
