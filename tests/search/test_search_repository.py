"""Search through every Repository (memory, SQLite, PostgreSQL): the same behaviour on each."""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest

from paperbot.domain import Item, ItemKind, SearchMatch, Summary
from paperbot.ports import Repository

DAY = date(2025, 3, 17)


def paper(external_id: str, title: str, abstract: str = "", **kwargs: object) -> Item:
    values: dict[str, object] = {
        "source": "hf_daily",
        "external_id": external_id,
        "kind": ItemKind.PAPER,
        "title": title,
        "url": f"https://huggingface.co/papers/{external_id}",
        "day": DAY,
        "abstract": abstract,
    }
    values.update(kwargs)
    return Item(**values)  # type: ignore[arg-type]


def summary(item_id: int, *bullets: str, model: str = "m", created_at: datetime | None = None) -> Summary:
    return Summary(
        item_id=item_id,
        bullets=bullets,
        backend="test",
        model=model,
        prompt_version="v1",
        input_hash="0" * 64,
        created_at=created_at,
    )


async def add(repository: Repository, item: Item, *bullets: str) -> int:
    stored = await repository.add_item(item)
    assert stored.value.id is not None
    if bullets:
        await repository.add_summary(summary(stored.value.id, *bullets))
    return stored.value.id


async def ids_for(repository: Repository, query: str, **kwargs: object) -> list[int]:
    return [hit.item.id for hit in await repository.search_items(query, **kwargs)]  # type: ignore[arg-type,misc]


@pytest.mark.usefixtures("analyser")
async def test_korean_particles_compounds_and_summaries(repository: Repository) -> None:
    english = await add(
        repository,
        paper("2503.00001", "Faster Decoding for Large Transformers", "We speed up decoding."),
        "대규모 언어 모델의 추론 속도를 두 배로 높입니다.",
        "추가 학습 없이 적용할 수 있습니다.",
    )
    other = await add(
        repository, paper("2503.00002", "Robot Grasping", "Robots grasp things."), "로봇 팔로 물체를 집습니다."
    )
    assert await ids_for(repository, "모델") == [english]  # 모델 finds 모델의
    assert await ids_for(repository, "언어모델") == [english]  # 언어모델 finds 언어 모델
    assert await ids_for(repository, "추론 속도") == [english]  # a Korean query finds an English paper
    assert await ids_for(repository, "로봇이 물체를 집는") == [other]
    assert await ids_for(repository, "transformer decoding") == [english]


async def test_every_field_is_indexed(repository: Repository) -> None:
    item_id = await add(
        repository,
        paper(
            "2503.00003",
            "Title Words",
            "Abstract mentions zebrafish.",
            authors=("Jiwon Park", "Ada Lovelace"),
            extra={"ai_keywords": ["speculative decoding", "KV cache"]},
        ),
        "요약에는 양자화가 나옵니다.",
    )
    for query in ("title", "zebrafish", "Lovelace", "jiwon park", "speculative decoding", "kv cache", "양자화"):
        assert await ids_for(repository, query) == [item_id], query


async def test_title_matches_rank_above_abstract_matches(repository: Repository) -> None:
    in_abstract = await add(repository, paper("a", "Something Else", "We also discuss diffusion briefly."))
    in_title = await add(repository, paper("b", "Diffusion Models at Scale", "Large generative models."))
    hits = await repository.search_items("diffusion")
    assert [hit.item.id for hit in hits] == [in_title, in_abstract]
    assert all(hit.match is SearchMatch.ALL for hit in hits)
    assert hits[0].score >= hits[1].score


async def test_all_words_rank_before_some_words(repository: Repository) -> None:
    some = await add(repository, paper("a", "Video Generation", "video video video"))
    every = await add(repository, paper("b", "Camera Control", "video generation with camera control"))
    hits = await repository.search_items("camera video")
    assert [(hit.item.id, hit.match) for hit in hits] == [(every, SearchMatch.ALL), (some, SearchMatch.ANY)]


async def test_partial_words_fall_back_to_substrings(repository: Repository) -> None:
    english = await add(repository, paper("a", "Transformers Everywhere", "attention"))
    korean_id = await add(repository, paper("b", "Reinforcement", "RL"), "강화학습으로 로봇을 가르칩니다.")
    hits = await repository.search_items("transf")
    assert [(hit.item.id, hit.match) for hit in hits] == [(english, SearchMatch.SUBSTRING)]
    assert await ids_for(repository, "강화학") == [korean_id]
    assert await ids_for(repository, "wh") == [english]  # two characters: below the trigram index, still found
    assert await ids_for(repository, "zzzz") == []


