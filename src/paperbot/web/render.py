"""HTML out of the archive's pages: Jinja2 with autoescaping, and the geometry of the server-rendered SVG charts.

Every ``{{ … }}`` goes through :func:`_finalize` (control characters and lone surrogates of scraped text removed)
and then through autoescaping, so a title such as ``<script>`` is shown as text. Links are built only from item
metadata that :func:`paperbot.digest.render.common.safe_url` accepts (http and https, nothing that can close an
attribute) and from our own paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from paperbot.digest import links
from paperbot.digest.render.common import arxiv_id, post_meta, publisher, safe_url
from paperbot.domain import Item, ItemKind, Summary, UpvotePoint
from paperbot.service.archive import TopicBar, is_extractive
from paperbot.untrusted import clean_untrusted

_WEEKDAYS = "월화수목금토일"
STATIC_FILES = {"archive.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
#: Authors shown before the rest fold into "외 N명".
AUTHORS_SHOWN = 12


def _finalize(value: Any) -> Any:
    """Applied to every printed expression before escaping: untrusted strings lose control characters."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return "" if value is None else value
    return clean_untrusted(value)


def korean_day(day: date | None) -> str:
    """``2024-04-19(금)``."""
    if day is None:
        return ""
    return f"{day.isoformat()}({_WEEKDAYS[day.weekday()]})"


def external_links(item: Item) -> list[tuple[str, str]]:
    """(label, URL) of an item's pages elsewhere: the original, and for arXiv papers arXiv, PDF and HF."""
    found: list[tuple[str, str]] = []
    ident = arxiv_id(item) if item.kind is ItemKind.PAPER else None
    original = safe_url(item.url)
    if ident:
        found += [
            ("arXiv", f"https://arxiv.org/abs/{ident}"),
            ("PDF", f"https://arxiv.org/pdf/{ident}"),
            ("HF", f"https://huggingface.co/papers/{ident}"),
        ]
    if original and original not in {url for _, url in found}:
        found.insert(0, ("원문", original))
    return found


def bullets(summary: Summary | None) -> list[str]:
    if summary is None:
        return []
    return [line for line in (clean_untrusted(b) for b in summary.bullets) if line]


# --- charts -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: float
    papers: int
    papers_width: float
    votes: int
    votes_width: float
    upvotes: int


@dataclass(frozen=True, slots=True)
class TopicChart:
    """A horizontal bar chart: per topic, papers (top bar) and team votes (bottom bar), each scaled to its max."""

    width: int
    height: int
    label_width: int
    bar_width: int
    bars: tuple[Bar, ...]


CHART_WIDTH = 640
_ROW = 44
_LABEL = 130
_TOP = 28


def topic_chart(topics: Sequence[TopicBar]) -> TopicChart | None:
    if not topics:
        return None
    room = CHART_WIDTH - _LABEL - 60
    most_papers = max(t.papers for t in topics) or 1
    most_votes = max(max(t.team_votes, 0) for t in topics) or 1
    bars = tuple(
        Bar(
            label=t.topic,
            y=_TOP + index * _ROW,
            papers=t.papers,
            papers_width=round(room * t.papers / most_papers, 1),
            votes=t.team_votes,
            votes_width=round(room * max(t.team_votes, 0) / most_votes, 1),
            upvotes=t.hf_upvotes,
        )
        for index, t in enumerate(topics)
    )
    return TopicChart(CHART_WIDTH, _TOP + len(bars) * _ROW + 8, _LABEL, room, bars)


@dataclass(frozen=True, slots=True)
class LineChart:
    """HF upvotes over time: a polyline through the captures, with the first and last day and the maximum."""

    width: int
    height: int
    points: str
    dots: tuple[tuple[float, float, int, str], ...]
    first: str
    last: str
    top: int
    left: int
    bottom: int


def upvote_chart(history: Sequence[UpvotePoint], timezone: str) -> LineChart | None:
    if not history:
        return None
    width, height, left, right, top, bottom = CHART_WIDTH, 180, 48, 16, 16, 150
    start = history[0].captured_at.timestamp()
    span = (history[-1].captured_at.timestamp() - start) or 1.0
    peak = max(point.upvotes for point in history) or 1
    zone = ZoneInfo(timezone)
    dots = []
    for point in history:
        x = left + (width - left - right) * ((point.captured_at.timestamp() - start) / span if len(history) > 1 else 0)
        y = bottom - (bottom - top) * point.upvotes / peak
        dots.append((round(x, 1), round(y, 1), point.upvotes, f"{point.captured_at.astimezone(zone):%Y-%m-%d %H:%M}"))
    return LineChart(
        width=width,
        height=height,
        points=" ".join(f"{x},{y}" for x, y, _, _ in dots),
        dots=tuple(dots),
        first=f"{history[0].captured_at.astimezone(zone):%m-%d}",
        last=f"{history[-1].captured_at.astimezone(zone):%m-%d}",
        top=peak,
        left=left,
        bottom=bottom,
    )


# --- the environment --------------------------------------------------------------------------------------------


def _static_bytes(name: str) -> bytes:
    return resources.files("paperbot.web").joinpath("static", name).read_bytes()


class Renderer:
    """The Jinja2 environment (templates shipped in the package) and the static files, versioned by content."""

    def __init__(self, *, timezone: str = "Asia/Seoul") -> None:
        self.timezone = timezone
        self.static = {name: _static_bytes(name) for name in STATIC_FILES}
        self._versions = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in self.static.items()}
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("paperbot.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates ship with the package: no stat() of each template on every page
        )
        zone = ZoneInfo(timezone)

        def local_time(value: datetime | None) -> str:
            return f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if value is not None else ""

        self.env.filters.update(korean_day=korean_day, local_time=local_time)
        self.env.globals.update(
            day_path=links.day_path,
            week_path=links.week_path,
            week_label=links.week_label,
            item_path=links.item_path,
            search_path=links.search_path,
            static=self.static_path,
            external_links=external_links,
            bullets=bullets,
            is_extractive=is_extractive,
            post_meta=post_meta,
            publisher=publisher,
            AUTHORS_SHOWN=AUTHORS_SHOWN,
        )

    def static_path(self, name: str) -> str:
        return f"/static/{name}?v={self._versions[name]}"

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)
