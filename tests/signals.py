"""Starting the auditor as a terminal would, for the tests that press Ctrl+C."""

from __future__ import annotations

import signal


def ctrl_c_delivered() -> None:
    """In the child, before exec: SIGINT back to its default action, as a terminal starts a command. A test run
    started in the background (`cmd &`, nohup) ignores SIGINT and its children inherit that, which the auditor
    keeps on purpose (auditor/collect/children.py: started with it ignored, it stays ignored); without this a
    Ctrl+C test would be testing nohup instead."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
