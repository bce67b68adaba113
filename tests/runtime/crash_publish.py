"""Run ``paperbot digest --to PLATFORM:CHANNEL`` in this process and SIGKILL it around the Nth chunk send.

Used by test_crash_recovery.py as a subprocess: ``python -m tests.runtime.crash_publish MODE PLATFORM N ARGS…``.
MODE ``before``: the chunk is marked ``sending`` in the database, then the process dies before the request.
MODE ``after``: the platform accepted the chunk, then the process dies before the database records it.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def main() -> None:
    mode, platform, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sender: Any
    if platform == "discord":
        from paperbot.platforms.discord.api import DiscordChunkSender as sender
    else:
        from paperbot.platforms.slack.api import SlackChunkSender as sender
    original = sender.send
    calls = [0]

    async def send(self: Any, channel_id: str, chunk: Any, *, key: str) -> str:
        calls[0] += 1
        if calls[0] == nth and mode == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result: str = await original(self, channel_id, chunk, key=key)
        if calls[0] == nth and mode == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    sender.send = send
    from paperbot.cli import main as cli_main

    cli_main(sys.argv[4:])


if __name__ == "__main__":
    main()
