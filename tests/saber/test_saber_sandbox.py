"""The Saber sandbox over real HTTP: it must hold clients to the contract, not wave them through."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connector.sandbox.saber import SaberSandbox, department_for, seniority_for
from tests.support import wait_for

JOHN = {"firstName": "John", "lastName": "Doe", "companyName": "Acme Corp", "companyDomain": "acme.com"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def sandbox() -> Iterator[SaberSandbox]:
    with SaberSandbox(
        research_delay=0.2, signal_delay=0.0
    ) as box:  # signals done at once: see test_saber_published
        yield box


@pytest.fixture
def http(sandbox: SaberSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"}) as client:
        yield client


def _research(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    answer = http.post("/v1/contacts/research", json={**JOHN, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _done(http: httpx.Client, research_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (r := http.get(f"/v1/contacts/research/{research_id}").json())["status"] != "processing" and r
    )


# ------------------------------------------------------------------------------------ auth
@pytest.mark.parametrize("header", [None, "Bearer sk_live_wrong", "Basic sk_live_sandbox_key", "Bearer"])
def test_missing_or_wrong_key_is_401_in_the_envelope_shape(sandbox: SaberSandbox, header: str | None) -> None:
    """Any call without the right Bearer key is refused with a 401 envelope carrying a requestId."""
    headers = {"Authorization": header} if header is not None else {}
    answer = httpx.get(f"{sandbox.url}/v1/credits", headers=headers)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["type"] == error["code"] == "UNAUTHORIZED"
    assert error["message"] and UUID_RE.match(error["requestId"])


# ------------------------------------------------------------------------------ validation
def test_create_answers_processing_with_a_cr_id(http: httpx.Client) -> None:
    """POST /v1/contacts/research answers 201 with a `cr_` id, `processing` and createdAt."""
    answer = http.post("/v1/contacts/research", json=JOHN)
    assert answer.status_code == 201
    body = answer.json()
    assert re.fullmatch(r"cr_[0-9a-f]{12}", body["id"])
    assert body["status"] == "processing" and body["createdAt"].endswith("Z")
    assert set(body) == {"id", "status", "createdAt"}


def test_invalid_json_is_the_flat_bad_request(http: httpx.Client) -> None:
    """A body that is not JSON gets exactly the pages' BAD_REQUEST answer."""
    answer = http.post(
        "/v1/contacts/research",
        content=b'{"firstName": "John",',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "BAD_REQUEST", "message": "Invalid JSON in request body"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"firstName": None}, "firstName"),
        ({"firstName": ""}, "firstName"),
        ({"firstName": "x" * 101}, "firstName"),
        ({"firstName": 5}, "firstName"),
        ({"lastName": "y" * 101}, "lastName"),
        ({"companyName": "z" * 201}, "companyName"),
        ({"companyDomain": "https://acme.com"}, "companyDomain"),
        ({"companyDomain": "acme..com"}, "companyDomain"),
        ({"companyDomain": "-acme.com"}, "companyDomain"),
        ({"companyDomain": ("a" * 60 + ".") * 5 + "com"}, "companyDomain"),
        ({"contactProfileUrl": "linkedin.com/in/johndoe"}, "contactProfileUrl"),
        ({"contactProfileUrl": "https://linkedin.com/in/" + "j" * 480}, "contactProfileUrl"),
        ({"linkedInSalesNavigatorUrl": "not a url"}, "linkedInSalesNavigatorUrl"),
        ({"jobTitle": ""}, "jobTitle"),
        ({"jobTitle": "t" * 201}, "jobTitle"),
        ({"webhookUrl": "https://hooks.example.com/" + "w" * 2030}, "webhookUrl"),
        ({"externalId": "1" * 101}, "externalId"),
        ({"externalSource": "s" * 51}, "externalSource"),
        ({"externalId": ""}, "externalId"),
    ],
)
def test_each_field_rule_is_enforced_with_details(
    http: httpx.Client, change: dict[str, Any], field: str
) -> None:
    """A body breaking one field rule is a 400 VALIDATION_ERROR naming that field in `details`."""
    body = {**JOHN, **change}
    body = {k: v for k, v in body.items() if v is not None}
    answer = http.post("/v1/contacts/research", json=body)
    assert answer.status_code == 400
    payload = answer.json()
    assert payload["error"] == "VALIDATION_ERROR" and payload["message"] == "Invalid request body"
    assert [d["field"] for d in payload["details"]] == [field]
    assert payload["details"][0]["message"]


