"""Running the Slack app from settings (``paperbot slack run`` and ``paperbot run``): which tokens each mode needs,
and the app itself (its voter key from :func:`paperbot.service.votes.voter_key`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from paperbot.errors import ConfigError
from paperbot.platforms.slack.api import PLATFORM, auth_test, make_web_client
from paperbot.platforms.slack.app import Identity, SlackPlatform
from paperbot.service.votes import voter_key

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
    http_port: int | None = None,
    leader: asyncio.Event | None = None,
) -> None:
    """Run the Slack app until cancelled: Socket Mode, or HTTP mode on ``http_port`` (all settings checked first).

    Votes cast while away are read back in the background once connected, and only once ``leader`` is set (every
    instance serves ``/paper``; one reads back). Without ``leader`` (a lone ``paperbot slack run``) right away.
    """
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
        voter_key=voter_key(PLATFORM, salt, f"{identity.team_id}:{identity.user_id}"),
        signing_secret=secret,
        admin_users=settings.slack_admin_users,
    )
    if app_token is not None:
        await platform.run_socket_mode(app_token, leader=leader)
    elif http_port is not None:
        await platform.run_http("0.0.0.0", http_port, leader=leader)  # noqa: S104 - Slack must reach it; verified
