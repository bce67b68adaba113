"""Posting digests over REST (``paperbot digest --to discord:ID``) against the fake Discord API."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from paperbot.config import Settings
from paperbot.digest.build import build_daily
from paperbot.domain import Delivery, DeliveryState, Digest, DigestKind, RunStatus, Subscription
from paperbot.errors import ConfigError
from paperbot.platforms.discord import DiscordChunkSender, digest_chunks
from paperbot.platforms.discord.api import make_client
from paperbot.service.publish import publish_chunks
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY, paper, seed
from tests.platforms.discord.conftest import CHANNEL, publish_once
from tests.platforms.discord.fake_api import Failure, FakeDiscord


async def daily_digest(repository: InMemoryRepository, count: int, **paper_args: object) -> Digest:
    items = await seed(repository, [paper(n, **paper_args) for n in range(count)])  # type: ignore[arg-type]
    summaries = await repository.latest_summaries([i.id for i in items if i.id is not None])
    return build_daily(DAY, items, summaries=summaries, target=f"discord:{CHANNEL}")


async def test_posts_a_header_and_one_message_per_paper_once(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 12)  # more than 10 papers
    assert len(digest.entries) >= 10

    result = await publish_once(settings, repository, digest, CHANNEL)
    assert result.complete and result.sent == len(digest.entries) + 1
    posts = fake.sent(CHANNEL)
    assert len(posts) == len(digest.entries) + 1
    assert "Daily Papers (2024-04-19)" in posts[0].json["content"]
    for post in posts:
        assert post.json["allowed_mentions"]["parse"] == []
        assert post.json["enforce_nonce"] is True and 0 < len(post.json["nonce"]) <= 25
        assert post.headers["Authorization"] == "Bot test-token"
    assert len({post.json["nonce"] for post in posts}) == len(posts)
    titles = [post.json["embeds"][0]["title"] for post in posts[1:]]
    assert titles[0].startswith("Paper number 0")
    # The bot adds 👍 and 👎 under every paper, not under the header.
    assert len(fake.calls("PUT", "/reactions/")) == 2 * len(digest.entries)
    assert all(d.state is DeliveryState.SENT for d in result.deliveries)
    # No gateway: only REST calls were made.
    assert not fake.calls("GET", "/gateway")

    again = await publish_once(settings, repository, digest, CHANNEL)
    assert again.already_done and again.sent == 0
    assert len(fake.sent(CHANNEL)) == len(posts)


async def _run_state(repository: InMemoryRepository) -> tuple[RunStatus, str | None, list[DeliveryState]]:
    run = (await repository.claim_run(f"discord:{CHANNEL}", DigestKind.DAILY, DAY)).value
    assert run.id is not None
    return run.status, run.note, [d.state for d in await repository.list_deliveries(run.id)]


async def test_a_401_at_login_sends_nothing_and_the_fixed_token_posts_each_chunk_once(
    fake: FakeDiscord, settings: Settings
) -> None:
    """The login before the pass (``GET /users/@me``) meets the 401: no chunk is attempted, every chunk stays
    pending (none "sending", none "unknown"), and the pass with the right token posts each exactly once."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 3)
    wrong = settings.model_copy(update={"discord_token": SecretStr("wrong-token")})
    with pytest.raises(ConfigError, match="Discord rejected PAPERBOT_DISCORD_TOKEN"):
        await publish_once(wrong, repository, digest, CHANNEL)
    assert fake.calls("GET", "/users/@me") and not fake.sent(CHANNEL)
    status, note, states = await _run_state(repository)
    assert states == [DeliveryState.PENDING] * 4
    assert status is RunStatus.PUBLISHING and note == "not sent: Discord rejected PAPERBOT_DISCORD_TOKEN"

    result = await publish_once(settings, repository, digest, CHANNEL)
    assert result.complete and result.sent == 4 and result.reconciled == 0
    assert not fake.calls("GET", f"/channels/{CHANNEL}/messages")  # nothing to look up: nothing was unknown
    posts = fake.sent(CHANNEL)
    assert len(posts) == 4 and len({post.json["nonce"] for post in posts}) == 4
    assert len(fake.channel_messages(CHANNEL)) == 4


