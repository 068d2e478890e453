"""Policy fields of a record (required_approvals, votes, policy) are passed through when well-formed
and dropped when not — a JamJet record without them still parses, and they never decide anything."""

from __future__ import annotations

from approval_gate import ApprovalPolicy, ApprovalVote
from approval_gate.records import parse_record


def test_votes_required_approvals_and_policy_pass_through() -> None:
    record = parse_record(
        {
            "id": "apr_1",
            "status": "pending",
            "required_approvals": 2,
            "votes": [{"by": "ada@example.com", "decision": "approve", "reason": None, "at": "2030-01-01T09:00:00.000Z", "groups": ["sre"]}],
            "policy": {"version": 3, "rule": "production deploys"},
        },
        "check",
    )
    assert record.required_approvals == 2
    assert record.votes == (ApprovalVote(by="ada@example.com", decision="approve", reason=None, at="2030-01-01T09:00:00.000Z", groups=("sre",)),)
    assert record.policy == ApprovalPolicy(version=3, rule="production deploys")


def test_a_jamjet_record_without_them_parses_with_empty_defaults() -> None:
    record = parse_record({"id": "apr_1", "status": "approved", "reason": "ok"}, "check")
    assert (record.required_approvals, record.votes, record.policy) == (None, (), None)


def test_malformed_votes_and_policy_are_dropped_not_trusted() -> None:
    record = parse_record(
        {
            "id": "apr_1",
            "status": "pending",
            "required_approvals": True,
            "votes": [{"by": "x", "decision": "maybe", "reason": None, "at": "t", "groups": []}, "approve", {"by": 1}],
            "policy": {"version": "3", "rule": "r"},
        },
        "check",
    )
    assert (record.required_approvals, record.votes, record.policy) == (None, (), None)
