"""Latin-script words in a Korean summary: names must come from the source, English prose must not be there.

A *name* (``GPT-4o``, ``SCOPE``, ``Mixture-of-Experts``, ``Supervised``) is checked against the title and abstract
modulo spacing, hyphens, dots and case (``GPT2-medium`` is ``GPT-2-medium``, ``523MB`` is ``523 MB``, ``30fps`` is
``30 FPS``), starting at a word boundary of the source, so a typo (``Vertset`` for ``Vecset``) or an expansion the
abstract never gives (``SFT(Supervised Fine-Tuning)``) is caught. That is a factual problem.

*Untranslated* English is a form problem: a lowercase word the source does not have (``rigorously``,
``significativa``), an English function word or ``-ly`` adverb in a Korean sentence, or a run of English words that
reads as a phrase (``a custom Polish tokenizer``) rather than a name. The community's English terms that the source
uses (``fine-tuning``, ``zero-shot``, ``prefill``) are allowed: the prompt asks to keep them rather than transliterate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paperbot.summarize.text import strip_latex, wordset

#: Latin-script words: letters, digits and the joiners names use (GPT-4o, Qwen2.5, C++, F#, Llama-3.1-8B).
LATIN_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#.\-_/]*[A-Za-z0-9+#]|[A-Za-z]")
_LATIN_LETTER_RE = re.compile(r"[A-Za-z]")
_SOURCE_WORD_RE = re.compile(r"[A-Za-z0-9]+")
#: English words that never name anything: in a Korean sentence they mean an untranslated phrase.
FUNCTION_WORDS = wordset(
    """
    a an the of to in on at by for from with without into onto over under than then that this these those which who
    whom whose what when where while whereas and or but nor not no is are was were be been being am has have had do
    does did can could will would shall should may might must it its we our us they their them he she his her you your
    as if so such very more most less least also only just even both either neither each every any some all many much
    via per among between across through toward towards upon within about against during before after since until
    """
)
#: Nouns ending in -ly, which are not adverbs.
_LY_NOUNS = frozenset(
    {"anomaly", "assembly", "family", "supply", "reply", "poly", "italy", "ply", "rely", "fly", "monopoly"}
)
#: A run of at least two Latin words separated by spaces (a phrase, or a multi-word name such as "The Station").
_LATIN_RUN_RE = re.compile(r"[A-Za-z][A-Za-z0-9'.\-]*(?:,?\s+[A-Za-z0-9][A-Za-z0-9'.\-]*)+")


def latin_tokens(text: str) -> list[str]:
    """Latin-script words of ``text`` with at least two letters (names, English terms)."""
    return [token for token in LATIN_TOKEN_RE.findall(text) if len(_LATIN_LETTER_RE.findall(token)) >= 2]


def compact(text: str) -> str:
    """Lowercase letters and digits only: ``GPT-2-medium`` → ``gpt2medium``, ``30 FPS`` → ``30fps``."""
    return "".join(_SOURCE_WORD_RE.findall(text)).lower()


def is_name_shaped(token: str) -> bool:
    """A name rather than a common word: a capital letter, a digit or an inner joiner (``Web-Shepherd``, ``KV``)."""
    return any(ch.isupper() or ch.isdigit() for ch in token)


@dataclass(slots=True)
class SourceTerms:
    """The Latin words of a title and abstract, indexed for the name checks."""

    text: str
    lower: str = ""
    compacted: str = ""
    starts: set[int] = field(default_factory=set)
    ends: set[int] = field(default_factory=set)
    words: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, title: str, abstract: str) -> SourceTerms:
        text = strip_latex(f"{title}\n{abstract}")
        terms = cls(text=text, lower=text.lower())
        pieces: list[str] = []
        position = 0
        for word in _SOURCE_WORD_RE.findall(text):
            terms.starts.add(position)
            pieces.append(word.lower())
            position += len(word)
            terms.ends.add(position)
            if word.lower().endswith("es"):
                terms.ends.add(position - 2)  # "LLM" matches "LLMs", "box" matches "boxes"
            if word.lower().endswith("s"):
                terms.ends.add(position - 1)
            terms.words.add(word.lower())
        terms.compacted = "".join(pieces)
        return terms

    def has(self, token: str) -> bool:
        """``token`` is spelled in the source, modulo spacing, hyphens, dots and case, from a word start to a word
        end (or its plural ending): ``DeepNet`` is not ``deep network``."""
        if token.lower() in self.lower:
            return True
        wanted = compact(token)
        if not wanted:
            return True
        index = self.compacted.find(wanted)
        while index >= 0:
            if index in self.starts and index + len(wanted) in self.ends:
                return True
            index = self.compacted.find(wanted, index + 1)
        return False


def _is_function_word(word: str) -> bool:
    """``the``, ``The``, ``of``: but not an acronym that spells one (``IS``, Inception Score; ``OR``)."""
    return word.lower() in FUNCTION_WORDS and not (len(word) > 1 and word.isupper())


def _is_adverb(word: str) -> bool:
    lowered = word.lower()
    return len(lowered) > 4 and lowered.endswith("ly") and lowered not in _LY_NOUNS


def _phrase_problem(run: str, source: SourceTerms) -> bool:
    """A run of English words that is a phrase, not a name: it has a lowercase function word or adverb and is not
    a capitalised name spelled so in the source."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9'.\-]*", run)
    lowercase_glue = [w for w in words if w in FUNCTION_WORDS or (w.islower() and _is_adverb(w))]
    if not lowercase_glue and words and _is_function_word(words[0]) and not source.has(run):
        return True  # "The Station" is a name only if the source calls it so
    if not lowercase_glue:
        return False
    content = [w for w in words if w.lower() not in FUNCTION_WORDS]
    title_case = bool(content) and all(w[0].isupper() or w[0].isdigit() for w in content)
    return not (title_case and source.has(run))


@dataclass(frozen=True, slots=True)
class LatinProblems:
    names: tuple[str, ...] = ()
    untranslated: tuple[str, ...] = ()


def latin_problems(bullet: str, source: SourceTerms) -> LatinProblems:
    """Names not in the source (factual) and untranslated English (form) in one bullet."""
    names: list[str] = []
    untranslated: list[str] = []
    covered: list[tuple[int, int]] = []  # spans of phrases already judged (a name, or untranslated as a whole)
    english: list[tuple[int, int]] = []  # spans of untranslated phrases: their words are not names to check
    for match in _LATIN_RUN_RE.finditer(bullet):
        covered.append(match.span())
        if _phrase_problem(match.group(0), source):
            untranslated.append(match.group(0).strip()[:40])
            english.append(match.span())
    for match in LATIN_TOKEN_RE.finditer(bullet):
        token = match.group(0)
        if len(_LATIN_LETTER_RE.findall(token)) < 2:
            continue
        inside = any(start <= match.start() and match.end() <= end for start, end in covered)
        bare = token.strip(".-_/")
        if _is_function_word(bare) or (bare.islower() and _is_adverb(bare)):
            if not inside:
                untranslated.append(bare)
            continue
        if any(start <= match.start() and match.end() <= end for start, end in english):
            continue
        if source.has(token) or (token.endswith("s") and is_name_shaped(token) and source.has(token[:-1])):
            continue
        if is_name_shaped(token):
            names.append(token[:40])
        elif not inside or not untranslated:
            untranslated.append(token[:40])
    return LatinProblems(tuple(dict.fromkeys(names)), tuple(dict.fromkeys(untranslated)))
