"""``paperbot discord``: the invite URL, and the bot itself (slash commands and votes) until ``paperbot run`` lands."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import Services
    from paperbot.config import Settings


@click.group()
def discord() -> None:
    """Discord 봇: 초대 URL과 봇 실행."""


@discord.command("invite-url")
@click.option("--client-id", default=None, help="Application (client) ID. Default: asked from Discord with the token.")
@click.pass_context
def invite_url_command(ctx: click.Context, client_id: str | None) -> None:
    """서버 관리자가 봇을 초대할 OAuth2 URL을 출력합니다 (bot + applications.commands, 최소 권한)."""
    from paperbot.platforms.discord.invite import invite_url

    if client_id is not None and not client_id.strip().isdigit():
        fail("--client-id는 숫자로 된 애플리케이션 ID여야 합니다.", code=2)
    if client_id is None:
        client_id = asyncio.run(_application_id(ctx))
    click.echo(invite_url(client_id.strip()))


async def _application_id(ctx: click.Context) -> str:
    from paperbot.platforms.discord.api import login, make_client, token_of, use_api_base

    settings = settings_for(ctx)
    token = token_of(settings)
    use_api_base(settings.discord_api_base)
    async with make_client() as client:
        await login(client, token)
        return str(client.application_id)


@discord.command("run")
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """봇을 실행합니다: /paper 명령에 답하고 반응 투표를 셉니다 (게이트웨이 연결, Ctrl+C로 종료)."""
    from paperbot.store.migrate import ensure_schema

    settings = settings_for(ctx)
    problem = ensure_schema(settings.database_url)
    if problem:
        fail(problem, code=1)
    asyncio.run(_run_bot(ctx))


async def _run_bot(ctx: click.Context) -> None:
    from paperbot.bootstrap import build_services

    settings = settings_for(ctx)
    async with build_services(settings) as services:
        await serve_discord(settings, services)


async def serve_discord(settings: Settings, services: Services) -> None:
    """Hold the Discord gateway until cancelled (also used by ``paperbot run`` on the leader)."""
    import hashlib

    from paperbot.platforms.discord.api import token_of, use_api_base
    from paperbot.platforms.discord.bot import DiscordPlatform
    from paperbot.service.commands import CommandContext

    token = token_of(settings)
    use_api_base(settings.discord_api_base)
    salt = settings.vote_salt
    if salt is not None:
        key = hashlib.sha256(b"paperbot-votes:" + salt.get_secret_value().encode()).digest()
    else:
        # No per-install secret configured: key by the bot's user id (from the token's first segment), which is
        # stable across token resets. Hashes are then salted but not secret.
        key = hashlib.sha256(b"paperbot-votes:" + token.split(".", 1)[0].encode()).digest()
    context = CommandContext(
        services.repository,
        timezone=settings.timezone,
        sources=services.sources,
        summarizer=services.summarizer,
        web_base_url=settings.web_base_url,
    )
    bot = DiscordPlatform(context, voter_key=key)
    async with bot:
        await bot.start(token)
