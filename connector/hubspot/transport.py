"""The HubSpot transport: the official client, timeouts, the call policy and rate limits.

Every HubSpot call of the connector goes through `HubSpotTransport.call`. What it adds to the
client: timeouts on every call, retries under the shared call policy (`connector.http_policy`;
429 after the window, 5xx and transport errors with back-off, for POSTs too; never the daily
limit), client-side rate limits, one error type, and a cap on the size of an answer read.

Besides its own rolling-window limits, the transport follows what HubSpot's answers say is left:
`X-HubSpot-RateLimit-Remaining` calls in the rolling window of
`X-HubSpot-RateLimit-Interval-Milliseconds` (of `-Max` in all). With few left it spreads them
over one window, and with none left it waits a window (a rolling window frees a call when
that call is a window old: waiting one whole window is the wait that is always enough), so
another app or replica spending the same portal's limit slows it down before a 429 does; a
`Retry-After`, when HubSpot sends one, is its own word on when calls are allowed again and
shortens that wait. Search answers carry no such headers (HubSpot's docs) and searches have
a limit of their own, so only the other calls follow them. The older `-Secondly-Remaining`
is read, with a one-second window, when `-Remaining` is absent.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

import hubspot
import hubspot.crm.associations.v4 as hs_associations
import hubspot.crm.companies as hs_companies
import hubspot.crm.contacts as hs_contacts
import hubspot.crm.properties as hs_properties
import urllib3

from connector.http_policy import Caller, CallPolicy, parse_retry_after
from connector.hubspot.errors import HubSpotError, error_from_response, unreachable
from connector.hubspot.limits import DEFAULT_WINDOW
from connector.hubspot.retry import classify, facts
from connector.logs import get_logger, scrub
from connector.ratelimit import QuotaFollower, RateLimiter, parse_count

log = get_logger("hubspot")
# The most of one answer's body read: a page of 100 contacts is well under a megabyte; a
# bigger answer is garbage (a misrouted download, a runaway proxy) and is not held in memory.
MAX_BODY_BYTES = 16 * 1024 * 1024

T = TypeVar("T")
A = TypeVar("A")

# With this many calls (or fewer) left in the window, the transport spreads them out.
LOW_WATER = 5
REMAINING_HEADER = "X-HubSpot-RateLimit-Remaining"
INTERVAL_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"
SECONDLY_REMAINING_HEADER = "X-HubSpot-RateLimit-Secondly-Remaining"

# The client's exception classes (untyped: `Any`, so that their `status`, `body`... type-check).
_API_EXCEPTIONS: tuple[Any, ...] = (
    hs_contacts.ApiException,
    hs_properties.ApiException,
    hs_companies.ApiException,
    hs_associations.ApiException,
)
_CLIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    hs_contacts.exceptions.OpenApiException,
    hs_properties.exceptions.OpenApiException,
    hs_companies.exceptions.OpenApiException,
    hs_associations.exceptions.OpenApiException,
)
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.DecodeError,
    ConnectionError,
    TimeoutError,
    http.client.HTTPException,
)


class HubSpotOptions(TypedDict, total=False):
    """`HubSpotTransport`'s keyword options, passed on by `HubSpotAdapter` (defaults on the transport)."""

    policy: CallPolicy | None
    requests_per_10s: int
    searches_per_second: int
    rate_period: float
    search_period: float
    follow_rate_headers: bool
    low_water: int


