"""Saber's two published limits and both APIs' rate-limit headers: buckets, followers, settings."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from connector.clients import saber_from
from connector.errors import ConfigError
from connector.http_policy import CallPolicy
from connector.ratelimit import QuotaFollower, RateLimiter, TokenBucket, parse_count, parse_reset
from connector.saber import ResearchRequest, SaberClient
from connector.sandbox.saber import SaberSandbox
from connector.settings import Settings, load_settings
from tests.hubspot_fixtures import fast_adapter, running, statuses

RATE_VARS = (
    "SABER_REQUESTS_PER_SECOND",
    "SABER_WRITES_PER_MINUTE",
    "SABER_WRITE_BURST",
    "SABER_READS_PER_MINUTE",
    "SABER_READ_BURST",
)


class FakeTime:
    """A clock that moves only when told to, and sleeps that record what they were asked for."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = 1000.0
        self.advance = advance
        self.slept: dict[str, list[float]] = defaultdict(list)

    def clock(self) -> float:
        return self.now

    def sleeper(self, name: str = "sleep") -> Any:
        def sleep(seconds: float) -> None:
            self.slept[name].append(round(seconds, 6))
            if self.advance:
                self.now += seconds

        return sleep


def research(i: int) -> ResearchRequest:
    return ResearchRequest(f"P{i}", "Doe", "Acme", "acme.com", external_id=str(i), external_source="hubspot")


def client_for(box: SaberSandbox, **options: Any) -> SaberClient:
    """A client with short back-offs and, unless told otherwise, the default limits."""
    policy = CallPolicy(backoff_base=0.01, max_backoff=options.pop("max_backoff", 2.0), max_attempts=20)
    return SaberClient(box.url, box.api_key, policy=policy, **options)


# ------------------------------------------------------------------------------ token bucket
def test_token_bucket_bursts_then_paces() -> None:
    """A bucket lets `burst` calls through at once, then one per refill, and never banks more than `burst`."""
    t = FakeTime()
    bucket = TokenBucket(60, 3, clock=t.clock, sleep=t.sleeper())
    assert [bucket.acquire() for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 1.0]
    t.now += 100  # idle far longer than it takes to fill up
    assert bucket.available() == 3
    assert [bucket.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_token_bucket_gives_waiting_threads_successive_turns() -> None:
    """Twelve threads at once on a 3-burst bucket: three go at once, the rest one refill apart, none twice."""
    t = FakeTime(advance=False)
    bucket = TokenBucket(120, 3, clock=t.clock, sleep=t.sleeper())
    with ThreadPoolExecutor(max_workers=12) as pool:
        waits = sorted(pool.map(lambda _: bucket.acquire(), range(12)))
    assert waits == [0.0, 0.0, 0.0] + [0.5 * k for k in range(1, 10)]


def test_token_bucket_refuses_limits_it_cannot_keep() -> None:
    """A rate of zero or a burst below one is a ValueError."""
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(60, 0)


# ------------------------------------------------------------------------------ quota follower
def test_follower_does_nothing_while_plenty_is_left() -> None:
    """With no headers seen, or more than low_water left, calls go at once."""
    t = FakeTime()
    quota = QuotaFollower(low_water=2, clock=t.clock, sleep=t.sleeper())
    assert quota.acquire() == 0.0
    quota.update(None, None)
    quota.acquire()
    quota.update(10, 5.0)
    assert [quota.acquire() for _ in range(7)] == [0.0] * 7
    assert quota.slowed == 0 and not t.slept


def test_follower_spreads_the_last_calls_until_the_reset_and_waits_for_it_at_none() -> None:
    """Three left with four seconds to the reset: one call a second, the fourth at the reset, then free."""
    t = FakeTime()
    quota = QuotaFollower(low_water=5, clock=t.clock, sleep=t.sleeper())
    quota.acquire()
    quota.update(3, 4.0)
    waits = []
    for _ in range(5):
        waits.append(quota.acquire())
        quota.release()  # answered without headers: the plan stands
    assert waits == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.0])
    assert quota.slowed == 4 and quota.waited == pytest.approx(4.0)


def test_follower_counts_calls_in_flight_against_what_an_answer_reports() -> None:
    """Two calls still unanswered when an answer says three are left: one is left for new calls."""
    t = FakeTime()
    quota = QuotaFollower(low_water=0, clock=t.clock, sleep=t.sleeper())
    for _ in range(3):
        quota.acquire()
    quota.update(3, 10.0)
    assert quota.remaining == 1
    assert quota.acquire() == 0.0
    assert quota.acquire() == pytest.approx(10.0)  # none left: wait for the reset


