"""Company records end to end (issue 12): company answers land on HubSpot companies, over real HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.clients import store_from
from connector.commands.status import render_status, status_report
from connector.commands.sync import run_sync
from connector.errors import ConfigError
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from connector.sync.options import SyncOptions
from tests.support import run_cli
from tests.sync_harness import EXAMPLE_MAPPING, prepare, sandbox_env, settings_for, sync, write_mapping

SIGNALS_LINE = "signals:                             # questions answered for every researched contact\n"
HIRING = """  hiring_engineers:
    question: "Is the company hiring engineers?"
    scope: company
    answer_type: boolean
"""
COMPANIES = """
companies:
  match: {match}
  properties:
    saber_hiring_engineers:           {{from: signals.hiring_engineers.answer, type: bool}}
    saber_hiring_engineers_reasoning: {{from: signals.hiring_engineers.reasoning, write: unless_edited}}
    saber_employee_count:             {{from: signals.hiring_engineers.company.employeeCount, type: number}}
"""
SUBSCRIPTION_ID = "5f0c7a52-8d1e-4c3b-9a2f-6e4d1b7c8a90"
SUBSCRIPTIONS = f"""  subscriptions:
    funding_news:
      id: "{SUBSCRIPTION_ID}"
      properties:
        saber_funding_news:    {{from: answer}}
        saber_funding_news_at: {{from: completedAt, type: datetime}}
