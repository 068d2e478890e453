"""The real approval-gate server for the tests: the built CLI's ``serve`` as a subprocess on a temp
SQLite data dir, provisioned with the CLI (project + request key, a decide key)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from helpers import clean_env

ROOT = Path(__file__).resolve().parents[2]


def toolchain() -> tuple[str, str] | None:
    """(node binary, built CLI), or None when the server has not been built."""
    node = os.environ.get("APPROVAL_GATE_TEST_NODE") or str(ROOT / "node_modules" / ".bin" / "node")
    if not Path(node).exists():
        node = shutil.which("node") or ""
    cli = os.environ.get("APPROVAL_GATE_TEST_CLI") or str(ROOT / "lib" / "cli" / "index.js")
    if not node or not Path(cli).exists():
        return None
    return node, cli


class RealServer:
    """``approval-gate serve`` on a temp data dir, with a request-scope and a decide-scope key."""

    def __init__(self, node: str, cli: str) -> None:
        self.node, self.cli = node, cli
        self.data_dir = tempfile.mkdtemp(prefix="approval-gate-py-")
        self.stderr: list[str] = []
        self.url = ""
        self.request_key = ""
        self.decide_key = ""
        self.process: subprocess.Popen[str] | None = None

    def cli_json(self, *args: str) -> Any:
        result = subprocess.run([self.node, self.cli, *args, "--data", self.data_dir, "--json"], capture_output=True, text=True, env=clean_env(), timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"approval-gate {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return json.loads(result.stdout)

    def start(self) -> RealServer:
        self.request_key = self.cli_json("project", "create", "py")["api_key"]
        self.decide_key = self.cli_json("keys", "create", "--project", "py", "--scope", "decide", "--name", "decider")["api_key"]
        self.process = subprocess.Popen(
            [self.node, self.cli, "serve", "--port", "0", "--data", self.data_dir, "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        listening = threading.Event()

        def read_stderr() -> None:
            assert self.process is not None and self.process.stderr is not None
            for line in self.process.stderr:
                self.stderr.append(line)
                if not self.url and "listening on http://" in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    listening.set()

        threading.Thread(target=read_stderr, name="serve-stderr", daemon=True).start()
        until = time.monotonic() + 60
        while not listening.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > until:
                self.close()
                raise RuntimeError(f"approval-gate serve did not start: {''.join(self.stderr)}")
        return self

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- what a person and an operator do, over the API (async: tests run in an event loop)

    def _headers(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    async def pending(self, action: str, timeout: float = 30.0) -> dict[str, Any]:
        """Waits until an approval for ``action`` is pending; returns its record."""
        async with httpx.AsyncClient() as http:
            until = time.monotonic() + timeout
            while True:
                answer = await http.get(f"{self.url}/v1/approvals", params={"action": action, "status": "pending"}, headers=self._headers(self.request_key))
                answer.raise_for_status()
                items = answer.json()["items"]
                if items:
                    return dict(items[0])
                if time.monotonic() > until:
                    raise AssertionError(f"no pending approval for {action} within {timeout} s")
                await asyncio.sleep(0.02)

    async def decide(self, approval_id: str, decision: str, reason: str | None = None) -> int:
        body: dict[str, Any] = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{self.url}/v1/approvals/{approval_id}/decision", json=body, headers=self._headers(self.decide_key))
            return answer.status_code

    async def get(self, approval_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{self.url}/v1/approvals/{approval_id}", headers=self._headers(self.request_key))
            answer.raise_for_status()
            return dict(answer.json())

    async def audit_of(self, approval_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        async with httpx.AsyncClient() as http:
            while True:
                params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
                answer = await http.get(f"{self.url}/v1/audit", params=params, headers=self._headers(self.decide_key))
                answer.raise_for_status()
                page = answer.json()
                events.extend(event for event in page["items"] if event["approval_id"] == approval_id)
                cursor = page.get("next_cursor")
                if not cursor:
                    return sorted(events, key=lambda event: int(event["seq"]))

    async def audit_event(self, approval_id: str, event_type: str, timeout: float = 20.0) -> dict[str, Any]:
        """Waits until the audit trail of ``approval_id`` has an event of ``event_type``."""
        until = time.monotonic() + timeout
        while True:
            for event in await self.audit_of(approval_id):
                if event["type"] == event_type:
                    return event
            if time.monotonic() > until:
                raise AssertionError(f"no {event_type} audit event for {approval_id}: {await self.audit_of(approval_id)}")
            await asyncio.sleep(0.05)
