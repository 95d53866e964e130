"""Tools of the crash trials: a world per trial, SIGKILL at a chosen moment, and the ledgers that judge it.

A *world* is one sandbox (both fake APIs, in this process) with its own temporary
directory, mapping and state database; the connector runs in it as a process of its own
(forked from a zygote that imported it once, see crash_zygote.py; CRASH_CHILDREN=exec for
`python -m connector.cli`). A *kill switch* SIGKILLs that process from the sandbox's `on_request` hook, synchronously,
once a matching request was applied and before its answer is sent (the API did it; the
connector never heard), or from a timer, or as soon as the state database's write-ahead log
appears (the first start's migration). The *ledgers* read what the sandbox saw: research
paid per external ID and inputs, signal asks paid per subject and question, completed
research missing from the portal, and the portal against a clean run's, property by property.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL
from werkzeug.exceptions import ClientDisconnected

from connector.mapping import load_mapping, value_hash
from connector.mapping.model import INPUT_FIELDS
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import RecordedRequest
from connector.state import StateStore, parse_url
from connector.state.store import MIGRATIONS_DIR
from tests import support
from tests.reliability.kit import free_port, http_env
from tests.sync_harness import ROOT_MAPPING, TIME_DEPENDENT, prepare, sandbox_env, settings_for

CONTACTS = 16  # about 11 of them pass the mapping's lifecycle filter
SEED = 5
CREDITS = 1000
RESEARCH_DELAY = 0.4
# A result question other than the mapping's, so `runs_kubernetes` is paid for through the
# contact signal endpoint (and `hiring_engineers` through the company one): both can be killed.
RESULT_QUESTIONS = [{"question": "What does this person post about?", "answerType": "open_text"}]
RESEARCH_INPUTS = INPUT_FIELDS  # what a research POST carries besides its external ID
SIGNAL_ENDPOINTS = ("contact_signal_create", "company_signal_create", "company_signal_batch")
SYNC_ARGS = ("sync", "--wait", "30", "--output", "json")
# Fast cycles for the subprocess; writes go out as results come in, so a cycle has several batches.
FAST_ENV = {
    "CONNECTOR_WRITE_DELAY_SECONDS": "0.2",
    # An ask killed before its answer is looked for in Saber's lists; one not there is asked again soon.
    "CONNECTOR_LOST_ANSWER_GRACE_SECONDS": "2",
    "CONNECTOR_CONCURRENCY": "4",
    "CONNECTOR_LOG_LEVEL": "INFO",
}
PG_ENV = "CONNECTOR_TEST_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


_DROPPED = ClientDisconnected.__name__


class _DroppedClients(logging.Filter):
    """Drops werkzeug's report of a request whose client died mid-body: what these trials do on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (text.startswith("Error on request") and _DROPPED in text)


logging.getLogger("werkzeug").addFilter(_DroppedClients())


def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.02) -> bool:
    """Poll `predicate` until it is truthy (True) or the deadline passes (False); never raises on time."""
    return bool(support.poll(predicate, timeout, interval))


