"""Signals as Saber publishes them, end to end over real HTTP: paid once, collected later, every answer lands.

Signals take longer than the client's read timeout, or than the key's timeout; answers get
lost after Saber applied the ask; Saber ends some signals failed; company asks go in
batches. Credits are counted from the sandbox's own books.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.commands.status import render_status, status_report
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import Fault, RecordedRequest
from connector.settings import Settings
from connector.state import StateStore
from connector.sync.resolution import SIGNAL_PENDING, SIGNAL_UNANSWERED
from tests.support import start_cli
from tests.sync_harness import ROOT_MAPPING, prepare, sandbox_env, settings_for, sync, write_mapping

KUBE = "Does this person's team run Kubernetes in production?"
HIRING = "Is the company hiring for engineering roles?"
# The default mapping, with the contact question left out of research results: both asked.
RESULT_QUESTIONS = [{"question": "What does this person post about?", "answerType": "open_text"}]
SIGNAL_PROPS = ("saber_runs_kubernetes", "saber_hiring_engineers_reasoning")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(
        contacts=40, seed=6, research_delay=0.2, signal_delay=(1.2, 1.8), result_questions=RESULT_QUESTIONS
    ) as running:
        yield running


def _settings(box: RunningSandbox, tmp_path: Path, **extra: Any) -> Settings:
    mapping = write_mapping(tmp_path, ROOT_MAPPING.read_text(encoding="utf-8"))
    settings = settings_for(box, tmp_path, mapping, connector_write_delay_seconds=0.2, **extra)
    prepare(settings)
    return settings


def charged(box: RunningSandbox) -> Counter[tuple[str, str, str]]:
    """Signals Saber made and charged, per (scope, subject, question)."""
    return Counter(
        (
            "company" if "domain" in s else "contact",
            str(s.get("domain") or s.get("contactProfileUrl")).lower(),
            s["question"],
        )
        for s in box.saber.signals(created=True)
    )


def needed(box: RunningSandbox) -> set[tuple[str, str, str]]:
    """Each distinct question and subject the researched contacts need (one credit each, at least)."""
    out = set()
    for research in box.saber.all_research():
        if research["status"] != "completed":
            continue
        out.add(("company", research["companyDomain"].lower(), HIRING))
        out.add(("contact", research["result"]["linkedInUrl"].lower(), KUBE))
    return out


def landed(box: RunningSandbox) -> list[str]:
    """Researched contacts missing a signal-fed value (an answer Saber could not verify is null: not counted)."""
    missing = []
    for research in box.saber.all_research():
        if research["status"] != "completed":
            continue
        contact = box.hubspot.contact(research["externalId"])
        for prop in SIGNAL_PROPS:
            if contact.get(prop) is None and not _null_answer(box, research, prop):
                missing.append(f"{research['externalId']}.{prop}")
    return missing


def _null_answer(box: RunningSandbox, research: dict[str, Any], prop: str) -> bool:
    target = research["companyDomain"].lower() if "hiring" in prop else research["result"]["linkedInUrl"]
    for made in box.saber.signals(created=True):
        if (made.get("domain") or made.get("contactProfileUrl")) == target:
            return made.get("answer") is None
    return False


def test_signals_slower_than_the_read_timeout_are_paid_once_and_land_by_the_end_of_the_wait(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Signals of 1.2-1.8 s against a 1 s read timeout: one credit per distinct question and subject,
    no second charge, and every answer written by the end of `sync --wait`."""
    settings = _settings(box, tmp_path, http_read_timeout=1.0)
    summary = sync(settings, wait_seconds=30)
    paid = charged(box)
    assert set(paid) == needed(box) and set(paid.values()) == {1}
    assert landed(box) == []
    assert summary.signals_pending == 0 and summary.writes_pending == 0 and summary.pending == 0
    assert summary.credits_used == len(box.saber.all_research()) + len(paid)


