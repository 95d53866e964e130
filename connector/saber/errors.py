"""One error type for every way Saber says no, parsed from every body shape the contract lists.

The API answers errors in (at least) five shapes; callers should not care which one came:

* flat:        `{"error": "NOT_FOUND", "message": "..."}` (optionally `details: [{field, message}]`)
* envelope:    `{"error": {"type", "code", "message", "requestId", "fields": [...], "errorCode", ...}}`
* rate limit:  `{"statusCode": 429, "error": "Too Many Requests", "message": "...", "retryAfter": 45}`
* integrations: `{"success": false, "data": null, "error": {"code", "message", "details"}, "traceId"}`
* not JSON:    an HTML page from a proxy (502), an empty body, ...

A 429 says how long to wait in one of three ways, read in this order: `retryAfter` in the
body (or a `Retry-After` header); else `X-Ratelimit-Reset` (a Unix time of the next window;
seconds from now are read too); else, as for the per-route envelope that carries no wait at
all, `DEFAULT_429_WAIT` seconds, as Saber's own CLI waits. The call policy caps every wait
at `HTTP_MAX_BACKOFF`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from connector.errors import ApiName, ConnectorError, FatalApiError, RetriableApiError, SkippableError
from connector.http_policy import header_value, parse_retry_after, seconds_hint, transport_reason
from connector.logs import scrub
from connector.ratelimit import parse_reset

KEY_VARIABLE = "SABER_API_KEY"
URL_VARIABLE = "SABER_BASE_URL"
DEFAULT_429_WAIT = 60.0  # a 429 that names no wait: what Saber's CLI waits (saberapp/cli, client.go)
MIN_429_WAIT = 0.1  # a reset already due still waits this long: no tight loop against a limit
RESET_HEADERS = ("X-Ratelimit-Reset", "RateLimit-Reset")


class SaberError(ConnectorError):
    """Saber refused or failed a call; `str()` names code, message and requestId (never the key)."""

    api: ApiName | None = "saber"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        fields: list[tuple[str, str]] | None = None,
        retry_after: float | None = None,
        error_code: str | None = None,
        error_action: str | None = None,
        details: Any = None,
        transport_reason: str | None = None,
        maybe_applied: bool = False,
    ) -> None:
        self.message = scrub(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.fields = list(fields or [])
        self.retry_after = retry_after
        self.error_code = error_code
        self.error_action = error_action
        self.details = details
        # Set when the request got no answer at all: why, in a few words (`connection refused`).
        self.transport_reason = transport_reason
        # Saber may have done what was asked although its answer never arrived (a read timeout,
        # a reset after sending, a 5xx from a proxy): a paid call is looked for before it is resent.
        self.maybe_applied = maybe_applied
        self.attempts = 1  # set by the call policy when the call gives up
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.transport_reason is not None:  # the message already says it all, in one line
            return scrub(self.message)
        head = " ".join(str(p) for p in (self.status, self.code) if p is not None)
        text = f"{head}: {self.message}" if head else self.message
        if self.fields:
            text += " (" + "; ".join(f"{f}: {m}" for f, m in self.fields) + ")"
        if self.request_id:
            text += f" [requestId {self.request_id}]"
        return scrub(text)


class SaberAuthError(SaberError, FatalApiError):
    """401/403: the key is missing, wrong or lacks a permission (fatal: the CLI exits 3).

    `str()` is the line the CLI prints: it names Saber and `SABER_API_KEY` (never the key),
    Saber's status, code and requestId, and Saber's own message.
    """

    exit_code = 3

    def __str__(self) -> str:
        facts = " ".join(str(p) for p in (self.status, self.code) if p is not None)
        if self.request_id:
            facts += f", requestId {self.request_id}"
        text = f"Saber refused {KEY_VARIABLE} ({facts}): "
        if self.status == 403:
            text += "the key lacks a permission this call needs: "
        text += self.message
        if self.fields:
            text += " (" + "; ".join(f"{f}: {m}" for f, m in self.fields) + ")"
        return scrub(text)


class SaberRequestError(SaberError, SkippableError):
    """Saber refused or garbled one call in a way that concerns that call only (skippable)."""


class InsufficientCredits(SaberError):
    """402: the account has no credits left for this call (spending stops; the run goes on)."""


class SaberNotFound(SaberRequestError):
    """404: no such research or signal (or not visible to this key)."""


class SaberValidationError(SaberRequestError):
    """400/422: Saber rejected what was sent; resending the same request cannot help."""


class SaberUnavailable(SaberError, RetriableApiError):
    """5xx or a transport failure that outlasted the retries (retriable; the CLI exits 3)."""

    exit_code = 3


class SaberRateLimited(SaberUnavailable):
    """429 that outlasted the retries."""


def unreachable(base_url: str, exc: BaseException, *, sent: bool = True) -> SaberUnavailable:
    """The error for a request that got no answer: `cannot reach Saber at SABER_BASE_URL (url): why`.

    `sent`: the request may have reached Saber (False only when no connection was made).
    """
    reason = transport_reason(exc)
    return SaberUnavailable(
        f"cannot reach Saber at {URL_VARIABLE} ({base_url}): {reason}",
        code="TRANSPORT_ERROR",
        transport_reason=reason,
        maybe_applied=sent,
    )


def error_class(status: int | None) -> type[SaberError]:
    """The error type for an HTTP status (None: the request never got an answer)."""
    if status is None or status >= 500:
        return SaberUnavailable
    if status in (401, 403):
        return SaberAuthError
    if status == 402:
        return InsufficientCredits
    if status == 404:
        return SaberNotFound
    if status in (400, 422):
        return SaberValidationError
    if status == 429:
        return SaberRateLimited
    return SaberRequestError


def parse_error(status: int, content: bytes | str, headers: Mapping[str, str] | None = None) -> SaberError:
    """Build the right `SaberError` subclass from any of the contract's error answers."""
    headers = headers or {}
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    parts = _from_json(body) if isinstance(body, dict) else _from_text(status, text)
    if parts.get("retry_after") is None:
        parts["retry_after"] = parse_retry_after(header_value(headers, "Retry-After"))
    if status == 429 and parts.get("retry_after") is None:
        parts["retry_after"] = _until_reset(headers)
    if not parts.get("request_id"):
        parts["request_id"] = header_value(headers, "X-Request-Id") or header_value(headers, "X-Trace-Id")
    if not parts.get("code"):
        parts["code"] = "TOO_MANY_REQUESTS" if status == 429 else f"HTTP_{status}"
    message = parts.pop("message", None) or f"HTTP {status}"
    return error_class(status)(str(message), status=status, maybe_applied=status >= 500, **parts)


