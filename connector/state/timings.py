"""How long research and signals take at Saber here.

Saber publishes no processing times, so the connector learns them: each completion's
duration (as Saber timed it, from its own timestamps) is kept per kind, the recent ones are
read back by every run and replica, and the first look-up of new work is scheduled for when
this portal's research (or signals) usually finish (`connector.sync.polling`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select

from connector.state.database import Database
from connector.state.tables import timings

KEEP = 1000  # durations kept per kind; older ones are pruned as new ones arrive


class Timings:
    """Recent durations per kind (`research`, `contact_signal`, `company_signal`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_timings(self, kind: str, seconds: Sequence[float]) -> None:
        """Keep these durations (seconds, not negative) of `kind`; the oldest beyond `KEEP` go."""
        kept = [float(s) for s in seconds if s >= 0]
        if not kept:
            return
        now = self._db.clock()
        with self._db.write() as conn:
            conn.execute(insert(timings), [{"kind": kind, "seconds": s, "at": now} for s in kept])
            cutoff = (
                select(timings.c.id)
                .where(timings.c.kind == kind)
                .order_by(timings.c.id.desc())
                .offset(KEEP)
                .limit(1)
                .scalar_subquery()
            )
            conn.execute(delete(timings).where(timings.c.kind == kind, timings.c.id <= cutoff))

    def recent_timings(self, kind: str, n: int = 200) -> list[float]:
        """The `n` most recent durations of `kind`, newest first."""
        query = select(timings.c.seconds).where(timings.c.kind == kind).order_by(timings.c.id.desc()).limit(n)
        with self._db.read() as conn:
            return [float(s) for s in conn.execute(query).scalars()]
