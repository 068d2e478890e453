"""Errors raised by the client. Branch on the class or on ``code``, never on message text.

The JamJet SDK's names are aliases, so ``from approval_gate.errors import JamjetApprovalRejected``
works where ``from jamjet.cloud.errors import JamjetApprovalRejected`` did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .records import ApprovalRecord

__all__ = [
    "ApprovalErrorCode",
    "ApprovalError",
    "ApprovalRejected",
    "ApprovalTimeout",
    "JamjetApprovalRejected",
    "JamjetApprovalTimeout",
]

ApprovalErrorCode = Literal[
    "invalid_config",  # bad argument: missing key, malformed URL, bad context, bad timeout
    "unauthorized",  # 401/403: missing, unknown or revoked API key, or the wrong scope
    "not_found",  # 404: unknown approval id (or another project's)
    "create_failed",  # the approval could not be created (4xx on create, or no usable record back)
    "idempotency_key_reused",  # 422 on create: the idempotency key was used before for a different request
    "bad_request",  # another 4xx the server explained, or a redirect (never followed)
    "bad_response",  # a 2xx that is not JSON, lacks the expected fields, or is about another approval
    "unknown_status",  # a status this client does not know
    "cancelled",  # the request was withdrawn on the server (status "cancelled")
    "conflict",  # 409: decide/cancel on an approval that is no longer pending (``record`` holds it)
    "rate_limited",  # 429; retried by require_approval
    "server_error",  # 5xx; retried by require_approval, three in a row end the wait
    "integrity_error",  # 500 {error: {code: "integrity_error"}}: the server cannot vouch for the record
    "network_error",  # no answer: refused, reset, DNS, or the per-request timeout; retried
]


class ApprovalError(Exception):
    """Anything that is neither a decision nor a timeout: configuration, auth, 4xx, malformed answers."""

    code: ApprovalErrorCode
    #: HTTP status when the error came from a response.
    status: int | None
    approval_id: str | None
    #: From a ``Retry-After`` header (429/503), in ms from when the answer arrived.
    retry_after_ms: int | None
    #: The current record, when the server sent one (e.g. with a 409).
    record: ApprovalRecord | None

    def __init__(
        self,
        code: ApprovalErrorCode,
        message: str,
        *,
        status: int | None = None,
        approval_id: str | None = None,
        retry_after_ms: int | None = None,
        record: ApprovalRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.approval_id = approval_id
        self.retry_after_ms = retry_after_ms
        self.record = record

    def __repr__(self) -> str:
        return f"ApprovalError(code={self.code!r}, message={self.message!r})"


class ApprovalRejected(Exception):
    """A person rejected the request. ``reason`` is the note they entered, if any."""

    approval_id: str
    reason: str | None
    #: Who rejected it, when the server says (our server's ``decided_by``).
    decided_by: str | None
    record: ApprovalRecord | None

    def __init__(
        self,
        approval_id: str,
        reason: str | None = None,
        decided_by: str | None = None,
        record: ApprovalRecord | None = None,
    ) -> None:
        by = f" by {decided_by}" if decided_by else ""
        note = f": {reason}" if reason else ""
        super().__init__(f"Approval {approval_id} was rejected{by}{note}")
        self.approval_id = approval_id
        self.reason = reason
        self.decided_by = decided_by
        self.record = record

    def __repr__(self) -> str:
        return f"ApprovalRejected(approval_id={self.approval_id!r}, reason={self.reason!r})"


TimeoutCause = Literal["server_error", "expired"]


class ApprovalTimeout(Exception):
    """No decision before the deadline.

    ``cause`` is ``None`` when our deadline passed, ``'expired'`` when the server expired the
    request, and ``'server_error'`` when the API answered 5xx three times in a row.
    """

    timeout_ms: float
    approval_id: str | None
    #: Not Python's ``__cause__`` (exception chaining), which stays untouched.
    cause: TimeoutCause | None

    def __init__(self, timeout_ms: float, approval_id: str | None = None, cause: TimeoutCause | None = None) -> None:
        subject = f"Approval {approval_id}" if approval_id else "Approval"
        if cause == "server_error":
            message = f"{subject} failed: the API answered 5xx three times in a row"
        elif cause == "expired":
            message = f"{subject} expired on the server before anyone decided"
        else:
            message = f"{subject} timed out after {_ms(timeout_ms)} ms without a decision"
        super().__init__(message)
        self.timeout_ms = timeout_ms
        self.approval_id = approval_id
        self.cause = cause

    def __repr__(self) -> str:
        return f"ApprovalTimeout(approval_id={self.approval_id!r}, cause={self.cause!r})"


def _ms(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


#: JamJet SDK names, for drop-in migration from ``jamjet.cloud``.
JamjetApprovalRejected = ApprovalRejected
JamjetApprovalTimeout = ApprovalTimeout
