"""Date handling at the boundary: every date inside the tool is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_datetime(value: Any) -> datetime:
    """Parse Graph's and Exchange's ISO-8601 strings ("2026-01-01T00:00:00Z", with or without
    fractional seconds, offsets, or 7-digit .NET fractions) into an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        if "." in text:
            # .NET writes up to 7 fractional digits; Python accepts at most 6.
            head, _, rest = text.partition(".")
            digits = ""
            while rest and rest[0].isdigit():
                digits, rest = digits + rest[0], rest[1:]
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 date") from None
    else:
        raise ValueError(f"{value!r} is not an ISO-8601 date")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_datetime(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
