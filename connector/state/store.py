"""The state store: what the connector launched, learned and wrote, durable across crashes.

A thin facade over one `Database` and a repository per aggregate, each taking that
database: opening it migrates the schema, and each repository's methods are offered here
too, so that a caller needs one object. Every `record_*` method runs one short transaction
and commits before it returns; the store is safe to share between threads. All datetimes
are timezone-aware UTC in and out; naive ones are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Engine

from connector.clock import utcnow
from connector.state.companies import Companies
from connector.state.contacts import Contacts, ContactState, StoredSignal
from connector.state.cursors import Cursors
from connector.state.database import Database
from connector.state.db import parse_url
from connector.state.identity import Identity
from connector.state.ledger import WriteLedger
from connector.state.linkedin import LinkedInState
from connector.state.locks import run_lock
from connector.state.migrate import MIGRATIONS_DIR, migrate
from connector.state.privacy import Privacy
from connector.state.prospects import Prospects
from connector.state.research import ResearchRecords, RetryRule
from connector.state.runs import RunCounts, RunHistory, RunRecord
from connector.state.signal_answers import SignalAnswers
from connector.state.signal_asks import SignalAsks
from connector.state.signal_waits import SignalWaits
from connector.state.skips import Skips
from connector.state.timings import Timings

__all__ = [
    "MIGRATIONS_DIR",
    "ContactState",
    "RetryRule",
    "RunCounts",
    "RunRecord",
    "StateStore",
    "StoredSignal",
]


class StateStore:
    """The state repositories over one database; open once per process and share it."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        """Open the store: connect and migrate (an up-to-date database is only read).

        Whatever fails here is the operator's to fix (`CONNECTOR_STATE_URL`, the directory,
        the server): a `StateConfigError`, exit 2. Once open, see `Database.guard`.
        """
        self.url = parse_url(url)
        self.db = Database(self.url, clock=clock)
        with self.db.opening():
            self.schema_upgraded = migrate(self.db)
        self._compose(self.db)

    def _compose(self, db: Database) -> None:
        """One repository per aggregate, and their methods offered on the store."""
        self.contacts = Contacts(db)
        self.get, self.get_many = self.contacts.get, self.contacts.get_many

        self.research = ResearchRecords(db)
        self.record_launch = self.research.record_launch
        self.record_poll = self.research.record_poll
        self.record_result = self.research.record_result
        self.pending = self.research.pending
        self.unlooked_research = self.research.unlooked_research
        self.reschedule_research = self.research.reschedule_research
        self.count_pending = self.research.count_pending
        self.pending_contact = self.research.pending_contact
        self.due_for_refresh = self.research.due_for_refresh

        self.skips = Skips(db)
        self.record_skip, self.clear_skip, self.clear_skips = (
            self.skips.record_skip,
            self.skips.clear_skip,
            self.skips.clear_skips,
        )
        self.record_deferred, self.record_deferred_many = (
            self.skips.record_deferred,
            self.skips.record_deferred_many,
        )

        self.identity = Identity(db)
        self.adopt_merged = self.identity.adopt_merged
        self.adopt_twin = self.identity.adopt_twin
        self.same_inputs = self.identity.same_inputs

        self.ledger = WriteLedger(db)
        self.record_written = self.ledger.record_written
        self.set_write_pending = self.ledger.set_write_pending
        self.count_write_pending = self.ledger.count_write_pending

        self.answers = SignalAnswers(db)
        self.signal_answer = self.answers.signal_answer
        self.signal_answers_of = self.answers.signal_answers_of
        self.record_signal_answer = self.answers.record_signal_answer
        self.settle_signal_ask = self.answers.settle_signal_ask
        self.record_signal = self.answers.record_signal

        self.asks = SignalAsks(db)
        self.claim_signal_ask = self.asks.claim_signal_ask
        self.release_signal_ask = self.asks.release_signal_ask
        self.record_signal_asked = self.asks.record_signal_asked
        self.record_signal_ask_lost = self.asks.record_signal_ask_lost
        self.record_signal_polled = self.asks.record_signal_polled
        self.record_signal_failed = self.asks.record_signal_failed
        self.drop_signal_ask = self.asks.drop_signal_ask
        self.signal_asks_for = self.asks.signal_asks_for
        self.signal_asks_due = self.asks.signal_asks_due
        self.unlooked_signal_asks = self.asks.unlooked_signal_asks
        self.reschedule_signal_asks = self.asks.reschedule_signal_asks
        self.count_signal_asks = self.asks.count_signal_asks

        self.waits = SignalWaits(db)
        self.set_signal_waits = self.waits.set_signal_waits
        self.signal_waits_of = self.waits.signal_waits_of
        self.contacts_waiting_on_signal = self.waits.contacts_waiting_on_signal
        self.contacts_to_rewrite = self.waits.contacts_to_rewrite

        self.companies = Companies(db)
        self.get_companies = self.companies.get_companies
        self.companies_pending = self.companies.companies_pending
        self.record_company_written = self.companies.record_company_written
        self.set_company_pending = self.companies.set_company_pending
        self.record_company_matches = self.companies.record_company_matches
        self.mark_company_pending = self.companies.mark_company_pending
        self.company_pending_contacts = self.companies.company_pending_contacts
        self.company_unmatched_counts = self.companies.company_unmatched_counts

        self.runs = RunHistory(db)
        self.start_run = self.runs.start_run
        self.finish_run = self.runs.finish_run
        self.last_runs = self.runs.last_runs
        self.record_error = self.runs.record_error
        self.clear_error = self.runs.clear_error
        self.status_counts = self.runs.status_counts
        self.skipped_examples = self.runs.skipped_examples
        self.common_errors = self.runs.common_errors
        self.prune = self.runs.prune

        self.cursors = Cursors(db)
        self.get_cursor = self.cursors.get_cursor
        self.set_cursor = self.cursors.set_cursor
        self.shared_value = self.cursors.shared_value

        self.timings = Timings(db)
        self.record_timings = self.timings.record_timings
        self.recent_timings = self.timings.recent_timings

        self.prospects = Prospects(db)  # prospecting's accounts and candidates (used through this name)
        self.linkedin = LinkedInState(db)  # LinkedIn jobs, prospects, uploads, scans and results (this name)
        self.privacy = Privacy(db)  # personal data: forget, expire, scrub the files (used through this name)

    @classmethod
    def open(cls, url: str, *, check_writes: bool = False) -> StateStore:
        """Open (and migrate) the store at `url`, e.g. `settings.connector_state_url`.

        `check_writes` (for `check`) also writes a row and rolls it back, so that a database
        that can be read but not written is found now, as a `StateConfigError`.
        """
        store = cls(url)
        if check_writes:
            with store.db.opening():
                store.db.probe_writes()
        return store

    def close(self) -> None:
        """Close every pooled connection (call once, at shutdown)."""
        self.db.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The underlying engine (for diagnostics and tests)."""
        return self.db.engine

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.db.backend

    def ping(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        self.db.ping()

    def run_lock(self, name: str = "sync") -> AbstractContextManager[bool]:
        """Try to become the only cycle running on this database; yields False if another holds it.

        PostgreSQL: a session advisory lock; SQLite: an flock beside the file (`connector.state.locks`).
        Both are released if the holder dies, so a SIGKILL never leaves a stale lock.
        """
        return run_lock(self.db, name)
