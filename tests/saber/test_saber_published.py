"""Saber as it publishes itself, over real HTTP: the sandbox's signal life cycle and limits, and the client.

Signals take time and are charged for every accepted POST; the sync endpoints block until
done or the key's timeout (202, or 408 on request); a batch asks questions x domains; a
429 may name no wait at all; the research create may refuse fields it does not publish.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from connector.saber import (
    SaberNotFound,
    SaberUnavailable,
    SaberValidationError,
    SignalQuestion,
    SignalRequest,
    parse_error,
)
from connector.saber.errors import DEFAULT_429_WAIT
from connector.sandbox.saber import SaberSandbox
from connector.sandbox.server import Fault
from tests.saber.test_saber_client import make_client
from tests.support import wait_for

PROFILE = "https://linkedin.com/in/johndoe"
ASK = {"contactProfileUrl": PROFILE, "question": "Hiring?", "answerType": "boolean"}


@pytest.fixture
def slow() -> Iterator[SaberSandbox]:
    """Signals that take 0.6 s, a key that waits 0.3 s on the sync endpoints."""
    with SaberSandbox(signal_delay=0.6, key_timeout=0.3) as box:
        box.replay_signal_keys = False
        yield box


@pytest.fixture
def http(slow: SaberSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=slow.url, headers={"Authorization": f"Bearer {slow.api_key}"}) as client:
        yield client


# ---------------------------------------------------------------------------------- sandbox
def test_an_async_create_answers_processing_and_the_signal_completes_later(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """POST /v1/contacts/signals answers at once with the signal processing; GET by id shows it done later."""
    created = http.post("/v1/contacts/signals", json=ASK)
    assert created.status_code == 201
    signal = created.json()
    assert signal["status"] == "processing" and "answer" not in signal and signal["question"] == "Hiring?"
    done = wait_for(
        lambda: (s := http.get(f"/v1/contacts/signals/{signal['id']}").json())["status"] != "processing" and s
    )
    assert done["status"] == "completed" and "answer" in done and done["completedAt"]
    assert done["metadata"]["processingTimeMs"] == pytest.approx(600, abs=1)


def test_the_sync_endpoint_blocks_until_the_keys_timeout_then_answers_202_and_has_charged(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """Past the key's timeout the sync endpoint answers 202 with the signal processing; it was charged."""
    before = slow.credits_left
    started = time.monotonic()
    answer = http.post("/v1/companies/signals/sync", json={"domain": "acme.com", "question": "Hiring?"})
    assert answer.status_code == 202 and answer.json()["status"] == "processing"
    assert 0.25 <= time.monotonic() - started < 0.6
    assert slow.credits_left == before - 1


