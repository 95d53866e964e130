"""BatchWriter against the HubSpot sandbox over real HTTP: batches of at most 100, hashes of
what landed stored, failures recorded per contact and property, the valid rest written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connector.errors import RecordFailure
from connector.hubspot import HubSpotAdapter
from connector.hubspot.limits import MAX_BATCH as BATCH_SIZE
from connector.mapping import value_hash
from connector.sandbox.hubspot import HubSpotSandbox
from connector.state import StateStore
from connector.sync.effects import FailureLog
from connector.sync.summary import RunSummary
from connector.sync.writer import BatchWriter
from tests.hubspot_fixtures import running, statuses

UPDATE = "contacts_batch_update"


@pytest.fixture
def box() -> Iterator[HubSpotSandbox]:
    """A 250-contact portal with the typed properties the connector writes."""
    with running(contacts=250, seed=5) as sandbox:
        sandbox.define_property("saber_summary", "string")
        sandbox.define_property("saber_confidence", "number")
        sandbox.define_property("saber_seniority", "enumeration", "select", options=["vp", "director"])
        yield sandbox


@pytest.fixture
def store() -> Iterator[StateStore]:
    with StateStore("sqlite://") as s:
        yield s


@pytest.fixture
def summary() -> RunSummary:
    return RunSummary(started_at=datetime.now(UTC))


@pytest.fixture
def writer(adapter: HubSpotAdapter, store: StateStore, summary: RunSummary) -> BatchWriter:
    failures = FailureLog(summary, store)
    failures.run_id = store.start_run()
    return BatchWriter(adapter, store, summary, failures.fail)


def hashes(changes: dict[str, str]) -> dict[str, str]:
    return {prop: value_hash(value) for prop, value in changes.items()}


def written(store: StateStore, contact_id: str) -> dict[str, str]:
    state = store.get(contact_id)
    return {} if state is None else state.written


def test_a_batch_is_sent_once_100_contacts_are_queued(
    box: HubSpotSandbox, writer: BatchWriter, store: StateStore, summary: RunSummary
) -> None:
    """add() sends nothing for 99 contacts and sends exactly one call of 100 on the 100th."""
    ids = box.contact_ids()[:BATCH_SIZE]
    for cid in ids[:-1]:
        writer.add(cid, {"saber_summary": f"S{cid}"})
    assert box.count(UPDATE) == 0
    assert written(store, ids[0]) == {}
    writer.add(ids[-1], {"saber_summary": f"S{ids[-1]}"})
    assert [len(r.body["inputs"]) for r in box.requests_to(UPDATE)] == [100]
    assert all(box.contact(cid)["saber_summary"] == f"S{cid}" for cid in ids)
    assert all(written(store, cid) == hashes({"saber_summary": f"S{cid}"}) for cid in ids)
    writer.flush()  # nothing left queued: no further call
    assert box.count(UPDATE) == 1
    assert (summary.contacts_written, summary.properties_written) == (100, 100)


def test_more_than_100_contacts_go_in_calls_of_at_most_100_and_every_hash_is_stored(
    box: HubSpotSandbox, writer: BatchWriter, store: StateStore, summary: RunSummary
) -> None:
    """250 contacts are written in calls of 100, 100 and 50; each landed value's hash is stored."""
    ids = box.contact_ids()
    assert len(ids) == 250
    changes = {
        cid: {"saber_summary": f"Summary of {cid}", "saber_confidence": str(int(cid) % 7)} for cid in ids
    }
    for cid in ids:
        writer.add(cid, changes[cid])
    writer.flush()
    sizes = [len(r.body["inputs"]) for r in box.requests_to(UPDATE)]
    assert sizes == [100, 100, 50]
    assert sorted(
        cid for r in box.requests_to(UPDATE) for cid in (i["id"] for i in r.body["inputs"])
    ) == sorted(ids)
    for cid in ids:
        row = box.contact(cid)
        assert (row["saber_summary"], row["saber_confidence"]) == (
            changes[cid]["saber_summary"],
            str(int(cid) % 7),
        )
        assert written(store, cid) == hashes(changes[cid])
    assert (summary.contacts_written, summary.properties_written) == (250, 500)
    assert summary.failures == []


def test_changes_for_one_contact_are_merged_and_empty_ones_ignored(
    box: HubSpotSandbox, writer: BatchWriter, store: StateStore, summary: RunSummary
) -> None:
    """Two add() calls for one contact go out as one input; an empty change set queues nothing."""
    a, b = box.contact_ids()[:2]
    writer.add(a, {"saber_summary": "first"})
    writer.add(a, {"saber_confidence": "3", "saber_summary": "second"})
    writer.add(b, {})
    writer.flush()
    (request,) = box.requests_to(UPDATE)
    assert request.body["inputs"] == [
        {"id": a, "properties": {"saber_summary": "second", "saber_confidence": "3"}}
    ]
    assert written(store, a) == hashes({"saber_summary": "second", "saber_confidence": "3"})
    assert store.get(b) is None
    writer.flush()
    assert box.count(UPDATE) == 1  # an empty queue sends nothing
    assert summary.contacts_written == 1


