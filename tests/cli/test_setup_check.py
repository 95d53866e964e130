"""`setup`, `check` and `mapping` as users run them: subprocesses against the sandbox over real HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.clients import hubspot_from
from connector.commands.check import run_checks
from connector.commands.setup import setup_properties
from connector.mapping import Mapping, load_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.support import run_cli as _cli
from tests.sync_harness import (
    EXAMPLE_MAPPING,
    MAPPING_HEAD,
    prepare,
    sandbox_env,
    settings_for,
    write_mapping,
)

ROOT = Path(__file__).resolve().parents[2]

# One property of every mapping type, options in block style so each option has its own line.
SETUP_MAPPING = (
    MAPPING_HEAD
    + """\
signals:
  runs_kubernetes:
    question: "Does this person's team run Kubernetes in production?"
    answer_type: boolean
properties:
  saber_summary: {from: result.summary}
  saber_current_title: {from: result.currentTitle, label: Saber title}
  saber_seniority:
    from: result.seniority
    type: enumeration
    options:
      VP: vp
      Director: director
      C-Level: c_level
  saber_tools:
    from: result.tools
    type: multiple
    options: {Kubernetes: k8s, Terraform: terraform}
  saber_runs_kubernetes: {from: signals.runs_kubernetes.answer, type: bool}
  saber_runs_kubernetes_confidence: {from: signals.runs_kubernetes.confidence, type: number}
  saber_researched_at: {from: research.completedAt, type: datetime}
  saber_researched_on: {from: research.completedAt, type: date}
