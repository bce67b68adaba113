"""``/paper`` as signed slash-command requests through ``AsyncApp.async_dispatch``, answered via the response URL."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from paperbot.domain import ChannelFilters, DigestKind, Item, ItemKind, Subscription
from paperbot.platforms.slack import commands as slack_commands
from paperbot.service.commands import CommandError
from paperbot.store.memory import InMemoryRepository
from tests.factories import paper, seed
from tests.platforms.slack.conftest import ADMIN, ALLOWED, CHANNEL, MEMBER
from tests.platforms.slack.fake_api import FakeSlack
from tests.platforms.slack.signed import command_request


async def run_command(platform: Any, fake: FakeSlack, text: str, *, user: str = MEMBER) -> dict[str, Any]:
    """Dispatch ``/paper text`` and return the one answer posted to its response URL."""
    before = len(fake.responses)
    response = await platform.app.async_dispatch(command_request(text, user=user, response_url=fake.response_url()))
    assert response.status == 200 and response.body == ""  # an empty ack: nothing shown until the answer
    [answer] = (await fake.wait_for_responses(before + 1))[before:]
    assert answer["replace_original"] is False
    assert answer["unfurl_links"] is False and answer["unfurl_media"] is False
    return answer


def shown(answer: dict[str, Any]) -> str:
    return str(answer["blocks"])


@pytest.mark.parametrize("text", ["", "help", "   ", "frobnicate now", "HELP"])
async def test_empty_unknown_and_help_show_the_help_ephemerally(platform: Any, fake: FakeSlack, text: str) -> None:
    answer = await run_command(platform, fake, text)
    assert answer["response_type"] == "ephemeral"
    assert "paperbot 사용법" in answer["text"] and "subscribe" in shown(answer)


async def test_today_lists_the_channel_digest(platform: Any, fake: FakeSlack, repository: InMemoryRepository) -> None:
    await seed(repository, [paper(n) for n in range(3)])
    answer = await run_command(platform, fake, "today")
    assert answer["response_type"] == "in_channel"
    assert "2024-04-19" in answer["text"] and "Paper number 0" in shown(answer)
    assert "첫째 요점입니다." in shown(answer)


async def test_top_week_and_bad_period(platform: Any, fake: FakeSlack, repository: InMemoryRepository) -> None:
    await seed(repository, [paper(n) for n in range(2)])
    answer = await run_command(platform, fake, "top week")
    assert answer["response_type"] == "in_channel" and "최근 7일" in answer["text"]
    assert shown(answer).index("Paper number 0") < shown(answer).index("Paper number 1")
    bad = await run_command(platform, fake, "top year")
    assert bad["response_type"] == "ephemeral" and "day, week, month" in bad["text"]


async def test_show_known_paper_and_bad_id(platform: Any, fake: FakeSlack, repository: InMemoryRepository) -> None:
    await seed(repository, [paper(1)])
    answer = await run_command(platform, fake, "show https://arxiv.org/abs/2404.12001v2")
    assert "2404.12001" in answer["text"] and "https://arxiv.org/abs/2404.12001" in shown(answer)
    bad = await run_command(platform, fake, "show not-an-id")
    assert bad["response_type"] == "ephemeral" and "arXiv ID" in bad["text"]
    missing = await run_command(platform, fake, "show")
    assert missing["response_type"] == "ephemeral" and "arXiv ID" in missing["text"]


async def test_search_with_limit(platform: Any, fake: FakeSlack, repository: InMemoryRepository) -> None:
    await seed(repository, [paper(n, title=f"Diffusion transformer {n}") for n in range(5)])
    answer = await run_command(platform, fake, "search diffusion --limit 2")
    assert "검색 결과 2건" in answer["text"]
    empty = await run_command(platform, fake, "search")
    assert empty["response_type"] == "ephemeral" and "검색어" in empty["text"]


async def test_search_text_arrives_with_entities_and_is_unescaped(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(1, title="Q&A agents")])
    answer = await run_command(platform, fake, "search Q&amp;A")
    assert "Q&amp;A agents" in shown(answer)  # found, and shown escaped again


async def test_admin_subscribes_unsubscribes_and_configures(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    answer = await run_command(platform, fake, "subscribe weekly 08:30 UTC", user=ADMIN)
    assert answer["response_type"] == "ephemeral" and "매주" in answer["text"]
    [subscription] = await repository.list_subscriptions(platform="slack")
    assert (subscription.channel_id, subscription.kind, subscription.time, subscription.timezone) == (
        CHANNEL, DigestKind.WEEKLY, "08:30", "UTC",
    )  # fmt: skip
    assert subscription.workspace_id == "T0TEAM001"
    assert fake.called("users.info")[-1].params["user"] == ADMIN  # checked at run time

    answer = await run_command(platform, fake, "config keywords=“LLM, agent” exclude=- min_upvotes=10", user=ADMIN)
    assert answer["response_type"] == "ephemeral" and "바꿨습니다" in answer["text"]
    [subscription] = await repository.list_subscriptions(platform="slack")
    assert subscription.filters == ChannelFilters(keywords=("LLM", "agent"), min_upvotes=10)
    shown_filters = await run_command(platform, fake, "config", user=ADMIN)
    assert "LLM, agent" in shown(shown_filters)

    bad = await run_command(platform, fake, "config colour=red", user=ADMIN)
    assert bad["response_type"] == "ephemeral" and "keywords" in bad["text"]

    answer = await run_command(platform, fake, "unsubscribe", user=ADMIN)
    assert answer["response_type"] == "ephemeral" and "해지" in answer["text"]
    assert await repository.list_subscriptions(platform="slack") == []


async def test_non_admin_config_and_subscribe_are_refused(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    await repository.save_subscription(Subscription(platform="slack", channel_id=CHANNEL))
    for text in ("config keywords=spam", "subscribe daily", "unsubscribe"):
        answer = await run_command(platform, fake, text, user=MEMBER)
        assert answer["response_type"] == "ephemeral" and "관리자" in answer["text"]
    [subscription] = await repository.list_subscriptions(platform="slack")
    assert subscription.filters == ChannelFilters()


async def test_allow_list_grants_admin_without_asking_slack(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    asked = len(fake.called("users.info"))
    await run_command(platform, fake, "subscribe", user=ALLOWED)
    assert len(await repository.list_subscriptions(platform="slack")) == 1
    assert len(fake.called("users.info")) == asked


async def test_admin_rights_are_checked_each_time(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    await run_command(platform, fake, "subscribe", user=ADMIN)
    fake.users[ADMIN]["is_admin"] = False  # demoted in Slack
    answer = await run_command(platform, fake, "unsubscribe", user=ADMIN)
    assert "관리자" in answer["text"] and len(await repository.list_subscriptions(platform="slack")) == 1


async def test_status_is_ephemeral(platform: Any, fake: FakeSlack) -> None:
    answer = await run_command(platform, fake, "status")
    assert answer["response_type"] == "ephemeral" and "상태" in answer["text"] and "구독" in shown(answer)


class SlowSource:
    """An HF source whose fetch waits until the test lets it go."""

    name = "hf_daily"
    kind = ItemKind.PAPER

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def fetch(self, day: object, *, state: object = None) -> object:
        raise NotImplementedError

    async def fetch_one(self, external_id: str) -> Item | None:
        await self.release.wait()
        return paper(77)


async def test_ack_comes_before_the_slow_work(platform: Any, fake: FakeSlack) -> None:
    source = SlowSource()
    platform.context.sources = (source,)
    response = await platform.app.async_dispatch(command_request("show 2404.12077", response_url=fake.response_url()))
    assert response.status == 200 and fake.responses == []  # acknowledged while the fetch is still waiting
    source.release.set()
    [answer] = await fake.wait_for_responses(1)
    assert "2404.12077" in answer["text"] and answer["response_type"] == "in_channel"


def test_parse() -> None:
    assert slack_commands.parse("").name == "help"
    assert slack_commands.parse("SEARCH  a b").rest == "a b"
    assert slack_commands.parse("config authors='Kim Minsu, Lee'").tokens == ("authors=Kim Minsu, Lee",)
    with pytest.raises(CommandError, match="usage"):
        slack_commands.parse('config keywords="open')
    inv = slack_commands.parse("subscribe")
    assert inv.is_admin_command and inv.ephemeral
    assert not slack_commands.parse("today").ephemeral


async def test_socket_mode_requests_need_no_signature_but_http_ones_do(platform: Any, fake: FakeSlack) -> None:
    """Socket Mode payloads arrive over the app-token websocket (bolt's own socket adapter feeds them so)."""
    from urllib.parse import parse_qsl

    from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app
    from slack_sdk.socket_mode.request import SocketModeRequest

    from tests.platforms.slack.signed import command_body

    payload = dict(parse_qsl(command_body("help", response_url=fake.response_url())))
    request = SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=payload)
    response = await run_async_bolt_app(platform.app, request)
    assert response.status == 200
    [answer] = await fake.wait_for_responses(1)
    assert "paperbot 사용법" in answer["text"]
    from slack_bolt.request.async_request import AsyncBoltRequest

    unsigned_http = AsyncBoltRequest(body=command_body("help", response_url=fake.response_url()))
    assert (await platform.app.async_dispatch(unsigned_http)).status == 401


