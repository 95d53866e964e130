"""A fake Saber API that holds clients to the Saber API contract, not a lenient mock.

It validates bodies and query strings the way the vendor pages describe, answers errors in
the same mix of shapes the real API uses, runs contact research through its lifecycle
(`processing` → `completed`/`failed` after `research_delay`, computed lazily from
timestamps, with a webhook fired from a timer), charges credits, replays idempotent POSTs
and enforces Saber's two published per-key limits as token buckets: writes (every POST) 2,000
a minute in bursts of 400, reads (every other call) 100,000 a minute in bursts of 10,000,
named as the connector's settings (`writes_per_minute`, `write_burst`, `reads_per_minute`,
`read_burst`) and scaled per instance. Every answer of the API (not a scripted proxy page,
see `fail_next`) carries `X-Ratelimit-Limit` (that kind's calls a minute),
`X-Ratelimit-Remaining` (whole tokens left in its bucket) and `X-Ratelimit-Reset` (seconds,
rounded up, until its bucket is full again) of the bucket the request counts against; past
a bucket, a 429 with `retryAfter` (and `Retry-After`): the seconds until one token is back.

Where the pages are silent the sandbox follows the contract's assumptions (A1–A5) and says
so at the spot. Results are derived deterministically from the inputs (and `seed`), so two
runs over the same contacts see the same answers.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connector.sandbox import saber_search
from connector.sandbox.saber_signals import SIGNAL_FAILURES, SignalBook, SignalRecord
from connector.sandbox.server import BadJson, Fault, Knobs, SandboxServer, fmt_seconds

# --------------------------------------------------------------------------- contract constants
# The seeds' hostname pattern (companyDomain, domain filters).
HOSTNAME_RE = re.compile(
    r"^[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?)*$"
)
DOMAIN_MESSAGE = "'domain' must be a valid hostname (e.g., 'example.com') without protocol (https://) or path"
# The seeds' UUID pattern for signal ids (lower-case hex only).
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

# (field, required, min length, max length, kind) of POST /v1/contacts/research.
RESEARCH_FIELDS: tuple[tuple[str, bool, int, int, str], ...] = (
    ("firstName", True, 1, 100, "text"),
    ("lastName", True, 1, 100, "text"),
    ("companyName", True, 1, 200, "text"),
    ("companyDomain", True, 1, 253, "hostname"),
    ("contactProfileUrl", False, 0, 500, "uri"),
    ("linkedInSalesNavigatorUrl", False, 0, 500, "uri"),
    ("jobTitle", False, 1, 200, "text"),
    ("webhookUrl", False, 0, 2048, "uri"),
)
# Assumption A1: the create body also takes the caller's own IDs, with the lookup's limits.
EXTERNAL_FIELDS: tuple[tuple[str, bool, int, int, str], ...] = (
    ("externalId", False, 1, 100, "text"),
    ("externalSource", False, 1, 50, "text"),
)

# The answer types a signal create takes (Saber's OpenAPI spec, through saberapp/n8n-nodes-saber).
ANSWER_TYPES = (
    "boolean",
    "contact_engagements",
    "contact_posts",
    "contacts",
    "contacts_generation",
    "currency",
    "json_schema",
    "list",
    "number",
    "open_text",
    "percentage",
    "url",
)
MAX_KEY_TIMEOUT = 900  # X-Sbr-Timeout-Sec: 1-900 seconds
DEFAULT_KEY_TIMEOUT = 60.0  # the sandbox key's own timeout for the sync endpoints (Saber's is per key)
DEFAULT_SIGNAL_DELAY = (15.0, 45.0)  # seconds a signal takes (the docs' example: processingTimeMs 45,200)

DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {"question": "Does this person's team run Kubernetes in production?", "answerType": "boolean"}
]

REMOVED: Any = object()  # `reshape`: drop this key from the answer

# Research failures (A2): one permanent, two transient, as the signal objects spell them.
FAILURES: dict[str, tuple[str, str | None]] = {
    "CONTACT_NOT_FOUND": ("No matching professional profile was found for this contact.", None),
    "LINKEDIN_RATE_LIMIT_EXCEEDED": (
        "LinkedIn data is currently unavailable due to rate limits. Please try again later.",
        "Try again in 24 hours when rate limits reset.",
    ),
    "UPSTREAM_TIMEOUT": ("An upstream data provider timed out. Please try again.", None),
}

_TITLES = (
    "VP of Sales",
    "Director of Engineering",
    "Head of Marketing",
    "Chief Technology Officer",
    "Senior Software Engineer",
    "Engineering Manager",
    "Account Executive",
    "Product Manager",
    "Chief Executive Officer",
    "Marketing Coordinator",
)
_LOCATIONS = (
    "San Francisco, California",
    "New York, New York",
    "Austin, Texas",
    "Seattle, Washington",
    "Boston, Massachusetts",
    "London, England",
    "Berlin, Germany",
    "Toronto, Ontario",
    "Amsterdam, Netherlands",
    "Chicago, Illinois",
)
_PREVIOUS = ("Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Soylent")
_TECH = ("Kubernetes", "AWS", "Terraform", "Snowflake", "Salesforce", "HubSpot", "Datadog", "PostgreSQL")
_SENIORITY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("VP", re.compile(r"\b(vp|svp|evp|avp|vice[\s-]+president)\b")),
    (
        "C-Level",
        re.compile(r"\b(chief|ceo|cto|cfo|coo|cmo|cio|ciso|cro|cpo|co-?founder|founder|president|owner)\b"),
    ),
    ("Director", re.compile(r"\b(director|head)\b")),
    ("Manager", re.compile(r"\b(manager|lead|supervisor)\b")),
    ("Senior", re.compile(r"\b(senior|sr|principal|staff)\b")),
)
_DEPARTMENT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Sales", re.compile(r"\b(sales|account executive|business development|revenue|bdr|sdr)\b")),
    ("Marketing", re.compile(r"\b(marketing|growth|brand|demand|cmo)\b")),
    (
        "Engineering",
        re.compile(r"\b(engineer\w*|developer|software|devops|sre|cto|platform|infrastructure|technology)\b"),
    ),
    ("Product", re.compile(r"\b(product|cpo)\b")),
    ("Finance", re.compile(r"\b(finance|cfo|accounting|controller)\b")),
    ("Human Resources", re.compile(r"\b(people|hr|human resources|talent|recruit\w*)\b")),
    ("Customer Success", re.compile(r"\b(customer|support|success)\b")),
    ("Legal", re.compile(r"\b(legal|counsel)\b")),
    ("Information Technology", re.compile(r"\b(it|cio|ciso|security|information)\b")),
    ("Operations", re.compile(r"\b(operations|ops|coo)\b")),
    ("Executive", re.compile(r"\b(ceo|founder|co-?founder|president|owner|chief)\b")),
)


def seniority_for(title: str) -> str:
    """Saber's seniority bucket for a job title ("Vice President" is VP, not C-Level)."""
    return _first_match(_SENIORITY_RULES, title, "Entry")


def department_for(title: str) -> str:
    return _first_match(_DEPARTMENT_RULES, title, "Operations")


def _first_match(rules: tuple[tuple[str, re.Pattern[str]], ...], title: str, default: str) -> str:
    lowered = title.lower()
    return next((name for name, pattern in rules if pattern.search(lowered)), default)


