"""The Saber API client: one shared httpx connection pool, retries, rate limits, typed answers.

Retries follow the call policy shared with the HubSpot adapter (`connector.http_policy`);
what each Saber answer means for a retry is `connector.saber.retry`. Safe to share between
the threads of a pool: httpx's `Client` is thread-safe, the rate limiters and the call
counters take their own locks, and every call keeps its own retry state. A research POST
carries an `Idempotency-Key` (the caller's, or one derived from what is asked) that stays the
same across retries. A signal create has no published idempotency: once it may have reached
Saber it is never sent again by the retries (`unsafe` in the call policy); the caller looks
for the signal, free, before paying again.

A call that may block (a synchronous batch) asks Saber to answer within `X-Sbr-Timeout-Sec`,
and its HTTP read timeout is derived from that: the asked time plus `HTTP_READ_TIMEOUT`.

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from connector import __version__
from connector.http_policy import Caller, CallPolicy
from connector.logs import get_logger
from connector.ratelimit import QuotaFollower, RateLimiter, TokenBucket, parse_count, parse_reset
from connector.saber.errors import (
    RESET_HEADERS,
    SaberError,
    SaberNotFound,
    SaberRequestError,
    parse_error,
    unreachable,
)
from connector.saber.external_ids import ExternalIds
from connector.saber.models import Research, ResearchStarted, Signal, SignalBatch, SignalPage, SignalTemplate
from connector.saber.retry import classify
from connector.saber.signals import SignalQuestion, SignalRequest

log = get_logger("saber")

RESEARCH_PATH = "/v1/contacts/research"
CONTACT_SIGNALS_PATH = "/v1/contacts/signals"
COMPANY_SIGNALS_PATH = "/v1/companies/signals"
SIGNAL_PATHS = {"contact": CONTACT_SIGNALS_PATH, "company": COMPANY_SIGNALS_PATH}
TEMPLATES_PATH = f"{COMPANY_SIGNALS_PATH}/templates"
MAX_PAGE_SIZE = 25  # the list endpoints' `limit` maximum
BATCH_WAIT_SECONDS = 10  # X-Sbr-Timeout-Sec asked of a synchronous batch (1-900)
TIMEOUT_HEADER = "X-Sbr-Timeout-Sec"

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

M = TypeVar("M", bound=BaseModel)

# snake_case field -> Saber's camelCase body key.
_BODY_KEYS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "company_name": "companyName",
    "company_domain": "companyDomain",
    "contact_profile_url": "contactProfileUrl",
    "linkedin_sales_navigator_url": "linkedInSalesNavigatorUrl",
    "job_title": "jobTitle",
    "webhook_url": "webhookUrl",
    "external_id": "externalId",
    "external_source": "externalSource",
}


@dataclass(frozen=True)
class ResearchRequest:
    """What `POST /v1/contacts/research` is asked; external IDs per assumption A1."""

    first_name: str
    last_name: str
    company_name: str
    company_domain: str
    contact_profile_url: str | None = None
    linkedin_sales_navigator_url: str | None = None
    job_title: str | None = None
    webhook_url: str | None = None
    external_id: str | None = None
    external_source: str | None = None

    def to_body(self) -> dict[str, str]:
        """The JSON body: camelCase keys, fields that are None left out."""
        return {
            _BODY_KEYS[f.name]: value for f in fields(self) if (value := getattr(self, f.name)) is not None
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ResearchRequest:
        """The request for a camelCase body (None values dropped); unknown keys are a bug."""
        by_key = {v: k for k, v in _BODY_KEYS.items()}
        unknown = sorted(set(body) - set(by_key))
        if unknown:
            raise ValueError(f"not a Saber research field: {', '.join(unknown)}")
        return cls(**{by_key[k]: v for k, v in body.items() if v is not None})


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


_derive_key = idempotency_key  # `_call` has a parameter of the same name


class SaberClient:
    """Typed calls to the Saber API with retries, back-off and client-side rate limits.

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
        send_external_ids: bool = True,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.policy = policy or CallPolicy()
        self.max_body_bytes = max_body_bytes
        # Research is launched with externalId/externalSource until Saber refuses them (assumption A1).
        self.external_ids = ExternalIds(send=send_external_ids)
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"saber-connector/{__version__}",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
        )
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

    # ------------------------------------------------------------------ research
    def create_research(
        self, request: ResearchRequest, *, idempotency_key: str | None = None
    ) -> ResearchStarted:
        """Start research for one contact (`POST /v1/contacts/research`)."""
        data = self._call(
            "create_research", "POST", RESEARCH_PATH, body=request.to_body(), idempotency_key=idempotency_key
        )
        return self._model(ResearchStarted, data)

    def get_research(self, research_id: str) -> Research:
        """Status and result of one research request."""
        if not research_id:
            raise ValueError("research_id is empty")
        data = self._call("get_research", "GET", f"{RESEARCH_PATH}/{quote(research_id, safe='')}")
        return self._model(Research, data)

    def find_research(self, external_id: str, external_source: str) -> Research | None:
        """The latest research for the caller's own IDs, or None when Saber has none (404)."""
        params = [("externalId", external_id), ("externalSource", external_source)]
        try:
            data = self._call("find_research", "GET", RESEARCH_PATH, params=params, quiet_404=True)
        except SaberNotFound:
            return None
        return self._model(Research, data)

    # ------------------------------------------------------------------ signals
    def create_signal(self, request: SignalRequest) -> Signal:
        """Create one signal (1 credit), answered at once: `processing`, or done from Saber's cache.

        Not retried once the request may have reached Saber: the error then says
        `maybe_applied`, and the caller looks for the signal before it pays again.
        """
        data = self._call(
            f"create_{request.scope}_signal",
            "POST",
            SIGNAL_PATHS[request.scope],
            body=request.to_body(),
            unsafe=True,
        )
        return self._model(Signal, data)

    def create_company_signal_batch(
        self,
        questions: Sequence[SignalQuestion],
        domains: Sequence[str],
        *,
        run_async: bool = False,
        wait_seconds: int = BATCH_WAIT_SECONDS,
    ) -> SignalBatch:
        """Ask every question of every domain in one call (1 credit a signal; never retried once sent).

        Synchronous by default: the answer lists each signal's id. Saber is asked to answer
        within `wait_seconds` (`X-Sbr-Timeout-Sec`), and the read timeout is that plus the
        policy's own, so a batch that blocks is never cut off before Saber's own deadline.
        """
        if not questions or not domains:
            raise ValueError("a batch needs at least one question and one domain")
        if not 1 <= wait_seconds <= 900:
            raise ValueError("wait_seconds must be from 1 to 900")
        body = {
            "signals": [q.item(batch=True) for q in questions],
            "domains": list(domains),
            "async": run_async,
        }
        data = self._call(
            "create_company_signal_batch",
            "POST",
            f"{COMPANY_SIGNALS_PATH}/batch",
            body=body,
            unsafe=True,
            headers={TIMEOUT_HEADER: str(wait_seconds)},
            read_timeout=wait_seconds + self.policy.read_timeout,
        )
        return self._model(SignalBatch, data)

    def get_signal(self, scope: str, signal_id: str) -> Signal:
        """One contact or company signal by id (free)."""
        path = f"{SIGNAL_PATHS[scope]}/{_segment(signal_id)}"
        return self._model(Signal, self._call(f"get_{scope}_signal", "GET", path))

    def get_signal_template(self, template_id: str) -> SignalTemplate:
        """One signal template (free); `SaberNotFound` when the key sees none by that id."""
        data = self._call("get_signal_template", "GET", f"{TEMPLATES_PATH}/{_segment(template_id)}")
        return self._model(SignalTemplate, data)

    def list_contact_signals(
        self, contact_profile_url: str | None = None, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[Signal]:
        """Every contact signal (optionally for one profile), latest first, page by page."""
        params = _params(contactProfileUrl=contact_profile_url)
        return self._pages("list_contact_signals", CONTACT_SIGNALS_PATH, params, page_size)

    def get_contact_signal(self, signal_id: str) -> Signal:
        return self.get_signal("contact", signal_id)

    def list_company_signals(
        self,
        *,
        domain: str | None = None,
        company_id: str | None = None,
        from_date: datetime | date | str | None = None,
        to_date: datetime | date | str | None = None,
        statuses: Iterable[str] = (),
        subscription_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Signal]:
        """Company signals matching the filters, latest first, page by page."""
        params = _params(
            domain=domain,
            companyId=company_id,
            fromDate=_rfc3339(from_date),
            toDate=_rfc3339(to_date),
            subscriptionId=subscription_id,
        )
        params += [("status", s) for s in statuses]
        return self._pages("list_company_signals", COMPANY_SIGNALS_PATH, params, page_size)

    def get_company_signal(self, signal_id: str) -> Signal:
        return self.get_signal("company", signal_id)

    def subscription_logs(
        self,
        subscription_id: str,
        *,
        domain: str | None = None,
        company_id: str | None = None,
        from_date: datetime | date | str | None = None,
        to_date: datetime | date | str | None = None,
        statuses: Iterable[str] = (),
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Signal]:
        """Executions of one signal subscription, latest first, page by page."""
        path = f"{COMPANY_SIGNALS_PATH}/subscriptions/{_segment(subscription_id)}/logs"
        params = _params(
            domain=domain, companyId=company_id, fromDate=_rfc3339(from_date), toDate=_rfc3339(to_date)
        )
        params += [("status", s) for s in statuses]
        return self._pages("subscription_logs", path, params, page_size)

    # ------------------------------------------------------------------ credits
    def credits(self) -> int:
        """Credits left this billing period (`GET /v1/credits`)."""
        data = self._call("credits", "GET", "/v1/credits")
        value = (
            data.get("remainingCredits", data.get("remaining_credits")) if isinstance(data, dict) else None
        )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SaberRequestError(
                f"no remainingCredits in the answer: {_short(data)}", status=200, code="INVALID_RESPONSE"
            )
        return int(value)

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SaberClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ machinery
    def _pages(self, op: str, path: str, params: list[tuple[str, str]], page_size: int) -> Iterator[Signal]:
        """Walk `offset` until a short or empty page (or `total`); skip ids already yielded."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")

        def walk() -> Iterator[Signal]:
            offset, seen = 0, set()
            while True:
                query = [*params, ("limit", str(page_size)), ("offset", str(offset))]
                page = self._model(SignalPage, self._call(op, "GET", path, params=query))
                for signal in page.results:
                    if signal.id is not None and signal.id in seen:
                        continue  # a newer signal arrived while paging and shifted the offsets
                    if signal.id is not None:
                        seen.add(signal.id)
                    yield signal
                got = len(page.results)
                offset += got
                if got == 0 or got < min(page_size, page.limit or page_size):
                    return
                if page.total is not None and offset >= page.total:
                    return

        return walk()

    def _call(
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
                request = self._http.build_request(
                    method, path, params=params, json=body, headers=headers, **extra
                )
                response = _read_capped(self._http.send(request, stream=True), self.max_body_bytes)
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
                f"answer is not JSON: {_short(response.text)}",
                status=response.status_code,
                code="INVALID_RESPONSE",
                maybe_applied=True,  # Saber answered 2xx: what was asked was done
            ) from None

    @staticmethod
    def _model(model: type[M], data: Any) -> M:
        """Decode into a typed model; a shape the models cannot read is a SaberError, not a crash."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or model.__name__
            raise SaberRequestError(
                f"unexpected {model.__name__} answer ({where}: {first['msg']}): {_short(data)}",
                status=200,
                code="INVALID_RESPONSE",
                maybe_applied=True,  # Saber answered 2xx: what was asked was done
            ) from None


# Transport failures before a connection was made: the request never reached Saber.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _read_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The answer with at most `limit` bytes of body read: a bigger success is refused, an error cut."""
    chunks: list[bytes] = []
    size = 0
    try:
        declared = response.headers.get("Content-Length", "")
        too_big = declared.isdigit() and int(declared) > limit
        if not too_big:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    chunks.append(chunk[: len(chunk) - (size - limit)])
                    too_big = True
                    break
                chunks.append(chunk)
    finally:
        response.close()
    if too_big and response.is_success:
        raise SaberRequestError(
            f"answer larger than {limit} bytes; not read",
            status=response.status_code,
            code="RESPONSE_TOO_LARGE",
        )
    dropped = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in dropped]
    body = b"".join(chunks)
    return httpx.Response(response.status_code, headers=headers, content=body, request=response.request)


def _follow(quota: QuotaFollower, headers: httpx.Headers) -> None:
    """Tell the quota follower what an answer's rate-limit headers say (or that they said nothing)."""
    remaining = next((n for h in REMAINING_HEADERS if (n := parse_count(headers.get(h))) is not None), None)
    reset = next((s for h in RESET_HEADERS if (s := parse_reset(headers.get(h))) is not None), None)
    quota.update(remaining, reset)


def _is_404(exc: BaseException) -> bool:
    return isinstance(exc, SaberError) and exc.status == 404


def _params(**values: str | None) -> list[tuple[str, str]]:
    return [(k, v) for k, v in values.items() if v is not None]


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an id is empty")
    return quote(value, safe="")


def _rfc3339(value: datetime | date | str | None) -> str | None:
    """RFC3339 in UTC with a `Z`; naive datetimes are taken as UTC; strings pass through."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _short(data: Any, limit: int = 200) -> str:
    text = data if isinstance(data, str) else json.dumps(data, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
