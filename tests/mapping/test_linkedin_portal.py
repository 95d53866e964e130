"""`setup`, `check` and `preflight_linkedin` for the mapping's `linkedin` section: subprocesses and
adapters against the sandbox portal over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.clients import hubspot_from
from connector.errors import ConfigError
from connector.mapping import load_mapping
from connector.portal import HUBSPOT_TYPES, preflight_linkedin
from connector.portal_linkedin import LINKEDIN_TYPES
from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.support import run_cli
from tests.sync_harness import sandbox_env, settings_for, write_mapping

ROOT = Path(__file__).resolve().parents[2]
LINKEDIN_MAPPING = (ROOT / "mappings" / "linkedin.yaml").read_text(encoding="utf-8")
SCANNED = ("saber_scan_status", "saber_scan_items", "saber_scan_top", "saber_scan_score", "saber_scan_link")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    """A small sandbox portal (no saber_* properties) and Saber API."""
    with start_sandbox(contacts=3, seed=3, research_delay=0.1) as running:
        yield running


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    """mappings/linkedin.yaml as shipped, written to a file."""
    return write_mapping(tmp_path, LINKEDIN_MAPPING)


def _line_of(needle: str) -> int:
    found = [i for i, line in enumerate(LINKEDIN_MAPPING.splitlines(), start=1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def _contact_properties(box: RunningSandbox) -> dict[str, dict[str, Any]]:
    answer = httpx.get(
        f"{box.hubspot.url}/crm/v3/properties/contacts",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {p["name"]: p for p in answer.json()["results"]}


def _create_contact_property(box: RunningSandbox, name: str, kind: str, field_type: str) -> None:
    """Create a contact property as a portal admin would, through HubSpot's properties API."""
    body = {
        "name": name,
        "label": name,
        "type": kind,
        "fieldType": field_type,
        "groupName": "contactinformation",
    }
    answer = httpx.post(
        f"{box.hubspot.url}/crm/v3/properties/contacts",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        json=body,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def _problems(stdout: str) -> list[str]:
    return [c["text"] for c in json.loads(stdout)["checks"] if c["status"] == "problem"]


def test_the_types_are_the_portals() -> None:
    """The section's HubSpot types are those the rest of `setup` uses for the same mapping types."""
    assert LINKEDIN_TYPES.items() <= HUBSPOT_TYPES.items()


def test_setup_dry_run_plans_the_scan_properties_with_their_types_and_creates_nothing(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`setup --dry-run` lists the scans' properties with their HubSpot types (summaries as long text) and creates none."""
    proc = run_cli("setup", "--dry-run", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "would create  saber_scan_score (number/number" in proc.stdout
    assert "would create  saber_scan_top (string/textarea" in proc.stdout
    assert "would create  saber_scan_link (string/text" in proc.stdout
    assert not set(SCANNED) & set(_contact_properties(box))


def test_check_reports_missing_properties_at_their_line_and_passes_after_setup(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`check` names each missing scan property with its file:line and the fix; after `setup` it reports the section ok."""
    env = sandbox_env(box, tmp_path, mapping_file)
    proc = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    expected = (
        f"{mapping_file}:{_line_of('saber_scan_score:')}: contact property saber_scan_score does not exist "
        "in HubSpot (run `saber-connector setup` to create it)"
    )
    assert expected in _problems(proc.stdout)
    assert not any(p.startswith("property saber_scan_score") for p in _problems(proc.stdout))
    assert run_cli("setup", env=env, cwd=tmp_path).returncode == 0
    stored = _contact_properties(box)
    assert (
        stored["saber_scan_items"]["type"] == "number" and stored["saber_scan_status"]["groupName"] == "saber"
    )
    again = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    texts = [c["text"] for c in json.loads(again.stdout)["checks"]]
    assert "linkedin: the 12 contact properties it writes exist with compatible types" in texts
    assert not any("linkedin" in p or "saber_scan" in p for p in _problems(again.stdout))


def test_check_reports_a_property_of_the_wrong_type(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """A scan's number property that exists as text in HubSpot is a conflict `check` reports at its line."""
    _create_contact_property(box, "saber_scan_score", "string", "text")
    proc = run_cli("check", "--output", "json", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    expected = (
        f"{mapping_file}:{_line_of('saber_scan_score:')}: contact property saber_scan_score is string/text in "
        "HubSpot, scan hiring_signals writes number (items.0.score)"
    )
    assert expected in _problems(proc.stdout), proc.stdout


def test_the_linkedin_preflight_names_the_missing_properties_and_passes_once_created(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`preflight_linkedin` raises a ConfigError (exit 2) naming every missing property, and returns the portal's properties after `setup`."""
    settings = settings_for(box, tmp_path, mapping_file)
    mapping = load_mapping(mapping_file)
    with hubspot_from(settings) as hubspot:
        with pytest.raises(ConfigError) as stopped:
            preflight_linkedin(mapping, hubspot)
        assert stopped.value.exit_code == 2
        assert str(stopped.value).startswith(
            f"{mapping_file}:{_line_of('saber_linkedin_url: linkedinUrl')}: HubSpot has no contact property "
            + ", ".join(("saber_linkedin_url", *SCANNED))
        )
        assert "run `saber-connector setup`" in str(stopped.value)
        assert run_cli("setup", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path).returncode == 0
        existing = preflight_linkedin(mapping, hubspot)
    assert set(SCANNED) <= set(existing) and existing["saber_scan_score"].type == "number"


def test_the_preflight_reads_nothing_without_the_section(box: RunningSandbox, tmp_path: Path) -> None:
    """A mapping without `linkedin` passes the preflight without a call to HubSpot."""
    path = write_mapping(tmp_path, (ROOT / "mappings" / "default.yaml").read_text(encoding="utf-8"))
    before = box.hubspot.count()
    with hubspot_from(settings_for(box, tmp_path, path)) as hubspot:
        assert preflight_linkedin(load_mapping(path), hubspot) == {}
    assert box.hubspot.count() == before
