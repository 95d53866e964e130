"""One person, one research: HubSpot merges and contacts entered twice (twins) share what was paid for.

A merge's survivor takes over the merged contact's research, result, signals and writes
(the merged one keeps a link, `merged_into`). A twin, a contact whose inputs have exactly
the same fingerprint, takes over the research but not the writes, which are its own.
"""

from __future__ import annotations

from sqlalchemy import select

from connector.state.contacts import (
    Contacts,
    ContactState,
    contact_state,
    ensure_contact,
    locked_contact,
    update_contact,
)
from connector.state.database import Database
from connector.state.tables import UNWRITTEN, contacts

# A contact's research and what came of it: what a merge's survivor or a twin takes over.
RESEARCH_COLUMNS = (
    "external_id", "fingerprint", "research_id", "research_status", "research_error_code",
    "research_error", "launched_at", "completed_at", "checked_at", "next_check_at",
    "check_count", "failure_count", "result", "signals",
)  # fmt: skip


class Identity:
    """Merges and twins: who takes over whose research."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._contacts = Contacts(db)

    def adopt_merged(self, contact_id: str, merged_id: str) -> ContactState:
        """The surviving contact of a HubSpot merge takes over the merged one's research; the link stays.

        Research, result, signals, written hashes and pending work move to `contact_id`; the
        research keeps its external id (the merged contact's), so Saber finds it as before.
        """
        now = self._db.clock()
        moved = (*RESEARCH_COLUMNS, "written", "written_at", "write_pending")
        with self._db.write() as conn:
            old = locked_contact(self._db, conn, merged_id, now)
            ensure_contact(self._db, conn, contact_id, now)
            values = {name: getattr(old, name) for name in moved}
            values["external_id"] = old.external_id or merged_id
            update_contact(conn, contact_id, **values, skip_reason=None, deferred=None, updated_at=now)
            update_contact(conn, merged_id, merged_into=contact_id, write_pending=None, updated_at=now)
        return self._read_back(contact_id)

    def same_inputs(self, fingerprint: str, *, other_than: str) -> ContactState | None:
        """Another contact researched (or being researched) with exactly these inputs: the same
        person entered twice, whose research serves both (the oldest launch first)."""
        query = (
            select(contacts)
            .where(
                contacts.c.fingerprint == fingerprint,
                contacts.c.contact_id != other_than,
                contacts.c.merged_into.is_(None),
                contacts.c.research_status.in_(("processing", "completed")),
                contacts.c.research_id.is_not(None),
            )
            .order_by(contacts.c.launched_at)
            .limit(1)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else contact_state(row)

    def adopt_twin(self, contact_id: str, twin_id: str) -> ContactState:
        """Take over the research of a contact with the same inputs (not its HubSpot writes).

        The research keeps the twin's external id, so Saber finds it as before; what was
        written is this contact's own, so a completed result waits to be written here.
        """
        now = self._db.clock()
        with self._db.write() as conn:
            twin = locked_contact(self._db, conn, twin_id, now)
            ensure_contact(self._db, conn, contact_id, now)
            values = {name: getattr(twin, name) for name in RESEARCH_COLUMNS}
            values["external_id"] = twin.external_id or twin_id
            pending = UNWRITTEN if twin.research_status == "completed" else None
            update_contact(
                conn,
                contact_id,
                **values,
                write_pending=pending,
                skip_reason=None,
                deferred=None,
                updated_at=now,
            )
        return self._read_back(contact_id)

    def _read_back(self, contact_id: str) -> ContactState:
        state = self._contacts.get(contact_id)
        assert state is not None
        return state
