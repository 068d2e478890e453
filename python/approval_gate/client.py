"""The HTTP client for an approvals API (ours or JamJet Cloud), on httpx.

It speaks the wire contract of the README, bounds every request with a total timeout, refuses
oversized answers, never follows redirects (the key must go nowhere else), and turns every
failure into an ``ApprovalError`` with a code. The API key never appears in a message or repr.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import ssl
import threading
import zlib
from types import TracebackType
from typing import Any, Literal, Mapping
from urllib.parse import quote, urlencode

import httpx

from ._version import __version__
from .config import ApiConnection, check_action, check_context, check_name, resolve_connection
from .errors import ApprovalError, ApprovalErrorCode
from .records import ApprovalPage, ApprovalRecord, ApprovalStatus, excerpt, parse_page, parse_record
from .retry_policy import parse_retry_after

__all__ = [
    "ApprovalsClient",
    "Decision",
    "DEFAULT_REQUEST_TIMEOUT_MS",
    "MAX_WAIT_SECONDS",
    "LONG_POLL_MARGIN_MS",
    "MIN_SERVER_TIMEOUT_MS",
    "MAX_SERVER_TIMEOUT_MS",
]

#: Per-request timeout when the caller gives none (long-polls add their wait to it).
DEFAULT_REQUEST_TIMEOUT_MS = 30_000
#: The API may hold a long-poll for this long at most.
MAX_WAIT_SECONDS = 60
#: How long past the asked wait a long-poll may take before we call it lost.
LONG_POLL_MARGIN_MS = 5_000
#: Range of the ``timeout_ms`` create extension our server accepts (1 s ... 30 days).
MIN_SERVER_TIMEOUT_MS = 1_000
MAX_SERVER_TIMEOUT_MS = 30 * 24 * 3_600_000
#: Larger answers are refused: no approvals API needs more, and a hostile one could send gigabytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 10.0
USER_AGENT = f"approval-gate-python/{__version__}"

Decision = Literal["approve", "reject"]


_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client (httpx's default one: certifi, SSL_CERT_FILE/SSL_CERT_DIR).
    Building it loads the CA bundle, ~10-90 ms of CPU: once, not per call."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            factory = getattr(httpx, "create_ssl_context", None)
            try:
                _ssl_context = factory(trust_env=True) if factory is not None else None
            except TypeError:  # a future httpx with another signature
                _ssl_context = None
            if _ssl_context is None:
                _ssl_context = ssl.create_default_context()
        return _ssl_context


class _Secret:
    """Holds the API key so that no ``repr``, ``vars()`` dump or debugger view shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<API key hidden>"

    __str__ = __repr__


class _Answer:
    __slots__ = ("status", "headers", "text")

    def __init__(self, status: int, headers: httpx.Headers, text: str) -> None:
        self.status = status
        self.headers = headers
        self.text = text


def _js_round(value: float) -> int:
    """``Math.round``: halves round up (Python's ``round`` rounds them to even)."""
    return math.floor(value + 0.5)


def _parse_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def _describe_error_body(text: str) -> str:
    """``code: message`` from an ``{error: {code, message}}`` body, or an excerpt of another one."""
    ok, value = _parse_json(text)
    if ok and isinstance(value, dict):
        error = value.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            parts = [part for part in (code if isinstance(code, str) else None, excerpt(message, 300) if isinstance(message, str) else None) if part]
            if parts:
                return ": ".join(parts)
        if isinstance(error, str):
            return excerpt(error, 300)
    return "no details given" if text.strip() == "" else f"body: {excerpt(text, 120)}"


def _error_code_in_body(text: str) -> str | None:
    ok, value = _parse_json(text)
    if ok and isinstance(value, dict) and isinstance(value.get("error"), dict):
        code = value["error"].get("code")
        return code if isinstance(code, str) else None
    return None


def _record_in_error_body(text: str) -> ApprovalRecord | None:
    """A record sent along with an error (a 409 carries the current record), if any."""
    ok, value = _parse_json(text)
    if not ok or not isinstance(value, dict):
        return None
    for candidate in (value.get("approval"), value.get("record"), value):
        try:
            return parse_record(candidate, "")
        except ApprovalError:
            continue
    return None


