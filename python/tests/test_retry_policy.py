"""The retry policy's numbers: the same as the TypeScript core's."""

from __future__ import annotations

from approval_gate.retry_policy import (
    BACKOFF_CAP_MS,
    MAX_CONSECUTIVE_SERVER_ERRORS,
    MAX_RETRY_AFTER_MS,
    backoff_delay,
    parse_retry_after,
    retry_delay,
)


def test_backoff_is_full_jitter_doubling_to_a_cap() -> None:
    top = lambda: 0.999999  # noqa: E731
    assert [backoff_delay(n, top) for n in (1, 2, 3, 4)] == [249, 499, 999, 1999]
    assert backoff_delay(30, top) == BACKOFF_CAP_MS - 1
    assert backoff_delay(10_000, top) == BACKOFF_CAP_MS - 1
    assert backoff_delay(3, lambda: 0.0) == 0


def test_retry_after_wins_but_is_capped_and_never_below_the_backoff() -> None:
    half = lambda: 0.5  # noqa: E731
    assert retry_delay(1, 2_000, half) == 2_000
    assert retry_delay(1, 3_600_000, half) == MAX_RETRY_AFTER_MS
    assert retry_delay(3, 0, half) == 500
    assert retry_delay(3, None, half) == 500
    assert MAX_CONSECUTIVE_SERVER_ERRORS == 3


def test_retry_after_parsing() -> None:
    now = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after("120", now) == 120_000
    assert parse_retry_after(" 1.5 ", now) == 1_500
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30_000
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0  # in the past
    for unreadable in (None, "", "-5", "soon", "1e3", "tomorrow-ish words"):
        assert parse_retry_after(unreadable, now) is None
