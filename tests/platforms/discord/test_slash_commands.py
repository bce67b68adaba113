"""``/paper`` commands: raw INTERACTION_CREATE payloads dispatched through the command tree, answered over the fake
REST API (interaction callback = defer, then follow-up webhooks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from paperbot.domain import DigestKind, Subscription
from paperbot.platforms.discord.bot import DiscordPlatform
from paperbot.service.commands import ADMIN_ONLY, CommandContext
from paperbot.store.memory import InMemoryRepository
from tests.platforms.discord.conftest import CHANNEL, paper, store_papers
from tests.platforms.discord.dpy_internals import ADMIN, CHANNEL_MANAGER, MEMBER, feed, settle, slash
from tests.platforms.discord.fake_api import FakeDiscord

NOW = datetime(2024, 4, 20, 1, 0, tzinfo=UTC)  # 10:00 KST: "today" covers HF day 2024-04-19
EPHEMERAL = 64


@pytest.fixture
def repository() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
async def bot(fake: FakeDiscord, repository: InMemoryRepository) -> AsyncIterator[DiscordPlatform]:
    client = DiscordPlatform(CommandContext(repository, now=lambda: NOW), voter_key=b"k" * 32)
    await client.login("test-token")  # syncs the command tree to the fake
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
    await store_papers(repository, [paper(n, title=f"@everyone paper {n}") for n in range(12)])
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
    await store_papers(repository, [paper(1, upvotes=5), paper(2, upvotes=50)])
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
    await store_papers(repository, [paper(7)])
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
    await store_papers(repository, [paper(1, title="Diffusion models for speech"), paper(2, title="Graph RAG")])
    _, [answer] = await run(bot, fake, "search", {"query": "diffusion"})
    [embed] = answer["embeds"]
    assert embed["title"] == "Diffusion models for speech"
    assert embed["url"] == "https://arxiv.org/abs/2404.12001"
    assert embed["description"] == "• 첫째 요점입니다."
    assert {f["name"] for f in embed["fields"]} >= {"👍 HF 추천", "📅 날짜"}
    _, [nothing] = await run(bot, fake, "search", {"query": "zzzzqqq"})
    assert nothing["flags"] & EPHEMERAL


async def test_search_autocompletes_titles(
    bot: DiscordPlatform, fake: FakeDiscord, repository: InMemoryRepository
) -> None:
    await store_papers(repository, [paper(n, title=f"Diffusion study {n}") for n in range(30)])
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
