"""The Saber client against the sandbox over real HTTP: retries, error shapes, typed answers, limits."""

from __future__ import annotations

import dataclasses
import io
import json
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ApiUnavailableError
from connector.http_policy import FAILED_EVENT, RETRIED_EVENT, CallPolicy, parse_retry_after
from connector.logs import configure_logging
from connector.saber import (
    InsufficientCredits,
    Research,
    ResearchRequest,
    SaberAuthError,
    SaberClient,
    SaberError,
    SaberNotFound,
    SaberRateLimited,
    SaberUnavailable,
    SaberValidationError,
    Signal,
    SignalQuestion,
    SignalRequest,
    idempotency_key,
    parse_error,
)
from connector.sandbox.saber import ANSWER_TYPES, SaberSandbox
from connector.sandbox.server import Knobs
from tests.support import wait_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "saber"
JOHN = ResearchRequest("John", "Doe", "Acme Corp", "acme.com", external_id="51", external_source="hubspot")
KUBERNETES = "Does this person's team run Kubernetes in production?"
DOMAIN_MESSAGE = "'domain' must be a valid hostname (e.g., 'example.com') without protocol (https://) or path"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(CallPolicy))


def make_client(box: SaberSandbox, **options: Any) -> SaberClient:
    """A client with tiny backoffs and no practical rate limit unless a test asks for one.

    Options named like a `CallPolicy` field go to the policy, the rest to the client.
    """
    policy: dict[str, Any] = {"backoff_base": 0.01, "max_backoff": 0.2, "max_attempts": 4}
    policy.update({name: options.pop(name) for name in POLICY_FIELDS & options.keys()})
    options.setdefault("requests_per_second", 1000.0)
    return SaberClient(box.url, box.api_key, policy=CallPolicy(**policy), **options)


@pytest.fixture
def sandbox() -> Iterator[SaberSandbox]:
    with SaberSandbox(research_delay=0.1, signal_delay=0.0) as box:  # signals answered done at once
        yield box


def ask(client: SaberClient, scope: str, target: str, question: str, answer_type: str) -> Signal:
    """Create one signal (with no delay at the sandbox it comes back completed)."""
    return client.create_signal(SignalRequest(scope, target, SignalQuestion(question, answer_type)))  # type: ignore[arg-type]


@pytest.fixture
def client(sandbox: SaberSandbox) -> Iterator[SaberClient]:
    with make_client(sandbox) as saber:
        yield saber


def keys_sent(box: SaberSandbox, endpoint: str) -> list[str | None]:
    return [r.headers.get("Idempotency-Key") for r in box.requests_to(endpoint)]


# ------------------------------------------------------------------------------ retry paths
def test_429_with_retry_after_in_the_body_is_retried_with_the_same_key(
    sandbox: SaberSandbox, client: SaberClient
) -> None:
    """A 429 whose body says retryAfter is waited out and retried with the same Idempotency-Key."""
    sandbox.throttle_next(1, retry_after=0.05, endpoint="research_create")
    started = client.create_research(JOHN)
    assert started.id.startswith("cr_") and started.status == "processing"
    assert [r.status for r in sandbox.requests_to("research_create")] == [429, 201]
    keys = keys_sent(sandbox, "research_create")
    assert len(set(keys)) == 1 and keys[0] and keys[0].startswith("sc-")
    assert client.calls["create_research"] == 2 and client.retries["create_research"] == 1


def test_the_body_hint_wins_over_the_header(sandbox: SaberSandbox) -> None:
    """When body and header disagree the body's retryAfter is used (here 0.05 s, not 30 s)."""
    body = {**fixture("error_rate_limit.json"), "retryAfter": 0.05}
    sandbox.throttle_next(1, retry_after=30, header_only=True, body=body)
    with make_client(sandbox, max_backoff=10.0) as saber:
        began = time.monotonic()
        assert saber.credits() == 1000
        assert time.monotonic() - began < 1.0
    assert sandbox.count("credits") == 2


def test_429_with_only_a_retry_after_header_uses_the_header(sandbox: SaberSandbox) -> None:
    """A 429 with the hint only in Retry-After waits that long, not the (much longer) backoff."""
    sandbox.throttle_next(1, retry_after=0.05, header_only=True)
    with make_client(sandbox, backoff_base=5.0, max_backoff=10.0) as saber:
        began = time.monotonic()
        assert saber.credits() == 1000
        assert time.monotonic() - began < 1.0
    first = sandbox.requests_to("credits")[0]
    assert first.status == 429 and sandbox.count("credits") == 2


