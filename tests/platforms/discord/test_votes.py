"""Reaction votes: raw gateway payloads fed to the client's parser, against the fake REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paperbot.digest.build import build_daily
from paperbot.domain import DigestKind, Subscription
from paperbot.platforms.discord import DiscordChunkSender, digest_chunks
from paperbot.platforms.discord.bot import DiscordPlatform, VoterHasher
from paperbot.service.commands import CommandContext
from paperbot.service.publish import PublishResult, publish_chunks
from paperbot.store.memory import InMemoryRepository
from tests.platforms.discord.conftest import CHANNEL, DAY, paper, store_papers
from tests.platforms.discord.dpy_internals import feed, guild, reaction, settle
from tests.platforms.discord.fake_api import BOT_ID, FakeDiscord

KEY = b"k" * 32
ALICE = 500000000000000001
BOB = 500000000000000002


async def start_bot(repository: InMemoryRepository) -> DiscordPlatform:
    bot = DiscordPlatform(CommandContext(repository), voter_key=KEY, sync_commands=False)
    await bot.login("test-token")
    return bot


@pytest.fixture
async def repository() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
async def bot(fake: FakeDiscord, repository: InMemoryRepository) -> AsyncIterator[DiscordPlatform]:
    client = await start_bot(repository)
    yield client
    await client.close()


async def post_digest(repository: InMemoryRepository, bot: DiscordPlatform, count: int = 2) -> PublishResult:
    items = await store_papers(repository, [paper(n) for n in range(count)])
    digest = build_daily(DAY, items, target=f"discord:{CHANNEL}")
    return await publish_chunks(
        repository, DiscordChunkSender(bot), target=f"discord:{CHANNEL}", kind=DigestKind.DAILY, day=DAY,
        chunks=digest_chunks(digest),
    )  # fmt: skip


async def votes(repository: InMemoryRepository, result: PublishResult, chunk: int) -> int:
    item_id = result.deliveries[chunk].item_id
    assert item_id is not None
    return (await repository.vote_totals([item_id], channel_id=CHANNEL)).get(item_id, 0)


async def react(client: DiscordPlatform, result: PublishResult, chunk: int, **kwargs: object) -> None:
    added = bool(kwargs.pop("added", True))
    event = "MESSAGE_REACTION_ADD" if added else "MESSAGE_REACTION_REMOVE"
    message_id = result.deliveries[chunk].platform_message_id
    assert message_id is not None
    feed(client, event, reaction(added=added, channel_id=int(CHANNEL), message_id=message_id, **kwargs))  # type: ignore[arg-type]
    await settle(client)


async def test_votes_added_and_removed_twice_and_out_of_order(
    bot: DiscordPlatform, repository: InMemoryRepository
) -> None:
    result = await post_digest(repository, bot)
    await react(bot, result, 1, user_id=ALICE)
    await react(bot, result, 1, user_id=ALICE)  # the same event twice counts once
    assert await votes(repository, result, 1) == 1
    await react(bot, result, 1, user_id=BOB, emoji="👎")
    await react(bot, result, 1, user_id=BOB)
    assert await votes(repository, result, 1) == 1  # +1 -1 +1
    await react(bot, result, 1, user_id=ALICE, added=False)
    await react(bot, result, 1, user_id=ALICE, added=False)  # removing twice removes once
    assert await votes(repository, result, 1) == 0
    # A removal that arrives before its add (out of order) removes nothing; the add then counts.
    await react(bot, result, 2, user_id=ALICE, added=False)
    await react(bot, result, 2, user_id=ALICE)
    assert await votes(repository, result, 2) == 1
    assert await votes(repository, result, 1) == 0  # other messages untouched


async def test_own_reactions_other_emojis_headers_and_other_bots_do_not_count(
    bot: DiscordPlatform, repository: InMemoryRepository
) -> None:
    feed(bot, "GUILD_CREATE", guild())  # members of cached guilds carry their bot flag
    await settle(bot)
    result = await post_digest(repository, bot)
    await react(bot, result, 1, user_id=BOT_ID)
    await react(bot, result, 1, user_id=ALICE, emoji="🎉")
    await react(bot, result, 0, user_id=ALICE)  # the header presents no paper
    await react(bot, result, 1, user_id=BOB, bot=True)
    assert await votes(repository, result, 1) == 0
    assert not repository._votes


async def test_voter_ids_are_stored_as_keyed_hashes(bot: DiscordPlatform, repository: InMemoryRepository) -> None:
    result = await post_digest(repository, bot)
    await react(bot, result, 1, user_id=ALICE)
    [stored] = repository._votes.values()
    assert str(ALICE) not in stored.voter_hash
    assert stored.voter_hash == VoterHasher(KEY)(ALICE) != VoterHasher(b"x" * 32)(ALICE)
    assert len(stored.voter_hash) == 32


async def test_a_vote_on_a_message_posted_before_a_restart_counts(
    fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    first = await start_bot(repository)
    result = await post_digest(repository, first)
    await first.close()

    restarted = await start_bot(repository)  # empty message cache
    try:
        await react(restarted, result, 1, user_id=ALICE)
        assert await votes(repository, result, 1) == 1
    finally:
        await restarted.close()


async def test_votes_cast_while_down_are_reconciled_at_start(
    fake: FakeDiscord, bot: DiscordPlatform, repository: InMemoryRepository
) -> None:
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    result = await post_digest(repository, bot)
    message_id = result.deliveries[1].platform_message_id
    assert message_id is not None
    reactions = fake.messages[CHANNEL][message_id].reactions
    assert reactions["👍"] == [BOT_ID]  # the bot's own vote buttons
    reactions["👍"] += [ALICE, BOB]
    reactions["👎"] += [BOB]
    fake.add_message(CHANNEL, "someone else's message", author={**fake_user(ALICE)})

    assert await bot.reconcile_votes() == 3
    assert await votes(repository, result, 1) == 1  # +1 +1 -1
    assert await bot.reconcile_votes() == 0  # idempotent
    # A live event for a vote already reconciled is a duplicate, not a second vote.
    await react(bot, result, 1, user_id=ALICE)
    assert await votes(repository, result, 1) == 1

    # While the bot is down again, Bob takes back his 👎 and Alice her 👍: reconcile withdraws both.
    reactions["👎"].remove(BOB)
    reactions["👍"].remove(ALICE)
    assert await bot.reconcile_votes() == 0
    assert await votes(repository, result, 1) == 1  # Bob's 👍 only


def fake_user(user_id: int) -> dict[str, object]:
    from tests.platforms.discord.fake_api import user

    return user(user_id)
