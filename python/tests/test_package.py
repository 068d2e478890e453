"""The package as users import it: the API the issue names, the JamJet names, typing marker and
metadata."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import approval_gate
import approval_gate.errors

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_the_api_is_importable_as_the_seed_shows() -> None:
    import approval_gate as jamjet
    from approval_gate.errors import JamjetApprovalRejected, JamjetApprovalTimeout

    assert JamjetApprovalRejected is jamjet.ApprovalRejected
    assert JamjetApprovalTimeout is jamjet.ApprovalTimeout
    assert jamjet.JamjetApprovalRejected is JamjetApprovalRejected
    for name in ("require_approval", "request_approval", "require_approval_sync", "ApprovalsClient", "ApprovalError", "agent", "current_agent"):
        assert hasattr(jamjet, name), name
    assert set(approval_gate.__all__) <= set(dir(approval_gate))


def test_require_approval_has_the_documented_signature() -> None:
    for function in (approval_gate.require_approval, approval_gate.request_approval, approval_gate.require_approval_sync):
        signature = inspect.signature(function)
        parameters = list(signature.parameters.values())
        assert parameters[0].name == "action" and parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert {p.name: p.default for p in parameters[1:]} == {
            "context": None,
            "timeout_ms": 3_600_000,
            "poll_interval_ms": 5_000,
            "api_url": None,
            "api_key": None,
            "agent": None,
            "idempotency_key": None,
        }
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[1:])
    assert inspect.iscoroutinefunction(approval_gate.require_approval)
    assert not inspect.iscoroutinefunction(approval_gate.require_approval_sync)
    for method in ("create", "get", "decide", "cancel", "list"):
        assert inspect.iscoroutinefunction(getattr(approval_gate.ApprovalsClient, method)), method


def test_errors_carry_their_fields() -> None:
    rejected = approval_gate.ApprovalRejected("apr_1", "not now", "alice")
    assert (rejected.approval_id, rejected.reason, rejected.decided_by) == ("apr_1", "not now", "alice")
    assert str(rejected) == "Approval apr_1 was rejected by alice: not now"
    timeout = approval_gate.ApprovalTimeout(1_000, "apr_1", "server_error")
    assert timeout.cause == "server_error" and timeout.__cause__ is None
    assert approval_gate.ApprovalTimeout(1_000).cause is None
    error = approval_gate.ApprovalError("not_found", "no such approval", status=404, approval_id="apr_1")
    assert (error.code, error.status, error.approval_id, str(error)) == ("not_found", 404, "apr_1", "no such approval")


def test_the_package_is_typed_and_its_metadata_matches() -> None:
    assert (PYTHON_DIR / "approval_gate" / "py.typed").exists()
    project = tomllib.loads((PYTHON_DIR / "pyproject.toml").read_text())["project"]
    assert project["name"] == "approval-gate"
    assert project["version"] == approval_gate.__version__
    assert project["requires-python"] == ">=3.11"
    assert project["dependencies"] == ["httpx>=0.23"]
