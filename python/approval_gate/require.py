"""``require_approval``: ask a person, wait for the decision.

Creates the approval (idempotently), checks it at once, then long-polls (``?wait=30``) so a
decision resumes the caller within milliseconds; spaces requests by ``poll_interval_ms`` when the
server ignores ``wait`` (JamJet Cloud). The deadline is exact, transient failures are retried,
and an abandoned request (task cancelled, or timed out) is withdrawn in the background.
Same behaviour as the TypeScript core's ``requireApproval``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, NoReturn

from .client import DEFAULT_REQUEST_TIMEOUT_MS, LONG_POLL_MARGIN_MS, ApprovalsClient
from .config import DEFAULT_POLL_INTERVAL_MS, DEFAULT_TIMEOUT_MS, ResolvedOptions, resolve_options
from .errors import ApprovalError, ApprovalRejected, ApprovalTimeout
from .records import ApprovalRecord
from .retry_policy import MAX_CONSECUTIVE_SERVER_ERRORS, retry_delay
from .withdraw import WithdrawTarget, start_withdrawal, wait_for_withdrawals

__all__ = ["LONG_POLL_SECONDS", "require_approval", "request_approval", "require_approval_sync"]

#: INFO records: the approval's link once created, and each retry. Never the key.
logger = logging.getLogger("approval_gate")

#: Longest ``?wait=`` we ask for: 120 requests per waited hour, well under proxies' idle limits.
LONG_POLL_SECONDS = 30


async def require_approval(
    action: str,
    *,
    context: dict[str, Any] | None = None,
    timeout_ms: float = DEFAULT_TIMEOUT_MS,
    poll_interval_ms: float = DEFAULT_POLL_INTERVAL_MS,
    api_url: str | None = None,
    api_key: str | None = None,
    agent: str | None = None,
    idempotency_key: str | None = None,
) -> str:
    """Asks for approval of ``action`` and waits for the decision; returns the approval id.

    Raises ``ApprovalRejected`` (``.reason``, ``.approval_id``), ``ApprovalTimeout`` (deadline
    passed; ``.cause`` ``'expired'`` when the server expired it, ``'server_error'`` after three 5xx
    in a row), or ``ApprovalError`` (bad arguments, auth, 4xx, malformed answers, withdrawn on the
    server; see ``.code``). Cancelling the task raises ``CancelledError`` at once and withdraws
    the request in the background.
    """
    record = await request_approval(
        action,
        context=context,
        timeout_ms=timeout_ms,
        poll_interval_ms=poll_interval_ms,
        api_url=api_url,
        api_key=api_key,
        agent=agent,
        idempotency_key=idempotency_key,
    )
    return record.id


async def request_approval(
    action: str,
    *,
    context: dict[str, Any] | None = None,
    timeout_ms: float = DEFAULT_TIMEOUT_MS,
    poll_interval_ms: float = DEFAULT_POLL_INTERVAL_MS,
    api_url: str | None = None,
    api_key: str | None = None,
    agent: str | None = None,
    idempotency_key: str | None = None,
) -> ApprovalRecord:
    """Same as ``require_approval``, but returns the approved record (``decided_by``, ``reason``,
    ``url``, timestamps), for callers that report on the decision."""
    options = resolve_options(
        action,
        context=context,
        timeout_ms=timeout_ms,
        poll_interval_ms=poll_interval_ms,
        api_url=api_url,
        api_key=api_key,
        agent=agent,
        idempotency_key=idempotency_key,
    )
    client = ApprovalsClient._for_connection(options.connection)
    target = WithdrawTarget()
    withdrawing = False
    try:
        return await _Wait(client, options, target).run()
    except asyncio.CancelledError:
        # Propagates at once; the withdrawal runs alongside (bounded, shielded) and closes the client.
        start_withdrawal(client, target, "the requester cancelled the wait")
        withdrawing = True
        raise
    except ApprovalTimeout as error:
        if error.cause != "expired":
            reason = (
                "the requester gave up after repeated server errors"
                if error.cause == "server_error"
                else f"no decision within {_ms(options.timeout_ms)} ms"
            )
            # Only a passed deadline is a timeout on the server too; giving up on 5xx is a withdrawal.
            start_withdrawal(client, target, reason, timed_out=error.cause is None)
            withdrawing = True
        raise
    finally:
        if not withdrawing:
            await client.aclose()


def require_approval_sync(
    action: str,
    *,
    context: dict[str, Any] | None = None,
    timeout_ms: float = DEFAULT_TIMEOUT_MS,
    poll_interval_ms: float = DEFAULT_POLL_INTERVAL_MS,
    api_url: str | None = None,
    api_key: str | None = None,
    agent: str | None = None,
    idempotency_key: str | None = None,
) -> str:
    """``require_approval`` for synchronous code (scripts): runs it on a fresh event loop.

    Ctrl-C (``KeyboardInterrupt``) withdraws the request before it propagates (within 2 s), as a
    timeout does. Raises ``ApprovalError('invalid_config')`` when called inside a running event
    loop: ``await require_approval(...)`` there.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ApprovalError("invalid_config", "require_approval_sync cannot run inside a running event loop: use `await require_approval(...)` there")

    async def main() -> str:
        try:
            return await require_approval(
                action,
                context=context,
                timeout_ms=timeout_ms,
                poll_interval_ms=poll_interval_ms,
                api_url=api_url,
                api_key=api_key,
                agent=agent,
                idempotency_key=idempotency_key,
            )
        finally:
            await wait_for_withdrawals()

    return asyncio.run(main())


