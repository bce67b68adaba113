"""The use cases behind ``/paper`` (platform-neutral: Discord and Slack render the same replies).

Each command takes a :class:`Caller` (where and by whom it was typed) and returns a :class:`Reply`: a trusted
Korean sentence written here, plus data the platform renders and escapes (papers, labelled values). Nothing here
knows about embeds or Block Kit. Refusals and bad input raise :class:`CommandError`, whose ``user_message`` is the
short Korean text the user sees.

Admin commands (subscribe, unsubscribe, config) check ``Caller.is_admin`` here as well as at the platform, so a
platform that forgets to restrict them by default still cannot store anything for a non-admin.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperbot.digest import links
from paperbot.digest.days import covered_day
from paperbot.digest.ranking import DEFAULT_POLICY, score
from paperbot.domain import (
    ChannelFilters,
    DigestKind,
    Item,
    ItemKind,
    RunStatus,
    Subscription,
    Summary,
    parse_hhmm,
    utcnow,
)
from paperbot.errors import PaperbotError
from paperbot.ports import Repository, Source, Summarizer
from paperbot.service.digest import build_digest

#: Where papers are looked up when no paper source is configured (the name HF Daily Papers is stored under).
STORED_PAPER_SOURCE = "hf_daily"
MAX_PAPERS = 10
MAX_FILTER_ENTRIES = 20
MAX_FILTER_LENGTH = 60
MAX_MIN_UPVOTES = 10_000
_ARXIV_RE = re.compile(r"^(?:https?://(?:arxiv\.org/(?:abs|pdf)|huggingface\.co/papers)/)?(\d{4}\.\d{4,5})(?:v\d+)?$")
_WEEKDAYS = "월화수목금토일"

ADMIN_ONLY = "이 명령은 채널 관리자(서버 관리 또는 채널 관리 권한)만 쓸 수 있습니다."


class CommandError(PaperbotError):
    """A command refused or failed; ``user_message`` is what the user sees (short, Korean)."""


class Period(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_PERIOD_DAYS = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 30}
_PERIOD_LABEL = {Period.DAY: "하루", Period.WEEK: "최근 7일", Period.MONTH: "최근 30일"}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who typed the command and where. ``is_admin`` is the platform's run-time permission check."""

    platform: str
    channel_id: str
    workspace_id: str | None = None
    is_admin: bool = False

    @property
    def target(self) -> str:
        return f"{self.platform}:{self.channel_id}"


