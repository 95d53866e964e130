"""The write ledger: hashes of what landed in HubSpot, and results still waiting to land.

A value whose hash is in `written` is not written again while it is unchanged (and a
person's later edit in HubSpot is told apart from the connector's own). `write_pending`
says a result has not fully landed, and why; the next run tries it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from connector.state.contacts import locked_contact, update_contact
from connector.state.database import Database
from connector.state.sql import clip
from connector.state.tables import contacts


class WriteLedger:
    """What was written to each contact, and what waits to be."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_written(self, contact_id: str, written: Mapping[str, str], *, settle: bool = True) -> None:
        """Merge property → value hash of what landed in HubSpot, so unchanged values are not rewritten.

        `settle=False` keeps what waits to be written (hashes of values HubSpot already held).
        """
        if not written:
            return
        now = self._db.clock()
        settled: dict[str, Any] = {"write_pending": None} if settle else {}
        with self._db.write() as conn:
            row = locked_contact(self._db, conn, contact_id, now)
            merged = {**(row.written or {}), **dict(written)}
            update_contact(conn, contact_id, written=merged, written_at=now, updated_at=now, **settled)

    def set_write_pending(self, contact_id: str, reason: str | None) -> None:
        """Why the contact's result has not fully landed (a failure code), or None once nothing waits."""
        now = self._db.clock()
        with self._db.write() as conn:
            update_contact(conn, contact_id, write_pending=clip(reason), updated_at=now)

    def count_write_pending(self, *, contact_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Results waiting to be written, by reason (UNWRITTEN or the last failure's code)."""
        query = select(contacts.c.write_pending, func.count()).where(contacts.c.write_pending.is_not(None))
        if contact_ids is not None:
            query = query.where(contacts.c.contact_id.in_(list(contact_ids)))
        with self._db.read() as conn:
            rows = conn.execute(query.group_by(contacts.c.write_pending)).all()
        return {reason: int(n) for reason, n in rows}
