"""Planning: what each pulled contact needs this run, as a pure function of contacts and states."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from connector.hubspot import Contact
from connector.mapping import Mapping, build_inputs
from connector.state import ContactState
from connector.sync.decide import RetryPolicy, decide
from connector.sync.jobs import ContactJob, WriteJob, stored_research


@dataclass(frozen=True, slots=True)
class Plan:
    """One batch of contacts sorted by what happens to them next."""

    skips: tuple[ContactJob, ...] = ()
    launches: tuple[ContactJob, ...] = ()
    writes: tuple[WriteJob, ...] = ()  # a stored result to map again (the contact changed)
    waits: tuple[ContactJob, ...] = ()  # research still running for the same inputs
    cleared: tuple[str, ...] = ()  # contacts skipped or put off before, handled now
    size: int = 0  # contacts planned (some need nothing: a result with nothing left to map)


def plan_contacts(
    mapping: Mapping,
    contacts: Sequence[Contact],
    states: AbcMapping[str, ContactState],
    *,
    now: datetime,
    retry: RetryPolicy,
) -> Plan:
    """Build each contact's inputs, decide, and group the contacts by decision."""
    skips: list[ContactJob] = []
    launches: list[ContactJob] = []
    writes: list[WriteJob] = []
    waits: list[ContactJob] = []
    cleared: list[str] = []
    for contact in contacts:
        inputs = build_inputs(mapping, contact.properties)
        state = states.get(contact.id)
        decision = decide(
            state, inputs, now=now, refresh_after_days=mapping.select.refresh_after_days, retry=retry
        )
        job = ContactJob(contact, inputs, state, decision)
        if decision.action == "skip":
            skips.append(job)
            continue
        # A launch rewrites `deferred` whatever becomes of it, so only a skip reason needs clearing.
        if state is not None and (state.skip_reason or (state.deferred and decision.action != "launch")):
            cleared.append(contact.id)
        if decision.action == "launch":
            launches.append(job)
        elif decision.action == "write" and state is not None:
            research = stored_research(state)
            if research is not None:
                writes.append(WriteJob.of(state, contact.properties, inputs, research))
        else:
            waits.append(job)
    return Plan(tuple(skips), tuple(launches), tuple(writes), tuple(waits), tuple(cleared), len(contacts))
