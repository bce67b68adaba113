"""The offline summariser: deterministic, extractive, every quote verbatim, always within its gate."""

from __future__ import annotations

import re
from datetime import date

import pytest

from paperbot.domain import Item, ItemKind
from paperbot.summarize.gate import OFFLINE_RULES, check
from paperbot.summarize.offline import (
    NO_ABSTRACT_PAPER,
    OFFLINE_PROMPT_VERSION,
    OfflineSummarizer,
    offline_bullets,
    quotable_text,
    unquote,
)
from paperbot.summarize.posts import PostKind, classify_post
from tests.summarize.conftest import load_jsonl, paper

PAPERS = load_jsonl("hf_papers_2025-05-22.jsonl")
POSTS = load_jsonl("blog_posts.jsonl")
QUOTE_RE = re.compile(r"“([^”]*)”")


def post(row: dict[str, str]) -> Item:
    return Item(
        source="feed",
        external_id=row["url"],
        kind=ItemKind.POST,
        title=row["title"],
        url=row["url"],
        day=date(2025, 7, 25),
        abstract=row["excerpt"],
        id=7,
    )


@pytest.mark.parametrize("row", PAPERS, ids=[row["id"] for row in PAPERS])
async def test_real_papers(row: dict[str, str]) -> None:
    item = paper(title=row["title"], abstract=row["abstract"], external_id=row["id"])
    summary = await OfflineSummarizer().summarize(item)
    assert summary.backend == "offline" and summary.model == "offline" and summary.fallback_reason is None
    assert 3 <= len(summary.bullets) <= 5
    assert check(summary.bullets, title=item.title, abstract=item.abstract, rules=OFFLINE_RULES).ok
    for bullet in summary.bullets:
        assert bullet.endswith("니다.")
        quotes = QUOTE_RE.findall(bullet)
        assert len(quotes) == 1 and unquote(quotes[0]) in quotable_text(item.abstract)
        assert "http" not in bullet
    assert offline_bullets(item) == list(summary.bullets)  # deterministic


def test_background_method_result_order() -> None:
    row = PAPERS[0]
    bullets = offline_bullets(paper(title=row["title"], abstract=row["abstract"]))
    frames = [bullet.split("“")[0] for bullet in bullets]
    assert frames[0] == "배경으로 "
    assert "제안 내용을 " in frames
    assert any(frame in ("결과로 ", "또한 ") for frame in frames[frames.index("제안 내용을 ") :])


@pytest.mark.parametrize("row", POSTS, ids=[row["title"][:30] for row in POSTS])
def test_blog_posts_say_research_or_product(row: dict[str, str]) -> None:
    item = post(row)
    assert classify_post(item) is PostKind(row["expected"])
    bullets = offline_bullets(item)
    lead = (
        "연구 내용을 소개하는 글입니다."
        if row["expected"] == "research"
        else "새 제품이나 기능을 알리는 발표 글입니다."
    )
    assert bullets[0] == lead
    assert len(bullets) >= 2
    assert check(bullets, title=item.title, abstract=item.abstract, rules=OFFLINE_RULES).ok
    for bullet in bullets[1:]:
        (quote,) = QUOTE_RE.findall(bullet)
        assert unquote(quote) in quotable_text(item.abstract)
        assert re.search(r"[.!?\"'”’)…]$", quote + ("" if quote.endswith("…") else "."))  # never a stub


def test_a_cut_excerpt_is_not_quoted_mid_word() -> None:
    row = next(r for r in POSTS if r["title"].startswith("Harness"))
    assert not row["excerpt"].endswith((".", "!", "?"))
    tail = row["excerpt"].rsplit(". ", 1)[-1]
    assert all(tail not in bullet for bullet in offline_bullets(post(row)))


def test_no_abstract() -> None:
    assert offline_bullets(paper(abstract="")) == [NO_ABSTRACT_PAPER]
    bullets = offline_bullets(post({"url": "u", "title": "Introducing Foo, now available", "excerpt": ""}))
    assert bullets == ["새 제품이나 기능을 알리는 발표 글입니다.", "본문 발췌가 없어 제목만 전합니다."]


def test_unsafe_sentences_are_never_quoted() -> None:
    abstract = (
        "Large models are hard to serve on small devices. "
        "We propose TinyServe, a method that reduces memory by half on phones. "
        "@everyone read this now and visit the page for details. "
        "<!channel> Results show a 2x speedup over the baseline on three devices. "
        "Code is available at https://github.com/example/tinyserve for everyone. "
        "Experiments show that TinyServe improves latency by 30% on average."
    )
    bullets = offline_bullets(paper(title="TinyServe: Serving on Phones", abstract=abstract))
    text = " ".join(bullets)
    assert "@" not in text and "<" not in text and "http" not in text
    assert "TinyServe improves latency by 30%" in text


