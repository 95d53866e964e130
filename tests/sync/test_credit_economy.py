"""Credits are money: one answer per company or person, free answers looked for first, the economy reported."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from tests.support import run_cli
from tests.sync_harness import (
    EXAMPLE_MAPPING,
    ROOT_MAPPING,
    prepare,
    sandbox_env,
    settings_for,
    sync,
    write_mapping,
)

QUESTION = "Is the company hiring for engineering roles?"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=60, seed=3, research_delay=0.1) as running:
        yield running


def _settings(box: RunningSandbox, tmp_path: Path, text: str, **extra: object) -> Settings:
    settings = settings_for(box, tmp_path, write_mapping(tmp_path, text), connector_concurrency=8, **extra)
    prepare(settings)
    return settings


def _company_asks(box: RunningSandbox) -> Counter[str]:
    return Counter(s["domain"] for s in box.saber.signals("company", created=True))


def test_a_company_signal_is_asked_once_per_company_even_by_concurrent_workers(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """Eight workers on contacts of shared companies pay once per domain; every contact still gets the answer."""
    settings = _settings(box, tmp_path, ROOT_MAPPING.read_text())
    summary = sync(settings, wait_seconds=20)
    asks = _company_asks(box)
    researched = [r for r in box.saber.all_research() if r["status"] == "completed"]
    domains = Counter(r["companyDomain"] for r in researched)
    assert max(domains.values()) > 1, "the seeded portal should have several contacts per company"
    assert asks and set(asks.values()) == {1}  # never twice for one domain
    assert set(asks) <= set(domains)
    assert summary.credits_by_kind["company_signals"] == len(asks)
    assert summary.credits_by_kind["research"] == len(researched)
    reused = sum(n - 1 for d, n in domains.items() if d in asks)
    assert summary.credits_saved["company_answers_reused"] == reused > 0
    for r in researched:  # every contact of an asked company has its company's answer
        if r["companyDomain"] in asks:
            assert box.hubspot.contact(r["externalId"])["saber_hiring_engineers_reasoning"]
    assert "credits saved" in summary.render() and "company signals" in summary.render()
    env = sandbox_env(box, tmp_path, Path(settings.connector_mapping))
    status = run_cli("status", "--output", "json", env=env, cwd=tmp_path)
    economy = json.loads(status.stdout)["economy"]
    assert economy["credits_by_kind"]["company_signals"] == len(asks)
    assert economy["credits_saved"]["company_answers_reused"] == reused
    text = run_cli("status", env=env, cwd=tmp_path).stdout
    assert f"company signals {len(asks)}" in text and "saved" in text


def test_a_new_contact_of_a_known_company_reuses_the_stored_answer(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A later run (or another replica) answers a new contact of a known company from the table, paying nothing for it."""
    settings = _settings(box, tmp_path, ROOT_MAPPING.read_text())
    sync(settings, wait_seconds=20)
    asked = _company_asks(box)
    domain = next(iter(asked))
    sample = next(r for r in box.saber.all_research() if r["companyDomain"] == domain)
    source = box.hubspot.contact(sample["externalId"])
    new = box.hubspot.add_contact(
        {
            "firstname": "Nadia",
            "lastname": "Newhire",
            "company": source["company"],
            "website": source["website"],
            "email": f"nadia@{domain}",
            "lifecyclestage": source["lifecyclestage"],
            "jobtitle": "Staff Engineer",
        }
    )
    second = sync(settings, wait_seconds=20)
    assert box.saber.research_for(new) is not None
    assert _company_asks(box) == asked  # no new company ask
    assert second.credits_by_kind.get("company_signals", 0) == 0
    assert second.credits_saved["company_answers_reused"] >= 1
    assert box.hubspot.contact(new)["saber_hiring_engineers_reasoning"]


