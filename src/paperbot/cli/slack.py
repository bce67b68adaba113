"""``paperbot slack``: the app manifest, a token check, and the app itself (``/paper`` and votes)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, run_app, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import App


@click.group()
def slack() -> None:
    """Slack 앱: 매니페스트, 토큰 확인, 앱 실행."""


@slack.command("manifest")
@click.option("--request-url", default=None, help="HTTP mode: https://HOST/slack/events. Default: Socket Mode.")
def manifest_command(request_url: str | None) -> None:
    """Slack 앱을 한 번에 만드는 앱 매니페스트(YAML)를 출력합니다 (권한, /paper 명령, 이벤트)."""
    from paperbot.platforms.slack.manifest import manifest_yaml

    try:
        click.echo(manifest_yaml(request_url), nl=False)
    except ValueError:
        fail("--request-url은 https://로 시작하는 주소여야 합니다 (예: https://bot.example.com/slack/events).", code=2)


@slack.command("check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """봇 토큰으로 Slack에 접속해 봇 이름과 워크스페이스를 보여 줍니다 (auth.test)."""
    from paperbot.platforms.slack.api import auth_test, make_web_client

    settings = settings_for(ctx)
    data = asyncio.run(auth_test(make_web_client(settings)))
    click.echo(
        f"연결됨: 봇 {data.get('user')} ({data.get('user_id')}), 워크스페이스 {data.get('team')} ({data.get('team_id')})"
    )


@slack.command("run")
@click.option("--http", "http_mode", is_flag=True, help="HTTP mode (signed requests) instead of Socket Mode.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="HTTP mode port (PAPERBOT_SLACK_HTTP_PORT).")
@click.pass_context
def run_command(ctx: click.Context, http_mode: bool, port: int | None) -> None:
    """앱을 실행합니다: /paper 명령에 답하고 반응 투표를 셉니다 (기본 Socket Mode, Ctrl+C로 종료)."""
    settings = settings_for(ctx)
    http_port = port or settings.slack_http_port or (3000 if http_mode else None)

    async def serve(app: App) -> None:
        from paperbot.platforms.slack.runner import run_slack

        await run_slack(
            app.settings, app.commands, voter_key=app.slack_voter_key, sender=app.slack_sender, http_port=http_port
        )

    run_app(ctx, serve)
