"""HF Daily Papers parsing: every real fixture field by field, drift cases, the listing-page fallback, fuzzing."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperbot.domain import ItemKind
from paperbot.errors import ParseError
from paperbot.sources.hf import (
    embedded_props,
    parse_daily_papers,
    parse_entries,
    parse_listing_page,
    parse_single_paper,
)
from tests.sources.helpers import CAPTURED, HF, hf_json, listing_page

# (file day, entries, last entry: id, title start, first two authors, author count, upvotes, expected day)
REAL_DAYS = [
    ("2024-05-27", 8, "2405.15223", "iVideoGPT: Interactive VideoGPTs", ("Jialong Wu", "Shaofeng Yin"), 7, 7, None),
    ("2024-06-12", 8, "2406.06911", "AsyncDiff: Parallelizing Diffusion", ("Zigeng Chen", "Xinyin Ma"), 5, 8, None),
    ("2024-06-13", 8, "2406.08464", "Magpie: Alignment Data Synthesis", ("Zhangchen Xu", "Fengqing Jiang"), 7, 20, None),
    ("2024-08-02", 8, "2408.00458", "Reenact Anything: Semantic Video", ("Manuel Kansy", "Jacek Naruniec"), 5, 5, None),
    ("2025-01-13", 5, "2501.05707", "Multiagent Finetuning: Self Improvement", ("Vighnesh Subramaniam", "Yilun Du"), 6, 0, None),
    ("2025-03-11", 8, "2503.06680", "FEA-Bench: A Benchmark for Evaluating", ("Wei Li", "Xin Zhang"), 9, 14, None),
    ("2025-03-17", 8, "2503.10772", "FlowTok: Flowing Seamlessly Across", ("Ju He", "Qihang Yu"), 4, 6, "2025-03-17"),
    ("2025-05-22", 8, "2505.15779", "IA-T2I: Internet-Augmented Text-to-Image", ("Chuanhao Li", "Jianwen Sun"), 6, 12, "2025-05-22"),
    ("2025-06-25", 8, "2506.18843", "USAD: Universal Speech and Audio", ("Heng-Jui Chang", "Saurabhchand Bhati"), 4, 5, "2025-06-25"),
    ("2025-10-03", 8, "2510.02240", "RewardMap: Tackling Sparse Rewards", ("Sicheng Feng", "Kaiwen Tuo"), 6, 11, "2025-10-03"),
    ("2025-12-11", 8, "2512.09106", "Learning Unmasking Policies for Diffusion", ("Metod Jazbec", "Theo X. Olausson"), 9, 3, "2025-12-11"),
    ("2026-06-03", 8, "2606.01599", "TRON: Targeted Rule-Verifiable Online", ("Tianze Yang", "Yucheng Shi"), 6, 9, "2026-06-03"),
    ("2026-08-21", 8, "2608.13120", "SkillEvo: Self-Renewing Evolution Gradients", ("Qianxi Yan", "Chunrong Chen"), 6, 6, "2026-08-21"),
]  # fmt: skip


@pytest.mark.parametrize("case", REAL_DAYS, ids=[case[0] for case in REAL_DAYS])
def test_every_real_day_parses_field_by_field(case: tuple[Any, ...]) -> None:
    day, count, arxiv_id, title, authors, n_authors, upvotes, expected_day = case
    queried = date.fromisoformat(day)
    parsed = parse_daily_papers((HF / f"{day}.json").read_bytes(), day=queried, captured_at=CAPTURED)
    assert (parsed.entries, parsed.skipped, len(parsed.items)) == (count, 0, count)
    item = parsed.items[-1]
    assert item.external_id == arxiv_id
    assert item.kind is ItemKind.PAPER
    assert item.title.startswith(title)
    assert "\n" not in item.title and "  " not in item.title
    assert item.authors[:2] == authors and len(item.authors) == n_authors
    assert item.upvotes == upvotes and item.upvotes_captured_at == CAPTURED
    assert item.day == date.fromisoformat(expected_day or day)
    assert item.url == f"https://arxiv.org/abs/{arxiv_id}"
    assert item.extra["hf_url"] == f"https://huggingface.co/papers/{arxiv_id}"
    assert item.thumbnail_url is not None and item.thumbnail_url.startswith("https://cdn-thumbnails.huggingface.co/")
    assert item.abstract and "\n" not in item.abstract
    # The API order (upvotes descending in these captures) is kept.
    assert [i.upvotes for i in parsed.items] == sorted((i.upvotes for i in parsed.items), reverse=True)


def test_oldest_format_uses_media_url_and_has_no_optional_fields() -> None:
    parsed = parse_daily_papers((HF / "2024-05-27.json").read_bytes(), day=date(2024, 5, 27), captured_at=CAPTURED)
    first = parsed.items[0]
    assert first.external_id == "2405.15738"
    assert first.title == "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    assert first.authors[:2] == ("Chunjiang Ge", "Sijie Cheng")
    assert first.upvotes == 32
    assert first.thumbnail_url == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2405.15738.png"
    assert first.abstract.startswith(
        "High-resolution Large Multimodal Models (LMMs) encounter the challenges of excessive"
    )
    assert first.extra["num_comments"] == 3
    assert first.published_at == datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)  # paper.publishedAt (arXiv)
    assert first.day == date(2024, 5, 27)  # the queried day, not any publishedAt
    assert {"ai_summary", "ai_keywords", "github_repo", "organization"}.isdisjoint(first.extra)


def test_newest_format_maps_every_optional_field() -> None:
    parsed = parse_daily_papers((HF / "2026-08-21.json").read_bytes(), day=date(2026, 8, 21), captured_at=CAPTURED)
    first = parsed.items[0]
    assert first.external_id == "2608.19880"
    assert first.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert first.authors[:2] == ("Chengsong Huang", "Zifeng Wang")
    assert first.upvotes == 163
    assert first.day == date(2026, 8, 21)
    extra = first.extra
    assert extra["github_repo"] == "https://github.com/google-research/envharness"
    assert extra["github_stars"] == 8
    assert extra["project_page"] == "https://envharness.com/"
    assert extra["organization"] == "Google"
    assert extra["num_comments"] == 1
    assert extra["ai_summary"].startswith("EnvHarness and EnvRigger dynamically reshape static environments")
    assert extra["ai_keywords"][:3] == ["LLM agents", "Environment Harness", "EnvHarness"]
    assert isinstance(extra["submitted_by"], str) and extra["submitted_by"]


def test_day_comes_from_submitted_on_daily_at_never_top_level_published_at() -> None:
    entry = hf_json("2026-08-21")[0]
    assert entry["publishedAt"].startswith("2026-08-19")  # the misleading top-level field
    parsed = parse_entries([entry], day=date(2026, 8, 25), captured_at=CAPTURED)
    assert parsed.items[0].day == date(2026, 8, 21)


def _drift_set() -> list[Any]:
    good = hf_json("2026-08-21")[:3]
    renamed = json.loads(json.dumps(good[0]))
    renamed["paper"]["arxivId"] = renamed["paper"].pop("id")  # renamed key: unusable, skipped
    missing = {"paper": {"id": "2608.00001", "title": "  Only   a title\n here "}}  # everything else missing
    extra = json.loads(json.dumps(good[1]))
    extra["paper"]["brandNewField"] = {"nested": [1, 2, 3]}
    extra["paper"]["upvotes"] = "41"  # a number as a string (as in the paper page's props)
    extra["paper"]["authors"] = [{"name": "A"}, "B", None, {"user": {"fullname": "C"}}, {"name": 5}]
    weird = {"paper": {"id": "2608.00002", "title": 7, "summary": "x"}, "title": "Fallback title"}
    return [good[2], renamed, missing, extra, weird, None, "garbage", 42, [], {"paper": "nope"}]


def test_drift_set_skips_bad_entries_and_keeps_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse_entries(_drift_set(), day=date(2026, 8, 21), captured_at=CAPTURED)
    good = hf_json("2026-08-21")
    expected = [good[2]["paper"]["id"], "2608.00001", good[1]["paper"]["id"], "2608.00002"]
    assert [item.external_id for item in parsed.items] == expected
    assert parsed.entries == 10 and parsed.skipped == 6 and len(parsed.items) == 4
    minimal = next(item for item in parsed.items if item.external_id == "2608.00001")
    assert minimal.title == "Only a title here" and minimal.authors == () and minimal.upvotes == 0
    assert minimal.thumbnail_url is None and minimal.day == date(2026, 8, 21)
    drifted = parsed.items[2]
    assert drifted.upvotes == 41 and drifted.authors == ("A", "B", "C")
    assert next(i for i in parsed.items if i.external_id == "2608.00002").title == "Fallback title"
    assert sum("skipped a malformed daily-papers entry" in r.getMessage() for r in caplog.records) == 6


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[",
        b"<!DOCTYPE html><html><body>Hugging Face is down</body></html>",
        b'{"error":"Sorry, we can\'t find the page you are looking for."}',
        b"null",
        b'"a string"',
        b"\xff\xfe\x00garbage",
    ],
)
def test_unusable_bodies_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_daily_papers(body, day=date(2026, 8, 21), captured_at=CAPTURED)


def test_real_404_body_is_a_parse_error_naming_the_error() -> None:
    with pytest.raises(ParseError, match="can't find the page"):
        parse_daily_papers((HF / "error_404.json").read_bytes(), day=date(2025, 12, 30), captured_at=CAPTURED)


def test_empty_list_parses_to_nothing() -> None:
    parsed = parse_daily_papers(b"[]", day=date(2026, 8, 21), captured_at=CAPTURED)
    assert (parsed.items, parsed.entries, parsed.skipped) == ([], 0, 0)


@pytest.mark.parametrize("quoting", ["double", "single"])
def test_listing_page_fallback_reads_embedded_json(quoting: str) -> None:
    entries = hf_json("2025-10-03")
    page = listing_page(entries, quoting=quoting)
    parsed = parse_listing_page(page.encode(), day=date(2025, 10, 3), captured_at=CAPTURED)
    api = parse_entries(entries, day=date(2025, 10, 3), captured_at=CAPTURED)
    assert [(i.external_id, i.title, i.authors, i.upvotes) for i in parsed.items] == [
        (i.external_id, i.title, i.authors, i.upvotes) for i in api.items
    ]


def test_listing_page_without_the_element_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="DailyPapers"):
        parse_listing_page(b"<html><body><p>new layout</p></body></html>", day=date(2026, 1, 1), captured_at=CAPTURED)


def test_real_paper_page_props_single_quoted() -> None:
    props = embedded_props((HF / "paper_page_2509.24002.html").read_bytes(), "PaperContent")
    item = parse_single_paper(json.dumps(props), captured_at=CAPTURED)
    assert item.external_id == "2509.24002"
    assert item.title == "MCPMark: A Benchmark for Stress-Testing Realistic and Comprehensive MCP Use"
    assert item.upvotes == 118  # a string in this page's props
    assert item.day == date(2025, 10, 1)  # submittedOnDailyAt
    assert item.extra["github_stars"] == 182 and item.extra["project_page"] == "https://mcpmark.ai/"


def test_single_paper_api_shape() -> None:
    paper = hf_json("2026-08-21")[0]["paper"]
    item = parse_single_paper(json.dumps(paper).encode(), captured_at=CAPTURED)
    assert item.external_id == "2608.19880" and item.upvotes == 163 and item.day == date(2026, 8, 21)
    with pytest.raises(ParseError):
        parse_single_paper(b"[]", captured_at=CAPTURED)


def test_untrusted_urls_are_dropped() -> None:
    entry = {
        "paper": {
            "id": "2608.00003",
            "title": "t",
            "githubRepo": "javascript:alert(1)",
            "projectPage": "http://u:p@x/",
        },
        "thumbnail": "data:image/png;base64,AAAA",
    }
    item = parse_entries([entry], day=date(2026, 8, 21), captured_at=CAPTURED).items[0]
    assert item.thumbnail_url is None and "github_repo" not in item.extra and "project_page" not in item.extra


# --- fuzzing: only ParseError may escape ---------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
_paperish = st.fixed_dictionaries(
    {"paper": st.dictionaries(st.sampled_from(["id", "title", "summary", "authors", "upvotes", "submittedOnDailyAt", "githubStars", "ai_keywords", "organization"]), _json)},
    optional={"thumbnail": _json, "numComments": _json, "submittedBy": _json, "organization": _json},
)  # fmt: skip
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.lists(_paperish | _json, max_size=6))
def test_fuzz_parse_entries(data: list[Any]) -> None:
    try:
        parsed = parse_entries(data, day=date(2026, 1, 1), captured_at=CAPTURED)
    except ParseError:
        return
    assert parsed.entries == len(data) == len(parsed.items) + parsed.skipped


@_FUZZ
@given(st.binary(max_size=300) | _json.map(lambda v: json.dumps(v).encode()))
def test_fuzz_parse_daily_papers_bytes(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_daily_papers(body, day=date(2026, 1, 1), captured_at=CAPTURED)


@_FUZZ
@given(st.text(max_size=300), st.sampled_from(["double", "single"]), st.lists(_paperish, max_size=3))
def test_fuzz_listing_page(noise: str, quoting: str, entries: list[Any]) -> None:
    for page in (
        noise,
        listing_page(entries, quoting=quoting) + noise,
        noise + '<div data-target="DailyPapers" data-props="',
    ):
        with contextlib.suppress(ParseError):
            parse_listing_page(page, day=date(2026, 1, 1), captured_at=CAPTURED)


@_FUZZ
@given(_json)
def test_fuzz_single_paper(value: Any) -> None:
    with contextlib.suppress(ParseError):
        parse_single_paper(json.dumps(value), captured_at=CAPTURED)
