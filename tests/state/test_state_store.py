"""The state store, against SQLite (a temp file) and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, insert, inspect, text

from connector.errors import ConfigError
from connector.state import ContactState, StateStore, StateUnavailableError, parse_url
from connector.state.tables import Base, contacts

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL for each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'connector.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def open_store(state_url: str) -> Iterator[Callable[..., StateStore]]:
    """Opens stores on the test's database and closes them all at the end."""
    opened: list[StateStore] = []

    def factory(**kwargs: Any) -> StateStore:
        store = StateStore(state_url, **kwargs)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., StateStore]) -> StateStore:
    return open_store()


class Clock:
    """A settable clock, so stored timestamps are predictable."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def launch(
    store: StateStore, contact_id: str, *, at: datetime = T0, fingerprint: str = "fp1", rid: str = ""
) -> None:
    store.record_launch(
        contact_id,
        external_id=contact_id,
        fingerprint=fingerprint,
        research_id=rid or f"r-{contact_id}",
        next_check_at=at,
    )


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listener)
    yield seen
    event.remove(Engine, "before_cursor_execute", listener)


def _head_revision() -> str:
    """The newest revision the migration scripts define."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from connector.state.store import MIGRATIONS_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    (head,) = ScriptDirectory.from_config(cfg).get_heads()
    return head


# ---------------------------------------------------------------------- schema
def test_migrations_create_schema_and_second_open_is_noop(
    open_store: Callable[..., StateStore], statements: list[str]
) -> None:
    """The first open creates every table at head; a second open only reads the version."""
    first = open_store()
    assert first.schema_upgraded is True
    tables = set(inspect(first.engine).get_table_names())
    assert {"contacts", "cursors", "runs", "errors", "alembic_version"} <= tables
    first.set_cursor("kept", "yes")

    statements.clear()
    second = open_store()
    assert second.schema_upgraded is False
    writes = [
        s
        for s in statements
        if s.lstrip().split()[0].upper() in {"CREATE", "ALTER", "INSERT", "UPDATE", "DROP"}
    ]
    assert writes == []
    assert second.get_cursor("kept") == "yes"
    with second.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (_head_revision(),)


