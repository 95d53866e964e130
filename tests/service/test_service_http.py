"""The service's HTTP server over real HTTP: health, readiness, metrics, and Saber's webhooks."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from structlog.testing import capture_logs

from connector.http_policy import CallPolicy
from connector.logs import configure_logging
from connector.saber import ResearchRequest, SaberClient
from connector.sandbox.saber import SaberSandbox
from connector.service.http import MAX_WEBHOOK_BYTES, ServiceHTTP, webhook_ids
from connector.service.metrics import Metrics
from tests.support import wait_for

SECRET = "whsec_Zm9vYmFyYmF6cXV1eDEyMzQ1Njc4OTA"
WEBHOOK = f"/webhooks/saber/{SECRET}"
RESEARCH = {
    "id": "cr_abc123def456",
    "status": "completed",
    "externalId": "51",
    "externalSource": "hubspot",
    "firstName": "John",
    "createdAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:32:15Z",
    "result": {"summary": "VP of Sales at Acme Corp"},
}


class FakeStatus:
    """A status source whose answers a test sets."""

    def __init__(self) -> None:
        self.is_alive = True
        self.ready = True
        self.body: dict[str, Any] = {"ready": True, "last_cycle": {"kind": "full", "outcome": "ok"}}

    def alive(self) -> bool:
        return self.is_alive

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        return self.ready, self.body


class Service:
    """A started server with its fakes: the status, the metrics, the secret and the webhooks it got."""

    def __init__(self, secret: str | None = SECRET) -> None:
        self.status = FakeStatus()
        self.metrics = Metrics()
        self.secret = secret
        self.hints: queue.Queue[tuple[str | None, str | None]] = queue.Queue()
        self.callback = self.hints.put_nowait
        self.server = ServiceHTTP(
            "127.0.0.1",
            0,
            status=self.status,
            metrics=self.metrics,
            webhook_secret=lambda: self.secret,
            on_webhook=lambda research_id, external_id: self.callback((research_id, external_id)),
        ).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    def webhooks(self, outcome: str) -> float:
        return (
            self.metrics.registry.get_sample_value("saber_connector_webhooks_total", {"outcome": outcome})
            or 0.0
        )

    def received(self) -> list[tuple[str | None, str | None]]:
        got = []
        while not self.hints.empty():
            got.append(self.hints.get_nowait())
        return got


@pytest.fixture
def svc() -> Iterator[Service]:
    service = Service()
    yield service
    service.close()


# ------------------------------------------------------------------------------ life cycle
def test_port_zero_binds_a_free_port_and_the_url_names_it(svc: Service) -> None:
    """Asked for port 0, the server listens on a free port that `.port` and `.url` name."""
    assert svc.server.port > 0
    assert svc.server.url == f"http://127.0.0.1:{svc.server.port}"
    assert httpx.get(f"{svc.server.url}/healthz").status_code == 200


def test_stop_is_prompt_idempotent_and_closes_the_port() -> None:
    """`stop()` returns quickly, a second call does nothing, and the port then refuses connections."""
    service = Service()
    url = service.server.url
    started = time.monotonic()
    service.close()
    assert time.monotonic() - started < 1.0
    service.server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_stop_before_start_does_nothing() -> None:
    """A server that was never started stops without blocking."""
    server = ServiceHTTP(
        "127.0.0.1", 0, status=FakeStatus(), metrics=Metrics(), webhook_secret=lambda: None, on_webhook=print
    )
    server.stop()
    server.stop()


# ------------------------------------------------------------------------------ health
def test_healthz_is_200_while_alive(svc: Service) -> None:
    """`/healthz` answers 200 `{"status": "ok"}` while the status source says alive."""
    answer = svc.http.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
    assert answer.headers["content-type"].startswith("application/json")


def test_healthz_is_503_when_not_alive(svc: Service) -> None:
    """`/healthz` answers 503 once the status source says the process is not alive."""
    svc.status.is_alive = False
    assert svc.http.get("/healthz").status_code == 503


def test_readyz_is_200_with_the_readiness_body(svc: Service) -> None:
    """`/readyz` answers 200 with the status source's dict as its JSON body when ready."""
    answer = svc.http.get("/readyz")
    assert (answer.status_code, answer.json()) == (200, svc.status.body)


