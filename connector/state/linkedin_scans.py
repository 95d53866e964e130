"""LinkedIn signal scans and their results: each start recorded before it is sent, each result's written hash.

A scan is planned under its Idempotency-Key before the start is sent, so a crash between the
two is answered by a replay, not a second scan; it stays open until its results are collected.
Results are kept per scan name and prospect: the values to write, their hash, and the hash
last written to HubSpot, so that a rerun writes only what changed and reads `pending` again.
Composed by `LinkedInState` (`store.linkedin`), which offers these methods too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, case, func, or_, select, update

from connector.state.database import Database
from connector.state.sql import clip, record_from_row
from connector.state.tables import linkedin_results, linkedin_scans

# Where a start ends: `finished_at` is set when one of these is reached.
TERMINAL = ("completed", "failed", "cancelled", "refused")
# A scan that needs nothing more (a completed one still waits for its results to be collected).
SCAN_CLOSED = ("collected", "failed", "cancelled", "refused")
PENDING, EVALUATED = "pending", "evaluated"


def insert_or_get(db: Database, table: Table, values: Mapping[str, Any]) -> Row[Any]:
    """Insert the row unless its key is there, then read it: two replicas racing both get the one row.

    On PostgreSQL the loser's `ON CONFLICT DO NOTHING` waits for the winner's commit and
    its next statement sees the winner's row; on SQLite writers take turns (`BEGIN IMMEDIATE`).
    """
    with db.write() as conn:
        conn.execute(db.insert(table).values(**values).on_conflict_do_nothing(index_elements=["key"]))
        return conn.execute(select(table).where(table.c.key == values["key"])).one()


def set_status(
    conn: Connection,
    table: Table,
    key: str,
    status: str,
    error: str | None,
    now: datetime,
    final: tuple[str, ...] = (),
) -> None:
    """Move a job or scan to `status` and its error unless `final`; terminal ones stamp `finished_at`."""
    values: dict[str, Any] = {"status": status, "error": clip(error)}
    if status in TERMINAL:
        values["finished_at"] = func.coalesce(table.c.finished_at, now)
    conn.execute(update(table).where(table.c.key == key, table.c.status.not_in(final)).values(**values))


def dumps(value: Mapping[str, Any]) -> str:
    """A JSON column's text: keys sorted, so equal values are equal texts."""
    return json.dumps(dict(value), sort_keys=True, default=str, separators=(",", ":"))


def loads(text: str | None) -> dict[str, Any]:
    """A JSON column's text as a dict (empty for NULL)."""
    return dict(json.loads(text)) if text else {}


@dataclass(frozen=True)
class ScanRow:
    """A signal scan the connector planned, started or followed (by its Idempotency-Key)."""

    key: str
    name: str
    specification_id: str
    audience_id: str
    scan_id: str | None
    status: str  # planned | queued | running | completed | failed | cancelled | refused | collected
    error: str | None
    planned_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    collected_at: datetime | None


@dataclass(frozen=True)
class ResultRow:
    """A prospect's latest results for a scan: the HubSpot values they give and the hash last written."""

    scan: str  # the mapping's scan name
    prospect_id: str
    contact_id: str | None
    status: str  # pending | evaluated
    values: Mapping[str, Any] = field(default_factory=dict)  # property -> value
    values_hash: str | None = None
    written_hash: str | None = None
    read_at: datetime | None = None  # None when saved: the store's clock
    written_at: datetime | None = None


def result_from_row(row: Any) -> ResultRow:
    """A `ResultRow` from its table row (the values decoded from their JSON text)."""
    return record_from_row(ResultRow, row, values=loads(row.values_json))


