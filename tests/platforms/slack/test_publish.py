"""Posting digests over the Web API (``paperbot digest --to slack:ID``) against the fake Slack API."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stamina
import stamina.instrumentation
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from paperbot.config import Settings
from paperbot.digest.build import build_daily
from paperbot.digest.render.slack import unescape
from paperbot.domain import DeliveryState, DigestKind, RunStatus, Subscription, utcnow
from paperbot.errors import ConfigError
from paperbot.platforms.slack import EVENT_TYPE, ChannelPacer, SlackChunkSender, digest_chunks
from paperbot.platforms.slack.api import call_with_retry, make_web_client
from paperbot.service.publish import Delivery, delivery_key, publish_chunks
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY
from tests.platforms.slack.conftest import CHANNEL, VirtualClock, daily_digest, publish_once
from tests.platforms.slack.fake_api import BOT_TOKEN, BOT_USER, Failure, FakeSlack


def posts(fake: FakeSlack) -> list[dict[str, object]]:
    return [call.params for call in fake.called("chat.postMessage")]


async def test_forty_papers_header_then_thread_paced_once(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer, clock: VirtualClock
) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 40)
    assert len(digest.entries) == 40

    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert result.complete and result.sent == 41
    sent = posts(fake)
    assert len(sent) == 41
    header_ts = fake.messages(CHANNEL)[0].ts
    assert "thread_ts" not in sent[0] and "Daily Papers (2024-04-19)" in str(sent[0]["blocks"])
    # Every paper is a reply in the header's thread, in rank order.
    assert all(p["thread_ts"] == header_ts for p in sent[1:])
    assert [m.thread_ts for m in fake.messages(CHANNEL)[1:]] == [header_ts] * 40
    assert "Paper number 0" in str(sent[1]["blocks"]) and "Paper number 39" in str(sent[40]["blocks"])
    keys = set()
    for post in sent:
        assert post["unfurl_links"] is False and post["unfurl_media"] is False
        metadata = post["metadata"]
        assert isinstance(metadata, dict) and metadata["event_type"] == EVENT_TYPE
        keys.add(metadata["event_payload"]["delivery"])
    assert len(keys) == 41
    # Pacing: one message per second per channel (on a virtual clock: 40 waits of a full second, no real sleep).
    assert clock.sleeps == [1.0] * 40
    # 👍 and 👎 under every paper, not under the header.
    adds = fake.called("reactions.add")
    assert len(adds) == 80 and {a.params["name"] for a in adds} == {"thumbsup", "thumbsdown"}
    assert header_ts not in {a.params["timestamp"] for a in adds}
    assert all(c.headers["Authorization"] == f"Bearer {BOT_TOKEN}" for c in fake.calls)
    assert fake.calls[0].method == "auth.test"

    again = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert again.already_done and again.sent == 0
    assert len(posts(fake)) == 41


async def test_mentions_in_titles_arrive_escaped(fake: FakeSlack, settings: Settings, pacer: ChannelPacer) -> None:
    repository = InMemoryRepository()
    hostile = "<!channel> <!here> <@U123> <https://evil.example|click> & *bold*"
    digest = await daily_digest(repository, 1, title=hostile)
    await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    post = posts(fake)[1]
    raw = str(post["blocks"]) + str(post["text"])
    for token in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|click>"):
        assert token not in raw
    assert "&lt;!channel&gt;" in raw and "&amp;" in raw
    section = post["blocks"][0]["text"]  # type: ignore[index]
    assert section["verbatim"] is True and "<!channel>" in unescape(section["text"])


async def test_429_is_retried_after_retry_after(fake: FakeSlack, settings: Settings, pacer: ChannelPacer) -> None:
    """Slack: "a HTTP 429 Too Many Requests error, and a Retry-After HTTP header containing the number of seconds
    until you can retry" (https://api.slack.com/apis/rate-limits). stamina waits that long (a real second here:
    test mode would wait 0), not its own exponential backoff."""
    waits: list[float] = []

    def record(details: stamina.instrumentation.RetryDetails) -> None:
        waits.append(details.wait_for)

    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.rate_limit("chat.postMessage", retry_after=1)
    stamina.instrumentation.set_on_retry_hooks([record])
    try:
        with stamina.set_testing(False):
            result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)
    assert result.complete
    assert len(posts(fake)) == 3 and len(fake.messages(CHANNEL)) == 2  # the 429'd header, its retry, the paper
    assert waits == [1.0]


async def test_rate_limits_are_retried_max_retries_times_then_not_sent(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.fail("chat.postMessage", Failure("ratelimited", 429, {"Retry-After": "1"}), times=10)
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer, max_retries=2)
    assert not result.complete and "rate limited" in (result.error or "")
    assert len(posts(fake)) == 3  # the first try and two retries
    assert [d.state for d in result.deliveries] == [DeliveryState.PENDING] * 2


@pytest.mark.parametrize("error", ["channel_not_found", "fatal_error", "msg_too_long", "invalid_auth"])
async def test_only_rate_limits_are_retried(fake: FakeSlack, settings: Settings, error: str) -> None:
    """``fatal_error`` may have posted the message and the others fail the same way again: one call each."""
    client = make_web_client(settings)
    fake.fail("chat.postMessage", Failure(error), times=10)
    with pytest.raises(SlackApiError) as raised:
        await call_with_retry(lambda: client.chat_postMessage(channel=CHANNEL, text="x"))
    assert raised.value.response["error"] == error
    assert len(posts(fake)) == 1


async def test_ratelimited_error_without_429_is_retried(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.fail("chat.postMessage", Failure("ratelimited"))
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert result.complete and len(fake.messages(CHANNEL)) == 2


async def test_long_rate_limit_leaves_the_chunk_pending(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer, clock: VirtualClock
) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.rate_limit("chat.postMessage", retry_after=3600)
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not result.complete and "rate limited" in (result.error or "")
    # Every chunk's row exists from the claim on (the run's stored rendering): header and paper, both pending.
    assert [d.state for d in result.deliveries] == [DeliveryState.PENDING, DeliveryState.PENDING]
    assert len(posts(fake)) == 1  # longer than the sender waits (max_wait): not retried
    again = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert again.complete and len(fake.messages(CHANNEL)) == 2


async def test_fatal_error_after_posting_is_found_by_metadata_and_not_reposted(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    """Slack posted the reply but answered ``fatal_error``: the next pass finds it in the thread and moves on."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 2)
    fake.fail("chat.postMessage", Failure("fatal_error", apply_first=True))  # hits the header
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not result.complete
    assert [d.state for d in result.deliveries] == [DeliveryState.UNKNOWN, DeliveryState.PENDING, DeliveryState.PENDING]
    assert len(fake.messages(CHANNEL)) == 1  # it was posted despite the error
    resumed = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert resumed.complete and resumed.reconciled == 1 and resumed.sent == 2
    assert len(fake.messages(CHANNEL)) == 3  # the header was not posted twice
    [lookup] = fake.called("conversations.history")
    assert lookup.params["include_all_metadata"] in (True, "true", "1")
    header = fake.messages(CHANNEL)[0]
    assert all(m.thread_ts == header.ts for m in fake.messages(CHANNEL)[1:])


