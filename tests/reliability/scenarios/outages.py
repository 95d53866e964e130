"""Outages (item 3): `saber-connector run` through Saber and HubSpot outages, a DAILY limit and a revoked key.

The service runs as users run it (a subprocess, over real HTTP, against the sandbox). In
each phase contacts are added and their research launched, then the outage starts while
that research is still running: Saber refusing every call (connections reset, or refused
outright), HubSpot timing out on every call (or refusing), HubSpot's `DAILY` limit used
up, and Saber's key revoked (401). Throughout, the process must stay up (`/healthz` 200),
`/readyz` must say not ready and why, the sandbox counts the calls it gets (per minute,
printed: the service backs off rather than hammers), and once the API is back the service
must resume by itself and write every completed research, with none launched twice.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import SandboxServer
from tests.reliability import kit
from tests.reliability.figures import Figure
from tests.reliability.kit import Service, free_port, http_env
from tests.support import Timeout, wait_or_raise
from tests.sync_harness import sandbox_env, write_mapping

SECTION = "3. outages"
READ_TIMEOUT = 0.5  # the service's HTTP_READ_TIMEOUT; a "timeout" outage holds each call longer
BACKOFF_MAX = 2  # CONNECTOR_BACKOFF_MAX_SECONDS in the scenario (900 by default)
# "Never hammers": at most this many calls a minute reach an API that is down. The service's
# own pace with these settings (a full cycle and a collect cycle every second, 3 attempts a call)
# would be far more without its back-off; with it, a few calls per paused stretch.
MAX_CALLS_PER_MINUTE = 120


@contextmanager
def running(box: RunningSandbox, tmp: Path, **env: str) -> Iterator[Service]:
    """`saber-connector run` against this sandbox with a short schedule; SIGTERM at the end."""
    port = free_port()
    values = sandbox_env(box, tmp, write_mapping(tmp))
    values.update(http_env(port))
    values.update(
        {
            "CONNECTOR_SCHEDULE": "1s",
            "CONNECTOR_COLLECT_INTERVAL": "1s",
            "CONNECTOR_BACKOFF_INITIAL_SECONDS": "1",
            "CONNECTOR_BACKOFF_MAX_SECONDS": str(BACKOFF_MAX),
            "HTTP_READ_TIMEOUT": str(READ_TIMEOUT),
            "HTTP_CONNECT_TIMEOUT": str(READ_TIMEOUT),
            "HTTP_MAX_ATTEMPTS": "3",  # a call gives up within seconds, so a short outage is one
            "CONNECTOR_WRITE_DELAY_SECONDS": "0.2",
            "CONNECTOR_LOG_LEVEL": "WARNING",
        }
    )
    values.update(env)
    with kit.running(values, tmp, tmp / "run.log") as proc:
        service = Service(proc, port)
        wait_or_raise(service.healthy, 30, "the service answering /healthz")
        yield service


@dataclass
class Phase:
    """One outage: how it starts and ends, and which sandbox counts the calls."""

    name: str
    server: Callable[[RunningSandbox], SandboxServer]
    start: Callable[[RunningSandbox], None]
    end: Callable[[RunningSandbox], None]
    counted: bool = True  # False: connections are refused, so no sandbox sees them


def _down(mode: str) -> Callable[[SandboxServer], None]:
    def start(server: SandboxServer) -> None:
        server.knobs.slow_seconds = READ_TIMEOUT * 2
        server.knobs.down = mode

    return start


def _up(server: SandboxServer) -> None:
    server.knobs.down = None


def _daily_used_up(box: RunningSandbox) -> None:
    box.hubspot.daily_limit = box.hubspot.daily_used  # every further call: 429 policyName DAILY


def _daily_reset(box: RunningSandbox) -> None:
    box.hubspot.daily_limit = None  # a new day


_KEY = "sk_live_sandbox_key"


def _revoke(box: RunningSandbox) -> None:
    box.saber.api_key = "sk_live_revoked_and_replaced"  # the service's key now gets 401


def _restore(box: RunningSandbox) -> None:
    box.saber.api_key = _KEY  # the key is valid again (reinstated)


def phases(long: bool) -> list[Phase]:
    saber = lambda b: b.saber  # noqa: E731
    hubspot = lambda b: b.hubspot  # noqa: E731
    out = [
        Phase(
            "Saber down (every connection reset)",
            saber,
            lambda b: _down("reset")(b.saber),
            lambda b: _up(b.saber),
        ),
        Phase(
            "HubSpot down (every call times out)",
            hubspot,
            lambda b: _down("timeout")(b.hubspot),
            lambda b: _up(b.hubspot),
        ),
        Phase("HubSpot DAILY limit used up", hubspot, _daily_used_up, _daily_reset),
        Phase("Saber key revoked (401)", saber, _revoke, _restore),
    ]
    if long:
        out += [
            Phase(
                "Saber down (every call times out)",
                saber,
                lambda b: _down("timeout")(b.saber),
                lambda b: _up(b.saber),
            ),
            Phase(
                "Saber down (connections refused)",
                saber,
                lambda b: b.saber.go_down(),
                lambda b: b.saber.come_back(),
                counted=False,
            ),
            Phase(
                "HubSpot down (connections refused)",
                hubspot,
                lambda b: b.hubspot.go_down(),
                lambda b: b.hubspot.come_back(),
                counted=False,
            ),
        ]
    return out


def _new_contacts(box: RunningSandbox, n: int, tag: str) -> list[str]:
    """Contacts the example mapping researches (a lead with a company website)."""
    return [
        box.hubspot.add_contact(
            {
                "firstname": f"Ada{tag}{i}",
                "lastname": "Outage",
                "company": f"Outage {tag} {i}",
                "website": f"https://outage-{tag.lower()}-{i}.example.com",
                "jobtitle": "VP of Engineering",
                "lifecyclestage": "lead",
                "email": f"ada.{tag.lower()}{i}@outage-{tag.lower()}-{i}.example.com",
            }
        )
        for i in range(n)
    ]


def _launched(box: RunningSandbox, ids: list[str]) -> bool:
    held = {str(r.get("externalId")) for r in box.saber.all_research()}
    return set(ids) <= held


def _unwritten(box: RunningSandbox) -> list[str]:
    """Contacts whose research finished in Saber but whose status has not landed in HubSpot."""
    out = []
    for r in box.saber.all_research():
        if r["status"] in ("completed", "failed"):
            cid = str(r.get("externalId"))
            if box.hubspot.contact(cid).get("saber_research_status") != r["status"]:
                out.append(cid)
    return out


def _direct(box: RunningSandbox, fn: Callable[[], Any]) -> Any:
    """Read the sandbox's state in-process (not over HTTP, so an outage does not hide it)."""
    return fn()


