"""The service's metrics: what a cycle's summary moves, and the API observer hook in the call policy."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connector import http_policy
from connector.errors import RecordFailure
from connector.http_policy import Action, Caller, CallPolicy, Verdict, add_observer, remove_observer
from connector.logs import get_logger
from connector.saber import SaberClient, SaberError, SaberNotFound, SaberUnavailable
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.saber import SaberSandbox
from connector.service.metrics import Metrics
from connector.sync.summary import RunSummary
from tests.hubspot_fixtures import fast_adapter

P = "saber_connector_"
FAST = CallPolicy(backoff_base=0.01, max_backoff=0.05, max_attempts=3)

EXPECTED_NAMES = {
    "cycles_total",
    "cycle_duration_seconds",
    "contacts_written_total",
    "contacts_skipped_total",
    "record_failures_total",
    "research_total",
    "research_pending",
    "signals_pending",
    "signals_asked_total",
    "credits_used_total",
    "credits_left",
    "api_requests_total",
    "api_retries_total",
    "webhooks_total",
    "last_success_timestamp_seconds",
}


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(P + name, labels)


def summary(**fields: Any) -> RunSummary:
    return RunSummary(started_at=datetime.now(UTC), **fields)


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    m = Metrics()
    yield m
    m.uninstall()


# ------------------------------------------------------------------------------ the registry
def test_every_metric_is_exposed_with_the_prefix(metrics: Metrics) -> None:
    """The exposition declares every documented metric, all prefixed `saber_connector_`, and parses as Prometheus text."""
    text = metrics.exposition().decode()
    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert all(name.startswith(P) for name in declared)
    assert {P + name for name in EXPECTED_NAMES} <= declared
    assert {f.name for f in text_string_to_metric_families(text)} >= {P + "cycles", P + "credits_left"}


def test_each_metrics_has_a_registry_of_its_own() -> None:
    """Two `Metrics` do not share counts, and neither touches the process-wide registry."""
    from prometheus_client import REGISTRY

    first, second = Metrics(), Metrics()
    first.webhook("accepted")
    assert value(first, "webhooks_total", outcome="accepted") == 1
    assert value(second, "webhooks_total", outcome="accepted") == 0
    assert REGISTRY.get_sample_value(P + "webhooks_total", {"outcome": "accepted"}) is None


def test_series_exist_at_zero_before_anything_happens(metrics: Metrics) -> None:
    """Cycle, research and webhook series start at zero, so rates and alerts work from the first scrape."""
    assert value(metrics, "cycles_total", kind="full", outcome="failed") == 0
    assert value(metrics, "cycles_total", kind="collect", outcome="ok") == 0
    assert value(metrics, "research_total", event="completed") == 0
    assert value(metrics, "webhooks_total", outcome="too_large") == 0
    assert value(metrics, "last_success_timestamp_seconds") == 0
    credits = value(metrics, "credits_left")
    assert credits is not None and credits != credits  # NaN: not read yet


# ------------------------------------------------------------------------------ cycles
def test_a_cycle_summary_moves_every_counter(metrics: Metrics) -> None:
    """A finished cycle's summary adds its writes, skips, failures, research, signals and credits."""
    s = summary(
        contacts_written=7,
        skipped=Counter({"missing_input": 3, "filtered": 2}),
        research=Counter({"launched": 4, "adopted": 1, "completed": 5, "failed": 2, "would_launch": 9}),
        pending=6,
        signals_asked=8,
        credits_used=12,
        credits_left=988,
    )
    s.fail(RecordFailure("51", "saber_email", "INVALID_OPTION", "no option"))
    before = time.time()
    metrics.cycle_finished("full", "partial", 2.5, s)
    assert value(metrics, "cycles_total", kind="full", outcome="partial") == 1
    assert value(metrics, "cycle_duration_seconds_count", kind="full") == 1
    assert value(metrics, "cycle_duration_seconds_sum", kind="full") == 2.5
    assert value(metrics, "contacts_written_total") == 7
    assert value(metrics, "contacts_skipped_total", reason="missing_input") == 3
    assert value(metrics, "contacts_skipped_total", reason="filtered") == 2
    assert value(metrics, "record_failures_total") == 1
    assert [
        value(metrics, "research_total", event=e) for e in ("launched", "adopted", "completed", "failed")
    ] == [
        4,
        1,
        5,
        2,
    ]
    assert value(metrics, "research_total", event="would_launch") is None
    assert value(metrics, "research_pending") == 6
    assert value(metrics, "signals_asked_total") == 8
    assert value(metrics, "credits_used_total") == 12
    assert value(metrics, "credits_left") == 988
    assert (value(metrics, "last_success_timestamp_seconds") or 0) >= before


