"""``/paper`` commands: raw INTERACTION_CREATE payloads dispatched through the command tree, answered over the fake
REST API (interaction callback = defer, then follow-up webhooks)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest

from paperbot.digest.render.discord import unescape
from paperbot.domain import DigestKind, Subscription
from paperbot.platforms.discord.bot import DiscordPlatform
from paperbot.platforms.discord.invite import REQUIRED_PERMISSIONS
from paperbot.service.commands import ADMIN_ONLY, CommandContext
from paperbot.store.memory import InMemoryRepository
from tests.factories import paper, seed
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.dpy_internals import ADMIN, CHANNEL_MANAGER, MEMBER, feed, settle, slash
from tests.platforms.discord.fake_api import Failure, FakeDiscord

NOW = datetime(2024, 4, 20, 1, 0, tzinfo=UTC)  # 10:00 KST: "today" covers HF day 2024-04-19
EPHEMERAL = 64


@pytest.fixture
def repository() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
async def bot(fake: FakeDiscord, repository: InMemoryRepository) -> AsyncIterator[DiscordPlatform]:
    client = DiscordPlatform(CommandContext(repository, now=lambda: NOW), voter_key=b"k" * 32)
    await client.login("test-token")  # starts syncing the command tree to the fake
    assert client.command_sync is not None
    assert await client.command_sync == "synced"
    yield client
    await client.close()


async def run(bot: DiscordPlatform, fake: FakeDiscord, sub: str, options: dict[str, Any] | None = None,
              permissions: Any = MEMBER, **payload: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """Type ``/paper sub``; return the interaction callback body and the messages the user sees, in order (each
    with its ``flags`` as shown and ``via``: how it got there)."""
    before = len(fake.requests)
    event = slash(sub, options, channel_id=int(CHANNEL), permissions=permissions, **payload)
    feed(bot, "INTERACTION_CREATE", event)
    await settle(bot)
    new = fake.requests[before:]
    callbacks = [r.json for r in new if r.method == "POST" and r.path.endswith("/callback")]
    assert len(callbacks) == 1, [(r.method, r.path) for r in new]
    shown = fake.interactions[event["token"]].shown
    # Never the deprecated "first follow-up after a defer edits the original" (it ignores the ephemeral flag).
    assert all(message["via"] != "followup-as-edit" for message in shown), shown
    return callbacks[0], shown


def test_the_command_tree_was_synced_with_korean_descriptions(bot: DiscordPlatform, fake: FakeDiscord) -> None:
    [group] = fake.commands
    assert group["name"] == "paper"
    names = {option["name"] for option in group["options"]}
    assert {"today", "top", "show", "subscribe", "unsubscribe", "config", "status"} <= names


async def test_today_defers_then_answers_in_korean(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(n, title=f"@everyone paper {n}") for n in range(12)])
    callback, [answer, *rest] = await run(bot, fake, "today")
    assert callback["type"] == 5  # deferred: acknowledged at once
    assert "2024-04-19" in answer["content"] and "편" in answer["content"]
    assert answer["allowed_mentions"]["parse"] == []
    embeds = answer["embeds"] + [e for r in rest for e in r["embeds"]]
    assert len(embeds) == 10  # top 10 of 12
    assert all(len(r.get("embeds", [])) <= 10 for r in [answer, *rest])
    assert all("@everyone" not in e["title"] for e in embeds)


async def test_today_with_nothing_collected_says_so(bot: DiscordPlatform, fake: FakeDiscord) -> None:
    _, [answer] = await run(bot, fake, "today")
    assert "2024-04-19" in answer["content"] and "없습니다" in answer["content"]


async def test_top_ranks_by_hf_upvotes_and_channel_votes(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(1, upvotes=5), paper(2, upvotes=50)])
    _, [answer] = await run(bot, fake, "top", {"period": "week"})
    assert "최근 7일" in answer["content"]
    assert [e["title"] for e in answer["embeds"]] == ["Paper number 2", "Paper number 1"]


async def test_top_with_a_bad_period_is_a_short_ephemeral_error(bot: DiscordPlatform, fake: FakeDiscord) -> None:
    _, [answer] = await run(bot, fake, "top", {"period": "year"})
    assert answer["flags"] & EPHEMERAL
    assert answer["content"] == "기간은 day, week, month 중 하나로 적어 주세요."
    assert fake.calls("DELETE", "/messages/@original")  # the public "thinking…" placeholder is removed


async def test_show_a_known_paper_and_an_unknown_one(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(7)])
    _, [answer] = await run(bot, fake, "show", {"arxiv_id": "https://arxiv.org/abs/2404.12007v2"})
    assert answer["embeds"][0]["title"] == "Paper number 7"
    assert "첫째 요점입니다." in answer["embeds"][0]["description"]
    _, [missing] = await run(bot, fake, "show", {"arxiv_id": "2404.99999"})
    assert missing["flags"] & EPHEMERAL and "찾지 못했습니다" in missing["content"]
    _, [bad] = await run(bot, fake, "show", {"arxiv_id": "not an id"})
    assert bad["flags"] & EPHEMERAL and "arXiv ID" in bad["content"]


async def test_a_member_cannot_subscribe_or_configure(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await repository.save_subscription(Subscription(platform="discord", channel_id=CHANNEL))
    for sub, options in (("subscribe", {"time": "08:00"}), ("config", {"keywords": "rag"}), ("unsubscribe", None)):
        _, [answer] = await run(bot, fake, sub, options)
        assert answer["content"] == ADMIN_ONLY and answer["flags"] & EPHEMERAL
    [subscription] = await repository.list_subscriptions()
    assert subscription.time == "09:00" and subscription.filters.keywords == ()


async def test_an_admin_subscribes_configures_and_unsubscribes(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    _, [answer] = await run(bot, fake, "subscribe", {"kind": "daily", "time": "8:30"}, permissions=ADMIN)
    assert "08:30" in answer["content"] and not answer.get("flags", 0) & EPHEMERAL
    [subscription] = await repository.list_subscriptions(platform="discord")
    assert (subscription.channel_id, subscription.kind, subscription.time) == (CHANNEL, DigestKind.DAILY, "08:30")

    callback, [answer] = await run(
        bot, fake, "config", {"keywords": "RAG, 강화학습", "min_upvotes": 5}, permissions=CHANNEL_MANAGER
    )
    assert callback["data"]["flags"] & EPHEMERAL
    [subscription] = await repository.list_subscriptions(platform="discord")
    assert subscription.filters.keywords == ("RAG", "강화학습") and subscription.filters.min_upvotes == 5
    assert "강화학습" in answer["embeds"][0]["fields"][0]["value"]

    _, [bad] = await run(bot, fake, "subscribe", {"timezone": "Mars/Olympus"}, permissions=ADMIN)
    assert bad["flags"] & EPHEMERAL and "시간대" in bad["content"]

    _, [answer] = await run(bot, fake, "unsubscribe", permissions=ADMIN)
    assert "해지" in answer["content"]
    assert await repository.list_subscriptions() == []


async def test_status_shows_a_broken_subscription_privately(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await repository.save_subscription(
        Subscription(platform="discord", channel_id=CHANNEL, broken_reason="forbidden (403, code 50001)")
    )
    callback, [answer] = await run(bot, fake, "status")
    assert callback["data"]["flags"] & EPHEMERAL
    values = " ".join(f["value"] for f in answer["embeds"][0]["fields"])
    assert "발송 중단" in values and "50001" in values


async def test_search_shows_title_day_votes_link_and_first_bullet(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(1, title="Diffusion models for speech"), paper(2, title="Graph RAG")])
    _, [answer] = await run(bot, fake, "search", {"query": "diffusion"})
    [embed] = answer["embeds"]
    assert embed["title"] == "Diffusion models for speech"
    assert embed["url"] == "https://arxiv.org/abs/2404.12001"
    assert embed["description"] == "• 첫째 요점입니다."
    assert {f["name"] for f in embed["fields"]} >= {"👍 HF 추천", "✍️ 저자"}
    assert unescape(embed["footer"]["text"]) == "arXiv 2404.12001 · HF 2024-04-19"  # the digest's card
    _, [nothing] = await run(bot, fake, "search", {"query": "zzzzqqq"})
    assert nothing["flags"] & EPHEMERAL


async def test_search_autocompletes_titles(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(n, title=f"Diffusion study {n}") for n in range(30)])
    before = len(fake.requests)
    feed(
        bot, "INTERACTION_CREATE", slash("search", {"query": "diffusion"}, channel_id=int(CHANNEL), interaction_type=4)
    )
    await settle(bot)
    [callback] = [r.json for r in fake.requests[before:] if r.path.endswith("/callback")]
    assert callback["type"] == 8  # autocomplete result
    choices = callback["data"]["choices"]
    assert 0 < len(choices) <= 25
    assert all(c["name"].startswith("Diffusion study") for c in choices)


async def test_the_answer_edits_the_deferred_response_and_long_ones_follow_up(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await seed(repository, [paper(n) for n in range(12)])
    _, shown = await run(bot, fake, "today")
    assert [m["via"] for m in shown] == ["edit-original", "followup"]  # 10 papers, 5 per message
    assert not any(m["flags"] & EPHEMERAL for m in shown)


async def test_subscribe_refuses_a_channel_the_bot_cannot_post_to(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    lacking = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
    _, [answer] = await run(bot, fake, "subscribe", permissions=ADMIN, app_permissions=lacking)
    assert answer["flags"] & EPHEMERAL
    assert "반응 추가하기" in answer["content"] and "메시지 기록 보기" in answer["content"]
    assert "메시지 보내기" not in answer["content"]
    assert await repository.list_subscriptions() == []
    # A member still hears that the command is for admins, not about the bot's permissions.
    _, [member] = await run(bot, fake, "subscribe", app_permissions=lacking)
    assert member["content"] == ADMIN_ONLY


async def test_subscribe_in_a_thread_needs_send_messages_in_threads(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    """SEND_MESSAGES is not inherited by threads (a forum post is one): the invite's permissions are not enough."""
    _, [answer] = await run(bot, fake, "subscribe", permissions=ADMIN, channel_type=11)
    assert "스레드에서 메시지 보내기" in answer["content"] and answer["flags"] & EPHEMERAL
    assert await repository.list_subscriptions() == []
    granted = REQUIRED_PERMISSIONS | discord.Permissions(send_messages_in_threads=True)
    granted.send_messages = False  # not needed in a thread
    _, [ok] = await run(bot, fake, "subscribe", permissions=ADMIN, channel_type=11, app_permissions=granted)
    assert "✅" in ok["content"]
    assert len(await repository.list_subscriptions()) == 1