async def test_hostile_titles_in_answers_are_escaped(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(1, title="<!channel> <@U0BOSS> *now* <https://evil.example|x>")])
    answer = await run_command(platform, fake, "today")
    raw = shown(answer)
    assert "<!channel>" not in raw and "<@U0BOSS>" not in raw and "<https://evil.example" not in raw
    assert "&lt;!channel&gt;" in raw


@pytest.mark.parametrize("value", ["²", "١٢", "9" * 5000, "-1", "1e3", "10001"])
async def test_config_min_upvotes_odd_values_get_a_usage_answer_not_a_crash(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, value: str
) -> None:
    """'²'.isdigit() is True and int('²') raises; so does int() on 5,000 digits: the handler crashed on both."""
    await repository.save_subscription(Subscription(platform="slack", channel_id=CHANNEL))
    answer = await run_command(platform, fake, f"config min_upvotes={value}", user=ADMIN)
    assert answer["response_type"] == "ephemeral"
    assert "min_upvotes" in answer["text"] or "최소 추천 수" in answer["text"]
    [subscription] = await repository.list_subscriptions(platform="slack")
    assert subscription.filters == ChannelFilters()


async def test_a_refused_answer_is_logged_and_followed_by_a_short_plain_text_one(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, caplog: pytest.LogCaptureFixture
) -> None:
    """bolt's ``respond`` returns the response URL's answer and never raises: a 400 used to vanish silently."""
    await seed(repository, [paper(n) for n in range(3)])
    fake.respond_failures.append((400, "invalid_blocks"))
    with caplog.at_level(logging.WARNING, logger="paperbot.platforms.slack.app"):
        response = await platform.app.async_dispatch(command_request("today", response_url=fake.response_url()))
        assert response.status == 200
        [answer] = await fake.wait_for_responses(1)
    [refused] = fake.refused
    assert refused["status"] == 400 and refused["blocks"]
    assert "blocks" not in answer and "2024-04-19" in answer["text"] and "줄였습니다" in answer["text"]
    assert answer["response_type"] == "in_channel"
    [logged] = [r for r in caplog.records if r.getMessage() == "slack respond refused"]
    assert (logged.status, logged.body) == (400, "invalid_blocks")  # type: ignore[attr-defined]


