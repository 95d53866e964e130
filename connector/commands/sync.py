"""`saber-connector sync`: one cycle with everything built from settings, closed after."""

from __future__ import annotations

from connector.clients import hubspot_from, policy_from, saber_from, store_from
from connector.mapping import load_mapping
from connector.portal import preflight
from connector.settings import Settings
from connector.sync.options import SyncOptions
from connector.sync.progress import Progress
from connector.sync.stopping import StopRequest, stop_on_signals
from connector.sync.summary import RunSummary
from connector.sync.wiring import build_engine, engine_config_from


def run_sync(settings: Settings, options: SyncOptions, *, show_progress: bool = True) -> RunSummary:
    """One cycle with everything built from settings; config is checked before any call."""
    mapping = load_mapping(settings.connector_mapping)
    policy = policy_from(settings)
    stop = StopRequest()
    with (
        hubspot_from(settings, policy) as hubspot,
        saber_from(settings, policy) as saber,
        store_from(settings) as store,
    ):
        preflight(mapping, hubspot)  # nothing is launched for results that could not be written
        engine = build_engine(
            mapping,
            hubspot,
            saber,
            store,
            options=options,
            config=engine_config_from(settings),
            progress=Progress(enabled=show_progress),
            stop=stop,
        )
        with stop_on_signals(stop):
            return engine.run()
