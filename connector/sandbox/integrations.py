"""A fake account-group ("integrations") API: prospecting jobs, audiences and signal scans.

Held to the pages (seeds 000, 001, 003 and /work/shared/saber-api.md): every answer, errors
too, is the envelope `{success, data, error: {code, message, details}, traceId}`; lists are
cursor pages (`limit` 1..100, default 25; the cursor is opaque, an unknown one is 400);
ids are 24 hex; timestamps ISO-8601 with milliseconds and Z; each key holds permissions and
reaches account groups. Where the pages are silent it follows assumptions I1-I3: the job body
(`source`, one input, `maxResults`, `searchEmails`, `audienceId`), a job fills the audience it
names and that audience answers `409 AUDIENCE_NOT_READY` until the job is done, an import of
a profile already a prospect is charged again, and result scores are numeric strings.

Time moves by the wall clock, computed lazily from timestamps like Saber's research: a job is
`queued` for its first third of `job_seconds`, then `running` (import, then enrichment), then
`completed` (or `failed`, after `fail_next_job`); a scan likewise over `scan_seconds`, and
each of its prospects becomes `evaluated` `evaluate_seconds` after it completes (unless held
by `hold_pending`). All three are knobs, small by default for tests and the demo.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connector.sandbox.integrations_people import (
    hex_id,
    is_linkedin_url,
    linkedin_key,
    people_for,
    profile_slug,
    results_for,
)
from connector.sandbox.server import BadJson, Fault, Knobs, SandboxServer, fmt_seconds

PERMISSIONS = frozenset(
    {
        "prospecting:read",
        "prospecting:write",
        "prospects:read",
        "signals:read",
        "signals:write",
        "templates:read",
        "templates:write",
        "audiences:read",
        "audiences:write",
    }
)
SOURCES = ("linkedin_search", "sales_navigator", "post_commenters", "url_upload")
# Assumption I1: the canonical job body fields (renamable with `job_fields`).
JOB_INPUTS = ("searchUrl", "savedSearchId", "leadListId", "postUrl", "profileUrls")
JOB_FIELDS = ("source", *JOB_INPUTS, "maxResults", "searchEmails", "audienceId")
SOURCE_INPUTS: dict[str, tuple[str, ...]] = {
    "linkedin_search": ("searchUrl",),
    "sales_navigator": ("savedSearchId", "leadListId"),
    "post_commenters": ("postUrl",),
    "url_upload": ("profileUrls",),
}
JOB_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
AUDIENCE_TYPES = ("on_demand", "monitoring")
DEFAULT_MAX_RESULTS = 100
MAX_URLS = 1000
DEFAULT_LIMIT, MAX_LIMIT = 25, 100
JOB_FAILURES = {
    "LINKEDIN_ACCOUNT_DISCONNECTED": "The LinkedIn account of this account group is disconnected.",
    "LINKEDIN_RATE_LIMIT_EXCEEDED": "LinkedIn rate limits were reached; try again later.",
    "UPSTREAM_ERROR": "An upstream data provider failed.",
}
DEFAULT_SPECIFICATIONS = (
    ("66a1f0c2e4b0a1b2c3d4e5f6", "Hiring signals", "Open roles and hiring posts around the platform team"),
    ("66a1f0c2e4b0a1b2c3d4e5f7", "Cloud migration", "Posts and news about moving workloads to the cloud"),
)
DEFAULT_SAVED_SEARCHES = (("3318", "Platform leaders EU"), ("4102", "Heads of data, 200-1000 employees"))
DEFAULT_LEAD_LISTS = (("7781", "Q4 target accounts"), ("7790", "Event follow-ups"))


def iso(ts: float) -> str:
    """ISO-8601 in UTC with milliseconds and Z, as the pages write timestamps."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class ApiError(Exception):
    """An error answer: raised inside a handler, turned into the envelope by `_apply`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _invalid(field_name: str, message: str, status: int = 400) -> ApiError:
    return ApiError(status, "VALIDATION_ERROR", f"{field_name}: {message}", {"field": field_name})


@dataclass
class _Key:
    """An API key's grants: what it may do, and where."""

    permissions: frozenset[str]
    groups: frozenset[str] | None  # None: every group


@dataclass
class _Audience:
    """An audience ("imported list"): its prospects, and the job filling it (409 until done)."""

    id: str
    group: str
    name: str
    type: str
    description: str | None
    created: float
    prospects: list[str] = field(default_factory=list)  # prospect ids, in import order
    filling: str | None = None  # the unfinished job filling it