def _until_reset(headers: Mapping[str, str]) -> float:
    """A 429 with no wait in it: until the window's `X-Ratelimit-Reset`, else the default."""
    for name in RESET_HEADERS:
        seconds = parse_reset(header_value(headers, name))
        if seconds is not None:
            return max(MIN_429_WAIT, seconds)
    return DEFAULT_429_WAIT


def _from_json(body: dict[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    parts: dict[str, Any] = {}
    if isinstance(error, dict):
        # The envelope, or the integrations API's `{success, data, error, traceId}`.
        parts["code"] = _text(error.get("code")) or _text(error.get("type"))
        parts["message"] = _text(error.get("message")) or _text(body.get("message"))
        parts["request_id"] = (
            _text(error.get("requestId")) or _text(body.get("traceId")) or _text(body.get("requestId"))
        )
        parts["fields"] = _fields(error.get("fields")) or _fields(error.get("details"))
        parts["error_code"] = _text(error.get("errorCode"))
        parts["error_action"] = _text(error.get("errorAction"))
        parts["details"] = error.get("details")
        parts["retry_after"] = seconds_hint(error.get("retryAfter"))
    else:
        # Flat `{"error": "CODE", "message", "details"}`, or the 429 `{"statusCode", "error": "Too
        # Many Requests", "retryAfter"}` whose `error` is a phrase, not a code.
        raw = _text(error) or _text(body.get("code"))
        if raw and not re.fullmatch(r"[A-Z0-9_]+", raw):
            raw = re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_").upper()
        parts["code"] = raw
        parts["message"] = _text(body.get("message"))
        parts["request_id"] = _text(body.get("requestId")) or _text(body.get("traceId"))
        parts["fields"] = _fields(body.get("details")) or _fields(body.get("fields"))
        parts["details"] = body.get("details")
        parts["error_code"] = _text(body.get("errorCode"))
        parts["error_action"] = _text(body.get("errorAction"))
    if parts.get("retry_after") is None:
        parts["retry_after"] = seconds_hint(body.get("retryAfter"))
    return parts


def _from_text(status: int, text: str) -> dict[str, Any]:
    """A body that is not a JSON object: keep a short, readable hint (an HTML page's title)."""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    snippet = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    snippet = " ".join(snippet.split())[:200]
    return {"code": f"HTTP_{status}", "message": snippet or f"HTTP {status} with an empty body"}


def _fields(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, dict) and ("field" in item or "message" in item):
            out.append((str(item.get("field", "")), str(item.get("message", ""))))
    return out


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