def test_a_body_that_is_not_an_object_is_a_validation_error(http: httpx.Client) -> None:
    """A JSON array body is valid JSON but not a request: VALIDATION_ERROR on `body`."""
    answer = http.post("/v1/contacts/research", json=[JOHN])
    assert answer.status_code == 400
    assert answer.json()["details"] == [{"field": "body", "message": "must be a JSON object"}]


def test_limits_are_inclusive_and_unknown_fields_are_tolerated(http: httpx.Client) -> None:
    """Values at the exact limits pass, and fields the API does not know are ignored."""
    body = {
        "firstName": "x" * 100,
        "lastName": "y",
        "companyName": "z" * 200,
        "companyDomain": ("a" * 63 + ".") * 3 + "b" * 61,  # 253 characters
        "contactProfileUrl": "https://linkedin.com/in/" + "j" * 476,  # 500 characters
        "jobTitle": "t" * 200,
        "externalId": "1" * 100,
        "externalSource": "s" * 50,
        "forceRefresh": True,
        "somethingNew": {"nested": 1},
    }
    assert len(body["companyDomain"]) == 253 and len(body["contactProfileUrl"]) == 500
    answer = http.post("/v1/contacts/research", json=body)
    assert answer.status_code == 201, answer.text


def test_find_needs_both_parameters_and_404s_when_nothing_matches(http: httpx.Client) -> None:
    """GET by external ID: 400 with the pages' message when a parameter is missing, 404 when none."""
    for params in (
        {},
        {"externalId": "51"},
        {"externalSource": "hubspot"},
        {"externalId": "", "externalSource": "x"},
    ):
        answer = http.get("/v1/contacts/research", params=params)
        assert answer.status_code == 400
        assert answer.json() == {
            "error": "VALIDATION_ERROR",
            "message": "Query parameters externalId and externalSource are required",
        }
    answer = http.get("/v1/contacts/research", params={"externalId": "404", "externalSource": "hubspot"})
    assert answer.status_code == 404
    assert answer.json() == {"error": "NOT_FOUND", "message": "Contact research not found or access denied"}
    assert http.get("/v1/contacts/research/cr_000000000000").json()["error"] == "NOT_FOUND"


# ------------------------------------------------------------------------------- lifecycle
def test_research_completes_after_the_delay_with_a_full_result(http: httpx.Client) -> None:
    """Research reads `processing` at first, then `completed` with inputs echoed and a result."""
    started = _research(http, jobTitle="VP of Sales", externalId="51", externalSource="hubspot")
    first = http.get(f"/v1/contacts/research/{started['id']}").json()
    assert first["status"] == "processing" and "result" not in first and first["firstName"] == "John"
    done = _done(http, started["id"])
    assert done["status"] == "completed"
    assert done["externalId"] == "51" and done["externalSource"] == "hubspot"
    assert (done["companyName"], done["companyDomain"], done["jobTitle"]) == (
        "Acme Corp",
        "acme.com",
        "VP of Sales",
    )
    assert done["createdAt"] == started["createdAt"] and done["completedAt"] > done["createdAt"]
    result = done["result"]
    assert result["email"] == "john.doe@acme.com"
    assert (
        result["currentTitle"] == "VP of Sales"
        and result["seniority"] == "VP"
        and result["department"] == "Sales"
    )
    assert result["emailStatus"] in ("valid", "catch_all", "unknown")
    assert result["linkedInUrl"].startswith("https://www.linkedin.com/in/john-doe-")
    assert result["summary"] and result["phone"].startswith("+1 ") and result["location"]
    [signal] = result["signals"]
    assert signal["question"] == "Does this person's team run Kubernetes in production?"
    assert (
        signal["status"] == "completed" and signal["signalType"] == "CONTACT" and UUID_RE.match(signal["id"])
    )