def _run_phase(box: RunningSandbox, service: Service, phase: Phase, seconds: float, tag: str) -> list[Figure]:
    """One outage while research is running: watched throughout, then the API is back and all must land."""
    name = phase.name
    added = _new_contacts(box, 3, tag)
    wait_or_raise(lambda: _launched(box, added), 40, f"{name}: research of the new contacts launched")
    server = phase.server(box)
    before = server.count()
    started = time.monotonic()
    phase.start(box)
    reasons: list[str] = []
    alive = True
    noticed: tuple[float, int] | None = None  # when /readyz first said not ready, and the calls by then
    try:
        while time.monotonic() - started < seconds:  # the outage lasts this long, watched throughout
            alive = alive and service.healthy()
            ready, reason = service.readiness()
            if not ready and reason:
                reasons.append(reason)
                noticed = noticed or (time.monotonic(), server.count() - before)
            time.sleep(0.25)
        calls = server.count() - before
        ended = time.monotonic()
    finally:
        phase.end(box)
    back = time.monotonic()
    resumed = True
    try:
        wait_or_raise(
            lambda: service.readiness()[0] and not _unwritten(box) and _launched(box, added), 60, name
        )
    except Timeout:
        resumed = False
    took = time.monotonic() - back
    at, by_then = noticed or (ended, calls)
    paused = max(ended - at, 1e-9)
    per_minute = round((calls - by_then) / paused * 60, 1)
    figures = [
        Figure(
            SECTION,
            f"{name}: /readyz not ready, with a reason",
            "yes" if reasons else "no",
            "yes",
            _short(reasons[-1] if reasons else ""),
        ),
        Figure(SECTION, f"{name}: service stayed up (/healthz 200)", "yes" if alive else "no", "yes"),
    ]
    if phase.counted:
        figures += [
            Figure(
                SECTION,
                f"{name}: calls until /readyz said so",
                by_then,
                note=f"{at - started:.1f} s: the calls in flight and their retries",
            ),
            Figure(
                SECTION,
                f"{name}: calls per minute after that",
                per_minute,
                note=f"{calls - by_then} in {paused:.0f} s, backing off",
            ),
            Figure(
                SECTION,
                f"{name}: calls per minute at most {MAX_CALLS_PER_MINUTE}",
                "yes" if per_minute <= MAX_CALLS_PER_MINUTE else "no",
                "yes",
            ),
        ]
    figures += [
        Figure(SECTION, f"{name}: resumed by itself", "yes" if resumed else "no", "yes", f"in {took:.0f} s"),
        Figure(SECTION, f"{name}: completed research not written afterwards", len(_unwritten(box)), 0),
    ]
    return figures


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(long: bool) -> list[Figure]:
    """Short: four outages of 4 s each. Long: seven outages (refused connections too) of 30 s each."""
    seconds = 30.0 if long else 4.0
    figures: list[Figure] = []
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="outages-") as tmp,
        start_sandbox(contacts=4, seed=3, research_delay=1.5) as box,
    ):
        with running(box, Path(tmp)) as service:
            wait_or_raise(
                lambda: box.saber.all_research() and not _unwritten(box), 60, "the first cycle's writes"
            )
            for i, phase in enumerate(phases(long)):
                figures += _run_phase(box, service, phase, seconds, f"P{i}")
            alive = service.healthy()
        launches = Counter(str(r.get("externalId")) for r in box.saber.all_research())
    figures.append(Figure(SECTION, "service process alive at the end", "yes" if alive else "no", "yes"))
    figures.append(
        Figure(SECTION, "research launched twice for one contact", sum(n - 1 for n in launches.values()), 0)
    )
    figures.append(Figure(SECTION, "seconds", round(time.monotonic() - started)))
    return figures
