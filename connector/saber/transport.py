"""The Saber transport: one shared httpx connection pool, the call policy and Saber's rate limits.

Retries follow the call policy shared with the HubSpot adapter (`connector.http_policy`);
what each Saber answer means for a retry is `connector.saber.retry`. Safe to share between
the threads of a pool: httpx's `Client` is thread-safe, the rate limiters and the call
counters take their own locks, and every call keeps its own retry state. A POST carries an
`Idempotency-Key` (the caller's, or one derived from what is asked) that stays the same across
retries, unless it is `unsafe`: a POST Saber charges for with no published idempotency, never
sent again once it may have reached Saber.

Rate limits, as Saber publishes them (per API key): writes (every POST) 2,000 a minute in
bursts of 400, reads (every other call) 100,000 a minute in bursts of 10,000. Each kind has
its own client-side token bucket, so a burst of launches never slows the look-ups; an
optional overall cap (`requests_per_second`) spaces every call evenly on top. And each
answer's `X-Ratelimit-Remaining` / `X-Ratelimit-Reset` are followed per kind (a POST's
answer tells of the write limit, any other of the read limit): when little is left before
the reset the client slows down by itself (`connector.ratelimit.QuotaFollower`), which is
what keeps it under a limit it cannot see, such as another replica spending the same key.
Assumed of the headers, which the pages only name: Remaining is the calls left of the limit
this request counted against; Reset is when more are allowed again, in seconds from now (a
Unix time in seconds or milliseconds, or an HTTP date, is read as well); Limit is not used.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any, TypedDict

import httpx

from connector.http_body import bearer_client, read_capped
from connector.http_policy import Caller, CallPolicy
from connector.logs import get_logger
from connector.ratelimit import QuotaFollower, RateLimiter, TokenBucket, parse_count, parse_reset
from connector.saber.errors import (
    RESET_HEADERS,
    SaberError,
    SaberRequestError,
    parse_error,
    unreachable,
)
from connector.saber.retry import classify

log = get_logger("saber")

# Saber's published limits per API key (the defaults of SABER_WRITES_PER_MINUTE and friends).
WRITES_PER_MINUTE = 2000
WRITE_BURST = 400
READS_PER_MINUTE = 100_000
READ_BURST = 10_000
# With this many calls (or fewer) left before the reset, the client spreads them out.
LOW_WATER = 5
# The most of one answer's body read: a research result or a page of signals is a few
# kilobytes; a bigger answer is garbage (a misrouted download, a runaway proxy) and is
# refused without being held in memory. Error answers are cut to this, not refused.
MAX_BODY_BYTES = 8 * 1024 * 1024
REMAINING_HEADERS = ("X-Ratelimit-Remaining", "RateLimit-Remaining")


def idempotency_key(method: str, path: str, body: Mapping[str, Any] | None) -> str:
    """A stable key for what is asked: sha256 of canonical JSON of method, path and body."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return "sc-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_derive_key = idempotency_key  # `call` has a parameter of the same name


class SaberOptions(TypedDict, total=False):
    """`SaberTransport`'s keyword options, passed through by `SaberClient` (defaults on the transport)."""

    policy: CallPolicy | None
    requests_per_second: float | None
    writes_per_minute: float
    write_burst: int
    reads_per_minute: float
    read_burst: int
    follow_rate_headers: bool
    low_water: int
    max_body_bytes: int


