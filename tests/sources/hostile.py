"""Hostile and odd inputs, built from the real fixtures: what broke collection in issue 14's 52 attack runs.

Every builder starts from a real saved response (tests/data/sources) and changes only what it names, so the good
entries around the hostile one are real ones.
"""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, date, datetime
from typing import Any

from tests.sources.helpers import FEEDS, hf_json

#: The HF day of the hostile-day tests and the moment its digest is prepared (09:05 KST the next morning).
HOSTILE_DAY = date(2025, 10, 3)
HOSTILE_NOW = datetime(2025, 10, 4, 0, 5, tzinfo=UTC)
#: "Humanity's Last Exam" (2501.14249) has 664 authors.
MANY_AUTHORS = 664


def hostile_hf_entries() -> list[dict[str, Any]]:
    """The real 2025-10-03 page with two hostile entries: every odd value that PostgreSQL or orjson refused."""
    entries = copy.deepcopy(hf_json("2025-10-03"))
    first, second = entries[0], entries[1]
    first["paper"]["upvotes"] = 2**31 + 7  # "value out of int32 range" on PostgreSQL
    first["paper"]["githubStars"] = 2**70  # beyond orjson's 64-bit integers (the bulk SQLite path)
    first["thumbnail"] = "https://cdn-thumbnails.huggingface.co/x\u0000.png"  # "invalid byte sequence 0x00"
    first["paper"]["title"] = "Lone \ud800 surrogate title"  # orjson refuses the whole page
    first["paper"]["submittedOnDailyAt"] = "2099-01-01T00:00:00.000Z"  # absurd: the requested day is kept
    first["paper"]["authors"] = [{"name": f"Author {n:03d}", "hidden": False} for n in range(MANY_AUTHORS)]
    second["paper"]["upvotes"] = "12345678901"  # the parser accepts digit strings: 11 digits
    second["numComments"] = 10**30
    second["paper"]["ai_keywords"] = ["ok", "nul\u0000byte", "\udcff"]
    return entries


def hostile_hf_body() -> bytes:
    """As JSON text: ``ensure_ascii`` writes the lone surrogate as the escape ``\\ud800`` HF would send."""
    return json.dumps(hostile_hf_entries(), ensure_ascii=True).encode()


def good_hf_ids() -> list[str]:
    return [entry["paper"]["id"] for entry in hf_json("2025-10-03")]


LONG_LINK = "https://tech.kakao.com/posts/9999?" + "&".join(f"k{n}=v{n}" for n in range(90))  # over 500 chars


def hostile_feed() -> bytes:
    """The real Kakao feed (3 good Korean posts) plus hostile items: a ``&#0;`` link, a guid-less link over 500
    characters, posts dated 2099 and 1999."""
    feed = (FEEDS / "kakao_tech_rss.xml").read_text(encoding="utf-8")
    assert len(LONG_LINK) > 500
    extra = f"""
    <item>
      <title>NUL in the link</title>
      <link>https://tech.kakao.com/posts/7&#0;01</link>
      <guid isPermaLink="false">nul-link-guid</guid>
      <pubDate>Thu, 02 Oct 2025 10:00:00 +0900</pubDate>
    </item>
    <item>
      <title>긴 링크만 있는 글</title>
      <link>{LONG_LINK.replace("&", "&amp;")}</link>
      <pubDate>Thu, 02 Oct 2025 11:00:00 +0900</pubDate>
    </item>
    <item>
      <title>2099년에서 온 글</title>
      <link>https://tech.kakao.com/posts/2099</link>
      <guid>https://tech.kakao.com/posts/2099</guid>
      <pubDate>Thu, 01 Jan 2099 09:00:00 +0900</pubDate>
    </item>
    <item>
      <title>1999년의 글</title>
      <link>https://tech.kakao.com/posts/1999</link>
      <guid>https://tech.kakao.com/posts/1999</guid>
      <pubDate>Fri, 01 Jan 1999 09:00:00 +0900</pubDate>
    </item>
  </channel>"""
    return feed.replace("\n  </channel>", extra, 1).encode("utf-8")


#: Titles of the posts every digest of the hostile day must show (the NUL-link item has no usable link).
GOOD_POST_TITLES = {
    "Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델",
    "추천 시스템의 실시간 피처 스토어",
    "카카오톡 메시지 검색 개선기",
    "긴 링크만 있는 글",
    "2099년에서 온 글",
    "1999년의 글",
}
#: Validators longer than their columns (``sources.etag`` VARCHAR(500), ``last_modified`` VARCHAR(100)).
HOSTILE_VALIDATORS = {"ETag": '"' + "e" * 600 + '"', "Last-Modified": "Thu, 02 Oct 2025 10:00:00 GMT" + " " * 120 + "x"}


def gzip_layers(data: bytes, layers: int) -> bytes:
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9)
    return data


def quadratic_page(size: int = 240_000) -> bytes:
    """``<!--`` repeated: html.parser rescans the rest of the page for every one (CVE-2025-6069), and a real link."""
    head = b'<html><body><a href="/news/real-post"><h3>A real post</h3></a>'
    return head + b"<!--" * ((size - len(head)) // 4)


def escaped_title_feed(size: int = 290_000) -> bytes:
    """A feed whose first title is ``&lt;a`` repeated: the unescaped ``<a<a<a…`` made html.parser quadratic."""
    feed = (FEEDS / "kakao_tech_rss.xml").read_text(encoding="utf-8")
    title = "&lt;a" * (size // 5)
    return feed.replace(
        "<title>Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델</title>", f"<title>{title}</title>", 1
    ).encode()