def schema_head() -> str:
    """The newest migration's revision (what a fully migrated state database records)."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


def output_properties() -> list[str]:
    return list(load_mapping(ROOT_MAPPING).output_properties())


# ---------------------------------------------------------------------------------- the world
@dataclass
class World:
    """One trial's sandbox, directory, mapping and state database."""

    box: RunningSandbox
    root: Path
    mapping: Path
    state_url: str
    children: list[Child] = field(default_factory=list)

    @classmethod
    @contextlib.contextmanager
    def create(cls, *, state_url: str | None = None, prepare_portal: bool = True) -> Iterator[World]:
        """A fresh world for one trial; at its end what is left of it goes: processes, sandbox, files."""
        with (
            tempfile.TemporaryDirectory(prefix="crash-") as tmp,
            start_sandbox(
                contacts=CONTACTS,
                seed=SEED,
                credits=CREDITS,
                research_delay=RESEARCH_DELAY,
                result_questions=RESULT_QUESTIONS,
            ) as box,
        ):
            root = Path(tmp)
            mapping = root / "mapping.yaml"
            mapping.write_text(ROOT_MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
            world = cls(box, root, mapping, state_url or f"sqlite:///{root / 'state.db'}")
            try:
                if prepare_portal:  # what `setup` does; the `run` trials leave it to the service's start
                    prepare(settings_for(box, root, mapping))
                yield world
            finally:  # a trial that failed half-way leaves its processes running
                for child in world.children:
                    if child.alive():
                        child.kill()

    @property
    def db_file(self) -> Path | None:
        return self.root / "state.db" if self.state_url.startswith("sqlite") else None

    def env(self, **extra: str) -> dict[str, str]:
        values = sandbox_env(self.box, self.root, self.mapping)
        values.update(FAST_ENV)
        values["CONNECTOR_STATE_URL"] = self.state_url
        values.update(extra)
        return values


# ---------------------------------------------------------------------------------- children
# Children are forked from a zygote that imported the connector once (crash_zygote.py): each
# is a process of its own running the CLI's `main()` with its own argv, environment,
# directory and standard streams, without the ~1.2 s of imports a fresh interpreter spends
# (most of a short `sync`). CRASH_CHILDREN=exec runs `python -m connector.cli` instead.
EXEC = os.environ.get("CRASH_CHILDREN", "fork") == "exec"


class Zygote:
    """The parent's end of the fork server: start requests out, pids and exit codes back."""

    _instance: Zygote | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        root = Path(__file__).resolve().parents[2]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.crash_zygote"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pids: dict[int, int] = {}
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="crash-zygote", daemon=True).start()
        atexit.register(self.close)

    def close(self) -> None:
        """Close its stdin: the zygote exits (at the end of the process that started it)."""
        with contextlib.suppress(OSError, ValueError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)

    @classmethod
    def get(cls) -> Zygote:
        with cls._guard:
            if cls._instance is None or cls._instance._proc.poll() is not None:
                cls._instance = cls()
            return cls._instance

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._changed:
                if "exit" in message:
                    self._exits[int(message["exit"])] = int(message["code"])
                else:
                    self._pids[int(message["id"])] = int(message["pid"])
                self._changed.notify_all()

    def start(self, args: tuple[str, ...], env: dict[str, str], cwd: Path, out: Path, err: Path) -> int:
        """Fork a child that runs `saber-connector ARGS`; its pid."""
        request: dict[str, Any] = {"args": list(args), "env": env, "cwd": str(cwd), "out": str(out)}
        request["err"] = str(err)
        with self._lock:
            request["id"] = ident = next(self._ids)
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        with self._changed:
            if not self._changed.wait_for(lambda: ident in self._pids, timeout=60):
                raise RuntimeError("the crash zygote did not start a child within 60 s")
            return self._pids.pop(ident)

    def exit_code(self, pid: int) -> int | None:
        with self._changed:
            return self._exits.get(pid)

    def wait(self, pid: int, timeout: float) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits, timeout=timeout)
            return self._exits.get(pid)