async def test_a_401_on_a_send_is_not_sent(fake: FakeDiscord, settings: Settings) -> None:
    """A token revoked between login and the post: Discord refused the request, so the chunk goes back to pending."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.fail("POST", f"/channels/{CHANNEL}/messages", Failure(401, {"message": "401: Unauthorized", "code": 0}))
    result = await publish_once(settings, repository, digest, CHANNEL)
    assert not result.complete and "not sent" in (result.error or "") and "401" in (result.error or "")
    assert [d.state for d in result.deliveries] == [DeliveryState.PENDING] * 2
    again = await publish_once(settings, repository, digest, CHANNEL)
    assert again.complete and again.sent == 2 and len(fake.channel_messages(CHANNEL)) == 2


async def test_mentions_in_titles_cannot_ping(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1, title="@everyone <@123> <@&1> @here [x](javascript:alert(1))")
    await publish_once(settings, repository, digest, CHANNEL)
    body = fake.sent(CHANNEL)[1].json
    assert body["allowed_mentions"] == {"parse": []}
    title = body["embeds"][0]["title"]
    assert "@everyone" not in title and "<@123>" not in title and "](javascript" not in title


async def test_rate_limit_is_waited_out(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.rate_limit("POST", f"/channels/{CHANNEL}/messages", retry_after=0.01)
    result = await publish_once(settings, repository, digest, CHANNEL)
    assert result.complete
    assert len(fake.sent(CHANNEL)) == 3  # the 429'd header, its retry, the paper
    assert len(fake.channel_messages(CHANNEL)) == 2


async def test_a_retried_post_carries_the_same_nonce_and_posts_once(fake: FakeDiscord, settings: Settings) -> None:
    """Discord created the message but answered 502: discord.py retries with the same nonce, Discord dedupes."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.fail("POST", f"/channels/{CHANNEL}/messages", Failure(502, {"message": "bad gateway"}, apply_first=True))
    result = await publish_once(settings, repository, digest, CHANNEL)
    assert result.complete
    first, retry, _ = fake.sent(CHANNEL)
    assert first.json["nonce"] == retry.json["nonce"]
    assert len(fake.channel_messages(CHANNEL)) == 2


async def test_unknown_outcome_is_found_in_history_and_not_reposted(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 2)
    chunks = digest_chunks(digest)
    target = f"discord:{CHANNEL}"
    async with make_client() as client:
        await client.login("test-token")
        sender = DiscordChunkSender(client)
        # First pass: chunk 1 is posted, then "the process dies" before recording it.
        await publish_chunks(repository, sender, target=target, kind=DigestKind.DAILY, day=DAY, chunks=chunks[:1])
        run = (await repository.claim_run(target, DigestKind.DAILY, DAY)).value
        assert run.id is not None
        await repository.set_run_status(run.id, RunStatus.PUBLISHING)
        stuck = (await repository.add_delivery(_delivery(run.id, target, 1, chunks[1].item_id))).value
        assert stuck.id is not None
        await repository.transition_delivery(stuck.id, expected=[DeliveryState.PENDING], new=DeliveryState.SENDING)
        await repository.transition_delivery(stuck.id, expected=[DeliveryState.SENDING], new=DeliveryState.UNKNOWN)
        from paperbot.service.publish import delivery_key

        await sender.send(CHANNEL, chunks[1], key=delivery_key(run, stuck))
        posted_before = len(fake.sent(CHANNEL))

        result = await publish_chunks(repository, sender, target=target, kind=DigestKind.DAILY, day=DAY, chunks=chunks)
    assert result.complete and result.reconciled == 1
    assert len(fake.sent(CHANNEL)) == posted_before + 1  # only the third chunk
    assert fake.calls("GET", f"/channels/{CHANNEL}/messages")  # looked it up in the history


def _delivery(run_id: int, target: str, chunk: int, item_id: int | None) -> Delivery:
    return Delivery(run_id=run_id, target=target, chunk=chunk, item_id=item_id)


