"""Cancelling the waiting task: CancelledError propagates at once, whatever the wait is doing, and
the request is withdrawn in the background — bounded to 2 s, and shielded from the cancellation
``asyncio.run`` applies to leftover tasks when a program ends.

The "at once" checks are structural: the caller's task has finished while the server still holds
the withdrawal (or the create it waits for) unanswered."""

from __future__ import annotations

import asyncio
import threading

import pytest

from approval_gate import ApprovalTimeout, require_approval, wait_for_withdrawals
from fault_server import HANG, Handle, Reply, Request, ScriptedApi
from helpers import options, run


async def cancelled(task: asyncio.Task[str]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_cancel_during_the_long_poll_withdraws_the_request(api: ScriptedApi) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(require_approval("risky_operation", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        await cancelled(task)
        await wait_for_withdrawals()

    run(scenario())
    cancel = api.requests_to("cancel")[0]
    assert cancel.approval_id == "apr_1"
    assert cancel.json == {"reason": "the requester cancelled the wait"}
    assert api.approvals["apr_1"]["status"] == "cancelled"


def test_cancelled_error_does_not_wait_for_the_withdrawal(api: ScriptedApi) -> None:
    """The server holds the withdrawal unanswered; the caller is already done."""
    release = threading.Event()

    async def slow_cancel(request: Request, server: ScriptedApi) -> Reply:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return await server.normal(request)

    api.script("cancel", Handle(slow_cancel))

    async def scenario() -> None:
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        await cancelled(task)
        # The caller has its CancelledError; the withdrawal has not been answered (it may not even
        # have been sent yet).
        assert all(request.done_at is None for request in api.requests_to("cancel"))
        cancel = await api.request_to("cancel")
        assert cancel.done_at is None
        release.set()
        await wait_for_withdrawals()

    run(scenario())
    assert api.approvals["apr_1"]["status"] == "cancelled"


def test_a_withdrawal_that_gets_no_answer_gives_up_after_its_bound(api: ScriptedApi) -> None:
    api.script("cancel", HANG)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        await cancelled(task)
        started = loop.time()
        await wait_for_withdrawals()
        return loop.time() - started

    waited = run(scenario())
    assert waited < 10  # bounded (2 s), with room for a loaded machine
    cancel = api.requests_to("cancel")[0]
    api.wait_for(lambda: cancel.done_at is not None, "the client to give up the hanging withdrawal")


def test_cancel_while_the_create_is_in_flight_withdraws_once_the_id_arrives(api: ScriptedApi) -> None:
    release = threading.Event()

    async def slow_create(request: Request, server: ScriptedApi) -> Reply:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return await server.normal(request)

    api.script("create", Handle(slow_create))

    async def scenario() -> None:
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.request_to("create")
        await cancelled(task)  # at once, with the create still unanswered
        assert api.approvals == {}
        release.set()
        await wait_for_withdrawals()

    run(scenario())
    assert api.requests_to("cancel")[0].approval_id == "apr_1"
    assert api.approvals["apr_1"]["status"] == "cancelled"
    assert api.requests_to("get") == []


def test_a_create_that_never_answers_is_abandoned_within_the_bound(api: ScriptedApi) -> None:
    api.script("create", HANG)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.request_to("create")
        await cancelled(task)
        started = loop.time()
        await wait_for_withdrawals()
        return loop.time() - started

    assert run(scenario()) < 10
    create = api.requests_to("create")[0]
    api.wait_for(lambda: create.done_at is not None, "the abandoned create's connection to close")
    assert api.requests_to("cancel") == []


def test_cancel_during_a_retry_sleep_is_immediate(api: ScriptedApi) -> None:
    api.script("get", Reply(503, {"error": {"code": "unavailable", "message": "later"}}, headers={"retry-after": "60"}))

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        first = await api.request_to("get")
        await api.until(lambda: first.done_at is not None, "the 503 to be answered")
        await asyncio.sleep(0.05)
        started = loop.time()
        await cancelled(task)
        elapsed = loop.time() - started
        await wait_for_withdrawals()
        return elapsed

    assert run(scenario()) < 5  # not the 60 s the server asked for
    assert api.approvals["apr_1"]["status"] == "cancelled"


def test_a_withdrawal_survives_asyncio_run_ending(api: ScriptedApi) -> None:
    """The program returns right after cancelling: asyncio.run cancels the leftover withdrawal
    mid-request, and it still completes (shielded, within its bound) before asyncio.run returns.

    The first withdrawal request is never answered, so only a withdrawal that outlives
    asyncio.run's cancellation (and tries again) can leave the approval cancelled."""
    api.script("cancel", HANG)

    async def program() -> None:
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        await api.until(lambda: len(api.requests_to("get")) >= 1, "a status check")
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        # Wait until the withdrawal is on the wire, then end the program without awaiting it.
        await api.request_to("cancel")

    asyncio.run(program())
    # By the time asyncio.run has returned the withdrawal was answered.
    assert api.approvals["apr_1"]["status"] == "cancelled"
    assert len(api.requests_to("cancel")) == 2


def test_timeout_withdraws_with_timed_out(api: ScriptedApi) -> None:
    api.honour_wait = False

    async def scenario() -> None:
        try:
            await require_approval("deploy", **options(api, timeout_ms=1_000, poll_interval_ms=100))
        except ApprovalTimeout as error:
            assert error.cause is None
            await wait_for_withdrawals()
        else:
            raise AssertionError("expected a timeout")

    run(scenario())
    assert api.requests_to("cancel")[0].json == {"reason": "no decision within 1000 ms", "timed_out": True}
    assert api.approvals["apr_1"]["status"] == "expired"


def test_a_task_cancelled_before_it_starts_sends_nothing(api: ScriptedApi) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(require_approval("deploy", **options(api)))
        await cancelled(task)
        await wait_for_withdrawals()
        await asyncio.sleep(0.1)

    run(scenario())
    assert api.requests == []


def test_several_cancellations_do_not_leak_connections_or_break_later_calls(api: ScriptedApi) -> None:
    async def scenario() -> None:
        for _ in range(5):
            task = asyncio.create_task(require_approval("deploy", **options(api)))
            await api.until(lambda: api.held > 0, "a held poll")
            await cancelled(task)
            await wait_for_withdrawals()
            await api.until(lambda: api.held == 0, "the abandoned poll to end")
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        api.decide(list(api.approvals)[-1], "approve")
        assert await waiting == "apr_6"

    run(scenario())
    assert [record["status"] for record in api.approvals.values()] == ["cancelled"] * 5 + ["approved"]