async def test_the_command_tree_is_synced_only_when_it_changed(
    fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    async def start() -> DiscordPlatform:
        client = DiscordPlatform(CommandContext(repository, now=lambda: NOW), voter_key=b"k" * 32)
        await client.login("test-token")
        assert client.command_sync is not None
        await client.command_sync
        return client

    puts = lambda: len(fake.calls("PUT", "/commands"))  # noqa: E731
    first = await start()
    await first.close()
    assert puts() == 1
    second = await start()  # a restart with the same commands: Discord is not asked again
    assert puts() == 1
    assert await second.sync_command_tree(force=True) == "synced"  # `paperbot discord sync`
    assert puts() == 2
    second.tree.add_command(discord.app_commands.Command(name="ping", description="핑", callback=_ping))
    assert await second.sync_command_tree() == "synced"  # the JSON changed
    assert puts() == 3
    await second.close()


async def _ping(interaction: discord.Interaction[Any]) -> None:
    raise AssertionError("never invoked")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"message": "Invalid Form Body", "code": 50035, "errors": {}}),
        (429, {"message": "You are being rate limited.", "retry_after": 600.0, "global": False}),
    ],
)
async def test_a_failed_sync_is_logged_and_the_bot_still_starts(
    fake: FakeDiscord, repository: InMemoryRepository, caplog: pytest.LogCaptureFixture, status: int, body: Any
) -> None:
    """A 400, or a 429 longer than ``max_ratelimit_timeout`` (discord.py raises ``RateLimited``), used to escape
    ``setup_hook`` and stop the whole process (Slack included) — and every restart spent an IDENTIFY."""
    headers = {"Via": "1.1 google", "Retry-After": "600", "X-RateLimit-Scope": "user"} if status == 429 else {}
    fake.fail("PUT", "/applications/", Failure(status, body, headers))
    client = DiscordPlatform(CommandContext(repository, now=lambda: NOW), voter_key=b"k" * 32)
    with caplog.at_level(logging.ERROR, logger="paperbot.platforms.discord.bot"):
        await client.login("test-token")  # does not raise
        assert client.command_sync is not None
        assert await client.command_sync == "failed"
    assert "command sync failed" in caplog.text
    assert fake.commands == []
    assert await client.sync_command_tree() == "synced"  # not recorded as synced: the next start tries again
    await client.close()


