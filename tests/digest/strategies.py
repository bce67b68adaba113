"""Hypothesis strategies for hostile digest text: long Korean, emoji and ZWJ sequences, URLs, Markdown, mentions."""

from __future__ import annotations

from hypothesis import strategies as st

KOREAN = st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=12)
#: Conjoining jamo (one grapheme per syllable block), combining marks, astral letters.
JAMO = st.sampled_from(["\u1100\u1161\u11a8", "\u1112\u1161\u11ab", "e\u0301", "a\u0308\u0323", "𝒜𝒷", "𠀀𠀁"])
EMOJI = st.sampled_from(
    [
        "👨\u200d👩\u200d👧\u200d👦",
        "🏳️\u200d🌈",
        "👍🏽",
        "🇰🇷",
        "❤️",
        "🧑🏿\u200d🚀",
        "1️⃣",
        "😀",
        "🫠",
    ]
)
URLS = st.builds(
    lambda host, path: f"https://{host}.example.com/{path}",
    st.text(alphabet="abcdefghij", min_size=1, max_size=10),
    st.text(alphabet="abc_*~()[]-/?=&%가나", min_size=0, max_size=40),
)
MARKUP = st.sampled_from(
    [
        "@everyone",
        "@here",
        "<@123>",
        "<@&1>",
        "<!channel>",
        "<!here>",
        "[x](javascript:alert(1))",
        "# big",
        "||spoiler||",
        "```py\nprint(1)\n```",
        "*bold*",
        "_it_",
        "~strike~",
        "> quote",
        "&amp;",
        "\\",
        "-# small",
        "<t:1:R>",
        "discord.gg/abc",
    ]
)
WORD = st.one_of(KOREAN, JAMO, EMOJI, URLS, MARKUP, st.text(min_size=1, max_size=8))
SEP = st.sampled_from([" ", "", "  ", "\n", ", ", ". "])


@st.composite
def hostile_text(draw: st.DrawFn, max_words: int = 40) -> str:
    words = draw(st.lists(WORD, min_size=1, max_size=max_words))
    out = ""
    for word in words:
        out += word + draw(SEP)
    return out


#: Long texts: a few thousand characters, so every split path runs.
long_text = st.builds(" ".join, st.lists(hostile_text(60), min_size=1, max_size=12))
