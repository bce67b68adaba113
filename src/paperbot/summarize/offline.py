"""The offline summariser: deterministic, extractive, no network, no key. It is also every fallback.

For a paper it picks the abstract's key sentences (background, method, result) and sets each, verbatim, inside a
fixed Korean frame: every quote is a substring of the (whitespace-normalised) abstract. For a blog post it says
whether the post is research or a product announcement and quotes its key sentences; a post with its article gets
nested highlights from the article's own structure: its section headings as top-level points, each with its list
items or its key sentence quoted under it, then (product) the availability and price sentences or (research) the
results with numbers (:func:`post_outline`). Sentences that could ping,
link or format anything (URLs, ``@``, angle brackets, markdown) or that hide control characters are never quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperbot.domain import ArticleBlock, BlockKind, Item, ItemKind, Summary
from paperbot.summarize.article import article_blocks, fact_text
from paperbot.summarize.gate import (
    MAX_OUTLINE_LINES,
    MAX_TOP_POINTS,
    OFFLINE_OUTLINE_RULES,
    OFFLINE_RULES,
    OutlineLine,
    Source,
    bullet_problems,
    check,
    check_outline,
)
from paperbot.summarize.posts import PostKind, classify_post
from paperbot.summarize.text import collapse_ws, has_hidden_characters, input_hash, split_sentences, strip_latex

OFFLINE_BACKEND = "offline"
OFFLINE_MODEL = "offline"
OFFLINE_PROMPT_VERSION = "offline-2"

MAX_QUOTE_CHARS = 230
MIN_SENTENCE_CHARS = 25

_UNSAFE_RE = re.compile(
    r"(?i)[<>`*@\uff20|\[\]{}\\]|~~|__|&[a-z]+;|&#\d+;|\b[a-z][a-z0-9+.-]*://|\bwww\.|"
    r"\b[a-z0-9-]+\.(?:com|org|net|io|ai|dev|co|kr|gg|ly|me|app|xyz|info|to)\b"
)
_BACKGROUND_CUES = re.compile(
    r"(?i)\b(?:however|challeng\w*|remain\w*|limit\w*|bottleneck|despite|struggl\w*|lack\w*|problem\w*|"
    r"costly|difficult\w*|existing|prior|current|recent(?:ly)?|increasingly|although|while|suffer\w*)\b"
)
_METHOD_CUES = re.compile(
    r"(?i)\b(?:we (?:propose|introduce|present|develop|design|build|describe|release)|this (?:paper|work)|"
    r"in this (?:paper|work)|our (?:approach|method|framework|model|system)|is (?:introduced|proposed)|"
    r"propos\w*|introduc\w*|framework|method|approach|novel)\b"
)
_RESULT_CUES = re.compile(
    r"(?i)\b(?:experiments?|results?|show\w*|demonstrat\w*|outperform\w*|achiev\w*|improv\w*|"
    r"state-of-the-art|sota|surpass\w*|benchmarks?|evaluation|significant\w*|gains?|reduc\w*|faster)\b|%"
)
#: Clear cues that a sentence proposes something (its frame says "제안") or reports a result ("결과로").
_PROPOSAL_CUES = re.compile(
    r"(?i)\b(?:we (?:propose|introduce|present|develop|design|build|describe|release|construct|curate|formulate)|"
    r"this (?:paper|work|report|study) (?:proposes|introduces|presents|describes|develops)|"
    r"in this (?:paper|work|report)|(?:is|are) (?:proposed|introduced|presented)|we call|dubbed)\b"
)
_RESULT_REPORT_CUES = re.compile(
    r"(?i)\b(?:we (?:show|demonstrate|find|found|observe|achieve|obtain|report)|"
    r"(?:results?|experiments?|evaluations?|analys[ie]s) (?:show|demonstrate|indicate|suggest|reveal|confirm)|"
    r"outperform\w*|achiev\w*|surpass\w*|state-of-the-art|sota|exceed\w*|beats?)\b"
    r"|\d+(?:\.\d+)?\s?(?:%|x\b|×|times\b|points?\b|pp\b)"
)
_RELEASE_CUES = re.compile(
    r"(?i)\b(?:code|models?|data|weights) (?:is|are|will be) (?:publicly )?(?:available|released)"
)

#: Frames per role: quote first, then a formal "~니다." verb. The quote keeps its own words. A role frame is used
#: only when the sentence has a clear cue for it (a "결과로" frame only for a sentence that reports a result);
#: otherwise the frame is neutral.
_PAPER_FRAMES = {
    "background": "배경으로 “{q}”라고 설명합니다.",
    "method": "제안 내용을 “{q}”라고 소개합니다.",
    "method2": "방법의 세부로 “{q}”라고 설명합니다.",
    "result": "결과로 “{q}”라고 보고합니다.",
    "result2": "또한 “{q}”라고 보고합니다.",
    "release": "공개 계획으로 “{q}”라고 밝힙니다.",
    "neutral": "“{q}”라고 설명합니다.",
    "neutral2": "또한 “{q}”라고 설명합니다.",
}
#: The cue a sentence needs to get its role's frame.
_ROLE_CUES = {"background": _BACKGROUND_CUES, "method": _PROPOSAL_CUES, "result": _RESULT_REPORT_CUES}
#: Marks a quote cut short (inside the quotation marks, so the quote reads as unfinished).
ELLIPSIS = "…"
_POST_LEAD = {
    PostKind.RESEARCH: "연구 내용을 소개하는 글입니다.",
    PostKind.PRODUCT: "새 제품이나 기능을 알리는 발표 글입니다.",
}
_POST_FRAMES = {
    PostKind.RESEARCH: ("핵심 내용으로 “{q}”라고 소개합니다.", "또한 “{q}”라고 설명합니다."),
    PostKind.PRODUCT: ("발표 내용으로 “{q}”라고 알립니다.", "또한 “{q}”라고 설명합니다."),
}
NO_ABSTRACT_PAPER = "초록이 제공되지 않아 제목만 전합니다."
NO_ABSTRACT_POST = "본문 발췌가 없어 제목만 전합니다."
NO_SAFE_QUOTE = "초록에서 그대로 옮길 만한 문장을 찾지 못해 제목만 전합니다."


@dataclass(frozen=True, slots=True)
class _Sentence:
    index: int
    text: str


def _quote(sentence: str) -> str:
    """The sentence without its final period, cut at a clause boundary when too long: a substring of the
    abstract, followed by "…" when cut."""
    quote = sentence.rstrip(" .")
    if len(quote) <= MAX_QUOTE_CHARS:
        return quote
    head = quote[:MAX_QUOTE_CHARS]
    for mark in ("; ", ", ", " — ", ": ", " ("):
        cut = head.rfind(mark)
        if cut >= MAX_QUOTE_CHARS // 2:
            return head[:cut].rstrip(" ,;:") + ELLIPSIS
    return head[: head.rfind(" ")].rstrip(" ,;:") + ELLIPSIS


def unquote(quote: str) -> str:
    """A quote without its "…": the part that is verbatim in the abstract."""
    return quote.removesuffix(ELLIPSIS)


def quotable_text(abstract: str) -> str:
    """The abstract as the offline summary quotes it: whitespace collapsed, LaTeX markup stripped."""
    return strip_latex(collapse_ws(abstract))


def _safe_sentences(abstract: str) -> list[_Sentence]:
    text = quotable_text(abstract)
    sentences = []
    for index, sentence in enumerate(split_sentences(text)):
        if len(sentence) < MIN_SENTENCE_CHARS or _UNSAFE_RE.search(sentence) or has_hidden_characters(sentence):
            continue
        if "“" in sentence or "”" in sentence:
            continue  # our frames use these quotes
        sentences.append(_Sentence(index, sentence))
    return sentences


def _pick_paper(sentences: list[_Sentence]) -> list[tuple[str, _Sentence]]:
    """(role, sentence) pairs in abstract order: one background, one or two method, one or two result sentences."""
    if not sentences:
        return []
    chosen: dict[int, str] = {}

    def best(cue: re.Pattern[str], *, prefer_numbers: bool = False) -> _Sentence | None:
        scored = [
            (len(cue.findall(s.text)) + (2 if prefer_numbers and re.search(r"\d", s.text) else 0), -s.index, s)
            for s in sentences
            if s.index not in chosen and cue.search(s.text)
        ]
        return max(scored, key=lambda entry: (entry[0], entry[1]))[2] if scored else None

    method = best(_METHOD_CUES)
    if method is not None:
        chosen[method.index] = "method"
    result = best(_RESULT_CUES, prefer_numbers=True)
    if result is not None and (method is None or result.index > method.index or len(sentences) <= 3):
        chosen[result.index] = "result"
    first = sentences[0]
    if first.index not in chosen and (method is None or first.index < method.index):
        chosen[first.index] = "background"
    elif (background := best(_BACKGROUND_CUES)) is not None and (method is None or background.index < method.index):
        chosen[background.index] = "background"
    release = next((s for s in sentences if s.index not in chosen and _RELEASE_CUES.search(s.text)), None)
    if release is not None:
        chosen[release.index] = "release"
    extra_method = best(_METHOD_CUES)
    if extra_method is not None and len(chosen) < 5 and method is not None and extra_method.index > method.index:
        chosen[extra_method.index] = "method"
    extra_result = best(_RESULT_CUES, prefer_numbers=True)
    if extra_result is not None and len(chosen) < 5 and "result" in chosen.values():
        chosen[extra_result.index] = "result"
    for sentence in sentences:  # short abstracts: fill up to three in order
        if len(chosen) >= 3:
            break
        chosen.setdefault(sentence.index, "other")
    by_index = {s.index: s for s in sentences}
    return [(chosen[index], by_index[index]) for index in sorted(chosen)]


def paper_bullets(item: Item) -> list[str]:
    if not item.abstract.strip():
        return [NO_ABSTRACT_PAPER]
    picked = _pick_paper(_safe_sentences(item.abstract))
    if not picked:
        return [NO_SAFE_QUOTE]
    bullets: list[str] = []
    seen: set[str] = set()
    for picked_role, sentence in picked:
        cue = _ROLE_CUES.get(picked_role)
        role = picked_role if cue is None or cue.search(sentence.text) else "neutral"
        if role == "other":
            role = "neutral"
        frame = (
            f"{role}2" if (role in seen or (role == "neutral" and bullets)) and f"{role}2" in _PAPER_FRAMES else role
        )
        seen.add(role)
        bullets.append(_PAPER_FRAMES[frame].format(q=_quote(sentence.text)))
    return bullets


def post_bullets(item: Item) -> list[str]:
    kind = classify_post(item)
    lead = _POST_LEAD[kind]
    if not item.abstract.strip():
        return [lead, NO_ABSTRACT_POST]
    sentences = _safe_sentences(item.abstract)
    if len(sentences) > 1 and not re.search(r"[.!?\"'”’)]$", sentences[-1].text):
        sentences = sentences[:-1]  # excerpts are often cut mid-sentence: do not quote the stub
    sentences = sentences[:4]
    first_frame, next_frame = _POST_FRAMES[kind]
    quoted = [
        (first_frame if position == 0 else next_frame).format(q=_quote(sentence.text))
        for position, sentence in enumerate(sentences)
    ]
    return [lead, *quoted] if quoted else [lead, NO_SAFE_QUOTE]


#: Headings of what is not the article's content (navigation, apparatus): never a highlight.
_SKIP_HEADINGS = re.compile(
    r"(?i)^(?:contents|table of contents|references|see also|external links|further reading|footnotes|notes|"
    r"citations?|bibliography|acknowledg\w*|related (?:posts|articles|reading)|share(?: this)?|comments?|"
    r"about the authors?|tags)\b"
)
#: A heading's trailing short bracket: an edit link or a footnote mark ("Details[edit]").
_HEADING_TAIL = re.compile(r"\s*\[[^\]]{0,20}\]$")
_AVAILABILITY_CUES = re.compile(
    r"(?i)\b(?:available|availability|pricing|price[sd]?|per month|free|waitlist|general availability|"
    r"rolling out|roll out|sign up|subscribers?|customers|enterprise|developers|preview|beta|regions?)\b|\$\d"
)
#: Sub-points under one section, and sections, at most (the outline stays well inside the gate's bounds).
OFFLINE_SUB_POINTS = 3
OFFLINE_SECTIONS = 8
_POST_LEAD_EXTRACT = {
    PostKind.RESEARCH: "연구 내용을 소개하는 글입니다 (본문의 구성을 그대로 옮긴 발췌).",
    PostKind.PRODUCT: "새 제품이나 기능을 알리는 발표 글입니다 (본문의 구성을 그대로 옮긴 발췌).",
}
_SECTION_FRAME = "“{q}” 절"
_ITEM_FRAME = "목록: “{q}”"
_SENTENCE_FRAME = "“{q}”라고 설명합니다."
_ROW_FRAME = "표: {q}"
#: Rows of one table shown under its section at most.
OFFLINE_TABLE_ROWS = 2
_AVAILABILITY_TITLE = "이용 방법과 가격에 대한 원문"
_RESULTS_TITLE = "수치로 밝힌 결과"


def _quotable(text: str) -> bool:
    return not (_UNSAFE_RE.search(text) or has_hidden_characters(text) or "“" in text or "”" in text)


def _sections(blocks: tuple[ArticleBlock, ...]) -> list[tuple[str | None, list[ArticleBlock]]]:
    """(heading, blocks under it) at the article's top heading levels (the two highest it uses); the blocks before
    the first heading have heading None."""
    levels = sorted({block.level for block in blocks if block.kind is BlockKind.HEADING})
    top = set(levels[:2])
    sections: list[tuple[str | None, list[ArticleBlock]]] = [(None, [])]
    for block in blocks:
        if block.kind is BlockKind.HEADING and block.level in top:
            sections.append((_HEADING_TAIL.sub("", block.text).strip(), []))
        elif block.kind is not BlockKind.HEADING:
            sections[-1][1].append(block)
    return sections


def _sentences_of(blocks: list[ArticleBlock]) -> list[str]:
    text = " ".join(block.text for block in blocks if block.kind in (BlockKind.PARAGRAPH, BlockKind.QUOTE))
    return [s.text for s in _safe_sentences(text)]


def _key_sentences(sentences: list[str], kind: PostKind, count: int) -> list[str]:
    """The first sentence, then those with the frame's cues (results with numbers; availability), in order."""
    if not sentences:
        return []
    cue = _AVAILABILITY_CUES if kind is PostKind.PRODUCT else _RESULT_REPORT_CUES
    chosen = {0} | {index for index, sentence in enumerate(sentences) if cue.search(sentence)}
    return [sentences[index] for index in sorted(chosen)][:count]


