"""Numbers in a summary must come from the source: extraction and normalisation for that check.

Both sides are reduced to plain values so that equal quantities compare equal whatever their spelling:
``200만`` and ``2M`` and ``2 million`` are 2,000,000; ``4.2%p``, ``4.2%`` and ``4.2 points`` are 4.2; ``3,807개`` is
3807; ``five`` and ``5개`` are 5. The source side is lenient (a scaled number also counts unscaled, number words
count), the summary side strict (only digits with their unit). Korean number words (``다섯``) in a summary are not
read: too ambiguous (``한`` is also a verb form).
"""

from __future__ import annotations

import math
import re

_LATIN_SCALES = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_WORD_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_KOREAN_SCALES = {
    "십": 1e1,
    "백": 1e2,
    "천": 1e3,
    "만": 1e4,
    "십만": 1e5,
    "백만": 1e6,
    "천만": 1e7,
    "억": 1e8,
    "십억": 1e9,
    "백억": 1e10,
    "천억": 1e11,
    "조": 1e12,
}
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "dozen": 12,
    "single": 1,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_KOREAN_UNIT = "|".join(sorted(_KOREAN_SCALES, key=len, reverse=True))
_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    rf"(?:\s?(?P<ko>{_KOREAN_UNIT})(?!큼)"
    r"|(?P<latin>[kKmMbBtT])(?![A-Za-z])"
    r"|\s(?P<word>hundred|thousand|million|billion|trillion)\b)?",
)
_WORD_RE = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?")


def _base(match: re.Match[str]) -> float:
    return float(match["int"].replace(",", "") + (match["frac"] or ""))


def _scale(match: re.Match[str]) -> float:
    if match["ko"]:
        return _KOREAN_SCALES[match["ko"]]
    if match["latin"]:
        return _LATIN_SCALES[match["latin"].lower()]
    if match["word"]:
        return _WORD_SCALES[match["word"].lower()]
    return 1.0


def summary_numbers(text: str) -> list[tuple[str, float]]:
    """Each quantity written in a (Korean) summary, as (as written, value).

    Consecutive Korean-unit parts of one number (``1억 2천만``) are added up.
    """
    found: list[tuple[str, float]] = []
    previous_end = -1
    for match in _NUMBER_RE.finditer(text):
        value = _base(match) * _scale(match)
        gap = text[previous_end : match.start()] if previous_end >= 0 else None
        if (
            match["ko"]
            and found
            and gap is not None
            and gap.strip() == ""
            and _KOREAN_SCALES.get(_last_unit(found[-1][0]), 0) > _scale(match)
        ):
            written, total = found[-1]
            found[-1] = (f"{written} {match.group(0)}", total + value)
        else:
            found.append((match.group(0), value))
        previous_end = match.end()
    return found


def _last_unit(written: str) -> str:
    match = re.search(rf"({_KOREAN_UNIT})$", written)
    return match.group(1) if match else ""


def source_numbers(text: str) -> set[float]:
    """Every value a source text supports: digits with and without their scale, and English number words."""
    values: set[float] = set()
    for match in _NUMBER_RE.finditer(text):
        base = _base(match)
        values.add(base)
        values.add(base * _scale(match))
    words = [word.lower() for word in _WORD_RE.findall(text)]
    for index, word in enumerate(words):
        parts = word.split("-")
        if all(part in _NUMBER_WORDS for part in parts):
            value = float(sum(_NUMBER_WORDS[part] for part in parts))
            values.add(value)
            following = words[index + 1] if index + 1 < len(words) else ""
            if following in _WORD_SCALES:
                values.add(value * _WORD_SCALES[following])
        elif word == "half":
            values.add(0.5)
    return values


def contains_value(values: set[float], value: float) -> bool:
    """``value`` is one of ``values`` (up to float rounding)."""
    return any(math.isclose(value, known, rel_tol=1e-9, abs_tol=1e-9) for known in values)


def unsupported_numbers(summary: str, source: str) -> list[str]:
    """Numbers written in ``summary`` that ``source`` does not contain, as written."""
    known = source_numbers(source)
    return [written for written, value in summary_numbers(summary) if not contains_value(known, value)]
