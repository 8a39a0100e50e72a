"""The repository explains itself: no tracked file points to design notes that live outside it.

A maintainer or user must be able to learn everything from the repository (docs/architecture.md, docs/baseline.md,
docs/snapshot.md, docs/emulator.md, docs/microsoft-facts.md, docs/decisions.md). So no tracked text file may name
the team's private notes: the design and style documents, the shared notes folder, or a notes file under
its reference folder. Unrelated words stay allowed: `weakref`, Microsoft documentation paths such as
`api-reference/v1.0/...` and learn.microsoft.com URLs ending in `/reference/...`.

The forbidden words are assembled from pieces so that this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".mypy_cache", ".ruff_cache",
                ".pytest_cache", "node_modules"}

DESIGN, STYLE, SHARED, REFERENCE = "DE" + "SIGN", "ST" + "YLE", "sha" + "red/", "refer" + "ence/"
FORBIDDEN = (
    # the design and style notes, by file name
    re.compile(rf"\b{DESIGN}\.md\b"),
    re.compile(rf"\b{STYLE}\.md\b"),
    # the shared notes folder: a path segment of its own (not "unshared/", not part of a longer word)
    re.compile(rf"(?<![\w.-]){SHARED}"),
    # a notes path under the reference folder: the folder at the start of a path, not a segment of a URL or of
    # a Graph documentation path ("api-" before it); the folder followed by a file or by a space both count
    re.compile(rf"(?<![\w./-]){REFERENCE}"),
)


def tracked_files() -> list[Path]:
    """Files git tracks; outside a git checkout (an unpacked sdist), every file under the root."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30)
        names = [n for n in out.stdout.decode("utf-8").split("\0") if n]
        if names:
            return [ROOT / n for n in names if (ROOT / n).is_file()]
    except (OSError, subprocess.SubprocessError):
        pass
    return [p for p in ROOT.rglob("*") if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(ROOT).parts)]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None  # binary (the report screenshot)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def offending_lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if any(p.search(line) for p in FORBIDDEN)]


def test_no_tracked_file_points_outside_the_repository():
    files = tracked_files()
    assert len(files) > 100, "the file list looks wrong; the test would prove nothing"
    found = []
    for path in files:
        text = text_of(path)
        if text is not None:
            found += [f"{path.relative_to(ROOT)}:{n}: {line}" for n, line in offending_lines(text)]
    assert found == [], "these lines point to notes outside the repository; point into docs/ instead:\n" + \
        "\n".join(found)


@pytest.mark.parametrize("line", [
    f"Exit codes ({DESIGN}.md section 6), first match wins",
    f"a small pure function (see {STYLE}.md, convention 2)",
    f"notes in /work/{SHARED}{DESIGN}.md",
    f"Microsoft documents none of it ({REFERENCE}microsoft-facts.md B4.2)",
    f"`{REFERENCE}` beside this file collects the facts",
    f"see {SHARED}{REFERENCE}psrp-server-notes.md",
])
def test_the_patterns_catch_pointers_to_the_notes(line: str):
    assert offending_lines(line), line


@pytest.mark.parametrize("line", [
    "import weakref; weakref.ref(obj)",
    "Source: `microsoft-graph-docs-contrib: api-reference/v1.0/api/serviceprincipal-list.md`",
    "https://learn.microsoft.com/exchange/reference/admin-api-authentication",
    "docs/decisions.md: where the design needed a reading",
    "a shared mailbox (SharedMailbox) is shared by a team",
    "DESIGNATED reviewers; the design notes",
])
def test_the_patterns_leave_unrelated_words_alone(line: str):
    assert not offending_lines(line), line