def _row_points(body: list[ArticleBlock]) -> list[str]:
    """A section's table as ``표: header: cell, header: cell`` lines, its first data rows with a number (the cells
    verbatim; the extractor joins a row's cells with `` | ``, which is never quoted as is)."""
    rows = [[cell.strip() for cell in block.text.split(" | ")] for block in body if block.kind is BlockKind.ROW]
    if len(rows) < 2 or not all(cell and _quotable(cell) for row in rows[:4] for cell in row):
        return []
    header, data = rows[0], [row for row in rows[1:] if any(ch.isdigit() for ch in " ".join(row[1:]))]
    points = []
    for row in data[:OFFLINE_TABLE_ROWS]:
        cells = [f"{name}: {cell}" for name, cell in zip(header, row, strict=True)] if len(row) == len(header) else row
        points.append(_ROW_FRAME.format(q=_quote(", ".join(cells))))
    return points


def _section_points(body: list[ArticleBlock], kind: PostKind) -> list[str]:
    items = [block.text for block in body if block.kind is BlockKind.ITEM and block.level == 0]
    safe_items = [text for text in items if len(text) >= 3 and _quotable(text)]
    if safe_items:
        points = [_ITEM_FRAME.format(q=_quote(text)) for text in safe_items[:OFFLINE_SUB_POINTS]]
    else:
        points = [_SENTENCE_FRAME.format(q=_quote(s)) for s in _key_sentences(_sentences_of(body), kind, 2)]
    return points + _row_points(body)[: max(0, OFFLINE_SUB_POINTS + 1 - len(points))]