"""
)

# Mapping type -> the (type, fieldType) HubSpot must hold for it.
EXPECTED_TYPES = {
    "saber_summary": ("string", "textarea"),
    "saber_current_title": ("string", "text"),
    "saber_seniority": ("enumeration", "select"),
    "saber_tools": ("enumeration", "checkbox"),
    "saber_runs_kubernetes": ("bool", "booleancheckbox"),
    "saber_runs_kubernetes_confidence": ("number", "number"),
    "saber_researched_at": ("datetime", "date"),  # HubSpot's datetime properties use fieldType date
    "saber_researched_on": ("date", "date"),
}


def _bare_env() -> dict[str, str]:
    """The environment without any connector settings (for commands that need no API)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SABER_", "CONNECTOR_"))}


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of `text` that contains `needle`."""
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def _stored_properties(box: RunningSandbox) -> dict[str, dict[str, Any]]:
    """The sandbox portal's property definitions, as its properties API stores and returns them."""
    answer = httpx.get(
        f"{box.hubspot.url}/crm/v3/properties/contacts",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {p["name"]: p for p in answer.json()["results"]}


def _stored_group(box: RunningSandbox, name: str) -> httpx.Response:
    return httpx.get(
        f"{box.hubspot.url}/crm/v3/properties/contacts/groups/{name}",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        timeout=10,
    )


def _no_secrets(box: RunningSandbox, *texts: str) -> None:
    for text in texts:
        assert box.hubspot.token not in text
        assert box.saber.api_key not in text


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    """A small sandbox portal (no saber_* properties yet) and Saber API, per test."""
    with start_sandbox(contacts=3, seed=3, research_delay=0.1) as running:
        yield running


@pytest.fixture
def mapping_file(tmp_path: Path) -> Path:
    """SETUP_MAPPING written to a file."""
    return write_mapping(tmp_path, SETUP_MAPPING)


# ---------------------------------------------------------------------------- setup
def test_setup_creates_group_and_every_property_with_hubspot_types(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """`setup` creates the group and each mapped property with the right type, fieldType and options."""
    assert _stored_group(box, "saber").status_code == 404
    proc = _cli("setup", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "property group saber: created" in proc.stdout
    for name in EXPECTED_TYPES:
        assert f"created  {name}" in proc.stdout

    group = _stored_group(box, "saber")
    assert group.status_code == 200 and group.json()["label"] == "Saber"
    stored = _stored_properties(box)
    for name, (hs_type, field_type) in EXPECTED_TYPES.items():
        assert (stored[name]["type"], stored[name]["fieldType"]) == (hs_type, field_type), name
        assert stored[name]["groupName"] == "saber", name
    options = {name: {o["value"] for o in stored[name]["options"]} for name in EXPECTED_TYPES}
    assert options["saber_runs_kubernetes"] == {"true", "false"}
    assert options["saber_seniority"] == {"vp", "director", "c_level"}
    assert options["saber_tools"] == {"k8s", "terraform"}
    assert options["saber_summary"] == options["saber_runs_kubernetes_confidence"] == set()
    assert stored["saber_current_title"]["label"] == "Saber title"
    assert "result.summary" in stored["saber_summary"]["description"]
    _no_secrets(box, proc.stdout, proc.stderr)


def test_setup_twice_creates_nothing_the_second_time(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """A second `setup` finds the group and every property, creates nothing and exits 0."""
    env = sandbox_env(box, tmp_path, mapping_file)
    first = _cli("setup", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _stored_properties(box)

    second = _cli("setup", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "property group saber: exists" in second.stdout
    assert "created" not in second.stdout
    assert all(f"exists   {name}" in second.stdout for name in EXPECTED_TYPES)
    assert _stored_properties(box) == before

    # In process too: the report lists everything as existing.
    settings = settings_for(box, tmp_path, mapping_file)
    with hubspot_from(settings) as hubspot:
        report = setup_properties(load_mapping(mapping_file), hubspot)
    assert not report.group_created and report.created == [] and report.conflicts == []
    assert report.existing == list(EXPECTED_TYPES)


def test_setup_reports_a_type_conflict_and_exits_2(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """An existing property of a type the mapping cannot write is a reported conflict, left alone: exit 2."""
    box.hubspot.define_property("saber_runs_kubernetes", "number")
    proc = _cli("setup", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert (
        "CONFLICT saber_runs_kubernetes is number/number in HubSpot, the mapping writes bool" in proc.stdout
    )
    assert "Traceback" not in proc.stderr
    stored = _stored_properties(box)
    assert stored["saber_runs_kubernetes"]["type"] == "number"  # not replaced
    assert set(EXPECTED_TYPES) <= set(stored)  # the others were still created


# ---------------------------------------------------------------------------- check
def test_check_after_setup_passes_and_prints_credits_left(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """After `setup`, `check` passes with exit 0 and prints the credits Saber reports."""
    box.saber.credits_left = 737
    settings = settings_for(box, tmp_path, mapping_file)
    prepare(settings)
    proc = _cli("check", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"credits left: {box.saber.credits_left}" in proc.stdout
    assert "PROBLEM" not in proc.stdout and proc.stdout.rstrip().endswith("all checks passed")
    _no_secrets(box, proc.stdout, proc.stderr)

    report = run_checks(settings)
    assert report.exit_code == 0
    assert any("credits left: 737" in line for line in report.lines)


def test_check_before_setup_names_missing_properties_and_hints_setup(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """Before `setup`, `check` exits 2 and names every missing mapped property with a hint to run `setup`."""
    proc = _cli("check", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == len(EXPECTED_TYPES)
    for name in EXPECTED_TYPES:
        assert (
            f"PROBLEM  property {name} does not exist in HubSpot (run `saber-connector setup` to create it)"
            in problems
        )
    assert proc.stdout.rstrip().endswith("some checks failed")


@pytest.mark.parametrize(
    ("variable", "secret", "api"),
    [
        ("HUBSPOT_ACCESS_TOKEN", "pat-na1-wrong-0123456789abcdef", "HubSpot"),
        ("SABER_API_KEY", "sk_live_wrong_0123456789abcdef", "Saber"),
    ],
)
def test_check_with_a_refused_credential_exits_3_without_printing_it(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path, variable: str, secret: str, api: str
) -> None:
    """A token or key the API refuses makes `check` exit 3, naming the API but never printing the secret."""
    prepare(settings_for(box, tmp_path, mapping_file))
    env = sandbox_env(box, tmp_path, mapping_file)
    env[variable] = secret
    proc = _cli("check", env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1 and problems[0].startswith(f"PROBLEM  {api} at "), problems
    assert secret not in proc.stdout + proc.stderr
    _no_secrets(box, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_check_reports_an_enumeration_option_hubspot_lacks_with_file_and_line(
    box: RunningSandbox, tmp_path: Path, mapping_file: Path
) -> None:
    """A mapped option the HubSpot enumeration lacks is reported with the mapping file and line: exit 2."""
    box.hubspot.define_property(
        "saber_seniority", "enumeration", options=[("VP", "vp"), ("Director", "director")]
    )
    prepare(settings_for(box, tmp_path, mapping_file))  # creates the others; the options stay short
    proc = _cli("check", env=sandbox_env(box, tmp_path, mapping_file), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _line_of(SETUP_MAPPING, "C-Level: c_level")
    problems = [text for text in proc.stdout.splitlines() if text.startswith("PROBLEM")]
    assert problems == [
        f"PROBLEM  {mapping_file}:{line}: properties.saber_seniority.options.C-Level: "
        "found 'c_level', which HubSpot property saber_seniority lacks; allowed: director, vp"
    ]


def test_check_reports_an_input_property_that_does_not_exist(box: RunningSandbox, tmp_path: Path) -> None:
    """An input reading a property the portal lacks is reported as such (setup cannot create it), exit 2."""
    mapping = write_mapping(tmp_path, SETUP_MAPPING.replace("lastName: lastname", "lastName: no_such_prop"))
    prepare(settings_for(box, tmp_path, mapping))
    proc = _cli("check", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM")]
    assert problems == ["PROBLEM  property no_such_prop does not exist in HubSpot (the inputs read it)"]


def test_check_reports_a_filter_on_a_property_that_does_not_exist(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A select filter on a property the portal lacks fails `check` (HubSpot refuses such searches)."""
    text = SETUP_MAPPING.replace(
        "inputs:", "select:\n  filters:\n    - {property: no_such_stage, operator: EQ, value: lead}\ninputs:"
    )
    mapping = write_mapping(tmp_path, text)
    settings = settings_for(box, tmp_path, mapping)
    prepare(settings)
    report = run_checks(settings)
    assert report.exit_code == 2
    assert (
        "PROBLEM  property no_such_stage does not exist in HubSpot (select.filters test it)" in report.lines
    )


# ---------------------------------------------------------------------------- mapping errors
MAPPING_ERRORS = {
    "misspelt write policy": (
        EXAMPLE_MAPPING.replace("write: if_empty", "write: if_emtpy"),
        "if_emtpy",
        "properties.saber_email.write: found 'if_emtpy', allowed: unless_edited, always, if_empty; "
        "did you mean 'if_empty'?",
    ),
    "unknown key": (
        EXAMPLE_MAPPING.replace("  max_new_per_run: 500", "  max_new_per_run: 500\n  refresh_days: 30"),
        "refresh_days",
        "select.refresh_days: found unknown key 'refresh_days', allowed: filters, refresh_after_days, "
        "max_new_per_run",
    ),
    "undefined signal": (
        EXAMPLE_MAPPING.replace(
            "saber_runs_kubernetes: {from: signals.runs_kubernetes.answer",
            "saber_runs_kubernetes: {from: signals.runs_k8s.answer",
        ),
        "signals.runs_k8s.answer",
        "properties.saber_runs_kubernetes.from: found signal 'runs_k8s', which signals does not define, "
        "allowed: runs_kubernetes",
    ),
}


@pytest.mark.parametrize("command", ["sync", "check"])
@pytest.mark.parametrize("case", list(MAPPING_ERRORS))
def test_mapping_error_exits_2_with_one_line_naming_file_line_and_key(
    box: RunningSandbox, tmp_path: Path, case: str, command: str
) -> None:
    """A mapping mistake stops `sync` and `check`: exit 2, one `file:line: key: …` line, no traceback."""
    text, needle, message = MAPPING_ERRORS[case]
    mapping = write_mapping(tmp_path, text)
    proc = _cli(command, env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("saber-connector:")]
    expected = f"saber-connector: {mapping}:{_line_of(text, needle)}: {message}"
    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert proc.stdout == ""
    assert box.saber.count("research_create") == 0  # nothing was launched


# ---------------------------------------------------------------------------- mapping schema/explain
def test_mapping_schema_prints_json_schema_with_the_top_level_keys(tmp_path: Path) -> None:
    """`mapping schema` prints a JSON Schema whose properties are the mapping's top-level keys."""
    proc = _cli("mapping", "schema", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {
        "version",
        "external_source",
        "select",
        "inputs",
        "signals",
        "properties",
        "hubspot_group",
        "min_confidence",
        "companies",
        "prospecting",
        "linkedin",
    }
    assert set(schema["required"]) == {"version", "inputs", "properties"}
    assert schema["additionalProperties"] is False


def test_mapping_explain_mentions_every_mapped_property(tmp_path: Path) -> None:
    """`mapping explain` of the default mapping mentions every property it writes and every input it reads."""
    default = ROOT / "mappings" / "default.yaml"
    mapping: Mapping = load_mapping(default)
    proc = _cli("mapping", "explain", str(default), env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in [*mapping.output_properties(), *mapping.input_properties()]:
        assert name in proc.stdout, name
    for key, signal in mapping.signals.items():
        assert key in proc.stdout and signal.question in proc.stdout