def test_results_are_deterministic_and_fold_names_to_ascii() -> None:
    """Two sandboxes with the same seed give the same result; accents are folded in e-mails."""
    body = {
        "firstName": "José",
        "lastName": "Núñez-O'Brien",
        "companyName": "Ñandú SA",
        "companyDomain": "www.nandu.es",
        "contactProfileUrl": "https://linkedin.com/in/jnunez",
    }
    results = []
    for _ in range(2):
        with (
            SaberSandbox(research_delay=0.0) as box,
            httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
        ):
            research_id = client.post("/v1/contacts/research", json=body).json()["id"]
            results.append(client.get(f"/v1/contacts/research/{research_id}").json()["result"])
    strip = [{k: v for k, v in r.items() if k != "signals"} for r in results]
    assert strip[0] == strip[1]
    assert [s["answer"] for s in results[0]["signals"]] == [s["answer"] for s in results[1]["signals"]]
    assert results[0]["email"] == "jose.nunezobrien@nandu.es"
    assert results[0]["linkedInUrl"] == "https://linkedin.com/in/jnunez"


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("VP of Sales", "VP", "Sales"),
        ("Senior Vice President, Marketing", "VP", "Marketing"),
        ("Chief Technology Officer", "C-Level", "Engineering"),
        ("CEO & Co-Founder", "C-Level", "Executive"),
        ("Director of Engineering", "Director", "Engineering"),
        ("Head of People", "Director", "Human Resources"),
        ("Engineering Manager", "Manager", "Engineering"),
        ("Senior Software Engineer", "Senior", "Engineering"),
        ("Account Executive", "Entry", "Sales"),
        ("Marketing Coordinator", "Entry", "Marketing"),
    ],
)
def test_seniority_and_department_follow_the_title(title: str, seniority: str, department: str) -> None:
    """Seniority buckets come from the title ("Vice President" is VP, not C-Level)."""
    assert (seniority_for(title), department_for(title)) == (seniority, department)


