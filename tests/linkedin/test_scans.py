"""Signal scans over the portal's own contacts, over real HTTP against the sandboxes.

The scan stage is driven directly (`ScanStage.run`), as `linkedin run` drives it after the jobs:
each selected contact's LinkedIn URL is uploaded once (the account-group sandbox's `imports`
counter), the scan starts once its uploads are in, `pending` prospects are waited through, the
evaluated results land on the contacts they are about, and a rerun writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.http_policy import CallPolicy
from connector.hubspot import HubSpotAdapter
from connector.integrations.client import IntegrationsClient
from connector.integrations.models import linkedin_key
from connector.linkedin.budget import CreditBudget
from connector.linkedin.scans import ScanStage
from connector.linkedin.summary import LinkedInSummary
from connector.mapping import Mapping, load_mapping
from connector.sandbox.integrations import IntegrationsSandbox
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.state import StateStore
from tests.hubspot_fixtures import fast_adapter
from tests.support import wait_for
from tests.sync_harness import EXAMPLE_MAPPING, write_mapping

SPEC = "66a1f0c2e4b0a1b2c3d4e5f6"
SCAN_PROPERTIES = {
    "saber_scan_status": "string",
    "saber_scan_items": "number",
    "saber_scan_top": "string",
    "saber_scan_score": "number",
    "saber_scan_link": "string",
}


def scan_mapping(*, top_write: str = "unless_edited", every_days: float = 7, extra: str = "") -> str:
    """The example mapping with the issue's scan over the portal's own contacts."""
    return (
        EXAMPLE_MAPPING
        + f"""
linkedin:
  max_credits_per_run: 500
  scans:
    hiring_signals:
      signal_specification: "{SPEC}"
      audience: hubspot
      linkedin_url: linkedin_url
      every_days: {every_days}
      properties:
        saber_scan_status: {{from: status}}
        saber_scan_items:  {{from: items.count, type: number}}
        saber_scan_top:    {{from: items.0.summary, write: {top_write}}}
        saber_scan_score:  {{from: items.0.score, type: number}}
        saber_scan_link:   {{from: items.0.postLink}}
{extra}"""
    )


@dataclass
class World:
    """The sandboxes, the connector's clients and state, and the contacts made for the test."""

    box: RunningSandbox
    api: IntegrationsSandbox
    mapping: Mapping
    client: IntegrationsClient
    hubspot: HubSpotAdapter
    store: StateStore
    contacts: dict[str, str]  # name -> contact id
    now: datetime  # when the test began
    shift: timedelta  # how far ahead of the real time the world's clock runs (days pass in a test)
    tmp_path: Path

    def run(
        self, *, at: datetime | None = None, dry_run: bool = False, budget: int | None = None
    ) -> LinkedInSummary:
        """One scan stage, as `linkedin run` would run it now, or at `at` (the clock moves there and runs on)."""
        section = self.mapping.linkedin
        assert section is not None
        if at is not None:
            self.shift = max(self.shift, at - datetime.now(UTC))
        when = self.clock()
        summary = LinkedInSummary(started_at=when, dry_run=dry_run)
        limit = section.max_credits_per_run if budget is None else budget
        stage = ScanStage(
            section,
            self.client,
            self.hubspot,
            self.store,
            summary,
            CreditBudget(limit, summary),
            when,
            dry_run,
            filters=self.mapping.select.filters,
            settle=timedelta(seconds=0.5),
        )
        stage.run()
        return summary

    def clock(self) -> datetime:
        """The time of the world: real time, shifted by the days the test made pass."""
        return datetime.now(UTC) + self.shift

    def run_until(self, done: Any, *, at: datetime | None = None, timeout: float = 10.0) -> LinkedInSummary:
        """Run the stage again and again (each a run) until `done(summary)` holds."""
        last: list[LinkedInSummary] = []

        def once() -> bool:
            last.append(self.run(at=at))
            return bool(done(last[-1]))

        wait_for(once, timeout=timeout, interval=0.05)
        return last[-1]

    def values(self, name: str) -> dict[str, str | None]:
        """The scan properties HubSpot holds for one of the test's contacts."""
        row = self.box.hubspot.contact(self.contacts[name])
        return {p: row.get(p) for p in SCAN_PROPERTIES}

    def prospect_of(self, name: str) -> str:
        """The account-group prospect id of a contact's LinkedIn URL."""
        return self.api.prospect_id_for(
            str(self.box.hubspot.contact(self.contacts[name]).get("linkedin_url"))
        )

    def updates(self) -> int:
        return self.box.hubspot.count("contacts_batch_update")


