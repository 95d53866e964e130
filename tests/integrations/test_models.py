"""The account-group API's answers are read defensively: both spellings, numbers from strings, wrong shapes named."""

from __future__ import annotations

from typing import Any

import pytest

from connector.integrations import (
    AccountGroup,
    Audience,
    IntegrationsAnswerError,
    Job,
    JobRequest,
    Named,
    Prospect,
    ProspectSignals,
    Scan,
    SignalSpecification,
    Started,
    linkedin_key,
)

JOB_ID = "507f1f77bcf86cd799439011"
PROSPECT = {
    "id": "65f0c0ffee0000000000abcd",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "name": "Ada Lovelace",
    "headline": "Head of Platform",
    "linkedinUrl": "https://www.linkedin.com/in/Ada-Lovelace/",
    "publicIdentifier": "ada-lovelace",
    "company": {"name": "Analytical Engines", "website": "engines.example"},
    "extra": {"ignored": True},
}
SIGNALS = {
    "prospectId": "65f0c0ffee0000000000abcd",
    "status": "evaluated",
    "results": [
        {
            "type": "hiring",
            "items": [{"score": "0.42", "summary": "low"}, {"score": None, "summary": "none"}],
        },
        {"type": "posts", "items": [{"score": "0.87", "summary": "top", "postLink": "https://x/1"}]},
        {"type": "news", "items": [{"score": 0.6, "summary": "mid"}]},
    ],
}


def test_linkedin_key_normalises_profile_urls_and_refuses_the_rest() -> None:
    """Scheme, www, country subdomains, query, trailing slash and case are dropped; non-profile URLs give ''."""
    expected = "linkedin.com/in/ada-lovelace"
    for url in (
        "https://www.linkedin.com/in/Ada-Lovelace/",
        "http://linkedin.com/in/ada-lovelace?trk=abc#top",
        "linkedin.com/in/ADA-LOVELACE",
        "https://uk.linkedin.com/in/ada-lovelace/details/experience/",
        "  www.linkedin.com/in/ada-lovelace  ",
    ):
        assert linkedin_key(url) == expected, url
    for url in (None, "", "https://www.linkedin.com/company/acme", "https://example.com/in/ada", "not a url"):
        assert linkedin_key(url) == "", url


def test_prospect_reads_both_spellings_and_dotted_paths() -> None:
    """A prospect reads camelCase or snake_case; `field` follows dots into objects; `key` is the LinkedIn key."""
    camel = Prospect.parse(PROSPECT)
    snake = Prospect.parse(
        {"prospect_id": "p1", "first_name": "Ada", "linkedin_url": None, "public_identifier": "Ada-L",
         "company": {"company_name": "X"}}
    )  # fmt: skip
    assert (camel.first_name, camel.last_name, camel.headline) == ("Ada", "Lovelace", "Head of Platform")
    assert camel.field("company.name") == "Analytical Engines" and camel.field("company.industry") is None
    assert camel.field("firstName") == "Ada" and camel.field("nothing.at.all") is None
    assert camel.key == "linkedin.com/in/ada-lovelace"
    assert (snake.id, snake.first_name) == ("p1", "Ada") and snake.key == "pid:ada-l"
    assert snake.field("company.companyName") == "X"
    assert Prospect.parse({"id": "p2"}).key == ""


def test_job_reads_stages_progress_from_strings_and_its_error() -> None:
    """A job's stages and progress (numeric strings too) are read, its error object split into code and message."""
    job = Job.parse(
        {
            "jobId": JOB_ID, "type": "sales_navigator", "status": "failed", "createdAt": "t0", "updatedAt": "t1",
            "stages": {"import": {"status": "completed", "progress": 1}, "enrichment": {"status": "failed",
                       "progress": "0.5"}},
            "error": {"code": "UPSTREAM_ERROR", "message": "provider failed"},
            "unknown": [1, 2, 3],
        }
    )  # fmt: skip
    assert job.id == JOB_ID and job.finished and job.type == "sales_navigator"
    assert job.stages["enrichment"].progress == 0.5 and job.stages["import"].status == "completed"
    assert (job.error_code, job.error_message) == ("UPSTREAM_ERROR", "provider failed")
    running = Job.parse({"job_id": "j2", "status": "running", "error": None})
    assert not running.finished and running.stages == {} and running.error_code is None


