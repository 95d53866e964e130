"""Named positions (how far contacts were pulled) and values shared by every process on the database.

Both live in the `cursors` table: a position is replaced as the run moves on; a shared
value (the webhook secret) is made once, and the first writer wins.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from connector.state.database import Database
from connector.state.tables import cursors


class Cursors:
    """Saved positions and shared values by name."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_cursor(self, name: str) -> str | None:
        """A saved position, or None before the first save."""
        with self._db.read() as conn:
            return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()

    def set_cursor(self, name: str, value: str) -> None:
        """Save a position (insert or replace), committed on return."""
        now = self._db.clock()
        stmt = self._db.insert(cursors).values(name=name, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[cursors.c.name], set_={"value": value, "updated_at": now}
        )
        with self._db.write() as conn:
            conn.execute(stmt)

    def shared_value(self, name: str, make: Callable[[], str]) -> str:
        """A value made once and shared by every process on this database: the first writer wins."""
        now = self._db.clock()
        stmt = self._db.insert(cursors).values(name=name, value=make(), updated_at=now)
        with self._db.write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[cursors.c.name]))
        value = self.get_cursor(name)
        assert value is not None
        return value
