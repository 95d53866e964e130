"""`setup`, `check` and the prospecting preflight for the mapping's `prospecting` section, and the
`CONNECTOR_PROSPECT_SCHEDULE` setting: subprocesses and adapters against the sandbox over real HTTP."""

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
from connector.portal import preflight_prospecting
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import load_settings
from tests.support import run_cli
from tests.sync_harness import sandbox_env, settings_for, write_mapping

ROOT = Path(__file__).resolve().parents[2]
PROSPECTING_MAPPING = (ROOT / "mappings" / "prospecting.yaml").read_text(encoding="utf-8")
# The contact properties prospecting.contact sets that are the connector's own (HubSpot has the others).
OWN = ("saber_sales_navigator_url", "saber_prospect_location")
HUBSPOTS = ("firstname", "lastname", "jobtitle", "company", "website", "lifecyclestage")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    """A small sandbox portal (no saber_* properties, no target-account company properties) and Saber API."""
    with start_sandbox(contacts=3, seed=3, research_delay=0.1) as running:
        yield running


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    """mappings/prospecting.yaml as shipped, written to a file."""
    return write_mapping(tmp_path, PROSPECTING_MAPPING)


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of `text` that contains `needle`."""
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def _properties(box: RunningSandbox, object_type: str) -> dict[str, dict[str, Any]]:
    """The sandbox portal's property definitions of one object type, as its properties API returns them."""
    answer = httpx.get(
        f"{box.hubspot.url}/crm/v3/properties/{object_type}",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {p["name"]: p for p in answer.json()["results"]}


def _create_company_property(box: RunningSandbox, name: str, kind: str, field_type: str) -> None:
    """Create a company property as a portal admin would, through HubSpot's properties API."""
    body: dict[str, Any] = {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "type": kind,
        "fieldType": field_type,
        "groupName": "companyinformation",
    }
    if kind == "bool":
        body["options"] = [
            {"label": "Yes", "value": "true", "displayOrder": 0},
            {"label": "No", "value": "false", "displayOrder": 1},
        ]
    answer = httpx.post(
        f"{box.hubspot.url}/crm/v3/properties/companies",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        json=body,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def _target_account_properties(box: RunningSandbox, linkedin: tuple[str, str] = ("string", "text")) -> None:
    """The company properties the shipped mapping's `accounts` reads: the target flag and the LinkedIn page."""
    _create_company_property(box, "saber_target_account", "bool", "booleancheckbox")
    _create_company_property(box, "linkedin_company_page", *linkedin)


def _problems(stdout: str) -> list[str]:
    """The problem texts of `check --output json`."""
    checks = json.loads(stdout)["checks"]
    return [c["text"] for c in checks if c["status"] == "problem"]


# ---------------------------------------------------------------------------- setup
def test_setup_dry_run_plans_the_prospecting_contact_properties_and_creates_nothing(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`setup --dry-run` lists the connector's own prospecting contact properties as to be created and HubSpot's as existing, creating nothing."""
    proc = run_cli("setup", "--dry-run", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in OWN:
        assert f"would create  {name} (string/text" in proc.stdout, name
    for name in HUBSPOTS:
        assert f"exists        {name}\n" in proc.stdout + "\n", name
        assert f"would create  {name} " not in proc.stdout, name
    stored = _properties(box, "contacts")
    assert not any(name in stored for name in OWN)


def test_setup_creates_the_prospecting_contact_properties_and_check_then_passes(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`setup` creates the prospecting contact properties the portal lacks as text in the connector's group, leaves HubSpot's own alone, and `check` then passes."""
    _target_account_properties(box)
    before = _properties(box, "contacts")
    env = sandbox_env(box, tmp_path, mapping_file)
    proc = run_cli("setup", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stored = _properties(box, "contacts")
    for name in OWN:
        assert f"created  {name}" in proc.stdout, name
        prop = stored[name]
        assert (prop["type"], prop["fieldType"], prop["groupName"]) == ("string", "text", "saber"), prop
        assert prop["label"].startswith("Saber ")
    for name in HUBSPOTS:
        assert stored[name] == before[name], name
    again = run_cli("setup", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "  created  " not in again.stdout, again.stdout

    check = run_cli("check", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "prospecting: the 4 company properties accounts reads and the 8 contact properties" in check.stdout
    assert "PROBLEM" not in check.stdout


def test_setup_reports_a_fixed_value_an_enumeration_lacks_as_a_conflict(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A fixed value `prospecting.contact` sets that HubSpot's enumeration has no option for is a conflict: `setup` exits 2 naming it."""
    text = PROSPECTING_MAPPING.replace("lifecyclestage: {value: lead}", "lifecyclestage: {value: hot_lead}")
    mapping = write_mapping(tmp_path, text)
    proc = run_cli("setup", "--dry-run", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "CONFLICT      lifecyclestage has no option 'hot_lead' in HubSpot" in proc.stdout


# ---------------------------------------------------------------------------- check
def test_check_reports_missing_company_properties_used_by_accounts_with_file_and_line(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`check` (text and JSON) names each company property `accounts` uses that the portal lacks, at its mapping file:line, and exits 2."""
    env = sandbox_env(box, tmp_path, mapping_file)
    assert run_cli("setup", env=env, cwd=tmp_path).returncode == 0
    proc = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    url_line = _line_of(PROSPECTING_MAPPING, "linkedin_url: linkedin_company_page")
    filter_line = _line_of(PROSPECTING_MAPPING, "{property: saber_target_account")
    problems = _problems(proc.stdout)
    assert len(problems) == 2, problems
    assert problems[0].startswith(
        f"{mapping_file}:{filter_line}: HubSpot has no company property 'saber_target_account'"
    )
    assert "prospecting.accounts.filters[0] tests it" in problems[0]
    assert problems[1].startswith(
        f"{mapping_file}:{url_line}: HubSpot has no company property 'linkedin_company_page'"
    )
    text = run_cli("check", env=env, cwd=tmp_path)
    assert text.returncode == 2
    assert f"PROBLEM  {problems[0]}" in text.stdout and f"PROBLEM  {problems[1]}" in text.stdout


def test_check_reports_a_wrongly_typed_linkedin_url_and_a_filter_value_of_the_wrong_type(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A LinkedIn URL property that is not text, and a filter value a boolean property cannot hold, are each reported at their line."""
    _target_account_properties(box, linkedin=("number", "number"))
    text = PROSPECTING_MAPPING.replace("operator: EQ, value: true}", "operator: EQ, value: yes}")
    mapping = write_mapping(tmp_path, text)
    env = sandbox_env(box, tmp_path, mapping)
    assert run_cli("setup", env=env, cwd=tmp_path).returncode == 0
    proc = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problems = _problems(proc.stdout)
    url_line = _line_of(text, "linkedin_url: linkedin_company_page")
    filter_line = _line_of(text, "{property: saber_target_account")
    assert problems == [
        f"{mapping}:{filter_line}: prospecting.accounts.filters[0]: company property saber_target_account"
        " is bool/booleancheckbox in HubSpot; found 'yes', allowed: true or false",
        f"{mapping}:{url_line}: company property linkedin_company_page is number/number in HubSpot;"
        " prospecting.accounts.linkedin_url must name a text property holding the LinkedIn company URL",
    ]


def test_check_reports_a_contact_property_that_cannot_hold_the_company_property_it_copies(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`{account: X}` into a contact enumeration that lacks X's options is reported at its line."""
    _target_account_properties(box)
    text = PROSPECTING_MAPPING.replace("lifecyclestage: {value: lead}", "lifecyclestage: {account: industry}")
    mapping = write_mapping(tmp_path, text)
    env = sandbox_env(box, tmp_path, mapping)
    assert run_cli("setup", env=env, cwd=tmp_path).returncode == 0
    proc = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _line_of(text, "lifecyclestage: {account: industry}")
    [problem] = _problems(proc.stdout)
    assert problem.startswith(f"{mapping}:{line}: contact property lifecyclestage lacks the options ")
    assert "of company property industry (enumeration/select)" in problem


def test_check_before_setup_names_the_missing_prospecting_contact_properties_with_file_and_line(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """Before `setup`, `check --output json` names each contact property `prospecting.contact` sets that is missing, at its line, with a hint to run `setup`."""
    _target_account_properties(box)
    proc = run_cli("check", "--output", "json", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problems = _problems(proc.stdout)
    for name in OWN:
        line = _line_of(PROSPECTING_MAPPING, f"    {name}: ")
        expected = (
            f"{mapping_file}:{line}: contact property {name} does not exist in HubSpot"
            " (prospecting.contact sets it; run `saber-connector setup` to create it)"
        )
        assert expected in problems, problems
    assert not any("contact property firstname" in p for p in problems)
    # The input saber_sales_navigator_url is reported once, with its line and the fix, not again as an input.
    assert not any(p.startswith("property saber_sales_navigator_url") for p in problems), problems


# ---------------------------------------------------------------------------- preflight
def test_the_prospecting_preflight_stops_on_the_first_problem_and_passes_once_fixed(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`preflight_prospecting` raises a ConfigError naming the first missing company property's file:line, and returns the portal's properties once they exist."""
    settings = settings_for(box, tmp_path, mapping_file)
    mapping = load_mapping(mapping_file)
    with hubspot_from(settings) as hubspot:
        with pytest.raises(ConfigError) as stopped:
            preflight_prospecting(mapping, hubspot)
        line = _line_of(PROSPECTING_MAPPING, "{property: saber_target_account")
        assert str(stopped.value).startswith(
            f"{mapping_file}:{line}: HubSpot has no company property 'saber_target_account'"
        )
        assert stopped.value.exit_code == 2
        _target_account_properties(box)
        assert run_cli("setup", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path).returncode == 0
        contacts, companies = preflight_prospecting(mapping, hubspot)
    assert set(OWN) <= set(contacts) and "linkedin_company_page" in companies


# ---------------------------------------------------------------------------- the setting
@pytest.mark.parametrize("value", ["30s", "15m", "1h", "*/30 * * * *", " 2h "])
def test_the_prospect_schedule_takes_an_interval_or_a_cron_expression(value: str) -> None:
    """CONNECTOR_PROSPECT_SCHEDULE takes what CONNECTOR_SCHEDULE takes, trimmed."""
    settings = load_settings(None, _env_file=None, connector_prospect_schedule=value)
    assert settings.connector_prospect_schedule == value.strip()


@pytest.mark.parametrize("value", [None, "", "   "])
def test_the_prospect_schedule_unset_or_empty_is_off(value: str | None) -> None:
    """CONNECTOR_PROSPECT_SCHEDULE unset or empty (as .env.example leaves it) means prospecting off."""
    settings = load_settings(None, _env_file=None, connector_prospect_schedule=value)
    assert settings.connector_prospect_schedule is None


@pytest.mark.parametrize("value", ["hourly", "0s", "15 minutes", "* * *", "61 * * * *"])
def test_a_bad_prospect_schedule_is_a_config_error_naming_the_setting(value: str) -> None:
    """A value that is neither an interval nor a five-field cron expression stops with one line naming the setting."""
    with pytest.raises(ConfigError) as bad:
        load_settings(None, _env_file=None, connector_prospect_schedule=value)
    assert str(bad.value).startswith("setting CONNECTOR_PROSPECT_SCHEDULE: must be")
    assert "\n" not in str(bad.value)


def test_a_bad_prospect_schedule_stops_a_command_with_exit_2(tmp_path: Path, mapping_file: Path) -> None:
    """`check` with a bad CONNECTOR_PROSPECT_SCHEDULE exits 2 with one line naming the variable and what is allowed."""
    env = {
        "PATH": "/usr/bin:/bin",
        "CONNECTOR_MAPPING": str(mapping_file),
        "CONNECTOR_PROSPECT_SCHEDULE": "every hour",
    }
    proc = run_cli("check", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "CONNECTOR_PROSPECT_SCHEDULE" in proc.stderr and "30s, 15m, 1h" in proc.stderr
