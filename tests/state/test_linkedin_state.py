"""LinkedIn's state: jobs and scans planned once per key, prospects claimed then created, URLs uploaded once, results written once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from connector.state import JobRow, ProspectRow, ResultRow, StateStore
from connector.state.tables import linkedin_jobs, linkedin_prospects

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand, so that what is newest is never a matter of microseconds."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(store: StateStore) -> Clock:
    """The store's clock, set to T0 and moved by the test."""
    moved = Clock()
    store.db.clock = moved
    return moved


def plan(store: StateStore, key: str, name: str = "leaders", kind: str = "job", credits: int = 200) -> JobRow:
    return store.linkedin.plan_job(
        key, kind, name, {"source": "sales_navigator", "savedSearchId": "3318"}, credits
    )


# ---------------------------------------------------------------------- jobs
def test_plan_job_returns_the_row_already_under_its_key_unchanged(store: StateStore, clock: Clock) -> None:
    """Planning the same key twice gives back the first row (its request and credits), and stores one row."""
    first = plan(store, "sc-li-a", credits=200)
    clock.tick()
    again = store.linkedin.plan_job("sc-li-a", "job", "other", {"changed": True}, 999, "aud-9")
    assert again == first
    assert first.status == "planned" and first.planned_at == T0 and first.audience_id is None
    assert first.request == {"source": "sales_navigator", "savedSearchId": "3318"} and first.credits == 200
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(linkedin_jobs)).scalar_one() == 1


