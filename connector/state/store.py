"""The state store: what the connector launched, learned and wrote, durable across crashes.

Every `record_*` method runs one short transaction and commits before it returns, so a
process killed right after `record_launch` still has the research id on disk. The store
is safe to share between threads: one engine (a thread-safe pool), one connection per
call, and on SQLite one writer at a time (a lock here, `BEGIN IMMEDIATE` across
processes). All datetimes are timezone-aware UTC in and out; naive ones are refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    nulls_first,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from connector.errors import ConfigError
from connector.logs import get_logger, scrub
from connector.state.companies import CompanyRecords
from connector.state.db import (
    ENV_NAME,
    IMMEDIATE,
    StateConfigError,
    StateUnavailableError,
    create_state_engine,
    mask_url,
    needs_operator,
    parse_url,
    probe_write,
    sqlite_file,
)
from connector.state.signal_asks import SignalAskRecords
from connector.state.tables import (
    CHUNK,
    DEFERRALS,
    RESEARCH_STATUSES,
    RUN_OUTCOMES,
    UNWRITTEN,
    check_aware,
    clip,
    contacts,
    cursors,
    errors,
    runs,
    set_each,
)
from connector.state.timings import Timings

try:  # POSIX: the SQLite run lock is an flock the kernel drops when the holder dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: the lock only excludes this process
    fcntl = None  # type: ignore[assignment]

log = get_logger("state")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# A contact's research and what came of it: what a merge's survivor or a twin takes over.
RESEARCH_COLUMNS = (
    "external_id", "fingerprint", "research_id", "research_status", "research_error_code",
    "research_error", "launched_at", "completed_at", "checked_at", "next_check_at",
    "check_count", "failure_count", "result", "signals",
)  # fmt: skip

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ContactState:
    """One contact's row, as plain immutable data."""

    contact_id: str
    external_id: str | None
    fingerprint: str | None
    research_id: str | None
    research_status: str
    research_error_code: str | None
    research_error: str | None
    launched_at: datetime | None
    completed_at: datetime | None
    checked_at: datetime | None
    next_check_at: datetime | None
    check_count: int
    failure_count: int
    skip_reason: str | None
    deferred: str | None  # a launch put off to a later run, and why (one of DEFERRALS)
    write_pending: str | None  # a result not landed in HubSpot yet: UNWRITTEN or the failure's code
    merged_into: str | None  # HubSpot merged this contact into that one, which adopted its research
    company_id: str | None  # the HubSpot company its company-scope answers land on
    company_unmatched: str | None  # why no company could be matched ("code: detail")
    company_pending: str | None  # its company answers have not landed on its company yet
    last_error: str | None
    written: dict[str, str]
    written_at: datetime | None
    result: dict[str, Any] | None
    signals: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class RunRecord:
    """One sync cycle as `status` shows it."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: dict[str, Any]
    error: str | None


class RetryRule(Protocol):
    """What `due_for_refresh` needs of a retry policy (`connector.sync.decide.RetryPolicy`)."""

    def retry_at(self, state: ContactState) -> datetime | None: ...


class StateStore(CompanyRecords, SignalAskRecords, Timings):
    """Repository over the state database; open once per process and share it."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        """Open the store: connect and migrate (an up-to-date database is only read).

        Whatever fails here is the operator's to fix (`CONNECTOR_STATE_URL`, the directory,
        the server): a `StateConfigError`, exit 2. Once open, see `_guard`.
        """
        self.url = parse_url(url)
        self._clock = clock
        self._opening = True  # `_guard` names failures while opening as configuration errors
        self._engine = create_state_engine(self.url)
        self._sqlite = self._engine.dialect.name == "sqlite"
        # SQLite has one writer at a time anyway: queue threads here rather than on busy_timeout.
        self._write_lock: AbstractContextManager[Any] = threading.RLock() if self._sqlite else nullcontext()
        try:
            self.schema_upgraded = self._migrate()
        except BaseException:
            self._engine.dispose()
            raise
        self._opening = False

    @classmethod
    def open(cls, url: str, *, check_writes: bool = False) -> StateStore:
        """Open (and migrate) the store at `url`, e.g. `settings.connector_state_url`.

        `check_writes` (for `check`) also writes a row and rolls it back, so that a database
        that can be read but not written is found now, as a `StateConfigError`.
        """
        store = cls(url)
        if not check_writes:
            return store
        store._opening = True
        try:
            with store._guard(), store._write_lock, store._engine.connect() as conn:
                if store._sqlite:
                    conn.execution_options(**{IMMEDIATE: True})
                probe_write(conn)
        except BaseException:
            store.close()
            raise
        store._opening = False
        return store

    def close(self) -> None:
        """Close every pooled connection (call once, at shutdown)."""
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The underlying engine (for diagnostics and tests)."""
        return self._engine

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Database failures become one line naming `CONNECTOR_STATE_URL`, password masked.

        A `StateConfigError` (exit 2: the URL, the file, the server or the grants must be
        fixed) for any failure while the store opens, and later for failures that no retry
        can cure (a read-only file, a refused password, a missing grant). A
        `StateUnavailableError` (exit 3) for a database that worked and went away mid-run.
        Anything else is a bug and propagates as it is.
        """
        try:
            yield
        except DBAPIError as exc:
            if self._opening or needs_operator(exc):
                raise StateConfigError(self._unavailable(exc, config=True)) from exc
            if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
                raise StateUnavailableError(self._unavailable(exc, config=False)) from exc
            raise

    def _unavailable(self, exc: DBAPIError, *, config: bool) -> str:
        """The one line for a database failure: what failed, the masked URL, the driver's reason, the fix."""
        reason = next(
            (line.strip() for line in str(exc.orig).splitlines() if line.strip()), type(exc).__name__
        )
        reason = scrub(reason)  # a URL's password and the registered secrets; nothing else
        where = f"the state database {mask_url(self.url)}"
        if not config:
            return f"{ENV_NAME}: {where} became unavailable: {reason}"
        if self._sqlite:
            fix = f"make its directory and file writable, or point {ENV_NAME} elsewhere"
        else:
            fix = f"check the server, the user and its grants, and the database that {ENV_NAME} names"
        verb = "open and write" if self._opening else "write"
        return f"{ENV_NAME}: cannot {verb} {where}: {reason} ({fix})"

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._guard(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, committed on exit (rolled back on error)."""
        with self._guard(), self._write_lock, self._engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                yield conn

    def _insert(self, table: Any) -> Any:
        return (sqlite.insert if self._sqlite else postgresql.insert)(table)

    def _ensure_contact(self, conn: Connection, contact_id: str, now: datetime) -> None:
        stmt = self._insert(contacts).values(contact_id=contact_id, updated_at=now)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[contacts.c.contact_id]))

    def _locked_contact(self, conn: Connection, contact_id: str, now: datetime) -> Row[Any]:
        """The row, created if missing and locked for this transaction (FOR UPDATE on PostgreSQL)."""
        self._ensure_contact(conn, contact_id, now)
        query = select(contacts).where(contacts.c.contact_id == contact_id).with_for_update()
        return conn.execute(query).one()

    def _update_contact(self, conn: Connection, contact_id: str, **values: Any) -> int:
        stmt = update(contacts).where(contacts.c.contact_id == contact_id).values(**values)
        return conn.execute(stmt).rowcount

    # ------------------------------------------------------------------ migrations
    def _migrate(self) -> bool:
        """Upgrade to head; True when something ran, False for an up-to-date database."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        script = ScriptDirectory.from_config(cfg)
        heads = set(script.get_heads())
        with self._read() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        if current == heads:
            return False
        known = {rev.revision for rev in script.walk_revisions()}
        unknown = sorted(current - known)
        if unknown:
            raise ConfigError(
                f"{ENV_NAME}: state database {mask_url(self.url)} is at schema revision"
                f" {', '.join(unknown)}, which this version of the connector does not know (a newer one?)"
            )
        with self._write() as conn:
            if not self._sqlite:
                # Replicas starting together: one migrates, the others wait here, then find it done.
                schema = conn.execute(text("SELECT current_schema()")).scalar_one()
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(f"{schema}:migrate")}
                )
                if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                    return False
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info(
            "state schema upgraded",
            database=mask_url(self.url),
            from_revision=",".join(sorted(current)) or None,
            to_revision=",".join(sorted(heads)),
        )
        return True

    # ------------------------------------------------------------------ contacts
    def get(self, contact_id: str) -> ContactState | None:
        """The contact's state, or None if the connector never touched it."""
        with self._read() as conn:
            row = conn.execute(select(contacts).where(contacts.c.contact_id == contact_id)).first()
        return None if row is None else _contact_state(row)

    def get_many(self, contact_ids: Sequence[str]) -> dict[str, ContactState]:
        """States by contact id for those that exist, in IN queries of at most 500 ids."""
        ids = list(dict.fromkeys(contact_ids))
        found: dict[str, ContactState] = {}
        with self._read() as conn:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                for row in conn.execute(select(contacts).where(contacts.c.contact_id.in_(chunk))):
                    found[row.contact_id] = _contact_state(row)
        return found

    def record_launch(
        self,
        contact_id: str,
        *,
        external_id: str,
        fingerprint: str,
        research_id: str,
        status: str = "processing",
        next_check_at: datetime,
    ) -> None:
        """Remember a research Saber accepted; committed (durable) when this returns.

        The previous result stays (it is still the last completed one). The consecutive
        failure count restarts when the inputs changed: the old failures were for other inputs.
        """
        _check_status(status)
        _aware(next_check_at)
        now = self._clock()
        with self._write() as conn:
            row = self._locked_contact(conn, contact_id, now)
            values: dict[str, Any] = {
                "external_id": external_id,
                "fingerprint": fingerprint,
                "research_id": research_id,
                "research_status": status,
                "research_error_code": None,
                "research_error": None,
                "launched_at": now,
                "completed_at": None,
                "checked_at": None,
                "next_check_at": next_check_at,
                "check_count": 0,
                "skip_reason": None,
                "deferred": None,
                "updated_at": now,
            }
            if row.fingerprint != fingerprint:
                values["failure_count"] = 0
            self._update_contact(conn, contact_id, **values)

    def record_poll(self, contact_id: str, *, next_check_at: datetime) -> None:
        """Saber was asked and the research is still running: count it, schedule the next look."""
        _aware(next_check_at)
        now = self._clock()
        with self._write() as conn:
            self._update_contact(
                conn,
                contact_id,
                check_count=contacts.c.check_count + 1,
                checked_at=now,
                next_check_at=next_check_at,
                updated_at=now,
            )

    def record_result(
        self,
        contact_id: str,
        *,
        research_id: str,
        status: str,
        result: dict[str, Any] | None,
        completed_at: datetime | None,
        error_code: str | None,
        error: str | None,
    ) -> None:
        """A research finished: completed stores its JSON and resets the failure count, failed counts one.

        A failure keeps the previous completed result, which is still the last good one.
        Either way the result is pending work (`write_pending`) until its values land.
        """
        _check_status(status)
        _aware(completed_at)
        now = self._clock()
        values: dict[str, Any] = {
            "research_id": research_id,
            "research_status": status,
            "completed_at": completed_at,
            "research_error_code": error_code,
            "research_error": clip(error),
            "checked_at": now,
            "updated_at": now,
        }
        if status in ("completed", "failed"):
            values["write_pending"] = UNWRITTEN
        if status == "completed":
            values.update(result=result, failure_count=0, next_check_at=None)
        elif status == "failed":
            values.update(failure_count=contacts.c.failure_count + 1, next_check_at=None)
        with self._write() as conn:
            self._ensure_contact(conn, contact_id, now)
            self._update_contact(conn, contact_id, **values)

    def record_signal(self, contact_id: str, key: str, signal: dict[str, Any], fingerprint: str) -> None:
        """Keep a signal answered through the sync endpoints, as `{**signal, "fingerprint": ...}`."""
        now = self._clock()
        with self._write() as conn:
            row = self._locked_contact(conn, contact_id, now)
            signals = {**(row.signals or {}), key: {**signal, "fingerprint": fingerprint}}
            self._update_contact(conn, contact_id, signals=signals, updated_at=now)

    def record_written(self, contact_id: str, written: Mapping[str, str], *, settle: bool = True) -> None:
        """Merge property → value hash of what landed in HubSpot, so unchanged values are not rewritten.

        `settle=False` keeps what waits to be written (hashes of values HubSpot already held).
        """
        if not written:
            return
        now = self._clock()
        settled: dict[str, Any] = {"write_pending": None} if settle else {}
        with self._write() as conn:
            row = self._locked_contact(conn, contact_id, now)
            merged = {**(row.written or {}), **dict(written)}
            self._update_contact(conn, contact_id, written=merged, written_at=now, updated_at=now, **settled)

    def set_write_pending(self, contact_id: str, reason: str | None) -> None:
        """Why the contact's result has not fully landed (a failure code), or None once nothing waits."""
        now = self._clock()
        with self._write() as conn:
            self._update_contact(conn, contact_id, write_pending=clip(reason), updated_at=now)

    def count_write_pending(self, *, contact_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Results waiting to be written, by reason (UNWRITTEN or the last failure's code)."""
        query = select(contacts.c.write_pending, func.count()).where(contacts.c.write_pending.is_not(None))
        if contact_ids is not None:
            query = query.where(contacts.c.contact_id.in_(list(contact_ids)))
        with self._read() as conn:
            rows = conn.execute(query.group_by(contacts.c.write_pending)).all()
        return {reason: int(n) for reason, n in rows}

    def record_skip(self, contact_id: str, reason: str | None) -> None:
        """Why the contact was skipped this time (None clears it); creates the row if missing."""
        now = self._clock()
        with self._write() as conn:
            self._ensure_contact(conn, contact_id, now)
            self._update_contact(conn, contact_id, skip_reason=clip(reason), updated_at=now)

    def record_deferred(self, contact_id: str, reason: str) -> None:
        """A launch put off to the next run (`reason` one of DEFERRALS); `due_for_refresh` finds it."""
        self.record_deferred_many([contact_id], reason)

    def record_deferred_many(self, contact_ids: Sequence[str], reason: str) -> None:
        """`record_deferred` for many contacts in one transaction (a page put off past the launch cap)."""
        if reason not in DEFERRALS:
            raise ValueError(f"unknown deferral {reason!r} (one of {', '.join(DEFERRALS)})")
        ids, now = list(dict.fromkeys(contact_ids)), self._clock()
        with self._write() as conn:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                rows = [{"contact_id": cid, "updated_at": now} for cid in chunk]
                conn.execute(
                    self._insert(contacts)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=[contacts.c.contact_id])
                )
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id.in_(chunk))
                    .values(deferred=reason, skip_reason=None, updated_at=now)
                )

    def clear_skip(self, contact_id: str) -> None:
        """The contact is being handled again: forget why it was skipped or put off."""
        self.clear_skips([contact_id])

    def clear_skips(self, contact_ids: Sequence[str]) -> None:
        """`clear_skip` for many contacts in one transaction (a re-sync clears a page at a time)."""
        if not contact_ids:
            return
        ids, now = list(contact_ids), self._clock()
        with self._write() as conn:
            for start in range(0, len(ids), CHUNK):
                conn.execute(
                    update(contacts)
                    .where(contacts.c.contact_id.in_(ids[start : start + CHUNK]))
                    .values(skip_reason=None, deferred=None, updated_at=now)
                )

    def record_error(
        self,
        run_id: int | None,
        contact_id: str | None,
        code: str,
        message: str,
        property: str | None = None,
        *,
        of_contact: bool = True,
    ) -> None:
        """Log a record-level error for `status`; with a contact, it becomes its `last_error` too.

        `of_contact=False`: `contact_id` is another subject's key (`company:123`), kept as is."""
        now = self._clock()
        message = clip(message) or ""
        with self._write() as conn:
            conn.execute(
                insert(errors).values(
                    run_id=run_id,
                    contact_id=contact_id,
                    property=property,
                    code=code,
                    message=message,
                    at=now,
                )
            )
            if contact_id is not None and of_contact:
                self._ensure_contact(conn, contact_id, now)
                last = f"{code}: {message}" if not property else f"{code} ({property}): {message}"
                self._update_contact(conn, contact_id, last_error=clip(last), updated_at=now)

    def clear_error(self, contact_id: str) -> None:
        """The contact went through cleanly: forget its last error."""
        now = self._clock()
        with self._write() as conn:
            stmt = (
                update(contacts)
                .where(contacts.c.contact_id == contact_id, contacts.c.last_error.is_not(None))
                .values(last_error=None, updated_at=now)
            )
            conn.execute(stmt)

    def pending(
        self,
        *,
        due_before: datetime | None = None,
        limit: int | None = None,
        contact_ids: Sequence[str] | None = None,
    ) -> list[ContactState]:
        """Research still processing (due by `due_before`, among `contact_ids` when given), soonest first."""
        query = self._pending_query(select(contacts), due_before, contact_ids)
        query = query.order_by(nulls_first(contacts.c.next_check_at.asc()), contacts.c.contact_id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_contact_state(row) for row in conn.execute(query)]

    def unlooked_research(self) -> list[tuple[str, datetime, datetime | None]]:
        """Research still processing and never looked at: (contact id, launched at, next look)."""
        query = self._pending_query(
            select(contacts.c.contact_id, contacts.c.launched_at, contacts.c.next_check_at), None, None
        ).where(contacts.c.check_count == 0, contacts.c.launched_at.is_not(None))
        with self._read() as conn:
            return [(row.contact_id, row.launched_at, row.next_check_at) for row in conn.execute(query)]

    def reschedule_research(self, next_checks: Mapping[str, datetime]) -> None:
        """Move these contacts' next look (the schedule learned when their research is done)."""
        for when in next_checks.values():
            _aware(when)
        if next_checks:
            with self._write() as conn:
                set_each(conn, contacts, "contact_id", "next_check_at", next_checks)

    def count_pending(self, *, contact_ids: Sequence[str] | None = None) -> int:
        """How many research requests are still processing (among `contact_ids` when given)."""
        query = self._pending_query(select(func.count()).select_from(contacts), None, contact_ids)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _pending_query(query: Any, due_before: datetime | None, contact_ids: Sequence[str] | None) -> Any:
        _aware(due_before)
        query = query.where(contacts.c.research_status == "processing", contacts.c.merged_into.is_(None))
        if due_before is not None:
            query = query.where(
                or_(contacts.c.next_check_at.is_(None), contacts.c.next_check_at <= due_before)
            )
        if contact_ids is not None:  # a handful of ids from --contact
            query = query.where(contacts.c.contact_id.in_(list(contact_ids)))
        return query

    def due_for_refresh(
        self,
        *,
        completed_before: datetime | None,
        retry: RetryRule | None = None,
        now: datetime | None = None,
        unwritable: Collection[str] = (),
    ) -> list[str]:
        """Contacts to look at although HubSpot did not change them.

        Those are: results not yet landed in HubSpot (`write_pending`, except the reasons in
        `unwritable`, which no retry can help), launches deferred by an earlier run (the `deferred` column),
        results completed at or before `completed_before` (stale), and failed research whose
        `retry.retry_at(state)` is at or before `now`.
        """
        _aware(completed_before)
        _aware(now)
        ids: list[str] = []
        with self._read() as conn:
            live = contacts.c.merged_into.is_(None)  # a merged-away contact is looked at through its survivor
            unlanded = select(contacts.c.contact_id).where(contacts.c.write_pending.is_not(None), live)
            if unwritable:
                unlanded = unlanded.where(contacts.c.write_pending.not_in(list(unwritable)))
            ids.extend(conn.execute(unlanded.order_by(contacts.c.contact_id)).scalars())
            deferred = (
                select(contacts.c.contact_id)
                .where(contacts.c.deferred.is_not(None), live)
                .order_by(contacts.c.contact_id)
            )
            ids.extend(conn.execute(deferred).scalars())
            if completed_before is not None:
                query = (
                    select(contacts.c.contact_id)
                    .where(
                        contacts.c.research_status == "completed",
                        contacts.c.completed_at <= completed_before,
                        live,
                    )
                    .order_by(contacts.c.completed_at, contacts.c.contact_id)
                )
                ids.extend(conn.execute(query).scalars())
            failed = []
            if retry is not None:
                query = (
                    select(contacts)
                    .where(contacts.c.research_status == "failed", live)
                    .order_by(contacts.c.completed_at, contacts.c.contact_id)
                )
                failed = [_contact_state(row) for row in conn.execute(query)]
        if retry is not None:
            when = now or self._clock()
            for state in failed:
                at = retry.retry_at(state)
                if at is not None and at <= when:
                    ids.append(state.contact_id)
        return list(dict.fromkeys(ids))

    # ------------------------------------------------------------------ cursors
    def get_cursor(self, name: str) -> str | None:
        """A saved position, or None before the first save."""
        with self._read() as conn:
            return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()

    def set_cursor(self, name: str, value: str) -> None:
        """Save a position (insert or replace), committed on return."""
        now = self._clock()
        stmt = self._insert(cursors).values(name=name, value=value, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[cursors.c.name], set_={"value": value, "updated_at": now}
        )
        with self._write() as conn:
            conn.execute(stmt)

    def pending_contact(self, *, research_id: str | None, external_id: str | None) -> str | None:
        """The contact whose research is still processing under this research id (else external id)."""
        query = select(contacts.c.contact_id).where(contacts.c.research_status == "processing")
        with self._read() as conn:
            if research_id:
                found = conn.execute(query.where(contacts.c.research_id == research_id)).scalar()
                if found is not None:
                    return str(found)
            if external_id:
                found = conn.execute(query.where(contacts.c.external_id == external_id)).scalar()
                if found is not None:
                    return str(found)
        return None

    def adopt_merged(self, contact_id: str, merged_id: str) -> ContactState:
        """The surviving contact of a HubSpot merge takes over the merged one's research; the link stays.

        Research, result, signals, written hashes and pending work move to `contact_id`; the
        research keeps its external id (the merged contact's), so Saber finds it as before.
        """
        now = self._clock()
        moved = (*RESEARCH_COLUMNS, "written", "written_at", "write_pending")
        with self._write() as conn:
            old = self._locked_contact(conn, merged_id, now)
            self._ensure_contact(conn, contact_id, now)
            values = {name: getattr(old, name) for name in moved}
            values["external_id"] = old.external_id or merged_id
            self._update_contact(conn, contact_id, **values, skip_reason=None, deferred=None, updated_at=now)
            self._update_contact(conn, merged_id, merged_into=contact_id, write_pending=None, updated_at=now)
        state = self.get(contact_id)
        assert state is not None
        return state

    def same_inputs(self, fingerprint: str, *, other_than: str) -> ContactState | None:
        """Another contact researched (or being researched) with exactly these inputs: the same
        person entered twice, whose research serves both (the oldest launch first)."""
        query = (
            select(contacts)
            .where(
                contacts.c.fingerprint == fingerprint,
                contacts.c.contact_id != other_than,
                contacts.c.merged_into.is_(None),
                contacts.c.research_status.in_(("processing", "completed")),
                contacts.c.research_id.is_not(None),
            )
            .order_by(contacts.c.launched_at)
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _contact_state(row)

    def adopt_twin(self, contact_id: str, twin_id: str) -> ContactState:
        """Take over the research of a contact with the same inputs (not its HubSpot writes).

        The research keeps the twin's external id, so Saber finds it as before; what was
        written is this contact's own, so a completed result waits to be written here.
        """
        now = self._clock()
        shared = RESEARCH_COLUMNS
        with self._write() as conn:
            twin = self._locked_contact(conn, twin_id, now)
            self._ensure_contact(conn, contact_id, now)
            values = {name: getattr(twin, name) for name in shared}
            values["external_id"] = twin.external_id or twin_id
            pending = UNWRITTEN if twin.research_status == "completed" else None
            self._update_contact(
                conn,
                contact_id,
                **values,
                write_pending=pending,
                skip_reason=None,
                deferred=None,
                updated_at=now,
            )
        state = self.get(contact_id)
        assert state is not None
        return state

    def shared_value(self, name: str, make: Callable[[], str]) -> str:
        """A value made once and shared by every process on this database: the first writer wins."""
        now = self._clock()
        stmt = self._insert(cursors).values(name=name, value=make(), updated_at=now)
        with self._write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[cursors.c.name]))
        value = self.get_cursor(name)
        assert value is not None
        return value

    def ping(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        with self._read() as conn:
            conn.execute(text("SELECT 1"))

    # ------------------------------------------------------------------ runs and errors
    def start_run(self) -> int:
        """Record a cycle starting; returns its id. Call it holding `run_lock`.

        Under the lock no other cycle can be running, so a run still marked `running` is
        one whose process died: it is marked `interrupted`.
        """
        now = self._clock()
        with self._write() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.outcome == "running")
                .values(outcome="interrupted", error="the process ended before the run finished")
            )
            return int(
                conn.execute(insert(runs).values(started_at=now, outcome="running")).inserted_primary_key[0]
            )

    def finish_run(
        self, run_id: int, *, outcome: str, counts: Mapping[str, Any], error: str | None = None
    ) -> None:
        """Record how a cycle ended."""
        if outcome not in RUN_OUTCOMES:
            raise ValueError(f"unknown run outcome {outcome!r} (one of {', '.join(RUN_OUTCOMES)})")
        now = self._clock()
        with self._write() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(finished_at=now, outcome=outcome, counts=dict(counts), error=clip(error))
            )

    def last_runs(self, n: int = 5) -> list[RunRecord]:
        """The `n` most recent runs, newest first."""
        with self._read() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(n)).all()
        return [
            RunRecord(
                id=row.id,
                started_at=row.started_at,
                finished_at=row.finished_at,
                outcome=row.outcome,
                counts=dict(row.counts or {}),
                error=row.error,
            )
            for row in rows
        ]

    def status_counts(self) -> dict[str, int]:
        """Contacts by research status, with `skipped` for those never researched whose last visit was a skip.

        Each contact is counted once: a skipped contact with no research is `skipped`, not `none`.
        """
        status = case(
            (
                and_(contacts.c.research_status == "none", contacts.c.skip_reason.is_not(None)),
                literal("skipped"),
            ),
            else_=contacts.c.research_status,
        )
        with self._read() as conn:
            query = select(status, func.count()).group_by(status)
            return {str(name): int(n) for name, n in conn.execute(query) if n}

    def skipped_examples(self, n: int = 5) -> list[tuple[str, str]]:
        """A few (contact id, why) of contacts whose last visit was a skip, for `status`."""
        query = (
            select(contacts.c.contact_id, contacts.c.skip_reason)
            .where(contacts.c.skip_reason.is_not(None))
            .order_by(contacts.c.updated_at.desc(), contacts.c.contact_id)
            .limit(n)
        )
        with self._read() as conn:
            return [(cid, reason) for cid, reason in conn.execute(query)]

    def common_errors(self, n: int = 5, *, since: datetime | None = None) -> list[tuple[str, int, str]]:
        """The `n` most frequent error codes as (code, count, latest message), most frequent first."""
        _aware(since)
        grouped = select(errors.c.code, func.count().label("n"), func.max(errors.c.id).label("last_id"))
        if since is not None:
            grouped = grouped.where(errors.c.at >= since)
        top = grouped.group_by(errors.c.code).order_by(func.count().desc(), errors.c.code).limit(n).subquery()
        query = (
            select(top.c.code, top.c.n, errors.c.message)
            .join(errors, errors.c.id == top.c.last_id)
            .order_by(top.c.n.desc(), top.c.code)
        )
        with self._read() as conn:
            return [(code, int(count), message) for code, count, message in conn.execute(query)]

    def prune(self, before: datetime) -> int:
        """Delete errors logged and runs finished before `before`; returns how many rows went."""
        _aware(before)
        with self._write() as conn:
            gone = conn.execute(delete(errors).where(errors.c.at < before)).rowcount
            gone += conn.execute(
                delete(runs).where(runs.c.finished_at.is_not(None), runs.c.finished_at < before)
            ).rowcount
        return gone

    # ------------------------------------------------------------------ cross-process lock
    def run_lock(self, name: str = "sync") -> AbstractContextManager[bool]:
        """Try to become the only cycle running on this database; yields False if another holds it.

        PostgreSQL: a session advisory lock (per schema and name) on a connection held for
        the duration. SQLite: an flock on `<db file>.<name>.lock`. Both are released by
        the server or the kernel if the holder dies, so a SIGKILL never leaves a stale lock.
        """
        if not self._sqlite:
            return self._advisory_lock(name)
        path = sqlite_file(self.url)
        if path is None or fcntl is None:
            return self._process_lock(f"{id(self)}:{name}" if path is None else f"{path.resolve()}:{name}")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        return self._file_lock(path.with_name(f"{path.name}.{safe}.lock"))

    @contextmanager
    def _advisory_lock(self, name: str) -> Iterator[bool]:
        with self._guard():
            conn = self._engine.connect()
        acquired = False
        key = 0
        try:
            with self._guard():
                schema = conn.execute(text("SELECT current_schema()")).scalar_one()
                key = _lock_key(f"{schema}:{name}")
                acquired = bool(
                    conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
                )
                conn.commit()
            yield acquired
        finally:
            try:
                if acquired:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()
            except DBAPIError:
                conn.invalidate()  # the session (and with it the lock) is gone anyway
            finally:
                conn.close()

    @contextmanager
    def _file_lock(self, path: Path) -> Iterator[bool]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        acquired = False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
            except BlockingIOError:
                pass
            if acquired:  # who holds it, for a human looking at the file
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
            yield acquired
        finally:
            if acquired:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextmanager
    def _process_lock(self, key: str) -> Iterator[bool]:
        with _PROCESS_LOCKS_GUARD:
            lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
        acquired = lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()


def _contact_state(row: Row[Any]) -> ContactState:
    return ContactState(
        contact_id=row.contact_id,
        external_id=row.external_id,
        fingerprint=row.fingerprint,
        research_id=row.research_id,
        research_status=row.research_status or "none",
        research_error_code=row.research_error_code,
        research_error=row.research_error,
        launched_at=row.launched_at,
        completed_at=row.completed_at,
        checked_at=row.checked_at,
        next_check_at=row.next_check_at,
        check_count=int(row.check_count or 0),
        failure_count=int(row.failure_count or 0),
        skip_reason=row.skip_reason,
        deferred=row.deferred,
        write_pending=row.write_pending,
        merged_into=row.merged_into,
        company_id=row.company_id,
        company_unmatched=row.company_unmatched,
        company_pending=row.company_pending,
        last_error=row.last_error,
        written=dict(row.written or {}),
        written_at=row.written_at,
        result=row.result,
        signals=dict(row.signals or {}),
    )


def _check_status(status: str) -> None:
    if status not in RESEARCH_STATUSES:
        raise ValueError(f"unknown research status {status!r} (one of {', '.join(RESEARCH_STATUSES)})")


_aware = check_aware


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    digest = hashlib.blake2b(f"saber-connector:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
