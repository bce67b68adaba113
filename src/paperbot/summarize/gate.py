"""The gate: no unvalidated text reaches a channel.

``parse_answer`` reads a model's answer leniently (JSON object or list, fenced or not, or plain bullet lines);
``check`` validates bullets against the item's title and abstract. Every problem is a short code with details
(``number:2:15%``), so the fallback reason and the repair prompt can say exactly what was wrong.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paperbot.summarize.numbers import unsupported_numbers
from paperbot.summarize.text import collapse_ws

_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
_LATIN_LETTER_RE = re.compile(r"[A-Za-z]")
_BULLET_MARK_RE = re.compile(r"^\s*(?:[-*•·▪◦‣–—]|\d{1,2}[.)])\s+")
_URL_RE = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|ai|dev|co|kr|gg|ly|me|app|xyz|info|to)\b)"
)
#: Anything that can ping: @everyone/@here/@user, Discord <@id> <#id> <@&id>, Slack <!channel> <!here>.
_MENTION_RE = re.compile(r"@|<[@#!]|\uff20")
#: Markdown and HTML that chat platforms would render.
_MARKUP_RE = re.compile(r"[<>`*]|~~|__|\|\||\]\(|^\s*(?:#{1,6}\s|>)|&[a-z]+;|&#\d+;", re.MULTILINE)
#: Words addressed to the reader rather than describing the work (calls to action, prompt-injection echoes).
_INSTRUCTION_RE = re.compile(
    r"(?i)바랍니다|하세요|하십시오|십시오|주세요|해라|클릭|방문하|여러분|독자(?:는|들|께|에게|분)|"
    r"무시하(?:고|세요|십시오|라)|(?:이전|앞의|위의|기존의?)\s*(?:지시|명령|지침)|시스템\s*프롬프트|"
    r"\bignore\b|\bdisregard\b|\bclick\b|\bvisit\b|\bsubscribe\b"
)
#: Latin-script words with at least two letters: names and English terms, which must occur in the source.
_LATIN_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#.\-_/]*[A-Za-z0-9+#]|[A-Za-z]")
_FILLER_RE = re.compile(r"^(?:요약(?:하면|하자면)?|이 요약은|다음은|정리하면)")


@dataclass(frozen=True, slots=True)
class GateRules:
    """Bounds one summary must meet. ``LLM_RULES`` for model answers, ``OFFLINE_RULES`` for the extractive one."""

    min_bullets: int = 3
    max_bullets: int = 8
    min_chars: int = 12
    max_chars: int = 300
    min_hangul_share: float = 0.4
    duplicate_threshold: float = 0.8


LLM_RULES = GateRules()
#: The offline summary quotes English sentences inside Korean frames: fewer bullets for short abstracts, longer
#: bullets, no Hangul share (every bullet still carries its Korean frame and ending).
OFFLINE_RULES = GateRules(min_bullets=1, max_chars=400, min_hangul_share=0.0)


@dataclass(frozen=True, slots=True)
class GateResult:
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self, limit: int = 6) -> str:
        shown = ", ".join(self.problems[:limit])
        more = f" (+{len(self.problems) - limit})" if len(self.problems) > limit else ""
        return shown + more


def _clean_bullet(text: str) -> str:
    text = collapse_ws(unicodedata.normalize("NFC", text))
    text = _BULLET_MARK_RE.sub("", text).strip()
    if text.endswith("니다"):
        text += "."  # a missing final period is not worth a rejection
    return text


def _bullets_from_json(data: Any) -> list[str] | None:
    if isinstance(data, dict):
        for key in ("bullets", "summary", "points", "key_points", "items"):
            if key in data:
                return _bullets_from_json(data[key])
        lists = [value for value in data.values() if isinstance(value, list)]
        return _bullets_from_json(lists[0]) if len(lists) == 1 else None
    if isinstance(data, list):
        bullets: list[str] = []
        for entry in data:
            if isinstance(entry, str):
                bullets.append(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("text"), str):
                bullets.append(entry["text"])
            else:
                return None
        return bullets
    if isinstance(data, str):
        return [line for line in data.splitlines() if line.strip()]
    return None


def parse_answer(answer: str | dict[str, Any]) -> list[str] | None:
    """Bullets from a model's answer, or None when it is malformed JSON or holds no bullets."""
    if isinstance(answer, dict):
        raw = _bullets_from_json(answer)
    else:
        text = answer.strip()
        fenced = re.fullmatch(r"```[a-zA-Z]*\s*(.*?)\s*```", text, re.DOTALL)
        if fenced:
            text = fenced.group(1).strip()
        raw = None
        if text.startswith(("{", "[")) or "{" in text[:40]:
            start = min(i for i in (text.find("{"), text.find("[")) if i >= 0)
            try:
                raw = _bullets_from_json(json.loads(text[start:]))
            except json.JSONDecodeError:
                end = max(text.rfind("}"), text.rfind("]"))
                try:
                    raw = _bullets_from_json(json.loads(text[start : end + 1])) if end > start else None
                except json.JSONDecodeError:
                    return None
        else:
            raw = [line for line in text.splitlines() if line.strip()]
    if raw is None:
        return None
    bullets = [_clean_bullet(entry) for entry in raw]
    bullets = [bullet for bullet in bullets if bullet]
    return bullets or None


