"""A contact's row as a record (`ContactState`), and the row operations every contact repository shares.

The record's fields are stated once, in `ContactState`; the row is copied into it by name
(`contact_state`). The research, identity, ledger, skip, signal and run repositories change
contact rows only through `ensure_contact`, `locked_contact` and `update_contact`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from connector.state.database import Database
from connector.state.sql import chunked, count, json_object, record_from_row, unique
from connector.state.tables import contacts


@dataclass(frozen=True)
class StoredSignal:
    """A signal answer kept on a contact: Saber's JSON, its target and the inputs it answered."""

    signal: dict[str, Any]  # the signal as Saber returned it
    target: str | None  # the domain or profile it was asked about
    fingerprint: str | None  # the contact's inputs when it was answered

    @classmethod
    def decode(cls, raw: object) -> StoredSignal | None:
        """The stored JSON (`{"signal", "target", "fingerprint"}`) read back; None if malformed."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("signal"), dict):
            return None
        return cls(dict(raw["signal"]), raw.get("target"), raw.get("fingerprint"))


@dataclass(frozen=True)
class ContactState:
    """One contact's row, as plain immutable data."""

    contact_id: str
    external_id: str | None
    fingerprint: str | None
    research_id: str | None
    research_status: str
    research_error_code: str | None
    research_error: str | None
    launched_at: datetime | None
    completed_at: datetime | None
    checked_at: datetime | None
    next_check_at: datetime | None
    check_count: int
    failure_count: int
    skip_reason: str | None
    deferred: str | None  # a launch put off to a later run, and why (one of DEFERRALS)
    write_pending: str | None  # a result not landed in HubSpot yet: UNWRITTEN or the failure's code
    merged_into: str | None  # HubSpot merged this contact into that one, which adopted its research
    company_id: str | None  # the HubSpot company its company-scope answers land on
    company_unmatched: str | None  # why no company could be matched ("code: detail")
    company_pending: str | None  # its company answers have not landed on its company yet
    last_error: str | None
    written: dict[str, str]
    written_at: datetime | None
    result: dict[str, Any] | None
    signals: dict[str, dict[str, Any]]  # as stored; read them through `stored_signals`

    def stored_signals(self) -> dict[str, StoredSignal]:
        """The signal answers kept on this contact, by mapping key (malformed ones left out)."""
        found = {key: StoredSignal.decode(raw) for key, raw in self.signals.items()}
        return {key: stored for key, stored in found.items() if stored is not None}


# What a NULL (or a missing default) in a column becomes in the record.
_COERCE: dict[str, Callable[[Any], Any]] = {
    "research_status": lambda value: value or "none",
    "check_count": count,
    "failure_count": count,
    "written": json_object,
    "signals": json_object,
}


def contact_state(row: Row[Any]) -> ContactState:
    """The record of a `contacts` row."""
    return record_from_row(ContactState, row, _COERCE)


def ensure_contact(db: Database, conn: Connection, contact_id: str, now: datetime) -> None:
    """Create the contact's row if it is missing."""
    stmt = db.insert(contacts).values(contact_id=contact_id, updated_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[contacts.c.contact_id]))


def locked_contact(db: Database, conn: Connection, contact_id: str, now: datetime) -> Row[Any]:
    """The row, created if missing and locked for this transaction (FOR UPDATE on PostgreSQL)."""
    ensure_contact(db, conn, contact_id, now)
    query = select(contacts).where(contacts.c.contact_id == contact_id).with_for_update()
    return conn.execute(query).one()


def update_contact(conn: Connection, contact_id: str, **values: Any) -> int:
    """Set these columns of the contact's row; how many rows changed."""
    stmt = update(contacts).where(contacts.c.contact_id == contact_id).values(**values)
    return conn.execute(stmt).rowcount


class Contacts:
    """Contact rows read back as records."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, contact_id: str) -> ContactState | None:
        """The contact's state, or None if the connector never touched it."""
        with self._db.read() as conn:
            row = conn.execute(select(contacts).where(contacts.c.contact_id == contact_id)).first()
        return None if row is None else contact_state(row)

    def get_many(self, contact_ids: Sequence[str]) -> dict[str, ContactState]:
        """States by contact id for those that exist, in IN queries of at most 500 ids."""
        found: dict[str, ContactState] = {}
        with self._db.read() as conn:
            for chunk in chunked(unique(contact_ids)):
                for row in conn.execute(select(contacts).where(contacts.c.contact_id.in_(chunk))):
                    found[row.contact_id] = contact_state(row)
        return found
