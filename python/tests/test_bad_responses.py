"""Answers that are not what the contract says: auth and 4xx failures, malformed bodies, answers
about another approval or action, unknown statuses, redirects, oversized and compressed bodies.
Each is an ApprovalError with a stable code — never an approval, never a rejection."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest

from approval_gate import ApprovalError, ApprovalRejected, ApprovalTimeout, require_approval
from fault_server import Handle, Reply, Request, ScriptedApi
from helpers import options, outcome, run


def answer_get_with(body: Any = None, *, raw: bytes | None = None, status: int = 200, headers: dict[str, str] | None = None) -> Handle:
    async def handler(request: object, server: ScriptedApi) -> Reply:
        value = body(server) if callable(body) else body
        return Reply(status, value, raw=raw, headers=headers or {})

    return Handle(handler)


def error_of(api: ScriptedApi, **extra: Any) -> BaseException:
    return run(outcome(require_approval("deploy", **options(api, **extra))))


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("not JSON", answer_get_with(raw=b"<html>hello</html>", headers={"content-type": "text/html"})),
        ("empty body", answer_get_with(raw=b"")),
        ("a JSON array", answer_get_with([{"id": "apr_1", "status": "approved"}])),
        ("a JSON string", answer_get_with("approved")),
        ("no status", answer_get_with({"id": "apr_1"})),
        ("a numeric status", answer_get_with({"id": "apr_1", "status": 1})),
        ("another approval, approved", answer_get_with({"id": "apr_999", "status": "approved", "action": "deploy"})),
        ("another action, approved", answer_get_with({"id": "apr_1", "status": "approved", "action": "drop_database"})),
        ("truncated gzip", answer_get_with(raw=gzip.compress(b'{"id":"apr_1","status":"approved"}')[:20], headers={"content-encoding": "gzip"})),
        ("an encoding nobody can decode", answer_get_with(raw=b'{"id":"apr_1","status":"approved"}', headers={"content-encoding": "zstd"})),
    ],
)
def test_malformed_or_foreign_answers_to_a_status_check_are_bad_response(api: ScriptedApi, name: str, fault: Handle) -> None:
    api.script("get", fault)
    error = error_of(api)
    assert isinstance(error, ApprovalError), name
    assert error.code == "bad_response", (name, error)
    assert error.approval_id in (None, "apr_1")


def test_an_answer_about_another_approval_names_both(api: ScriptedApi) -> None:
    api.script("get", answer_get_with({"id": "apr_other", "status": "approved"}))
    error = error_of(api)
    assert isinstance(error, ApprovalError) and error.code == "bad_response"
    assert "apr_other" in str(error) and "apr_1" in str(error)


def test_an_unknown_status_is_unknown_status(api: ScriptedApi) -> None:
    api.script("get", answer_get_with({"id": "apr_1", "status": "maybe"}))
    error = error_of(api)
    assert isinstance(error, ApprovalError) and error.code == "unknown_status"
    assert "maybe" in str(error)


def test_an_oversized_answer_is_refused(api: ScriptedApi) -> None:
    big = json.dumps({"id": "apr_1", "status": "approved", "pad": "x" * (5 * 1024 * 1024)}).encode()
    api.script("get", answer_get_with(raw=big))
    error = error_of(api)
    assert isinstance(error, ApprovalError) and error.code == "bad_response"
    assert "larger than" in str(error)


def test_a_gzip_bomb_is_refused_within_the_size_limit(api: ScriptedApi) -> None:
    bomb = gzip.compress(b'{"id":"apr_1","status":"approved","pad":"' + b" " * (64 * 1024 * 1024) + b'"}')
    api.script("get", answer_get_with(raw=bomb, headers={"content-encoding": "gzip"}))
    error = error_of(api)
    assert isinstance(error, ApprovalError) and error.code == "bad_response"
    assert "larger than" in str(error)


def test_compressed_and_bom_prefixed_answers_are_read(api: ScriptedApi) -> None:
    api.script(
        "get",
        answer_get_with(raw=gzip.compress(json.dumps({"id": "apr_1", "status": "pending"}).encode()), headers={"content-encoding": "gzip"}),
        answer_get_with(raw=b"\xef\xbb\xbf" + json.dumps({"id": "apr_1", "status": "approved", "action": "deploy"}).encode()),
    )
    assert run(require_approval("deploy", **options(api))) == "apr_1"
    assert api.requests[0].headers.get("accept-encoding") == "identity"


def test_jamjet_shaped_minimal_answers_work(api: ScriptedApi) -> None:
    """JamJet may answer a create with just {id} and a check with just {status, reason}."""
    async def bare_create(request: Request, server: ScriptedApi) -> Reply:
        created = await server.normal(request)
        return Reply(201, {"id": created.json["id"]})

    api.script("create", Handle(bare_create))
    api.script("get", answer_get_with({"status": "pending"}), answer_get_with({"status": "rejected", "reason": "nope"}))
    error = error_of(api)
    assert isinstance(error, ApprovalRejected)
    assert (error.approval_id, error.reason) == ("apr_1", "nope")


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "unauthorized"), (403, "unauthorized"), (404, "not_found"), (400, "bad_request"), (418, "bad_request")],
)
def test_http_failures_on_a_status_check_have_codes(api: ScriptedApi, status: int, code: str) -> None:
    api.script("get", answer_get_with({"error": {"code": "x", "message": "said the server"}}, status=status))
    error = error_of(api)
    assert isinstance(error, ApprovalError)
    assert (error.code, error.status) == (code, status)
    assert "said the server" in str(error)
    assert len(api.requests_to("get")) == 1  # not retried


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (Reply(400, {"error": {"code": "invalid_request", "message": "body.action is too long"}}), "create_failed"),
        (Reply(404, {"error": {"code": "not_found", "message": "no route"}}), "create_failed"),
        (Reply(201, raw=b"created!"), "create_failed"),
        (Reply(201, {"status": "pending"}), "create_failed"),
        (Reply(401, {"error": {"code": "unauthorized", "message": "unknown key"}}), "unauthorized"),
        (Reply(201, {"id": "apr_7", "status": "pending", "action": "something_else"}), "bad_response"),
    ],
)
def test_create_failures_have_codes(api: ScriptedApi, reply: Reply, code: str) -> None:
    api.script("create", reply)
    error = error_of(api)
    assert isinstance(error, ApprovalError)
    assert error.code == code, error
    assert len(api.requests_to("create")) == 1
    assert api.requests_to("get") == []


def test_a_redirect_is_not_followed(api: ScriptedApi) -> None:
    api.script("create", Reply(302, raw=b"", headers={"location": "/elsewhere/v1/approvals"}))
    error = error_of(api)
    assert isinstance(error, ApprovalError) and error.code == "create_failed"
    assert "redirect to /elsewhere" in str(error) and "not followed" in str(error)
    assert [request.path for request in api.requests] == ["/v1/approvals"]


def test_a_status_check_redirect_is_bad_request(api: ScriptedApi) -> None:
    api.script("get", answer_get_with(raw=b"", status=307, headers={"location": "https://evil.example/steal"}))
    error = error_of(api)
    assert isinstance(error, ApprovalError) and error.code == "bad_request"
    assert len(api.requests) == 2


def test_withdrawn_on_the_server_is_cancelled(api: ScriptedApi) -> None:
    async def scenario() -> BaseException:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        api.set_status("apr_1", "cancelled", decided_by="admin@example.com", reason="duplicate")
        return await outcome(waiting)

    error = run(scenario())
    assert isinstance(error, ApprovalError) and error.code == "cancelled"
    assert "admin@example.com" in str(error) and "duplicate" in str(error)


def test_expired_on_the_server_is_a_timeout_without_withdrawal(api: ScriptedApi) -> None:
    async def scenario() -> BaseException:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await api.until(lambda: api.held > 0, "a held poll")
        api.set_status("apr_1", "expired")
        return await outcome(waiting)

    error = run(scenario())
    assert isinstance(error, ApprovalTimeout) and error.cause == "expired"
    assert error.approval_id == "apr_1"
    assert api.requests_to("cancel") == []


def test_unreachable_is_retried_then_times_out(api: ScriptedApi) -> None:
    url = api.url
    api.stop()  # nothing listens there any more
    error = run(outcome(require_approval("deploy", api_url=url, api_key="test-key", timeout_ms=1_500)))
    assert isinstance(error, ApprovalTimeout) and error.cause is None and error.approval_id is None
