"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any, Awaitable, TypeVar

from fault_server import ScriptedApi

T = TypeVar("T")

#: Every test coroutine gets this long at most: a hang fails the test instead of the suite.
TEST_TIMEOUT_S = 90.0


def run(coro: Awaitable[T], timeout: float = TEST_TIMEOUT_S) -> T:
    """Runs a test coroutine on a fresh event loop (asyncio.run), bounded."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def unique(prefix: str = "deploy") -> str:
    """An action name no other test uses (the real server is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any approval-gate or JamJet settings of the developer's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("APPROVAL_GATE_", "JAMJET_"))}
    env.update(extra)
    return env


def options(api: ScriptedApi, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for require_approval against the scripted API, fast enough for tests."""
    return {"api_url": api.url, "api_key": api.api_key, "timeout_ms": 20_000, "poll_interval_ms": 20, **extra}


async def outcome(awaitable: Awaitable[Any]) -> BaseException:
    """The exception an awaitable raises (fails the test if it returns)."""
    try:
        value = await awaitable
    except BaseException as error:  # noqa: BLE001 - CancelledError included on purpose
        return error
    raise AssertionError(f"expected an exception, got {value!r}")
