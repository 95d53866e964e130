"""The state's typed records: stored signals and run counts read back, rows copied by field name, one
repository per aggregate composed over one database (SQLite, a temp file: the SQL is covered per
backend in `test_state_store.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from connector.state import CompanyState, ContactState, RunCounts, StateStore, StoredSignal
from connector.state.signal_asks import AskSpec
from connector.state.tables import companies, contacts, signal_asks


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore(f"sqlite:///{tmp_path / 'connector.db'}")
    yield opened
    opened.close()


def test_stored_signal_decodes_what_record_signal_keeps(store: StateStore) -> None:
    """A kept answer reads back as a StoredSignal: Saber's JSON, its target and the inputs it answered."""
    store.record_signal("c1", "k8s", {"signal": {"answer": True}, "target": "acme.com"}, "fp1")
    state = store.get("c1")
    assert state is not None
    assert state.stored_signals() == {"k8s": StoredSignal({"answer": True}, "acme.com", "fp1")}


@pytest.mark.parametrize("raw", [None, "text", {}, {"signal": None}, {"signal": [1]}, {"target": "a.com"}])
def test_stored_signal_refuses_malformed_json(raw: object) -> None:
    """Anything without a signal object is no stored signal (it is asked again, not crashed on)."""
    assert StoredSignal.decode(raw) is None


def test_run_counts_typed_and_still_a_mapping(store: StateStore) -> None:
    """What `status` reads is typed; figures a run did not record are None; the JSON stays readable by key."""
    stored = {
        "contacts_seen": 3,
        "skipped": {"email missing": 2},
        "credits_used": 4,
        "api_calls": {"saber": {"GET": 2}},
        "companies": {},
        "extra": [1],
    }
    run = store.start_run()
    store.finish_run(run, outcome="ok", counts=stored)
    old = store.start_run()
    store.finish_run(old, outcome="ok", counts={"contacts_seen": 1})

    new_counts, old_counts = store.last_runs(2)[1].counts, store.last_runs(2)[0].counts
    assert isinstance(new_counts, RunCounts)
    assert (new_counts.contacts_seen, new_counts.credits_used, new_counts.skipped) == (
        3,
        4,
        {"email missing": 2},
    )
    assert new_counts.api_calls == {"saber": {"GET": 2}} and new_counts.companies == {}
    assert new_counts == stored and new_counts["extra"] == [1] and dict(new_counts) == stored
    assert (old_counts.credits_used, old_counts.companies, old_counts.skipped) == (None, None, None)
    assert RunCounts.from_json(None) == {} and RunCounts.from_json(None).contacts_seen == 0


def test_contact_state_copies_every_column_by_name(store: StateStore) -> None:
    """A fresh row reads back field by field: NULL counts, status and JSON as their defaults, the rest None."""
    store.record_skip("c1", "email missing")
    state = store.get("c1")
    assert state is not None
    defaults = {"research_status": "none", "check_count": 0, "failure_count": 0, "written": {}, "signals": {}}
    expected = {f.name: defaults.get(f.name) for f in fields(ContactState)}
    expected.update(contact_id="c1", skip_reason="email missing")
    assert state == ContactState(**expected)


def test_records_name_their_columns() -> None:
    """Every field of a record copied from a row is a column of its table (the copy is by name)."""
    for record, table in ((ContactState, contacts), (CompanyState, companies), (AskSpec, signal_asks)):
        assert {f.name for f in fields(record)} <= set(table.c.keys()), record
