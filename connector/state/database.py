"""The state database every repository works through: one engine, short transactions, plain failures.

Every `record_*` call runs one short transaction (`write`) and commits before it returns,
so a process killed right after `record_launch` still has the research id on disk. The
database is safe to share between threads: one engine (a thread-safe pool), one connection
per call, and on SQLite one writer at a time (a lock here, `BEGIN IMMEDIATE` across
processes). A database failure becomes one line naming `CONNECTOR_STATE_URL` with the
password masked (`guard`): a configuration error while opening, an outage mid-run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from connector.clock import utcnow
from connector.logs import scrub
from connector.state.db import (
    ENV_NAME,
    IMMEDIATE,
    StateConfigError,
    StateUnavailableError,
    create_state_engine,
    mask_url,
    needs_operator,
    probe_write,
)


class Database:
    """The engine, its transactions and the translation of its errors; shared by the repositories."""

    def __init__(self, url: URL, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.url = url
        self.clock = clock
        self._opening = False  # failures while opening are configuration errors (see `guard`)
        self.engine: Engine = create_state_engine(url)
        self.sqlite = self.engine.dialect.name == "sqlite"
        # SQLite has one writer at a time anyway: queue threads here rather than on busy_timeout.
        self._write_lock: AbstractContextManager[Any] = threading.RLock() if self.sqlite else nullcontext()

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def opening(self) -> Iterator[None]:
        """While the store opens, every database failure is the operator's to fix (exit 2).

        On any failure the engine is disposed before the error propagates.
        """
        self._opening = True
        try:
            yield
        except BaseException:
            self.dispose()
            raise
        finally:
            self._opening = False

    def probe_writes(self) -> None:
        """Write a row and roll it back: a database that can be read but not written fails now."""
        with self.guard(), self._write_lock, self.engine.connect() as conn:
            if self.sqlite:
                conn.execution_options(**{IMMEDIATE: True})
            probe_write(conn)

    def ping(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Database failures become one line naming `CONNECTOR_STATE_URL`, password masked.

        A `StateConfigError` (exit 2: the URL, the file, the server or the grants must be
        fixed) for any failure while the store opens, and later for failures that no retry
        can cure (a read-only file, a refused password, a missing grant). A
        `StateUnavailableError` (exit 3) for a database that worked and went away mid-run.
        Anything else is a bug and propagates as it is.
        """
        try:
            yield
        except DBAPIError as exc:
            if self._opening or needs_operator(exc):
                raise StateConfigError(self._unavailable(exc, config=True)) from exc
            if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
                raise StateUnavailableError(self._unavailable(exc, config=False)) from exc
            raise

    def _unavailable(self, exc: DBAPIError, *, config: bool) -> str:
        """The one line for a database failure: what failed, the masked URL, the driver's reason, the fix."""
        reason = next(
            (line.strip() for line in str(exc.orig).splitlines() if line.strip()), type(exc).__name__
        )
        reason = scrub(reason)  # a URL's password and the registered secrets; nothing else
        where = f"the state database {mask_url(self.url)}"
        if not config:
            return f"{ENV_NAME}: {where} became unavailable: {reason}"
        if self.sqlite:
            fix = f"make its directory and file writable, or point {ENV_NAME} elsewhere"
        else:
            fix = f"check the server, the user and its grants, and the database that {ENV_NAME} names"
        verb = "open and write" if self._opening else "write"
        return f"{ENV_NAME}: cannot {verb} {where}: {reason} ({fix})"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading, its failures translated."""
        with self.guard(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, committed on exit (rolled back on error)."""
        with self.guard(), self._write_lock, self.engine.connect() as conn:
            if self.sqlite:
                conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                yield conn

    def insert(self, table: Table) -> Any:
        """The backend's INSERT, which has ON CONFLICT (an upsert or an insert-if-missing)."""
        return (sqlite.insert if self.sqlite else postgresql.insert)(table)
