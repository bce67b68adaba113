"""Topic tags, from the taxonomy of the team's paper list (Red Teaming, Prompting, Fine-Tuning, …, Other).

Assignment is deterministic: keyword rules scored over the title (weight 3), the HF ``ai_keywords`` (weight 2) and
the abstract (weight 1). When an LLM has proposed topics (``item.extra["llm_topics"]``, a list of names from this
taxonomy), those refine the rules: known names are taken in the LLM's order, unknown ones ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

OTHER = "Other"

#: The taxonomy, in display order (weekly digests group by it).
TOPICS: tuple[str, ...] = (
    "Red Teaming",
    "Prompting",
    "Fine-Tuning",
    "Methods",
    "Multimodal",
    "Diffusion",
    "LLMs",
    "Recommendation",
    "Quantization",
    OTHER,
)

#: Lower-case phrases per topic, matched on word boundaries.
RULES: Mapping[str, tuple[str, ...]] = {
    "Red Teaming": (
        "red teaming",
        "red-teaming",
        "red team",
        "jailbreak",
        "jailbreaking",
        "adversarial prompt",
        "adversarial prompting",
        "adversarial attack",
        "prompt injection",
        "safety benchmark",
        "ai safety",
        "safeguard",
        "harmful",
        "toxicity",
        "guardrail",
        "guardrails",
        "attack success rate",
    ),
    "Prompting": (
        "prompting",
        "prompt engineering",
        "chain-of-thought",
        "chain of thought",
        "in-context learning",
        "few-shot",
        "zero-shot prompting",
        "prompt optimization",
        "graph prompting",
    ),
    "Fine-Tuning": (
        "fine-tuning",
        "fine tuning",
        "finetuning",
        "fine-tuned",
        "lora",
        "peft",
        "parameter-efficient",
        "instruction tuning",
        "instruction-tuned",
        "instruction data",
        "rlhf",
        "dpo",
        "preference optimization",
        "reward model",
        "alignment",
        "adapter tuning",
    ),
    "Methods": (
        "retrieval-augmented",
        "retrieval augmented",
        "rag",
        "mixture-of-experts",
        "mixture of experts",
        "mixture-of-attention",
        "speculative decoding",
        "flash attention",
        "flashattention",
        "multi-query",
        "grouped-query",
        "monte carlo tree search",
        "mcts",
        "knowledge distillation",
        "tokenization",
        "byte pair encoding",
        "kv cache",
    ),
    "Multimodal": (
        "multimodal",
        "multi-modal",
        "vision-language",
        "vision language",
        "visual instruction",
        "vlm",
        "vlms",
        "mllm",
        "mllms",
        "image-text",
        "visual question answering",
        "video understanding",
        "audio",
        "speech",
        "visual perception",
    ),
    "Diffusion": (
        "diffusion",
        "denoising",
        "text-to-image",
        "text-to-video",
        "image generation",
        "video generation",
        "image synthesis",
        "rectified flow",
        "flow matching",
        "animation",
    ),
    "LLMs": (
        "large language model",
        "large language models",
        "language model",
        "language models",
        "llm",
        "llms",
        "gpt",
        "gpt-4",
        "llama",
        "mistral",
        "qwen",
        "foundation model",
        "pretraining",
        "pre-training",
        "long context",
        "technical report",
    ),
    "Recommendation": (
        "recommendation",
        "recommender",
        "recommender system",
        "collaborative filtering",
        "click-through",
        "ctr prediction",
        "sequential recommendation",
    ),
    "Quantization": (
        "quantization",
        "quantized",
        "quantize",
        "int8",
        "int4",
        "4-bit",
        "8-bit",
        "low-bit",
        "1-bit",
        "binarization",
        "gptq",
        "awq",
    ),
}

_WEIGHT_TITLE = 3
_WEIGHT_KEYWORDS = 2
_WEIGHT_ABSTRACT = 1
#: A topic needs at least this score (one title hit, or a keyword hit, or two abstract hits).
_MIN_SCORE = 2
_MAX_TOPICS = 3


@lru_cache(maxsize=1)
def _patterns() -> dict[str, re.Pattern[str]]:
    return {
        topic: re.compile(
            r"(?<![0-9a-z])(?:"
            + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
            + r")(?![0-9a-z])"
        )
        for topic, phrases in RULES.items()
    }


def _count(pattern: re.Pattern[str], text: str) -> int:
    return min(len(pattern.findall(text)), 3)


def canonical_topic(name: str) -> str | None:
    """The taxonomy name for ``name`` (case and punctuation insensitive), or None."""
    key = re.sub(r"[^0-9a-z]", "", name.lower())
    for topic in TOPICS:
        if re.sub(r"[^0-9a-z]", "", topic.lower()) == key:
            return topic
    aliases = {"prompt": "Prompting", "finetuning": "Fine-Tuning", "multimodalmodels": "Multimodal"}
    aliases |= {"diffusionmodels": "Diffusion", "largelanguagemodels": "LLMs", "llm": "LLMs"}
    aliases |= {"recommendationsystem": "Recommendation", "redteam": "Red Teaming"}
    return aliases.get(key)


def assign_topics(
    title: str, abstract: str = "", keywords: Iterable[str] = (), llm_topics: Iterable[Any] = ()
) -> tuple[str, ...]:
    """Topics of one item, best first; ``("Other",)`` when no rule matches."""
    from_llm: list[str] = []
    for name in llm_topics:
        topic = canonical_topic(str(name)) if isinstance(name, str) else None
        if topic and topic not in from_llm:
            from_llm.append(topic)
    if from_llm:
        return tuple(from_llm[:_MAX_TOPICS])
    title_l = title.lower()
    abstract_l = abstract.lower()
    keywords_l = " | ".join(str(k).lower() for k in keywords)
    scores: dict[str, int] = {}
    for topic, pattern in _patterns().items():
        score = (
            _WEIGHT_TITLE * _count(pattern, title_l)
            + _WEIGHT_KEYWORDS * _count(pattern, keywords_l)
            + _WEIGHT_ABSTRACT * _count(pattern, abstract_l)
        )
        if score >= _MIN_SCORE:
            scores[topic] = score
    if not scores:
        return (OTHER,)
    ordered = sorted(scores, key=lambda topic: (-scores[topic], TOPICS.index(topic)))
    return tuple(ordered[:_MAX_TOPICS])


def item_topics(title: str, abstract: str, extra: Mapping[str, Any]) -> tuple[str, ...]:
    """:func:`assign_topics` reading HF keywords and LLM topics from an item's ``extra``."""
    keywords = extra.get("ai_keywords")
    llm = extra.get("llm_topics")
    return assign_topics(
        title,
        abstract,
        keywords if isinstance(keywords, list) else (),
        llm if isinstance(llm, list) else (),
    )
