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
from paperbot.summarize.repair import URL_RE
from paperbot.summarize.terms import LATIN_TOKEN_RE, SourceTerms, latin_problems, latin_tokens
from paperbot.summarize.text import collapse_ws

#: The one bullet-count contract: prompt, schema, gate and repair hint all say 3 to 6.
MIN_BULLETS = 3
MAX_BULLETS = 6

_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
_LATIN_LETTER_RE = re.compile(r"[A-Za-z]")
_BULLET_MARK_RE = re.compile(r"^\s*(?:[-*•·▪◦‣–—]|\d{1,2}[.)])\s+")
#: Anything that can ping: @everyone/@here/@user, Discord <@id> <#id> <@&id>, Slack <!channel> <!here>. An @ inside
#: a word (Pass@1, F1@2cm, Acc@k) pings nobody and is a metric's name.
_MENTION_RE = re.compile(r"(?<![\w.+\-])@(?=\S)|<[@#!]|\uff20")
#: Markdown and HTML that chat platforms would render.
_MARKUP_RE = re.compile(r"[<>`*]|~~|__|\|\||\]\(|^\s*(?:#{1,6}\s|>)|&[a-z]+;|&#\d+;", re.MULTILINE)
#: ``<EOS>``, ``<think>``: a token the abstract itself writes in angle brackets is content, not markup.
_ANGLE_TOKEN_RE = re.compile(r"<[A-Za-z_|/][^<>\s]{0,30}>")
#: Words addressed to the reader rather than describing the work (calls to action, prompt-injection echoes).
_INSTRUCTION_RE = re.compile(
    r"(?:하|시)기\s*바랍니다|하세요|하십시오|십시오|주세요|해라|여러분|"
    r"(?<![\uac00-\ud7a3])(?:이전|앞의|위의)\s*(?:지시|명령|지침)"
)
#: Words that are instructions unless the paper is about them (a paper on system prompts or click prediction).
_TOPICAL_INSTRUCTIONS = (
    (re.compile(r"클릭"), "click"),
    (re.compile(r"방문하"), "visit"),
    (re.compile(r"독자(?:는|들|께|에게|분)"), "reader"),
    (re.compile(r"시스템\s*프롬프트"), "system prompt"),
    (re.compile(r"무시하(?:고|세요|십시오|라)"), "ignor"),
    (re.compile(r"(?i)\bignore\b"), "ignore"),
    (re.compile(r"(?i)\bdisregard\b"), "disregard"),
    (re.compile(r"(?i)\bclick\b"), "click"),
    (re.compile(r"(?i)\bvisit\b"), "visit"),
    (re.compile(r"(?i)\bsubscribe\b"), "subscribe"),
)
#: Filler openings. "요약 및 개방형 대화 생성" is content (summarisation as a task), "요약하면" is filler.
_FILLER_RE = re.compile(r"^(?:요약하면|요약하자면|요약\s*:|정리하면|정리하자면|결론적으로 말하면|이 요약은|다음은\s)")
#: Problems that are facts the source does not support: they get the repair turn, never a silent drop.
FACTUAL_CODES = frozenset({"number", "name"})


@dataclass(frozen=True, slots=True)
class GateRules:
    """Bounds one summary must meet. ``LLM_RULES`` for model answers, ``OFFLINE_RULES`` for the extractive one."""

    min_bullets: int = MIN_BULLETS
    max_bullets: int = MAX_BULLETS
    min_chars: int = 12
    max_chars: int = 300
    min_hangul_share: float = 0.4
    duplicate_threshold: float = 0.8
    #: Untranslated English is a problem in a model's Korean, not in the offline summary's verbatim quotes.
    english_allowed: bool = False
    #: Every bullet a "~니다." sentence (flat summaries); a nested highlight's lines are terse phrases, as in the seed.
    sentence_endings: bool = True


LLM_RULES = GateRules()
#: The offline summary quotes English sentences inside Korean frames: fewer bullets for short abstracts, longer
#: bullets, no Hangul share (every bullet still carries its Korean frame and ending), English quotes allowed.
OFFLINE_RULES = GateRules(min_bullets=1, max_chars=400, min_hangul_share=0.0, english_allowed=True)

