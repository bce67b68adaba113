"""The OAuth2 invite URL: the ``bot`` and ``applications.commands`` scopes and only the permissions paperbot uses."""

from __future__ import annotations

from urllib.parse import urlencode

import discord

#: View the channel, post digests with embeds, add the vote reactions, and read history (to reconcile votes and to
#: find a chunk whose outcome was unknown before re-sending it). Nothing else.
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    add_reactions=True,
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")
AUTHORIZE_URL = "https://discord.com/oauth2/authorize"


def invite_url(client_id: str | int, permissions: discord.Permissions = REQUIRED_PERMISSIONS) -> str:
    """The URL a server admin opens to add the bot."""
    query = urlencode({"client_id": str(client_id), "permissions": str(permissions.value), "scope": " ".join(SCOPES)})
    return f"{AUTHORIZE_URL}?{query}"
