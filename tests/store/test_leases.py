"""The leader lease on every Repository: one holder at a time, renewal, expiry and takeover, release."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from paperbot.ports import Repository

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


async def test_first_holder_wins_and_the_second_is_refused(repository: Repository) -> None:
    assert await repository.acquire_lease("leader", "a", TTL, now=T0)
    assert not await repository.acquire_lease("leader", "b", TTL, now=T0 + timedelta(seconds=1))
    # Another lease name is independent.
    assert await repository.acquire_lease("other", "b", TTL, now=T0)


async def test_renewal_extends_the_lease(repository: Repository) -> None:
    assert await repository.acquire_lease("leader", "a", TTL, now=T0)
    assert await repository.acquire_lease("leader", "a", TTL, now=T0 + timedelta(seconds=20))
    # Without the renewal this instant would be past the expiry; with it "a" still holds the lease.
    assert not await repository.acquire_lease("leader", "b", TTL, now=T0 + timedelta(seconds=40))
    assert await repository.acquire_lease("leader", "a", TTL, now=T0 + timedelta(seconds=45))


async def test_expired_lease_is_taken_over_and_the_old_holder_loses_it(repository: Repository) -> None:
    assert await repository.acquire_lease("leader", "a", TTL, now=T0)
    assert await repository.acquire_lease("leader", "b", TTL, now=T0 + TTL)
    assert not await repository.acquire_lease("leader", "a", TTL, now=T0 + TTL + timedelta(seconds=1))


async def test_release_lets_a_standby_in_at_once_but_only_by_the_holder(repository: Repository) -> None:
    assert await repository.acquire_lease("leader", "a", TTL, now=T0)
    await repository.release_lease("leader", "b")  # not the holder: no effect
    assert not await repository.acquire_lease("leader", "b", TTL, now=T0)
    await repository.release_lease("leader", "a")
    assert await repository.acquire_lease("leader", "b", TTL, now=T0)


async def test_concurrent_candidates_elect_exactly_one(repository: Repository) -> None:
    results = await asyncio.gather(*(repository.acquire_lease("leader", f"h{i}", TTL, now=T0) for i in range(6)))
    assert sorted(results) == [False] * 5 + [True]
