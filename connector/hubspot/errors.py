"""One error type for everything HubSpot answers, built from the client's many exceptions.

Each `hubspot.crm.<module>` has its own `ApiException` class; all of them end up here as a
`HubSpotError` carrying what HubSpot said (status, category, message, correlation id,
rate-limit policy) and the per-property validation errors it embeds in `message`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.errors import ApiName, ApiUnavailableError, ConnectorError, FatalApiError, RetriableApiError
from connector.http_policy import TLS_FAILED, header_value, parse_retry_after, transport_reason
from connector.logs import scrub

MAX_MESSAGE = 500  # characters of HubSpot's message kept in str(error)
TOKEN_VARIABLE = "HUBSPOT_ACCESS_TOKEN"
URL_VARIABLE = "HUBSPOT_BASE_URL"


@dataclass(frozen=True)
class PropertyError:
    """One per-property validation error (HubSpot does not always say which record)."""

    name: str | None
    code: str
    message: str


class HubSpotError(ConnectorError):
    """HubSpot refused a call, or could not be reached; what it said is kept in fields.

    HubSpot gives no error code of its own (`code` is None): its `status` and `category` say it.
    """

    api: ApiName | None = "hubspot"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        policy_name: str | None = None,
        errors: Sequence[PropertyError] = (),
        retry_after: float | None = None,
        interval_ms: int | None = None,
        hubspot_message: str | None = None,
        transport: bool = False,
        transport_reason: str | None = None,
        missing_scopes: Sequence[str] = (),
    ):
        super().__init__(scrub(message))
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.policy_name = policy_name
        self.errors = list(errors)
        self.retry_after = retry_after
        self.interval_ms = interval_ms
        self.message = scrub(hubspot_message if hubspot_message is not None else message)
        self.transport = transport  # no answer at all (retried as a transient failure)
        # Why there was no answer, in a few words (`connection refused`), when there was none.
        self.transport_reason = transport_reason
        self.missing_scopes = list(missing_scopes)  # scopes a 403 says the private app lacks
        # Set by the transport on a call that must not run twice (a batch create) when HubSpot may
        # have done it although no usable answer came back (a 5xx, a read timeout, a reset).
        self.maybe_applied = False
        self.attempts = 1  # set by the call policy when the call gives up

    @property
    def unavailable(self) -> bool:
        """True when the CLI should end with exit code 3 (HubSpot unreachable or refusing)."""
        return isinstance(self, ApiUnavailableError)


class HubSpotAuthError(HubSpotError, FatalApiError):
    """HubSpot refused the token (401) or the private app lacks a scope (403)."""


class HubSpotUnavailableError(HubSpotError, RetriableApiError):
    """HubSpot could not be reached, or kept failing with 5xx, after every retry."""


class CreateMaybeApplied(HubSpotUnavailableError):
    """A batch create got no usable answer after it may have reached HubSpot: it is not resent.

    A create is not idempotent (HubSpot has no "create if absent" for contacts without an email),
    so after a read timeout, a reset or a 5xx it may have been applied. `keys` are the inputs of
    that call: look them up (by the property the caller keys people on) before sending them
    again. `result` holds what the earlier calls of the same `create` did; `unsent` the keys no
    call carried yet.
    """

    def __init__(self, message: str, *, keys: Sequence[str], result: Any, unsent: Sequence[str] = ()):
        super().__init__(message, transport=False)
        self.keys = list(keys)
        self.result = result  # a records.CreateResult (not imported: records imports this module)
        self.unsent = list(unsent)
        self.maybe_applied = True


class DailyLimitReached(HubSpotError, FatalApiError):
    """The portal's daily API limit is used up: retrying before it resets only wastes calls."""


