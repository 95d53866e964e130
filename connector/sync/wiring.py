"""The one place a `SyncEngine` is built, for `sync`, `demo` and the service's cycles.

Settings become the engine's tuning here (`engine_config_from`), and a cycle's engine is
built by `build_engine` from clients the caller owns (and closes): `sync` opens them for
one run, the service keeps them for its life.
"""

from __future__ import annotations

from datetime import timedelta

from connector.hubspot import HubSpotAdapter
from connector.mapping import Mapping
from connector.saber import SaberClient
from connector.settings import Settings
from connector.state import StateStore
from connector.sync.context import EngineConfig
from connector.sync.engine import SyncEngine
from connector.sync.options import SyncOptions
from connector.sync.progress import Progress
from connector.sync.stopping import StopRequest
from connector.sync.templates import resolve_templates


def engine_config_from(settings: Settings) -> EngineConfig:
    """The cycle's tuning, from settings."""
    return EngineConfig(
        concurrency=settings.connector_concurrency,
        research_cost=settings.saber_research_cost,
        cursor_overlap=timedelta(seconds=settings.connector_cursor_overlap_seconds),
        poll_min_seconds=settings.connector_poll_min_seconds,
        poll_max_seconds=settings.connector_poll_max_seconds,
        outage_threshold=settings.connector_outage_threshold,
        write_delay=settings.connector_write_delay_seconds,
        signal_batch_size=settings.saber_signal_batch_size,
        signal_batch_wait=settings.saber_signal_batch_wait_seconds,
        lost_grace_seconds=settings.connector_lost_answer_grace_seconds,
        lost_look_seconds=min(20.0, settings.connector_lost_answer_grace_seconds / 3),
        webhook_poll_seconds=settings.connector_webhook_poll_seconds,
    )


def build_engine(
    mapping: Mapping,
    hubspot: HubSpotAdapter,
    saber: SaberClient,
    store: StateStore,
    *,
    options: SyncOptions,
    config: EngineConfig,
    stop: StopRequest,
    progress: Progress | None = None,
) -> SyncEngine:
    """One cycle's engine; a template signal's question is read from Saber first (it may change)."""
    return SyncEngine(
        mapping=resolve_templates(mapping, saber),  # before anything is asked
        hubspot=hubspot,
        saber=saber,
        store=store,
        options=options,
        config=config,
        progress=progress,
        stop=stop,
    )
