"""``with agent(...)``: the agent on the card for every request inside the block — across
``await``, in tasks created inside, innermost of nested scopes; an explicit ``agent=`` wins."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from approval_gate import ApprovalError, agent, current_agent, require_approval
from fault_server import ScriptedApi
from helpers import options, outcome, run


def agents_sent(api: ScriptedApi) -> list[str | None]:
    return [request.json.get("agent") for request in api.requests_to("create")]


async def approve_all(api: ScriptedApi, count: int) -> None:
    await api.until(lambda: len(api.approvals) >= count and api.held >= 1, f"{count} approvals")
    for approval_id in list(api.approvals):
        api.decide(approval_id, "approve")


def test_outside_any_scope_there_is_no_agent(api: ScriptedApi) -> None:
    assert current_agent() is None

    async def scenario() -> None:
        waiting = asyncio.create_task(require_approval("deploy", **options(api)))
        await approve_all(api, 1)
        await waiting

    run(scenario())
    assert "agent" not in api.requests_to("create")[0].json


def test_the_scope_follows_await_and_tasks_created_inside(api: ScriptedApi) -> None:
    async def scenario() -> None:
        with agent("billing-agent") as name:
            assert name == "billing-agent"
            await asyncio.sleep(0.01)
            assert current_agent() == "billing-agent"
            task = asyncio.create_task(require_approval("charge", **options(api)))
        # The task was created inside the block: it keeps the agent after the block ends.
        assert current_agent() is None
        await approve_all(api, 1)
        await task

    run(scenario())
    assert agents_sent(api) == ["billing-agent"]


def test_nested_scopes_take_the_innermost_and_explicit_wins(api: ScriptedApi) -> None:
    async def scenario() -> None:
        with agent("outer"):
            with agent("inner"):
                first = asyncio.create_task(require_approval("one", **options(api)))
                await api.until(lambda: len(api.approvals) == 1, "the first create")
            assert current_agent() == "outer"
            second = asyncio.create_task(require_approval("two", **options(api)))
            await api.until(lambda: len(api.approvals) == 2, "the second create")
            third = asyncio.create_task(require_approval("three", **options(api, agent="explicit-bot")))
        await approve_all(api, 3)
        await asyncio.gather(first, second, third)

    run(scenario())
    assert agents_sent(api) == ["inner", "outer", "explicit-bot"]


def test_concurrent_tasks_keep_their_own_scopes() -> None:
    async def worker(name: str, delay: float) -> str | None:
        with agent(name):
            await asyncio.sleep(delay)
            return current_agent()

    async def scenario() -> list[str | None]:
        return list(await asyncio.gather(worker("a", 0.03), worker("b", 0.01), worker("c", 0.02)))

    assert run(scenario()) == ["a", "b", "c"]
    assert current_agent() is None


def test_the_scope_is_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError):
        with agent("x"):
            raise RuntimeError("boom")
    assert current_agent() is None


def test_the_scope_travels_with_copied_contexts_too() -> None:
    with agent("thread-agent"):
        context = contextvars.copy_context()
    assert context.run(current_agent) == "thread-agent"
    assert current_agent() is None


def test_a_scope_needs_a_name_and_a_scoped_name_is_checked_on_use(api: ScriptedApi) -> None:
    with pytest.raises(ApprovalError) as caught:
        with agent("  "):
            pass
    assert caught.value.code == "invalid_config"

    async def scenario() -> BaseException:
        with agent("bad\nname"):
            return await outcome(require_approval("deploy", **options(api)))

    error = run(scenario())
    assert isinstance(error, ApprovalError) and error.code == "invalid_config" and "agent" in str(error)
    assert api.requests == []
