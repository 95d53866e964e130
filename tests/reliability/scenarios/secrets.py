"""Item 9: with debug logging on, no command, failure, page or database shows either API key.

Every command runs as users run it (`python -m connector.cli ... --log-level debug`, JSON
logs) against the sandbox, whose HubSpot token and Saber key are set to distinctive values
that match none of the shapes the log scrubber recognises (so a leak is not hidden by luck):
the happy path (init, check, setup, sync, status, explain, mapping), the failures that tend
to leak (a 401 from each API, a refused connection, an invalid base URL, an API error that
echoes the request's credentials back) and the service with webhooks on (its log, /metrics,
/readyz, /healthz, webhooks with a wrong secret). Then every line of output, every page and
the state database files are searched for the keys (whole, and their distinctive middles);
the webhook secret may sit in the state database but in no output.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from structlog.testing import capture_logs

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import Settings
from tests.reliability.figures import Figure
from tests.reliability.kit import clean_env, free_port, http_env, metric_values, running
from tests.support import poll, run_cli
from tests.sync_harness import prepared, write_mapping

SECTION = "9. secrets"

# Distinctive, and shaped like nothing `connector.logs.scrub` masks by pattern (no `sk_live_`, no `pat-na1-`).
HUBSPOT_TOKEN = "hubtok-Q7ZX9WLKP3MN5VR8-hs-secret"
SABER_KEY = "sbrkey-4NJ8TQ2WYC6PH1DA-sb-secret"
WRONG_HUBSPOT_TOKEN = "hubtok-RVK0H3K5LM2Z-revoked-hs"
WRONG_SABER_KEY = "sbrkey-RVK9P2Q4RS7T-revoked-sb"
KEYS = (HUBSPOT_TOKEN, SABER_KEY, WRONG_HUBSPOT_TOKEN, WRONG_SABER_KEY)


def needles(secret: str) -> list[str]:
    """The secret and its distinctive middle: a truncated or re-wrapped leak is still found."""
    middle = max(secret.split("-"), key=len)
    return [secret, middle] if middle != secret and len(middle) >= 10 else [secret]


@dataclass
class Output:
    """What one command (or page) showed, to be searched."""

    name: str
    text: str
    code: int | None = None


@dataclass
class Collected:
    outputs: list[Output] = field(default_factory=list)
    db_files: list[Path] = field(default_factory=list)
    webhook_secrets: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a step that did not do what it should (no leak check)

    def add(self, output: Output) -> Output:
        self.outputs.append(output)
        return output


def _closed_port_url() -> str:
    """A loopback URL nothing listens on: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}"


def _env(box: RunningSandbox, workdir: Path, mapping: Path, **extra: str) -> dict[str, str]:
    env = clean_env(**box.env())
    env.update(
        {
            "CONNECTOR_STATE_URL": f"sqlite:///{workdir / 'state.db'}",
            "CONNECTOR_MAPPING": str(mapping),
            "CONNECTOR_POLL_MIN_SECONDS": "0.1",
            "HTTP_MAX_BACKOFF": "0.2",
            "HTTP_MAX_ATTEMPTS": "2",
            "CONNECTOR_LOG_FORMAT": "json",
            "CONNECTOR_LOG_LEVEL": "DEBUG",
            "CONNECTOR_WRITE_DELAY_SECONDS": "0.2",
        }
    )
    env.update(extra)
    return env