PEOPLE = {
    # name -> (lifecyclestage, linkedin_url)
    "ann": ("lead", "https://www.linkedin.com/in/ann-ames"),
    "bob": ("lead", "https://linkedin.com/in/bob-berg/"),
    "cid": ("marketingqualifiedlead", "https://www.linkedin.com/in/cid-cole?trk=public"),
    "dee": ("lead", "http://www.linkedin.com/in/dee-dunn"),
    "eve": ("lead", "https://www.linkedin.com/in/eve-enz"),
    "fay": ("lead", "https://www.linkedin.com/in/fay-ford"),
    "nourl": ("lead", None),
    "notsel": ("customer", "https://www.linkedin.com/in/not-selected"),
    "company": ("lead", "https://www.linkedin.com/company/acme"),
}


def make_world(tmp_path: Path, box: RunningSandbox, mapping_text: str) -> World:
    hub = box.hubspot
    for name, kind in SCAN_PROPERTIES.items():
        if name not in hub.property_names():
            hub.define_property(name, kind, "number" if kind == "number" else "text")
    contacts = {}
    for name, (stage, url) in PEOPLE.items():
        contacts[name] = hub.add_contact(
            {"firstname": name.title(), "lastname": "Test", "lifecyclestage": stage, "linkedin_url": url}
        )
    mapping = load_mapping(write_mapping(tmp_path, mapping_text))
    api = box.integrations
    assert api is not None
    policy = CallPolicy(backoff_base=0.01, max_backoff=0.05, connect_timeout=2.0, read_timeout=10.0)
    client = IntegrationsClient(api.url, api.api_key, policy=policy)
    holder: list[World] = []
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: holder[0].clock())
    now = datetime.now(UTC)
    holder.append(
        World(box, api, mapping, client, fast_adapter(hub), store, contacts, now, timedelta(0), tmp_path)
    )
    return holder[0]


def scan_sandbox() -> RunningSandbox:
    """Empty HubSpot and account-group sandboxes whose jobs, scans and evaluations take 0.2 s each."""
    options = {"job_seconds": 0.2, "scan_seconds": 0.2, "evaluate_seconds": 0.2}
    return start_sandbox(contacts=0, seed=5, integrations=True, integrations_options=options)


def closing(w: World) -> Iterator[World]:
    """Yield the world, then close its clients and state."""
    yield w
    w.client.close()
    w.hubspot.close()
    w.store.close()


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with scan_sandbox() as running:
        yield running


@pytest.fixture
def world(box: RunningSandbox, tmp_path: Path) -> Iterator[World]:
    yield from closing(make_world(tmp_path, box, scan_mapping()))


SELECTED = ["ann", "bob", "cid", "dee", "eve", "fay"]


def test_each_selected_url_is_uploaded_once_and_the_evaluated_results_land_on_their_contacts(
    world: World,
) -> None:
    """The selected contacts' profile URLs go up in one upload, once; the scan's evaluated results are written onto the contacts they are about."""
    first = world.run()
    assert first.failures == []
    assert first.uploads_started == 1 and first.urls_uploaded == len(SELECTED)
    done = world.run_until(lambda s: s.results_evaluated > 0 and s.results_pending == 0)
    assert done.failures == []
    # The scan waited for its upload to be imported: started once, never answered 409.
    assert [r.status for r in world.api.requests_to("scan_start")] == [202]
    assert sorted(world.api.imports) == sorted(linkedin_key(PEOPLE[n][1]) for n in SELECTED)
    assert set(world.api.imports.values()) == {1}
    assert world.api.scans_started == 1
    for name in SELECTED:
        signals = world.api.prospect_signals_for(world.prospect_of(name))
        assert signals["status"] == "evaluated"
        items = [i for g in signals["results"] for i in g["items"]]
        values = world.values(name)
        assert values["saber_scan_status"] == "evaluated"
        assert values["saber_scan_items"] == str(len(items))
        if items:
            best = max(items, key=lambda i: float(i["score"]))
            assert values["saber_scan_top"] == best["summary"]
            assert float(values["saber_scan_score"] or "nan") == pytest.approx(float(best["score"]))
            assert values["saber_scan_link"] == (best.get("postLink") or None)
        else:  # a real "nothing found": written as such, the other properties empty
            assert values["saber_scan_top"] is None and values["saber_scan_score"] is None
    for name in ("nourl", "notsel", "company"):
        assert world.values(name)["saber_scan_status"] is None


