"""Personal data the state holds about people: found, forgotten on request or deletion, expired by age.

What is personal: a contact's research result (and the inputs it echoes), the signal answers
kept on it or asked about the person (contact scope: a profile URL), error texts that may
name them, the hashes of values written to HubSpot, prospecting's names and URLs, LinkedIn
prospects' names, results values and uploaded profile URLs. What stays: ids, statuses, the
research id that was paid for and the fingerprint (a sha256) of its inputs, which is all
`connector.sync.decide` compares, so a later sync with the same inputs pays nothing and
changed inputs research again. Totals of what was removed are kept as cursors (`privacy.*`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Text,
    and_,
    cast,
    delete,
    func,
    or_,
    select,
    union,
    update,
)

from connector.state.database import Database
from connector.state.linkedin_scans import dumps, loads
from connector.state.sql import check_aware, chunked, unique
from connector.state.tables import (
    contacts,
    cursors,
    errors,
    linkedin_jobs,
    linkedin_prospects,
    linkedin_results,
    linkedin_uploads,
    prospect_candidates,
    signal_answers,
    signal_asks,
    signal_waits,
)

COUNTERS = ("forgotten", "deletions_followed", "results_expired")
REASONS = {"request": "forgotten", "archived": "deletions_followed", "gone": "deletions_followed"}
COUNTER_PREFIX = "privacy."
PERSON_SCOPE = "contact"  # a signal asked about the person (its target a profile URL), not a company
EMPTY = "{}"
# The tables `forget` and `expire` change: what `scrub_files` vacuums on PostgreSQL.
TOUCHED = (
    contacts,
    errors,
    signal_answers,
    signal_asks,
    signal_waits,
    prospect_candidates,
    linkedin_jobs,
    linkedin_prospects,
    linkedin_results,
    linkedin_uploads,
    cursors,
)

# A contact row's personal columns and what they become; everything else (ids, statuses,
# research id, fingerprint, dates, counts) stays.
CONTACT_CLEARED: dict[str, Any] = {
    "result": None,
    "signals": {},
    "research_error": None,
    "last_error": None,
    "skip_reason": None,
    "company_unmatched": None,
    "written": {},
    "write_pending": None,  # nothing is left to write
}


@dataclass(frozen=True)
class Removal:
    """How many rows of one table lost (or would lose) personal data, and what it was."""

    table: str
    rows: int
    what: str


@dataclass(frozen=True)
class ForgetReport:
    """What a `forget` or an `expire` removed (or, dry, would remove) and for whom."""

    contact_ids: tuple[str, ...]
    removed: tuple[Removal, ...]
    dry_run: bool

    @property
    def total(self) -> int:
        """Rows changed in all tables: 0 when there was nothing left to remove."""
        return sum(r.rows for r in self.removed)


def _json_text(column: Any) -> ColumnElement[Any]:
    """A JSON column as its text (`{}` for an empty object, as `_dumps` writes it), NULL as `{}`."""
    return func.coalesce(cast(column, Text), EMPTY)


def _contact_personal() -> ColumnElement[bool]:
    """A contact row still holding something personal."""
    return or_(
        contacts.c.result.is_not(None),
        contacts.c.research_error.is_not(None),
        contacts.c.last_error.is_not(None),
        contacts.c.skip_reason.is_not(None),
        contacts.c.company_unmatched.is_not(None),
        _json_text(contacts.c.signals) != EMPTY,
        _json_text(contacts.c.written) != EMPTY,
    )


def _candidate_personal() -> ColumnElement[bool]:
    c = prospect_candidates.c
    return or_(c.first_name.is_not(None), c.last_name.is_not(None), c.sales_navigator_url.is_not(None))


def _prospect_personal() -> ColumnElement[bool]:
    c = linkedin_prospects.c
    return or_(c.first_name.is_not(None), c.last_name.is_not(None), c.company.is_not(None))


def _holders() -> list[tuple[Any, ColumnElement[bool]]]:
    """Each table's contact id column and the condition of a row still holding personal data."""
    return [
        (contacts.c.contact_id, _contact_personal()),
        (errors.c.contact_id, errors.c.contact_id.is_not(None)),
        (prospect_candidates.c.contact_id, _candidate_personal()),
        (linkedin_prospects.c.contact_id, _prospect_personal()),
        (linkedin_results.c.contact_id, linkedin_results.c.values_json != EMPTY),
        (linkedin_uploads.c.contact_id, linkedin_uploads.c.url != ""),
    ]