def test_readyz_is_503_with_the_reason_when_not_ready(svc: Service) -> None:
    """`/readyz` answers 503 with the body naming why, when the status source says not ready."""
    svc.status.ready = False
    svc.status.body = {"ready": False, "reason": "Saber refused the API key; next try in 60s"}
    answer = svc.http.get("/readyz")
    assert (answer.status_code, answer.json()) == (503, svc.status.body)


def test_readyz_is_503_when_the_status_source_raises(svc: Service) -> None:
    """A readiness check that raises is reported as not ready, not as a server error."""

    def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("database gone")

    svc.status.readiness = broken  # type: ignore[method-assign]
    answer = svc.http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["ready"] is False


# ------------------------------------------------------------------------------ metrics
def test_metrics_serves_the_registry_in_prometheus_text_format(svc: Service) -> None:
    """`/metrics` serves every connector metric, prefixed `saber_connector_`, as Prometheus text."""
    answer = svc.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == CONTENT_TYPE_LATEST
    for name in (
        "saber_connector_cycles_total",
        "saber_connector_cycle_duration_seconds_bucket",
        "saber_connector_webhooks_total",
        "saber_connector_last_success_timestamp_seconds",
        "saber_connector_research_pending",
        "saber_connector_credits_left",
    ):
        assert f"\n{name}" in answer.text, name


def test_metrics_move_after_a_cycle(svc: Service) -> None:
    """A finished cycle shows on the next scrape of `/metrics`."""
    line = 'saber_connector_cycles_total{kind="full",outcome="ok"} '
    assert f"{line}0.0" in svc.http.get("/metrics").text
    svc.metrics.cycle_finished("full", "ok", 1.5, None)
    text = svc.http.get("/metrics").text
    assert f"{line}1.0" in text
    assert 'saber_connector_cycle_duration_seconds_count{kind="full"} 1.0' in text


# ------------------------------------------------------------------------------ webhooks
def test_a_good_webhook_is_accepted_and_handed_on(svc: Service) -> None:
    """A webhook with the right secret and Saber's research body is 202 and hands on its ids."""
    answer = svc.http.post(WEBHOOK, json=RESEARCH)
    assert (answer.status_code, answer.json()) == (202, {"accepted": True})
    assert svc.received() == [("cr_abc123def456", "51")]
    assert svc.webhooks("accepted") == 1


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        ({"researchId": "cr_1"}, ("cr_1", None)),
        ({"research_id": "cr_1", "external_id": "7"}, ("cr_1", "7")),
        (
            {"id": "evt_9", "type": "contact_research.completed", "data": {"id": "cr_2", "externalId": "8"}},
            ("cr_2", "8"),
        ),
        ({"event": "completed", "research": {"id": "cr_3", "external_id": "9"}}, ("cr_3", "9")),
        ({"externalId": "10", "status": "completed"}, (None, "10")),
        ({"id": 12345}, ("12345", None)),
        ({"id": "  cr_4  "}, ("cr_4", None)),
    ],
)
def test_webhook_ids_are_found_in_every_shape(
    body: dict[str, Any], ids: tuple[str | None, str | None]
) -> None:
    """The research id and external id are read from the body, an envelope's data or research object, in either case style."""
    assert webhook_ids(body) == ids


def test_a_webhook_in_an_envelope_is_handed_on_with_the_nested_ids(svc: Service) -> None:
    """An event envelope hands on the id of the research it carries, not the event's own id."""
    body = {"id": "evt_1", "type": "contact_research.completed", "data": {"id": "cr_9", "external_id": "77"}}
    assert svc.http.post(WEBHOOK, json=body).status_code == 202
    assert svc.received() == [("cr_9", "77")]


def test_a_wrong_secret_is_404_like_any_unknown_path(svc: Service) -> None:
    """A wrong secret gets the very answer an unknown path gets, and nothing is handed on."""
    wrong = svc.http.post("/webhooks/saber/not-the-secret", json=RESEARCH)
    unknown = svc.http.post("/no/such/path", json=RESEARCH)
    prefix = svc.http.post(f"/webhooks/saber/{SECRET[:-1]}", json=RESEARCH)
    assert wrong.status_code == unknown.status_code == prefix.status_code == 404
    assert wrong.content == unknown.content == prefix.content
    assert svc.received() == []
    assert svc.webhooks("bad_secret") == 2


