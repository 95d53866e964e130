"""Signal asks still in flight: claimed, sent, looked at, failed, until their answer is kept.

An answer is kept once per scope, target, question and answer type (`signal_answers`) and
shared by every contact, run and replica. Before one is paid for, its ask is claimed here
(`signal_asks`, status `asking`): the claim is an insert that only one process can win, so
two replicas never pay for the same question, and a crash or a lost answer leaves a row
that is looked for, free, in Saber's lists before anything is paid again. Once Saber gives
the signal's id the ask is `processing` and is collected by id; a completed answer moves to
`signal_answers` in the same transaction that drops the ask. Contacts whose results wait on
an ask are in `signal_waits` (`connector.state.signal_waits`); kept answers are in
`connector.state.signal_answers`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, nulls_first, or_, select, update

from connector.state.database import Database
from connector.state.sql import check_aware, clip, count, record_from_row, rows_in, set_each
from connector.state.tables import SIGNAL_ASK_STATUSES, signal_asks, signal_waits

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


class SignalAsks:
    """Asks of Saber not answered yet: who may pay, what Saber took, when to look again."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_signal_ask(self, spec: AskSpec, *, failed_before: datetime | None = None) -> bool:
        """Claim the right to pay for this ask: True for the one caller that won it.

        A row already there means another worker, run or replica is asking (or asked); a
        `failed` one older than `failed_before` (an earlier run's) is claimed afresh.
        """
        now = self._db.clock()
        check_aware(failed_before)
        values = {
            **asdict(spec),  # the ask's columns are named as its fields
            "signal_id": None,
            "status": "asking",
            "asked_at": now,
            "next_check_at": None,
            "check_count": 0,
            "error_code": None,
            "error": None,
            "updated_at": now,
        }
        with self._db.write() as conn:
            stmt = self._db.insert(signal_asks).values(**values)
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
        with self._db.write() as conn:
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
        now = self._db.clock()
        with self._db.write() as conn:
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
        with self._db.write() as conn:
            conn.execute(delete(signal_asks).where(signal_asks.c.key == key))

    def _update_ask(self, key: str, **values: Any) -> None:
        if "status" in values and values["status"] not in SIGNAL_ASK_STATUSES:
            raise ValueError(f"unknown signal ask status {values['status']!r}")
        check_aware(values.get("next_check_at"))
        with self._db.write() as conn:
            conn.execute(
                update(signal_asks)
                .where(signal_asks.c.key == key)
                .values(**values, updated_at=self._db.clock())
            )

    def signal_asks_for(self, keys: Collection[str]) -> dict[str, SignalAskState]:
        """The asks not answered yet among `keys`."""
        with self._db.read() as conn:
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
        with self._db.read() as conn:
            return [_ask_state(row) for row in conn.execute(query)]

    def unlooked_signal_asks(self) -> list[SignalAskState]:
        """Asks Saber took (`processing`) and never looked at since."""
        query = select(signal_asks).where(
            signal_asks.c.status == "processing", signal_asks.c.check_count == 0
        )
        with self._db.read() as conn:
            return [_ask_state(row) for row in conn.execute(query)]

    def reschedule_signal_asks(self, next_checks: Mapping[str, datetime]) -> None:
        """Move these asks' next look (the schedule learned when signals are done)."""
        for when in next_checks.values():
            check_aware(when)
        if next_checks:
            with self._db.write() as conn:
                set_each(conn, signal_asks, "key", "next_check_at", next_checks)

    def count_signal_asks(self) -> dict[str, int]:
        """Asks not answered yet, by status (for `status` and the summary)."""
        query = select(signal_asks.c.status, func.count()).group_by(signal_asks.c.status)
        with self._db.read() as conn:
            return {status: int(n) for status, n in conn.execute(query)}


def _ask_state(row: Row[Any]) -> SignalAskState:
    spec = record_from_row(AskSpec, row)
    return record_from_row(SignalAskState, row, {"check_count": count}, spec=spec)