#: A post's nested highlights (issue 17): at most two levels, this many top-level points (3 to 12), at most
#: ``MAX_SUB_POINTS`` under each and ``MAX_OUTLINE_LINES`` in all. Lines are phrases ("하이퍼파라미터 최적화").
MIN_TOP_POINTS = 3
MAX_TOP_POINTS = 12
MAX_SUB_POINTS = 6
MAX_OUTLINE_LINES = 48
OUTLINE_RULES = GateRules(
    min_bullets=MIN_TOP_POINTS, max_bullets=MAX_TOP_POINTS, min_chars=2, max_chars=300, sentence_endings=False
)
#: The offline outline: headings and verbatim quotes in Korean frames (fewer points for short articles).
OFFLINE_OUTLINE_RULES = GateRules(
    min_bullets=1,
    max_bullets=MAX_TOP_POINTS,
    min_chars=2,
    max_chars=400,
    min_hangul_share=0.0,
    english_allowed=True,
    sentence_endings=False,
)

#: One line of a nested highlight: (depth, text), depth 0 or 1.
OutlineLine = tuple[int, str]


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


_POINT_KEYS = ("point", "text", "title", "heading", "summary")
_DETAIL_KEYS = ("details", "points", "sub", "subpoints", "children", "items", "bullets")


def _outline_entry(entry: Any) -> list[OutlineLine] | None:
    if isinstance(entry, str):
        return [(0, entry)]
    if not isinstance(entry, dict):
        return None
    point = next((entry[key] for key in _POINT_KEYS if isinstance(entry.get(key), str)), None)
    details: Any = next((entry[key] for key in _DETAIL_KEYS if key in entry), [])
    if point is None or not isinstance(details, list) or not all(isinstance(d, str) for d in details):
        return None
    return [(0, point), *((1, detail) for detail in details)]


def parse_outline(answer: str | dict[str, Any]) -> list[OutlineLine] | None:
    """Nested highlights from a model's answer: ``{"highlights": [{"point": …, "details": [...]}, …]}`` (lenient
    about key names and fences), or flat bullets as top-level points; None when malformed or empty."""
    data: Any = answer
    if isinstance(answer, str):
        text = answer.strip()
        fenced = re.fullmatch(r"```[a-zA-Z]*\s*(.*?)\s*```", text, re.DOTALL)
        if fenced:
            text = fenced.group(1).strip()
        start = text.find("{")
        if start < 0:
            return None
        try:
            data = json.loads(text[start : text.rfind("}") + 1])
        except json.JSONDecodeError:
            return None
    if not isinstance(data, dict):
        return None
    entries = next((data[key] for key in ("highlights", "outline", "points", "bullets") if key in data), None)
    if not isinstance(entries, list):
        return None
    lines: list[OutlineLine] = []
    for entry in entries:
        parsed = _outline_entry(entry)
        if parsed is None:
            return None
        lines.extend(parsed)
    cleaned = [(depth, _clean_bullet(text)) for depth, text in lines]
    cleaned = [(depth, text) for depth, text in cleaned if text]
    return cleaned or None


def check_outline(
    lines: Sequence[OutlineLine], *, title: str, abstract: str, rules: GateRules = OUTLINE_RULES
) -> GateResult:
    """Every rule a nested highlight breaks: its shape (two levels, bounded counts, a point before any detail)
    and each line's own rules against ``title`` and ``abstract`` (for a post: its excerpt and article text)."""
    problems: list[str] = []
    depths = [depth for depth, _ in lines]
    if any(depth not in (0, 1) for depth in depths) or (depths and depths[0] != 0):
        problems.append("shape")
    tops = depths.count(0)
    if not rules.min_bullets <= tops <= rules.max_bullets:
        problems.append(f"bullet_count:{tops}")
    if len(lines) > MAX_OUTLINE_LINES:
        problems.append(f"line_count:{len(lines)}")
        return GateResult(tuple(problems))
    run = 0
    for depth in depths:
        run = run + 1 if depth == 1 else 0
        if run > MAX_SUB_POINTS:
            problems.append(f"sub_count:{run}")
            break
    source = Source.of(title, abstract)
    for number, (_, line) in enumerate(lines, start=1):
        for problem in bullet_problems(line, source, rules):
            code, _, detail = problem.partition(":")
            problems.append(f"{code}:{number}:{detail}" if detail else f"{code}:{number}")
    texts = [line for _, line in lines]
    share = _hangul_share(texts)
    if share is not None and share < rules.min_hangul_share:
        problems.insert(0, f"hangul_share:{share:.2f}")
    problems.extend(f"duplicate:{i + 1}~{j + 1}" for i, j in _duplicates(texts, rules.duplicate_threshold))
    return GateResult(tuple(problems))


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


