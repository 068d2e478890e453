"""The API key never appears in an error: not in its message, its repr, its traceback (chained
exceptions included) — even when a hostile server echoes the key back in every answer."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import pytest

from approval_gate import ApprovalError, ApprovalRejected, ApprovalsClient, require_approval
from fault_server import Handle, Reply, Request, ScriptedApi
from helpers import options, outcome, run

KEY = "sk_live_very_secret_key_1234567890"


@pytest.fixture
def echoing() -> Any:
    with ScriptedApi(api_key=KEY) as server:
        yield server


def everything_shown(error: BaseException) -> str:
    """All the text an error can show: message, repr, the formatted traceback with its chain, attributes."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    parts.extend(repr(value) for value in vars(error).values())
    return "\n".join(parts)


def echo(status: int, *, raw: bool = False, headers: dict[str, str] | None = None, field: str = "message") -> Handle:
    """Answers with ``status`` and the request's own Authorization header in the body (and headers)."""

    async def handler(request: Request, server: ScriptedApi) -> Reply:
        said = request.headers.get("authorization", "")
        extra = {name: value.replace("$KEY", said) for name, value in (headers or {}).items()}
        if raw:
            return Reply(status, raw=f"<pre>{said}</pre>".encode(), headers={"content-type": "text/html", **extra})
        return Reply(status, {"error": {"code": f"bad {said}", field: f"you sent {said}"}}, headers=extra)

    return Handle(handler)


@pytest.mark.parametrize(
    ("route", "fault", "code"),
    [
        ("create", echo(401), "unauthorized"),
        ("create", echo(403), "unauthorized"),
        ("create", echo(400), "create_failed"),
        ("create", echo(201, raw=True), "create_failed"),
        ("create", echo(302, raw=True, headers={"location": "https://evil.example/?k=$KEY"}), "create_failed"),
        ("get", echo(404), "not_found"),
        ("get", echo(200, raw=True), "bad_response"),
        ("get", echo(418), "bad_request"),
        ("get", echo(500, field="message"), "integrity_error"),
    ],
)
def test_echoed_keys_are_redacted_from_errors(echoing: ScriptedApi, route: str, fault: Handle, code: str) -> None:
    if code == "integrity_error":

        async def integrity(request: Request, server: ScriptedApi) -> Reply:
            return Reply(500, {"error": {"code": "integrity_error", "message": f"key {request.headers['authorization']}"}})

        fault = Handle(integrity)
    echoing.script(route, fault)
    error = run(outcome(require_approval("deploy", **options(echoing))))
    assert isinstance(error, ApprovalError)
    assert error.code == code
    assert KEY not in everything_shown(error)
    assert "[redacted]" in str(error) or code in ("create_failed",)


def test_server_errors_ending_the_wait_do_not_show_the_key(echoing: ScriptedApi) -> None:
    echoing.script("get", echo(500), echo(503), echo(502))
    error = run(outcome(require_approval("deploy", **options(echoing))))
    assert KEY not in everything_shown(error)


def test_a_rejection_or_withdrawal_echoing_the_key_is_redacted(echoing: ScriptedApi) -> None:
    async def scenario(status: str) -> BaseException:
        waiting = asyncio.create_task(require_approval("deploy", **options(echoing)))
        await echoing.until(lambda: echoing.held > 0, "a held poll")
        echoing.set_status(list(echoing.approvals)[-1], status, reason=f"because {KEY}", decided_by=f"bot {KEY}")
        return await outcome(waiting)

    rejected = run(scenario("rejected"))
    assert isinstance(rejected, ApprovalRejected)
    assert KEY not in everything_shown(rejected)
    withdrawn = run(scenario("cancelled"))
    assert isinstance(withdrawn, ApprovalError) and withdrawn.code == "cancelled"
    assert KEY not in everything_shown(withdrawn)


def test_network_errors_do_not_show_the_key(echoing: ScriptedApi) -> None:
    url = echoing.url
    echoing.stop()

    async def scenario() -> BaseException:
        async with ApprovalsClient(url, KEY) as client:
            return await outcome(client.get("apr_1"))

    error = run(scenario())
    assert isinstance(error, ApprovalError) and error.code == "network_error"
    assert KEY not in everything_shown(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_the_client_methods_redact_too(echoing: ScriptedApi) -> None:
    echoing.script("decision", echo(409))
    echoing.script("list", echo(200, raw=True))

    async def scenario() -> list[BaseException]:
        async with ApprovalsClient(echoing.url, KEY) as client:
            return [await outcome(client.decide("apr_1", "approve")), await outcome(client.list())]

    for error in run(scenario()):
        assert isinstance(error, ApprovalError)
        assert KEY not in everything_shown(error)


def test_the_log_records_never_show_the_key(echoing: ScriptedApi, caplog: pytest.LogCaptureFixture) -> None:
    echoing.script("get", echo(500), echo(503))
    caplog.set_level("INFO", logger="approval_gate")

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(echoing)))
        await echoing.until(lambda: echoing.held > 0, "a held poll")
        echoing.decide("apr_1", "approve")
        await waiting

    run(scenario())
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("Waiting for a decision on deploy (apr_1)") for message in messages)
    assert sum(message.startswith("Retrying in") for message in messages) == 2
    assert all(KEY not in message for message in messages)
