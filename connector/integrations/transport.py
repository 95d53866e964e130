"""The account-group API's transport: one httpx pool, the shared call policy, the envelope.

Every answer is `{success, data, error: {code, message, details}, traceId}`: `data` is what a
call returns; `success: false` or a non-2xx status raises (`connector.integrations.errors`).
The `traceId` of every answer goes into the log line about the call and into the error's text,
so an operator can quote it to the vendor. Retries follow `connector.http_policy` with the
classifier in `connector.integrations.retry`. A POST that starts something carries the
caller's `Idempotency-Key`, fixed before the first attempt, so a retry after a lost answer is
replayed by the API (`200`) rather than started twice. No rate limits are published: the
client sets none and follows the 429s it gets. The key is sent only in the Authorization
header and is never logged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connector.http_body import bearer_client, read_capped
from connector.http_policy import Caller, CallPolicy
from connector.integrations.errors import (
    IntegrationsAnswerError,
    IntegrationsError,
    IntegrationsPermissionError,
    IntegrationsRejected,
    from_body,
    parse_error,
    unreachable,
)
from connector.integrations.retry import classify
from connector.logs import get_logger

log = get_logger("integrations")

API = "integrations"  # the call policy's api name (logs, metrics)
# The most of one answer's body read: a page of prospects is tens of kilobytes; a bigger
# answer is garbage and is refused without being held in memory. Errors are cut to this.
MAX_BODY_BYTES = 8 * 1024 * 1024
TRACE_HEADERS = ("X-Trace-Id", "X-Request-Id")


@dataclass(frozen=True)
class Reply:
    """One call's outcome: the HTTP status (200 vs 202 tells a replay), the envelope's data, its traceId."""

    status: int
    data: Any
    trace_id: str | None


class IntegrationsTransport:
    """Calls with one API key: retries, back-off, the envelope; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        policy: CallPolicy | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.policy = policy or CallPolicy()
        self.base_url = base_url.rstrip("/")
        self.max_body_bytes = max_body_bytes
        self._http = bearer_client(self.base_url, api_key, self.policy)
        self._caller = Caller(API, self.policy, classify, IntegrationsError, log)
        self.calls: Counter[str] = self._caller.counters.calls
        self.retries: Counter[str] = self._caller.counters.retries

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        permission: str | None = None,
    ) -> Reply:
        """One logical call (its attempts and retries), answered with the envelope's data.

        `permission`: what this call needs, named by a 403 whose answer does not name it.
        """
        headers: dict[str, str] = {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key  # the same on every retry of this call

        def attempt() -> Reply:
            try:
                query = tuple(params) if params is not None else None
                request = self._http.build_request(method, path, params=query, json=body, headers=headers)
                response = read_capped(self._http.send(request, stream=True), self.max_body_bytes, _too_large)
            except IntegrationsError:
                raise
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
                raise IntegrationsRejected(f"{type(exc).__name__}: {exc}", code="REQUEST_ERROR") from exc
            except httpx.TransportError as exc:
                raise unreachable(self.base_url, exc, sent=not isinstance(exc, _NOT_SENT)) from exc
            if not response.is_success:
                error = parse_error(response.status_code, response.content, response.headers)
                raise _with_permission(error, permission)
            return _unwrap(op, response, permission)

        reply = self._caller.call(op, attempt)
        log.debug("integrations_call", operation=op, status=reply.status, trace_id=reply.trace_id)
        return reply


# Transport failures before a connection was made: the request never reached the API.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _with_permission(error: IntegrationsError, permission: str | None) -> IntegrationsError:
    """A 403 that names no permission names the one the call needs."""
    if isinstance(error, IntegrationsPermissionError) and not error.permission:
        error.permission = permission
    return error


def _unwrap(op: str, response: httpx.Response, permission: str | None) -> Reply:
    """The envelope's `data` of a 2xx answer; `success: false` raises as the error it carries."""
    header_trace = next((v for h in TRACE_HEADERS if (v := response.headers.get(h))), None)
    try:
        body = response.json()
    except ValueError:
        raise IntegrationsAnswerError(
            f"{op}: the answer is not JSON: {short(response.text)}",
            status=response.status_code,
            code="INVALID_RESPONSE",
            trace_id=header_trace,
            maybe_applied=True,
        ) from None
    if not isinstance(body, dict):
        raise IntegrationsAnswerError(
            f"{op}: the answer is not an object: {short(body)}",
            status=response.status_code,
            code="INVALID_RESPONSE",
            trace_id=header_trace,
            maybe_applied=True,
        )
    trace = body.get("traceId") or body.get("trace_id")
    trace_id = trace if isinstance(trace, str) and trace else header_trace
    if body.get("success") is False:
        error = from_body(response.status_code, body, response.headers)
        raise _with_permission(error, permission)
    if "data" in body:
        return Reply(response.status_code, body["data"], trace_id)
    if "success" in body:  # an envelope with no data at all
        raise IntegrationsAnswerError(
            f"{op}: the answer has no data: {short(body)}",
            status=response.status_code,
            code="INVALID_RESPONSE",
            trace_id=trace_id,
            maybe_applied=True,
        )
    return Reply(response.status_code, body, trace_id)  # no envelope: the body is the data


def short(data: Any, limit: int = 200) -> str:
    """Some JSON or text, cut for a message."""
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _too_large(message: str, status: int) -> IntegrationsAnswerError:
    return IntegrationsAnswerError(message, status=status, code="RESPONSE_TOO_LARGE")