@dataclass(frozen=True, slots=True)
class PaperView:
    """One paper or post in a reply. Every text field is untrusted: the platform escapes it."""

    item: Item
    bullets: tuple[str, ...] = ()
    channel_votes: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """A command's answer: ``text`` is trusted Korean written here; ``papers`` and ``fields`` values are not."""

    text: str
    papers: tuple[PaperView, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    ephemeral: bool = False
    #: (label, URL) of a web archive page: both written here (the URL from the base URL and a percent-encoded query).
    link: tuple[str, str] | None = None


@dataclass(slots=True)
class CommandContext:
    """What the commands need; built once per platform process."""

    repository: Repository
    timezone: str = "Asia/Seoul"
    sources: Sequence[Source] = ()
    summarizer: Summarizer | None = None
    now: Callable[[], datetime] = field(default=utcnow)
    #: ``PAPERBOT_WEB_BASE_URL``: search replies link to the archive's search page.
    web_base_url: str | None = None

    def source_names(self) -> list[str]:
        return [source.name for source in self.sources]


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise CommandError(f"non-admin {caller.target} refused", user_message=ADMIN_ONLY)


def _bullets(summary: Summary | None) -> tuple[str, ...]:
    return summary.bullets if summary is not None else ()


async def _subscription(ctx: CommandContext, caller: Caller, kind: DigestKind | None = None) -> Subscription | None:
    for subscription in await ctx.repository.list_subscriptions(platform=caller.platform, channel_id=caller.channel_id):
        if kind is None or subscription.kind is kind:
            return subscription
    return None


# --- today ------------------------------------------------------------------------------------------------------


async def today(ctx: CommandContext, caller: Caller) -> Reply:
    """The daily digest of this channel for the latest complete HF day, as it is (or would be) posted: the real
    builder (:func:`paperbot.service.digest.build_digest`) with the channel's filters, votes and blog posts."""
    day = covered_day(ctx.now(), ctx.timezone)
    digest = await build_digest(ctx.repository, day=day, kind=DigestKind.DAILY, target=caller.target)
    label = f"{day.isoformat()}({_WEEKDAYS[day.weekday()]})"
    if digest.is_empty:
        return Reply(text=digest.empty_reason or f"{label}에 보여 드릴 논문이 없습니다.")
    views = tuple(
        PaperView(entry.item, _bullets(entry.summary), entry.team_votes, entry.reason)
        for entry in digest.entries[:MAX_PAPERS]
    )
    more = len(digest.entries) - len(views)
    papers = sum(1 for entry in digest.entries if entry.item.kind is ItemKind.PAPER)
    posts = len(digest.entries) - papers
    text = f"📚 {label} HF Daily Papers — 이 채널 기준 {papers}편"
    if posts:
        text += f", 블로그 새 글 {posts}편"
    if more > 0:
        text += f" (상위 {len(views)}편만 표시)"
    return Reply(text=text, papers=views)


# --- top --------------------------------------------------------------------------------------------------------


def parse_period(value: str | None) -> Period:
    if value is None or not value.strip():
        return Period.DAY
    try:
        return Period(value.strip().lower())
    except ValueError:
        raise CommandError(
            f"bad period {value!r}", user_message="기간은 day, week, month 중 하나로 적어 주세요."
        ) from None


async def top(ctx: CommandContext, caller: Caller, period: str | None = None) -> Reply:
    """Most-voted papers of the period: HF upvotes plus this channel's reaction votes (weighted as in digests)."""
    which = parse_period(period)
    last = covered_day(ctx.now(), ctx.timezone)
    first = last - timedelta(days=_PERIOD_DAYS[which] - 1)
    papers = await ctx.repository.list_items(day_from=first, day_to=last, kind=ItemKind.PAPER)
    ids = [item.id for item in papers if item.id is not None]
    votes = await ctx.repository.vote_totals(ids, channel_id=caller.channel_id)

    def rank_key(item: Item) -> tuple[float, int, str]:
        return (-score(item, votes.get(item.id or 0, 0), DEFAULT_POLICY), -item.upvotes, item.external_id)

    best = sorted(papers, key=rank_key)[:MAX_PAPERS]
    span = last.isoformat() if which is Period.DAY else f"{first.isoformat()} ~ {last.isoformat()}"
    if not best:
        return Reply(text=f"{_PERIOD_LABEL[which]}({span}) 동안 모인 논문이 없습니다.")
    summaries = await ctx.repository.latest_summaries([item.id for item in best if item.id is not None])
    views = tuple(PaperView(item, _bullets(summaries.get(item.id or 0)), votes.get(item.id or 0, 0)) for item in best)
    return Reply(
        text=f"🏆 {_PERIOD_LABEL[which]}({span}) 인기 논문 {len(views)}편 (HF 추천 + 이 채널 투표)", papers=views
    )


# --- search -----------------------------------------------------------------------------------------------------

AUTOCOMPLETE_LIMIT = 25


async def search(ctx: CommandContext, caller: Caller, query: str, limit: int | None = None) -> Reply:
    """Search everything collected; each result shows its title, day, votes, link and first bullet."""
    from paperbot.service.search import search as run_search

    outcome = await run_search(ctx.repository, query, limit=limit, channel_id=caller.channel_id)
    if not outcome.results:
        return Reply(text=outcome.notice or "찾은 결과가 없습니다.", ephemeral=True)
    views = tuple(PaperView(result.item, _bullets(result.summary)[:1], result.team_votes) for result in outcome.results)
    url = links.absolute(ctx.web_base_url, links.search_path(query.strip()))
    return Reply(
        text=f"🔎 검색 결과 {len(views)}건", papers=views, link=("웹에서 모든 결과 보기", url) if url else None
    )


async def suggest_titles(ctx: CommandContext, partial: str) -> list[tuple[str, str]]:
    """Autocomplete: (title, arXiv id or title) of up to 25 items matching what has been typed so far."""
    from paperbot.service.search import AUTOCOMPLETE_SECONDS, search_within

    if not partial.strip():
        return []
    outcome = await search_within(ctx.repository, partial, AUTOCOMPLETE_SECONDS, limit=AUTOCOMPLETE_LIMIT)
    if outcome is None:  # too slow to answer in time: no suggestions rather than a failed interaction
        return []
    return [(result.item.title, result.item.title) for result in outcome.results[:AUTOCOMPLETE_LIMIT]]


# --- show -------------------------------------------------------------------------------------------------------


def parse_arxiv_id(value: str) -> str:
    match = _ARXIV_RE.match(value.strip())
    if match is None:
        raise CommandError(f"bad arXiv id {value!r}", user_message="arXiv ID 형식이 아닙니다. 예: 2404.12345")
    return match.group(1)


async def show(ctx: CommandContext, caller: Caller, arxiv_id: str) -> Reply:
    """One paper with its summary; unknown papers are fetched from HF and summarised on demand."""
    ident = parse_arxiv_id(arxiv_id)
    source = _paper_source(ctx)
    item = await ctx.repository.find_item(source.name if source else STORED_PAPER_SOURCE, ident)
    if item is None:
        item = await _fetch_paper(ctx, ident)
    item_id = item.id
    if item_id is None:
        raise CommandError(f"stored item {ident} has no id")
    summary = (await ctx.repository.latest_summaries([item_id])).get(item_id)
    if summary is None and ctx.summarizer is not None:
        try:
            summary = (await ctx.repository.add_summary(await ctx.summarizer.summarize(item))).value
        except PaperbotError as exc:
            raise CommandError(str(exc), user_message="요약을 만들지 못했습니다. 잠시 뒤에 다시 해 주세요.") from exc
    votes = (await ctx.repository.vote_totals([item_id], channel_id=caller.channel_id)).get(item_id, 0)
    text = f"📄 {ident}" + ("" if summary else " — 요약이 아직 없습니다.")
    return Reply(text=text, papers=(PaperView(item, _bullets(summary), votes),))


def _paper_source(ctx: CommandContext) -> Source | None:
    """The source of papers (HF Daily Papers), whatever it is named."""
    return next((s for s in ctx.sources if s.kind is ItemKind.PAPER), None)


async def _fetch_paper(ctx: CommandContext, ident: str) -> Item:
    source = _paper_source(ctx)
    not_found = CommandError(f"paper {ident} unknown", user_message=f"{ident} 논문을 찾지 못했습니다.")
    if source is None:
        raise not_found
    try:
        fetched = await source.fetch_one(ident)
    except PaperbotError as exc:
        raise CommandError(str(exc), user_message="Hugging Face에서 논문을 가져오지 못했습니다.") from exc
    if fetched is None:
        raise not_found
    return (await ctx.repository.add_item(fetched)).value


# --- subscribe / unsubscribe / config ---------------------------------------------------------------------------


def parse_time(value: str | None) -> str:
    if value is None or not value.strip():
        return "09:00"
    try:
        at = parse_hhmm(value)
    except ValueError:
        raise CommandError(f"bad time {value!r}", user_message="시각은 HH:MM 형식으로 적어 주세요. 예: 09:00") from None
    return f"{at.hour:02d}:{at.minute:02d}"


def parse_timezone(value: str | None, default: str) -> str:
    name = (value or "").strip() or default
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"bad timezone {name!r}", user_message="알 수 없는 시간대입니다. 예: Asia/Seoul, UTC"
        ) from None
    return name