class LinkedInScans:
    """Scans planned, started and collected, and the results they gave per prospect."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ---------------------------------------------------------------- scans
    def plan_scan(self, key: str, name: str, specification_id: str, audience_id: str) -> ScanRow:
        """Record a scan about to start (`planned`), or return the one already under this key."""
        values = {
            "key": key,
            "name": name,
            "specification_id": specification_id,
            "audience_id": audience_id,
            "status": "planned",
            "planned_at": self._db.clock(),
        }
        return record_from_row(ScanRow, insert_or_get(self._db, linkedin_scans, values))

    def scan_started(self, key: str, scan_id: str, status: str) -> None:
        """The API accepted the start (new or replayed): its scan id and status."""
        now = self._db.clock()
        t = linkedin_scans
        with self._db.write() as conn:
            conn.execute(
                update(t)
                .where(t.c.key == key)
                .values(scan_id=scan_id, started_at=func.coalesce(t.c.started_at, now))
            )
            set_status(conn, t, key, status, None, now, final=("collected",))

    def scan_status(self, key: str, status: str, error: str | None = None) -> None:
        """The scan's status as last read (or `refused` with why); a collected scan stays collected."""
        with self._db.write() as conn:
            set_status(conn, linkedin_scans, key, status, error, self._db.clock(), final=("collected",))

    def scan_collected(self, key: str) -> None:
        """Every result of this completed scan was read (pending ones are kept in `linkedin_results`)."""
        t = linkedin_scans
        with self._db.write() as conn:
            conn.execute(
                update(t).where(t.c.key == key).values(status="collected", collected_at=self._db.clock())
            )

    def open_scans(self) -> list[ScanRow]:
        """Scans still to follow or collect (not collected, failed, cancelled or refused), oldest first."""
        t = linkedin_scans
        query = select(t).where(t.c.status.not_in(SCAN_CLOSED)).order_by(t.c.planned_at, t.c.key)
        with self._db.read() as conn:
            return [record_from_row(ScanRow, r) for r in conn.execute(query)]

    def last_scan(self, name: str) -> ScanRow | None:
        """The newest scan planned under this name (the due check), or None."""
        t = linkedin_scans
        query = select(t).where(t.c.name == name).order_by(t.c.planned_at.desc(), t.c.key.desc()).limit(1)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else record_from_row(ScanRow, row)

    def scans(self, limit: int = 50) -> list[ScanRow]:
        """The newest scans first (`linkedin scans`, `status`)."""
        t = linkedin_scans
        query = select(t).order_by(t.c.planned_at.desc(), t.c.key.desc()).limit(limit)
        with self._db.read() as conn:
            return [record_from_row(ScanRow, r) for r in conn.execute(query)]

    # ---------------------------------------------------------------- results
    def pending_results(self, scan: str) -> list[ResultRow]:
        """This scan's results still to do: `pending` ones, and evaluated ones not written as they are."""
        t = linkedin_results
        query = (
            select(t)
            .where(
                t.c.scan == scan,
                or_(t.c.status == PENDING, t.c.values_hash.is_distinct_from(t.c.written_hash)),
            )
            .order_by(t.c.prospect_id)
        )
        with self._db.read() as conn:
            return [result_from_row(r) for r in conn.execute(query)]

    def save_results(self, rows: Sequence[ResultRow]) -> None:
        """Keep each prospect's latest read for its scan (upsert); what was last written is left as it is."""
        if not rows:
            return
        now = self._db.clock()
        t = linkedin_results
        records = [
            {
                "scan": r.scan,
                "prospect_id": r.prospect_id,
                "contact_id": r.contact_id,
                "status": r.status,
                "values_json": dumps(r.values),
                "values_hash": r.values_hash,
                "read_at": r.read_at or now,
            }
            for r in rows
        ]
        with self._db.write() as conn:
            for record in records:  # one statement each: a multi-row upsert may not name a row twice
                stmt = self._db.insert(t).values(**record, written_hash=None, written_at=None)
                changed = {k: stmt.excluded[k] for k in ("status", "values_json", "values_hash", "read_at")}
                changed["contact_id"] = func.coalesce(stmt.excluded.contact_id, t.c.contact_id)
                conn.execute(stmt.on_conflict_do_update(index_elements=["scan", "prospect_id"], set_=changed))

    def results_written(self, scan: str, written: Mapping[str, str]) -> None:
        """These prospects' values (prospect id -> hash) landed in HubSpot now."""
        now = self._db.clock()
        t = linkedin_results
        with self._db.write() as conn:
            for prospect_id, digest in written.items():
                conn.execute(
                    update(t)
                    .where(t.c.scan == scan, t.c.prospect_id == prospect_id)
                    .values(written_hash=digest, written_at=now)
                )

    def results_of_contact(self, contact_id: str) -> list[ResultRow]:
        """Every scan's latest results about this contact (`explain`)."""
        t = linkedin_results
        query = select(t).where(t.c.contact_id == str(contact_id)).order_by(t.c.scan, t.c.prospect_id)
        with self._db.read() as conn:
            return [result_from_row(r) for r in conn.execute(query)]

    def totals(self) -> dict[str, Any]:
        """Scans by status, results by status and how many were written (for `status` and `/metrics`)."""
        scans = select(linkedin_scans.c.status, func.count()).group_by(linkedin_scans.c.status)
        t = linkedin_results
        written = func.sum(case((t.c.written_hash.is_not(None), 1), else_=0))
        results = select(t.c.status, func.count(), written).group_by(t.c.status)
        with self._db.read() as conn:
            by_status = {str(s): int(n) for s, n in conn.execute(scans)}
            result_rows = conn.execute(results).all()
        return {
            "scans": dict(sorted(by_status.items())),
            "results": {str(s): int(n) for s, n, _ in sorted(result_rows)},
            "results_written": sum(int(w or 0) for _, _, w in result_rows),
        }