def _too_large(what: str) -> ApprovalError:
    return ApprovalError("bad_response", f"{what}: the answer is larger than {MAX_RESPONSE_BYTES} bytes")


def _inflate(data: bytes, wbits: int, what: str, encoding: str) -> bytes:
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(data, MAX_RESPONSE_BYTES + 1)
    except zlib.error:
        raise ApprovalError("bad_response", f'{what}: the answer claims content encoding "{encoding}" but does not decode as such') from None
    if len(out) > MAX_RESPONSE_BYTES:
        raise _too_large(what)
    if not decoder.eof:
        raise ApprovalError("bad_response", f'{what}: the answer claims content encoding "{encoding}" but does not decode as such')
    return out


def _decode_body(raw: bytes, content_encoding: str | None, what: str) -> str:
    """The body as text. We ask for no compression, but some servers and proxies compress anyway:
    undoes ``Content-Encoding`` within the same size limit (so a small "zip bomb" cannot exhaust
    memory) and drops a UTF-8 byte-order mark, which ``json`` refuses."""
    encodings = [name.strip().lower() for name in (content_encoding or "").split(",")]
    data = raw
    # Listed in the order they were applied: undo them last to first.
    for encoding in reversed([name for name in encodings if name not in ("", "identity")]):
        if encoding in ("gzip", "x-gzip"):
            data = _inflate(data, 16 + zlib.MAX_WBITS, what, encoding)
        elif encoding == "deflate":
            data = _inflate(data, zlib.MAX_WBITS, what, encoding)
        else:
            raise ApprovalError("bad_response", f'{what}: the answer uses content encoding "{excerpt(encoding, 40)}", which this client cannot decode')
    text = data.decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


