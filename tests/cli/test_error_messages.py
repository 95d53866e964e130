"""Errors as a new user meets them: one line naming the service, the setting and the fix, with its exit code."""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3

from connector.clients import store_from
from connector.errors import ConfigError
from connector.http_policy import (
    CONNECTION_CLOSED,
    CONNECTION_REFUSED,
    CONNECTION_RESET,
    NAME_NOT_RESOLVED,
    TIMED_OUT,
    TLS_FAILED,
    CallPolicy,
    transport_reason,
)
from connector.hubspot import HubSpotAdapter, HubSpotAuthError, HubSpotUnavailableError
from connector.logs import register_secret, scrub
from connector.saber import SaberClient, SaberUnavailable
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.state import StateStore, StateUnavailableError
from tests.support import run_cli
from tests.sync_harness import prepare, sandbox_env, settings_for, write_mapping

REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Scopes the sandbox app keeps when a test takes crm.schemas.contacts.write away.
WITHOUT_SCHEMA_WRITE = {
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
}


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    """A small sandbox per test."""
    with start_sandbox(contacts=4, seed=3, research_delay=0.1) as running:
        yield running


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def env_for(box: RunningSandbox, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The CLI's environment for this sandbox (JSON logs on stderr), with some settings changed."""
    env = sandbox_env(box, tmp_path, write_mapping(tmp_path))
    env.update(extra)
    return env


def error_line(stderr: str) -> str:
    """The one `saber-connector: ...` line the CLI prints for an error (the last line of stderr)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("saber-connector: "), stderr
    assert "Traceback" not in stderr
    assert sum(line.startswith("saber-connector: ") for line in lines) == 1, stderr
    return lines[-1].removeprefix("saber-connector: ")


def log_events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines on stderr."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def no_secrets(box: RunningSandbox, *texts: str) -> None:
    for text in texts:
        assert box.hubspot.token not in text and box.saber.api_key not in text


# ---------------------------------------------------------------------------- refused credentials
def test_saber_401_names_saber_the_variable_and_the_request_id(box: RunningSandbox, tmp_path: Path) -> None:
    """A wrong Saber key: one line `Saber refused SABER_API_KEY (401 UNAUTHORIZED, requestId …): …`, exit 3."""
    wrong = "sk_live_wrong_0123456789abcdef"
    env = env_for(box, tmp_path, SABER_API_KEY=wrong)
    prepare(settings_for(box, tmp_path, Path(env["CONNECTOR_MAPPING"])))
    proc = run_cli("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    line = error_line(proc.stderr)
    assert re.fullmatch(
        rf"Saber refused SABER_API_KEY \(401 UNAUTHORIZED, requestId {REQUEST_ID}\): Invalid or missing API key",
        line,
    ), line
    assert wrong not in proc.stdout + proc.stderr


def test_saber_403_says_the_key_lacks_a_permission(box: RunningSandbox, tmp_path: Path) -> None:
    """A Saber 403 names SABER_API_KEY and says the key lacks a permission, with Saber's message, exit 3."""
    env = env_for(box, tmp_path)
    prepare(settings_for(box, tmp_path, Path(env["CONNECTOR_MAPPING"])))
    body = {
        "error": {
            "type": "FORBIDDEN",
            "code": "FORBIDDEN",
            "message": "This API key may not use contact research",
            "requestId": "0b7c9d3e-5f4a-4e2b-9c1d-8a7f6e5d4c3b",
        }
    }
    box.saber.fail_next(1, 403, body=body)
    proc = run_cli("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert error_line(proc.stderr) == (
        "Saber refused SABER_API_KEY (403 FORBIDDEN, requestId 0b7c9d3e-5f4a-4e2b-9c1d-8a7f6e5d4c3b): "
        "the key lacks a permission this call needs: This API key may not use contact research"
    )
    no_secrets(box, proc.stdout, proc.stderr)


def test_hubspot_401_names_the_variable_and_the_correlation_id(box: RunningSandbox, tmp_path: Path) -> None:
    """A wrong HubSpot token: `HubSpot refused HUBSPOT_ACCESS_TOKEN (401 …, correlationId …): …`, exit 3."""
    wrong = "pat-na1-wrong-0123456789abcdef"
    proc = run_cli("setup", env=env_for(box, tmp_path, HUBSPOT_ACCESS_TOKEN=wrong), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    line = error_line(proc.stderr)
    assert re.fullmatch(
        rf"HubSpot refused HUBSPOT_ACCESS_TOKEN \(401 INVALID_AUTHENTICATION, correlationId {REQUEST_ID}\): "
        r"Authentication credentials not found\. .*",
        line,
    ), line
    assert wrong not in proc.stdout + proc.stderr


def test_hubspot_403_names_the_missing_scope(box: RunningSandbox, tmp_path: Path) -> None:
    """A private app without crm.schemas.contacts.write: `setup` names that scope and exits 3."""
    box.hubspot.granted_scopes = set(WITHOUT_SCHEMA_WRITE)
    proc = run_cli("setup", env=env_for(box, tmp_path), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    line = error_line(proc.stderr)
    assert re.fullmatch(
        rf"HubSpot refused HUBSPOT_ACCESS_TOKEN \(403 MISSING_SCOPES, correlationId {REQUEST_ID}\): "
        r"the private app lacks the scope crm\.schemas\.contacts\.write: This app hasn't been granted .*",
        line,
    ), line
    no_secrets(box, proc.stdout, proc.stderr)


def test_hubspot_403_without_scopes_says_the_app_may_lack_one(box: RunningSandbox) -> None:
    """A 403 that names no scope still names the variable and says the private app may lack a scope."""
    body = {"status": "error", "message": "Forbidden", "correlationId": "c-403", "category": "MISSING_SCOPES"}
    box.hubspot.answer_next(403, body, endpoint="properties_list")
    with (
        HubSpotAdapter(box.hubspot.url, box.hubspot.token) as hubspot,
        pytest.raises(HubSpotAuthError) as info,
    ):
        hubspot.get_properties()
    assert str(info.value) == (
        "HubSpot refused HUBSPOT_ACCESS_TOKEN (403 MISSING_SCOPES, correlationId c-403): "
        "the private app may lack a scope: Forbidden"
    )
    assert info.value.exit_code == 3 and info.value.missing_scopes == []


# ---------------------------------------------------------------------------- unreachable APIs
def test_unreachable_hubspot_fails_at_once_with_one_line(
    box: RunningSandbox, tmp_path: Path, closed_port: int
) -> None:
    """A wrong HUBSPOT_BASE_URL: `cannot reach HubSpot at HUBSPOT_BASE_URL (url): connection refused`, one attempt."""
    url = f"http://127.0.0.1:{closed_port}"
    proc = run_cli("setup", env=env_for(box, tmp_path, HUBSPOT_BASE_URL=url), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert error_line(proc.stderr) == f"cannot reach HubSpot at HUBSPOT_BASE_URL ({url}): connection refused"
    events = log_events(proc.stderr)
    assert not [e for e in events if e["event"] == "api_call_retried"]
    assert [e["attempts"] for e in events if e["event"] == "api_call_failed"] == [1]
    assert "urllib3" not in proc.stderr and "NewConnectionError" not in proc.stderr


def test_unreachable_saber_fails_at_once_with_one_line(
    box: RunningSandbox, tmp_path: Path, closed_port: int
) -> None:
    """A wrong SABER_BASE_URL: `cannot reach Saber at SABER_BASE_URL (url): connection refused`, no call retried."""
    url = f"http://127.0.0.1:{closed_port}"
    env = env_for(box, tmp_path, SABER_BASE_URL=url)
    prepare(settings_for(box, tmp_path, Path(env["CONNECTOR_MAPPING"])))
    proc = run_cli("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert error_line(proc.stderr) == f"cannot reach Saber at SABER_BASE_URL ({url}): connection refused"
    calls = [e for e in log_events(proc.stderr) if e["event"] in ("api_call_failed", "api_call_retried")]
    saber = [e for e in calls if e["api"] == "saber"]
    assert saber and all(e["event"] == "api_call_failed" and e["attempts"] == 1 for e in saber), saber
    assert "httpx" not in proc.stderr and "ConnectError" not in proc.stderr


def test_connection_refused_before_any_answer_is_tried_once_by_both_clients(closed_port: int) -> None:
    """With six attempts allowed, a client that never had an answer sends exactly one request to a closed port."""
    policy = CallPolicy(max_attempts=6, backoff_base=0.01, max_backoff=0.02)
    url = f"http://127.0.0.1:{closed_port}"
    with HubSpotAdapter(url, "pat-na1-x", policy=policy) as hubspot, pytest.raises(HubSpotUnavailableError):
        hubspot.check_access()
    assert hubspot.calls["check_access"] == 1 and hubspot.retries["check_access"] == 0
    with SaberClient(url, "sk_live_x", policy=policy) as saber, pytest.raises(SaberUnavailable) as caught:
        saber.credits()
    assert saber.calls["credits"] == 1 and caught.value.transport_reason == CONNECTION_REFUSED


def test_connection_refused_after_an_answer_is_retried_by_both_clients() -> None:
    """Once the API has answered, a refused connection is a transient failure: retried up to the attempt budget."""
    policy = CallPolicy(max_attempts=3, backoff_base=0.01, max_backoff=0.02)
    box = start_sandbox(contacts=1)
    hubspot = HubSpotAdapter(box.hubspot.url, box.hubspot.token, policy=policy)
    saber = SaberClient(box.saber.url, box.saber.api_key, policy=policy)
    try:
        hubspot.check_access()
        saber.credits()
        box.hubspot.go_down()  # both APIs go away: their ports held, nothing listening
        box.saber.go_down()
        with pytest.raises(HubSpotUnavailableError) as hub_error:
            hubspot.check_access()
        with pytest.raises(SaberUnavailable) as saber_error:
            saber.credits()
    finally:
        hubspot.close()
        saber.close()
        box.stop()
    assert hubspot.calls["check_access"] == 1 + 3 and hubspot.retries["check_access"] == 2
    assert saber.calls["credits"] == 1 + 3 and saber.retries["credits"] == 2
    assert str(hub_error.value).endswith(": connection refused")
    assert str(saber_error.value).endswith(": connection refused")


def test_an_error_answer_also_counts_as_the_api_having_answered() -> None:
    """A 503 proves the base URL right, so a refused connection after it is retried too."""
    box = start_sandbox(contacts=1)
    saber = SaberClient(
        box.saber.url, box.saber.api_key, policy=CallPolicy(max_attempts=2, backoff_base=0.01)
    )
    try:
        box.saber.fail_next(2, 503)
        with pytest.raises(SaberUnavailable):
            saber.credits()
        box.saber.go_down()  # its port held, nothing listening
        with pytest.raises(SaberUnavailable) as caught:
            saber.credits()
    finally:
        saber.close()
        box.stop()
    assert saber.calls["credits"] == 2 + 2 and caught.value.transport_reason == CONNECTION_REFUSED


def test_tls_failure_is_said_in_plain_words_and_not_retried(box: RunningSandbox) -> None:
    """An https:// URL to a plain-HTTP server: `TLS failed (…)`, one attempt, no library names."""
    policy = CallPolicy(max_attempts=4, backoff_base=0.01, max_backoff=0.02)
    hub_url = box.hubspot.url.replace("http://", "https://")
    saber_url = box.saber.url.replace("http://", "https://")
    hubspot = HubSpotAdapter(hub_url, box.hubspot.token, policy=policy)
    with hubspot, pytest.raises(HubSpotUnavailableError) as hub_error:
        hubspot.check_access()
    saber = SaberClient(saber_url, box.saber.api_key, policy=policy)
    with saber, pytest.raises(SaberUnavailable) as saber_error:
        saber.credits()
    assert str(hub_error.value).startswith(
        f"cannot reach HubSpot at HUBSPOT_BASE_URL ({hub_url}): {TLS_FAILED}"
    )
    assert str(saber_error.value).startswith(
        f"cannot reach Saber at SABER_BASE_URL ({saber_url}): {TLS_FAILED}"
    )
    assert hubspot.calls["check_access"] == 1 and saber.calls["credits"] == 1
    for text in (str(hub_error.value), str(saber_error.value)):
        assert "SSLError" not in text and "ConnectError" not in text and "MaxRetryError" not in text


def _caused(outer: BaseException, *causes: BaseException) -> BaseException:
    """`outer` raised from the first cause, raised from the next, as the HTTP libraries chain them."""
    chain = [outer, *causes]
    for error, cause in zip(chain, chain[1:], strict=False):
        error.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            _caused(httpx.ConnectError("x"), ConnectionRefusedError(111, "Connection refused")),
            CONNECTION_REFUSED,
        ),
        (
            _caused(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")),
            NAME_NOT_RESOLVED,
        ),
        (_caused(httpx.ReadTimeout("x"), TimeoutError("timed out")), TIMED_OUT),
        (_caused(httpx.RemoteProtocolError("Server disconnected")), CONNECTION_CLOSED),
        (
            _caused(httpx.ReadError("x"), ConnectionResetError(104, "Connection reset by peer")),
            CONNECTION_RESET,
        ),
        (
            urllib3.exceptions.MaxRetryError(
                None, "/", urllib3.exceptions.NameResolutionError("h", None, socket.gaierror())
            ),  # type: ignore[arg-type]
            NAME_NOT_RESOLVED,
        ),
        (
            urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.ReadTimeoutError(None, "/", "t")),  # type: ignore[arg-type]
            TIMED_OUT,
        ),
        (_caused(httpx.ConnectError("x"), ssl.SSLCertVerificationError(1, "verify failed")), TLS_FAILED),
    ],
)
def test_transport_failures_in_plain_words(error: BaseException, words: str) -> None:
    """httpx's and urllib3's failures read the same few words, found in their chain of causes."""
    assert transport_reason(error).startswith(words)


# ---------------------------------------------------------------------------- the state database
def test_a_state_directory_that_cannot_be_created_is_exit_2(box: RunningSandbox, tmp_path: Path) -> None:
    """An SQLite path under a file: one line naming CONNECTOR_STATE_URL and the fix, exit 2."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    env = env_for(box, tmp_path, CONNECTOR_STATE_URL=f"sqlite:///{blocker / 'state.db'}")
    proc = run_cli("status", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert error_line(proc.stderr) == (
        f"CONNECTOR_STATE_URL: cannot create the directory {blocker} for the state database: "
        "a file is in the way (create it, or point CONNECTOR_STATE_URL at a writable place)"
    )


def test_an_absent_postgres_at_start_is_exit_2_and_port_1_stays_readable(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """No PostgreSQL at the URL: exit 2 naming CONNECTOR_STATE_URL; the password masked, `port 1` intact."""
    url = "postgresql://connector:p@127.0.0.1:1/state?connect_timeout=2"
    proc = run_cli("status", env=env_for(box, tmp_path, CONNECTOR_STATE_URL=url), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = error_line(proc.stderr)
    assert line.startswith(
        "CONNECTOR_STATE_URL: cannot open and write the state database "
        "postgresql+psycopg://connector:***@127.0.0.1:1/state?connect_timeout=2: "
    ), line
    assert "port 1 failed" in line and "***ort" not in line
    assert "check the server, the user and its grants" in line


def test_a_read_only_state_database_stops_sync_with_exit_2(box: RunningSandbox, tmp_path: Path) -> None:
    """A state database that opens but takes no writes stops `sync` with exit 2 naming CONNECTOR_STATE_URL."""
    path = tmp_path / "state.db"
    StateStore(f"sqlite:///{path}").close()
    env = env_for(box, tmp_path, CONNECTOR_STATE_URL=f"sqlite:///file:{path}?mode=ro&uri=true")
    prepare(settings_for(box, tmp_path, Path(env["CONNECTOR_MAPPING"])))
    proc = run_cli("sync", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = error_line(proc.stderr)
    assert line.startswith("CONNECTOR_STATE_URL: cannot write the state database "), line
    assert "attempt to write a readonly database" in line
    assert box.saber.count("research_create") == 0


class _Proxy:
    """A loopback TCP proxy to one server, which a test can cut (as a network or server failure would)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Stop listening and drop every connection."""
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def test_a_database_that_goes_away_mid_run_stays_exit_3(pg_url: str) -> None:
    """PostgreSQL that worked and then cannot be reached is StateUnavailableError (exit 3), not a config error."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    store = StateStore(through)
    try:
        store.set_cursor("x", "1")
        proxy.cut()
        with pytest.raises(StateUnavailableError) as info:
            store.set_cursor("x", "2")
    finally:
        store.close()
    assert not isinstance(info.value, ConfigError) and info.value.exit_code == 3
    assert str(info.value).startswith("CONNECTOR_STATE_URL: the state database ")
    assert "became unavailable" in str(info.value)


# ---------------------------------------------------------------------------- the secret scrubber
def test_scrub_masks_the_password_of_a_url_and_nothing_around_it() -> None:
    """Only the password between `user:` and `@` is masked; user, host, port and database stay."""
    text = "cannot open postgresql://app:hunter2hunter2@db.example:5432/app: port 5432 refused"
    assert scrub(text) == "cannot open postgresql://app:***@db.example:5432/app: port 5432 refused"
    assert scrub("http://example.com:8080/a@b and port 1") == "http://example.com:8080/a@b and port 1"


def test_registered_secrets_are_masked_whole_and_short_values_are_ignored() -> None:
    """A registered key is masked wherever it stands whole; a value under 8 characters is never registered."""
    register_secret("opaque-key-from-the-vault-4711")
    register_secret("p")
    register_secret("1")
    text = "sent opaque-key-from-the-vault-4711 to port 1 as user p"
    assert scrub(text) == "sent *** to port 1 as user p"
    assert scrub("xopaque-key-from-the-vault-4711x") == "xopaque-key-from-the-vault-4711x"


def test_a_database_user_and_name_equal_to_the_password_stay_readable(tmp_path: Path) -> None:
    """When the password is also the user and database name, only the URL's password part is masked."""
    from connector.settings import load_settings

    url = "postgresql://connector_owner:connector_owner@127.0.0.1:1/connector_owner?connect_timeout=2"
    settings = load_settings(None, connector_state_url=url)
    with pytest.raises(ConfigError) as info:
        store_from(settings)
    text = scrub(str(info.value))  # what the CLI prints
    assert "postgresql+psycopg://connector_owner:***@127.0.0.1:1/connector_owner?" in text
    assert "connector_owner:connector_owner" not in text and "***:" not in text


def test_the_state_password_is_masked_in_the_driver_message() -> None:
    """A password of 8 characters or more, registered when the store opens, is masked in what the driver says."""
    url = "postgresql://connector:s3cret-db-pass@127.0.0.1:1/state?connect_timeout=2"
    from connector.settings import load_settings

    with pytest.raises(ConfigError) as info:
        store_from(load_settings(None, connector_state_url=url))
    assert "s3cret-db-pass" not in str(info.value)
    assert scrub("the driver said s3cret-db-pass") == "the driver said ***"


# ---------------------------------------------------------------------------- setup's logs
def test_setup_logs_no_409_as_a_failure_and_no_created_item_at_info(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`setup` prints its own report: at INFO it logs no created item, and run again no 409 as a failure."""
    env = env_for(box, tmp_path)
    first = run_cli("setup", env=env, cwd=tmp_path)
    second = run_cli("setup", env=env, cwd=tmp_path)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    for proc in (first, second):
        events = {e["event"] for e in log_events(proc.stderr)}
        assert not events & {"api_call_failed", "hubspot_group_created", "hubspot_property_created"}, events
    assert "property group saber: exists" in second.stdout


def test_setup_logs_the_expected_409_at_debug(box: RunningSandbox, tmp_path: Path) -> None:
    """The 409 of an existing group is still logged, at debug, for whoever asks for it."""
    env = env_for(box, tmp_path)
    assert run_cli("setup", env=env, cwd=tmp_path).returncode == 0
    proc = run_cli("setup", env={**env, "CONNECTOR_LOG_LEVEL": "DEBUG"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    failed = [e for e in log_events(proc.stderr) if e["event"] == "api_call_failed"]
    assert [(e["operation"], e["status"], e["level"]) for e in failed] == [("create_group", 409, "debug")]


# ---------------------------------------------------------------------------- check
def test_check_reports_the_state_database(box: RunningSandbox, tmp_path: Path) -> None:
    """`check` opens, migrates, writes and rolls back the state database, and says so in an `ok` line."""
    env = env_for(box, tmp_path)
    prepare(settings_for(box, tmp_path, Path(env["CONNECTOR_MAPPING"])))
    proc = run_cli("check", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok       state database sqlite:///{tmp_path / 'state.db'}" in proc.stdout.splitlines()
    with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert store.get_cursor("connector.write-probe") is None  # rolled back


def test_check_reports_a_state_database_it_cannot_write(box: RunningSandbox, tmp_path: Path) -> None:
    """A read-only state database is a PROBLEM line naming CONNECTOR_STATE_URL (exit 2); the APIs are still checked."""
    path = tmp_path / "state.db"
    StateStore(f"sqlite:///{path}").close()
    env = env_for(box, tmp_path, CONNECTOR_STATE_URL=f"sqlite:///file:{path}?mode=ro&uri=true")
    prepare(settings_for(box, tmp_path, Path(env["CONNECTOR_MAPPING"])))
    proc = run_cli("check", env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problems = [line for line in proc.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1 and problems[0].startswith(
        "PROBLEM  CONNECTOR_STATE_URL: cannot open and write the state database "
    ), problems
    assert "attempt to write a readonly database" in problems[0]
    assert any(line.startswith("ok       Saber at ") for line in proc.stdout.splitlines())
    assert "Traceback" not in proc.stderr


def test_log_lines_follow_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logs go to whatever sys.stderr is when they are written (the progress bar's proxy on a terminal)."""
    import io

    from connector.logs import configure_logging, get_logger

    configure_logging("INFO", "json")
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    get_logger("test").info("after the swap")
    assert "after the swap" in swapped.getvalue()
    configure_logging("WARNING", "console")