async def test_the_index_follows_the_latest_summary(repository: Repository) -> None:
    item_id = await add(repository, paper("a", "A Paper", "text"))
    assert await ids_for(repository, "양자화") == []
    old = datetime(2025, 3, 17, 1, tzinfo=UTC)
    await repository.add_summary(summary(item_id, "예전 요약은 양자화를 다룹니다.", model="old", created_at=old))
    assert await ids_for(repository, "양자화") == [item_id]
    await repository.add_summary(
        summary(item_id, "새 요약은 증류를 다룹니다.", model="new", created_at=old + timedelta(hours=1))
    )
    assert await ids_for(repository, "증류") == [item_id]
    assert await ids_for(repository, "양자화") == []
    # An older summary written later does not replace the newest one in the index.
    await repository.add_summary(
        summary(item_id, "아주 오래된 요약은 가지치기를 다룹니다.", model="older", created_at=old - timedelta(hours=1))
    )
    assert await ids_for(repository, "증류") == [item_id]
    assert await ids_for(repository, "가지치기") == []


async def test_duplicates_are_indexed_once(repository: Repository) -> None:
    first = await add(repository, paper("a", "Mamba Strikes Back"))
    await repository.add_items([paper("a", "Mamba Strikes Back (changed title)"), paper("b", "Unrelated")])
    assert await ids_for(repository, "mamba") == [first]
    assert await ids_for(repository, "changed") == []


async def test_filters_limit_and_order(repository: Repository) -> None:
    old = await add(repository, paper("old", "Agents Old", day=DAY - timedelta(days=30), upvotes=100))
    new = await add(repository, paper("new", "Agents New", day=DAY, upvotes=1))
    post = await add(
        repository,
        Item(source="openai_blog", external_id="p1", kind=ItemKind.POST, title="Agents Post", url="u", day=DAY),
    )
    assert set(await ids_for(repository, "agents")) == {old, new, post}
    assert set(await ids_for(repository, "agents", day_from=DAY - timedelta(days=1))) == {new, post}
    assert await ids_for(repository, "agents", sources=["openai_blog"]) == [post]
    assert await ids_for(repository, "agents", sources=[]) == []
    assert set(await ids_for(repository, "agents", kind=ItemKind.PAPER)) == {old, new}
    assert len(await ids_for(repository, "agents", limit=2)) == 2
    assert await ids_for(repository, "agents", limit=0) == []
    # Substring hits come newest first.
    assert await ids_for(repository, "agen", kind=ItemKind.PAPER) == [new, old]


async def test_reindex_rebuilds_every_document(repository: Repository) -> None:
    item_id = await add(repository, paper("a", "Sparse Attention"), "희소 어텐션을 씁니다.")
    assert await repository.reindex_search() == 1
    assert await ids_for(repository, "희소") == [item_id]
    assert await ids_for(repository, "sparse") == [item_id]


HOSTILE = [
    "",
    "   ",
    "' OR 1=1 --",
    "'; DROP TABLE items; --",
    '"',
    "'",
    '""',
    '"unterminated',
    "AND",
    "OR",
    "NOT x",
    "x NOT",
    "-foo",
    "*",
    "foo*",
    "(",
    ")",
    "NEAR(a b)",
    "title_tokens:x",
    "^x",
    "x:y:z",
    "%",
    "_",
    "\\",
    "%_\\%",
    "[*?]",
    "{}",
    "$$ $1 :limit",
    "a" * 6000,
    "모델" * 3000,
    "\x00",
    "모델\x00의",
    "\u202emodel",
    "모\u200d델",
    "\u200b\u200c\u200d\ufeff",
    unicodedata.normalize("NFD", "언어모델"),
    "🤖🚀",
    "&&",
    "||",
    "!",
    "<->",
    "a & b | !c",
]


async def test_hostile_input_never_errors(repository: Repository) -> None:
    item_id = await add(repository, paper("a", "Language Models", "model 1"), "언어 모델의 성능을 높입니다.")
    for query in HOSTILE:
        started = time.monotonic()
        hits = await repository.search_items(query)
        assert isinstance(hits, list), query
        assert time.monotonic() - started < 3, query[:40]
    assert await repository.get_item(item_id) is not None
    assert await ids_for(repository, "모델") == [item_id]
    # NFD Hangul is composed before analysis; a ZWJ inside a word splits it but cannot break the search.
    assert await ids_for(repository, unicodedata.normalize("NFD", "언어모델")) == [item_id]
    assert await ids_for(repository, "\u202e모델") == [item_id]


async def test_only_the_newest_candidates_are_ranked(repository: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperbot.store import search as search_module

    monkeypatch.setattr(search_module, "RANK_CANDIDATES", 2)
    best_but_oldest = await add(repository, paper("a", "Agents Agents Agents", "agents"))
    middle = await add(repository, paper("b", "Something", "about agents"))
    newest = await add(repository, paper("c", "Agents", "other"))
    hits = await repository.search_items("agents")
    # The two newest matches are ranked (title first); older matches still come, after them, as substring hits.
    assert [(hit.item.id, hit.match) for hit in hits] == [
        (newest, SearchMatch.ALL),
        (middle, SearchMatch.ALL),
        (best_but_oldest, SearchMatch.SUBSTRING),
    ]
