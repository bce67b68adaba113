"""The one exception tree of paperbot.

Adapters wrap foreign exceptions (httpx, SQLAlchemy, platform SDKs) into these, so the layers above handle a
small, known set. ``user_message`` is the short Korean text a user may see; ``str(exc)`` is for logs.
"""

from __future__ import annotations


class PaperbotError(Exception):
    """Base of every error paperbot raises on purpose."""

    user_message: str = "요청을 처리하지 못했습니다."

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        if user_message is not None:
            self.user_message = user_message


class ConfigError(PaperbotError):
    """A setting or the configuration file is wrong. ``key`` names the offending setting."""

    user_message = "설정이 올바르지 않습니다."

    def __init__(self, message: str, *, key: str | None = None, user_message: str | None = None) -> None:
        super().__init__(message, user_message=user_message)
        self.key = key


class SourceError(PaperbotError):
    """A source could not be fetched."""

    user_message = "자료를 가져오지 못했습니다."


class ParseError(SourceError):
    """A fetched document could not be understood (layout drift, garbage, wrong format)."""

    user_message = "가져온 자료의 형식을 해석하지 못했습니다."


class SummarizeError(PaperbotError):
    """A summariser failed or produced output that did not pass validation."""

    user_message = "요약을 만들지 못했습니다."


class StoreError(PaperbotError):
    """The database failed or is not in the expected state."""

    user_message = "데이터베이스 작업에 실패했습니다."


class DeliveryError(PaperbotError):
    """A message could not be delivered to a platform."""

    user_message = "메시지를 보내지 못했습니다."