def parse_kind(value: str | None) -> DigestKind:
    if value is None or not value.strip():
        return DigestKind.DAILY
    try:
        return DigestKind(value.strip().lower())
    except ValueError:
        raise CommandError(f"bad kind {value!r}", user_message="daily 또는 weekly 중 하나를 골라 주세요.") from None


def next_run(subscription: Subscription, now: datetime) -> datetime:
    """The next time this subscription's digest is due, in its timezone."""
    zone = ZoneInfo(subscription.timezone)
    at = subscription.at
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), at, tzinfo=zone)
    while candidate <= local_now or (
        subscription.kind is DigestKind.WEEKLY and candidate.weekday() != subscription.weekday
    ):
        candidate = datetime.combine(candidate.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate


def _when(subscription: Subscription, now: datetime) -> str:
    due = next_run(subscription, now)
    return f"{due:%Y-%m-%d %H:%M} ({subscription.timezone})"


def _describe_subscription(subscription: Subscription) -> str:
    if subscription.kind is DigestKind.WEEKLY:
        return f"매주 {_WEEKDAYS[subscription.weekday]}요일 {subscription.time} ({subscription.timezone})"
    return f"매일 {subscription.time} ({subscription.timezone})"


async def subscribe(
    ctx: CommandContext,
    caller: Caller,
    kind: str | None = None,
    at: str | None = None,
    timezone: str | None = None,
) -> Reply:
    require_admin(caller)
    digest_kind = parse_kind(kind)
    when = parse_time(at)
    zone = parse_timezone(timezone, ctx.timezone)
    existing = await _subscription(ctx, caller, digest_kind)
    subscription = Subscription(
        platform=caller.platform,
        channel_id=caller.channel_id,
        kind=digest_kind,
        workspace_id=caller.workspace_id,
        time=when,
        timezone=zone,
        weekday=existing.weekday if existing else 0,
        filters=existing.filters if existing else ChannelFilters(),
        enabled=True,
        broken_reason=None,  # subscribing again is how an admin says "fixed"
    )
    saved = await ctx.repository.save_subscription(subscription)
    return Reply(
        text=f"✅ 이 채널에 다이제스트를 {_describe_subscription(saved)}에 보냅니다. 다음 발송: {_when(saved, ctx.now())}"
    )


async def unsubscribe(ctx: CommandContext, caller: Caller) -> Reply:
    require_admin(caller)
    removed = await ctx.repository.remove_subscription(caller.platform, caller.channel_id)
    if not removed:
        return Reply(text="이 채널은 구독 중이 아닙니다.", ephemeral=True)
    return Reply(text="🛑 이 채널의 다이제스트 구독을 해지했습니다.")


def parse_list(value: str | None, *, what: str) -> tuple[str, ...] | None:
    """``"a, b"`` → ``("a", "b")``; None → unchanged; ``"-"`` or empty → cleared."""
    if value is None:
        return None
    text = value.strip()
    if text in ("", "-"):
        return ()
    entries = tuple(dict.fromkeys(part.strip() for part in re.split(r"[,\n]", text) if part.strip()))
    if len(entries) > MAX_FILTER_ENTRIES:
        raise CommandError(f"too many {what}", user_message=f"{what}는 {MAX_FILTER_ENTRIES}개까지 적을 수 있습니다.")
    if any(len(entry) > MAX_FILTER_LENGTH for entry in entries):
        raise CommandError(
            f"{what} too long", user_message=f"{what} 하나는 {MAX_FILTER_LENGTH}자까지 적을 수 있습니다."
        )
    return entries


def parse_min_upvotes(value: str) -> int:
    """A typed ``min_upvotes`` value: ASCII digits only, 0..MAX_MIN_UPVOTES.

    ``str.isdigit`` is not the test: '²' and other Unicode digits pass it and ``int()`` then raises, and so does
    ``int()`` on 5,000 digits (Python's limit on integer string conversion).
    """
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_MIN_UPVOTES)):
        raise CommandError(
            f"bad min_upvotes {text[:20]!r}",
            user_message=f"min_upvotes는 0부터 {MAX_MIN_UPVOTES} 사이의 정수로 적어 주세요.",
        )
    return int(text)


