"""Item 10: abuse of the webhook endpoint is rejected or absorbed, and blocks nothing.

`saber-connector run` (a subprocess, webhooks on, a full cycle every few seconds) against the
sandbox; once its first cycle has researched the portal, threads in this process send it
webhooks with a wrong secret, replays of a real notification, oversized bodies (by
Content-Length and chunked), malformed bodies, a flood (hundreds a second), and slow-loris
connections (headers sent a byte at a time; bodies promised and never sent). Meanwhile a
probe times `/healthz`, and the service's own metrics say whether its cycles kept running:
a full cycle that starts during the abuse must finish during it. Afterwards nothing was paid
twice and every slow connection was dropped by the server.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.service.http import REQUEST_TIMEOUT
from tests.reliability.figures import Figure
from tests.reliability.kit import Service, clean_env, free_port, http_env, running
from tests.support import poll
from tests.sync_harness import write_mapping

SECTION = "10. webhook abuse"
SECRET = "whsec-abuse-T4K9QZ2MW7XP"
SLOW_HEALTHZ = (
    5.0  # seconds: a /healthz slower than this under abuse counts as blocked (generous: CI is busy)
)


@dataclass(frozen=True)
class Plan:
    """How hard to push: the short version CI runs, or the long one the report runs."""

    flood_seconds: float
    flood_threads: int
    slow_connections: int
    each: int  # requests of each single kind (wrong secret, replay, malformed, ...)
    held_deadline: float  # seconds after it opened by which the server must have dropped a slow connection


# The server hangs up on a client that has not sent its request by REQUEST_TIMEOUT; 5 s of slack on a busy machine.
HELD_DEADLINE = REQUEST_TIMEOUT + 5
SHORT = Plan(flood_seconds=3.0, flood_threads=6, slow_connections=30, each=15, held_deadline=HELD_DEADLINE)
LONG = Plan(flood_seconds=30.0, flood_threads=12, slow_connections=150, each=200, held_deadline=HELD_DEADLINE)


@dataclass
class Tally:
    """Requests sent by kind, and the answers they got (status, or what happened to the connection)."""

    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, status)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, outcome: str, expected: tuple[str, ...]) -> None:
        with self.lock:
            self.sent[kind] += 1
            self.answers[(kind, outcome)] += 1
            if outcome not in expected and len(self.unexpected) < 10:
                self.unexpected.append(f"{kind}: {outcome}")


# ---------------------------------------------------------------------------- the service
@contextmanager
def running_service(box: RunningSandbox, workdir: Path) -> Iterator[Service]:
    """`saber-connector run` with webhooks on and short cycles; SIGTERM at the end."""
    mapping = write_mapping(workdir)
    port = free_port()
    env = clean_env(**box.env())
    env.update(
        {
            "CONNECTOR_STATE_URL": f"sqlite:///{workdir / 'state.db'}",
            "CONNECTOR_MAPPING": str(mapping),
            "CONNECTOR_LOG_FORMAT": "json",
            **http_env(port, public=True),
            "CONNECTOR_WEBHOOK_SECRET": SECRET,
            "CONNECTOR_SCHEDULE": "2s",
            "CONNECTOR_COLLECT_INTERVAL": "1s",
            "CONNECTOR_POLL_MIN_SECONDS": "0.2",
            "CONNECTOR_WRITE_DELAY_SECONDS": "0.2",
            "HTTP_MAX_BACKOFF": "0.2",
            "CONNECTOR_SHUTDOWN_TIMEOUT": "10",
        }
    )
    with running(env, workdir, workdir / "run.log") as proc:
        yield Service(proc, port)


def wait_until(predicate: Callable[[], object], timeout: float, proc: subprocess.Popen[str]) -> bool:
    """Poll with a deadline; False at the deadline or when the service died."""
    return bool(poll(predicate, timeout, 0.1, alive=proc, ignore=(httpx.HTTPError, ValueError)))


# ---------------------------------------------------------------------------- the abuse
def _post(client: httpx.Client, path: str, **kwargs: object) -> str:
    """The status as text, or what happened to the connection."""
    try:
        return str(client.post(path, **kwargs).status_code)  # type: ignore[arg-type]
    except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
        return "closed"
    except httpx.TimeoutException:
        return "timeout"


def _raw(url: str, data: bytes) -> str:
    """Send raw bytes (what httpx refuses to send, a request line over 64 kB) and return the status."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(data)
            answer = sock.recv(4096)
        except OSError:
            return "closed"
    parts = answer.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) > 1 else "closed"