def post_outline(item: Item) -> list[OutlineLine]:
    """Nested highlights from the attached article's structure (nothing but its own words in fixed frames)."""
    kind = classify_post(item)
    blocks = article_blocks(item)
    sections = _sections(blocks)
    lines: list[OutlineLine] = [(0, _POST_LEAD_EXTRACT[kind])]
    intro = sections[0][1] if len(sections) > 1 else [b for b in blocks if b.kind is not BlockKind.HEADING]
    lines.extend((1, point) for point in _section_points(intro, kind))
    quoted = {text for _, text in lines}
    shown = 0
    for heading, body in sections[1:]:
        if shown >= OFFLINE_SECTIONS or len(lines) >= MAX_OUTLINE_LINES - OFFLINE_SUB_POINTS - 4:
            break
        if not heading or _SKIP_HEADINGS.match(heading) or not _quotable(heading):
            continue
        points = [point for point in _section_points(body, kind) if point not in quoted]
        if not points:
            continue
        lines.append((0, _SECTION_FRAME.format(q=_quote(heading))))
        lines.extend((1, point) for point in points)
        quoted.update(points)
        shown += 1
    every = _sentences_of(list(blocks))
    cue = _AVAILABILITY_CUES if kind is PostKind.PRODUCT else _RESULT_REPORT_CUES
    extra = [
        point
        for sentence in every
        if cue.search(sentence) and (kind is PostKind.PRODUCT or re.search(r"\d", sentence))
        if (point := _SENTENCE_FRAME.format(q=_quote(sentence))) not in quoted
    ][:OFFLINE_SUB_POINTS]
    if extra and sum(1 for depth, _ in lines if depth == 0) < MAX_TOP_POINTS:
        lines.append((0, _AVAILABILITY_TITLE if kind is PostKind.PRODUCT else _RESULTS_TITLE))
        lines.extend((1, point) for point in extra)
    return lines


