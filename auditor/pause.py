"""Named points in a run where a test may hold the process, to kill it there and nowhere else.

`AUDITOR_TEST_PAUSE_AT=STEP:FILE`: on reaching STEP the process writes its pid to FILE and waits until FILE is
removed. Used only by the tests (tests/history/test_gate.py); unset, `pause_at` returns at once.

The steps of a run with history, in order: `evaluated` (findings known, nothing recorded), `registered` (stored
as an unfinished run), `compared` (the history locked, drift known), `reported` (the output set in place),
`completed` (marked finished, not yet committed), `committed` (the verdict final, the exit code on its way).
The output writer adds `staged` (the set written beside --out, not yet in place).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "AUDITOR_TEST_PAUSE_AT"


def pause_at(step: str) -> None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    wanted, _, flag = spec.partition(":")
    if wanted != step or not flag:
        return
    Path(flag).write_text(str(os.getpid()), encoding="utf-8")
    while Path(flag).exists():
        time.sleep(0.02)