def test_a_newer_answer_releases_a_waiting_call() -> None:
    """A call waiting for a reset 30 s away goes as soon as a newer answer says the quota is back."""
    t = FakeTime()
    quota = QuotaFollower(low_water=1, recheck=0.25, clock=t.clock, sleep=t.sleeper())
    quota.acquire()
    quota.acquire()  # another thread's call, still in flight
    quota.update(0, 30.0)
    original = t.sleeper()

    def sleep(seconds: float) -> None:
        original(seconds)
        if len(t.slept["sleep"]) == 2:
            quota.update(50, 30.0)  # that other call's answer arrives meanwhile

    quota._sleep = sleep
    assert quota.acquire() == pytest.approx(0.5)


def test_follower_never_waits_longer_than_max_wait() -> None:
    """A reset a day away (or nonsense) holds a call at most max_wait seconds."""
    t = FakeTime()
    quota = QuotaFollower(max_wait=60.0, clock=t.clock, sleep=t.sleeper())
    quota.acquire()
    quota.update(0, 86_400.0)
    assert quota.acquire() == pytest.approx(60.0)
    quota.release()
    quota.update(0, float("inf"))
    assert quota.acquire() == pytest.approx(60.0)


def test_reset_and_count_headers_are_read_in_every_spelling() -> None:
    """Reset as seconds, Unix seconds, Unix milliseconds or an HTTP date; counts as integers or floats."""
    now = 1_800_000_000.0
    assert parse_reset("30", now=now) == 30.0
    assert parse_reset("0.25", now=now) == 0.25
    assert parse_reset(str(int(now) + 12), now=now) == 12.0
    assert parse_reset(str(int(now * 1000) + 1500), now=now) == pytest.approx(1.5)
    assert parse_reset(str(int(now) - 5), now=now) == 0.0
    assert parse_reset("-3", now=now) == 0.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 85 <= (parse_reset(later) or 0) <= 90
    assert parse_reset(None) is None and parse_reset("") is None and parse_reset("soon") is None
    assert [parse_count(v) for v in ("42", "42.0", " 7 ", "-3", "many", None)] == [42, 42, 7, 0, None, None]


# ------------------------------------------------------------------------------ the Saber client
def test_a_burst_of_writes_does_not_slow_the_reads() -> None:
    """Writes past their bucket wait for it; reads, with a bucket of their own, do not wait behind them."""
    t = FakeTime(advance=False)
    with SaberSandbox(research_delay=5) as box, client_for(box) as saber:
        saber.write_limit = TokenBucket(60, 2, clock=t.clock, sleep=t.sleeper("write"))
        saber.read_limit = TokenBucket(600, 5, clock=t.clock, sleep=t.sleeper("read"))
        for i in range(5):
            saber.create_research(research(i))
        for _ in range(5):
            assert saber.credits() == 995
    assert t.slept["write"] == [1.0, 2.0, 3.0]
    assert t.slept["read"] == []
    assert box.count("research_create") == 5 and box.count("credits") == 5


def test_requests_per_second_still_caps_every_call_evenly() -> None:
    """With SABER_REQUESTS_PER_SECOND set, writes and reads alike are spaced by one cap."""
    t = FakeTime(advance=False)
    with SaberSandbox(research_delay=5) as box, client_for(box, requests_per_second=2) as saber:
        assert isinstance(saber.overall_limit, RateLimiter)
        saber.overall_limit = RateLimiter(1, 0.5, clock=t.clock, sleep=t.sleeper("cap"))
        saber.create_research(research(1))
        saber.credits()
        saber.create_research(research(2))
        saber.credits()
    assert t.slept["cap"] == [0.5, 1.0, 1.5]
    with SaberSandbox() as box, client_for(box) as saber:
        assert saber.overall_limit is None  # unset: the two buckets alone


def test_the_client_slows_down_before_a_429_when_the_sandbox_says_little_is_left() -> None:
    """Against a write limit far below its own, the client gets no 429 by following the headers; without, it does."""
    for follow in (True, False):
        with (
            SaberSandbox(writes_per_minute=600, write_burst=8, research_delay=5) as box,
            client_for(box, follow_rate_headers=follow, max_backoff=0.5) as saber,
            ThreadPoolExecutor(max_workers=4) as pool,
        ):
            started = list(pool.map(saber.create_research, (research(i) for i in range(24))))
            assert len({s.id for s in started}) == 24 == len(box.all_research())
            if follow:
                assert box.rate_limited["write"] == 0
                assert [r.status for r in box.requests] == [201] * 24
                assert saber.write_quota is not None and saber.write_quota.slowed > 0
                assert saber.read_quota is not None and saber.read_quota.slowed == 0
            else:
                assert box.rate_limited["write"] > 0  # the control: the sandbox limit does bite