def test_an_answer_saber_already_holds_is_read_for_free_instead_of_paid(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """A completed company signal in Saber's list for the same question and type is used, not asked again."""
    settings = _settings(box, tmp_path, ROOT_MAPPING.read_text())
    sync(settings, max_new=0)  # nothing launched: learn nothing, spend nothing
    domains = sorted({box.hubspot.contact(c).get("website") or "" for c in box.hubspot.contact_ids()})
    known = [
        d.removeprefix("https://").removeprefix("http://").removeprefix("www.").split("/")[0]
        for d in domains
        if d
    ]
    for domain in known:
        box.saber.add_signal(
            {
                "status": "completed",
                "question": QUESTION,
                "answerType": "boolean",
                "signalType": "COMPANY",
                "domain": domain,
                "answer": {"boolean": {"value": True}},
                "reasoning": "already known to Saber",
            },
            scope="company",
        )
    summary = sync(settings, wait_seconds=20)
    assert summary.research["completed"] > 0
    assert len(box.saber.signals("company", created=True)) < len(
        {r["companyDomain"] for r in box.saber.all_research()}
    )
    assert summary.credits_saved["saber_lists"] >= 1
    assert box.saber.count("company_signals_list") >= 1


BLOG_MAPPING = EXAMPLE_MAPPING.replace(
    "Does this person's team run Kubernetes in production?", "Does this person write a technical blog?"
)


def test_the_same_person_entered_twice_is_asked_once(box: RunningSandbox, tmp_path: Path) -> None:
    """Two contacts with one LinkedIn profile cost one contact-signal ask between them."""
    settings = _settings(box, tmp_path, BLOG_MAPPING)
    person = {
        "firstname": "Dana",
        "lastname": "Twice",
        "company": "Acme Systems",
        "website": "https://acme-systems.example",
        "email": "dana@acme-systems.example",
        "lifecyclestage": "lead",
        "jobtitle": "Platform Engineer",
        "linkedin_url": "https://www.linkedin.com/in/dana-twice",
    }
    first, second = (
        box.hubspot.add_contact(person),
        box.hubspot.add_contact({**person, "email": "dana.t@acme-systems.example"}),
    )
    sync(settings, contact_ids=(first, second), wait_seconds=20)
    urls = Counter(s["contactProfileUrl"] for s in box.saber.signals("contact", created=True))
    assert urls["https://www.linkedin.com/in/dana-twice"] == 1
    for cid in (first, second):
        assert box.hubspot.contact(cid)["saber_runs_kubernetes"] is not None


def test_free_mail_is_never_a_company(box: RunningSandbox, tmp_path: Path) -> None:
    """A company domain that is a free-mail provider is never asked about."""
    settings = _settings(box, tmp_path, ROOT_MAPPING.read_text())
    cid = box.hubspot.add_contact(
        {
            "firstname": "Gail",
            "lastname": "Mail",
            "company": "Freelance",
            "website": "gmail.com",
            "email": "gail@gmail.com",
            "lifecyclestage": "lead",
            "jobtitle": "Consultant",
        }
    )
    summary = sync(settings, contact_ids=(cid,), wait_seconds=20)
    assert summary.research["completed"] == 1  # researched, so the company signal would have been asked
    assert "gmail.com" not in _company_asks(box)


def test_a_plan_only_pass_asks_saber_nothing_and_rewrites_no_deferral(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`--max-new 0` reads and plans without a single Saber look-up; a second pass leaves deferrals as they were."""
    settings = _settings(box, tmp_path, EXAMPLE_MAPPING)
    first = sync(settings, max_new=0)
    assert first.counts()["contacts_seen"] > 0
    assert box.saber.count() == 0  # no look-up by external id, no balance: nothing could launch

    def deferred() -> dict[str, tuple[str, str]]:
        with sqlite3.connect(tmp_path / "state.db") as db:
            rows = db.execute(
                "SELECT contact_id, deferred, updated_at FROM contacts WHERE deferred IS NOT NULL"
            )
            return {cid: (reason, at) for cid, reason, at in rows}

    before = deferred()
    assert before and {reason for reason, _ in before.values()} == {"launch_cap"}
    box.hubspot.edit_contact(next(iter(before)), {"jobtitle": "Head of Things"})  # pulled again
    second = sync(settings, max_new=0)
    assert second.counts()["contacts_seen"] >= 1
    assert deferred() == before  # still put off, and not rewritten row by row
    assert box.saber.count() == 0
