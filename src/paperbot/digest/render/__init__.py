"""Renderers: pure functions of a :class:`~paperbot.domain.Digest` for each target."""

from __future__ import annotations

from paperbot.digest.render.common import RenderedMessage
from paperbot.digest.render.console import render_console
from paperbot.digest.render.discord import render_discord
from paperbot.digest.render.markdown import render_markdown
from paperbot.digest.render.slack import render_slack

__all__ = ["RenderedMessage", "render_console", "render_discord", "render_markdown", "render_slack"]
