"""How long to wait before retrying: capped exponential backoff with full jitter (so many clients
failing together do not retry in lockstep), and the server's ``Retry-After``. Same numbers as the
TypeScript core."""

from __future__ import annotations

import random as _random
import re
import time
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Callable

__all__ = [
    "BACKOFF_BASE_MS",
    "BACKOFF_CAP_MS",
    "MAX_RETRY_AFTER_MS",
    "MAX_CONSECUTIVE_SERVER_ERRORS",
    "backoff_delay",
    "retry_delay",
    "parse_retry_after",
]

BACKOFF_BASE_MS = 250
BACKOFF_CAP_MS = 15_000
#: Longest ``Retry-After`` honoured: after this long we look again, so a confused or hostile server
#: cannot make the wait sleep past every decision until its deadline.
MAX_RETRY_AFTER_MS = 60_000
#: Consecutive 5xx answers after which the wait ends with ``ApprovalTimeout`` cause ``server_error``.
MAX_CONSECUTIVE_SERVER_ERRORS = 3

_DELAY_SECONDS = re.compile(r"^\d+(\.\d+)?$")
_HAS_WORD = re.compile(r"[a-z]{3}", re.IGNORECASE)


def backoff_delay(
    attempt: int,
    random: Callable[[], float] = _random.random,
    base_ms: int = BACKOFF_BASE_MS,
    cap_ms: int = BACKOFF_CAP_MS,
) -> int:
    """Delay (ms) before retry number ``attempt`` (1 for the first): uniform in ``[0, min(cap, base * 2^(attempt-1))]``."""
    ceiling = min(cap_ms, base_ms * 2 ** max(0, min(attempt - 1, 30)))
    return int(random() * ceiling)


def retry_delay(attempt: int, retry_after_ms: int | None = None, random: Callable[[], float] = _random.random) -> int:
    """The server's ``Retry-After`` (capped at ``MAX_RETRY_AFTER_MS``), but never shorter than the
    backoff, so ``Retry-After: 0`` or a date in the past cannot make a tight request loop."""
    return max(backoff_delay(attempt, random), min(retry_after_ms or 0, MAX_RETRY_AFTER_MS))


def parse_retry_after(header: str | None, now: float | None = None) -> int | None:
    """Parses ``Retry-After``: delay-seconds (decimals tolerated) or an HTTP-date.

    Returns milliseconds from ``now`` (epoch seconds; default the current time), never negative,
    or ``None`` when absent or unreadable.
    """
    value = (header or "").strip()
    if not value:
        return None
    if _DELAY_SECONDS.match(value):
        return round(float(value) * 1000)
    if not _HAS_WORD.search(value):
        return None
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:  # HTTP dates are GMT even when the zone is left off
        at = at.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0, round((at.timestamp() - current) * 1000))
