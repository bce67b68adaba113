"""The 2024-04-19 digest, built from fixture data with the seed's bullets, renders byte for byte."""

from __future__ import annotations

from paperbot.digest.build import build_daily
from paperbot.digest.render.markdown import render_markdown
from tests.digest.helpers import DATA, GOLDEN_DAY, golden_items


def test_golden_daily_markdown_matches_the_seed_byte_for_byte() -> None:
    items, summaries = golden_items()
    # The repository hands items back newest day first, then by upvotes: shuffle to prove the ranking orders them.
    digest = build_daily(GOLDEN_DAY, list(reversed(items)), summaries=summaries)
    expected = (DATA / "golden_daily_2024-04-19.md").read_bytes()
    assert render_markdown(digest, annotate=False).encode("utf-8") == expected


def test_annotated_markdown_adds_topics_and_reasons_after_the_authors() -> None:
    items, summaries = golden_items()
    text = render_markdown(build_daily(GOLDEN_DAY, items, summaries=summaries))
    block = text.split("\n### ")[1]
    assert block.startswith("[Reka Core, Flash, and Edge")
    assert "Authors: Nishant Relan" in block
    assert "\n\n주제: Multimodal, LLMs\n\n선정 이유: HF 추천 5표 · 9편 중 1위\n\n- 렉카(Reka)사가" in block
