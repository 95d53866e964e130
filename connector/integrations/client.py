"""The account-group API client: every call the LinkedIn jobs and scans need, typed.

Every path but `GET /v1/accounts` is scoped by an account group: `INTEGRATIONS_ACCOUNT_GROUP`,
else the only group the key reaches (resolved once, on the first scoped call). Lists are walked
through their cursor pages to the end. Starts take the caller's `Idempotency-Key` (derived by
the caller from what is started and when), so a retry is replayed, never started twice;
`create_audience` carries one derived from what it creates. The transport (envelope, retries,
traceIds) is `connector.integrations.transport`; the values are `connector.integrations.models`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from connector.http_policy import CallPolicy
from connector.integrations.errors import (
    GROUP_VARIABLE,
    IntegrationsAnswerError,
    IntegrationsConfigError,
    IntegrationsNotFound,
    IntegrationsRejected,
)
from connector.integrations.models import (
    AccountGroup,
    Audience,
    Job,
    JobRequest,
    Named,
    Prospect,
    ProspectSignals,
    Scan,
    SignalSpecification,
    Started,
    get,
    obj,
    wrong,
)
from connector.integrations.transport import IntegrationsTransport, Reply

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000  # a cursor walk longer than this is a server looping, not data

# The permission each call needs, as the pages name them: a 403 that names none names this.
PROSPECTING_READ = "prospecting:read"
PROSPECTING_WRITE = "prospecting:write"
PROSPECTS_READ = "prospects:read"
AUDIENCES_READ = "audiences:read"
AUDIENCES_WRITE = "audiences:write"
SIGNALS_READ = "signals:read"
SIGNALS_WRITE = "signals:write"


class IntegrationsClient:
    """Typed calls to the account-group API on the shared call policy; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        account_group: str | None = None,
        policy: CallPolicy | None = None,
        job_fields: Mapping[str, str] | None = None,
    ) -> None:
        self._transport = IntegrationsTransport(base_url, api_key, policy=policy)
        self.base_url = self._transport.base_url
        self.policy = self._transport.policy
        self.account_group = account_group or None
        self.job_fields: Mapping[str, str] = dict(job_fields or {})
        # Requests sent per operation (retries included), and of those the retries.
        self.calls: Counter[str] = self._transport.calls
        self.retries: Counter[str] = self._transport.retries
        self._group: str | None = None
        self._group_lock = threading.Lock()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> IntegrationsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ groups
    def groups(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[AccountGroup]:
        """The account groups the key reaches (`GET /v1/accounts`)."""
        return list(self._pages("groups", "/v1/accounts", [], page_size, AccountGroup.parse, None))

    def group(self) -> str:
        """The group scoped calls use: INTEGRATIONS_ACCOUNT_GROUP (an id or a name), else the only one."""
        with self._group_lock:
            if self._group is None:
                self._group = self._resolve_group(self.groups())
            return self._group

    def _resolve_group(self, groups: list[AccountGroup]) -> str:
        listed = ", ".join(f"{g.id} ({g.name})" for g in groups)
        wanted = self.account_group
        if wanted:
            for match in (lambda g: g.id == wanted, lambda g: g.name == wanted):
                found = [g for g in groups if match(g)]
                if len(found) == 1:
                    return found[0].id
            raise IntegrationsConfigError(
                f"{GROUP_VARIABLE}={wanted} is not an account group the key reaches"
                f" ({listed or 'it reaches none'})"
            )
        if len(groups) == 1:
            return groups[0].id
        if not groups:
            raise IntegrationsConfigError(
                "the integrations key reaches no account group: give it access to one in the vendor's app"
            )
        raise IntegrationsConfigError(
            f"the integrations key reaches {len(groups)} account groups;"
            f" set {GROUP_VARIABLE} to one of: {listed}"
        )

    def _path(self, tail: str) -> str:
        return f"/v1/accounts/{_segment(self.group())}/{tail}"

    # ------------------------------------------------------------------ lists of what jobs and scans take
    def saved_searches(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[Named]:
        """Sales Navigator saved searches (their ids go into a `sales_navigator` job)."""
        path = self._path("sales-navigator/saved-searches")
        return list(
            self._pages("saved_searches", path, [], page_size, _named("saved_searches"), PROSPECTING_READ)
        )

    def lead_lists(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[Named]:
        """Sales Navigator lead lists (their ids go into a `sales_navigator` job)."""
        path = self._path("sales-navigator/lead-lists")
        return list(self._pages("lead_lists", path, [], page_size, _named("lead_lists"), PROSPECTING_READ))

    def specifications(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[SignalSpecification]:
        """The signal specifications a scan may evaluate."""
        path = self._path("signal-specifications")
        parse = SignalSpecification.parse
        return list(self._pages("specifications", path, [], page_size, parse, SIGNALS_READ))

    # ------------------------------------------------------------------ audiences
    def audiences(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Audience]:
        """The group's audiences (one a job is still filling is left out by the API)."""
        return self._pages(
            "audiences", self._path("audiences"), [], page_size, Audience.parse, AUDIENCES_READ
        )

    def audience(self, audience_id: str) -> Audience:
        """One audience; `AudienceNotReady` while a job fills it."""
        reply = self._call(
            "audience", "GET", self._path(f"audiences/{_segment(audience_id)}"), AUDIENCES_READ
        )
        return self._parse(reply, lambda d: Audience.parse(d, "audience", audience_id))

    def create_audience(
        self, name: str, *, description: str | None = None, type: str = "on_demand"
    ) -> Audience:
        """A new, empty audience for a job to fill (201); its Idempotency-Key derives from what it creates."""
        body: dict[str, Any] = {"name": name, "type": type}
        if description is not None:
            body["description"] = description
        key = derived_key("audience", self.group(), body)
        reply = self._call(
            "create_audience",
            "POST",
            self._path("audiences"),
            AUDIENCES_WRITE,
            body=body,
            idempotency_key=key,
        )
        return self._parse(reply, lambda d: Audience.parse(d, "create_audience", name))

    def audience_prospects(
        self, audience_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Prospect]:
        """Every prospect of an audience, page by page; `AudienceNotReady` while a job fills it."""
        path = self._path(f"audiences/{_segment(audience_id)}/prospects")

        def parse(data: Any) -> Prospect:
            return Prospect.parse(data, "audience_prospects", audience_id)

        return self._pages("audience_prospects", path, [], page_size, parse, AUDIENCES_READ, audience_id)

    # ------------------------------------------------------------------ prospecting jobs
    def start_job(self, request: JobRequest, *, idempotency_key: str) -> Started:
        """Start a prospecting job (1 credit a prospect, 2 with searchEmails); a repeated key is replayed."""
        body = request.body(self.job_fields)
        reply = self._call(
            "start_job",
            "POST",
            self._path("prospecting"),
            PROSPECTING_WRITE,
            body=body,
            idempotency_key=idempotency_key,
        )
        return self._parse(reply, lambda d: Started.parse(d, reply.status, "start_job", idempotency_key))

    def job(self, job_id: str) -> Job:
        """One job: its status and stages."""
        reply = self._call("job", "GET", self._path(f"prospecting/{_segment(job_id)}"), PROSPECTING_READ)
        return self._parse(reply, lambda d: Job.parse(d, "job", job_id))

    def jobs(self, *, status: str | None = None, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Job]:
        """The group's jobs, newest first, optionally of one status."""
        params = [("status", status)] if status else []
        return self._pages("jobs", self._path("prospecting"), params, page_size, _parse_job, PROSPECTING_READ)

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued or running job (a finished one answers 422)."""
        path = self._path(f"prospecting/{_segment(job_id)}/cancel")
        try:
            reply = self._call("cancel_job", "POST", path, PROSPECTING_WRITE, body={})
        except IntegrationsRejected as exc:
            if isinstance(exc, IntegrationsNotFound):
                raise
            job = self.job(job_id)  # a retry after a lost answer finds the job cancelled already
            if job.status == "cancelled":
                return job
            raise
        if isinstance(reply.data, Mapping) and get(reply.data, "status") is None:
            return self.job(job_id)  # an answer that says only "done": read the job
        return self._parse(reply, lambda d: Job.parse(d, "cancel_job", job_id))

    # ------------------------------------------------------------------ signal scans
    def start_scan(
        self,
        specification_id: str,
        audience_id: str,
        *,
        prospect_ids: Sequence[str] | None = None,
        idempotency_key: str,
    ) -> Started:
        """Start a scan of an audience (or of some of its prospects); a repeat key is replayed."""
        body: dict[str, Any] = {"signalSpecificationId": specification_id, "audienceId": audience_id}
        if prospect_ids is not None:
            body["prospectIds"] = list(prospect_ids)
        reply = self._call(
            "start_scan",
            "POST",
            self._path("signals/scans"),
            SIGNALS_WRITE,
            body=body,
            idempotency_key=idempotency_key,
        )
        return self._parse(reply, lambda d: Started.parse(d, reply.status, "start_scan", idempotency_key))

    def scan(self, scan_id: str) -> Scan:
        """One scan's status (no counts, no results: those are read per prospect)."""
        reply = self._call("scan", "GET", self._path(f"signals/scans/{_segment(scan_id)}"), SIGNALS_READ)
        return self._parse(reply, lambda d: Scan.parse(d, "scan", scan_id))

    def scans(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Scan]:
        """The group's scans."""
        return self._pages("scans", self._path("signals/scans"), [], page_size, _parse_scan, SIGNALS_READ)

    def prospect_signals(self, prospect_id: str, *, min_score: float | None = None) -> ProspectSignals:
        """One prospect's results: `pending` until evaluated; `evaluated` with no items is "nothing found"."""
        params = [("minScore", f"{min_score:g}")] if min_score is not None else None
        path = self._path(f"prospects/{_segment(prospect_id)}/signals")
        reply = self._call("prospect_signals", "GET", path, SIGNALS_READ, params=params)
        return self._parse(reply, lambda d: ProspectSignals.parse(d, "prospect_signals", prospect_id))

    # ------------------------------------------------------------------ machinery
    def _call(
        self,
        op: str,
        method: str,
        path: str,
        permission: str | None,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        return self._transport.call(
            op, method, path, params=params, body=body, idempotency_key=idempotency_key, permission=permission
        )

    @staticmethod
    def _parse(reply: Reply, parse: Callable[[Any], T]) -> T:
        """Parse an answer; a wrong shape carries the answer's traceId."""
        try:
            return parse(reply.data)
        except IntegrationsAnswerError as exc:
            exc.trace_id = exc.trace_id or reply.trace_id
            raise

    def _pages(
        self,
        op: str,
        path: str,
        params: list[tuple[str, str]],
        page_size: int,
        parse: Callable[[Any], T],
        permission: str | None,
        ident: str | None = None,
    ) -> Iterator[T]:
        """Walk `cursor` pages to the end (`hasMore` false or no `nextCursor`), lazily."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1")

        def walk() -> Iterator[T]:
            cursor: str | None = None
            seen: set[str] = set()
            for _ in range(MAX_PAGES):
                query = [*params, ("limit", str(page_size))]
                if cursor is not None:
                    query.append(("cursor", cursor))
                reply = self._call(op, "GET", path, permission, params=query)
                items, cursor, more = self._parse(reply, lambda d: _page(d, op, ident))
                for item in items:
                    try:
                        value = parse(item)
                    except IntegrationsAnswerError as exc:
                        exc.trace_id = exc.trace_id or reply.trace_id
                        raise
                    yield value
                if not more or not cursor:
                    return
                if cursor in seen:
                    raise wrong(op, ident, f"the cursor {cursor!r} came back twice")
                seen.add(cursor)
            raise wrong(op, ident, f"more than {MAX_PAGES} pages")

        return walk()


def _page(data: Any, op: str, ident: str | None) -> tuple[list[Any], str | None, bool]:
    """A page's items, next cursor and whether there are more (a bare list is one last page)."""
    if isinstance(data, list):
        return data, None, False
    raw = obj(data, op, ident)
    items = get(raw, "items")
    if items is None:
        items = get(raw, "data") or []
    if not isinstance(items, list):
        raise wrong(op, ident, "items is not a list")
    cursor = get(raw, "nextCursor")
    cursor = cursor if isinstance(cursor, str) and cursor else None
    more = get(raw, "hasMore")
    has_more = bool(more) if more is not None else cursor is not None
    return items, cursor, has_more


def _named(call: str) -> Callable[[Any], Named]:
    return lambda data: Named.parse(data, call)


def _parse_job(data: Any) -> Job:
    return Job.parse(data, "jobs")


def _parse_scan(data: Any) -> Scan:
    return Scan.parse(data, "scans")


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an id is empty")
    return quote(value, safe="")


def derived_key(kind: str, group: str, body: Mapping[str, Any]) -> str:
    """An Idempotency-Key for what is asked: `sc-<kind>-` + sha256 of the group and canonical JSON body."""
    canonical = json.dumps({"group": group, "body": body}, sort_keys=True, separators=(",", ":"), default=str)
    return f"sc-{kind}-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]