def test_cycles_add_up_and_gauges_follow_the_last(metrics: Metrics) -> None:
    """Counters add up over cycles while pending and credits left show the latest cycle's figure."""
    metrics.cycle_finished("full", "ok", 1.0, summary(contacts_written=2, pending=5, credits_left=100))
    metrics.cycle_finished("collect", "ok", 0.2, summary(contacts_written=3, pending=1))
    assert value(metrics, "contacts_written_total") == 5
    assert value(metrics, "research_pending") == 1
    assert value(metrics, "credits_left") == 100  # the collect did not read the balance
    assert value(metrics, "cycles_total", kind="collect", outcome="ok") == 1


def test_only_ok_and_partial_cycles_set_the_last_success(metrics: Metrics) -> None:
    """A failed, interrupted or skipped cycle leaves the last success time where it was."""
    for outcome in ("failed", "interrupted", "skipped"):
        metrics.cycle_finished("full", outcome, 0.1, None)
    assert value(metrics, "last_success_timestamp_seconds") == 0
    metrics.cycle_finished("collect", "ok", 0.1, None)
    assert (value(metrics, "last_success_timestamp_seconds") or 0) > 0
    assert value(metrics, "cycles_total", kind="full", outcome="failed") == 1
    assert value(metrics, "cycles_total", kind="full", outcome="skipped") == 1
    assert value(metrics, "cycle_duration_seconds_count", kind="full") == 2  # a skipped cycle did not run


def test_a_cycle_without_a_summary_or_a_dry_run_counts_only_as_a_cycle(metrics: Metrics) -> None:
    """A cycle that failed before it had a summary, or a dry run, moves only the cycle metrics."""
    metrics.cycle_finished("full", "failed", 0.3, None)
    metrics.cycle_finished("full", "ok", 0.3, summary(dry_run=True, contacts_written=4, credits_used=9))
    assert value(metrics, "cycles_total", kind="full", outcome="failed") == 1
    assert value(metrics, "contacts_written_total") == 0
    assert value(metrics, "credits_used_total") == 0


# ------------------------------------------------------------------------------ the observer hook
class Flaky:
    """An attempt that fails with the given errors first, then returns `result`."""

    def __init__(self, *errors: BaseException, result: Any = "done") -> None:
        self.errors = list(errors)
        self.result = result

    def __call__(self) -> Any:
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def classify(exc: BaseException) -> Verdict:
    status = getattr(exc, "status", None)
    if status is None or status >= 500:
        return Verdict(Action.BACKOFF, "transient")
    return Verdict(Action.FAIL, "refused")


def caller() -> Caller:
    return Caller("saber", FAST, classify, SaberError, get_logger("test"), sleep=lambda _: None)


@pytest.fixture
def seen() -> Iterator[list[tuple[str, str, int | None, bool]]]:
    calls: list[tuple[str, str, int | None, bool]] = []

    def observer(api: str, operation: str, status: int | None, retried: bool) -> None:
        calls.append((api, operation, status, retried))

    add_observer(observer)
    yield calls
    remove_observer(observer)


def test_the_observer_sees_each_attempt_and_whether_it_is_retried(seen: list[Any]) -> None:
    """Each attempt is reported once: a retried 503, then the success (as 200), each with its retry flag."""
    assert caller().call("credits", Flaky(SaberUnavailable("down", status=503))) == "done"
    assert seen == [("saber", "credits", 503, True), ("saber", "credits", 200, False)]


