"""The long-running Slack app on slack-bolt's ``AsyncApp``: ``/paper`` and reaction votes.

Socket Mode is the default (bot token + app-level token, no public URL). HTTP mode serves ``/slack/events`` with
bolt's request verification (HMAC signature, 5-minute window, both ways); it needs the signing secret and cannot
be started without it, and nothing here can switch the verification off.

``/paper``: ``ack()`` at once (well within Slack's 3 s), then the use case, then ``respond``. Admin commands and
errors are ephemeral; admin means workspace admin or owner by ``users.info`` at the time of the command, or a user
id on the configured allow list.

Votes: ``reaction_added`` / ``reaction_removed`` on digest messages. Skin-tone variants count as the base emoji,
the bot's own reactions never count, a retried event (same ``event_id``) is processed once, and voter ids are
stored as HMAC-SHA256. Events may arrive out of order, so the message's current reactions (``reactions.get``)
decide whether the voter's vote stands; the event is only the trigger. At start, recent digest messages are read
back so votes cast while the app was down count.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from paperbot.domain import utcnow
from paperbot.errors import ConfigError, PaperbotError
from paperbot.platforms.slack import commands as slack_commands
from paperbot.platforms.slack.api import PLATFORM, auth_test, call_with_retry, delivery_of, make_web_client
from paperbot.platforms.slack.render import reply_payload, text_payload
from paperbot.service.commands import Caller, CommandContext, CommandError, Reply
from paperbot.service.votes import DEFAULT_VOTE_EMOJIS, Reaction, VoteOutcome, record_reaction, sync_message_votes

if TYPE_CHECKING:
    from paperbot.config import Settings

log = logging.getLogger(__name__)

GENERIC_ERROR = "요청을 처리하지 못했습니다. 잠시 뒤에 다시 해 주세요."
ADMIN_ONLY = "이 명령은 워크스페이스 관리자(또는 설정된 관리자 목록)만 쓸 수 있습니다."
COMMAND = "/paper"
EVENTS_PATH = "/slack/events"
RECONCILE_DAYS = 7
RECONCILE_MESSAGES = 200
#: Slack emoji names → the vote emoji stored (the same as Discord's, so totals mean the same everywhere).
SLACK_VOTE_NAMES: Mapping[str, str] = {"+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎"}
_SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)


def normalize_reaction(name: str) -> str:
    """``thumbsup::skin-tone-2`` → ``thumbsup``; the ``:name:`` form → ``name``."""
    return name.strip().strip(":").split("::", 1)[0]


def vote_emoji(name: str) -> str | None:
    """The stored vote emoji for a Slack reaction name (any skin tone), or None when it is not a vote."""
    return SLACK_VOTE_NAMES.get(normalize_reaction(name))


@web.middleware
async def _reject_malformed_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse what bolt would answer with a 500 and an ERROR traceback, before bolt sees it.

    - a request timestamp that is not a number: 401 (bolt's verifier would crash on ``int()``);
    - a body bolt cannot even turn into a request (not UTF-8, broken JSON, a ``payload`` that is not an object):
      400 and one WARNING line. bolt's aiohttp adapter builds its ``AsyncBoltRequest`` — parsing the body and its
      context — *before* it verifies the signature, so any unsigned garbage reached that code. The same
      constructor is tried here, so what counts as malformed is exactly what bolt cannot parse.
    """
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    if timestamp is not None and not (timestamp.strip().isascii() and timestamp.strip().isdigit()):
        return web.json_response({"error": "invalid request"}, status=401)
    if request.method == "POST":
        try:
            AsyncBoltRequest(
                body=await request.text(),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]  # as bolt's aiohttp adapter passes them
            )
        except Exception as exc:  # whatever bolt's parser raises on this body, it would have been a 500
            log.warning(
                "slack http: malformed request refused",
                extra={"error": type(exc).__name__, "bytes": request.content_length, "path": request.path},
            )
            return web.json_response({"error": "malformed request"}, status=400)
    response: web.StreamResponse = await handler(request)
    return response


class VoterHasher:
    """Voter id → HMAC-SHA256 hex (first 32 characters) under a per-install key; the raw id is never stored."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the voter key must be at least 16 bytes")
        self._key = key

    def __call__(self, team_id: str, user_id: str) -> str:
        return hmac.new(self._key, f"{PLATFORM}:{team_id}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the app is (from ``auth.test``)."""

    user_id: str
    team_id: str
    bot_id: str | None = None


