"""The Python side of bench/python-client.bench.js: N concurrent ``require_approval`` calls with
the client's defaults, against the server in APPROVAL_GATE_API_URL / APPROVAL_GATE_API_KEY.

Prints one JSON line per event on stdout: ``{"event": "started", "python": ..., "httpx": ...}``,
then ``{"event": "resumed", "action", "id", "mono_ns"}`` as each call returns (``mono_ns`` is
CLOCK_MONOTONIC, the clock of Node's ``process.hrtime.bigint()`` on Linux, so the bench compares
it with the moment it sent the decision), ``{"event": "failed", ...}`` for a call that raised, and
``{"event": "done"}``.

Usage: python3 bench/python-client-driver.py GATES ACTION_PREFIX   (PYTHONPATH=python)
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import time

import httpx

import approval_gate


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def gate(action: str) -> None:
    try:
        approval_id = await approval_gate.require_approval(action)
    except Exception as error:  # reported, the bench fails the run
        emit({"event": "failed", "action": action, "error": f"{type(error).__name__}: {error}"})
        return
    emit({"event": "resumed", "action": action, "id": approval_id, "mono_ns": time.monotonic_ns()})


async def main(gates: int, prefix: str) -> None:
    emit({"event": "started", "python": platform.python_version(), "httpx": httpx.__version__, "client": approval_gate.__version__})
    await asyncio.gather(*(gate(f"{prefix}-{i}") for i in range(gates)))
    emit({"event": "done"})


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
