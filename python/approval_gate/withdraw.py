"""Withdrawing a request nobody will wait for any more (task cancelled, or timed out), so its card
leaves the dashboard and the audit trail says what happened.

Best effort, bounded (2 s), never raises. It runs as a background task so the caller's
``CancelledError`` (or ``ApprovalTimeout``) propagates at once, and it is shielded: cancelling it —
as ``asyncio.run`` does to leftover tasks when the program's main coroutine returns — does not
stop it before its bound, so ``asyncio.run`` waits for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, Literal, TypeVar

from .client import ApprovalsClient
from .errors import ApprovalError
from .records import ApprovalRecord

__all__ = ["WITHDRAW_BOUND_MS", "WithdrawalResult", "WithdrawTarget", "withdraw_request", "start_withdrawal", "wait_for_withdrawals"]

#: The whole withdrawal (finishing an in-flight create, then cancel) takes at most this long.
WITHDRAW_BOUND_MS = 2_000

#: How a withdrawal ended: ``withdrawn`` (the server cancelled it), ``not_pending`` (already
#: decided, expired or cancelled), ``nothing_created`` (no id ever came back), ``failed``
#: (unreachable, timed out, or no cancel endpoint, as on JamJet Cloud).
WithdrawalResult = Literal["withdrawn", "not_pending", "nothing_created", "failed"]

T = TypeVar("T")

# Strong references: the event loop keeps only weak ones to tasks.
_background: set[asyncio.Task[WithdrawalResult]] = set()


@dataclass
class WithdrawTarget:
    """What is known about the request being withdrawn."""

    approval_id: str | None = None
    #: A create still in flight when the wait ended: it may yet return an id to withdraw.
    pending_create: asyncio.Future[ApprovalRecord] | None = None


class _OutOfTime(Exception):
    pass


async def _within(deadline: float, make: Callable[[], Awaitable[T]]) -> T:
    """Runs ``make()`` until ``deadline`` (loop time). A cancellation of the running task does not
    end it early: it is absorbed and ``make()`` is started again, still within the deadline."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    while True:
        if loop.time() >= deadline:
            raise _OutOfTime()
        try:
            async with asyncio.timeout_at(deadline):
                return await make()
        except TimeoutError:
            raise _OutOfTime() from None
        except asyncio.CancelledError:
            if task is None:
                raise
            task.uncancel()


async def withdraw_request(
    client: ApprovalsClient,
    target: WithdrawTarget,
    reason: str,
    *,
    bound_ms: float = WITHDRAW_BOUND_MS,
    timed_out: bool = False,
) -> WithdrawalResult:
    """``POST /v1/approvals/{id}/cancel`` with ``reason`` (and ``timed_out`` when the deadline
    passed) within ``bound_ms``. If the id is not known yet because the create is still in
    flight, waits (within the bound) for it first. Never raises."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_ms / 1000
    pending = target.pending_create
    try:
        approval_id = target.approval_id
        if approval_id is None and pending is not None:
            record = await _created(pending, deadline)
            approval_id = record.id if record is not None else None
        if approval_id is None:
            return "nothing_created"
        known_id = approval_id

        def cancel() -> Awaitable[ApprovalRecord]:
            remaining_ms = max(1.0, (deadline - loop.time()) * 1000)
            return client.cancel(known_id, reason, timed_out=timed_out, request_timeout_ms=remaining_ms)

        await _within(deadline, cancel)
        return "withdrawn"
    except ApprovalError as error:
        # 409: decided meanwhile, nothing pending. Otherwise (unreachable, no cancel endpoint on
        # JamJet) there is nothing more to do here.
        return "not_pending" if error.code == "conflict" else "failed"
    except _OutOfTime:
        return "failed"
    except Exception:  # never let a withdrawal hide the real outcome
        return "failed"


async def _created(pending: asyncio.Future[ApprovalRecord], deadline: float) -> ApprovalRecord | None:
    """The record of an in-flight create, once it arrives (within the deadline; the create is
    stopped when the deadline passes), or None when it failed."""

    async def created() -> ApprovalRecord | None:
        if pending.cancelled():
            return None
        try:
            return await asyncio.shield(pending)
        except ApprovalError:
            return None

    try:
        return await _within(deadline, created)
    except _OutOfTime:
        pending.cancel()
        raise


def start_withdrawal(client: ApprovalsClient, target: WithdrawTarget, reason: str, *, timed_out: bool = False) -> asyncio.Task[WithdrawalResult]:
    """Starts ``withdraw_request`` in the background, then closes ``client``. Returns the task."""

    async def run() -> WithdrawalResult:
        try:
            return await withdraw_request(client, target, reason, timed_out=timed_out)
        finally:
            try:
                await client.aclose()
            except (Exception, asyncio.CancelledError):  # closing must not fail the withdrawal, even when cancelled
                pass

    task = asyncio.get_running_loop().create_task(run(), name="approval-gate withdrawal")
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def wait_for_withdrawals() -> None:
    """Waits until the withdrawals started on this event loop have ended (each is bounded to 2 s).

    ``asyncio.run`` and ``require_approval_sync`` already wait for them before returning; call
    this before leaving a loop some other way (``os._exit``, a loop you stop yourself).
    """
    loop = asyncio.get_running_loop()
    mine = [task for task in _background if task.get_loop() is loop and not task.done()]
    if mine:
        await asyncio.gather(*mine, return_exceptions=True)
