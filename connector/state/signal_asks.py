"""Signal answers and the asks still in flight, as a mixin of `StateStore`.

An answer is kept once per scope, target, question and answer type (`signal_answers`) and
shared by every contact, run and replica. Before one is paid for, its ask is claimed here
(`signal_asks`, status `asking`): the claim is an insert that only one process can win, so
two replicas never pay for the same question, and a crash or a lost answer leaves a row
that is looked for, free, in Saber's lists before anything is paid again. Once Saber gives
the signal's id the ask is `processing` and is collected by id; a completed answer moves to
`signal_answers` in the same transaction that drops the ask. Contacts whose results wait on
an ask are in `signal_waits`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    nulls_first,
    or_,
    select,
    update,
)

from connector.state.tables import (
    CHUNK,
    SIGNAL_ASK_STATUSES,
    check_aware,
    clip,
    rows_in,
    set_each,
    signal_answers,
    signal_asks,
    signal_waits,
)

IN_FLIGHT = ("asking", "processing")


@dataclass(frozen=True)
class AskSpec:
    """One ask: the answer's key, and what Saber is asked (a template's question when one is used)."""

    key: str
    scope: str
    target: str
    question: str
    answer_type: str
    template_id: str | None = None
    verification_mode: str | None = None


@dataclass(frozen=True)
class SignalAskState:
    """One ask not answered yet, as plain immutable data."""

    spec: AskSpec
    signal_id: str | None
    status: str  # asking | processing | failed
    asked_at: datetime
    next_check_at: datetime | None
    check_count: int
    error_code: str | None
    error: str | None
    updated_at: datetime

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass(frozen=True)
class AnswerRecord:
    """A kept answer: the signal's JSON, where it came from (asked, saber_list) and when."""

    key: str
    spec: AskSpec
    source: str
    signal: dict[str, Any]
    answered_at: datetime


