"""A send's deadline covers discord.py's rate-limit waits: waiting out a 429 is never "outcome unknown".

Discord answers 429 without applying the request ("you are being rate limited",
https://discord.com/developers/docs/topics/rate-limits): a deadline that runs out while discord.py sleeps out a 429
means the chunk was certainly not posted. Only a deadline hit with a request on the wire leaves it unknown.
"""

from __future__ import annotations

from paperbot.domain import DeliveryState, Digest, Target
from paperbot.platforms.discord import DiscordChunkSender
from paperbot.service.digest import build_digest
from paperbot.service.publish import publish_digest
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY, paper, seed
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.fake_api import FakeDiscord

TARGET = Target("discord", CHANNEL)
MESSAGES = f"/channels/{CHANNEL}/messages"


async def _digest(repository: InMemoryRepository) -> Digest:
    await seed(repository, [paper(1)])
    return await build_digest(repository, day=DAY, target=str(TARGET))


async def test_a_rate_limit_wait_longer_than_one_request_timeout_still_posts(fake: FakeDiscord) -> None:
    """The request timeout (here 0.1 s) is shorter than the 429's wait (0.4 s): the send waits and posts."""
    repository = InMemoryRepository()
    fake.rate_limit("POST", MESSAGES, retry_after=0.4)
    sender = DiscordChunkSender(token="test-token", timeout=0.1, max_ratelimit_wait=5.0)
    try:
        result = await publish_digest(repository, await _digest(repository), TARGET, {"discord": sender})
    finally:
        await sender.close()
    assert result.complete and len(fake.channel_messages(CHANNEL)) == 2


async def test_a_deadline_hit_while_waiting_out_429s_is_not_sent_not_unknown(fake: FakeDiscord) -> None:
    """429 after 429 (each within what discord.py waits) until the send's deadline passes in a sleep: the header is
    certainly not posted, so it goes back to pending (not "unknown", which would make the next pass search the
    history first and leave the run stuck when the history cannot be read)."""
    repository = InMemoryRepository()
    for _ in range(4):
        fake.rate_limit("POST", MESSAGES, retry_after=0.3)
    sender = DiscordChunkSender(token="test-token", timeout=0.05, max_ratelimit_wait=0.5)
    try:
        result = await publish_digest(repository, await _digest(repository), TARGET, {"discord": sender})
    finally:
        await sender.close()
    assert not result.complete and "rate limited" in (result.error or "")
    assert [d.state for d in result.deliveries] == [DeliveryState.PENDING, DeliveryState.PENDING]
    assert fake.channel_messages(CHANNEL) == []
