"""The account-group API client over real HTTP against the sandbox: envelope, pages, groups, jobs, scans, results."""

from __future__ import annotations

import re

import pytest

from connector.integrations import (
    AudienceNotReady,
    IntegrationsClient,
    IntegrationsConfigError,
    JobRequest,
    ProspectSignals,
)
from connector.sandbox.integrations import IntegrationsSandbox
from tests.integrations.conftest import fast_client
from tests.support import wait_for

SPEC = "66a1f0c2e4b0a1b2c3d4e5f6"
HEX24 = re.compile(r"^[0-9a-f]{24}$")


def start_search_job(client: IntegrationsClient, key: str, max_results: int = 12) -> tuple[str, str]:
    """An audience and a sales_navigator job filling it; (audience id, job id)."""
    audience = client.create_audience(f"saber-connector test {key}")
    request = JobRequest("sales_navigator", {"savedSearchId": "3318"}, max_results, False, audience.id)
    started = client.start_job(request, idempotency_key=key)
    return audience.id, started.id


def test_groups_come_from_the_envelope_and_the_only_group_is_used(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """`groups` returns the envelope's items; with one group and none set, `group` is that one, asked once."""
    groups = client.groups()
    assert [(g.id, g.name) for g in groups] == [(box.group_id, "Sandbox")]
    assert client.group() == box.group_id and client.group() == box.group_id
    assert box.count("groups_list") == 2  # the one of `groups`, and one for `group` (then cached)


def test_cursor_pages_are_walked_to_the_end(box: IntegrationsSandbox) -> None:
    """Lists follow nextCursor until hasMore is false: every group and every prospect, none twice."""
    for n in range(4):
        box.add_group(f"Extra {n}")
    with fast_client(box, account_group=box.group_id) as client:
        groups = client.groups(page_size=2)
        assert len({g.id for g in groups}) == 5 and box.count("groups_list") == 3
        audience_id, job_id = start_search_job(client, "sc-li-pages", max_results=25)
        wait_for(lambda: client.job(job_id).status == "completed", timeout=10)
        prospects = list(client.audience_prospects(audience_id, page_size=7))
    assert len(prospects) == 25 and len({p.id for p in prospects}) == 25
    assert box.count("audience_prospects") == 4
    assert all(p.key.startswith("linkedin.com/in/") and p.first_name for p in prospects)


def test_several_groups_need_the_setting_which_picks_one_by_id_or_name(box: IntegrationsSandbox) -> None:
    """Two groups and no INTEGRATIONS_ACCOUNT_GROUP: a config error listing them; set by id or name: that group."""
    other = box.add_group("Second")
    with fast_client(box) as client, pytest.raises(IntegrationsConfigError) as caught:
        client.group()
    assert "INTEGRATIONS_ACCOUNT_GROUP" in str(caught.value) and other in str(caught.value)
    assert caught.value.exit_code == 2
    with fast_client(box, account_group=other) as client:
        assert client.group() == other
    with fast_client(box, account_group="Second") as client:
        assert client.group() == other
    with fast_client(box, account_group="nope") as client, pytest.raises(IntegrationsConfigError) as unknown:
        list(client.jobs())
    assert "INTEGRATIONS_ACCOUNT_GROUP=nope" in str(unknown.value)


def test_a_job_fills_its_audience_which_is_not_ready_until_the_job_is_done(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """While its job runs the audience answers AudienceNotReady; once completed, its prospects are read."""
    box.job_seconds = 5.0
    audience_id, job_id = start_search_job(client, "sc-li-ready")
    with pytest.raises(AudienceNotReady) as caught:
        list(client.audience_prospects(audience_id))
    assert caught.value.status == 409 and caught.value.code == "AUDIENCE_NOT_READY"
    assert client.retries["audience_prospects"] == 0  # read again later, not retried
    job = client.job(job_id)
    assert job.status in ("queued", "running") and not job.finished
    assert [j.id for j in client.jobs()] == [job_id]
    cancelled = client.cancel_job(job_id)
    assert cancelled.status == "cancelled" and cancelled.finished
    assert client.job(job_id).status == "cancelled"


def test_a_scan_over_a_jobs_audience_evaluates_its_prospects(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """Job, audience, scan, then per-prospect results: pending before the scan ends, evaluated after, best first."""
    audience_id, job_id = start_search_job(client, "sc-li-scan", max_results=9)
    wait_for(lambda: client.job(job_id).finished, timeout=10)
    assert client.job(job_id).stages["import"].progress == 1.0
    prospects = list(client.audience_prospects(audience_id))
    assert {a.id for a in client.audiences()} == {audience_id}
    assert [s.id for s in client.specifications()][0] == SPEC
    started = client.start_scan(SPEC, audience_id, idempotency_key="sc-scan-1")
    assert HEX24.match(started.id) and not started.replayed
    assert client.prospect_signals(prospects[0].id).status == "pending"
    wait_for(lambda: client.scan(started.id).finished, timeout=10)
    assert [s.id for s in client.scans()] == [started.id]

    def evaluated() -> list[ProspectSignals]:
        read = [client.prospect_signals(p.id) for p in prospects]
        return read if all(r.status == "evaluated" for r in read) else []

    results = wait_for(evaluated, timeout=10)
    assert any(r.items for r in results) and all(r.prospect_id for r in results)
    for result in results:
        scores = [item.score for item in result.items]
        assert scores == sorted(scores, reverse=True)  # the sandbox's string scores, parsed and sorted
        assert result.value("items.count") == len(result.items)
    found = next(r for r in results if r.items)
    assert found.value("items.0.score") == max(s for s in (i.score for i in found.items) if s is not None)


def test_a_repeated_start_key_is_replayed_not_started_twice(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """The same Idempotency-Key and body answers 200 (replayed) with the same job; the sandbox started one."""
    audience_id, job_id = start_search_job(client, "sc-li-twice")
    request = JobRequest("sales_navigator", {"savedSearchId": "3318"}, 12, False, audience_id)
    again = client.start_job(request, idempotency_key="sc-li-twice")
    assert again.replayed and again.id == job_id and box.jobs_started == 1
    assert [r.headers.get("Idempotency-Key") for r in box.requests_to("job_start")] == ["sc-li-twice"] * 2


def test_job_fields_rename_the_request_body(box: IntegrationsSandbox) -> None:
    """INTEGRATIONS_JOB_FIELDS renames go onto the wire: the sandbox expecting `urls` accepts the upload."""
    box.job_fields = {"profileUrls": "urls"}
    urls = ["https://www.linkedin.com/in/ada-lovelace", "https://www.linkedin.com/in/alan-turing"]
    with fast_client(box, job_fields={"profileUrls": "urls"}) as client:
        audience = client.create_audience("uploads")
        started = client.start_job(JobRequest("url_upload", {"profileUrls": urls}, None, False, audience.id),
                                   idempotency_key="sc-li-upload")  # fmt: skip
        wait_for(lambda: client.job(started.id).status == "completed", timeout=10)
        keys = {p.key for p in client.audience_prospects(audience.id)}
    assert box.requests_to("job_start")[0].body["urls"] == urls
    assert keys == {"linkedin.com/in/ada-lovelace", "linkedin.com/in/alan-turing"}