def test_429_in_the_envelope_form_backs_off_and_retries(sandbox: SaberSandbox, client: SaberClient) -> None:
    """A 429 envelope with code TOO_MANY_REQUESTS and no hint is retried after a backoff."""
    sandbox.throttle_next(2, body=fixture("error_envelope_too_many_requests.json"))
    assert client.credits() == 1000
    assert [r.status for r in sandbox.requests_to("credits")] == [429, 429, 200]


def test_a_hint_longer_than_max_backoff_is_capped(sandbox: SaberSandbox) -> None:
    """A server asking for 30 s is waited at most max_backoff, then retried (documented choice)."""
    sandbox.throttle_next(1, retry_after=30)
    with make_client(sandbox, max_backoff=0.1) as saber:
        began = time.monotonic()
        assert saber.credits() == 1000
        assert time.monotonic() - began < 2.0
    assert sandbox.count("credits") == 2


def test_5xx_then_success_retries_the_post_with_the_same_key(
    sandbox: SaberSandbox, client: SaberClient
) -> None:
    """Two 503s then a success: three POSTs with one key, one research created and paid for."""
    sandbox.fail_next(2, 503, endpoint="research_create")
    client.create_research(JOHN)
    assert [r.status for r in sandbox.requests_to("research_create")] == [503, 503, 201]
    assert len(set(keys_sent(sandbox, "research_create"))) == 1
    assert len(sandbox.all_research()) == 1 and sandbox.credits_left == 999


def test_a_connection_reset_then_success(sandbox: SaberSandbox, client: SaberClient) -> None:
    """A reset connection (no answer at all) is retried with the same key and succeeds."""
    sandbox.reset_next(1, endpoint="research_create")
    started = client.create_research(JOHN)
    assert [r.status for r in sandbox.requests_to("research_create")] == [0, 201]
    assert len(set(keys_sent(sandbox, "research_create"))) == 1
    assert sandbox.research_for("51")["id"] == started.id


def test_the_callers_key_is_sent_and_a_repeat_is_replayed(sandbox: SaberSandbox, client: SaberClient) -> None:
    """With the caller's own key, a second identical call is answered from Saber's replay, unpaid."""
    first = client.create_research(JOHN, idempotency_key="contact-51-v1")
    second = client.create_research(JOHN, idempotency_key="contact-51-v1")
    assert first.id == second.id
    assert keys_sent(sandbox, "research_create") == ["contact-51-v1", "contact-51-v1"]
    assert sandbox.credits_left == 999


def test_retries_exhausted_raise_saber_unavailable(sandbox: SaberSandbox) -> None:
    """5xx on every attempt ends, after max_attempts requests, in SaberUnavailable (exit code 3)."""
    sandbox.fail_next(10, 503)
    with make_client(sandbox, max_attempts=3) as saber, pytest.raises(SaberUnavailable) as caught:
        saber.credits()
    assert sandbox.count("credits") == 3
    assert caught.value.status == 503 and caught.value.code == "INTERNAL_ERROR" and caught.value.request_id
    assert isinstance(caught.value, ApiUnavailableError) and caught.value.exit_code == 3


def test_429_on_every_attempt_raises_rate_limited(sandbox: SaberSandbox) -> None:
    """Throttled on every attempt, the client gives up with SaberRateLimited carrying the hint."""
    sandbox.throttle_next(10, retry_after=0.01)
    with make_client(sandbox, max_attempts=3) as saber, pytest.raises(SaberRateLimited) as caught:
        saber.credits()
    assert sandbox.count("credits") == 3
    assert caught.value.retry_after == 0.01 and caught.value.code == "TOO_MANY_REQUESTS"


def test_a_read_timeout_is_retried_then_reported(tmp_path: Path) -> None:
    """Read timeouts are retried; when they persist the error is SaberUnavailable TRANSPORT_ERROR."""
    with SaberSandbox(knobs=Knobs(latency=0.3)) as box:
        with (
            make_client(box, read_timeout=0.1, max_attempts=2) as saber,
            pytest.raises(SaberUnavailable) as caught,
        ):
            saber.credits()
        assert caught.value.status is None and caught.value.code == "TRANSPORT_ERROR"
        assert caught.value.message == f"cannot reach Saber at SABER_BASE_URL ({box.url}): timed out"
        wait_for(lambda: box.count("credits") == 2)


