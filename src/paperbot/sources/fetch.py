"""Polite fetching on top of the shared client: per-host pacing, retries, size cap, checked redirects.

Every source goes through a :class:`Fetcher`. It turns every httpx failure into a :class:`SourceError`, so the
layers above never see a foreign exception.

Bodies are read raw and decompressed here, never by httpx: httpx's decoders inflate a whole chunk at once, so five
kilobytes of ``Content-Encoding: gzip, gzip`` became gigabytes before any size check could look at them. Here the
one supported content coding (gzip or deflate, as asked for in Accept-Encoding) is inflated at most up to the cap,
and a stack of codings is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
import stamina

from paperbot.config import Settings
from paperbot.errors import SourceError
from paperbot.httpclient import AddressPolicy, address_policy, check_url, redact_url
from paperbot.retry import parse_retry_after

log = logging.getLogger(__name__)

#: Hosts with a stricter pace than the default (seconds between requests). arXiv asks for one per 3 s.
HOST_INTERVALS: Mapping[str, float] = {"export.arxiv.org": 3.0, "arxiv.org": 3.0}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Response:
    """A fully read response (body capped), after redirects."""

    url: str
    status: int
    content: bytes
    headers: Mapping[str, str]

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class HttpStatusError(SourceError):
    """A non-success status after retries."""

    def __init__(self, url: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status} from {redact_url(url)}")
        self.url = url
        self.status = status
        self.retry_after = retry_after


class HostPacer:
    """Keeps at least ``interval`` seconds between the starts of two requests to the same host."""

    def __init__(self, default_interval: float, overrides: Mapping[str, float] | None = None) -> None:
        self.default_interval = default_interval
        self.overrides = dict(HOST_INTERVALS if overrides is None else overrides)
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def interval(self, host: str) -> float:
        return self.overrides.get(host, self.default_interval)

    async def wait(self, host: str) -> None:
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            ready = self._next.get(host, now)
            if ready > now:
                await asyncio.sleep(ready - now)
                now = time.monotonic()
            self._next[host] = now + self.interval(host)


class Fetcher:
    """GET with pacing, retries (honouring Retry-After), a size cap and SSRF-checked manual redirects."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_bytes: int = 10_000_000,
        attempts: int = 3,
        retry_max_wait: float = 60.0,
        host_interval: float = 1.0,
        allow_private: bool = False,
        host_intervals: Mapping[str, float] | None = None,
    ) -> None:
        self.http = http
        self.max_bytes = max_bytes
        self.attempts = attempts
        self.retry_max_wait = retry_max_wait
        self.allow_private = allow_private
        self.pacer = HostPacer(host_interval, host_intervals)

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> Fetcher:
        return cls(
            http,
            max_bytes=settings.http_max_bytes,
            attempts=settings.http_retries,
            retry_max_wait=settings.http_retry_max_wait,
            host_interval=settings.http_host_interval,
            allow_private=settings.allow_private_networks,
        )

    def _backoff(self, exc: Exception) -> bool | float:
        """stamina hook: retry transport errors and 429/5xx; wait what Retry-After says (capped)."""
        if isinstance(exc, HttpStatusError):
            if exc.status not in RETRY_STATUSES:
                return False
            if exc.retry_after is not None:
                return min(exc.retry_after, self.retry_max_wait)
            return True
        return isinstance(exc, httpx.TransportError)

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        trusted_origins: frozenset[str] = frozenset(),
        attempts: int | None = None,
    ) -> Response:
        """GET ``url``; 2xx and 304 come back, anything else raises :class:`SourceError` after retries.

        ``attempts`` overrides the configured number for this call (1: a single request, no retry)."""
        try:
            async for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=attempts or self.attempts,
                timeout=None,
                wait_initial=0.5,
                wait_max=self.retry_max_wait,
            ):
                with attempt:
                    return await self._get_once(url, headers or {}, trusted_origins)
        except httpx.TimeoutException as exc:
            raise SourceError(f"timed out fetching {redact_url(url)} ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            detail = str(exc).replace(url, redact_url(url))
            raise SourceError(f"cannot fetch {redact_url(url)}: {type(exc).__name__}: {detail}") from exc
        raise AssertionError("unreachable: retry_context always runs at least once")  # pragma: no cover

    async def _get_once(self, url: str, headers: Mapping[str, str], trusted_origins: frozenset[str]) -> Response:
        current = url
        policy = AddressPolicy(self.allow_private, trusted_origins)
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(current, allow_private=self.allow_private, trusted_origins=trusted_origins)
            await self.pacer.wait(urlsplit(current).hostname or "")
            request = self.http.build_request("GET", current, headers=dict(headers))
            with address_policy(policy):
                response = await self.http.send(request, stream=True)
            try:
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise SourceError(f"redirect without Location from {redact_url(current)}")
                    current = urljoin(current, location)
                    continue
                if response.status_code == 304 or response.is_success:
                    content = await self._read_capped(response, current)
                    return Response(current, response.status_code, content, dict(response.headers))
                raise HttpStatusError(
                    current, response.status_code, parse_retry_after(response.headers.get("retry-after"))
                )
            finally:
                await response.aclose()
        raise SourceError(f"more than {MAX_REDIRECTS} redirects from {redact_url(url)}")

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        """The body, decoded, never more than ``max_bytes`` before or after decompression."""
        shown = redact_url(url)
        declared = response.headers.get("content-length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(f"{shown} is {declared} bytes, over the {self.max_bytes}-byte cap")
        if response.is_stream_consumed:  # built in memory (httpx.MockTransport), already decoded: nothing to bound
            if len(response.content) > self.max_bytes:
                raise SourceError(f"{shown} is over the {self.max_bytes}-byte cap")
            return response.content
        decoder = _decoder_for(response.headers.get("content-encoding"), shown)
        chunks: list[bytes] = []
        size = raw_size = 0
        async for raw in response.aiter_raw():
            raw_size += len(raw)
            if raw_size > self.max_bytes:
                raise SourceError(f"{shown} is over the {self.max_bytes}-byte cap")
            chunk = decoder.decode(raw, self.max_bytes - size + 1) if decoder is not None else raw
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceError(f"{shown} is over the {self.max_bytes}-byte cap (decompressed)")
            chunks.append(chunk)
        if decoder is not None:
            chunks.append(decoder.finish())
            if size + len(chunks[-1]) > self.max_bytes:
                raise SourceError(f"{shown} is over the {self.max_bytes}-byte cap (decompressed)")
        return b"".join(chunks)


def _decoder_for(header: str | None, shown_url: str) -> BoundedDecoder | None:
    codings = [part.strip().lower() for part in (header or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise SourceError(f"{shown_url} uses {len(codings)} stacked content codings ({header}): refused")
    if codings[0] not in BoundedDecoder.CODINGS:
        raise SourceError(f"{shown_url} uses content coding {codings[0]!r}, which was not asked for")
    return BoundedDecoder(codings[0], shown_url)


class BoundedDecoder:
    """gzip (also multi-member) or deflate (zlib-wrapped or raw), inflated at most ``limit`` bytes per call.

    ``decode`` returns at most ``limit`` bytes; when more output is pending it returns exactly ``limit`` bytes, so
    the caller's size check fires without the rest ever being produced.
    """

    CODINGS = ("gzip", "x-gzip", "deflate")

    def __init__(self, coding: str, shown_url: str) -> None:
        self.coding = coding
        self.shown_url = shown_url
        self._raw_deflate = False
        self._inflater = self._new()
        self._started = False

    def _new(self) -> zlib._Decompress:
        if self.coding == "deflate":
            return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)
        return zlib.decompressobj(zlib.MAX_WBITS | 16)

    def decode(self, data: bytes, limit: int) -> bytes:
        out = bytearray()
        pending = data
        try:
            while pending and len(out) < limit:
                if self._inflater.eof:
                    # Another gzip member follows (RFC 1952 §2.2). Other trailing bytes are ignored, as httpx does.
                    if self.coding == "deflate" or not pending.startswith(b"\x1f\x8b"):
                        break
                    self._inflater = self._new()
                out += self._inflate(pending, limit - len(out))
                pending = self._inflater.unconsumed_tail or self._inflater.unused_data
                if self._inflater.unconsumed_tail:
                    continue  # output limit reached with input left: loop ends on the length check
                if not self._inflater.eof:
                    break
        except zlib.error as exc:
            raise SourceError(f"{self.shown_url}: corrupt {self.coding} body ({exc})") from None
        return bytes(out)

    def _inflate(self, data: bytes, limit: int) -> bytes:
        try:
            out = self._inflater.decompress(data, limit)
        except zlib.error:
            if self.coding != "deflate" or self._started:
                raise
            # Some servers send raw deflate under "deflate" (RFC 9110 §8.4.1.2 says zlib); httpx accepts both.
            self._raw_deflate = True
            self._inflater = self._new()
            out = self._inflater.decompress(data, limit)
        self._started = True
        return out

    def finish(self) -> bytes:
        try:
            return self._inflater.flush()
        except zlib.error as exc:
            raise SourceError(f"{self.shown_url}: corrupt {self.coding} body ({exc})") from None
