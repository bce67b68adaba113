"""Every touch of discord.py internals in the tests lives here (pinned to discord.py 2.7).

- ``feed``: hand a raw gateway payload (``INTERACTION_CREATE``, ``MESSAGE_REACTION_ADD`` …) to the client's parser,
  exactly as the gateway reader does (``ConnectionState.parsers``).
- ``settle``: wait for the tasks discord.py spawned for it (event handlers, the command tree invoker).
- ``saved_route_base``: restore ``discord.http.Route.BASE`` after a test pointed it at the fake API.

Payload builders give the raw shapes Discord sends (documented gateway/interaction objects).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import discord
import discord.http

from paperbot.platforms.discord.invite import REQUIRED_PERMISSIONS
from tests.platforms.discord.fake_api import APP_ID, user

GUILD_ID = 700000000000000001
_ids = itertools.count(800000000000000001)
#: Names discord.py gives the tasks it spawns for handlers and slash commands.
_TASK_PREFIXES = ("discord.py: ", "CommandTree-invoker")


def feed(client: discord.Client, event: str, data: dict[str, Any]) -> None:
    """Process one raw gateway event as if it came over the websocket."""
    client._connection.parsers[event](data)


async def settle(client: discord.Client, within: float = 10.0) -> None:
    """Wait until every handler/command task discord.py started has finished (raising its first error)."""
    async with asyncio.timeout(within):
        while True:
            current = asyncio.current_task()
            pending = [
                task
                for task in asyncio.all_tasks()
                if task is not current and not task.done() and task.get_name().startswith(_TASK_PREFIXES)
            ]
            if not pending:
                return
            await asyncio.gather(*pending)


@contextmanager
def saved_route_base() -> Iterator[None]:
    before = discord.http.Route.BASE
    try:
        yield
    finally:
        discord.http.Route.BASE = before


# --- raw payloads -------------------------------------------------------------------------------------------------

ADMIN = discord.Permissions(manage_guild=True, send_messages=True, view_channel=True)
CHANNEL_MANAGER = discord.Permissions(manage_channels=True, send_messages=True, view_channel=True)
MEMBER = discord.Permissions(send_messages=True, view_channel=True, use_application_commands=True)


def member(user_id: int, permissions: discord.Permissions = MEMBER) -> dict[str, Any]:
    return {
        "user": user(user_id), "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": False,
        "mute": False, "flags": 0, "pending": False, "nick": None, "avatar": None, "premium_since": None,
        "communication_disabled_until": None, "permissions": str(permissions.value),
    }  # fmt: skip


def slash(
    subcommand: str,
    options: dict[str, Any] | None = None,
    *,
    channel_id: int,
    user_id: int = 600000000000000001,
    permissions: discord.Permissions = MEMBER,
    command: str = "paper",
    interaction_type: int = 2,
    app_permissions: discord.Permissions = REQUIRED_PERMISSIONS,
    channel_type: int = 0,
) -> dict[str, Any]:
    """An ``INTERACTION_CREATE`` for ``/paper <subcommand> option:value …`` typed in a guild text channel
    (``channel_type`` 11: a public thread, 15's posts are threads too), the bot holding ``app_permissions`` there
    (default: what the invite grants)."""
    option_types = {str: 3, int: 4, bool: 5}
    sub_options = [
        {"name": name, "type": option_types[type(value)], "value": value} for name, value in (options or {}).items()
    ]
    if interaction_type == 4:  # autocomplete: the first option is the one being typed
        sub_options[0]["focused"] = True
    interaction_id = next(_ids)
    channel: dict[str, Any] = {
        "id": str(channel_id),
        "type": channel_type,
        "guild_id": str(GUILD_ID),
        "name": "papers",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }
    if channel_type in (10, 11, 12):  # a thread: the partial channel carries its thread_metadata
        channel |= {
            "parent_id": "710000000000000001", "owner_id": str(user_id), "message_count": 1, "member_count": 1,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False,
                                "archive_timestamp": "2024-04-19T00:00:00.000000+00:00"},
        }  # fmt: skip
    return {
        "id": str(interaction_id),
        "application_id": str(APP_ID),
        "type": interaction_type,
        "token": f"token-{interaction_id}",
        "version": 1,
        "guild_id": str(GUILD_ID),
        "guild": {"id": str(GUILD_ID), "locale": "ko", "features": []},
        "channel_id": str(channel_id),
        "channel": channel,
        "member": member(user_id, permissions),
        "app_permissions": str(app_permissions.value),
        "locale": "ko",
        "guild_locale": "ko",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)},
        "context": 0,
        "attachment_size_limit": 10485760,
        "data": {
            "id": "910000000000000001",
            "name": command,
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": sub_options}],
        },
    }


def guild() -> dict[str, Any]:
    """A ``GUILD_CREATE`` for the test guild (what the gateway sends at start with the guilds intent)."""
    return {
        "id": str(GUILD_ID), "name": "연구실", "icon": None, "owner_id": "600000000000000001", "roles": [],
        "emojis": [], "stickers": [], "features": [], "channels": [], "threads": [], "members": [],
        "voice_states": [], "presences": [], "unavailable": False, "member_count": 3, "premium_tier": 0,
        "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
        "system_channel_flags": 0, "nsfw_level": 0, "afk_timeout": 300, "preferred_locale": "ko", "large": False,
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "stage_instances": [], "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }  # fmt: skip


def reaction(
    *, added: bool, user_id: int, channel_id: int, message_id: int | str, emoji: str = "👍",
    with_member: bool = True, bot: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """A ``MESSAGE_REACTION_ADD`` / ``MESSAGE_REACTION_REMOVE`` payload for a unicode emoji in a guild."""
    data: dict[str, Any] = {
        "user_id": str(user_id),
        "channel_id": str(channel_id),
        "message_id": str(message_id),
        "guild_id": str(GUILD_ID),
        "emoji": {"id": None, "name": emoji},
        "burst": False,
        "type": 0,
    }
    if added:
        data["burst_colors"] = []
        data["message_author_id"] = "900000000000000001"
        if with_member:
            data["member"] = member(user_id)
            data["member"]["user"]["bot"] = bot
    return data
