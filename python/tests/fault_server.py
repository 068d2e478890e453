"""A scriptable approvals API on a real loopback port, in its own thread and event loop.

It keeps approvals in memory and answers the wire contract (create, get with ``?wait=`` long-poll,
decision, cancel, list). Faults are queued per route and consumed one per matching request:

    api.script("get", Reply(503, headers={"retry-after": "1"}), DROP)

makes the next GET answer 503 with Retry-After and the one after that lose its connection; later
GETs are served normally. Every request is recorded (``api.requests``) with the monotonic time it
arrived, so tests assert on order and on lower bounds of spacing, never on luck.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Union
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    #: ``time.monotonic()`` when the whole request had arrived.
    received_at: float
    route: str = "unknown"
    approval_id: str | None = None
    #: Set when the server has finished with it (answered, dropped, or the client went away).
    done_at: float | None = None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Reply:
    """Answer with ``status``: ``json`` is sent as JSON, ``raw`` as-is."""

    status: int
    json: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Hang:
    """Never answer: the connection stays open until the client gives up or the server stops."""


class _Drop:
    """Close the connection without an answer: a network error for the client."""


class _LoseAnswer:
    """Handle the request normally (state changes, e.g. the approval is created), then cut the
    connection instead of answering, as when a response is lost on the way back."""


@dataclass
class Delay:
    """Wait ``seconds``, then handle the request normally."""

    seconds: float


@dataclass
class Handle:
    """Full control: ``await fn(request, api)`` returns what to do (a Reply, HANG, DROP, or None for normal)."""

    fn: Callable[[Request, "ScriptedApi"], Awaitable[Any]]


HANG = _Hang()
DROP = _Drop()
LOSE_ANSWER = _LoseAnswer()
Fault = Union[Reply, _Hang, _Drop, _LoseAnswer, Delay, Handle]

REASONS = {200: "OK", 201: "Created", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class ScriptedApi:
    def __init__(self, api_key: str | None = "test-key", honour_wait: bool = True) -> None:
        self.api_key = api_key
        self.honour_wait = honour_wait
        self.requests: list[Request] = []
        self.approvals: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, str] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._ids = itertools.count(1)
        self._changed: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        #: Long-polls currently held open.
        self.held = 0

    # ------------------------------------------------------------ lifecycle (test thread)

    def start(self) -> ScriptedApi:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                self._stopping = asyncio.Event()
                self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
                port = self._server.sockets[0].getsockname()[1]
                self.url = f"http://127.0.0.1:{port}"
                ready.set()
                await self._stopping.wait()
                self._server.close()
                for writer in list(self._writers):
                    writer.transport.abort()
                others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)

            loop.run_until_complete(serve())
            loop.close()

        self._thread = threading.Thread(target=main, name="scripted-api", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("the scripted API did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(15)

    def __enter__(self) -> ScriptedApi:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------ scripting (test thread)

    def script(self, route: str, *faults: Fault) -> None:
        """Queues faults for the next requests to ``route`` (create/get/decision/cancel/list/any)."""
        self._faults.setdefault(route, deque()).extend(faults)

    def decide(self, approval_id: str, decision: str, reason: str | None = None, by: str = "alice@example.com") -> None:
        """Decides an approval as a person would, waking its long-polls. Thread-safe."""
        self.set_status(approval_id, "approved" if decision == "approve" else "rejected", reason=reason, decided_by=by)

    def set_status(self, approval_id: str, status: str, **fields: Any) -> None:
        done = threading.Event()

        def apply() -> None:
            record = self.approvals[approval_id]
            record.update(status=status, decided_at=_now(), **fields)
            self._wake(approval_id)
            done.set()

        assert self._loop is not None
        self._loop.call_soon_threadsafe(apply)
        done.wait(5)

    def requests_to(self, route: str) -> list[Request]:
        return [request for request in list(self.requests) if route in ("any", request.route)]

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """Blocks (test thread) until ``predicate()`` is truthy; returns its value."""
        until = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > until:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.005)

    async def until(self, predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        """``wait_for`` for async tests: polls without blocking the caller's event loop."""
        until = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > until:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.005)

    async def request_to(self, route: str, count: int = 1, timeout: float = 20.0) -> Request:
        """Waits for the ``count``-th request to ``route``; returns it."""
        found: list[Request] = await self.until(lambda: (r := self.requests_to(route)) and len(r) >= count and r, f"request {count} to {route}", timeout)
        return found[count - 1]

    # ------------------------------------------------------------ serving (server thread)

    def _wake(self, approval_id: str) -> None:
        event = self._changed.pop(approval_id, None)
        if event is not None:
            event.set()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await self._read(reader)
                if request is None:
                    return
                outcome = await self._handle(request, reader)
                request.done_at = time.monotonic()
                if outcome is None:
                    writer.transport.abort()
                    return
                writer.write(outcome)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        parts = urlsplit(target)
        query = {name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(len(self.requests), method, parts.path, query, headers, body, time.monotonic())
        segments = [unquote(segment) for segment in parts.path.split("/") if segment]
        if segments[:2] == ["v1", "approvals"]:
            if len(segments) == 2:
                request.route = "create" if method == "POST" else "list"
            elif len(segments) == 3:
                request.route, request.approval_id = "get", segments[2]
            elif len(segments) == 4 and segments[3] in ("decision", "cancel"):
                request.route, request.approval_id = segments[3], segments[2]
        self.requests.append(request)
        return request

    def _next_fault(self, request: Request) -> Fault | None:
        for route in (request.route, "any"):
            queue = self._faults.get(route)
            if queue:
                return queue.popleft()
        return None

    async def _handle(self, request: Request, reader: asyncio.StreamReader) -> bytes | None:
        fault = self._next_fault(request)
        if isinstance(fault, Handle):
            fault = await fault.fn(request, self)
        if isinstance(fault, Reply):
            return self._encode(fault)
        if isinstance(fault, _Hang):
            assert self._stopping is not None
            # Until the client closes the connection, or the server stops.
            gone = asyncio.ensure_future(reader.read(1))
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({gone, stopping}, return_when=asyncio.FIRST_COMPLETED)
            gone.cancel()
            stopping.cancel()
            return None
        if isinstance(fault, _Drop):
            return None
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        reply = await self.normal(request)
        return None if isinstance(fault, _LoseAnswer) else self._encode(reply)

    def _encode(self, reply: Reply) -> bytes:
        body = reply.raw if reply.raw is not None else (b"" if reply.json is None else json.dumps(reply.json).encode())
        headers = {"content-type": "application/json", **reply.headers, "content-length": str(len(body))}
        head = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return head.encode("latin-1") + b"\r\n" + body

    async def normal(self, request: Request) -> Reply:
        """The contract's answer to ``request`` (state changes included)."""
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"error": {"code": "unauthorized", "message": "missing or unknown API key"}})
        body = request.json if isinstance(request.json, dict) else {}
        if request.route == "create":
            key = request.headers.get("idempotency-key")
            if key and key in self._by_key:
                return Reply(200, self.approvals[self._by_key[key]])
            approval_id = f"apr_{next(self._ids)}"
            record = {
                "id": approval_id,
                "status": "pending",
                "action": body.get("action"),
                "context": body.get("context", {}),
                "agent": body.get("agent"),
                "reason": None,
                "decided_by": None,
                "decided_at": None,
                "created_at": _now(),
                "expires_at": None,
                "url": f"{self.url}/approvals/{approval_id}",
            }
            self.approvals[approval_id] = record
            if key:
                self._by_key[key] = approval_id
            return Reply(201, record)
        if request.route == "list":
            items = [r for r in reversed(list(self.approvals.values())) if all(r.get(k) == v for k, v in request.query.items() if k in ("status", "action", "agent"))]
            return Reply(200, {"items": items, "next_cursor": None})
        found = self.approvals.get(request.approval_id or "")
        if found is None:
            return Reply(404, {"error": {"code": "not_found", "message": "no such approval"}})
        record = found
        if request.route == "get":
            wait = float(request.query.get("wait", "0") or 0)
            if self.honour_wait and wait > 0 and record["status"] == "pending":
                event = self._changed.setdefault(record["id"], asyncio.Event())
                self.held += 1
                try:
                    await asyncio.wait_for(event.wait(), min(wait, 60))
                except asyncio.TimeoutError:
                    pass
                finally:
                    self.held -= 1
            return Reply(200, record)
        if request.route in ("decision", "cancel"):
            if record["status"] != "pending":
                return Reply(409, {"error": {"code": "conflict", "message": "no longer pending"}, "approval": record})
            if request.route == "decision":
                record.update(status="approved" if body.get("decision") == "approve" else "rejected", reason=body.get("reason"), decided_by="key:test", decided_at=_now())
            else:
                record.update(status="expired" if body.get("timed_out") else "cancelled", reason=body.get("reason"), decided_by="key:test", decided_at=_now())
            self._wake(record["id"])
            return Reply(200, record)
        return Reply(404, {"error": {"code": "not_found", "message": "no such route"}})