def test_two_replicas_planning_the_same_key_at_once_get_the_same_row(store: StateStore) -> None:
    """Racing `plan_job` and `plan_scan` calls from two stores on one database all return one and the same row."""
    other = StateStore(store.url.render_as_string(hide_password=False))
    barrier = threading.Barrier(8)
    jobs: list[JobRow] = []
    scans: list[str] = []

    def race(replica: StateStore, i: int) -> None:
        barrier.wait()
        jobs.append(replica.linkedin.plan_job("sc-li-race", "job", f"name-{i}", {"i": i}, i))
        scans.append(replica.linkedin.plan_scan("sc-li-scan", f"scan-{i}", "spec", "aud").name)

    try:
        threads = [threading.Thread(target=race, args=(store if i % 2 else other, i)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        other.close()
    assert len(jobs) == 8 and len({(j.name, j.credits, j.planned_at) for j in jobs}) == 1
    assert len(scans) == 8 and len(set(scans)) == 1
    assert [j.key for j in store.linkedin.jobs()] == ["sc-li-race"]


def test_a_job_moves_from_planned_to_imported_and_leaves_the_open_list(
    store: StateStore, clock: Clock
) -> None:
    """Audience, start, statuses and import are recorded; a completed job stays open until imported, then stays imported."""
    li = store.linkedin
    plan(store, "k1")
    li.set_audience("k1", "aud-1")
    started = clock.tick()
    li.job_started("k1", "job-1", "queued")
    row = li.open_jobs()[0]
    assert (row.audience_id, row.job_id, row.status, row.started_at, row.finished_at) == (
        "aud-1",
        "job-1",
        "queued",
        started,
        None,
    )
    clock.tick()
    li.job_started("k1", "job-1", "running")  # a replayed start keeps the first start time
    finished = clock.tick()
    li.job_status("k1", "completed")
    row = li.open_jobs("job")[0]
    assert row.status == "completed" and row.started_at == started and row.finished_at == finished
    imported = clock.tick()
    li.job_imported("k1")
    assert li.open_jobs() == []
    li.job_status("k1", "completed")  # a late status read does not send it back to import
    last = li.last_job("job", "leaders")
    assert last is not None and last.status == "imported" and last.imported_at == imported


def test_refused_and_failed_jobs_are_closed_with_their_error_and_kinds_are_kept_apart(
    store: StateStore, clock: Clock
) -> None:
    """A refused or failed job keeps its error and finish time and is not open; `open_jobs(kind)` lists that kind only."""
    li = store.linkedin
    plan(store, "refused")
    plan(store, "failed")
    plan(store, "upload", name="hiring_signals", kind="upload", credits=3)
    clock.tick()
    li.job_status("refused", "refused", "402 INSUFFICIENT_CREDITS")
    li.job_started("failed", "job-2", "failed")
    assert [j.key for j in li.open_jobs()] == ["upload"]
    assert li.open_jobs("job") == []
    rows = {j.key: j for j in li.jobs()}
    assert rows["refused"].error == "402 INSUFFICIENT_CREDITS" and rows["refused"].finished_at == clock.now
    assert rows["failed"].finished_at == clock.now and rows["failed"].job_id == "job-2"


def test_last_job_is_the_newest_of_its_kind_and_name_and_jobs_lists_newest_first(
    store: StateStore, clock: Clock
) -> None:
    """`last_job` picks the newest planned of that kind and name; `jobs(limit)` gives the newest first."""
    li = store.linkedin
    assert li.last_job("job", "leaders") is None
    plan(store, "old")
    clock.tick()
    plan(store, "new")
    clock.tick()
    plan(store, "other", name="others")
    clock.tick()
    plan(store, "upload", name="leaders", kind="upload")
    last = li.last_job("job", "leaders")
    assert last is not None and last.key == "new"
    assert [j.key for j in li.jobs(limit=3)] == ["upload", "other", "new"]


# ---------------------------------------------------------------------- prospects
def person(pid: str, key: str = "", **fields: str | None) -> ProspectRow:
    return ProspectRow(
        pid, key=key, first_name=fields.get("first"), last_name=fields.get("last"), job="leaders"
    )


def test_claims_become_created_or_are_released_and_a_claim_never_overwrites_a_created_row(
    store: StateStore, clock: Clock
) -> None:
    """A claim is kept until created (with its contact) or released; claiming a created prospect changes nothing."""
    li = store.linkedin
    li.claim([person("p1", "linkedin.com/in/ann", first="Ann"), person("p2", first="Bob")])
    assert [p.prospect_id for p in li.claimed()] == ["p1", "p2"]
    li.record_created({"p1": "501"})
    li.release(["p1", "p2"])  # a created prospect is never released
    clock.tick()
    li.claim([person("p1", "linkedin.com/in/other", first="Zed")])
    found = li.prospects(["p1", "p2", "nobody"])
    assert list(found) == ["p1"]
    assert (found["p1"].status, found["p1"].contact_id, found["p1"].first_name) == ("created", "501", "Ann")
    assert found["p1"].key == "linkedin.com/in/ann" and found["p1"].seen_at == T0
    li.claim([person("p2", first="Bob")])
    assert [p.prospect_id for p in li.claimed()] == ["p2"]
    assert li.contacts_of(["p1", "p2"]) == {"p1": "501"}


def test_matched_and_uploaded_prospects_keep_a_created_contact_and_fill_what_was_unknown(
    store: StateStore,
) -> None:
    """`record_matched` and `record_uploaded` never demote a created prospect; new ones get their key and names."""
    li = store.linkedin
    li.claim([person("created", "linkedin.com/in/c")])
    li.record_created({"created": "1"})
    li.claim([person("claimed", "linkedin.com/in/d")])
    li.record_matched(
        {"created": "2", "claimed": "3", "new": "4"},
        "second_job",
        known=[ProspectRow("new", key="linkedin.com/in/n", first_name="Nia", company="Acme")],
    )
    rows = li.prospects(["created", "claimed", "new"])
    assert (rows["created"].status, rows["created"].contact_id, rows["created"].job) == (
        "created",
        "1",
        "leaders",
    )
    assert (rows["claimed"].status, rows["claimed"].contact_id, rows["claimed"].job) == (
        "matched",
        "3",
        "second_job",
    )
    assert (rows["new"].key, rows["new"].first_name, rows["new"].company) == (
        "linkedin.com/in/n",
        "Nia",
        "Acme",
    )
    li.record_uploaded(
        [
            ProspectRow("created", key="linkedin.com/in/c", contact_id="9"),
            ProspectRow("new", contact_id="9"),
            ProspectRow("up", key="linkedin.com/in/u", contact_id="7"),
        ]
    )
    rows = li.prospects(["created", "new", "up"])
    assert {p: (r.status, r.contact_id) for p, r in rows.items()} == {
        "created": ("created", "1"),
        "new": ("matched", "4"),
        "up": ("uploaded", "7"),
    }
    assert rows["new"].key == "linkedin.com/in/n"  # an empty key never erases a known one
    assert li.contacts_of(["created", "claimed", "new", "up"]) == {
        "created": "1",
        "claimed": "3",
        "new": "4",
        "up": "7",
    }


def test_prospects_are_found_by_key_and_by_contact_and_jobs_by_prospect(
    store: StateStore, clock: Clock
) -> None:
    """`prospects_by_key` ignores empty keys, `prospects_of_contact` lists a contact's prospects, `jobs_of_prospect` its jobs."""
    li = store.linkedin
    li.claim([person("p1", "linkedin.com/in/ann"), person("p2", ""), person("p3", "linkedin.com/in/cy")])
    li.record_created({"p1": "501", "p3": "501"})
    assert sorted(li.prospects_by_key(["linkedin.com/in/ann", "", "linkedin.com/in/none"])) == [
        "linkedin.com/in/ann"
    ]
    assert [p.prospect_id for p in li.prospects_of_contact("501")] == ["p1", "p3"]
    plan(store, "job-a")
    clock.tick()
    plan(store, "job-b")
    li.record_job_prospects("job-a", ["p1", "p2", "p1"])
    li.record_job_prospects("job-a", ["p1"])  # recorded again: still once
    li.record_job_prospects("job-b", ["p1"])
    assert [j.key for j in li.jobs_of_prospect("p1")] == ["job-a", "job-b"]
    assert li.totals()["prospects_imported"] == 2


def test_many_prospects_are_read_in_chunks(store: StateStore) -> None:
    """More ids than one IN list holds are claimed, read and released in chunks."""
    li = store.linkedin
    ids = [f"p{i:04d}" for i in range(1200)]
    li.claim([ProspectRow(p, key=f"linkedin.com/in/{p}") for p in ids])
    assert len(li.prospects(ids)) == 1200
    assert len(li.prospects_by_key([f"linkedin.com/in/{p}" for p in ids])) == 1200
    li.record_created({p: "1" for p in ids[:600]})
    assert len(li.contacts_of(ids)) == 600
    li.release(ids)
    assert len(li.prospects(ids)) == 600 and li.claimed() == []


# ---------------------------------------------------------------------- uploads
def test_each_url_is_uploaded_once_unless_its_upload_was_refused(store: StateStore) -> None:
    """A URL recorded in an upload stays with it; only a refused (never paid) upload's URLs may be sent again."""
    li = store.linkedin
    plan(store, "up-1", name="hiring_signals", kind="upload", credits=2)
    li.record_uploads(
        "up-1", {"linkedin.com/in/a": ("https://linkedin.com/in/a", "1"), "linkedin.com/in/b": ("u", "2")}
    )
    assert li.uploaded(["linkedin.com/in/a", "linkedin.com/in/b", "linkedin.com/in/c"]) == {
        "linkedin.com/in/a",
        "linkedin.com/in/b",
    }
    plan(store, "up-2", name="hiring_signals", kind="upload", credits=1)
    li.record_uploads("up-2", {"linkedin.com/in/a": ("https://linkedin.com/in/a", "1")})
    with store.engine.connect() as conn:
        owner = conn.execute(
            text("SELECT job_key FROM linkedin_uploads WHERE key = 'linkedin.com/in/a'")
        ).scalar()
    assert owner == "up-1"
    li.job_status("up-1", "refused", "402 INSUFFICIENT_CREDITS")
    assert li.uploaded(["linkedin.com/in/a", "linkedin.com/in/b"]) == set()
    li.record_uploads("up-2", {"linkedin.com/in/a": ("https://linkedin.com/in/a", "1")})
    assert li.uploaded(["linkedin.com/in/a", "linkedin.com/in/b"]) == {"linkedin.com/in/a"}


# ---------------------------------------------------------------------- scans
def test_a_scan_is_planned_once_followed_and_collected(store: StateStore, clock: Clock) -> None:
    """`plan_scan` is idempotent; a completed scan stays open until collected; `last_scan` and `scans` see the newest."""
    li = store.linkedin
    first = li.plan_scan("s1", "hiring_signals", "spec", "aud-1")
    assert li.plan_scan("s1", "other", "x", "y") == first and first.status == "planned"
    started = clock.tick()
    li.scan_started("s1", "scan-1", "queued")
    li.scan_status("s1", "running")
    finished = clock.tick()
    li.scan_status("s1", "completed")
    (open_scan,) = li.open_scans()
    assert (open_scan.scan_id, open_scan.started_at, open_scan.finished_at) == ("scan-1", started, finished)
    collected = clock.tick()
    li.scan_collected("s1")
    li.scan_status("s1", "completed")  # a late status read does not reopen a collected scan
    assert li.open_scans() == []
    clock.tick()
    li.plan_scan("s2", "hiring_signals", "spec", "aud-1")
    li.scan_status("s2", "refused", "403 prospecting:read")
    assert li.open_scans() == []
    last = li.last_scan("hiring_signals")
    assert last is not None and last.key == "s2" and last.error == "403 prospecting:read"
    old = li.scans()[1]
    assert old.key == "s1" and old.status == "collected" and old.collected_at == collected
    assert li.last_scan("none") is None


# ---------------------------------------------------------------------- results
def test_results_are_pending_until_evaluated_and_written_as_they_are(store: StateStore, clock: Clock) -> None:
    """Pending results and evaluated ones not yet written are due; a written one is due again only when its values change."""
    li = store.linkedin
    li.save_results(
        [
            ResultRow("hiring", "p1", "501", "pending"),
            ResultRow("hiring", "p2", "502", "evaluated", {"saber_scan_items": 2, "top": "Hiring"}, "h2"),
            ResultRow("other", "p1", "501", "evaluated", {"saber_scan_items": 0}, "h0"),
        ]
    )
    assert [(r.prospect_id, r.status) for r in li.pending_results("hiring")] == [
        ("p1", "pending"),
        ("p2", "evaluated"),
    ]
    li.results_written("hiring", {"p2": "h2"})
    assert [r.prospect_id for r in li.pending_results("hiring")] == ["p1"]
    clock.tick()
    li.save_results([ResultRow("hiring", "p1", None, "evaluated", {"saber_scan_items": 0}, "h0")])
    li.save_results(
        [ResultRow("hiring", "p2", "502", "evaluated", {"saber_scan_items": 2, "top": "Hiring"}, "h2")]
    )
    assert [(r.prospect_id, r.contact_id) for r in li.pending_results("hiring")] == [("p1", "501")]
    li.save_results([ResultRow("hiring", "p2", "502", "evaluated", {"saber_scan_items": 3}, "h3")])
    due = {r.prospect_id: r for r in li.pending_results("hiring")}
    assert due["p2"].written_hash == "h2" and due["p2"].values == {"saber_scan_items": 3}
    assert due["p1"].read_at == clock.now
    mine = li.results_of_contact("501")
    assert [(r.scan, r.prospect_id) for r in mine] == [("hiring", "p1"), ("other", "p1")]


# ---------------------------------------------------------------------- totals
def test_totals_count_jobs_scans_people_uploads_results_and_credits(store: StateStore) -> None:
    """`totals` counts by status and sums the credits of the jobs that were started."""
    li = store.linkedin
    plan(store, "j1", credits=200)
    plan(store, "j2", credits=100)
    plan(store, "u1", name="hiring", kind="upload", credits=2)
    li.job_started("j1", "job-1", "completed")
    li.job_started("u1", "job-u", "running")
    li.job_status("j2", "refused", "402")
    li.record_uploads("u1", {"linkedin.com/in/a": ("a", "1"), "linkedin.com/in/b": ("b", "2")})
    li.claim([ProspectRow("p1"), ProspectRow("p2"), ProspectRow("p3")])
    li.record_created({"p1": "1"})
    li.record_matched({"p2": "2"}, "leaders")
    li.record_job_prospects("j1", ["p1", "p2"])
    li.plan_scan("s1", "hiring", "spec", "aud")
    li.save_results(
        [ResultRow("hiring", "p1", "1", "evaluated", {}, "h"), ResultRow("hiring", "p2", "2", "pending")]
    )
    li.results_written("hiring", {"p1": "h"})
    totals = li.totals()
    assert totals["jobs"] == {"completed": 1, "refused": 1, "running": 1}
    assert totals["jobs_by_kind"] == {"job": {"completed": 1, "refused": 1}, "upload": {"running": 1}}
    assert totals["scans"] == {"planned": 1} and totals["results"] == {"evaluated": 1, "pending": 1}
    assert (totals["prospects_imported"], totals["contacts_created"], totals["contacts_matched"]) == (2, 1, 1)
    assert (totals["prospects_claimed"], totals["urls_uploaded"], totals["results_written"]) == (1, 2, 1)
    assert totals["credits_spent"] == 202


def test_an_imported_jobs_credits_are_its_prospects_at_their_price(store: StateStore) -> None:
    """An imported job costs its imported prospects (2 each with searchEmails), never more than was held."""
    li = store.linkedin
    li.plan_job("cheap", "job", "leaders", {"searchEmails": False}, 200)
    li.plan_job("dear", "job", "others", {"searchEmails": True}, 400)
    for key in ("cheap", "dear"):
        li.job_started(key, f"job-{key}", "queued")
        li.record_job_prospects(key, ["p1", "p2", "p3"])
        li.job_imported(key)
    assert li.totals()["credits_spent"] == 3 + 6


# ---------------------------------------------------------------------- migration
@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[str]:
    """A SQLite database at revision 0008 holding a prospecting candidate and a cursor."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from connector.state.store import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")
        conn.execute(
            text(
                "INSERT INTO prospect_candidates (key, company_id, first_name, status, contact_id, claimed_at)"
                " VALUES ('k1', '101', 'Ann', 'created', '501', '2026-12-01 12:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cursors (name, value, updated_at) VALUES ('kept', 'yes', '2026-12-01 12:00:00')"
            )
        )
    engine.dispose()
    yield url


def test_a_database_at_0008_upgrades_keeping_its_data_and_gains_the_linkedin_tables(
    old_database: str,
) -> None:
    """Opening a 0008 database migrates it to 0009: prospecting's rows and cursors stay, LinkedIn's tables work."""
    store = StateStore(old_database)
    try:
        assert store.schema_upgraded is True
        assert store.prospects.candidates(["k1"])["k1"].contact_id == "501"
        assert store.get_cursor("kept") == "yes"
        store.linkedin.claim([ProspectRow("p1", key="linkedin.com/in/ann")])
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(linkedin_prospects)).scalar_one() == 1
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0009"
    finally:
        store.close()
