"""Geometry for the HTML report's inline SVG charts.

Only numbers come out of here; the template draws the shapes and escapes every label. Coordinates are
formatted with a fixed precision so the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True)
class Tick:
    x: str
    label: str


@dataclass(frozen=True)
class Span:
    """A credential's validity on the axis; `open_left`/`open_right` when it runs past the axis."""

    x: str
    width: str
    open_left: bool
    open_right: bool


@dataclass(frozen=True)
class Timeline:
    now_x: str
    ticks: tuple[Tick, ...]
    spans: tuple[Span | None, ...]


# Credentials can be issued for decades; the axis keeps to a readable window around "now".
_PAST_LIMIT = timedelta(days=3 * 365)
_FUTURE_LIMIT = timedelta(days=5 * 365)
_MIN_RANGE = timedelta(days=90)


def timeline(intervals: Sequence[tuple[datetime | None, datetime | None]], now: datetime,
             width: float = 1000.0) -> Timeline:
    """Place each (start, end) on one shared axis around `now` (the collection time, not the clock)."""
    starts = [s for s, _ in intervals if s is not None]
    ends = [e for _, e in intervals if e is not None]
    lo = max(min([now, *starts]), now - _PAST_LIMIT)
    hi = min(max([now, *ends]), now + _FUTURE_LIMIT)
    if hi - lo < _MIN_RANGE:
        pad = (_MIN_RANGE - (hi - lo)) / 2
        lo, hi = lo - pad, hi + pad
    margin = (hi - lo) * 0.03
    lo, hi = lo - margin, hi + margin
    scale = width / (hi - lo).total_seconds()

    def x_of(moment: datetime) -> float:
        return min(max((moment - lo).total_seconds() * scale, 0.0), width)

    spans: list[Span | None] = []
    for start, end in intervals:
        if start is None or end is None or end < start:
            spans.append(None)
            continue
        left, right = x_of(start), x_of(end)
        spans.append(Span(_num(left), _num(max(right - left, 2.0)), start < lo, end > hi))
    return Timeline(_num(x_of(now)), tuple(_ticks(lo, hi, x_of)), tuple(spans))


def _ticks(lo: datetime, hi: datetime, x_of) -> list[Tick]:  # type: ignore[no-untyped-def]
    """Year marks on long axes, quarter marks (labelled by month, years on January) on short ones."""
    step = 12 if hi - lo > timedelta(days=3 * 365) else 3
    year, month = lo.year, 1
    ticks = []
    while True:
        moment = lo.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
        if moment > hi:
            break
        if moment >= lo:
            label = str(year) if month == 1 else _MONTHS[month - 1]
            ticks.append(Tick(_num(x_of(moment)), label))
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    return ticks


@dataclass(frozen=True)
class Block:
    """One stacked piece of a column: `y` is its top edge, SVG's y axis pointing down."""

    key: str
    count: int
    y: str
    height: str


@dataclass(frozen=True)
class Column:
    label: str
    total: int
    x: str
    width: str
    blocks: tuple[Block, ...]


def stacked_columns(points: Sequence[tuple[str, Sequence[tuple[str, int]]]], width: float, height: float,
                    gap: float = 0.3, min_slots: int = 12) -> tuple[list[Column], int]:
    """One column per point, left to right, stacked from the baseline up in the given order, on one scale
    (the tallest column fills `height`); also returns that tallest total, for the axis label."""
    tallest = max((sum(n for _, n in parts) for _, parts in points), default=0)
    slot = width / max(len(points), min_slots)  # a few runs get slim columns at the left, not wide slabs
    columns = []
    for i, (label, parts) in enumerate(points):
        top = height
        blocks = []
        for key, count in parts:
            if count <= 0 or tallest <= 0:
                continue
            h = height * count / tallest
            top -= h
            blocks.append(Block(key, count, _num(top), _num(h)))
        columns.append(Column(label, sum(n for _, n in parts), _num(i * slot + slot * gap / 2),
                              _num(slot * (1 - gap)), tuple(blocks)))
    return columns, tallest