def cli(
    collected: Collected, name: str, args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> Output:
    """Run `saber-connector ARGS --log-level debug` and keep everything it printed."""
    proc = run_cli(*args, "--log-level", "debug", env=env, cwd=cwd, timeout=timeout)
    return collected.add(Output(name, proc.stdout + "\n" + proc.stderr, proc.returncode))


def _sandbox(stack: ExitStack, contacts: int = 6) -> RunningSandbox:
    box = stack.enter_context(start_sandbox(contacts=contacts, seed=5, research_delay=0.2))
    box.hubspot.token = HUBSPOT_TOKEN
    box.saber.api_key = SABER_KEY
    return box


_PREPARE_LOCK = threading.Lock()


def _prepared(box: RunningSandbox, workdir: Path) -> Settings:
    """`prepared` (the mapped properties created), its log lines kept out of the report's output.

    `capture_logs` swaps structlog's global configuration: one thread at a time.
    """
    with _PREPARE_LOCK, capture_logs():
        return prepared(box, workdir)


def _expect(collected: Collected, out: Output, codes: tuple[int, ...]) -> None:
    if out.code not in codes:
        collected.problems.append(f"{out.name}: exit {out.code}, expected {codes}: {out.text.strip()[-200:]}")


# ---------------------------------------------------------------------------- the happy path
def happy_path(collected: Collected, workdir: Path, long: bool) -> None:
    """The commands that need what one before them did (research launched, results written), in order."""
    with ExitStack() as stack:
        box = _sandbox(stack)
        settings = _prepared(box, workdir)
        env = _env(box, workdir, Path(settings.connector_mapping))
        collected.db_files.append(workdir / "state.db")
        _expect(collected, cli(collected, "sync --wait", ["sync", "--wait", "20"], env, workdir), (0, 1))
        contact = box.hubspot.contact_ids()[0]
        # status and explain only read: side by side (a thread of their own, not behind the pool's queue).
        status = threading.Thread(
            target=lambda: _expect(
                collected,
                cli(collected, "status --output json", ["status", "--output", "json"], env, workdir),
                (0,),
            )
        )
        status.start()
        _expect(collected, cli(collected, "explain", ["explain", contact], env, workdir), (0,))
        status.join()
        if long:
            for name, args in (
                ("setup (again)", ["setup"]),
                ("sync --output json", ["sync", "--output", "json", "--full"]),
                ("status", ["status"]),
                ("explain --output json", ["explain", contact, "--output", "json"]),
            ):
                _expect(collected, cli(collected, name, args, env, workdir), (0, 1))


# ---------------------------------------------------------------------------- one command each
# Each: (name, args, the exit codes it may end with, environment changes); each on a portal and a
# state database of its own, so that they all run at once.
Case = tuple[str, list[str], tuple[int, ...], dict[str, str]]
UNPREPARED = ("setup --dry-run", "setup")  # on a portal without the mapped properties yet
ORDINARY: list[Case] = [
    ("setup", ["setup"], (0,), {}),
    ("check", ["check"], (0,), {}),
    ("sync --dry-run", ["sync", "--dry-run"], (0, 1), {}),
]
LONG_ORDINARY: list[Case] = [
    ("setup --dry-run", ["setup", "--dry-run"], (0,), {}),
    ("--help", ["--help"], (0,), {}),
    ("init", ["init", "{dir}/project"], (0,), {}),
    ("mapping explain", ["mapping", "explain"], (0,), {}),
    ("mapping schema", ["mapping", "schema"], (0,), {}),
    ("version", ["version"], (0,), {}),
    ("check --output json", ["check", "--output", "json"], (0,), {}),
    ("demo", ["demo", "--contacts", "3", "--wait", "30"], (0, 1), {}),
]
FAILURES: list[Case] = [
    ("sync: HubSpot 401", ["sync"], (3,), {"HUBSPOT_ACCESS_TOKEN": WRONG_HUBSPOT_TOKEN}),
    ("check: Saber 401", ["check"], (2, 3), {"SABER_API_KEY": WRONG_SABER_KEY}),
    ("sync: HubSpot refused", ["sync"], (3,), {"HUBSPOT_BASE_URL": "{closed}"}),
    ("sync: invalid Saber URL", ["sync"], (1, 2, 3), {"SABER_BASE_URL": "http://[bad-host"}),
]
LONG_FAILURES: list[Case] = [
    ("sync: Saber 401", ["sync"], (1, 3), {"SABER_API_KEY": WRONG_SABER_KEY}),
    ("check: Saber refused", ["check"], (2, 3), {"SABER_BASE_URL": "{closed}"}),
    ("check: invalid HubSpot URL", ["check"], (2, 3), {"HUBSPOT_BASE_URL": "http://exa mple.com:99999"}),
    (
        "sync: HubSpot 401, console logs",
        ["sync"],
        (3,),
        {"HUBSPOT_ACCESS_TOKEN": WRONG_HUBSPOT_TOKEN, "CONNECTOR_LOG_FORMAT": "console"},
    ),
    (
        "status: unreachable state database with a password",
        ["status"],
        (2,),
        {"CONNECTOR_STATE_URL": f"postgresql+psycopg://u:{SABER_KEY}@127.0.0.1:1/x"},
    ),
    ("setup: HubSpot 401", ["setup"], (3,), {"HUBSPOT_ACCESS_TOKEN": WRONG_HUBSPOT_TOKEN}),
    ("explain: HubSpot 401", ["explain", "1"], (1, 3), {"HUBSPOT_ACCESS_TOKEN": WRONG_HUBSPOT_TOKEN}),
    # A dry run asks Saber nothing (not even the look-ups), so a refused key goes unnoticed: exit 0 too.
    ("sync --dry-run: Saber 401", ["sync", "--dry-run"], (0, 1, 3), {"SABER_API_KEY": WRONG_SABER_KEY}),
]


def solo(collected: Collected, workdir: Path, case: Case) -> None:
    """One command on a portal of its own (the failures: those that tend to put a request in a message)."""
    name, args, codes, extra = case
    with ExitStack() as stack:
        box = _sandbox(stack)
        if name in UNPREPARED:
            mapping = write_mapping(workdir)
        else:  # the portal has the mapped properties: runs get past preflight
            mapping = Path(_prepared(box, workdir).connector_mapping)
        collected.db_files.append(workdir / "state.db")
        env = _env(box, workdir, mapping)
        env.update({k: v.replace("{closed}", _closed_port_url()) for k, v in extra.items()})
        _expect(
            collected,
            cli(collected, name, [a.replace("{dir}", str(workdir)) for a in args], env, workdir),
            codes,
        )
        written = [p for p in (workdir / "project").rglob("*") if p.is_file()]
        if written:  # what `init` wrote
            text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in written)
            collected.add(Output(f"{name}: files written", text))