def test_stored_hashes_merge_with_earlier_writes(
    box: HubSpotSandbox, writer: BatchWriter, store: StateStore
) -> None:
    """A later batch updates the hashes it wrote and keeps those of properties it did not touch."""
    cid = box.contact_ids()[0]
    writer.add(cid, {"saber_summary": "old", "saber_seniority": "vp"})
    writer.flush()
    writer.add(cid, {"saber_summary": "new"})
    writer.flush()
    assert written(store, cid) == hashes({"saber_summary": "new", "saber_seniority": "vp"})


@pytest.mark.parametrize(
    ("prop", "bad", "code"),
    [("saber_seniority", "c_level", "INVALID_OPTION"), ("saber_confidence", "very high", "INVALID_LONG")],
)
def test_one_invalid_value_fails_alone_and_every_other_value_lands(
    box: HubSpotSandbox,
    writer: BatchWriter,
    store: StateStore,
    summary: RunSummary,
    prop: str,
    bad: str,
    code: str,
) -> None:
    """HubSpot's whole-batch 400 for one bad value: that (contact, property) is the only failure, the rest is written."""
    ids = box.contact_ids()[:5]
    culprit = ids[2]
    good = {"saber_seniority": "director", "saber_confidence": "0.5"}
    changes = {cid: {"saber_summary": f"S{cid}", prop: good[prop]} for cid in ids}
    changes[culprit][prop] = bad
    for cid in ids:
        writer.add(cid, changes[cid])
    writer.flush()
    assert statuses(box, UPDATE)[0] == 400  # the whole batch was refused once
    assert statuses(box, UPDATE)[-1] == 200
    assert [(f.contact_id, f.property, f.code) for f in summary.failures] == [(culprit, prop, code)]
    for cid in ids:
        row = box.contact(cid)
        assert row["saber_summary"] == f"S{cid}"
        if cid == culprit:
            assert row.get(prop) is None
            assert written(store, cid) == hashes({"saber_summary": f"S{cid}"})  # not the refused value
        else:
            assert row[prop] == good[prop]
            assert written(store, cid) == hashes(changes[cid])
    state = store.get(culprit)
    assert state is not None and state.last_error is not None
    assert state.last_error.startswith(f"{code} ({prop}): ")
    assert [(c, n) for c, n, _ in store.common_errors()] == [(code, 1)]
    others = store.get_many([cid for cid in ids if cid != culprit])
    assert len(others) == 4 and all(s.last_error is None for s in others.values())
    assert (summary.contacts_written, summary.properties_written) == (5, 9)


def test_a_contact_whose_only_value_is_refused_is_not_counted_written(
    box: HubSpotSandbox, writer: BatchWriter, store: StateStore, summary: RunSummary
) -> None:
    """When every value of a contact is refused, it gets a failure and no stored hash; the others land."""
    a, b, c = box.contact_ids()[:3]
    writer.add(a, {"saber_seniority": "vp"})
    writer.add(b, {"saber_seniority": "intern"})
    writer.add(c, {"saber_seniority": "director"})
    writer.flush()
    assert [(f.contact_id, f.property) for f in summary.failures] == [(b, "saber_seniority")]
    assert written(store, b) == {}
    assert (box.contact(a)["saber_seniority"], box.contact(c)["saber_seniority"]) == ("vp", "director")
    assert box.contact(b).get("saber_seniority") is None
    assert written(store, a) == hashes({"saber_seniority": "vp"})
    assert summary.contacts_written == 2


def test_a_207_for_an_unknown_contact_fails_it_and_writes_the_others(
    box: HubSpotSandbox, writer: BatchWriter, store: StateStore, summary: RunSummary
) -> None:
    """A contact HubSpot no longer has (207 OBJECT_NOT_FOUND) is recorded as failed; the others are written."""
    a, b = box.contact_ids()[:2]
    gone = "99999999"  # deleted or archived in HubSpot since it was pulled
    writer.add(a, {"saber_summary": "A"})
    writer.add(gone, {"saber_summary": "lost"})
    writer.add(b, {"saber_summary": "B"})
    writer.flush()
    assert statuses(box, UPDATE) == [207]
    assert len(summary.failures) == 1
    failure = summary.failures[0]
    assert isinstance(failure, RecordFailure)
    assert (failure.contact_id, failure.property, failure.code) == (gone, None, "OBJECT_NOT_FOUND")
    assert (box.contact(a)["saber_summary"], box.contact(b)["saber_summary"]) == ("A", "B")
    assert written(store, a) == hashes({"saber_summary": "A"})
    assert written(store, b) == hashes({"saber_summary": "B"})
    state = store.get(gone)
    assert state is not None and state.written == {}
    assert state.last_error is not None and state.last_error.startswith("OBJECT_NOT_FOUND: ")
    assert (summary.contacts_written, summary.properties_written) == (2, 2)