async def test_unknown_reply_is_looked_up_in_the_thread(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 2)
    # Header and first paper go out; Slack posts the second paper but its answer is fatal_error.
    fake.fail("chat.postMessage", Failure("fatal_error", apply_first=True), after=2)
    stuck = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not stuck.complete and stuck.deliveries[2].state is DeliveryState.UNKNOWN
    resumed = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert resumed.complete and resumed.reconciled == 1 and resumed.sent == 0
    assert len(fake.messages(CHANNEL)) == 3
    [lookup] = fake.called("conversations.replies")
    assert lookup.params["ts"] == fake.messages(CHANNEL)[0].ts
    assert not fake.called("conversations.history")  # replies are not in the channel history


async def test_crash_between_post_and_record_is_reconciled(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    """The process died after Slack accepted the header but before the state was recorded."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    chunks = digest_chunks(digest)
    target = f"slack:{CHANNEL}"
    run = (await repository.claim_run(target, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    await repository.set_run_status(run.id, RunStatus.PUBLISHING)
    stored = (await repository.add_delivery(Delivery(run_id=run.id, target=target, chunk=0))).value
    assert stored.id is not None
    await repository.transition_delivery(stored.id, expected=[DeliveryState.PENDING], new=DeliveryState.SENDING)
    sender = SlackChunkSender(make_web_client(settings), pacer=pacer)
    await sender.send(CHANNEL, chunks[0], key=delivery_key(run, stored))
    # Later, after the "sending" row has gone stale, a new pass looks before sending.
    result = await publish_chunks(
        repository, sender, target=target, kind=DigestKind.DAILY, day=DAY, chunks=chunks,
        now=lambda: utcnow() + timedelta(minutes=10),
    )  # fmt: skip
    assert result.complete and result.reconciled == 1 and result.sent == 1
    assert len(fake.messages(CHANNEL)) == 2
    assert fake.messages(CHANNEL)[1].thread_ts == fake.messages(CHANNEL)[0].ts


async def test_msg_too_long_fails_that_chunk_only(fake: FakeSlack, settings: Settings, pacer: ChannelPacer) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 2)
    fake.fail("chat.postMessage", Failure("msg_too_long"), after=1)
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert result.complete and result.failed == 1 and result.sent == 2
    assert [d.state for d in result.deliveries] == [DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.SENT]
    assert result.deliveries[1].last_error == f"post to {CHANNEL}: rejected: msg_too_long"


async def test_missing_channel_marks_the_subscription_broken(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    repository = InMemoryRepository()
    await repository.save_subscription(Subscription(platform="slack", channel_id=CHANNEL))
    digest = await daily_digest(repository, 3)
    fake.gone_channels.add(CHANNEL)
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not result.complete and result.broken_reason == f"post to {CHANNEL}: channel_not_found"
    assert len(posts(fake)) == 1  # no retry loop
    [subscription] = await repository.list_subscriptions(platform="slack")
    assert subscription.broken_reason == result.broken_reason


async def test_empty_digest_posts_only_the_header(fake: FakeSlack, settings: Settings, pacer: ChannelPacer) -> None:
    repository = InMemoryRepository()
    digest = build_daily(DAY, [], target=f"slack:{CHANNEL}")
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert result.complete and len(posts(fake)) == 1 and "2024-04-19" in str(posts(fake)[0]["blocks"])


async def test_bad_token_channel_and_missing_token_are_config_errors(fake: FakeSlack, settings: Settings) -> None:
    repository = InMemoryRepository()
    digest = build_daily(DAY, [], target=f"slack:{CHANNEL}")
    with pytest.raises(ConfigError, match="channel id"):
        await publish_once(settings, repository, digest, "#general")
    with pytest.raises(ConfigError, match="PAPERBOT_SLACK_BOT_TOKEN"):
        await publish_once(Settings(slack_api_base=fake.base), repository, digest, CHANNEL)
    wrong = Settings(slack_bot_token="xoxb-wrong", slack_api_base=fake.base)
    with pytest.raises(ConfigError, match="invalid_auth"):
        await publish_once(wrong, repository, digest, CHANNEL)
    assert not posts(fake)
    assert BOT_USER  # the fake's bot user is what auth.test reports


async def test_invalid_auth_sends_nothing_and_the_fixed_token_posts_each_chunk_once(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    """``auth.test`` before the pass answers ``invalid_auth``: no ``chat.postMessage`` is attempted, every chunk
    stays pending (none "sending", none "unknown"), and the pass with the right token posts each exactly once."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 3)
    wrong = settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-wrong")})
    with pytest.raises(ConfigError, match="Slack rejected PAPERBOT_SLACK_BOT_TOKEN: invalid_auth"):
        await publish_once(wrong, repository, digest, CHANNEL, pacer=pacer)
    assert [c.method for c in fake.calls] == ["auth.test"]
    run = (await repository.claim_run(f"slack:{CHANNEL}", DigestKind.DAILY, DAY)).value
    assert run.id is not None
    assert [d.state for d in await repository.list_deliveries(run.id)] == [DeliveryState.PENDING] * 4
    assert run.status is RunStatus.PUBLISHING
    assert run.note == "not sent: Slack rejected PAPERBOT_SLACK_BOT_TOKEN: invalid_auth"

    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert result.complete and result.sent == 4 and result.reconciled == 0
    assert not fake.called("conversations.history") and not fake.called("conversations.replies")
    assert len(posts(fake)) == 4 and len(fake.messages(CHANNEL)) == 4
    assert len({p["metadata"]["event_payload"]["delivery"] for p in posts(fake)}) == 4  # type: ignore[index]


async def test_invalid_auth_on_a_post_is_not_sent(fake: FakeSlack, settings: Settings, pacer: ChannelPacer) -> None:
    """A token revoked after ``auth.test``: Slack refused the request, so the chunk goes back to pending."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 1)
    fake.fail("chat.postMessage", Failure("token_revoked"))
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not result.complete and "not sent" in (result.error or "") and "token_revoked" in (result.error or "")
    assert [d.state for d in result.deliveries] == [DeliveryState.PENDING] * 2
    again = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert again.complete and again.sent == 2 and len(fake.messages(CHANNEL)) == 2


async def test_a_rejected_header_stops_the_pass_instead_of_flooding_the_channel(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    """The papers are replies in the header's thread; with the header rejected (``invalid_blocks``,
    ``msg_too_long``…) there is no ``thread_ts``, and posting them anyway puts every paper top-level."""
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 3)
    fake.fail("chat.postMessage", Failure("invalid_blocks"))  # the header
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not result.complete
    assert fake.messages(CHANNEL) == []  # nothing top-level
    assert len(posts(fake)) == 1