def test_hidden_characters_and_markdown_are_never_quoted() -> None:
    abstract = (
        "We study **bold** claims in papers with care. "
        "We propose a checker that flags\u202e reversed text in abstracts. "
        "Results show the checker finds most problems in practice."
    )
    bullets = offline_bullets(paper(title="Checker", abstract=abstract))
    assert all("*" not in b and "\u202e" not in b for b in bullets)
    assert check(bullets, title="Checker", abstract=abstract, rules=OFFLINE_RULES).ok


def test_nothing_safe_to_quote() -> None:
    bullets = offline_bullets(paper(title="X", abstract="See https://a.example now. @here <b>hi</b> yes yes yes."))
    assert bullets == ["초록에서 그대로 옮길 만한 문장을 찾지 못해 제목만 전합니다."]


def test_long_sentences_are_cut_at_a_clause_and_stay_verbatim() -> None:
    long_sentence = "We propose LongNet, " + ", ".join(
        f"a component number {i} that does something useful" for i in range(12)
    )
    abstract = f"Background matters a lot here. {long_sentence}. Results show gains of 3% overall."
    for bullet in offline_bullets(paper(title="LongNet", abstract=abstract)):
        (quote,) = QUOTE_RE.findall(bullet)
        assert unquote(quote) in abstract and len(quote) <= 231
        if "component number 11" not in quote and quote.startswith("We propose"):
            assert quote.endswith("…")  # a cut quote says so


async def test_fallback_records_the_reason() -> None:
    summary = await OfflineSummarizer().fallback(paper(), "timeout; timeout")
    assert summary.fallback_reason == "timeout; timeout" and summary.is_fallback
    assert OfflineSummarizer().cache_key(paper()) == (summary.input_hash, OFFLINE_PROMPT_VERSION, "offline")


def test_sentences_split_even_without_a_space_after_the_period() -> None:
    abstract = (
        "Variance reduction matters for policy gradient estimators.We propose LowVar, a control variate method. "
        "Experiments show that LowVar reduces variance by 40% on six benchmarks."
    )
    bullets = offline_bullets(paper(title="LowVar", abstract=abstract))
    quotes = [QUOTE_RE.findall(bullet)[0] for bullet in bullets]
    assert "We propose LowVar, a control variate method" in quotes
    assert all("estimators.We" not in quote for quote in quotes)


def test_latex_is_stripped_before_quoting() -> None:
    abstract = (
        "Long videos are costly to generate with diffusion models. "
        "We propose \\textbf{FastVid}, which needs $\\sim$15 minutes per clip instead of hours. "
        "Results show FastVid is 12$\\times$ faster than the baseline."
    )
    bullets = offline_bullets(paper(title="FastVid", abstract=abstract))
    text = " ".join(bullets)
    assert "textbf" not in text and "$" not in text and "\\" not in text
    assert "We propose FastVid, which needs ~15 minutes per clip instead of hours" in text


def test_frames_name_a_role_only_on_a_clear_cue() -> None:
    abstract = (
        "Graph learning is widely used in chemistry and biology. "
        "We introduce MolGraph, a graph transformer for molecules. "
        "The model uses attention over bonds and atoms. "
        "MolGraph outperforms prior models by 3.1 points on MoleculeNet."
    )
    bullets = offline_bullets(paper(title="MolGraph", abstract=abstract))
    frames = {QUOTE_RE.findall(b)[0].split()[0]: b.split("“")[0] for b in bullets}
    assert frames["We"] == "제안 내용을 "
    assert frames["MolGraph"] == "결과로 "  # outperforms, numbers
    assert frames["Graph"] == ""  # first, but no background cue: a neutral frame
    neutral = offline_bullets(
        paper(title="X", abstract="Cats sleep a lot during the day. Dogs like long walks in parks.")
    )
    assert all(not b.startswith(("결과로", "제안 내용을", "배경으로")) for b in neutral)


def test_a_cut_quote_ends_with_an_ellipsis() -> None:
    long_sentence = "We propose LongNet, " + ", ".join(f"a component number {i} that helps" for i in range(20))
    bullets = offline_bullets(paper(title="LongNet", abstract=f"Background matters a lot here. {long_sentence}."))
    cut = [q for b in bullets for q in QUOTE_RE.findall(b) if q.startswith("We propose")]
    assert cut and cut[0].endswith("…") and unquote(cut[0]) in long_sentence
