"""A scan over a job's prospects, through `linkedin run` (`run_linkedin`) over real HTTP against the sandboxes.

The job imports its prospects as HubSpot contacts; the scan waits for that import, starts once on
the job's audience, and its results land on the contacts the job created; reruns write nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.commands.linkedin import run_linkedin
from connector.integrations.models import linkedin_key
from connector.linkedin.summary import LinkedInSummary
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from tests.linkedin.world import URL_PROPERTY, build, expected, linkedin_section, sandbox
from tests.support import wait_for

SCANS = """  scans:
    job_signals:
      signal_specification: "66a1f0c2e4b0a1b2c3d4e5f6"
      audience: platform_leaders
      every_days: 7
      properties:
        saber_scan_status: {from: status}
        saber_scan_items:  {from: items.count, type: number}
        saber_scan_top:    {from: items.0.summary}
        saber_scan_titles: {from: items.title}
"""
PROPS = ("saber_scan_status", "saber_scan_items", "saber_scan_top", "saber_scan_titles")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    options = {"job_seconds": 0.2, "scan_seconds": 0.2, "evaluate_seconds": 0.2}
    with start_sandbox(contacts=0, seed=9, integrations=True, integrations_options=options) as running:
        yield running


def created(box: RunningSandbox) -> dict[str, dict[str, Any]]:
    """The contacts the job created, by LinkedIn key."""
    hub = box.hubspot
    rows = (dict(hub.contact(c)) for c in hub.contact_ids())
    return {linkedin_key(r.get(URL_PROPERTY)): r for r in rows if r.get(URL_PROPERTY)}


def run_until(settings: Settings, done: Any, timeout: float = 15.0) -> LinkedInSummary:
    """`linkedin run` again and again until `done(summary)` holds."""
    last: list[LinkedInSummary] = []

    def once() -> bool:
        last.append(run_linkedin(settings))
        assert last[-1].failures == [], last[-1].failures
        return bool(done(last[-1]))

    wait_for(once, timeout=timeout, interval=0.05)
    return last[-1]


def test_a_scan_over_a_job_s_prospects_lands_on_the_contacts_the_job_created(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """The scan starts once the job's prospects are imported, and each created contact gets its own prospect's results."""
    settings = build(box, tmp_path, linkedin_section() + SCANS)
    api = sandbox(box)
    first = run_linkedin(settings)
    assert first.jobs_started == 1 and first.scans_started == 0 and api.scans_started == 0
    run_until(
        settings,
        lambda s: len(created(box)) == 5 and all(c.get("saber_scan_status") for c in created(box).values()),
    )
    assert api.scans_started == 1
    people = {linkedin_key(p["linkedinUrl"]) for p in expected()}
    contacts = created(box)
    assert set(contacts) == people
    ids = {linkedin_key(p.get("linkedinUrl")): p["id"] for p in api.prospects()}
    for key, contact in contacts.items():
        signals = api.prospect_signals_for(ids[key])
        items = sorted((i for g in signals["results"] for i in g["items"]), key=lambda i: -float(i["score"]))
        assert contact["saber_scan_status"] == "evaluated"
        assert contact["saber_scan_items"] == str(len(items))
        assert contact.get("saber_scan_top") == (items[0]["summary"] if items else None)
        assert contact.get("saber_scan_titles") == ("; ".join(i["title"] for i in items) or None)
    updates = box.hubspot.count("contacts_batch_update")
    again = run_linkedin(settings)
    assert (again.scans_started, again.results_written, again.exit_code()) == (0, 0, 0)
    assert box.hubspot.count("contacts_batch_update") == updates and api.scans_started == 1


HUBSPOT_SCAN = """
linkedin:
  scans:
    hiring_signals:
      signal_specification: "66a1f0c2e4b0a1b2c3d4e5f6"
      audience: hubspot
      linkedin_url: linkedin_url
      properties:
        saber_scan_status: {from: status}
        saber_scan_items:  {from: items.count, type: number}
"""


def test_linkedin_run_uploads_only_the_contacts_the_mapping_selects(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Through `linkedin run`, the `hubspot` audience takes the contacts `select.filters` select, each URL once."""
    hub = box.hubspot
    lead = hub.add_contact(
        {"firstname": "Lea", "lifecyclestage": "lead", "linkedin_url": "https://www.linkedin.com/in/lea-lead"}
    )
    other = hub.add_contact(
        {
            "firstname": "Cus",
            "lifecyclestage": "customer",
            "linkedin_url": "https://www.linkedin.com/in/cus-customer",
        }
    )
    settings = build(box, tmp_path, HUBSPOT_SCAN)
    api = sandbox(box)
    run_until(settings, lambda s: hub.contact(lead).get("saber_scan_status") == "evaluated")
    assert dict(api.imports) == {"linkedin.com/in/lea-lead": 1}
    assert hub.contact(other).get("saber_scan_status") is None
    assert run_linkedin(settings).uploads_started == 0 and api.jobs_started == 1
