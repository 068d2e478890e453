"""Resolves and validates arguments once, before any request: environment fallbacks, defaults,
and a clear ``ApprovalError('invalid_config')`` naming the argument that is wrong.

Same rules as the TypeScript core. Messages never contain the API key.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from .agent_scope import current_agent
from .errors import ApprovalError

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_TIMEOUT_MS",
    "DEFAULT_POLL_INTERVAL_MS",
    "MAX_ACTION_LENGTH",
    "MAX_CONTEXT_BYTES",
    "ApiConnection",
    "ResolvedOptions",
    "normalise_api_url",
    "resolve_connection",
    "resolve_options",
    "check_action",
    "check_context",
    "check_name",
]

DEFAULT_API_URL = "https://api.jamjet.dev"
DEFAULT_TIMEOUT_MS = 3_600_000
DEFAULT_POLL_INTERVAL_MS = 5_000
MAX_ACTION_LENGTH = 200
MAX_CONTEXT_BYTES = 64 * 1024
#: Longest poll interval accepted (the core's timer limit, ~24.8 days).
MAX_POLL_INTERVAL_MS = 2**31 - 1
#: Longest timeout accepted (JavaScript's largest safe integer, as in the core).
MAX_TIMEOUT_MS = 2**53 - 1
#: Prefix of the API keys our own server issues. Such a key is never sent to JamJet Cloud.
SELF_HOSTED_KEY_PREFIX = "agk_"

_HEADER_SAFE = re.compile(r"^[\x20-\x7e]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _invalid(message: str) -> ApprovalError:
    return ApprovalError("invalid_config", message)


def _first_set(*values: str | None) -> str | None:
    """The first value that is set and not blank."""
    for value in values:
        if value is not None and value.strip() != "":
            return value
    return None


def _utf16_length(text: str) -> int:
    """Length as JavaScript (and so our server) counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


@dataclass(frozen=True)
class ApiConnection:
    """Where and how to reach an approvals API. The key is left out of ``repr``."""

    #: Normalised base URL: http(s), no trailing slash, no query or fragment.
    api_url: str
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class ResolvedOptions:
    """Everything ``request_approval`` needs, validated."""

    connection: ApiConnection
    action: str
    #: A copy of the caller's context, exactly as it is sent.
    context: dict[str, Any]
    timeout_ms: float
    poll_interval_ms: float
    agent: str | None
    idempotency_key: str | None


def normalise_api_url(raw: str, source: str = "api_url") -> str:
    """Validates and normalises an API base URL (http or https only; a trailing slash is harmless)."""
    text = raw.strip()
    # Echo it without any `user:password@` part: that is often a secret.
    shown = re.sub(r"//[^/?#]*@", "//…@", text[:200])
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _invalid(f'{source} is not a valid URL: "{shown}". Use something like https://approvals.example.com') from None
    scheme = parts.scheme.lower()
    if scheme == "" or not parts.netloc:
        raise _invalid(f'{source} is not a valid URL: "{shown}". Use something like https://approvals.example.com')
    if scheme not in _DEFAULT_PORTS:
        raise _invalid(f'{source} must use http or https, not "{scheme}"')
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _invalid(f"{source} must not contain credentials; pass the API key as api_key instead")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise _invalid(f"{source} must not contain a query string or fragment")
    host = parts.hostname or ""
    if host == "" or any(char.isspace() for char in host):
        raise _invalid(f'{source} is not a valid URL: "{shown}". Use something like https://approvals.example.com')
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _is_jamjet_cloud(api_url: str) -> bool:
    host = (urlsplit(api_url).hostname or "").lower()
    return host == "jamjet.dev" or host.endswith(".jamjet.dev")