async def test_forbidden_channel_marks_the_subscription_broken(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    digest = await daily_digest(repository, 3)
    fake.forbidden_channels.add(CHANNEL)
    result = await publish_once(settings, repository, digest, CHANNEL)
    assert not result.complete and result.broken_reason and "403" in result.broken_reason
    assert len(fake.sent(CHANNEL)) == 1  # no retry loop
    [subscription] = await repository.list_subscriptions(platform="discord")
    assert subscription.broken_reason and "Missing Access" in subscription.broken_reason


async def test_deleted_channel_marks_the_subscription_broken(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    digest = await daily_digest(repository, 1)
    fake.gone_channels.add(CHANNEL)
    result = await publish_once(settings, repository, digest, CHANNEL)
    assert result.broken_reason and "Unknown Channel" in result.broken_reason
    [subscription] = await repository.list_subscriptions(platform="discord")
    assert subscription.broken_reason == result.broken_reason


async def test_an_empty_digest_posts_one_line(fake: FakeDiscord, settings: Settings) -> None:
    repository = InMemoryRepository()
    digest = build_daily(DAY, [], target=f"discord:{CHANNEL}")
    result = await publish_once(settings, repository, digest, CHANNEL)
    assert result.complete and len(fake.sent(CHANNEL)) == 1
    assert "2024-04-19" in fake.sent(CHANNEL)[0].json["content"]


@pytest.mark.parametrize("kind", ["archived thread (50083)", "non-text channel (50008)"])
async def test_an_archived_thread_or_a_non_text_channel_marks_the_subscription_broken(
    fake: FakeDiscord, settings: Settings, kind: str
) -> None:
    """Both are 400s that will never succeed in that channel: "chunk rejected" every day is the wrong outcome."""
    repository = InMemoryRepository()
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    (fake.archived_threads if "50083" in kind else fake.non_text_channels).add(CHANNEL)
    result = await publish_once(settings, repository, await daily_digest(repository, 1), CHANNEL)
    assert result.broken_reason is not None and len(fake.sent(CHANNEL)) == 1  # the header, and no paper after it
    [subscription] = await repository.list_subscriptions()
    assert subscription.broken_reason is not None


async def test_without_read_message_history_an_unknown_chunk_is_not_posted_twice(
    fake: FakeDiscord, settings: Settings
) -> None:
    """Get Channel Messages without READ_MESSAGE_HISTORY returns no messages (a 200, not a 403): the lookup of a
    chunk whose outcome was unknown then finds nothing, and "found nothing" must not mean "was not posted"."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 2)
    chunks = digest_chunks(digest)
    target = f"discord:{CHANNEL}"
    async with make_client() as client:
        await client.login("test-token")
        sender = DiscordChunkSender(client)
        await publish_chunks(repository, sender, target=target, kind=DigestKind.DAILY, day=DAY, chunks=chunks[:1])
        run = (await repository.claim_run(target, DigestKind.DAILY, DAY)).value
        assert run.id is not None
        await repository.set_run_status(run.id, RunStatus.PUBLISHING)
        stuck = (await repository.add_delivery(_delivery(run.id, target, 1, chunks[1].item_id))).value
        assert stuck.id is not None
        await repository.transition_delivery(stuck.id, expected=[DeliveryState.PENDING], new=DeliveryState.SENDING)
        await repository.transition_delivery(stuck.id, expected=[DeliveryState.SENDING], new=DeliveryState.UNKNOWN)
        from paperbot.service.publish import delivery_key

        await sender.send(CHANNEL, chunks[1], key=delivery_key(run, stuck))  # it did go out
        fake.no_history.add(CHANNEL)
        fake.forget_nonces()  # the next pass runs later than Discord remembers nonces
        await publish_chunks(repository, sender, target=target, kind=DigestKind.DAILY, day=DAY, chunks=chunks)
    bodies = [m.data["embeds"][0]["title"] for m in fake.channel_messages(CHANNEL) if m.data["embeds"]]
    assert len(bodies) == len(set(bodies))  # no paper twice
