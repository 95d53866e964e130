"""Every way the account-group API says no, typed by what the connector does next.

The API answers `{"success": false, "data": null, "error": {code, message, details}, "traceId"}`
(flat `{"error": "CODE", "message"}` bodies and non-JSON proxy pages are read too). The class
says the consequence (see `connector.errors`): a refused key stops the run, a 402 stops
starting, an `AUDIENCE_NOT_READY` is read again later, a 400/409/422 is reported against the
one job, scan or prospect, and a 5xx/429 that outlasted the retries puts the call off.
`str()` names status, code, message and the `traceId` (to quote to the vendor), never the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from connector.errors import (
    ApiName,
    ConfigError,
    ConnectorError,
    FatalApiError,
    RetriableApiError,
    SkippableError,
)
from connector.http_policy import header_value, parse_retry_after, seconds_hint, transport_reason
from connector.logs import scrub

KEY_VARIABLE = "INTEGRATIONS_API_KEY"
URL_VARIABLE = "INTEGRATIONS_BASE_URL"
GROUP_VARIABLE = "INTEGRATIONS_ACCOUNT_GROUP"
LABEL = "Saber integrations API"
DEFAULT_429_WAIT = 60.0  # a 429 that names no wait (none is published): as Saber's CLI waits
MAX_DETAILS = 300  # characters of an error's details kept in its text
_PERMISSION = re.compile(r"permission[:\s]+([a-z_]+:[a-z_]+)", re.I)


class IntegrationsError(ConnectorError):
    """The account-group API refused or failed a call; `str()` names status, code, message, traceId."""

    api: ApiName | None = "integrations"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
        transport_reason: str | None = None,
        maybe_applied: bool = False,
    ) -> None:
        self.message = scrub(message)
        self.status = status
        self.code = code
        self.details = details
        self.trace_id = trace_id
        self.retry_after = retry_after
        # Set when the request got no answer at all: why, in a few words (`connection refused`).
        self.transport_reason = transport_reason
        # The API may have done what was asked although its answer was lost.
        self.maybe_applied = maybe_applied
        self.attempts = 1  # set by the call policy when the call gives up
        super().__init__(message)

    @property
    def request_id(self) -> str | None:
        """The traceId, under the name the call policy's log lines use."""
        return self.trace_id

    def _facts(self) -> str:
        return " ".join(str(p) for p in (self.status, self.code) if p is not None)

    def _tail(self) -> str:
        text = ""
        shown = describe_details(self.details)
        if shown:
            text += f" ({shown})"
        if self.trace_id:
            text += f" [traceId {self.trace_id}]"
        return text

    def __str__(self) -> str:
        if self.transport_reason is not None:
            return scrub(self.message)
        head = self._facts()
        text = f"{head}: {self.message}" if head else self.message
        return scrub(text + self._tail())


class IntegrationsAuthError(IntegrationsError, FatalApiError):
    """401: the key is wrong or revoked (fatal: exit 3); names INTEGRATIONS_API_KEY, never the key."""

    exit_code = 3

    def __str__(self) -> str:
        return scrub(f"{LABEL} refused {KEY_VARIABLE} ({self._facts()}): {self.message}{self._tail()}")


class IntegrationsPermissionError(IntegrationsAuthError):
    """403: the key lacks a permission; `.permission` names it (the answer's, else the call's)."""

    def __init__(self, message: str, *, permission: str | None = None, **facts: Any) -> None:
        super().__init__(message, **facts)
        self.permission = permission or named_permission(message, facts.get("details"))

    def __str__(self) -> str:
        needed = self.permission or "(not named)"
        return scrub(
            f"{LABEL} refused {KEY_VARIABLE} ({self._facts()}): the key lacks the permission {needed}: "
            f"{self.message}{self._tail()}"
        )


class IntegrationsCreditsError(IntegrationsError):
    """402 INSUFFICIENT_CREDITS: nothing more is started this run; the rest of the run goes on."""


class AudienceNotReady(IntegrationsError):
    """409 AUDIENCE_NOT_READY: a job is still filling the audience; read it again later."""


class IntegrationsConflict(IntegrationsError, SkippableError):
    """Another 409 (IDEMPOTENCY_CONFLICT, a state that forbids the call): reported against its subject."""


class IntegrationsRejected(IntegrationsError, SkippableError):
    """400/422 (VALIDATION_ERROR, ...): resending the same request cannot help; `.details` says why."""


class IntegrationsNotFound(IntegrationsRejected):
    """404: no such job, scan, audience or prospect (or not visible to this key)."""


class IntegrationsAnswerError(IntegrationsError, SkippableError):
    """A 2xx answer of the wrong shape: reported against its job, scan or prospect, never a traceback."""


class IntegrationsUnavailable(IntegrationsError, RetriableApiError):
    """5xx, 429 or no answer, after every retry (the call is put off; the CLI exits 3)."""

    exit_code = 3


class IntegrationsConfigError(ConfigError):
    """No group to use: none, several and INTEGRATIONS_ACCOUNT_GROUP unset, or the set one unreached."""


