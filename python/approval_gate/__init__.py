"""approval-gate's Python client: ask a person to approve an action, and wait for the decision.

    import approval_gate

    approval_id = await approval_gate.require_approval("production_deploy", context={"service": "auth-api"})

A drop-in for the JamJet SDK's ``jamjet.cloud.require_approval`` (``import approval_gate as jamjet``;
``JamjetApprovalRejected`` / ``JamjetApprovalTimeout`` are importable from ``approval_gate.errors``),
working against JamJet Cloud and against a self-hosted approval-gate server.
"""

from ._version import __version__
from .agent_scope import agent, current_agent
from .client import DEFAULT_REQUEST_TIMEOUT_MS, MAX_WAIT_SECONDS, ApprovalsClient, Decision
from .config import (
    DEFAULT_API_URL,
    DEFAULT_POLL_INTERVAL_MS,
    DEFAULT_TIMEOUT_MS,
    MAX_ACTION_LENGTH,
    MAX_CONTEXT_BYTES,
    normalise_api_url,
)
from .errors import (
    ApprovalError,
    ApprovalErrorCode,
    ApprovalRejected,
    ApprovalTimeout,
    JamjetApprovalRejected,
    JamjetApprovalTimeout,
)
from .records import ApprovalPage, ApprovalPolicy, ApprovalRecord, ApprovalStatus, ApprovalVote
from .require import LONG_POLL_SECONDS, request_approval, require_approval, require_approval_sync
from .withdraw import WITHDRAW_BOUND_MS, WithdrawalResult, wait_for_withdrawals

__all__ = [
    "__version__",
    "require_approval",
    "request_approval",
    "require_approval_sync",
    "ApprovalsClient",
    "ApprovalRecord",
    "ApprovalVote",
    "ApprovalPolicy",
    "ApprovalPage",
    "ApprovalStatus",
    "Decision",
    "ApprovalError",
    "ApprovalErrorCode",
    "ApprovalRejected",
    "ApprovalTimeout",
    "JamjetApprovalRejected",
    "JamjetApprovalTimeout",
    "agent",
    "current_agent",
    "wait_for_withdrawals",
    "WithdrawalResult",
    "normalise_api_url",
    "DEFAULT_API_URL",
    "DEFAULT_TIMEOUT_MS",
    "DEFAULT_POLL_INTERVAL_MS",
    "DEFAULT_REQUEST_TIMEOUT_MS",
    "MAX_ACTION_LENGTH",
    "MAX_CONTEXT_BYTES",
    "MAX_WAIT_SECONDS",
    "LONG_POLL_SECONDS",
    "WITHDRAW_BOUND_MS",
]
