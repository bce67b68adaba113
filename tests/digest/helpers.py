"""Factories and limit checkers shared by the digest tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from paperbot.digest.text import utf16_len
from paperbot.domain import Item, ItemKind, Summary

DATA = Path(__file__).resolve().parent.parent / "data" / "digest"
GOLDEN_DAY = date(2024, 4, 19)


def paper(
    ident: str,
    *,
    day: date = GOLDEN_DAY,
    title: str | None = None,
    upvotes: int = 0,
    authors: tuple[str, ...] = ("Alice Kim", "Bob Lee"),
    abstract: str = "",
    item_id: int | None = None,
    extra: dict[str, Any] | None = None,
    source: str = "hf_daily",
) -> Item:
    return Item(
        source=source,
        external_id=ident,
        kind=ItemKind.PAPER,
        title=title if title is not None else f"Paper {ident}",
        url=f"https://arxiv.org/abs/{ident}",
        day=day,
        authors=authors,
        abstract=abstract,
        thumbnail_url=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{ident}.png",
        upvotes=upvotes,
        extra=extra or {},
        id=item_id,
    )


def post(
    ident: str,
    *,
    day: date = GOLDEN_DAY,
    title: str | None = None,
    source: str = "openai",
    item_id: int | None = None,
    extra: dict[str, Any] | None = None,
    published_at: datetime | None = None,
) -> Item:
    return Item(
        source=source,
        external_id=ident,
        kind=ItemKind.POST,
        title=title if title is not None else f"Post {ident}",
        url=f"https://example.com/blog/{ident}",
        day=day,
        published_at=published_at or datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        extra=extra or {},
        id=item_id,
    )


def summary(item_id: int, bullets: tuple[str, ...], backend: str = "openai_compat") -> Summary:
    return Summary(
        item_id=item_id, bullets=bullets, backend=backend, model="m", prompt_version="v1", input_hash=f"h{item_id}"
    )


def golden_items() -> tuple[list[Item], dict[int, Summary]]:
    """The nine papers of the 2024-04-19 seed, ids in the seed's (= HF API's) order, with the seed's bullets."""
    data = json.loads((DATA / "daily_2024-04-19.json").read_text(encoding="utf-8"))
    day = date.fromisoformat(data["day"])
    items: list[Item] = []
    summaries: dict[int, Summary] = {}
    for index, entry in enumerate(data["papers"], start=1):
        items.append(
            Item(
                source=data["source"],
                external_id=entry["external_id"],
                kind=ItemKind.PAPER,
                title=entry["title"],
                url=entry["url"],
                day=day,
                authors=tuple(entry["authors"]),
                thumbnail_url=entry["thumbnail_url"],
                upvotes=entry["upvotes"],
                id=index,
            )
        )
        summaries[index] = summary(index, tuple(entry["bullets"]), backend="seed")
    return items, summaries


def _both(text: str) -> int:
    # Limits hold whether the platform counts code points or UTF-16 units.
    return max(len(text), utf16_len(text))


def check_discord_payload(payload: dict[str, Any]) -> None:
    assert payload["allowed_mentions"] == {"parse": []}
    assert payload.get("content") or payload.get("embeds"), "a message needs content or embeds"
    assert _both(payload.get("content", "")) <= 2000
    embeds = payload.get("embeds", [])
    assert len(embeds) <= 10
    total = 0
    for embed in embeds:
        title = embed.get("title", "")
        description = embed.get("description", "")
        assert _both(title) <= 256
        assert _both(description) <= 4096
        assert len(embed.get("fields", [])) <= 25
        total += _both(title) + _both(description)
        for field in embed.get("fields", []):
            assert 0 < _both(field["name"]) <= 256
            assert 0 < _both(field["value"]) <= 1024
            total += _both(field["name"]) + _both(field["value"])
        footer = embed.get("footer", {}).get("text", "")
        assert _both(footer) <= 2048
        total += _both(footer)
    assert total <= 6000
    json.dumps(payload, ensure_ascii=False).encode("utf-8")  # no lone surrogates


def check_slack_payload(payload: dict[str, Any]) -> None:
    from slack_sdk.models.blocks import Block

    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    assert 0 < _both(payload["text"]) <= 3000
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        assert block.to_dict() is not None  # slack_sdk's own validation raises on any broken limit
        if raw["type"] == "header":
            assert _both(raw["text"]["text"]) <= 150
        if raw["type"] == "section":
            assert _both(raw["text"]["text"]) <= 3000
            assert raw["text"]["type"] == "plain_text" or raw["text"]["verbatim"] is True
        if raw["type"] == "rich_text":
            check_rich_text(raw)
        if raw["type"] == "context":
            assert len(raw["elements"]) <= 10
            for element in raw["elements"]:
                assert _both(element["text"]) <= 3000
                assert element["verbatim"] is True
    json.dumps(payload, ensure_ascii=False).encode("utf-8")


#: Slack's documented rich_text_list: ``style`` "bullet" or "ordered", ``indent`` a number from 0 (default) to 8
#: (docs.slack.dev, Block Kit "Rich text list element" and @slack/types ``RichTextList``). slack_sdk's models
#: parse a rich_text block without checking either, so they are checked here.
RICH_TEXT_INDENT_MAX = 8


def check_rich_text(raw: dict[str, Any]) -> None:
    from slack_sdk.models.blocks import RichTextBlock, RichTextListElement

    from paperbot.digest.render.slack import RICH_TEXT_BUDGET

    block = RichTextBlock(**{k: v for k, v in raw.items() if k != "type"})
    assert block.to_dict()["type"] == "rich_text"
    assert raw["elements"], "an empty rich_text block"
    total = 0
    for element in raw["elements"]:
        assert element["type"] == "rich_text_list"
        model = RichTextListElement(**{k: v for k, v in element.items() if k != "type"})
        assert model.to_dict()["style"] in ("bullet", "ordered")
        assert isinstance(element["indent"], int) and 0 <= element["indent"] <= RICH_TEXT_INDENT_MAX
        assert element["elements"], "a list without items"
        for section in element["elements"]:
            assert section["type"] == "rich_text_section" and section["elements"]
            for leaf in section["elements"]:
                assert leaf["type"] == "text" and leaf["text"] and "style" not in leaf
                total += _both(leaf["text"])
    assert total <= RICH_TEXT_BUDGET
