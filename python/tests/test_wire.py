"""What require_approval sends and how it paces itself, against the scripted API: the create,
the immediate first check that is already a ``?wait=30`` long-poll, pacing against a server that
ignores ``wait``, the exact deadline, retries with backoff and ``Retry-After``, three 5xx in a
row, idempotent create retries, and ``integrity_error``.

Timing assertions are lower bounds the client must respect (it waited at least this long) or
generous upper bounds that only a bug could break (seconds instead of the 30 s of a held poll).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from approval_gate import ApprovalError, ApprovalTimeout, require_approval
from fault_server import DROP, HANG, LOSE_ANSWER, Handle, Reply, ScriptedApi
from helpers import options, outcome, run


async def approve_when_held(api: ScriptedApi, count: int = 1) -> str:
    """Waits for the ``count``-th status check to be held open, then approves; returns the id."""
    await api.until(lambda: api.held > 0 and len(api.requests_to("get")) >= count, "a held long-poll")
    approval_id = next(iter(api.approvals))
    api.decide(approval_id, "approve")
    return approval_id


def test_create_sends_the_request_and_the_first_check_is_an_immediate_long_poll(api: ScriptedApi) -> None:
    async def scenario() -> str:
        waiting = asyncio.create_task(require_approval("production_deploy", context={"service": "auth-api"}, **options(api, timeout_ms=3_600_000)))
        approval_id = await approve_when_held(api)
        assert await waiting == approval_id
        return approval_id

    run(scenario())
    create, check = api.requests[0], api.requests[1]
    assert create.route == "create" and create.method == "POST"
    assert create.json == {"action": "production_deploy", "context": {"service": "auth-api"}, "timeout_ms": 3_600_000}
    assert create.headers["authorization"] == "Bearer test-key"
    assert create.headers["content-type"] == "application/json"
    assert create.headers["user-agent"].startswith("approval-gate-python/")
    uuid.UUID(create.headers["idempotency-key"])  # generated once per call
    # No pause between create and the first check, and the first check already long-polls.
    assert check.route == "get" and check.query == {"wait": "30"}
    assert len(api.requests) == 2


def test_long_polls_are_bounded_by_the_remaining_time(api: ScriptedApi) -> None:
    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(api, timeout_ms=10_000)))
        await approve_when_held(api)
        await waiting

    run(scenario())
    wait = float(api.requests_to("get")[0].query["wait"])
    assert 1 < wait <= 10


def test_timeout_ms_sent_to_the_server_is_clamped_to_its_range(api: ScriptedApi) -> None:
    async def scenario() -> None:
        for timeout_ms in (1_200.4, 90 * 24 * 3_600_000):
            waiting = asyncio.create_task(require_approval("deploy", **options(api, timeout_ms=timeout_ms)))
            await api.until(lambda: api.held > 0, "a held poll")
            api.decide(list(api.approvals)[-1], "approve")
            await waiting

    run(scenario())
    assert [request.json["timeout_ms"] for request in api.requests_to("create")] == [1_200, 30 * 24 * 3_600_000]


def test_a_server_that_ignores_wait_is_polled_every_poll_interval(api: ScriptedApi) -> None:
    api.honour_wait = False

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(api, poll_interval_ms=250)))
        await api.request_to("get", 4)
        api.decide(next(iter(api.approvals)), "approve")
        await waiting

    run(scenario())
    gets = api.requests_to("get")
    # The client spaces the starts of its requests by poll_interval_ms. Seen from the server, a
    # request may arrive late (a loaded machine), so the bound that always holds is: request n+1
    # arrives at least an interval after request n-1 was answered (request n started after that).
    spans = [gets[n + 1].received_at - (gets[n - 1].done_at or 0.0) for n in range(1, len(gets) - 1)]
    assert len(spans) >= 2 and all(span >= 0.25 for span in spans), spans


def test_the_deadline_is_exact_even_while_a_request_hangs(api: ScriptedApi) -> None:
    api.script("get", HANG)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        error = await outcome(require_approval("deploy", **options(api, timeout_ms=1_500)))
        elapsed = loop.time() - started
        assert isinstance(error, ApprovalTimeout) and error.cause is None
        assert error.approval_id == "apr_1"
        assert "timed out after 1500 ms" in str(error)
        return elapsed

    elapsed = run(scenario())
    # Not before the deadline, and not after the held request's own 35 s bound either.
    assert 1.5 <= elapsed < 10
    cancel = api.requests_to("cancel")[0]
    assert cancel.approval_id == "apr_1"
    assert cancel.json == {"reason": "no decision within 1500 ms", "timed_out": True}
    assert api.approvals["apr_1"]["status"] == "expired"


def test_retry_after_on_503_is_honoured(api: ScriptedApi) -> None:
    api.script("get", Reply(503, {"error": {"code": "unavailable", "message": "shutting down"}}, headers={"retry-after": "1"}))

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await approve_when_held(api, 2)
        await waiting

    run(scenario())
    first, second = api.requests_to("get")[:2]
    assert first.done_at is not None
    assert second.received_at - first.done_at >= 0.99


def test_retry_after_as_an_http_date_on_429_is_honoured(api: ScriptedApi) -> None:
    stamped: list[float] = []

    async def scripted(request: object, server: ScriptedApi) -> Reply:
        # Second resolution: the date is 1-2 s from now.
        stamped.append(time.monotonic())
        later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
        return Reply(429, {"error": {"code": "rate_limited", "message": "slow down"}}, headers={"retry-after": later})

    api.script("create", Handle(scripted))

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await approve_when_held(api)
        await waiting

    run(scenario())
    first, second = api.requests_to("create")[:2]
    assert second.received_at - stamped[0] >= 0.99
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_a_huge_retry_after_never_outlives_the_deadline(api: ScriptedApi) -> None:
    api.script("get", Reply(503, {"error": {"code": "unavailable", "message": "later"}}, headers={"retry-after": "3600"}))

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        error = await outcome(require_approval("deploy", **options(api, timeout_ms=1_500)))
        assert isinstance(error, ApprovalTimeout) and error.cause is None
        return loop.time() - started

    elapsed = run(scenario())
    assert 1.5 <= elapsed < 10


def test_three_consecutive_5xx_end_the_wait_with_cause_server_error(api: ScriptedApi) -> None:
    failure = Reply(500, {"error": {"code": "internal", "message": "boom"}})
    api.script("get", failure, Reply(502, raw=b"<html>bad gateway</html>", headers={"content-type": "text/html"}), failure)

    async def scenario() -> None:
        error = await outcome(require_approval("deploy", **options(api)))
        assert isinstance(error, ApprovalTimeout)
        assert error.cause == "server_error"
        assert error.approval_id == "apr_1"
        assert "5xx three times in a row" in str(error)

    run(scenario())
    assert len(api.requests_to("get")) == 3
    # Giving up on 5xx is a withdrawal, not a timeout on the server.
    assert api.requests_to("cancel")[0].json == {"reason": "the requester gave up after repeated server errors"}


def test_5xx_that_are_not_consecutive_are_retried(api: ScriptedApi) -> None:
    failure = Reply(500, {"error": {"code": "internal", "message": "boom"}})

    async def pending(request: object, server: ScriptedApi) -> Reply:
        return Reply(200, server.approvals["apr_1"])

    api.script("get", failure, failure, Handle(pending), failure, failure)

    async def scenario() -> str:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await approve_when_held(api, 6)
        return await waiting

    assert run(scenario()) == "apr_1"


def test_three_5xx_on_create_give_up_with_nothing_to_withdraw(api: ScriptedApi) -> None:
    failure = Reply(503, {"error": {"code": "unavailable", "message": "down"}})
    api.script("create", failure, failure, failure)

    async def scenario() -> None:
        error = await outcome(require_approval("deploy", **options(api)))
        assert isinstance(error, ApprovalTimeout) and error.cause == "server_error"
        assert error.approval_id is None

    run(scenario())
    creates = api.requests_to("create")
    assert len(creates) == 3
    assert len({request.headers["idempotency-key"] for request in creates}) == 1
    assert api.requests_to("cancel") == []


def test_network_errors_are_retried_and_a_lost_create_answer_makes_no_second_approval(api: ScriptedApi) -> None:
    api.script("create", DROP, LOSE_ANSWER)
    api.script("get", DROP)

    async def scenario() -> str:
        waiting = asyncio.create_task(require_approval("deploy", **options(api, idempotency_key="run-42-deploy")))
        await approve_when_held(api, 2)
        return await waiting

    assert run(scenario()) == "apr_1"
    creates = api.requests_to("create")
    assert len(creates) == 3
    assert {request.headers["idempotency-key"] for request in creates} == {"run-42-deploy"}
    assert list(api.approvals) == ["apr_1"]


def test_rate_limiting_is_retried_until_the_deadline(api: ScriptedApi) -> None:
    limited = Reply(429, {"error": {"code": "rate_limited", "message": "slow down"}})
    api.script("get", *[limited] * 200)

    async def scenario() -> None:
        error = await outcome(require_approval("deploy", **options(api, timeout_ms=2_000)))
        assert isinstance(error, ApprovalTimeout) and error.cause is None

    run(scenario())
    assert len(api.requests_to("get")) >= 2


def test_integrity_error_is_an_approval_error_never_an_approval_and_not_retried(api: ScriptedApi) -> None:
    async def approved_but_unverifiable(request: object, server: ScriptedApi) -> Reply:
        server.approvals["apr_1"].update(status="approved")
        return Reply(500, {"error": {"code": "integrity_error", "message": "the decision event of apr_1 does not verify"}})

    api.script("get", Handle(approved_but_unverifiable))

    async def scenario() -> None:
        error = await outcome(require_approval("deploy", **options(api)))
        assert isinstance(error, ApprovalError)
        assert error.code == "integrity_error"
        assert error.status == 500
        assert "does not verify" in str(error)

    run(scenario())
    assert len(api.requests_to("get")) == 1


def test_integrity_error_on_create_too(api: ScriptedApi) -> None:
    api.script("create", Reply(500, {"error": {"code": "integrity_error", "message": "chain broken"}}))

    async def scenario() -> None:
        error = await outcome(require_approval("deploy", **options(api)))
        assert isinstance(error, ApprovalError) and error.code == "integrity_error"

    run(scenario())
    assert len(api.requests_to("create")) == 1


def test_retry_backoff_grows_but_stays_within_its_cap(api: ScriptedApi) -> None:
    """Network errors back off with full jitter: never longer than 250 ms · 2^(n-1) per retry."""
    api.script("get", DROP, DROP, DROP, DROP)

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await approve_when_held(api, 5)
        await waiting

    run(scenario())
    gets = api.requests_to("get")
    assert len(gets) == 5
    for attempt, (earlier, later) in enumerate(zip(gets, gets[1:]), start=1):
        assert earlier.done_at is not None
        # Upper bound of the jittered delay plus generous slack for a loaded machine.
        assert later.received_at - earlier.done_at < 0.25 * 2 ** (attempt - 1) + 5
    assert re.fullmatch(r"\d+(\.\d+)?", gets[-1].query["wait"])