class Child:
    """One connector process (`sync` or `run`), its output in files of the world's directory."""

    _seq = itertools.count(1)

    def __init__(self, world: World, args: tuple[str, ...], env: dict[str, str], port: int | None = None):
        self.name = f"{args[0]}-{next(Child._seq)}"
        world.children.append(self)
        self.out_path = world.root / f"{self.name}.out"
        self.err_path = world.root / f"{self.name}.err"
        self.port = port
        self.killed_at: float | None = None
        self.terminated_at: float | None = None  # SIGTERM sent by a kill switch (a cut-short stop)
        self.started = time.monotonic()
        self._popen: subprocess.Popen[str] | None = None
        if EXEC:
            with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
                self._popen = subprocess.Popen(
                    [sys.executable, "-m", "connector.cli", *args],
                    env=env,
                    cwd=world.root,
                    stdout=out,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    text=True,
                )
            self.pid = self._popen.pid
        else:
            self._zygote = Zygote.get()
            self.pid = self._zygote.start(args, env, world.root, self.out_path, self.err_path)

    @property
    def hit(self) -> bool:
        """A kill switch reached this child: SIGKILLed, or SIGTERMed with the SIGKILL to follow."""
        return self.killed_at is not None or self.terminated_at is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal), None while it runs."""
        if self._popen is not None:
            return self._popen.poll()
        return self._zygote.exit_code(self.pid)

    def alive(self) -> bool:
        return self.returncode is None

    def kill(self) -> bool:
        """SIGKILL now, and return once the process is dead (so no answer reaches it); False if it had ended."""
        if not self.alive():
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.killed_at = time.monotonic()
        poll(lambda: _dead(self.pid), timeout=10, interval=0.001)
        return True

    def wait(self, timeout: float) -> int | None:
        """The exit code once it ends, or None if it still runs after `timeout` seconds."""
        if self._popen is not None:
            try:
                return self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return self._zygote.wait(self.pid, timeout)

    def terminate(self) -> None:
        """SIGTERM (the start of a graceful stop), returning at once."""
        self.terminated_at = time.monotonic()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 40) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL if it does not end in time; the exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        code = self.wait(timeout)
        if code is None:
            self.kill()
            self.wait(10)
        return code

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def summary(self) -> dict[str, Any] | None:
        """The `--output json` summary, or None when the process printed none."""
        text = self.out_path.read_text(encoding="utf-8", errors="replace").strip()
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def healthy(self) -> bool:
        """`run`'s /healthz answers (False while it starts; raises if the process ended)."""
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.returncode}: {self.stderr()[-2000:]}")
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def _dead(pid: int) -> bool:
    """True once `pid` is a zombie or gone (killed, whether or not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def spawn_sync(world: World) -> Child:
    return Child(world, SYNC_ARGS, world.env())


def spawn_run(world: World, *, webhooks: bool = False, schedule: str = "1h", **extra: str) -> Child:
    """`run` on a free loopback port, collecting every second; `webhooks`: Saber calls it back there.

    The full sync runs at start, then on `schedule` (an hour: one full cycle is all a single
    service needs; a replica that must take over from a dead one needs a short one).

    With webhooks every launch names this process's own URL, which is how a trial with two
    replicas tells which one sent a research POST.
    """
    port = free_port()
    env = world.env(
        **http_env(port, public=webhooks),
        CONNECTOR_SCHEDULE=schedule,
        CONNECTOR_COLLECT_INTERVAL="1s",
        CONNECTOR_BACKOFF_INITIAL_SECONDS="1",
        CONNECTOR_BACKOFF_MAX_SECONDS="2",
    )
    if webhooks:
        env["CONNECTOR_WEBHOOK_POLL_SECONDS"] = "1"  # the survivor's safety poll of the dead one's research
    env.update(extra)
    return Child(world, ("run",), env, port=port)


# ---------------------------------------------------------------------------------- kill switches
@dataclass
class KillSwitch:
    """SIGKILLs a child when the sandbox records the `nth` request matching `endpoints` (and `when`).

    The hook runs after the request was applied and before its answer is sent; with `delay`
    the kill comes that many seconds later instead (just after the connector heard). `pick`
    chooses which child dies (the one that sent the request, for replicas).
    """

    endpoints: frozenset[str]  # empty: any request to either API
    nth: int = 1
    delay: float = 0.0
    term_first: bool = False  # SIGTERM at the moment, SIGKILL `delay` later (a stop grace period over)
    applied_only: bool = True  # count only requests the API answered with a 2xx
    when: Callable[[RecordedRequest], bool] | None = None
    pick: Callable[[RecordedRequest], Child | None] | None = None
    fired: threading.Event = field(default_factory=threading.Event)
    victim: Child | None = None
    seen: int = 0
    errors: list[str] = field(default_factory=list)  # what `pick` raised
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, world: World, child: Child | None = None) -> KillSwitch:
        self.victim = child
        world.box.hubspot.on_request.append(self)
        world.box.saber.on_request.append(self)
        return self

    def __call__(self, entry: RecordedRequest) -> None:
        if (self.endpoints and entry.endpoint not in self.endpoints) or self.fired.is_set():
            return
        if self.applied_only and not 200 <= entry.status < 300:
            return
        if self.when is not None and not self.when(entry):
            return
        with self._lock:
            self.seen += 1
            if self.seen != self.nth or self.fired.is_set():
                return
            try:
                target = self.pick(entry) if self.pick is not None else self.victim
            except Exception as exc:  # noqa: BLE001 - the trial reports it; the sandbox must answer
                self.errors.append(f"{type(exc).__name__}: {exc}")
                target = None
            if target is None:
                self.seen -= 1
                return
            self.victim = target
            self.fired.set()
        if self.term_first:  # a graceful stop cut short: SIGTERM, then SIGKILL after `delay`
            target.terminate()
        if self.delay > 0:
            threading.Timer(self.delay, target.kill).start()
        else:
            target.kill()


def kill_after(child: Child, seconds: float) -> threading.Timer:
    """A random moment: SIGKILL `child` after `seconds` (if it still runs)."""
    timer = threading.Timer(seconds, child.kill)
    timer.daemon = True
    timer.start()
    return timer


def kill_at_migration(world: World, child: Child, delay: float) -> bool:
    """SIGKILL `child` `delay` seconds after its state database's write-ahead log appears.

    The first write on a fresh database is the migration's `BEGIN IMMEDIATE`; the WAL file
    is created by it, so this kills during the migration (or just after, for larger delays).
    """
    assert world.db_file is not None
    wal = world.db_file.with_name(world.db_file.name + "-wal")
    if not poll(lambda: wal.exists() or not child.alive(), timeout=60, interval=0.0005):
        return False
    if delay > 0:
        threading.Event().wait(delay)  # the chosen moment, not a wait for something to happen
    return child.kill()


# ---------------------------------------------------------------------------------- ledgers
def integrity(world: World) -> str:
    """SQLite's `PRAGMA integrity_check` of the state database ("ok", or what it found)."""
    path = world.db_file
    if path is None or not path.exists():
        return "ok"  # killed before the file existed: nothing to damage
    con = sqlite3.connect(path, timeout=30)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    return "; ".join(str(r[0]) for r in rows)


