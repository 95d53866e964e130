"""Signal answers kept once and shared: by every contact with the same target, run and replica.

An answer is kept per scope, target, question and answer type (`signal_answers`, by key);
a contact also keeps the answers that served it (its `signals` column, read back as
`StoredSignal`s), with the fingerprint of the inputs they answered.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from connector.state.contacts import locked_contact, update_contact
from connector.state.database import Database
from connector.state.signal_asks import AnswerRecord
from connector.state.sql import check_aware, rows_in
from connector.state.tables import signal_answers, signal_asks

# What of the ask an answer keeps (a template and a verification mode are the ask's, not the answer's).
ANSWER_SPEC_COLUMNS = ("scope", "target", "question", "answer_type")


class SignalAnswers:
    """The shared answer cache, and the answers kept on each contact."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def signal_answer(self, key: str) -> tuple[dict[str, Any], datetime] | None:
        """A shared signal answer (its JSON and when it was answered), or None."""
        query = select(signal_answers.c.signal, signal_answers.c.answered_at).where(
            signal_answers.c.key == key
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (dict(row.signal), row.answered_at)

    def signal_answers_of(self, keys: Collection[str]) -> dict[str, tuple[dict[str, Any], datetime]]:
        """The shared answers kept under these keys (their JSON and when they were answered)."""
        with self._db.read() as conn:
            rows = rows_in(conn, signal_answers, "key", keys)
            return {row.key: (dict(row.signal), row.answered_at) for row in rows}

    def record_signal_answer(self, answer: AnswerRecord) -> None:
        """Keep (or replace) the shared answer under its key; committed on return."""
        with self._db.write() as conn:
            self._upsert_answer(conn, answer)

    def settle_signal_ask(self, answer: AnswerRecord) -> None:
        """The ask's answer came: keep it and drop the ask, in one transaction (no crash between)."""
        with self._db.write() as conn:
            self._upsert_answer(conn, answer)
            conn.execute(delete(signal_asks).where(signal_asks.c.key == answer.key))

    def record_signal(self, contact_id: str, key: str, signal: dict[str, Any], fingerprint: str) -> None:
        """Keep a signal answered through the sync endpoints, as `{**signal, "fingerprint": ...}`."""
        now = self._db.clock()
        with self._db.write() as conn:
            row = locked_contact(self._db, conn, contact_id, now)
            signals = {**(row.signals or {}), key: {**signal, "fingerprint": fingerprint}}
            update_contact(conn, contact_id, signals=signals, updated_at=now)

    def _upsert_answer(self, conn: Connection, answer: AnswerRecord) -> None:
        check_aware(answer.answered_at)
        spec = answer.spec
        values = {
            "key": answer.key,
            **{name: getattr(spec, name) for name in ANSWER_SPEC_COLUMNS},
            "source": answer.source,
            "signal": answer.signal,
            "answered_at": answer.answered_at,
        }
        stmt = self._db.insert(signal_answers).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[signal_answers.c.key], set_={k: v for k, v in values.items() if k != "key"}
        )
        conn.execute(stmt)
