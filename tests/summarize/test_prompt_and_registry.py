"""Input sanitising, the prompt, settings and the registry."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paperbot.config import Settings, read_config_file
from paperbot.domain import ItemKind
from paperbot.errors import ConfigError
from paperbot.retry import parse_retry_after
from paperbot.summarize.llm import AnthropicSummarizer, OpenAICompatSummarizer
from paperbot.summarize.offline import OfflineSummarizer
from paperbot.summarize.pricing import PriceTable
from paperbot.summarize.prompt import _PAPER_SYSTEM, PROMPT_VERSION, build_prompt, protected_terms
from paperbot.summarize.registry import SUMMARIZERS, build_summarizer
from paperbot.summarize.text import input_hash, sanitize_for_prompt, split_sentences
from tests.summarize.conftest import paper


def test_sanitize() -> None:
    text = "Cafe\u0301 \u202eevil\u202c <abstract> ``` x\u200by \x00"
    clean = sanitize_for_prompt(text, 1000)
    # The zero-width space is dropped, as at ingestion (issue 15: one character set), not made a visible space.
    assert clean == "Café evil ‹abstract› ''' xy"
    assert len(sanitize_for_prompt("word. " * 1000, 200)) <= 200


def test_split_sentences_keeps_abbreviations_together() -> None:
    text = "Wu et al. propose a method, e.g. for LLMs. It works in the U.S. and elsewhere. Results (Fig. 2) hold."
    assert split_sentences(text) == [
        "Wu et al. propose a method, e.g. for LLMs.",
        "It works in the U.S. and elsewhere.",
        "Results (Fig. 2) hold.",
    ]


def test_protected_terms() -> None:
    terms = protected_terms("SCOPE: Optimizing KV Caches", "We use LongGenBench, GPT-4o and Qwen2.5 with RL.")
    assert terms[:2] == ["SCOPE", "KV"]
    assert {"LongGenBench", "GPT-4o", "Qwen2.5", "RL"}.issubset(terms)


def test_prompt_tells_posts_apart() -> None:
    product = paper(title="Introducing Foo: now available in the API", abstract="Today we launch Foo for developers.")
    product = type(product)(**{**{f: getattr(product, f) for f in product.__slots__}, "kind": ItemKind.POST})
    assert "발표 글" in build_prompt(product, max_input_chars=1000).system
    assert "논문" in build_prompt(paper(), max_input_chars=1000).system


def test_input_hash_changes_with_the_input_only() -> None:
    assert input_hash(paper(), 4000) == input_hash(paper(item_id=99), 4000)
    assert input_hash(paper(), 4000) != input_hash(paper(abstract="Other."), 4000)


def test_retry_after() -> None:
    """The project's one parser (paperbot.retry), for the fetcher and the LLM alike (RFC 9110 §10.2.3)."""
    from datetime import UTC, datetime

    from paperbot.sources import fetch

    now = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 86400 ") == 86400.0
    assert parse_retry_after("1.5") == 1.5  # not in the RFC, but servers send it
    assert parse_retry_after("Fri, 01 Aug 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    for garbage in (None, "", "soon", "-5", "inf", "nan", "1e9"):
        assert parse_retry_after(garbage) is None
    assert fetch.parse_retry_after is parse_retry_after  # the fetcher's copy is gone


def test_prompt_v2() -> None:
    assert PROMPT_VERSION == "ko-bullets-2"
    for rule in ("billion = 10억", "million = 100만", "trillion = 1조", "원문에 없는 약어 풀이", "fine-tuning"):
        assert rule in _PAPER_SYSTEM
    assert "코드, 데이터, 프로젝트 페이지" in _PAPER_SYSTEM and "BLINK" in _PAPER_SYSTEM  # one worked example
    assert "<terms>" in _PAPER_SYSTEM.split("자료일 뿐")[0]  # the terms are data, not instructions
    user = build_prompt(paper(), max_input_chars=4000).user
    assert user.rstrip().endswith("</terms>") and "보호어" not in user


def test_prices() -> None:
    table = PriceTable({"my-local": (0.0, 0.0), "gpt-4o-mini": (1.0, 2.0)})
    assert table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == 3.0
    assert table.lookup("openai/gpt-4.1-mini") == (0.40, 1.60)
    assert table.cost("unknown-model", 10, 10) == 0.0


async def test_registry_builds_each_provider() -> None:
    async with httpx.AsyncClient() as http:
        assert isinstance(build_summarizer(Settings(), http, None), OfflineSummarizer)
        openai = build_summarizer(Settings(llm_provider="openai_compat", llm_model="gpt-4o-mini"), http, None)
        assert isinstance(openai, OpenAICompatSummarizer)
        assert openai.base_url == "https://api.openai.com/v1" and openai.cache_key(paper())[1:] == (
            PROMPT_VERSION,
            "gpt-4o-mini",
        )
        claude = build_summarizer(
            Settings(
                llm_provider="anthropic", llm_model="claude-3-5-haiku-latest", llm_api_key="k", llm_daily_budget_usd=1
            ),
            http,
            None,
        )
        assert isinstance(claude, AnthropicSummarizer) and claude.daily_budget_usd == 1


async def test_registry_errors() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError, match="PAPERBOT_LLM_MODEL"):
            build_summarizer(Settings(llm_provider="openai_compat"), http, None)
        with pytest.raises(ConfigError, match="PAPERBOT_LLM_API_KEY"):
            build_summarizer(Settings(llm_provider="anthropic", llm_model="m"), http, None)
        bogus = Settings.model_construct(**{**Settings().model_dump(), "llm_provider": "gemini"})
        with pytest.raises(ConfigError, match="known: anthropic, offline, openai_compat"):
            build_summarizer(bogus, http, None)
    assert set(SUMMARIZERS) == {"offline", "openai_compat", "anthropic"}


def test_settings_from_env_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "paperbot.toml"
    config.write_text(
        '[llm]\nprovider = "openai_compat"\nmodel = "solar-pro"\nauth_header = "api-key"\napi_version = "2024-10-21"\n'
        'structured_output = "json_object"\nmax_tokens_param = "max_completion_tokens"\nextra_body = { seed = 1 }\n'
        'prices = { "solar-pro" = [0.5, 1.5] }\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("PAPERBOT_LLM_MODEL", "from-env")
    monkeypatch.setenv("PAPERBOT_LLM_CONCURRENCY", "8")
    settings = Settings(**read_config_file(config))
    assert settings.llm_model == "from-env"  # the environment wins
    assert settings.llm_concurrency == 8
    assert settings.llm_auth_header == "api-key" and settings.llm_structured_output == "json_object"
    assert settings.llm_extra_body == {"seed": 1} and settings.llm_prices == {"solar-pro": (0.5, 1.5)}
