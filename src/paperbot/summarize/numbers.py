"""Numbers in a summary must come from the source: extraction and normalisation for that check.

Both sides are reduced to plain values so that equal quantities compare equal whatever their spelling:
``200만`` and ``2M`` and ``2 million`` are 2,000,000; ``340억`` and ``34B`` are 34,000,000,000 (and ``34억`` is not);
``4.2%p``, ``4.2%`` and ``4.2 points`` are 4.2; ``3,807개`` is 3807; ``five``, ``five-fold`` and ``5개`` are 5.

The source side is lenient: a scaled number also counts unscaled, digits glued to letters count (``Qwen2.5``,
LaTeX residue such as ``sim15min``), English number words count, also inside compounds (``two-stage``,
``second-order``, ``three-dimensional``, ``tenfold``, ``a trillion``). The summary side is strict: only digits, with
their Korean unit (``1억 2천 5백만`` is one number, 125,000,000), Latin scale letter or scale word. Korean number
words (``다섯``) in a summary are not read: too ambiguous (``한`` is also a verb form). After a fraction bar
``만`` is the particle "only" (``1/10만``), not ×10,000.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_LATIN_SCALES = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_WORD_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
#: Korean units as (multiplier inside a 만-group, the group's power of 10,000).
_KOREAN_UNITS: dict[str, tuple[float, float]] = {
    "십": (10, 1),
    "백": (100, 1),
    "천": (1000, 1),
    "만": (1, 1e4),
    "십만": (10, 1e4),
    "백만": (100, 1e4),
    "천만": (1000, 1e4),
    "억": (1, 1e8),
    "십억": (10, 1e8),
    "백억": (100, 1e8),
    "천억": (1000, 1e8),
    "조": (1, 1e12),
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
    "hundred": 100,
    "thousand": 1000,
    "dozen": 12,
    "single": 1,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "quadruple": 4,
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
    "half": 0.5,
    "quarter": 0.25,
}
_KOREAN_UNIT = "|".join(sorted(_KOREAN_UNITS, key=len, reverse=True))
_DIGITS = r"(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<frac>\.\d+)?"
_SCALE_WORD = r"(?i:hundred|thousand|million|billion|trillion)"
#: A quantity in a summary: digits not glued to a word or a decimal point before them, then a unit.
_SUMMARY_RE = re.compile(
    rf"(?<![\w.]){_DIGITS}"
    rf"(?:\s?(?P<ko>{_KOREAN_UNIT})(?!큼|각)"
    r"|(?P<latin>[kKmMbBtT])(?![A-Za-z])"
    rf"|[\s-](?P<word>{_SCALE_WORD})(?![A-Za-z]))?"
)
#: A quantity in a source: digits anywhere except inside another number (``Qwen2.5`` gives 2.5, ``sim15min`` 15).
_SOURCE_RE = re.compile(
    rf"(?<![\d.,]){_DIGITS}"
    r"(?:(?P<latin>[kKmMbBtT])(?![A-Za-z])"
    rf"|[\s-]?(?P<word>{_SCALE_WORD})(?![A-Za-z])"
    rf"|\s?(?P<ko>{_KOREAN_UNIT})(?!큼|각))?"
)
_WORD_RE = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def _base(match: re.Match[str]) -> float:
    return float(match["int"].replace(",", "") + (match["frac"] or ""))


def _latin_or_word_scale(match: re.Match[str]) -> float:
    if match["latin"]:
        return _LATIN_SCALES[match["latin"].lower()]
    if match["word"]:
        return _WORD_SCALES[match["word"].lower()]
    return 1.0


@dataclass(slots=True)
class _Chain:
    """Consecutive Korean-unit parts of one number (``1억 2천 5백만``), summed group by group."""

    written: str
    total: float = 0.0
    group: float = 0.0
    last_big: float = math.inf
    last_small: float = math.inf
    end: int = 0

    def accepts(self, small: float, big: float) -> bool:
        """Units must fall: 억 before 만, and inside one 만-group 천 before 백 before 십."""
        if self.group and small >= self.last_small:
            return False
        return big < self.last_big if big > 1 else self.last_big > 1

    def add(self, number: float, small: float, big: float) -> None:
        self.group += number * small
        self.last_small = small
        if big > 1:
            self.total += self.group * big
            self.group = 0.0
            self.last_big = big
            self.last_small = math.inf

    @property
    def value(self) -> float:
        return self.total + self.group


def summary_numbers(text: str) -> list[tuple[str, float]]:
    """Each quantity written in a (Korean) summary, as (as written, value)."""
    found: list[tuple[str, float]] = []
    chain: _Chain | None = None
    for match in _SUMMARY_RE.finditer(text):
        base = _base(match)
        unit = match["ko"]
        after_fraction_bar = match.start() > 0 and text[match.start() - 1] == "/"
        if unit and not (after_fraction_bar and unit == "만"):
            small, big = _KOREAN_UNITS[unit]
            gap = text[chain.end : match.start()] if chain is not None else None
            if chain is not None and gap is not None and gap.strip() == "" and chain.accepts(small, big):
                chain.written += f"{gap}{match.group(0)}"
                chain.add(base, small, big)
                chain.end = match.end()
                found[-1] = (chain.written, chain.value)
                continue
            chain = _Chain(written=match.group(0), end=match.end())
            chain.add(base, small, big)
            found.append((chain.written, chain.value))
            continue
        chain = None
        if unit:  # "1/10만": the number is 10, 만 means "only"
            found.append((match.group(0)[: -len(unit)].rstrip(), base))
        else:
            found.append((match.group(0), base * _latin_or_word_scale(match)))
    return found


def source_quantities(text: str) -> list[tuple[str, float]]:
    """Scaled quantities of a source (``3.8-billion``, ``7B``, ``200K``) as (as written, value), for repair hints."""
    return [
        (match.group(0), _base(match) * _latin_or_word_scale(match))
        for match in _SOURCE_RE.finditer(text)
        if match["latin"] or match["word"]
    ]


def _word_value(word: str) -> float | None:
    """The value of an English number word or compound: ``five``, ``twenty-five``, ``tenfold``, ``second-order``."""
    parts = word.lower().split("-")
    if parts[-1] == "fold" and len(parts) > 1:
        parts = parts[:-1]
    elif parts[0].endswith("fold") and parts[0][:-4] in _NUMBER_WORDS:
        parts = [parts[0][:-4], *parts[1:]]
    numeric = []
    for part in parts:
        if part not in _NUMBER_WORDS:
            break
        numeric.append(part)
    if not numeric:
        return None
    if len(numeric) == 2 and _NUMBER_WORDS[numeric[0]] >= 20 and _NUMBER_WORDS[numeric[1]] < 10:
        return float(_NUMBER_WORDS[numeric[0]] + _NUMBER_WORDS[numeric[1]])  # twenty-five
    return float(_NUMBER_WORDS[numeric[0]])  # two-stage, three-dimensional, second-order


def source_numbers(text: str) -> set[float]:
    """Every value a source text supports: digits with and without their scale, and English number words."""
    values: set[float] = set()
    for match in _SOURCE_RE.finditer(text):
        base = _base(match)
        values.add(base)
        if match["ko"]:
            small, big = _KOREAN_UNITS[match["ko"]]
            values.add(base * small * big)
        else:
            values.add(base * _latin_or_word_scale(match))
    words = _WORD_RE.findall(text)
    for index, word in enumerate(words):
        value = _word_value(word)
        lowered = word.lower()
        if value is None and lowered in ("a", "an", "one"):
            value = 1.0  # "a trillion", "one million"
        elif value is None:
            continue
        else:
            values.add(value)
        following = words[index + 1].lower() if index + 1 < len(words) else ""
        if following in _WORD_SCALES:
            values.add(value * _WORD_SCALES[following])
    return values


def contains_value(values: set[float], value: float) -> bool:
    """``value`` is one of ``values`` (up to float rounding)."""
    return any(math.isclose(value, known, rel_tol=1e-9, abs_tol=1e-9) for known in values)


def unsupported_numbers(summary: str, source: str) -> list[str]:
    """Numbers written in ``summary`` that ``source`` does not contain, as written."""
    known = source_numbers(source)
    return [written for written, value in summary_numbers(summary) if not contains_value(known, value)]


def korean_amount(value: float) -> str:
    """``value`` in Korean units: 2e9 → ``20억``, 3.03e8 → ``3억 300만``, 1.5e6 → ``150만``."""
    if value < 1e4 or value != int(value):
        return f"{value:g}"
    parts: list[str] = []
    remainder = int(value)
    for unit, size in (("조", 10**12), ("억", 10**8), ("만", 10**4)):
        if remainder >= size:
            parts.append(f"{remainder // size}{unit}")
            remainder %= size
    if remainder:
        parts.append(str(remainder))
    return " ".join(parts)


def explain_number(written: str, source: str) -> str | None:
    """Why a summary's number is wrong when it is a misconverted scale (``2억`` for ``2-billion``), else None."""
    numbers = summary_numbers(written)
    if not numbers:
        return None
    value = numbers[0][1]
    for source_written, source_value in source_quantities(source):
        same_digits = _digits_of(source_written) == _digits_of(written)
        if same_digits or math.isclose(value * 10, source_value) or math.isclose(value / 10, source_value):
            return f"원문의 '{source_written}'은 {korean_amount(source_value)}입니다"
    return None


def _digits_of(text: str) -> str:
    match = re.search(r"\d+(?:[.,]\d+)*", text)
    return match.group(0).replace(",", "") if match else ""
