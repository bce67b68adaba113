"""Topic tags, from the taxonomy of the team's paper list (Red Teaming, Prompting, Fine-Tuning, …, Other).

Assignment is deterministic: keyword rules scored over the title (weight 3), the HF ``ai_keywords`` (weight 2) and
the abstract (weight 1). When an LLM has proposed topics (``item.extra["llm_topics"]``, a list of names from this
taxonomy), those refine the rules: known names are taken in the LLM's order, unknown ones ignored.

:data:`TAXONOMY_VERSION` fingerprints everything that decides an item's topics, so topics stored with an item (the
archive keeps them) are known to be stale as soon as the taxonomy, its phrases or its weights change.
"""

from __future__ import annotations

import hashlib
import json
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


_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyz")
_WORD_RE = re.compile(r"[0-9a-z]+")


@lru_cache(maxsize=1)
def _phrase_index() -> dict[str, tuple[tuple[str, str], ...]]:
    """First word of a phrase → (topic, phrase) pairs, each topic's phrases longest first."""
    index: dict[str, list[tuple[str, str]]] = {}
    for topic, phrases in RULES.items():
        for phrase in sorted(phrases, key=len, reverse=True):
            first = _WORD_RE.match(phrase)
            if first is None:  # every phrase starts with a letter or digit (checked by the tests)
                raise ValueError(f"topic phrase {phrase!r} must start with [0-9a-z]")
            index.setdefault(first.group(), []).append((topic, phrase))
    return {word: tuple(pairs) for word, pairs in index.items()}


#: Bytes that are not [0-9a-z] (UTF-8 lead and continuation bytes included) become spaces: ``split`` then yields
#: exactly the maximal [0-9a-z] runs, at C speed.
_WORDS_ONLY = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))


@lru_cache(maxsize=1)
def _first_word_bytes() -> dict[bytes, str]:
    return {word.encode("ascii"): word for word in _phrase_index()}


def _first_words(text: str) -> list[str]:
    """The phrases' first words that occur in ``text`` as whole words."""
    lookup = _first_word_bytes()
    words = set(text.encode("utf-8", "surrogatepass").translate(_WORDS_ONLY).split())
    return [lookup[word] for word in words & lookup.keys()]


def _word_starts(text: str, words: Iterable[str]) -> list[tuple[int, str]]:
    """Where each of ``words`` occurs in ``text`` as a whole word, in text order."""
    size = len(text)
    found = []
    for word in words:
        position = text.find(word)
        while position != -1:
            end = position + len(word)
            if (position == 0 or text[position - 1] not in _ALNUM) and (end == size or text[end] not in _ALNUM):
                found.append((position, word))
            position = text.find(word, end)
    found.sort()
    return found


def _counts(text: str) -> dict[str, int]:
    """Per topic, how often its phrases occur as whole words (at most 3).

    The same count as ``re.findall`` of the topic's phrases joined longest first between ``(?<![0-9a-z])`` and
    ``(?![0-9a-z])`` (non-overlapping within a topic; a phrase may count for several topics), several times faster:
    a phrase can only start where its first word occurs as a whole word, and most texts contain few of those.
    """
    index = _phrase_index()
    first_words = _first_words(text)
    if not first_words:
        return {}
    counts: dict[str, int] = {}
    ends: dict[str, int] = {}
    size = len(text)
    for start, word in _word_starts(text, first_words):
        for topic, phrase in index[word]:
            if start < ends.get(topic, 0):
                continue  # inside this topic's previous match, or a longer phrase of it matched here
            end = start + len(phrase)
            if text.startswith(phrase, start) and (end == size or text[end] not in _ALNUM):
                counts[topic] = counts.get(topic, 0) + 1
                ends[topic] = end
    return {topic: min(count, 3) for topic, count in counts.items()}


#: Other spellings of topic names (an LLM's or a channel's), keyed like :func:`canonical_topic` compares them.
ALIASES: Mapping[str, str] = {
    "prompt": "Prompting",
    "finetuning": "Fine-Tuning",
    "multimodalmodels": "Multimodal",
    "diffusionmodels": "Diffusion",
    "largelanguagemodels": "LLMs",
    "llm": "LLMs",
    "recommendationsystem": "Recommendation",
    "redteam": "Red Teaming",
}


def canonical_topic(name: str) -> str | None:
    """The taxonomy name for ``name`` (case and punctuation insensitive), or None."""
    key = re.sub(r"[^0-9a-z]", "", name.lower())
    for topic in TOPICS:
        if re.sub(r"[^0-9a-z]", "", topic.lower()) == key:
            return topic
    return ALIASES.get(key)


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
    in_title = _counts(title.lower())
    in_keywords = _counts(" | ".join(str(k).lower() for k in keywords))
    in_abstract = _counts(abstract.lower())
    scores: dict[str, int] = {}
    for topic in RULES:
        score = (
            _WEIGHT_TITLE * in_title.get(topic, 0)
            + _WEIGHT_KEYWORDS * in_keywords.get(topic, 0)
            + _WEIGHT_ABSTRACT * in_abstract.get(topic, 0)
        )
        if score >= _MIN_SCORE:
            scores[topic] = score
    if not scores:
        return (OTHER,)
    ordered = sorted(scores, key=lambda topic: (-scores[topic], TOPICS.index(topic)))
    return tuple(ordered[:_MAX_TOPICS])


def _extra_inputs(extra: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    keywords = extra.get("ai_keywords")
    llm = extra.get("llm_topics")
    return (
        tuple(str(k) for k in keywords) if isinstance(keywords, list) else (),
        tuple(t for t in llm if isinstance(t, str)) if isinstance(llm, list) else (),  # others are ignored anyway
    )


def item_topics(title: str, abstract: str, extra: Mapping[str, Any]) -> tuple[str, ...]:
    """:func:`assign_topics` reading HF keywords and LLM topics from an item's ``extra`` (memoised: a digest and
    its pages ask for the same items again and again)."""
    return _item_topics(title, abstract, *_extra_inputs(extra))


def assign_item_topics(title: str, abstract: str, extra: Mapping[str, Any]) -> tuple[str, ...]:
    """:func:`item_topics` without the memo, for items seen once (storing every item's topics)."""
    return assign_topics(title, abstract, *_extra_inputs(extra))


@lru_cache(maxsize=8192)
def _item_topics(title: str, abstract: str, keywords: tuple[str, ...], llm: tuple[str, ...]) -> tuple[str, ...]:
    return assign_topics(title, abstract, keywords, llm)


#: Raise when the assignment code changes what it returns for the same taxonomy (the data below is hashed anyway).
_ALGORITHM = 1


def taxonomy_version(
    topics: Iterable[str] = TOPICS, rules: Mapping[str, Iterable[str]] = RULES, aliases: Mapping[str, str] = ALIASES
) -> str:
    """A short fingerprint of what decides topics: the taxonomy, its phrases, aliases, weights and thresholds."""
    material = [
        _ALGORITHM,
        list(topics),
        {topic: list(phrases) for topic, phrases in rules.items()},
        dict(aliases),
        [_WEIGHT_TITLE, _WEIGHT_KEYWORDS, _WEIGHT_ABSTRACT, _MIN_SCORE, _MAX_TOPICS],
    ]
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=True).encode("ascii")
    return f"{_ALGORITHM}.{hashlib.blake2b(encoded, digest_size=6).hexdigest()}"


#: The version stored beside an item's topics; topics stored under any other version are recomputed.
TAXONOMY_VERSION = taxonomy_version()
