"""`saber-connector prospect`: one prospecting run, with everything built from settings, closed after.

Prospecting has its own command (and its own run lock) because it writes new contacts rather
than research: a sync and a prospect run may overlap, two prospect runs may not (each would
find the other's people missing). The exit codes are the sync's: 0 done, 1 record failures,
2 a problem the user must fix (no `prospecting` section, Sales Navigator not connected, a
filter Saber refuses), 3 an API unavailable after its retries.
"""

from __future__ import annotations

from collections import Counter

from connector.clients import hubspot_from, policy_from, saber_from, store_from
from connector.clock import utcnow
from connector.errors import ConfigError
from connector.hubspot.adapter import HubSpotAdapter
from connector.mapping import Mapping, load_mapping
from connector.portal import preflight_prospecting
from connector.saber import SaberClient
from connector.settings import Settings
from connector.state import StateStore
from connector.sync.prospect_effects import effects_for
from connector.sync.prospect_summary import ProspectSummary
from connector.sync.prospecting import Prospector

LOCK = "prospect"


def run_prospect(settings: Settings, *, dry_run: bool = False, max_new: int | None = None) -> ProspectSummary:
    """One prospecting run; the mapping is checked before any call."""
    mapping = load_mapping(settings.connector_mapping)
    if mapping.prospecting is None:
        raise ConfigError(
            f"{settings.connector_mapping}: the mapping has no `prospecting` section; add one "
            "(see mappings/prospecting.yaml) to find the people missing at your target accounts"
        )
    policy = policy_from(settings)
    with (
        hubspot_from(settings, policy) as hubspot,
        saber_from(settings, policy) as saber,
        store_from(settings) as store,
    ):
        return prospect_with(mapping, hubspot, saber, store, dry_run=dry_run, max_new=max_new)


def prospect_with(
    mapping: Mapping,
    hubspot: HubSpotAdapter,
    saber: SaberClient,
    store: StateStore,
    *,
    dry_run: bool = False,
    max_new: int | None = None,
) -> ProspectSummary:
    """One prospecting run with these clients (the CLI's, or the service's long-lived ones).

    Under the prospect run lock; recorded in the runs table (kind: prospect) unless a dry run.
    The API calls counted are this run's own, however many runs the clients served before.
    """
    section = mapping.prospecting
    if section is None:
        raise ConfigError("the mapping has no `prospecting` section")
    summary = ProspectSummary(started_at=utcnow(), dry_run=dry_run)
    before = {"hubspot": Counter(hubspot.calls), "saber": Counter(saber.calls)}
    with store.run_lock(LOCK) as locked:
        if not locked:
            summary.outcome = "skipped"
            summary.stopped = "another prospect run holds the lock on this state database"
            return summary
        preflight_prospecting(mapping, hubspot)  # exit 2 naming the fix, before any search
        effects = effects_for(summary, store, hubspot)
        stage = Prospector(
            section,
            hubspot,
            saber,
            store,
            effects,
            summary,
            now=summary.started_at,
            max_new=max_new,
        )
        error: str | None = None
        try:
            stage.run()
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            summary.finished_at = utcnow()
            summary.api_calls = {
                "hubspot": dict(Counter(hubspot.calls) - before["hubspot"]),
                "saber": dict(Counter(saber.calls) - before["saber"]),
            }
            summary.outcome = "failed" if error else "partial" if summary.failures else "ok"
            effects.record_run(error)
        return summary