class Privacy:
    """Find, forget and expire the personal data of contacts; keep the totals; scrub the files."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ finding
    def contacts_with_email(self, email: str) -> list[str]:
        """Contacts whose stored research result (which echoes its inputs) holds this email, any case."""
        wanted = email.strip().lower()
        if not wanted:
            return []
        query = select(contacts.c.contact_id, contacts.c.result).where(contacts.c.result.is_not(None))
        if wanted.isascii():  # JSON text escapes non-ASCII: narrow in SQL only when it is plain
            escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(cast(contacts.c.result, Text)).like(f"%{escaped}%", escape="\\"))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(contacts.c.contact_id)).all()
        pattern = _address(wanted)
        return [row.contact_id for row in rows if _holds(row.result, pattern)]

    def known_contacts(self, after: str | None, limit: int) -> list[str]:
        """The next `limit` contact ids (after `after`, in order) the state holds anything personal for."""
        parts = []
        for column, personal in _holders():
            query = select(column.label("contact_id")).where(column.is_not(None), personal)
            if after is not None:
                query = query.where(column > after)
            # Each table's first `limit` ids (an index walk), so a page never sorts the whole state.
            first = query.distinct().order_by(column).limit(limit).subquery()
            parts.append(select(first.c.contact_id))
        everything = union(*parts).subquery()
        query = select(everything.c.contact_id).order_by(everything.c.contact_id).limit(limit)
        with self._db.read() as conn:
            return [str(cid) for cid in conn.execute(query).scalars()]

    # ------------------------------------------------------------------ removing
    def forget(
        self, contact_ids: Sequence[str], *, dry_run: bool = False, reason: str = "request"
    ) -> ForgetReport:
        """Remove everything personal held about these contacts, keeping the paid marker and fingerprint.

        Contacts merged into them (which kept a copy of what their survivor adopted) are
        forgotten too and listed after them. Idempotent: a second call finds nothing (total 0).
        `reason` ("request", "archived", "gone") says which total counts the people who lost
        something; a dry run counts nothing.
        """
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r} (one of {', '.join(REASONS)})")
        ids = unique(contact_ids)
        with self._db.write() as conn:
            roots = _with_merged(conn, ids)
            ids = list(roots)
            removed, touched = _forget(conn, ids, dry_run=dry_run)
            people = {roots[cid] for cid in touched if cid in roots}  # a merged copy is its survivor's
            if people and not dry_run:
                _bump(self._db, conn, REASONS[reason], len(people))
        return ForgetReport(tuple(ids), removed, dry_run)

    def expire(self, older_than: datetime, *, dry_run: bool = False) -> ForgetReport:
        """Retention: results and signal answers older than `older_than`, not researched since, lose
        their personal fields (the research id, status and fingerprint stay)."""
        check_aware(older_than)
        c = contacts.c
        stale = select(c.contact_id).where(
            or_(c.result.is_not(None), _json_text(c.signals) != EMPTY),  # a result or answers: not a skip
            func.coalesce(c.completed_at, c.launched_at, c.updated_at) < older_than,
            or_(c.launched_at.is_(None), c.launched_at < older_than),
        )
        answers = and_(signal_answers.c.scope == PERSON_SCOPE, signal_answers.c.answered_at < older_than)
        with self._db.write() as conn:
            ids = [str(cid) for cid in conn.execute(stale.order_by(c.contact_id)).scalars()]
            rows = _count(conn, contacts, c.contact_id.in_(ids)) if ids else 0
            old_answers = _count(conn, signal_answers, answers)
            if not dry_run:
                for chunk in chunked(ids):
                    conn.execute(update(contacts).where(c.contact_id.in_(chunk)).values(**CONTACT_CLEARED))
                conn.execute(delete(signal_answers).where(answers))
                if ids:
                    _bump(self._db, conn, "results_expired", len(ids))
        removed = _removals(
            [
                ("contacts", rows, "research result and inputs, signal answers and error texts"),
                ("signal_answers", old_answers, "signal answers about people"),
            ]
        )
        return ForgetReport(tuple(ids), removed, dry_run)

    # ------------------------------------------------------------------ totals and files
    def counts(self) -> dict[str, int]:
        """The totals kept in the state: people forgotten, deletions followed, results expired."""
        names = [COUNTER_PREFIX + name for name in COUNTERS]
        with self._db.read() as conn:
            rows = conn.execute(select(cursors.c.name, cursors.c.value).where(cursors.c.name.in_(names)))
            found = {row.name[len(COUNTER_PREFIX) :]: _int(row.value) for row in rows}
        return {name: found.get(name, 0) for name in COUNTERS}

    def scrub_files(self) -> None:
        """Make removed values unreadable on disk, not just unreachable.

        SQLite: every connection deletes with `secure_delete` (freed space zeroed); the WAL,
        which still holds old page images, is checkpointed and truncated, then a VACUUM drops
        freed pages and checkpoints again. PostgreSQL: VACUUM the tables forget touches.
        """
        with self._db.guard():
            if self._db.sqlite:
                self._scrub_sqlite()
            else:
                with self._db.engine.connect() as conn:
                    auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                    for table in TOUCHED:
                        auto.exec_driver_sql(f'VACUUM "{table.name}"')

    def _scrub_sqlite(self) -> None:
        raw = self._db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                for statement in (
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                    "VACUUM",
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ):
                    cursor.execute(statement)
                    cursor.fetchall()
            finally:
                cursor.close()
        finally:
            raw.close()


def _forget(conn: Connection, ids: list[str], *, dry_run: bool) -> tuple[tuple[Removal, ...], set[str]]:
    """Remove (or, dry, count) the personal rows and fields of `ids`; the contacts that lost something."""
    touched: set[str] = set()
    found: list[tuple[str, int, str]] = []
    for chunk in chunked(ids):
        touched.update(_holding(conn, chunk))
        found.extend(_forget_chunk(conn, list(chunk), dry_run=dry_run))
    totals: dict[tuple[str, str], int] = {}
    for table, rows, what in found:
        totals[(table, what)] = totals.get((table, what), 0) + rows
    return _removals([(table, rows, what) for (table, what), rows in totals.items()]), touched


def _with_merged(conn: Connection, ids: list[str]) -> dict[str, str]:
    """`ids` and, after them, every contact merged into one of them (any depth): id -> the one asked for."""
    roots = {cid: cid for cid in ids}
    fresh = list(ids)
    while fresh:
        found: list[str] = []
        for chunk in chunked(fresh):
            query = select(contacts.c.contact_id, contacts.c.merged_into).where(
                contacts.c.merged_into.in_(chunk)
            )
            for row in conn.execute(query):
                if row.contact_id not in roots:
                    roots[str(row.contact_id)] = roots[str(row.merged_into)]
                    found.append(str(row.contact_id))
        fresh = found
    return roots


def _holding(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Those of `ids` the state still holds something personal for."""
    held: set[str] = set()
    for column, personal in _holders():
        held.update(
            str(cid) for cid in conn.execute(select(column).where(column.in_(ids), personal)).scalars()
        )
    return held