class SaberTransport:
    """Calls to one Saber API key with retries, back-off and client-side rate limits.

    `policy` (attempts, waits, the per-call time cap, timeouts) is shared with the HubSpot
    adapter; the rate limits are Saber's own: a token bucket for writes and one for reads,
    an overall even spacing when `requests_per_second` is given, and the answers' rate-limit
    headers followed unless `follow_rate_headers` is False.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        policy: CallPolicy | None = None,
        requests_per_second: float | None = None,
        writes_per_minute: float = WRITES_PER_MINUTE,
        write_burst: int = WRITE_BURST,
        reads_per_minute: float = READS_PER_MINUTE,
        read_burst: int = READ_BURST,
        follow_rate_headers: bool = True,
        low_water: int = LOW_WATER,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.policy = policy or CallPolicy()
        self.max_body_bytes = max_body_bytes
        self.base_url = base_url.rstrip("/")
        self._http = bearer_client(self.base_url, api_key, self.policy)
        # Saber's two buckets, mirrored: POSTs take from one, every other call from the other.
        self.write_limit = TokenBucket(writes_per_minute, write_burst)
        self.read_limit = TokenBucket(reads_per_minute, read_burst)
        # The overall cap, when set: one call per 1/rate seconds, evenly spaced, so the client
        # never bursts above it even when a whole thread pool starts at once.
        self.overall_limit = RateLimiter(1, 1.0 / requests_per_second) if requests_per_second else None
        # What Saber's answers say is left, per kind (None: not followed).
        self.write_quota: QuotaFollower | None = None
        self.read_quota: QuotaFollower | None = None
        if follow_rate_headers:
            wait = self.policy.max_backoff  # the operator's bound on one wait holds here too
            self.write_quota = QuotaFollower(low_water=low_water, max_wait=wait)
            self.read_quota = QuotaFollower(low_water=low_water, max_wait=wait)
        self._caller = Caller("saber", self.policy, classify, SaberError, log)
        # Requests sent per operation (retries included), and of those the retries.
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
        quiet_404: bool = False,
        unsafe: bool = False,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
    ) -> Any:
        """One logical call: attempts with retries, then the decoded JSON (or the parsed error).

        `unsafe`: a POST Saber charges for with no published idempotency; it carries no
        `Idempotency-Key` and is not retried once it may have been applied.
        """
        headers = dict(headers or {})
        if method == "POST" and not unsafe:
            # Fixed before the first attempt, so every retry of this call sends the same key.
            headers["Idempotency-Key"] = idempotency_key or _derive_key(method, path, body)
        extra: dict[str, Any] = {}  # the client's own timeouts unless this call reads longer
        if read_timeout is not None:
            extra["timeout"] = httpx.Timeout(read_timeout, connect=self.policy.connect_timeout)

        write = method == "POST"
        bucket = self.write_limit if write else self.read_limit
        quota = self.write_quota if write else self.read_quota

        def attempt() -> httpx.Response:
            # What the API said first, the client's own pace last: callers the quota held back
            # together leave it spaced out by the buckets, never as a burst.
            if quota is not None:
                quota.acquire()
            bucket.acquire()
            if self.overall_limit is not None:
                self.overall_limit.acquire()
            try:
                query = tuple(params) if params is not None else None  # a tuple: httpx's type is covariant
                request = self._http.build_request(
                    method, path, params=query, json=body, headers=headers, **extra
                )
                response = read_capped(self._http.send(request, stream=True), self.max_body_bytes, _too_large)
            except BaseException as exc:
                if quota is not None:
                    quota.release()  # no answer, nothing learned
                if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
                    raise SaberRequestError(f"{type(exc).__name__}: {exc}", code="REQUEST_ERROR") from exc
                if isinstance(exc, httpx.TransportError):
                    raise unreachable(self.base_url, exc, sent=not isinstance(exc, _NOT_SENT)) from exc
                raise
            if quota is not None:
                _follow(quota, response.headers)  # errors too: a 429 says none is left
            if response.is_success:
                return response
            raise parse_error(response.status_code, response.content, response.headers)

        expected = _is_404 if quiet_404 else None
        response = self._caller.call(op, attempt, expected=expected, unsafe=unsafe)
        try:
            return response.json()
        except ValueError:
            raise SaberRequestError(
                f"answer is not JSON: {short(response.text)}",
                status=response.status_code,
                code="INVALID_RESPONSE",
                maybe_applied=True,  # Saber answered 2xx: what was asked was done
            ) from None


# Transport failures before a connection was made: the request never reached Saber.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _follow(quota: QuotaFollower, headers: httpx.Headers) -> None:
    """Tell the quota follower what an answer's rate-limit headers say (or that they said nothing)."""
    remaining = next((n for h in REMAINING_HEADERS if (n := parse_count(headers.get(h))) is not None), None)
    reset = next((s for h in RESET_HEADERS if (s := parse_reset(headers.get(h))) is not None), None)
    quota.update(remaining, reset)


def _is_404(exc: BaseException) -> bool:
    return isinstance(exc, SaberError) and exc.status == 404


def short(data: Any, limit: int = 200) -> str:
    """Some JSON or text, cut for a message."""
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _too_large(message: str, status: int) -> SaberRequestError:
    return SaberRequestError(message, status=status, code="RESPONSE_TOO_LARGE")
