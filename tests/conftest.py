"""Shared fixtures: quiet logs, and PostgreSQL schemas for tests that need the real server."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import URL

from connector.hubspot import HubSpotAdapter
from connector.logs import configure_logging
from connector.sandbox.hubspot import HubSpotSandbox
from connector.state import parse_url
from tests.hubspot_fixtures import fast_adapter


@pytest.fixture
def adapter(box: HubSpotSandbox) -> Iterator[HubSpotAdapter]:
    """An adapter with short waits against the module's own HubSpot sandbox `box`."""
    hs = fast_adapter(box)
    yield hs
    hs.close()


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    configure_logging("WARNING", "console")


PG_ENV = "CONNECTOR_TEST_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin_url() -> URL:
    """A PostgreSQL URL that connects; skips only when no server listens there."""
    url = parse_url(os.environ.get(PG_ENV, PG_DEFAULT))
    host, port = url.host or "127.0.0.1", url.port or 5432
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        pytest.skip(f"PostgreSQL not reachable at {host}:{port}: {exc}")
    candidates = [url]
    if PG_ENV not in os.environ:
        candidates.append(url.set(username="root"))
    problems = []
    for candidate in candidates:
        try:
            psycopg.connect(_conninfo(candidate), connect_timeout=5).close()
            return candidate
        except psycopg.OperationalError as exc:
            problems.append(f"{candidate.username}: {str(exc).strip()}")
    pytest.fail(f"PostgreSQL at {host}:{port} is up but refused every test user: {'; '.join(problems)}")


@pytest.fixture
def pg_url(pg_admin_url: URL) -> Iterator[str]:
    """A URL whose search_path is a brand-new schema, dropped afterwards."""
    schema = f"cst_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(pg_admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = pg_admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with psycopg.connect(_conninfo(pg_admin_url), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
