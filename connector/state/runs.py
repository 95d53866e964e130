"""Run history and record-level errors, and the questions `status` asks of them.

A run is recorded when it starts (under the run lock, so a run still `running` then is one
whose process died) and when it ends, with its counts (`RunCounts`). Errors are kept per
record for `status`'s most common ones; `prune` drops old history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, select, update

from connector.state.contacts import ensure_contact, update_contact
from connector.state.database import Database
from connector.state.sql import check_aware, clip, record_from_row
from connector.state.tables import RUN_OUTCOMES, contacts, errors, runs


@dataclass(frozen=True, eq=False)
class RunCounts(Mapping[str, Any]):
    """A run's counts as stored (the summary's `counts()`), typed where `status` reads them.

    A figure a run did not record (an older version's run) is None, or empty. The counts
    stay a read-only mapping of the stored JSON (`raw`), equal to a dict with the same items.
    """

    contacts_seen: int = 0
    contacts_written: int = 0
    record_failures: int = 0
    research: dict[str, int] = field(default_factory=dict)  # launched, adopted, completed, failed
    skipped: dict[str, int] | None = None  # by reason
    credits_used: int | None = None  # None: the run counted no credits
    credits_by_kind: dict[str, int] = field(default_factory=dict)
    credits_saved: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)  # service -> call -> count
    companies: dict[str, Any] | None = None  # None: the run had no company figures
    raw: dict[str, Any] = field(default_factory=dict)  # everything stored, as stored

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunCounts:
        """The counts read back from the `runs.counts` JSON (absent and null figures take the defaults)."""
        raw = dict(data or {})
        typed = {f.name: raw[f.name] for f in fields(cls) if f.name != "raw" and raw.get(f.name) is not None}
        return cls(**typed, raw=raw)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)


@dataclass(frozen=True)
class RunRecord:
    """One sync cycle as `status` shows it."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: RunCounts
    error: str | None


class RunHistory:
    """Runs, record-level errors and the figures `status` shows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start_run(self) -> int:
        """Record a cycle starting; returns its id. Call it holding `run_lock`.

        Under the lock no other cycle can be running, so a run still marked `running` is
        one whose process died: it is marked `interrupted`.
        """
        now = self._db.clock()
        with self._db.write() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.outcome == "running")
                .values(outcome="interrupted", error="the process ended before the run finished")
            )
            started = conn.execute(insert(runs).values(started_at=now, outcome="running"))
            key = started.inserted_primary_key
            assert key is not None  # an INSERT of one row has its primary key
            return int(key[0])

    def finish_run(
        self, run_id: int, *, outcome: str, counts: Mapping[str, Any], error: str | None = None
    ) -> None:
        """Record how a cycle ended."""
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"unknown run outcome {outcome!r} (one of {', '.join(RUN_OUTCOMES)})")
        now = self._db.clock()
        with self._db.write() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(finished_at=now, outcome=outcome, counts=dict(counts), error=clip(error))
            )

    def record_finished_run(
        self, started_at: datetime, *, outcome: str, counts: Mapping[str, Any], error: str | None = None
    ) -> int:
        """Record a run that is over in one write (a `prospect` run, under a lock of its own).

        Unlike `start_run` it marks no other run interrupted: a sync may be running meanwhile.
        """
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"unknown run outcome {outcome!r} (one of {', '.join(RUN_OUTCOMES)})")
        check_aware(started_at)
        values = {"started_at": started_at, "finished_at": self._db.clock(), "outcome": outcome}
        with self._db.write() as conn:
            done = conn.execute(insert(runs).values(**values, counts=dict(counts), error=clip(error)))
            key = done.inserted_primary_key
            assert key is not None  # an INSERT of one row has its primary key
            return int(key[0])

    def last_runs(self, n: int = 5) -> list[RunRecord]:
        """The `n` most recent runs, newest first."""
        with self._db.read() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(n)).all()
        return [record_from_row(RunRecord, row, counts=RunCounts.from_json(row.counts)) for row in rows]

    def record_error(
        self,
        run_id: int | None,
        contact_id: str | None,
        code: str,
        message: str,
        property: str | None = None,
        *,
        of_contact: bool = True,
    ) -> None:
        """Log a record-level error for `status`; with a contact, it becomes its `last_error` too.

        `of_contact=False`: `contact_id` is another subject's key (`company:123`), kept as is."""
        now = self._db.clock()
        message = clip(message) or ""
        with self._db.write() as conn:
            conn.execute(
                insert(errors).values(
                    run_id=run_id,
                    contact_id=contact_id,
                    property=property,
                    code=code,
                    message=message,
                    at=now,
                )
            )
            if contact_id is not None and of_contact:
                ensure_contact(self._db, conn, contact_id, now)
                last = f"{code}: {message}" if not property else f"{code} ({property}): {message}"
                update_contact(conn, contact_id, last_error=clip(last), updated_at=now)

    def clear_error(self, contact_id: str) -> None:
        """The contact went through cleanly: forget its last error."""
        now = self._db.clock()
        with self._db.write() as conn:
            stmt = (
                update(contacts)
                .where(contacts.c.contact_id == contact_id, contacts.c.last_error.is_not(None))
                .values(last_error=None, updated_at=now)
            )
            conn.execute(stmt)

    def status_counts(self) -> dict[str, int]:
        """Contacts by research status, with `skipped` for those never researched whose last visit was a skip.

        Each contact is counted once: a skipped contact with no research is `skipped`, not `none`.
        """
        status = case(
            (
                and_(contacts.c.research_status == "none", contacts.c.skip_reason.is_not(None)),
                literal("skipped"),
            ),
            else_=contacts.c.research_status,
        )
        with self._db.read() as conn:
            query = select(status, func.count()).group_by(status)
            return {str(name): int(n) for name, n in conn.execute(query) if n}

    def skipped_examples(self, n: int = 5) -> list[tuple[str, str]]:
        """A few (contact id, why) of contacts whose last visit was a skip, for `status`."""
        query = (
            select(contacts.c.contact_id, contacts.c.skip_reason)
            .where(contacts.c.skip_reason.is_not(None))
            .order_by(contacts.c.updated_at.desc(), contacts.c.contact_id)
            .limit(n)
        )
        with self._db.read() as conn:
            return [(cid, reason) for cid, reason in conn.execute(query)]

    def common_errors(self, n: int = 5, *, since: datetime | None = None) -> list[tuple[str, int, str]]:
        """The `n` most frequent error codes as (code, count, latest message), most frequent first."""
        check_aware(since)
        grouped = select(errors.c.code, func.count().label("n"), func.max(errors.c.id).label("last_id"))
        if since is not None:
            grouped = grouped.where(errors.c.at >= since)
        top = grouped.group_by(errors.c.code).order_by(func.count().desc(), errors.c.code).limit(n).subquery()
        query = (
            select(top.c.code, top.c.n, errors.c.message)
            .join(errors, errors.c.id == top.c.last_id)
            .order_by(top.c.n.desc(), top.c.code)
        )
        with self._db.read() as conn:
            return [(code, int(count), message) for code, count, message in conn.execute(query)]

    def prune(self, before: datetime) -> int:
        """Delete errors logged and runs finished before `before`; returns how many rows went."""
        check_aware(before)
        with self._db.write() as conn:
            gone = conn.execute(delete(errors).where(errors.c.at < before)).rowcount
            gone += conn.execute(
                delete(runs).where(runs.c.finished_at.is_not(None), runs.c.finished_at < before)
            ).rowcount
        return gone