def _markup(bullet: str, source: str) -> bool:
    allowed = _ANGLE_TOKEN_RE.sub(lambda m: "" if m.group(0) in source else m.group(0), bullet)
    allowed = LATIN_TOKEN_RE.sub(lambda m: "" if "*" in m.group(0) and m.group(0) in source else m.group(0), allowed)
    allowed = re.sub(
        r"[A-Za-z0-9]\*(?=[\s\uac00-\ud7a3]|$)", lambda m: "" if m.group(0) in source else m.group(0), allowed
    )
    return bool(_MARKUP_RE.search(allowed))


def _instruction(bullet: str, source_lower: str) -> bool:
    if _INSTRUCTION_RE.search(bullet):
        return True
    return any(pattern.search(bullet) and cue not in source_lower for pattern, cue in _TOPICAL_INSTRUCTIONS)


@dataclass(frozen=True, slots=True)
class Source:
    """What a summary may use, prepared once per item: the title and abstract, LaTeX stripped, and their terms."""

    text: str
    lower: str
    chars: frozenset[str]
    terms: SourceTerms

    @classmethod
    def of(cls, title: str, abstract: str) -> Source:
        terms = SourceTerms.of(title, abstract)
        return cls(text=terms.text, lower=terms.lower, chars=frozenset(terms.text), terms=terms)


def bullet_problems(bullet: str, source: Source, rules: GateRules = LLM_RULES) -> list[str]:
    """Every rule one bullet breaks, as ``code`` or ``code:detail`` (no position)."""
    problems: list[str] = []
    if not rules.min_chars <= len(bullet) <= rules.max_chars:
        problems.append(f"length:{len(bullet)}")
    if not _HANGUL_RE.search(bullet):
        problems.append("no_hangul")
    if rules.sentence_endings and not bullet.endswith("니다."):
        problems.append("ending")
    if URL_RE.search(bullet):
        problems.append("url")
    if _MENTION_RE.search(bullet):
        problems.append("mention")
    if _markup(bullet, source.text):
        problems.append("markup")
    if _instruction(bullet, source.lower):
        problems.append("instruction")
    if _FILLER_RE.search(bullet):
        problems.append("filler")
    foreign = sorted({s for ch in bullet if ch not in source.chars and (s := _foreign_script(ch))})
    if foreign:
        problems.append(f"script:{'+'.join(foreign)}")
    latin = latin_problems(URL_RE.sub(" ", bullet), source.terms)  # a URL is its own problem
    problems.extend(f"name:{name}" for name in latin.names)
    if not rules.english_allowed:
        problems.extend(f"untranslated:{word}" for word in latin.untranslated)
    # Numbers inside names (GPT-4, Qwen2.5) are checked as part of the name, not again as numbers.
    stripped = LATIN_TOKEN_RE.sub(lambda m: " " if m.group(0) in latin_tokens(m.group(0)) else m.group(0), bullet)
    problems.extend(f"number:{written}" for written in unsupported_numbers(stripped, source.text))
    return problems


def _code(problem: str) -> str:
    return problem.split(":", 1)[0]


def _hangul_share(bullets: Sequence[str]) -> float | None:
    hangul = sum(len(_HANGUL_RE.findall(b)) for b in bullets)
    latin = sum(len(_LATIN_LETTER_RE.findall(b)) for b in bullets)
    return hangul / (hangul + latin) if hangul + latin else None