class SlackPlatform:
    """The bolt ``AsyncApp`` with ``/paper`` and the vote listeners, plus how to run it."""

    def __init__(
        self,
        context: CommandContext,
        client: AsyncWebClient,
        *,
        voter_key: bytes,
        signing_secret: str | None = None,
        admin_users: Collection[str] = (),
        reconcile_days: int = RECONCILE_DAYS,
        command: str = COMMAND,
        on_vote: Callable[[VoteOutcome], None] | None = None,
    ) -> None:
        self.context = context
        self.client = client
        self.hash_voter = VoterHasher(voter_key)
        self.admin_users = frozenset(admin_users)
        self.reconcile_days = reconcile_days
        self.identity: Identity | None = None
        #: Called with the outcome of every reaction event once it is handled (bolt runs listeners in the
        #: background after acknowledging; observers, e.g. tests, learn here when one is done).
        self.on_vote = on_vote
        self.signing_secret = signing_secret or ""
        # request_verification_enabled is bolt's default and is stated here on purpose: it is never turned off.
        # Socket Mode requests skip it inside bolt (they arrive over our own authenticated websocket).
        self.app = AsyncApp(
            client=client,
            signing_secret=self.signing_secret,
            request_verification_enabled=True,
            process_before_response=False,
            name="paperbot",
            logger=logging.getLogger("paperbot.platforms.slack.bolt"),
        )
        self.app.command(command)(self._on_command)
        self.app.event("reaction_added")(self._on_reaction_added)
        self.app.event("reaction_removed")(self._on_reaction_removed)

    # --- start ------------------------------------------------------------------------------------------------

    async def start(self, *, reconcile: bool = True) -> Identity:
        """Check the token (``auth.test``) and read back votes cast while away."""
        data = await auth_test(self.client)
        self.identity = Identity(
            user_id=str(data.get("user_id") or ""),
            team_id=str(data.get("team_id") or ""),
            bot_id=str(data["bot_id"]) if data.get("bot_id") else None,
        )
        if reconcile:
            counted = await self.reconcile_votes()
            log.info("slack ready", extra={"reconciled_votes": counted, "team": self.identity.team_id})
        return self.identity

    async def run_socket_mode(self, app_token: str) -> None:
        """Connect over Socket Mode and serve until cancelled."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if not app_token.startswith("xapp-"):
            raise ConfigError(
                "PAPERBOT_SLACK_APP_TOKEN must be an app-level token (xapp-…)", key="PAPERBOT_SLACK_APP_TOKEN"
            )
        await self.start()
        handler = AsyncSocketModeHandler(self.app, app_token)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            await asyncio.Event().wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]

    def web_app(self) -> web.Application:
        """The aiohttp application of HTTP mode (bolt's adapter, requests verified)."""
        if not self.signing_secret:  # never serve HTTP without verifying requests
            raise ConfigError("HTTP mode needs PAPERBOT_SLACK_SIGNING_SECRET", key="PAPERBOT_SLACK_SIGNING_SECRET")
        application = self.app.web_app(path=EVENTS_PATH)
        application.middlewares.append(_reject_malformed_requests)
        return application

    async def serve_http(self, host: str, port: int) -> web.AppRunner:
        """Start HTTP mode on ``host:port`` and return the runner (``await runner.cleanup()`` stops it)."""
        runner = web.AppRunner(self.web_app())
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        return runner

    async def run_http(self, host: str, port: int) -> None:
        await self.start()
        runner = await self.serve_http(host, port)
        log.info("slack http mode listening", extra={"host": host, "port": port, "path": EVENTS_PATH})
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    # --- /paper -----------------------------------------------------------------------------------------------

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        payload, ephemeral = await self.answer(command)
        await respond(response_type="ephemeral" if ephemeral else "in_channel", replace_original=False, **payload)

    async def answer(self, command: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The ``respond`` payload for one slash command and whether it is ephemeral."""
        try:
            invocation = slack_commands.parse(str(command.get("text") or ""))
            caller = Caller(
                platform=PLATFORM,
                channel_id=str(command.get("channel_id") or ""),
                workspace_id=str(command.get("team_id") or "") or None,
                is_admin=False,
            )
            if invocation.is_admin_command:
                if not await self.is_admin(str(command.get("user_id") or "")):
                    return text_payload(ADMIN_ONLY), True
                caller = Caller(caller.platform, caller.channel_id, caller.workspace_id, is_admin=True)
            reply: Reply = await slack_commands.run(self.context, caller, invocation)
        except CommandError as exc:
            return text_payload(exc.user_message), True
        except PaperbotError as exc:
            log.warning("command failed", extra={"error": str(exc)})
            return text_payload(exc.user_message), True
        except Exception:
            log.exception("command crashed")
            return text_payload(GENERIC_ERROR), True
        return reply_payload(reply), reply.ephemeral or invocation.ephemeral

    async def is_admin(self, user_id: str) -> bool:
        """Workspace admin or owner right now (``users.info``), or on the allow list."""
        if not user_id:
            return False
        if user_id in self.admin_users:
            return True
        try:
            response = await call_with_retry(lambda: self.client.users_info(user=user_id), max_retries=2, max_wait=5)
        except _SLACK_ERRORS as exc:
            log.warning("cannot check admin", extra={"error": f"{type(exc).__name__}: {exc}"})
            return False
        user = response.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return False
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    # --- votes --------------------------------------------------------------------------------------------------

    async def _on_reaction_added(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        await self._on_reaction(event, body)

    async def _on_reaction_removed(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        await self._on_reaction(event, body)

    async def _on_reaction(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        outcome = await self.handle_reaction(event, body)
        if self.on_vote is not None:
            self.on_vote(outcome)

    def _is_self(self, user_id: str) -> bool:
        return self.identity is not None and user_id == self.identity.user_id

    async def handle_reaction(self, event: Mapping[str, Any], body: Mapping[str, Any]) -> VoteOutcome:
        """Count or uncount one reaction event; returns what happened."""
        item = event.get("item") or {}
        user_id = str(event.get("user") or "")
        emoji = vote_emoji(str(event.get("reaction") or ""))
        if item.get("type") != "message" or not user_id or emoji is None or self._is_self(user_id):
            return VoteOutcome.IGNORED
        channel_id = str(item.get("channel") or "")
        ts = str(item.get("ts") or "")
        repository = self.context.repository
        try:
            delivery = await repository.find_delivery_by_message(f"{PLATFORM}:{channel_id}", ts)
            if delivery is None or delivery.item_id is None:
                return VoteOutcome.IGNORED
            event_id = str(body.get("event_id") or "")
            if event_id and not await repository.mark_event_processed(PLATFORM, event_id):
                return VoteOutcome.DUPLICATE
            added = event.get("type") == "reaction_added"
            present = await self._reacted_now(channel_id, ts, user_id, emoji)
            team_id = str(body.get("team_id") or (self.identity.team_id if self.identity else ""))
            reaction = Reaction(
                platform=PLATFORM,
                channel_id=channel_id,
                message_id=ts,
                voter_hash=self.hash_voter(team_id, user_id),
                emoji=emoji,
                added=added if present is None else present,
            )
            return await record_reaction(repository, reaction, vote_emojis=DEFAULT_VOTE_EMOJIS)
        except PaperbotError:
            log.exception("cannot record a vote", extra={"message_id": ts})
            return VoteOutcome.IGNORED

    async def _reactions(self, channel_id: str, ts: str) -> list[Mapping[str, Any]] | None:
        try:
            response = await call_with_retry(
                lambda: self.client.reactions_get(channel=channel_id, timestamp=ts, full=True),
                max_retries=3,
                max_wait=30,
            )
        except _SLACK_ERRORS as exc:
            log.warning("cannot read reactions", extra={"message_id": ts, "error": f"{type(exc).__name__}: {exc}"})
            return None
        message = response.get("message") or {}
        return [r for r in message.get("reactions") or [] if isinstance(r, Mapping)]

    async def _reacted_now(self, channel_id: str, ts: str, user_id: str, emoji: str) -> bool | None:
        """Whether ``user_id`` has a reaction meaning ``emoji`` on the message now (None: cannot tell)."""
        reactions = await self._reactions(channel_id, ts)
        if reactions is None:
            return None
        return any(
            vote_emoji(str(r.get("name") or "")) == emoji and user_id in (r.get("users") or []) for r in reactions
        )

    async def reconcile_votes(self) -> int:
        """Read back the vote reactions of recent digest messages in subscribed channels; returns votes added.

        Adds votes cast while the app was away and removes the ones withdrawn meanwhile.
        """
        oldest = f"{(utcnow() - timedelta(days=self.reconcile_days)).timestamp():.6f}"
        added = 0
        seen: set[str] = set()
        for subscription in await self.context.repository.list_subscriptions(platform=PLATFORM):
            channel_id = subscription.channel_id
            if not subscription.enabled or subscription.broken_reason or channel_id in seen:
                continue
            seen.add(channel_id)
            try:
                added += await self._reconcile_channel(channel_id, oldest)
            except (*_SLACK_ERRORS, PaperbotError) as exc:
                log.warning(
                    "cannot reconcile votes", extra={"channel": channel_id, "error": f"{type(exc).__name__}: {exc}"}
                )
        return added

    async def _reconcile_channel(self, channel_id: str, oldest: str) -> int:
        history = await call_with_retry(
            lambda: self.client.conversations_history(
                channel=channel_id, oldest=oldest, include_all_metadata=True, limit=RECONCILE_MESSAGES
            )
        )
        added = 0
        for header in history.get("messages") or []:
            if delivery_of(header) is None:
                continue
            messages = [header]
            if header.get("reply_count"):
                replies = await call_with_retry(
                    functools.partial(
                        self.client.conversations_replies,
                        channel=channel_id,
                        ts=header["ts"],
                        include_all_metadata=True,
                        limit=RECONCILE_MESSAGES,
                    )
                )
                messages = [m for m in replies.get("messages") or [] if m.get("ts") != header["ts"]]
            for message in messages:
                if delivery_of(message) is None:
                    continue
                if self._has_votes(message):
                    added += await self._reconcile_message(channel_id, str(message["ts"]))
                else:  # no vote shown now: withdraw any we still count, without a reactions.get call
                    await sync_message_votes(
                        self.context.repository,
                        platform=PLATFORM,
                        channel_id=channel_id,
                        message_id=str(message["ts"]),
                        present=(),
                    )
        return added

    def _has_votes(self, message: Mapping[str, Any]) -> bool:
        """Whether the message's reaction summary shows a vote by someone other than the bot."""
        me = self.identity.user_id if self.identity else None
        for reaction in message.get("reactions") or []:
            if vote_emoji(str(reaction.get("name") or "")) is None:
                continue
            users = reaction.get("users") or []
            if int(reaction.get("count") or 0) > (1 if me in users else 0):
                return True
        return False

    async def _reconcile_message(self, channel_id: str, ts: str) -> int:
        reactions = await self._reactions(channel_id, ts)
        if reactions is None:
            return 0  # cannot tell who reacted: leave the stored votes as they are
        team_id = self.identity.team_id if self.identity else ""
        present: list[tuple[str, str]] = []
        for reaction in reactions:
            emoji = vote_emoji(str(reaction.get("name") or ""))
            if emoji is None:
                continue
            present.extend(
                (self.hash_voter(team_id, str(user_id)), emoji)
                for user_id in reaction.get("users") or []
                if not self._is_self(str(user_id))
            )
        added, _removed = await sync_message_votes(
            self.context.repository,
            platform=PLATFORM,
            channel_id=channel_id,
            message_id=ts,
            present=present,
            vote_emojis=DEFAULT_VOTE_EMOJIS,
        )
        return added


# --- composition helpers (used by ``paperbot slack run``) ------------------------------------------------------


def voter_key(salt: str | None, identity: Identity) -> bytes:
    """The HMAC key for voter ids: from the per-install secret (``PAPERBOT_VOTE_SALT``) when set, else from the
    workspace and bot user ids (stable across token rotations; hashes are then keyed but not secret)."""
    basis = salt if salt else f"{identity.team_id}:{identity.user_id}"
    return hashlib.sha256(b"paperbot-votes:slack:" + basis.encode()).digest()


def app_token_of(settings: Settings) -> str:
    token = settings.slack_app_token.get_secret_value().strip() if settings.slack_app_token else ""
    if not token:
        raise ConfigError(
            "Socket Mode needs PAPERBOT_SLACK_APP_TOKEN (xapp-…), or set PAPERBOT_SLACK_HTTP_PORT for HTTP mode",
            key="PAPERBOT_SLACK_APP_TOKEN",
        )
    if not token.startswith("xapp-"):
        raise ConfigError(
            "PAPERBOT_SLACK_APP_TOKEN must be an app-level token (xapp-…)", key="PAPERBOT_SLACK_APP_TOKEN"
        )
    return token


def signing_secret_of(settings: Settings) -> str:
    secret = settings.slack_signing_secret.get_secret_value().strip() if settings.slack_signing_secret else ""
    if not secret:
        raise ConfigError("HTTP mode needs PAPERBOT_SLACK_SIGNING_SECRET", key="PAPERBOT_SLACK_SIGNING_SECRET")
    return secret


async def run_slack(settings: Settings, context: CommandContext, *, http_port: int | None = None) -> None:
    """Run the Slack app until cancelled: Socket Mode, or HTTP mode on ``http_port`` (all settings checked first)."""
    client = make_web_client(settings)
    if http_port is None:
        app_token: str | None = app_token_of(settings)
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    else:
        app_token = None
        secret = signing_secret_of(settings)
    data = await auth_test(client)
    identity = Identity(str(data.get("user_id") or ""), str(data.get("team_id") or ""))
    salt = settings.vote_salt.get_secret_value() if settings.vote_salt else None
    platform = SlackPlatform(
        context,
        client,
        voter_key=voter_key(salt, identity),
        signing_secret=secret,
        admin_users=settings.slack_admin_users,
    )
    if http_port is None and app_token is not None:
        await platform.run_socket_mode(app_token)
    elif http_port is not None:
        await platform.run_http("0.0.0.0", http_port)  # noqa: S104 - Slack must reach it; requests are verified
