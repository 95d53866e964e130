"""`reconcile`: follow HubSpot's deletions, then apply retention; HubSpot is read, Saber never called.

Every contact the state holds anything personal for is looked up in HubSpot by id, 100 a call
(`contacts.presence`): one archived (deleted in HubSpot, restorable) or gone (deleted for good,
a GDPR delete) is forgotten; a merged-away id is left alone, as the merge path adopts its
research. Then results older than `CONNECTOR_RESULT_RETENTION_DAYS` lose their personal fields,
run history older than `CONNECTOR_HISTORY_RETENTION_DAYS` is dropped, and the freed pages are
overwritten (`scrub_files`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector.logs import get_logger

if TYPE_CHECKING:
    from connector.hubspot import HubSpotAdapter
    from connector.state import StateStore

log = get_logger("privacy")

PAGE = 1000  # contact ids read from the state and asked of HubSpot at once: `presence` reads them
# 100 a call, then the few it did not find with archived=true, 100 a call too: ~110 calls per 10,000


@dataclass(frozen=True)
class ReconcileReport:
    """What one reconciliation found and removed (or would, in a dry run), and what it cost."""

    checked: int  # contacts the state held personal data for, looked up in HubSpot
    archived: tuple[str, ...]
    gone: tuple[str, ...]
    merged: tuple[str, ...]
    rows_forgotten: int  # rows removed for the archived and gone contacts
    results_expired: int  # contacts whose results retention emptied
    rows_expired: int
    history_pruned: int
    hubspot_calls: int
    seconds: float
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "checked": self.checked,
            "archived": list(self.archived),
            "gone": list(self.gone),
            "merged": list(self.merged),
            "rows_forgotten": self.rows_forgotten,
            "results_expired": self.results_expired,
            "rows_expired": self.rows_expired,
            "history_pruned": self.history_pruned,
            "hubspot_calls": self.hubspot_calls,
            "seconds": round(self.seconds, 3),
        }

    def render(self) -> str:
        verb = "would forget" if self.dry_run else "forgot"
        return "\n".join(
            [
                f"contacts checked in HubSpot: {self.checked}",
                f"archived in HubSpot: {len(self.archived)}; deleted for good: {len(self.gone)};"
                f" merged (left alone): {len(self.merged)}",
                f"{verb}: {len(self.archived) + len(self.gone)} people ({self.rows_forgotten} rows)",
                f"results expired by retention: {self.results_expired} people ({self.rows_expired} rows)",
                f"run history dropped: {self.history_pruned} rows",
                f"HubSpot calls: {self.hubspot_calls}; seconds: {self.seconds:.2f}",
            ]
        )


def reconcile(
    store: StateStore,
    hubspot: HubSpotAdapter,
    *,
    now: datetime,
    result_retention_days: int,
    history_retention_days: int,
    dry_run: bool = False,
) -> ReconcileReport:
    """One reconciliation (see the module); `dry_run` looks everything up and removes nothing."""
    started, calls_before = time.monotonic(), sum(hubspot.calls.values())
    privacy = store.privacy
    checked, rows = 0, 0
    found: dict[str, list[str]] = {"archived": [], "gone": [], "merged": []}
    after: str | None = None
    while True:
        ids = privacy.known_contacts(after, PAGE)
        if not ids:
            break
        after, checked = ids[-1], checked + len(ids)
        presence = hubspot.contacts.presence(ids)
        for reason in ("archived", "gone"):
            doomed = [cid for cid in ids if cid in presence and presence[cid].state == reason]
            found[reason] += doomed
            if doomed:
                rows += privacy.forget(doomed, dry_run=dry_run, reason=reason).total
        found["merged"] += [cid for cid in ids if cid in presence and presence[cid].state == "merged"]
        if len(ids) < PAGE:
            break
    expired = privacy.expire(now - timedelta(days=result_retention_days), dry_run=dry_run)
    pruned = 0 if dry_run else store.prune(now - timedelta(days=history_retention_days))
    if not dry_run:
        privacy.scrub_files()
    report = ReconcileReport(
        checked=checked,
        archived=tuple(found["archived"]),
        gone=tuple(found["gone"]),
        merged=tuple(found["merged"]),
        rows_forgotten=rows,
        results_expired=len(expired.contact_ids),
        rows_expired=expired.total,
        history_pruned=pruned,
        hubspot_calls=sum(hubspot.calls.values()) - calls_before,
        seconds=time.monotonic() - started,
        dry_run=dry_run,
    )
    log.info("reconciled", **{k: v for k, v in report.to_json().items() if not isinstance(v, list)})
    return report
