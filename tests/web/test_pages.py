"""Every page of the archive, rendered from a seeded database (memory, SQLite, PostgreSQL) over real HTTP."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from paperbot.digest.ranking import DEFAULT_POLICY
from paperbot.domain import ItemKind
from paperbot.ports import Repository
from tests.search.corpus import load_items
from tests.web.conftest import ClientFactory
from tests.web.html import assert_inert, by_class, item_ids, parse, squash, titles
from tests.web.seed import CROWDED_DAY, LAST_DAY, POSTS, Seeded

Client = TestClient[Any, Any]


async def fetch(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, (path, response.status, body[:500])
    assert response.headers["Content-Type"].startswith("text/html")
    assert_inert(body)
    return body


def corpus_titles(day: date) -> list[str]:
    return [squash(item.title) for item in load_items() if item.day == day]


async def test_front_page_is_the_latest_hf_day(client: Client) -> None:
    body = await fetch(client, "/")
    assert "최신 다이제스트" in body
    assert "2026-06-03(수) Daily Papers" in body
    shown = titles(body)
    assert sorted(shown) == sorted(corpus_titles(LAST_DAY))
    assert '<html lang="ko">' in body
    assert 'name="viewport"' in body  # readable on a phone


async def test_a_day_lists_every_paper_ranked_as_the_digest_ranks_and_its_posts(
    client: Client, repository: Repository, seeded: Seeded
) -> None:
    body = await fetch(client, f"/day/{CROWDED_DAY.isoformat()}")
    papers = await repository.list_items(day_from=CROWDED_DAY, day_to=CROWDED_DAY, kind=ItemKind.PAPER)
    assert len(papers) == 26
    votes = await repository.vote_totals([p.id for p in papers if p.id is not None])
    weight = DEFAULT_POLICY.channel_vote_weight
    expected = sorted(papers, key=lambda p: (-(p.upvotes + weight * votes.get(p.id or 0, 0)), -p.upvotes, p.id))
    assert item_ids(body, "papers") == [p.id for p in expected]  # all 26, not the digest's top 10
    assert "논문 26편" in body
    assert item_ids(body, "papers")[2] == seeded.voted  # 23 HF upvotes + 3 × 6 team votes beat 31 and 24
    assert "팀 투표 +6" in body
    assert item_ids(body, "posts") == list(reversed(seeded.posts))  # newest first
    for _, _, title, _, publisher in POSTS:
        assert html.escape(title, quote=False) in body
        assert publisher in body
    # The seeded extra papers have offline summaries: marked as extractive.
    assert "추출 요약" in body
    assert "요약 19개는 LLM 없이 오프라인 모드로 만든 추출 요약입니다" in body
    # Links to elsewhere come from metadata: arXiv, PDF, HF.
    assert 'href="https://arxiv.org/abs/2505.15277"' in body
    assert 'href="https://arxiv.org/pdf/2505.15277"' in body
    assert 'href="https://huggingface.co/papers/2505.15277"' in body


async def test_days_and_weeks_link_to_their_neighbours(client: Client) -> None:
    body = await fetch(client, "/day/2025-05-22")
    assert 'rel="prev" href="/day/2025-03-17"' in body
    assert 'rel="next" href="/day/2026-06-03"' in body
    assert 'href="/week/2025-W21"' in body
    week = await fetch(client, "/week/2025-W21")
    assert 'rel="prev" href="/week/2025-W12"' in week
    assert 'rel="next" href="/week/2026-W23"' in week
    first = await fetch(client, "/day/2024-06-12")
    assert 'rel="prev"' not in first
    latest = await client.get("/week", allow_redirects=False)
    assert latest.status == 302
    assert latest.headers["Location"] == "/week/2026-W23"


async def test_a_week_is_the_weekly_best_of_with_a_topic_picture(client: Client, seeded: Seeded) -> None:
    body = await fetch(client, "/week/2025-W21")
    assert "2025-W21 주간 베스트" in body
    assert "2025-05-19(월) ~ 2025-05-25(일)" in body
    assert "이번 주 논문 26편 중 상위 20편" in body
    elements = parse(body)
    svg = [e for e in elements if e.tag == "svg" and "topics-chart" in e.classes]
    assert len(svg) == 1
    rows = by_class(elements, "bar-papers")
    bars = [e for e in rows if e.tag == "rect" and e.attrs.get("width") not in (None, "12")]
    table = re.findall(r"<tr><th scope=\"row\">([^<]+)</th><td>(\d+)</td><td>([+-]\d+)</td>", body)
    assert sum(int(papers) for _, papers, _ in table) == 26
    assert len(bars) == len(table) >= 2
    assert sum(int(votes) for _, _, votes in table) == 6  # every channel's votes of the week
    # The best-of is grouped by topic, and the chart's rows use the same names.
    headings = [squash(e.text) for e in elements if e.tag == "h2"]
    assert {name for name, _, _ in table} >= {h for h in headings if h != "이번 주 블로그"}
    assert len(item_ids(body)) == 20 + 3  # weekly_top_n papers and the week's posts (at most weekly_max_posts)


async def test_an_item_page_has_summary_abstract_history_and_votes_per_channel(
    client: Client, repository: Repository, seeded: Seeded
) -> None:
    item = await repository.get_item(seeded.refreshed)
    assert item is not None
    body = await fetch(client, f"/paper/{seeded.refreshed}")
    assert squash(parse(body)[[e.tag for e in parse(body)].index("h1")].text) == squash(item.title)
    assert "Web-Shepherd" in body and "초록" in body
    assert html.escape(item.abstract[:80], quote=False) in body
    assert "한국어 요약" in body and "웹 탐색 에이전트" in body  # the hand-written Korean bullets
    assert re.findall(r"<tr><td>[\d-]+ [\d:]+</td><td>(\d+)</td></tr>", body) == ["66", "76", "91"]
    assert "3회 수집" in body
    assert len(re.findall(r'<circle cx="[\d.]+" cy="[\d.]+" r="4" class="dot">', body)) == 3
    assert "외 9명" in body  # 21 authors: 12 shown, the rest folded
    voted = await fetch(client, f"/paper/{seeded.voted}")
    rows = re.findall(
        r"<tr><td>(\w+)</td><td><code>(\w+)</code></td><td>(\d+)</td><td>(\d+)</td><td>([+-]\d+)</td>", voted
    )
    assert rows == [("discord", "111", "6", "3", "+3"), ("slack", "C222", "3", "0", "+3")]
    assert "voter" not in voted and "0" * 64 not in voted  # counts only, never who
    crowded = await fetch(client, f"/paper/{seeded.crowded[0]}")
    assert "추출 요약" in crowded and "원문에서 문장을 골라 옮긴 요약" in crowded
    post = await fetch(client, f"/paper/{seeded.posts[0]}")
    assert "블로그 글 · 카카오" in post and "HF 추천 추이" not in post


async def test_search_is_the_same_search_with_filters_and_pages(client: Client, seeded: Seeded) -> None:
    body = await fetch(client, "/search?q=%EC%96%B8%EC%96%B4+%EB%AA%A8%EB%8D%B8")  # 언어 모델
    found = titles(body)
    assert found, "no results for 언어 모델"
    assert "Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델" in found
    assert "‘<bdi>언어 모델</bdi>’ 검색 결과 1–" in body
    assert 'value="언어 모델"' in body  # the form keeps the query
    posts_only = await fetch(client, "/search?q=언어+모델&kind=post")
    assert titles(posts_only) == ["Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델"]
    by_source = await fetch(client, "/search?q=모델&source=kakao_tech")
    assert set(titles(by_source)) <= {title for source, _, title, _, _ in POSTS if source == "kakao_tech"}
    assert titles(by_source)
    recent = await fetch(client, "/search?q=model&since=2026-01-01")
    recent_days = re.findall(r"📅 (\d{4}-\d\d-\d\d)", recent)
    assert recent_days and all(day >= "2026-01-01" for day in recent_days)
    first = await fetch(client, "/search?q=model")
    assert len(item_ids(first)) == 20
    assert 'rel="next" href="/search?q=model&amp;page=2"' in first
    second = await fetch(client, "/search?q=model&page=2")
    assert item_ids(second) and not set(item_ids(second)) & set(item_ids(first))
    assert 'rel="prev" href="/search?q=model&amp;page=1"' in second
    assert "21–" in second


async def test_search_without_query_or_results_or_with_a_bad_filter_explains(client: Client) -> None:
    assert "검색어를 입력해 주세요." in await fetch(client, "/search")
    assert "검색 결과가 없습니다." in await fetch(client, "/search?q=zzzyxqqq")
    odd = await fetch(client, "/search?q=model&since=yesterday&page=abc&kind=evil")
    assert "기간은 YYYY-MM-DD 또는 7d 같은 형식이어야" in odd
    assert item_ids(odd)


async def test_top_ranks_by_upvotes_and_team_votes(make_client: ClientFactory, seeded: Seeded) -> None:
    client = await make_client(clock=lambda: datetime(2025, 5, 25, 6, tzinfo=UTC))
    body = await fetch(client, "/top?days=7")
    assert "팀이 좋아한 글" in body and "2025-05-19(월) ~ 2025-05-25(일)" in body
    ranked = item_ids(body)
    assert len(ranked) == 26 + 3 and ranked[0] == seeded.refreshed
    assert ranked.index(seeded.voted) == 2
    assert 'aria-current="page">7일' in body
    quiet = await fetch(client, "/top?days=1")
    assert "이 기간에 모인 논문과 블로그 글이 없습니다." in quiet
    assert "2025-05-25(일)" in quiet
    clamped = await fetch(client, "/top?days=99999")
    assert "365일" in clamped


async def test_sources_show_health_failures_and_silent_drift(client: Client) -> None:
    body = await fetch(client, "/sources")
    rows = {
        squash(e.children[0].text).split()[0]: squash(e.text)
        for e in parse(body)
        if e.tag == "tr" and any(c.startswith("health-") for c in e.classes)
    }
    assert list(rows) == ["hf_daily", "openai", "kakao_tech", "deepmind"]
    assert "정상" in rows["hf_daily"] and "⚠️" not in rows["hf_daily"]
    assert "성능 저하" in rows["openai"] and "4" in rows["openai"]
    assert "일째 새 항목 없음" in rows["kakao_tech"]  # answers fine, nothing new for a year
    assert "기록 없음" in rows["deepmind"]
    assert "&lt;b&gt;Service Unavailable&lt;/b&gt;" in body  # the stored error is text


async def test_unknown_and_malformed_addresses_are_korean_404s(client: Client) -> None:
    for path in (
        "/nope",
        "/day/2025-13-01",
        "/day/yesterday",
        "/week/2025-W54",
        "/week/2025-21",
        "/paper/0",
        "/paper/-1",
        "/paper/abc",
        "/paper/99999999",
        "/paper/99999999999999999999999999",
        "/static/../../etc/passwd",
        "/static/nope.css",
    ):
        body = await fetch(client, path, status=404)
        assert "찾을 수 없습니다" in body, path


async def test_read_only_head_works_and_writes_are_refused(client: Client) -> None:
    head = await client.head("/day/2025-05-22")
    assert head.status == 200 and await head.read() == b""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await client.request(method, "/", data=b"x")
        assert response.status == 405, method
        assert "읽기 전용" in await response.text()


async def test_an_empty_archive_says_how_to_fill_it(make_client: ClientFactory) -> None:
    client = await make_client()
    body = await fetch(client, "/")
    assert "아직 모인 글이 없습니다" in body and "paperbot digest" in body
    assert "이 날에는 모인 논문과 블로그 글이 없습니다." in await fetch(client, "/day/2025-01-01")
    assert "이 주에는 모인 논문과 블로그 글이 없습니다." in await fetch(client, "/week/2025-W01")
    assert "이 기간에 모인" in await fetch(client, "/top")
    assert "기록 없음" in await fetch(client, "/sources")
    assert "검색 결과가 없습니다." in await fetch(client, "/search?q=모델")


async def test_static_files_are_versioned_and_cached(client: Client) -> None:
    body = await fetch(client, "/")
    css = re.search(r'href="(/static/archive\.css\?v=[0-9a-f]{12})"', body)
    assert css
    response = await client.get(css.group(1))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert "immutable" in response.headers["Cache-Control"]
    assert "font-family" in await response.text()
