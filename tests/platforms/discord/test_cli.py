"""``paperbot discord invite-url``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from paperbot.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_invite_url_has_both_scopes_and_only_the_needed_permissions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOT_DISCORD_TOKEN", raising=False)
    code, out, _ = run(["discord", "invite-url", "--client-id", "1234567890"], capsys)
    assert code == 0
    url = urlsplit(out.strip())
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("discord.com", "/oauth2/authorize")
    assert query["client_id"] == ["1234567890"]
    assert query["scope"] == ["bot applications.commands"]
    permissions = discord.Permissions(int(query["permissions"][0]))
    granted = {name for name, value in permissions if value}
    # discord.py names the view_channel bit read_messages when iterating
    assert granted == {"read_messages", "send_messages", "embed_links", "add_reactions", "read_message_history"}


def test_invite_url_without_token_or_client_id_says_what_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("PAPERBOT_DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    code, _, err = run(["discord", "invite-url"], capsys)
    assert code == 2 and "PAPERBOT_DISCORD_TOKEN" in err
    code, _, err = run(["discord", "invite-url", "--client-id", "abc"], capsys)
    assert code == 2 and "--client-id" in err