def test_the_sync_endpoint_answers_408_when_asked_and_200_within_the_asked_timeout(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """`X-Sbr-Timeout-Error: true` turns the 202 into a 408; `X-Sbr-Timeout-Sec` waits longer than the key."""
    late = http.post("/v1/contacts/signals/sync", json=ASK, headers={"X-Sbr-Timeout-Error": "true"})
    assert late.status_code == 408 and late.json()["error"]["code"] == "REQUEST_TIMEOUT"
    done = http.post("/v1/contacts/signals/sync", json=ASK, headers={"X-Sbr-Timeout-Sec": "5"})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    for bad in ("0", "901", "soon"):
        refused = http.post("/v1/contacts/signals/sync", json=ASK, headers={"X-Sbr-Timeout-Sec": bad})
        assert refused.status_code == 400, bad
    assert slow.credits_left == 1000 - 2


def test_every_accepted_signal_post_is_charged_even_with_the_same_idempotency_key(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """Signal POSTs have no published idempotency: the same POST twice is two signals and two credits."""
    headers = {"Idempotency-Key": "same"}
    ids = {http.post("/v1/contacts/signals", json=ASK, headers=headers).json()["id"] for _ in range(2)}
    assert len(ids) == 2 and slow.credits_left == 998


def test_a_batch_asks_questions_times_domains_and_lists_each_signal(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """A synchronous batch charges one credit a signal, answers each id, and a bad domain is rejected alone."""
    body = {
        "signals": [
            {"question": "Hiring?", "answerType": "boolean"},
            {"question": "Size?", "answerType": "number"},
        ],
        "domains": ["acme.com", "globex.com", "not a domain"],
    }
    answer = http.post("/v1/companies/signals/batch", json=body)
    assert answer.status_code == 200
    batch = answer.json()
    assert (batch["totalSignals"], batch["accepted"], batch["rejected"]) == (6, 4, 2)
    made = [r for r in batch["results"] if r.get("id")]
    assert {(r["domain"], r["question"]) for r in made} == {
        (d, q) for d in ("acme.com", "globex.com") for q in ("Hiring?", "Size?")
    }
    assert all(r["status"] == "processing" for r in made) and slow.credits_left == 996
    listed = http.get("/v1/companies/signals", params={"domain": "acme.com"}).json()["results"]
    assert {s["id"] for s in listed} == {r["id"] for r in made if r["domain"] == "acme.com"}


def test_an_async_batch_names_only_the_batch_and_a_batch_past_its_limit_or_the_credits_is_refused(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """`async: true` answers the batch id alone; too many signals is 400, too few credits 402 (nothing made)."""
    body = {"signals": [{"question": "Hiring?"}], "domains": ["acme.com"], "async": True}
    answer = http.post("/v1/companies/signals/batch", json=body)
    assert answer.status_code == 202 and answer.json()["async"] is True and "results" not in answer.json()
    slow.batch_sync_limit = 2
    too_many = http.post(
        "/v1/companies/signals/batch", json={**body, "async": False, "domains": ["a.com", "b.com", "c.com"]}
    )
    assert too_many.status_code == 400
    slow.credits_left = 1
    broke = http.post(
        "/v1/companies/signals/batch", json={**body, "async": False, "domains": ["a.com", "b.com"]}
    )
    assert broke.status_code == 402 and len(slow.signals("company")) == 1


def test_templates_are_read_and_a_create_from_one_takes_its_question_and_type(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """GET .../templates/{id} answers the template (404 when unknown); a signal made from it asks its question."""
    template = slow.add_template("Do they sell to banks?", "boolean")
    assert (
        http.get(f"/v1/companies/signals/templates/{template['id']}").json()["question"]
        == "Do they sell to banks?"
    )
    assert http.get("/v1/companies/signals/templates/nope").status_code == 404
    made = http.post(
        "/v1/companies/signals", json={"domain": "acme.com", "signalTemplateId": template["id"]}
    ).json()
    assert (made["question"], made["answerType"], made["signalTemplateId"]) == (
        "Do they sell to banks?",
        "boolean",
        template["id"],
    )


def test_signals_can_end_failed_with_an_error_code(slow: SaberSandbox, http: httpx.Client) -> None:
    """With `signal_failed_rate` 1, a created signal ends failed with errorCode, charged and with no answer."""
    slow.signal_failed_rate = 1.0
    made = http.post("/v1/contacts/signals", json=ASK).json()
    failed = wait_for(
        lambda: (s := http.get(f"/v1/contacts/signals/{made['id']}").json())["status"] != "processing" and s
    )
    assert failed["status"] == "failed" and failed["errorCode"] and failed["answer"] is None
    assert slow.credits_left == 999


def test_the_research_create_can_refuse_fields_it_does_not_publish() -> None:
    """With `refuse_unpublished_fields`, a body naming externalId is a 400 naming it; without, it is created."""
    body = {"firstName": "J", "lastName": "D", "companyName": "Acme", "companyDomain": "acme.com"}
    with (
        SaberSandbox(refuse_unpublished_fields=True) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as http,
    ):
        refused = http.post(
            "/v1/contacts/research", json={**body, "externalId": "51", "externalSource": "hubspot"}
        )
        assert refused.status_code == 400
        assert {d["field"] for d in refused.json()["details"]} == {"externalId", "externalSource"}
        assert http.post("/v1/contacts/research", json=body).status_code == 201
        assert box.credits_left == 999


def test_rate_limit_reset_is_a_unix_time(slow: SaberSandbox, http: httpx.Client) -> None:
    """X-Ratelimit-Reset is "a Unix timestamp of the next window", not seconds from now."""
    reset = int(http.get("/v1/credits").headers["X-Ratelimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 120


def test_a_per_route_limit_answers_the_envelope_with_no_wait_but_the_reset(
    slow: SaberSandbox, http: httpx.Client
) -> None:
    """Past a route's own limit: 429 `{"error": {"type": "TIMEOUT", "code": "TOO_MANY_REQUESTS"}}`, no
    Retry-After, and X-Ratelimit-Reset at the next one-second window."""
    slow.route_limits["contact_signal_create"] = 2
    answers = [http.post("/v1/contacts/signals", json=ASK) for _ in range(3)]
    if answers[-1].status_code != 429:  # the three straddled a second: the next three cannot
        answers = [http.post("/v1/contacts/signals", json=ASK) for _ in range(3)]
    limited = answers[-1]
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert (
        limited.json()["error"]["type"] == "TIMEOUT"
        and limited.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    )
    assert time.time() - 1 <= int(limited.headers["X-Ratelimit-Reset"]) <= time.time() + 1


# ---------------------------------------------------------------------------------- client
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Ratelimit-Reset": "30"}, 30.0),
        ({"X-Ratelimit-Reset": "REL"}, 12.0),
        ({}, DEFAULT_429_WAIT),
        ({"Retry-After": "7", "X-Ratelimit-Reset": "30"}, 7.0),
    ],
)
def test_a_429_that_names_no_wait_waits_until_the_reset_else_a_minute(
    headers: dict[str, str], expected: float
) -> None:
    """The per-route envelope names no wait: X-Ratelimit-Reset (Unix time or seconds) decides, else 60 s."""
    if headers.get("X-Ratelimit-Reset") == "REL":
        headers = {"X-Ratelimit-Reset": str(int(time.time()) + 12)}
    body = b'{"error": {"type": "TIMEOUT", "code": "TOO_MANY_REQUESTS", "message": "Per-route rate limit exceeded"}}'
    error = parse_error(429, body, headers)
    assert error.retry_after == pytest.approx(expected, abs=1.0)
    assert error.code == "TOO_MANY_REQUESTS"


def test_the_client_waits_out_a_per_route_limit_instead_of_running_out_of_attempts(
    slow: SaberSandbox,
) -> None:
    """Against 3 creates a second answered with no wait, 12 creates all land: each 429 waits for the window."""
    slow.route_limits["contact_signal_create"] = 3
    with make_client(slow, max_backoff=2.0, max_attempts=3) as saber:
        made = [
            saber.create_signal(SignalRequest("contact", PROFILE, SignalQuestion(f"Q{i}?")))
            for i in range(12)
        ]
    assert len({s.id for s in made}) == 12 and slow.credits_left == 988
    assert slow.rate_limited["route"] >= 1


def test_a_signal_create_whose_answer_was_lost_is_not_sent_again(slow: SaberSandbox) -> None:
    """Applied, then the connection reset (or a proxy's 502): one POST, and the error says it may be applied."""
    slow._script(1, Fault(status=0, after=True), "contact_signal_create")
    slow.fail_next(1, 502, "contact_signal_create")
    with make_client(slow) as saber:
        for _ in range(2):
            with pytest.raises(SaberUnavailable) as caught:
                saber.create_signal(SignalRequest("contact", PROFILE, SignalQuestion("Hiring?", "boolean")))
            assert caught.value.maybe_applied
    assert slow.count("contact_signal_create") == 2 and len(slow.signals()) == 1


def test_a_signal_create_refused_before_it_was_applied_is_retried(slow: SaberSandbox) -> None:
    """A 429 (nothing applied) is retried as usual, and the signal is made once; no Idempotency-Key is sent."""
    slow.throttle_next(2, retry_after=0.01, endpoint="contact_signal_create")
    with make_client(slow) as saber:
        signal = saber.create_signal(SignalRequest("contact", PROFILE, SignalQuestion("Hiring?", "boolean")))
    assert signal.status == "processing" and len(slow.signals()) == 1
    assert all("Idempotency-Key" not in r.headers for r in slow.requests_to("contact_signal_create"))


def test_a_batch_read_timeout_is_derived_from_the_wait_asked_of_saber(slow: SaberSandbox) -> None:
    """A batch asks `X-Sbr-Timeout-Sec` and reads that long plus the read timeout: a slow answer still lands."""
    slow.batch_hold = 0.5
    questions = [
        SignalQuestion("Hiring?", "boolean"),
        SignalQuestion(template_id=slow.add_template("Banks?")["id"]),
    ]
    with make_client(slow, read_timeout=0.3) as saber:
        batch = saber.create_company_signal_batch(questions, ["acme.com", "globex.com"], wait_seconds=1)
    assert batch.accepted == 4 and len([r for r in batch.results if r.id]) == 4
    sent = slow.requests_to("company_signal_batch")[0]
    assert sent.headers["X-Sbr-Timeout-Sec"] == "1" and sent.body["signals"][1] == {
        "templateId": questions[1].template_id
    }
    assert sent.body["async"] is False


def test_templates_and_signals_are_read_by_id(slow: SaberSandbox) -> None:
    """get_signal_template reads a template (SaberNotFound when missing); get_signal follows a signal."""
    template = slow.add_template("Banks?", "boolean")
    with make_client(slow) as saber:
        assert saber.get_signal_template(template["id"]).question == "Banks?"
        with pytest.raises(SaberNotFound):
            saber.get_signal_template("missing")
        made = saber.create_signal(SignalRequest("company", "acme.com", SignalQuestion("Size?", "number")))
        done = wait_for(lambda: (s := saber.get_signal("company", made.id or "")).answered and s)
    assert done.processing_seconds == pytest.approx(0.6, abs=0.01)


def test_a_create_with_a_bad_body_is_refused_at_once(slow: SaberSandbox) -> None:
    """A 400 is raised as SaberValidationError after one POST (not a lost answer)."""
    with make_client(slow) as saber, pytest.raises(SaberValidationError) as caught:
        saber.create_signal(SignalRequest("company", "not a domain", SignalQuestion("Size?")))
    assert not caught.value.maybe_applied and slow.count("company_signal_create") == 1
