"""LinkedIn prospecting's state: jobs started once, prospects created once, each URL uploaded once.

A job is planned under its Idempotency-Key (and its audience id kept) before the start is
sent, so a crash before the answer is met by a replay, never a second job. A prospect is
`claimed` before its HubSpot create is sent and `created` once HubSpot's id is known: a claim
left by a crash is looked for in HubSpot before anything is sent again. A HubSpot contact's
LinkedIn URL is recorded before its `url_upload` job starts, so it is paid for once. Scans and
results live in `linkedin_scans` and are offered here too: `store.linkedin` is the one entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, distinct, func, select, update

from connector.clock import utcnow
from connector.state.database import Database
from connector.state.linkedin_scans import (
    EVALUATED,
    PENDING,
    LinkedInScans,
    ResultRow,
    ScanRow,
    dumps,
    insert_or_get,
    loads,
    set_status,
)
from connector.state.sql import chunked, record_from_row, rows_in, unique
from connector.state.tables import (
    linkedin_job_prospects,
    linkedin_jobs,
    linkedin_prospects,
    linkedin_uploads,
)

__all__ = ["EVALUATED", "PENDING", "JobRow", "LinkedInState", "ProspectRow", "ResultRow", "ScanRow"]

CLAIMED, CREATED, MATCHED, UPLOADED = "claimed", "created", "matched", "uploaded"
KNOWN = (CREATED, MATCHED, UPLOADED)  # a prospect whose HubSpot contact is known
JOB_CLOSED = ("imported", "failed", "cancelled", "refused")  # nothing more to follow or import


@dataclass(frozen=True)
class JobRow:
    """A prospecting job (`job`) or a HubSpot audience's URL upload (`upload`), by its Idempotency-Key."""

    key: str
    kind: str  # job | upload
    name: str  # the mapping's job name (job) or scan name (upload)
    request: Mapping[str, Any]
    credits: int
    audience_id: str | None
    job_id: str | None
    status: str  # planned | queued | running | completed | failed | cancelled | refused | imported
    error: str | None
    planned_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    imported_at: datetime | None


@dataclass(frozen=True)
class ProspectRow:
    """A prospect of the account-group API and the HubSpot contact it is (or is being created as)."""

    prospect_id: str
    key: str = ""  # its linkedin key, "" when it has no profile URL
    contact_id: str | None = None
    status: str = CLAIMED  # claimed | created | matched | uploaded
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job: str | None = None  # the name of the job that brought them
    seen_at: datetime = field(default_factory=utcnow)


def job_from_row(row: Any) -> JobRow:
    """A `JobRow` from its table row (the request decoded from its JSON text)."""
    return record_from_row(JobRow, row, request=loads(row.request))


