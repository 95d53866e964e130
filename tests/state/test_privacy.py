"""`store.privacy`: a person's data written through the repositories is found, forgotten without a trace
(SQLite file and WAL byte-searched, every PostgreSQL row read), expired by age; the paid marker stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from connector.state import StateStore
from connector.state.linkedin import ProspectRow
from connector.state.linkedin_scans import ResultRow
from connector.state.signal_asks import AnswerRecord, AskSpec
from connector.state.tables import Base

EMAIL = "Ada.Lovelace@Example.org"
PHONE = "+44 20 7946 0958"
SUMMARY = "Ada wrote the first program for the Analytical Engine"
PROFILE = "https://www.linkedin.com/in/ada-lovelace-1815"
SECRETS = (EMAIL.lower(), PHONE, SUMMARY, PROFILE, "Lovelace")
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _result(email: str, phone: str, summary: str) -> dict[str, object]:
    return {
        "inputs": {"email": email, "name": "Ada Lovelace"},
        "contact": {"email": email.lower(), "phone": phone, "title": "Countess"},
        "summary": summary,
    }


def _person(store: StateStore, cid: str = "c1", *, email: str = EMAIL, fp: str = "fp-ada") -> None:
    """Write one person's research, signals, error, prospecting and LinkedIn rows through the repositories."""
    store.record_launch(cid, external_id=cid, fingerprint=fp, research_id=f"r-{cid}", next_check_at=NOW)
    store.record_result(
        cid,
        research_id=f"r-{cid}",
        status="completed",
        result=_result(email, PHONE, SUMMARY),
        completed_at=NOW,
        error_code=None,
        error=None,
    )
    store.record_written(cid, {"phone": "5f2b0c-value-hash"})
    store.record_signal(cid, "is_author", {"signal": {"answer": SUMMARY}, "target": PROFILE}, fp)
    spec = AskSpec(f"k-{cid}", "contact", PROFILE, "Did Ada write a program?", "boolean")
    store.record_signal_answer(AnswerRecord(f"k-{cid}", spec, "asked", {"answer": SUMMARY}, NOW))
    run = store.start_run()
    store.record_error(run, cid, "hubspot_write", f"could not write phone {PHONE} for {EMAIL}")
    store.prospects.claim(
        "co1", [{"key": f"pk-{cid}", "url": PROFILE, "first": "Ada", "last": "Lovelace"}], {}
    )
    store.prospects.record_created({f"pk-{cid}": cid})
    store.linkedin.claim([ProspectRow(f"p-{cid}", first_name="Ada", last_name="Lovelace", company="Babbage")])
    store.linkedin.record_created({f"p-{cid}": cid})
    store.linkedin.save_results([ResultRow("scan1", f"p-{cid}", cid, "evaluated", {"bio": SUMMARY})])
    job = f"job-{cid}"
    store.linkedin.plan_job(job, "upload", "scan1", {"profileUrls": [PROFILE, "https://x/in/other"]}, 2)
    store.linkedin.record_uploads(job, {f"lk-{cid}": (PROFILE, cid)})
    store.linkedin.job_started(job, f"j-{cid}", "running")


def _rows_text(store: StateStore) -> str:
    """Every row of every state table as text: what a byte search of PostgreSQL's tables reads."""
    out = []
    with store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def _file_bytes(tmp_path: Path) -> bytes:
    """The SQLite file and its WAL (when there is one), as bytes."""
    data = b""
    for name in ("state.db", "state.db-wal"):
        path = tmp_path / name
        if path.exists():
            data += path.read_bytes()
    return data


def _leaks(store: StateStore, tmp_path: Path) -> list[str]:
    """The secrets still readable in the rows, and on SQLite in the file and WAL (any case for the email)."""
    rows = _rows_text(store).lower()
    found = [s for s in SECRETS if s.lower() in rows]
    if store.backend == "sqlite":
        data = _file_bytes(tmp_path).lower()
        found += [f"file:{s}" for s in SECRETS if s.lower().encode() in data]
    return found


def test_forget_leaves_no_trace_and_keeps_the_paid_marker(store: StateStore, tmp_path: Path) -> None:
    """After forget and scrub no email, phone or summary is in any row or file; research id and fingerprint stay."""
    _person(store)
    _person(store, "c2", email="grace@example.org", fp="fp-grace")
    assert set(_leaks(store, tmp_path)) >= {EMAIL.lower(), PHONE, SUMMARY}

    report = store.privacy.forget(["c1", "c2"])
    store.privacy.scrub_files()

    assert report.total > 0 and not report.dry_run
    assert {r.table for r in report.removed} >= {"contacts", "errors", "signal_answers", "linkedin_results"}
    assert _leaks(store, tmp_path) == []
    state = store.get("c1")
    assert state is not None
    assert (state.research_id, state.research_status, state.fingerprint) == ("r-c1", "completed", "fp-ada")
    assert (state.result, state.signals, state.written, state.last_error) == (None, {}, {}, None)
    assert store.same_inputs("fp-ada", other_than="c9") is not None  # a twin still pays nothing
    job = store.linkedin.last_job("upload", "scan1")
    assert job is not None and job.request == {"profileUrls": ["https://x/in/other"]}  # others' URLs stay
    assert store.privacy.counts() == {"forgotten": 2, "deletions_followed": 0, "results_expired": 0}


