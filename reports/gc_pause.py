"""Report writing without the cyclic garbage collector's sweeps.

Rendering tens of thousands of findings allocates millions of short-lived containers (row views, Jinja2's
pieces, JSON lists), and every so many allocations CPython's collector walks the tracked objects, the
document's findings included, though rendering makes next to no reference cycles: for 35,000 findings that
walking was a quarter to a third of report.html's time. Reference counting still frees everything as it goes;
a cycle made meanwhile is collected once the last writer is done. Writers may overlap (a portfolio audits
tenants in threads), so the collector comes back when the last of them ends, and stays off if it was off
before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writers = 0
        self.was_enabled = False


_PAUSE = _Pause()


@contextmanager
def collector_paused() -> Iterator[None]:
    with _PAUSE.lock:
        if _PAUSE.writers == 0:
            _PAUSE.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSE.writers += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.writers -= 1
            if _PAUSE.writers == 0 and _PAUSE.was_enabled:
                gc.enable()