def resolve_connection(api_url: str | None = None, api_key: str | None = None, env: Mapping[str, str] | None = None) -> ApiConnection:
    """The API URL and key: arguments, then ``APPROVAL_GATE_API_URL``/``_KEY``, then
    ``JAMJET_API_URL``/``_KEY``; the URL defaults to JamJet Cloud. Raises ``invalid_config``."""
    environ: Mapping[str, str] = os.environ if env is None else env
    if api_url is not None and not isinstance(api_url, str):
        raise _invalid("api_url must be a string")
    if api_key is not None and not isinstance(api_key, str):
        raise _invalid("api_key must be a string")
    env_url = environ.get("APPROVAL_GATE_API_URL")
    jamjet_url = environ.get("JAMJET_API_URL")
    if _first_set(api_url) is not None:
        source = "api_url"
    elif _first_set(env_url) is not None:
        source = "APPROVAL_GATE_API_URL"
    elif _first_set(jamjet_url) is not None:
        source = "JAMJET_API_URL"
    else:
        source = "the default API URL"
    url = normalise_api_url(_first_set(api_url, env_url, jamjet_url) or DEFAULT_API_URL, source)
    key = _first_set(api_key, environ.get("APPROVAL_GATE_API_KEY"), environ.get("JAMJET_API_KEY"))
    if key is None:
        raise _invalid("No API key: pass api_key, or set APPROVAL_GATE_API_KEY (or JAMJET_API_KEY)")
    key = key.strip()
    if not _HEADER_SAFE.match(key):
        raise _invalid(
            "The API key contains characters that cannot be sent in an HTTP header "
            "(spaces inside are fine, line breaks and non-ASCII are not)"
        )
    if key.startswith(SELF_HOSTED_KEY_PREFIX) and _is_jamjet_cloud(url):
        where = (
            f"No API URL is set, so the request would go to JamJet Cloud ({url})"
            if source == "the default API URL"
            else f"{source} points at JamJet Cloud ({url})"
        )
        raise _invalid(
            f"{where}, but the API key is a self-hosted approval-gate key (agk_…), which is never sent there. "
            "Set api_url (or APPROVAL_GATE_API_URL) to your approval-gate server, e.g. https://approvals.example.com"
        )
    return ApiConnection(api_url=url, api_key=key)


def _duration(value: object, name: str, fallback: float, maximum: float) -> float:
    if value is None:
        return fallback
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
        raise _invalid(f"{name} must be a positive, finite number of milliseconds (got {shown})")
    if value > maximum:
        raise _invalid(f"{name} must be at most {maximum} ms (got {value})")
    return value


def check_context(context: object) -> dict[str, Any]:
    """A context: a dict that serialises to a JSON object of at most 64 KB. Returns a copy."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise _invalid("context must be a dict (a JSON object), e.g. {'service': 'api', 'version': '1.2.3'}")
    try:
        text = json.dumps(context, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as error:
        raise _invalid(f"context cannot be serialised to JSON: {error}") from None
    if size > MAX_CONTEXT_BYTES:
        raise _invalid(f"context is {size} bytes as JSON; the limit is {MAX_CONTEXT_BYTES} (64 KB)")
    # Send exactly what was validated: a copy, so later changes by the caller change nothing.
    copy: dict[str, Any] = json.loads(text)
    return copy


def check_name(value: object, name: str, *, ascii_only: bool = False) -> str | None:
    """An optional agent name or idempotency key: non-empty, at most 200 characters, no control
    characters (``ascii_only``: printable ASCII, as HTTP headers need)."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or value == ""
        or _utf16_length(value) > MAX_ACTION_LENGTH
        or (not _HEADER_SAFE.match(value) if ascii_only else _has_control_characters(value))
    ):
        what = "printable ASCII characters" if ascii_only else "characters without control characters"
        raise _invalid(f"{name} must be a non-empty string of at most {MAX_ACTION_LENGTH} {what}")
    return value


def check_action(action: object) -> str:
    """An action name: not blank, at most 200 characters, no control characters."""
    if not isinstance(action, str) or action.strip() == "":
        raise _invalid('action must be a non-empty string, e.g. "production_deploy"')
    length = _utf16_length(action)
    if length > MAX_ACTION_LENGTH:
        raise _invalid(f"action is {length} characters long; the limit is {MAX_ACTION_LENGTH}")
    if _has_control_characters(action):
        raise _invalid("action must not contain control characters (line breaks, tabs, ...)")
    return action


def resolve_options(
    action: object,
    *,
    context: object = None,
    timeout_ms: object = None,
    poll_interval_ms: object = None,
    api_url: str | None = None,
    api_key: str | None = None,
    agent: object = None,
    idempotency_key: object = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedOptions:
    """Validates everything ``request_approval`` was given. Raises ``ApprovalError('invalid_config')``.

    ``agent``: an explicit value wins; otherwise the innermost ``with agent(...)`` scope.
    """
    checked_action = check_action(action)
    connection = resolve_connection(api_url, api_key, env)
    return ResolvedOptions(
        connection=connection,
        action=checked_action,
        context=check_context(context),
        timeout_ms=_duration(timeout_ms, "timeout_ms", DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS),
        poll_interval_ms=_duration(poll_interval_ms, "poll_interval_ms", DEFAULT_POLL_INTERVAL_MS, MAX_POLL_INTERVAL_MS),
        agent=check_name(agent if agent is not None else current_agent(), "agent"),
        idempotency_key=check_name(idempotency_key, "idempotency_key", ascii_only=True),
    )
