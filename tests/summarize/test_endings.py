"""Endings to "~니다.", with Kiwi and with the rule table that works without it."""

from __future__ import annotations

from typing import Any

import pytest

from paperbot import korean
from paperbot.summarize.endings import to_formal

#: (as a model wrote it, the formal sentence) — the same with Kiwi and with the rule table.
CASES = [
    ("이 논문은 새로운 벤치마크를 소개한다.", "이 논문은 새로운 벤치마크를 소개합니다."),
    ("긴 문맥에서는 여전히 한계가 있음.", "긴 문맥에서는 여전히 한계가 있습니다."),
    ("계층적 추론 디코딩을 제안함.", "계층적 추론 디코딩을 제안합니다."),
    ("메모리 사용량을 크게 줄임", "메모리 사용량을 크게 줄입니다."),
    ("기존 모델보다 높은 성능을 보임.", "기존 모델보다 높은 성능을 보입니다."),
    ("정확도를 2배 향상시킴", "정확도를 2배 향상시킵니다."),
    ("새로운 평가 지표를 만듦", "새로운 평가 지표를 만듭니다."),
    ("호환성도 뛰어나다.", "호환성도 뛰어납니다."),
    ("수요가 증가하고 있다.", "수요가 증가하고 있습니다."),
    ("병목 현상이 주요한 문제로 부상했다.", "병목 현상이 주요한 문제로 부상했습니다."),
    ("정답을 얻는다.", "정답을 얻습니다."),
    ("이 방법은 효과적임.", "이 방법은 효과적입니다."),
    ("기반 모델은 GPT-4o임", "기반 모델은 GPT-4o입니다."),
    ("SCOPE 프레임워크를 도입", "SCOPE 프레임워크를 도입합니다."),  # a verbal noun after its object
    ("새로운 방법 개발", "새로운 방법을 개발합니다."),  # the bare noun before it becomes the object
    ("실시간 처리 가능", "실시간 처리가 가능합니다."),  # an adjectival noun takes a subject
    ("성능을 높이기 위한 연구", "성능을 높이기 위한 연구입니다."),  # a modified noun: 입니다
    ("고품질 데이터 세트를 제공하는 것", "고품질 데이터 세트를 제공하는 것입니다."),
    ("모델 크기는 7B", "모델 크기는 7B입니다."),
    ("이미 좋은 문장입니다", "이미 좋은 문장입니다."),
    ("첫 문장임. 둘째 문장도 있음.", "첫 문장입니다. 둘째 문장도 있습니다."),  # every sentence of a bullet
    ("방법을 도입함(PRID).", "방법을 도입합니다."),  # a gloss after a verb has nothing to attach to
    ("평가 벤치마크(BLINK)", "평가 벤치마크(BLINK)입니다."),  # after a noun it stays
    ("기존 실험을 반복함,", "기존 실험을 반복합니다."),
]
#: Left alone: not a complete sentence, so the gate drops the bullet instead of guessing.
UNCHANGED = ["모델을 개발하고 그 가능성을 탐구하기 위해", "An English sentence."]


@pytest.mark.parametrize(("written", "formal"), CASES)
def test_endings_become_formal(analyser: Any, written: str, formal: str) -> None:
    assert to_formal(written, kiwi=analyser) == formal


@pytest.mark.parametrize("written", UNCHANGED)
def test_incomplete_sentences_are_left_alone(analyser: Any, written: str) -> None:
    assert to_formal(written, kiwi=analyser) == written


@pytest.mark.parametrize("noun", ["실험", "경험", "잡음", "포함", "시스템", "알고리즘"])
def test_nouns_that_look_like_endings_are_not_conjugated(noun: str) -> None:
    converted = to_formal(f"새로운 {noun}", kiwi=None)
    assert converted.startswith(f"새로운 {noun}") and converted.endswith("니다.")


def test_kiwi_knows_irregular_verbs() -> None:
    pytest.importorskip("kiwipiepy")
    assert to_formal("긴 문맥 학습이 어려움", kiwi=korean.kiwi()) == "긴 문맥 학습이 어렵습니다."
