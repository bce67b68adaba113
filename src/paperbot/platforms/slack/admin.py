"""Who may run the admin commands on Slack: a workspace admin or owner right now (``users.info`` at the time of
the command), or a user id on the configured allow list (``PAPERBOT_SLACK_ADMIN_USERS``)."""

from __future__ import annotations

import logging
from collections.abc import Collection

from slack_sdk.web.async_client import AsyncWebClient

from paperbot.platforms.slack.api import call_with_retry
from paperbot.platforms.slack.votes import SLACK_ERRORS

log = logging.getLogger(__name__)

ADMIN_ONLY = "이 명령은 워크스페이스 관리자(또는 설정된 관리자 목록)만 쓸 수 있습니다."


class AdminCheck:
    """``await check(user_id)``: True for an admin; a lookup that fails is "not an admin" (logged)."""

    def __init__(self, client: AsyncWebClient, allow: Collection[str] = ()) -> None:
        self.client = client
        self.allow = frozenset(allow)

    async def __call__(self, user_id: str) -> bool:
        if not user_id:
            return False
        if user_id in self.allow:
            return True
        try:
            response = await call_with_retry(lambda: self.client.users_info(user=user_id), max_retries=2, max_wait=5)
        except SLACK_ERRORS as exc:
            log.warning("cannot check admin", extra={"error": f"{type(exc).__name__}: {exc}"})
            return False
        user = response.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return False
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
