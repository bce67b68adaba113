"""The one home of test factories: papers, posts, summaries and seeding a repository with them.

Tests that need a paper of a day call :func:`paper`; tests that need it stored (with a summary) call :func:`seed`.
Each factory takes the few fields a test cares about and fills the rest with plausible values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from paperbot.domain import Item, ItemKind, Summary
from paperbot.ports import Repository

DAY = date(2024, 4, 19)
CAPTURED = datetime(2024, 4, 20, tzinfo=UTC)


def paper(n: int, *, day: date = DAY, upvotes: int | None = None, title: str | None = None, **changes: Any) -> Item:
    """HF paper number ``n`` of ``day`` (arXiv id 2404.12000 + n); more upvotes for lower ``n`` by default."""
    ident = f"2404.{12000 + n}"
    item = Item(
        source="hf_daily",
        external_id=ident,
        kind=ItemKind.PAPER,
        title=title or f"Paper number {n}",
        url=f"https://arxiv.org/abs/{ident}",
        day=day,
        authors=("Kim Minsu", "Lee Jiwoo"),
        abstract="We study things and report what we find on every benchmark we tried.",
        upvotes=100 - n if upvotes is None else upvotes,
        upvotes_captured_at=CAPTURED,
    )
    return replace(item, **changes) if changes else item


def post(n: int, *, day: date = DAY, source: str = "openai", title: str | None = None, **changes: Any) -> Item:
    """Blog post number ``n`` of ``source``, published on ``day``."""
    item = Item(
        source=source,
        external_id=f"{source}-post-{n}",
        kind=ItemKind.POST,
        title=title or f"Post number {n}",
        url=f"https://blog.example/{source}/{n}",
        day=day,
        abstract="A post about a model and what it can do.",
    )
    return replace(item, **changes) if changes else item


def summary(item_id: int, bullets: Sequence[str] = ("첫째 요점입니다.", "둘째 요점입니다."), **changes: Any) -> Summary:
    """An offline-looking summary of ``item_id`` (distinct input hash per item)."""
    made = Summary(
        item_id=item_id,
        bullets=tuple(bullets),
        backend="offline",
        model="offline",
        prompt_version="v1",
        input_hash=f"h{item_id}",
    )
    return replace(made, **changes) if changes else made


async def seed(repository: Repository, items: Iterable[Item], *, summarize: bool = True) -> list[Item]:
    """Store ``items`` (with ids filled in), each with a :func:`summary` unless ``summarize`` is False."""
    stored = [(await repository.add_item(item)).value for item in items]
    if summarize:
        for item in stored:
            assert item.id is not None
            await repository.add_summary(summary(item.id))
    return stored
