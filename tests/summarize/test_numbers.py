"""Number normalisation for the gate: equal quantities compare equal whatever their spelling."""

from __future__ import annotations

import pytest

from paperbot.summarize.numbers import (
    explain_number,
    korean_amount,
    source_numbers,
    summary_numbers,
    unsupported_numbers,
)


@pytest.mark.parametrize(
    ("summary", "source"),
    [
        ("200만 개의 샘플을 씁니다.", "We use 2M samples."),
        ("200만 개의 샘플을 씁니다.", "We use 2 million samples."),
        ("2M 샘플을 씁니다.", "We use two million samples."),
        ("정확도가 4.2%p 오릅니다.", "Accuracy improves by 4.2 percentage points."),
        ("정확도가 4.2%p 오릅니다.", "Accuracy rises from 80.1% to 84.3% (+4.2%)."),
        ("5개 벤치마크에서 평가합니다.", "We evaluate on five benchmarks."),
        ("12개 모델을 평가합니다.", "We evaluate twelve models."),
        ("25개 과제를 다룹니다.", "It covers twenty-five tasks."),
        ("3,807개 문제로 구성됩니다.", "It has 3807 questions."),
        ("1억 2천만 개 토큰을 씁니다.", "We use 120M tokens."),
        ("10억 개 매개변수 모델입니다.", "a 1B-parameter model"),
        ("1.5배 빠릅니다.", "It is 1.5x faster."),
        ("2배 빠릅니다.", "It runs twice as fast."),
        ("95.70%의 정확도를 보입니다.", "humans reach 95.7% accuracy"),
        ("20만 개 예제입니다.", "200K examples"),
    ],
)
def test_equal_quantities_match(summary: str, source: str) -> None:
    assert unsupported_numbers(summary, source) == []


@pytest.mark.parametrize(
    ("summary", "source", "flagged"),
    [
        ("300만 개의 샘플을 씁니다.", "We use 2M samples.", ["300만"]),
        ("정확도가 4.3%p 오릅니다.", "Accuracy improves by 4.2 points.", ["4.3"]),
        ("6개 벤치마크에서 평가합니다.", "We evaluate on five benchmarks.", ["6"]),
        ("2천만 개 토큰입니다.", "We use 2M tokens.", ["2천만"]),
        ("2024년에 공개되었습니다.", "Released this year.", ["2024"]),
    ],
)
def test_different_quantities_are_flagged(summary: str, source: str, flagged: list[str]) -> None:
    assert unsupported_numbers(summary, source) == flagged


def test_summary_numbers_read_korean_units() -> None:
    assert summary_numbers("200만, 4.2%p, 5개, 1억 2천만") == [
        ("200만", 2_000_000.0),
        ("4.2", 4.2),
        ("5", 5.0),
        ("1억 2천만", 120_000_000.0),
    ]


def test_mankeum_is_not_a_unit() -> None:
    assert summary_numbers("10만큼 줄입니다") == [("10", 10.0)]


def test_source_numbers_keep_scaled_and_plain_values() -> None:
    assert {2.0, 2_000_000.0, 5.0}.issubset(source_numbers("2M samples, five tasks"))


@pytest.mark.parametrize(
    ("summary", "source"),
    [
        ("600만 개의 샘플입니다.", "We collect 6 Million samples."),  # capital scale word
        ("7억 7400만 개 파라미터입니다.", "a 774-Million parameter model"),  # hyphen before the scale word
        ("38억 개 파라미터 모델입니다.", "a 3.8-billion-parameter model"),
        ("6배 빠릅니다.", "It is six-fold faster."),
        ("10배 줄입니다.", "It cuts the cost tenfold."),
        ("1조 개의 토큰입니다.", "trained on a trillion tokens"),
        ("2차 최적화를 씁니다.", "a second-order optimizer"),
        ("3차원 장면입니다.", "three-dimensional scenes"),
        ("4분 45초 걸립니다.", "it takes 4m45s per video"),
        ("15분 정도 걸립니다.", "training takes sim15min on one GPU"),  # LaTeX residue of $\sim$15min
        ("10만 단계입니다.", "approx100K steps"),
        ("1억 2천 5백만 개입니다.", "125M tokens"),
        ("1억 2500만 개입니다.", "125 million tokens"),
        ("2단계 학습입니다.", "a two-stage training recipe"),
        ("340억 개 파라미터입니다.", "a 34B model"),  # 34B = 340억, both ways
        ("34B 모델입니다.", "a model with 34 billion parameters"),
        ("1.5조 토큰입니다.", "1.5T tokens"),
        ("30억 개 파라미터입니다.", "Scaling Visual Tokenizers to 3 Billion Parameters"),
    ],
)
def test_parser_gaps_are_closed(summary: str, source: str) -> None:
    assert unsupported_numbers(summary, source) == []


@pytest.mark.parametrize(
    ("summary", "source", "flagged"),
    [
        ("34억 개 파라미터입니다.", "a 34B model", ["34억"]),  # B read as 억: a wrong conversion
        ("3.8억 개 파라미터입니다.", "a 3.8B model", ["3.8억"]),
        ("7억 개 파라미터입니다.", "a 7B model", ["7억"]),
        ("2억 파라미터 모델입니다.", "at the 2-billion parameter scale", ["2억"]),
        ("3억 30백만 개 문서입니다.", "303 million documents", ["3억 30백만"]),
        ("1억 개 토큰입니다.", "1T tokens", ["1억"]),
    ],
)
def test_scale_words_are_checked_both_ways(summary: str, source: str, flagged: list[str]) -> None:
    assert unsupported_numbers(summary, source) == flagged


def test_man_after_a_fraction_bar_is_the_particle_only() -> None:
    assert summary_numbers("데이터의 1/10만 씁니다.") == [("1", 1.0), ("10", 10.0)]
    assert unsupported_numbers("데이터의 1/10만 씁니다.", "using only 1/10 of the data") == []
    assert summary_numbers("10만 개") == [("10만", 100_000.0)]


def test_korean_chains_add_group_by_group() -> None:
    assert summary_numbers("1억 2천 5백만 개와 3천 개") == [("1억 2천 5백만", 125_000_000.0), ("3천", 3000.0)]
    assert summary_numbers("10만 5만") == [("10만", 100_000.0), ("5만", 50_000.0)]  # not one number
    assert summary_numbers("3조각") == [("3", 3.0)]  # 조각 is a piece, not 10^12


def test_a_wrong_conversion_is_explained_for_the_repair_turn() -> None:
    assert explain_number("2억", "the 2-billion parameter scale") == "원문의 '2-billion'은 20억입니다"
    assert explain_number("28억", "with 28 billion activated parameters") == "원문의 '28 billion'은 280억입니다"
    assert korean_amount(303_000_000) == "3억 300만"
    assert explain_number("45", "no scaled numbers here") is None
