"""The connector's state store: research launched, results, written hashes, cursors, runs, errors.

SQLite by default (`sqlite:///state/connector.db`), PostgreSQL for replicas; the schema is
migrated with alembic when the store opens.

`StateStore` (`store`) composes one `Database` (`database`: engine, transactions, errors;
`db`: URLs and engines; `migrate`; `locks`) and a repository per aggregate, each taking the
database: `contacts` (the `ContactState` record), `research` (launches, looks, results),
`skips` (skips and deferrals), `identity` (merges and twins), `ledger` (what was written),
`signal_answers`, `signal_asks` and `signal_waits`, `companies`, `runs` (runs, errors and
`status`), `cursors` (positions and shared values), `timings`, `prospects` (prospecting's
accounts searched and people claimed or created) and `linkedin` (LinkedIn jobs, prospects and
uploads; its scans and results in `linkedin_scans`), `privacy` (forget, retention, scrubbing
the files). `tables` is the schema,
`sql` the few query tools they share.
"""

from connector.state.companies import CompanyState
from connector.state.contacts import ContactState, StoredSignal
from connector.state.db import StateUnavailableError, mask_url, parse_url
from connector.state.linkedin import JobRow, LinkedInState, ProspectRow, ResultRow, ScanRow
from connector.state.privacy import ForgetReport, Privacy, Removal
from connector.state.research import RetryRule
from connector.state.runs import RunCounts, RunRecord
from connector.state.store import StateStore
from connector.state.tables import DEFERRALS, UNWRITTEN

__all__ = [
    "DEFERRALS",
    "CompanyState",
    "ContactState",
    "ForgetReport",
    "JobRow",
    "LinkedInState",
    "Privacy",
    "ProspectRow",
    "Removal",
    "ResultRow",
    "RetryRule",
    "RunCounts",
    "RunRecord",
    "ScanRow",
    "StateStore",
    "StateUnavailableError",
    "StoredSignal",
    "UNWRITTEN",
    "mask_url",
    "parse_url",
]
