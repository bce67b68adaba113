"""The one shared HTTP client and the SSRF guard every outbound URL passes.

Redirects are NOT followed by the client: :class:`paperbot.sources.fetch.Fetcher` follows them by hand so that
each hop is checked with :func:`check_url` before anything connects to it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from paperbot import __version__
from paperbot.config import Settings
from paperbot.errors import SourceError

PROJECT_URL = "https://github.com/paperbot/paperbot"


def user_agent(settings: Settings) -> str:
    """A descriptive User-Agent: who we are, which version, where to read about us (and a contact if set)."""
    contact = f"; {settings.http_contact}" if settings.http_contact else ""
    return f"paperbot/{__version__} (+{PROJECT_URL}{contact}) httpx/{httpx.__version__}"


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process-wide client: timeouts, User-Agent, connection limits, no automatic redirects."""
    timeout = settings.http_timeout
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=timeout),
        headers={"User-Agent": user_agent(settings), "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0),
        trust_env=False,
    )


class BlockedUrlError(SourceError):
    """A URL that paperbot refuses to fetch (scheme, or a private/loopback/link-local target)."""

    user_message = "허용되지 않는 주소입니다."


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (lower-cased, default port filled in)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


async def check_url(url: str, *, allow_private: bool = False, trusted_origins: frozenset[str] = frozenset()) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to loopback, private, link-local or reserved addresses.

    ``trusted_origins`` (``origin()`` strings) are operator-configured endpoints such as the HF base URL; they are
    not checked. Resolution happens here and again when httpx connects, so a rebinding DNS server could still
    switch addresses in between; the check stops configuration mistakes and redirect tricks, which is its job.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedUrlError(f"malformed URL {url!r}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedUrlError(f"only http(s) URLs are fetched, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        raise BlockedUrlError(f"URL without a host: {url!r}")
    if allow_private or origin(url) in trusted_origins:
        return
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
            raise BlockedUrlError(f"{host} is a loopback name") from None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise SourceError(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not _is_public(address):
            raise BlockedUrlError(
                f"{host} resolves to non-public address {address} (set allow_private_networks for self-hosted feeds)"
            )
