"""Canaries ranked partition by partition as the listing arrives are exactly those ranked over the whole pool."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.collect.canaries import CanaryPool, choose_canaries, first_ranked
from auditor.collect.shortlists import SLACK, Shortlists

APPS = ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"]


def mailbox(n: int, kind: str = "UserMailbox") -> dict[str, str]:
    return {"PrimarySmtpAddress": f"User{n}@Contoso.com", "RecipientTypeDetails": kind, "Guid": f"guid-{n}"}


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.integers(1, 11), st.integers(0, 8), st.sets(st.integers(0, 399), max_size=120),
       st.sampled_from(["", "2026-W49"]), st.randoms(use_true_random=False))
def test_the_sample_from_shortlists_is_the_sample_of_the_whole_pool(count, parts, size, excluded_ids, week, rnd):
    rows = [mailbox(n, "GroupMailbox" if n % 37 == 5 else "UserMailbox") for n in range(count)]
    partitions: list[list[dict[str, str]]] = [[] for _ in range(parts)]
    for row in rows:
        partitions[rnd.randrange(parts)].append(row)
        if rnd.random() < 0.05:  # a mailbox served by two partitions (renamed while listed): merged later
            partitions[rnd.randrange(parts)].append(row)
    lists = Shortlists(APPS, size, week)
    for part in partitions:
        lists.add(part)
    index = CanaryPool(rows)
    excluded = {f"user{n}@contoso.com" for n in excluded_ids}
    for app in APPS:
        whole = first_ranked(app, (a for a in index.by_address if a not in excluded), size, week) if size else []
        early = lists.choose(app, excluded, index.by_address)
        assert early is None or early == whole
        entry, _ = choose_canaries(app, [], [], excluded, index, size, week=week, shortlists=lists)
        assert entry["sampled"] == whole


def test_a_partition_crowded_with_excluded_mailboxes_is_not_vouched_for():
    rows = [mailbox(n) for n in range(300)]
    lists = Shortlists(APPS[:1], 3)
    lists.add(rows)
    index = CanaryPool(rows)
    crowd = {a for _, a in first_ranked_pairs(APPS[0], index.by_address, 3 + SLACK + 1)}
    assert lists.choose(APPS[0], crowd, index.by_address) is None  # more than SLACK excluded at the front
    assert lists.choose(APPS[0], set(), index.by_address) == first_ranked(APPS[0], index.by_address, 3)


def first_ranked_pairs(app: str, pool: dict[str, object], n: int) -> list[tuple[int, str]]:
    return list(enumerate(first_ranked(app, pool, n)))