def test_models_match_migrations(store: StateStore) -> None:
    """The declarative models and the migration scripts describe the same schema."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


# ---------------------------------------------------------------------- contacts
def test_launch_poll_result_round_trip(open_store: Callable[..., StateStore]) -> None:
    """A research goes processing → polled twice → completed, and every field follows."""
    clock = Clock()
    store = open_store(clock=clock)
    assert store.get("c1") is None
    store.record_launch(
        "c1",
        external_id="ext-1",
        fingerprint="fp1",
        research_id="r1",
        next_check_at=T0 + timedelta(seconds=15),
    )
    state = store.get("c1")
    assert state is not None
    assert (state.research_status, state.research_id, state.external_id, state.fingerprint) == (
        "processing",
        "r1",
        "ext-1",
        "fp1",
    )
    assert state.launched_at == T0 and state.check_count == 0 and state.checked_at is None

    for i in (1, 2):
        clock.now = T0 + timedelta(minutes=i)
        store.record_poll("c1", next_check_at=clock.now + timedelta(minutes=5))
    state = store.get("c1")
    assert state is not None
    assert state.check_count == 2
    assert state.checked_at == T0 + timedelta(minutes=2)
    assert state.next_check_at == T0 + timedelta(minutes=7)

    clock.now = T0 + timedelta(minutes=10)
    raw = {"id": "r1", "status": "completed", "result": {"answer": [1, "two", None]}}
    store.record_result(
        "c1",
        research_id="r1",
        status="completed",
        result=raw,
        completed_at=T0 + timedelta(minutes=9),
        error_code=None,
        error=None,
    )
    state = store.get("c1")
    assert state is not None
    assert state.research_status == "completed"
    assert state.result == raw
    assert state.completed_at == T0 + timedelta(minutes=9)
    assert state.next_check_at is None and state.failure_count == 0
    assert store.pending() == []


def test_failures_count_up_and_reset(store: StateStore) -> None:
    """Failed results count consecutively, keep the last good result, and reset on success or new inputs."""
    launch(store, "c1")
    good = {"id": "r-c1", "status": "completed"}
    store.record_result(
        "c1",
        research_id="r-c1",
        status="completed",
        result=good,
        completed_at=T0,
        error_code=None,
        error=None,
    )
    for n in (1, 2):
        launch(store, "c1")
        store.record_result(
            "c1",
            research_id="r-c1",
            status="failed",
            result=None,
            completed_at=T0,
            error_code="TIMEOUT",
            error=f"try {n}",
        )
    state = store.get("c1")
    assert state is not None
    assert (state.research_status, state.failure_count, state.research_error_code, state.research_error) == (
        "failed",
        2,
        "TIMEOUT",
        "try 2",
    )
    assert state.result == good

    launch(store, "c1")  # same inputs: the streak goes on
    assert store.get("c1").failure_count == 2  # type: ignore[union-attr]
    store.record_result(
        "c1",
        research_id="r-c1",
        status="completed",
        result=good,
        completed_at=T0,
        error_code=None,
        error=None,
    )
    assert store.get("c1").failure_count == 0  # type: ignore[union-attr]

    store.record_result(
        "c1", research_id="r-c1", status="failed", result=None, completed_at=T0, error_code="X", error="x"
    )
    launch(store, "c1", fingerprint="fp2")  # new inputs: old failures no longer count
    state = store.get("c1")
    assert state is not None and state.failure_count == 0 and state.research_error_code is None
    with pytest.raises(ValueError, match="unknown research status"):
        store.record_result(
            "c1", research_id="r", status="done", result=None, completed_at=None, error_code=None, error=None
        )


def test_written_hashes_and_signals_merge(open_store: Callable[..., StateStore]) -> None:
    """Written hashes and signals merge key by key instead of replacing each other."""
    clock = Clock()
    store = open_store(clock=clock)
    store.record_written("c1", {"a": "h1", "b": "h2"})
    clock.now = T0 + timedelta(hours=1)
    store.record_written("c1", {"b": "h3", "c": "h4"})
    state = store.get("c1")
    assert state is not None
    assert state.written == {"a": "h1", "b": "h3", "c": "h4"}
    assert state.written_at == T0 + timedelta(hours=1)

    store.record_signal("c1", "k8s", {"signal": {"answer": True}, "target": "acme.com"}, "fp1")
    store.record_signal("c1", "size", {"signal": {"answer": 50}, "target": "acme.com"}, "fp1")
    store.record_signal("c1", "k8s", {"signal": {"answer": False}, "target": "acme.com"}, "fp2")
    state = store.get("c1")
    assert state is not None
    assert state.signals == {
        "k8s": {"signal": {"answer": False}, "target": "acme.com", "fingerprint": "fp2"},
        "size": {"signal": {"answer": 50}, "target": "acme.com", "fingerprint": "fp1"},
    }
    assert state.written == {"a": "h1", "b": "h3", "c": "h4"}


def test_skip_creates_row_and_clears(store: StateStore) -> None:
    """A skip creates an otherwise empty row; None clears the reason, a launch clears it too."""
    store.record_skip("c1", "email missing")
    state = store.get("c1")
    assert state is not None
    assert (state.research_status, state.skip_reason, state.written, state.signals) == (
        "none",
        "email missing",
        {},
        {},
    )
    store.record_skip("c1", None)
    assert store.get("c1").skip_reason is None  # type: ignore[union-attr]
    store.record_skip("c1", "again")
    launch(store, "c1")
    assert store.get("c1").skip_reason is None  # type: ignore[union-attr]


def test_pending_ordering_and_due_filter(store: StateStore) -> None:
    """Pending lists processing research soonest first; due_before and limit cut the list."""
    launch(store, "late", at=T0 + timedelta(minutes=3))
    launch(store, "soon", at=T0 + timedelta(minutes=1))
    launch(store, "mid", at=T0 + timedelta(minutes=2))
    launch(store, "done", at=T0)
    store.record_result(
        "done",
        research_id="r-done",
        status="completed",
        result={},
        completed_at=T0,
        error_code=None,
        error=None,
    )

    assert [s.contact_id for s in store.pending()] == ["soon", "mid", "late"]
    due = store.pending(due_before=T0 + timedelta(minutes=2))
    assert [s.contact_id for s in due] == ["soon", "mid"]
    assert [s.contact_id for s in store.pending(limit=1)] == ["soon"]
    assert all(isinstance(s, ContactState) for s in due)
    assert [s.contact_id for s in store.pending(contact_ids=["late", "done"])] == ["late"]
    assert store.count_pending() == 3
    assert store.count_pending(contact_ids=["mid", "done", "absent"]) == 1


def test_get_many_uses_chunks_of_500(store: StateStore, statements: list[str]) -> None:
    """get_many finds every existing id of a long list, in IN queries of at most 500 ids."""
    ids = [f"c{i}" for i in range(1001)]
    with store.engine.begin() as conn:
        conn.execute(insert(contacts), [{"contact_id": i, "updated_at": T0} for i in ids])
    statements.clear()
    found = store.get_many([*ids, "missing", "c5"])
    assert set(found) == set(ids)
    assert found["c7"].research_status == "none"
    selects = [s for s in statements if "FROM contacts" in s]
    assert len(selects) == 3


def test_due_for_refresh(store: StateStore) -> None:
    """Stale completed research and failures whose retry time passed are due, others not."""

    class EveryHour:
        def retry_at(self, state: ContactState) -> datetime | None:
            if state.research_error_code == "PERMANENT":
                return None
            assert state.completed_at is not None
            return state.completed_at + timedelta(hours=1)

    def finish(cid: str, status: str, at: datetime, code: str | None = None) -> None:
        launch(store, cid)
        store.record_result(
            cid,
            research_id=f"r-{cid}",
            status=status,
            result={},
            completed_at=at,
            error_code=code,
            error=None,
        )
        store.set_write_pending(cid, None)  # its values landed in HubSpot

    finish("old", "completed", T0 - timedelta(days=40))
    finish("fresh", "completed", T0 - timedelta(days=1))
    finish("retry", "failed", T0 - timedelta(hours=2), "TIMEOUT")
    finish("wait", "failed", T0 - timedelta(minutes=10), "TIMEOUT")
    finish("never", "failed", T0 - timedelta(days=3), "PERMANENT")
    launch(store, "running")

    due = store.due_for_refresh(completed_before=T0 - timedelta(days=30), retry=EveryHour(), now=T0)
    assert due == ["old", "retry"]
    assert store.due_for_refresh(completed_before=None) == []


def test_results_not_landed_stay_due_until_written(store: StateStore) -> None:
    """A recorded result is pending work until its values land; a failure code keeps it due unless no retry can help."""
    for cid in ("a", "b", "gone"):
        launch(store, cid)
        store.record_result(
            cid,
            research_id=f"r-{cid}",
            status="completed",
            result={},
            completed_at=T0,
            error_code=None,
            error=None,
        )
    assert store.get("a").write_pending == "unwritten"  # type: ignore[union-attr]
    assert store.due_for_refresh(completed_before=None) == ["a", "b", "gone"]
    store.record_written("a", {"saber_summary": "h"})
    store.set_write_pending("b", "INVALID_OPTION")
    store.set_write_pending("gone", "OBJECT_NOT_FOUND")
    assert store.due_for_refresh(completed_before=None, unwritable={"OBJECT_NOT_FOUND"}) == ["b"]
    assert store.count_write_pending() == {"INVALID_OPTION": 1, "OBJECT_NOT_FOUND": 1}
    assert store.count_write_pending(contact_ids=["b"]) == {"INVALID_OPTION": 1}


def test_deferred_launches_are_found_and_cleared(store: StateStore) -> None:
    """A deferred launch is due for the next run until it is cleared or launched; unknown reasons are refused."""
    store.record_deferred("a", "launch_cap")
    store.record_deferred("b", "no_credits")
    assert store.get("a").deferred == "launch_cap"  # type: ignore[union-attr]
    assert store.due_for_refresh(completed_before=None) == ["a", "b"]
    store.clear_skip("a")
    launch(store, "b")
    assert store.due_for_refresh(completed_before=None) == []
    assert store.get("b").deferred is None  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown deferral"):
        store.record_deferred("c", "because")


def test_upgrade_moves_old_deferred_prefix_into_its_column(tmp_path: Path) -> None:
    """A database at revision 0001 upgrades in place: `skip_reason = 'deferred: …'` becomes the deferred column."""
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
        command.upgrade(cfg, "0001")
        for cid, reason in (
            ("a", "deferred: launch cap"),
            ("b", "deferred: no credits"),
            ("c", "email missing"),
        ):
            conn.execute(
                text(
                    "INSERT INTO contacts (contact_id, research_status, check_count, failure_count,"
                    " skip_reason, written, signals, updated_at)"
                    " VALUES (:cid, 'none', 0, 0, :reason, '{}', '{}', '2025-03-01 12:00:00')"
                ),
                {"cid": cid, "reason": reason},
            )
    engine.dispose()
    store = StateStore(url)
    try:
        assert store.schema_upgraded is True
        states = store.get_many(["a", "b", "c"])
        assert {cid: (s.deferred, s.skip_reason) for cid, s in states.items()} == {
            "a": ("launch_cap", None),
            "b": ("no_credits", None),
            "c": (None, "email missing"),
        }
        assert store.due_for_refresh(completed_before=None) == ["a", "b"]
    finally:
        store.close()


# ---------------------------------------------------------------------- cursors, runs, errors
def test_cursor(store: StateStore) -> None:
    """A cursor is None until set, then holds the latest value."""
    assert store.get_cursor("contacts") is None
    store.set_cursor("contacts", "2025-01-01T00:00:00+00:00")
    store.set_cursor("contacts", "2025-02-01T00:00:00+00:00")
    store.set_cursor("other", "x")
    assert store.get_cursor("contacts") == "2025-02-01T00:00:00+00:00"
    assert store.get_cursor("other") == "x"


def test_runs(open_store: Callable[..., StateStore]) -> None:
    """Runs get increasing ids, record their end, list newest first; a dead run becomes interrupted."""
    clock = Clock()
    store = open_store(clock=clock)
    dead = store.start_run()
    clock.now = T0 + timedelta(hours=1)
    first = store.start_run()
    assert first > dead
    clock.now = T0 + timedelta(hours=2)
    store.finish_run(
        first, outcome="partial", counts={"contacts_seen": 3, "research": {"launched": 2}}, error="boom"
    )
    second = store.start_run()
    store.finish_run(second, outcome="ok", counts={"contacts_seen": 0})

    runs = store.last_runs(5)
    assert [r.id for r in runs] == [second, first, dead]
    assert runs[1].outcome == "partial"
    assert runs[1].counts == {"contacts_seen": 3, "research": {"launched": 2}}
    assert runs[1].error == "boom"
    assert (runs[1].started_at, runs[1].finished_at) == (T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert runs[2].outcome == "interrupted" and runs[2].finished_at is None
    assert [r.id for r in store.last_runs(1)] == [second]
    with pytest.raises(ValueError, match="unknown run outcome"):
        store.finish_run(second, outcome="great", counts={})


def test_status_counts_and_common_errors(store: StateStore) -> None:
    """Status counts research by status plus skips; common errors rank codes with their latest message."""
    launch(store, "p1")
    launch(store, "p2")
    launch(store, "ok")
    store.record_result(
        "ok", research_id="r-ok", status="completed", result={}, completed_at=T0, error_code=None, error=None
    )
    store.record_skip("s1", "no email")
    assert store.status_counts() == {
        "processing": 2,
        "completed": 1,
        "skipped": 1,
    }  # s1 once, not also `none`
    assert store.skipped_examples() == [("s1", "no email")]

    run_id = store.start_run()
    for i in range(3):
        store.record_error(run_id, "p1", "RATE_LIMITED", f"429 number {i}")
    store.record_error(run_id, "p2", "CONVERSION_ERROR", "not a number", property="saber_size")
    store.record_error(None, None, "CONVERSION_ERROR", "bad date")
    store.record_error(None, "ok", "ZZZ", "rare")

    assert store.common_errors(2) == [
        ("RATE_LIMITED", 3, "429 number 2"),
        ("CONVERSION_ERROR", 2, "bad date"),
    ]
    assert len(store.common_errors()) == 3
    assert store.common_errors(since=T0 + timedelta(days=36500)) == []
    assert store.get("p1").last_error == "RATE_LIMITED: 429 number 2"  # type: ignore[union-attr]
    assert store.get("p2").last_error == "CONVERSION_ERROR (saber_size): not a number"  # type: ignore[union-attr]
    store.clear_error("p1")
    assert store.get("p1").last_error is None  # type: ignore[union-attr]


# ---------------------------------------------------------------------- time, durability, concurrency
def test_datetimes_are_aware_utc(store: StateStore) -> None:
    """Datetimes in any zone come back as the same instant in UTC; naive ones are refused."""
    paris = timezone(timedelta(hours=2))
    when = datetime(2025, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    launch(store, "c1", at=when)
    state = store.get("c1")
    assert state is not None and state.next_check_at is not None and state.launched_at is not None
    assert state.next_check_at == when
    assert state.next_check_at.utcoffset() == timedelta(0) and state.next_check_at.hour == 12
    assert state.launched_at.tzinfo is not None
    assert [
        s.contact_id for s in store.pending(due_before=datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC))
    ] == ["c1"]
    assert store.pending(due_before=datetime(2025, 6, 1, 14, 30, tzinfo=paris)) == []
    with pytest.raises(ValueError, match="naive"):
        store.record_poll("c1", next_check_at=datetime(2025, 6, 1, 12, 0))


def test_launch_survives_sigkill(state_url: str) -> None:
    """A process SIGKILLed right after record_launch returns leaves the research id on disk."""
    code = textwrap.dedent(
        f"""
        import os, signal
        from datetime import UTC, datetime
        from connector.state import StateStore
        store = StateStore({state_url!r})
        store.record_launch("c1", external_id="c1", fingerprint="fp", research_id="r-crash",
                            next_check_at=datetime.now(UTC))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with StateStore(state_url) as store:
        state = store.get("c1")
        assert state is not None
        assert (state.research_id, state.research_status) == ("r-crash", "processing")
        assert [s.contact_id for s in store.pending()] == ["c1"]