def echoes(collected: Collected, workdir: Path, long: bool) -> None:
    """API errors (from a proxy, a debugging gateway) that echo the request's credentials back."""
    with ExitStack() as stack:
        box = _sandbox(stack)
        settings = _prepared(box, workdir)
        collected.db_files.append(workdir / "state.db")
        env = _env(box, workdir, Path(settings.connector_mapping))
        echo = f"bad request; headers were {{'authorization': 'Bearer {HUBSPOT_TOKEN}', 'x-token': '{HUBSPOT_TOKEN}'}}"
        if long:  # a search refused: the run stops with the error as its message
            box.hubspot.fail_next(
                1,
                400,
                "contacts_search",
                body={"status": "error", "category": "VALIDATION_ERROR", "message": echo},
            )
            _expect(
                collected,
                cli(collected, "sync: HubSpot search error echoing the token", ["sync"], env, workdir),
                (2, 3),
            )
        # Two launches refused, and the first batch of writes: recorded per contact, in the summary and the state.
        box.saber.fail_next(
            2,
            400,
            "research_create",
            body={"error": {"code": "BAD_REQUEST", "message": f"rejected request with api key {SABER_KEY}"}},
        )
        box.hubspot.fail_next(
            1,
            400,
            "contacts_batch_update",
            body={"status": "error", "category": "VALIDATION_ERROR", "message": echo},
        )
        _expect(
            collected,
            cli(
                collected,
                "sync: API errors echoing the credentials",
                ["sync", "--full", "--wait", "20"],
                env,
                workdir,
            ),
            (1,),
        )
        box.saber.clear_faults()
        box.hubspot.clear_faults()


# ---------------------------------------------------------------------------- the service
def service(
    collected: Collected, workdir: Path, name: str, ready: bool, extra: dict[str, str] | None = None
) -> None:
    """`run` with webhooks on: its log and pages while it works (or fails, with a refused key)."""
    with ExitStack() as stack:
        box = _sandbox(stack)
        mapping = write_mapping(workdir)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = _env(
            box,
            workdir,
            mapping,
            **http_env(port, public=True),
            CONNECTOR_SCHEDULE="1h",
            CONNECTOR_COLLECT_INTERVAL="1s",
            CONNECTOR_BACKOFF_INITIAL_SECONDS="1",
            CONNECTOR_SHUTDOWN_TIMEOUT="10",
            **(extra or {}),
        )
        db = workdir / "state.db"
        collected.db_files.append(db)
        log_path = workdir / "run.log"
        with running(env, workdir, log_path, ("run", "--log-level", "debug")) as proc:
            http = stack.enter_context(httpx.Client(base_url=url, timeout=10))
            if ready:
                done = poll(
                    lambda: _accepted_webhooks(http) >= 1, 60, 0.1, alive=proc, ignore=(httpx.HTTPError,)
                )
            else:
                done = poll(lambda: _not_ready_because(http), 60, 0.1, alive=proc, ignore=(httpx.HTTPError,))
            if not done:
                collected.problems.append(f"{name}: the service did not get there in 60 s")
            secret = _stored_secret(db)
            if secret:
                collected.webhook_secrets.append(secret)
                for body in (b"{not json", b'{"id": "cr_nope"}', b"[]"):
                    page = http.post(f"/webhooks/saber/{secret}", content=body)
                    collected.add(Output(f"{name}: webhook answer", page.text, page.status_code))
            for which, path in (
                ("wrong-secret", "/webhooks/saber/wrong-secret-value"),
                ("empty-secret", "/webhooks/saber/"),
            ):
                page = http.post(path, json={"id": "x"})
                collected.add(Output(f"{name}: {which} webhook answer", page.text, page.status_code))
            for path in ("/metrics", "/readyz", "/healthz", "/nope"):
                page = http.get(path)
                collected.add(Output(f"{name}: {path}", page.text, page.status_code))
        collected.add(
            Output(f"{name}: log", log_path.read_text(encoding="utf-8", errors="replace"), proc.returncode)
        )


