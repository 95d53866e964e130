"""The state store every test of this folder that asks for `store` gets: on SQLite, and on PostgreSQL when it is up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.state import StateStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = (
        f"sqlite:///{tmp_path / 'state.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    opened = StateStore(url)
    try:
        yield opened
    finally:
        opened.close()
