"""Engine creation for the state store, from `CONNECTOR_STATE_URL`.

SQLite (the default) is a local file in WAL mode; PostgreSQL is for several replicas.
A malformed URL is a `ConfigError` (exit 2); a database that cannot be reached is a
`StateUnavailableError` (exit 3). Neither message ever shows a password.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from connector.errors import ConfigError, ConnectorError

ENV_NAME = "CONNECTOR_STATE_URL"
PG_DRIVER = "postgresql+psycopg"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10

# A connection execution option: the next BEGIN on SQLite is `BEGIN IMMEDIATE`, so that a
# read-modify-write transaction holds the write lock from its first statement and cannot
# fail with SQLITE_BUSY_SNAPSHOT when another process wrote in between.
IMMEDIATE = "connector_sqlite_immediate"

_PASSWORD_IN_URL = re.compile(r"(://[^:/?#@]*:)[^@/]*@")


class StateUnavailableError(ConnectorError):
    """The state database could not be reached or opened (exit code 3)."""

    exit_code = 3


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
            raise StateUnavailableError(
                f"{ENV_NAME}: cannot create the directory of {path}: {exc.strerror or exc}"
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
