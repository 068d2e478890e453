"""Arguments are resolved and validated before any request: environment fallbacks, the self-hosted
key rule, and ``invalid_config`` errors naming the argument that is wrong."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from approval_gate import ApprovalError, ApprovalsClient, require_approval, require_approval_sync
from approval_gate.config import normalise_api_url, resolve_connection, resolve_options
from fault_server import ScriptedApi
from helpers import options, outcome, run

SECRET = "sk_config_secret_41d2"


def test_arguments_then_approval_gate_env_then_jamjet_env_then_jamjet_cloud() -> None:
    env = {"APPROVAL_GATE_API_URL": "https://gate.example/", "APPROVAL_GATE_API_KEY": "ag", "JAMJET_API_URL": "https://jj.example", "JAMJET_API_KEY": "jj"}
    own = resolve_connection("http://own.example", "own", env)
    assert (own.api_url, own.api_key) == ("http://own.example", "own")
    gate = resolve_connection(None, None, env)
    assert (gate.api_url, gate.api_key) == ("https://gate.example", "ag")
    jamjet = resolve_connection(None, None, {"JAMJET_API_URL": "https://jj.example", "JAMJET_API_KEY": "jj"})
    assert (jamjet.api_url, jamjet.api_key) == ("https://jj.example", "jj")
    cloud = resolve_connection(None, None, {"JAMJET_API_KEY": "jj"})
    assert (cloud.api_url, cloud.api_key) == ("https://api.jamjet.dev", "jj")
    assert resolve_connection(None, None, {"APPROVAL_GATE_API_KEY": " ", "JAMJET_API_KEY": "jj"}).api_key == "jj"  # blank means unset


def test_the_process_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVAL_GATE_API_URL", "https://from-env.example")
    monkeypatch.setenv("APPROVAL_GATE_API_KEY", "env-key")
    assert resolve_connection().api_url == "https://from-env.example"


def test_urls_are_normalised() -> None:
    assert normalise_api_url("https://x.example/approvals///") == "https://x.example/approvals"
    assert normalise_api_url(" HTTPS://X.Example:443/ ") == "https://x.example"
    assert normalise_api_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert normalise_api_url("http://[::1]:8080/") == "http://[::1]:8080"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("approvals.example.com", "not a valid URL"),
        ("ftp://x.example", "http or https"),
        ("https://user:pw@x.example", "credentials"),
        ("https://x.example/?a=1", "query"),
        ("https://x.example/#top", "fragment"),
        ("https://x.example:99999", "not a valid URL"),
    ],
)
def test_bad_urls_are_invalid_config(url: str, says: str) -> None:
    with pytest.raises(ApprovalError) as caught:
        resolve_connection(url, "k", {})
    assert caught.value.code == "invalid_config"
    assert says in str(caught.value)
    assert "pw" not in str(caught.value)


def test_a_self_hosted_key_is_never_sent_to_jamjet_cloud() -> None:
    key = "agk_" + "s3cret" * 6
    with pytest.raises(ApprovalError) as default_url:
        resolve_connection(None, key, {})
    assert default_url.value.code == "invalid_config"
    assert "api_url" in str(default_url.value) and "APPROVAL_GATE_API_URL" in str(default_url.value)
    assert key not in str(default_url.value) and key not in repr(default_url.value)

    with pytest.raises(ApprovalError) as explicit:
        resolve_connection(None, None, {"JAMJET_API_URL": "https://api.jamjet.dev/", "APPROVAL_GATE_API_KEY": key})
    assert "JAMJET_API_URL" in str(explicit.value)

    # Our key to our server, and JamJet's key to JamJet, are fine.
    assert resolve_connection("https://approvals.example.com", key, {}).api_key == key
    assert resolve_connection(None, "jj_live_key", {}).api_url == "https://api.jamjet.dev"


def test_the_self_hosted_key_rule_holds_before_any_request(api: ScriptedApi) -> None:
    error = run(outcome(require_approval("deploy", api_key="agk_abcdef123456")))
    assert isinstance(error, ApprovalError) and error.code == "invalid_config"


def test_a_missing_or_unsendable_key_is_invalid_config() -> None:
    with pytest.raises(ApprovalError, match="No API key"):
        resolve_connection("https://x.example", None, {})
    with pytest.raises(ApprovalError) as caught:
        resolve_connection("https://x.example", f"{SECRET}\nInjected: yes", {})
    assert caught.value.code == "invalid_config"
    assert SECRET not in str(caught.value)


def test_defaults_are_the_seeds() -> None:
    resolved = resolve_options("deploy", api_key="k", env={})
    assert (resolved.context, resolved.timeout_ms, resolved.poll_interval_ms, resolved.connection.api_url) == ({}, 3_600_000, 5_000, "https://api.jamjet.dev")
    assert resolved.agent is None and resolved.idempotency_key is None


def test_context_is_copied_so_later_changes_are_not_sent(api: ScriptedApi) -> None:
    context: dict[str, Any] = {"a": [1]}

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", context=context, **options(api)))
        await asyncio.sleep(0)
        context["a"].append(2)
        context["b"] = 3
        await api.until(lambda: api.held > 0, "a held poll")
        api.decide("apr_1", "approve")
        await waiting

    run(scenario())
    assert api.requests_to("create")[0].json["context"] == {"a": [1]}


circular: dict[str, Any] = {}
circular["self"] = circular

INVALID: list[tuple[str, Any, dict[str, Any], str]] = [
    ("empty action", "", {}, "action"),
    ("blank action", "   ", {}, "action"),
    ("non-string action", 42, {}, "action"),
    ("action over 200 characters", "a" * 201, {}, "200"),
    ("action over 200 UTF-16 units", "\U0001f680" * 101, {}, "200"),
    ("action with a line break", "deploy\nnow", {}, "control"),
    ("action with a tab", "deploy\tnow", {}, "control"),
    ("context list", "deploy", {"context": []}, "context"),
    ("context string", "deploy", {"context": "{}"}, "context"),
    ("circular context", "deploy", {"context": circular}, "context"),
    ("context with a set", "deploy", {"context": {"s": {1}}}, "context"),
    ("context with NaN", "deploy", {"context": {"n": math.nan}}, "context"),
    ("context over 64 KB", "deploy", {"context": {"blob": "x" * 65_536}}, "64 KB"),
    ("zero timeout", "deploy", {"timeout_ms": 0}, "timeout_ms"),
    ("negative timeout", "deploy", {"timeout_ms": -5}, "timeout_ms"),
    ("infinite timeout", "deploy", {"timeout_ms": math.inf}, "timeout_ms"),
    ("NaN timeout", "deploy", {"timeout_ms": math.nan}, "timeout_ms"),
    ("string timeout", "deploy", {"timeout_ms": "60000"}, "timeout_ms"),
    ("boolean timeout", "deploy", {"timeout_ms": True}, "timeout_ms"),
    ("zero poll interval", "deploy", {"poll_interval_ms": 0}, "poll_interval_ms"),
    ("poll interval beyond a timer", "deploy", {"poll_interval_ms": 2**31}, "poll_interval_ms"),
    ("empty agent", "deploy", {"agent": ""}, "agent"),
    ("agent with a line break", "deploy", {"agent": "bot\nx"}, "agent"),
    ("agent over 200 characters", "deploy", {"agent": "b" * 201}, "agent"),
    ("non-ASCII idempotency key", "deploy", {"idempotency_key": "clé"}, "idempotency_key"),
    ("idempotency key with a line break", "deploy", {"idempotency_key": "a\r\nb"}, "idempotency_key"),
    ("non-string api_url", "deploy", {"api_url": 8080}, "api_url"),
]


@pytest.mark.parametrize(("name", "action", "extra", "says"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_arguments_fail_before_any_request(api: ScriptedApi, name: str, action: Any, extra: dict[str, Any], says: str) -> None:
    error = run(outcome(require_approval(action, **{**options(api), **extra})))
    assert isinstance(error, ApprovalError), name
    assert error.code == "invalid_config"
    assert says in str(error)
    assert api.requests == []


def test_limits_are_inclusive() -> None:
    assert resolve_options("a" * 200, api_key="k", env={}).action == "a" * 200
    assert resolve_options("\U0001f680" * 100, api_key="k", env={}).action == "\U0001f680" * 100
    assert resolve_options("deploy", api_key="k", env={}, context={"blob": "x" * (65_536 - 11)}).context
    assert resolve_options("déployer en production", api_key="k", env={}, agent="robot-é").agent == "robot-é"


def test_require_approval_sync_refuses_to_run_inside_an_event_loop() -> None:
    async def inside() -> None:
        with pytest.raises(ApprovalError) as caught:
            require_approval_sync("deploy", api_url="http://127.0.0.1:9", api_key="k")
        assert caught.value.code == "invalid_config"
        assert "await require_approval" in str(caught.value)

    run(inside())


def test_the_client_and_the_resolved_options_never_show_the_key() -> None:
    client = ApprovalsClient("https://approvals.example.com", SECRET)
    assert SECRET not in repr(client) and SECRET not in str(client)
    assert SECRET not in repr(vars(client))
    resolved = resolve_options("deploy", api_url="https://approvals.example.com", api_key=SECRET, env={})
    assert SECRET not in repr(resolved)


def test_the_client_checks_its_own_arguments() -> None:
    with pytest.raises(ApprovalError) as caught:
        ApprovalsClient("https://approvals.example.com", "k", request_timeout_ms=0)
    assert caught.value.code == "invalid_config"

    async def bad_calls() -> None:
        client = ApprovalsClient("http://127.0.0.1:9", "k")
        for call in (client.get(""), client.decide("apr_1", "maybe"), client.create("", context={})):  # type: ignore[arg-type]
            error = await outcome(call)
            assert isinstance(error, ApprovalError) and error.code == "invalid_config"
        await client.aclose()

    run(bad_calls())
