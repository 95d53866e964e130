"""The account-group API's refusals over real HTTP: each status typed by its consequence, retried as the policy says."""

from __future__ import annotations

import io
import json
import re
import time

import pytest

from connector.errors import FatalApiError, RetriableApiError, SkippableError
from connector.http_policy import FAILED_EVENT, RETRIED_EVENT
from connector.integrations import (
    IntegrationsAuthError,
    IntegrationsClient,
    IntegrationsConflict,
    IntegrationsCreditsError,
    IntegrationsNotFound,
    IntegrationsPermissionError,
    IntegrationsRejected,
    IntegrationsUnavailable,
    JobRequest,
)
from connector.logs import configure_logging
from connector.sandbox.integrations import IntegrationsSandbox
from connector.sandbox.server import Fault
from tests.integrations.conftest import fast_client
from tests.support import wait_for

TRACE = re.compile(r"\[traceId [0-9a-f]{24}\]")
MISSING_JOB = "0123456789abcdef01234567"


def search(audience_id: str, max_results: int = 10) -> JobRequest:
    return JobRequest("sales_navigator", {"savedSearchId": "3318"}, max_results, False, audience_id)


def test_an_unknown_key_is_fatal_and_named_by_its_variable_never_shown(box: IntegrationsSandbox) -> None:
    """401: IntegrationsAuthError (fatal, exit 3) naming INTEGRATIONS_API_KEY and the traceId, not the key."""
    with (
        fast_client(box, api_key="sk_live_wrong_key_123") as client,
        pytest.raises(IntegrationsAuthError) as caught,
    ):
        client.groups()
    error = caught.value
    assert isinstance(error, FatalApiError) and error.exit_code == 3 and error.status == 401
    assert "INTEGRATIONS_API_KEY" in str(error) and TRACE.search(str(error))
    assert "sk_live_wrong_key_123" not in str(error) and box.count("groups_list") == 1


def test_a_missing_permission_is_named(box: IntegrationsSandbox) -> None:
    """403: IntegrationsPermissionError whose `.permission` and text name what the call needs."""
    box.add_key("sk_live_read_only", ["prospecting:read", "audiences:read"])
    with fast_client(box) as writer:
        audience = writer.create_audience("for the read-only key")
    with fast_client(box, api_key="sk_live_read_only") as client:
        assert list(client.jobs()) == []  # a read it holds
        with pytest.raises(IntegrationsPermissionError) as caught:
            client.start_job(search(audience.id), idempotency_key="sc-li-403")
    assert caught.value.permission == "prospecting:write" and caught.value.status == 403
    assert "prospecting:write" in str(caught.value) and "INTEGRATIONS_API_KEY" in str(caught.value)
    assert box.jobs_started == 0


def test_no_credits_left_is_its_own_error(box: IntegrationsSandbox) -> None:
    """402 INSUFFICIENT_CREDITS: IntegrationsCreditsError, neither retried nor skippable (it stops starting)."""
    box.credits = 5
    with fast_client(box) as client:
        audience = client.create_audience("too dear")
        with pytest.raises(IntegrationsCreditsError) as caught:
            client.start_job(search(audience.id, 50), idempotency_key="sc-li-402")
    assert caught.value.code == "INSUFFICIENT_CREDITS" and caught.value.status == 402
    assert not isinstance(caught.value, SkippableError | RetriableApiError)
    assert box.count("job_start") == 1 and box.jobs_started == 0


def test_a_validation_error_carries_its_details(box: IntegrationsSandbox, client: IntegrationsClient) -> None:
    """422 over the plan cap: IntegrationsRejected (skippable) whose details and text name the field."""
    audience = client.create_audience("over the cap")
    with pytest.raises(IntegrationsRejected) as caught:
        client.start_job(search(audience.id, box.plan_cap + 1), idempotency_key="sc-li-422")
    error = caught.value
    assert error.status == 422 and error.code == "VALIDATION_ERROR" and isinstance(error, SkippableError)
    assert (
        error.details == {"field": "maxResults"} and "maxResults" in str(error) and TRACE.search(str(error))
    )
    assert box.count("job_start") == 1