def schema_version(world: World) -> str | None:
    """The revision a SQLite state database records (None: no migration committed yet)."""
    path = world.db_file
    if path is None or not path.exists():
        return None
    con = sqlite3.connect(path, timeout=30)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    return None if row is None else str(row[0])


def duplicate_research(box: RunningSandbox) -> int:
    """Research paid more than once for the same external ID and inputs (each extra one counts)."""
    paid = Counter(
        (r.get("externalId"), tuple((k, r.get(k)) for k in RESEARCH_INPUTS)) for r in box.saber.all_research()
    )
    return sum(n - 1 for n in paid.values() if n > 1)


def paid_signal_asks(box: RunningSandbox) -> Counter[tuple[str, str, str, str]]:
    """Signals Saber made (and charged) per (scope, subject, question, answer type), from its own books.

    Every accepted signal POST is a new, charged signal (a create, or one item of a batch).
    """
    return Counter(
        (
            "company" if "domain" in s else "contact",
            str(s.get("contactProfileUrl") or str(s.get("domain", "")).lower()),
            " ".join(str(s.get("question", "")).split()).casefold(),
            str(s.get("answerType")),
        )
        for s in box.saber.signals(created=True)
    )


def duplicate_signals(box: RunningSandbox) -> int:
    return sum(n - 1 for n in paid_signal_asks(box).values() if n > 1)


def _header(r: RecordedRequest, name: str) -> str | None:
    return next((v for k, v in r.headers.items() if k.lower() == name.lower()), None)


def latest_research(box: RunningSandbox) -> dict[str, dict[str, Any]]:
    """The newest research Saber holds per external ID."""
    latest: dict[str, dict[str, Any]] = {}
    for r in box.saber.all_research():  # oldest first
        latest[str(r.get("externalId"))] = r
    return latest


def unwritten_results(box: RunningSandbox) -> list[str]:
    """Contacts whose completed research (status and summary) is not in the portal."""
    missing = []
    for external_id, r in latest_research(box).items():
        if r.get("status") != "completed":
            continue
        contact = box.hubspot.contact(external_id)
        summary = str((r.get("result") or {}).get("summary") or "").strip()
        if (
            contact.get("saber_research_status") != "completed"
            or (contact.get("saber_summary") or "") != summary
        ):
            missing.append(external_id)
    return missing