async def config(
    ctx: CommandContext,
    caller: Caller,
    *,
    keywords: str | None = None,
    exclude: str | None = None,
    authors: str | None = None,
    sources: str | None = None,
    min_upvotes: int | None = None,
) -> Reply:
    """Show or change this channel's digest filters (every subscription of the channel gets the same)."""
    require_admin(caller)
    subscriptions = await ctx.repository.list_subscriptions(platform=caller.platform, channel_id=caller.channel_id)
    if not subscriptions:
        raise CommandError(
            "config without subscription", user_message="먼저 /paper subscribe 로 이 채널을 구독해 주세요."
        )
    current = subscriptions[0].filters
    new_keywords = parse_list(keywords, what="키워드")
    new_exclude = parse_list(exclude, what="제외 키워드")
    new_authors = parse_list(authors, what="저자")
    new_sources = parse_list(sources, what="출처")
    known = ctx.source_names()
    if new_sources and known:
        unknown = [name for name in new_sources if name not in known]
        if unknown:
            raise CommandError(
                f"unknown sources {unknown}",
                user_message=f"알 수 없는 출처입니다. 쓸 수 있는 출처: {', '.join(known)}",
            )
    if min_upvotes is not None and not 0 <= min_upvotes <= MAX_MIN_UPVOTES:
        raise CommandError(
            f"bad min_upvotes {min_upvotes}", user_message=f"최소 추천 수는 0부터 {MAX_MIN_UPVOTES} 사이여야 합니다."
        )
    filters = ChannelFilters(
        keywords=current.keywords if new_keywords is None else new_keywords,
        exclude=current.exclude if new_exclude is None else new_exclude,
        authors=current.authors if new_authors is None else new_authors,
        sources=current.sources if new_sources is None else new_sources,
        topics=current.topics,
        min_upvotes=current.min_upvotes if min_upvotes is None else min_upvotes,
    )
    changed = filters != current
    for subscription in subscriptions:
        if changed:
            await ctx.repository.save_subscription(replace(subscription, filters=filters))
    text = "⚙️ 이 채널의 필터를 바꿨습니다." if changed else "⚙️ 이 채널의 현재 필터입니다."
    return Reply(text=text, fields=filter_fields(filters), ephemeral=not changed)