class HubSpotTransport:
    """One portal's client, call policy and rate limits, shared by the contacts, companies and
    properties APIs.

    `policy` (attempts, waits, the per-call time cap, timeouts) is shared with the Saber
    client; the rate limits are HubSpot's own, and its rate-limit headers are followed unless
    `follow_rate_headers` is False. Thread-safe: the API objects (and their connection pools)
    are built once (`api`) and shared.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        policy: CallPolicy | None = None,
        requests_per_10s: int = 90,
        searches_per_second: int = 4,
        rate_period: float = 10.0,
        search_period: float = 1.0,
        follow_rate_headers: bool = True,
        low_water: int = LOW_WATER,
    ):
        self.base_url = base_url.rstrip("/")
        self.policy = policy or CallPolicy()
        self.timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        self._limiter = RateLimiter(requests_per_10s, rate_period)
        self._search_limiter = RateLimiter(searches_per_second, search_period)
        self._caller = Caller("hubspot", self.policy, classify, HubSpotError, log, describe=facts)
        # Requests sent per operation (retries included), and of those the retries.
        self.calls: Counter[str] = self._caller.counters.calls
        self.retries: Counter[str] = self._caller.counters.retries
        # No urllib3 retries: tenacity decides (for POSTs too), and 429s come back as ApiException.
        no_retry = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        # The official client; each attribute access under `crm` builds a new API client and pool.
        self.client = hubspot.HubSpot(access_token=access_token, host=self.base_url, retry=no_retry)
        # What HubSpot's answers say is left of the ten-secondly limit (None: not followed).
        self.quota: QuotaFollower | None = None
        if follow_rate_headers:
            self.quota = QuotaFollower(low_water=low_water, max_wait=self.policy.max_backoff)
        self._answer = threading.local()  # the headers of this thread's last answer
        self._apis: list[Any] = []

    def api(self, api: A) -> A:
        """Adopt one of the client's API objects, built once: its answers are size-capped, their
        headers followed, and its pool closed with the transport's."""
        _cap_bodies(api, MAX_BODY_BYTES)
        if self.quota is not None:
            self._watch_headers(api)
        self._apis.append(api)
        return api

    def close(self) -> None:
        """Close the connection pools."""
        for api in self._apis:
            rest = getattr(api.api_client, "rest_client", None)
            pool = getattr(rest, "pool_manager", None)
            if pool is not None:
                pool.clear()

    # ---------------------------------------------------------------- one call
    def call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        search: bool = False,
        expected: Callable[[BaseException], bool] | None = None,
        unsafe: bool = False,
    ) -> T:
        """Run one API call under the rate limits, retrying as the call policy and `classify` say.

        `expected` failures (a 409 an idempotent `setup` counts on) are logged at debug, not info.
        `unsafe`: a call that must not run twice (a batch create). A failure after which HubSpot
        may have applied it (a 5xx, a timeout or reset once the request was sent, an unreadable
        2xx) is marked `maybe_applied` and not retried; a 429 or a refused connection still is.
        """

        quota = None if search else self.quota

        def attempt() -> T:
            self._limiter.acquire()
            if search:
                self._search_limiter.acquire()
            if quota is not None:
                quota.acquire()
                self._answer.headers = None
            try:
                return fn()
            except _API_EXCEPTIONS as exc:
                if not exc.status:  # the client wraps TLS failures (and requests it cannot build) as 0
                    if "SSLError" in str(exc.reason):
                        raise unreachable(self.base_url, exc) from None
                    reason = scrub(str(exc.reason))[:200]
                    raise HubSpotError(f"the HubSpot client refused the call: {reason}") from None
                error = error_from_response(exc.status, exc.body, exc.headers)
                error.maybe_applied = unsafe and exc.status >= 500
                raise error from None
            except _TRANSPORT_ERRORS as exc:
                error = unreachable(self.base_url, exc)
                error.maybe_applied = unsafe and error.transport and not _never_sent(exc)
                raise error from None
            except HubSpotError as exc:  # raised by `fn` reading a 2xx (not JSON, too large)
                exc.maybe_applied = unsafe and (exc.status is None or 200 <= exc.status < 300)
                raise
            except _CLIENT_EXCEPTIONS as exc:
                raise HubSpotError(f"the HubSpot client refused the call: {exc}") from None
            except ValueError as exc:  # the client's models validate answers as they deserialise them
                raise HubSpotError(f"HubSpot's answer did not match its API schema: {exc}") from None
            finally:
                if quota is not None:
                    self._follow(quota)  # errors too: a 429 says none is left

        return self._caller.call(operation, attempt, expected=expected, unsafe=unsafe)

    def _watch_headers(self, api: Any) -> None:
        """Keep each answer's headers (any status, read in full or streamed) for `call` to follow."""
        pool = getattr(getattr(api.api_client, "rest_client", None), "pool_manager", None)
        if pool is None:
            return
        send = pool.request
        answer = self._answer

        def request(*args: Any, **kwargs: Any) -> Any:
            response = send(*args, **kwargs)
            answer.headers = getattr(response, "headers", None)
            return response

        pool.request = request

    def _follow(self, quota: QuotaFollower) -> None:
        """Tell the quota follower what this thread's last answer said is left, if it said."""
        headers = getattr(self._answer, "headers", None)
        self._answer.headers = None
        if headers is None:
            quota.release()
            return
        remaining = parse_count(headers.get(REMAINING_HEADER))
        if remaining is not None:
            interval = parse_count(headers.get(INTERVAL_HEADER))
            window = interval / 1000 if interval else DEFAULT_WINDOW
        else:
            remaining = parse_count(headers.get(SECONDLY_REMAINING_HEADER))
            window = 1.0
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if retry_after is not None:  # HubSpot's own word on when calls are allowed again
            window = min(window, retry_after)
        quota.update(remaining, window)