def research_done(box: RunningSandbox) -> bool:
    return all(r.get("status") != "processing" for r in box.saber.all_research())


def portal(box: RunningSandbox, props: list[str]) -> dict[str, dict[str, str | None]]:
    return {cid: {p: box.hubspot.contact(cid).get(p) for p in props} for cid in box.hubspot.contact_ids()}


@dataclass(frozen=True)
class Reference:
    """What a clean run leaves: the portal, the researched contacts, the credits spent, its duration."""

    portal: dict[str, dict[str, str | None]]
    researched: frozenset[str]
    credits: int
    signal_asks: int
    seconds: float
    requests: int  # to both APIs, by the (last) clean sync: the span random moments are drawn from


CHANGED_TITLE = "VP of Platform Engineering"


def change_inputs(world: World, n: int = 3) -> list[str]:
    """Give `n` researched contacts a new job title, as a person would: their research is redone."""
    ids = sorted(latest_research(world.box), key=int)[:n]
    for cid in ids:
        world.box.hubspot.edit_contact(cid, {"jobtitle": CHANGED_TITLE})
    return ids


def clean_sync(world: World) -> None:
    """One `sync --wait` that must finish with nothing left to do (a clean run, or a prelude)."""
    child = spawn_sync(world)
    code = child.wait(timeout=120)
    if code not in (0, 1):
        raise RuntimeError(f"the clean run failed ({code}): {child.stderr()[-3000:]}")
    summary = child.summary()
    if summary is None:
        raise RuntimeError(f"the clean run printed no summary: {child.stderr()[-3000:]}")
    if summary.get("pending") or summary.get("writes_pending"):
        raise RuntimeError(f"the clean run left work undone: {summary}")


def reference_run(changed: bool = False) -> Reference:
    """A clean run in a fresh world (with `changed`: then new inputs for some, and another): the trials' goal."""
    with World.create() as world:
        box = world.box
        started, before = time.monotonic(), _requests(box)
        clean_sync(world)
        if changed:
            change_inputs(world)
            started, before = time.monotonic(), _requests(box)
            clean_sync(world)
        if not latest_research(box):
            raise RuntimeError("the clean run researched nothing: the trials would prove nothing")
        return Reference(
            portal=portal(box, output_properties()),
            researched=frozenset(latest_research(box)),
            credits=CREDITS - box.saber.credits_left,
            signal_asks=sum(paid_signal_asks(box).values()),
            seconds=time.monotonic() - started,
            requests=_requests(box) - before,
        )


def _requests(box: RunningSandbox) -> int:
    return box.hubspot.count() + box.saber.count()


@dataclass(frozen=True)
class Verdict:
    """How one trial's world ended, against the clean run."""

    duplicate_research: int
    duplicate_signals: int
    unwritten: int
    differences: int
    extra_credits: int
    unowned: int
    stale_runs: int  # runs still marked `running` once every process stopped
    details: tuple[str, ...] = ()


def judge(world: World, reference: Reference) -> Verdict:
    box = world.box
    props = [p for p in output_properties() if p not in TIME_DEPENDENT]
    now = portal(box, props)
    diffs = [
        f"{cid}.{p}: {now.get(cid, {}).get(p)!r} != {want.get(p)!r}"
        for cid, want in reference.portal.items()
        for p in props
        if now.get(cid, {}).get(p) != want.get(p)
    ]
    unwritten = unwritten_results(box)
    unowned = unowned_values(world, now)
    details = [*diffs[:5], *(f"unwritten: {cid}" for cid in unwritten[:5]), *unowned[:5]]
    return Verdict(
        duplicate_research=duplicate_research(box),
        duplicate_signals=duplicate_signals(box),
        unwritten=len(unwritten),
        differences=len(diffs),
        extra_credits=(CREDITS - box.saber.credits_left) - reference.credits,
        unowned=len(unowned),
        stale_runs=stale_runs(world),
        details=tuple(details),
    )


