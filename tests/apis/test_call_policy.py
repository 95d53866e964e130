"""The call policy both API clients share: classification, back-off, Retry-After, the caps, counters, logs."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import tenacity
from structlog.testing import capture_logs

from connector.clients import hubspot_from, policy_from, saber_from
from connector.http_policy import (
    FAILED_EVENT,
    RETRIED_EVENT,
    Action,
    CallCounters,
    Caller,
    CallPolicy,
    Verdict,
    parse_retry_after,
    retrying,
)
from connector.hubspot import DailyLimitReached, HubSpotError
from connector.hubspot import retry as hubspot_retry
from connector.logs import get_logger
from connector.saber import SaberError, SaberRateLimited, SaberRequestError, SaberUnavailable
from connector.saber import retry as saber_retry
from connector.settings import load_settings

NOW = datetime(2024, 1, 15, 10, 30, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Tenacity measures a call's age with `time.monotonic`; point it at a fake clock for the test."""
    fake = FakeClock()
    monkeypatch.setattr(tenacity, "time", fake)
    return fake


def always(error: Exception, calls: list[int]) -> Any:
    def attempt() -> None:
        calls.append(1)
        raise error

    return attempt


# ------------------------------------------------------------------------------ classification
def test_the_saber_status_table() -> None:
    """Saber: 429 waits as told, 5xx/408/no answer back off, other 4xx (and 501) fail."""
    assert saber_retry.action_for(429) is Action.RETRY_AFTER
    assert [saber_retry.action_for(s) for s in (None, 408, 500, 502, 503, 504)] == [Action.BACKOFF] * 6
    assert [saber_retry.action_for(s) for s in (400, 401, 402, 403, 404, 409, 422, 501)] == [Action.FAIL] * 8


@pytest.mark.parametrize(
    ("error", "action", "wait"),
    [
        (SaberRateLimited("x", status=429, retry_after=3.0), Action.RETRY_AFTER, 3.0),
        (SaberRateLimited("x", status=429), Action.RETRY_AFTER, None),
        (SaberUnavailable("x", status=503, retry_after=2.0), Action.BACKOFF, 2.0),
        (SaberUnavailable("x", status=502), Action.BACKOFF, None),
        (SaberUnavailable("ConnectError", code="TRANSPORT_ERROR"), Action.BACKOFF, None),
        (SaberRequestError("InvalidURL", code="REQUEST_ERROR"), Action.FAIL, None),
        (SaberError("x", status=400), Action.FAIL, None),
        (SaberError("x", status=404), Action.FAIL, None),
        (ValueError("x"), Action.FAIL, None),
    ],
)
def test_saber_classification(error: BaseException, action: Action, wait: float | None) -> None:
    """Saber errors map to an action, carrying the server's hint (body or Retry-After) as the wait."""
    verdict = saber_retry.classify(error)
    assert verdict.action is action
    if action is not Action.FAIL:
        assert verdict.wait == wait


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (HubSpotError("x", status=429, policy_name="TEN_SECONDLY_ROLLING"), Action.RETRY_AFTER),
        (HubSpotError("x", status=429, policy_name="SECONDLY"), Action.RETRY_AFTER),
        (HubSpotError("x", status=429), Action.RETRY_AFTER),
        (DailyLimitReached("x", status=429, policy_name="DAILY"), Action.FAIL),
        (HubSpotError("x", status=500), Action.BACKOFF),
        (HubSpotError("x", status=504), Action.BACKOFF),
        (HubSpotError("x", status=408), Action.BACKOFF),
        (HubSpotError("x", status=423), Action.BACKOFF),
        (HubSpotError("x", status=425), Action.BACKOFF),
        (HubSpotError("x", transport=True), Action.BACKOFF),
        (HubSpotError("x", status=400), Action.FAIL),
        (HubSpotError("x", status=401), Action.FAIL),
        (HubSpotError("x", status=404), Action.FAIL),
        (HubSpotError("x", status=409), Action.FAIL),
        (ValueError("x"), Action.FAIL),
    ],
)
def test_hubspot_classification(error: BaseException, action: Action) -> None:
    """HubSpot: 429 waits, 5xx/408/423/425 and transport back off, DAILY and other 4xx fail."""
    assert hubspot_retry.classify(error).action is action


def test_hubspot_rate_limit_waits_fall_back_to_each_policys_window() -> None:
    """Without Retry-After or an interval header, SECONDLY waits 1 s and ten-secondly 10 s."""
    classify = hubspot_retry.classify
    assert classify(HubSpotError("x", status=429, policy_name="SECONDLY")).wait == 1.0
    assert classify(HubSpotError("x", status=429, policy_name="TEN_SECONDLY_ROLLING")).wait == 10.0
    assert classify(HubSpotError("x", status=429, interval_ms=2500)).wait == 2.5
    assert classify(HubSpotError("x", status=429, retry_after=3, interval_ms=10000)).wait == 3
    assert classify(HubSpotError("x", status=503, retry_after=7)).wait == 7