def test_no_secret_configured_is_404() -> None:
    """With no webhook secret configured every webhook is 404, even one to an empty-secret path."""
    service = Service(secret=None)
    try:
        assert service.http.post(WEBHOOK, json=RESEARCH).status_code == 404
        assert service.http.post("/webhooks/saber/", json=RESEARCH).status_code == 404
        service.secret = ""
        assert service.http.post("/webhooks/saber/x", json=RESEARCH).status_code == 404
        assert service.received() == []
    finally:
        service.close()


def test_a_body_over_1_mib_is_413_by_its_content_length(svc: Service) -> None:
    """A body whose Content-Length is over 1 MiB is 413, and nothing is handed on."""
    body = json.dumps({**RESEARCH, "pad": "x" * MAX_WEBHOOK_BYTES}).encode()
    answer = svc.http.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert svc.received() == []
    assert svc.webhooks("too_large") == 1


def test_a_chunked_body_over_1_mib_is_413(svc: Service) -> None:
    """A chunked body (no Content-Length) is cut off as soon as it passes 1 MiB: 413."""

    def chunks() -> Iterator[bytes]:
        yield b'{"id": "cr_abc123def456", "pad": "'
        for _ in range(40):  # 2.5 MiB in all
            yield b"x" * 65536
        yield b'"}'

    answer = svc.http.post(WEBHOOK, content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert svc.received() == []
    assert svc.webhooks("too_large") == 1


def test_a_body_of_exactly_1_mib_is_accepted(svc: Service) -> None:
    """The limit is inclusive: a JSON body of exactly 1 MiB is still accepted."""
    head = json.dumps(RESEARCH).encode()
    body = head + b" " * (MAX_WEBHOOK_BYTES - len(head))
    assert svc.http.post(WEBHOOK, content=body).status_code == 202
    assert svc.received() == [("cr_abc123def456", "51")]


@pytest.mark.parametrize(
    "body",
    [b'{"id": "cr_1"', b"not json at all", b"", b"\xff\xfe\xfa", b'["cr_1"]', b'"cr_1"'],
    ids=["truncated", "text", "empty", "not-utf8", "array", "string"],
)
def test_malformed_json_is_400(svc: Service, body: bytes) -> None:
    """A body that is not a JSON object is 400, counted as malformed, and nothing is handed on."""
    answer = svc.http.post(WEBHOOK, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert svc.received() == []
    assert svc.webhooks("malformed") == 1


@pytest.mark.parametrize(
    "body",
    [
        {"status": "completed"},
        {"id": ""},
        {"id": True},
        {"id": None, "externalId": ["51"]},
        {"id": "x" * 500},
    ],
    ids=["no-id", "empty-id", "bool-id", "list-external-id", "overlong-id"],
)
def test_json_without_a_usable_id_is_400(svc: Service, body: dict[str, Any]) -> None:
    """A JSON object that names no usable research id or external id is 400."""
    answer = svc.http.post(WEBHOOK, json=body)
    assert answer.status_code == 400
    assert svc.received() == []
    assert svc.webhooks("malformed") == 1


def test_a_callback_that_raises_is_503(svc: Service) -> None:
    """When handing the notification on fails, the answer is 503 so Saber may send it again."""

    def broken(_: Any) -> None:
        raise RuntimeError("queue closed")

    svc.callback = broken
    assert svc.http.post(WEBHOOK, json=RESEARCH).status_code == 503
    assert svc.webhooks("error") == 1
    assert svc.http.get("/healthz").status_code == 200


def test_a_failing_endpoint_is_a_500_and_the_server_keeps_answering(svc: Service) -> None:
    """An endpoint that raises answers 500 with a JSON body, and the next request is served as usual."""

    def broken() -> bytes:
        raise RuntimeError("registry broke")

    svc.metrics.exposition = broken  # type: ignore[method-assign]
    answer = svc.http.get("/metrics")
    assert (answer.status_code, answer.json()) == (500, {"error": "internal error"})
    assert svc.http.get("/healthz").status_code == 200


# ------------------------------------------------------------------------------ routing
def test_get_on_the_webhook_path_is_405(svc: Service) -> None:
    """The webhook path answers GET with 405 and an Allow header naming POST."""
    answer = svc.http.get(WEBHOOK)
    assert answer.status_code == 405
    assert "POST" in answer.headers["allow"]
    assert svc.received() == []


def test_wrong_methods_are_405_and_unknown_paths_404(svc: Service) -> None:
    """A known path with the wrong method is 405; any other path is 404."""
    assert svc.http.post("/healthz").status_code == 405
    assert svc.http.delete("/metrics").status_code == 405
    assert svc.http.get("/").status_code == 404
    assert svc.http.get("/healthz/extra").status_code == 404
    assert svc.http.get("/webhooks/saber").status_code == 404


# ------------------------------------------------------------------------------ concurrency
def test_healthz_answers_while_a_webhook_callback_is_slow(svc: Service) -> None:
    """A webhook whose callback is still waiting holds up neither `/healthz` nor other webhooks."""
    entered, release = threading.Event(), threading.Event()

    def slow(hint: tuple[str | None, str | None]) -> None:
        entered.set()
        release.wait(10)
        svc.hints.put_nowait(hint)

    svc.callback = slow
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(svc.http.post, WEBHOOK, json=RESEARCH)
        wait_for(entered.is_set)
        try:
            assert svc.http.get("/healthz", timeout=2).status_code == 200
            assert svc.http.get("/metrics", timeout=2).status_code == 200
            assert not pending.done()
        finally:
            release.set()
        assert pending.result(timeout=10).status_code == 202
    assert svc.received() == [("cr_abc123def456", "51")]


# ------------------------------------------------------------------------------ secrecy
def test_the_secret_never_reaches_the_logs(svc: Service, capfd: pytest.CaptureFixture[str]) -> None:
    """Good, bad and broken webhook requests (a malformed request line included) never log the secret."""
    configure_logging("DEBUG", "console")  # capture_logs keeps the level filter: let every event through
    try:
        check_logs_for_secret(svc, capfd)
    finally:
        configure_logging("WARNING", "console")


def check_logs_for_secret(svc: Service, capfd: pytest.CaptureFixture[str]) -> None:
    with capture_logs() as logs:
        svc.http.post(WEBHOOK, json=RESEARCH)
        svc.http.post(WEBHOOK, content=b"{broken")
        svc.http.post(WEBHOOK, json={"nothing": "here"})
        svc.http.post(f"{WEBHOOK}x", json=RESEARCH)
        svc.http.get(WEBHOOK)
        with socket.create_connection(("127.0.0.1", svc.server.port), timeout=5) as raw:
            raw.sendall(f"POST {WEBHOOK} junk HTTP/1.1\r\n\r\n".encode())
            page = b"".join(iter(lambda: raw.recv(65536), b""))
        assert b"400" in page
        assert SECRET.encode() not in page
        wait_for(lambda: any(e["event"] == "http_server_error" for e in logs))
    events = {e["event"] for e in logs}
    assert {"webhook_accepted", "webhook_rejected", "http_server_error"} <= events
    assert SECRET not in repr(logs)
    error = next(e for e in logs if e["event"] == "http_server_error")
    assert "/webhooks/saber/***" in error["detail"]
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err


# ------------------------------------------------------------------------------ with Saber's sandbox
def test_the_saber_sandbox_webhook_reaches_the_callback(svc: Service) -> None:
    """A research launched with this server's webhook URL is handed on by id and external id when the sandbox finishes it."""
    with SaberSandbox(research_delay=0.05) as box:
        policy = CallPolicy(backoff_base=0.01, max_backoff=0.05, max_attempts=3)
        with SaberClient(box.url, box.api_key, policy=policy, requests_per_second=1000) as saber:
            request = ResearchRequest(
                "John",
                "Doe",
                "Acme Corp",
                "acme.com",
                external_id="51",
                external_source="hubspot",
                webhook_url=f"{svc.server.url}{WEBHOOK}",
            )
            started = saber.create_research(request)
        hint = svc.hints.get(timeout=10)
        assert hint == (started.id, "51")
        wait_for(lambda: box.webhook_deliveries)
        assert box.webhook_deliveries[0]["status"] == 202