def error_from_response(
    status: int, body: str | bytes | None, headers: Mapping[str, str] | None
) -> HubSpotError:
    """The `HubSpotError` for one non-2xx answer."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    data: dict[str, Any] = {}
    try:
        parsed = json.loads(text) if text else {}
        if isinstance(parsed, dict):
            data = parsed
    except ValueError:
        pass
    hubspot_message = str(data.get("message") or text.strip()[:MAX_MESSAGE] or "no message")
    category = _str(data.get("category")) or _str(data.get("errorType"))
    policy = _str(data.get("policyName"))
    fields: dict[str, Any] = {
        "status": status,
        "category": category,
        "correlation_id": _str(data.get("correlationId")),
        "policy_name": policy,
        "errors": parse_property_errors(hubspot_message, data.get("errors")),
        "retry_after": parse_retry_after(header_value(headers, "Retry-After")),
        "interval_ms": _int(header_value(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")),
        "hubspot_message": hubspot_message,
    }
    short = hubspot_message if len(hubspot_message) <= MAX_MESSAGE else hubspot_message[:MAX_MESSAGE] + "…"
    label = f"{status} {category}" if category else str(status)
    if status == 429 and policy == "DAILY":
        return DailyLimitReached(
            f"HubSpot's daily API limit is used up; the run stops until it resets ({short})", **fields
        )
    if status in (401, 403):
        facts = label + (f", correlationId {fields['correlation_id']}" if fields["correlation_id"] else "")
        head = f"HubSpot refused {TOKEN_VARIABLE} ({facts}): "
        if status == 401:
            return HubSpotAuthError(head + short, **fields)
        scopes = missing_scopes(data)
        if scopes:
            lack = f"the private app lacks the scope{'s' if len(scopes) > 1 else ''} {', '.join(scopes)}"
        else:
            lack = "the private app may lack a scope"
        return HubSpotAuthError(f"{head}{lack}: {short}", missing_scopes=scopes, **fields)
    if status >= 500:
        return HubSpotUnavailableError(f"HubSpot failed ({label}): {short}", **fields)
    return HubSpotError(f"HubSpot answered {label}: {short}", **fields)


def unreachable(base_url: str, exc: BaseException) -> HubSpotUnavailableError:
    """The error for a request that got no answer: `cannot reach HubSpot at HUBSPOT_BASE_URL (url): why`.

    A TLS failure is not retried (a certificate does not fix itself between attempts);
    anything else is a transient failure (`transport`), retried as the call policy says.
    """
    reason = transport_reason(exc)
    return HubSpotUnavailableError(
        f"cannot reach HubSpot at {URL_VARIABLE} ({base_url}): {reason}",
        transport=not reason.startswith(TLS_FAILED),
        transport_reason=reason,
    )


def missing_scopes(data: Mapping[str, Any]) -> list[str]:
    """The scopes a 403 body names (`context.requiredGranularScopes`, `requiredScopes`, `missingScopes`).

    HubSpot puts them in `errors[].context` (and the spec allows the top-level `context`).
    """
    contexts = [data.get("context")]
    contexts += [item.get("context") for item in data.get("errors") or [] if isinstance(item, dict)]
    found: list[str] = []
    for context in contexts:
        if not isinstance(context, dict):
            continue
        for key, values in context.items():
            if "scope" in str(key).lower() and isinstance(values, list):
                found.extend(str(v) for v in values if v not in (None, ""))
    return list(dict.fromkeys(found))


def parse_property_errors(message: str, errors: Any = None) -> list[PropertyError]:
    """Per-property errors from the JSON array HubSpot embeds in `message` (and `errors`)."""
    out: list[PropertyError] = []
    decoder = json.JSONDecoder()
    start = message.find("[")
    while start != -1:
        try:
            items, _ = decoder.raw_decode(message, start)
        except ValueError:
            start = message.find("[", start + 1)
            continue
        if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
            for item in items:
                out.append(
                    PropertyError(
                        name=_str(item.get("name")),
                        code=_str(item.get("error")) or _str(item.get("code")) or "INVALID_VALUE",
                        message=str(item.get("message") or item.get("localizedErrorMessage") or ""),
                    )
                )
            break
        start = message.find("[", start + 1)
    if isinstance(errors, list):  # the standard error shape: {message, code, context: {propertyName: [...]}}
        for item in errors:
            if not isinstance(item, dict):
                continue
            names = (item.get("context") or {}).get("propertyName") or [None]
            for name in names:
                out.append(
                    PropertyError(
                        name=_str(name),
                        code=_str(item.get("code")) or "INVALID_VALUE",
                        message=str(item.get("message") or ""),
                    )
                )
    return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
