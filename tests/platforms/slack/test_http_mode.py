"""HTTP mode through bolt's real aiohttp adapter on localhost: only correctly signed, fresh requests get in."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from paperbot.errors import ConfigError
from paperbot.platforms.slack.api import make_web_client
from paperbot.platforms.slack.app import SlackPlatform
from paperbot.service.commands import CommandContext
from paperbot.store.memory import InMemoryRepository
from tests.platforms.slack.conftest import ADMIN, CHANNEL, VOTER_KEY
from tests.platforms.slack.fake_api import FakeSlack
from tests.platforms.slack.signed import command_body, reaction_body, sign

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def events_url(platform: Any) -> AsyncIterator[str]:
    runner = await platform.serve_http("127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        await runner.cleanup()


async def post(url: str, body: str, headers: dict[str, str], content_type: str = FORM) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers={"Content-Type": content_type, **headers}) as response,
    ):
        return response.status, await response.text()


async def test_a_signed_command_is_answered(events_url: str, fake: FakeSlack, repository: InMemoryRepository) -> None:
    body = command_body("subscribe", user=ADMIN, response_url=fake.response_url())
    status, _ = await post(events_url, body, sign(body))
    assert status == 200
    [answer] = await fake.wait_for_responses(1)
    assert answer["response_type"] == "ephemeral"
    assert len(await repository.list_subscriptions(platform="slack")) == 1


def _cases(body: str) -> dict[str, dict[str, str]]:
    now = int(time.time())
    good = sign(body)
    return {
        "tampered body": sign(body.replace("subscribe", "unsubscribe")),
        "stale timestamp": sign(body, timestamp=now - 6 * 60),
        "future timestamp": sign(body, timestamp=now + 6 * 60),
        "missing headers": {},
        "missing signature": {"x-slack-request-timestamp": good["x-slack-request-timestamp"]},
        "missing timestamp": {"x-slack-signature": good["x-slack-signature"]},
        "wrong secret": sign(body, secret="another-secret-0123456789abcdef"),
        "garbage timestamp": {**good, "x-slack-request-timestamp": "yesterday"},
    }


@pytest.mark.parametrize(
    "case",
    ["tampered body", "stale timestamp", "future timestamp", "missing headers", "missing signature",
     "missing timestamp", "wrong secret", "garbage timestamp"],
)  # fmt: skip
async def test_unverified_commands_get_401_and_change_nothing(
    events_url: str, fake: FakeSlack, repository: InMemoryRepository, case: str
) -> None:
    body = command_body("subscribe", user=ADMIN, response_url=fake.response_url())
    calls_before = len(fake.calls)
    status, _ = await post(events_url, body, _cases(body)[case])
    assert status == 401
    # No side effect: nothing stored, nothing asked of Slack, nothing answered.
    assert await repository.list_subscriptions(platform="slack") == []
    assert len(fake.calls) == calls_before and fake.responses == []


async def test_unverified_reaction_events_get_401(events_url: str, fake: FakeSlack) -> None:
    body = reaction_body("reaction_added", ts="1713500000.000001")
    calls_before = len(fake.calls)
    for headers in (sign(body, timestamp=int(time.time()) - 301), {}, sign(body + " ")):
        status, _ = await post(events_url, body, headers, content_type="application/json")
        assert status == 401
    assert len(fake.calls) == calls_before


async def test_a_five_minute_window_both_ways(events_url: str, fake: FakeSlack) -> None:
    body = command_body("help", response_url=fake.response_url())
    status, _ = await post(events_url, body, sign(body, timestamp=int(time.time()) - 240))
    assert status == 200
    await fake.wait_for_responses(1)


async def test_http_mode_refuses_to_start_without_a_signing_secret(fake: FakeSlack, settings: Any) -> None:
    platform = SlackPlatform(
        CommandContext(InMemoryRepository()), make_web_client(settings), voter_key=VOTER_KEY, signing_secret=None
    )
    with pytest.raises(ConfigError, match="PAPERBOT_SLACK_SIGNING_SECRET"):
        await platform.serve_http("127.0.0.1", 0)
    assert CHANNEL  # same channel fixtures as the other tests


async def _post_bytes(url: str, body: bytes, headers: dict[str, str], content_type: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"Content-Type": content_type, **headers}) as response,
    ):
        return response.status


MALFORMED: dict[str, tuple[bytes, str]] = {
    "broken JSON": (b'{"type": "event_callback", "event": ', "application/json"),
    "JSON that is not an object": (b"[1, 2]", "application/json"),
    "broken payload JSON": (b"payload=%7B%22type%22%3A", FORM),
    "payload that is a list": (b"payload=%5B1%2C2%5D", FORM),
    "payload that is a string": (b"payload=%22x%22", FORM),
    "not UTF-8": (b"command=%2Fpaper&text=\xff\xfe", FORM),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("signed", [False, True])
async def test_malformed_bodies_get_400_and_one_warning_not_a_500_traceback(
    events_url: str, fake: FakeSlack, caplog: pytest.LogCaptureFixture, case: str, signed: bool
) -> None:
    """bolt's adapter parses the body before it checks the signature: garbage used to be a 500 with an ERROR
    traceback each time. Now it is a 400 and one WARNING line, signed or not."""
    body, content_type = MALFORMED[case]
    headers = sign(body.decode("utf-8", "surrogateescape")) if signed and b"\xff" not in body else {}
    calls_before = len(fake.calls)
    with caplog.at_level(logging.INFO):
        status = await _post_bytes(events_url, body, headers, content_type)
    assert status == 400
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING] == [
        ("WARNING", "slack http: malformed request refused")
    ]
    assert len(fake.calls) == calls_before


async def test_a_unicode_digit_timestamp_is_refused_not_crashed_on(events_url: str, fake: FakeSlack) -> None:
    body = command_body("help", response_url=fake.response_url())
    status, _ = await post(events_url, body, {**sign(body), "x-slack-request-timestamp": "²"})
    assert status == 401
