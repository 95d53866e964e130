"""`saber-connector run` as users run it: a subprocess against the sandbox, over real HTTP."""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import Knobs
from connector.state import StateStore
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.support import run_cli
from tests.sync_harness import TIME_DEPENDENT, portal_values, sandbox_env, wait_until, write_mapping

pytestmark = pytest.mark.slow


@contextmanager
def service(box: RunningSandbox, tmp_path: Path, **env: str) -> Iterator[Service]:
    """`saber-connector run` with a short schedule against this sandbox; stopped with SIGTERM at the end."""
    mapping = tmp_path / "mapping.yaml"
    if not mapping.exists():
        write_mapping(tmp_path)
    port = int(env.get("CONNECTOR_HTTP_PORT") or free_port())
    values = sandbox_env(box, tmp_path, mapping)
    values.update(http_env(port))
    values.update(
        {
            "CONNECTOR_SCHEDULE": "3s",
            "CONNECTOR_COLLECT_INTERVAL": "1s",
            "CONNECTOR_BACKOFF_INITIAL_SECONDS": "1",
        }
    )
    values.update(env)
    with kit.running(values, tmp_path, tmp_path / f"run-{port}.log") as proc:
        running = Service(proc, port)
        wait_until(running.started, timeout=30)
        yield running


def test_run_cycles_and_its_endpoints(tmp_path: Path) -> None:
    """`run` sets the portal up, runs full and collect cycles, and /healthz, /readyz and /metrics say so."""
    with start_sandbox(contacts=20, seed=3, research_delay=0.5) as box, service(box, tmp_path) as run:
        assert run.get("/healthz").json() == {"status": "ok"}
        wait_until(lambda: run.cycles_through("collect") >= 2, timeout=30)
        wait_until(lambda: run.cycles_through("full") >= 2, timeout=30)
        ready = run.ready()
        assert run.get("/readyz").status_code == 200 and ready["ready"] is True
        assert ready["last_cycle"]["outcome"] in ("ok", "partial")
        # The properties were created at start (no separate `setup`) and answers landed.
        researched = [r["externalId"] for r in box.saber.all_research()]
        assert researched
        wait_until(
            lambda: all(
                box.hubspot.contact(cid).get("saber_research_status") == "completed" for cid in researched
            ),
            timeout=30,
        )
        assert run.metric("saber_connector_research_total", event="launched") == len(researched)
        assert run.metric("saber_connector_last_success_timestamp_seconds") > 0
        launches = re.search(
            r'saber_connector_api_requests_total\{operation="create_research",service="saber",status="20\d"\} (\S+)',
            run.get("/metrics").text,
        )
        assert launches and float(launches.group(1)) >= len(researched)
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=30) == 0


def test_sigterm_mid_cycle_exits_0_and_a_restart_pays_and_writes_nothing_twice(tmp_path: Path) -> None:
    """SIGTERM during a cycle exits 0 within the timeout; the next start finishes the job without repeats."""
    slow = Knobs(latency=0.05)
    with start_sandbox(contacts=40, seed=3, research_delay=1.0, saber_knobs=slow) as box:
        with service(box, tmp_path, CONNECTOR_CONCURRENCY="2", CONNECTOR_SCHEDULE="1h") as run:
            wait_until(lambda: box.saber.count("research_create") >= 3, timeout=30)
            started = time.monotonic()
            run.proc.send_signal(signal.SIGTERM)
            assert run.proc.wait(timeout=30) == 0
            assert time.monotonic() - started < 25  # CONNECTOR_SHUTDOWN_TIMEOUT's default
        launched_before = Counter(r["externalId"] for r in box.saber.all_research())
        assert set(launched_before.values()) == {1}
        with StateStore(f"sqlite:///{tmp_path / 'state.db'}") as store:
            assert store.last_runs(1)[0].outcome == "interrupted"
            assert store.engine.dialect.name == "sqlite"
        with service(box, tmp_path, CONNECTOR_SCHEDULE="1h") as again:
            wait_until(
                lambda: again.ready().get("last_cycle") and again.ready()["last_cycle"]["kind"] == "full",
                timeout=60,
            )
            pending = lambda: StateStore(f"sqlite:///{tmp_path / 'state.db'}")  # noqa: E731
            wait_until(lambda: _done(pending()), timeout=60)
        after = Counter(r["externalId"] for r in box.saber.all_research())
        assert set(after.values()) == {1} and set(launched_before) <= set(after)  # nobody paid for twice
        updates = Counter(
            cid for r in box.hubspot.requests_to("contacts_batch_update") for cid in _ids(r.body)
        )
        assert updates and max(updates.values()) == 1  # each contact written once