def test_a_refused_connection_is_unavailable() -> None:
    """Nothing listening: a client that never had an answer fails at once, SaberUnavailable naming the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saber = SaberClient(
        f"http://127.0.0.1:{port}",
        "sk_live_x",
        policy=CallPolicy(backoff_base=0.01, max_backoff=0.02, max_attempts=3),
    )
    with saber, pytest.raises(SaberUnavailable) as caught:
        saber.credits()
    assert saber.calls["credits"] == 1
    assert (
        str(caught.value)
        == f"cannot reach Saber at SABER_BASE_URL (http://127.0.0.1:{port}): connection refused"
    )


def test_4xx_other_than_429_is_not_retried(sandbox: SaberSandbox, client: SaberClient) -> None:
    """A validation error is raised at once: one request, fields parsed from `details`."""
    with pytest.raises(SaberValidationError) as caught:
        client.create_research(ResearchRequest("", "Doe", "Acme", "https://acme.com"))
    assert sandbox.count("research_create") == 1
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.fields == [
        ("firstName", "must not be empty"),
        ("companyDomain", "must be a valid hostname"),
    ]


# ----------------------------------------------------------------------------- error shapes
@pytest.mark.parametrize(
    ("status", "name", "kind", "code", "request_id", "fields"),
    [
        (400, "error_flat_validation.json", SaberValidationError, "VALIDATION_ERROR", None,
         [("companyDomain", "must be a valid hostname")]),
        (400, "error_envelope_validation.json", SaberValidationError, "VALIDATION_ERROR",
         "e69ed773-2674-4dca-be61-886d6698f360",
         [("domain", DOMAIN_MESSAGE)]),
        (402, "error_integrations_envelope.json", InsufficientCredits, "INSUFFICIENT_CREDITS",
         "507f1f77bcf86cd799439011", []),
        (400, "error_integrations_validation.json", SaberValidationError, "VALIDATION_ERROR",
         "507f1f77bcf86cd799439012", [("prospectIds", "must be an array of strings")]),
        (404, "error_flat_not_found.json", SaberNotFound, "NOT_FOUND", None, []),
        (403, "error_envelope_too_many_requests.json", SaberAuthError, "TOO_MANY_REQUESTS",
         "4b0f3c1e-8a43-4b7e-9a55-0c7d2f9e1a10", []),
    ],
)  # fmt: skip
def test_every_error_shape_is_parsed(
    sandbox: SaberSandbox,
    client: SaberClient,
    status: int,
    name: str,
    kind: type[SaberError],
    code: str,
    request_id: str | None,
    fields: list[tuple[str, str]],
) -> None:
    """Flat, envelope and integrations bodies all become the right SaberError with code, id and fields."""
    body = fixture(name)
    sandbox.fail_next(1, status, body=body)
    with pytest.raises(kind) as caught:
        client.credits()
    error = caught.value
    assert (error.status, error.code, error.request_id, error.fields) == (status, code, request_id, fields)
    assert error.message and error.message in str(error) and code in str(error)
    if request_id:
        assert request_id in str(error)
    assert sandbox.count("credits") == 1  # none of these is retried


def test_envelope_extras_are_kept(sandbox: SaberSandbox, client: SaberClient) -> None:
    """errorCode, errorAction and details of the envelope survive parsing."""
    sandbox.fail_next(1, 400, body=fixture("error_envelope_validation.json"))
    with pytest.raises(SaberValidationError) as caught:
        client.credits()
    assert caught.value.error_code == "INVALID_DEPARTMENT"
    assert caught.value.error_action == "Use a department from the Sales Navigator taxonomy."


def test_an_html_502_is_retried_and_reported_by_its_title(sandbox: SaberSandbox) -> None:
    """A proxy's HTML 502 page is retried; when it persists the error names the page's title."""
    page = fixture("error_bad_gateway_html.json")
    sandbox.fail_next(2, page["status"], body=page["body"], content_type=page["contentType"])
    with make_client(sandbox, max_attempts=2) as saber, pytest.raises(SaberUnavailable) as caught:
        saber.credits()
    assert caught.value.status == 502 and caught.value.code == "HTTP_502"
    assert caught.value.message == "502 Bad Gateway"
    assert sandbox.count("credits") == 2


def test_sandbox_own_errors_are_parsed(sandbox: SaberSandbox, client: SaberClient) -> None:
    """The sandbox's 404, list-validation envelope and 402 become the matching subclasses."""
    with pytest.raises(SaberNotFound) as missing:
        client.get_research("cr_000000000000")
    assert missing.value.code == "NOT_FOUND" and "access denied" in missing.value.message
    with pytest.raises(SaberValidationError) as invalid:
        list(client.list_company_signals(domain="acme.com/path"))
    assert invalid.value.fields[0][0] == "domain" and invalid.value.request_id
    sandbox.credits_left = 0
    with pytest.raises(InsufficientCredits) as broke:
        ask(client, "contact", "https://linkedin.com/in/johndoe", "Q?", "boolean")
    assert broke.value.code == "INSUFFICIENT_CREDITS" and broke.value.status == 402


