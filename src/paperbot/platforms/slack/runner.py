"""Running the Slack app from settings (``paperbot slack run`` and ``paperbot run``): which tokens each mode needs,
and the app itself, on the process's sender's client and identity (one ``auth.test`` per process) with the voter
key the composition root derives from that identity (:func:`paperbot.bootstrap.slack_voter_key`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from paperbot.errors import ConfigError
from paperbot.platforms.slack.api import Identity, SlackChunkSender
from paperbot.platforms.slack.app import SlackPlatform

if TYPE_CHECKING:
    from paperbot.config import Settings
    from paperbot.service.commands import CommandContext


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


async def run_slack(
    settings: Settings,
    context: CommandContext,
    *,
    voter_key: Callable[[Identity], bytes],
    sender: SlackChunkSender | None = None,
    http_port: int | None = None,
    leader: asyncio.Event | None = None,
) -> None:
    """Run the Slack app until cancelled: Socket Mode, or HTTP mode on ``http_port`` (all settings checked first).

    ``sender`` is the process's (its ``auth.test`` is the app's too; without one, one is built from ``settings``);
    ``voter_key`` derives the install's voter key from the identity. Votes cast while away are read back in the
    background once connected, and only once ``leader`` is set (every instance serves ``/paper``; one reads
    back). Without ``leader`` (a lone ``paperbot slack run``) right away.
    """
    sender = sender or SlackChunkSender.from_settings(settings)
    if http_port is None:
        app_token: str | None = app_token_of(settings)
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    else:
        app_token = None
        secret = signing_secret_of(settings)
    identity = await sender.identity()
    platform = SlackPlatform(
        context,
        sender.client,
        voter_key=voter_key(identity),
        signing_secret=secret,
        admin_users=settings.slack_admin_users,
        identity=identity,
    )
    if app_token is not None:
        await platform.run_socket_mode(app_token, leader=leader)
    elif http_port is not None:
        await platform.run_http("0.0.0.0", http_port, leader=leader)  # noqa: S104 - Slack must reach it; verified
