"""Cross-process run locks: one sync cycle per state database at a time.

PostgreSQL: a session advisory lock (per schema and name) on a connection held for the
duration. SQLite: an flock on `<db file>.<name>.lock`. Both are released by the server or
the kernel if the holder dies, so a SIGKILL never leaves a stale lock. An in-memory SQLite
database (or a system with no flock) is locked within this process only.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from connector.state.database import Database
from connector.state.db import sqlite_file

try:  # POSIX: the SQLite run lock is an flock the kernel drops when the holder dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock only excludes this process
    fcntl = None  # type: ignore[assignment]

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    digest = hashlib.blake2b(f"saber-connector:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def run_lock(db: Database, name: str = "sync") -> AbstractContextManager[bool]:
    """Try to become the only cycle running on this database; yields False if another holds it."""
    if not db.sqlite:
        return _advisory_lock(db, name)
    path = sqlite_file(db.url)
    if path is None or fcntl is None:
        return _process_lock(f"{id(db)}:{name}" if path is None else f"{path.resolve()}:{name}")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return _file_lock(path.with_name(f"{path.name}.{safe}.lock"))


@contextmanager
def _advisory_lock(db: Database, name: str) -> Iterator[bool]:
    with db.guard():
        conn = db.engine.connect()
    acquired = False
    key = 0
    try:
        with db.guard():
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            key = lock_key(f"{schema}:{name}")
            acquired = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
            )
            conn.commit()
        yield acquired
    finally:
        try:
            if acquired:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        except DBAPIError:
            conn.invalidate()  # the session (and with it the lock) is gone anyway
        finally:
            conn.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    acquired = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            acquired = True
        except BlockingIOError:
            pass
        if acquired:  # who holds it, for a human looking at the file
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
        yield acquired
    finally:
        if acquired:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def _process_lock(key: str) -> Iterator[bool]:
    with _PROCESS_LOCKS_GUARD:
        lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()
