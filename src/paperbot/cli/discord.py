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


def _voter_key(settings: Settings, token: str) -> bytes:
    from paperbot.service.votes import voter_key

    salt = settings.vote_salt.get_secret_value() if settings.vote_salt else None
    # Without a secret: the bot's user id (the token's first segment), stable across token resets.
    return voter_key("discord", salt, token.split(".", 1)[0])


@discord.command("sync")
@click.pass_context
def sync_command(ctx: click.Context) -> None:
    """/paper 명령 목록을 Discord에 다시 등록합니다 (봇은 명령이 바뀌었을 때만 스스로 등록합니다)."""
    from paperbot.store.migrate import ensure_schema

    settings = settings_for(ctx)
    problem = ensure_schema(settings.database_url)
    if problem:
        fail(problem, code=1)
    if asyncio.run(_sync(ctx)) != "synced":
        fail("명령 목록을 등록하지 못했습니다. 로그의 오류를 확인해 주세요.", code=1)
    click.echo("/paper 명령 목록을 Discord에 등록했습니다.")


async def _sync(ctx: click.Context) -> str:
    from paperbot.bootstrap import build_services
    from paperbot.platforms.discord.api import login, token_of, use_api_base
    from paperbot.platforms.discord.bot import DiscordPlatform
    from paperbot.service.commands import CommandContext

    settings = settings_for(ctx)
    token = token_of(settings)
    use_api_base(settings.discord_api_base)
    async with build_services(settings) as services:
        bot = DiscordPlatform(
            CommandContext(services.repository), voter_key=_voter_key(settings, token), sync_commands=False
        )
        async with bot:
            await login(bot, token)
            return await bot.sync_command_tree(force=True)


async def serve_discord(settings: Settings, services: Services) -> None:
    """Hold the Discord gateway until cancelled (also used by ``paperbot run`` on the leader)."""
    from paperbot.platforms.discord.api import token_of, use_api_base
    from paperbot.platforms.discord.bot import DiscordPlatform
    from paperbot.service.commands import CommandContext

    token = token_of(settings)
    use_api_base(settings.discord_api_base)
    key = _voter_key(settings, token)
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