def test_insufficient_credits_is_402_and_launches_nothing(sandbox: SaberSandbox, client: SaberClient) -> None:
    """With no credits left research creation raises InsufficientCredits and nothing is created."""
    sandbox.credits_left = 0
    with pytest.raises(InsufficientCredits):
        client.create_research(JOHN)
    assert sandbox.all_research() == [] and sandbox.count("research_create") == 1


def test_a_wrong_key_is_an_auth_error_with_exit_code_3(sandbox: SaberSandbox) -> None:
    """401 raises SaberAuthError (an ApiUnavailableError), without retries and without the key in it."""
    saber = SaberClient(sandbox.url, "sk_live_wrong_key_123", policy=CallPolicy(backoff_base=0.01))
    with saber, pytest.raises(SaberAuthError) as caught:
        saber.credits()
    assert caught.value.status == 401 and caught.value.code == "UNAUTHORIZED" and caught.value.request_id
    assert isinstance(caught.value, ApiUnavailableError) and caught.value.exit_code == 3
    assert "sk_live_wrong_key_123" not in str(caught.value)
    assert sandbox.count("credits") == 1


def test_parse_error_handles_empty_bodies_and_http_dates() -> None:
    """An empty 503 still yields a readable error; Retry-After may be an HTTP date."""
    error = parse_error(503, b"", {"Retry-After": "2"})
    assert isinstance(error, SaberUnavailable) and error.code == "HTTP_503" and error.retry_after == 2.0
    now = datetime(2024, 1, 15, 10, 30, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 15 Jan 2024 10:30:45 GMT", now=now) == 45.0
    assert parse_retry_after("soon") is None and parse_retry_after("inf") is None


def test_logs_keep_request_ids_and_never_the_key() -> None:
    """Retries and failures are logged with requestId; the key (whatever its shape) never appears."""
    secret = "plain-secret-key-98765"
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        with SaberSandbox(api_key=secret) as box:
            box.fail_next(1, 503)
            box.fail_next(1, 400, body=fixture("error_envelope_validation.json"))
            with make_client(box) as saber, pytest.raises(SaberValidationError):
                saber.credits()
    finally:
        configure_logging("WARNING", "console")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    retried = [x for x in lines if x["event"] == RETRIED_EVENT and x["api"] == "saber"]
    failed = [x for x in lines if x["event"] == FAILED_EVENT and x["api"] == "saber"]
    assert retried and retried[0]["status"] == 503 and retried[0]["request_id"]
    assert failed and failed[0]["request_id"] == "e69ed773-2674-4dca-be61-886d6698f360"
    assert secret not in stream.getvalue()


# ---------------------------------------------------------------------------- research calls
def test_research_is_followed_to_completion(sandbox: SaberSandbox, client: SaberClient) -> None:
    """create → get (processing) → get (completed) gives a typed Research with result and signals."""
    request = ResearchRequest(
        "John",
        "Doe",
        "Acme Corp",
        "acme.com",
        job_title="VP of Sales",
        external_id="51",
        external_source="hubspot",
    )
    started = client.create_research(request)
    assert client.get_research(started.id).status == "processing"
    research = wait_for(lambda: (r := client.get_research(started.id)).is_done and r)
    assert isinstance(research, Research) and research.status == "completed"
    assert research.external_id == "51" and research.completed_at is not None
    assert research.result is not None and research.result["seniority"] == "VP"
    signal = research.signal_for(KUBERNETES.upper())
    assert signal is not None and signal.answer_type == "boolean"
    assert signal.answer is None or isinstance(signal.answer.value, bool)


def test_find_research_returns_none_on_404_and_the_research_otherwise(
    sandbox: SaberSandbox, client: SaberClient
) -> None:
    """find_research maps 404 to None (no retry) and returns the latest research for the pair."""
    assert client.find_research("51", "hubspot") is None
    assert sandbox.count("research_find") == 1
    started = client.create_research(JOHN)
    found = client.find_research("51", "hubspot")
    assert found is not None and found.id == started.id and found.raw["companyDomain"] == "acme.com"
    query = sandbox.requests_to("research_find")[-1].query
    assert query == {"externalId": ["51"], "externalSource": ["hubspot"]}


def test_failed_research_carries_its_error_code() -> None:
    """A failed research decodes with status failed, error and errorCode."""
    with SaberSandbox(research_delay=0.0) as box, make_client(box) as saber:
        box.set_failure(code="CONTACT_NOT_FOUND", external_ids=["51"])
        started = saber.create_research(JOHN)
        research = saber.get_research(started.id)
    assert research.status == "failed" and research.error_code == "CONTACT_NOT_FOUND" and research.error


def test_credits_reads_the_balance(sandbox: SaberSandbox, client: SaberClient) -> None:
    """credits() returns remainingCredits and follows what research costs."""
    assert client.credits() == 1000
    client.create_research(JOHN)
    assert client.credits() == 999 == sandbox.credits_left


def test_research_request_body_and_idempotency_key() -> None:
    """Bodies are camelCase without None; keys are stable for equal requests and differ otherwise."""
    body = JOHN.to_body()
    assert body == {
        "firstName": "John",
        "lastName": "Doe",
        "companyName": "Acme Corp",
        "companyDomain": "acme.com",
        "externalId": "51",
        "externalSource": "hubspot",
    }
    assert ResearchRequest.from_body({**body, "jobTitle": None}) == JOHN
    with pytest.raises(ValueError, match="nickname"):
        ResearchRequest.from_body({**body, "nickname": "JD"})
    key = idempotency_key("POST", "/v1/contacts/research", body)
    assert key.startswith("sc-") and key == idempotency_key(
        "post", "/v1/contacts/research", dict(reversed(body.items()))
    )
    assert key != idempotency_key("POST", "/v1/contacts/research", {**body, "jobTitle": "CTO"})
    assert key != idempotency_key("POST", "/v1/contacts/signals/sync", body)


# ------------------------------------------------------------------------------------ signals
EXPECTED_TYPES: dict[str, Callable[[Any], bool]] = {
    "open_text": lambda v: isinstance(v, str) and v,
    "number": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "percentage": lambda v: isinstance(v, float) and 0 <= v <= 100,
    "currency": lambda v: isinstance(v, int | float),
    "url": lambda v: isinstance(v, str) and v.startswith("https://"),
    "json_schema": lambda v: isinstance(v, dict),
    "contacts": lambda v: isinstance(v, list) and isinstance(v[0], dict),
    "some_future_type": lambda v: isinstance(v, str) and isinstance(json.loads(v), dict),
}


@pytest.mark.parametrize("answer_type", sorted(EXPECTED_TYPES))
def test_signal_answers_of_every_type_are_decoded(
    sandbox: SaberSandbox, client: SaberClient, answer_type: str
) -> None:
    """Contact and company signals decode to Python values per type; a type Saber adds later (reached
    through a template, since a create names only published types) to JSON text."""
    sandbox.null_answer_rate = 0.0
    question = f"A {answer_type} question?"
    if answer_type in ANSWER_TYPES:
        ask = SignalQuestion(question, answer_type)
    else:
        ask = SignalQuestion(template_id=sandbox.add_template(question, answer_type)["id"])
    contact = client.create_signal(SignalRequest("contact", "https://linkedin.com/in/johndoe", ask))
    company = client.create_signal(SignalRequest("company", "acme.com", ask))
    for signal, kind in ((contact, "CONTACT"), (company, "COMPANY")):
        assert isinstance(signal, Signal) and signal.status == "completed" and signal.signal_type == kind
        assert signal.answer is not None and signal.answer.type == answer_type
        assert EXPECTED_TYPES[answer_type](signal.answer.value), signal.answer
    assert company.domain == "acme.com" and contact.contact_profile_url == "https://linkedin.com/in/johndoe"
    body = sandbox.requests_to("contact_signal_create")[0].body
    expected = {"question": question, "answerType": answer_type} if answer_type in ANSWER_TYPES else {}
    assert body == {
        "contactProfileUrl": "https://linkedin.com/in/johndoe",
        **(expected or {"signalTemplateId": ask.template_id}),
    }


def test_both_open_text_spellings_are_read(sandbox: SaberSandbox, client: SaberClient) -> None:
    """Answers spelled `openText` and `open_text` both decode to the text value."""
    sandbox.null_answer_rate = 0.0
    spellings = {}
    for i in range(12):
        signal = ask(client, "company", "acme.com", f"Q{i}?", "open_text")
        key = next(k for k in signal.raw["answer"] if k != "type")
        spellings[key] = signal.answer.value if signal.answer else None
    assert set(spellings) == {"openText", "open_text"}
    assert all(isinstance(v, str) and v for v in spellings.values())


def test_fixture_answers_decode_through_the_list_endpoint(sandbox: SaberSandbox, client: SaberClient) -> None:
    """Every answer shape in the fixtures survives a round trip through a list call."""
    for signal in fixture("signals_every_answer_type.json"):
        sandbox.add_signal(signal, scope="company")
    got = {s.id: s for s in client.list_company_signals(domain="acme.com", page_size=5)}
    assert len(got) == 13

    def value(suffix: str) -> Any:
        answer = got[f"e45c1dc4-d422-4b51-956b-cb6d3ddaf25{suffix}"].answer
        return (answer.type, answer.value) if answer else None

    assert value("0") == ("open_text", "Enterprise CRM software")
    assert value("1") == ("open_text", "Acme Corp is a leading provider of enterprise software solutions")
    assert value("2") == ("number", 14491)
    assert value("3") == ("boolean", False)
    assert value("4") == ("list", ["AWS", "GCP"])
    assert value("5") == ("percentage", 37.5)
    assert value("6") == ("currency", 25000000)
    assert value("7") == ("url", "https://acme.com/pricing")
    assert value("8") == ("json_schema", {"languages": ["Go", "Python"], "kubernetes": True})
    assert value("9") == ("contacts", [{"fullName": "Jane Smith", "role": "VP of Engineering"}])
    assert value("a") == ("sentiment_score", '{"label":"positive","score":0.4}')
    assert value("b") is None  # unverifiable: null, never a blank value
    assert got["e45c1dc4-d422-4b51-956b-cb6d3ddaf252"].confidence is None
    assert got["e45c1dc4-d422-4b51-956b-cb6d3ddaf251"].sources[0].url == "https://acme.com/about"
    processing = got["a1b2c3d4-e5f6-7890-abcd-ef1234567890"]
    assert processing.status == "processing" and processing.answer is None


def test_research_fixture_decodes_every_signal() -> None:
    """The completed-research fixture decodes: spellings, a null answer and a null confidence."""
    research = Research.model_validate(fixture("research_completed.json"))
    assert research.status == "completed" and research.external_id == "51"
    answers = [(s.answer.type, s.answer.value) if s.answer else None for s in research.signals]
    assert answers == [("boolean", True), ("open_text", "North America"), ("open_text", "HubSpot"), None]
    assert research.signals[1].confidence is None and research.signals[0].confidence == 0.87


def test_lists_page_through_offsets_latest_first(sandbox: SaberSandbox, client: SaberClient) -> None:
    """list_contact_signals walks offsets page by page and yields every signal once, latest first."""
    made = [
        ask(client, "contact", "https://linkedin.com/in/johndoe", f"Q{i}?", "boolean").id for i in range(5)
    ]
    ask(client, "contact", "https://linkedin.com/in/other", "Other?", "boolean")
    listed = [s.id for s in client.list_contact_signals("https://linkedin.com/in/johndoe", page_size=2)]
    assert listed == list(reversed(made))
    pages = sandbox.requests_to("contact_signals_list")
    assert [r.query["offset"] for r in pages] == [["0"], ["2"], ["4"]]
    assert all(r.query["limit"] == ["2"] and r.query["contactProfileUrl"] for r in pages)
    assert client.calls["list_contact_signals"] == 3


def test_a_signal_arriving_while_paging_is_not_yielded_twice(
    sandbox: SaberSandbox, client: SaberClient
) -> None:
    """A new signal shifts the offsets mid-walk; the already-seen one is skipped, none is lost."""
    made = [
        ask(client, "contact", "https://linkedin.com/in/johndoe", f"Q{i}?", "boolean").id for i in range(5)
    ]
    walk = client.list_contact_signals(page_size=2)
    first = [next(walk).id, next(walk).id]
    ask(client, "contact", "https://linkedin.com/in/johndoe", "Late?", "boolean")
    rest = [s.id for s in walk]
    assert first + rest == list(reversed(made))


def test_company_filters_are_sent_as_the_api_expects(sandbox: SaberSandbox, client: SaberClient) -> None:
    """Statuses repeat, dates go out as RFC3339 UTC and filters narrow the results."""
    ask(client, "company", "acme.com", "Q?", "number")
    ask(client, "company", "globex.com", "Q?", "number")
    found = list(
        client.list_company_signals(
            domain="acme.com",
            statuses=("completed", "failed"),
            from_date=datetime(2020, 1, 1),
            to_date="2100-01-01T00:00:00Z",
        )
    )
    assert [s.domain for s in found] == ["acme.com"]
    query = sandbox.requests_to("company_signals_list")[0].query
    assert query["status"] == ["completed", "failed"] and query["fromDate"] == ["2020-01-01T00:00:00Z"]
    assert query["toDate"] == ["2100-01-01T00:00:00Z"] and query["domain"] == ["acme.com"]
    assert list(client.list_company_signals(statuses=["processing"])) == []


def test_get_signal_by_id(sandbox: SaberSandbox, client: SaberClient) -> None:
    """get_contact_signal / get_company_signal return the stored signal; an unknown id is SaberNotFound."""
    contact = ask(client, "contact", "https://linkedin.com/in/johndoe", "Q?", "boolean")
    company = ask(client, "company", "acme.com", "Q?", "url")
    assert client.get_contact_signal(contact.id).raw == contact.raw
    assert client.get_company_signal(company.id).answer == company.answer
    with pytest.raises(SaberNotFound):
        client.get_company_signal(contact.id)


def test_subscription_logs_page(sandbox: SaberSandbox, client: SaberClient) -> None:
    """subscription_logs pages through one subscription's executions."""
    sub = "a12b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    for i in range(3):
        sandbox.add_signal(
            {"domain": "acme.com", "question": f"Q{i}", "status": "completed"}, subscription_id=sub
        )
    sandbox.add_signal({"domain": "acme.com", "question": "elsewhere", "status": "completed"})
    logs = list(client.subscription_logs(sub, domain="acme.com", page_size=2))
    assert sorted(s.question for s in logs) == ["Q0", "Q1", "Q2"]
    assert sandbox.count("subscription_logs") == 2


def test_page_size_outside_the_api_range_is_refused(client: SaberClient) -> None:
    """A page size the API would reject is a ValueError before any request."""
    with pytest.raises(ValueError):
        client.list_contact_signals(page_size=26)
    assert client.calls == {}


# ------------------------------------------------------------------------ limits and threads
def test_the_client_rate_limit_keeps_it_under_the_sandbox_limits() -> None:
    """Unlimited (no headers followed), a burst trips the sandbox's 429s; limited below its rate, four threads never do."""
    with (
        SaberSandbox(reads_per_minute=3000, read_burst=2) as box,
        make_client(box, max_attempts=10, follow_rate_headers=False) as fast,
    ):
        for _ in range(10):
            fast.credits()
        assert any(r.status == 429 for r in box.requests)  # the sandbox limit does bite
    with (
        SaberSandbox(reads_per_minute=3000, read_burst=2) as box,
        make_client(box, requests_per_second=25) as slow,
    ):
        with ThreadPoolExecutor(max_workers=4) as pool:
            balances = list(pool.map(lambda _: slow.credits(), range(20)))
        assert balances == [1000] * 20
        assert box.count("credits") == 20
        assert [r.status for r in box.requests] == [200] * 20


def test_one_client_is_shared_safely_by_a_thread_pool(sandbox: SaberSandbox, client: SaberClient) -> None:
    """Research launched from eight threads through one client: all created, counted exactly."""
    requests = [
        ResearchRequest(f"P{i}", "Doe", "Acme", "acme.com", external_id=str(i), external_source="hubspot")
        for i in range(40)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        started = list(pool.map(client.create_research, requests))
    assert len({s.id for s in started}) == 40
    assert client.calls["create_research"] == 40 == sandbox.count("research_create")
    assert len(set(keys_sent(sandbox, "research_create"))) == 40
