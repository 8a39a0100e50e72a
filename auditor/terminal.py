"""What reaches the terminal is text, never instructions to it.

Tenant data (a display name, a group manager, an Exchange error message quoting an identity) can carry ANSI
escape sequences that recolour or retitle the terminal, a carriage return that overwrites the line before it,
or bidirectional overrides that make a name read differently from what it is. Everything the CLI prints goes
through `printable`: those characters are shown as escapes (`\\x1b`, `\\u202e`), newlines and tabs stay.
Lone surrogates (valid in JSON text, not in UTF-8) are escaped too, so printing one cannot crash the run.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

# C0 controls except tab and newline, DEL, C1 controls (U+0085 NEL among them), the Unicode line and paragraph
# separators, bidi embeddings/overrides/isolates, surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(value: object) -> str:
    """A tenant value inside one line of output: `printable`, and its newlines and tabs escaped too, so a
    resource or message cannot start a line of its own (a forged NEW or RESOLVED entry in `auditor diff`)."""
    return printable(str(value)).replace("\n", "\\n").replace("\t", "\\t")


def printable(text: str) -> str:
    """`text` with every control, bidi-override and surrogate character shown as an escape."""
    return _UNSAFE.sub(_escape, text)


class SafeStream:
    """A text stream that escapes what `printable` escapes before writing to the real one.

    Rich's progress display needs its own escape sequences (colours, the spinner): the Console writes to
    `raw_stream(sys.stderr)` and prints only the auditor's own messages, escaped (see auditor/console.py)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    @property
    def rich_proxied_file(self) -> TextIO:
        return self._inner

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click probes for a binary stream with write(b"")
            raise TypeError("SafeStream takes text")
        return self._inner.write(printable(text))

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # encoding, errors, isatty, fileno, flush, ...
        return getattr(self._inner, name)


def raw_stream(stream: TextIO) -> TextIO:
    """The terminal under any SafeStream and rich FileProxy wrapped around it (rich unwraps one level only)."""
    seen = 0
    while hasattr(stream, "rich_proxied_file") and seen < 8:
        stream, seen = stream.rich_proxied_file, seen + 1
    return stream


def guard(stream: TextIO) -> TextIO:
    """`stream` escaped, unless it already is."""
    return stream if isinstance(stream, SafeStream) else SafeStream(stream)  # type: ignore[return-value]


@contextmanager
def guarded_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr as SafeStreams for the duration (the CLI's whole run)."""
    saved = sys.stdout, sys.stderr
    if saved[0] is not None:  # None under pythonw: nothing to guard
        sys.stdout = SafeStream(saved[0])  # type: ignore[assignment]
    if saved[1] is not None:
        sys.stderr = SafeStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
