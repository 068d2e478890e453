"""The agent scope: who is asking, for every approval requested inside a ``with agent(...)`` block.

Built on ``contextvars``: the scope follows the code across ``await`` and into tasks created inside
the block (they copy the context when created). Nested scopes take the innermost; an explicit
``agent=`` argument always wins.

    with agent("billing-agent"):
        await require_approval("refund", context={"amount_usd": 120})   # card says billing-agent
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .errors import ApprovalError

__all__ = ["agent", "current_agent"]

_current: ContextVar[str | None] = ContextVar("approval_gate_agent", default=None)


@contextmanager
def agent(name: str) -> Iterator[str]:
    """Makes ``name`` the agent of every approval requested inside the block (unless a request
    names its own). The name is checked fully when a request uses it; here only that it is a
    non-empty string."""
    if not isinstance(name, str) or name.strip() == "":
        raise ApprovalError("invalid_config", 'agent() needs a non-empty agent name, e.g. with agent("billing-agent"): ...')
    token = _current.set(name)
    try:
        yield name
    finally:
        _current.reset(token)


def current_agent() -> str | None:
    """The agent of the innermost ``with agent(...)`` block around the caller, or ``None``."""
    return _current.get()
