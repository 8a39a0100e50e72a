"""Bad input, generated: every input file the CLI reads, random or mutated from a good one, must give either a
correct run (exit 0, 1 or 3) or exit 2 with exactly one line on stderr and nothing written. Never a traceback
(exit 4 is a bug), never a partial output file.

Examples are derandomized (the same inputs on every machine, so CI is stable) and bounded: BADINPUT_EXAMPLES
(default 60) per target; set it higher to search longer. The figures are printed after the run.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from auditor.cli import main

EXAMPLES = int(os.environ.get("BADINPUT_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
FIGURES: Counter[str] = Counter()
CORRECT_RUN = (0, 1, 3)


def run_cli(*args: str) -> tuple[int, str, str]:
    """`auditor ARGS` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A fresh folder per example (hypothesis reruns the test body, so pytest's tmp_path cannot serve)."""
    with tempfile.TemporaryDirectory(prefix="auditor-badinput-") as folder:
        yield Path(folder)


def judge(target: str, code: int, out: str, err: str, out_dir: Path, written: tuple[str, ...],
          known_bug: bool = False) -> None:
    """The contract for one input; counts it (and any traceback) for the figures before asserting. A test marked
    xfail for a reported bug passes `known_bug`, so its traceback is counted apart."""
    FIGURES[f"{target} inputs"] += 1
    if code == 4 or "Traceback" in err + out:
        FIGURES["known-bug tracebacks" if known_bug else "tracebacks"] += 1
    assert code != 4 and "Traceback" not in err + out, err
    if code == 2:
        FIGURES[f"{target} refused"] += 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("auditor: "), err
        assert not out_dir.exists() or not any(out_dir.iterdir()), "exit 2 left files behind"
    else:
        assert code in CORRECT_RUN, (code, err)
        for name in written:
            assert (out_dir / name).stat().st_size > 0, name


# -- values and mutations ------------------------------------------------------------------------------------

ODD_TEXT = st.sampled_from([
    "", " ", "x" * 70_000, "\x00", "\x1b[31m", "\u202e", "\ud800", "\udfff", "😀", "now+99999999d", "now-0d",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "not a date", "NaN",
    "00000000-0000-0000-0000-000000000000", "ffffffff-dead-4000-8000-000000000000", "*", "@", "=1+1",
    "'; Remove-Mailbox x; '", "<img src=x onerror=alert(1)>", "../../etc/passwd", "C:\\\\con",
])
JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), ODD_TEXT)
JSON_VALUE = st.recursive(JSON_SCALAR, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=12)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        items: Any = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return found
    for key, value in items:
        found.append((*prefix, key))
        found += paths(value, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], ids: list[str] | None = None) -> dict[str, Any]:
    """`base` with one to three changes: a key dropped, a value replaced by another type, an odd or huge string,
    an id pointing nowhere, an element duplicated (a duplicate id), or a list emptied."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        targets = paths(doc)
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        operation = draw(st.sampled_from(["drop", "replace", "odd", "dangle", "duplicate", "empty"]))
        if operation == "drop":
            del parent[key]
        elif operation == "replace":
            parent[key] = draw(JSON_VALUE)
        elif operation == "odd":
            parent[key] = draw(ODD_TEXT)
        elif operation == "dangle":
            parent[key] = draw(st.sampled_from(ids or ["00000000-dead-4000-8000-000000000000"]))
        elif operation == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif isinstance(parent[key], list | dict):
            parent[key] = type(parent[key])()
    return doc


@st.composite
def retexted(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with one to five of its strings replaced by odd or huge ones: documents that mostly still load,
    so the run goes on to collect, judge and report them."""
    doc = copy.deepcopy(base)
    leaves = [path for path in paths(doc) if isinstance(_get(doc, path), str)]
    for path in draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=5)):
        parent = _get(doc, path[:-1])
        parent[path[-1]] = draw(ODD_TEXT)
    return doc


def encoded(draw: st.DrawFn, doc: Any, damage_rate: float = 0.4) -> bytes:
    """The document as a file: JSON (lone surrogates as \\u escapes, as JSON allows), sometimes with bytes that
    are not UTF-8 spliced in, a BOM, or cut short."""
    data = json.dumps(doc).encode("utf-8")
    damaged = draw(st.floats(min_value=0, max_value=1)) < damage_rate
    damage = draw(st.sampled_from(["bytes", "latin-1", "bom", "truncate"])) if damaged else "none"
    if damage == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif damage == "latin-1":
        data = data.replace(b"Contoso", "Contosó".encode("latin-1"), 1)
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "truncate":
        data = data[: draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))]
    return data


def ids_in(doc: Any) -> list[str]:
    return sorted({v for path in paths(doc) if isinstance(v := _get(doc, path), str) and len(v) == 36
                   and v.count("-") == 4})[:50]


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def pytest_terminal_summary(terminalreporter: Any) -> None:
    targets = sorted({k.rsplit(" ", 1)[0] for k in FIGURES if k.endswith(" inputs")})
    if targets:
        total = sum(FIGURES[f"{t} inputs"] for t in targets)
        parts = ", ".join(f"{t} {FIGURES[f'{t} inputs']} ({FIGURES[f'{t} refused']} refused)" for t in targets)
        known = FIGURES["known-bug tracebacks"]
        terminalreporter.write_line(f"bad input: {total} inputs tried, {FIGURES['tracebacks']} tracebacks"
                                    + (f" (+{known} in a reported bug, xfail)" if known else "") + f"; {parts}")
