"""The sandbox portal's seeded target accounts, as the demo and the benchmark prospect at them.

`start_sandbox(target_accounts=n)` must give a portal that `prospect` works on out of the box
(the company properties defined, n companies flagged with a LinkedIn page), deterministically,
with people already in the portal found by Saber's search and left alone; the default seed
must stay as it was (no LinkedIn pages, no target flag).
"""

from __future__ import annotations

from pathlib import Path

from connector.commands.demo import demo_prospecting_mapping
from connector.commands.prospect import run_prospect
from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.sync_harness import prepare, settings_for


def _targets(box: RunningSandbox) -> dict[str, str | None]:
    hub = box.hubspot
    return {
        c: hub.company(c).get("linkedin_company_page")
        for c in hub.company_ids()
        if hub.company(c).get("saber_target_account") == "true"
    }


def test_the_default_seed_has_no_linkedin_pages_nor_target_flag() -> None:
    """Without target_accounts the portal's company properties are the standard ones, as before."""
    with start_sandbox(contacts=20) as box:
        names = box.hubspot.company_property_names()
        assert "linkedin_company_page" not in names and "saber_target_account" not in names


def test_target_accounts_are_seeded_deterministically_with_pages_and_known_people() -> None:
    """n companies carry the flag and a LinkedIn page, the same on every start, and Saber's search lists their contacts first."""
    with (
        start_sandbox(contacts=40, target_accounts=5) as box,
        start_sandbox(contacts=40, target_accounts=5) as again,
    ):
        targets = _targets(box)
        assert len(targets) == 5 and all(url and "linkedin.com/company/" in url for url in targets.values())
        assert targets == _targets(again)
        hub = box.hubspot
        named = [
            (c, hub.contact(p))
            for p in hub.contact_ids()
            for c in [hub.primary_company(p)]
            if c in targets and hub.contact(p).get("firstname") and hub.contact(p).get("lastname")
        ]
        assert named, "no target account has a named contact in the portal"
        company, contact = named[0]
        people = box.saber.people.people_at(str(targets[company]))
        assert (contact["firstname"], contact["lastname"]) in {
            (p.item["firstName"], p.item["lastName"]) for p in people
        }


def test_prospect_on_the_seeded_portal_creates_people_and_skips_those_already_there(tmp_path: Path) -> None:
    """prospect with the demo's mapping creates people at the seeded target accounts, none of them twice, and leaves people already there alone."""
    with start_sandbox(contacts=40, target_accounts=6, research_delay=0.1) as box:
        settings = settings_for(box, tmp_path, demo_prospecting_mapping())
        prepare(settings)
        before = len(box.hubspot.contact_ids())
        summary = run_prospect(settings)
        assert summary.exit_code == 0, summary.failures
        assert summary.accounts_searched == 6 and summary.created > 0
        assert summary.already_in_hubspot > 0, summary.to_json()
        assert len(box.hubspot.contact_ids()) == before + summary.created
        again = run_prospect(settings)
        assert again.created == 0 and len(box.hubspot.contact_ids()) == before + summary.created
