"""Each integration's first-ranked pool mailboxes, worked out partition by partition while the listing travels.

Sampling canaries ranks every pool mailbox for every integration (canaries.first_ranked: SHA-256 of app id,
address and week): 2.5 million digests for 50 integrations over 50,000 mailboxes, over a second of CPU that
used to start only once the whole pool was listed, in front of every access test. With the partitioned
listing, each partition's mailboxes are ranked as soon as the partition arrives, keeping for each integration
only its first `size + SLACK`. The sample is then taken from the union of those shortlists, and it is exactly
what ranking the whole pool gives, by this argument: a mailbox of the sample that is missing from its
partition's shortlist would be preceded there by `size + SLACK` mailboxes, at most SLACK of them excluded
(members, queues, explicit canaries, or not in the merged pool), so by at least `size` candidates, and it
would not be in the sample. Where a shortlist holds more than SLACK excluded mailboxes the guarantee does not
hold, and that integration is ranked over the whole pool as before.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any

from auditor.collect.canaries import in_pool, rank_digests, rank_tails

SLACK = 16


class Shortlists:
    """Per-partition shortlists for the given integrations (app ids), sample size and week."""

    def __init__(self, app_ids: Iterable[str], size: int, week: str = "") -> None:
        self.apps = sorted({a.lower() for a in app_ids})
        self.size, self.week = size, week
        self.keep = size + SLACK
        self._parts: list[tuple[int, dict[str, list[tuple[bytes, str]]]]] = []
        self._lock = threading.Lock()

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rank one partition's pool mailboxes for every integration (called from the partition's thread)."""
        if self.size <= 0 or not self.apps:
            return
        addresses = sorted({str(r["PrimarySmtpAddress"]).lower() for r in rows if in_pool(r)})
        tails = rank_tails(addresses, self.week)
        ranked = {app: heapq.nsmallest(self.keep, zip(rank_digests(app, tails), addresses, strict=True))
                  for app in self.apps}
        with self._lock:
            self._parts.append((len(addresses), ranked))

    def choose(self, app_id: str, excluded: Container[str], pool: Container[str]) -> list[str] | None:
        """The `size` first-ranked pool addresses of `app_id` not excluded (as canaries.first_ranked would give
        them), or None when the shortlists cannot vouch for it (the caller ranks the whole pool)."""
        app = app_id.lower()
        with self._lock:
            parts = list(self._parts)
        union: dict[str, bytes] = {}
        for total, ranked in parts:
            shortlist = ranked.get(app)
            if shortlist is None:
                return None
            out = sum(1 for _, a in shortlist if a in excluded or a not in pool)
            if len(shortlist) < total and out > len(shortlist) - self.size:
                return None
            union.update((a, digest) for digest, a in shortlist)
        ordered = sorted((digest, a) for a, digest in union.items())
        return [a for _, a in ordered if a not in excluded and a in pool][:self.size]