class SignalAskRecords:
    """Signal answers, asks in flight and the contacts waiting on them; mixed into `StateStore`."""

    _clock: Callable[[], datetime]
    _read: Callable[[], AbstractContextManager[Connection]]
    _write: Callable[[], AbstractContextManager[Connection]]
    _insert: Callable[[Any], Any]

    # ------------------------------------------------------------------ answers
    def signal_answer(self, key: str) -> tuple[dict[str, Any], datetime] | None:
        """A shared signal answer (its JSON and when it was answered), or None."""
        query = select(signal_answers.c.signal, signal_answers.c.answered_at).where(
            signal_answers.c.key == key
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (dict(row.signal), row.answered_at)

    def signal_answers_of(self, keys: Collection[str]) -> dict[str, tuple[dict[str, Any], datetime]]:
        """The shared answers kept under these keys (their JSON and when they were answered)."""
        with self._read() as conn:
            rows = rows_in(conn, signal_answers, "key", keys)
            return {row.key: (dict(row.signal), row.answered_at) for row in rows}

    def record_signal_answer(self, answer: AnswerRecord) -> None:
        """Keep (or replace) the shared answer under its key; committed on return."""
        with self._write() as conn:
            self._upsert_answer(conn, answer)

    def settle_signal_ask(self, answer: AnswerRecord) -> None:
        """The ask's answer came: keep it and drop the ask, in one transaction (no crash between)."""
        with self._write() as conn:
            self._upsert_answer(conn, answer)
            conn.execute(delete(signal_asks).where(signal_asks.c.key == answer.key))

    def _upsert_answer(self, conn: Connection, answer: AnswerRecord) -> None:
        check_aware(answer.answered_at)
        spec = answer.spec
        values = {
            "key": answer.key,
            "scope": spec.scope,
            "target": spec.target,
            "question": spec.question,
            "answer_type": spec.answer_type,
            "source": answer.source,
            "signal": answer.signal,
            "answered_at": answer.answered_at,
        }
        stmt = self._insert(signal_answers).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[signal_answers.c.key], set_={k: v for k, v in values.items() if k != "key"}
        )
        conn.execute(stmt)

    # ------------------------------------------------------------------ asks
    def claim_signal_ask(self, spec: AskSpec, *, failed_before: datetime | None = None) -> bool:
        """Claim the right to pay for this ask: True for the one caller that won it.

        A row already there means another worker, run or replica is asking (or asked); a
        `failed` one older than `failed_before` (an earlier run's) is claimed afresh.
        """
        now = self._clock()
        check_aware(failed_before)
        values = {
            "key": spec.key,
            "scope": spec.scope,
            "target": spec.target,
            "question": spec.question,
            "answer_type": spec.answer_type,
            "template_id": spec.template_id,
            "verification_mode": spec.verification_mode,
            "signal_id": None,
            "status": "asking",
            "asked_at": now,
            "next_check_at": None,
            "check_count": 0,
            "error_code": None,
            "error": None,
            "updated_at": now,
        }
        with self._write() as conn:
            stmt = self._insert(signal_asks).values(**values)
            # RETURNING says whether this insert won (rowcount is not reliable for it on every driver).
            claimed = stmt.on_conflict_do_nothing(index_elements=[signal_asks.c.key]).returning(
                signal_asks.c.key
            )
            if conn.execute(claimed).first() is not None:
                return True
            if failed_before is None:
                return False
            again = (
                update(signal_asks)
                .where(
                    signal_asks.c.key == spec.key,
                    signal_asks.c.status == "failed",
                    signal_asks.c.updated_at < failed_before,
                )
                .values(**{k: v for k, v in values.items() if k != "key"})
            )
            return conn.execute(again.returning(signal_asks.c.key)).first() is not None

    def release_signal_ask(self, key: str) -> None:
        """Give a claim back: nothing was sent (no credits, a stop, a refusal), so nothing is to be found."""
        with self._write() as conn:
            conn.execute(
                delete(signal_asks).where(
                    signal_asks.c.key == key,
                    signal_asks.c.status == "asking",
                    signal_asks.c.next_check_at.is_(None),  # a lost answer has a look scheduled: kept
                )
            )

    def record_signal_asked(self, key: str, signal_id: str, *, next_check_at: datetime) -> None:
        """Saber took the ask: its signal's id, and when to look at it first."""
        self._update_ask(key, signal_id=signal_id, status="processing", next_check_at=next_check_at)

    def record_signal_ask_lost(self, key: str, *, next_check_at: datetime) -> None:
        """The ask may have reached Saber but its answer did not come back: look for it in the lists later."""
        self._update_ask(key, status="asking", next_check_at=next_check_at)

    def record_signal_polled(self, key: str, *, next_check_at: datetime) -> None:
        """Looked at and still processing (or still not found): count it, schedule the next look."""
        check_aware(next_check_at)
        now = self._clock()
        with self._write() as conn:
            conn.execute(
                update(signal_asks)
                .where(signal_asks.c.key == key)
                .values(
                    check_count=signal_asks.c.check_count + 1, next_check_at=next_check_at, updated_at=now
                )
            )

    def record_signal_failed(self, key: str, *, error_code: str | None, error: str | None) -> None:
        """Saber ended the signal failed: kept with its code; a later run asks again."""
        self._update_ask(key, status="failed", error_code=error_code, error=clip(error), next_check_at=None)

    def drop_signal_ask(self, key: str) -> None:
        """Forget an ask (one Saber never made, looked for in vain): a later ask may pay for it."""
        with self._write() as conn:
            conn.execute(delete(signal_asks).where(signal_asks.c.key == key))

    def _update_ask(self, key: str, **values: Any) -> None:
        if "status" in values and values["status"] not in SIGNAL_ASK_STATUSES:
            raise ValueError(f"unknown signal ask status {values['status']!r}")
        check_aware(values.get("next_check_at"))
        with self._write() as conn:
            conn.execute(
                update(signal_asks).where(signal_asks.c.key == key).values(**values, updated_at=self._clock())
            )

    def signal_asks_for(self, keys: Collection[str]) -> dict[str, SignalAskState]:
        """The asks not answered yet among `keys`."""
        with self._read() as conn:
            return {row.key: _ask_state(row) for row in rows_in(conn, signal_asks, "key", keys)}

    def signal_asks_due(
        self,
        *,
        due_before: datetime | None,
        limit: int | None = None,
        contact_ids: Sequence[str] | None = None,
    ) -> list[SignalAskState]:
        """Asks in flight to look at (due by `due_before`; all when None), soonest first.

        With `contact_ids`, only the asks those contacts wait on.
        """
        check_aware(due_before)
        query = select(signal_asks).where(signal_asks.c.status.in_(IN_FLIGHT))
        if due_before is not None:
            query = query.where(
                or_(signal_asks.c.next_check_at.is_(None), signal_asks.c.next_check_at <= due_before)
            )
        if contact_ids is not None:
            waited = select(signal_waits.c.key).where(signal_waits.c.contact_id.in_(list(contact_ids)))
            query = query.where(signal_asks.c.key.in_(waited))
        query = query.order_by(nulls_first(signal_asks.c.next_check_at.asc()), signal_asks.c.key)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_ask_state(row) for row in conn.execute(query)]

    def unlooked_signal_asks(self) -> list[SignalAskState]:
        """Asks Saber took (`processing`) and never looked at since."""
        query = select(signal_asks).where(
            signal_asks.c.status == "processing", signal_asks.c.check_count == 0
        )
        with self._read() as conn:
            return [_ask_state(row) for row in conn.execute(query)]

    def reschedule_signal_asks(self, next_checks: Mapping[str, datetime]) -> None:
        """Move these asks' next look (the schedule learned when signals are done)."""
        for when in next_checks.values():
            check_aware(when)
        if next_checks:
            with self._write() as conn:
                set_each(conn, signal_asks, "key", "next_check_at", next_checks)

    def count_signal_asks(self) -> dict[str, int]:
        """Asks not answered yet, by status (for `status` and the summary)."""
        query = select(signal_asks.c.status, func.count()).group_by(signal_asks.c.status)
        with self._read() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    # ------------------------------------------------------------------ waits
    def set_signal_waits(self, waits: Mapping[str, Collection[str]]) -> None:
        """Each contact's result waits on exactly these asks now (an empty set: on none)."""
        if not waits:
            return
        ids = list(waits)
        with self._write() as conn:
            for start in range(0, len(ids), CHUNK):
                conn.execute(
                    delete(signal_waits).where(signal_waits.c.contact_id.in_(ids[start : start + CHUNK]))
                )
            rows = [
                {"key": key, "contact_id": cid} for cid, keys in waits.items() for key in sorted(set(keys))
            ]
            for start in range(0, len(rows), CHUNK):
                conn.execute(insert(signal_waits), rows[start : start + CHUNK])

    def signal_waits_of(self, contact_ids: Collection[str]) -> dict[str, set[str]]:
        """The asks each of these contacts waits on (contacts waiting on none are left out)."""
        found: dict[str, set[str]] = {}
        with self._read() as conn:
            for row in rows_in(conn, signal_waits, "contact_id", contact_ids):
                found.setdefault(row.contact_id, set()).add(row.key)
        return found

    def contacts_waiting_on_signal(self, signal_id: str) -> list[str]:
        """The contacts whose results wait on the ask Saber made this signal for (a webhook's hint)."""
        if not signal_id:
            return []
        keys = select(signal_asks.c.key).where(signal_asks.c.signal_id == signal_id)
        query = (
            select(signal_waits.c.contact_id)
            .where(signal_waits.c.key.in_(keys))
            .order_by(signal_waits.c.contact_id)
        )
        with self._read() as conn:
            return [str(cid) for cid in conn.execute(query).scalars()]

    def contacts_to_rewrite(
        self, *, contact_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> list[str]:
        """Contacts that waited on asks none of which is in flight any more: their answers came
        (or failed), so their results are written again now."""
        in_flight = exists().where(
            and_(signal_asks.c.key == signal_waits.c.key, signal_asks.c.status.in_(IN_FLIGHT))
        )
        query = (
            select(signal_waits.c.contact_id)
            .group_by(signal_waits.c.contact_id)
            .having(func.sum(_flag(in_flight)) == 0)
            .order_by(signal_waits.c.contact_id)
        )
        if contact_ids is not None:
            query = query.where(signal_waits.c.contact_id.in_(list(contact_ids)))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [str(cid) for cid in conn.execute(query).scalars()]


def _flag(condition: Any) -> Any:
    """1 where `condition` holds, else 0 (portable across SQLite and PostgreSQL)."""
    return case((condition, 1), else_=0)


def _ask_state(row: Any) -> SignalAskState:
    return SignalAskState(
        spec=AskSpec(
            key=row.key,
            scope=row.scope,
            target=row.target,
            question=row.question,
            answer_type=row.answer_type,
            template_id=row.template_id,
            verification_mode=row.verification_mode,
        ),
        signal_id=row.signal_id,
        status=row.status,
        asked_at=row.asked_at,
        next_check_at=row.next_check_at,
        check_count=int(row.check_count or 0),
        error_code=row.error_code,
        error=row.error,
        updated_at=row.updated_at,
    )