def unowned_values(world: World, now: dict[str, dict[str, str | None]]) -> list[str]:
    """Values the connector wrote to the portal whose hash its state does not keep.

    A kill between HubSpot applying a batch and the hashes' commit must not leave the
    connector's own values looking like a person's edits (which it would then never update).
    """
    with StateStore(world.state_url) as store:
        states = store.get_many(list(now))
    out = []
    for cid, values in now.items():
        state = states.get(cid)
        for prop, value in values.items():
            if value and (state is None or state.written.get(prop) != value_hash(value)):
                out.append(f"not owned: {cid}.{prop}")
    return out


def stale_runs(world: World) -> int:
    """Runs the history still shows as `running` (a killed one must be marked interrupted)."""
    with StateStore(world.state_url) as store:
        return sum(run.outcome == "running" for run in store.last_runs(1000))


def store_settled(state_url: str) -> bool:
    """The state database holds no research still pending and no result waiting to be written."""
    try:
        with StateStore(state_url) as store:
            return store.count_pending() == 0 and not store.count_write_pending()
    except Exception:  # noqa: BLE001 - a store being migrated or busy: not settled yet
        return False


def world_done(world: World, reference: Reference) -> bool:
    """Everything the clean run researched is researched, finished and written, and nothing waits."""
    box = world.box
    return (
        reference.researched <= set(latest_research(box))
        and research_done(box)
        and not unwritten_results(box)
        and store_settled(world.state_url)
    )


# ---------------------------------------------------------------------------------- PostgreSQL
def pg_admin() -> tuple[URL | None, str]:
    """A PostgreSQL URL that connects (as tests/conftest.py finds one), or None and why not."""
    url = parse_url(os.environ.get(PG_ENV, PG_DEFAULT))
    host, port = url.host or "127.0.0.1", url.port or 5432
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return None, f"PostgreSQL not reachable at {host}:{port}: {exc}"
    candidates = [url] if PG_ENV in os.environ else [url, url.set(username="root")]
    problems = []
    for candidate in candidates:
        try:
            psycopg.connect(_conninfo(candidate), connect_timeout=5).close()
            return candidate, ""
        except psycopg.OperationalError as exc:
            problems.append(f"{candidate.username}: {str(exc).strip()}")
    return None, f"PostgreSQL at {host}:{port} refused every test user: {'; '.join(problems)}"


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def pg_database(admin: URL) -> Iterator[str]:
    """A brand-new PostgreSQL database for one scenario, dropped (connections and all) afterwards."""
    name = f"crash_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_lock_holder(state_url: str, children: list[Child]) -> Child | None:
    """Which of `children` holds a run lock (a session advisory lock) on this PostgreSQL database.

    PostgreSQL names the holder's client port; the child with a TCP socket on that local
    port is the holder (its sockets from /proc/PID/fd, their ports from /proc/net/tcp*).
    """
    conninfo = _conninfo(parse_url(state_url))
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        ports = {
            int(row[0])
            for row in conn.execute(
                "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            ).fetchall()
            if row[0] is not None
        }
    if not ports:
        return None
    local_ports = _socket_ports()
    for child in children:
        if not child.alive():
            continue
        if any(local_ports.get(inode) in ports for inode in _socket_inodes(child.pid)):
            return child
    return None


def request_sender(entry: RecordedRequest, state_url: str, children: list[Child]) -> Child | None:
    """The child that sent `entry`: the one its research POST's webhookUrl names, else the lock holder.

    Asked a few times over half a second: a replica between two cycles holds no lock.
    """
    hook = str((entry.body or {}).get("webhookUrl") or "") if isinstance(entry.body, dict) else ""
    named = next((c for c in children if hook.startswith(c.url + "/")), None)
    if named is not None:
        return named
    return support.poll(lambda: pg_lock_holder(state_url, children), 0.5, 0.05)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def _socket_ports() -> dict[str, int]:
    """Socket inode -> local TCP port, for every TCP socket of this network namespace."""
    ports: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines, None)
            for line in lines:
                fields = line.split()
                if len(fields) > 9:
                    ports[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return ports