def _ms(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _Wait:
    """The create-then-wait loop of one call. Ends at the deadline or on a non-pending status."""

    def __init__(self, client: ApprovalsClient, options: ResolvedOptions, target: WithdrawTarget) -> None:
        self.client = client
        self.options = options
        self.target = target
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + options.timeout_ms / 1000
        self.retries = 0
        self.server_errors = 0

    def remaining_ms(self) -> float:
        return (self.deadline - self.loop.time()) * 1000

    def check_time(self) -> None:
        """Raises ``ApprovalTimeout`` once the deadline has passed."""
        if self.remaining_ms() <= 0:
            raise ApprovalTimeout(self.options.timeout_ms, self.target.approval_id)

    async def pause(self, ms: float) -> None:
        """Sleeps, but never past the deadline."""
        await asyncio.sleep(max(0.0, min(ms, self.remaining_ms())) / 1000)
        self.check_time()

    async def recover(self, error: ApprovalError) -> None:
        """Transient failures wait and return (the caller retries); anything else is raised."""
        self.check_time()
        if error.code == "server_error":
            self.server_errors += 1
            if self.server_errors >= MAX_CONSECUTIVE_SERVER_ERRORS:
                raise ApprovalTimeout(self.options.timeout_ms, self.target.approval_id, "server_error")
        elif error.code not in ("rate_limited", "network_error"):
            raise error
        self.retries += 1
        delay_ms = max(0, min(retry_delay(self.retries, error.retry_after_ms), self.remaining_ms()))
        logger.info("Retrying in %d ms (attempt %d): %s", delay_ms, self.retries, error.message)
        await self.pause(delay_ms)

    def succeeded(self) -> None:
        self.retries = 0
        self.server_errors = 0

    async def create(self) -> ApprovalRecord:
        """Creates the approval, retrying transient failures with the same Idempotency-Key: never two."""
        options = self.options
        idempotency_key = options.idempotency_key or str(uuid.uuid4())
        while True:
            self.check_time()
            # Its own task: a cancellation of the caller does not cut it off, so the withdrawal
            # can still learn the id from it (within its bound).
            creating = asyncio.ensure_future(
                self.client.create(
                    options.action,
                    context=options.context,
                    agent=options.agent,
                    idempotency_key=idempotency_key,
                    timeout_ms=options.timeout_ms,
                    request_timeout_ms=min(DEFAULT_REQUEST_TIMEOUT_MS, self.remaining_ms()),
                )
            )
            creating.add_done_callback(_retrieve)
            self.target.pending_create = creating
            try:
                record = await asyncio.shield(creating)
            except ApprovalError as error:
                self.target.pending_create = None
                await self.recover(error)
                continue
            self.target.approval_id = record.id
            self.target.pending_create = None
            self.succeeded()
            return record

    async def run(self) -> ApprovalRecord:
        record = await self.create()
        self.check_time()
        approval_id = record.id
        logger.info("Waiting for a decision on %s (%s): %s", self.options.action, approval_id, record.url or "no link given")
        # Check at once, then long-poll; pace ourselves when the server answers early.
        while True:
            if record.status != "pending":
                return self.settle(record)
            self.check_time()
            wait_seconds = min(LONG_POLL_SECONDS, self.remaining_ms() / 1000)
            started = self.loop.time()
            try:
                record = await self.client.get(
                    approval_id,
                    wait_seconds=wait_seconds,
                    action=self.options.action,
                    request_timeout_ms=min(wait_seconds * 1000 + LONG_POLL_MARGIN_MS, self.remaining_ms()),
                )
                self.succeeded()
            except ApprovalError as error:
                await self.recover(error)
                continue
            if record.status != "pending":
                continue
            self.check_time()
            # A pending answer well before the asked wait means the server does not long-poll:
            # space request starts by poll_interval_ms instead of hammering it.
            took_ms = (self.loop.time() - started) * 1000
            if took_ms < wait_seconds * 1000 / 2:
                await self.pause(self.options.poll_interval_ms - took_ms)

    def settle(self, record: ApprovalRecord) -> ApprovalRecord:
        """Turns a non-pending record into the call's outcome."""
        if record.status == "approved":
            return record
        redact = self.client.redact
        shown = self.client.redact_record(record)  # what goes on an error never carries the key
        if record.status == "rejected":
            raise ApprovalRejected(record.id, shown.reason or None, shown.decided_by or None, shown)
        if record.status == "expired":
            raise ApprovalTimeout(self.options.timeout_ms, record.id, "expired")
        if record.status == "cancelled":
            by = f" by {record.decided_by}" if record.decided_by else ""
            note = f": {record.reason}" if record.reason else ""
            raise ApprovalError("cancelled", redact(f"Approval {record.id} was withdrawn on the server{by}{note}"), approval_id=record.id)
        _unknown(record)


def _unknown(record: ApprovalRecord) -> NoReturn:
    raise ApprovalError("unknown_status", f'Approval {record.id} has status "{record.status}", which this client does not know', approval_id=record.id)


def _retrieve(task: asyncio.Future[ApprovalRecord]) -> None:
    """Marks a create's exception as seen (the wait or the withdrawal handles it, or nobody needs to)."""
    if not task.cancelled():
        task.exception()