def _checked_outline(item: Item) -> list[OutlineLine] | None:
    """:func:`post_outline` within the offline outline gate: a line the gate refuses is left out (with its
    section when that leaves the section empty); None when what is left still fails."""
    title, facts = item.title, quotable_text(fact_text(item))
    source = Source.of(title, facts)
    kept = [
        (depth, text) for depth, text in post_outline(item) if not bullet_problems(text, source, OFFLINE_OUTLINE_RULES)
    ]
    tidy: list[OutlineLine] = []
    for index, (depth, text) in enumerate(kept):
        has_children = index + 1 < len(kept) and kept[index + 1][0] == 1
        if depth == 0 and not has_children and index > 0:
            continue
        if depth == 1 and not tidy:
            continue
        tidy.append((depth, text))
    if not check_outline(tidy, title=title, abstract=facts, rules=OFFLINE_OUTLINE_RULES).ok:
        return None
    return tidy


def offline_outline(item: Item) -> list[OutlineLine] | None:
    """The offline nested highlights of a post with an attached article, or None (no article, or none passed)."""
    if item.kind is not ItemKind.POST or not article_blocks(item):
        return None
    return _checked_outline(item)


def offline_bullets(item: Item) -> list[str]:
    """The offline summary's bullets for ``item``; deterministic, always within the offline gate."""
    bullets = paper_bullets(item) if item.kind is ItemKind.PAPER else post_bullets(item)
    result = check(bullets, title=item.title, abstract=quotable_text(item.abstract), rules=OFFLINE_RULES)
    if not result.ok:
        # Should not happen (quotes are filtered for safety); never let an unsafe quote through regardless.
        bullets = [NO_SAFE_QUOTE]
    return bullets


