"""What a person sees on the terminal while a run works: progress (rich) and, with -v, log lines.

Progress shows only on a terminal and never with --quiet, so CI logs and pipes stay clean. Log lines go to
stderr through a filter that removes every registered secret. The HTTP and PowerShell client libraries log
whole requests at DEBUG (pypsrp even the base64 fragments carrying `-AccessToken`), so their loggers stay at
WARNING whatever -v says.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich.console import Console as RichConsole
from rich.markup import escape

from auditor.redact import RedactingFilter, quiet_client_loggers
from auditor.terminal import guard, printable, raw_stream


class Console:
    def __init__(self, quiet: bool = False, verbose: int = 0) -> None:
        # Rich gets the terminal itself: its own colours and cursor moves must reach it as escape sequences, while
        # every message it shows is escaped by step/done (the SafeStream around sys.stderr would escape both).
        self.rich = RichConsole(file=raw_stream(sys.stderr), highlight=False)
        self.show_progress = not quiet and sys.stderr.isatty()
        self._status: Any = None
        configure_logging(verbose)

    def step(self, message: str) -> None:
        """A new phase of the run (signing in, reading Graph, ...)."""
        logging.getLogger("auditor").info("%s", message)
        if not self.show_progress:
            return
        shown = escape(printable(message))  # rich writes to the raw terminal: never tenant markup or escapes
        if self._status is None:
            self._status = self.rich.status(shown)
            self._status.start()
            # While it shows, rich routes sys.stdout/sys.stderr through a proxy that decodes ANSI codes and writes
            # to the terminal directly: escape before that proxy too. Stopping the status restores the streams.
            sys.stdout, sys.stderr = guard(sys.stdout), guard(sys.stderr)
        else:
            self._status.update(shown)

    def done(self, message: str) -> None:
        """A finished phase, with its counts; stays on screen."""
        logging.getLogger("auditor").info("%s", message)
        if self.show_progress:
            self.rich.print(f"[green]✓[/green] {escape(printable(message))}", markup=True, highlight=False,
                            soft_wrap=True, emoji=False)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def configure_logging(verbose: int) -> None:
    root = logging.getLogger("auditor")
    for handler in list(root.handlers):
        if getattr(handler, "_auditor", False):
            root.removeHandler(handler)
    quiet_client_loggers()
    if verbose <= 0:
        # Quiet means quiet: without a handler, Python's last-resort handler would print WARNING records raw
        # (unredacted, control characters and all). Failures reach the user through the command's own lines.
        quiet = logging.NullHandler()
        quiet._auditor = True  # type: ignore[attr-defined]
        root.addHandler(quiet)
        root.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._auditor = True  # type: ignore[attr-defined]
    handler.setFormatter(_PrintableFormatter("auditor %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)


class _PrintableFormatter(logging.Formatter):
    """Log lines quote tenant data (names, Exchange messages): control characters are shown, not obeyed."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))
