"""Text helpers: the fast path of clean_text must agree with the full normalisation on any input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from paperbot.sources.text import _CONTROL, _WS, _checked_http_url, clean_text, safe_http_url


@given(st.text())
def test_clean_text_fast_path_matches_full_normalisation(value: str) -> None:
    assert clean_text(value) == _WS.sub(" ", _CONTROL.sub(" ", value)).strip()


def test_str_split_and_regex_whitespace_agree_on_every_code_point() -> None:
    # clean_text collapses whitespace with str.split(); the reference above uses the regex \s. They must agree.
    everything = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    assert {ch for ch in everything if ch.isspace()} == set("".join(_WS.findall(everything)))
    assert clean_text(f"a{everything}b") == _WS.sub(" ", _CONTROL.sub(" ", f"a{everything}b")).strip()


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