@dataclass
class _Job:
    """A prospecting job; its status is derived from the clock, its import applied once by `_settle`."""

    id: str
    group: str
    body: dict[str, Any]  # canonical field names
    created: float
    seconds: float
    people: list[dict[str, Any]]  # what it imports when it completes
    multiplier: int
    estimate: int
    failure: str | None = None
    cancelled: float | None = None
    settled: bool = False  # its import applied (or given up)

    def status(self, now: float) -> str:
        if self.cancelled is not None:
            return "cancelled"
        if now >= self.created + self.seconds:
            return "failed" if self.failure else "completed"
        return "running" if now >= self.created + self.seconds / 3 else "queued"

    def updated(self, now: float) -> float:
        if self.cancelled is not None:
            return self.cancelled
        done = self.created + self.seconds
        started = self.created + self.seconds / 3
        return done if now >= done else started if now >= started else self.created

    def view(self, now: float, full: bool) -> dict[str, Any]:
        status = self.status(now)
        data: dict[str, Any] = {
            "jobId": self.id,
            "type": "prospecting",
            "status": status,
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated(now)),
        }
        if not full:
            return data
        data["stages"] = self._stages(now, status)
        error = None
        if status == "failed" and self.failure:
            error = {"code": self.failure, "message": JOB_FAILURES.get(self.failure, "The job failed.")}
        elif status == "cancelled":
            error = {"code": "CANCELLED", "message": "The job was cancelled."}
        data["error"] = error
        return data

    def _stages(self, now: float, status: str) -> dict[str, Any]:
        start = self.created + self.seconds / 3
        half = (self.seconds - self.seconds / 3) / 2 or 1e-9
        at = min(now, self.cancelled or now)
        imported = max(0.0, min(1.0, (at - start) / half))
        enriched = max(0.0, min(1.0, (at - start - half) / half))
        if status == "completed":
            return {"import": _stage("completed", 1.0), "enrichment": _stage("completed", 1.0)}
        if status == "failed":
            return {"import": _stage("failed", round(imported, 2)), "enrichment": _stage("pending", 0.0)}
        end = "cancelled" if status == "cancelled" else None

        def one(progress: float, begun: bool) -> dict[str, Any]:
            if end:
                return _stage(end, round(progress, 2))
            if progress >= 1:
                return _stage("completed", 1.0)
            return _stage("running" if begun else "pending", round(progress, 2))

        return {
            "import": one(imported, status == "running"),
            "enrichment": one(enriched, status == "running" and imported >= 1),
        }


def _stage(status: str, progress: float) -> dict[str, Any]:
    return {"status": status, "progress": progress}


