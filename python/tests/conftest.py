"""Shared fixtures: the real approval-gate server (``real_server``, one per session) and the
scripted fault API (``api``, one per test).

``npm test`` runs this suite through __tests__/python/python-client.test.ts, which passes the node
binary and the built CLI in APPROVAL_GATE_TEST_NODE / APPROVAL_GATE_TEST_CLI. Run alone:
``npm run build && /usr/bin/python3 -m pytest python/tests -q`` (from the repository root).
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from fault_server import ScriptedApi
from real_server import RealServer, toolchain


@pytest.fixture(autouse=True)
def _no_api_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests say exactly which URL and key they use."""
    for name in list(os.environ):
        if name.startswith(("APPROVAL_GATE_API_", "JAMJET_API_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def real_server() -> Iterator[RealServer]:
    found = toolchain()
    if found is None:
        message = "the built server is missing: run `npm run build` (npm test does) or set APPROVAL_GATE_TEST_NODE / APPROVAL_GATE_TEST_CLI"
        if os.environ.get("CI") == "true" or os.environ.get("APPROVAL_GATE_TEST_CLI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RealServer(*found).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with ScriptedApi() as server:
        yield server
