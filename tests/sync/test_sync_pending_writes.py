"""A paid result is never stranded: a preflight before anything is spent, and unlanded results retried."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.state import StateStore
from tests.support import run_cli
from tests.sync_harness import EXAMPLE_MAPPING, prepare, sandbox_env, settings_for, sync, write_mapping


@pytest.fixture
def box() -> RunningSandbox:
    with start_sandbox(contacts=20, seed=3, research_delay=0.1) as running:
        yield running


def _missing_property_answer() -> dict[str, object]:
    """HubSpot's whole-batch 400 for a batch whose properties were deleted after `setup`."""
    errors = [
        {
            "isValid": False,
            "message": f'Property "{name}" does not exist',
            "error": "PROPERTY_DOESNT_EXIST",
            "name": name,
            "localizedErrorMessage": f'Property "{name}" does not exist',
        }
        for name in ("saber_summary", "saber_research_status")
    ]
    return {
        "status": "error",
        "message": f"Property values were not valid: {json.dumps(errors)}",
        "correlationId": "00000000-0000-4000-8000-000000000000",
        "category": "VALIDATION_ERROR",
    }


def test_sync_before_setup_spends_nothing_and_exits_2_naming_setup(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`sync` on a portal without the mapped properties stops before any Saber call, exit 2, naming `setup`."""
    mapping = write_mapping(tmp_path)
    proc = run_cli("sync", "--wait", "5", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "saber-connector setup" in proc.stderr and "saber_summary" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert box.saber.count() == 0  # not even the credits were asked
    assert box.hubspot.count("contacts_batch_update") == 0


def test_preflight_names_a_filter_property_the_portal_lacks_with_a_did_you_mean(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A filter on a property HubSpot lacks is a configuration error naming the filter and the closest name."""
    mapping = write_mapping(
        tmp_path, EXAMPLE_MAPPING.replace("property: lifecyclestage", "property: lifecyclestag")
    )
    settings = settings_for(box, tmp_path, mapping)
    with pytest.raises(
        ConfigError, match=r"select\.filters\[0\]\.property: .*'lifecyclestag'.*'lifecyclestage'"
    ) as err:
        sync(settings)
    assert str(err.value).startswith(f"{mapping}:6: ")  # the filter's line in the file
    assert box.saber.count() == 0


def test_preflight_refuses_a_property_of_a_type_the_mapping_cannot_write(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A mapped property HubSpot holds as another type stops the run before anything is launched."""
    settings = settings_for(box, tmp_path, write_mapping(tmp_path))
    prepare(settings)
    box.hubspot.define_property("saber_researched_at", "number", group_name="saber")
    with pytest.raises(ConfigError, match="properties.saber_researched_at: saber_researched_at is number"):
        sync(settings)
    assert box.saber.count("research_create") == 0


def test_result_whose_write_failed_lands_on_a_later_run_without_full(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Results whose every write failed stay pending work; once HubSpot takes them, a plain run writes them, paying nothing."""
    settings = settings_for(box, tmp_path, write_mapping(tmp_path))
    prepare(settings)
    box.hubspot.answer_next(400, _missing_property_answer(), endpoint="contacts_batch_update", count=100_000)

    first = sync(settings, wait_seconds=20)
    researched = [r["externalId"] for r in box.saber.all_research()]
    assert researched and first.research["completed"] == len(researched)
    assert {f.code for f in first.failures} >= {"PROPERTY_DOESNT_EXIST"}
    assert all(box.hubspot.contact(cid)["saber_summary"] is None for cid in researched)  # nothing landed
    assert first.writes_pending == len(researched)
    with StateStore(settings.connector_state_url) as store:
        assert store.get_cursor("contacts.lastmodifieddate") is not None  # the cursor moved on
        assert sum(store.count_write_pending().values()) == len(researched)

    box.hubspot.clear_faults()  # the properties are back
    posts, asks = box.saber.count("research_create"), len(box.saber.signals(created=True))
    second = sync(settings)
    assert second.research["launched"] == 0 and second.credits_used == 0
    assert (box.saber.count("research_create"), len(box.saber.signals(created=True))) == (posts, asks)
    assert second.contacts_written == len(researched)
    for cid in researched:
        assert (
            box.hubspot.contact(cid)["saber_summary"]
            == box.saber.research_for(cid)["result"]["summary"].strip()
        )
    assert second.writes_pending == 0

    box.saber.clear_log()
    third = sync(settings)
    assert third.contacts_written == 0 and box.saber.count() == 0  # nothing is left to do


def test_status_shows_results_waiting_to_be_written(box: RunningSandbox, tmp_path: Path) -> None:
    """`status` counts the results that have not landed in HubSpot, by reason."""
    mapping = write_mapping(tmp_path)
    settings = settings_for(box, tmp_path, mapping)
    prepare(settings)
    box.hubspot.answer_next(400, _missing_property_answer(), endpoint="contacts_batch_update", count=100_000)
    sync(settings, wait_seconds=20)
    proc = run_cli("status", "--output", "json", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["writes_pending"].get("PROPERTY_DOESNT_EXIST", 0) == len(box.saber.all_research()) > 0
    text = run_cli("status", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path).stdout
    assert "results waiting to be written" in text and "PROPERTY_DOESNT_EXIST" in text