async def test_a_rate_limited_sync_does_not_hold_the_gateway_back(
    fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    """A 429 shorter than ``max_ratelimit_timeout`` is waited out by discord.py; inside ``setup_hook`` that wait
    would come before the gateway connects (``/paper`` unanswered for up to two minutes after a deploy)."""
    fake.fail("PUT", "/applications/", Failure(429, {"message": "You are being rate limited.", "retry_after": 90.0,
              "global": False}, {"Via": "1.1 google", "Retry-After": "90", "X-RateLimit-Scope": "user"}))  # fmt: skip

    def make() -> DiscordPlatform:
        return DiscordPlatform(CommandContext(repository, now=lambda: NOW), voter_key=b"k" * 32)

    client = make()
    await client.login("test-token")  # returns: the gateway may connect now
    assert client.command_sync is not None and not client.command_sync.done()
    await fake.wait_for(lambda: len(fake.failed) == 1)  # asked once and answered 429: now waiting it out
    assert not client.command_sync.done()
    other = make()  # another instance starting meanwhile does not sync the same JSON again
    await other.login("test-token")
    assert other.command_sync is not None
    assert await other.command_sync == "unchanged"
    await other.close()
    await client.close()  # stops the waiting sync
    assert client.command_sync.cancelled()
    assert fake.commands == [] and len(fake.calls("PUT", "/commands")) == 1
    restarted = make()
    await restarted.login("test-token")  # the interrupted sync was not recorded as done: this one syncs
    assert restarted.command_sync is not None
    assert await restarted.command_sync == "synced"
    assert [command["name"] for command in fake.commands] == ["paper"]
    await restarted.close()


async def test_a_finished_sync_is_remembered_for_a_month(fake: FakeDiscord, repository: InMemoryRepository) -> None:
    client = DiscordPlatform(CommandContext(repository, now=lambda: NOW), voter_key=b"k" * 32)
    await client.login("test-token")
    assert client.command_sync is not None
    assert await client.command_sync == "synced"
    [(name, (_, until))] = repository._leases.items()
    assert name.startswith("discord-commands:") and until - datetime.now(UTC) > timedelta(days=29)
    await client.close()
