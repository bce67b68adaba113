"""Starting the app: Socket Mode connects first; reading votes back waits for the leader and runs in the background."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from paperbot.config import Settings
from paperbot.domain import Subscription
from paperbot.platforms.slack import ChannelPacer
from paperbot.platforms.slack.api import make_web_client
from paperbot.platforms.slack.app import SlackPlatform
from paperbot.service.commands import CommandContext
from paperbot.service.votes import ReconcileResult
from paperbot.store.memory import InMemoryRepository
from tests.platforms.slack.conftest import CHANNEL, MEMBER, NOW, VOTER_KEY, daily_digest, publish_once
from tests.platforms.slack.fake_api import APP_TOKEN, Failure, FakeSlack


async def _posted(repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer, fake: FakeSlack) -> Any:
    await repository.save_subscription(Subscription(platform="slack", channel_id=CHANNEL))
    result = await publish_once(settings, repository, await daily_digest(repository, 2), CHANNEL, pacer=pacer)
    assert result.complete
    return fake.messages(CHANNEL)


async def test_socket_mode_connects_before_any_read_back_and_only_the_leader_reads_back(
    fake: FakeSlack, settings: Settings, repository: InMemoryRepository, pacer: ChannelPacer
) -> None:
    _, first, _ = await _posted(repository, settings, pacer, fake)
    fake.react(CHANNEL, first.ts, "thumbsup", MEMBER)
    app = SlackPlatform(CommandContext(repository, now=lambda: NOW), make_web_client(settings), voter_key=VOTER_KEY)
    leader = asyncio.Event()
    calls_before = len(fake.calls)
    serving = asyncio.create_task(app.run_socket_mode(APP_TOKEN, leader=leader))
    try:
        await fake.wait_for(lambda: len(fake.socket_sessions) == 1)
        started = [c.method for c in fake.calls[calls_before:]]
        assert started == ["auth.test", "apps.connections.open"]  # connected: /paper is served from now on
        # Not the leader (yet): nothing is read back, however long it waits.
        await asyncio.sleep(0.2)
        assert not fake.called("conversations.replies") and not fake.called("reactions.get")
        leader.set()
        assert app.reconciling is not None
        result = await asyncio.wait_for(app.reconciling, 10)
        assert result == ReconcileResult(added=1, removed=0, messages=2, unknown=0)
        assert fake.socket_sessions[0] <= fake.calls.index(fake.called("conversations.replies")[0])
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


async def test_a_failed_read_back_leaves_the_votes_and_the_app_running(
    fake: FakeSlack, settings: Settings, repository: InMemoryRepository, pacer: ChannelPacer
) -> None:
    _, first, second = await _posted(repository, settings, pacer, fake)
    app = SlackPlatform(CommandContext(repository, now=lambda: NOW), make_web_client(settings), voter_key=VOTER_KEY)
    await app.start()
    fake.react(CHANNEL, first.ts, "thumbsup", MEMBER)
    assert (await app.reconcile_votes()).added == 1
    fake.unreact(CHANNEL, first.ts, "thumbsup", MEMBER)
    fake.fail("conversations.replies", Failure("internal_error"))
    assert await app.reconcile_votes() == ReconcileResult(unknown=2)  # the thread could not be read: unknown
    fake.react(CHANNEL, second.ts, "thumbsdown", MEMBER)
    fake.fail("reactions.get", Failure("internal_error"))
    result = await app.reconcile_votes()  # first: no vote shown (withdrawn); second: reactions.get failed
    assert result == ReconcileResult(added=0, removed=1, messages=1, unknown=1)
    assert repository._votes == {}


async def test_one_auth_test_per_process_for_the_app_and_the_digests(
    fake: FakeSlack, repository: InMemoryRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``paperbot run``'s wiring (the composition root, then the runner): the app and the digest sender share the
    one ``auth.test`` of the process, and the app's voter key is the composition root's, from that identity."""
    from paperbot.bootstrap import build_app, slack_voter_key
    from paperbot.domain import Target
    from paperbot.platforms.slack.api import Identity
    from paperbot.platforms.slack.runner import run_slack
    from paperbot.platforms.slack.votes import slack_hasher
    from paperbot.service.publish import publish_digest
    from paperbot.summarize.offline import OfflineSummarizer
    from tests.platforms.slack.fake_api import BOT_TOKEN, BOT_USER, TEAM

    settings = Settings(
        slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_base=fake.base, vote_salt="install-secret"
    )
    started: list[SlackPlatform] = []
    real_start = SlackPlatform.start

    async def start(platform: SlackPlatform) -> Any:
        started.append(platform)
        return await real_start(platform)

    monkeypatch.setattr(SlackPlatform, "start", start)
    async with build_app(settings, repository=repository, sources=[], summarizer=OfflineSummarizer()) as app:
        assert app.slack_on and app.slack_sender is app.senders["slack"]
        serving = asyncio.create_task(run_slack(settings, app.commands, voter_key=app.slack_voter_key,
                                                sender=app.slack_sender))  # fmt: skip
        try:
            await fake.wait_for(lambda: len(fake.socket_sessions) == 1)
            digest = await daily_digest(repository, 2)
            result = await publish_digest(repository, digest, Target("slack", CHANNEL), app.senders)
            assert result.complete and result.sent == 3
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
    assert [c.method for c in fake.calls].count("auth.test") == 1
    [platform] = started
    assert platform.identity == Identity(user_id=BOT_USER, team_id=TEAM, bot_id=platform.identity.bot_id)
    assert platform.votes.bot_user == BOT_USER and platform.votes.team_id == TEAM
    expected = slack_hasher(slack_voter_key(settings, Identity(BOT_USER, TEAM)))
    assert platform.votes.hash_voter(TEAM, MEMBER) == expected(TEAM, MEMBER)
