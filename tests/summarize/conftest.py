"""Shared items and answers for the summariser tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import stamina

from paperbot import korean
from paperbot.domain import Item, ItemKind

DATA = Path(__file__).parent.parent / "data" / "summarize"

TITLE = "SCOPE: Optimizing Key-Value Cache Compression in Long-context Generation"
ABSTRACT = (
    "Key-Value (KV) cache has become a bottleneck of LLMs for long-context generation. "
    "We propose SCOPE, a framework that separately optimizes the KV cache during the prefill and decoding phases. "
    "On LongGenBench with 2M tokens, SCOPE reduces memory by 35% across five tasks."
)
GOOD_BULLETS = [
    "KV 캐시는 긴 문맥 생성에서 LLMs의 병목이 되었습니다.",
    "SCOPE는 프리필 단계와 디코딩 단계의 KV 캐시를 따로 최적화하는 프레임워크입니다.",
    "LongGenBench에서 200만 개 토큰 조건으로 메모리 사용량을 35% 줄였습니다.",
    "이 결과는 5개 작업 전반에서 확인되었습니다.",
]


def paper(
    title: str = TITLE, abstract: str = ABSTRACT, *, item_id: int | None = 1, external_id: str = "2412.13649"
) -> Item:
    return Item(
        source="hf_daily",
        external_id=external_id,
        kind=ItemKind.PAPER,
        title=title,
        url=f"https://huggingface.co/papers/{external_id}",
        day=date(2024, 12, 23),
        abstract=abstract,
        id=item_id,
    )


def load_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def no_retry_waits() -> Iterator[None]:
    """stamina's test mode: retries happen, as many as the summariser allows, without waiting."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


def _analysers() -> list[Any]:
    analysers: list[Any] = [pytest.param(None, id="rules")]
    if korean.kiwi_installed():
        analysers.append(pytest.param("kiwi", id="kiwi"))
    return analysers


@pytest.fixture(params=_analysers())
def analyser(request: pytest.FixtureRequest) -> Any:
    """Each Korean analyser the ending repair can use: the rule table (always) and Kiwi (when installed)."""
    return korean.kiwi() if request.param == "kiwi" else None
