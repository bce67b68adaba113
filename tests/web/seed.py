"""A seeded archive for the web tests: the real HF papers of the search corpus (tests/data/search, five days, 50
papers, 30 hand-written Korean summaries), plus what a real archive also holds:

- one crowded day: 16 more papers on 2025-05-22 (26 in all, as the issue's "top 10 of 26"), with offline
  (extractive) summaries, so the day's page must list far more than a digest shows;
- blog posts (titles written for these tests, in the style of the feed fixtures in tests/data/sources/feeds);
- reaction votes from two channels, upvote refreshes (history), source states (one healthy, one failing, one that
  answers but has brought nothing for months);
- hostile items: every attack of tests/digest/test_injection.py plus HTML-specific ones, in titles, authors,
  abstracts and bullets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from paperbot.domain import Item, ItemKind, SourceState, Summary, Vote
from paperbot.ports import Repository
from tests.digest.test_injection import ATTACKS
from tests.search.corpus import load_corpus

CROWDED_DAY = date(2025, 5, 22)
FIRST_DAY = date(2024, 6, 12)
LAST_DAY = date(2026, 6, 3)
HOSTILE_DAY = date(2024, 6, 13)
NOW = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)

HTML_ATTACKS = [
    "<script>alert('t')</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ 7*7 }} {% raw %} ${7*7}",
    '<a href="https://evil.example">click</a>',
    "&lt;b&gt; &amp; &#x3c;",
    "\u202eevil\u202c 뒤집힌 글자",
    "\x1b[31mred\x1b[0m \u200b zero width",
]
#: Text no database stores (PostgreSQL refuses NUL, UTF-8 cannot hold a lone surrogate; the sources clean both
#: away): rendered from the in-memory repository only.
UNSTORABLE = ["nul\x00byte", "lone \ud800 surrogate"]
HOSTILE = [*ATTACKS, *HTML_ATTACKS]


@dataclass
class Seeded:
    ids: dict[str, int] = field(default_factory=dict)
    crowded: list[int] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)
    hostile: list[int] = field(default_factory=list)
    voted: int = 0
    refreshed: int = 0


def _paper(ident: str, day: date, title: str, upvotes: int) -> Item:
    return Item(
        source="hf_daily",
        external_id=ident,
        kind=ItemKind.PAPER,
        title=title,
        url=f"https://huggingface.co/papers/{ident}",
        day=day,
        authors=("Ada Kim", "Bo Lee"),
        abstract=f"We study {title.lower()} and report results on standard benchmarks.",
        upvotes=upvotes,
        upvotes_captured_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
    )


def _offline(item_id: int, text: str) -> Summary:
    return Summary(
        item_id=item_id,
        bullets=(f"{text}를 다룹니다.", "표준 벤치마크에서 결과를 보고합니다."),
        backend="offline",
        model="offline",
        prompt_version="offline-1",
        input_hash=f"{item_id:064d}",
    )


POSTS = [
    ("kakao_tech", "742", "Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델", "https://tech.kakao.com/posts/742", "카카오"),
    ("kakao_tech", "739", "추천 시스템의 실시간 피처 스토어", "https://tech.kakao.com/posts/739", "카카오"),
    ("openai", "devday", "Announcing OpenAI DevDay 2025", "https://openai.com/index/announcing-devday-2025", "OpenAI"),
]


async def seed(repository: Repository) -> Seeded:
    seeded = Seeded(ids=await load_corpus(repository))
    extra = [
        _paper(f"2505.9{n:04d}", CROWDED_DAY, f"Crowded Day Paper {n} on Sparse Mixture Routing", n)
        for n in range(1, 17)
    ]
    for stored in await repository.add_items(extra):
        assert stored.value.id is not None
        seeded.crowded.append(stored.value.id)
        await repository.add_summary(_offline(stored.value.id, stored.value.title))

    for n, (source, ident, title, url, publisher) in enumerate(POSTS):
        post = Item(
            source=source,
            external_id=ident,
            kind=ItemKind.POST,
            title=title,
            url=url,
            day=CROWDED_DAY,
            abstract=f"{title} 글의 발췌입니다.",
            published_at=datetime(2025, 5, 22, 9 + n, tzinfo=UTC),
            extra={"publisher": publisher},
        )
        stored = (await repository.add_item(post)).value
        assert stored.id is not None
        seeded.posts.append(stored.id)
        await repository.add_summary(_offline(stored.id, title))

    for n, attack in enumerate(HOSTILE):
        hostile = Item(
            source="hf_daily",
            external_id=f"hostile-{n}",
            kind=ItemKind.PAPER,
            title=f"{attack} title",
            url="javascript:alert(1)" if n % 2 else f"https://example.com/{n}",
            day=HOSTILE_DAY,
            authors=(attack, "Real Name"),
            abstract=f"abstract {attack}",
            upvotes=n,
            extra={"ai_keywords": [attack]},
        )
        stored = (await repository.add_item(hostile)).value
        assert stored.id is not None
        seeded.hostile.append(stored.id)
        await repository.add_summary(
            Summary(
                item_id=stored.id,
                bullets=(attack, f"앞 {attack} 뒤"),
                backend="openai_compat",
                model="m",
                prompt_version="v1",
                input_hash=f"h{n}",
            )
        )

    # Votes: the 5th most upvoted paper of the crowded day gets the team's attention in two channels.
    crowded_papers = await repository.list_items(day_from=CROWDED_DAY, day_to=CROWDED_DAY, kind=ItemKind.PAPER)
    liked = crowded_papers[4]
    assert liked.id is not None
    seeded.voted = liked.id
    for voter, (platform, channel, value) in enumerate(
        [("discord", "111", 1), ("discord", "111", 1), ("discord", "111", -1), ("slack", "C222", 1)] * 3
    ):
        await repository.add_vote(
            Vote(
                platform=platform,
                message_id=f"m{voter % 4}",
                voter_hash=f"{voter:064x}",
                emoji="👍" if value > 0 else "👎",
                value=value,
                channel_id=channel,
                item_id=liked.id,
            )
        )

    # Upvotes rise for days: two refreshes of the most upvoted paper of the crowded day.
    top = crowded_papers[0]
    assert top.id is not None and top.upvotes_captured_at is not None
    seeded.refreshed = top.id
    await repository.update_upvotes(top.id, top.upvotes + 10, top.upvotes_captured_at + timedelta(days=1))
    await repository.update_upvotes(top.id, top.upvotes + 25, top.upvotes_captured_at + timedelta(days=2))

    await repository.save_source_state(
        SourceState(name="hf_daily", last_attempt_at=NOW, last_success_at=NOW, consecutive_failures=0)
    )
    await repository.save_source_state(
        SourceState(
            name="openai",
            last_attempt_at=NOW,
            last_success_at=NOW - timedelta(days=3),
            consecutive_failures=4,
            last_error="feed https://openai.com/news/rss.xml: HTTP 503 <b>Service Unavailable</b>",
        )
    )
    await repository.save_source_state(
        SourceState(name="kakao_tech", last_attempt_at=NOW, last_success_at=NOW, consecutive_failures=0)
    )
    return seeded