def filter_fields(filters: ChannelFilters) -> tuple[tuple[str, str], ...]:
    def show_list(values: tuple[str, ...]) -> str:
        return ", ".join(values) if values else "(없음)"

    return (
        ("키워드", show_list(filters.keywords)),
        ("제외 키워드", show_list(filters.exclude)),
        ("저자", show_list(filters.authors)),
        ("출처", show_list(filters.sources)),
        ("최소 추천 수", str(filters.min_upvotes)),
    )


# --- status -----------------------------------------------------------------------------------------------------


_RUN_STATUS_KO = {
    RunStatus.PENDING: "대기",
    RunStatus.PUBLISHING: "게시 중",
    RunStatus.DONE: "완료",
    RunStatus.SKIPPED: "건너뜀",
    RunStatus.FAILED: "실패",
}


async def status(ctx: CommandContext, caller: Caller) -> Reply:
    """Sources' health, this channel's subscriptions (next digest, broken), the LLM back-end and today's budget."""
    now = ctx.now()
    fields: list[tuple[str, str]] = []
    states = await ctx.repository.list_source_states()
    if states:
        lines = []
        for state in states:
            if state.consecutive_failures:
                lines.append(f"⚠️ {state.name}: 연속 {state.consecutive_failures}회 실패")
            elif state.last_success_at is not None:
                lines.append(f"✅ {state.name}: {state.last_success_at.astimezone(ZoneInfo(ctx.timezone)):%m-%d %H:%M}")
            else:
                lines.append(f"… {state.name}: 아직 수집 전")
        fields.append(("출처", "\n".join(lines)))
    else:
        fields.append(("출처", "아직 수집한 적이 없습니다."))
    subscriptions = await ctx.repository.list_subscriptions(platform=caller.platform, channel_id=caller.channel_id)
    if not subscriptions:
        fields.append(("구독", "이 채널은 구독 중이 아닙니다."))
    for subscription in subscriptions:
        if subscription.broken_reason:
            value = f"❌ 발송 중단: 봇 권한이나 채널을 확인한 뒤 /paper subscribe 로 다시 켜 주세요. ({subscription.broken_reason})"
        else:
            value = f"{_describe_subscription(subscription)} · 다음 발송 {_when(subscription, now)}"
            last = await ctx.repository.last_run(subscription.target, subscription.kind)
            value += (
                f" · 마지막 발송 {last.day.isoformat()} ({_RUN_STATUS_KO[last.status]})" if last else " · 아직 발송 전"
            )
        fields.append((f"구독 ({subscription.kind.value})", value))
    if ctx.summarizer is not None:
        day = now.astimezone(UTC).date()  # LLM usage is booked by UTC day
        fields.append(("요약", await _llm_line(ctx, ctx.summarizer, day)))
    return Reply(text="📊 paperbot 상태", fields=tuple(fields), ephemeral=True)


async def _llm_line(ctx: CommandContext, summarizer: Summarizer, day: date) -> str:
    usage = await ctx.repository.usage_totals(day)
    line = f"{summarizer.backend} / {summarizer.model} · 오늘 {usage.calls}회, ${usage.cost_usd:.4f}"
    budget = summarizer.daily_budget_usd
    if budget is not None:
        line += f" (예산 ${budget:.2f}, 남은 금액 ${max(budget - usage.cost_usd, 0.0):.2f})"
    return line
