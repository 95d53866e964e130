"""The connector's state store: research launched, results, written hashes, cursors, runs, errors.

SQLite by default (`sqlite:///state/connector.db`), PostgreSQL for replicas; the schema is
migrated with alembic when the store opens.
"""

from connector.state.companies import CompanyState
from connector.state.contacts import ContactState, StoredSignal
from connector.state.db import StateUnavailableError, mask_url, parse_url
from connector.state.research import RetryRule
from connector.state.runs import RunCounts, RunRecord
from connector.state.store import StateStore
from connector.state.tables import DEFERRALS, UNWRITTEN

__all__ = [
    "DEFERRALS",
    "CompanyState",
    "ContactState",
    "RetryRule",
    "RunCounts",
    "RunRecord",
    "StateStore",
    "StateUnavailableError",
    "StoredSignal",
    "UNWRITTEN",
    "mask_url",
    "parse_url",
]
