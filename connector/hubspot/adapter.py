"""The only place the connector talks to HubSpot, through the official hubspot-api-client.

What it adds to the client: timeouts on every call, retries under the shared call policy
(`connector.http_policy`; 429 after the window, 5xx and transport errors with back-off, for
POSTs too; never the daily limit), client-side rate limits, one error type, search paging
that never hits HubSpot's 10,000-result cap, and batch updates that land the valid values of
a batch even when HubSpot rejects the batch for one bad value.

Besides its own rolling-window limits, the adapter follows what HubSpot's answers say is left:
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
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar

import hubspot
import hubspot.crm.associations.v4 as hs_associations
import hubspot.crm.companies as hs_companies
import hubspot.crm.contacts as hs_contacts
import hubspot.crm.properties as hs_properties
import urllib3

from connector.errors import RecordFailure
from connector.http_policy import Caller, CallPolicy, parse_retry_after
from connector.hubspot.errors import (
    HubSpotError,
    PropertyError,
    error_from_response,
    unreachable,
)
from connector.hubspot.limits import (
    DEFAULT_WINDOW,
    MAX_BATCH,
    MAX_FILTERS_PER_GROUP,
    MAX_LIST_PAGE,
    MAX_SEARCH_PAGE,
    MAX_TEXT,
    OPERATORS,
)
from connector.hubspot.retry import classify, facts
from connector.logs import get_logger, scrub
from connector.ratelimit import QuotaFollower, RateLimiter, parse_count

log = get_logger("hubspot")
# The most of one answer's body read: a page of 100 contacts is well under a megabyte; a
# bigger answer is garbage (a misrouted download, a runaway proxy) and is not held in memory.
MAX_BODY_BYTES = 16 * 1024 * 1024

T = TypeVar("T")
R = TypeVar("R", bound="_Record")
OBJECT_TYPE = "contacts"
# Errors about the property itself (not its value): every input carrying it is affected.
PROPERTY_LEVEL_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE", "UNKNOWN_PROPERTY"})

# With this many calls (or fewer) left in the window, the adapter spreads them out.
LOW_WATER = 5
REMAINING_HEADER = "X-HubSpot-RateLimit-Remaining"
INTERVAL_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"
SECONDLY_REMAINING_HEADER = "X-HubSpot-RateLimit-Secondly-Remaining"

_API_EXCEPTIONS: tuple[type[BaseException], ...] = (
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


@dataclass(frozen=True)
class Contact:
    id: str
    properties: dict[str, str | None]
    updated_at: datetime | None


@dataclass(frozen=True)
class SearchFilter:
    property: str
    operator: str
    value: str | None = None
    values: tuple[str, ...] | None = None
    high_value: str | None = None


@dataclass(frozen=True)
class PropertyInfo:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: tuple[str, ...]  # option values
    read_only: bool


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: tuple[tuple[str, str], ...] = ()  # (label, value)
    description: str = ""


class _Record(Protocol):
    """A contact or a company, as read from HubSpot: what keyset paging needs of one."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class CrmObjects(Generic[R]):
    """One CRM object type, for the keyset search, batch read and batch update contacts and
    companies share: only the request models, the APIs and the record type differ."""

    name: str  # the object type in HubSpot's paths and in call names: contacts, companies
    noun: str  # one record, in messages: contact, company
    models: ModuleType  # its generated request models: hubspot.crm.contacts or .companies
    search_api: Any
    batch_api: Any
    parse: Callable[[Mapping[str, Any]], R]  # one object of HubSpot's JSON


@dataclass
class BatchResult:
    written: list[str] = field(default_factory=list)  # contact ids with at least one value landed
    failures: list[RecordFailure] = field(default_factory=list)