def test_run_lock_excludes_second_holder(open_store: Callable[..., StateStore]) -> None:
    """While one store holds the run lock another cannot take it; it is free again after exit or error."""
    a, b = open_store(), open_store()
    with a.run_lock() as got_a:
        assert got_a is True
        with b.run_lock() as got_b:
            assert got_b is False
        with b.run_lock("other") as got_other:
            assert got_other is True
    with b.run_lock() as again:
        assert again is True
    with pytest.raises(RuntimeError), a.run_lock() as got:
        assert got is True
        raise RuntimeError("cycle failed")
    with b.run_lock() as after_error:
        assert after_error is True


def test_concurrent_writes_from_threads(store: StateStore) -> None:
    """Writes from a thread pool neither collide nor lose updates to the same row."""
    launch(store, "shared")
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(10):
                store.record_poll("shared", next_check_at=T0)
                store.record_written("shared", {f"w{worker}-{i}": "h"})
                store.record_skip(f"own-{worker}-{i}", "x")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    state = store.get("shared")
    assert state is not None
    assert state.check_count == 60
    assert len(state.written) == 60
    assert store.status_counts()["skipped"] == 60


def test_sqlite_pragmas_and_directory(tmp_path: Path) -> None:
    """SQLite runs in WAL mode, synchronous FULL, foreign keys on, a busy timeout; parent dirs are made."""
    path = tmp_path / "deep" / "er" / "state.db"
    with StateStore(f"sqlite:///{path}") as store:
        assert path.is_file()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert store.backend == "sqlite"


