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

The transport (the httpx pool, the call policy, Saber's rate limits and its rate-limit headers)
is `connector.saber.transport`; this module is what each endpoint asks and answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, TypeVar, Unpack
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from connector.ratelimit import QuotaFollower, RateLimiter, TokenBucket
from connector.saber.contact_search import (
    CONTACT_SEARCH_PATH,
    DEFAULT_PAGE_SIZE,
    OPERATION,
    ContactSearch,
    ContactSearchPage,
    ContactSearchWalk,
    refine_error,
)
from connector.saber.errors import SaberNotFound, SaberRequestError, SaberValidationError
from connector.saber.external_ids import ExternalIds
from connector.saber.models import Research, ResearchStarted, Signal, SignalBatch, SignalPage, SignalTemplate
from connector.saber.signals import SignalQuestion, SignalRequest
from connector.saber.transport import (  # the limits re-exported: settings and tests name them here
    SaberOptions,
    SaberTransport,
    short,
)

RESEARCH_PATH = "/v1/contacts/research"
CONTACT_SIGNALS_PATH = "/v1/contacts/signals"
COMPANY_SIGNALS_PATH = "/v1/companies/signals"
SIGNAL_PATHS = {"contact": CONTACT_SIGNALS_PATH, "company": COMPANY_SIGNALS_PATH}
TEMPLATES_PATH = f"{COMPANY_SIGNALS_PATH}/templates"
MAX_PAGE_SIZE = 25  # the list endpoints' `limit` maximum
BATCH_WAIT_SECONDS = 10  # X-Sbr-Timeout-Sec asked of a synchronous batch (1-900)
TIMEOUT_HEADER = "X-Sbr-Timeout-Sec"

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


class SaberClient:
    """Typed calls to the Saber API, through a `SaberTransport` (retries, back-off, rate limits).

    `policy` (attempts, waits, the per-call time cap, timeouts) is shared with the HubSpot
    adapter; the rate limits are Saber's own: a token bucket for writes and one for reads,
    an overall even spacing when `requests_per_second` is given, and the answers' rate-limit
    headers followed unless `follow_rate_headers` is False.
    """

    def __init__(
        self, base_url: str, api_key: str, *, send_external_ids: bool = True, **options: Unpack[SaberOptions]
    ) -> None:
        self._transport = SaberTransport(base_url, api_key, **options)
        self.policy = self._transport.policy
        self.max_body_bytes = self._transport.max_body_bytes
        self.base_url = self._transport.base_url
        # Research is launched with externalId/externalSource until Saber refuses them (assumption A1).
        self.external_ids = ExternalIds(send=send_external_ids)
        # What Saber's answers say is left, per kind (None: not followed).
        self.write_quota: QuotaFollower | None = self._transport.write_quota
        self.read_quota: QuotaFollower | None = self._transport.read_quota
        # Requests sent per operation (retries included), and of those the retries.
        self.calls: Counter[str] = self._transport.calls
        self.retries: Counter[str] = self._transport.retries

    # The transport's rate limits, replaceable (tests pace them with a fake clock).
    @property
    def write_limit(self) -> TokenBucket:
        return self._transport.write_limit

    @write_limit.setter
    def write_limit(self, bucket: TokenBucket) -> None:
        self._transport.write_limit = bucket

    @property
    def read_limit(self) -> TokenBucket:
        return self._transport.read_limit

    @read_limit.setter
    def read_limit(self, bucket: TokenBucket) -> None:
        self._transport.read_limit = bucket

    @property
    def overall_limit(self) -> RateLimiter | None:
        return self._transport.overall_limit

    @overall_limit.setter
    def overall_limit(self, limiter: RateLimiter | None) -> None:
        self._transport.overall_limit = limiter

    # ------------------------------------------------------------------ research
    def create_research(
        self, request: ResearchRequest, *, idempotency_key: str | None = None
    ) -> ResearchStarted:
        """Start research for one contact (`POST /v1/contacts/research`)."""
        data = self._transport.call(
            "create_research", "POST", RESEARCH_PATH, body=request.to_body(), idempotency_key=idempotency_key
        )
        return self._model(ResearchStarted, data)

    def get_research(self, research_id: str) -> Research:
        """Status and result of one research request."""
        if not research_id:
            raise ValueError("research_id is empty")
        data = self._transport.call("get_research", "GET", f"{RESEARCH_PATH}/{quote(research_id, safe='')}")
        return self._model(Research, data)

    def find_research(self, external_id: str, external_source: str) -> Research | None:
        """The latest research for the caller's own IDs, or None when Saber has none (404)."""
        params = [("externalId", external_id), ("externalSource", external_source)]
        try:
            data = self._transport.call("find_research", "GET", RESEARCH_PATH, params=params, quiet_404=True)
        except SaberNotFound:
            return None
        return self._model(Research, data)

    # ------------------------------------------------------------------ signals
    def create_signal(self, request: SignalRequest) -> Signal:
        """Create one signal (1 credit), answered at once: `processing`, or done from Saber's cache.

        Not retried once the request may have reached Saber: the error then says
        `maybe_applied`, and the caller looks for the signal before it pays again.
        """
        data = self._transport.call(
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
        data = self._transport.call(
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
        return self._model(Signal, self._transport.call(f"get_{scope}_signal", "GET", path))

    def get_signal_template(self, template_id: str) -> SignalTemplate:
        """One signal template (free); `SaberNotFound` when the key sees none by that id."""
        data = self._transport.call("get_signal_template", "GET", f"{TEMPLATES_PATH}/{_segment(template_id)}")
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

    # ------------------------------------------------------------------ contact search
    def search_contacts(
        self, search: ContactSearch, *, page_size: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> ContactSearchWalk:
        """The people a contact search finds (`POST /v1/contacts/search`), fetched a page at a time.

        Free as far as anyone knows, retried like a read; see `connector.saber.contact_search`
        for the errors (Sales Navigator not connected, a URL or a filter Saber refused).
        """

        def fetch(limit: int, at: int) -> ContactSearchPage:
            body = search.to_body(limit=limit, offset=at)
            try:
                data = self._transport.call(OPERATION, "POST", CONTACT_SEARCH_PATH, body=body)
            except SaberValidationError as exc:
                raise refine_error(exc, search) from exc
            return self._model(ContactSearchPage, data)

        return ContactSearchWalk(fetch, page_size=page_size, offset=offset)

    # ------------------------------------------------------------------ credits
    def credits(self) -> int:
        """Credits left this billing period (`GET /v1/credits`)."""
        data = self._transport.call("credits", "GET", "/v1/credits")
        value = (
            data.get("remainingCredits", data.get("remaining_credits")) if isinstance(data, dict) else None
        )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SaberRequestError(
                f"no remainingCredits in the answer: {short(data)}", status=200, code="INVALID_RESPONSE"
            )
        return int(value)

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        self._transport.close()

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
                page = self._model(SignalPage, self._transport.call(op, "GET", path, params=query))
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

    @staticmethod
    def _model(model: type[M], data: Any) -> M:
        """Decode into a typed model; a shape the models cannot read is a SaberError, not a crash."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or model.__name__
            raise SaberRequestError(
                f"unexpected {model.__name__} answer ({where}: {first['msg']}): {short(data)}",
                status=200,
                code="INVALID_RESPONSE",
                maybe_applied=True,  # Saber answered 2xx: what was asked was done
            ) from None


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
