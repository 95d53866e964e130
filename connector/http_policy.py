"""One call policy for both API clients: when to retry, how long to wait, how to count and log it.

Each client supplies only what is its own: a classifier (its error -> a `Verdict`) and its
transport (the attempt function). Everything else lives here once, so the two clients
cannot drift apart again: the back-off formula, `Retry-After` parsing, the tenacity wiring
with its attempt budget *and* a cap on the total time one call may take, the call and retry
counters, and the log events (`api_call_retried`, `api_call_failed`) with one set of fields.

On server-asked waits: a hint (`Retry-After`, Saber's `retryAfter`, HubSpot's rate-limit
window) is obeyed as given, plus up to 10% jitter so a pool of workers throttled together
does not return together. Every wait is capped at `max_backoff`, the operator's bound on
how long one wait may hold a worker: when the server asks for more we still wait the full
`max_backoff` (never less, since an early retry is sure to be throttled again) and let the
attempt budget and the total-time cap decide; the server's next answer asks for the rest.

On a refused connection: until a client has had one answer from its API (any HTTP status),
a refused connection means the base URL is wrong or nothing runs there, and retrying only
delays the one-line error by the whole back-off schedule; so it is not retried. Once the
API has answered, a refused connection is a restart or a blip and is retried like any
other transport failure.

On observers: `add_observer(fn)` has every `Caller` report each attempt to `fn(api,
operation, status, retried)` (the service's metrics count requests and retries this way,
and the clients know nothing of it). With no observer registered it costs one check per
attempt.
"""

from __future__ import annotations

import enum
import math
import random
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_before_delay

T = TypeVar("T")

# The log events, one set for both APIs (fields: api, operation, attempt(s), wait_seconds,
# status, code, request_id, reason, error). Secrets never reach them: the clients' errors
# are scrubbed, and so is every string the logging pipeline renders.
RETRIED_EVENT = "api_call_retried"
FAILED_EVENT = "api_call_failed"
HINT_JITTER = 0.1  # a server-asked wait is stretched by up to this fraction
MAX_ERROR_TEXT = 200  # characters of an API's message kept in a log line

# A transport failure in a few plain words (what `transport_reason` answers).
CONNECTION_REFUSED = "connection refused"
TIMED_OUT = "timed out"
NAME_NOT_RESOLVED = "name not resolved"
TLS_FAILED = "TLS failed"
CONNECTION_RESET = "connection reset"
CONNECTION_CLOSED = "connection closed"
CONNECTION_FAILED = "connection failed"


class Action(enum.Enum):
    """What a failed attempt means for the next one."""

    RETRY_AFTER = "retry_after"  # throttled: wait as the server says (or its window), then retry
    BACKOFF = "backoff"  # transient failure: capped exponential back-off with jitter
    FAIL = "fail"  # retrying cannot help


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classifier's answer: the action, a reason for the logs and the server's wait hint."""

    action: Action
    reason: str
    wait: float | None = None  # seconds the server asked for (a hint), if it said


Classifier = Callable[[BaseException], Verdict]


class ErrorFacts(NamedTuple):
    """What the log lines say about an API's error, whatever that API calls its fields."""

    status: int | None
    code: str | None
    request_id: str | None
    message: str


