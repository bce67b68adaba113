"""The one error-to-message ladder of ``/paper`` (Discord and Slack both answer through it).

A use case's :class:`~paperbot.service.commands.Reply`, or, when it fails, a short private Korean message:
a refusal or bad input (:class:`CommandError`) shows its own ``user_message``; any other paperbot error shows its
``user_message`` and is logged as a warning; anything else is a bug: logged with its traceback and answered with
:data:`GENERIC_ERROR`. The platform adapters only render the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from paperbot.errors import PaperbotError
from paperbot.service.commands import CommandError, Reply

log = logging.getLogger(__name__)

GENERIC_ERROR = "요청을 처리하지 못했습니다. 잠시 뒤에 다시 해 주세요."


@dataclass(frozen=True, slots=True)
class Answer:
    """What to show: the reply, and whether it reports a failure (failures are always ephemeral)."""

    reply: Reply
    failed: bool = False


def failure(text: str) -> Answer:
    return Answer(Reply(text=text, ephemeral=True), failed=True)


async def answer(run: Callable[[], Awaitable[Reply]], *, command: str = "") -> Answer:
    """Run one command's use case and turn whatever happens into an :class:`Answer`."""
    try:
        return Answer(await run())
    except CommandError as exc:
        return failure(exc.user_message)
    except PaperbotError as exc:
        log.warning("command failed", extra={"command": command, "error": str(exc)})
        return failure(exc.user_message)
    except Exception:
        log.exception("command crashed", extra={"command": command})
        return failure(GENERIC_ERROR)
