"""The one shared HTTP client and the SSRF guard every outbound URL passes.

Redirects are NOT followed by the client: :class:`paperbot.sources.fetch.Fetcher` follows them by hand so that
each hop is checked with :func:`check_url` before anything connects to it.

The check is enforced where the connection is made, too. The client's transport connects through
:class:`GuardedBackend`, an httpcore network backend that resolves the host once, refuses non-public addresses and
connects to exactly the address it checked, so a DNS server that answers a public address to :func:`check_url` and
a private one a moment later (DNS rebinding) gains nothing. The URL is left alone: the Host header, TLS SNI and
certificate checks still use the host name. The policy comes from the :func:`address_policy` context the Fetcher
opens around each request; requests outside one (LLM endpoints, chat APIs, which operators may run on localhost)
are not restricted.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import logging
import re
import socket
import ssl
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from paperbot import __version__
from paperbot.config import Settings
from paperbot.errors import SourceError

PROJECT_URL = "https://github.com/paperbot/paperbot"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def user_agent(settings: Settings) -> str:
    """A descriptive User-Agent: who we are, which version, where to read about us (and a contact if set)."""
    contact = f"; {settings.http_contact}" if settings.http_contact else ""
    return f"paperbot/{__version__} (+{PROJECT_URL}{contact}) httpx/{httpx.__version__}"


def make_http_client(settings: Settings, *, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The process-wide client: timeouts, User-Agent, connection limits, no automatic redirects, guarded connects."""
    timeout = settings.http_timeout
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=timeout),
        headers={"User-Agent": user_agent(settings), "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,
        transport=GuardedTransport(limits=limits, verify=verify),
        trust_env=False,
    )


class BlockedUrlError(SourceError):
    """A URL that paperbot refuses to fetch (scheme, or a private/loopback/link-local target)."""

    user_message = "허용되지 않는 주소입니다."


# --- which addresses are public ---------------------------------------------------------------------------------

#: IPv6 prefixes whose last 32 bits are an IPv4 address that the packets end up at (or come from).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 §2.5.5.1, deprecated but still routed by some stacks
#: Prefixes Python 3.11 calls global that are not: local-use NAT64 (RFC 8215), site-local (RFC 3879, deprecated).
_NOT_GLOBAL_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("fec0::/10"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, translated, compatible, NAT64, 6to4, Teredo."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in (_NAT64, _IPV4_TRANSLATED, _IPV4_COMPATIBLE)):
        found.append(low32)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client); Python already undoes the client's obfuscation
    return found


def is_public_address(address: IPAddress) -> bool:
    """Globally routable unicast, and so is every IPv4 address embedded in it (``[::127.0.0.1]`` is not)."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _NOT_GLOBAL_V6):
            return False
        embedded = embedded_ipv4(address)
        if embedded:
            return all(is_public_address(inner) for inner in embedded)
    return address.is_global and not address.is_multicast


# --- URLs -------------------------------------------------------------------------------------------------------


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL (lower-cased, default port filled in)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def redact_url(url: str) -> str:
    """The URL without its user-info (``https://user:secret@host/`` → ``https://host/``), for logs and errors."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class RedactUserinfo(logging.Filter):
    """Drops ``user:password@`` from URLs in log records: httpx logs every request URL (at DEBUG here), and a
    mirror's credentials in ``PAPERBOT_HF_BASE_URL`` would otherwise be in the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "@" in record.msg:
            record.msg = _USERINFO.sub("", record.msg)
        if isinstance(record.args, tuple) and any("@" in str(arg) for arg in record.args):
            record.args = tuple(_USERINFO.sub("", str(arg)) if "@" in str(arg) else arg for arg in record.args)
        return True


logging.getLogger("httpx").addFilter(RedactUserinfo())


def _host_port(origin_string: str) -> tuple[str, int]:
    parts = urlsplit(origin_string)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What a request may connect to: public addresses, plus private ones when allowed or for trusted endpoints."""

    allow_private: bool = False
    trusted_origins: frozenset[str] = frozenset()

    def unrestricted(self, host: str, port: int) -> bool:
        if self.allow_private:
            return True
        return (host.lower(), port) in {_host_port(trusted) for trusted in self.trusted_origins}


_POLICY: contextvars.ContextVar[AddressPolicy | None] = contextvars.ContextVar("paperbot_address_policy", default=None)


@contextlib.contextmanager
def address_policy(policy: AddressPolicy) -> Iterator[None]:
    """Connections opened inside this context (in this task) obey ``policy``."""
    token = _POLICY.set(policy)
    try:
        yield
    finally:
        _POLICY.reset(token)


def _is_loopback_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal is its own answer), in the resolver's order."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise SourceError(f"cannot resolve {host}: {exc}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone index
        if address not in addresses:
            addresses.append(address)
    return addresses


def _refuse(host: str, addresses: Iterable[IPAddress]) -> None:
    for address in addresses:
        if not is_public_address(address):
            raise BlockedUrlError(
                f"{host} resolves to non-public address {address} (set allow_private_networks for self-hosted feeds)"
            )


async def check_url(url: str, *, allow_private: bool = False, trusted_origins: frozenset[str] = frozenset()) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to loopback, private, link-local or reserved addresses.

    ``trusted_origins`` (``origin()`` strings) are operator-configured endpoints such as the HF base URL; they are
    not checked. This is the early, clearly worded refusal; :class:`GuardedBackend` enforces the same rule on the
    address actually connected to.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BlockedUrlError(f"malformed URL {redact_url(url)!r}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedUrlError(f"only http(s) URLs are fetched, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        raise BlockedUrlError(f"URL without a host: {redact_url(url)!r}")
    if allow_private or origin(url) in trusted_origins:
        return
    if _is_loopback_name(host):
        raise BlockedUrlError(f"{host} is a loopback name")
    _refuse(host, await resolve(host, port or (443 if parts.scheme.lower() == "https" else 80)))


# --- the connection itself --------------------------------------------------------------------------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the address it checked: resolve once, refuse non-public answers, connect to that IP.

    httpcore hands ``connect_tcp`` the URL's host; TLS is started afterwards on the returned stream with the host
    name as ``server_hostname`` (httpcore ``_async/connection.py``), so SNI and certificate checks are unchanged.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        policy = _POLICY.get()
        if policy is None or policy.unrestricted(host, port):
            return await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
            )
        if _is_loopback_name(host):
            raise BlockedUrlError(f"{host} is a loopback name")
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        _refuse(host, addresses)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request mapping, exception mapping) over a pool that connects via GuardedBackend.

    httpx 0.28 has no public parameter for the network backend (encode/httpx#3749 proposes one), so the pool it
    builds is replaced by an equivalent one; ``tests/sources/test_ssrf.py`` fails if that ever stops taking effect.
    """

    def __init__(self, *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(limits=limits, verify=verify, trust_env=False)
        self.backend = GuardedBackend()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self.backend,
        )
