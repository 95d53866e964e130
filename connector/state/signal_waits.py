"""Contacts whose results wait on signal asks, and finding them again once the answers are in.

A contact's result is written with the answers it has; the asks it still waits on are
kept here, and once none of them is in flight (answered or failed) the contact is written
again (`contacts_to_rewrite`). A webhook names a signal; `contacts_waiting_on_signal` finds
whose result it completes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, select

from connector.state.database import Database
from connector.state.signal_asks import IN_FLIGHT
from connector.state.sql import chunked, rows_in
from connector.state.tables import signal_asks, signal_waits


class SignalWaits:
    """Which asks each contact's result waits on."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set_signal_waits(self, waits: Mapping[str, Collection[str]]) -> None:
        """Each contact's result waits on exactly these asks now (an empty set: on none)."""
        if not waits:
            return
        rows = [{"key": key, "contact_id": cid} for cid, keys in waits.items() for key in sorted(set(keys))]
        with self._db.write() as conn:
            for chunk in chunked(list(waits)):
                conn.execute(delete(signal_waits).where(signal_waits.c.contact_id.in_(chunk)))
            for batch in chunked(rows):
                conn.execute(insert(signal_waits), list(batch))

    def signal_waits_of(self, contact_ids: Collection[str]) -> dict[str, set[str]]:
        """The asks each of these contacts waits on (contacts waiting on none are left out)."""
        found: dict[str, set[str]] = {}
        with self._db.read() as conn:
            for row in rows_in(conn, signal_waits, "contact_id", contact_ids):
                found.setdefault(row.contact_id, set()).add(row.key)
        return found

    def contacts_waiting_on_signal(self, signal_id: str) -> list[str]:
        """The contacts whose results wait on the ask Saber made this signal for (a webhook's hint)."""
        if not signal_id:
            return []
        keys = select(signal_asks.c.key).where(signal_asks.c.signal_id == signal_id)
        query = (
            select(signal_waits.c.contact_id)
            .where(signal_waits.c.key.in_(keys))
            .order_by(signal_waits.c.contact_id)
        )
        with self._db.read() as conn:
            return [str(cid) for cid in conn.execute(query).scalars()]

    def contacts_to_rewrite(
        self, *, contact_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> list[str]:
        """Contacts that waited on asks none of which is in flight any more: their answers came
        (or failed), so their results are written again now."""
        in_flight = exists().where(
            and_(signal_asks.c.key == signal_waits.c.key, signal_asks.c.status.in_(IN_FLIGHT))
        )
        query = (
            select(signal_waits.c.contact_id)
            .group_by(signal_waits.c.contact_id)
            .having(func.sum(_flag(in_flight)) == 0)
            .order_by(signal_waits.c.contact_id)
        )
        if contact_ids is not None:
            query = query.where(signal_waits.c.contact_id.in_(list(contact_ids)))
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            return [str(cid) for cid in conn.execute(query).scalars()]


def _flag(condition: Any) -> Any:
    """1 where `condition` holds, else 0 (portable across SQLite and PostgreSQL)."""
    return case((condition, 1), else_=0)