# ---------------------------------------------------------------------- URLs and failures
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:s3cret@db.example:notaport/state",
        "this is not a url",
        "mysql://user:s3cret@db.example/state",
        "postgresql+asyncpg://user:s3cret@db.example/state",
        "   ",
    ],
)
def test_malformed_url_is_config_error(url: str) -> None:
    """A malformed or unsupported URL is a ConfigError naming CONNECTOR_STATE_URL, password masked."""
    with pytest.raises(ConfigError) as info:
        StateStore(url)
    assert "CONNECTOR_STATE_URL" in str(info.value)
    assert "s3cret" not in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "driver"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg"),
        ("postgresql://u:p@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@h/db", "postgresql+psycopg"),
        ("sqlite:///state/connector.db", "sqlite"),
    ],
)
def test_url_rewritten_to_psycopg(raw: str, driver: str) -> None:
    """postgres:// and postgresql:// URLs are pointed at the psycopg 3 driver."""
    assert parse_url(raw).drivername == driver


def test_unreachable_postgres_is_state_unavailable() -> None:
    """A server that does not answer at start is a configuration error (exit 2) without the password."""
    with pytest.raises(StateUnavailableError) as info:
        StateStore("postgresql://user:s3cret@127.0.0.1:1/state?connect_timeout=2")
    message = str(info.value)
    assert "CONNECTOR_STATE_URL" in message and "s3cret" not in message and "127.0.0.1" in message
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2


def test_unopenable_sqlite_is_state_unavailable(tmp_path: Path) -> None:
    """A SQLite path that cannot be created is a StateUnavailableError, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateUnavailableError, match="CONNECTOR_STATE_URL"):
        StateStore(f"sqlite:///{blocker / 'state.db'}")
    with pytest.raises(StateUnavailableError, match="CONNECTOR_STATE_URL"):
        StateStore(f"sqlite:///{tmp_path}")  # a directory, not a database file


def test_open_classmethod_and_in_memory() -> None:
    """StateStore.open works on an in-memory SQLite database too (schema migrated, usable)."""
    store = StateStore.open("sqlite://")
    try:
        assert store.schema_upgraded is True
        store.set_cursor("x", "1")
        assert store.get_cursor("x") == "1"
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM contacts")).scalar() == 0
    finally:
        store.close()
