"""State loss (item 5): the state database is gone on a portal that was already researched.

A container started without its volume has no record of what it launched, paid or wrote.
The next run must adopt the research Saber holds (looked up by external ID), take the
signal answers Saber holds (its lists, free reads) before paying, and must not overwrite
values people edited since the last write.

What it cannot know without its hashes: whether a value in HubSpot that differs from the
result was typed by a person or written by the connector from an older result. It takes
every such value as a person's edit and keeps it (`unless_edited`), the safe side: a lost
update can be repaired by a person, an overwritten edit cannot. What it can know: a value
equal to the result is the connector's own (whoever typed it), so its hash is adopted and
later refreshes update it as before.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

from connector.logs import configure_logging
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from connector.state import StateStore
from connector.sync.summary import RunSummary
from tests.reliability.crash_kit import paid_signal_asks
from tests.reliability.figures import Figure
from tests.sync_harness import ROOT_MAPPING, TIME_DEPENDENT, prepare, settings_for, sync, write_mapping

SECTION = "5. state loss"
EDITED = ("saber_summary", "saber_current_title", "saber_location")


def sync_until_done(settings: Settings, deadline_s: float = 60.0) -> list[RunSummary]:
    """Sync until nothing is pending and nothing waits to be written, within a deadline."""
    deadline = time.monotonic() + deadline_s
    summaries = []
    while True:
        summary = sync(settings, wait_seconds=10)
        summaries.append(summary)
        if summary.pending == 0 and summary.writes_pending == 0:
            return summaries
        if time.monotonic() > deadline:
            raise AssertionError(f"sync not done within {deadline_s}s: {summary.pending} pending")


def research_charges(box: RunningSandbox) -> Counter[str]:
    """Research Saber created (and charged), per external ID."""
    return Counter(str(r.get("externalId")) for r in box.saber.all_research())


def signal_charges(box: RunningSandbox) -> Counter[tuple[str, str, str, str]]:
    """Signals Saber charged for, per (scope, target, question, answer type)."""
    return paid_signal_asks(box)


def _delete_state(tmp: Path) -> None:
    for name in ("state.db", "state.db-wal", "state.db-shm", "state.db-journal"):
        (tmp / name).unlink(missing_ok=True)


def run(long: bool) -> list[Figure]:
    """Research a portal, edit some written values, delete the state database, run again."""
    configure_logging("WARNING", "console")
    contacts, edits = (120, 20) if long else (24, 6)
    with (
        tempfile.TemporaryDirectory(prefix="state-loss-") as raw,
        start_sandbox(contacts=contacts, seed=5, research_delay=0.05) as box,
    ):
        tmp = Path(raw)
        settings = settings_for(box, tmp, write_mapping(tmp, ROOT_MAPPING.read_text(encoding="utf-8")))
        prepare(settings)
        sync_until_done(settings)
        props = [p for p in settings_mapping_properties(settings) if p not in TIME_DEPENDENT]
        before = {cid: box.hubspot.contact(cid) for cid in box.hubspot.contact_ids()}
        written = [cid for cid, row in before.items() if row.get("saber_research_status") == "completed"]
        credits_before = box.saber.credits_left
        research_before, signals_before = research_charges(box), signal_charges(box)

        edited: dict[tuple[str, str], str] = {}
        for i, cid in enumerate(written[:edits]):
            prop = EDITED[i % len(EDITED)]
            value = f"edited by a person #{i}"
            box.hubspot.edit_contact(cid, {prop: value})
            edited[(cid, prop)] = value

        _delete_state(tmp)
        crashes = 0
        try:
            summaries = sync_until_done(settings)
        except Exception:  # noqa: BLE001 - a crash is what this figure counts
            crashes, summaries = 1, []
        after = {cid: box.hubspot.contact(cid) for cid in box.hubspot.contact_ids()}
        research_after, signals_after = research_charges(box), signal_charges(box)

        overwritten = sum(1 for (cid, prop), value in edited.items() if after[cid].get(prop) != value)
        lost = sum(
            1
            for cid in written
            for prop in props
            if (cid, prop) not in edited and after[cid].get(prop) != before[cid].get(prop)
        )
        relaunched = sum(research_after[x] - research_before[x] for x in research_after)
        twice_research = sum(1 for x, n in research_after.items() if n > 1)
        twice_signals = sum(1 for k, n in signals_after.items() if n > 1)
        signals_paid = sum(signals_after.values()) - sum(signals_before.values())
        adopted = sum(s.research["adopted"] for s in summaries)
        kept = sum(sum(s.kept_edits.values()) for s in summaries)
        with StateStore(settings.connector_state_url) as store:
            known = sum(
                1
                for cid in written
                if (state := store.get(cid)) is not None and state.research_id is not None
            )
            hashed = sum(
                1
                for cid in written
                if (state := store.get(cid)) is not None
                and any(p in state.written for p in props if (cid, p) not in edited)
            )
    return [
        Figure(SECTION, "contacts researched and written before the loss", len(written)),
        Figure(SECTION, "values people edited before the state-loss run", len(edited)),
        Figure(SECTION, "crashes", crashes, 0),
        Figure(SECTION, "research adopted from Saber (look-up by external ID)", adopted, len(written)),
        Figure(SECTION, "contacts whose research id the new state knows", known, len(written)),
        Figure(SECTION, "research launched again (second charges)", relaunched, 0),
        Figure(SECTION, "external IDs researched twice", twice_research, 0),
        Figure(SECTION, "signals paid twice (per target and question)", twice_signals, 0),
        Figure(SECTION, "signals paid by the state-loss run", signals_paid, 0),
        Figure(SECTION, "credits spent by the state-loss run", credits_before - box.saber.credits_left, 0),
        Figure(SECTION, "people's edits overwritten", overwritten, 0),
        Figure(SECTION, "people's edits kept (counted by the summary)", kept, len(edited)),
        Figure(SECTION, "other written values changed (nothing lost)", lost, 0),
        Figure(
            SECTION,
            "contacts whose values' hashes were adopted",
            hashed,
            len(written),
            note="values equal to the result are the connector's own",
        ),
    ]


def settings_mapping_properties(settings: Settings) -> list[str]:
    """The mapped HubSpot properties of the settings' mapping file."""
    from connector.mapping import load_mapping

    return sorted(load_mapping(settings.connector_mapping).properties)
