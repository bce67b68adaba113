"""Discord on discord.py 2.7: digest posting over REST, the ``/paper`` commands and reaction votes over the gateway.

Only this package imports ``discord`` (an import-linter contract keeps it so).
"""

from __future__ import annotations

from paperbot.platforms.discord.api import DiscordChunkSender, digest_chunks, use_api_base
from paperbot.platforms.discord.invite import REQUIRED_PERMISSIONS, invite_url

__all__ = [
    "REQUIRED_PERMISSIONS",
    "DiscordChunkSender",
    "digest_chunks",
    "invite_url",
    "use_api_base",
]