def test_a_read_answer_tells_of_the_read_limit_only() -> None:
    """Headers on a GET's answer feed the read follower, which spreads the reads; the write follower is untouched."""
    with SaberSandbox(reads_per_minute=600, read_burst=3) as box, client_for(box) as saber:
        for _ in range(4):
            saber.credits()
        assert box.rate_limited["read"] == 0
        read, write = saber.read_quota, saber.write_quota
        assert read is not None and read.remaining is not None and read.slowed >= 1
        assert write is not None and write.remaining is None and write.slowed == 0


# ------------------------------------------------------------------------------ the HubSpot adapter
def test_hubspot_adapter_waits_when_few_calls_are_left_in_the_window() -> None:
    """With HubSpot's limit below the adapter's own, following X-HubSpot-RateLimit-Remaining reaches no 429."""
    with running(contacts=3, requests_per_10s=10, rate_window=0.5) as sandbox:
        hs = fast_adapter(sandbox, requests_per_10s=1_000, max_backoff=2.0)
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda _: hs.check_access(), range(30)))
        assert statuses(sandbox) == [200] * 30
        assert hs.quota is not None and hs.quota.slowed > 0


def test_hubspot_searches_do_not_follow_the_ten_secondly_headers() -> None:
    """Search answers carry no rate-limit headers and have their own limit: a spent window does not hold them."""
    with running(contacts=3) as sandbox:
        hs = fast_adapter(sandbox, max_backoff=0.05)
        assert hs.quota is not None
        hs.quota.update(0, 10.0)  # as if HubSpot had just said: nothing left this window
        assert len(list(hs.search_contacts(properties=["email"]))) == 3
        assert hs.quota.slowed == 0
        hs.check_access()
        assert hs.quota.slowed == 1


# ------------------------------------------------------------------------------ settings
@pytest.fixture
def _no_rate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in RATE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout


@pytest.mark.usefixtures("_no_rate_env")
def test_settings_name_saber_limits_with_the_published_defaults() -> None:
    """SABER_WRITES_PER_MINUTE 2000, SABER_WRITE_BURST 400, SABER_READS_PER_MINUTE 100000, SABER_READ_BURST 10000; no overall cap."""
    s = load_settings()
    assert (s.saber_writes_per_minute, s.saber_write_burst) == (2000, 400)
    assert (s.saber_reads_per_minute, s.saber_read_burst) == (100_000, 10_000)
    assert s.saber_requests_per_second is None
    for name in (
        "saber_writes_per_minute",
        "saber_write_burst",
        "saber_reads_per_minute",
        "saber_read_burst",
    ):
        assert Settings.model_fields[name].description


@pytest.mark.usefixtures("_no_rate_env")
def test_saber_limit_settings_reach_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The four limits and the overall cap are read from the environment and built into the client."""
    monkeypatch.setenv("SABER_WRITES_PER_MINUTE", "200")
    monkeypatch.setenv("SABER_WRITE_BURST", "40")
    monkeypatch.setenv("SABER_READS_PER_MINUTE", "10000")
    monkeypatch.setenv("SABER_READ_BURST", "1000")
    monkeypatch.setenv("SABER_REQUESTS_PER_SECOND", "20")
    with saber_from(load_settings(saber_api_key="sk_live_x")) as saber:
        assert (saber.write_limit.per_minute, saber.write_limit.burst) == (200, 40)
        assert (saber.read_limit.per_minute, saber.read_limit.burst) == (10_000, 1000)
        assert saber.overall_limit is not None and saber.overall_limit.period == pytest.approx(0.05)
    monkeypatch.setenv("SABER_REQUESTS_PER_SECOND", "")  # as .env.example leaves it: unset
    with saber_from(load_settings(saber_api_key="sk_live_x")) as saber:
        assert saber.overall_limit is None


@pytest.mark.usefixtures("_no_rate_env")
def test_a_bad_saber_limit_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst of zero is refused with one line naming SABER_WRITE_BURST."""
    monkeypatch.setenv("SABER_WRITE_BURST", "0")
    with pytest.raises(ConfigError, match="SABER_WRITE_BURST"):
        load_settings()
