"""The live stages of one run, each given only what it uses; the engine composes them here.

No stage builds another: the launcher, the collectors, the signal stage and the writers
are made side by side from the run context, handed the run's one failure sink (`fail`),
and the live effects delegate to them (`connector.sync.effects`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.sync.collect import Collector
from connector.sync.company_writes import CompanySender
from connector.sync.context import Cycle
from connector.sync.failures import Failure
from connector.sync.launch import Launcher
from connector.sync.polling import Schedule
from connector.sync.pull import Puller
from connector.sync.signal_collect import SignalCollector
from connector.sync.signals import RunAll, SignalStage
from connector.sync.writer import BatchWriter


@dataclass(frozen=True)
class Stages:
    """The live stages a live run's effects delegate to."""

    puller: Puller
    launcher: Launcher
    collector: Collector
    signals: SignalStage
    signal_collector: SignalCollector
    writer: BatchWriter
    companies: CompanySender


def live_stages(
    c: Cycle, puller: Puller, schedule: Schedule, fail: Callable[[Failure], None], run_all: RunAll
) -> Stages:
    """Each stage built from the run context with the collaborators it uses, and nothing else."""
    saber, health, store, summary = c.saber, c.saber_health, c.store, c.summary
    config, clock = c.config, c.clock
    signals = SignalStage(
        mapping=c.mapping,
        saber=saber,
        saber_health=health,
        store=store,
        summary=summary,
        budget=c.budget,
        config=config,
        clock=clock,
        stop=c.stop,
        schedule=schedule,
        fail=fail,
        run_all=run_all,
    )
    return Stages(
        puller=puller,
        launcher=Launcher(
            mapping=c.mapping,
            saber=saber,
            saber_health=health,
            store=store,
            summary=summary,
            budget=c.budget,
            config=config,
            clock=clock,
            stop=c.stop,
            schedule=schedule,
            fail=fail,
        ),
        collector=Collector(
            mapping=c.mapping,
            saber=saber,
            saber_health=health,
            store=store,
            summary=summary,
            config=config,
            clock=clock,
            schedule=schedule,
            fail=fail,
        ),
        signals=signals,
        signal_collector=SignalCollector(
            saber=saber,
            saber_health=health,
            store=store,
            summary=summary,
            config=config,
            clock=clock,
            schedule=schedule,
            lists=signals.lists,
            fail=fail,
        ),
        writer=BatchWriter(c.hubspot, store, summary, fail),
        companies=CompanySender(c.hubspot, store, summary, fail),
    )