def _fold(text: str) -> str:
    """ASCII-fold and keep letters and digits only (for e-mail local parts and slugs)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _is_uri(value: str) -> bool:
    """JSON-schema `uri`: an absolute URI (scheme, no blanks); http(s) ones need a host."""
    if not value or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.\-]*", parts.scheme or ""):
        return False
    if parts.scheme.lower() in ("http", "https"):
        return bool(parts.hostname)
    return bool(parts.netloc or parts.path)


def _parse_rfc3339(value: str) -> datetime | None:
    if not RFC3339_RE.match(value):
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class _Bucket:
    """A token bucket: `capacity` tokens, refilled at `rate` a second."""

    per_minute: int
    capacity: int
    tokens: float
    at: float

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    def take(self, now: float) -> tuple[bool, float]:
        """Take one token; returns (allowed, seconds until one token is available)."""
        self.refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0
        return False, (1 - self.tokens) / self.rate if self.rate > 0 else 60.0

    def headers(self) -> dict[str, str]:
        """The published headers: limit a minute, whole tokens left, and the Unix time (whole
        seconds, rounded up) at which the bucket is full again: "a Unix timestamp of the next window"."""
        reset = (self.capacity - self.tokens) / self.rate if self.rate > 0 else 60.0
        return {
            "X-Ratelimit-Limit": str(self.per_minute),
            "X-Ratelimit-Remaining": str(max(0, int(self.tokens))),
            "X-Ratelimit-Reset": str(math.ceil(time.time() + reset)),
        }


def _new_bucket(per_minute: int, burst: int) -> _Bucket:
    if per_minute < 1 or burst < 1:
        raise ValueError(f"a limit needs at least 1 call a minute and a burst of 1, got {per_minute}/{burst}")
    return _Bucket(per_minute, burst, float(burst), time.monotonic())


@dataclass
class _Research:
    """One research request as the sandbox keeps it; its status is derived on read."""

    id: str
    body: dict[str, Any]  # the validated inputs (and external IDs when honoured)
    helper_external: tuple[str, str] | None  # the body's external pair, even when not honoured
    created: float
    due: float
    failure: str | None  # error code when it will fail, else None
    webhook_url: str | None
    webhook_sent: bool = False
    timer: threading.Timer | None = None


@dataclass(frozen=True)
class _RawFault:
    status: int
    body: str
    content_type: str


class SaberSandbox(SandboxServer):
    """The Saber API on a loopback port: research, signals, credits, limits and faults.

    Dials besides the constructor's: `null_answer_rate` (share of unverifiable, null
    answers), `failure_code` (see `set_failure`), `signal_failure_rate` and
    `signal_failure_attempts` (signal asks answered 503 before one succeeds),
    `webhook_timeout`, `set_limits` (the two buckets, on a running instance), and for
    contact search `sales_nav_connected` and `people` (`connector.sandbox.saber_search`).
    `rate_limited` counts the 429s the buckets gave, by kind (`write`, `read`; scripted and
    random throttles are not counted). Not emulated: batch signals, signal subscriptions as
    objects (only their logs, fed through `add_signal`), the 12-hour result cache and
    `forceRefresh`, the integrations API (its error shapes can be scripted with
    `fail_next(body=...)`), and per-key limits beyond the one key.
    """

    name = "saber"
    url_map = Map(
        [
            Rule("/v1/contacts/research", methods=["POST"], endpoint="research_create"),
            Rule("/v1/contacts/research", methods=["GET"], endpoint="research_find"),
            Rule("/v1/contacts/research/<research_id>", methods=["GET"], endpoint="research_get"),
            Rule("/v1/contacts/signals/sync", methods=["POST"], endpoint="contact_signal_sync"),
            Rule("/v1/companies/signals/sync", methods=["POST"], endpoint="company_signal_sync"),
            Rule("/v1/contacts/signals", methods=["POST"], endpoint="contact_signal_create"),
            Rule("/v1/companies/signals", methods=["POST"], endpoint="company_signal_create"),
            Rule("/v1/companies/signals/batch", methods=["POST"], endpoint="company_signal_batch"),
            Rule("/v1/companies/signals/templates", methods=["GET"], endpoint="templates_list"),
            Rule("/v1/companies/signals/templates/<template_id>", methods=["GET"], endpoint="template_get"),
            Rule("/v1/contacts/signals", methods=["GET"], endpoint="contact_signals_list"),
            Rule("/v1/contacts/signals/<signal_id>", methods=["GET"], endpoint="contact_signal_get"),
            Rule("/v1/companies/signals", methods=["GET"], endpoint="company_signals_list"),
            Rule(
                "/v1/companies/signals/subscriptions/<subscription_id>/logs",
                methods=["GET"],
                endpoint="subscription_logs",
            ),
            Rule("/v1/companies/signals/<signal_id>", methods=["GET"], endpoint="company_signal_get"),
            Rule("/v1/credits", methods=["GET"], endpoint="credits"),
            Rule("/v1/contacts/search", methods=["POST"], endpoint="contact_search"),
        ]
    )

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        knobs: Knobs | None = None,
        *,
        api_key: str = "sk_live_sandbox_key",
        credits: int = 1000,
        research_delay: float = 0.5,
        failure_rate: float = 0.0,
        research_cost: int = 1,
        signal_cost: int = 1,
        writes_per_minute: int = 2000,
        write_burst: int = 400,
        reads_per_minute: int = 100000,
        read_burst: int = 10000,
        honour_external_ids: bool = True,
        refuse_unpublished_fields: bool = False,
        signal_delay: float | tuple[float, float] = DEFAULT_SIGNAL_DELAY,
        key_timeout: float = DEFAULT_KEY_TIMEOUT,
        seed: int = 11,
        result_questions: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(host, port, knobs)
        self.api_key = api_key
        self.research_delay = research_delay
        self.failure_rate = failure_rate
        self.failure_code: str | None = None  # None: a deterministic mix of FAILURES
        self.research_cost = research_cost
        self.signal_cost = signal_cost
        self.honour_external_ids = honour_external_ids
        # Saber's published create schema lists no externalId/externalSource: when set, a body
        # naming them is refused with 400 (as a whitelisting validator does), as Saber may.
        self.refuse_unpublished_fields = refuse_unpublished_fields
        # Seconds a created signal takes to be done: one figure, or (low, high) drawn per signal.
        self.signal_delay = signal_delay
        self.key_timeout = key_timeout  # how long the sync endpoints block before 202/408
        # Answer a repeated Idempotency-Key on a signal POST from memory: what Saber does NOT publish
        # (every accepted signal POST is a new, charged signal); kept as a dial for tests only.
        self.replay_signal_keys = False
        self.signal_failed_rate = 0.0  # share of created signals that end `failed` (charged)
        self.batch_sync_limit = 1000  # signals a synchronous batch takes (assumption; async: 20,000)
        self.batch_async_limit = 20_000
        self.batch_hold = 0.0  # seconds a synchronous batch holds its answer (a slow server)
        # Per-route limits: endpoint -> calls a second (a fixed one-second window), answered
        # with the per-route envelope that names no wait, and X-Ratelimit-Reset (a Unix time).
        self.route_limits: dict[str, int] = {}
        self._route_windows: dict[str, tuple[int, int]] = {}
        self.seed = seed
        self.result_questions = list(result_questions or DEFAULT_QUESTIONS)
        self.null_answer_rate = 0.1  # share of answers Saber could not verify (strict mode: null)
        # Signals that fail: this share of (scope, target, question) asks is answered 503 (nothing
        # charged, nothing stored) for its first `signal_failure_attempts` asks, then succeeds.
        self.signal_failure_rate = 0.0
        self.signal_failure_attempts = 0
        self.signal_asks: Counter[tuple[str, str, str]] = Counter()  # (scope, target, question): asks seen
        self._credits = credits
        self._research: dict[str, _Research] = {}
        self._by_external: dict[tuple[str, str], list[str]] = {}
        self._attempts: dict[str, int] = {}  # per contact identity: how many research so far
        self._forced_failures: dict[str, str] = {}  # external id -> error code
        self._reshaped: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # see `reshape`
        self._book = SignalBook()
        self._templates: dict[str, dict[str, Any]] = {}
        self._closing = threading.Event()  # stop(): blocked sync endpoints answer now
        self._idempotency: dict[tuple[str, str], tuple[str, int, Any]] = {}
        self._raw_faults: deque[tuple[str | None, _RawFault]] = deque()
        self._ids = _Ids(seed)
        self._writes = _new_bucket(writes_per_minute, write_burst)
        self._reads = _new_bucket(reads_per_minute, read_burst)
        self.rate_limited: Counter[str] = Counter()  # 429s the buckets gave: "write", "read"
        self._local = threading.local()
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.webhook_timeout = 5.0
        # Contact search (connector/sandbox/saber_search.py): its people, and the key owner's
        # Sales Navigator (off: every search answers `salesNavConnected: false`).
        self.people = saber_search.PeopleDirectory(seed)
        self.sales_nav_connected = True

    # ================================================================== test helpers
    def set_limits(
        self,
        *,
        writes_per_minute: int | None = None,
        write_burst: int | None = None,
        reads_per_minute: int | None = None,
        read_burst: int | None = None,
    ) -> None:
        """Change the write or read limit of the running sandbox; a changed bucket starts full."""
        with self._lock:
            if writes_per_minute is not None or write_burst is not None:
                self._writes = _new_bucket(
                    self._writes.per_minute if writes_per_minute is None else writes_per_minute,
                    self._writes.capacity if write_burst is None else write_burst,
                )
            if reads_per_minute is not None or read_burst is not None:
                self._reads = _new_bucket(
                    self._reads.per_minute if reads_per_minute is None else reads_per_minute,
                    self._reads.capacity if read_burst is None else read_burst,
                )

    @property
    def limits(self) -> dict[str, int]:
        """The two limits as the connector's settings name them (lower case)."""
        with self._lock:
            return {
                "writes_per_minute": self._writes.per_minute,
                "write_burst": self._writes.capacity,
                "reads_per_minute": self._reads.per_minute,
                "read_burst": self._reads.capacity,
            }

    @property
    def credits_left(self) -> int:
        with self._lock:
            return self._credits

    @credits_left.setter
    def credits_left(self, value: int) -> None:
        with self._lock:
            self._credits = int(value)

    def research_for(self, external_id: str, source: str = "hubspot") -> dict[str, Any] | None:
        """The latest research created for this external pair, as GET would show it (or None).

        Works even when `honour_external_ids` is off, from the IDs the POST body carried.
        """
        with self._lock:
            matches = [r for r in self._research.values() if r.helper_external == (external_id, source)]
            return self._view(matches[-1]) if matches else None

    def all_research(self) -> list[dict[str, Any]]:
        """Every research request, oldest first, as GET would show it."""
        with self._lock:
            return [self._view(r) for r in self._research.values()]

    def forget_idempotency_keys(self) -> int:
        """Forget every Idempotency-Key seen so far (its window passed); returns how many.

        The contract publishes no window: a client restarting after a crash must not rely on a
        replay to keep from paying twice.
        """
        with self._lock:
            count = len(self._idempotency)
            self._idempotency.clear()
            return count

    def complete_all_now(self) -> int:
        """Make every research and signal still processing due now (and fire their webhooks); how many."""
        now = time.time()
        due: list[_Research] = []
        with self._lock:
            for record in self._research.values():
                if record.due > now:
                    record.due = now
                    due.append(record)
            signals = self._book.make_due_now()
        for record in due:
            if record.webhook_url:
                self._schedule_webhook(record, 0.0)
        for signal in signals:
            if signal.webhook_url:
                self._schedule_signal_webhook(signal)
        return len(due) + len(signals)

    def signals(self, scope: str | None = None, *, created: bool = False) -> list[dict[str, Any]]:
        """Every signal (of `scope`), oldest first, as a GET shows it now; `created`: only those a
        create or a batch made (each charged), not those stored whole (`add_signal`)."""
        with self._lock:
            now = time.time()
            return [
                r.view(now, _iso)
                for r in self._book
                if (scope is None or r.scope == scope) and (not created or r.due is not None)
            ]

    def set_failure(
        self, rate: float | None = None, *, code: str | None = None, external_ids: Iterable[str] = ()
    ) -> None:
        """Make research fail: at `rate` (with `code`, or a mix), and always for `external_ids`.

        Applies to research created from now on; `code` None keeps the deterministic mix of a
        permanent (CONTACT_NOT_FOUND) and transient (LINKEDIN_RATE_LIMIT_EXCEEDED,
        UPSTREAM_TIMEOUT) failures.
        """
        with self._lock:
            if rate is not None:
                self.failure_rate = rate
            self.failure_code = code
            for external_id in external_ids:
                self._forced_failures[external_id] = code or "CONTACT_NOT_FOUND"

    def add_signal(
        self, signal: dict[str, Any], *, scope: str | None = None, subscription_id: str | None = None
    ) -> dict[str, Any]:
        """Store a ready-made signal object (e.g. a fixture) so lists and gets return it."""
        with self._lock:
            stored = dict(signal)
            stored.setdefault("id", self._ids.uuid())
            stored.setdefault("createdAt", _iso(time.time()))
            kind = scope or (
                "company" if stored.get("signalType") == "COMPANY" or "domain" in stored else "contact"
            )
            self._book.add(stored, kind, subscription_id=subscription_id)
            return stored

    def reshape(
        self, external_id: str, *, view: dict[str, Any] | None = None, result: dict[str, Any] | None = None
    ) -> None:
        """Answer this contact's research shaped badly: `view` merged into the research as GET
        shows it, `result` into its result (a value `REMOVED` drops the key)."""
        with self._lock:
            self._reshaped[external_id] = (dict(view or {}), dict(result or {}))

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        endpoint: str | None = None,
        body: dict[str, Any] | str | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        """Answer the next `count` matching requests with `status`, optionally with `body`.

        A dict body is sent as JSON; a str body is sent as is with `content_type` (an HTML
        502 page from a proxy, say).
        """
        if body is None:
            super().fail_next(count, status, endpoint)
        elif isinstance(body, dict):
            self._script(count, Fault(status=status, body=body), endpoint)
        else:
            with self._lock:
                self._raw_faults.extend(
                    (endpoint, _RawFault(status, body, content_type)) for _ in range(count)
                )

    def stop(self) -> None:
        self._closing.set()
        with self._lock:
            timers = [r.timer for r in self._research.values() if r.timer is not None]
        for timer in timers:
            timer.cancel()
        super().stop()

    # ================================================================== base hooks
    def authenticate(self, request: Request) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self.api_key:
            return None
        return self.envelope(401, "UNAUTHORIZED", "UNAUTHORIZED", "Invalid or missing API key")

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        """Flat `{"error", "message"}` for 400/404 (as the pages show), the envelope otherwise."""
        if status in (400, 404):
            return {"error": code, "message": message}
        kind = "INTERNAL" if status >= 500 else code
        return {"error": {"type": kind, "code": code, "message": message, "requestId": str(uuid.uuid4())}}

    def random_throttle(self) -> Fault:
        """Saber's 429 in the shapes clients meet: `retryAfter` in the body (and header), the header
        alone, the `TOO_MANY_REQUESTS` error envelope with the header, or the per-route envelope that
        names no wait at all (only `X-Ratelimit-Reset`, a Unix time, says when)."""
        roll = self._rng.random()
        if roll < 1 / 4:
            return Fault(status=429, retry_after=0.05, style="retryAfter body")
        if roll < 2 / 4:
            return Fault(status=429, retry_after=0.05, header_only=True, style="Retry-After header")
        if roll < 3 / 4:
            error = {"type": "RATE_LIMIT", "code": "TOO_MANY_REQUESTS", "message": "Too many requests"}
            body = {"error": {**error, "requestId": str(uuid.uuid4())}}
            return Fault(status=429, retry_after=0.05, header_only=True, body=body, style="envelope")
        error = {"type": "TIMEOUT", "code": "TOO_MANY_REQUESTS", "message": "Per-route rate limit exceeded"}
        body = {"error": {**error, "requestId": str(uuid.uuid4())}}
        return Fault(status=429, body=body, style="per-route envelope")

    def throttle_response(self, request: Request, fault: Fault) -> Response:
        """A scripted 429: `retryAfter` in the body and header; header only; or a given body.

        With `fault.body` the body is sent as given, and a Retry-After header only when
        `fault.header_only` is also set (so an envelope with no hint at all can be scripted).
        """
        wait = fault.retry_after if fault.retry_after is not None else 1.0
        header = {"Retry-After": fmt_seconds(wait)}
        if fault.body is not None:
            return self.json(429, fault.body, header if fault.header_only else None)
        if fault.header_only:
            return self.json(
                429,
                {"statusCode": 429, "error": "Too Many Requests", "message": "Rate limit exceeded"},
                header,
            )
        return self.json(429, self._too_many(wait), header)

    def rate_limit(self, request: Request, endpoint: str) -> Response | None:
        write = request.method == "POST"
        with self._lock:
            bucket = self._writes if write else self._reads
            allowed, wait = bucket.take(time.monotonic())
            headers = bucket.headers()
            if not allowed:
                self.rate_limited["write" if write else "read"] += 1
        self._local.headers = headers
        if allowed:
            return self._route_limit(endpoint, headers)
        # Real Saber gives whole seconds; below one second the sandbox keeps two decimals so
        # tests with small limits do not wait a whole second.
        retry_after: float = math.ceil(wait) if wait >= 1 else math.ceil(wait * 100) / 100
        return self.json(
            429, self._too_many(retry_after), {**headers, "Retry-After": fmt_seconds(retry_after)}
        )

    def _route_limit(self, endpoint: str, headers: dict[str, str]) -> Response | None:
        """A route's own limit (`route_limits`), in fixed one-second windows: past it, Saber's
        per-route envelope, which names no wait; only `X-Ratelimit-Reset` says when the next
        window opens (a Unix time). No `Retry-After`."""
        per_second = self.route_limits.get(endpoint)
        if per_second is None:
            return None
        now = time.time()
        window = int(now)
        with self._lock:
            start, used = self._route_windows.get(endpoint, (window, 0))
            if start != window:
                start, used = window, 0
            allowed = used < per_second
            self._route_windows[endpoint] = (start, used + 1 if allowed else used)
            if not allowed:
                self.rate_limited["route"] += 1
        if allowed:
            return None
        route = {
            "X-Ratelimit-Limit": str(per_second),
            "X-Ratelimit-Remaining": "0",
            "X-Ratelimit-Reset": str(window + 1),
        }
        self._local.headers = {**headers, **route}
        error = {
            "type": "TIMEOUT",
            "code": "TOO_MANY_REQUESTS",
            "message": "Per-route rate limit exceeded",
            "requestId": str(uuid.uuid4()),
        }
        return self.json(429, {"error": error}, self._local.headers)

    def _answer(
        self, request: Request, endpoint: str, values: dict[str, Any], environ: dict[str, Any]
    ) -> Response:
        self._local.headers = None
        with self._lock:
            raw = self._take_raw_fault(endpoint)
        if raw is not None:
            return Response(raw.body, status=raw.status, content_type=raw.content_type)
        response = super()._answer(request, endpoint, values, environ)
        headers = getattr(self._local, "headers", None)
        if headers is None:  # answered before the limits were consulted (a fault, a 401): as they stand
            with self._lock:
                bucket = self._writes if request.method == "POST" else self._reads
                bucket.refill(time.monotonic())
                headers = bucket.headers()
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    def _take_raw_fault(self, endpoint: str) -> _RawFault | None:
        for i, (wanted, fault) in enumerate(self._raw_faults):
            if wanted is None or wanted == endpoint:
                del self._raw_faults[i]
                return fault
        return None

    # ================================================================== error shapes
    def envelope(
        self,
        status: int,
        kind: str,
        code: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The `{"error": {type, code, message, requestId, fields}}` shape of the Signals API."""
        error: dict[str, Any] = {
            "type": kind,
            "code": code,
            "message": message,
            "requestId": str(uuid.uuid4()),
        }
        if fields:
            error["fields"] = fields
        return self.json(status, {"error": error}, headers)

    def _validation(self, problems: list[dict[str, str]]) -> Response:
        first = problems[0]
        return self.envelope(
            400,
            "VALIDATION",
            "VALIDATION_ERROR",
            f"validation failed for '{first['field']}': {first['message']}",
            problems,
        )

    def _no_credits(self) -> Response:
        # Assumption A5: research and signal calls run out of credits like the integrations API.
        return self.envelope(402, "PAYMENT_REQUIRED", "INSUFFICIENT_CREDITS", "Insufficient credits")

    @staticmethod
    def _too_many(retry_after: float) -> dict[str, Any]:
        return {
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Rate limit exceeded",
            "retryAfter": retry_after,
        }

    # ================================================================== idempotency
    def _replay(self, request: Request, endpoint: str, body: Any) -> Response | None:
        """The stored answer for a repeated Idempotency-Key, a 409 on reuse, or None (new)."""
        key = request.headers.get("Idempotency-Key")
        if not key:
            return None
        prior = self._idempotency.get((endpoint, key))
        if prior is None:
            return None
        fingerprint, status, answer = prior
        if fingerprint != _canonical(body):
            # Assumption: like Stripe, a key reused with another body is refused, not replayed.
            return self.envelope(
                409,
                "CONFLICT",
                "IDEMPOTENCY_KEY_REUSED",
                "Idempotency-Key was already used with a different request body",
            )
        return self.json(status, answer, {"Idempotent-Replayed": "true"})

    def _remember(self, request: Request, endpoint: str, body: Any, status: int, answer: Any) -> None:
        """Keep a successful answer for its key; errors are not kept, so a retry can succeed."""
        key = request.headers.get("Idempotency-Key")
        if key:
            self._idempotency[(endpoint, key)] = (_canonical(body), status, answer)

    # ================================================================== contact research
    def research_create(self, request: Request) -> Response:
        try:
            body = self.read_json(request)
        except BadJson:
            return self.json(400, {"error": "BAD_REQUEST", "message": "Invalid JSON in request body"})
        problems = self._check_research(body)
        if problems:
            return self.json(
                400, {"error": "VALIDATION_ERROR", "message": "Invalid request body", "details": problems}
            )
        with self._lock:
            replay = self._replay(request, "research_create", body)
            if replay is not None:
                return replay
            if self._credits < self.research_cost:
                return self._no_credits()
            self._credits -= self.research_cost
            record = self._new_research(body)
            answer = {"id": record.id, "status": "processing", "createdAt": _iso(record.created)}
            # 201: the pages call this answer "created successfully"; replays repeat it verbatim.
            self._remember(request, "research_create", body, 201, answer)
        if record.webhook_url:
            self._schedule_webhook(record, max(0.0, record.due - time.time()))
        return self.json(201, answer)

    def research_get(self, request: Request, research_id: str) -> Response:
        with self._lock:
            record = self._research.get(research_id)
            if record is None:
                return self.json(
                    404, {"error": "NOT_FOUND", "message": "Contact research not found or access denied"}
                )
            return self.json(200, self._view(record))

    def research_find(self, request: Request) -> Response:
        external_id = request.args.get("externalId", "")
        source = request.args.get("externalSource", "")
        if not external_id or not source:
            return self.json(
                400,
                {
                    "error": "VALIDATION_ERROR",
                    "message": "Query parameters externalId and externalSource are required",
                },
            )
        problems = [
            {"field": name, "message": f"must be at most {limit} characters"}
            for name, value, limit in (("externalId", external_id, 100), ("externalSource", source, 50))
            if len(value) > limit
        ]
        if problems:
            return self.json(
                400, {"error": "VALIDATION_ERROR", "message": "Invalid query parameters", "details": problems}
            )
        with self._lock:
            ids = self._by_external.get((external_id, source)) if self.honour_external_ids else None
            if not ids:
                return self.json(
                    404, {"error": "NOT_FOUND", "message": "Contact research not found or access denied"}
                )
            return self.json(200, self._view(self._research[ids[-1]]))

    def _check_research(self, body: Any) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"field": "body", "message": "must be a JSON object"}]
        specs = RESEARCH_FIELDS + (EXTERNAL_FIELDS if self.honour_external_ids else ())
        problems = []
        if self.refuse_unpublished_fields:
            published = {name for name, *_ in RESEARCH_FIELDS}
            problems += [
                {"field": name, "message": f"property {name} should not exist"}
                for name in body
                if name not in published
            ]
            specs = RESEARCH_FIELDS
        for name, required, low, high, kind in specs:
            if name not in body or body[name] is None:
                if required:
                    problems.append({"field": name, "message": "is required"})
                continue
            problem = _check_field(body[name], low, high, kind)
            if problem:
                problems.append({"field": name, "message": problem})
        return problems

    def _new_research(self, body: dict[str, Any]) -> _Research:
        """Record a research request (lock held): its id, when it is due and how it ends."""
        now = time.time()
        known = {name for name, *_ in RESEARCH_FIELDS}
        kept = {k: body[k] for k in known if body.get(k) is not None}
        helper_external = None
        if isinstance(body.get("externalId"), str) and isinstance(body.get("externalSource"), str):
            helper_external = (body["externalId"], body["externalSource"])
            if self.honour_external_ids:
                kept["externalId"], kept["externalSource"] = helper_external
        identity = "|".join(str(kept.get(k, "")).lower() for k in ("firstName", "lastName", "companyDomain"))
        attempt = self._attempts.get(identity, 0)
        self._attempts[identity] = attempt + 1
        failure = None
        forced = self._forced_failures.get(helper_external[0]) if helper_external else None
        if forced:
            failure = forced
        elif self.failure_rate > 0 and self._unit("fail", identity, attempt) < self.failure_rate:
            failure = (
                self.failure_code
                or ("CONTACT_NOT_FOUND", "LINKEDIN_RATE_LIMIT_EXCEEDED", "UPSTREAM_TIMEOUT")[
                    self._hash("failcode", identity, attempt) % 3
                ]
            )
        record = _Research(
            id="cr_" + self._ids.hex(12),
            body=kept,
            helper_external=helper_external,
            created=now,
            due=now + max(0.0, self.research_delay),
            failure=failure,
            webhook_url=kept.get("webhookUrl"),
        )
        self._research[record.id] = record
        if helper_external and self.honour_external_ids:
            self._by_external.setdefault(helper_external, []).append(record.id)
        return record

    def _view(self, record: _Research) -> dict[str, Any]:
        """The research as GET shows it now (lock held): status derived from the clock."""
        view: dict[str, Any] = {"id": record.id}
        inputs = {k: v for k, v in record.body.items() if k != "webhookUrl"}
        done = time.time() >= record.due
        if not done:
            return {**view, "status": "processing", **inputs, "createdAt": _iso(record.created)}
        view.update(
            status="failed" if record.failure else "completed",
            **inputs,
            createdAt=_iso(record.created),
            completedAt=_iso(record.due),
        )
        if record.failure:
            message, action = FAILURES.get(record.failure, (f"Research failed ({record.failure})", None))
            view.update(error=message, errorCode=record.failure)
            if action:
                view["errorAction"] = action
        else:
            view["result"] = self._result(record)
        shape = self._reshaped.get(record.helper_external[0]) if record.helper_external else None
        if shape is not None:  # badly shaped answers for one contact (`reshape`)
            for target, patch in ((view, shape[0]), (view.get("result"), shape[1])):
                if isinstance(target, dict):
                    target.update(patch)
                    for key in [k for k, v in patch.items() if v is REMOVED]:
                        del target[key]
        return view

    # ================================================================== result generation
    def _hash(self, *parts: Any) -> int:
        text = "|".join([str(self.seed), *map(str, parts)])
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")

    def _unit(self, *parts: Any) -> float:
        return self._hash(*parts) / 2**64

    def _stable_uuid(self, *parts: Any) -> str:
        text = "|".join([str(self.seed), *map(str, parts)])
        return str(uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16], version=4))

    def _result(self, record: _Research) -> dict[str, Any]:
        b = record.body
        first, last = str(b["firstName"]), str(b["lastName"])
        company, domain = str(b["companyName"]), str(b["companyDomain"]).lower().removeprefix("www.")
        key = (first.lower(), last.lower(), domain)
        title = b.get("jobTitle") or _TITLES[self._hash("title", *key) % len(_TITLES)]
        seniority, department = seniority_for(title), department_for(title)
        location = _LOCATIONS[self._hash("location", *key) % len(_LOCATIONS)]
        slug = "-".join(p for p in (_fold(first), _fold(last)) if p) or "contact"
        linkedin = (
            b.get("contactProfileUrl")
            or f"https://www.linkedin.com/in/{slug}-{self._hash('li', *key) % 0xFFFF:04x}"
        )
        local = ".".join(p for p in (_fold(first), _fold(last)) if p) or "contact"
        status_roll = self._unit("emailstatus", *key)
        years = 3 + self._hash("years", *key) % 18
        team = 4 + self._hash("team", *key) % 60
        previous = _PREVIOUS[self._hash("prev", *key) % len(_PREVIOUS)]
        signals = [
            self._signal_object(
                question=str(q.get("question", "")),
                answer_type=str(q.get("answerType") or q.get("answer_type") or "open_text"),
                key=("research", *key),
                scope="contact",
                target=linkedin,
                created=record.created,
                completed=record.due,
                signal_id=self._stable_uuid("signal", record.id, q.get("question")),
            )
            for q in self.result_questions
        ]
        return {
            "summary": (
                f"{title} at {company}, leading a {team}-person {department.lower()} team. "
                f"{years} years of experience; previously at {previous}. Based in {location}."
            ),
            "email": f"{local}@{domain}",
            "emailStatus": "valid"
            if status_roll < 0.8
            else ("catch_all" if status_roll < 0.92 else "unknown"),
            "phone": f"+1 {415 + self._hash('area', *key) % 500} 555 {self._hash('phone', *key) % 10000:04d}",
            "linkedInUrl": linkedin,
            "currentTitle": title,
            "seniority": seniority,
            "department": department,
            "location": location,
            "signals": signals,
        }

    def _signal_object(
        self,
        *,
        question: str,
        answer_type: str,
        key: tuple[Any, ...],
        scope: str,
        target: str,
        created: float,
        completed: float,
        signal_id: str,
        lenient: bool = False,
    ) -> dict[str, Any]:
        """One completed signal; its answer depends only on the target, question and type.

        Under `strict` verification a share (`null_answer_rate`) cannot be verified and is
        null; `lenient` gives a best-effort answer every time.
        """
        parts = (*key, question, answer_type)
        obj: dict[str, Any] = {
            "id": signal_id,
            "status": "completed",
            "question": question,
            "answerType": answer_type,
            "signalType": "COMPANY" if scope == "company" else "CONTACT",
            ("domain" if scope == "company" else "contactProfileUrl"): target,
            "createdAt": _iso(created),
            "completedAt": _iso(completed),
            "verificationMode": "lenient" if lenient else "strict",
        }
        if not lenient and self._unit("null", *parts) < self.null_answer_rate:
            obj.update(
                answer=None,
                reasoning="The answer could not be verified from public sources (strict verification).",
                confidence=None,
                sources=[],
            )
            return obj
        obj["answer"] = self._answer_value(answer_type, parts, target)
        obj["reasoning"] = f"Derived from public profile and company pages for {target}."
        roll = self._unit("confidence", *parts)
        obj["confidence"] = None if roll < 0.1 else round(0.55 + roll * 0.44, 2)
        source = target if target.startswith("http") else f"https://{target}/about"
        obj["sources"] = [
            {"url": source, "title": "Profile" if scope == "contact" else "About", "snippet": question[:80]}
        ]
        return obj

    def _answer_value(self, answer_type: str, parts: tuple[Any, ...], target: str) -> dict[str, Any]:
        """`{"type": T, T: {"value": V}}`, open_text alternating `openText`/`open_text` keys."""
        h = self._hash("answer", *parts)
        u = self._unit("answer-u", *parts)
        host = target if "://" not in target else (urlsplit(target).hostname or "example.com")
        value: Any
        key = answer_type
        if answer_type == "open_text":
            value = f"They focus on {_TECH[h % len(_TECH)]} and {_TECH[(h >> 8) % len(_TECH)]} initiatives."
            key = "openText" if h % 2 else "open_text"
        elif answer_type == "boolean":
            value = u < 0.5
        elif answer_type == "number":
            value = 1 + h % 5000
        elif answer_type == "percentage":
            value = round(u * 100, 1)
        elif answer_type == "currency":
            return {"type": "currency", "currency": {"value": (1 + h % 500) * 10000, "currency": "USD"}}
        elif answer_type == "url":
            value = f"https://{host}/{['careers', 'pricing', 'blog', 'about'][h % 4]}"
        elif answer_type == "list":
            value = sorted({_TECH[(h >> (4 * i)) % len(_TECH)] for i in range(3)})
        elif answer_type == "json_schema":
            value = {"headcount": 10 + h % 990, "hiring": u < 0.5, "regions": ["NA", "EMEA"][: 1 + h % 2]}
        elif answer_type in ("contacts", "contacts_generation"):
            value = [
                {
                    "firstName": "Alex",
                    "lastName": "Rivera",
                    "title": "CTO",
                    "linkedInUrl": "https://www.linkedin.com/in/alex-rivera",
                }
            ]
        elif answer_type == "contact_posts":
            value = [
                {
                    "url": "https://www.linkedin.com/posts/1",
                    "text": "We are hiring platform engineers.",
                    "postedAt": "2024-01-10T09:00:00Z",
                }
            ]
        elif answer_type == "contact_engagements":
            value = [
                {
                    "type": "reaction",
                    "postUrl": "https://www.linkedin.com/posts/2",
                    "at": "2024-01-11T12:00:00Z",
                }
            ]
        else:  # a type the contract does not name: passed through in the same tagged form
            value = {"note": f"free-form answer of type {answer_type}", "score": h % 10}
        return {"type": answer_type, key: {"value": value}}

    # ================================================================== webhooks
    def _schedule_webhook(self, record: _Research, delay: float) -> None:
        timer = threading.Timer(delay, self._deliver_webhook, args=(record.id,))
        timer.daemon = True
        with self._lock:
            if record.timer is not None:
                record.timer.cancel()
            record.timer = timer
        timer.start()

    def _deliver_webhook(self, research_id: str) -> None:
        """POST the finished research to its webhookUrl (assumption: the payload is the research)."""
        with self._lock:
            record = self._research.get(research_id)
            if record is None or record.webhook_sent or not record.webhook_url:
                return
            early = record.due - time.time()
            if early > 0:  # the timer's clock ran ahead of the wall clock: try again when due
                record.timer = None
        if early > 0:
            self._schedule_webhook(record, early)
            return
        with self._lock:
            if record.webhook_sent:
                return
            record.webhook_sent = True
            payload = self._view(record)
            url = record.webhook_url
        outcome = self._post_webhook(url, payload, f"contact_research.{payload['status']}")
        with self._lock:
            self.webhook_deliveries.append({"research_id": research_id, **outcome})

    def _schedule_signal_webhook(self, record: SignalRecord) -> None:
        """A created signal with a webhookUrl reports back when it is done (freshly processed only)."""
        delay = max(0.0, (record.due or time.time()) - time.time())
        timer = threading.Timer(delay, self._deliver_signal_webhook, args=(record.id,))
        timer.daemon = True
        timer.start()

    def _deliver_signal_webhook(self, signal_id: str) -> None:
        """POST the finished signal to its webhookUrl (assumption: the payload is the signal)."""
        with self._lock:
            record = self._book.get(signal_id)
            if record is None or record.webhook_sent or not record.webhook_url:
                return
            if not record.done(time.time()):
                early = True
            else:
                early = False
                record.webhook_sent = True
                payload = record.view(time.time(), _iso)
                url = record.webhook_url
        if early:
            self._schedule_signal_webhook(record)
            return
        event = f"{record.scope}_signal.{payload['status']}"
        outcome = self._post_webhook(url, payload, event)
        with self._lock:
            self.webhook_deliveries.append({"signal_id": signal_id, **outcome})

    def _post_webhook(self, url: str, payload: dict[str, Any], event: str) -> dict[str, Any]:
        """POST one webhook, retried twice on a 5xx or no answer; what happened, for `webhook_deliveries`."""
        data = json.dumps(payload).encode()
        outcome: dict[str, Any] = {"url": url, "event": event, "status": None}
        for attempt in range(1, 4):
            outcome["attempts"] = attempt
            req = urllib.request.Request(
                url,
                data=data,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Saber-Webhooks/1.0 (sandbox)",
                    "X-Saber-Event": event,
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=self.webhook_timeout) as answer:  # noqa: S310
                    outcome["status"] = answer.status
                    break
            except urllib.error.HTTPError as exc:
                outcome["status"] = exc.code
                if exc.code < 500:
                    break
            except (OSError, ValueError) as exc:
                outcome["error"] = str(exc)
            time.sleep(0.1 * attempt)
        return outcome

    # ================================================================== signals
    def contact_signal_sync(self, request: Request) -> Response:
        return self._signal_create(request, "contact", wait=True)

    def company_signal_sync(self, request: Request) -> Response:
        return self._signal_create(request, "company", wait=True)

    def contact_signal_create(self, request: Request) -> Response:
        return self._signal_create(request, "contact", wait=False)

    def company_signal_create(self, request: Request) -> Response:
        return self._signal_create(request, "company", wait=False)

    def _signal_create(self, request: Request, scope: str, *, wait: bool) -> Response:
        """Create one signal (1 credit, charged for every accepted POST: no idempotency is published).

        The asynchronous create answers at once with the signal `processing`. The sync
        endpoints block until it is done or the key's timeout passes (`X-Sbr-Timeout-Sec`,
        1-900, else `key_timeout`): `200` done; else `202` with the signal still processing,
        or `408` when `X-Sbr-Timeout-Error: true` was sent. Charged either way.
        """
        target_field = "domain" if scope == "company" else "contactProfileUrl"
        timeout = self.key_timeout
        if wait:
            raw = request.headers.get("X-Sbr-Timeout-Sec")
            if raw is not None:
                try:
                    timeout = float(int(raw.strip()))
                except ValueError:
                    timeout = -1.0
                if not 1 <= timeout <= MAX_KEY_TIMEOUT:
                    problem = {
                        "field": "X-Sbr-Timeout-Sec",
                        "message": f"must be an integer from 1 to {MAX_KEY_TIMEOUT}",
                    }
                    return self._validation([problem])
        try:
            body = self.read_json(request)
        except BadJson:
            return self.envelope(400, "BAD_REQUEST", "BAD_REQUEST", "Invalid request body")
        problems = self._check_signal_body(body, target_field)
        if problems:
            return self._validation(problems)
        endpoint = f"{scope}_signal_{'sync' if wait else 'create'}"
        with self._lock:
            if self.replay_signal_keys:  # the old, kinder sandbox: not what Saber publishes
                replay = self._replay(request, endpoint, body)
                if replay is not None:
                    return replay
            spec = self._signal_spec(body)
            if isinstance(spec, Response):
                return spec
            target = body[target_field].lower() if scope == "company" else body[target_field]
            refused = self._refused_ask(scope, target, spec["question"])
            if refused is not None:
                return refused
            if self._credits < self.signal_cost:
                return self._no_credits()
            self._credits -= self.signal_cost
            record = self._new_signal(scope, target, spec, body.get("webhookUrl"))
            view = record.view(time.time(), _iso)
        if record.webhook_url:
            self._schedule_signal_webhook(record)
        if not wait:
            return self.json(201, view)
        deadline = time.monotonic() + timeout
        while not record.done(time.time()) and time.monotonic() < deadline and not self._closing.is_set():
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        with self._lock:
            view = record.view(time.time(), _iso)
            if self.replay_signal_keys:
                self._remember(request, endpoint, body, 200, view)
        if view["status"] != "processing":
            return self.json(200, view)
        if (request.headers.get("X-Sbr-Timeout-Error") or "").strip().lower() == "true":
            return self.envelope(
                408,
                "TIMEOUT",
                "REQUEST_TIMEOUT",
                f"Signal {record.id} is still processing; retrieve it by id",
            )
        return self.json(202, view)

    def _signal_spec(self, body: dict[str, Any]) -> dict[str, Any] | Response:
        """What a signal asks, its template resolved: question, answerType, verification mode (lock held)."""
        template_id = body.get("signalTemplateId") or body.get("templateId")
        spec: dict[str, Any] = {
            "question": body.get("question"),
            "answerType": body.get("answerType") or "open_text",
            "verificationMode": body.get("verificationMode") or "strict",
        }
        if template_id:
            template = self._templates.get(str(template_id))
            if template is None:
                return self.json(
                    404, {"error": "NOT_FOUND", "message": "Signal template not found or access denied"}
                )
            spec.update(
                question=template["question"], answerType=template["answerType"], signalTemplateId=template_id
            )
        return spec

    def _refused_ask(self, scope: str, target: str, question: str) -> Response | None:
        """The 503 a share of asks meet first (`signal_failure_rate`): nothing charged or made (lock held)."""
        ask = (scope, target, str(question))
        self.signal_asks[ask] += 1
        if (
            self.signal_asks[ask] <= self.signal_failure_attempts
            and self._unit("signal-fails", *ask) < self.signal_failure_rate
        ):
            self.faults["signal failed"] += 1
            return self.envelope(
                503, "INTERNAL", "SIGNAL_FAILED", "The signal could not be answered; try again"
            )
        return None

    def _new_signal(self, scope: str, target: str, spec: dict[str, Any], webhook_url: Any) -> SignalRecord:
        """Record a created signal (lock held): processing until its delay passes, then done."""
        now = time.time()
        signal_id = self._ids.uuid()
        question, answer_type = str(spec["question"]), str(spec["answerType"])
        data = self._signal_object(
            question=question,
            answer_type=answer_type,
            key=(scope, target),
            scope=scope,
            target=target,
            created=now,
            completed=now,
            signal_id=signal_id,
            lenient=spec.get("verificationMode") == "lenient",
        )
        data["verificationMode"] = spec.get("verificationMode") or "strict"
        if spec.get("signalTemplateId"):
            data["signalTemplateId"] = spec["signalTemplateId"]
        if scope == "company":
            data["company"] = self._company(target)
        low, high = self.signal_delay if isinstance(self.signal_delay, tuple) else (self.signal_delay,) * 2
        delay = max(0.0, low + (high - low) * self._unit("signal-delay", signal_id))
        data["metadata"] = {"processingTimeMs": round(delay * 1000)}
        n = self.signal_asks[(scope, target, question)]
        failure = None
        if (
            self.signal_failed_rate > 0
            and self._unit("signal-ends-failed", scope, target, question, n) < self.signal_failed_rate
        ):
            failure = tuple(SIGNAL_FAILURES)[self._hash("signal-failcode", target, n) % len(SIGNAL_FAILURES)]
        url = webhook_url if isinstance(webhook_url, str) and webhook_url else None
        return self._book.add(data, scope, due=now + delay, failure=failure, webhook_url=url)

    def company_signal_batch(self, request: Request) -> Response:
        """Questions x domains in one call, 1 credit a signal; synchronous (ids in the answer) or `async`."""
        try:
            body = self.read_json(request)
        except BadJson:
            return self.envelope(400, "BAD_REQUEST", "BAD_REQUEST", "Invalid request body")
        problems = self._check_batch(body)
        if problems:
            return self._validation(problems)
        is_async = bool(body.get("async"))
        total = len(body["signals"]) * len(body["domains"])
        limit = self.batch_async_limit if is_async else self.batch_sync_limit
        if total > limit:
            mode = "async" if is_async else "synchronous"
            return self._validation(
                [
                    {
                        "field": "signals",
                        "message": f"a {mode} batch takes at most {limit} signals x domains, got {total}",
                    }
                ]
            )
        now = time.time()
        results: list[dict[str, Any]] = []
        made: list[SignalRecord] = []
        with self._lock:
            specs = []
            for item in body["signals"]:
                spec = self._signal_spec({**item, "verificationMode": item.get("verificationMode")})
                if isinstance(spec, Response):
                    return spec
                specs.append((item, spec))
            wanted = [(domain, item, spec) for domain in body["domains"] for item, spec in specs]
            good = [w for w in wanted if HOSTNAME_RE.match(w[0]) and len(w[0]) <= 253]
            # An ask meant to fail first (`signal_failure_rate`) fails the whole batch: a 503, nothing made.
            refusals = [self._refused_ask("company", d.lower(), str(sp["question"])) for d, _, sp in good]
            refused = next((r for r in refusals if r is not None), None)
            if refused is not None:
                return refused
            if self._credits < self.signal_cost * len(good):
                return self._no_credits()
            for domain, item, spec in wanted:
                entry: dict[str, Any] = {
                    "domain": domain,
                    "question": spec["question"],
                    "templateId": spec.get("signalTemplateId"),
                }
                if (domain, item, spec) not in good:
                    results.append({**entry, "status": "rejected", "error": DOMAIN_MESSAGE})
                    continue
                self._credits -= self.signal_cost
                record = self._new_signal("company", domain.lower(), spec, item.get("webhookUrl"))
                made.append(record)
                results.append(
                    {
                        **entry,
                        "id": record.id,
                        "status": "processing",
                        "createdAt": record.data["createdAt"],
                        "error": None,
                    }
                )
            batch_id = self._ids.uuid()
        for record in made:
            if record.webhook_url:
                self._schedule_signal_webhook(record)
        accepted = len(made)
        if is_async:
            return self.json(
                202,
                {
                    "batchId": batch_id,
                    "status": "processing",
                    "async": True,
                    "totalSignals": total,
                    "submittedAt": _iso(now),
                },
            )
        if self.batch_hold > 0:  # a slow synchronous batch: held past what a client waits
            time.sleep(self.batch_hold)
        return self.json(
            200,
            {
                "batchId": batch_id,
                "submittedAt": _iso(now),
                "totalSignals": total,
                "accepted": accepted,
                "rejected": total - accepted,
                "results": results,
            },
        )

    def _check_batch(self, body: Any) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"field": "body", "message": "must be a JSON object"}]
        problems = []
        signals, domains = body.get("signals"), body.get("domains")
        if not isinstance(signals, list) or not signals:
            problems.append({"field": "signals", "message": "must be a non-empty array"})
        else:
            for i, item in enumerate(signals):
                if not isinstance(item, dict):
                    problems.append({"field": f"signals[{i}]", "message": "must be an object"})
                    continue
                for problem in self._check_signal_fields(item):
                    problems.append(
                        {"field": f"signals[{i}].{problem['field']}", "message": problem["message"]}
                    )
        if not isinstance(domains, list) or not domains or not all(isinstance(d, str) for d in domains):
            problems.append({"field": "domains", "message": "must be a non-empty array of strings"})
        if "async" in body and not isinstance(body["async"], bool):
            problems.append({"field": "async", "message": "must be a boolean"})
        return problems

    def _check_signal_body(self, body: Any, target_field: str) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [{"field": "body", "message": "must be a JSON object"}]
        problems = []
        kind = "hostname" if target_field == "domain" else "uri"
        limits = {"domain": (1, 253), "contactProfileUrl": (1, 500)}
        value = body.get(target_field)
        if value is None:
            problems.append({"field": target_field, "message": "is required"})
        else:
            problem = _check_field(value, *limits[target_field], kind)
            if problem:
                problems.append({"field": target_field, "message": problem})
        return problems + self._check_signal_fields(body)

    @staticmethod
    def _check_signal_fields(body: dict[str, Any]) -> list[dict[str, str]]:
        """question (unless a template names it), answerType, verificationMode, webhookUrl of one signal."""
        problems = []
        template = body.get("signalTemplateId") or body.get("templateId")
        if template is not None and not isinstance(template, str):
            problems.append({"field": "signalTemplateId", "message": "must be a string"})
        checks = (("question", 1, 2000, "text", template is None), ("answerType", 1, 50, "text", False))
        for name, low, high, kind, required in checks:
            value = body.get(name)
            if value is None:
                if required:
                    problems.append({"field": name, "message": "is required"})
                continue
            problem = _check_field(value, low, high, kind)
            if problem:
                problems.append({"field": name, "message": problem})
        answer_type = body.get("answerType")
        if isinstance(answer_type, str) and answer_type not in ANSWER_TYPES:
            problems.append({"field": "answerType", "message": f"must be one of {', '.join(ANSWER_TYPES)}"})
        mode = body.get("verificationMode")
        if mode is not None and mode not in ("strict", "lenient"):
            problems.append({"field": "verificationMode", "message": "must be strict or lenient"})
        url = body.get("webhookUrl")
        if url is not None:
            problem = _check_field(url, 1, 2048, "uri")
            if problem:
                problems.append({"field": "webhookUrl", "message": problem})
        return problems

    def _company(self, domain: str) -> dict[str, Any]:
        name = domain.split(".")[0].replace("-", " ").title()
        return {
            "id": f"comp_{self._hash('company', domain) % 16**8:08x}",
            "name": name,
            "domain": domain,
            "industry": ("Software", "Fintech", "Healthcare", "Retail")[self._hash("industry", domain) % 4],
            "employeeCount": 10 + self._hash("employees", domain) % 5000,
            "linkedInUrl": f"https://www.linkedin.com/company/{_fold(name) or 'company'}",
        }

    def contact_signals_list(self, request: Request) -> Response:
        problems, limit, offset = _paging(request)
        url = request.args.get("contactProfileUrl")
        if url is not None and not _is_uri(url):
            problems.append({"field": "contactProfileUrl", "message": "must be a valid URI"})
        if problems:
            return self._validation(problems)
        return self._page(
            "contact", limit, offset, lambda r, s: url is None or s.get("contactProfileUrl") == url
        )

    def company_signals_list(self, request: Request) -> Response:
        return self._company_list(request, request.args.get("subscriptionId"))

    def subscription_logs(self, request: Request, subscription_id: str) -> Response:
        if not UUID_RE.match(subscription_id):
            return self._validation([{"field": "subscriptionId", "message": "must be a valid UUID"}])
        with self._lock:
            known = any(r.subscription_id == subscription_id for r in self._book)
        if not known:
            return self.json(
                404, {"error": "NOT_FOUND", "message": "Subscription not found or access denied"}
            )
        return self._company_list(request, subscription_id)

    def _company_list(self, request: Request, subscription_id: str | None) -> Response:
        problems, limit, offset = _paging(request)
        args = request.args
        domain = args.get("domain")
        if domain is not None and not (HOSTNAME_RE.match(domain) and len(domain) <= 253):
            problems.append({"field": "domain", "message": DOMAIN_MESSAGE})
        bounds: dict[str, datetime | None] = {}
        for name in ("fromDate", "toDate"):
            raw = args.get(name)
            bounds[name] = _parse_rfc3339(raw) if raw is not None else None
            if raw is not None and bounds[name] is None:
                problems.append({"field": name, "message": "must be an RFC3339 date-time"})
        if subscription_id is not None and not UUID_RE.match(subscription_id):
            problems.append({"field": "subscriptionId", "message": "must be a valid UUID"})
        statuses = [s for s in args.getlist("status")]
        if any(not s for s in statuses):
            problems.append({"field": "status", "message": "must not be empty"})
        if problems:
            return self._validation(problems)
        company_id = args.get("companyId")

        def wanted(record: SignalRecord, signal: dict[str, Any]) -> bool:
            if subscription_id is not None and record.subscription_id != subscription_id:
                return False
            if domain is not None and str(signal.get("domain", "")).lower() != domain.lower():
                return False
            if company_id is not None and (record.data.get("company") or {}).get("id") != company_id:
                return False
            if statuses and signal.get("status") not in statuses:
                return False
            if bounds["fromDate"] or bounds["toDate"]:
                done = _parse_rfc3339(str(signal.get("completedAt") or ""))
                if done is None:
                    return False
                if bounds["fromDate"] and done < bounds["fromDate"]:
                    return False
                if bounds["toDate"] and done > bounds["toDate"]:
                    return False
            return True

        return self._page("company", limit, offset, wanted)

    def _page(
        self, scope: str, limit: int, offset: int, wanted: Callable[[SignalRecord, dict[str, Any]], bool]
    ) -> Response:
        """Latest first (by createdAt, then arrival), `{results, total, limit, offset, count}`."""
        with self._lock:
            matching = self._book.views(scope, wanted, _iso)
        results = matching[offset : offset + limit]
        return self.json(
            200,
            {
                "results": results,
                "total": len(matching),
                "limit": limit,
                "offset": offset,
                "count": len(results),
            },
        )

    def contact_signal_get(self, request: Request, signal_id: str) -> Response:
        return self._signal_get("contact", signal_id)

    def company_signal_get(self, request: Request, signal_id: str) -> Response:
        return self._signal_get("company", signal_id)

    def _signal_get(self, scope: str, signal_id: str) -> Response:
        # The get-by-id pages list no 400: an id off the UUID pattern is simply not found.
        with self._lock:
            record = self._book.get(signal_id) if UUID_RE.match(signal_id) else None
            if record is None or record.scope != scope:
                return self.json(404, {"error": "NOT_FOUND", "message": "Signal not found or access denied"})
            return self.json(200, record.view(time.time(), _iso))

    # ================================================================== templates
    def add_template(
        self, question: str, answer_type: str = "open_text", *, name: str | None = None
    ) -> dict[str, Any]:
        """Create a signal template (as `POST /v1/companies/signals/templates` would); returns it."""
        with self._lock:
            template_id = self._ids.uuid()
            template: dict[str, Any] = {
                "id": template_id,
                "version": 1,
                "name": name or question[:60],
                "question": question,
                "answerType": answer_type,
                "weight": "important",
                "createdAt": _iso(time.time()),
                "source": "api",
            }
            self._templates[template_id] = template
            return dict(template)

    def templates_list(self, request: Request) -> Response:
        problems, limit, offset = _paging(request)
        if problems:
            return self._validation(problems)
        with self._lock:
            items = list(self._templates.values())
        page = items[offset : offset + limit]
        return self.json(
            200,
            {
                "items": page,
                "total": len(items),
                "limit": limit,
                "offset": offset,
                "hasMore": offset + len(page) < len(items),
            },
        )

    def template_get(self, request: Request, template_id: str) -> Response:
        with self._lock:
            template = self._templates.get(template_id)
        if template is None:
            return self.json(
                404, {"error": "NOT_FOUND", "message": "Signal template not found or access denied"}
            )
        return self.json(200, template)

    # ================================================================== contact search
    def contact_search(self, request: Request) -> Response:
        return saber_search.answer(self, request)

    # ================================================================== credits
    def credits(self, request: Request) -> Response:
        with self._lock:
            return self.json(200, {"remainingCredits": self._credits})


class _Ids:
    """Deterministic ids from a seed (research `cr_…` ids and signal UUIDs)."""

    def __init__(self, seed: int) -> None:
        import random

        self._rng = random.Random(f"saber-ids-{seed}")
        self._lock = threading.Lock()

    def hex(self, n: int) -> str:
        with self._lock:
            return f"{self._rng.getrandbits(4 * n):0{n}x}"

    def uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _check_field(value: Any, low: int, high: int, kind: str) -> str | None:
    """The problem with one field's value, in the pages' words, or None."""
    if not isinstance(value, str):
        return "must be a string"
    if not value and (low > 0 or kind != "text"):
        return "must not be empty"
    # Assumption: lengths are counted as a JavaScript validator counts them, in UTF-16 code
    # units (an emoji is 2): the stricter reading of the pages' "1–100".
    units = len(value.encode("utf-16-le", "surrogatepass")) // 2
    if units < low:
        return f"must be at least {low} characters"
    if units > high:
        return f"must be at most {high} characters"
    if kind == "hostname" and not HOSTNAME_RE.match(value):
        return "must be a valid hostname"
    if kind == "uri" and not _is_uri(value):
        return "must be a valid URI"
    return None


def _paging(request: Request) -> tuple[list[dict[str, str]], int, int]:
    """`limit` (1–25, default 25) and `offset` (≥ 0, default 0), with any problems."""
    problems: list[dict[str, str]] = []
    values = {"limit": 25, "offset": 0}
    for name, low, high in (("limit", 1, 25), ("offset", 0, None)):
        raw = request.args.get(name)
        if raw is None:
            continue
        try:
            number = int(raw)
        except ValueError:
            problems.append({"field": name, "message": "must be an integer"})
            continue
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            problems.append({"field": name, "message": f"must be {bound}"})
            continue
        values[name] = number
    return problems, values["limit"], values["offset"]
