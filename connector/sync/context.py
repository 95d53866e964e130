"""The run context: the tuning of a cycle (`EngineConfig`) and what every stage of a run shares (`Cycle`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.hubspot import HubSpotAdapter
from connector.mapping import Mapping
from connector.saber import SaberClient
from connector.state import StateStore
from connector.sync.credits import CreditBudget
from connector.sync.decide import RetryPolicy
from connector.sync.options import SyncOptions
from connector.sync.outage import OutageBreaker
from connector.sync.stopping import StopRequest
from connector.sync.summary import RunSummary


@dataclass(frozen=True)
class EngineConfig:
    """Tuning of the cycle (from settings); the defaults suit a real portal."""

    concurrency: int = 8
    research_cost: int = 1  # credits one research is assumed to cost (assumption A5)
    signal_cost: int = 1
    cursor_overlap: timedelta = timedelta(minutes=10)
    poll_min_seconds: float = 2.0  # the shortest wait before a look; the learning sample's first look
    poll_max_seconds: float = 3600.0
    research_timeout: timedelta = timedelta(hours=24)
    signal_timeout: timedelta = timedelta(hours=24)  # a signal processing longer is given up (asked again)
    signal_batch_size: int = 100  # company signals (questions x domains) per batch call
    signal_batch_wait: int = 10  # X-Sbr-Timeout-Sec asked of a synchronous batch; its read timeout follows
    lost_look_seconds: float = (
        20.0  # an ask whose answer was lost is looked for in the lists again after this
    )
    lost_grace_seconds: float = 120.0  # ... and once not found this long after it, it was never made
    retry: RetryPolicy = RetryPolicy()
    outage_threshold: int = 3  # consecutive unavailable Saber calls that stop launches for the run
    write_delay: float = 10.0  # seconds a finished result may wait for its batch to fill (--wait, collect)
    webhook_url: str | None = None  # passed as `webhookUrl` with every launch (the service's endpoint)
    webhook_poll_seconds: float = 600.0  # with webhooks: the one safety poll, for results that send none


# Write failures no later run can mend: the contact is gone from HubSpot.
UNWRITABLE = frozenset({"OBJECT_NOT_FOUND"})


@dataclass(frozen=True, slots=True)
class Cycle:
    """The clients, the state and the counters of one run, as every stage sees them."""

    mapping: Mapping
    hubspot: HubSpotAdapter
    saber: SaberClient
    store: StateStore
    options: SyncOptions
    config: EngineConfig
    summary: RunSummary
    budget: CreditBudget
    saber_health: OutageBreaker
    clock: Callable[[], datetime]
    properties: tuple[str, ...]  # the HubSpot properties a run reads
    stop: StopRequest  # Ctrl-C / SIGTERM: nothing new starts