class ApprovalsClient:
    """An approvals API client: ``create``, ``get`` (long-poll), ``decide``, ``cancel``, ``list``.

    Connections are kept alive between calls. Use it within one event loop, and close it with
    ``await client.aclose()`` or ``async with ApprovalsClient(...) as client:``.

    Raises ``ApprovalError('invalid_config')`` for a bad URL, a missing key or a bad timeout.
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        *,
        request_timeout_ms: float = DEFAULT_REQUEST_TIMEOUT_MS,
        env: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._init(resolve_connection(api_url, api_key, env), request_timeout_ms, transport)

    @classmethod
    def _for_connection(cls, connection: ApiConnection) -> ApprovalsClient:
        client = cls.__new__(cls)
        client._init(connection, DEFAULT_REQUEST_TIMEOUT_MS, None)
        return client

    def _init(self, connection: ApiConnection, request_timeout_ms: float, transport: httpx.AsyncBaseTransport | None) -> None:
        if isinstance(request_timeout_ms, bool) or not isinstance(request_timeout_ms, (int, float)) or not request_timeout_ms > 0 or request_timeout_ms == float("inf"):
            raise ApprovalError("invalid_config", "request_timeout_ms must be a positive, finite number of milliseconds")
        #: The normalised base URL (no trailing slash).
        self.api_url: str = connection.api_url
        self.request_timeout_ms: float = request_timeout_ms
        self.__api_key = _Secret(connection.api_key)
        self.__transport = transport
        self.__http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"ApprovalsClient(api_url={self.api_url!r})"

    async def __aenter__(self) -> ApprovalsClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the kept-alive connections. The client can be used again afterwards."""
        http, self.__http = self.__http, None
        if http is not None:
            await http.aclose()

    def redact(self, text: str) -> str:
        """Replaces the API key wherever it appears in ``text``."""
        key = self.__api_key.reveal()
        return text.replace(key, "[redacted]") if len(key) >= 4 else text

    def redact_record(self, record: ApprovalRecord) -> ApprovalRecord:
        """``record`` with the API key replaced in every text field (for records put on errors)."""
        key = self.__api_key.reveal()
        if len(key) < 4:
            return record
        texts = {name: self.redact(value) for name, value in vars(record).items() if isinstance(value, str)}
        context = record.context
        dumped = json.dumps(context)
        escaped = json.dumps(key)[1:-1]
        if key in dumped or escaped in dumped:
            context = json.loads(dumped.replace(escaped, "[redacted]").replace(key, "[redacted]"))
        return dataclasses.replace(record, context=context, **texts)

    # ------------------------------------------------------------------ the contract

    async def create(
        self,
        action: str,
        *,
        context: dict[str, Any] | None = None,
        agent: str | None = None,
        idempotency_key: str | None = None,
        timeout_ms: float | None = None,
        request_timeout_ms: float | None = None,
    ) -> ApprovalRecord:
        """``POST /v1/approvals``. ``idempotency_key`` is sent as ``Idempotency-Key``: the same key
        gives back the same approval. ``timeout_ms`` asks the server to expire it (sent clamped to
        1 s ... 30 days). Failures other than auth/network/5xx/429 are ``create_failed``; an answer
        about another action is ``bad_response``."""
        action = check_action(action)
        what = f'Creating approval "{excerpt(action, 60)}"'
        body: dict[str, Any] = {"action": action, "context": check_context(context)}
        if check_name(agent, "agent") is not None:
            body["agent"] = agent
        if timeout_ms is not None:
            # The server refuses values outside its range (a 400 would fail the create): clamp instead.
            body["timeout_ms"] = min(MAX_SERVER_TIMEOUT_MS, max(MIN_SERVER_TIMEOUT_MS, _js_round(timeout_ms)))
        headers = {}
        if check_name(idempotency_key, "idempotency_key", ascii_only=True) is not None:
            headers["idempotency-key"] = str(idempotency_key)
        try:
            answer = await self._call("POST", "/v1/approvals", what, request_timeout_ms, body=body, headers=headers)
            record = parse_record(answer, what, known_status="pending")
        except ApprovalError as error:
            raise self._as_create_failure(error) from None
        if record.action is not None and record.action != action:
            raise ApprovalError(
                "bad_response",
                self.redact(f'{what}: the answer is about action "{excerpt(record.action, 80)}", not "{excerpt(action, 80)}"'),
                approval_id=record.id,
            )
        return record

    async def get(
        self,
        approval_id: str,
        *,
        wait_seconds: float | None = None,
        action: str | None = None,
        request_timeout_ms: float | None = None,
    ) -> ApprovalRecord:
        """``GET /v1/approvals/{id}``; with ``wait_seconds`` (0 < s <= 60) the server holds the answer
        while the approval is pending (long-poll). An answer about another approval (or, when
        ``action`` is given, another action) is ``bad_response``."""
        path = self._approval_path(approval_id)
        timeout = request_timeout_ms
        if wait_seconds is not None:
            if isinstance(wait_seconds, bool) or not isinstance(wait_seconds, (int, float)) or wait_seconds != wait_seconds or wait_seconds in (float("inf"), float("-inf")):
                raise ApprovalError("invalid_config", "wait_seconds must be a finite number of seconds")
            wait = min(MAX_WAIT_SECONDS, max(0.001, _js_round(wait_seconds * 1000) / 1000))
            path = f"{path}?wait={format(wait, 'g')}"
            if timeout is None:
                timeout = wait * 1000 + LONG_POLL_MARGIN_MS
        what = f"Checking approval {excerpt(approval_id, 80)}"
        answer = await self._call("GET", path, what, timeout, approval_id=approval_id)
        return self._parse(answer, what, approval_id, action)

    async def decide(self, approval_id: str, decision: Decision, reason: str | None = None, *, request_timeout_ms: float | None = None) -> ApprovalRecord:
        """``POST /v1/approvals/{id}/decision``. A decided approval gives ``ApprovalError('conflict')`` with ``.record``."""
        if decision not in ("approve", "reject"):
            raise ApprovalError("invalid_config", f'decision must be "approve" or "reject", not "{excerpt(str(decision), 40)}"')
        path = f"{self._approval_path(approval_id)}/decision"
        what = f"Deciding approval {excerpt(approval_id, 80)}"
        body: dict[str, Any] = {"decision": decision} if reason is None else {"decision": decision, "reason": reason}
        answer = await self._call("POST", path, what, request_timeout_ms, body=body, approval_id=approval_id)
        return self._parse(answer, what, approval_id)

    async def cancel(self, approval_id: str, reason: str | None = None, *, timed_out: bool = False, request_timeout_ms: float | None = None) -> ApprovalRecord:
        """``POST /v1/approvals/{id}/cancel``: withdraw a pending request. Decided: ``ApprovalError('conflict')``.

        ``timed_out`` (extension) says the requester gave up at its deadline: our server records it
        as expired (audit ``timed_out``) rather than cancelled.
        """
        path = f"{self._approval_path(approval_id)}/cancel"
        what = f"Withdrawing approval {excerpt(approval_id, 80)}"
        body: dict[str, Any] = {}
        if reason is not None:
            body["reason"] = reason
        if timed_out:
            body["timed_out"] = True
        answer = await self._call("POST", path, what, request_timeout_ms, body=body, approval_id=approval_id)
        return self._parse(answer, what, approval_id)

    async def list(
        self,
        *,
        status: ApprovalStatus | None = None,
        action: str | None = None,
        agent: str | None = None,
        decided_by: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        request_timeout_ms: float | None = None,
    ) -> ApprovalPage:
        """``GET /v1/approvals?...``, newest first."""
        filters = {"status": status, "action": action, "agent": agent, "decided_by": decided_by, "cursor": cursor, "limit": limit}
        params = {name: str(value) for name, value in filters.items() if value is not None and value != ""}
        query = f"?{urlencode(params)}" if params else ""
        answer = await self._call("GET", f"/v1/approvals{query}", "Listing approvals", request_timeout_ms)
        try:
            return parse_page(answer, "Listing approvals")
        except ApprovalError as error:
            raise self._redacted(error) from None

    # ------------------------------------------------------------------ plumbing

    def _parse(self, answer: object, what: str, approval_id: str, action: str | None = None) -> ApprovalRecord:
        try:
            return parse_record(answer, what, known_id=approval_id, known_action=action)
        except ApprovalError as error:
            raise self._redacted(error) from None

    def _redacted(self, error: ApprovalError) -> ApprovalError:
        message = self.redact(error.message)
        if message == error.message:
            return error
        return ApprovalError(error.code, message, status=error.status, approval_id=error.approval_id, retry_after_ms=error.retry_after_ms, record=error.record)

    def _approval_path(self, approval_id: str) -> str:
        if not isinstance(approval_id, str) or approval_id == "":
            raise ApprovalError("invalid_config", "approval id must be a non-empty string")
        return f"/v1/approvals/{quote(approval_id, safe='')}"

    def _http(self) -> httpx.AsyncClient:
        if self.__http is None:
            self.__http = httpx.AsyncClient(
                # Our own total timeout bounds every request; httpx only bounds the connect.
                timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_SECONDS),
                follow_redirects=False,
                transport=self.__transport,
                verify=_shared_ssl_context(),
                headers={"user-agent": USER_AGENT},
            )
        return self.__http

    def _error(self, code: ApprovalErrorCode, message: str, **details: Any) -> ApprovalError:
        """An error whose message cannot leak the key, even if a hostile server echoed it."""
        return ApprovalError(code, self.redact(message), **details)

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        timeout_ms: float | None,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        approval_id: str | None = None,
    ) -> object:
        """Sends a request; returns the parsed JSON of a 2xx answer and maps everything else to errors."""
        answer = await self._send(method, path, what, timeout_ms, body, headers or {}, approval_id)
        status, text = answer.status, answer.text
        if 200 <= status < 300:
            if text.strip() == "":
                raise self._error("bad_response", f"{what}: HTTP {status} with an empty body (expected JSON)", status=status, approval_id=approval_id)
            ok, value = _parse_json(text)
            if not ok:
                raise self._error(
                    "bad_response",
                    f"{what}: HTTP {status} but the body is not JSON ({excerpt(text, 80)}). Is {self.api_url} an approvals API?",
                    status=status,
                    approval_id=approval_id,
                )
            return value
        said = _describe_error_body(text)
        retry_after_ms = parse_retry_after(answer.headers.get("retry-after"))
        record: ApprovalRecord | None = None
        code: ApprovalErrorCode
        if status in (401, 403):
            code = "unauthorized"
            message = (
                f"{what}: {self.api_url} refused the API key (HTTP 401: {said}). "
                "Check api_key / APPROVAL_GATE_API_KEY and that the key is not revoked"
                if status == 401
                else f"{what}: the API key is not allowed to do this (HTTP 403: {said}). Use a key with the needed scope"
            )
        elif status == 404:
            code = "not_found"
            message = (
                f"{what}: no such approval (HTTP 404: {said}); it does not exist or belongs to another project"
                if approval_id is not None
                else f"{what}: HTTP 404 from {self.api_url}{path.split('?')[0]} ({said}). Check api_url"
            )
        elif status == 409:
            code = "conflict"
            message = f"{what}: the approval is no longer pending (HTTP 409: {said})"
            found = _record_in_error_body(text)
            record = self.redact_record(found) if found is not None else None
        elif status == 429:
            code = "rate_limited"
            message = f"{what}: rate limited (HTTP 429: {said})"
        elif 300 <= status < 400 and status != 304:
            # Never followed: the Authorization header must not travel to wherever a server points.
            location = answer.headers.get("location") or ""
            target = f" to {excerpt(location, 200)}" if location else ""
            code = "bad_request"
            message = f"{what}: HTTP {status} redirect{target}, not followed so the API key goes nowhere else. Set api_url to the API's final address"
        elif status == 422 and _error_code_in_body(text) == "idempotency_key_reused":
            # Same key, different request: never the old record, and retrying cannot help.
            code = "idempotency_key_reused"
            message = f"{what}: this idempotency_key was already used for a different request (HTTP 422: {said}); use a new key for a new request"
        elif status >= 500 and _error_code_in_body(text) == "integrity_error":
            # The server cannot prove the record (its audit chain does not vouch for it): never a
            # decision, and not transient either.
            code = "integrity_error"
            message = (
                f"{what}: the server cannot vouch for this approval (HTTP {status}: {said}); "
                "its audit trail does not verify, so no decision is taken from it. Ask the server's operator to run `approval-gate audit verify`"
            )
        elif status >= 500:
            code = "server_error"
            message = f"{what}: the API failed (HTTP {status}: {said})"
        else:
            code = "bad_request"
            message = f"{what}: HTTP {status}: {said}"
        raise self._error(code, message, status=status, approval_id=approval_id, retry_after_ms=retry_after_ms, record=record)

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        timeout_ms: float | None,
        body: dict[str, Any] | None,
        extra_headers: dict[str, str],
        approval_id: str | None,
    ) -> _Answer:
        timeout = max(1.0, timeout_ms if timeout_ms is not None else self.request_timeout_ms)
        headers = {
            "authorization": f"Bearer {self.__api_key.reveal()}",
            "accept": "application/json",
            "accept-encoding": "identity",
            **extra_headers,
        }
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["content-type"] = "application/json"
        url = f"{self.api_url}{path}"
        try:
            async with asyncio.timeout(timeout / 1000):
                async with self._http().stream(method, url, headers=headers, content=content) as response:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_raw():
                        size += len(chunk)
                        if size > MAX_RESPONSE_BYTES:
                            raise _too_large(what)
                        chunks.append(chunk)
                    status, response_headers = response.status_code, response.headers
        except ApprovalError:
            raise
        except TimeoutError:
            raise self._error("network_error", f"{what}: no answer from {self.api_url} within {round(timeout)} ms", approval_id=approval_id) from None
        except Exception as error:  # httpx, h11, OS and TLS errors alike: no answer
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise self._error("network_error", f"{what}: could not reach {self.api_url} ({reason})", approval_id=approval_id) from None
        try:
            text = _decode_body(b"".join(chunks), response_headers.get("content-encoding"), what)
        except ApprovalError:
            # An error answer stays what its status says (a 503 is still a 5xx); only its details are lost.
            if 200 <= status < 300:
                raise
            text = ""
        return _Answer(status, response_headers, text)

    def _as_create_failure(self, error: ApprovalError) -> ApprovalError:
        """On create, an answer that is neither transient nor about auth means "could not create"."""
        if error.code not in ("not_found", "bad_request", "bad_response", "conflict", "unknown_status"):
            return error
        return ApprovalError("create_failed", self.redact(error.message), status=error.status, retry_after_ms=error.retry_after_ms)
