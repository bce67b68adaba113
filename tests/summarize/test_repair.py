"""Deterministic repair: markup unwrapped, source echoes removed, link notices dropped, endings made formal."""

from __future__ import annotations

import pytest

from paperbot.summarize.repair import is_notice, repair, strip_echoes, unwrap_markup


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("SCOPE는 **매우** 효율적입니다.", "SCOPE는 매우 효율적입니다."),
        ("SCOPE는 `캐시`를 줄입니다.", "SCOPE는 캐시를 줄입니다."),
        ("[SCOPE](https://example.com/scope)는 캐시를 줄입니다.", "SCOPE는 캐시를 줄입니다."),
        ("SCOPE는 <b>캐시</b>를 줄입니다.", "SCOPE는 캐시를 줄입니다."),
        ("## SCOPE는 캐시를 줄입니다.", "SCOPE는 캐시를 줄입니다."),
        ("SCOPE는 ~~캐시~~를 줄입니다.", "SCOPE는 캐시를 줄입니다."),
        ("전략적 ``plan-and-infill'' 디코딩입니다.", "전략적 'plan-and-infill' 디코딩입니다."),  # LaTeX quotes
    ],
)
def test_markup_the_renderers_would_neutralise_is_unwrapped(written: str, plain: str) -> None:
    assert unwrap_markup(written) == plain


def test_a_mention_is_not_markup_and_stays_for_the_gate() -> None:
    assert unwrap_markup("<@123> SCOPE는 캐시를 줄입니다.") == "<@123> SCOPE는 캐시를 줄입니다."


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        (
            "MMAudio로 함께 훈련함(In contrast to single-modality training, MMAudio is jointly trained.)",
            "MMAudio로 함께 훈련함",
        ),
        (
            "성능을 달성함.(Trained with a flow matching objective (FM), MMAudio achieves a new state of the art.)",
            "성능을 달성함.",
        ),
        (
            "사전 조건 주입을 사용함(1) model convergence speedup by using a prior condition injection;",
            "사전 조건 주입을 사용함",
        ),
    ],
)
def test_english_sentences_repeated_in_parentheses_are_removed(written: str, kept: str) -> None:
    assert strip_echoes(written) == kept


@pytest.mark.parametrize(
    "gloss",
    ["지식 증류(knowledge distillation)를 씁니다.", "SFT(Supervised Fine-Tuning)를 씁니다.", "3단계(1, 2, 3)입니다."],
)
def test_short_glosses_stay(gloss: str) -> None:
    assert strip_echoes(gloss) == gloss


@pytest.mark.parametrize(
    "notice",
    [
        "코드는 GitHub에서 공개됩니다.",
        "코드와 데이터셋은 공개될 예정입니다.",
        "프로젝트 페이지: 곧 공개",
        "소스 코드와 모델 가중치는 누구나 사용할 수 있습니다.",
    ],
)
def test_code_and_project_page_notices_are_recognised(notice: str) -> None:
    assert is_notice(notice)


@pytest.mark.parametrize(
    "content",
    [
        "TriForce는 여러 환경에서 뛰어난 성능을 유지하며, 해당 코드는 온라인에서 접근 가능합니다.",
        "코드 생성 과제에서 정확도를 12% 높였습니다.",
        "모델은 텍스트와 이미지 입력을 처리합니다.",
    ],
)
def test_content_about_code_is_not_a_notice(content: str) -> None:
    assert not is_notice(content)


def test_repair_records_what_it_did_by_the_bullets_position() -> None:
    answer = [
        "KV 캐시는 긴 문맥 생성의 병목임.",
        "모델은 http://chat.example.ai 에서 제공됩니다.",
        "**SCOPE**는 프리필과 디코딩을 따로 최적화함(SCOPE separately optimizes the prefill and decoding phases).",
        "코드는 GitHub에서 공개됩니다.",
        "메모리를 35% 줄입니다.",
    ]
    fixed = repair(answer, kiwi=None)
    assert fixed.bullets == (
        "KV 캐시는 긴 문맥 생성의 병목입니다.",
        "SCOPE는 프리필과 디코딩을 따로 최적화합니다.",
        "메모리를 35% 줄입니다.",
    )
    assert fixed.positions == (1, 3, 5)
    assert fixed.notes == ("ending:1", "link:2", "markup:3", "echo:3", "ending:3", "notice:4")