# ------------------------------------------------------------------------------ back-off
def test_backoff_grows_is_capped_and_honours_hints() -> None:
    """Back-off doubles per attempt up to the cap; a 429 hint is waited at least, capped at max_backoff."""
    policy = CallPolicy(backoff_base=1.0, max_backoff=8.0)
    rng = random.Random(1)
    assert 0.5 <= policy.backoff(1, rng) <= 1.0 and 2.0 <= policy.backoff(3, rng) <= 4.0
    assert 4.0 <= policy.backoff(10, rng) <= 8.0
    throttled = saber_retry.classify(SaberRateLimited("slow down", status=429, retry_after=3.0))
    assert 3.0 <= policy.wait_for(throttled, 1, rng) <= 3.3
    too_long = saber_retry.classify(SaberRateLimited("x", status=429, retry_after=100.0))
    assert policy.wait_for(too_long, 1, rng) == 8.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8, 30, 1000])
def test_backoff_is_equal_jitter_within_bounds(attempt: int) -> None:
    """Each wait lies in [step/2, step] where step = base·2^(attempt-1) capped at max_backoff."""
    policy = CallPolicy(backoff_base=0.5, max_backoff=60.0)
    step = min(60.0, 0.5 * 2 ** (min(attempt, 64) - 1))
    rng = random.Random(attempt)
    waits = [policy.backoff(attempt, rng) for _ in range(200)]
    assert all(step / 2 <= w <= step for w in waits)
    assert max(waits) - min(waits) > step / 4  # it is jittered, not a constant


def test_a_seeded_rng_gives_the_same_waits() -> None:
    """With the same seed the jitter repeats exactly, so a failing schedule can be replayed."""
    policy = CallPolicy()
    verdicts = [
        Verdict(Action.BACKOFF, ""),
        Verdict(Action.RETRY_AFTER, "", 2.0),
        Verdict(Action.BACKOFF, "", 9),
    ]
    runs = []
    for _ in range(2):
        rng = random.Random(42)
        runs.append([policy.wait_for(v, n, rng) for n in range(1, 6) for v in verdicts])
    assert runs[0] == runs[1]


def test_a_hint_is_obeyed_with_at_most_ten_percent_jitter() -> None:
    """A RETRY_AFTER hint is waited at least as given and at most 10% longer (under the cap)."""
    policy = CallPolicy(max_backoff=60.0)
    rng = random.Random(3)
    waits = [policy.wait_for(Verdict(Action.RETRY_AFTER, "", 10.0), 1, rng) for _ in range(200)]
    assert all(10.0 <= w <= 11.0 for w in waits) and len(set(waits)) > 1


def test_a_hint_longer_than_max_backoff_is_capped() -> None:
    """Asked for more than max_backoff, the wait is exactly max_backoff: never less, never more."""
    policy = CallPolicy(max_backoff=5.0)
    rng = random.Random(4)
    assert policy.wait_for(Verdict(Action.RETRY_AFTER, "", 30.0), 1, rng) == 5.0
    assert policy.wait_for(Verdict(Action.BACKOFF, "", 30.0), 1, rng) == 5.0


def test_a_5xx_hint_is_a_floor_for_the_backoff() -> None:
    """A 5xx with Retry-After backs off as usual but never comes back sooner than the hint."""
    policy = CallPolicy(backoff_base=0.5, max_backoff=60.0)
    rng = random.Random(5)
    assert all(policy.wait_for(Verdict(Action.BACKOFF, "", 4.0), 1, rng) == 4.0 for _ in range(50))
    assert all(8.0 <= policy.wait_for(Verdict(Action.BACKOFF, "", 4.0), 6, rng) <= 16.0 for _ in range(50))


def test_a_429_without_a_hint_backs_off() -> None:
    """RETRY_AFTER with no hint at all falls back to the exponential back-off."""
    policy = CallPolicy(backoff_base=2.0, max_backoff=60.0)
    rng = random.Random(6)
    assert all(1.0 <= policy.wait_for(Verdict(Action.RETRY_AFTER, ""), 1, rng) <= 2.0 for _ in range(50))


