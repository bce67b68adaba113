"""Latin words in a Korean summary: names modulo spacing, hyphens and case; untranslated English caught."""

from __future__ import annotations

import pytest

from paperbot.summarize.terms import SourceTerms, latin_problems

ABSTRACT = (
    "We fine-tune GPT-2-medium on MSCOCO and a Mixture of Experts (MoE) decoder at 30 FPS with 523 MB of memory. "
    "Supervised fine-tuning (SFT) uses knowledge distillation; large language models (LLMs) rigorously improve. "
    "We build the prefill stage of a deep network. The Station improves IS (Inception Score) by 3 points."
)
SOURCE = SourceTerms.of("Unleashing Vecset Diffusion Model for Fast Shape Generation", ABSTRACT)


@pytest.mark.parametrize(
    "bullet",
    [
        "GPT2-medium을 미세 조정합니다.",  # hyphens
        "MS-COCO에서 평가합니다.",
        "MS COCO에서 평가합니다.",  # spacing
        "523MB의 메모리를 씁니다.",
        "30fps로 동작합니다.",  # case of a unit
        "Mixture of Experts 디코더를 씁니다.",  # a capitalised name with a function word, as the source spells it
        "지식 증류(knowledge distillation)를 씁니다.",  # a gloss the source gives
        "SFT(Supervised Fine-Tuning)를 수행합니다.",
        "여러 LLM을 비교합니다.",  # LLMs in the source
        "prefill 단계를 만듭니다.",  # a field's English term, kept as the prompt allows
        "Vecset Diffusion Model을 씁니다.",
        "The Station은 새 환경입니다.",  # a name that starts with "The", as the source writes it
        "IS를 3점 높입니다.",  # an acronym that spells a function word
    ],
)
def test_names_as_the_source_spells_them_pass(bullet: str) -> None:
    assert latin_problems(bullet, SOURCE).names == ()
    assert latin_problems(bullet, SOURCE).untranslated == ()


@pytest.mark.parametrize(
    ("bullet", "name"),
    [
        ("VDM(Vertset Diffusion Model)을 개선합니다.", "Vertset"),  # a typo of the title's name
        ("RL(Reinforcement Learning) 단계를 둡니다.", "Reinforcement"),  # an expansion the abstract never gives
        ("DeepNet을 씁니다.", "DeepNet"),  # "deep network" is in the source, but not this name
        ("GPT-3와 비교합니다.", "GPT-3"),
    ],
)
def test_misspelt_or_invented_names_are_caught(bullet: str, name: str) -> None:
    assert name in latin_problems(bullet, SOURCE).names


@pytest.mark.parametrize(
    ("bullet", "word"),
    [
        ("성능을 rigorously 평가합니다.", "rigorously"),  # an adverb, even though the source has it
        ("significativa한 발전을 이룹니다.", "significativa"),  # not English, not in the source
        ("각 쌍이 양방향에서 supervision을 제공합니다.", "supervision"),
        ("a custom Polish tokenizer를 씁니다.", "a custom Polish tokenizer"),  # an English phrase
        ("영어-only 추론보다 낫습니다.", "only"),
        ("The Pipeline이 좋습니다.", "The Pipeline"),  # not a name the source gives
        ("the model을 씁니다.", "the model"),
    ],
)
def test_untranslated_english_is_caught(bullet: str, word: str) -> None:
    problems = latin_problems(bullet, SOURCE)
    assert any(word in found for found in problems.untranslated), problems
    assert problems.names == ()  # a form problem, not a factual one
