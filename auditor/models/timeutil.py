"""Date handling at the boundary: every date inside the tool is timezone-aware UTC.

Tenant dates may sit at the ends of the calendar (a credential that "never expires" is often written
9999-12-31T23:59:59Z, and an offset can push it past year 9999 in UTC): they are kept, clamped to the
calendar's ends. A collection time is the moment the auditor ran: it must lie within RUN_YEARS, so every
window the checks and charts draw around it stays on the calendar (docs/decisions.md, "Bad input").
"""

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
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # the offset moves it past year 9999 or before year 1: keep the calendar's end
        return (datetime.max if dt.year == datetime.max.year else datetime.min).replace(tzinfo=UTC)


RUN_YEARS = (1970, 8999)
"""The years a collection time (`collected_at`) may fall in."""


def parse_run_time(value: Any) -> datetime:
    """A collection time: an ISO-8601 date within RUN_YEARS (ValueError otherwise)."""
    moment = parse_datetime(value)
    if not RUN_YEARS[0] <= moment.year <= RUN_YEARS[1]:
        raise ValueError(f"{value!r} is not a collection time (years {RUN_YEARS[0]} to {RUN_YEARS[1]})")
    return moment


def format_datetime(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
