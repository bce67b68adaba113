"""The archive's aiohttp application: routes, the read-only handlers, access control, caching and safety headers.

Why aiohttp: its server embeds in the event loop ``paperbot run`` already has (``AppRunner`` + a site, no signal
handlers of its own, unlike uvicorn's ``Server.serve``), it has a C HTTP parser and HEAD/keep-alive handling we
should not write by hand, and it is already part of the project (slack-bolt's HTTP mode runs on it). Pages are
rendered by Jinja2 (:mod:`paperbot.web.render`) from the service's read-only use cases
(:mod:`paperbot.service.archive`); this package never sees SQL.

Safety: GET and HEAD only. Every response carries a strict Content-Security-Policy (no script at all, styles and
images from this origin only), ``nosniff``, no framing and no referrer. With a token (``PAPERBOT_WEB_TOKEN``) every
page but ``/healthz``, ``/metrics`` and ``/static/`` needs ``Authorization: Bearer <token>`` or the cookie that
``?token=<token>`` (or the form on the 401 page) sets; tokens are compared in constant time.

Caching: the ETag is a hash of the page, so a reload whose data has not changed is a 304; Last-Modified is when this
process first served that exact page.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from paperbot.digest import links
from paperbot.digest.ranking import DEFAULT_POLICY
from paperbot.domain import ItemKind, utcnow
from paperbot.errors import PaperbotError
from paperbot.ports import Repository
from paperbot.service import archive
from paperbot.service.search import parse_since, warm_up
from paperbot.web.render import STATIC_FILES, Renderer, topic_chart, upvote_chart

logger = logging.getLogger("paperbot.web")

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Server": "paperbot",  # not aiohttp's name and version
}
COOKIE = "paperbot_archive"
COOKIE_DAYS = 30
#: Paths anyone may fetch even when the archive is private (supervisors, Prometheus, the 401 page's style).
OPEN_PREFIXES = ("/healthz", "/metrics", "/static/", "/favicon.ico")
SINCE_OPTIONS = (("", "전체 기간"), ("7d", "최근 7일"), ("30d", "최근 30일"), ("365d", "최근 1년"))
HEALTH_LABELS = {"ok": "정상", "failing": "오류", "degraded": "성능 저하", "unknown": "기록 없음"}
_MAX_ITEM_ID = 2**62
_MAX_PARAM = 200
_ETAG_MEMORY = 4096

#: A route outside the archive: returns (content type, body), e.g. ``/metrics``.
ExtraRoute = Callable[[], Awaitable[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class WebConfig:
    """How the archive is served; built from Settings by the CLI."""

    token: str | None = None
    source_names: tuple[str, ...] = ()
    degraded_after: int = 3
    timezone: str = "Asia/Seoul"
    #: Mark the cookie Secure (the archive's public URL is https).
    secure_cookie: bool = False
    clock: Callable[[], datetime] = field(default=utcnow)
    #: Keep the items' topics stored while serving (:class:`paperbot.service.archive.TopicKeeper`).
    store_topics: bool = True


class _Seen:
    """When each page version (ETag) was first served: its Last-Modified, remembered for the newest 4096."""

    def __init__(self) -> None:
        self._first: OrderedDict[str, datetime] = OrderedDict()

    def first_served(self, etag: str, now: datetime) -> datetime:
        when = self._first.pop(etag, None) or now.replace(microsecond=0)
        self._first[etag] = when
        while len(self._first) > _ETAG_MEMORY:
            self._first.popitem(last=False)
        return when


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def token_matches(given: str, token: str) -> bool:
    """Constant-time comparison (of hashes, so not even the token's length leaks through timing)."""
    return hmac.compare_digest(_digest(given), _digest(token))


def cookie_value(token: str) -> str:
    """What the cookie holds: a keyed hash of the token, so the cookie jar never stores the token itself."""
    return hmac.new(token.encode("utf-8", "surrogatepass"), b"paperbot-web-cookie-v1", hashlib.sha256).hexdigest()


def _param(request: web.Request, name: str) -> str:
    return request.query.get(name, "")[:_MAX_PARAM]


def _int_param(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 6 else default


class Archive:
    """The handlers, holding the repository, the renderer and the configuration."""

    def __init__(self, repository: Repository, config: WebConfig) -> None:
        self.repository = repository
        self.config = config
        self.renderer = Renderer(timezone=config.timezone)
        self.seen = _Seen()
        self.topics = archive.TopicKeeper(repository) if config.store_topics else None
        self._analyser_ready = False
        self._analyser_lock = asyncio.Lock()

    # --- plumbing ---------------------------------------------------------------------------------------------

    def page(self, request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
        """Render a page; a GET whose ETag (or date) the browser already has becomes a bodiless 304."""
        context.setdefault("query", "")
        body = self.renderer.render(template, **context).encode("utf-8", "replace")
        response = web.Response(body=body, status=status, content_type="text/html", charset="utf-8")
        response.headers["Cache-Control"] = "private, no-cache" if self.config.token else "no-cache"
        if status != 200:
            return response
        etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        first = self.seen.first_served(etag, datetime.now(UTC))
        response.etag = etag
        response.last_modified = first
        if _not_modified(request, etag, first):
            not_modified = web.Response(status=304)
            for header in ("ETag", "Last-Modified", "Cache-Control"):
                not_modified.headers[header] = response.headers[header]
            return not_modified
        return response

    def message(
        self, request: web.Request, status: int, heading: str, text: str, *, token_form: bool = False
    ) -> web.Response:
        form = None
        if token_form:
            keep = [(k, v[:_MAX_PARAM]) for k, v in request.query.items() if k != "token"][:10]
            form = {"action": _local_path(request), "keep": keep}
        return self.page(request, "message.html.j2", status=status, heading=heading, message=text, token_form=form)

    def not_found(self, request: web.Request, what: str = "찾는 페이지가 없습니다.") -> web.Response:
        return self.message(request, 404, "찾을 수 없습니다", what)

    def today(self) -> date:
        """Items are filed under UTC days (the HF day), so "the last N days" end on today's UTC date."""
        return self.config.clock().astimezone(UTC).date()

    async def _ready_to_search(self) -> None:
        """Load the Korean analyser off the event loop once (Kiwi takes seconds), before the first search."""
        if self._analyser_ready:
            return
        async with self._analyser_lock:
            if not self._analyser_ready:
                await warm_up()
                self._analyser_ready = True

    # --- pages ------------------------------------------------------------------------------------------------

    async def front(self, request: web.Request) -> web.Response:
        day = await archive.latest_day(self.repository)
        if day is None:
            return self.message(
                request,
                200,
                "아직 모인 글이 없습니다",
                "paperbot digest 또는 paperbot collect 로 먼저 논문과 블로그 글을 모아 주세요.",
            )
        return self.page(
            request, "day.html.j2", page=await archive.day_page(self.repository, day, keeper=self.topics), front=True
        )

    async def day(self, request: web.Request) -> web.Response:
        try:
            day = date.fromisoformat(request.match_info["day"])
        except ValueError:
            return self.not_found(request, "날짜는 YYYY-MM-DD 형식이어야 합니다.")
        return self.page(
            request, "day.html.j2", page=await archive.day_page(self.repository, day, keeper=self.topics), front=False
        )

    async def latest_week(self, request: web.Request) -> web.Response:
        day = await archive.latest_day(self.repository) or self.today()
        raise web.HTTPFound(links.week_path(day))

    async def week(self, request: web.Request) -> web.Response:
        try:
            monday = links.parse_week(request.match_info["week"])
        except ValueError:
            return self.not_found(request, "주는 2024-W16 같은 ISO 주 형식이어야 합니다.")
        page = await archive.week_page(self.repository, monday, keeper=self.topics)
        return self.page(request, "week.html.j2", page=page, chart=topic_chart(page.topics))

    async def item(self, request: web.Request) -> web.Response:
        raw = request.match_info["item_id"]
        item_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 else 0
        page = await archive.item_page(self.repository, item_id) if 0 < item_id < _MAX_ITEM_ID else None
        if page is None:
            return self.not_found(request, "그런 논문이나 글이 없습니다.")
        chart = upvote_chart(page.history, self.config.timezone)
        return self.page(request, "paper.html.j2", page=page, chart=chart)

    async def search(self, request: web.Request) -> web.Response:
        query = _param(request, "q").strip()
        since_text = _param(request, "since").strip()
        source = _param(request, "source").strip()
        kind_text = _param(request, "kind").strip()
        problem = None
        try:
            since = parse_since(since_text, self.today())
        except ValueError:
            since, since_text, problem = (
                None,
                "",
                "기간은 YYYY-MM-DD 또는 7d 같은 형식이어야 해서 전체 기간으로 찾았습니다.",
            )
        kind = ItemKind(kind_text) if kind_text in ("paper", "post") else None
        if query:
            await self._ready_to_search()
        page = await archive.search_page(
            self.repository,
            query,
            page=_int_param(request, "page", 1),
            since=since,
            sources=[source] if source else None,
            kind=kind,
        )
        options = list(SINCE_OPTIONS)
        if since_text and since_text not in {value for value, _ in options}:
            options.append((since_text, f"{since_text}부터"))
        return self.page(
            request,
            "search.html.j2",
            page=page,
            query=page.query,
            since=since_text,
            since_options=options,
            source=source,
            source_names=self.config.source_names,
            kind=kind.value if kind else "",
            problem=problem,
        )

    async def top(self, request: web.Request) -> web.Response:
        days = archive.clamp_days(_int_param(request, "days", 7))
        page = await archive.top_page(self.repository, days=days, today=self.today())
        return self.page(request, "top.html.j2", page=page, weight=f"{DEFAULT_POLICY.channel_vote_weight:g}")

    async def sources(self, request: web.Request) -> web.Response:
        rows = await archive.sources_page(
            self.repository, self.config.source_names, today=self.today(), degraded_after=self.config.degraded_after
        )
        return self.page(
            request,
            "sources.html.j2",
            rows=rows,
            activity_days=archive.ACTIVITY_DAYS,
            health_labels=HEALTH_LABELS,
        )

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = self.renderer.static.get(name)
        if body is None:
            raise web.HTTPNotFound
        response = web.Response(body=body, headers={"Content-Type": STATIC_FILES[name]})
        # The URL carries the content's hash (?v=…): a new release gets a new URL.
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    # --- middlewares ------------------------------------------------------------------------------------------

    @web.middleware
    async def guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Safety headers on everything, read-only methods, the token, and errors as short Korean pages."""
        try:
            response = await self._guarded(request, handler)
        except web.HTTPException as exc:
            if exc.status == 404:
                response = self.not_found(request)
            elif exc.status == 405:
                response = self.message(request, 405, "허용되지 않는 요청", "이 아카이브는 읽기 전용입니다.")
            else:  # redirects: a plain response (returning an HTTPException is deprecated in aiohttp)
                response = web.Response(status=exc.status, headers=exc.headers, text=exc.text)
        except PaperbotError as exc:
            logger.warning("web: %s failed: %s", request.path, exc)
            response = self.message(request, 503, "잠시 뒤에 다시 해 주세요", "데이터베이스를 읽지 못했습니다.")
        except Exception:
            logger.exception("web: %s failed", request.path)
            response = self.message(request, 500, "오류가 났습니다", "페이지를 만들지 못했습니다.")
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _guarded(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        token = self.config.token
        if token is None or request.path.startswith(OPEN_PREFIXES):
            return await handler(request)
        given = request.query.get("token")
        if given is not None:
            if not token_matches(given, token):
                return self._unauthorized(request, "토큰이 맞지 않습니다.")
            # Remember it in a cookie and drop it from the address bar (and from history, logs, Referer).
            rest = [(k, v) for k, v in request.query.items() if k != "token"]
            location = _local_path(request) + ("?" + urlencode(rest) if rest else "")
            response = web.Response(status=303, headers={"Location": location})
            response.set_cookie(
                COOKIE,
                cookie_value(token),
                max_age=COOKIE_DAYS * 86400,
                httponly=True,
                samesite="Strict",
                secure=self.config.secure_cookie,
                path="/",
            )
            return response
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer " and token_matches(header[7:].strip(), token):
            return await handler(request)
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and token_matches(cookie, cookie_value(token)):
            return await handler(request)
        return self._unauthorized(request, "이 아카이브는 비공개입니다. 접근 토큰을 입력해 주세요.")

    def _unauthorized(self, request: web.Request, text: str) -> web.Response:
        response = self.message(request, 401, "접근 토큰이 필요합니다", text, token_form=True)
        response.headers["WWW-Authenticate"] = 'Bearer realm="paperbot"'
        response.headers["Cache-Control"] = "no-store"
        return response


def _local_path(request: web.Request) -> str:
    """The request's path as a link on this site: ``//evil.example/`` would leave it (a scheme-relative URL)."""
    return "/" + request.path.lstrip("/\\")


def _not_modified(request: web.Request, etag: str, first_served: datetime) -> bool:
    """RFC 9110 §13.1: If-None-Match (weak comparison) decides when present; else If-Modified-Since."""
    if request.method not in ("GET", "HEAD"):
        return False
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or f'"{etag}"' in tags
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return first_served <= when


def create_app(
    repository: Repository, config: WebConfig, *, extra: Mapping[str, ExtraRoute] | None = None
) -> web.Application:
    """The archive as an aiohttp application; ``extra`` adds plain routes (``/healthz``, ``/metrics``)."""
    handlers = Archive(repository, config)
    app = web.Application(middlewares=[handlers.guard], client_max_size=4096)
    routes: Sequence[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = (
        ("/", handlers.front),
        ("/day/{day}", handlers.day),
        ("/week", handlers.latest_week),
        ("/week/{week}", handlers.week),
        ("/paper/{item_id}", handlers.item),
        ("/search", handlers.search),
        ("/top", handlers.top),
        ("/sources", handlers.sources),
        ("/static/{name}", handlers.static),
    )
    for path, handler in routes:
        app.router.add_get(path, handler)
    for path, produce in (extra or {}).items():
        app.router.add_get(path, _plain(produce))
    if handlers.topics is not None:
        app.cleanup_ctx.append(_running(handlers.topics.run))
    return app


def _running(work: Callable[[], Awaitable[None]]) -> Callable[[web.Application], AsyncIterator[None]]:
    """A background task for the application's lifetime (started with it, cancelled when it stops)."""

    async def logged() -> None:
        try:
            await work()
        except Exception:  # a bug here must not take the pages down with it
            logger.exception("archive background task %s failed", getattr(work, "__qualname__", work))

    async def context(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(logged())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def _plain(produce: ExtraRoute) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        content_type, body = await produce()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        response.headers["Cache-Control"] = "no-store"
        return response

    return handler