def _accepted_webhooks(http: httpx.Client) -> float:
    return next(
        iter(metric_values(http.get("/metrics").text, "saber_connector_webhooks_total", outcome="accepted")),
        0.0,
    )


def _not_ready_because(http: httpx.Client) -> bool:
    body = http.get("/readyz").json()
    return body.get("ready") is False and bool(body.get("reason"))


def _stored_secret(db: Path) -> str | None:
    """The webhook secret the service generated and kept in its state database."""
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM cursors WHERE name = 'webhook.secret'").fetchone()
    return str(row[0]) if row else None


# ---------------------------------------------------------------------------- the search
def count(text: str, secrets: list[str]) -> int:
    return sum(text.count(n) for s in secrets for n in needles(s))


def shown(outputs: list[Output], secrets: list[str]) -> tuple[int, str]:
    """How often the secrets stand in the outputs, and in which (the figure's note)."""
    hits = [(o.name, count(o.text, secrets)) for o in outputs]
    return sum(n for _, n in hits), "; ".join(f"{name}: {n}" for name, n in hits if n)


def run(long: bool) -> list[Figure]:
    """Run every command and failure, then search everything they showed and stored."""
    started = time.monotonic()
    collected = Collected()
    with tempfile.TemporaryDirectory(prefix="secrets-") as tmp:
        base = Path(tmp)
        jobs: list[tuple[Callable[..., None], tuple[Any, ...]]] = [
            (service, ("run", True)),
            (echoes, (long,)),
            *(
                (solo, (case,))
                for case in ORDINARY + FAILURES + (LONG_ORDINARY + LONG_FAILURES if long else [])
            ),
        ]
        if long:
            jobs.append((service, ("run: Saber 401", False, {"SABER_API_KEY": WRONG_SABER_KEY})))
        # The happy path's chain runs here; everything else (independent of it) runs beside it.
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures: list[Future[Any]] = []
            for i, (job, args) in enumerate(jobs):
                (base / f"job{i}").mkdir()
                futures.append(pool.submit(job, collected, base / f"job{i}", *args))
            (base / "happy").mkdir()
            happy_path(collected, base / "happy", long)
            for future in futures:
                future.result()
        db_bytes = b"".join(
            p.read_bytes()
            for db in collected.db_files
            for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal"))
            if p.exists()
        )
        db_text = db_bytes.decode("utf-8", errors="replace")
    lines = sum(len(o.text.splitlines()) for o in collected.outputs)
    keys_shown, keys_where = shown(collected.outputs, list(KEYS))
    secrets_shown, secrets_where = shown(collected.outputs, collected.webhook_secrets)
    commands = sum(
        1
        for o in collected.outputs
        if o.code is not None
        and "webhook answer" not in o.name
        and not o.name.startswith(("run: /", "run: Saber 401: /"))
    )
    return [
        Figure(
            SECTION, "commands run", commands, note="incl. failures, --dry-run and the service with webhooks"
        ),
        Figure(
            SECTION,
            "outputs searched",
            len(collected.outputs),
            note="stdout+stderr, logs, pages, webhook answers",
        ),
        Figure(SECTION, "lines scanned", lines),
        Figure(SECTION, "state database bytes scanned", len(db_bytes)),
        Figure(
            SECTION,
            "steps that did not behave as expected",
            len(collected.problems),
            must_be=0,
            note="; ".join(collected.problems)[:600],
        ),
        Figure(SECTION, "key occurrences in output", keys_shown, must_be=0, note=keys_where),
        Figure(SECTION, "key occurrences in the state database", count(db_text, list(KEYS)), must_be=0),
        Figure(
            SECTION,
            "webhook secrets generated and found in the state database",
            len(collected.webhook_secrets),
            must_be=1 + int(long),
        ),
        Figure(SECTION, "webhook-secret occurrences in output", secrets_shown, must_be=0, note=secrets_where),
        Figure(SECTION, "wall seconds", round(time.monotonic() - started, 1)),
    ]