def error_facts(exc: BaseException) -> ErrorFacts:
    """The facts of an error spelled `status`, `code`, `request_id`, `message` (Saber's, and the default)."""
    return ErrorFacts(
        getattr(exc, "status", None),
        getattr(exc, "code", None),
        getattr(exc, "request_id", None),
        str(getattr(exc, "message", None) or exc),
    )


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How hard one call tries: attempts, waits, a total-time cap and timeouts (built once from settings)."""

    max_attempts: int = 6
    backoff_base: float = 0.5  # the first back-off step; each further attempt doubles it
    max_backoff: float = 60.0  # no single wait is longer
    max_call_seconds: float = 300.0  # no wait may take a call past this age (so no attempt starts later)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("backoff_base", "max_backoff", "max_call_seconds", "connect_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Equal jitter: half the capped exponential step, plus up to the other half at random."""
        ceiling = min(self.max_backoff, self.backoff_base * 2 ** min(max(0, attempt - 1), 64))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def wait_for(self, verdict: Verdict, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) that got `verdict`."""
        hint = verdict.wait
        if verdict.action is Action.RETRY_AFTER and hint is not None:
            return min(hint * (1 + HINT_JITTER * rng.random()), self.max_backoff)
        wait = self.backoff(attempt, rng)
        if hint is not None:  # a 503 with Retry-After: never come back sooner than asked
            wait = max(wait, min(hint, self.max_backoff))
        return wait


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, outermost first (urllib3's `reason`, then `__cause__`/`__context__`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)


def transport_reason(exc: BaseException) -> str:
    """Why a request got no answer, in a few plain words (`connection refused`, `timed out`, ...).

    Reads the chain of causes down to the socket's own error, so it says the same for httpx
    and urllib3 without naming either library's classes; the most specific cause wins.
    """
    chain = list(_causes(exc))
    for err in chain:
        if isinstance(err, ssl.SSLError):
            detail = getattr(err, "verify_message", None) or getattr(err, "reason", None)  # OpenSSL's code
            if not isinstance(detail, str) or not detail:
                return TLS_FAILED
            return f"{TLS_FAILED} ({detail.lower().replace('_', ' ') if detail.isupper() else detail})"
    for reason, matches in _TRANSPORT_REASONS:
        if any(matches(err) for err in chain):
            return reason
    return CONNECTION_FAILED


def _named(err: BaseException, *parts: str) -> bool:
    return any(part in type(err).__name__ for part in parts)


# Most specific first: a reset that followed a timeout is reported as the timeout, and so on.
_TRANSPORT_REASONS: tuple[tuple[str, Callable[[BaseException], bool]], ...] = (
    (NAME_NOT_RESOLVED, lambda e: isinstance(e, socket.gaierror) or _named(e, "NameResolution")),
    (CONNECTION_REFUSED, lambda e: isinstance(e, ConnectionRefusedError)),
    (TIMED_OUT, lambda e: isinstance(e, TimeoutError) or _named(e, "Timeout")),
    (CONNECTION_CLOSED, lambda e: _named(e, "RemoteDisconnected", "RemoteProtocol", "IncompleteRead")),
    (
        CONNECTION_RESET,
        lambda e: isinstance(e, ConnectionResetError | BrokenPipeError) or _named(e, "Protocol"),
    ),
)


def is_refused(exc: BaseException) -> bool:
    """True for an error a client raised because the connection was refused (its `transport_reason`)."""
    return getattr(exc, "transport_reason", None) == CONNECTION_REFUSED


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds (fractions allowed) or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def seconds_hint(value: Any) -> float | None:
    """A wait an API's body gives (`retryAfter`): seconds as a number, or as `Retry-After` spells it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        return parse_retry_after(value)
    return None


def header_value(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header by name, case-insensitively even in a plain dict (urllib3's and httpx's are already)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def retrying(
    policy: CallPolicy,
    classify: Classifier,
    *,
    before_sleep: Callable[[RetryCallState], Any] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    rng: random.Random | None = None,
) -> Retrying:
    """A tenacity `Retrying` for one call: retries what `classify` does not FAIL, re-raises the last error.

    It stops after `max_attempts` attempts, or when the next wait would take the call past
    `max_call_seconds` (tenacity's `stop_before_delay`: with `stop_after_delay` a call could
    still sleep a whole `max_backoff` and try once more after the cap). So a call lasts at
    most `max_call_seconds` plus its last attempt (bounded by the timeouts).
    """
    jitter = rng or random.Random()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        verdict = classify(exc) if exc is not None else Verdict(Action.BACKOFF, "")
        return policy.wait_for(verdict, state.attempt_number, jitter)

    return Retrying(
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_call_seconds),
        wait=wait,
        retry=retry_if_exception(lambda exc: classify(exc).action is not Action.FAIL),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep,
    )


# ---------------------------------------------------------------------------- observers
ApiObserver = Callable[[str, str, int | None, bool], None]
"""`fn(api, operation, status, retried)`, called once per attempt by every `Caller`.

`status` is the HTTP status of the answer: an error's own, a success's when the attempt
returns something with an integer `status_code` (an httpx response), else 200; None when
no answer came (a transport failure, or a request the client refused to build).
`retried` is True when the policy retries after this attempt (reported just before the
wait), False for the last attempt of a call, successful or not.
"""

_observers: tuple[ApiObserver, ...] = ()  # replaced whole under the lock, read without it
_observers_lock = threading.Lock()


def add_observer(fn: ApiObserver) -> None:
    """Report every attempt of every `Caller` in the process to `fn` (a second add is a no-op)."""
    global _observers
    with _observers_lock:
        if fn not in _observers:
            _observers = (*_observers, fn)


def remove_observer(fn: ApiObserver) -> None:
    """Stop reporting to `fn`; removing one that was never added is a no-op."""
    global _observers
    with _observers_lock:
        _observers = tuple(o for o in _observers if o != fn)


def _notify(api: str, operation: str, status: int | None, retried: bool, log: Any) -> None:
    """Tell each observer about one attempt; an observer that raises never breaks the call."""
    for observer in _observers:
        try:
            observer(api, operation, status, retried)
        except Exception as exc:  # counting must never fail an API call
            log.warning("api_observer_failed", api=api, operation=operation, error=repr(exc)[:MAX_ERROR_TEXT])


