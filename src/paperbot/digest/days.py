"""Which Hugging Face day a digest covers.

The HF Daily Papers day is a UTC date that fills mostly between 00:00 and 03:00 UTC and keeps growing after.
A digest read in the morning in Asia/Seoul (09:00 KST = 00:00 UTC) covers the UTC day that has just ended.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def covered_day(now: datetime, timezone: str = "Asia/Seoul") -> date:
    """The latest complete HF day as of ``now``: the day before today's local date in ``timezone``."""
    if now.tzinfo is None:
        raise ValueError("covered_day needs an aware datetime")
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)
