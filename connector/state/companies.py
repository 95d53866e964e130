"""The state of HubSpot companies the connector writes, as a mixin of `StateStore`.

Kept apart from the contact methods so that each file holds one kind of record; it uses
the store's own transactions (`_read`, `_write`, `_insert`, `_clock`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from connector.state.tables import CHUNK, clip, companies, contacts
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


class CompanyRecords:
    """Company rows and each contact's company match; mixed into `StateStore`."""

    _clock: Callable[[], datetime]
    _read: Callable[[], AbstractContextManager[Connection]]
    _write: Callable[[], AbstractContextManager[Connection]]
    _insert: Callable[[Any], Any]

    def get_companies(self, company_ids: Sequence[str]) -> dict[str, CompanyState]:
        """States by HubSpot company id for those the connector has seen."""
        ids = list(dict.fromkeys(company_ids))
        found: dict[str, CompanyState] = {}
        with self._read() as conn:
            for start in range(0, len(ids), CHUNK):
                query = select(companies).where(companies.c.company_id.in_(ids[start : start + CHUNK]))
                for row in conn.execute(query):
                    found[row.company_id] = _company_state(row)
        return found

    def companies_pending(self) -> list[CompanyState]:
        """Companies whose values wait to land (a failed write), oldest first: the next cycle retries."""
        with self._read() as conn:
            query = (
                select(companies)
                .where(companies.c.write_pending.is_not(None))
                .order_by(companies.c.updated_at)
            )
            return [_company_state(row) for row in conn.execute(query)]

    def record_company_written(self, company_id: str, domain: str | None, written: Mapping[str, str]) -> None:
        """Merge property -> value hash of what landed on the company; nothing waits any more."""
        now = self._clock()
        with self._write() as conn:
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
        now = self._clock()
        with self._write() as conn:
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
        now = self._clock()
        with self._write() as conn:
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
        ids, now = list(dict.fromkeys(contact_ids)), self._clock()
        if not ids:
            return
        with self._write() as conn:
            for start in range(0, len(ids), CHUNK):
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id.in_(ids[start : start + CHUNK]))
                    .values(company_pending=reason, updated_at=now)
                )

    def company_pending_contacts(self, limit: int = 10_000) -> list[str]:
        """Contacts whose company answers have not landed yet (an earlier cycle stopped or failed)."""
        with self._read() as conn:
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
        with self._read() as conn:
            query = select(contacts.c.company_unmatched).where(contacts.c.company_unmatched.is_not(None))
            for (reason,) in conn.execute(query):
                code = Unmatched.parse(str(reason)).code
                counts[code] = counts.get(code, 0) + 1
        return counts

    def _locked_company(self, conn: Connection, company_id: str, domain: str | None, now: datetime) -> Any:
        stmt = self._insert(companies).values(
            company_id=company_id, domain=domain, written={}, updated_at=now
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[companies.c.company_id]))
        if domain is not None:
            conn.execute(update(companies).where(companies.c.company_id == company_id).values(domain=domain))
        query = select(companies).where(companies.c.company_id == company_id).with_for_update()
        return conn.execute(query).one()


def _company_state(row: Any) -> CompanyState:
    return CompanyState(
        company_id=row.company_id,
        domain=row.domain,
        written=dict(row.written or {}),
        written_at=row.written_at,
        write_pending=row.write_pending,
        last_error=row.last_error,
    )


__all__ = ["CompanyRecords", "CompanyState"]
