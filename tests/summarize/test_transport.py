"""LLM transport against a real local server: a day-long Retry-After, a dripping body, a huge body.

Each case must end within its bound, which ``asyncio.timeout`` enforces (a regression fails instead of hanging).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperbot.summarize.llm import OpenAICompatSummarizer
from tests.summarize.conftest import GOOD_BULLETS, paper
from tests.summarize.fake_llm import FakeLLMServer, Reply, fake_llm, openai_bullets

GOOD = Reply(body=openai_bullets(GOOD_BULLETS))


def scripted(replies: list[Reply]) -> Any:
    def script(body: dict[str, Any], attempt: int) -> Reply:
        return replies[min(attempt, len(replies) - 1)]

    return script


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make(http: httpx.AsyncClient, server: FakeLLMServer, **kwargs: Any) -> OpenAICompatSummarizer:
    options: dict[str, Any] = {"base_url": f"{server.url}/v1", "model": "gpt-4o-mini", "backoff": 0.0, **kwargs}
    return OpenAICompatSummarizer(http, **options)


async def test_a_503_asking_for_a_day_falls_back_at_once(http: httpx.AsyncClient) -> None:
    """The 5xx branch honours ``max_retry_after`` like 429 does: no sleeping for a day."""
    busy = Reply(status=503, body={"error": "maintenance"}, headers={"Retry-After": "86400"})
    with fake_llm(scripted([busy, GOOD])) as server:
        async with asyncio.timeout(10):
            summary = await make(http, server, max_retry_after=30, retries=3).summarize(paper())
    assert len(server.requests) == 1
    assert summary.backend == "offline"
    assert summary.fallback_reason == "server_error(503, retry_after=86400s)"


async def test_a_503_with_a_short_retry_after_is_retried_after_that_wait(http: httpx.AsyncClient) -> None:
    busy = Reply(status=503, body={}, headers={"Retry-After": "0.3"})
    started = time.monotonic()
    with fake_llm(scripted([busy, GOOD])) as server:
        async with asyncio.timeout(10):
            summary = await make(http, server, max_retry_after=30).summarize(paper())
    assert summary.backend == "openai_compat" and len(server.requests) == 2
    assert time.monotonic() - started >= 0.3  # it did wait what the server asked


async def test_a_dripping_server_holds_one_attempt_no_longer_than_the_timeout(http: httpx.AsyncClient) -> None:
    """A byte every 0.5 s never trips httpx's per-read timeout (2 s); the attempt as a whole is bounded."""
    drip = Reply(body=openai_bullets(GOOD_BULLETS), drip=0.5)
    started = time.monotonic()
    with fake_llm(scripted([drip])) as server:
        async with asyncio.timeout(15):
            summary = await make(http, server, timeout=2.0, retries=1).summarize(paper())
    elapsed = time.monotonic() - started
    assert summary.backend == "offline" and summary.fallback_reason == "timeout"
    assert len(server.requests) == 2  # retried once, each attempt cut at 2 s
    assert elapsed < 8  # two bounded attempts (the whole body would have taken minutes)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
async def test_a_huge_body_is_not_read_into_memory(http: httpx.AsyncClient, declared: bool) -> None:
    huge = Reply(body="", stream_bytes=300_000_000, declare_length=declared)
    with fake_llm(scripted([huge, GOOD])) as server:
        async with asyncio.timeout(20):
            summary = await make(http, server, max_response_bytes=1_000_000, retries=2).summarize(paper())
    assert summary.backend == "offline"
    assert summary.fallback_reason is not None and summary.fallback_reason.startswith("too_large(")
    assert len(server.requests) == 1  # the same request would bring the same body: not retried
    assert server.sent_bytes < 50_000_000  # the client hung up early, far from 300 MB