def _never_sent(exc: BaseException) -> bool:
    """Did the request fail before a connection was made (so HubSpot cannot have seen it)?"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or type(current).__name__ in _CONNECT_FAILURES:
            return True
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    return False


# urllib3's errors for a connection that was never made (no request reached HubSpot).
_CONNECT_FAILURES = frozenset({"NewConnectionError", "ConnectTimeoutError", "NameResolutionError"})


def read_json(response: Any) -> dict[str, Any]:
    """The JSON object of a raw (not preloaded) answer; the connection goes back to the pool.

    Contact pages are read this way because the client's model deserialisation parses
    every timestamp with dateutil: about 0.2-0.35 ms per contact, 20-35 s per 100,000.
    """
    try:
        raw = response.data
    finally:
        response.release_conn()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise HubSpotError(f"HubSpot's answer was not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HubSpotError("HubSpot's answer was not a JSON object")
    return data


def is_conflict(exc: BaseException) -> bool:
    """A 409: what already exists, for the calls whose callers count on it (`setup` run twice)."""
    return isinstance(exc, HubSpotError) and exc.status == 409


def _cap_bodies(api: Any, limit: int) -> None:
    """Read at most `limit` bytes of any answer: a bigger success is refused (RESPONSE_TOO_LARGE,
    not retried) instead of held in memory; a bigger error page is cut and read as its status."""
    pool = getattr(getattr(api.api_client, "rest_client", None), "pool_manager", None)
    if pool is None:
        return
    send = pool.request

    def request(*args: Any, **kwargs: Any) -> Any:
        if not kwargs.pop("preload_content", True):
            return send(*args, preload_content=False, **kwargs)  # the caller streams it
        response = send(*args, preload_content=False, **kwargs)
        try:
            data = response.read(limit + 1, decode_content=True)
        except BaseException:
            response.close()
            raise
        if len(data) > limit:
            response.close()  # the rest is never read; the connection is not reused
            if 200 <= response.status < 300:
                raise HubSpotError(
                    f"HubSpot's answer is larger than {limit} bytes; not read",
                    status=response.status,
                    category="RESPONSE_TOO_LARGE",
                )
            data = data[:limit]
        else:
            response.release_conn()
        dropped = {"content-encoding", "content-length", "transfer-encoding"}
        headers = urllib3.HTTPHeaderDict(
            [(k, v) for k, v in response.headers.items() if k.lower() not in dropped]
        )
        return urllib3.HTTPResponse(
            body=data, headers=headers, status=response.status, reason=response.reason, preload_content=True
        )

    pool.request = request
