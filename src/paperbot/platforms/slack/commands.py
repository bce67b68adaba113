"""``/paper`` on Slack: the text after the command is parsed into one of the neutral use cases.

``/paper search 트랜스포머 --limit 5``, ``/paper top week``, ``/paper show 2404.12345``,
``/paper subscribe daily 09:00 Asia/Seoul`` (or ``kind=… time=… tz=…``),
``/paper config keywords="LLM, agent" min_upvotes=10``, ``/paper today``, ``/paper status``, ``/paper help``.
Unknown or empty text shows the help. Slack sends ``&``, ``<``, ``>`` as entities and some clients turn quotes
into typographic ones; both are undone before parsing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from paperbot.service import commands
from paperbot.service.commands import Caller, CommandContext, CommandError, Reply

#: Subcommands only workspace admins (or the configured allow list) may run.
ADMIN_COMMANDS = frozenset({"subscribe", "unsubscribe", "config"})
#: Subcommands whose answer only the caller sees.
EPHEMERAL_COMMANDS = frozenset({"subscribe", "unsubscribe", "config", "status", "help"})
KNOWN = ("search", "today", "top", "show", "subscribe", "unsubscribe", "config", "status", "help")

HELP = """paperbot 사용법 (/paper 뒤에 적어 주세요)
• search 검색어 [--limit N] — 모은 논문과 블로그 글 검색 (한국어·영어)
• today — 이 채널의 오늘 다이제스트 (HF Daily Papers는 UTC 날짜 기준이라, 아침 9시(KST)에는 전날 UTC 하루를 다룹니다)
• top [day|week|month] — 가장 많이 추천받은 논문 (HF 추천 + 이 채널 투표)
• show arXiv-ID — 논문 하나와 한국어 요약, 예: show 2404.12345
• subscribe [daily|weekly] [HH:MM] [시간대] — 이 채널에 다이제스트 구독 (워크스페이스 관리자)
• unsubscribe — 구독 해지 (워크스페이스 관리자)
• config [keywords=…] [exclude=…] [authors=…] [sources=…] [min_upvotes=N] — 필터 보기·바꾸기 (워크스페이스 관리자, 쉼표로 구분, '-'는 비우기)
• status — 출처 상태, 다음 다이제스트, 요약 백엔드와 오늘 예산
• help — 이 도움말
다이제스트의 각 논문에 👍 / 👎 반응을 달면 이 채널의 투표로 셉니다."""

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_LIMIT_RE = re.compile(r"(?:^|\s)(?:--limit|limit=)\s*=?\s*(\d{1,3})\s*$")
_TIME_RE = re.compile(r"^\d{1,2}:\d{2}$")
_CONFIG_KEYS = {
    "keywords": "keywords",
    "keyword": "keywords",
    "exclude": "exclude",
    "authors": "authors",
    "author": "authors",
    "sources": "sources",
    "source": "sources",
    "min_upvotes": "min_upvotes",
    "min-upvotes": "min_upvotes",
}


def usage(message: str) -> CommandError:
    return CommandError(f"bad /paper usage: {message}", user_message=message)


def unescape_entities(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True, slots=True)
class Invocation:
    """A parsed ``/paper`` text: the subcommand and the rest (raw, and as shell-like tokens)."""

    name: str
    rest: str = ""
    tokens: tuple[str, ...] = field(default=())

    @property
    def is_admin_command(self) -> bool:
        return self.name in ADMIN_COMMANDS

    @property
    def ephemeral(self) -> bool:
        return self.name in EPHEMERAL_COMMANDS


def parse(text: str) -> Invocation:
    """The subcommand of ``text``; unknown or empty → ``help``."""
    clean_text = unescape_entities(text or "").translate(_QUOTES).strip()
    head, _, rest = clean_text.partition(" ")
    name = head.strip().lower()
    if name not in KNOWN:
        return Invocation("help")
    rest = rest.strip()
    try:
        tokens = tuple(shlex.split(rest)) if name != "search" else ()
    except ValueError:
        raise usage("따옴표가 닫히지 않았습니다.") from None
    return Invocation(name, rest, tokens)


def _options(tokens: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    positional: list[str] = []
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and key:
            options[key.strip().lower()] = value.strip()
        else:
            positional.append(token)
    return options, positional


def _search(ctx: CommandContext, caller: Caller, inv: Invocation) -> Awaitable[Reply]:
    query = inv.rest
    limit = None
    match = _LIMIT_RE.search(query)
    if match:
        limit = max(1, min(20, int(match.group(1))))
        query = query[: match.start()].strip()
    if not query:
        raise usage("검색어를 적어 주세요. 예: /paper search 트랜스포머")
    return commands.search(ctx, caller, query, limit)


def _top(ctx: CommandContext, caller: Caller, inv: Invocation) -> Awaitable[Reply]:
    options, positional = _options(inv.tokens)
    period = options.get("period") or (positional[0] if positional else None)
    return commands.top(ctx, caller, period)


def _show(ctx: CommandContext, caller: Caller, inv: Invocation) -> Awaitable[Reply]:
    if not inv.tokens:
        raise usage("arXiv ID를 적어 주세요. 예: /paper show 2404.12345")
    return commands.show(ctx, caller, inv.tokens[0])


def _subscribe(ctx: CommandContext, caller: Caller, inv: Invocation) -> Awaitable[Reply]:
    options, positional = _options(inv.tokens)
    kind = options.get("kind")
    at = options.get("time")
    zone = options.get("tz") or options.get("timezone")
    for token in positional:
        if token.lower() in ("daily", "weekly") and kind is None:
            kind = token
        elif _TIME_RE.match(token) and at is None:
            at = token
        elif zone is None:
            zone = token
        else:
            raise usage("형식: /paper subscribe [daily|weekly] [HH:MM] [시간대]")
    return commands.subscribe(ctx, caller, kind, at, zone)


def _config(ctx: CommandContext, caller: Caller, inv: Invocation) -> Awaitable[Reply]:
    options, positional = _options(inv.tokens)
    if positional:
        raise usage('형식: /paper config keywords="LLM, agent" min_upvotes=10')
    values: dict[str, str] = {}
    for key, value in options.items():
        name = _CONFIG_KEYS.get(key)
        if name is None:
            raise usage("바꿀 수 있는 항목: keywords, exclude, authors, sources, min_upvotes")
        values[name] = value
    min_upvotes = None
    if "min_upvotes" in values:
        min_upvotes = commands.parse_min_upvotes(values.pop("min_upvotes"))
    return commands.config(
        ctx,
        caller,
        keywords=values.get("keywords"),
        exclude=values.get("exclude"),
        authors=values.get("authors"),
        sources=values.get("sources"),
        min_upvotes=min_upvotes,
    )


async def _help(ctx: CommandContext, caller: Caller, inv: Invocation) -> Reply:
    return Reply(text=HELP, ephemeral=True)


_HANDLERS: dict[str, Callable[[CommandContext, Caller, Invocation], Awaitable[Reply]]] = {
    "search": _search,
    "today": lambda ctx, caller, inv: commands.today(ctx, caller),
    "top": _top,
    "show": _show,
    "subscribe": _subscribe,
    "unsubscribe": lambda ctx, caller, inv: commands.unsubscribe(ctx, caller),
    "config": _config,
    "status": lambda ctx, caller, inv: commands.status(ctx, caller),
    "help": _help,
}


async def run(ctx: CommandContext, caller: Caller, inv: Invocation) -> Reply:
    """Run the parsed subcommand; :class:`CommandError` for refusals and bad input."""
    return await _HANDLERS[inv.name](ctx, caller, inv)
