"""ROUGE on Korean morphemes, pinned with pairs worked out by hand."""

from __future__ import annotations

import pytest

from paperbot.summarize.evaluation import faithfulness_flags, rouge_l, rouge_n, rouge_scores


def test_rouge_n_clips_repeated_ngrams() -> None:
    candidate = ["a", "a", "a", "b"]
    reference = ["a", "b", "c"]
    score = rouge_n(candidate, reference, 1)
    assert (score.precision, score.recall) == (2 / 4, 2 / 3)
    assert score.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_rouge_l_is_the_longest_common_subsequence() -> None:
    score = rouge_l(["a", "x", "b", "c"], ["a", "b", "y", "c"])
    assert score.precision == 3 / 4 and score.recall == 3 / 4


def test_empty_sides_score_zero() -> None:
    assert rouge_n([], ["a"], 1).f1 == 0.0
    assert rouge_l(["a"], []).f1 == 0.0
    assert rouge_scores("", "모델입니다.")["mean"] == 0.0


def test_a_known_korean_pair() -> None:
    pytest.importorskip("kiwipiepy")
    # Kiwi: 모델/이/성능/을/크/게/높이/ᆸ니다 against 모델/의/성능/을/높이/ᆸ니다
    scores = rouge_scores("모델이 성능을 크게 높입니다.", "모델의 성능을 높입니다.")
    assert scores["rouge1"] == pytest.approx(5 / 7)  # P 5/8, R 5/6
    assert scores["rouge2"] == pytest.approx(1 / 3)  # P 2/7, R 2/5
    assert scores["rougeL"] == pytest.approx(5 / 7)
    assert scores["mean"] == pytest.approx((5 / 7 + 1 / 3 + 5 / 7) / 3)


def test_hangul_is_not_deleted() -> None:
    """rouge-score's default tokenizer drops Hangul, scoring every Korean pair 0; ours must not."""
    assert rouge_scores("한국어 요약입니다.", "한국어 요약입니다.")["mean"] == pytest.approx(1.0)
    assert rouge_scores("한국어 요약입니다.", "영어 번역이었다.")["rouge1"] < 1.0


def test_particles_do_not_hide_a_match() -> None:
    pytest.importorskip("kiwipiepy")
    assert rouge_scores("모델의", "모델이")["rouge1"] == pytest.approx(0.5)


def test_faithfulness_flags() -> None:
    abstract = "We train FooNet on 2M images and gain 4.2 points."
    clean = [
        "FooNet은 200만 장의 이미지로 학습합니다.",
        "성능이 4.2%p 오릅니다.",
        "“We train FooNet on 2M images”라고 설명합니다.",
    ]
    assert faithfulness_flags(clean, title="FooNet", abstract=abstract) == []
    dirty = ["BarNet은 300만 장의 이미지로 학습합니다.", "“We train BarNet”라고 설명합니다."]
    flags = faithfulness_flags(dirty, title="FooNet", abstract=abstract)
    assert "name:1:BarNet" in flags and "number:1:300만" in flags and "quote:2" in flags
