"""Turns untrusted response bodies into typed approval records.

Anything without the fields we rely on becomes a clear ``ApprovalError``, never a ``KeyError`` or
``TypeError`` later on. An answer about another approval (or another action) than the one asked
about is ``bad_response``: a confused proxy or cache must not settle this request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, cast

from .errors import ApprovalError

__all__ = ["ApprovalStatus", "ApprovalRecord", "ApprovalVote", "ApprovalPolicy", "ApprovalPage", "parse_record", "parse_page", "excerpt"]

ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "cancelled"]
KNOWN_STATUSES: frozenset[str] = frozenset({"pending", "approved", "rejected", "expired", "cancelled"})


@dataclass(frozen=True)
class ApprovalVote:
    """One counted vote: who (an email or ``key:<name>``), what, why, when, and the policy groups it counts toward."""

    by: str
    decision: Literal["approve", "reject"]
    reason: str | None
    at: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalPolicy:
    """The policy version and rule a request is decided under."""

    version: int
    rule: str


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval as the API returns it. Extension fields are ``None`` when the API omits them (JamJet)."""

    id: str
    status: ApprovalStatus
    action: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    agent: str | None = None
    reason: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    created_at: str | None = None
    expires_at: str | None = None
    url: str | None = None
    #: How many approvals the request's policy rule needs (``None`` when the API omits it: JamJet).
    required_approvals: int | None = None
    #: The votes counted so far, oldest first (empty when the API omits them).
    votes: tuple[ApprovalVote, ...] = ()
    #: The policy version and rule, or ``None`` (no policy, or the API omits it).
    policy: ApprovalPolicy | None = None


@dataclass(frozen=True)
class ApprovalPage:
    """A page of ``GET /v1/approvals``, newest first."""

    items: list[ApprovalRecord]
    #: Pass back as ``cursor`` for the next (older) page; ``None`` on the last page.
    next_cursor: str | None


def excerpt(text: str, limit: int = 120) -> str:
    """A short, single-line excerpt of ``text`` for error messages."""
    flat = re.sub(r"\s+", " ", text).strip()
    return f"{flat[:limit]}…" if len(flat) > limit else flat


def parse_record(
    body: object,
    what: str,
    *,
    known_id: str | None = None,
    known_status: ApprovalStatus | None = None,
    known_action: str | None = None,
) -> ApprovalRecord:
    """Validates one approval record.

    An ``id`` (non-empty string) and a known ``status`` are required. JamJet may answer a create
    with just ``{id}`` and a status check with just ``{status, reason}``: ``known_id`` and
    ``known_status`` supply what the request already tells us. ``known_id``/``known_action``
    must match the answer when it names them.
    """
    if not isinstance(body, dict):
        raise ApprovalError("bad_response", f'{what}: the answer is JSON but not an approval record (it needs a string "id" and "status")')
    data = cast(Mapping[str, object], body)
    raw_id = data.get("id", known_id)
    raw_status = data.get("status", known_status)
    if not isinstance(raw_id, str) or raw_id == "" or not isinstance(raw_status, str):
        raise ApprovalError("bad_response", f'{what}: the answer is JSON but not an approval record (it needs a string "id" and "status")')
    if known_id is not None and raw_id != known_id:
        raise ApprovalError(
            "bad_response",
            f"{what}: the answer is about approval {excerpt(raw_id, 80)}, not {excerpt(known_id, 80)}",
            approval_id=known_id,
        )
    action = data.get("action")
    if known_action is not None and isinstance(action, str) and action != known_action:
        raise ApprovalError(
            "bad_response",
            f'{what}: the answer is about action "{excerpt(action, 80)}", not "{excerpt(known_action, 80)}"',
            approval_id=known_id,
        )
    if raw_status not in KNOWN_STATUSES:
        raise ApprovalError(
            "unknown_status",
            f'{what}: approval {excerpt(raw_id, 80)} has status "{excerpt(raw_status, 40)}", which this client does not know '
            "(expected pending, approved, rejected, expired or cancelled)",
            approval_id=raw_id,
        )
    context = data.get("context")

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    return ApprovalRecord(
        id=raw_id,
        status=cast(ApprovalStatus, raw_status),
        action=action if isinstance(action, str) else None,
        context=cast(dict[str, Any], context) if isinstance(context, dict) else {},
        agent=text("agent"),
        reason=text("reason"),
        decided_by=text("decided_by"),
        decided_at=text("decided_at"),
        created_at=text("created_at"),
        expires_at=text("expires_at"),
        url=text("url"),
        required_approvals=_required_approvals(data.get("required_approvals")),
        votes=_votes(data.get("votes")),
        policy=_policy(data.get("policy")),
    )


def _required_approvals(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _votes(value: object) -> tuple[ApprovalVote, ...]:
    """The well-formed votes; malformed entries are dropped (they decide nothing: the status does)."""
    if not isinstance(value, list):
        return ()
    votes: list[ApprovalVote] = []
    for item in cast(list[object], value):
        if not isinstance(item, dict):
            continue
        vote = cast(Mapping[str, object], item)
        by, decision, reason, at, groups = vote.get("by"), vote.get("decision"), vote.get("reason"), vote.get("at"), vote.get("groups")
        if not isinstance(by, str) or decision not in ("approve", "reject") or not (reason is None or isinstance(reason, str)) or not isinstance(at, str):
            continue
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in cast(list[object], groups)):
            continue
        votes.append(ApprovalVote(by=by, decision=cast(Literal["approve", "reject"], decision), reason=reason, at=at, groups=tuple(cast(list[str], groups))))
    return tuple(votes)


def _policy(value: object) -> ApprovalPolicy | None:
    if not isinstance(value, dict):
        return None
    policy = cast(Mapping[str, object], value)
    version, rule = policy.get("version"), policy.get("rule")
    if not isinstance(version, int) or isinstance(version, bool) or not isinstance(rule, str):
        return None
    return ApprovalPolicy(version=version, rule=rule)


def parse_page(body: object, what: str) -> ApprovalPage:
    """Validates a list page (``{items, next_cursor}``; ``approvals`` or ``data`` are accepted for ``items``)."""
    items: object = None
    cursor: object = None
    if isinstance(body, dict):
        data = cast(Mapping[str, object], body)
        for name in ("items", "approvals", "data"):
            if data.get(name) is not None:
                items = data[name]
                break
        cursor = data.get("next_cursor")
    if not isinstance(items, list):
        raise ApprovalError("bad_response", f'{what}: the answer has no "items" list of approvals')
    return ApprovalPage(
        items=[parse_record(item, what) for item in cast(list[object], items)],
        next_cursor=cursor if isinstance(cursor, str) and cursor != "" else None,
    )