def _success_status(result: object) -> int:
    status = getattr(result, "status_code", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else 200


class CallCounters:
    """Attempts sent and retries made, per operation: bumped under a lock, read as plain Counters."""

    __slots__ = ("_lock", "calls", "retries")

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()  # requests sent, retries included
        self.retries: Counter[str] = Counter()  # of which retries
        self._lock = threading.Lock()

    def count_call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1

    def count_retry(self, operation: str) -> None:
        with self._lock:
            self.retries[operation] += 1


class Caller:
    """Runs a client's calls under one `CallPolicy`: counts every attempt, retries, logs, re-raises.

    `error_type` is the client's own error class (what its attempts raise and its
    classifier knows); `describe` reads the log lines' facts from it. Safe to share
    between threads: each call gets its own tenacity state.
    """

    def __init__(
        self,
        api: str,
        policy: CallPolicy,
        classify: Classifier,
        error_type: type[Exception],
        log: Any,
        *,
        describe: Callable[[BaseException], ErrorFacts] = error_facts,
        sleep: Callable[[float], Any] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.api = api
        self.policy = policy
        self.classify = classify
        self.counters = CallCounters()
        self._error_type = error_type
        self._describe = describe
        self._log = log
        self._sleep = sleep
        self._rng = rng or random.Random()
        # Set once any attempt got an answer (any HTTP status): from then on a refused
        # connection is retried; before, it fails at once (a wrong base URL, see above).
        self.answered = False

    def verdict(self, exc: BaseException) -> Verdict:
        """The client's verdict, except that a refused connection before any answer is not retried."""
        verdict = self.classify(exc)
        if verdict.action is not Action.FAIL and not self.answered and is_refused(exc):
            return Verdict(Action.FAIL, "connection refused before the API ever answered")
        return verdict

    def unsafe_verdict(self, exc: BaseException) -> Verdict:
        """As `verdict`, except that a failure after which the request may have been applied is final.

        For a call that must never run twice (a paid create with no idempotency): the caller
        looks for what the lost answer would have said before it sends the request again.
        """
        if getattr(exc, "maybe_applied", False):
            return Verdict(Action.FAIL, "the request may have been applied: looked for before it is resent")
        return self.verdict(exc)

    def call(
        self,
        operation: str,
        attempt: Callable[[], T],
        *,
        expected: Callable[[BaseException], bool] | None = None,
        unsafe: bool = False,
    ) -> T:
        """`attempt()` until it succeeds or the policy gives up; `expected` failures are logged at debug.

        `unsafe`: the request must not be sent twice; see `unsafe_verdict`.
        """
        decide = self.unsafe_verdict if unsafe else self.verdict

        # The failed attempt not yet reported to the observers: whether it is retried is
        # known only once tenacity decides (before_sleep), or the call gives up.
        unreported: list[int | None] = []

        def counted() -> T:
            self.counters.count_call(operation)
            try:
                result = attempt()
            except BaseException as exc:
                status = self._describe(exc).status
                if status:  # the API answered, if only with an error
                    self.answered = True
                if _observers:
                    unreported[:] = [status or None]
                raise
            self.answered = True
            if _observers:
                _notify(self.api, operation, _success_status(result), False, self._log)
            return result

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            self.counters.count_retry(operation)
            if unreported:
                _notify(self.api, operation, unreported.pop(), True, self._log)
            self._log.warning(
                RETRIED_EVENT,
                **self._facts(operation, exc, decide),
                attempt=state.attempt_number,
                wait_seconds=round(state.upcoming_sleep, 3),
            )

        retryer = retrying(self.policy, decide, before_sleep=before_sleep, sleep=self._sleep, rng=self._rng)
        try:
            return retryer(counted)
        except self._error_type as exc:
            attempts = int(retryer.statistics.get("attempt_number", 1))
            if hasattr(exc, "attempts"):
                exc.attempts = attempts  # type: ignore[attr-defined]
            if expected is not None and expected(exc):
                level = self._log.debug
            elif decide(exc).action is not Action.FAIL or getattr(exc, "maybe_applied", False):
                level = self._log.warning  # retryable, so the retries ran out (or an answer was lost)
            else:
                level = self._log.info  # refused at once: the caller decides how bad that is
            level(FAILED_EVENT, **self._facts(operation, exc, decide), attempts=attempts)
            raise
        finally:
            if unreported:  # the last attempt failed, and is not retried
                _notify(self.api, operation, unreported.pop(), False, self._log)

    def _facts(
        self, operation: str, exc: BaseException | None, decide: Classifier | None = None
    ) -> dict[str, Any]:
        """The fields both APIs' log lines share."""
        facts = self._describe(exc) if exc is not None else ErrorFacts(None, None, None, "")
        return {
            "api": self.api,
            "operation": operation,
            "status": facts.status,
            "code": facts.code,
            "request_id": facts.request_id,
            "reason": (decide or self.verdict)(exc).reason if exc is not None else "",
            "error": facts.message[:MAX_ERROR_TEXT],
        }