def _duplicates(bullets: Sequence[str], threshold: float) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, first in enumerate(bullets)
        for j in range(i + 1, len(bullets))
        if _similarity(first, bullets[j]) >= threshold
    ]


def check(bullets: Sequence[str], *, title: str, abstract: str, rules: GateRules = LLM_RULES) -> GateResult:
    """Every rule the bullets break (an empty result passes). ``title``/``abstract`` are the only allowed facts."""
    problems: list[str] = []
    if not rules.min_bullets <= len(bullets) <= rules.max_bullets:
        problems.append(f"bullet_count:{len(bullets)}")
        if len(bullets) > rules.max_bullets * 2:
            return GateResult(tuple(problems))  # 40 bullets: no point in listing each one's faults
    source = Source.of(title, abstract)
    for number, bullet in enumerate(bullets, start=1):
        for problem in bullet_problems(bullet, source, rules):
            code, _, detail = problem.partition(":")
            problems.append(f"{code}:{number}:{detail}" if detail else f"{code}:{number}")
    share = _hangul_share(bullets)
    if share is not None and share < rules.min_hangul_share:
        problems.insert(0, f"hangul_share:{share:.2f}")  # whole-answer problems first
    problems.extend(f"duplicate:{i + 1}~{j + 1}" for i, j in _duplicates(bullets, rules.duplicate_threshold))
    return GateResult(tuple(problems))


