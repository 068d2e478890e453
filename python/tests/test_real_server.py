"""The Python client against the real server (``approval-gate serve``, started by the fixture):
each way a wait ends, withdrawal on cancel and timeout, idempotency, the agent scope, the sync
call, and the ApprovalsClient. Decisions are made over the API the way the dashboard makes them."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import approval_gate
from approval_gate import (
    ApprovalError,
    ApprovalRejected,
    ApprovalsClient,
    ApprovalTimeout,
    agent,
    request_approval,
    require_approval,
    require_approval_sync,
)
from approval_gate.errors import JamjetApprovalRejected, JamjetApprovalTimeout
from helpers import clean_env, outcome, run, unique
from real_server import RealServer

PYTHON_DIR = Path(__file__).resolve().parents[1]


def connect(server: RealServer) -> dict[str, Any]:
    return {"api_url": server.url, "api_key": server.request_key}


def test_approve_resumes_with_the_approval_id(real_server: RealServer) -> None:
    action = unique()

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval(action, context={"service": "auth-api", "version": "2.3.1"}, **connect(real_server)))
        pending = await real_server.pending(action)
        assert pending["context"] == {"service": "auth-api", "version": "2.3.1"}
        assert await real_server.decide(pending["id"], "approve", "looks good") == 200
        assert await waiting == pending["id"]
        events = [event["type"] for event in await real_server.audit_of(pending["id"])]
        assert events == ["created", "approved"]

    run(scenario())


def test_request_approval_returns_the_decided_record(real_server: RealServer) -> None:
    action = unique()

    async def scenario() -> None:
        waiting = asyncio.create_task(request_approval(action, **connect(real_server)))
        pending = await real_server.pending(action)
        await real_server.decide(pending["id"], "approve", "checked the diff")
        record = await waiting
        assert record.id == pending["id"]
        assert record.status == "approved"
        assert record.action == action
        assert record.reason == "checked the diff"
        assert record.decided_by  # the decide key's label
        assert record.url and record.id in record.url

    run(scenario())


def test_reject_raises_approval_rejected_with_the_reason(real_server: RealServer) -> None:
    action = unique()

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval(action, **connect(real_server)))
        pending = await real_server.pending(action)
        await real_server.decide(pending["id"], "reject", "not on a Friday")
        error = await outcome(waiting)
        assert isinstance(error, ApprovalRejected)
        assert isinstance(error, JamjetApprovalRejected)
        assert error.reason == "not on a Friday"
        assert error.approval_id == pending["id"]
        assert error.decided_by
        assert "not on a Friday" in str(error)

    run(scenario())


def test_timeout_raises_and_the_trail_says_timed_out(real_server: RealServer) -> None:
    action = unique()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        error = await outcome(require_approval(action, timeout_ms=1_500, **connect(real_server)))
        elapsed = loop.time() - started
        assert isinstance(error, ApprovalTimeout) and isinstance(error, JamjetApprovalTimeout)
        # The client's deadline and the server's expiry (timeout_ms is sent on create) land within
        # milliseconds of each other: whichever is first, the wait ends as a timeout...
        assert error.cause in (None, "expired")
        assert elapsed >= 1.5
        assert error.approval_id
        await approval_gate.wait_for_withdrawals()
        # ...and the trail says timed_out, with nothing left pending.
        event = await real_server.audit_event(error.approval_id, "timed_out")
        assert event["action"] == action
        assert (await real_server.get(error.approval_id))["status"] == "expired"

    run(scenario())


def test_cancelling_the_task_raises_at_once_and_withdraws_the_request(real_server: RealServer) -> None:
    action = unique()

    async def scenario() -> None:
        task = asyncio.create_task(require_approval(action, context={"details": "mass account update"}, **connect(real_server)))
        pending = await real_server.pending(action)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        event = await real_server.audit_event(pending["id"], "cancelled")
        assert event["reason"] == "the requester cancelled the wait"
        assert (await real_server.get(pending["id"]))["status"] == "cancelled"

    run(scenario())


def test_a_withdrawal_left_running_finishes_before_asyncio_run_returns(real_server: RealServer) -> None:
    """The seed's cancellation example ends its program right after the cancel: asyncio.run cancels
    leftover tasks, and the withdrawal must still reach the server."""
    action = unique()
    seen: dict[str, str] = {}

    async def scenario() -> None:
        task = asyncio.create_task(require_approval(action, **connect(real_server)))
        seen["id"] = (await real_server.pending(action))["id"]
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        # Return at once: no wait_for_withdrawals() here.

    asyncio.run(scenario())

    async def check() -> None:
        await real_server.audit_event(seen["id"], "cancelled")

    run(check())


def test_the_same_idempotency_key_gives_one_approval_and_one_decision(real_server: RealServer) -> None:
    action = unique()
    key = f"idem-{action}"

    async def scenario() -> None:
        first = asyncio.create_task(require_approval(action, idempotency_key=key, **connect(real_server)))
        pending = await real_server.pending(action)
        second = asyncio.create_task(require_approval(action, idempotency_key=key, **connect(real_server)))
        await asyncio.sleep(0)
        await real_server.decide(pending["id"], "approve")
        assert await first == pending["id"]
        # Whether its create came before the decision (then it waited on the same approval) or
        # after (then it got the decided record back), the second call resolves with the same id.
        assert await second == pending["id"]
        async with ApprovalsClient(real_server.url, real_server.request_key) as client:
            assert [item.id for item in (await client.list(action=action)).items] == [pending["id"]]

    run(scenario())


def test_the_agent_scope_names_the_agent_on_the_card(real_server: RealServer) -> None:
    async def scenario() -> None:
        scoped, nested, explicit, outside = unique("scoped"), unique("nested"), unique("explicit"), unique("outside")
        with agent("billing-agent"):
            await asyncio.sleep(0)  # across an await
            tasks = [asyncio.create_task(require_approval(scoped, **connect(real_server)))]  # in a task created inside
            with agent("refund-agent"):
                tasks.append(asyncio.create_task(require_approval(nested, **connect(real_server))))
            tasks.append(asyncio.create_task(require_approval(explicit, agent="deploy-bot", **connect(real_server))))
        tasks.append(asyncio.create_task(require_approval(outside, **connect(real_server))))
        agents = {}
        for action in (scoped, nested, explicit, outside):
            pending = await real_server.pending(action)
            agents[action] = pending["agent"]
            await real_server.decide(pending["id"], "approve")
        await asyncio.gather(*tasks)
        assert agents == {scoped: "billing-agent", nested: "refund-agent", explicit: "deploy-bot", outside: None}

    run(scenario())


def test_require_approval_sync_for_scripts(real_server: RealServer) -> None:
    action = unique()
    decided: dict[str, str] = {}

    def approver() -> None:
        async def decide() -> None:
            pending = await real_server.pending(action)
            decided["id"] = pending["id"]
            await real_server.decide(pending["id"], "approve")

        asyncio.run(decide())

    thread = threading.Thread(target=approver)
    thread.start()
    try:
        approval_id = require_approval_sync(action, timeout_ms=60_000, **connect(real_server))
    finally:
        thread.join(60)
    assert approval_id == decided["id"]


def test_require_approval_sync_times_out_and_withdraws(real_server: RealServer) -> None:
    action = unique()
    with pytest.raises(ApprovalTimeout) as caught:
        require_approval_sync(action, timeout_ms=1_200, **connect(real_server))
    approval_id = caught.value.approval_id
    assert approval_id
    # require_approval_sync waits for the withdrawal before returning: the record is final now.
    record = run(real_server.get(approval_id))
    assert record["status"] == "expired"


def test_ctrl_c_in_a_sync_script_withdraws_the_request(real_server: RealServer) -> None:
    """Ctrl-C (SIGINT) on ``require_approval_sync`` in a real process: KeyboardInterrupt, and the
    request is withdrawn before the process exits."""
    action = unique()
    script = textwrap.dedent(
        f"""
        import approval_gate
        try:
            approval_gate.require_approval_sync({action!r})
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise SystemExit(130)
        """
    )
    env = clean_env(
        APPROVAL_GATE_API_URL=real_server.url,
        APPROVAL_GATE_API_KEY=real_server.request_key,
        PYTHONPATH=str(PYTHON_DIR),
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pending = run(real_server.pending(action, timeout=60))
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout
    record = run(real_server.get(pending["id"]))
    assert record["status"] == "cancelled"


def test_approvals_client_create_get_decide_cancel_list(real_server: RealServer) -> None:
    action = unique()

    async def scenario() -> None:
        async with ApprovalsClient(real_server.url, real_server.request_key) as requester, ApprovalsClient(real_server.url, real_server.decide_key) as decider:
            created = await requester.create(action, context={"n": 1}, agent="cli", idempotency_key=f"k-{action}", timeout_ms=60_000)
            assert created.status == "pending" and created.action == action and created.agent == "cli"
            again = await requester.create(action, context={"n": 1}, agent="cli", idempotency_key=f"k-{action}", timeout_ms=60_000)
            assert again.id == created.id
            # The same key for a different request is refused, never answered with the old record.
            with pytest.raises(ApprovalError) as reused:
                await requester.create(action, idempotency_key=f"k-{action}")
            assert reused.value.code == "idempotency_key_reused" and reused.value.status == 422
            assert (await requester.get(created.id)).status == "pending"
            held = asyncio.create_task(requester.get(created.id, wait_seconds=30))
            await asyncio.sleep(0.1)
            decided = await decider.decide(created.id, "reject", "no")
            assert decided.status == "rejected" and decided.reason == "no"
            assert (await held).status == "rejected"
            conflict = await outcome(decider.decide(created.id, "approve"))
            assert isinstance(conflict, ApprovalError) and conflict.code == "conflict"
            assert conflict.record is not None and conflict.record.status == "rejected"

            other = await requester.create(unique(), timeout_ms=60_000)
            withdrawn = await requester.cancel(other.id, "changed my mind")
            assert withdrawn.status == "cancelled"
            timed_out = await requester.create(unique(), timeout_ms=60_000)
            assert (await requester.cancel(timed_out.id, "deadline", timed_out=True)).status == "expired"

            page = await requester.list(action=action)
            assert [item.id for item in page.items] == [created.id]
            assert page.items[0].decided_by

            missing = await outcome(requester.get("apr_does_not_exist"))
            assert isinstance(missing, ApprovalError) and missing.code == "not_found"
            forbidden = await outcome(requester.decide(other.id, "approve"))
            assert isinstance(forbidden, ApprovalError) and forbidden.code in ("unauthorized", "conflict")

    run(scenario())


def test_a_revoked_or_unknown_key_is_unauthorized_and_never_shown(real_server: RealServer) -> None:
    key = "agk_" + "x" * 40

    async def scenario() -> None:
        error = await outcome(require_approval(unique(), api_url=real_server.url, api_key=key, timeout_ms=10_000))
        assert isinstance(error, ApprovalError) and error.code == "unauthorized"
        assert error.status == 401
        assert key not in str(error) and key not in repr(error)

    run(scenario())


def test_the_seed_examples_run_as_written(real_server: RealServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JamJet document's Python examples, with our import path and the configuration from the
    environment; only the sleeps and the timeout are shortened."""
    monkeypatch.setenv("APPROVAL_GATE_API_URL", real_server.url)
    monkeypatch.setenv("APPROVAL_GATE_API_KEY", real_server.request_key)
    import approval_gate as jamjet
    from approval_gate.errors import JamjetApprovalRejected, JamjetApprovalTimeout

    printed: list[str] = []

    def print_(*parts: object) -> None:
        printed.append(" ".join(str(part) for part in parts))

    async def approver(action: str, decision: str, reason: str | None = None) -> None:
        pending = await real_server.pending(action)
        await real_server.decide(pending["id"], decision, reason)

    async def deploy_service() -> None:
        printed.append("deployed")

    async def basic_usage() -> None:
        approval_id = await jamjet.require_approval('production_deploy',
          context={
            'service': 'auth-api',
            'version': '2.3.1',
            'environment': 'production',
          },
        )

        # Reaches here only if a human approved in the dashboard.
        print_('Approved. Approval ID:', approval_id)
        await deploy_service()

    async def rejected() -> None:
        try:
            approval_id = await jamjet.require_approval('send_bulk_email',
              context={'recipient_count': 12_000, 'campaign': 'q2-launch'},
            )
            print_("sent", approval_id)
        except JamjetApprovalRejected as err:
            print_('Rejected by approver:', err.reason or '(no reason given)')

    async def timed_out() -> None:
        try:
            approval_id = await jamjet.require_approval('payment_authorization',
              context={'amount_usd': 4500, 'payee': 'vendor-acme'},
              timeout_ms=1_500,   # the seed waits 10 minutes
            )
            print_("authorized", approval_id)
        except JamjetApprovalTimeout as err:
            if err.cause == 'server_error':
                print_('Approval polling failed: API returned 5xx 3 times in a row')
            else:
                print_('Approval timed out — no action taken')

    async def run_with_cancel() -> None:
        task = asyncio.create_task(
            jamjet.require_approval('risky_operation',
              context={'details': 'mass account update'},
            )
        )
        await real_server.pending('risky_operation')  # the seed sleeps 30 s here
        task.cancel()

        try:
            approval_id = await task
            print_("performed", approval_id)
        except asyncio.CancelledError:
            print_('Approval cancelled — operation not performed')

    async def scenario() -> None:
        await asyncio.gather(basic_usage(), approver("production_deploy", "approve"))
        await asyncio.gather(rejected(), approver("send_bulk_email", "reject", "too many recipients"))
        await timed_out()
        await run_with_cancel()

    run(scenario())
    assert printed[0].startswith("Approved. Approval ID: ")
    assert printed[1:] == [
        "deployed",
        "Rejected by approver: too many recipients",
        "Approval timed out — no action taken",
        "Approval cancelled — operation not performed",
    ]

