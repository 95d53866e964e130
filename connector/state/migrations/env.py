"""Alembic environment of the state store.

`StateStore` runs it with an open connection in `config.attributes["connection"]`; a
developer may also run alembic against `sqlalchemy.url` or `CONNECTOR_STATE_URL`
(e.g. to autogenerate the next revision). No alembic.ini and no logging setup here:
the connector configures logging itself.
"""

from __future__ import annotations

import hashlib
import os

from alembic import context
from sqlalchemy import Connection, text

from connector.state.db import ENV_NAME, create_state_engine, parse_url
from connector.state.tables import Base

config = context.config
target_metadata = Base.metadata

# Two replicas starting at once on PostgreSQL: the second waits here, then finds the
# schema current. SQLite needs nothing: the migration runs in a BEGIN IMMEDIATE.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"saber-connector:migrations", digest_size=8).digest(), "big", signed=True
)


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or os.environ.get(
        ENV_NAME, "sqlite:///state/connector.db"
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        compare_type=True,
    )


def run_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=parse_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    """Run the migrations on `connection`, inside one transaction."""
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (given := config.attributes.get("connection")) is not None:
    run_online(given)
else:
    engine = create_state_engine(parse_url(_url()))
    try:
        with engine.connect() as conn:
            run_online(conn)
            conn.commit()
    finally:
        engine.dispose()