def test_a_rerun_uploads_nothing_again_starts_no_second_scan_and_writes_nothing(world: World) -> None:
    """Once the results landed, reruns (and a later due scan) upload no URL twice, and an unchanged result is not written again."""
    world.run()
    world.run_until(lambda s: s.results_evaluated > 0 and s.results_pending == 0)
    updates, uploads = world.updates(), world.api.jobs_started
    again = world.run()
    assert again.failures == [] and again.uploads_started == 0 and again.results_written == 0
    assert world.updates() == updates and world.api.jobs_started == uploads and world.api.scans_started == 1
    # Due again a week later: the same audience is scanned, nothing is uploaded, unchanged values stay.
    later = world.now + timedelta(days=8)
    world.run(at=later)
    world.run_until(lambda s: not world.store.linkedin.open_scans() and s.results_pending == 0, at=later)
    world.run(at=later)
    assert world.api.scans_started == 2 and world.api.jobs_started == uploads
    assert set(world.api.imports.values()) == {1}
    assert world.updates() == updates


def test_a_new_contact_s_url_is_uploaded_alone_when_the_scan_is_next_due(world: World) -> None:
    """A contact selected after the first scan has only its own URL uploaded by the next due scan."""
    world.run()
    world.run_until(lambda s: s.results_evaluated > 0 and s.results_pending == 0)
    gil = world.box.hubspot.add_contact(
        {
            "firstname": "Gil",
            "lastname": "Test",
            "lifecyclestage": "lead",
            "linkedin_url": "https://www.linkedin.com/in/gil-gray",
        }
    )
    later = world.now + timedelta(days=8)
    summary = world.run(at=later)
    assert summary.uploads_started == 1 and summary.urls_uploaded == 1
    world.run_until(lambda s: world.box.hubspot.contact(gil).get("saber_scan_status"), at=later)
    assert world.api.imports[linkedin_key("https://www.linkedin.com/in/gil-gray")] == 1
    assert set(world.api.imports.values()) == {1}
    assert world.box.hubspot.contact(gil).get("saber_scan_status") == "evaluated"


def test_a_pending_prospect_gets_nothing_until_it_is_evaluated(world: World) -> None:
    """A prospect still pending gets nothing written while the others land; once evaluated, a later run writes it."""
    held = world.prospect_of("bob")  # the id its upload will give it
    world.api.hold_pending(held)
    others = [n for n in SELECTED if n != "bob"]
    summary = world.run_until(
        lambda s: s.results_pending == 1 and all(world.values(n)["saber_scan_status"] for n in others)
    )
    assert summary.failures == []
    assert world.values("bob") == {p: None for p in SCAN_PROPERTIES}
    assert all(world.values(n)["saber_scan_status"] == "evaluated" for n in others)
    world.api.release_pending(held)
    last = world.run_until(lambda s: s.results_evaluated == 1 and s.results_pending == 0)
    assert last.results_written == 1
    assert world.values("bob")["saber_scan_status"] == "evaluated"


def test_a_dry_run_uploads_nothing_starts_nothing_and_says_what_it_would_cost(world: World) -> None:
    """`--dry-run` starts no upload and no scan and lists both with the upload's credit estimate."""
    summary = world.run(dry_run=True)
    assert world.api.jobs_started == 0 and world.api.scans_started == 0 and not world.api.imports
    kinds = {item["kind"]: item for item in summary.would_start}
    assert kinds["upload"]["credits"] == len(SELECTED) and kinds["scan"]["name"] == "hiring_signals"
    assert summary.credits_estimated == len(SELECTED)
    assert world.store.linkedin.jobs() == [] and world.store.linkedin.scans() == []