@pytest.mark.parametrize(
    "changes",
    [
        {"max_attempts": 0},
        {"backoff_base": 0},
        {"max_backoff": -1},
        {"max_call_seconds": 0},
        {"read_timeout": 0},
    ],
)
def test_a_policy_that_could_never_work_is_refused(changes: dict[str, Any]) -> None:
    """Zero attempts or non-positive waits, caps or timeouts are a ValueError at construction."""
    with pytest.raises(ValueError):
        CallPolicy(**changes)


# ------------------------------------------------------------------------------ Retry-After
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("0.25", 0.25),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Mon, 15 Jan 2024 10:30:45 GMT", 45.0),
        ("Mon, 15 Jan 2024 10:29:00 GMT", 0.0),  # already past: go now
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("Mon, 99 Foo 2024", None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Delta-seconds (fractions too) or an HTTP date against an injected now; anything else is None."""
    assert parse_retry_after(value, now=NOW) == seconds


def test_both_error_parsers_read_retry_after_the_same_way() -> None:
    """Saber's and HubSpot's error parsers both take fractions and HTTP dates from Retry-After."""
    from connector.hubspot.errors import error_from_response
    from connector.saber.errors import parse_error

    for value, seconds in (("0.5", 0.5), ("inf", None), ("garbage", None)):
        headers = {"retry-after": value}
        assert parse_error(503, b"", headers).retry_after == seconds
        assert error_from_response(503, b"", headers).retry_after == seconds


# ------------------------------------------------------------------------------ the caps
def test_the_attempt_budget_stops_retrying(clock: FakeClock) -> None:
    """With time to spare, a call that keeps failing is tried exactly max_attempts times."""
    policy = CallPolicy(max_attempts=3, backoff_base=1.0, max_backoff=1.0, max_call_seconds=300)
    calls: list[int] = []
    with pytest.raises(SaberUnavailable):
        retrying(policy, saber_retry.classify, sleep=clock.sleep)(
            always(SaberUnavailable("x", status=503), calls)
        )
    assert len(calls) == 3 and len(clock.slept) == 2


def test_the_total_time_cap_stops_retrying(clock: FakeClock) -> None:
    """A call gets no wait that would take it past max_call_seconds, however many attempts are left."""
    policy = CallPolicy(max_attempts=20, backoff_base=10.0, max_backoff=10.0, max_call_seconds=30.0)
    calls: list[int] = []
    started = clock.now
    with pytest.raises(SaberUnavailable):
        retryer = retrying(policy, saber_retry.classify, sleep=clock.sleep, rng=random.Random(7))
        retryer(always(SaberUnavailable("x", status=503), calls))
    elapsed = clock.now - started
    assert 20.0 <= elapsed < 30.0  # the next wait (5-10 s) would have crossed the cap
    assert 4 <= len(calls) <= 6 < policy.max_attempts
    assert len(clock.slept) == len(calls) - 1


def test_the_total_time_cap_also_bounds_server_asked_waits(clock: FakeClock) -> None:
    """Throttled again and again with a long hint, the call gives up rather than wait past the cap."""
    policy = CallPolicy(max_attempts=50, max_backoff=60.0, max_call_seconds=100.0)
    calls: list[int] = []
    with pytest.raises(HubSpotError):
        retrying(policy, hubspot_retry.classify, sleep=clock.sleep)(
            always(HubSpotError("x", status=429, retry_after=45.0), calls)
        )
    assert len(calls) == 3 and len(clock.slept) == 2 and all(45.0 <= s <= 49.5 for s in clock.slept)


def test_a_fail_verdict_is_not_retried(clock: FakeClock) -> None:
    """What the classifier says FAIL to is raised after the first attempt, with no wait."""
    calls: list[int] = []
    with pytest.raises(DailyLimitReached):
        retrying(CallPolicy(), hubspot_retry.classify, sleep=clock.sleep)(
            always(DailyLimitReached("x", status=429, policy_name="DAILY"), calls)
        )
    assert len(calls) == 1 and clock.slept == []


# ------------------------------------------------------------------------------ counters and logs
def flaky(failures: list[Exception], result: str = "ok") -> Any:
    """An attempt function that raises each of `failures` in turn, then returns `result`."""
    queue = list(failures)

    def attempt() -> str:
        if queue:
            raise queue.pop(0)
        return result

    return attempt


def test_counters_count_calls_and_retries_per_operation(clock: FakeClock) -> None:
    """Every attempt is a call and every wait a retry, per operation; successes count once."""
    caller = Caller(
        "saber", CallPolicy(), saber_retry.classify, SaberError, get_logger("test"), sleep=clock.sleep
    )
    assert caller.call("credits", flaky([SaberUnavailable("x", status=503)] * 2)) == "ok"
    assert caller.call("credits", flaky([])) == "ok"
    assert caller.call("get_research", flaky([SaberRateLimited("x", status=429, retry_after=1)])) == "ok"
    assert caller.counters.calls == {"credits": 4, "get_research": 2}
    assert caller.counters.retries == {"credits": 2, "get_research": 1}


def test_counters_are_exact_under_threads() -> None:
    """Bumped from many threads at once, the counters lose nothing."""
    counters = CallCounters()

    def bump() -> None:
        for _ in range(2_000):
            counters.count_call("op")
            counters.count_retry("op")

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.calls["op"] == counters.retries["op"] == 16_000


def test_both_apis_log_the_same_events_with_the_same_fields(clock: FakeClock) -> None:
    """Retries and give-ups are `api_call_retried`/`api_call_failed` with one set of fields for either API."""
    log = get_logger("t")
    saber = Caller(
        "saber", CallPolicy(max_attempts=2), saber_retry.classify, SaberError, log, sleep=clock.sleep
    )
    hubspot = Caller(
        "hubspot",
        CallPolicy(),
        hubspot_retry.classify,
        HubSpotError,
        log,
        describe=hubspot_retry.facts,
        sleep=clock.sleep,
    )
    saber_error = SaberUnavailable("down", status=503, code="INTERNAL_ERROR", request_id="req-1")
    hubspot_error = HubSpotError("down", status=503, category="INTERNAL", correlation_id="corr-1")
    with capture_logs() as logs:
        for caller, error in ((saber, saber_error), (hubspot, hubspot_error)):
            with pytest.raises(type(error)):
                caller.call("op", flaky([error] * 10))
    retried = [e for e in logs if e["event"] == RETRIED_EVENT]
    failed = [e for e in logs if e["event"] == FAILED_EVENT]
    assert [e["api"] for e in failed] == ["saber", "hubspot"] and {e["api"] for e in retried} == {
        "saber",
        "hubspot",
    }
    shared = {"api", "operation", "status", "code", "request_id", "reason", "error"}
    assert all(shared | {"attempt", "wait_seconds"} <= e.keys() for e in retried)
    assert all(shared | {"attempts"} <= e.keys() for e in failed)
    assert [(e["status"], e["code"], e["request_id"]) for e in failed] == [
        (503, "INTERNAL_ERROR", "req-1"),
        (503, "INTERNAL", "corr-1"),
    ]
    assert saber_error.attempts == 2 and hubspot_error.attempts == 6


class RecordingLog:
    """A logger that keeps (level, event) pairs, whatever the logging configuration filters."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((level, event))


@pytest.mark.parametrize(
    ("error", "expected", "level"),
    [
        (SaberError("no", status=404), True, "debug"),  # find_research's 404: an answer, not a problem
        (SaberError("no", status=400), False, "info"),  # refused at once: the caller decides
        (SaberUnavailable("down", status=503), False, "warning"),  # retryable, and the retries ran out
    ],
)
def test_a_give_up_is_logged_at_a_level_that_says_how_bad_it_is(
    clock: FakeClock, error: SaberError, expected: bool, level: str
) -> None:
    """Expected failures log at debug, refusals at info, exhausted retries at warning."""
    log = RecordingLog()
    caller = Caller(
        "saber", CallPolicy(max_attempts=2), saber_retry.classify, SaberError, log, sleep=clock.sleep
    )
    with pytest.raises(SaberError):
        caller.call("op", flaky([error] * 2), expected=(lambda e: True) if expected else None)
    assert log.lines[-1] == (level, FAILED_EVENT)


# ------------------------------------------------------------------------------ one policy from settings
def test_one_policy_is_built_from_settings_for_both_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_* settings (HTTP_MAX_CALL_SECONDS included) make one CallPolicy that both clients follow."""
    monkeypatch.setenv("HTTP_MAX_CALL_SECONDS", "42.5")
    settings = load_settings(
        None,
        hubspot_access_token="pat-x",
        saber_api_key="sk_live_x",
        http_max_attempts=3,
        http_max_backoff=7.0,
        http_connect_timeout=1.5,
        http_read_timeout=9.0,
    )
    policy = policy_from(settings)
    assert policy == CallPolicy(
        max_attempts=3, max_backoff=7.0, max_call_seconds=42.5, connect_timeout=1.5, read_timeout=9.0
    )
    with saber_from(settings, policy) as saber, hubspot_from(settings, policy) as hubspot:
        assert saber.policy is policy and hubspot.policy is policy
        assert saber.calls == {} and saber.retries == {} and hubspot.calls == {} and hubspot.retries == {}
    assert load_settings(None).http_max_call_seconds == 42.5
    monkeypatch.delenv("HTTP_MAX_CALL_SECONDS")
    assert load_settings(None).http_max_call_seconds == 300.0