def unreachable(base_url: str, exc: BaseException, *, sent: bool = True) -> IntegrationsUnavailable:
    """The error for a request that got no answer, naming INTEGRATIONS_BASE_URL and why."""
    reason = transport_reason(exc)
    return IntegrationsUnavailable(
        f"cannot reach the {LABEL} at {URL_VARIABLE} ({base_url}): {reason}",
        code="TRANSPORT_ERROR",
        transport_reason=reason,
        maybe_applied=sent,
    )


_BY_CODE: dict[str, type[IntegrationsError]] = {
    "UNAUTHORIZED": IntegrationsAuthError,
    "FORBIDDEN": IntegrationsPermissionError,
    "INSUFFICIENT_CREDITS": IntegrationsCreditsError,
    "AUDIENCE_NOT_READY": AudienceNotReady,
    "NOT_FOUND": IntegrationsNotFound,
    "IDEMPOTENCY_CONFLICT": IntegrationsConflict,
}


def error_class(status: int | None, code: str | None) -> type[IntegrationsError]:
    """The error type for a status (None: no answer) and the API's code."""
    if status is None or status >= 500 or status == 429:
        return IntegrationsUnavailable
    if status == 401:
        return IntegrationsAuthError
    if status == 403:
        return IntegrationsPermissionError
    if status == 402:
        return IntegrationsCreditsError
    if status == 404:
        return IntegrationsNotFound
    if status == 409:
        return AudienceNotReady if code == "AUDIENCE_NOT_READY" else IntegrationsConflict
    if 200 <= status < 300:  # `success: false` in a 2xx: the code is all there is to go on
        return _BY_CODE.get(code or "", IntegrationsRejected)
    return IntegrationsRejected


def parse_error(
    status: int, content: bytes | str, headers: Mapping[str, str] | None = None
) -> IntegrationsError:
    """The right `IntegrationsError` for an error answer, whatever its body shape."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    return from_body(status, body if isinstance(body, dict) else None, headers, text=text)


def from_body(
    status: int,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None = None,
    *,
    text: str = "",
) -> IntegrationsError:
    """The error an answer's (decoded) body and headers describe."""
    code: str | None = None
    message: str | None = None
    details: Any = None
    trace_id: str | None = None
    retry_after: float | None = None
    if body is not None:
        error = body.get("error")
        if isinstance(error, dict):
            code = _text(error.get("code"))
            message = _text(error.get("message"))
            details = error.get("details")
            retry_after = seconds_hint(error.get("retryAfter"))
        else:
            code = _text(error)
            message = _text(body.get("message"))
            details = body.get("details")
        if code and not re.fullmatch(r"[A-Z0-9_]+", code):
            code = re.sub(r"[^A-Za-z0-9]+", "_", code).strip("_").upper()
        trace_id = _text(body.get("traceId")) or _text(body.get("trace_id"))
        if retry_after is None:
            retry_after = seconds_hint(body.get("retryAfter"))
        if retry_after is None and isinstance(details, dict):
            retry_after = seconds_hint(details.get("retryAfter"))
    elif text.strip():
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        message = " ".join((title.group(1) if title else re.sub(r"<[^>]+>", " ", text)).split())[:200]
    header_wait = parse_retry_after(header_value(headers, "Retry-After"))
    if header_wait is not None:
        retry_after = header_wait
    if status == 429 and retry_after is None:
        retry_after = DEFAULT_429_WAIT
    trace_id = trace_id or header_value(headers, "X-Trace-Id") or header_value(headers, "X-Request-Id")
    code = code or ("TOO_MANY_REQUESTS" if status == 429 else f"HTTP_{status}")
    cls = error_class(status, code)
    return cls(
        message or f"HTTP {status}",
        status=status,
        code=code,
        details=details,
        trace_id=trace_id,
        retry_after=retry_after,
        maybe_applied=status >= 500,
    )


def named_permission(message: str | None, details: Any) -> str | None:
    """The permission a 403 names: `details.permission`, else `permission: x:y` in its message."""
    if isinstance(details, dict):
        value = details.get("permission") or details.get("requiredPermission")
        if isinstance(value, str) and value:
            return value
    found = _PERMISSION.search(message or "")
    return found.group(1) if found else None


def describe_details(details: Any) -> str:
    """An error's details in one short line: `field: message; ...`, a dict's pairs, or its text."""
    if details is None or details == "" or details == [] or details == {}:
        return ""
    if isinstance(details, list):
        parts = []
        for item in details:
            if isinstance(item, dict) and ("field" in item or "message" in item):
                parts.append(f"{item.get('field', '')}: {item.get('message', '')}".strip(": "))
            else:
                parts.append(str(item))
        text = "; ".join(parts)
    elif isinstance(details, dict):
        text = "; ".join(f"{k}: {v}" for k, v in details.items())
    else:
        text = str(details)
    return text if len(text) <= MAX_DETAILS else text[:MAX_DETAILS] + "…"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
