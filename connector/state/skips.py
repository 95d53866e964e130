"""Contacts skipped this time (and why) and launches put off to a later run.

A skip is shown by `status` and cleared when the contact is handled again; a deferral
(`DEFERRALS`: the launch cap, no credits, a failed launch) makes `due_for_refresh` bring the
contact back next run although HubSpot did not change it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from connector.state.contacts import ensure_contact, update_contact
from connector.state.database import Database
from connector.state.sql import chunked, clip, unique
from connector.state.tables import DEFERRALS, contacts


class Skips:
    """Why contacts were skipped or put off, and forgetting it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_skip(self, contact_id: str, reason: str | None) -> None:
        """Why the contact was skipped this time (None clears it); creates the row if missing."""
        now = self._db.clock()
        with self._db.write() as conn:
            ensure_contact(self._db, conn, contact_id, now)
            update_contact(conn, contact_id, skip_reason=clip(reason), updated_at=now)

    def record_deferred(self, contact_id: str, reason: str) -> None:
        """A launch put off to the next run (`reason` one of DEFERRALS); `due_for_refresh` finds it."""
        self.record_deferred_many([contact_id], reason)

    def record_deferred_many(self, contact_ids: Sequence[str], reason: str) -> None:
        """`record_deferred` for many contacts in one transaction (a page put off past the launch cap)."""
        if reason not in DEFERRALS:
            raise ValueError(f"unknown deferral {reason!r} (one of {', '.join(DEFERRALS)})")
        now = self._db.clock()
        with self._db.write() as conn:
            for chunk in chunked(unique(contact_ids)):
                rows = [{"contact_id": cid, "updated_at": now} for cid in chunk]
                conn.execute(
                    self._db.insert(contacts)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=[contacts.c.contact_id])
                )
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id.in_(chunk))
                    .values(deferred=reason, skip_reason=None, updated_at=now)
                )

    def clear_skip(self, contact_id: str) -> None:
        """The contact is being handled again: forget why it was skipped or put off."""
        self.clear_skips([contact_id])

    def clear_skips(self, contact_ids: Sequence[str]) -> None:
        """`clear_skip` for many contacts in one transaction (a re-sync clears a page at a time)."""
        if not contact_ids:
            return
        now = self._db.clock()
        with self._db.write() as conn:
            for chunk in chunked(list(contact_ids)):
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id.in_(chunk))
                    .values(skip_reason=None, deferred=None, updated_at=now)
                )
