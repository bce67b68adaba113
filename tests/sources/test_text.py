"""Text helpers: the fast path of clean_untrusted must agree with the full normalisation on any input."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.sources.text import _WS, _checked_http_url, safe_http_url
from paperbot.untrusted import _cleaned, clean_untrusted


def _slow(value: str) -> str:
    """The full normalisation, without the fast path."""
    return unicodedata.normalize("NFC", " ".join("".join(map(_cleaned, value)).split()))


@given(st.text())
def test_clean_untrusted_fast_path_matches_full_normalisation(value: str) -> None:
    assert clean_untrusted(value) == _slow(value)


#: Whitespace of every kind beside characters to clean: the paths for text that is printable once its whitespace is
#: collapsed (abstracts with newlines) and for text that is not.
_WHITESPACE_AND_WORSE = st.text(
    alphabet=st.sampled_from(" \n\t\r\x85\u2028\u3000\u2000\u200b\u202e\x1bae\u0301가\ud800")
)


@settings(max_examples=500)
@given(_WHITESPACE_AND_WORSE)
def test_collapsing_whitespace_first_changes_nothing(value: str) -> None:
    assert clean_untrusted(value) == _slow(value)


@given(st.text())
def test_nothing_invisible_or_acting_survives(value: str) -> None:
    cleaned = clean_untrusted(value)
    acting = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
    assert not any(unicodedata.category(ch) in acting and ch not in "\u200c\u200d" for ch in cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned


def test_bidi_isolates_overrides_and_invisible_characters_are_dropped() -> None:
    """Issue 15: the ingestion cleaner kept U+2066–U+2069 (bidi isolates), so stored titles carried them."""
    title = "\u2067evil\u2069 \u202egnp.exe\u202c co\u00adoperate\u200b \ufeffBOM \u2060join"
    assert clean_untrusted(title) == "evil gnp.exe cooperate BOM join"
    assert clean_untrusted("a\x1b[31mb\x85c\u2028d\u2029e\tf\nG") == "a [31mb c d e f G"  # C0, C1, Zl, Zp
    assert clean_untrusted("lone \ud800 surrogate \ue000 private") == "lone \ufffd surrogate \ufffd private"
    assert clean_untrusted(None) == "" and clean_untrusted(42) == ""
    assert clean_untrusted("한국어 제목 🧑\u200d💻 그대로") == "한국어 제목 🧑\u200d💻 그대로"  # joiners stay
    assert clean_untrusted("abcdef", limit=4) == "abc…"


def test_str_split_and_regex_whitespace_agree_on_every_code_point() -> None:
    # clean_untrusted collapses whitespace with str.split(); other parsers use the regex \s. They must agree.
    everything = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    assert {ch for ch in everything if ch.isspace()} == set("".join(_WS.findall(everything)))
    assert clean_untrusted(f"a{everything}b") == _slow(f"a{everything}b")


def test_safe_http_url_refuses_whitespace_and_odd_schemes() -> None:
    assert safe_http_url("https://arxiv.org/abs/2404.12387") == "https://arxiv.org/abs/2404.12387"
    assert safe_http_url("https://a.example/x y") is None
    assert safe_http_url("https://a.example/x\u3000y") is None
    assert safe_http_url("javascript:alert(1)") is None
    assert safe_http_url("https://user:pw@a.example/") is None
    assert safe_http_url("/papers/1", base="https://huggingface.co/") == "https://huggingface.co/papers/1"


_URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "ftp://",
        "javascript:",
        "a",
        "Z",
        "0",
        "-",
        ".",
        "..",
        ":",
        ":80",
        ":99999",
        "@",
        "u:p@",
        "/",
        "?",
        "#",
        "%20",
        " ",
        "\t",
        "\n",
        "\\",
        "é",
        "한",
        "\u3000",
        "[::1]",
        "example.com",
        "a.b.",
    ]
)


@given(st.lists(_URL_PIECES, max_size=10).map("".join))
def test_safe_http_url_fast_path_agrees_with_the_full_check(value: str) -> None:
    assert safe_http_url(value) == _checked_http_url(value, None)
    assert safe_http_url(value, base="https://huggingface.co/") == _checked_http_url(value, "https://huggingface.co/")
