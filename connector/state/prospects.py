"""Prospecting's state: which target accounts were searched, and each person claimed or created.

A person is recorded (`claimed`) before their create is sent and marked `created` with the
HubSpot contact id once HubSpot's answer says so. A claim still there on a later run is a
create whose answer was lost (a crash, `CreateMaybeApplied`): the stage looks it up in HubSpot
before sending it again, which is what keeps a SIGKILL at any moment from creating anyone twice.
An account that `max_new_per_run` cut short stays unfinished and is finished first next run.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from connector.state.database import Database
from connector.state.sql import chunked, clip, record_from_row, rows_in, unique
from connector.state.tables import prospect_accounts, prospect_candidates

CLAIMED, CREATED = "claimed", "created"


def fold_name(text: str | None) -> str:
    """A name as compared: accents, case and spacing folded."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text or "") if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def fold_url(url: str | None) -> str:
    """A Sales Navigator URL as compared: trimmed, no trailing slash, case folded."""
    return (url or "").strip().rstrip("/").casefold()


def candidate_key(company_id: str, url: str | None, first: str | None, last: str | None) -> str:
    """The stable key of a person: their Sales Navigator URL, else the account and their folded name."""
    identity = (
        f"url:{fold_url(url)}" if fold_url(url) else f"name:{company_id}:{fold_name(first)}|{fold_name(last)}"
    )
    return hashlib.sha256(identity.encode()).hexdigest()


@dataclass(frozen=True)
class AccountState:
    """What prospecting knows of one target company."""

    company_id: str
    searched_at: datetime | None
    finished: int
    skip_reason: str | None
    detail: str | None


@dataclass(frozen=True)
class Candidate:
    """One person prospecting meant to create at an account."""

    key: str
    company_id: str
    sales_navigator_url: str | None
    first_name: str | None
    last_name: str | None
    status: str
    contact_id: str | None
    search: str | None
    claimed_at: datetime
    created_at: datetime | None


class Prospects:
    """Target accounts searched and the people claimed or created at them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ---------------------------------------------------------------- accounts
    def accounts(self, company_ids: Iterable[str]) -> dict[str, AccountState]:
        """The state of these companies (those prospecting never saw are left out)."""
        with self._db.read() as conn:
            rows = list(rows_in(conn, prospect_accounts, "company_id", company_ids))
        return {r.company_id: record_from_row(AccountState, r) for r in rows}

    def unfinished_accounts(self) -> list[str]:
        """Companies a run started and did not finish (cut short by `max_new_per_run`), oldest first."""
        query = (
            select(prospect_accounts.c.company_id)
            .where(prospect_accounts.c.finished == 0, prospect_accounts.c.skip_reason.is_(None))
            .order_by(prospect_accounts.c.searched_at, prospect_accounts.c.company_id)
        )
        with self._db.read() as conn:
            return [str(c) for c in conn.execute(query).scalars()]

    def record_account(
        self, company_id: str, *, finished: bool, skip_reason: str | None = None, detail: str | None = None
    ) -> None:
        """Record a search of this company now: finished or cut short, or skipped with its reason."""
        now = self._db.clock()
        values = {
            "searched_at": now,
            "finished": 1 if finished else 0,
            "skip_reason": skip_reason,
            "detail": clip(detail),
            "updated_at": now,
        }
        stmt = self._db.insert(prospect_accounts).values(company_id=company_id, **values)
        with self._db.write() as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["company_id"], set_=values))

    # ---------------------------------------------------------------- candidates
    def candidates(self, keys: Iterable[str]) -> dict[str, Candidate]:
        """The candidates with these keys (claimed or created)."""
        with self._db.read() as conn:
            rows = list(rows_in(conn, prospect_candidates, "key", keys))
        return {r.key: record_from_row(Candidate, r) for r in rows}

    def claimed(self) -> list[Candidate]:
        """Every candidate whose create was (perhaps) sent and whose answer was never recorded."""
        query = select(prospect_candidates).where(prospect_candidates.c.status == CLAIMED)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(prospect_candidates.c.claimed_at)).all()
        return [record_from_row(Candidate, r) for r in rows]

    def claim(self, company_id: str, people: Sequence[Mapping[str, Any]], search: Mapping[str, Any]) -> None:
        """Record these people (`key`, `url`, `first`, `last`) as claimed, before their create is sent."""
        if not people:
            return
        now = self._db.clock()
        body = json.dumps(dict(search), sort_keys=True)
        rows = [
            {
                "key": p["key"],
                "company_id": company_id,
                "sales_navigator_url": p.get("url"),
                "first_name": p.get("first"),
                "last_name": p.get("last"),
                "status": CLAIMED,
                "contact_id": None,
                "search": body,
                "claimed_at": now,
                "created_at": None,
            }
            for p in people
        ]
        with self._db.write() as conn:
            conn.execute(self._db.insert(prospect_candidates).values(rows).on_conflict_do_nothing())

    def record_created(self, created: Mapping[str, str]) -> None:
        """These candidates (key -> HubSpot contact id) exist in HubSpot now."""
        now = self._db.clock()
        with self._db.write() as conn:
            for key, contact_id in created.items():
                conn.execute(
                    update(prospect_candidates)
                    .where(prospect_candidates.c.key == key)
                    .values(status=CREATED, contact_id=str(contact_id), created_at=now)
                )

    def release(self, keys: Sequence[str]) -> None:
        """Forget these claims: HubSpot created none of them (refused, or not found when looked for)."""
        with self._db.write() as conn:
            for chunk in chunked(unique(keys)):
                conn.execute(
                    delete(prospect_candidates).where(
                        prospect_candidates.c.key.in_(chunk), prospect_candidates.c.status == CLAIMED
                    )
                )

    def created_since(self, company_id: str, since: datetime) -> int:
        """How many people at this company the connector created (or claimed) since `since`."""
        query = select(func.count()).where(
            prospect_candidates.c.company_id == company_id, prospect_candidates.c.claimed_at >= since
        )
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def brought_in(self, contact_id: str) -> Candidate | None:
        """The candidate a created contact was, if prospecting created it (for `explain`)."""
        query = select(prospect_candidates).where(prospect_candidates.c.contact_id == str(contact_id))
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return record_from_row(Candidate, row) if row is not None else None

    def totals(self) -> dict[str, Any]:
        """Prospecting over all runs (`status`): accounts searched, skipped by reason; people by status."""
        accounts = select(prospect_accounts.c.skip_reason, func.count()).group_by(
            prospect_accounts.c.skip_reason
        )
        people = select(prospect_candidates.c.status, func.count()).group_by(prospect_candidates.c.status)
        with self._db.read() as conn:
            by_reason = {reason: int(n) for reason, n in conn.execute(accounts)}
            by_status = {str(status): int(n) for status, n in conn.execute(people)}
        return {
            "accounts_searched": by_reason.pop(None, 0),
            "accounts_skipped": {str(r): n for r, n in sorted(by_reason.items())},
            "people_created": by_status.get(CREATED, 0),
            "people_claimed": by_status.get(CLAIMED, 0),
        }