@dataclass
class _Scan:
    """A signal scan; like a job, its status is derived from the clock."""

    id: str
    group: str
    specification: str
    audience: str
    prospects: list[str]
    created: float
    seconds: float
    failure: str | None = None

    def status(self, now: float) -> str:
        if now >= self.created + self.seconds:
            return "failed" if self.failure else "completed"
        return "running" if now >= self.created + self.seconds / 3 else "queued"

    def view(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        done, started = self.created + self.seconds, self.created + self.seconds / 3
        updated = done if now >= done else started if now >= started else self.created
        error = {"code": self.failure, "message": "The scan failed."} if status == "failed" else None
        return {
            "scanId": self.id,
            "type": "signal_scan",
            "status": status,
            "createdAt": iso(self.created),
            "updatedAt": iso(updated),
            "error": error,
        }


@dataclass(frozen=True)
class _Evaluation:
    """When one scan evaluates one prospect, and with which specification (results are seeded by it)."""

    due: float  # when the prospect is evaluated
    specification: str


class IntegrationsSandbox(SandboxServer):
    """The account-group API on a loopback port: groups, keys, jobs, audiences, scans, results.

    Test dials: `add_key`, `add_group`, `connect_linkedin`, `add_specification`, `fail_next_job`,
    `fail_next_scan`, `hold_pending`/`release_pending`, `plan_cap`, `credits`, `pool_size`, `job_seconds`,
    `scan_seconds`, `evaluate_seconds`, `job_fields` (the body names it expects, assumption I1).
    Counters: `credits_used`, `jobs_started`, `scans_started`, `imports` (linkedin key -> times
    imported), plus the base class's request log and `count(endpoint)`.
    """

    name = "integrations"
    _G = "/v1/accounts/<group_id>"
    url_map = Map(
        [
            Rule("/v1/accounts", methods=["GET"], endpoint="groups_list"),
            Rule(f"{_G}/prospecting", methods=["POST"], endpoint="job_start"),
            Rule(f"{_G}/prospecting", methods=["GET"], endpoint="jobs_list"),
            Rule(f"{_G}/prospecting/<job_id>", methods=["GET"], endpoint="job_get"),
            Rule(f"{_G}/prospecting/<job_id>/cancel", methods=["POST"], endpoint="job_cancel"),
            Rule(f"{_G}/sales-navigator/saved-searches", methods=["GET"], endpoint="saved_searches"),
            Rule(f"{_G}/sales-navigator/lead-lists", methods=["GET"], endpoint="lead_lists"),
            Rule(f"{_G}/audiences", methods=["GET"], endpoint="audiences_list"),
            Rule(f"{_G}/audiences", methods=["POST"], endpoint="audience_create"),
            Rule(f"{_G}/audiences/<audience_id>", methods=["GET"], endpoint="audience_get"),
            Rule(f"{_G}/audiences/<audience_id>", methods=["PATCH"], endpoint="audience_patch"),
            Rule(f"{_G}/audiences/<audience_id>", methods=["DELETE"], endpoint="audience_delete"),
            Rule(f"{_G}/audiences/<audience_id>/prospects", methods=["GET"], endpoint="audience_prospects"),
            Rule(f"{_G}/signal-specifications", methods=["GET"], endpoint="specifications"),
            Rule(f"{_G}/signals/scans", methods=["POST"], endpoint="scan_start"),
            Rule(f"{_G}/signals/scans", methods=["GET"], endpoint="scans_list"),
            Rule(f"{_G}/signals/scans/<scan_id>", methods=["GET"], endpoint="scan_get"),
            Rule(f"{_G}/prospects/<prospect_id>/signals", methods=["GET"], endpoint="prospect_signals"),
            Rule(
                f"{_G}/prospects/by-provider-id/<provider_id>",
                methods=["GET"],
                endpoint="prospects_by_provider",
            ),
        ]
    )
    # The permission each endpoint needs (groups_list: any valid key).
    REQUIRED: Mapping[str, str] = {
        "job_start": "prospecting:write",
        "job_cancel": "prospecting:write",
        "jobs_list": "prospecting:read",
        "job_get": "prospecting:read",
        "saved_searches": "prospecting:read",
        "lead_lists": "prospecting:read",
        "audiences_list": "audiences:read",
        "audience_get": "audiences:read",
        "audience_prospects": "audiences:read",
        "audience_create": "audiences:write",
        "audience_patch": "audiences:write",
        "audience_delete": "audiences:write",
        "specifications": "signals:read",
        "scan_start": "signals:write",
        "scans_list": "signals:read",
        "scan_get": "signals:read",
        "prospect_signals": "signals:read",
        "prospects_by_provider": "prospects:read",
    }

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        knobs: Knobs | None = None,
        *,
        api_key: str = "sk_live_sandbox_integrations",
        plan_cap: int = 1000,
        credits: int = 5000,
        pool_size: int = 30,
        job_seconds: float = 0.3,
        scan_seconds: float = 0.3,
        evaluate_seconds: float = 0.3,
        job_fields: Mapping[str, str] | None = None,
        seed: int = 7,
    ) -> None:
        super().__init__(host, port, knobs)
        self.api_key = api_key
        self.plan_cap, self.credits, self.pool_size = plan_cap, credits, pool_size
        self.job_seconds, self.scan_seconds, self.evaluate_seconds = (
            job_seconds,
            scan_seconds,
            evaluate_seconds,
        )
        self.job_fields: dict[str, str] = dict(job_fields or {})  # canonical -> name on the wire
        self.credits_used = 0
        self.jobs_started = 0
        self.scans_started = 0
        self.imports: Counter[str] = Counter()
        self._seed = seed
        self._keys: dict[str, _Key] = {api_key: _Key(PERMISSIONS, None)}
        self._groups: dict[str, dict[str, Any]] = {}
        self._specs: dict[str, dict[str, dict[str, Any]]] = {}
        self._audiences: dict[str, _Audience] = {}
        self._jobs: dict[str, _Job] = {}
        self._scans: dict[str, _Scan] = {}
        self._prospects: dict[str, dict[str, Any]] = {}  # id -> prospect (with "_group")
        self._evaluations: dict[str, list[_Evaluation]] = {}
        self._held: set[str] = set()
        self._idempotent: dict[tuple[str, str, str], tuple[str, str]] = {}  # (group, kind, key) -> (body, id)
        self._next_failures: list[str] = []
        self._next_scan_failures: list[str] = []
        self._unconnected: set[str] = set()  # groups with no LinkedIn account connected
        self.group_id = self.add_group("Sandbox")

    # ------------------------------------------------------------------ test controls
    def add_group(self, name: str, *, linkedin_connected: bool = True) -> str:
        """A new account group (24 hex id) with the default specifications; returns its id.

        Groups exist before a LinkedIn account is connected; in one without, starting a job or a
        scan (both use LinkedIn data) is a 409 LINKEDIN_NOT_CONNECTED ("a state that prevents it").
        """
        with self._lock:
            gid = hex_id("group", str(self._seed), str(len(self._groups)), name)
            self._groups[gid] = {"id": gid, "name": name, "createdAt": iso(time.time())}
            if not linkedin_connected:
                self._unconnected.add(gid)
            self._specs[gid] = {
                sid: {"id": sid, "name": n, "description": d, "sources": ["linkedin_posts", "job_postings"]}
                for sid, n, d in DEFAULT_SPECIFICATIONS
            }
            return gid

    def add_key(self, key: str, permissions: Iterable[str], groups: Iterable[str] | None = None) -> None:
        """Another API key holding only `permissions`, reaching `groups` (None: every group)."""
        with self._lock:
            self._keys[key] = _Key(frozenset(permissions), None if groups is None else frozenset(groups))

    def add_specification(self, name: str, group: str | None = None, description: str | None = None) -> str:
        """A signal specification in `group` (default: the sandbox's group); returns its id."""
        gid = group or self.group_id
        with self._lock:
            sid = hex_id("spec", gid, name)
            self._specs[gid][sid] = {"id": sid, "name": name, "description": description, "sources": []}
            return sid

    def connect_linkedin(self, group: str, connected: bool = True) -> None:
        """Connect (or disconnect) a group's LinkedIn account."""
        with self._lock:
            (self._unconnected.discard if connected else self._unconnected.add)(group)

    def _need_linkedin(self, group: str) -> None:
        if group in self._unconnected:
            raise ApiError(
                409,
                "LINKEDIN_NOT_CONNECTED",
                "No LinkedIn account is connected in this account group",
                {"accountGroupId": group},
            )

    def fail_next_job(self, code: str = "UPSTREAM_ERROR") -> None:
        """The next job started ends `failed` with `code`, importing nothing."""
        with self._lock:
            self._next_failures.append(code)

    def fail_next_scan(self, code: str = "UPSTREAM_ERROR") -> None:
        """The next scan started ends `failed` with `code`, evaluating nobody."""
        with self._lock:
            self._next_scan_failures.append(code)

    def hold_pending(self, prospect_id: str) -> None:
        """Keep this prospect's results `pending` whatever scans do, until `release_pending`."""
        with self._lock:
            self._held.add(prospect_id)

    def release_pending(self, prospect_id: str) -> None:
        """Let a held prospect be evaluated (at once, when its scan's evaluation is already due)."""
        with self._lock:
            self._held.discard(prospect_id)

    @property
    def credits_left(self) -> int:
        return self.credits - self.credits_used

    def prospect(self, prospect_id: str) -> dict[str, Any]:
        """One prospect as the API shows it (KeyError when unknown)."""
        with self._lock:
            self._settle(time.time())
            return _public(self._prospects[prospect_id])

    def prospects(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every prospect of a group (default: the sandbox's), in import order."""
        gid = group or self.group_id
        with self._lock:
            self._settle(time.time())
            return [_public(p) for p in self._prospects.values() if p["_group"] == gid]

    def prospect_signals_for(self, prospect_id: str, min_score: float | None = None) -> dict[str, Any]:
        """What `GET /prospects/{id}/signals` answers for this prospect now (its `data`)."""
        with self._lock:
            self._settle(time.time())
            return self._signals(prospect_id, time.time(), min_score)

    def people_for(
        self, source: str, value: str | Sequence[str], n: int | None = None
    ) -> list[dict[str, Any]]:
        """The people a job of `source` over `value` imports (url_upload: the URLs), without ids."""
        if source == "url_upload":
            urls = [value] if isinstance(value, str) else list(value)
            return people_for(source, "\n".join(urls), len(urls))
        return people_for(source, str(value), min(n or DEFAULT_MAX_RESULTS, self.pool_size))

    def prospect_id_for(self, linkedin_url: str, group: str | None = None) -> str:
        """The id a prospect with this LinkedIn URL has (or will have) in a group: stable per (group, key)."""
        return hex_id("prospect", group or self.group_id, linkedin_key(linkedin_url))

    def job_view(self, job_id: str) -> dict[str, Any]:
        """What `GET /prospecting/{id}` answers for this job now (its `data`)."""
        with self._lock:
            return self._jobs[job_id].view(time.time(), full=True)

    def audience_prospect_ids(self, audience_id: str) -> list[str]:
        """An audience's prospect ids in import order, even while a job fills it."""
        with self._lock:
            self._settle(time.time())
            return list(self._audiences[audience_id].prospects)

    # ------------------------------------------------------------------ hooks
    def authenticate(self, request: Request) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() in self._keys:
            return None
        return self._error(ApiError(401, "UNAUTHORIZED", "Invalid or missing API key"))

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        """The envelope, for the base class's own errors (bad JSON, no route, scripted faults)."""
        if code == "BAD_REQUEST":
            code = "VALIDATION_ERROR"
        return _envelope(None, {"code": code, "message": message, "details": None})

    def throttle_response(self, request: Request, fault: Fault) -> Response:
        """429 RATE_LIMITED in the envelope, with a Retry-After header unless scripted without."""
        body = fault.body or _envelope(
            None, {"code": "RATE_LIMITED", "message": "Rate limit exceeded", "details": None}
        )
        wait = fault.retry_after if fault.retry_after is not None else 1.0
        no_header = fault.style == "no header"
        return self.json(429, body, None if no_header else {"Retry-After": fmt_seconds(wait)})

    def random_throttle(self) -> Fault:
        """A 429 with a Retry-After header, or with no hint at all (no rate limits are published)."""
        if self._rng.random() < 0.5:
            return Fault(status=429, retry_after=0.05, style="Retry-After header")
        return Fault(status=429, retry_after=0.05, style="no header")

    def _apply(self, request: Request, endpoint: str, values: dict[str, Any]) -> Response:
        """Authenticate, then check the key's permission and group, then run the handler."""
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        if endpoint == "unknown":
            return self._error(ApiError(404, "NOT_FOUND", f"No route for {request.method} {request.path}"))
        key = self._keys[(request.headers.get("Authorization") or "").partition(" ")[2].strip()]
        try:
            needed = self.REQUIRED.get(endpoint)
            if needed and needed not in key.permissions:
                raise ApiError(
                    403, "FORBIDDEN", f"Missing required permission: {needed}", {"permission": needed}
                )
            group = values.get("group_id")
            with self._lock:
                self._settle(time.time())
                if group is not None:
                    self._check_group(group, key)
            with self._lock:
                data, status = getattr(self, endpoint)(request, key=key, **values)
            return self.json(status, _envelope(data, None))
        except ApiError as exc:
            return self._error(exc)
        except BadJson as exc:
            return self._error(ApiError(400, "VALIDATION_ERROR", f"Invalid JSON in request body ({exc})"))

    def _error(self, exc: ApiError) -> Response:
        error = {"code": exc.code, "message": exc.message, "details": exc.details}
        return self.json(exc.status, _envelope(None, error))

    def _check_group(self, group: str, key: _Key) -> None:
        if group not in self._groups:
            raise ApiError(404, "NOT_FOUND", f"Account group {group} not found", {"accountGroupId": group})
        if key.groups is not None and group not in key.groups:
            raise ApiError(403, "FORBIDDEN", f"No access to account group {group}", {"accountGroupId": group})

    # ------------------------------------------------------------------ time
    def _settle(self, now: float) -> None:
        """Apply the imports of the jobs that finished by `now` (lock held)."""
        for job in self._jobs.values():
            if job.settled or job.status(now) not in FINISHED:
                continue
            job.settled = True
            audience = self._audiences.get(job.body.get("audienceId") or "")
            if audience is not None and audience.filling == job.id:
                audience.filling = None
            if job.status(now) != "completed":
                continue
            for person in job.people:
                key = linkedin_key(person["linkedinUrl"])
                pid = self.prospect_id_for(person["linkedinUrl"], job.group)
                self._prospects.setdefault(pid, {"id": pid, **person, "_group": job.group})
                self.imports[key] += 1
                self.credits_used += job.multiplier
                if audience is not None and pid not in audience.prospects:
                    audience.prospects.append(pid)

    # ------------------------------------------------------------------ pages
    def _page(self, request: Request, items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
        limit = _int_arg(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = 0
        cursor = request.args.get("cursor")
        if cursor is not None and cursor != "":
            offset = _read_cursor(cursor, kind)
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        next_cursor = _cursor(kind, offset + limit) if more else None
        return {"items": page, "nextCursor": next_cursor, "hasMore": more}

    # ------------------------------------------------------------------ handlers
    def groups_list(self, request: Request, *, key: _Key) -> tuple[Any, int]:
        groups = [g for gid, g in self._groups.items() if key.groups is None or gid in key.groups]
        return self._page(request, groups, "accounts"), 200

    def saved_searches(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        items = [{"id": i, "name": n} for i, n in DEFAULT_SAVED_SEARCHES]
        return self._page(request, items, "saved-searches"), 200

    def lead_lists(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        items = [{"id": i, "name": n} for i, n in DEFAULT_LEAD_LISTS]
        return self._page(request, items, "lead-lists"), 200

    def specifications(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        return self._page(request, list(self._specs[group_id].values()), "signal-specifications"), 200

    # ---- jobs
    def job_start(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        body = self._job_body(self.read_json(request), group_id)
        replay = self._replay(request, group_id, "job", body)
        if replay is not None:
            job = self._jobs[replay]
            return {"jobId": job.id, "status": job.status(time.time()), "createdAt": iso(job.created)}, 200
        self._need_linkedin(group_id)
        if body.get("audienceId"):
            self._ready_audience(group_id, body["audienceId"])  # one job fills an audience at a time
        multiplier = 2 if body.get("searchEmails") else 1
        if body["source"] == "url_upload":
            people = people_for("url_upload", "\n".join(body["profileUrls"]), MAX_URLS)
            estimate = len(body["profileUrls"]) * multiplier
        else:
            value = str(body.get(SOURCE_INPUTS[body["source"]][0]) or body.get("leadListId"))
            wanted = int(body.get("maxResults") or min(DEFAULT_MAX_RESULTS, self.plan_cap))
            people = people_for(body["source"], value, min(wanted, self.pool_size))
            estimate = wanted * multiplier
        reserved = sum(j.estimate for j in self._jobs.values() if not j.settled)
        available = self.credits_left - reserved
        if estimate > available:
            raise ApiError(
                402,
                "INSUFFICIENT_CREDITS",
                f"This job needs up to {estimate} credits; {max(0, available)} left",
                {"required": estimate, "available": max(0, available)},
            )
        now = time.time()
        job = _Job(
            id=self._new_id("job"),
            group=group_id,
            body=body,
            created=now,
            seconds=self.job_seconds,
            people=people,
            multiplier=multiplier,
            estimate=estimate,
            failure=self._next_failures.pop(0) if self._next_failures else None,
        )
        self._jobs[job.id] = job
        if body.get("audienceId"):
            self._audiences[body["audienceId"]].filling = job.id
        self._remember(request, group_id, "job", body, job.id)
        self.jobs_started += 1
        return {"jobId": job.id, "status": "queued", "createdAt": iso(now)}, 202

    def _job_body(self, raw: Any, group_id: str) -> dict[str, Any]:
        """The body per assumption I1, validated and with canonical names (renames undone)."""
        if not isinstance(raw, dict):
            raise ApiError(400, "VALIDATION_ERROR", "Request body must be a JSON object")
        wire = {self.job_fields.get(name, name): name for name in JOB_FIELDS}
        unknown = sorted(set(raw) - set(wire))
        if unknown:
            raise _invalid(unknown[0], "unknown field")
        # An optional field sent as null counts as absent (clients serialise their None).
        body = {wire[name]: value for name, value in raw.items() if value is not None}
        name = {canon: self.job_fields.get(canon, canon) for canon in JOB_FIELDS}
        source = body.get("source")
        if source not in SOURCES:
            raise _invalid(name["source"], f"must be one of {', '.join(SOURCES)}")
        allowed = SOURCE_INPUTS[source]
        for extra in JOB_INPUTS:
            if extra in body and extra not in allowed:
                raise _invalid(name[extra], f"is not an input of source {source}")
        given = [f for f in allowed if body.get(f) not in (None, "")]
        if len(given) != 1:
            wanted = " or ".join(name[f] for f in allowed)
            raise _invalid(name[allowed[0]], f"{source} requires exactly one of {wanted}")
        self._check_input(source, given[0], body[given[0]], name[given[0]])
        if source != "url_upload" and "maxResults" in body:
            n = body["maxResults"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise _invalid(name["maxResults"], "must be a positive integer")
            if n > self.plan_cap:
                raise _invalid(name["maxResults"], f"exceeds the plan's cap of {self.plan_cap}", 422)
        if "searchEmails" in body and not isinstance(body["searchEmails"], bool):
            raise _invalid(name["searchEmails"], "must be a boolean")
        audience = body.get("audienceId")
        if audience is not None:
            if not isinstance(audience, str) or self._audiences.get(audience) is None:
                raise _invalid(name["audienceId"], f"no audience {audience!r} in this account group")
            if self._audiences[audience].group != group_id:
                raise _invalid(name["audienceId"], f"no audience {audience!r} in this account group")
        return body

    @staticmethod
    def _check_input(source: str, canon: str, value: Any, wire: str) -> None:
        if canon == "profileUrls":
            if not isinstance(value, list) or not 1 <= len(value) <= MAX_URLS:
                raise _invalid(wire, f"must be a list of 1-{MAX_URLS} LinkedIn profile URLs")
            for i, url in enumerate(value):
                if not is_linkedin_url(url, "/in/") or not profile_slug(url):
                    raise _invalid(
                        f"{wire}.{i}", "must be a LinkedIn profile URL (https://www.linkedin.com/in/...)"
                    )
        elif canon in ("searchUrl", "postUrl"):
            prefix = "/search/" if canon == "searchUrl" else "/"
            if not is_linkedin_url(value, prefix):
                raise _invalid(wire, f"must be a LinkedIn {'search' if canon == 'searchUrl' else 'post'} URL")
        elif not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
            raise _invalid(wire, "must be a non-empty string")

    def jobs_list(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        status = request.args.get("status")
        if status is not None and status not in JOB_STATUSES:
            raise _invalid("status", f"must be one of {', '.join(JOB_STATUSES)}")
        now = time.time()
        jobs = [j for j in self._jobs.values() if j.group == group_id]
        jobs.sort(key=lambda j: j.created, reverse=True)
        items = [j.view(now, full=False) for j in jobs if status is None or j.status(now) == status]
        return self._page(request, items, f"prospecting:{status or ''}"), 200

    def job_get(self, request: Request, *, key: _Key, group_id: str, job_id: str) -> tuple[Any, int]:
        return self._job(group_id, job_id).view(time.time(), full=True), 200

    def job_cancel(self, request: Request, *, key: _Key, group_id: str, job_id: str) -> tuple[Any, int]:
        job = self._job(group_id, job_id)
        now = time.time()
        status = job.status(now)
        if status in FINISHED:
            raise ApiError(
                422, "INVALID_STATE", f"Job {job_id} is {status}; only queued or running jobs cancel"
            )
        job.cancelled = now
        self._settle(now)
        return job.view(now, full=True), 200

    def _job(self, group_id: str, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None or job.group != group_id:
            raise ApiError(404, "NOT_FOUND", f"Prospecting job {job_id} not found", {"jobId": job_id})
        return job

    # ---- audiences
    def audiences_list(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        items = [
            _audience_view(a)
            for a in sorted(self._audiences.values(), key=lambda a: a.created, reverse=True)
            if a.group == group_id and a.filling is None
        ]
        return self._page(request, items, "audiences"), 200

    def audience_create(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        raw = self.read_json(request)
        if not isinstance(raw, dict):
            raise ApiError(400, "VALIDATION_ERROR", "Request body must be a JSON object")
        unknown = sorted(set(raw) - {"name", "description", "type", "folderId"})
        if unknown:
            raise _invalid(unknown[0], "unknown field")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise _invalid("name", "must be a non-empty string of at most 200 characters")
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            raise _invalid("description", "must be a string")
        kind = raw.get("type", "on_demand")
        if kind not in AUDIENCE_TYPES:
            raise _invalid("type", f"must be one of {', '.join(AUDIENCE_TYPES)}")
        audience = _Audience(self._new_id("audience"), group_id, name, kind, description, time.time())
        self._audiences[audience.id] = audience
        return _audience_view(audience), 201

    def audience_get(
        self, request: Request, *, key: _Key, group_id: str, audience_id: str
    ) -> tuple[Any, int]:
        return _audience_view(self._ready_audience(group_id, audience_id)), 200

    def audience_patch(
        self, request: Request, *, key: _Key, group_id: str, audience_id: str
    ) -> tuple[Any, int]:
        audience = self._ready_audience(group_id, audience_id)
        raw = self.read_json(request)
        if not isinstance(raw, dict):
            raise ApiError(400, "VALIDATION_ERROR", "Request body must be a JSON object")
        for name in raw:
            if name not in ("name", "description"):
                raise _invalid(name, "cannot be changed")
            if not isinstance(raw[name], str) or (name == "name" and not raw[name].strip()):
                raise _invalid(name, "must be a non-empty string")
        audience.name = raw.get("name", audience.name)
        audience.description = raw.get("description", audience.description)
        return _audience_view(audience), 200

    def audience_delete(
        self, request: Request, *, key: _Key, group_id: str, audience_id: str
    ) -> tuple[Any, int]:
        self._ready_audience(group_id, audience_id)
        del self._audiences[audience_id]
        return {"id": audience_id, "deleted": True}, 200

    def audience_prospects(
        self, request: Request, *, key: _Key, group_id: str, audience_id: str
    ) -> tuple[Any, int]:
        audience = self._ready_audience(group_id, audience_id)
        items = [_public(self._prospects[pid]) for pid in audience.prospects]
        return self._page(request, items, f"audience:{audience_id}"), 200

    def _audience(self, group_id: str, audience_id: str) -> _Audience:
        audience = self._audiences.get(audience_id)
        if audience is None or audience.group != group_id:
            raise ApiError(404, "NOT_FOUND", f"Audience {audience_id} not found", {"audienceId": audience_id})
        return audience

    def _ready_audience(self, group_id: str, audience_id: str) -> _Audience:
        audience = self._audience(group_id, audience_id)
        if audience.filling is not None:
            raise ApiError(
                409,
                "AUDIENCE_NOT_READY",
                f"Audience {audience_id} is still being filled by job {audience.filling}",
                {"audienceId": audience_id, "jobId": audience.filling},
            )
        return audience

    # ---- scans
    def scan_start(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        body = self._scan_body(self.read_json(request), group_id)
        replay = self._replay(request, group_id, "scan", body)
        if replay is not None:
            scan = self._scans[replay]
            return {
                "scanId": scan.id,
                "status": scan.status(time.time()),
                "createdAt": iso(scan.created),
            }, 200
        self._need_linkedin(group_id)
        audience = self._ready_audience(group_id, body["audienceId"])
        now = time.time()
        scan = _Scan(
            id=self._new_id("scan"),
            group=group_id,
            specification=body["signalSpecificationId"],
            audience=audience.id,
            prospects=list(body.get("prospectIds") or audience.prospects),
            created=now,
            seconds=self.scan_seconds,
            failure=self._next_scan_failures.pop(0) if self._next_scan_failures else None,
        )
        self._scans[scan.id] = scan
        if scan.failure is None:
            due = now + scan.seconds + self.evaluate_seconds
            for pid in scan.prospects:
                self._evaluations.setdefault(pid, []).append(_Evaluation(due, scan.specification))
        self._remember(request, group_id, "scan", body, scan.id)
        self.scans_started += 1
        return {"scanId": scan.id, "status": "queued", "createdAt": iso(now)}, 202

    def _scan_body(self, raw: Any, group_id: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ApiError(400, "VALIDATION_ERROR", "Request body must be a JSON object")
        unknown = sorted(set(raw) - {"signalSpecificationId", "audienceId", "prospectIds"})
        if unknown:
            raise _invalid(unknown[0], "unknown field")
        for name in ("signalSpecificationId", "audienceId"):
            if not isinstance(raw.get(name), str) or not raw[name]:
                raise _invalid(name, "is required (a string)")
        if raw["signalSpecificationId"] not in self._specs[group_id]:
            raise _invalid(
                "signalSpecificationId", f"no signal specification {raw['signalSpecificationId']!r}"
            )
        audience = self._audience(group_id, raw["audienceId"])
        ids = raw.get("prospectIds")
        if ids is not None:
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise _invalid("prospectIds", "must be a list of strings")
            outside = [i for i in ids if i not in audience.prospects]
            if outside and audience.filling is None:
                raise _invalid(
                    "prospectIds", f"not prospects of audience {audience.id}: {', '.join(outside[:5])}"
                )
        return dict(raw)

    def scans_list(self, request: Request, *, key: _Key, group_id: str) -> tuple[Any, int]:
        now = time.time()
        scans = sorted((s for s in self._scans.values() if s.group == group_id), key=lambda s: -s.created)
        return self._page(request, [s.view(now) for s in scans], "scans"), 200

    def scan_get(self, request: Request, *, key: _Key, group_id: str, scan_id: str) -> tuple[Any, int]:
        scan = self._scans.get(scan_id)
        if scan is None or scan.group != group_id:
            raise ApiError(404, "NOT_FOUND", f"Signal scan {scan_id} not found", {"scanId": scan_id})
        return scan.view(time.time()), 200

    # ---- prospects
    def prospect_signals(
        self, request: Request, *, key: _Key, group_id: str, prospect_id: str
    ) -> tuple[Any, int]:
        prospect = self._prospects.get(prospect_id)
        if prospect is None or prospect["_group"] != group_id:
            raise ApiError(404, "NOT_FOUND", f"Prospect {prospect_id} not found", {"prospectId": prospect_id})
        raw = request.args.get("minScore")
        min_score = None
        if raw is not None:
            try:
                min_score = float(raw)
            except ValueError:
                raise _invalid("minScore", "must be a number between 0 and 1") from None
            if not 0 <= min_score <= 1:
                raise _invalid("minScore", "must be a number between 0 and 1")
        return self._signals(prospect_id, time.time(), min_score), 200

    def _signals(self, prospect_id: str, now: float, min_score: float | None) -> dict[str, Any]:
        done = [e for e in self._evaluations.get(prospect_id, []) if e.due <= now]
        if not done or prospect_id in self._held:
            return {"prospectId": prospect_id, "status": "pending", "results": []}
        latest = max(done, key=lambda e: e.due)
        groups = results_for(latest.specification, prospect_id, self._prospects.get(prospect_id, {}))
        if min_score is not None:
            groups = [
                {**g, "items": [i for i in g["items"] if float(i["score"]) >= min_score]} for g in groups
            ]
            groups = [g for g in groups if g["items"]]
        return {"prospectId": prospect_id, "status": "evaluated", "results": groups}

    def prospects_by_provider(
        self, request: Request, *, key: _Key, group_id: str, provider_id: str
    ) -> tuple[Any, int]:
        items = [
            _public(p)
            for p in self._prospects.values()
            if p["_group"] == group_id and p.get("providerId") == provider_id
        ]
        return {"items": items}, 200

    # ------------------------------------------------------------------ idempotency
    def _replay(self, request: Request, group: str, kind: str, body: dict[str, Any]) -> str | None:
        """The id a same-key same-body start made before; 409 for the same key and another body."""
        key = request.headers.get("Idempotency-Key")
        if not key:
            return None
        seen = self._idempotent.get((group, kind, key))
        if seen is None:
            return None
        if seen[0] != _canonical(body):
            raise ApiError(
                409,
                "IDEMPOTENCY_CONFLICT",
                "Idempotency-Key was already used with a different request body",
                {"idempotencyKey": key},
            )
        return seen[1]

    def _remember(self, request: Request, group: str, kind: str, body: dict[str, Any], made: str) -> None:
        key = request.headers.get("Idempotency-Key")
        if key:
            self._idempotent[(group, kind, key)] = (_canonical(body), made)

    def _new_id(self, kind: str) -> str:
        return secrets.token_hex(12)


def _envelope(data: Any, error: dict[str, Any] | None) -> dict[str, Any]:
    return {"success": error is None, "data": data, "error": error, "traceId": secrets.token_hex(12)}


def _public(prospect: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prospect.items() if not k.startswith("_")}


def _audience_view(audience: _Audience) -> dict[str, Any]:
    return {
        "id": audience.id,
        "name": audience.name,
        "type": audience.type,
        "description": audience.description,
        "folderId": None,
        "prospectCount": len(audience.prospects),
        "createdAt": iso(audience.created),
    }


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"must be an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise _invalid(name, f"must be an integer from {low} to {high}")
    return value


def _cursor(kind: str, offset: int) -> str:
    raw = json.dumps({"list": kind, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str, kind: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise _invalid("cursor", "unknown cursor") from None
    if not isinstance(decoded, dict) or decoded.get("list") != kind:
        raise _invalid("cursor", "unknown cursor")
    offset = decoded.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _invalid("cursor", "unknown cursor")
    return offset