def test_a_key_timeout_shorter_than_the_signals_changes_nothing(box: RunningSandbox, tmp_path: Path) -> None:
    """With the key's timeout at 0.3 s (shorter than every signal) each ask is still paid once and lands."""
    box.saber.key_timeout = 0.3
    summary = sync(_settings(box, tmp_path), wait_seconds=30)
    paid = charged(box)
    assert set(paid) == needed(box) and set(paid.values()) == {1}
    assert landed(box) == [] and summary.signals_pending == 0
    assert box.saber.count("contact_signal_sync") == box.saber.count("company_signal_sync") == 0


def test_company_answers_for_n_domains_take_about_n_over_the_batch_size_calls(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """With SABER_SIGNAL_BATCH_SIZE=4, company asks for N domains go in ceil(N/4) calls per write batch."""
    summary = sync(_settings(box, tmp_path, saber_signal_batch_size=4), wait_seconds=30)
    domains = {d for scope, d, _ in charged(box) if scope == "company"}
    batches = box.saber.requests_to("company_signal_batch")
    assert len(domains) > 4
    assert len(batches) >= math.ceil(len(domains) / 4)
    assert sum(len(b.body["domains"]) for b in batches) == len(domains)  # each domain asked once
    assert all(len(b.body["domains"]) * len(b.body["signals"]) <= 4 for b in batches)
    assert summary.signal_batches == len(batches) and box.saber.count("company_signal_create") == 0


def test_a_lost_answer_after_saber_applied_the_ask_is_found_not_paid_again(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A contact ask whose connection is reset after Saber made it, and a batch answered by a proxy's 502
    after Saber made it: both are looked for in Saber's lists, adopted, and paid once."""
    box.saber._script(1, Fault(status=0, after=True), "contact_signal_create")
    box.saber._script(1, Fault(status=502, after=True), "company_signal_batch")
    summary = sync(_settings(box, tmp_path), wait_seconds=30)
    paid = charged(box)
    assert set(paid) == needed(box) and set(paid.values()) == {1}
    assert box.saber.faults["reset after"] == 1 and box.saber.faults["502 after"] == 1
    assert landed(box) == [] and summary.signals_pending == 0


def test_a_signal_saber_ends_failed_is_kept_with_its_code_and_asked_again_by_a_later_run(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Every signal fails at first: the results land without them and stay pending (SIGNAL_UNANSWERED);
    the next run asks each once more and lands it."""
    settings = _settings(box, tmp_path)
    box.saber.signal_failed_rate = 1.0
    first = sync(settings, wait_seconds=30)
    first_paid = charged(box)
    assert set(first_paid.values()) == {1} and first.signals_failed == len(first_paid)
    with StateStore(settings.connector_state_url) as store:
        assert store.count_signal_asks() == {"failed": len(first_paid)}
        assert store.count_write_pending() == {SIGNAL_UNANSWERED: len(box.saber.all_research())}
    box.saber.signal_failed_rate = 0.0
    second = sync(settings, wait_seconds=30)
    assert set(charged(box).values()) == {2}  # asked again once, by the later run
    assert landed(box) == [] and second.writes_pending == 0


def test_a_signal_still_processing_when_the_run_ends_is_collected_by_the_next_one(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A run that does not wait writes what it has and keeps the result pending; the next collects the
    signals (free) and writes them, paying nothing more."""
    settings = _settings(box, tmp_path, connector_poll_max_seconds=0.5)
    box.saber.research_delay, box.saber.signal_delay = 0.0, 60.0
    first = sync(settings, wait_seconds=3)  # research done; signals asked, still processing when it ends
    paid = charged(box)
    assert first.signals_pending == len(paid) > 0
    with StateStore(settings.connector_state_url) as store:
        assert SIGNAL_PENDING in store.count_write_pending()
    box.saber.complete_all_now()  # the signals finish at Saber while no run is going
    second = sync(settings, wait_seconds=10)
    assert charged(box) == paid and second.credits_used == 0
    assert landed(box) == [] and second.writes_pending == 0 and second.signals_pending == 0


def test_a_wait_of_60_seconds_over_research_done_in_seconds_writes_it_in_the_same_run(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """With the default schedule (nothing learned yet), research done in 1-2 s is written by a
    `sync --wait 60` that then ends long before its wait is up."""
    box.saber.research_delay = 1.5
    settings = _settings(box, tmp_path, connector_poll_min_seconds=2.0)
    started = time.monotonic()
    summary = sync(settings, wait_seconds=60)
    elapsed = time.monotonic() - started
    assert summary.pending == 0 and summary.writes_pending == 0 and summary.signals_pending == 0
    assert summary.research["completed"] == len(box.saber.all_research()) > 0
    assert landed(box) == []
    assert elapsed < 40


def test_a_research_schema_that_refuses_external_ids_still_researches_every_contact_once(
    tmp_path: Path,
) -> None:
    """Saber answers 400 naming externalId: research is launched again without them (logged once), each
    contact once; look-ups by external ID stop; `status` says which mode is in use."""
    with start_sandbox(contacts=24, seed=6, research_delay=0.2, refuse_unpublished_fields=True) as box:
        settings = _settings(box, tmp_path)
        summary = sync(settings, wait_seconds=30)
        created = box.saber.all_research()
        assert summary.research["launched"] == len(created) > 0
        assert summary.research["completed"] == len(created) and summary.pending == 0
        refused = [r for r in box.saber.requests_to("research_create") if r.status == 400]
        # Refused once per worker already under way (each relaunched at once without them), then never sent.
        assert 1 <= len(refused) <= settings.connector_concurrency and "externalId" in refused[0].body
        assert all(
            "externalId" not in r.body for r in box.saber.requests_to("research_create") if r.status == 201
        )
        # Looked up by external ID only until the refusal (by the workers already past it), then by id.
        assert box.saber.count("research_find") <= settings.connector_concurrency
        assert box.saber.count("research_get") >= len(created)
        with StateStore(settings.connector_state_url) as store:
            text = render_status(status_report(store))
        assert "research launched without external IDs (Saber refused them" in text
        again = sync(settings, wait_seconds=5)
        assert again.research["launched"] == 0 and len(box.saber.all_research()) == len(created)


@pytest.mark.slow
def test_sync_killed_between_a_signal_post_and_its_answer_pays_it_once_and_lands_it(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """SIGKILL the moment Saber applied a signal ask, before the answer leaves: the rerun finds that
    signal in Saber's lists (it is never paid again) and writes every answer."""
    settings = _settings(box, tmp_path, connector_lost_answer_grace_seconds=1.0)
    env = sandbox_env(box, tmp_path, Path(settings.connector_mapping))
    env["CONNECTOR_WRITE_DELAY_SECONDS"] = "0.2"
    proc = start_cli("sync", "--wait", "30", env=env, cwd=tmp_path)
    killed: list[str] = []

    def kill_on_ask(request: RecordedRequest) -> None:
        if request.endpoint in ("contact_signal_create", "company_signal_batch") and not killed:
            killed.append(request.endpoint)
            os.kill(proc.pid, signal.SIGKILL)  # applied at Saber; its answer is never heard

    box.saber.on_request.append(kill_on_ask)
    proc.wait(timeout=60)
    box.saber.on_request.remove(kill_on_ask)
    assert killed and proc.returncode == -signal.SIGKILL
    made = len(box.saber.signals(created=True))
    assert made >= 1
    rerun = sync(settings, wait_seconds=30)
    paid = charged(box)
    assert set(paid) == needed(box) and set(paid.values()) == {1}  # the killed ask was not paid again
    assert landed(box) == [] and rerun.signals_pending == 0 and rerun.writes_pending == 0
