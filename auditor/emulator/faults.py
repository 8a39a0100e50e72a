"""Fault plans (deterministic, seeded), their runtime state, and per-route request counters."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from auditor.errors import ConfigError

Fault = Literal["drop", "throttle", "error"]


@dataclass
class FaultPlan:
    """What to break, and how often. Counters ("every Nth") run over Graph requests only."""

    seed: int = 0
    latency_ms: float = 0
    throttle_every: int = 0
    retry_after_s: float = 1
    error_rate: float = 0
    drop_every: int = 0
    psrp_fail: frozenset[str] = frozenset()
    graph_down: bool = False
    exchange_down: bool = False
    token_error: int | None = None
    batch_failed_dependency: bool = False
    """$batch answers its envelope 424 Failed Dependency when an item inside was throttled (429), as Graph's
    throttling guidance describes; off, the envelope is 200 (docs/microsoft-facts.md, Microsoft Graph)."""

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Parse ``key=value,key=value`` (e.g. ``seed=7,throttle_every=5,psrp_fail=A+B``)."""
        values: dict[str, object] = {}
        fails: set[str] = set()
        types = {f.name: f for f in dataclasses.fields(cls)}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, sep, raw = (s.strip() for s in item.partition("="))
            if key not in types:
                raise ConfigError(f"fault plan: unknown key '{key}' (known: {', '.join(types)})")
            if not sep or not raw:
                raise ConfigError(f"fault plan: key '{key}' needs a value")
            if key == "psrp_fail":
                fails.update(name.strip() for name in raw.split("+") if name.strip())
                continue
            values[key] = _convert(key, raw)
        if fails:
            values["psrp_fail"] = frozenset(fails)
        return cls(**values)  # type: ignore[arg-type]


def _convert(key: str, raw: str) -> object:
    try:
        if key in ("graph_down", "exchange_down", "batch_failed_dependency"):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        if key in ("seed", "throttle_every", "drop_every", "token_error"):
            number = int(raw)
            if number < 0:
                raise ValueError(raw)
            return number
        real = float(raw)
        if real < 0 or real != real or (key == "error_rate" and real > 1):
            raise ValueError(raw)
        return real
    except ValueError:
        raise ConfigError(f"fault plan: bad value for '{key}': {raw!r}") from None


@dataclass
class FaultInjector:
    """Runtime state of a plan: one sequence over Graph requests and batch items, one seeded RNG."""

    plan: FaultPlan
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sequence: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.plan.seed)

    def next_graph_fault(self, *, can_drop: bool = True) -> Fault | None:
        """The fault for the next Graph request (or $batch item), if any."""
        plan = self.plan
        with self._lock:
            self._sequence += 1
            n = self._sequence
            roll = self._rng.random()
        if can_drop and plan.drop_every and n % plan.drop_every == 0:
            return "drop"
        if plan.throttle_every and n % plan.throttle_every == 0:
            return "throttle"
        if plan.error_rate and roll < plan.error_rate:
            return "error"
        return None


class RequestCounters:
    """Thread-safe request counts per templated route (``GET /v1.0/servicePrincipals/{id}/owners``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, route: str) -> None:
        with self._lock:
            self._counts[route] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self, *, include_batch_items: bool = False) -> int:
        """HTTP requests served; ``$batch`` items (routes ``batch:...``) only when asked."""
        with self._lock:
            return sum(n for route, n in self._counts.items() if include_batch_items or not route.startswith("batch:"))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
