"""The long-running Slack app on slack-bolt's ``AsyncApp``: ``/paper`` and reaction votes (the wiring).

Socket Mode is the default (bot token + app-level token, no public URL); HTTP mode is :mod:`.http`. What runs it
from settings is :mod:`.runner`; votes are :mod:`.votes`, admin checks :mod:`.admin`, parsing :mod:`.commands`.

Start: ``auth.test`` (unless the runner hands over the identity its sender already learnt), then connect at once,
so ``/paper`` is answered from the first second after a deploy.
Reading back the votes cast while away (one ``conversations.replies`` per digest, one ``reactions.get`` per voted
message, Tier 3) runs afterwards in the background, on the leader only.

``/paper``: ``ack()`` at once (well within Slack's 3 s), then the use case (:mod:`paperbot.service.answers` turns
failures into a short Korean message), then ``respond``; bolt returns the response URL's answer instead of
raising, so it is checked, and a refused answer is followed by a short plain-text one. Admin commands and
errors are ephemeral. ``subscribe`` is confirmed with a ``chat.postMessage`` in the channel, so a channel the bot
cannot post to is refused at once instead of breaking at the first digest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from paperbot.digest.text import truncate
from paperbot.errors import ConfigError, PaperbotError
from paperbot.platforms.slack import commands as slack_commands
from paperbot.platforms.slack.admin import ADMIN_ONLY, AdminCheck
from paperbot.platforms.slack.api import PLATFORM, Identity, auth_test, call_with_retry
from paperbot.platforms.slack.http import EVENTS_PATH, serve_http, web_app
from paperbot.platforms.slack.render import reply_payload, text_payload
from paperbot.platforms.slack.votes import SLACK_ERRORS, SlackVotes, slack_hasher
from paperbot.service.answers import Answer, answer, failure
from paperbot.service.commands import Caller, CommandContext, CommandError, Reply
from paperbot.service.votes import RECONCILE_DAYS, ReconcileResult, VoteOutcome, reconcile_votes

log = logging.getLogger(__name__)

COMMAND = "/paper"
#: Shown when the full answer was refused by the response URL (too big, bad blocks…): plain text, nothing else.
FALLBACK_NOTE = "(답을 다 보여 드리지 못해 짧게 줄였습니다.)"
FALLBACK_CHARS = 1000
DM_REFUSED = "다이렉트 메시지에는 다이제스트를 구독할 수 없습니다. 받을 채널에서 /paper subscribe 해 주세요."
NOT_IN_CHANNEL = (
    "봇이 이 채널의 멤버가 아니라 다이제스트를 보낼 수 없어 구독하지 않았습니다. "
    "채널에서 /invite @paperbot 한 뒤 다시 /paper subscribe 해 주세요."
)
CANNOT_POST = "이 채널에 메시지를 보낼 수 없어 구독하지 않았습니다 (Slack 오류: {error})."


def is_direct_message(channel_id: str) -> bool:
    """Conversation ids of direct messages start with ``D`` (channels ``C``, private channels ``G``/``C``)."""
    return channel_id.startswith("D")


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
        identity: Identity | None = None,
    ) -> None:
        self.context = context
        self.client = client
        self.votes = SlackVotes(client, context.repository, slack_hasher(voter_key))
        self.is_admin = AdminCheck(client, admin_users)
        self.reconcile_days = reconcile_days
        #: Who the app is: handed over when already known (the process's sender ran ``auth.test``), else learnt
        #: in :meth:`start`.
        self.identity: Identity | None = identity
        #: Called with the outcome of every reaction event once it is handled (bolt runs listeners in the
        #: background after acknowledging; observers, e.g. tests, learn here when one is done).
        self.on_vote = on_vote
        #: The background read-back, once started (tests await it).
        self.reconciling: asyncio.Task[ReconcileResult] | None = None
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
        self.app.event("reaction_added")(self._on_reaction)
        self.app.event("reaction_removed")(self._on_reaction)

    # --- start ------------------------------------------------------------------------------------------------

    async def start(self) -> Identity:
        """Learn who the app is: ``auth.test`` (which checks the token) unless the identity was handed over."""
        if self.identity is None:
            self.identity = Identity.from_auth_test(await auth_test(self.client))
        self.votes.bot_user, self.votes.team_id = self.identity.user_id, self.identity.team_id
        return self.identity

    def reconcile_in_background(self, leader: asyncio.Event | None = None) -> asyncio.Task[ReconcileResult]:
        """Read back votes cast while away once ``leader`` is set (at once without one), never blocking the app."""

        async def when_leading() -> ReconcileResult:
            if leader is not None:
                await leader.wait()
            result = await self.reconcile_votes()
            team = self.identity.team_id if self.identity else ""
            log.info("slack votes read back", extra={"reconciled_votes": result.added, "team": team})
            return result

        self.reconciling = asyncio.create_task(when_leading(), name="slack-reconcile")
        return self.reconciling

    async def run_socket_mode(self, app_token: str, *, leader: asyncio.Event | None = None) -> None:
        """Connect over Socket Mode, then read votes back in the background; serve until cancelled."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if not app_token.startswith("xapp-"):
            raise ConfigError(
                "PAPERBOT_SLACK_APP_TOKEN must be an app-level token (xapp-…)", key="PAPERBOT_SLACK_APP_TOKEN"
            )
        await self.start()
        handler = AsyncSocketModeHandler(self.app, app_token)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack connected (socket mode)")
            self.reconcile_in_background(leader)
            await asyncio.Event().wait()
        finally:
            await self._stop_reconciling()
            await handler.close_async()  # type: ignore[no-untyped-call]

    def web_app(self) -> web.Application:
        """The aiohttp application of HTTP mode (bolt's adapter, requests verified)."""
        return web_app(self.app, self.signing_secret)

    async def serve_http(self, host: str, port: int) -> web.AppRunner:
        """Start HTTP mode on ``host:port`` and return the runner (``await runner.cleanup()`` stops it)."""
        return await serve_http(self.app, self.signing_secret, host, port)

    async def run_http(self, host: str, port: int, *, leader: asyncio.Event | None = None) -> None:
        await self.start()
        runner = await self.serve_http(host, port)
        log.info("slack http mode listening", extra={"host": host, "port": port, "path": EVENTS_PATH})
        self.reconcile_in_background(leader)
        try:
            await asyncio.Event().wait()
        finally:
            await self._stop_reconciling()
            await runner.cleanup()

    async def _stop_reconciling(self) -> None:
        task = self.reconciling
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- /paper -----------------------------------------------------------------------------------------------

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        payload, ephemeral = await self.answer(command)
        await self.send(respond, payload, ephemeral=ephemeral)

    async def send(self, respond: Any, payload: Mapping[str, Any], *, ephemeral: bool) -> bool:
        """Post the answer to the response URL; True when Slack took it.

        bolt's ``respond`` returns the response URL's ``WebhookResponse`` (``status_code``, ``body``) instead of
        raising, and webhooks report errors as HTTP statuses (``invalid_blocks``, ``expired_url``…): a refused
        answer is logged and followed by a short plain-text one (no blocks), so the user is never left with nothing.
        """
        kind = "ephemeral" if ephemeral else "in_channel"
        if await self._respond(respond, response_type=kind, replace_original=False, **payload):
            return True
        text, _ = truncate(str(payload.get("text") or ""), FALLBACK_CHARS, lambda atom: atom.text)
        short = f"{text}\n{FALLBACK_NOTE}" if text else FALLBACK_NOTE
        await self._respond(respond, response_type=kind, replace_original=False, text=short)
        return False

    async def _respond(self, respond: Any, **arguments: Any) -> bool:
        try:
            response = await respond(**arguments)
        except (*SLACK_ERRORS, ValueError) as exc:  # no response URL, or the request itself failed
            log.warning("slack respond failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return False
        status = getattr(response, "status_code", None)
        if status == 200:
            return True
        body = str(getattr(response, "body", ""))[:200]
        log.warning("slack respond refused", extra={"status": status, "body": body, "blocks": "blocks" in arguments})
        return False

    async def answer(self, command: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The ``respond`` payload for one slash command and whether it is ephemeral."""
        try:
            invocation = slack_commands.parse(str(command.get("text") or ""))
        except CommandError as exc:
            return text_payload(exc.user_message), True
        caller = Caller(
            platform=PLATFORM,
            channel_id=str(command.get("channel_id") or ""),
            workspace_id=str(command.get("team_id") or "") or None,
            is_admin=False,
        )
        result: Answer
        if invocation.is_admin_command and not await self.is_admin(str(command.get("user_id") or "")):
            result = failure(ADMIN_ONLY)
        else:
            if invocation.is_admin_command:
                caller = Caller(caller.platform, caller.channel_id, caller.workspace_id, is_admin=True)
            result = await answer(lambda: self._run(caller, invocation), command=invocation.name)
        if result.failed:
            return text_payload(result.reply.text), True
        return reply_payload(result.reply), result.reply.ephemeral or invocation.ephemeral

    async def _run(self, caller: Caller, invocation: slack_commands.Invocation) -> Reply:
        if invocation.name == "subscribe":
            return await self.subscribe(caller, invocation)
        return await slack_commands.run(self.context, caller, invocation)

    async def subscribe(self, caller: Caller, invocation: slack_commands.Invocation) -> Reply:
        """``/paper subscribe``, confirmed in the channel with ``chat.postMessage``.

        ``respond`` works in any conversation the command was typed in, member or not, but a digest is posted with
        ``chat.postMessage``, which fails with ``not_in_channel`` where the bot is not a member (paperbot has no
        ``chat:write.public``). Posting the confirmation the same way shows that at once; if it fails the channel's
        subscriptions are put back as they were. Direct messages are refused.
        """
        if is_direct_message(caller.channel_id):
            raise CommandError(f"subscribe in a DM {caller.channel_id}", user_message=DM_REFUSED)
        repository = self.context.repository
        before = [
            s for s in await repository.list_subscriptions(platform=PLATFORM) if s.channel_id == caller.channel_id
        ]
        reply = await slack_commands.run(self.context, caller, invocation)
        try:
            await call_with_retry(
                lambda: self.client.chat_postMessage(
                    channel=caller.channel_id, text=f"📚 paperbot: {reply.text}", unfurl_links=False
                ),
                max_retries=2,
                max_wait=10,
            )
        except SLACK_ERRORS as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            await repository.remove_subscription(PLATFORM, caller.channel_id)
            for subscription in before:
                await repository.save_subscription(subscription)
            log.warning("subscription not confirmed", extra={"channel": caller.channel_id, "error": str(error)})
            message = NOT_IN_CHANNEL if error == "not_in_channel" else CANNOT_POST.format(error=error)
            raise CommandError(f"cannot post to {caller.target}: {error}", user_message=message) from exc
        return reply

    # --- votes --------------------------------------------------------------------------------------------------

    async def _on_reaction(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        outcome = await self.handle_reaction(event, body)
        if self.on_vote is not None:
            self.on_vote(outcome)

    async def handle_reaction(self, event: Mapping[str, Any], body: Mapping[str, Any]) -> VoteOutcome:
        """Count or uncount one reaction event; returns what happened."""
        return await self.votes.handle_reaction(event, body)

    async def reconcile_votes(self) -> ReconcileResult:
        """Read back the votes of the digest messages the database knows (:func:`reconcile_votes`)."""
        try:
            return await reconcile_votes(
                self.context.repository, self.votes, today=self.context.now().date(), days=self.reconcile_days
            )
        except PaperbotError as exc:
            log.warning("cannot reconcile votes", extra={"error": str(exc)})
            return ReconcileResult()
