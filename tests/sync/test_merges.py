"""Merged contacts keep their research: the survivor of a HubSpot merge adopts it instead of paying again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.mapping import build_inputs, parse_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from connector.state import StateStore
from tests.sync_harness import EXAMPLE_MAPPING, prepare, prepared, settings_for, sync, write_mapping


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=30, seed=3, research_delay=0.1) as running:
        yield running


def _researched(box: RunningSandbox) -> list[str]:
    mapping = parse_mapping(EXAMPLE_MAPPING)
    return [
        cid
        for cid in sorted(box.hubspot.contact_ids(), key=int)
        if box.hubspot.contact(cid).get("lifecyclestage") in ("lead", "marketingqualifiedlead")
        and build_inputs(mapping, box.hubspot.contact(cid)).inputs is not None
    ]


def _researched_then_merged(box: RunningSandbox, tmp_path: Path) -> tuple[Settings, str, str, str]:
    """A synced portal whose first two researched contacts HubSpot then merged."""
    settings = prepared(box, tmp_path)
    sync(settings, wait_seconds=20)
    primary, other = _researched(box)[:2]
    return settings, primary, other, box.hubspot.merge_contacts(primary, other)


def test_the_survivor_of_a_merge_adopts_the_research_and_pays_nothing(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """After a merge the new contact gets the merged one's research written, with no new launch; the state keeps the link."""
    settings, primary, other, survivor = _researched_then_merged(box, tmp_path)
    assert box.hubspot.contact(survivor)["hs_merged_object_ids"] == ";".join(
        sorted((primary, other), key=int)
    )
    posts = box.saber.count("research_create")
    summary = sync(settings, wait_seconds=20)
    assert box.saber.count("research_create") == posts  # nothing paid again
    assert summary.research["adopted"] == 1 and summary.credits_saved["research_adopted"] == 1
    assert box.hubspot.contact(survivor)["saber_research_status"] == "completed"
    with StateStore(settings.connector_state_url) as store:
        adopted = store.get(survivor)
        assert adopted is not None and adopted.research_id == store.get(primary).research_id  # type: ignore[union-attr]
        assert store.get(primary).merged_into == survivor  # type: ignore[union-attr]


def test_a_merge_with_other_inputs_is_researched_as_any_changed_contact(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """When the merged contact's inputs differ from every merged one's, it is researched anew."""
    settings, primary, other, survivor = _researched_then_merged(box, tmp_path)
    box.hubspot.edit_contact(survivor, {"jobtitle": "Head of Merged Things"})
    summary = sync(settings, wait_seconds=20)
    creates = [r.body["externalId"] for r in box.saber.requests_to("research_create")]
    assert creates.count(survivor) == 1 and summary.research["adopted"] == 0


def test_research_saber_holds_under_a_merged_id_is_adopted_without_local_state(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """With no state for the old ids, the research Saber holds under a merged id's external id is adopted."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    first = settings_for(box, one, write_mapping(one))
    prepare(first)
    sync(first, wait_seconds=20)
    primary, other = _researched(box)[:2]
    survivor = box.hubspot.merge_contacts(primary, other)
    fresh = settings_for(box, two, write_mapping(two))  # a state database that knows none of it
    posts = box.saber.count("research_create")
    sync(fresh, wait_seconds=20)
    assert survivor not in [r.body["externalId"] for r in box.saber.requests_to("research_create")[posts:]]
    assert box.hubspot.contact(survivor)["saber_research_status"] == "completed"