def test_the_observer_sees_the_last_failed_attempt_as_not_retried(seen: list[Any]) -> None:
    """A refused call and a call whose retries ran out end with an attempt reported as not retried."""
    with pytest.raises(SaberNotFound):
        caller().call("get_research", Flaky(SaberNotFound("gone", status=404)))
    failing = Flaky(*(SaberUnavailable("down", status=502) for _ in range(3)))
    with pytest.raises(SaberUnavailable):
        caller().call("credits", failing)
    assert seen == [
        ("saber", "get_research", 404, False),
        ("saber", "credits", 502, True),
        ("saber", "credits", 502, True),
        ("saber", "credits", 502, False),
    ]


def test_the_observer_reports_no_status_for_a_transport_failure(seen: list[Any]) -> None:
    """An attempt that got no answer is reported with status None."""
    with pytest.raises(SaberUnavailable):
        caller().call("credits", Flaky(*(SaberUnavailable("no answer") for _ in range(3))))
    assert [s[2] for s in seen] == [None, None, None]
    assert [s[3] for s in seen] == [True, True, False]


def test_an_observer_that_raises_never_breaks_the_call(seen: list[Any]) -> None:
    """A broken observer is logged and skipped; the call and the other observers carry on."""

    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    add_observer(broken)
    try:
        assert caller().call("credits", Flaky()) == "done"
    finally:
        remove_observer(broken)
    assert seen == [("saber", "credits", 200, False)]


def test_observers_are_added_once_and_removed_quietly() -> None:
    """Adding an observer twice registers it once; removing one never added does nothing."""
    metrics = Metrics()
    metrics.install()
    metrics.install()
    try:
        assert sum(1 for o in http_policy._observers if o == metrics.observe_api) == 1
    finally:
        metrics.uninstall()
        metrics.uninstall()
    assert metrics.observe_api not in http_policy._observers


# ------------------------------------------------------------------------------ real clients
def test_metrics_count_real_saber_calls_and_retries(metrics: Metrics) -> None:
    """Installed metrics count a real SaberClient's calls against the sandbox by status, and its retries."""
    metrics.install()
    with SaberSandbox(research_delay=0.05) as box:
        box.fail_next(1, 503, endpoint="credits")
        with SaberClient(box.url, box.api_key, policy=FAST, requests_per_second=1000) as saber:
            assert saber.credits() == box.credits_left
            assert saber.find_research("nobody", "hubspot") is None
            metrics.uninstall()
            saber.credits()  # no longer counted
    assert value(metrics, "api_requests_total", service="saber", operation="credits", status="503") == 1
    assert value(metrics, "api_requests_total", service="saber", operation="credits", status="200") == 1
    assert value(metrics, "api_requests_total", service="saber", operation="find_research", status="404") == 1
    assert value(metrics, "api_retries_total", service="saber") == 1
    assert value(metrics, "api_retries_total", service="hubspot") == 0


def test_metrics_count_a_refused_connection_with_status_none(metrics: Metrics) -> None:
    """A Saber URL where nothing listens is counted once, with status `none`, and not as a retry."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.install()
    with (
        SaberClient(f"http://127.0.0.1:{port}", "sk_live_x", policy=FAST) as saber,
        pytest.raises(SaberError),
    ):
        saber.credits()
    assert value(metrics, "api_requests_total", service="saber", operation="credits", status="none") == 1
    assert value(metrics, "api_retries_total", service="saber") == 0


def test_metrics_count_real_hubspot_calls(metrics: Metrics) -> None:
    """The HubSpot adapter's calls are counted the same way, under service `hubspot`."""
    metrics.install()
    with HubSpotSandbox(requests_per_10s=10_000, searches_per_second=1_000) as box:
        adapter = fast_adapter(box)
        try:
            adapter.get_properties()
        finally:
            adapter.close()
    assert (
        value(metrics, "api_requests_total", service="hubspot", operation="get_properties", status="200") == 1
    )
