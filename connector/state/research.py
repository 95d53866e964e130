"""The research life cycle of each contact: launched, looked at, finished, and found again when due.

A launch is recorded the moment Saber accepts it (the research id is the only local
pointer to credits spent); looks are counted and scheduled; a finished research keeps its
JSON (or counts a failure) and waits to be written. `due_for_refresh` finds the contacts a
run must visit although HubSpot did not change them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, nulls_first, or_, select

from connector.state.contacts import (
    ContactState,
    contact_state,
    ensure_contact,
    locked_contact,
    update_contact,
)
from connector.state.database import Database
from connector.state.sql import check_aware, clip, set_each
from connector.state.tables import RESEARCH_STATUSES, UNWRITTEN, contacts


class RetryRule(Protocol):
    """What `due_for_refresh` needs of a retry policy (`connector.sync.decide.RetryPolicy`)."""

    def retry_at(self, state: ContactState) -> datetime | None: ...


def check_status(status: str) -> None:
    """Refuse a research status the schema does not know."""
    if status not in RESEARCH_STATUSES:
        raise ValueError(f"unknown research status {status!r} (one of {', '.join(RESEARCH_STATUSES)})")


class ResearchRecords:
    """Launches, looks and results of each contact's research."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_launch(
        self,
        contact_id: str,
        *,
        external_id: str,
        fingerprint: str,
        research_id: str,
        status: str = "processing",
        next_check_at: datetime,
    ) -> None:
        """Remember a research Saber accepted; committed (durable) when this returns.

        The previous result stays (it is still the last completed one). The consecutive
        failure count restarts when the inputs changed: the old failures were for other inputs.
        """
        check_status(status)
        check_aware(next_check_at)
        now = self._db.clock()
        with self._db.write() as conn:
            row = locked_contact(self._db, conn, contact_id, now)
            values: dict[str, Any] = {
                "external_id": external_id,
                "fingerprint": fingerprint,
                "research_id": research_id,
                "research_status": status,
                "research_error_code": None,
                "research_error": None,
                "launched_at": now,
                "completed_at": None,
                "checked_at": None,
                "next_check_at": next_check_at,
                "check_count": 0,
                "skip_reason": None,
                "deferred": None,
                "updated_at": now,
            }
            if row.fingerprint != fingerprint:
                values["failure_count"] = 0
            update_contact(conn, contact_id, **values)

    def record_poll(self, contact_id: str, *, next_check_at: datetime) -> None:
        """Saber was asked and the research is still running: count it, schedule the next look."""
        check_aware(next_check_at)
        now = self._db.clock()
        with self._db.write() as conn:
            update_contact(
                conn,
                contact_id,
                check_count=contacts.c.check_count + 1,
                checked_at=now,
                next_check_at=next_check_at,
                updated_at=now,
            )

    def record_result(
        self,
        contact_id: str,
        *,
        research_id: str,
        status: str,
        result: dict[str, Any] | None,
        completed_at: datetime | None,
        error_code: str | None,
        error: str | None,
    ) -> None:
        """A research finished: completed stores its JSON and resets the failure count, failed counts one.

        A failure keeps the previous completed result, which is still the last good one.
        Either way the result is pending work (`write_pending`) until its values land.
        """
        check_status(status)
        check_aware(completed_at)
        now = self._db.clock()
        values: dict[str, Any] = {
            "research_id": research_id,
            "research_status": status,
            "completed_at": completed_at,
            "research_error_code": error_code,
            "research_error": clip(error),
            "checked_at": now,
            "updated_at": now,
        }
        if status in ("completed", "failed"):
            values["write_pending"] = UNWRITTEN
        if status == "completed":
            values.update(result=result, failure_count=0, next_check_at=None)
        elif status == "failed":
            values.update(failure_count=contacts.c.failure_count + 1, next_check_at=None)
        with self._db.write() as conn:
            ensure_contact(self._db, conn, contact_id, now)
            update_contact(conn, contact_id, **values)

    def pending(
        self,
        *,
        due_before: datetime | None = None,
        limit: int | None = None,
        contact_ids: Sequence[str] | None = None,
    ) -> list[ContactState]:
        """Research still processing (due by `due_before`, among `contact_ids` when given), soonest first."""
        query = _pending_query(select(contacts), due_before, contact_ids)
        query = query.order_by(nulls_first(contacts.c.next_check_at.asc()), contacts.c.contact_id)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            return [contact_state(row) for row in conn.execute(query)]

    def unlooked_research(self) -> list[tuple[str, datetime, datetime | None]]:
        """Research still processing and never looked at: (contact id, launched at, next look)."""
        query = _pending_query(
            select(contacts.c.contact_id, contacts.c.launched_at, contacts.c.next_check_at), None, None
        ).where(contacts.c.check_count == 0, contacts.c.launched_at.is_not(None))
        with self._db.read() as conn:
            return [(row.contact_id, row.launched_at, row.next_check_at) for row in conn.execute(query)]

    def reschedule_research(self, next_checks: Mapping[str, datetime]) -> None:
        """Move these contacts' next look (the schedule learned when their research is done)."""
        for when in next_checks.values():
            check_aware(when)
        if next_checks:
            with self._db.write() as conn:
                set_each(conn, contacts, "contact_id", "next_check_at", next_checks)

    def count_pending(self, *, contact_ids: Sequence[str] | None = None) -> int:
        """How many research requests are still processing (among `contact_ids` when given)."""
        query = _pending_query(select(func.count()).select_from(contacts), None, contact_ids)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def pending_contact(self, *, research_id: str | None, external_id: str | None) -> str | None:
        """The contact whose research is still processing under this research id (else external id)."""
        query = select(contacts.c.contact_id).where(contacts.c.research_status == "processing")
        with self._db.read() as conn:
            if research_id:
                found = conn.execute(query.where(contacts.c.research_id == research_id)).scalar()
                if found is not None:
                    return str(found)
            if external_id:
                found = conn.execute(query.where(contacts.c.external_id == external_id)).scalar()
                if found is not None:
                    return str(found)
        return None

    def due_for_refresh(
        self,
        *,
        completed_before: datetime | None,
        retry: RetryRule | None = None,
        now: datetime | None = None,
        unwritable: Collection[str] = (),
    ) -> list[str]:
        """Contacts to look at although HubSpot did not change them.

        Those are: results not yet landed in HubSpot (`write_pending`, except the reasons in
        `unwritable`, which no retry can help), launches deferred by an earlier run (the `deferred` column),
        results completed at or before `completed_before` (stale), and failed research whose
        `retry.retry_at(state)` is at or before `now`.
        """
        check_aware(completed_before)
        check_aware(now)
        ids: list[str] = []
        live = contacts.c.merged_into.is_(None)  # a merged-away contact is looked at through its survivor
        with self._db.read() as conn:
            unlanded = select(contacts.c.contact_id).where(contacts.c.write_pending.is_not(None), live)
            if unwritable:
                unlanded = unlanded.where(contacts.c.write_pending.not_in(list(unwritable)))
            ids.extend(conn.execute(unlanded.order_by(contacts.c.contact_id)).scalars())
            deferred = (
                select(contacts.c.contact_id)
                .where(contacts.c.deferred.is_not(None), live)
                .order_by(contacts.c.contact_id)
            )
            ids.extend(conn.execute(deferred).scalars())
            if completed_before is not None:
                stale = (
                    select(contacts.c.contact_id)
                    .where(
                        contacts.c.research_status == "completed",
                        contacts.c.completed_at <= completed_before,
                        live,
                    )
                    .order_by(contacts.c.completed_at, contacts.c.contact_id)
                )
                ids.extend(conn.execute(stale).scalars())
            failed = []
            if retry is not None:
                query = (
                    select(contacts)
                    .where(contacts.c.research_status == "failed", live)
                    .order_by(contacts.c.completed_at, contacts.c.contact_id)
                )
                failed = [contact_state(row) for row in conn.execute(query)]
        if retry is not None:
            when = now or self._db.clock()
            for state in failed:
                at = retry.retry_at(state)
                if at is not None and at <= when:
                    ids.append(state.contact_id)
        return list(dict.fromkeys(ids))


def _pending_query(query: Any, due_before: datetime | None, contact_ids: Sequence[str] | None) -> Any:
    """`query` narrowed to research still processing, due by `due_before`, among `contact_ids`."""
    check_aware(due_before)
    query = query.where(contacts.c.research_status == "processing", contacts.c.merged_into.is_(None))
    if due_before is not None:
        query = query.where(or_(contacts.c.next_check_at.is_(None), contacts.c.next_check_at <= due_before))
    if contact_ids is not None:  # a handful of ids from --contact
        query = query.where(contacts.c.contact_id.in_(list(contact_ids)))
    return query