def _forget_chunk(conn: Connection, ids: list[str], *, dry_run: bool) -> list[tuple[str, int, str]]:
    """One chunk of ids: each table's rows counted, then (unless dry) cleared or deleted."""
    found: list[tuple[str, int, str]] = []
    targets = _person_targets(conn, ids)
    waited = [
        str(k) for k in conn.execute(select(signal_waits.c.key).where(signal_waits.c.contact_id.in_(ids)))
    ]
    asks = and_(
        signal_asks.c.scope == PERSON_SCOPE,
        or_(signal_asks.c.key.in_(waited), signal_asks.c.target.in_(targets)),
    )
    prospect_ids = [
        str(p)
        for p in conn.execute(
            select(linkedin_prospects.c.prospect_id).where(linkedin_prospects.c.contact_id.in_(ids))
        ).scalars()
    ]
    results = and_(
        or_(linkedin_results.c.contact_id.in_(ids), linkedin_results.c.prospect_id.in_(prospect_ids)),
        linkedin_results.c.values_json != EMPTY,
    )
    plan: list[tuple[Any, ColumnElement[bool], dict[str, Any] | None, str]] = [
        (
            contacts,
            and_(contacts.c.contact_id.in_(ids), _contact_personal()),
            CONTACT_CLEARED,
            "research result and inputs, signal answers and error texts",
        ),
        (errors, errors.c.contact_id.in_(ids), None, "errors naming them"),
        (
            signal_answers,
            and_(signal_answers.c.scope == PERSON_SCOPE, signal_answers.c.target.in_(targets)),
            None,
            "signal answers about the person",
        ),
        (signal_asks, asks, None, "signal questions about the person"),
        (
            prospect_candidates,
            and_(prospect_candidates.c.contact_id.in_(ids), _candidate_personal()),
            {"first_name": None, "last_name": None, "sales_navigator_url": None},
            "prospect candidates' names and URLs",
        ),
        (
            linkedin_prospects,
            and_(linkedin_prospects.c.contact_id.in_(ids), _prospect_personal()),
            {"first_name": None, "last_name": None, "company": None},
            "LinkedIn prospects' names and companies",
        ),
        (linkedin_results, results, {"values_json": EMPTY}, "LinkedIn scan results' values"),
        (
            linkedin_uploads,
            and_(linkedin_uploads.c.contact_id.in_(ids), linkedin_uploads.c.url != ""),
            {"url": ""},
            "LinkedIn URLs uploaded",
        ),
    ]
    found.append(
        ("linkedin_jobs", _scrub_upload_requests(conn, ids, dry_run=dry_run), "URLs in upload requests")
    )
    for table, where, values, what in plan:
        rows = _count(conn, table, where)
        found.append((table.name, rows, what))
        if rows and not dry_run:
            stmt = delete(table) if values is None else update(table).values(**values)
            conn.execute(stmt.where(where))
    if not dry_run:  # no answer is awaited for a forgotten person any more (ids only: not counted)
        conn.execute(delete(signal_waits).where(signal_waits.c.contact_id.in_(ids)))
    return found


