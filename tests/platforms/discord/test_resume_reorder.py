"""Issue 15's reorder-on-resume case on Discord's fake REST API: pass 1 leaves chunk B unsent; by pass 2 HF upvotes
rendered the day as C, A, B. Every paper is posted once, under its own item id, and a vote counts for its paper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperbot.domain import Digest, OutboundChunk, Target
from paperbot.platforms.discord import DiscordChunkSender
from paperbot.platforms.discord.bot import DiscordPlatform
from paperbot.service.commands import CommandContext
from paperbot.service.digest import build_digest
from paperbot.service.publish import publish_digest
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY, paper, seed
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.dpy_internals import feed, reaction, settle
from tests.platforms.discord.fake_api import FakeDiscord

TARGET = Target("discord", CHANNEL)
ALICE = 500000000000000001


class _RateLimitedAfter(DiscordChunkSender):
    """The real sender; once chunk ``after`` is decorated, Discord starts answering this channel's POSTs with a
    429 of 600 s (longer than the sender waits: discord.py raises ``RateLimited``, so the chunk is "not sent")."""

    def __init__(self, fake: FakeDiscord, after: int, **options: object) -> None:
        super().__init__(token="test-token", **options)  # type: ignore[arg-type]
        self._fake, self._after, self._decorated = fake, after, 0

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        await super().decorate(channel_id, message_id, chunk)
        self._decorated += 1
        if self._decorated == self._after:
            self._fake.rate_limit("POST", f"/channels/{CHANNEL}/messages", retry_after=600)


async def _digest(repository: InMemoryRepository) -> Digest:
    return await build_digest(repository, day=DAY, target=str(TARGET))


async def test_a_resumed_digest_posts_each_paper_once_under_its_own_id_after_a_reorder(fake: FakeDiscord) -> None:
    repository = InMemoryRepository()
    a, b, c = await seed(repository, [paper(1, upvotes=30), paper(2, upvotes=20), paper(3, upvotes=10)])
    assert a.id is not None and b.id is not None and c.id is not None
    first = await _digest(repository)
    assert [e.item.id for e in first.entries] == [a.id, b.id, c.id]

    sender = _RateLimitedAfter(fake, after=2)  # header, A (both decorated), then B meets the 429
    try:
        one = await publish_digest(repository, first, TARGET, {"discord": sender})
    finally:
        await sender.close()
    assert not one.complete and "rate limited" in (one.error or "")
    assert [m.data["embeds"][0]["title"] for m in fake.channel_messages(CHANNEL)[1:]] == [a.title]

    await repository.update_upvotes(c.id, 90, datetime(2024, 4, 20, 6, tzinfo=UTC) + timedelta(hours=1))
    second = await _digest(repository)
    assert [e.item.id for e in second.entries] == [c.id, a.id, b.id]  # what a re-render would post now
    later = DiscordChunkSender(token="test-token")
    try:
        two = await publish_digest(repository, second, TARGET, {"discord": later})
    finally:
        await later.close()
    assert two.complete and two.sent == 2  # B and C: the header and A went out in pass 1

    messages = fake.channel_messages(CHANNEL)
    titles = [m.data["embeds"][0]["title"] for m in messages if m.data["embeds"]]
    assert titles == [a.title, b.title, c.title]  # each paper once, in the claimed order
    by_title = {a.title: a.id, b.title: b.id, c.title: c.id}
    for message in messages[1:]:
        delivery = await repository.find_delivery_by_message(str(TARGET), message.data["id"])
        assert delivery is not None and delivery.item_id == by_title[message.data["embeds"][0]["title"]]

    # A 👍 on the message showing C counts for C, not for the paper a re-render put at its position.
    [c_message] = [m for m in messages if m.data["embeds"] and m.data["embeds"][0]["title"] == c.title]
    bot = DiscordPlatform(CommandContext(repository), voter_key=b"k" * 32, sync_commands=False)
    await bot.login("test-token")
    try:
        feed(bot, "MESSAGE_REACTION_ADD", reaction(added=True, user_id=ALICE, channel_id=int(CHANNEL),
                                                    message_id=c_message.data["id"]))  # fmt: skip
        await settle(bot)
    finally:
        await bot.close()
    assert await repository.vote_totals([a.id, b.id, c.id], channel_id=CHANNEL) == {c.id: 1}
