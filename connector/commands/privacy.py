"""`saber-connector forget` and `reconcile`: the privacy commands, with everything built from settings.

Neither builds a Saber client: forgetting and following HubSpot's deletions never cost a credit.
`forget` builds a HubSpot client only to match `--email` there (a read); `reconcile` runs under
the state's run lock "reconcile" (the service's cycle takes the same), so two replicas never
reconcile at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.clients import hubspot_from, store_from
from connector.clock import utcnow
from connector.hubspot import HubSpotAdapter
from connector.privacy import ForgetOutcome, ReconcileReport, forget_people, reconcile
from connector.settings import Settings
from connector.state import StateStore

LOCK = "reconcile"
LOCKED = "another reconciliation holds the lock on this state database"


def run_forget(
    settings: Settings, contact_ids: Sequence[str], emails: Sequence[str] = (), *, dry_run: bool = False
) -> ForgetOutcome:
    """Forget these people; emails are also matched in HubSpot (read only) when a token is set."""
    with store_from(settings) as store:
        if not emails:
            return forget_people(store, contact_ids, dry_run=dry_run)
        with hubspot_from(settings) as hubspot:
            return forget_people(store, contact_ids, emails, hubspot=hubspot, dry_run=dry_run)


def run_reconcile(settings: Settings, *, dry_run: bool = False) -> ReconcileReport | None:
    """One reconciliation; None when another holds the lock."""
    with hubspot_from(settings) as hubspot, store_from(settings) as store:
        return reconcile_with(settings, store, hubspot, dry_run=dry_run)


def reconcile_with(
    settings: Settings, store: StateStore, hubspot: HubSpotAdapter, *, dry_run: bool = False
) -> ReconcileReport | None:
    """One reconciliation with these clients (the CLI's, or the service's); None when locked out."""
    with store.run_lock(LOCK) as locked:
        if not locked:
            return None
        return reconcile(
            store,
            hubspot,
            now=utcnow(),
            result_retention_days=settings.connector_result_retention_days,
            history_retention_days=settings.connector_history_retention_days,
            dry_run=dry_run,
        )