def test_scans_starts_and_lists_read_their_ids_under_either_name() -> None:
    """Scan, Started, AccountGroup, Named, SignalSpecification and Audience take ids and numbers as they come."""
    scan = Scan.parse({"scanId": "s1", "status": "cancelled", "error": {"code": "X", "message": "m"}})
    assert scan.finished and scan.error_code == "X"
    assert Started.parse({"jobId": "j", "status": "queued"}, 202, "start_job").replayed is False
    assert Started.parse({"scan_id": "s", "status": "queued"}, 200, "start_scan").replayed is True
    assert AccountGroup.parse({"id": "g", "name": "Sandbox", "created_at": "t"}).created_at == "t"
    assert Named.parse({"id": 3318, "name": "EU"}, "saved_searches").id == "3318"
    assert SignalSpecification.parse({"id": "sp", "name": "n"}).description is None
    audience = Audience.parse({"id": "a", "name": "n", "type": "on_demand", "prospectCount": "12"})
    assert audience.prospect_count == 12


@pytest.mark.parametrize(
    ("parse", "data", "named"),
    [
        (lambda d: Job.parse(d, "job", JOB_ID), ["not", "an", "object"], f"job {JOB_ID}"),
        (lambda d: Job.parse(d, "job", JOB_ID), {"jobId": JOB_ID}, f"job {JOB_ID}"),
        (lambda d: Job.parse(d, "job", JOB_ID), {"jobId": JOB_ID, "status": "queued", "stages": [1]}, JOB_ID),
        (lambda d: Scan.parse(d, "scan", "s9"), {"status": "queued"}, "scan s9"),
        (lambda d: Prospect.parse(d, "audience_prospects", "aud1"), {"firstName": "x"}, "aud1"),
        (lambda d: Started.parse(d, 202, "start_job", "sc-li-k"), "queued", "start_job sc-li-k"),
        (lambda d: ProspectSignals.parse(d, "prospect_signals", "p7"), {"status": "done"}, "p7"),
        (lambda d: ProspectSignals.parse(d, "prospect_signals", "p7"), {"status": "evaluated", "results": {}}, "p7"),
        (lambda d: ProspectSignals.parse(d, "prospect_signals", "p7"),
         {"status": "evaluated", "results": [{"items": ["x"]}]}, "p7"),
    ],
)  # fmt: skip
def test_a_wrong_shape_is_an_answer_error_naming_the_call_and_the_id(
    parse: Any, data: Any, named: str
) -> None:
    """Each wrong shape raises IntegrationsAnswerError (skippable, code INVALID_RESPONSE) naming the call and id."""
    with pytest.raises(IntegrationsAnswerError) as caught:
        parse(data)
    assert named in str(caught.value) and caught.value.code == "INVALID_RESPONSE"


def test_prospect_signals_sort_items_by_score_and_answer_paths() -> None:
    """Items of every group come best score first (string scores read, None last); `value` answers the mapping's paths."""
    signals = ProspectSignals.parse(SIGNALS)
    assert [item.score for item in signals.items] == [0.87, 0.6, 0.42, None]
    assert signals.value("status") == "evaluated"
    assert signals.value("items.count") == 4
    assert signals.value("items.0.summary") == "top" and signals.value("items.0.score") == 0.87
    assert signals.value("items.0.postLink") == "https://x/1" and signals.value("items.1.postLink") is None
    assert signals.value("items.9.summary") is None
    assert signals.value("items.summary") == ["top", "mid", "low", "none"]
    assert signals.value("items.score") == [0.87, 0.6, 0.42]
    assert signals.value("items.postLink") == ["https://x/1"]


def test_pending_and_nothing_found_are_told_apart() -> None:
    """`pending` with no results, and `evaluated` with `results: []` (nothing found), both parse with no items."""
    pending = ProspectSignals.parse({"prospectId": "p", "status": "pending", "results": []})
    nothing = ProspectSignals.parse({"prospect_id": "p", "status": "evaluated"})
    assert pending.status == "pending" and pending.value("items.count") == 0
    assert nothing.status == "evaluated" and nothing.value("items.0.summary") is None
    assert nothing.value("items.summary") == []


def test_job_request_body_renames_fields_and_credits_count_what_may_be_imported() -> None:
    """The assumption-I1 body carries the canonical names unless renamed; credits are max_results or URLs, x2 with emails."""
    search = JobRequest("sales_navigator", {"savedSearchId": "3318"}, 200, True, "aud1")
    assert search.body() == {
        "source": "sales_navigator", "savedSearchId": "3318", "maxResults": 200, "searchEmails": True,
        "audienceId": "aud1",
    }  # fmt: skip
    assert search.credits() == 400
    upload = JobRequest("url_upload", {"profileUrls": ["a", "b", "c"]}, None, False, "aud2")
    body = upload.body({"profileUrls": "urls", "audienceId": "listId"})
    assert body == {"source": "url_upload", "urls": ["a", "b", "c"], "searchEmails": False, "listId": "aud2"}
    assert upload.credits() == 3