class HubSpotAdapter:
    """HubSpot CRM v3 contacts and contact properties, with retries and rate limiting.

    `policy` (attempts, waits, the per-call time cap, timeouts) is shared with the Saber
    client; the rate limits are HubSpot's own, and its rate-limit headers are followed unless
    `follow_rate_headers` is False. Thread-safe: the API objects (and their connection pools)
    are built once and shared.
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
        self._timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        self._limiter = RateLimiter(requests_per_10s, rate_period)
        self._search_limiter = RateLimiter(searches_per_second, search_period)
        self._caller = Caller("hubspot", self.policy, classify, HubSpotError, log, describe=facts)
        # Requests sent per operation (retries included), and of those the retries.
        self.calls: Counter[str] = self._caller.counters.calls
        self.retries: Counter[str] = self._caller.counters.retries
        # No urllib3 retries: tenacity decides (for POSTs too), and 429s come back as ApiException.
        no_retry = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        client = hubspot.HubSpot(access_token=access_token, host=self.base_url, retry=no_retry)
        # Each attribute access builds a new API client and pool: build them once, here.
        self._basic = client.crm.contacts.basic_api
        self._search = client.crm.contacts.search_api
        self._batch = client.crm.contacts.batch_api
        self._contacts = CrmObjects("contacts", "contact", hs_contacts, self._search, self._batch, _contact)
        self._core = client.crm.properties.core_api
        self._groups = client.crm.properties.groups_api
        # Companies and contact → company associations (`adapter.companies`); imported here, as
        # that module builds on this one.
        from connector.hubspot.companies import CompanyApi

        self.companies = CompanyApi(self, client)
        self._apis = (self._basic, self._search, self._batch, self._core, self._groups, *self.companies.apis)
        # What HubSpot's answers say is left of the ten-secondly limit (None: not followed).
        self.quota: QuotaFollower | None = None
        self._answer = threading.local()  # the headers of this thread's last answer
        for api in self._apis:
            _cap_bodies(api, MAX_BODY_BYTES)
        if follow_rate_headers:
            self.quota = QuotaFollower(low_water=low_water, max_wait=self.policy.max_backoff)
            for api in self._apis:
                self._watch_headers(api)

    # ---------------------------------------------------------------- contacts
    def search_contacts(
        self,
        *,
        properties: Sequence[str],
        filters: Sequence[SearchFilter] = (),
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        page_size: int = MAX_SEARCH_PAGE,
    ) -> Iterator[Contact]:
        """Every contact matching all `filters` and modified in the window, once, in id order.

        Keyset paging: each page is a fresh query for `hs_object_id > last id seen`, sorted
        by id, with `after` left at 0. It never nears the 10,000-result depth, uses the
        same number of calls as offset paging, and stays exact while contacts change
        under it (a contact that leaves the result set cannot shift the next page, as it
        would with offsets). `lastmodifieddate <= modified_before` (default: now, fixed
        here) keeps contacts changed during the run for the next run.
        """
        if not 1 <= page_size <= MAX_SEARCH_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_SEARCH_PAGE}, got {page_size}")
        base = [_api_filter(f) for f in filters]
        if modified_after is not None:
            base.append(
                hs_contacts.Filter(
                    property_name="lastmodifieddate", operator="GTE", value=_ms(modified_after)
                )
            )
        upper = modified_before if modified_before is not None else datetime.now(UTC)
        base.append(hs_contacts.Filter(property_name="lastmodifieddate", operator="LTE", value=_ms(upper)))
        if len(base) + 1 > MAX_FILTERS_PER_GROUP:  # + the hs_object_id keyset filter
            room = MAX_FILTERS_PER_GROUP - 2 - (modified_after is not None)
            raise ValueError(
                f"too many search filters: HubSpot allows {MAX_FILTERS_PER_GROUP} per group and the "
                f"connector needs {MAX_FILTERS_PER_GROUP - room} for paging and the modified window, "
                f"so at most {room} can be configured (got {len(filters)})"
            )
        return self._keyset_search(self._contacts, base, list(dict.fromkeys(properties)), page_size)

    def _keyset_search(
        self, objects: CrmObjects[R], base: list[Any], properties: list[str], page_size: int
    ) -> Iterator[R]:
        """Every record matching the `base` filters, keyset-paged on `hs_object_id` (see
        `search_contacts`), so that no search meets the 10,000-result depth."""
        models = objects.models
        last_id: int | None = None
        sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        while True:
            keyset = (
                []
                if last_id is None
                else [models.Filter(property_name="hs_object_id", operator="GT", value=str(last_id))]
            )
            request = models.PublicObjectSearchRequest(
                filter_groups=[models.FilterGroup(filters=[*base, *keyset])],
                sorts=sorts,
                properties=properties,
                limit=page_size,
                after="0",
            )
            page = self._call(
                f"search_{objects.name}",
                lambda req=request: _json(  # type: ignore[misc]
                    objects.search_api.do_search(
                        public_object_search_request=req,
                        _request_timeout=self._timeout,
                        _preload_content=False,
                    )
                ),
                search=True,
            )
            results = [objects.parse(obj) for obj in page.get("results") or []]
            yield from results
            if not results or not _next_after(page):
                return
            highest = int(results[-1].id)
            if last_id is not None and highest <= last_id:
                raise HubSpotError(
                    f"HubSpot's search did not advance past {objects.noun} {last_id}; stopping"
                )
            last_id = highest

    def list_contacts(
        self, *, properties: Sequence[str], page_size: int = MAX_LIST_PAGE
    ) -> Iterator[Contact]:
        """Every contact, in HubSpot's list order (id), one page at a time."""
        if not 1 <= page_size <= MAX_LIST_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_LIST_PAGE}, got {page_size}")
        props = list(dict.fromkeys(properties))

        def pages() -> Iterator[Contact]:
            after: str | None = None
            while True:
                page = self._call(
                    "list_contacts",
                    lambda a=after: _json(  # type: ignore[misc]
                        self._basic.get_page(
                            limit=page_size,
                            after=a,
                            properties=props,
                            archived=False,
                            _request_timeout=self._timeout,
                            _preload_content=False,
                        )
                    ),
                )
                results = [_contact(obj) for obj in page.get("results") or []]
                yield from results
                after = _next_after(page)
                if not results or not after:
                    return

        return pages()

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> list[Contact]:
        """The contacts with these ids (100 per call); ids HubSpot does not know are left out."""
        return self._batch_read(self._contacts, ids, properties)

    def update_contacts(self, updates: Mapping[str, Mapping[str, str]]) -> BatchResult:
        """Write property values, 100 contacts per call, landing every valid value.

        HubSpot rejects a whole batch for one invalid value (400, per-property errors as
        JSON inside `message`, not always naming the record). The offending values are
        located by property name and quoted value, recorded as failures and dropped, and
        the rest is sent again; when they cannot be located the batch is split in two.
        Unknown ids (207) become record failures; so does any id HubSpot's answer omits.
        """
        return self._batch_update(self._contacts, updates)

    def _batch_read(self, objects: CrmObjects[R], ids: Sequence[str], properties: Sequence[str]) -> list[R]:
        """The records with these ids (100 per call); ids HubSpot does not know are left out."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        props = list(dict.fromkeys(properties))
        found: list[R] = []
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            body = objects.models.BatchReadInputSimplePublicObjectId(
                inputs=[objects.models.SimplePublicObjectId(id=i) for i in chunk],
                properties=props,
                properties_with_history=[],
            )
            answer = self._call(
                f"read_{objects.name}",
                lambda b=body: _json(  # type: ignore[misc]
                    objects.batch_api.read(
                        batch_read_input_simple_public_object_id=b,
                        _request_timeout=self._timeout,
                        _preload_content=False,
                    )
                ),
            )
            found.extend(objects.parse(obj) for obj in answer.get("results") or [])
        return found

    def _batch_update(
        self, objects: CrmObjects[Any], updates: Mapping[str, Mapping[str, str]]
    ) -> BatchResult:
        """Write property values, 100 records a call, landing every valid value (see `update_contacts`)."""
        result = BatchResult()
        items = [
            (str(cid), {str(k): "" if v is None else str(v) for k, v in props.items()})
            for cid, props in updates.items()
        ]
        items = [(cid, props) for cid, props in items if props]
        for start in range(0, len(items), MAX_BATCH):
            _BatchUpdate(self, objects, dict(items[start : start + MAX_BATCH]), result).run()
        return result

    def _send_update(self, objects: CrmObjects[Any], batch: Mapping[str, Mapping[str, str]]) -> Any:
        body = objects.models.BatchInputSimplePublicObjectBatchInput(
            inputs=[
                objects.models.SimplePublicObjectBatchInput(id=cid, properties=dict(props))
                for cid, props in batch.items()
            ]
        )
        return self._call(
            f"update_{objects.name}",
            lambda: objects.batch_api.update(
                batch_input_simple_public_object_batch_input=body, _request_timeout=self._timeout
            ),
        )

    # ---------------------------------------------------------------- properties
    def get_properties(self, object_type: str = OBJECT_TYPE) -> dict[str, PropertyInfo]:
        """Every property of the portal for one object type (contacts unless told), by name."""
        answer = self._call(
            "get_properties",
            lambda: self._core.get_all(
                object_type=object_type, archived=False, _request_timeout=self._timeout
            ),
        )
        return {p.name: _property_info(p) for p in answer.results or []}

    def get_property(self, name: str, object_type: str = OBJECT_TYPE) -> PropertyInfo | None:
        """One property (of contacts unless told), or None when the portal has none of that name."""
        try:
            answer = self._call(
                "get_property",
                lambda: self._core.get_by_name(
                    object_type=object_type,
                    property_name=name,
                    archived=False,
                    _request_timeout=self._timeout,
                ),
            )
        except HubSpotError as exc:
            if exc.status == 404:
                return None
            raise
        return _property_info(answer)

    def ensure_group(self, name: str, label: str, object_type: str = OBJECT_TYPE) -> bool:
        """Create the property group (of contacts unless told); True if created, False if it existed."""
        body = hs_properties.PropertyGroupCreate(name=name, label=label, display_order=-1)
        try:
            self._call(
                "create_group",
                lambda: self._groups.create(
                    object_type=object_type, property_group_create=body, _request_timeout=self._timeout
                ),
                expected=_is_conflict,
            )
        except HubSpotError as exc:
            if exc.status == 409:
                return False
            raise
        log.debug("hubspot_group_created", group=name)
        return True

    def create_property(self, spec: PropertySpec, object_type: str = OBJECT_TYPE) -> PropertyInfo:
        """Create a property (of contacts unless told); raises HubSpotError(status=409) when it exists."""
        options = [
            hs_properties.OptionInput(label=label, value=value, display_order=i, hidden=False)
            for i, (label, value) in enumerate(spec.options)
        ]
        body = hs_properties.PropertyCreate(
            name=spec.name,
            label=spec.label,
            type=spec.type,
            field_type=spec.field_type,
            group_name=spec.group_name,
            description=spec.description,
            options=options,
        )
        answer = self._call(
            "create_property",
            lambda: self._core.create(
                object_type=object_type, property_create=body, _request_timeout=self._timeout
            ),
            expected=_is_conflict,
        )
        log.debug("hubspot_property_created", property=spec.name, type=spec.type, field_type=spec.field_type)
        return _property_info(answer)

    def add_property_options(
        self, name: str, options: Sequence[tuple[str, str]], object_type: str = OBJECT_TYPE
    ) -> tuple[PropertyInfo, list[str]]:
        """Add (label, value) options an enumeration property lacks; its own options are kept as they are.

        HubSpot's `PATCH /crm/v3/properties/contacts/{propertyName}` replaces `options` with
        the list it is given, so the property is read first and sent back whole, the new
        options appended. Returns the property as HubSpot now has it and the values added
        (none, and no PATCH, when it already had them all). Raises HubSpotError (404) for
        a property the portal does not have.
        """
        current = self._call(
            "get_property",
            lambda: self._core.get_by_name(
                object_type=object_type, property_name=name, archived=False, _request_timeout=self._timeout
            ),
        )
        kept = [
            hs_properties.OptionInput(
                label=o.label,
                value=o.value,
                display_order=o.display_order if o.display_order is not None else i,
                hidden=bool(o.hidden),
                description=o.description,
            )
            for i, o in enumerate(current.options or [])
        ]
        have = {o.value for o in kept}
        new: list[tuple[str, str]] = []
        for label, value in options:
            if value not in have:
                have.add(value)
                new.append((label, value))
        if not new:
            return _property_info(current), []
        start = max([o.display_order for o in kept] + [-1]) + 1  # after the last one shown
        body = hs_properties.PropertyUpdate(
            options=[
                *kept,
                *(
                    hs_properties.OptionInput(label=label, value=value, display_order=start + i, hidden=False)
                    for i, (label, value) in enumerate(new)
                ),
            ]
        )
        answer = self._call(
            "update_property",
            lambda: self._core.update(
                object_type=object_type,
                property_name=name,
                property_update=body,
                _request_timeout=self._timeout,
            ),
        )
        values = [value for _, value in new]
        log.debug("hubspot_property_options_added", property=name, options=values)
        return _property_info(answer), values

    def check_access(self) -> None:
        """One cheap authenticated read; raises HubSpotAuthError when HubSpot refuses the token."""
        self._call(
            "check_access",
            lambda: self._basic.get_page(
                limit=1, properties=["hs_object_id"], archived=False, _request_timeout=self._timeout
            ),
        )

    def close(self) -> None:
        """Close the connection pools."""
        for api in self._apis:
            rest = getattr(api.api_client, "rest_client", None)
            pool = getattr(rest, "pool_manager", None)
            if pool is not None:
                pool.clear()

    def __enter__(self) -> HubSpotAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- one call
    def _watch_headers(self, api: Any) -> None:
        """Keep each answer's headers (any status, read in full or streamed) for `_call` to follow."""
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

    def _call(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        search: bool = False,
        expected: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run one API call under the rate limits, retrying as the call policy and `classify` say.

        `expected` failures (a 409 an idempotent `setup` counts on) are logged at debug, not info.
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
                raise error_from_response(exc.status, exc.body, exc.headers) from None
            except _TRANSPORT_ERRORS as exc:
                raise unreachable(self.base_url, exc) from None
            except _CLIENT_EXCEPTIONS as exc:
                raise HubSpotError(f"the HubSpot client refused the call: {exc}") from None
            except ValueError as exc:  # the client's models validate answers as they deserialise them
                raise HubSpotError(f"HubSpot's answer did not match its API schema: {exc}") from None
            finally:
                if quota is not None:
                    self._follow(quota)  # errors too: a 429 says none is left

        return self._caller.call(operation, attempt, expected=expected)


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


class _BatchUpdate:
    """One chunk of ≤100 records (contacts or companies), sent until every value has landed or failed."""

    def __init__(
        self,
        adapter: HubSpotAdapter,
        objects: CrmObjects[Any],
        chunk: dict[str, dict[str, str]],
        result: BatchResult,
    ):
        self.adapter = adapter
        self.objects = objects
        self.noun = objects.noun
        self.chunk = chunk
        self.result = result
        self.written: set[str] = set()
        self.failed: set[tuple[str, str | None, str]] = set()
        # Every resend removes a value or splits a batch, so this bound is never reached in
        # practice; it guarantees termination whatever HubSpot answers.
        self.budget = 2 * sum(len(p) for p in chunk.values()) + 4

    def run(self) -> None:
        queue: deque[dict[str, dict[str, str]]] = deque([self.chunk])
        sends = 0
        while queue:
            batch = {cid: dict(props) for cid, props in queue.popleft().items() if props}
            if not batch:
                continue
            if sends >= self.budget:
                for cid, props in batch.items():
                    for name in props:
                        self.fail(cid, name, "UNRESOLVED", "gave up isolating HubSpot's validation errors")
                continue
            sends += 1
            try:
                answer = self.adapter._send_update(self.objects, batch)
            except HubSpotError as exc:
                if exc.status != 400 or exc.category != "VALIDATION_ERROR":
                    raise
                queue.extendleft(reversed(self.isolate(batch, exc)))
                continue
            self.collect(batch, answer)
        self.result.written.extend(cid for cid in self.chunk if cid in self.written)

    def fail(self, cid: str, prop: str | None, code: str, message: str) -> None:
        key = (cid, prop, code)
        if key not in self.failed:
            self.failed.add(key)
            self.result.failures.append(RecordFailure(cid, prop, code, message))

    def isolate(self, batch: dict[str, dict[str, str]], exc: HubSpotError) -> list[dict[str, dict[str, str]]]:
        """Record and drop the values HubSpot refused; return what to send next."""
        located, suspects = locate(batch, exc.errors)
        if located:
            for cid, err in located:
                self.fail(cid, err.name, err.code, err.message)
                batch[cid].pop(err.name or "", None)
            log.info("hubspot_values_rejected", values=len(located), resending=sum(map(len, batch.values())))
            return [batch]
        if len(batch) > 1:
            # Cannot tell which record: send the clearly innocent together, halve the suspects.
            doubtful = [cid for cid in batch if cid in suspects] or list(batch)
            innocent = [cid for cid in batch if cid not in doubtful]
            cut = max(1, len(doubtful) // 2)
            parts = [doubtful[:cut], doubtful[cut:], innocent]
            return [{c: batch[c] for c in part} for part in parts if part]
        ((cid, props),) = batch.items()
        if len(props) > 1:
            names = list(props)
            half = len(names) // 2
            return [{cid: {n: props[n] for n in names[:half]}}, {cid: {n: props[n] for n in names[half:]}}]
        (name,) = props
        err = next((e for e in exc.errors if e.name == name), exc.errors[0] if exc.errors else None)
        code = err.code if err else exc.category or "VALIDATION_ERROR"
        self.fail(cid, name, code, err.message if err else exc.message)
        return []

    def collect(self, batch: Mapping[str, Mapping[str, str]], answer: Any) -> None:
        """Count what HubSpot confirms written; anything else in the batch is a failure."""
        confirmed = {str(obj.id) for obj in answer.results or []}
        for err in getattr(answer, "errors", None) or []:
            for raw in (err.context or {}).get("ids") or []:
                if str(raw) in batch and str(raw) not in confirmed:
                    self.fail(str(raw), None, err.category or "ERROR", err.message or "")
        for cid in batch:
            if cid in confirmed:
                self.written.add(cid)
            elif not any(key[0] == cid and key[1] is None for key in self.failed):
                self.fail(cid, None, "NOT_CONFIRMED", f"HubSpot's answer did not include this {self.noun}")


def _is_conflict(exc: BaseException) -> bool:
    """A 409: what already exists, for the calls whose callers count on it (`setup` run twice)."""
    return isinstance(exc, HubSpotError) and exc.status == 409


def locate(
    batch: Mapping[str, Mapping[str, str]], errors: Sequence[PropertyError]
) -> tuple[list[tuple[str, PropertyError]], set[str]]:
    """Which (contact, error) pairs HubSpot's per-property errors point at, and which contacts are suspects.

    An error about the property itself (unknown, read-only) applies to every input that
    carries it. An error about a value applies to the only input carrying the property,
    or to those whose value the message quotes.
    """
    located: list[tuple[str, PropertyError]] = []
    suspects: set[str] = set()
    taken: set[tuple[str, str]] = set()
    for err in errors:
        holders = [cid for cid, props in batch.items() if err.name is not None and err.name in props]
        if err.name is None or not holders:
            suspects.update(batch if err.name is None else ())
            continue
        if err.code in PROPERTY_LEVEL_CODES or len(holders) == 1:
            culprits = holders
        else:
            culprits = [cid for cid in holders if _names_value(batch[cid][err.name], err)]
            if not culprits:
                suspects.update(holders)
                continue
        for cid in culprits:
            if (cid, err.name) not in taken:
                taken.add((cid, err.name))
                located.append((cid, err))
    return located, suspects


def _names_value(value: str, err: PropertyError) -> bool:
    """Does this error's message point at this value?"""
    if not value:
        return False
    if err.code == "LEADING_TRAILING_WHITESPACE":
        return value != value.strip()
    if len(value) > MAX_TEXT:
        return True
    message = err.message
    parts = [value, *value.split(";")] if ";" in value else [value]
    for part in parts:
        if part and (message.startswith(part + " ") or any(q in message for q in (f'"{part}"', f"'{part}'"))):
            return True
    return False


# -------------------------------------------------------------------- conversions
def _api_filter(f: SearchFilter) -> Any:
    if f.operator not in OPERATORS:
        raise ValueError(
            f"search filter on {f.property}: unknown operator {f.operator!r} (known: {sorted(OPERATORS)})"
        )
    return hs_contacts.Filter(
        property_name=f.property,
        operator=f.operator,
        value=f.value,
        values=list(f.values) if f.values is not None else None,
        high_value=f.high_value,
    )


def _ms(moment: datetime) -> str:
    """A datetime as HubSpot's filter value: epoch milliseconds (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))


def _json(response: Any) -> dict[str, Any]:
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


def _next_after(page: Mapping[str, Any]) -> str | None:
    nxt = (page.get("paging") or {}).get("next") or {}
    after = nxt.get("after")
    return str(after) if after not in (None, "") else None


def _contact(obj: Mapping[str, Any]) -> Contact:
    """A Contact from one object of HubSpot's JSON (id, properties, updatedAt)."""
    return _parse_record(Contact, "contact", obj)


def _parse_record(make: Callable[..., R], noun: str, obj: Mapping[str, Any]) -> R:
    """A contact or company from one object of HubSpot's JSON: `make(id, properties, updated_at)`."""
    try:
        cid = str(obj["id"])
    except (KeyError, TypeError):
        raise HubSpotError(f"HubSpot returned a {noun} without an id") from None
    props = obj.get("properties") or {}
    return make(
        id=cid,
        properties={str(k): None if v is None else str(v) for k, v in props.items()},
        updated_at=_parse_time(obj.get("updatedAt")),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _property_info(p: Any) -> PropertyInfo:
    meta = p.modification_metadata
    read_only = bool(getattr(meta, "read_only_value", False)) or bool(p.calculated)
    return PropertyInfo(
        name=p.name,
        label=p.label,
        type=p.type,
        field_type=p.field_type,
        group_name=p.group_name,
        options=tuple(o.value for o in p.options or []),
        read_only=read_only,
    )
