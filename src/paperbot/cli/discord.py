"""``paperbot discord``: the invite URL, and the bot itself (slash commands and votes) until ``paperbot run`` lands."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, run_app, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import App


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
    from paperbot.platforms.discord.api import token_of

    token_of(settings_for(ctx))  # a missing token is a configuration error before anything opens
    run_app(ctx, serve_discord)


@discord.command("sync")
@click.pass_context
def sync_command(ctx: click.Context) -> None:
    """/paper 명령 목록을 Discord에 다시 등록합니다 (봇은 명령이 바뀌었을 때만 스스로 등록합니다)."""
    from paperbot.platforms.discord.api import token_of

    token_of(settings_for(ctx))  # a missing token is a configuration error before anything opens
    if run_app(ctx, _sync) != "synced":
        fail("명령 목록을 등록하지 못했습니다. 로그의 오류를 확인해 주세요.", code=1)
    click.echo("/paper 명령 목록을 Discord에 등록했습니다.")


async def _sync(app: App) -> str:
    from paperbot.platforms.discord.api import login, token_of, use_api_base
    from paperbot.platforms.discord.bot import DiscordPlatform

    token = token_of(app.settings)
    use_api_base(app.settings.discord_api_base)
    bot = DiscordPlatform(app.commands, voter_key=app.discord_voter_key(), sync_commands=False)
    async with bot:
        await login(bot, token)
        return await bot.sync_command_tree(force=True)


async def serve_discord(app: App) -> None:
    """Hold the Discord gateway until cancelled (also used by ``paperbot run`` on the leader)."""
    from paperbot.platforms.discord.api import token_of, use_api_base
    from paperbot.platforms.discord.bot import DiscordPlatform

    token = token_of(app.settings)
    use_api_base(app.settings.discord_api_base)
    bot = DiscordPlatform(app.commands, voter_key=app.discord_voter_key())
    async with bot:
        await bot.start(token)