#: What each problem code means, for the repair prompt (Korean: the model answers in Korean).
PROBLEM_HINTS = {
    "bullet_count": f"항목 수는 {MIN_BULLETS}~{MAX_BULLETS}개여야 합니다",
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
    "name": "이름은 제목과 초록에 있는 철자 그대로 쓰고, 원문에 없는 풀이(약어의 전체 이름 등)를 덧붙이지 않습니다",
    "untranslated": "영어 문장이나 일반 영어 단어를 그대로 두지 말고 한국어로 옮깁니다 (원문에 있는 용어·이름은 그대로 써도 됩니다)",
    "number": "원문에 없는 숫자를 쓰면 안 됩니다",
    "duplicate": "같은 내용을 되풀이하면 안 됩니다",
    "shape": "하위 항목은 상위 항목 아래에 한 단계까지만 둡니다",
    "line_count": f"항목은 하위 항목까지 모두 {MAX_OUTLINE_LINES}개 이하여야 합니다",
    "sub_count": f"상위 항목 하나에 하위 항목은 {MAX_SUB_POINTS}개까지입니다",
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
        shown_codes = ("name", "number", "script", "untranslated")
        suffix = f" (문제: {', '.join(details[:5])})" if details and code in shown_codes else ""
        lines.append(PROBLEM_HINTS.get(code, code) + suffix)
    return lines


#: How each kind of problem is named for one bullet in the repair turn.
_BULLET_HINTS = {
    "length": "한 문장으로, 너무 짧거나 길지 않게 써야 합니다",
    "no_hangul": "한국어 문장이어야 합니다",
    "ending": "'~니다.'로 끝나는 완결된 문장이어야 합니다",
    "url": "URL이나 도메인을 쓰면 안 됩니다",
    "mention": "@ 기호나 멘션을 쓰면 안 됩니다",
    "markup": "마크다운, HTML, 꺾쇠괄호, 별표, 백틱을 쓰면 안 됩니다",
    "instruction": "독자에게 하는 말이나 지시를 쓰면 안 됩니다",
    "filler": "군더더기 없이 내용만 써야 합니다",
    "script": "한글과 라틴 문자 외의 문자({d})를 쓰면 안 됩니다",
    "untranslated": "'{d}'처럼 영어를 번역하지 않고 두면 안 됩니다",
    "name": "'{d}'는 제목과 초록에 없는 이름입니다. 원문의 철자 그대로 쓰고, 원문에 없는 풀이를 덧붙이지 마십시오",
    "number": "숫자 '{d}'는 원문에 없습니다",
    "duplicate": "앞 항목과 같은 내용입니다",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one answer after repair.

    ``bullets`` are what would be stored; ``notes`` every repair (``ending:2``), dropped bullet (``drop:3:script``)
    and cut (``cut:8``), positions counted in the model's answer; ``problems`` what still blocks the answer
    (factual problems of kept bullets, too few bullets, too little Korean); ``hints`` the repair turn's lines;
    ``raw`` the gate on the answer exactly as it came (when asked for: the evaluation reports it).
    """

    bullets: tuple[str, ...]
    notes: tuple[str, ...]
    problems: tuple[str, ...]
    hints: tuple[str, ...]
    raw: GateResult | None = None

    @property
    def accepted(self) -> bool:
        return not self.problems

    @property
    def repaired(self) -> bool:
        return bool(self.notes)

    def describe(self, limit: int = 6) -> str:
        return GateResult(self.problems).describe(limit)


def _bullet_hint(position: int, problem: str, source: Source) -> str:
    code, _, detail = problem.partition(":")
    text = _BULLET_HINTS.get(code, code).format(d=detail)
    if code == "number":
        from paperbot.summarize.numbers import explain_number

        why = explain_number(detail, source.text)
        if why:
            text += f" ({why})"
    return f"{position}번 항목: {text}"


def review(
    answer: Sequence[str],
    *,
    title: str,
    abstract: str,
    rules: GateRules = LLM_RULES,
    kiwi: Any = None,
    with_raw: bool = True,
) -> Verdict:
    """Repair ``answer``, then judge each bullet: a form defect drops that bullet when at least
    ``rules.min_bullets`` remain; a factual problem (a number or name the source does not have) blocks the answer
    for the repair turn; bullets beyond the budget are cut, keeping the first.

    ``kiwi``: the Korean analyser for ending repair (None: the rule table). Loading it takes seconds: callers on
    an event loop pass one already loaded, from a worker thread.
    """
    from paperbot.summarize.repair import repair

    raw = check(answer, title=title, abstract=abstract, rules=rules) if with_raw else None
    fixed = repair(answer, kiwi=kiwi)
    source = Source.of(title, abstract)
    notes = list(fixed.notes)
    per_bullet = [bullet_problems(bullet, source, rules) for bullet in fixed.bullets]
    for i, j in _duplicates(fixed.bullets, rules.duplicate_threshold):
        if not per_bullet[i] or all(_code(p) in FACTUAL_CODES for p in per_bullet[i]):
            per_bullet[j].append("duplicate")
    kept: list[int] = []
    dropped: list[tuple[int, str]] = []
    for index, problems in enumerate(per_bullet):
        form = [p for p in problems if _code(p) not in FACTUAL_CODES]
        if form:
            dropped.append((index, form[0]))
            notes.append(f"drop:{fixed.positions[index]}:{_code(form[0])}")
        else:
            kept.append(index)
    for index in kept[rules.max_bullets :]:
        notes.append(f"cut:{fixed.positions[index]}")
    kept = kept[: rules.max_bullets]
    blocking: list[str] = []
    hints: list[str] = []
    for index in kept:
        for problem in per_bullet[index]:
            code, _, detail = problem.partition(":")
            blocking.append(
                f"{code}:{fixed.positions[index]}:{detail}" if detail else f"{code}:{fixed.positions[index]}"
            )
            hints.append(_bullet_hint(fixed.positions[index], problem, source))
    bullets = tuple(fixed.bullets[index] for index in kept)
    if len(bullets) < rules.min_bullets:
        blocking.insert(0, f"bullet_count:{len(bullets)}")
        hints.insert(0, f"쓸 수 있는 항목이 {len(bullets)}개뿐입니다. {PROBLEM_HINTS['bullet_count']}")
        hints.extend(_bullet_hint(fixed.positions[index], problem, source) for index, problem in dropped)
    share = _hangul_share(bullets)
    if share is not None and share < rules.min_hangul_share:
        blocking.insert(0, f"hangul_share:{share:.2f}")
        hints.insert(0, PROBLEM_HINTS["hangul_share"])
    return Verdict(bullets, tuple(notes), tuple(blocking), tuple(dict.fromkeys(hints)), raw)
