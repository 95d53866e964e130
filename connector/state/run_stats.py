"""The questions the status page and `status` ask of the history that `RunHistory` does not.

Credits spent per day, what waits and since when, and a few example records per error code:
each a read-only query over the state tables, so that a page load never loads whole run
histories (a collect cycle a minute is 43,200 runs a month).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select

from connector.state.database import Database
from connector.state.sql import check_aware
from connector.state.tables import contacts, errors, runs


@dataclass(frozen=True, slots=True)
class Waiting:
    """How many records wait for something, and since when the oldest has."""

    count: int
    oldest: datetime | None


class RunStats:
    """Read-only figures over runs, errors and contacts for the status report."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def credits_by_day(self, since: datetime) -> dict[date, int]:
        """Credits spent per UTC day by runs started since `since` (a sync's used, a linkedin run's held)."""
        check_aware(since)
        used = runs.c.counts["credits_used"].as_integer()
        held = runs.c.counts[("credits", "held")].as_integer()
        query = select(runs.c.started_at, used, held).where(
            runs.c.started_at >= since, or_(used > 0, held > 0)
        )
        days: dict[date, int] = {}
        with self._db.read() as conn:
            for started_at, sync_credits, linkedin_credits in conn.execute(query):
                day = started_at.date()
                days[day] = days.get(day, 0) + int(sync_credits or 0) + int(linkedin_credits or 0)
        return days

    def research_waiting(self) -> Waiting:
        """Research still processing at Saber, and when the oldest of it was launched."""
        query = select(func.count(), func.min(contacts.c.launched_at)).where(
            contacts.c.research_status == "processing", contacts.c.merged_into.is_(None)
        )
        with self._db.read() as conn:
            count, oldest = conn.execute(query).one()
        return Waiting(int(count), oldest)

    def writes_waiting(self) -> dict[str, Waiting]:
        """Results waiting to be written, by reason, each with the oldest one's last change."""
        query = (
            select(contacts.c.write_pending, func.count(), func.min(contacts.c.updated_at))
            .where(contacts.c.write_pending.is_not(None))
            .group_by(contacts.c.write_pending)
        )
        with self._db.read() as conn:
            return {str(reason): Waiting(int(n), oldest) for reason, n, oldest in conn.execute(query)}

    def error_examples(
        self, codes: Sequence[str], since: datetime, per_code: int = 3
    ) -> dict[str, list[str]]:
        """Up to `per_code` distinct record ids per error code logged since `since`, latest first."""
        check_aware(since)
        found: dict[str, list[str]] = {code: [] for code in codes}
        if not codes:
            return found
        latest = func.max(errors.c.id).label("latest")
        query = (
            select(errors.c.code, errors.c.contact_id, latest)
            .where(errors.c.at >= since, errors.c.code.in_(list(codes)), errors.c.contact_id.is_not(None))
            .group_by(errors.c.code, errors.c.contact_id)
            .order_by(latest.desc())
        )
        with self._db.read() as conn:
            for code, record_id, _ in conn.execute(query):
                if len(found[code]) < per_code:
                    found[code].append(str(record_id))
        return found