def test_failures_carry_error_and_error_code() -> None:
    """At failure_rate 1 research ends `failed` with a message and a known errorCode, no result."""
    with (
        SaberSandbox(research_delay=0.0, failure_rate=1.0) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        codes = set()
        for i in range(8):
            rid = client.post("/v1/contacts/research", json={**JOHN, "firstName": f"N{i}"}).json()["id"]
            done = client.get(f"/v1/contacts/research/{rid}").json()
            assert done["status"] == "failed" and done["error"] and "result" not in done
            codes.add(done["errorCode"])
        assert codes <= {"CONTACT_NOT_FOUND", "LINKEDIN_RATE_LIMIT_EXCEEDED", "UPSTREAM_TIMEOUT"}
        assert len(codes) >= 2


def test_set_failure_forces_a_code_for_chosen_contacts(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """`set_failure(external_ids=…, code=…)` fails exactly those contacts' research with that code."""
    sandbox.set_failure(code="UPSTREAM_TIMEOUT", external_ids=["9"])
    bad = _research(http, externalId="9", externalSource="hubspot")
    good = _research(http, externalId="10", externalSource="hubspot")
    sandbox.complete_all_now()
    assert http.get(f"/v1/contacts/research/{bad['id']}").json()["errorCode"] == "UPSTREAM_TIMEOUT"
    assert http.get(f"/v1/contacts/research/{good['id']}").json()["status"] == "completed"


def test_complete_all_now_makes_pending_research_due() -> None:
    """`complete_all_now` finishes research that would otherwise take a minute."""
    with (
        SaberSandbox(research_delay=60) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        rid = client.post("/v1/contacts/research", json=JOHN).json()["id"]
        assert client.get(f"/v1/contacts/research/{rid}").json()["status"] == "processing"
        assert box.complete_all_now() == 1
        assert client.get(f"/v1/contacts/research/{rid}").json()["status"] == "completed"


def test_find_returns_the_latest_research_for_the_external_pair(
    sandbox: SaberSandbox, http: httpx.Client
) -> None:
    """Research is recorded per (externalId, externalSource); the lookup returns the newest."""
    _research(http, externalId="51", externalSource="hubspot")
    second = _research(http, externalId="51", externalSource="hubspot", jobTitle="CTO")
    _research(http, externalId="51", externalSource="salesforce")
    found = http.get("/v1/contacts/research", params={"externalId": "51", "externalSource": "hubspot"}).json()
    assert found["id"] == second["id"] and found["jobTitle"] == "CTO"
    assert sandbox.research_for("51")["id"] == second["id"]
    assert sandbox.research_for("51", "salesforce")["id"] != second["id"]
    assert sandbox.research_for("52") is None


def test_an_api_that_ignores_external_ids_never_finds_by_them() -> None:
    """With honour_external_ids off the IDs are dropped: not echoed, and the lookup always 404s."""
    with (
        SaberSandbox(research_delay=0.0, honour_external_ids=False) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        rid = client.post(
            "/v1/contacts/research", json={**JOHN, "externalId": "51", "externalSource": "hubspot"}
        ).json()["id"]
        assert "externalId" not in client.get(f"/v1/contacts/research/{rid}").json()
        lookup = client.get("/v1/contacts/research", params={"externalId": "51", "externalSource": "hubspot"})
        assert lookup.status_code == 404
        assert box.research_for("51")["id"] == rid  # the test helper still knows


# ------------------------------------------------------------------------------- webhooks
class _Receiver:
    """A tiny loopback HTTP server that records the webhooks it receives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                received.append((dict(self.headers), json.loads(self.rfile.read(length))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/saber"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_is_delivered_when_research_completes(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """The webhookUrl receives the finished research once it is due, from the sandbox's timer."""
    receiver = _Receiver()
    try:
        started = _research(http, webhookUrl=receiver.url, externalId="7", externalSource="hubspot")
        assert receiver.received == []
        headers, payload = wait_for(lambda: receiver.received and receiver.received[0])
        assert payload["id"] == started["id"] and payload["status"] == "completed"
        assert payload["result"]["email"] == "john.doe@acme.com"
        assert headers["X-Saber-Event"] == "contact_research.completed"
        wait_for(lambda: sandbox.webhook_deliveries)
        assert sandbox.webhook_deliveries[0]["status"] == 204
        assert len(receiver.received) == 1
    finally:
        receiver.close()


# -------------------------------------------------------------------------------- idempotency
def test_idempotency_key_replays_the_first_answer_without_charging(
    sandbox: SaberSandbox, http: httpx.Client
) -> None:
    """A POST repeated with the same key and body gets the original answer; no new research or credit."""
    key = {"Idempotency-Key": "sc-abc"}
    first = http.post("/v1/contacts/research", json=JOHN, headers=key)
    again = http.post("/v1/contacts/research", json=dict(reversed(list(JOHN.items()))), headers=key)
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(sandbox.all_research()) == 1 and sandbox.credits_left == 999


def test_idempotency_key_reused_with_another_body_is_a_409(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """The same key with a different body is refused with IDEMPOTENCY_KEY_REUSED in the envelope."""
    http.post("/v1/contacts/research", json=JOHN, headers={"Idempotency-Key": "k1"})
    answer = http.post(
        "/v1/contacts/research", json={**JOHN, "jobTitle": "CTO"}, headers={"Idempotency-Key": "k1"}
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(sandbox.all_research()) == 1


def test_an_error_answer_is_not_replayed(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """A key whose first use hit 402 works once credits are back (errors are not remembered)."""
    sandbox.credits_left = 0
    key = {"Idempotency-Key": "k-402"}
    assert http.post("/v1/contacts/research", json=JOHN, headers=key).status_code == 402
    sandbox.credits_left = 1
    assert http.post("/v1/contacts/research", json=JOHN, headers=key).status_code == 201
    assert sandbox.credits_left == 0


# ------------------------------------------------------------------------------------ credits
def test_credits_are_charged_per_research_and_signal_and_run_out_with_402() -> None:
    """Research costs research_cost, a signal signal_cost; short of credits the answer is a 402 envelope."""
    with (
        SaberSandbox(credits=5, research_cost=2, signal_cost=1, signal_delay=0.0) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        assert client.get("/v1/credits").json() == {"remainingCredits": 5}
        assert client.post("/v1/contacts/research", json=JOHN).status_code == 201
        sync = {"domain": "acme.com", "question": "Hiring?", "answerType": "boolean"}
        assert client.post("/v1/companies/signals/sync", json=sync).status_code == 200
        assert client.get("/v1/credits").json() == {"remainingCredits": 2}
        assert client.post("/v1/contacts/research", json=JOHN).status_code == 201
        refused = client.post("/v1/contacts/research", json=JOHN)
        assert refused.status_code == 402
        error = refused.json()["error"]
        assert (error["type"], error["code"], error["message"]) == (
            "PAYMENT_REQUIRED",
            "INSUFFICIENT_CREDITS",
            "Insufficient credits",
        )
        assert UUID_RE.match(error["requestId"])
        assert client.post("/v1/companies/signals/sync", json=sync).status_code == 402
        assert box.credits_left == 0 and len(box.all_research()) == 2


# -------------------------------------------------------------------------------- rate limits
def test_writes_over_the_bucket_get_429_with_retry_after_and_headers() -> None:
    """POSTs beyond the write burst get the 429 body with retryAfter, Retry-After and X-Ratelimit headers."""
    with (
        SaberSandbox(writes_per_minute=600, write_burst=2) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        ok = [client.post("/v1/contacts/research", json=JOHN) for _ in range(2)]
        assert [r.status_code for r in ok] == [201, 201]
        assert ok[0].headers["X-Ratelimit-Limit"] == "600" and ok[1].headers["X-Ratelimit-Remaining"] == "0"
        limited = client.post("/v1/contacts/research", json=JOHN)
        assert limited.status_code == 429
        body = limited.json()
        assert {k: body[k] for k in ("statusCode", "error", "message")} == {
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Rate limit exceeded",
        }
        assert 0 < body["retryAfter"] <= 0.11
        assert float(limited.headers["Retry-After"]) == body["retryAfter"]
        assert (
            limited.headers["X-Ratelimit-Remaining"] == "0" and int(limited.headers["X-Ratelimit-Reset"]) >= 1
        )
        assert client.get("/v1/credits").status_code == 200  # reads have their own bucket
        wait_for(lambda: client.post("/v1/contacts/research", json=JOHN).status_code == 201, timeout=2)
        assert len(box.all_research()) == 3


RATE_HEADERS = ("X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset")


def test_every_answer_carries_the_rate_limit_headers_of_its_own_bucket() -> None:
    """POST answers tell of the write bucket, every other answer of the read bucket: 401s, faults and 404s too."""
    with (
        SaberSandbox(writes_per_minute=600, write_burst=5, reads_per_minute=6000, read_burst=50) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        box.fail_next(status=503, endpoint="credits")
        answers = {
            "write": client.post("/v1/contacts/research", json=JOHN),
            "fault": client.get("/v1/credits"),  # answered before the limits: as they stand
            "read": client.get("/v1/credits"),
            "unknown route": client.get("/v1/nowhere"),
            "refused key": client.get("/v1/credits", headers={"Authorization": "Bearer sk_live_wrong"}),
        }
    assert [a.status_code for a in answers.values()] == [201, 503, 200, 404, 401]
    for name, answer in answers.items():
        assert all(h in answer.headers for h in RATE_HEADERS), name
    write = answers["write"].headers
    assert (write["X-Ratelimit-Limit"], write["X-Ratelimit-Remaining"]) == ("600", "4")
    assert answers["read"].headers["X-Ratelimit-Limit"] == "6000"
    assert int(answers["read"].headers["X-Ratelimit-Remaining"]) == 49
    assert int(answers["read"].headers["X-Ratelimit-Reset"]) >= 1  # seconds until the bucket is full again


def test_the_limits_default_to_the_published_ones_under_the_settings_names() -> None:
    """2,000 writes a minute in bursts of 400 and 100,000 reads in bursts of 10,000, keyed as SABER_* settings."""
    from connector.settings import Settings

    with SaberSandbox() as box:
        limits = box.limits
    assert limits == {
        "writes_per_minute": 2000,
        "write_burst": 400,
        "reads_per_minute": 100_000,
        "read_burst": 10_000,
    }
    assert all(Settings.model_fields[f"saber_{key}"].default == value for key, value in limits.items())


def test_limits_can_be_scaled_on_a_running_sandbox() -> None:
    """set_limits changes one bucket; past it the sandbox answers 429 and counts it, the other bucket unaffected."""
    with (
        SaberSandbox() as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        box.set_limits(writes_per_minute=60, write_burst=1)
        assert box.limits["writes_per_minute"] == 60 and box.limits["read_burst"] == 10_000
        first, second = (client.post("/v1/contacts/research", json=JOHN) for _ in range(2))
        assert (first.status_code, second.status_code) == (201, 429)
        assert 0 < second.json()["retryAfter"] <= 1 and second.headers["X-Ratelimit-Limit"] == "60"
        assert [client.get("/v1/credits").status_code for _ in range(20)] == [200] * 20
        assert box.rate_limited == {"write": 1}


def test_scripted_throttles_take_the_requested_shape(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """throttle_next gives retryAfter in body and header, header only, or a given body."""
    sandbox.throttle_next(retry_after=0.25)
    plain = http.get("/v1/credits")
    assert (
        plain.status_code == 429
        and plain.json()["retryAfter"] == 0.25
        and plain.headers["Retry-After"] == "0.25"
    )
    sandbox.throttle_next(retry_after=3, header_only=True)
    header = http.get("/v1/credits")
    assert "retryAfter" not in header.json() and header.headers["Retry-After"] == "3"
    envelope = {"error": {"type": "RATE_LIMIT", "code": "TOO_MANY_REQUESTS", "message": "slow down"}}
    sandbox.throttle_next(body=envelope)
    given = http.get("/v1/credits")
    assert given.json() == envelope and "Retry-After" not in given.headers
    assert http.get("/v1/credits").status_code == 200


def test_scripted_failures_can_carry_any_body(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """fail_next serves the 5xx envelope by default, a given JSON body, or a raw HTML page."""
    sandbox.fail_next(1, 500)
    assert http.get("/v1/credits").json()["error"]["type"] == "INTERNAL"
    sandbox.fail_next(1, 502, body="<html><title>502 Bad Gateway</title></html>")
    html = http.get("/v1/credits")
    assert html.status_code == 502 and html.headers["Content-Type"].startswith("text/html")
    sandbox.fail_next(1, 402, body={"success": False, "error": {"code": "X"}})
    assert http.get("/v1/credits").json() == {"success": False, "error": {"code": "X"}}
    assert http.get("/v1/credits").status_code == 200
    assert sandbox.counters["credits"] == 4


# ------------------------------------------------------------------------------------ signals
ALL_TYPES = ["open_text", "number", "boolean", "list", "percentage", "currency", "url", "json_schema"]


@pytest.mark.parametrize("answer_type", ALL_TYPES)
def test_signal_sync_answers_in_the_tagged_form(
    sandbox: SaberSandbox, http: httpx.Client, answer_type: str
) -> None:
    """Each answer type comes back as `{"type": T, T: {"value": V}}` (open_text in either spelling)."""
    sandbox.null_answer_rate = 0.0
    body = {"domain": "acme.com", "question": f"A {answer_type} question?", "answerType": answer_type}
    signal = http.post("/v1/companies/signals/sync", json=body).json()
    assert (
        signal["status"] == "completed"
        and signal["signalType"] == "COMPANY"
        and signal["domain"] == "acme.com"
    )
    assert signal["answerType"] == answer_type and UUID_RE.match(signal["id"])
    answer = signal["answer"]
    assert answer["type"] == answer_type
    key = next(k for k in answer if k != "type")
    assert key in (answer_type, "openText") and "value" in answer[key]
    assert signal["completedAt"] and signal["reasoning"] and signal["sources"][0]["url"]
    assert signal["confidence"] is None or 0 <= signal["confidence"] <= 1


def test_open_text_uses_both_spellings_and_unknown_types_pass_through(
    sandbox: SaberSandbox, http: httpx.Client
) -> None:
    """Across questions open_text appears as both `openText` and `open_text`; a type Saber adds later
    (reached through a template, since a create names only published types) keeps its tag."""
    sandbox.null_answer_rate = 0.0
    keys = set()
    for i in range(12):
        body = {
            "contactProfileUrl": "https://linkedin.com/in/johndoe",
            "question": f"Q{i}?",
            "answerType": "open_text",
        }
        answer = http.post("/v1/contacts/signals/sync", json=body).json()["answer"]
        keys |= set(answer) - {"type"}
    assert keys == {"openText", "open_text"}
    refused = http.post("/v1/contacts/signals/sync", json={**body, "answerType": "mood_ring"})
    assert refused.status_code == 400 and refused.json()["error"]["fields"][0]["field"] == "answerType"
    template = sandbox.add_template("How is the mood?", "mood_ring")
    templated = {"contactProfileUrl": body["contactProfileUrl"], "signalTemplateId": template["id"]}
    odd = http.post("/v1/contacts/signals/sync", json=templated).json()
    assert odd["answer"]["type"] == "mood_ring" and "value" in odd["answer"]["mood_ring"]


def test_unverifiable_answers_are_null(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """With every answer unverifiable (strict mode), answer and confidence are null."""
    sandbox.null_answer_rate = 1.0
    body = {"domain": "acme.com", "question": "Revenue?", "answerType": "currency"}
    signal = http.post("/v1/companies/signals/sync", json=body).json()
    assert signal["answer"] is None and signal["confidence"] is None and signal["status"] == "completed"


def test_signal_sync_validates_its_body_in_the_envelope_shape(http: httpx.Client) -> None:
    """A bad domain, missing question or bad JSON on a sync call is a 400 envelope with fields."""
    bad = http.post(
        "/v1/companies/signals/sync", json={"domain": "https://acme.com/x", "answerType": "boolean"}
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert (
        error["code"] == "VALIDATION_ERROR"
        and error["type"] == "VALIDATION"
        and UUID_RE.match(error["requestId"])
    )
    assert {f["field"] for f in error["fields"]} == {"domain", "question"}
    broken = http.post(
        "/v1/contacts/signals/sync", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "BAD_REQUEST"


def test_signal_lists_page_latest_first(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """Lists return `{results,total,limit,offset,count}`, latest first, paged by offset and filtered."""
    ids = []
    for i in range(7):
        url = "https://linkedin.com/in/a" if i % 2 else "https://linkedin.com/in/b"
        body = {"contactProfileUrl": url, "question": f"Q{i}?", "answerType": "boolean"}
        ids.append(http.post("/v1/contacts/signals/sync", json=body).json()["id"])
    pages = [http.get("/v1/contacts/signals", params={"limit": 3, "offset": o}).json() for o in (0, 3, 6)]
    assert [p["count"] for p in pages] == [3, 3, 1] and {p["total"] for p in pages} == {7}
    assert [p["offset"] for p in pages] == [0, 3, 6] and {p["limit"] for p in pages} == {3}
    assert [s["id"] for p in pages for s in p["results"]] == list(reversed(ids))
    only_a = http.get(
        "/v1/contacts/signals", params={"contactProfileUrl": "https://linkedin.com/in/a"}
    ).json()
    assert only_a["total"] == 3 and all(s["contactProfileUrl"].endswith("/a") for s in only_a["results"])
    assert http.get("/v1/companies/signals").json()["total"] == 0  # contact signals are not company ones


def test_company_list_filters_by_domain_status_and_dates(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """Company lists filter on domain, company id, repeated status and completion dates."""
    for domain in ("acme.com", "globex.com", "acme.com"):
        http.post(
            "/v1/companies/signals/sync", json={"domain": domain, "question": "Q?", "answerType": "number"}
        )
    sandbox.add_signal(
        {
            "id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "status": "processing",
            "domain": "acme.com",
            "question": "Later?",
            "createdAt": "2024-01-15T09:00:00Z",
        }
    )
    sandbox.add_signal(
        {
            "id": "b1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "status": "failed",
            "domain": "acme.com",
            "question": "Old?",
            "createdAt": "2023-01-15T09:00:00Z",
            "completedAt": "2023-01-15T09:05:00Z",
        }
    )

    def total(**params: Any) -> int:
        answer = http.get("/v1/companies/signals", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["total"]

    assert total() == 5 and total(domain="ACME.com") == 4
    assert total(status=["processing", "failed"]) == 2 and total(status="completed") == 3
    assert total(toDate="2023-12-31T23:59:59Z") == 1 and total(fromDate="2024-01-01T00:00:00+00:00") == 3
    company_id = http.get("/v1/companies/signals", params={"domain": "globex.com"}).json()["results"][0][
        "company"
    ]["id"]
    assert total(companyId=company_id) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 26}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"domain": "acme.com/path"}, "domain"),
        ({"fromDate": "2024-01-01"}, "fromDate"),
        ({"toDate": "yesterday"}, "toDate"),
        ({"subscriptionId": "not-a-uuid"}, "subscriptionId"),
    ],
)
def test_bad_list_parameters_are_400_envelopes_naming_the_field(
    http: httpx.Client, params: dict, field: str
) -> None:
    """List parameters outside the pages' rules give a VALIDATION envelope with `fields`."""
    answer = http.get("/v1/companies/signals", params=params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "VALIDATION" and error["code"] == "VALIDATION_ERROR"
    assert [f["field"] for f in error["fields"]] == [field] and field in error["message"]


def test_signal_get_by_id(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """A signal is found by its UUID under its own kind; other ids and malformed ids are 404."""
    body = {"contactProfileUrl": "https://linkedin.com/in/johndoe", "question": "Q?", "answerType": "boolean"}
    signal = http.post("/v1/contacts/signals/sync", json=body).json()
    assert http.get(f"/v1/contacts/signals/{signal['id']}").json() == signal
    assert http.get(f"/v1/companies/signals/{signal['id']}").status_code == 404
    missing = http.get("/v1/contacts/signals/not-a-uuid")
    assert missing.status_code == 404
    assert missing.json() == {"error": "NOT_FOUND", "message": "Signal not found or access denied"}


def test_subscription_logs(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """Subscription logs list that subscription's executions; a bad UUID is 400, an unknown one 404."""
    sub = "a12b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    for i in range(3):
        sandbox.add_signal(
            {"domain": "acme.com", "question": f"Q{i}", "status": "completed"}, subscription_id=sub
        )
    sandbox.add_signal({"domain": "acme.com", "question": "other", "status": "completed"})
    page = http.get(f"/v1/companies/signals/subscriptions/{sub}/logs", params={"limit": 2}).json()
    assert page["total"] == 3 and page["count"] == 2
    assert http.get("/v1/companies/signals", params={"subscriptionId": sub}).json()["total"] == 3
    assert http.get("/v1/companies/signals/subscriptions/nope/logs").status_code == 400
    unknown = http.get("/v1/companies/signals/subscriptions/00000000-0000-4000-8000-000000000000/logs")
    assert unknown.status_code == 404


def test_result_signals_follow_result_questions() -> None:
    """Each configured result question yields one completed signal per contact in the result."""
    questions = [
        {"question": "Does this person's team run Kubernetes in production?", "answerType": "boolean"},
        {"question": "What do they care about?", "answerType": "open_text"},
        {"question": "Team size?", "answerType": "number"},
    ]
    with (
        SaberSandbox(research_delay=0.0, result_questions=questions) as box,
        httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client,
    ):
        box.null_answer_rate = 0.0
        rid = client.post("/v1/contacts/research", json=JOHN).json()["id"]
        signals = client.get(f"/v1/contacts/research/{rid}").json()["result"]["signals"]
        assert [(s["question"], s["answerType"]) for s in signals] == [
            (q["question"], q["answerType"]) for q in questions
        ]
        assert [s["answer"]["type"] for s in signals] == ["boolean", "open_text", "number"]
        assert len({s["id"] for s in signals}) == 3


def test_requests_are_logged_without_the_key_and_counted(sandbox: SaberSandbox, http: httpx.Client) -> None:
    """The request log keeps headers but never Authorization; counters are per endpoint."""
    http.get("/v1/credits")
    _research(http)
    assert sandbox.counters["credits"] == 1 and sandbox.counters["research_create"] == 1
    assert all("authorization" not in {k.lower() for k in r.headers} for r in sandbox.requests)
    assert sandbox.requests_to("research_create")[0].body == JOHN