"""
COMPANY_PROPS = ("saber_hiring_engineers", "saber_hiring_engineers_reasoning", "saber_employee_count")


def mapping_text(match: str = "association", subscriptions: bool = False) -> str:
    text = EXAMPLE_MAPPING.replace(SIGNALS_LINE, SIGNALS_LINE + HIRING) + COMPANIES.format(match=match)
    return text + (SUBSCRIPTIONS if subscriptions else "")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=60, seed=5, research_delay=0.1) as running:
        yield running


def _settings(box: RunningSandbox, tmp_path: Path, text: str) -> Settings:
    settings = settings_for(box, tmp_path, write_mapping(tmp_path, text), connector_concurrency=8)
    prepare(settings)  # creates the contact and the company properties
    return settings


def _written_companies(box: RunningSandbox) -> dict[str, dict[str, str | None]]:
    out = {}
    for cid in box.hubspot.company_ids():
        values = {p: box.hubspot.company(cid).get(p) for p in COMPANY_PROPS}
        if any(values.values()):
            out[cid] = values
    return out


def _researched(box: RunningSandbox) -> list[dict]:
    return [r for r in box.saber.all_research() if r["status"] == "completed"]


def test_a_company_answer_is_asked_once_and_lands_on_the_primary_company_not_its_contacts(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """One ask per domain; the answer is written on each contact's primary company and on no contact."""
    settings = _settings(box, tmp_path, mapping_text())
    summary = sync(settings, wait_seconds=20)
    asks = Counter(s["domain"] for s in box.saber.signals("company", created=True))
    assert asks and set(asks.values()) == {1}
    written = _written_companies(box)
    assert written, "companies got the company answers"
    researched = {r["externalId"]: r for r in _researched(box)}
    landed = 0
    for contact_id in researched:
        primary = box.hubspot.primary_company(contact_id)
        assert all(box.hubspot.contact(contact_id).get(p) is None for p in COMPANY_PROPS)  # not on contacts
        if primary is not None and researched[contact_id]["companyDomain"] in asks:
            assert primary in written
            assert written[primary]["saber_hiring_engineers"] in (
                "true",
                "false",
                None,
            )  # None: a null answer
            assert written[primary]["saber_employee_count"] not in (None, "")
            landed += 1
    assert landed > 0
    assert sum(v["saber_hiring_engineers"] in ("true", "false") for v in written.values()) > landed // 2
    assert summary.companies_written == len(written)
    assert summary.companies()["matched"] >= len(written)
    unmatched = summary.companies()["unmatched"]
    no_company = [c for c in researched if not box.hubspot.company_links(c)]
    assert unmatched.get("no_association", 0) == len(no_company)
    assert "companies written" in summary.render()
    proc = run_cli(
        "explain",
        next(iter(no_company)),
        env=sandbox_env(box, tmp_path, settings.connector_mapping),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "company: none matched: no_association" in proc.stdout


def test_an_unchanged_resync_writes_no_company_and_a_persons_edit_survives(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Nothing changed: no company batch update; a reasoning a person retyped is kept on the next write."""
    settings = _settings(box, tmp_path, mapping_text())
    sync(settings, wait_seconds=20)
    written = _written_companies(box)
    company_id = next(iter(written))
    box.hubspot.edit_company(company_id, {"saber_hiring_engineers_reasoning": "Checked by hand: yes"})
    box.hubspot.clear_log()
    again = sync(settings, wait_seconds=5)
    assert box.hubspot.count("companies_batch_update") == 0
    assert again.companies_written == 0
    # A contact of that company changes: its answers are mapped again, the edit stays.
    contact = next(c for c in box.hubspot.contact_ids() if box.hubspot.primary_company(c) == company_id)
    box.hubspot.edit_contact(contact, {"jobtitle": "Chief Hiring Officer"})
    sync(settings, wait_seconds=20)
    assert box.hubspot.company(company_id)["saber_hiring_engineers_reasoning"] == "Checked by hand: yes"


def test_matching_by_domain_refuses_a_domain_two_companies_hold(box: RunningSandbox, tmp_path: Path) -> None:
    """`match: domain` writes the one company with the contact's domain, never either of two holders."""
    settings = _settings(box, tmp_path, mapping_text(match="domain"))
    summary = sync(settings, wait_seconds=20)
    written = _written_companies(box)
    domains = {r["companyDomain"] for r in _researched(box)}
    ambiguous = {d for d in domains if len(box.hubspot.companies_with_domain(d)) > 1}
    single = {d for d in domains if len(box.hubspot.companies_with_domain(d)) == 1}
    assert ambiguous, "the seed has domains two companies hold"
    for d in ambiguous:
        assert not any(cid in written for cid in box.hubspot.companies_with_domain(d))
    assert any(box.hubspot.companies_with_domain(d)[0] in written for d in single)
    assert summary.companies()["unmatched"].get("ambiguous_domain", 0) >= 1
    # The contacts of an ambiguous domain still got their own properties.
    contact = next(r["externalId"] for r in _researched(box) if r["companyDomain"] in ambiguous)
    assert box.hubspot.contact(contact).get("saber_summary")


def test_subscription_entries_land_on_their_companies_and_a_second_run_reads_only_new_ones(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Each company's newest execution is written; the next run reads only executions logged since."""
    settings = _settings(box, tmp_path, mapping_text(subscriptions=True))
    company = box.hubspot.add_company({"domain": "fundedco.io", "name": "Funded Co"})

    def log(answer: str, at: str) -> None:
        box.saber.add_signal(
            {
                "status": "completed",
                "question": "Did the company announce funding?",
                "answerType": "open_text",
                "signalType": "COMPANY",
                "domain": "fundedco.io",
                "createdAt": at,
                "completedAt": at,
                "answer": {"type": "open_text", "open_text": {"value": answer}},
                "confidence": 0.9,
            },
            subscription_id=SUBSCRIPTION_ID,
        )

    log("Seed round", "2026-11-01T10:00:00Z")
    log("Series A, $12M", "2026-11-20T10:00:00Z")
    first = sync(settings, max_new=0)
    assert box.hubspot.company(company)["saber_funding_news"] == "Series A, $12M"
    assert box.hubspot.company(company)["saber_funding_news_at"]
    assert first.subscription_entries_read == 2
    assert first.credits_used == 0 and box.saber.signals("company", created=True) == []
    assert "no credits spent" in first.render()
    log("Series B, $40M", "2026-11-28T10:00:00Z")
    second = sync(settings, max_new=0)
    assert second.subscription_entries_read == 1
    assert box.hubspot.company(company)["saber_funding_news"] == "Series B, $40M"
    third = sync(settings, max_new=0)
    assert third.subscription_entries_read == 0 and third.companies_written == 0


def test_an_unknown_subscription_fails_alone(box: RunningSandbox, tmp_path: Path) -> None:
    """A subscription Saber does not know is one clear failure; the contacts are written as usual."""
    settings = _settings(box, tmp_path, mapping_text(subscriptions=True))
    summary = sync(settings, wait_seconds=20)
    failures = [f for f in summary.failures if f.code == "SUBSCRIPTION_NOT_FOUND"]
    assert len(failures) == 1 and "funding_news" in failures[0].message
    assert summary.contacts_written > 0 and _written_companies(box)


def test_a_dry_run_shows_each_companys_changes_and_writes_none(box: RunningSandbox, tmp_path: Path) -> None:
    """After a real run stored the answers, a dry run on changed contacts lists company changes, sending nothing."""
    settings = _settings(box, tmp_path, mapping_text())
    sync(settings, wait_seconds=20)
    company_id = next(iter(_written_companies(box)))
    box.hubspot.edit_company(company_id, {"saber_employee_count": ""})  # emptied: it would be written again
    contact = next(c for c in box.hubspot.contact_ids() if box.hubspot.primary_company(c) == company_id)
    box.hubspot.edit_contact(contact, {"saber_summary": "typed"})  # pulled again: its result is mapped again
    box.hubspot.clear_log()

    plan = run_sync(settings, SyncOptions(dry_run=True, look_now=True), show_progress=False)
    assert box.hubspot.count("companies_batch_update") == 0
    assert not box.hubspot.company(company_id)["saber_employee_count"]
    shown = [p for p in plan.plan if p.contact_id == f"company {company_id}"]
    assert shown and shown[0].changes["saber_employee_count"]["to"]
    assert f"company {company_id}: write" in plan.render()


def test_status_shows_the_company_figures(box: RunningSandbox, tmp_path: Path) -> None:
    """`status` reports the last run's companies matched and written, and contacts with no company by reason."""

    settings = _settings(box, tmp_path, mapping_text())
    summary = sync(settings, wait_seconds=20)
    store = store_from(settings)
    try:
        report = status_report(store)
    finally:
        store.close()
    assert report["companies"]["written"] == summary.companies_written > 0
    assert report["companies"]["unmatched_contacts"] == summary.companies()["unmatched"]
    assert f"written {summary.companies_written}" in render_status(report)


def test_a_missing_company_property_stops_the_run_before_a_credit_is_spent(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Without `setup` for the company part, the sync refuses with the file:line and the fix; Saber is not called."""

    plain = settings_for(box, tmp_path, write_mapping(tmp_path, EXAMPLE_MAPPING))
    prepare(plain)  # the contact properties only
    settings = settings_for(box, tmp_path, write_mapping(tmp_path, mapping_text()))
    with pytest.raises(ConfigError) as err:
        sync(settings)
    assert "mapping.yaml:" in str(err.value) and "no company property saber_hiring_engineers" in str(
        err.value
    )
    assert "saber-connector setup" in str(err.value)
    assert box.saber.count() == 0


def test_an_execution_logged_while_the_log_is_paged_is_read_once_and_by_the_next_run(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A new entry shifting the pages mid-read is neither read twice now nor missed next time."""
    settings = _settings(box, tmp_path, mapping_text(subscriptions=True))
    company = box.hubspot.add_company({"domain": "pagedco.io", "name": "Paged Co"})

    def log(n: int) -> None:
        box.saber.add_signal(
            {
                "status": "completed",
                "question": "Did the company announce funding?",
                "answerType": "open_text",
                "domain": "pagedco.io",
                "createdAt": f"2026-11-{n:02d}T10:00:00Z",
                "completedAt": f"2026-11-{n:02d}T10:00:00Z",
                "answer": {"type": "open_text", "open_text": {"value": f"news {n}"}},
            },
            subscription_id=SUBSCRIPTION_ID,
        )

    for day in range(1, 29):  # 28 entries: two pages of 25
        log(day)
    arrived: list[int] = []

    def arrive_once(request: object) -> None:
        if getattr(request, "endpoint", "") == "subscription_logs" and not arrived:
            arrived.append(1)
            log(29)  # newest first: every later offset shifts by one

    box.saber.on_request.append(arrive_once)
    first = sync(settings, max_new=0)
    assert arrived and first.subscription_entries_read == 28
    assert box.hubspot.company(company)["saber_funding_news"] == "news 28"
    second = sync(settings, max_new=0)
    assert second.subscription_entries_read == 1
    assert box.hubspot.company(company)["saber_funding_news"] == "news 29"


def test_answers_below_min_confidence_are_not_written_and_are_counted_per_property(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A threshold above every answer's confidence writes none of them, counts each, and `explain` says why."""
    text = mapping_text().replace("version: 1\n", "version: 1\nmin_confidence: 0.999\n", 1)
    settings = _settings(box, tmp_path, text)
    summary = sync(settings, wait_seconds=20)
    assert summary.contacts_written > 0
    assert summary.low_confidence["saber_hiring_engineers"] > 0
    assert summary.low_confidence["saber_runs_kubernetes"] > 0
    assert not any(v["saber_hiring_engineers"] for v in _written_companies(box).values())
    assert "held back (low confidence)" in summary.render()

    def answered(research: dict) -> bool:  # the result itself answers the contact question
        signals = (research.get("result") or {}).get("signals") or []
        return any("Kubernetes" in (sg.get("question") or "") and sg.get("answer") for sg in signals)

    contact = next(r["externalId"] for r in _researched(box) if answered(r))
    assert box.hubspot.contact(contact).get("saber_runs_kubernetes") is None
    proc = run_cli(
        "explain", contact, env=sandbox_env(box, tmp_path, settings.connector_mapping), cwd=tmp_path
    )
    assert "below min_confidence 0.999" in proc.stdout or "no confidence given" in proc.stdout, proc.stdout


def test_associations_failing_past_retries_leave_the_companies_pending_for_the_next_run(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """HubSpot failing the association reads: the contacts land, the run says so, the next run writes the companies."""
    settings = settings_for(
        box, tmp_path, write_mapping(tmp_path, mapping_text()), connector_concurrency=8, http_max_attempts=2
    )
    prepare(settings)
    box.hubspot.fail_next(50, status=503, endpoint="associations_batch_read")
    first = sync(settings, wait_seconds=20)
    assert first.contacts_written > 0 and not _written_companies(box)
    assert any(f.code == "COMPANY_MATCH_FAILED" for f in first.failures)
    box.hubspot.clear_faults()
    second = sync(settings)
    assert second.companies_written > 0 and _written_companies(box)


def _errors_by_subject(settings: Settings) -> dict[str, set[str]]:
    """The errors table `status` reads: codes by subject (a contact id, `company:<id>`, `subscription:<key>`)."""
    store = store_from(settings)
    try:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT contact_id, code FROM errors").all()
        out: dict[str, set[str]] = {}
        for subject, code in rows:
            out.setdefault(str(subject), set()).add(str(code))
        return out
    finally:
        store.close()


def _status_codes(settings: Settings) -> set[str]:
    store = store_from(settings)
    try:
        return {e["code"] for e in status_report(store, errors=50)["common_errors"]}
    finally:
        store.close()


def test_company_and_subscription_failures_reach_the_errors_status_reads(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A failed company match and an unknown subscription are in the summary AND the errors table `status`
    reads, under their own subject, not a contact's (issue 17: one sink of failures)."""
    settings = settings_for(
        box,
        tmp_path,
        write_mapping(tmp_path, mapping_text(subscriptions=True)),
        connector_concurrency=8,
        http_max_attempts=2,
    )
    prepare(settings)
    box.hubspot.fail_next(50, status=503, endpoint="associations_batch_read")
    first = sync(settings, wait_seconds=20)  # no company matched: the subscriptions wait too
    assert "COMPANY_MATCH_FAILED" in {f.code for f in first.failures}
    box.hubspot.clear_faults()
    second = sync(settings)
    assert "SUBSCRIPTION_NOT_FOUND" in {f.code for f in second.failures}
    errors = _errors_by_subject(settings)
    assert "SUBSCRIPTION_NOT_FOUND" in errors.get("subscription:funding_news", set())
    assert "COMPANY_MATCH_FAILED" in errors.get("company:*", set())
    assert {"COMPANY_MATCH_FAILED", "SUBSCRIPTION_NOT_FOUND"} <= _status_codes(settings)
    store = store_from(settings)
    try:  # a subject that is no contact makes no contact record
        assert store.get("subscription:funding_news") is None and store.get("company:*") is None
    finally:
        store.close()
