"""The one Retry-After parser of the project (pure, stdlib only).

RFC 9110 §10.2.3: ``Retry-After = HTTP-date / delay-seconds``, where delay-seconds is ``1*DIGIT``. A few servers
send a decimal (``1.5``), which is read too; anything else (negative numbers, ``inf``, words) is garbage and reads as
None, so the caller falls back to its own backoff. A date in the past means "now" (0 seconds). Callers cap the value
themselves: what is acceptable to wait differs between a feed fetch and an LLM call.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: ASCII digits only: ``\d`` would take other scripts' digits (``"٣"``), and ``str.isdigit`` takes ``"²"``.
_DELAY_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header value; None when absent or not a delay or HTTP date."""
    if not value:
        return None
    value = value.strip()
    if _DELAY_RE.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 §5.6.7: HTTP dates are always GMT
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
