"""Number normalisation for the gate: equal quantities compare equal whatever their spelling."""

from __future__ import annotations

import pytest

from paperbot.summarize.numbers import source_numbers, summary_numbers, unsupported_numbers


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
