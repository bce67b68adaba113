"""The labelled search corpus: real HF Daily Papers (tests/data/search, trimmed) with Korean summaries written
as test data, and helpers to load it into any Repository."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from paperbot.domain import Item, ItemKind, Summary
from paperbot.ports import Repository

DATA = Path(__file__).parent.parent / "data" / "search"


def _item(entry: dict[str, Any], day: date) -> Item:
    paper = entry["paper"]
    return Item(
        source="hf_daily",
        external_id=paper["id"],
        kind=ItemKind.PAPER,
        title=" ".join(paper["title"].split()),
        url=f"https://huggingface.co/papers/{paper['id']}",
        day=day,
        authors=tuple(author["name"] for author in paper.get("authors", [])),
        abstract=" ".join(paper.get("summary", "").split()),
        upvotes=int(paper.get("upvotes", 0)),
        upvotes_captured_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        extra={"ai_keywords": paper.get("ai_keywords", [])},
    )


def load_items() -> list[Item]:
    items: list[Item] = []
    for path in sorted(DATA.glob("hf_daily_*.json")):
        day = date.fromisoformat(path.stem.removeprefix("hf_daily_"))
        items.extend(_item(entry, day) for entry in json.loads(path.read_text(encoding="utf-8")))
    return items


def load_summaries() -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads((DATA / "summaries_ko.json").read_text(encoding="utf-8"))
    return data


def load_queries() -> list[dict[str, str]]:
    data: list[dict[str, str]] = json.loads((DATA / "queries.json").read_text(encoding="utf-8"))
    return data


def summary(item_id: int, bullets: list[str], *, model: str = "test") -> Summary:
    return Summary(
        item_id=item_id,
        bullets=tuple(bullets),
        backend="test",
        model=model,
        prompt_version="v1",
        input_hash="0" * 64,
    )


async def load_corpus(repository: Repository) -> dict[str, int]:
    """Store every fixture paper and its Korean summary; returns arXiv id → item id."""
    summaries = load_summaries()
    ids: dict[str, int] = {}
    for stored in await repository.add_items(load_items()):
        assert stored.value.id is not None
        ids[stored.value.external_id] = stored.value.id
    for external_id, bullets in summaries.items():
        await repository.add_summary(summary(ids[external_id], bullets))
    return ids


async def recall_at(repository: Repository, ids: dict[str, int], k: int = 5) -> tuple[float, list[str]]:
    """Share of labelled queries whose expected paper is in the top ``k``, and the queries that missed."""
    queries = load_queries()
    missed: list[str] = []
    for query in queries:
        hits = await repository.search_items(query["q"], limit=k)
        if ids[query["expect"]] not in [hit.item.id for hit in hits]:
            missed.append(query["q"])
    return 1 - len(missed) / len(queries), missed