def single_kinds(url: str, tally: Tally, plan: Plan, replay_body: dict[str, str]) -> None:
    """Each kind of bad request, `plan.each` times (oversized ones fewer: they are megabytes)."""
    hook = f"/webhooks/saber/{SECRET}"
    big = b'{"id": "' + b"x" * (2 << 20) + b'"}'

    def chunks() -> Iterator[bytes]:
        for _ in range(40):  # 2.5 MiB, chunked: no Content-Length to refuse it by
            yield b"y" * 65536

    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(plan.each):
            tally.record(
                "wrong secret", _post(client, f"/webhooks/saber/wrong{i}", json=replay_body), ("404",)
            )
            tally.record("no secret", _post(client, "/webhooks/saber/", json=replay_body), ("404", "405"))
            tally.record("replayed", _post(client, hook, json=replay_body), ("202",))
            for name, content in (
                ("malformed: not JSON", b"{not json"),
                ("malformed: a list", b"[1, 2]"),
                ("malformed: no ids", b'{"status": "completed"}'),
                ("malformed: binary", bytes(range(256))),
                ("malformed: deep nesting", b"[" * 100_000 + b"]" * 100_000),
            ):
                tally.record(name, _post(client, hook, content=content), ("400", "413"))
            tally.record("wrong method", str(client.get(hook).status_code), ("405",))
        for _ in range(max(2, plan.each // 10)):
            tally.record("oversized: Content-Length", _post(client, hook, content=big), ("413", "closed"))
            tally.record("oversized: chunked", _post(client, hook, content=chunks()), ("413", "closed"))
            tally.record(
                "oversized: a header",
                _post(client, hook, json=replay_body, headers={"X-Pad": "h" * 70_000}),
                ("400", "431", "closed"),
            )
            long_line = f"POST {hook}{'x' * 70_000} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
            tally.record("oversized: the request line", _raw(url, long_line.encode()), ("414", "closed"))


def flood(url: str, tally: Tally, plan: Plan, stop: threading.Event) -> None:
    """Many threads posting as fast as they can: wrong secrets and notifications of unknown research."""
    hook = f"/webhooks/saber/{SECRET}"

    def worker(n: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                if i % 2:
                    tally.record(
                        "flood: wrong secret",
                        _post(client, f"/webhooks/saber/f{n}x{i}", json={"id": "x"}),
                        ("404",),
                    )
                else:
                    body = {"id": f"cr_flood_{n}_{i}", "externalId": f"9{n}{i}"}
                    tally.record("flood: unknown research", _post(client, hook, json=body), ("202",))

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(plan.flood_threads)]
    for t in threads:
        t.start()
    stop.wait(plan.flood_seconds)
    stop.set()
    for t in threads:
        t.join(timeout=30)


@dataclass
class SlowClient:
    """One slow-loris connection: how it misbehaves, when it opened, when the server dropped it."""

    kind: str
    sock: socket.socket
    opened: float
    dropped: float | None = None
    answered: str | None = None


def open_slow(url: str, count: int) -> list[SlowClient]:
    """Connections that start a webhook and never finish it: half stall in the headers, half in the body."""
    host, port = url.removeprefix("http://").split(":")
    clients = []
    for i in range(count):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.setblocking(False)
        kind = "slow-loris: headers byte by byte" if i % 2 else "slow-loris: body never sent"
        if kind.endswith("never sent"):
            head = (
                f"POST /webhooks/saber/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 5000\r\n\r\n{"id": '
            )
            with suppress(OSError):
                sock.send(head.encode())
        clients.append(SlowClient(kind, sock, time.monotonic()))
    return clients


def trickle(clients: list[SlowClient], stop: threading.Event) -> None:
    """Send the header-stallers one more byte now and then; notice when the server hangs up on anyone."""
    line = f"POST /webhooks/saber/{SECRET} HTTP/1.1\r\nHost: x\r\n" + "X-Pad: " + "a" * 10_000
    sent = 0
    while not stop.is_set():
        for c in clients:
            if c.dropped is not None:
                continue
            try:
                data: bytes | None = c.sock.recv(4096)
            except BlockingIOError:
                data = None  # nothing from the server yet: it still waits for this client
            except OSError:
                data = b""  # reset by the server
            if data is not None:
                c.dropped = time.monotonic()  # closed, or answered: the server is done with it
                status = data.split(b"\r\n", 1)[0].split(b" ")  # HTTP/1.1 400 BAD REQUEST
                c.answered = status[1].decode("latin-1") if data and len(status) > 1 else None
                continue
            if c.kind.endswith("byte by byte") and sent < len(line):
                with suppress(OSError):
                    c.sock.send(line[sent].encode())
        sent += 1
        stop.wait(0.2)


def probe(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    """Time /healthz on a fresh connection every 100 ms."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            status = httpx.get(f"{url}/healthz", timeout=10).status_code
            if status != 200:
                failures.append(f"status {status}")
        except httpx.HTTPError as exc:
            failures.append(type(exc).__name__)
        latencies.append(time.monotonic() - started)
        stop.wait(0.1)


# ---------------------------------------------------------------------------- the run
def run(long: bool) -> list[Figure]:
    """Abuse a running service's webhook endpoint and measure what it blocked; the figures."""
    plan = LONG if long else SHORT
    tally = Tally()
    latencies: list[float] = []
    probe_failures: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="webhook-abuse-") as tmp,
        start_sandbox(contacts=12, seed=4, research_delay=0.3) as box,
        running_service(box, Path(tmp)) as service,
    ):
        url, proc = service.url, service.proc
        started = wait_until(
            lambda: service.cycles_through("full") >= 1 and box.saber.all_research(), 60, proc
        )
        research = box.saber.all_research()
        replay_body = (
            {"id": research[0]["id"], "externalId": research[0]["externalId"]} if research else {"id": "x"}
        )
        launched_before = len(research)
        wait_until(lambda: all(r.get("status") != "processing" for r in box.saber.all_research()), 30, proc)

        full_before, collect_before = service.cycles_through("full"), service.cycles_through("collect")
        stop_probe, stop_slow, stop_flood = threading.Event(), threading.Event(), threading.Event()
        prober = threading.Thread(
            target=probe, args=(url, stop_probe, latencies, probe_failures), daemon=True
        )
        prober.start()
        abuse_started = time.monotonic()
        slow = open_slow(url, plan.slow_connections)
        trickler = threading.Thread(target=trickle, args=(slow, stop_slow), daemon=True)
        trickler.start()
        flooder = threading.Thread(target=flood, args=(url, tally, plan, stop_flood), daemon=True)
        flooder.start()
        single_kinds(url, tally, plan, replay_body)
        flooder.join(timeout=plan.flood_seconds + 60)
        # Cycles never overlap, so the second to finish after the abuse began started during it; it
        # must finish (the slow connections still hang on meanwhile).
        full_target = full_before + 2
        cycle_during = wait_until(lambda: service.cycles_through("full") >= full_target, 30, proc)
        abuse_seconds = time.monotonic() - abuse_started
        full_during = round(service.cycles_through("full") - full_before)
        collect_during = round(service.cycles_through("collect") - collect_before)
        stop_probe.set()
        prober.join(timeout=15)
        # Every slow connection must be dropped by the server within its deadline.
        left = max(c.opened for c in slow) + plan.held_deadline - time.monotonic() if slow else 0.0
        poll(lambda: all(c.dropped is not None for c in slow), max(0.0, left), 0.2)
        stop_slow.set()
        trickler.join(timeout=15)
        held = [c for c in slow if c.dropped is None or c.dropped - c.opened > plan.held_deadline]
        for c in slow:
            tally.record(
                c.kind,
                c.answered or ("dropped" if c.dropped is not None else "still held"),
                ("dropped", "400", "408"),
            )
            c.sock.close()
        healthz_after = httpx.get(f"{url}/healthz", timeout=10).status_code
        ready_after = httpx.get(f"{url}/readyz", timeout=10).json()
        still_running = proc.poll() is None
        research_after = box.saber.all_research()
        per_contact = Counter(r["externalId"] for r in research_after)
        twice = sum(n - 1 for n in per_contact.values() if n > 1)

    flood_sent = sum(n for k, n in tally.sent.items() if k.startswith("flood"))
    answered: Counter[str] = Counter()
    for (_, status), n in tally.answers.items():
        answered[status] += n
    slow_drop_times = [c.dropped - c.opened for c in slow if c.dropped is not None]
    blocked = (
        sum(1 for x in latencies if x > SLOW_HEALTHZ)
        + len(probe_failures)
        + int(not cycle_during)
        + int(not still_running)
        + int(healthz_after != 200)
    )
    return [
        Figure(SECTION, "service started and researched the portal", int(bool(started)), must_be=1),
        *(Figure(SECTION, f"requests: {kind}", n) for kind, n in sorted(tally.sent.items())),
        Figure(
            SECTION,
            "flood rate",
            round(flood_sent / max(plan.flood_seconds, 0.001)),
            note="requests a second",
        ),
        *(Figure(SECTION, f"answered {status}", n) for status, n in sorted(answered.items())),
        Figure(
            SECTION,
            "answers not as expected",
            len(tally.unexpected),
            must_be=0,
            note="; ".join(tally.unexpected),
        ),
        Figure(SECTION, "/healthz probes during the abuse", len(latencies)),
        Figure(
            SECTION,
            "/healthz latency p50 (ms)",
            round(statistics.median(latencies) * 1000) if latencies else "-",
        ),
        Figure(SECTION, "/healthz latency max (ms)", round(max(latencies) * 1000) if latencies else "-"),
        Figure(
            SECTION, "full cycles completed during the abuse", full_during, note=f"in {abuse_seconds:.0f} s"
        ),
        Figure(SECTION, "collect cycles completed during the abuse", collect_during),
        Figure(
            SECTION,
            "blocked",
            blocked,
            must_be=0,
            note=f"/healthz over {SLOW_HEALTHZ:g} s or failing, a cycle started during the abuse not finished, the service down",
        ),
        Figure(
            SECTION,
            "slow connections dropped by the server",
            len(slow) - len(held),
            note=f"of {len(slow)}; slowest after {max(slow_drop_times, default=0):.1f} s",
        ),
        Figure(SECTION, f"slow connections held past {plan.held_deadline:g} s", len(held), must_be=0),
        Figure(
            SECTION,
            "research launched twice",
            twice,
            must_be=0,
            note=f"{launched_before} launched before the abuse",
        ),
        Figure(SECTION, "ready after the abuse", int(bool(ready_after.get("ready"))), must_be=1),
    ]


def dump(figures: list[Figure]) -> str:
    """The figures as JSON lines (for debugging a failing run)."""
    return "\n".join(json.dumps(f.__dict__, default=str) for f in figures)
