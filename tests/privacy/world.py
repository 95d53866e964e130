"""A synced sandbox for the privacy tests: who was researched, their personal values, byte searches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select

from connector.sandbox.runner import RunningSandbox
from connector.settings import Settings
from connector.state import StateStore
from tests.sync_harness import prepare, settings_for, sync, write_mapping


@dataclass(frozen=True)
class Person:
    """A researched contact and the values Saber found about them (what must not linger)."""

    contact_id: str
    email: str
    phone: str
    summary: str

    def values(self) -> tuple[str, str, str]:
        return (self.email, self.phone, self.summary)


def synced(box: RunningSandbox, tmp_path: Path, **extra: Any) -> Settings:
    """Settings for this sandbox (the example mapping), after one sync that waited for every result."""
    settings = settings_for(box, tmp_path, write_mapping(tmp_path), **extra)
    prepare(settings)
    summary = sync(settings, wait_seconds=30)
    assert summary.research.get("completed", 0) > 0, summary.render()
    return settings


def people(box: RunningSandbox) -> list[Person]:
    """Every contact Saber completed research for, with its email, phone and a stretch of its summary."""
    found = []
    for research in box.saber.all_research():
        result = research.get("result") or {}
        if research.get("status") == "completed" and result.get("email") and result.get("phone"):
            summary = str(result["summary"])[:40]  # a plain-ASCII stretch, as stored (JSON or not)
            found.append(Person(str(research["externalId"]), result["email"], result["phone"], summary))
    assert found, "the sandbox completed no research with an email and a phone"
    return sorted(found, key=lambda p: int(p.contact_id))


def sqlite_bytes(settings: Settings) -> bytes:
    """The SQLite state file and its WAL (and rollback journal), as bytes."""
    path = Path(settings.connector_state_url.removeprefix("sqlite:///"))
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def traces_in_file(settings: Settings, values: Sequence[str]) -> list[str]:
    """The values a byte search of the SQLite state files finds."""
    data = sqlite_bytes(settings)
    return [v for v in values if v.encode() in data]


def table_rows(store: StateStore) -> Iterator[tuple[str, str]]:
    """Every row of every table in the state database, as (table, text of its values)."""
    meta = MetaData()
    meta.reflect(bind=store.engine)
    with store.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                yield table.name, " ".join(str(v) for v in row)


def traces_in_tables(store: StateStore, values: Sequence[str]) -> list[tuple[str, str]]:
    """(table, value) for each value some row of the state database still holds."""
    return [(t, v) for t, text in table_rows(store) for v in values if v in text]