def _scrub_upload_requests(conn: Connection, ids: Sequence[str], *, dry_run: bool) -> int:
    """Take these contacts' profile URLs out of the upload jobs that sent them; how many jobs held one.

    A job still `planned` keeps its body: it is restarted with the same key and must not change.
    """
    u, j = linkedin_uploads, linkedin_jobs
    urls: dict[str, set[str]] = {}
    for row in conn.execute(select(u.c.job_key, u.c.url).where(u.c.contact_id.in_(ids), u.c.url != "")):
        urls.setdefault(str(row.job_key), set()).add(str(row.url))
    changed = 0
    query = select(j.c.key, j.c.request).where(
        j.c.key.in_(list(urls)), j.c.kind == "upload", j.c.status != "planned"
    )
    for row in conn.execute(query).all():
        body = loads(row.request)
        kept = [url for url in body.get("profileUrls") or () if url not in urls[row.key]]
        if len(kept) == len(body.get("profileUrls") or ()):
            continue
        changed += 1
        if not dry_run:
            conn.execute(
                update(j).where(j.c.key == row.key).values(request=dumps({**body, "profileUrls": kept}))
            )
    return changed


def _person_targets(conn: Connection, ids: Sequence[str]) -> list[str]:
    """The profile URLs (contact-scope targets) of the signal answers kept on these contacts."""
    targets: set[str] = set()
    for raw in conn.execute(select(contacts.c.signals).where(contacts.c.contact_id.in_(ids))).scalars():
        for kept in (raw or {}).values():
            target = kept.get("target") if isinstance(kept, dict) else None
            if isinstance(target, str) and target:
                targets.add(target)
    return sorted(targets)


def _count(conn: Connection, table: Any, where: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def _removals(found: Sequence[tuple[str, int, str]]) -> tuple[Removal, ...]:
    """The tables that lost (or would lose) rows, in the order found."""
    return tuple(Removal(table, rows, what) for table, rows, what in found if rows)


def _bump(db: Database, conn: Connection, name: str, by: int) -> None:
    """Add `by` to a total kept as a cursor, in the caller's transaction (its row locked on PostgreSQL)."""
    key = COUNTER_PREFIX + name
    now = db.clock()
    stmt = db.insert(cursors).values(name=key, value="0", updated_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[cursors.c.name]))
    query = select(cursors.c.value).where(cursors.c.name == key).with_for_update()
    current = _int(conn.execute(query).scalar_one())
    conn.execute(update(cursors).where(cursors.c.name == key).values(value=str(current + by), updated_at=now))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _holds(value: Any, wanted: re.Pattern[str]) -> bool:
    """Whether any string in this JSON value holds the address (a whole address, not part of another)."""
    if isinstance(value, str):
        return wanted.search(value) is not None
    if isinstance(value, dict):
        return any(_holds(v, wanted) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, wanted) for v in value)
    return False


def _address(email: str) -> re.Pattern[str]:
    """The address, any case, not inside a longer one: bob@x.org is not in jimbob@x.org nor bob@x.org.uk."""
    return re.compile(rf"(?<![\w.%+-]){re.escape(email)}(?![\w-]|\.\w)", re.IGNORECASE)