class LinkedInState:
    """Jobs, prospects and uploads; scans and results through `scans` (their methods are offered here too)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.scans_state = LinkedInScans(db)
        s = self.scans_state
        self.plan_scan, self.scan_started, self.scan_status = s.plan_scan, s.scan_started, s.scan_status
        self.scan_collected, self.open_scans, self.last_scan = s.scan_collected, s.open_scans, s.last_scan
        self.scans = s.scans
        self.pending_results, self.save_results = s.pending_results, s.save_results
        self.results_written, self.results_of_contact = s.results_written, s.results_of_contact

    # ---------------------------------------------------------------- jobs
    def plan_job(
        self,
        key: str,
        kind: str,
        name: str,
        request: Mapping[str, Any],
        credits: int,
        audience_id: str | None = None,
    ) -> JobRow:
        """Record a job about to start (`planned`), or return the one already under this key unchanged."""
        values = {
            "key": key,
            "kind": kind,
            "name": name,
            "request": dumps(request),
            "credits": int(credits),
            "audience_id": audience_id,
            "status": "planned",
            "planned_at": self._db.clock(),
        }
        return job_from_row(insert_or_get(self._db, linkedin_jobs, values))

    def set_audience(self, key: str, audience_id: str) -> None:
        """Keep the audience created for this job, before the job is started."""
        with self._db.write() as conn:
            conn.execute(
                update(linkedin_jobs).where(linkedin_jobs.c.key == key).values(audience_id=audience_id)
            )

    def job_started(self, key: str, job_id: str, status: str) -> None:
        """The API accepted the start (new or replayed): its job id and status."""
        now = self._db.clock()
        t = linkedin_jobs
        with self._db.write() as conn:
            conn.execute(
                update(t)
                .where(t.c.key == key)
                .values(job_id=job_id, started_at=func.coalesce(t.c.started_at, now))
            )
            self._status(conn, key, status, None)

    def job_status(self, key: str, status: str, error: str | None = None) -> None:
        """The job's status as last read (or `refused` with why); terminal ones stamp `finished_at`.

        An imported job stays imported: a late status read never sends it back to import.
        """
        with self._db.write() as conn:
            self._status(conn, key, status, error)

    def _status(self, conn: Connection, key: str, status: str, error: str | None) -> None:
        set_status(conn, linkedin_jobs, key, status, error, self._db.clock(), final=("imported",))

    def job_imported(self, key: str) -> None:
        """Every prospect of this completed job's audience is in HubSpot (created or matched)."""
        t = linkedin_jobs
        with self._db.write() as conn:
            conn.execute(
                update(t).where(t.c.key == key).values(status="imported", imported_at=self._db.clock())
            )

    def open_jobs(self, kind: str | None = None) -> list[JobRow]:
        """Jobs still to follow or import (not imported, failed, cancelled or refused), oldest first."""
        t = linkedin_jobs
        query = select(t).where(t.c.status.not_in(JOB_CLOSED))
        if kind is not None:
            query = query.where(t.c.kind == kind)
        with self._db.read() as conn:
            return [job_from_row(r) for r in conn.execute(query.order_by(t.c.planned_at, t.c.key))]

    def last_job(self, kind: str, name: str) -> JobRow | None:
        """The newest job planned of this kind and name (the due check), or None."""
        t = linkedin_jobs
        query = (
            select(t)
            .where(t.c.kind == kind, t.c.name == name)
            .order_by(t.c.planned_at.desc(), t.c.key.desc())
            .limit(1)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else job_from_row(row)

    def jobs(self, limit: int = 50) -> list[JobRow]:
        """The newest jobs first (`linkedin jobs`, `status`)."""
        t = linkedin_jobs
        query = select(t).order_by(t.c.planned_at.desc(), t.c.key.desc()).limit(limit)
        with self._db.read() as conn:
            return [job_from_row(r) for r in conn.execute(query)]

    # ---------------------------------------------------------------- prospects
    def prospects(self, prospect_ids: Iterable[str]) -> dict[str, ProspectRow]:
        """What is known of these prospects (those never seen are left out)."""
        with self._db.read() as conn:
            rows = list(rows_in(conn, linkedin_prospects, "prospect_id", prospect_ids))
        return {r.prospect_id: record_from_row(ProspectRow, r) for r in rows}

    def prospects_by_key(self, keys: Iterable[str]) -> dict[str, ProspectRow]:
        """Prospects by linkedin key ("" never matches); of several, one whose contact is known."""
        with self._db.read() as conn:
            rows = list(rows_in(conn, linkedin_prospects, "key", [k for k in keys if k]))
        found: dict[str, ProspectRow] = {}
        for row in sorted(rows, key=lambda r: (r.status not in KNOWN, r.prospect_id)):
            found.setdefault(row.key, record_from_row(ProspectRow, row))
        return found

    def claim(self, rows: Sequence[ProspectRow]) -> None:
        """Record these prospects `claimed` before their create is sent; one already kept stays as it is."""
        if not rows:
            return
        now = self._db.clock()
        records = [self._record(r, CLAIMED, now) for r in {r.prospect_id: r for r in rows}.values()]
        with self._db.write() as conn:
            for chunk in chunked(records):
                conn.execute(self._db.insert(linkedin_prospects).values(list(chunk)).on_conflict_do_nothing())

    def record_created(self, created: Mapping[str, str]) -> None:
        """HubSpot created these prospects (prospect id -> contact id): `created`, whatever they were."""
        self._upsert([ProspectRow(p, contact_id=str(c), status=CREATED) for p, c in created.items()], keep=())

    def record_matched(
        self, matched: Mapping[str, str], job: str | None, *, known: Sequence[ProspectRow] = ()
    ) -> None:
        """These prospects were in HubSpot already (prospect id -> contact id); `known` gives keys and names.

        A prospect the connector created stays `created` (with its contact and the job that brought it).
        """
        given = {r.prospect_id: r for r in known}
        rows = [
            replace(given.get(p, ProspectRow(p)), contact_id=str(c), status=MATCHED, job=job)
            for p, c in matched.items()
        ]
        self._upsert(rows, keep=(CREATED,))

    def record_uploaded(self, rows: Sequence[ProspectRow]) -> None:
        """Prospects of a HubSpot audience, their contact known from the uploaded URL: `uploaded`.

        A prospect already created or matched keeps that status and contact.
        """
        self._upsert([replace(r, status=UPLOADED) for r in rows], keep=(CREATED, MATCHED))

    def _upsert(self, rows: Sequence[ProspectRow], keep: tuple[str, ...]) -> None:
        """Insert or update prospects; one already in a `keep` status keeps its status, contact and job."""
        if not rows:
            return
        now = self._db.clock()
        with self._db.write() as conn:
            for row in {r.prospect_id: r for r in rows}.values():  # one statement each: rows may repeat
                conn.execute(self._upsert_one(row, keep, now))

    def _upsert_one(self, row: ProspectRow, keep: tuple[str, ...], now: datetime) -> Any:
        """One prospect's upsert: key and names fill gaps; a `keep` status keeps status, contact, job."""
        t = linkedin_prospects
        stmt = self._db.insert(t).values(**self._record(row, row.status, now))
        new, kept = stmt.excluded, t.c.status.in_(keep)

        def pick(column: str, fresh: Any) -> Any:
            return case((kept, t.c[column]), else_=fresh) if keep else fresh

        changed = {
            "status": pick("status", new.status),
            "contact_id": pick("contact_id", new.contact_id),
            "job": pick("job", func.coalesce(new.job, t.c.job)),
            "key": case((new.key != "", new.key), else_=t.c.key),
            "first_name": func.coalesce(t.c.first_name, new.first_name),
            "last_name": func.coalesce(t.c.last_name, new.last_name),
            "company": func.coalesce(t.c.company, new.company),
        }
        return stmt.on_conflict_do_update(index_elements=["prospect_id"], set_=changed)

    @staticmethod
    def _record(row: ProspectRow, status: str, now: datetime) -> dict[str, Any]:
        return {
            "prospect_id": row.prospect_id,
            "key": row.key or "",
            "contact_id": row.contact_id,
            "status": status,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "company": row.company,
            "job": row.job,
            "seen_at": now,
        }

    def release(self, prospect_ids: Iterable[str]) -> None:
        """Forget these claims: HubSpot created none of them (refused, or not found when looked for)."""
        t = linkedin_prospects
        with self._db.write() as conn:
            for chunk in chunked(unique(prospect_ids)):
                conn.execute(delete(t).where(t.c.prospect_id.in_(chunk), t.c.status == CLAIMED))

    def claimed(self) -> list[ProspectRow]:
        """Every prospect whose create was (perhaps) sent and whose answer never came, oldest first."""
        t = linkedin_prospects
        query = select(t).where(t.c.status == CLAIMED).order_by(t.c.seen_at, t.c.prospect_id)
        with self._db.read() as conn:
            return [record_from_row(ProspectRow, r) for r in conn.execute(query)]

    def record_job_prospects(self, job_key: str, prospect_ids: Iterable[str]) -> None:
        """Which prospects this job imported (kept once per job and prospect)."""
        rows = [{"job_key": job_key, "prospect_id": p} for p in unique(prospect_ids)]
        with self._db.write() as conn:
            for chunk in chunked(rows):
                conn.execute(
                    self._db.insert(linkedin_job_prospects).values(list(chunk)).on_conflict_do_nothing()
                )

    def prospects_of_contact(self, contact_id: str) -> list[ProspectRow]:
        """The prospects that are this HubSpot contact (`explain`)."""
        t = linkedin_prospects
        query = select(t).where(t.c.contact_id == str(contact_id)).order_by(t.c.seen_at, t.c.prospect_id)
        with self._db.read() as conn:
            return [record_from_row(ProspectRow, r) for r in conn.execute(query)]

    def jobs_of_prospect(self, prospect_id: str) -> list[JobRow]:
        """The jobs that imported this prospect, oldest first (`explain`: which job brought a contact in)."""
        j, jp = linkedin_jobs, linkedin_job_prospects
        query = (
            select(j)
            .join(jp, jp.c.job_key == j.c.key)
            .where(jp.c.prospect_id == prospect_id)
            .order_by(j.c.planned_at, j.c.key)
        )
        with self._db.read() as conn:
            return [job_from_row(r) for r in conn.execute(query)]

    def contacts_of(self, prospect_ids: Iterable[str]) -> dict[str, str]:
        """Prospect id -> HubSpot contact id, where the contact is known (created, matched, uploaded)."""
        with self._db.read() as conn:
            rows = list(rows_in(conn, linkedin_prospects, "prospect_id", prospect_ids))
        return {r.prospect_id: r.contact_id for r in rows if r.status in KNOWN and r.contact_id}

    # ---------------------------------------------------------------- uploads
    def uploaded(self, keys: Iterable[str]) -> set[str]:
        """The linkedin keys already sent in an upload (paid, or perhaps paid); a refused upload's are not."""
        u, j = linkedin_uploads, linkedin_jobs
        refused = select(j.c.key).where(j.c.status == "refused")
        found: set[str] = set()
        with self._db.read() as conn:
            for chunk in chunked(unique(keys)):
                query = select(u.c.key).where(u.c.key.in_(chunk), u.c.job_key.not_in(refused))
                found.update(conn.execute(query).scalars())
        return found

    def record_uploads(self, job_key: str, urls: Mapping[str, tuple[str, str]]) -> None:
        """Record these URLs (linkedin key -> (url, contact id)) as sent in this upload, BEFORE it starts.

        A key already uploaded keeps its first upload, unless that one was refused (never paid).
        """
        if not urls:
            return
        now = self._db.clock()
        u, j = linkedin_uploads, linkedin_jobs
        refused = select(j.c.key).where(j.c.status == "refused")
        with self._db.write() as conn:
            for key, (url, contact_id) in urls.items():
                stmt = self._db.insert(u).values(
                    key=key, url=url, contact_id=str(contact_id), job_key=job_key, uploaded_at=now
                )
                changed = {c: stmt.excluded[c] for c in ("url", "contact_id", "job_key", "uploaded_at")}
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["key"], set_=changed, where=u.c.job_key.in_(refused)
                    )
                )

    def uploads_of(self, job_key: str) -> dict[str, tuple[str, str]]:
        """The URLs this upload sent: linkedin key -> (url, contact id) (its prospects' contacts)."""
        u = linkedin_uploads
        with self._db.read() as conn:
            rows = conn.execute(select(u.c.key, u.c.url, u.c.contact_id).where(u.c.job_key == job_key))
            return {str(k): (str(url), str(cid)) for k, url, cid in rows}

    # ---------------------------------------------------------------- totals
    def totals(self) -> dict[str, Any]:
        """Over all runs (`status`, `/metrics`): jobs, scans, people, uploads, results, credits."""
        j, p, jp, u = linkedin_jobs, linkedin_prospects, linkedin_job_prospects, linkedin_uploads
        jobs = select(j.c.kind, j.c.status, func.count()).group_by(j.c.kind, j.c.status)
        people = select(p.c.status, func.count()).group_by(p.c.status)
        imported = select(func.count(distinct(jp.c.prospect_id)))
        refused = select(j.c.key).where(j.c.status == "refused")
        uploads = select(func.count()).select_from(u).where(u.c.job_key.not_in(refused))
        # Started jobs: an imported job's prospects at its price each (never above what was held),
        # an upload's URLs, else what was held (the API charges as it imports, up to that).
        started = select(j.c.kind, j.c.status, j.c.credits, j.c.request, func.count(jp.c.prospect_id))
        started = started.outerjoin(jp, jp.c.job_key == j.c.key).where(j.c.started_at.is_not(None))
        started = started.group_by(j.c.key, j.c.kind, j.c.status, j.c.credits, j.c.request)
        with self._db.read() as conn:
            by_kind: dict[str, dict[str, int]] = {}
            for kind, status, n in conn.execute(jobs):
                by_kind.setdefault(str(kind), {})[str(status)] = int(n)
            by_status = {str(s): int(n) for s, n in conn.execute(people)}
            counts = {
                "prospects_imported": int(conn.execute(imported).scalar_one()),
                "urls_uploaded": int(conn.execute(uploads).scalar_one()),
                "credits_spent": sum(_spent(*row) for row in conn.execute(started)),
            }
        every: dict[str, int] = {}
        for statuses in by_kind.values():
            for status, n in statuses.items():
                every[status] = every.get(status, 0) + n
        scans = self.scans_state.totals()
        return {
            "jobs": dict(sorted(every.items())),
            "jobs_by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
            "scans": scans["scans"],
            "prospects_imported": counts["prospects_imported"],
            "prospects_claimed": by_status.get(CLAIMED, 0),
            "contacts_created": by_status.get(CREATED, 0),
            "contacts_matched": by_status.get(MATCHED, 0),
            "contacts_uploaded": by_status.get(UPLOADED, 0),
            "urls_uploaded": counts["urls_uploaded"],
            "results": scans["results"],
            "results_written": scans["results_written"],
            "credits_spent": counts["credits_spent"],
        }


def _spent(kind: str, status: str, held: int, request: str | None, imported: int) -> int:
    """What one started job cost: its imports at their price once imported, else what was held."""
    if kind != "job" or status != "imported":
        return int(held)
    each = 2 if loads(request).get("searchEmails") else 1
    return min(int(held), int(imported) * each)