def test_a_missing_job_is_not_found_and_a_key_reused_with_another_body_conflicts(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """404 is IntegrationsNotFound; the same Idempotency-Key with another body is IntegrationsConflict (409)."""
    with pytest.raises(IntegrationsNotFound) as missing:
        client.job(MISSING_JOB)
    assert missing.value.status == 404 and MISSING_JOB in str(missing.value)
    audience = client.create_audience("conflicts")
    client.start_job(search(audience.id, 10), idempotency_key="sc-li-same")
    wait_for(lambda: all(j.finished for j in client.jobs()), timeout=10)
    with pytest.raises(IntegrationsConflict) as conflict:
        client.start_job(search(audience.id, 11), idempotency_key="sc-li-same")
    assert conflict.value.code == "IDEMPOTENCY_CONFLICT" and box.jobs_started == 1


def test_a_429_is_retried_after_its_retry_after(box: IntegrationsSandbox) -> None:
    """429 with Retry-After: the call waits that long, then succeeds; one retry counted."""
    box.throttle_next(1, retry_after=0.3, endpoint="groups_list")
    with fast_client(box, max_backoff=5.0) as client:
        began = time.monotonic()
        assert client.groups()
        waited = time.monotonic() - began
    assert waited >= 0.3 and client.retries["groups"] == 1 and box.count("groups_list") == 2


def test_a_429_without_a_hint_waits_the_default_capped_by_max_backoff(box: IntegrationsSandbox) -> None:
    """429 with no Retry-After: the default wait (60 s) capped by the policy's max_backoff, then a retry."""
    box._script(1, Fault(status=429, style="no header"), "groups_list")
    with fast_client(box, max_backoff=0.4) as client:
        began = time.monotonic()
        assert client.groups()
        waited = time.monotonic() - began
    assert 0.4 <= waited < 5 and client.retries["groups"] == 1


def test_5xx_are_retried_then_unavailable(box: IntegrationsSandbox) -> None:
    """5xx answers are retried with back-off; past the attempts, IntegrationsUnavailable (exit 3) with a traceId."""
    box.fail_next(1, 503, endpoint="groups_list")
    with fast_client(box) as client:
        assert client.groups() and client.retries["groups"] == 1
    box.fail_next(5, 502, endpoint="groups_list")
    with fast_client(box, max_attempts=3) as client, pytest.raises(IntegrationsUnavailable) as caught:
        client.groups()
    assert caught.value.status == 502 and caught.value.exit_code == 3 and caught.value.attempts == 3
    assert TRACE.search(str(caught.value)) and client.calls["groups"] == 3


def test_a_start_whose_answer_was_lost_is_retried_with_the_same_key_and_replayed(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """The job is started, the connection reset before the answer; the retry's same key is replayed: one job."""
    audience = client.create_audience("lost answer")
    box._script(1, Fault(status=0, after=True), "job_start")
    started = client.start_job(search(audience.id), idempotency_key="sc-li-lost")
    assert started.replayed and box.jobs_started == 1 and client.retries["start_job"] == 1
    keys = [r.headers.get("Idempotency-Key") for r in box.requests_to("job_start")]
    assert keys == ["sc-li-lost", "sc-li-lost"]
    box._script(1, Fault(status=0, after=True), "scan_start")
    wait_for(lambda: client.job(started.id).finished, timeout=10)
    scan = client.start_scan("66a1f0c2e4b0a1b2c3d4e5f6", audience.id, idempotency_key="sc-scan-lost")
    assert scan.replayed and box.scans_started == 1


def test_logs_carry_trace_ids_and_never_the_key() -> None:
    """Every call's log line has its traceId (successes at debug, retries and failures as the policy logs); no key."""
    secret = "sk_live_plain_secret_98765"
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        with IntegrationsSandbox(api_key=secret) as box, fast_client(box) as client:
            client.groups()
            box.fail_next(1, 503, endpoint="job_get")
            with pytest.raises(IntegrationsNotFound):
                client.job(MISSING_JOB)
    finally:
        configure_logging("WARNING", "console")
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    calls = [x for x in lines if x["event"] == "integrations_call"]
    retried = [x for x in lines if x["event"] == RETRIED_EVENT and x["api"] == "integrations"]
    failed = [x for x in lines if x["event"] == FAILED_EVENT and x["api"] == "integrations"]
    assert calls and all(re.fullmatch(r"[0-9a-f]{24}", x["trace_id"]) for x in calls)
    assert retried and retried[0]["status"] == 503 and retried[0]["request_id"]
    assert failed and failed[0]["status"] == 404 and re.fullmatch(r"[0-9a-f]{24}", failed[0]["request_id"])
    assert secret not in text


def test_a_cancel_whose_answer_was_lost_finds_the_job_cancelled(
    box: IntegrationsSandbox, client: IntegrationsClient
) -> None:
    """The cancel is applied and its answer lost; the retry's 422 is settled by reading the job: cancelled."""
    box.job_seconds = 5.0
    audience = client.create_audience("cancel lost")
    started = client.start_job(search(audience.id), idempotency_key="sc-li-cancel")
    box._script(1, Fault(status=0, after=True), "job_cancel")
    assert client.cancel_job(started.id).status == "cancelled"
    assert box.count("job_cancel") == 2 and client.retries["cancel_job"] == 1
    box.job_seconds = 0.1
    finished = client.create_audience("finished")
    done = client.start_job(search(finished.id), idempotency_key="sc-li-done")
    wait_for(lambda: client.job(done.id).finished, timeout=10)
    with pytest.raises(IntegrationsRejected) as caught:
        client.cancel_job(done.id)
    assert caught.value.status == 422
