"""Reaction votes, platform-neutral, on every repository: counting and reconciling with what a platform shows."""

from __future__ import annotations

from datetime import date

from paperbot.domain import Delivery, DigestKind, Item, ItemKind
from paperbot.ports import Repository
from paperbot.service.votes import Reaction, VoteOutcome, record_reaction, sync_message_votes

DAY = date(2024, 4, 19)


async def _digest_message(repository: Repository) -> int:
    item = (
        await repository.add_item(
            Item(source="hf_daily", external_id="2404.1", kind=ItemKind.PAPER, title="t", url="u", day=DAY)
        )
    ).value
    run = (await repository.claim_run("slack:C1", DigestKind.DAILY, DAY)).value
    assert run.id is not None and item.id is not None
    await repository.add_delivery(
        Delivery(run_id=run.id, target="slack:C1", chunk=1, item_id=item.id, platform_message_id="m1")
    )
    await repository.add_delivery(Delivery(run_id=run.id, target="slack:C1", chunk=0, platform_message_id="header"))
    return item.id


async def test_reactions_count_once_and_only_on_digest_items(repository: Repository) -> None:
    item_id = await _digest_message(repository)
    like = Reaction("slack", "C1", "m1", "v1", "👍", added=True)
    assert await record_reaction(repository, like) is VoteOutcome.COUNTED
    assert await record_reaction(repository, like) is VoteOutcome.DUPLICATE
    assert await record_reaction(repository, Reaction("slack", "C1", "header", "v1", "👍", True)) is VoteOutcome.IGNORED
    assert await record_reaction(repository, Reaction("slack", "C1", "m1", "v1", "🎉", True)) is VoteOutcome.IGNORED
    assert await repository.vote_totals([item_id]) == {item_id: 1}
    assert await record_reaction(repository, Reaction("slack", "C1", "m1", "v1", "👍", False)) is VoteOutcome.REMOVED
    assert await record_reaction(repository, Reaction("slack", "C1", "m1", "v1", "👍", False)) is VoteOutcome.NOT_FOUND


async def test_sync_adds_missing_and_withdraws_stale_votes(repository: Repository) -> None:
    item_id = await _digest_message(repository)
    await record_reaction(repository, Reaction("slack", "C1", "m1", "gone", "👍", True))
    await record_reaction(repository, Reaction("slack", "C1", "m1", "stays", "👎", True))
    present = [("stays", "👎"), ("new", "👍"), ("new", "🎉")]  # 🎉 is not a vote
    added, removed = await sync_message_votes(
        repository, platform="slack", channel_id="C1", message_id="m1", present=present
    )
    assert (added, removed) == (1, 1)
    assert sorted((v.voter_hash, v.emoji) for v in await repository.list_votes("slack", "m1")) == [
        ("new", "👍"),
        ("stays", "👎"),
    ]
    assert await repository.vote_totals([item_id]) == {item_id: 0}
    again = await sync_message_votes(repository, platform="slack", channel_id="C1", message_id="m1", present=present)
    assert again == (0, 0)
    not_ours = await sync_message_votes(
        repository, platform="slack", channel_id="C1", message_id="header", present=[("x", "👍")]
    )
    assert not_ours == (0, 0)
