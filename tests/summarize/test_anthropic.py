"""The anthropic back-end speaks the Messages API shape to a real local server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paperbot.summarize.llm import AnthropicSummarizer
from tests.summarize.conftest import GOOD_BULLETS, paper
from tests.summarize.fake_llm import FakeLLMServer, Reply, anthropic_text, anthropic_tool, fake_llm


def scripted(replies: list[Reply]) -> Any:
    def script(body: dict[str, Any], attempt: int) -> Reply:
        return replies[min(attempt, len(replies) - 1)]

    return script


pytestmark = pytest.mark.usefixtures("no_retry_waits")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make(http: httpx.AsyncClient, server: FakeLLMServer, **kwargs: Any) -> AnthropicSummarizer:
    options: dict[str, Any] = {
        "base_url": server.url,
        "model": "claude-3-5-haiku-latest",
        "api_key": "sk-ant-test",
        "timeout": 0.3,
        "backoff": 0.0,
    }
    options.update(kwargs)
    return AnthropicSummarizer(http, **options)


async def test_tool_answer_passes_and_request_has_the_messages_shape(http: httpx.AsyncClient) -> None:
    with fake_llm(scripted([Reply(body=anthropic_tool(GOOD_BULLETS))])) as server:
        summary = await make(http, server).summarize(paper())
    assert summary.backend == "anthropic"
    assert list(summary.bullets) == GOOD_BULLETS
    assert (summary.tokens_in, summary.tokens_out) == (120, 60)
    assert summary.cost_usd == pytest.approx((120 * 0.80 + 60 * 4.00) / 1_000_000)
    request = server.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    body = request.body
    assert isinstance(body["system"], str) and "니다." in body["system"]
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] == 1200
    assert body["tool_choice"] == {"type": "tool", "name": "submit_summary"}
    assert body["tools"][0]["input_schema"]["required"] == ["bullets"]


async def test_text_answer_without_tools(http: httpx.AsyncClient) -> None:
    text = json.dumps({"bullets": GOOD_BULLETS}, ensure_ascii=False)
    with fake_llm(scripted([Reply(body=anthropic_text(f"```json\n{text}\n```"))])) as server:
        summary = await make(http, server, structured_output="none", base_url=f"{server.url}/v1").summarize(paper())
    assert "tools" not in server.requests[0].body
    assert server.requests[0].path == "/v1/messages"
    assert list(summary.bullets) == GOOD_BULLETS


async def test_max_tokens_stop_is_truncation_then_repair(http: httpx.AsyncClient) -> None:
    replies = [
        Reply(body=anthropic_text('{"bullets": ["KV', stop_reason="max_tokens")),
        Reply(body=anthropic_tool(GOOD_BULLETS)),
    ]
    with fake_llm(scripted(replies)) as server:
        summary = await make(http, server).summarize(paper())
    assert summary.backend == "anthropic"
    assert len(server.requests) == 2


async def test_overloaded_twice_falls_back(http: httpx.AsyncClient) -> None:
    overloaded = Reply(status=529, body={"type": "error", "error": {"type": "overloaded_error"}})
    with fake_llm(scripted([overloaded, overloaded])) as server:
        summary = await make(http, server).summarize(paper())
    assert summary.backend == "offline"
    assert summary.fallback_reason == "server_error(529)"  # after stamina's retry: one reason, two requests
    assert len(server.requests) == 2


async def test_gate_failure_repairs_with_an_assistant_turn(http: httpx.AsyncClient) -> None:
    bad = Reply(body=anthropic_tool([*GOOD_BULLETS[:3], "SCOPE는 메모리를 45% 줄였습니다."]))
    with fake_llm(scripted([bad, Reply(body=anthropic_tool(GOOD_BULLETS))])) as server:
        summary = await make(http, server).summarize(paper())
    assert summary.backend == "anthropic"
    roles = [m["role"] for m in server.requests[1].body["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert "45%" in server.requests[1].body["messages"][1]["content"]
    assert "4번 항목" in server.requests[1].body["messages"][2]["content"]
