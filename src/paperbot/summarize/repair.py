"""Deterministic repair of a model's bullets before they are judged. No repair changes a fact.

* markup the renderers would neutralise anyway is unwrapped (``**굵게**`` → ``굵게``, ``[글](url)`` → ``글``,
  ``<b>``, backticks, leading ``#``/``>``);
* a parenthesis that only repeats the abstract's English sentence (``…도입함(We introduce X, a …)``) is removed:
  the Korean sentence before it already says it;
* a bullet that is only a link, or only says where the code or project page is, is dropped (the renderer links
  the paper; the prompt asks for no such sentence);
* sentence endings become "~니다." (:mod:`paperbot.summarize.endings`).

Each change is recorded as ``kind:bullet`` (``ending:2``, ``echo:4``, ``link:5``) with the bullet's position in the
model's answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paperbot.summarize import endings
from paperbot.summarize.text import collapse_ws, wordset

#: A URL or a bare domain (what the gate also refuses).
URL_RE = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*://\S*|\bwww\.\S*|"
    r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|ai|dev|co|kr|gg|ly|me|app|xyz|info|to)\b\S*)"
)
_MD_LINK_RE = re.compile(r"\[([^\[\]]{1,200})\]\((?:[^()\s]|\([^()\s]*\))+\)")
_EMPHASIS_RES = (
    re.compile(r"\*\*(.+?)\*\*"),
    re.compile(r"(?<![\w_])__(.+?)__(?![\w_])"),
    re.compile(r"(?<![\w*])\*(\S(?:[^*]*\S)?)\*(?![\w*])"),
    re.compile(r"~~(.+?)~~"),
    re.compile(r"`{1,3}([^`]+)`{1,3}"),
)
_HTML_TAG_RE = re.compile(
    r"</?(?:b|i|u|s|em|strong|code|pre|br|p|span|div|sup|sub|mark|small|big|font|li|ul|ol|h[1-6])\b[^<>]{0,100}>",
    re.IGNORECASE,
)
_LEADING_MARK_RE = re.compile(r"^(?:#{1,6}\s+|>\s*)+")
_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
#: A parenthesis (one level of nesting) and an unclosed one running to the end.
_PAREN_RE = re.compile(r"\s?\(((?:[^()]|\([^()]*\))*)\)|\s?\(([^()]*)$")
#: English after the last Korean word, often opened by an enumerator: "…사용함(1) model speedup by using …;".
_TRAILING_ENGLISH_RE = re.compile(r"[\uac00-\ud7a3][.)]?(?P<tail>\s?[(\[]?[^\uac00-\ud7a3]{20,})$")
_ENGLISH_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_ECHO_GLUE = wordset(
    "a an the of to in on for with by is are was were be we our this that which and or from as at it its can"
)
#: Only about where the code, data or project page is ("코드는 …에서 공개됩니다", "프로젝트 페이지: …").
_NOTICE_RE = re.compile(
    r"^(?:(?:모든|해당|관련|이|본|저자들?의|연구진의|논문의)\s*)?"
    r"(?:(?:소스\s*)?코드|프로젝트\s*페이지|프로젝트\s*웹사이트|웹사이트|홈페이지|데모|깃허브|GitHub|Github|"
    r"가중치|체크포인트|모델\s*가중치|구현체?)"
    r"(?:\s*(?:와|과|및|,|그리고)\s*(?:코드|데이터(?:셋|\s?세트)?|모델|가중치|체크포인트|데모|벤치마크))*"
    r"(?:\s*(?:은|는|이|가|도|:))"
)
_NOTICE_PREDICATE_RE = re.compile(
    r"공개|제공|이용할 수|이용 가능|사용할 수|사용 가능|확인할 수|다운로드|접근|available|배포"
)


@dataclass(frozen=True, slots=True)
class Repaired:
    """The bullets after repair, each with its 1-based position in the model's answer, and what was done."""

    bullets: tuple[str, ...]
    positions: tuple[int, ...]
    notes: tuple[str, ...]


_LATEX_QUOTES_RE = re.compile(r"``([^`']{1,200})''")


def unwrap_markup(text: str) -> str:
    """Markdown emphasis, code spans, links and simple HTML tags removed, their text kept; LaTeX quotes
    (````plan''``) made plain quotes."""
    text = _LATEX_QUOTES_RE.sub(lambda m: f"'{m.group(1)}'", text)
    text = _MD_LINK_RE.sub(lambda m: m.group(1), text)
    for pattern in _EMPHASIS_RES:
        text = pattern.sub(lambda m: m.group(1), text)
    text = _HTML_TAG_RE.sub("", text)
    return _LEADING_MARK_RE.sub("", text).strip()


def _is_echo(inner: str) -> bool:
    """An English sentence or clause quoted from the abstract, not a gloss (``(knowledge distillation)``)."""
    if _HANGUL_RE.search(inner):
        return False
    words = _ENGLISH_WORD_RE.findall(inner)
    if len(words) < 4:
        return False
    glue = sum(1 for word in words if word.lower() in _ECHO_GLUE)
    return glue >= 1 or len(words) >= 8


def strip_echoes(text: str) -> str:
    """``text`` without parentheses that repeat an English source sentence."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        return "" if _is_echo(inner) else match.group(0)

    stripped = _PAREN_RE.sub(replace, text)
    tail = _TRAILING_ENGLISH_RE.search(stripped)
    if tail and _is_echo(tail.group("tail")):
        stripped = stripped[: tail.start("tail")]
    return collapse_ws(stripped.replace(" .", ".").replace(" ,", ","))


def is_notice(text: str) -> bool:
    """A bullet that only says where code, weights or a project page can be found."""
    return bool(_NOTICE_RE.match(text)) and bool(_NOTICE_PREDICATE_RE.search(text)) and len(text) <= 120


def repair(bullets: Sequence[str], *, kiwi: Any = endings.DEFAULT) -> Repaired:
    """Apply every repair to ``bullets`` (already parsed and whitespace-cleaned)."""
    kept: list[str] = []
    positions: list[int] = []
    notes: list[str] = []
    for position, original in enumerate(bullets, start=1):
        text = unwrap_markup(original)
        if text != original:
            notes.append(f"markup:{position}")
        without_echo = strip_echoes(text)
        if without_echo != text:
            notes.append(f"echo:{position}")
            text = without_echo
        if URL_RE.search(text) and (is_notice(text) or len(URL_RE.sub("", text).strip()) < 60):
            notes.append(f"link:{position}")
            continue
        if is_notice(text):
            notes.append(f"notice:{position}")
            continue
        formal = endings.to_formal(text, kiwi=kiwi)
        if formal != text:
            notes.append(f"ending:{position}")
            text = formal
        if text:
            kept.append(text)
            positions.append(position)
    return Repaired(tuple(kept), tuple(positions), tuple(notes))
