"""Slack on slack-bolt's AsyncApp: digest posting over the Web API, ``/paper`` and reaction votes.

Only this package imports ``slack_bolt`` / ``slack_sdk`` (an import-linter contract keeps it so). The app itself
(:mod:`paperbot.platforms.slack.app`) is imported only by whoever runs it.
"""

from __future__ import annotations

from paperbot.platforms.slack.api import (
    EVENT_TYPE,
    ChannelPacer,
    SlackChunkSender,
    digest_chunks,
    make_web_client,
)

__all__ = ["EVENT_TYPE", "ChannelPacer", "SlackChunkSender", "digest_chunks", "make_web_client"]
