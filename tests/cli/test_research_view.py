"""What the published API offers the mapping (templates, verification mode, findings where Saber puts
them) and `saber-connector research`, which shows what Saber really returned, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.saber import REMOVED
from connector.state import StateStore
from tests.support import run_cli
from tests.sync_harness import EXAMPLE_MAPPING, prepare, sandbox_env, settings_for, sync, write_mapping

TEMPLATE_SIGNAL = """  sells_to_banks:
    template: "{template}"
    scope: company
  hiring_lenient:
    question: "Is the company hiring engineers?"
    scope: company
    answer_type: boolean
    verification_mode: lenient
"""
SIGNALS_LINE = "signals:                             # questions answered for every researched contact\n"
PROPS = """  saber_sells_to_banks:  {from: signals.sells_to_banks.answer, type: bool}
  saber_hiring_lenient:  {from: signals.hiring_lenient.answer, type: bool}
"""


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=20, seed=6, research_delay=0.1, signal_delay=0.3) as running:
        yield running


def _mapping(template: str) -> str:
    text = EXAMPLE_MAPPING.replace(SIGNALS_LINE, SIGNALS_LINE + TEMPLATE_SIGNAL.format(template=template))
    return text + PROPS


def test_research_shows_what_saber_returned_and_every_path_a_mapping_can_read(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`research CONTACT_ID` prints the raw research and `result.<path> = value` lines; --output json too."""
    mapping = write_mapping(tmp_path)
    settings = settings_for(box, tmp_path, mapping)
    prepare(settings)
    sync(settings, wait_seconds=20)
    cid = next(str(r["externalId"]) for r in box.saber.all_research() if r["status"] == "completed")
    env = sandbox_env(box, tmp_path, mapping)
    text = run_cli("research", cid, env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    summary = box.saber.research_for(cid)["result"]["summary"]  # type: ignore[index]
    assert f"result.summary = {json.dumps(summary)[:60]}" in text.stdout  # long values are cut
    assert "research, as Saber returned it:" in text.stdout and '"status": "completed"' in text.stdout
    assert "result.signals.0.answer.type = " in text.stdout
    as_json = json.loads(run_cli("research", cid, "--output", "json", env=env, cwd=tmp_path).stdout)
    assert as_json["paths"]["research.status"] == "completed" and as_json["source"].startswith("saber")
    assert as_json["paths"]["result.email"] == box.saber.research_for(cid)["result"]["email"]  # type: ignore[index]
    raw = run_cli("explain", cid, "--raw", env=env, cwd=tmp_path)
    assert raw.returncode == 0 and "paths a mapping can read" in raw.stdout
    nobody = run_cli("research", "999999", env=env, cwd=tmp_path)
    assert nobody.returncode == 1 and "no research found" in nobody.stdout


def test_result_paths_read_the_research_object_when_it_has_no_result(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A completed research with its findings at the top level (no `result` object) still fills
    `result.<path>` properties, and is not reported as missing its result."""
    settings = settings_for(box, tmp_path, write_mapping(tmp_path))
    prepare(settings)
    sync(settings, max_new=0)  # plans only: learns which contacts are selected
    with StateStore(settings.connector_state_url) as store:
        cid = next(iter(store.due_for_refresh(completed_before=None)))
    box.saber.reshape(
        cid, view={"result": REMOVED, "summary": "Top-level findings", "email": "t@top.example"}
    )
    summary = sync(settings, contact_ids=(cid,), wait_seconds=20)
    assert box.hubspot.contact(cid)["saber_summary"] == "Top-level findings"
    assert box.hubspot.contact(cid)["saber_email"] == "t@top.example"
    assert not [f for f in summary.failures if f.code == "RESULT_MISSING"]


def test_a_template_signal_is_asked_by_its_template_and_a_lenient_one_says_so(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A `template:` signal is sent as the template's id (its question read first, free) and lands; a
    `verification_mode: lenient` signal is sent as verificationMode and is never null."""
    box.saber.null_answer_rate = 1.0  # strict answers would all be null
    template = box.saber.add_template("Does the company sell to banks?", "boolean")
    settings = settings_for(box, tmp_path, write_mapping(tmp_path, _mapping(template["id"])))
    prepare(settings)
    summary = sync(settings, wait_seconds=20)
    assert summary.research["completed"] > 0 and summary.signals_pending == 0
    items = [item for r in box.saber.requests_to("company_signal_batch") for item in r.body["signals"]]
    assert {"templateId": template["id"], "verificationMode": "strict"} in items
    assert {
        "question": "Is the company hiring engineers?",
        "answerType": "boolean",
        "verificationMode": "lenient",
    } in items
    assert box.saber.count("template_get") == 1
    made = box.saber.signals("company", created=True)
    assert {s["question"] for s in made} == {
        "Does the company sell to banks?",
        "Is the company hiring engineers?",
    }
    researched = [str(r["externalId"]) for r in box.saber.all_research() if r["status"] == "completed"]
    lenient = {box.hubspot.contact(cid).get("saber_hiring_lenient") for cid in researched}
    assert None not in lenient  # lenient: best-effort answers, none null
    assert {box.hubspot.contact(cid).get("saber_sells_to_banks") for cid in researched} == {
        None
    }  # strict: null


def test_check_reports_a_template_saber_does_not_have_and_sync_refuses_to_start(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """An unknown template is a `check` problem naming the mapping's line, and a sync stops with exit 2."""
    mapping = write_mapping(tmp_path, _mapping("no-such-template"))
    settings = settings_for(box, tmp_path, mapping)
    prepare(settings)
    env = sandbox_env(box, tmp_path, mapping)
    check = run_cli("check", env=env, cwd=tmp_path)
    assert check.returncode == 2
    assert f"{mapping}:" in check.stdout and "no signal template 'no-such-template'" in check.stdout
    run = run_cli("sync", env=env, cwd=tmp_path)
    assert run.returncode == 2 and "no-such-template" in run.stderr
    assert box.saber.count("research_create") == 0
