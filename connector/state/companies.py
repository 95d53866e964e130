"""The state of HubSpot companies the connector writes, and each contact's company match.

Kept apart from the contact repositories so that each file holds one kind of record: the
hashes of what landed on each company, what waits to land, and which company (or why none)
each contact's company-scope answers go to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from connector.state.database import Database
from connector.state.sql import chunked, clip, json_object, record_from_row, unique
from connector.state.tables import companies, contacts
from connector.state.unmatched import Unmatched


@dataclass(frozen=True)
class CompanyState:
    """What the connector knows of one HubSpot company it writes to."""

    company_id: str
    domain: str | None
    written: dict[str, str]  # property -> hash of the value last written
    written_at: datetime | None
    write_pending: str | None  # None, or why the company's values have not landed yet
    last_error: str | None


class Companies:
    """Company rows and each contact's company match."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_companies(self, company_ids: Sequence[str]) -> dict[str, CompanyState]:
        """States by HubSpot company id for those the connector has seen."""
        found: dict[str, CompanyState] = {}
        with self._db.read() as conn:
            for chunk in chunked(unique(company_ids)):
                query = select(companies).where(companies.c.company_id.in_(chunk))
                for row in conn.execute(query):
                    found[row.company_id] = _company_state(row)
        return found

    def companies_pending(self) -> list[CompanyState]:
        """Companies whose values wait to land (a failed write), oldest first: the next cycle retries."""
        with self._db.read() as conn:
            query = (
                select(companies)
                .where(companies.c.write_pending.is_not(None))
                .order_by(companies.c.updated_at)
            )
            return [_company_state(row) for row in conn.execute(query)]

    def record_company_written(self, company_id: str, domain: str | None, written: Mapping[str, str]) -> None:
        """Merge property -> value hash of what landed on the company; nothing waits any more."""
        now = self._db.clock()
        with self._db.write() as conn:
            row = self._locked_company(conn, company_id, domain, now)
            merged = {**(row.written or {}), **dict(written)}
            conn.execute(
                update(companies)
                .where(companies.c.company_id == company_id)
                .values(written=merged, written_at=now, write_pending=None, last_error=None, updated_at=now)
            )

    def set_company_pending(
        self, company_id: str, domain: str | None, reason: str | None, error: str | None = None
    ) -> None:
        """Why the company's values have not landed (a code and message), or None once nothing waits."""
        now = self._db.clock()
        with self._db.write() as conn:
            self._locked_company(conn, company_id, domain, now)
            conn.execute(
                update(companies)
                .where(companies.c.company_id == company_id)
                .values(write_pending=reason, last_error=clip(error), updated_at=now)
            )

    def record_company_matches(
        self, matches: Mapping[str, tuple[str | None, str | None]], *, settled: bool = True
    ) -> None:
        """Each contact's matched company id, or why none could be matched, in one transaction.

        `settled` (the default) also clears the contacts' pending company work: their
        answers landed, or no company can take them until the contact changes.
        """
        if not matches:
            return
        now = self._db.clock()
        with self._db.write() as conn:
            for contact_id, (company_id, unmatched) in matches.items():
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id == contact_id)
                    .values(
                        company_id=company_id,
                        company_unmatched=clip(unmatched),
                        updated_at=now,
                        **({"company_pending": None} if settled else {}),
                    )
                )

    def mark_company_pending(self, contact_ids: Sequence[str], reason: str = "unwritten") -> None:
        """These contacts' company answers wait to land (`record_company_matches` clears it)."""
        ids, now = unique(contact_ids), self._db.clock()
        if not ids:
            return
        with self._db.write() as conn:
            for chunk in chunked(ids):
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id.in_(chunk))
                    .values(company_pending=reason, updated_at=now)
                )

    def company_pending_contacts(self, limit: int = 10_000) -> list[str]:
        """Contacts whose company answers have not landed yet (an earlier cycle stopped or failed)."""
        with self._db.read() as conn:
            query = (
                select(contacts.c.contact_id)
                .where(contacts.c.company_pending.is_not(None), contacts.c.merged_into.is_(None))
                .order_by(contacts.c.contact_id)
                .limit(limit)
            )
            return list(conn.execute(query).scalars())

    def company_unmatched_counts(self) -> dict[str, int]:
        """Contacts with no matched company, by reason code (`Unmatched`, stored as `code: detail`)."""
        counts: dict[str, int] = {}
        with self._db.read() as conn:
            query = select(contacts.c.company_unmatched).where(contacts.c.company_unmatched.is_not(None))
            for (reason,) in conn.execute(query):
                code = Unmatched.parse(str(reason)).code
                counts[code] = counts.get(code, 0) + 1
        return counts

    def _locked_company(
        self, conn: Connection, company_id: str, domain: str | None, now: datetime
    ) -> Row[Any]:
        """The company's row, created if missing (its domain noted) and locked for this transaction."""
        stmt = self._db.insert(companies).values(
            company_id=company_id, domain=domain, written={}, updated_at=now
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[companies.c.company_id]))
        if domain is not None:
            conn.execute(update(companies).where(companies.c.company_id == company_id).values(domain=domain))
        query = select(companies).where(companies.c.company_id == company_id).with_for_update()
        return conn.execute(query).one()


def _company_state(row: Row[Any]) -> CompanyState:
    return record_from_row(CompanyState, row, {"written": json_object})


__all__ = ["Companies", "CompanyState"]
