"""A rejected header stops the pass: its replies would go out top-level (no thread to post them in)."""

from __future__ import annotations

from paperbot.config import Settings
from paperbot.domain import RunStatus
from paperbot.platforms.slack import ChannelPacer
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY
from tests.platforms.slack.conftest import CHANNEL, daily_digest, publish_once
from tests.platforms.slack.fake_api import Failure, FakeSlack


async def test_a_rejected_header_posts_no_reply_and_fails_the_run(
    fake: FakeSlack, settings: Settings, pacer: ChannelPacer
) -> None:
    repository = InMemoryRepository()
    digest = await daily_digest(repository, 3)
    fake.fail("chat.postMessage", Failure("invalid_blocks"))  # the header's blocks: a 200 with ok=false
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not result.complete and "thread parent" in (result.error or "")
    assert fake.messages(CHANNEL) == [] and len(fake.called("chat.postMessage")) == 1
    run = (await repository.claim_run(f"slack:{CHANNEL}", digest.kind, DAY)).value
    assert run.status is RunStatus.FAILED  # not retried every pass: the header can never be posted as it is
    again = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert not again.complete  # a later pass posts no reply either
    assert len(fake.called("chat.postMessage")) == 1
