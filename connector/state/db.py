"""Engine creation for the state store, from `CONNECTOR_STATE_URL`.

SQLite (the default) is a local file in WAL mode; PostgreSQL is for several replicas.
A malformed URL is a `ConfigError` (exit 2), and so is a database that cannot be opened,
migrated or written when the store opens (`StateConfigError`: the operator must fix
`CONNECTOR_STATE_URL`, the directory or the server before anything can run). A database
that worked and then goes away mid-run is a `StateUnavailableError` (exit 3): the next run
may well find it back. No message ever shows a password.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from connector.errors import ConfigError, ConnectorError
from connector.state.tables import cursors

ENV_NAME = "CONNECTOR_STATE_URL"
PG_DRIVER = "postgresql+psycopg"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10

# A connection execution option: the next BEGIN on SQLite is `BEGIN IMMEDIATE`, so that a
# read-modify-write transaction holds the write lock from its first statement and cannot
# fail with SQLITE_BUSY_SNAPSHOT when another process wrote in between.
IMMEDIATE = "connector_sqlite_immediate"
PROBE_CURSOR = "connector.write-probe"  # the row `probe_write` writes and rolls back

_PASSWORD_IN_URL = re.compile(r"(://[^:/?#@]*:)[^@/]*@")


class StateUnavailableError(ConnectorError):
    """The state database, which was working, could not be reached mid-run (exit code 3)."""

    exit_code = 3


class StateConfigError(StateUnavailableError, ConfigError):
    """The state database cannot be opened, migrated or written at start: a configuration error (exit 2).

    Still a `StateUnavailableError` (the database is unusable) for callers that catch that.
    """

    exit_code = 2


# Failures no retry can cure: the operator must fix the file, the grants or the URL.
_SQLITE_OPERATOR_ERRORS = (
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
    "SQLITE_AUTH",
    "SQLITE_NOTADB",
)
_PG_OPERATOR_SQLSTATES = (
    "42501",  # insufficient_privilege
    "25006",  # read_only_sql_transaction (a standby, or default_transaction_read_only)
    "28",  # invalid authorization: a refused user or password
    "3D000",  # invalid_catalog_name: no such database
)


def needs_operator(exc: DBAPIError) -> bool:
    """True for a database error that is a configuration problem whenever it happens (exit 2).

    A read-only SQLite file, a missing grant, a refused password, a database that does
    not exist: no retry and no later run can cure these until someone fixes them.
    """
    orig = exc.orig
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    if name.startswith(_SQLITE_OPERATOR_ERRORS):
        return True
    sqlstate = str(getattr(orig, "sqlstate", "") or "")
    return bool(sqlstate) and sqlstate.startswith(_PG_OPERATOR_SQLSTATES)


def state_secret(url: URL) -> str | None:
    """The password to mask in messages, unless it is also the user or database name (shown anyway)."""
    password = url.password
    if not password:
        return None
    password = str(password)
    return None if password in (url.username, url.database) else password


def probe_write(conn: Connection) -> None:
    """Write a row (a cursor no one reads) and roll it back: proves the database takes writes."""
    with conn.begin() as transaction:
        conn.execute(insert(cursors).values(name=PROBE_CURSOR, value="probe", updated_at=datetime.now(UTC)))
        transaction.rollback()


def mask_url(raw: str | URL) -> str:
    """The URL with any password replaced by `***`, safe for messages and logs."""
    if isinstance(raw, URL):
        return raw.render_as_string(hide_password=True)
    return _PASSWORD_IN_URL.sub(r"\1***@", raw)


def parse_url(raw: str) -> URL:
    """Validate the URL and point PostgreSQL at psycopg 3; a `ConfigError` naming the setting."""
    text = (raw or "").strip()
    if not text:
        raise ConfigError(f"{ENV_NAME} is empty (example: sqlite:///state/connector.db)")
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"{ENV_NAME} is not a valid database URL: {mask_url(text)} ({exc})") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise ConfigError(
                f"{ENV_NAME}: driver {driver!r} is not installed; use {PG_DRIVER}:// ({mask_url(url)})"
            )
        return url.set(drivername=PG_DRIVER)
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigError(f"{ENV_NAME}: driver {driver!r} is not supported; use sqlite:/// ({url})")
        return url
    raise ConfigError(
        f"{ENV_NAME}: unsupported database {backend!r} in {mask_url(url)}"
        " (use sqlite:///path/to/file.db or postgresql://user@host/db)"
    )


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory or URI-style database."""
    database = url.database or ""
    if not database or database == ":memory:" or url.query.get("uri") in ("true", "1"):
        return None
    return Path(database)


def create_state_engine(url: URL) -> Engine:
    """One engine for the whole process (the pool is thread-safe), tuned per backend."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return _postgres_engine(url)


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_file(url)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}, "json_serializer": _dumps}
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if isinstance(exc, FileExistsError | NotADirectoryError):
                why = "a file is in the way"
            raise StateConfigError(
                f"{ENV_NAME}: cannot create the directory {path.parent} for the state database: "
                f"{why} (create it, or point {ENV_NAME} at a writable place)"
            ) from None
    elif not url.query.get("uri"):
        kwargs["poolclass"] = StaticPool  # one shared in-memory database (tests, demos)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """Per-connection settings; the driver's own transaction handling is switched off.

    `synchronous=FULL`: in WAL mode NORMAL already survives a killed process, but a power
    loss or kernel crash may drop the last commits. The launch record is the only local
    pointer to research that cost credits, and the write rate is low, so one fsync per
    commit is worth it.
    """
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")  # deleted personal data is zeroed, not left in free pages
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    """Open transactions ourselves: deferred for reads, IMMEDIATE for writes."""
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return create_engine(
        url,
        connect_args=connect_args,
        json_serializer=_dumps,
        pool_pre_ping=True,  # a replica outlives server restarts and idle disconnects
        pool_size=10,
        max_overflow=20,
    )


def _dumps(value: Any) -> str:
    """JSON for the JSON columns; anything exotic (a datetime in run counts) becomes a string."""
    return json.dumps(value, default=str, separators=(",", ":"))