def _done(store: StateStore) -> bool:
    try:
        return store.count_pending() == 0 and not store.count_write_pending()
    finally:
        store.close()


def _ids(body: dict) -> list[str]:
    return [str(item["id"]) for item in (body or {}).get("inputs", [])]


def test_webhook_brings_a_result_to_hubspot_before_the_next_poll(tmp_path: Path) -> None:
    """With CONNECTOR_PUBLIC_URL set and hour-long polling, a finished research lands through its webhook."""
    port = free_port()
    with start_sandbox(contacts=12, seed=3, research_delay=2.0) as box:
        env = {
            "CONNECTOR_HTTP_PORT": str(port),
            "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CONNECTOR_POLL_MIN_SECONDS": "3600",
            "CONNECTOR_SCHEDULE": "1h",
        }
        with service(box, tmp_path, **env) as run:
            launches = wait_until(lambda: box.saber.requests_to("research_create"), timeout=30)
            hook = launches[0].body["webhookUrl"]
            assert hook.startswith(f"http://127.0.0.1:{port}/webhooks/saber/")
            researched = [r["externalId"] for r in box.saber.all_research()]
            wait_until(
                lambda: all(
                    box.hubspot.contact(c).get("saber_research_status") == "completed" for c in researched
                ),
                timeout=20,
            )
            assert box.saber.webhook_deliveries and {d["status"] for d in box.saber.webhook_deliveries} == {
                202
            }
            # Bad notifications are refused while the service keeps answering.
            secret = hook.rsplit("/", 1)[1]
            assert httpx.post(f"{run.url}/webhooks/saber/wrong", json={"id": "x"}).status_code == 404
            assert httpx.post(f"{run.url}/webhooks/saber/{secret}", content=b"{not json").status_code == 400
            assert httpx.post(f"{run.url}/webhooks/saber/{secret}", json={"id": "nope"}).status_code == 202
            assert run.get("/healthz").status_code == 200
            assert run.metric("saber_connector_webhooks_total", outcome="accepted") >= len(researched)
        log = next(tmp_path.glob("run-*.log")).read_text()
        assert secret not in log  # the secret is never logged


def test_a_signal_webhook_brings_its_answer_to_hubspot_before_the_next_poll(tmp_path: Path) -> None:
    """With CONNECTOR_PUBLIC_URL set and hour-long polling, a contact signal asked with a webhookUrl
    reports back when done, and its answer lands on the contacts waiting for it."""
    port = free_port()
    others = [{"question": "What does this person post about?", "answerType": "open_text"}]
    with start_sandbox(
        contacts=12, seed=3, research_delay=1.0, signal_delay=1.0, result_questions=others
    ) as box:
        box.saber.null_answer_rate = 0.0
        env = {
            "CONNECTOR_HTTP_PORT": str(port),
            "CONNECTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CONNECTOR_POLL_MIN_SECONDS": "3600",
            "CONNECTOR_SCHEDULE": "1h",
        }
        with service(box, tmp_path, **env):
            asks = wait_until(lambda: box.saber.requests_to("contact_signal_create"), timeout=30)
            assert asks[0].body["webhookUrl"].startswith(f"http://127.0.0.1:{port}/webhooks/saber/")
            researched = [r["externalId"] for r in box.saber.all_research()]
            wait_until(
                lambda: all(
                    box.hubspot.contact(c).get("saber_runs_kubernetes") is not None for c in researched
                ),
                timeout=30,
            )
            assert any("signal_id" in d for d in box.saber.webhook_deliveries)
            # One look per signal, on its webhook's hint: no poll (the next one is an hour away).
            assert box.saber.count("contact_signal_get") == len(box.saber.signals("contact", created=True))