class OfflineSummarizer:
    """Extractive Korean-framed summaries; the default back-end and every other back-end's fallback."""

    backend = OFFLINE_BACKEND
    model = OFFLINE_MODEL
    prompt_version = OFFLINE_PROMPT_VERSION
    daily_budget_usd: float | None = None

    def __init__(self, *, max_input_chars: int = 4000) -> None:
        self.max_input_chars = max_input_chars

    def cache_key(self, item: Item) -> tuple[str, str, str]:
        return input_hash(item, self.max_input_chars), OFFLINE_PROMPT_VERSION, OFFLINE_MODEL

    def build(self, item: Item, *, fallback_reason: str | None = None) -> Summary:
        outline = offline_outline(item)
        return Summary(
            item_id=item.id or 0,
            bullets=tuple(text for _, text in outline) if outline else tuple(offline_bullets(item)),
            levels=tuple(depth for depth, _ in outline) if outline else (),
            backend=OFFLINE_BACKEND,
            model=OFFLINE_MODEL,
            prompt_version=OFFLINE_PROMPT_VERSION,
            input_hash=input_hash(item, self.max_input_chars),
            fallback_reason=fallback_reason,
        )

    async def summarize(self, item: Item) -> Summary:
        return self.build(item)

    async def fallback(self, item: Item, reason: str) -> Summary:
        return self.build(item, fallback_reason=reason)