def test_forget_is_idempotent_and_counts_deletions_by_reason(store: StateStore) -> None:
    """A second forget removes nothing; archived and gone count as deletions followed."""
    _person(store)
    _person(store, "c2", fp="fp-2")
    assert store.privacy.forget(["c1"], reason="archived").total > 0
    again = store.privacy.forget(["c1"], reason="archived")
    assert (again.total, again.removed) == (0, ())
    assert store.privacy.forget(["c2", "missing"], reason="gone").contact_ids == ("c2", "missing")
    assert store.privacy.counts() == {"forgotten": 0, "deletions_followed": 2, "results_expired": 0}


def test_dry_run_reports_and_changes_nothing(store: StateStore) -> None:
    """A dry run lists what would go and leaves every row and total as it was."""
    _person(store)
    before = _rows_text(store)
    dry = store.privacy.forget(["c1"], dry_run=True)
    assert dry.dry_run and dry.total > 0
    assert _rows_text(store) == before
    assert store.privacy.counts()["forgotten"] == 0
    assert store.privacy.forget(["c1"]).removed == dry.removed


def test_contacts_with_email_matches_any_case(store: StateStore) -> None:
    """An email held in a stored result or its inputs finds the contact, whatever its case; a forgotten one is not found."""
    _person(store)
    _person(store, "c2", email="grace_hopper@example.org", fp="fp-2")
    assert store.privacy.contacts_with_email("ADA.LOVELACE@example.ORG") == ["c1"]
    assert store.privacy.contacts_with_email("grace_hopper@example.org") == ["c2"]
    assert store.privacy.contacts_with_email("grace%hopper@example.org") == []
    assert store.privacy.contacts_with_email("hopper@example.org") == []  # part of another address
    assert store.privacy.contacts_with_email("grace_hopper@example.or") == []
    store.privacy.forget(["c1"])
    assert store.privacy.contacts_with_email(EMAIL) == []


def test_known_contacts_pages_by_key_and_drops_the_forgotten(store: StateStore) -> None:
    """Every contact holding personal data is listed once, in keyset pages; a forgotten one is not."""
    for cid in ("c1", "c2", "c3", "c4"):
        _person(store, cid, fp=f"fp-{cid}")
    store.record_error(None, "c5", "skipped", "no email for Ada")  # an error alone is personal
    assert store.privacy.known_contacts(None, 2) == ["c1", "c2"]
    assert store.privacy.known_contacts("c2", 10) == ["c3", "c4", "c5"]
    store.privacy.forget(["c3", "c5"])
    assert store.privacy.known_contacts(None, 10) == ["c1", "c2", "c4"]


def test_expire_by_age_spares_the_recently_researched(store: StateStore) -> None:
    """Results older than the cut-off, not researched since, lose their personal fields; newer ones stay."""
    _person(store, "old")
    store.record_skip("skipped", "invalid_inputs: email missing")  # a skip is no result: not expired
    store.db.clock = lambda: NOW + timedelta(days=400)
    _person(store, "new", fp="fp-new")
    cutoff = NOW + timedelta(days=35)

    dry = store.privacy.expire(cutoff, dry_run=True)
    assert dry.contact_ids == ("old",) and store.get("old").result is not None  # type: ignore[union-attr]
    report = store.privacy.expire(cutoff)

    assert report.contact_ids == ("old",)
    old, new = store.get("old"), store.get("new")
    assert old is not None and new is not None
    assert (old.result, old.signals, old.research_id, old.fingerprint) == (None, {}, "r-old", "fp-ada")
    assert new.result is not None and new.signals
    assert store.privacy.expire(cutoff).total == 0
    assert store.privacy.counts()["results_expired"] == 1


def test_forget_follows_merges_into_the_forgotten(store: StateStore) -> None:
    """Contacts merged into a forgotten survivor (they kept a copy of its research) are forgotten with it."""
    _person(store, "old")
    store.adopt_merged("survivor", "old")
    report = store.privacy.forget(["survivor"])
    assert report.contact_ids == ("survivor", "old")
    assert store.privacy.known_contacts(None, 10) == []
    old = store.get("old")
    assert old is not None and old.result is None and old.merged_into == "survivor"
    assert store.privacy.counts()["forgotten"] == 1  # one person


def test_a_planned_upload_keeps_its_body(store: StateStore) -> None:
    """An upload not started yet keeps its request (it restarts under the same key); its URL row is blanked."""
    store.linkedin.plan_job("job-p", "upload", "scan1", {"profileUrls": [PROFILE]}, 1)
    store.linkedin.record_uploads("job-p", {"lk-p": (PROFILE, "c1")})
    report = store.privacy.forget(["c1"])
    assert [r.table for r in report.removed] == ["linkedin_uploads"]
    job = store.linkedin.last_job("upload", "scan1")
    assert job is not None and job.request == {"profileUrls": [PROFILE]}


def test_sqlite_connections_delete_securely(store: StateStore) -> None:
    """Every SQLite connection zeroes what it deletes (PostgreSQL relies on VACUUM in scrub_files)."""
    if store.backend != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