def _bigrams(text: str) -> set[str]:
    compact = re.sub(r"\W+", "", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def _similarity(first: str, second: str) -> float:
    a, b = _bigrams(first), _bigrams(second)
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def _foreign_script(char: str) -> str | None:
    """The script name of a letter that is neither Hangul nor Latin, else None."""
    if not char.isalpha() or _HANGUL_RE.match(char) or char.isascii():
        return None
    name = unicodedata.name(char, "")
    if name.startswith("LATIN") or name.startswith("HANGUL"):
        return None
    for script in ("CJK", "HIRAGANA", "KATAKANA", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "THAI", "DEVANAGARI"):
        if name.startswith(script):
            return script.lower()
    return "other"


def latin_tokens(text: str) -> list[str]:
    """Latin-script words of ``text`` with at least two letters (names, English terms)."""
    return [token for token in _LATIN_TOKEN_RE.findall(text) if len(_LATIN_LETTER_RE.findall(token)) >= 2]


def check(bullets: Sequence[str], *, title: str, abstract: str, rules: GateRules = LLM_RULES) -> GateResult:
    """Every rule the bullets break (an empty result passes). ``title``/``abstract`` are the only allowed facts."""
    problems: list[str] = []
    if not rules.min_bullets <= len(bullets) <= rules.max_bullets:
        problems.append(f"bullet_count:{len(bullets)}")
        if len(bullets) > rules.max_bullets * 2:
            return GateResult(tuple(problems))  # 40 bullets: no point in listing each one's faults
    source = f"{title}\n{abstract}"
    source_lower = source.lower()
    source_chars = set(source)
    hangul = latin = 0
    for number, bullet in enumerate(bullets, start=1):
        at = str(number)
        if not rules.min_chars <= len(bullet) <= rules.max_chars:
            problems.append(f"length:{at}:{len(bullet)}")
        bullet_hangul = len(_HANGUL_RE.findall(bullet))
        hangul += bullet_hangul
        latin += len(_LATIN_LETTER_RE.findall(bullet))
        if bullet_hangul == 0:
            problems.append(f"no_hangul:{at}")
        if not bullet.endswith("니다."):
            problems.append(f"ending:{at}")
        if _URL_RE.search(bullet):
            problems.append(f"url:{at}")
        if _MENTION_RE.search(bullet):
            problems.append(f"mention:{at}")
        if _MARKUP_RE.search(bullet):
            problems.append(f"markup:{at}")
        if _INSTRUCTION_RE.search(bullet):
            problems.append(f"instruction:{at}")
        if _FILLER_RE.search(bullet):
            problems.append(f"filler:{at}")
        foreign = sorted({s for ch in bullet if ch not in source_chars and (s := _foreign_script(ch))})
        if foreign:
            problems.append(f"script:{at}:{'+'.join(foreign)}")
        for token in latin_tokens(bullet):
            if token.lower() not in source_lower:
                problems.append(f"name:{at}:{token[:40]}")
        # Numbers inside names (GPT-4, Qwen2.5) are checked as part of the name, not again as numbers.
        stripped = _LATIN_TOKEN_RE.sub(lambda m: " " if m.group(0) in latin_tokens(m.group(0)) else m.group(0), bullet)
        problems.extend(f"number:{at}:{written}" for written in unsupported_numbers(stripped, source))
    if hangul + latin and hangul / (hangul + latin) < rules.min_hangul_share:
        problems.insert(0, f"hangul_share:{hangul / (hangul + latin):.2f}")  # whole-answer problems first
    for i, first in enumerate(bullets):
        for j in range(i + 1, len(bullets)):
            if _similarity(first, bullets[j]) >= rules.duplicate_threshold:
                problems.append(f"duplicate:{i + 1}~{j + 1}")
    return GateResult(tuple(problems))


#: What each problem code means, for the repair prompt (Korean: the model answers in Korean).
PROBLEM_HINTS = {
    "bullet_count": "항목 수는 3~6개여야 합니다",
    "length": "각 항목은 한 문장으로, 너무 짧거나 길지 않아야 합니다",
    "no_hangul": "모든 항목은 한국어 문장이어야 합니다",
    "hangul_share": "영어가 아닌 한국어로 써야 합니다",
    "ending": "모든 항목은 '~니다.'로 끝나야 합니다",
    "url": "URL이나 도메인을 쓰면 안 됩니다",
    "mention": "@ 기호나 멘션을 쓰면 안 됩니다",
    "markup": "마크다운, HTML, 꺾쇠괄호, 별표, 백틱을 쓰면 안 됩니다",
    "instruction": "독자에게 하는 말이나 지시는 쓰면 안 됩니다",
    "filler": "군더더기 표현 없이 내용만 씁니다",
    "script": "한자, 가나 등 다른 문자를 쓰면 안 됩니다",
    "name": "제목과 초록에 없는 영어 이름이나 용어를 쓰면 안 됩니다",
    "number": "원문에 없는 숫자를 쓰면 안 됩니다",
    "duplicate": "같은 내용을 되풀이하면 안 됩니다",
}


def repair_hints(result: GateResult) -> list[str]:
    """Korean descriptions of each kind of problem found, with the offending details."""
    lines: list[str] = []
    seen: set[str] = set()
    for problem in result.problems:
        code = problem.split(":", 1)[0]
        if code in seen:
            continue
        seen.add(code)
        details = [p.split(":", 2)[-1] for p in result.problems if p.startswith(code + ":") and p.count(":") >= 2]
        suffix = f" (문제: {', '.join(details[:5])})" if details and code in ("name", "number", "script") else ""
        lines.append(PROBLEM_HINTS.get(code, code) + suffix)
    return lines
