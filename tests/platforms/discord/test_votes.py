"""Reaction votes: raw gateway payloads fed to the client's parser, against the fake REST API."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from paperbot.digest.build import build_daily
from paperbot.domain import DigestKind, Subscription
from paperbot.platforms.discord import DiscordChunkSender, digest_chunks
from paperbot.platforms.discord.bot import DiscordPlatform, discord_hasher
from paperbot.service.commands import CommandContext
from paperbot.service.publish import PublishResult, publish_chunks
from paperbot.service.votes import ReconcileResult
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY, paper, seed
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.dpy_internals import GUILD_ID, feed, guild, reaction, settle
from tests.platforms.discord.fake_api import BOT_ID, FakeDiscord

KEY = b"k" * 32
ALICE = 500000000000000001
BOB = 500000000000000002
NOW = datetime(2024, 4, 20, 1, 0, tzinfo=UTC)  # the morning after the digest of DAY (2024-04-19)


async def start_bot(repository: InMemoryRepository, *, now: datetime = NOW) -> DiscordPlatform:
    bot = DiscordPlatform(CommandContext(repository, now=lambda: now), voter_key=KEY, sync_commands=False)
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
    items = await seed(repository, [paper(n) for n in range(count)])
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
    assert stored.voter_hash == discord_hasher(KEY)(ALICE) != discord_hasher(b"x" * 32)(ALICE)
    assert len(stored.voter_hash) == 32
    # The same HMAC as before the hasher moved to the service: votes stored by older versions still match.
    assert stored.voter_hash == hmac.new(KEY, f"discord:{ALICE}".encode(), hashlib.sha256).hexdigest()[:32]


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

    assert (await bot.reconcile_votes()).added == 3
    assert await votes(repository, result, 1) == 1  # +1 +1 -1
    assert await bot.reconcile_votes() == ReconcileResult(added=0, removed=0, messages=2, unknown=0)  # idempotent
    # A live event for a vote already reconciled is a duplicate, not a second vote.
    await react(bot, result, 1, user_id=ALICE)
    assert await votes(repository, result, 1) == 1

    # While the bot is down again, Bob takes back his 👎 and Alice her 👍: reconcile withdraws both.
    reactions["👎"].remove(BOB)
    reactions["👍"].remove(ALICE)
    assert (await bot.reconcile_votes()).removed == 2
    assert await votes(repository, result, 1) == 1  # Bob's 👍 only
    # It read the digest's messages one by one (what the database knows), never a channel history.
    assert not [r for r in fake.calls("GET", f"/channels/{CHANNEL}/messages") if r.path.endswith("/messages")]


async def test_reconcile_reaches_the_newest_digest_however_busy_the_channel(
    fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    """``history(limit=100, after=since)`` iterates oldest-first (discord.py: oldest_first "Defaults to True if
    after is specified"), so with 150 messages in the week the newest days were never read back."""
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    chatter = [fake.add_message(CHANNEL, f"chat {n}", author=fake_user(BOB)) for n in range(150)]
    assert len(chatter) == 150
    late = await start_bot(repository, now=datetime(2024, 4, 24, 1, 0, tzinfo=UTC))
    try:
        result = await post_digest(repository, late)  # the newest digest, after all the chatter
        message_id = result.deliveries[1].platform_message_id
        assert message_id is not None
        fake.messages[CHANNEL][message_id].reactions["👍"].append(ALICE)
        assert (await late.reconcile_votes()).added == 1
        assert await votes(repository, result, 1) == 1
    finally:
        await late.close()


async def test_without_read_message_history_votes_are_unknown_and_kept(
    fake: FakeDiscord, bot: DiscordPlatform, repository: InMemoryRepository
) -> None:
    """Get Channel Messages without READ_MESSAGE_HISTORY returns an empty list (not a 403); Get Channel Message
    answers 403. Either way the reactions cannot be read: the votes already counted must stay."""
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    result = await post_digest(repository, bot)
    await react(bot, result, 1, user_id=ALICE)
    fake.no_history.add(CHANNEL)
    outcome = await bot.reconcile_votes()
    assert outcome == ReconcileResult(added=0, removed=0, messages=0, unknown=2)
    assert await votes(repository, result, 1) == 1


async def test_a_skin_tone_thumbs_up_is_a_vote(bot: DiscordPlatform, repository: InMemoryRepository) -> None:
    result = await post_digest(repository, bot)
    await react(bot, result, 1, user_id=ALICE, emoji="👍🏽")
    await react(bot, result, 1, user_id=BOB, emoji="👎🏿")
    [alice, bob] = sorted(repository._votes.values(), key=lambda v: v.value, reverse=True)
    assert (alice.emoji, alice.value, bob.emoji, bob.value) == ("👍", 1, "👎", -1)
    await react(bot, result, 1, user_id=ALICE, emoji="👍🏽", added=False)
    assert await votes(repository, result, 1) == -1


async def test_taking_back_one_skin_tone_keeps_the_vote_another_one_still_shows(
    fake: FakeDiscord, bot: DiscordPlatform, repository: InMemoryRepository
) -> None:
    result = await post_digest(repository, bot)
    message_id = result.deliveries[1].platform_message_id
    assert message_id is not None
    shown = fake.messages[CHANNEL][message_id].reactions
    for emoji in ("👍", "👍🏽"):  # Alice reacted with both: two reactions on Discord, one vote
        shown.setdefault(emoji, []).append(ALICE)
        await react(bot, result, 1, user_id=ALICE, emoji=emoji)
    assert await votes(repository, result, 1) == 1
    shown["👍🏽"].remove(ALICE)
    await react(bot, result, 1, user_id=ALICE, emoji="👍🏽", added=False)
    assert await votes(repository, result, 1) == 1  # her 👍 still stands
    shown["👍"].remove(ALICE)
    await react(bot, result, 1, user_id=ALICE, emoji="👍", added=False)
    assert await votes(repository, result, 1) == 0


async def test_clearing_all_reactions_or_one_emoji_withdraws_those_votes(
    fake: FakeDiscord, bot: DiscordPlatform, repository: InMemoryRepository
) -> None:
    result = await post_digest(repository, bot, count=3)
    first, second = (result.deliveries[n].platform_message_id for n in (1, 2))
    assert first is not None and second is not None
    for user_id, emoji in ((ALICE, "👍"), (BOB, "👍🏽"), (BOB, "👎")):
        await react(bot, result, 1, user_id=user_id, emoji=emoji)
        fake.messages[CHANNEL][first].reactions.setdefault(emoji, []).append(user_id)
    await react(bot, result, 2, user_id=ALICE)
    assert await votes(repository, result, 1) == 1

    # A moderator removes every 👍🏽 (MESSAGE_REACTION_REMOVE_EMOJI): Bob's 👍 vote goes, Alice's plain 👍 stays.
    del fake.messages[CHANNEL][first].reactions["👍🏽"]
    feed(bot, "MESSAGE_REACTION_REMOVE_EMOJI", clear_payload(first, emoji="👍🏽"))
    await settle(bot)
    assert await votes(repository, result, 1) == 0  # Alice +1, Bob -1

    # Then every reaction (MESSAGE_REACTION_REMOVE_ALL): nothing stands on that message; the other keeps its vote.
    feed(bot, "MESSAGE_REACTION_REMOVE_ALL", clear_payload(first))
    await settle(bot)
    assert await votes(repository, result, 1) == 0
    assert [v.message_id for v in repository._votes.values()] == [second]
    assert await votes(repository, result, 2) == 1


def clear_payload(message_id: str, *, emoji: str | None = None) -> dict[str, object]:
    """MESSAGE_REACTION_REMOVE_ALL / MESSAGE_REACTION_REMOVE_EMOJI (gateway events: channel, message, guild ids)."""
    data: dict[str, object] = {"channel_id": CHANNEL, "message_id": message_id, "guild_id": str(GUILD_ID)}
    if emoji is not None:
        data["emoji"] = {"id": None, "name": emoji}
    return data


def fake_user(user_id: int) -> dict[str, object]:
    from tests.platforms.discord.fake_api import user

    return user(user_id)