async def test_subscribe_is_confirmed_in_the_channel(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    answer = await run_command(platform, fake, "subscribe daily 08:00", user=ADMIN)
    assert "✅" in answer["text"]
    [confirmation] = fake.messages(CHANNEL)
    assert "✅" in confirmation.text and "08:00" in confirmation.text
    assert len(await repository.list_subscriptions(platform="slack")) == 1


async def test_subscribe_where_the_bot_is_not_a_member_is_refused_at_once(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    """``respond`` works without membership, so the old ✅ came back; the first digest then failed with
    ``not_in_channel``. The confirmation goes through ``chat.postMessage`` like a digest, and fails the same way."""
    previous = Subscription(platform="slack", channel_id=CHANNEL, kind=DigestKind.WEEKLY, time="07:00")
    await repository.save_subscription(previous)
    fake.not_member.add(CHANNEL)
    answer = await run_command(platform, fake, "subscribe daily 08:00", user=ADMIN)
    assert answer["response_type"] == "ephemeral"
    assert "/invite @paperbot" in answer["text"] and "구독하지 않았습니다" in answer["text"]
    [kept] = await repository.list_subscriptions(platform="slack")  # put back as it was
    assert (kept.kind, kept.time) == (DigestKind.WEEKLY, "07:00")
    fake.not_member.discard(CHANNEL)
    fake.gone_channels.add(CHANNEL)
    answer = await run_command(platform, fake, "subscribe daily", user=ADMIN)
    assert "channel_not_found" in answer["text"]


async def test_subscribe_in_a_direct_message_is_refused(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository
) -> None:
    before = len(fake.responses)
    request = command_request("subscribe", user=ADMIN, channel="D0DIRECT01", response_url=fake.response_url())
    await platform.app.async_dispatch(request)
    [answer] = (await fake.wait_for_responses(before + 1))[before:]
    assert answer["response_type"] == "ephemeral" and "다이렉트 메시지" in answer["text"]
    assert await repository.list_subscriptions() == []
    assert not fake.called("chat.postMessage")