def test_a_refused_key_makes_run_back_off_and_report_not_ready(tmp_path: Path) -> None:
    """With a key Saber refuses, `run` stays up, says why it is not ready, and does not hammer Saber."""
    with (
        start_sandbox(contacts=10, seed=3) as box,
        service(box, tmp_path, SABER_API_KEY="sk_test_refusedrefusedrefused", CONNECTOR_SCHEDULE="1s") as run,
    ):
        wait_until(lambda: run.get("/readyz").status_code == 503, timeout=30)
        reason = run.ready()["reason"]
        assert "SABER_API_KEY" in reason and "paused" in reason
        first = box.saber.count()
        time_window = time.monotonic()
        wait_until(lambda: time.monotonic() - time_window > 4, timeout=10, interval=0.5)
        # Paused for 1 s, then 2 s, 4 s...: a handful of calls, not one per second per contact.
        assert box.saber.count() - first <= 10
        assert run.proc.poll() is None and run.get("/healthz").status_code == 200


def test_invalid_schedule_is_a_configuration_error(tmp_path: Path) -> None:
    """A CONNECTOR_SCHEDULE that is neither cron nor an interval stops `run` with exit 2 and one line."""
    with start_sandbox(contacts=1) as box:
        env = sandbox_env(box, tmp_path, write_mapping(tmp_path))
        env["CONNECTOR_SCHEDULE"] = "every 15 minutes"
        proc = run_cli("run", env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "CONNECTOR_SCHEDULE" in proc.stderr and "cron" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.postgres
def test_two_replicas_on_postgresql_research_each_contact_once(tmp_path: Path, pg_url: str) -> None:
    """Two `run` processes on one database and portal research every contact once; killing one leaves the other going."""
    props = [p for p in ("saber_summary", "saber_research_status") if p not in TIME_DEPENDENT]
    with start_sandbox(contacts=30, seed=3, research_delay=0.5, saber_knobs=Knobs(latency=0.02)) as box:
        env = {"CONNECTOR_STATE_URL": pg_url, "CONNECTOR_SCHEDULE": "2s"}
        with service(box, tmp_path, **env) as one, service(box, tmp_path, **env) as two:
            wait_until(lambda: box.saber.count("research_create") >= 2, timeout=30)
            os.kill(one.proc.pid, signal.SIGKILL)
            one.proc.wait(timeout=10)
            wait_until(lambda: _all_done(box), timeout=90)
            wait_until(lambda: two.cycles_through("full") >= 1, timeout=30)
            statuses = {v.get("saber_research_status") for v in portal_values(box, props).values()}
            assert statuses <= {None, "completed", "failed"}
            assert two.get("/readyz").status_code == 200
        created = Counter(r["externalId"] for r in box.saber.all_research())
        assert created and set(created.values()) == {1}


def _all_done(box: RunningSandbox) -> bool:
    """Every research Saber holds has finished, and its status landed on its HubSpot contact."""
    research = box.saber.all_research()
    return bool(research) and all(
        r["status"] in ("completed", "failed")
        and box.hubspot.contact(r["externalId"]).get("saber_research_status") == r["status"]
        for r in research
    )


def test_without_setup_on_start_a_missing_property_keeps_run_not_ready(tmp_path: Path) -> None:
    """With CONNECTOR_SETUP_ON_START=false on a portal lacking the mapped properties, `run` is not ready, says why, spends nothing."""
    with (
        start_sandbox(contacts=10, seed=3) as box,
        service(box, tmp_path, CONNECTOR_SETUP_ON_START="false") as run,
    ):
        wait_until(lambda: run.get("/readyz").status_code == 503, timeout=30)
        assert "saber-connector setup" in run.ready()["reason"]
        assert run.get("/healthz").status_code == 200
        assert box.saber.count() == 0 and "saber_summary" not in box.hubspot.property_names()
