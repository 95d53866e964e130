"""The connector's economy, throughput and scale, measured against the built-in sandbox.

    python tests/bench/run.py            # the full run (about 15 minutes on 2 cores)
    python tests/bench/run.py --quick    # the CI smoke test (well under 2 minutes)
    python tests/bench/run.py --only economy --only scale
    python tests/bench/run.py --write-readme   # and write the figures into tests/bench/README.md

It drives the real connector, `saber-connector sync` in a subprocess (its own process, as
cron runs it, so that its memory and CPU time are its own), against the sandbox's fake
HubSpot and Saber started in the bench's process, and prints one plain-text table: figure | value | target | met?. Progress goes to stderr.
It exits 0 whatever the figures are (targets are reported, never asserted); only a bench
that crashed exits 1.

- economy: a portal seeded with about 5 selected contacts per company domain and the
  default mapping; a first sync (waiting until every research is done), a re-sync with
  nothing changed, a re-sync with 5% of the contacts' job titles changed. Counted from the
  sandbox's own request logs and credit balance, against minimums the bench works out
  itself from the portal and the mapping.
- throughput: HubSpot 150 ms latency, 100 calls per 10 s, 5 searches a second; Saber 300 ms
  latency, 200 writes a minute in bursts of 40 and 10,000 reads a minute in bursts of 1,000
  (the published limits scaled down tenfold), research done in 2-5 s and signals in 0.25-0.75 s
  (Saber's 15-45 s, scaled like the research). The first sync's wall time against the floor
  the tightest limit allows (plus the last research's and the longest signal's own time), and
  against a naive script (read the contact, POST research, poll until done, PATCH the contact;
  one contact after another).
- scale: a large portal with no latency and no rate limits, the connector run as
  `saber-connector sync` in a subprocess: a dry run, a read-and-plan pass (`--max-new 0`)
  and an unchanged re-sync; wall time, peak RSS and CPU time of the connector process.
- prospecting: 200 target accounts (20 with --quick), `saber-connector prospect` twice in a
  subprocess with throughput's latency and limits: HubSpot and Saber calls per account searched
  and per contact created, then the calls of a second run that creates nobody
  (tests/bench/prospecting.py).
- linkedin: a job of 200 prospects (20 with --quick) and a scan over a portal of 400 contacts
  (40), `saber-connector linkedin run` in a subprocess until each lands, then a rerun: calls and
  credits per imported prospect and per scanned contact, and what the rerun pays (nothing)
  (tests/bench/linkedin.py).
- reconcile: a state knowing 10,000 contacts (1,000 with --quick), 2% of them archived or deleted
  for good in HubSpot, `saber-connector reconcile` twice in a subprocess: HubSpot calls and seconds
  per 10,000 contacts known (tests/bench/reconcile.py).

Times are scaled as the research is: research that takes 2-5 minutes for real takes 2-5 s
in throughput (and (120-300)/speed s in economy), signals that take 15-45 s take as much less,
so the connector's time settings, whatever their defaults are (`CONNECTOR_POLL_MIN_SECONDS`,
`CONNECTOR_POLL_MAX_SECONDS`, and in economy also `CONNECTOR_WRITE_DELAY_SECONDS`), are divided
by the same factor: look-ups per research are then what a real portal would see. The schedule
of looks learns research and signal times from each run's own completions (a fresh state
database: it starts with nothing learned).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = Path(__file__).with_name("README.md")  # where --write-readme writes the figures
if str(ROOT) not in sys.path:  # run as a script: make `connector` and `tests` importable
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from connector.logs import configure_logging  # noqa: E402
from connector.mapping import Mapping, build_inputs, load_mapping  # noqa: E402
from connector.sandbox.hubspot import HubSpotSandbox  # noqa: E402
from connector.sandbox.runner import RunningSandbox  # noqa: E402
from connector.sandbox.saber import SaberSandbox  # noqa: E402
from connector.sandbox.seed import COMPANIES, seed_contacts  # noqa: E402
from connector.sandbox.server import Knobs, RecordedRequest  # noqa: E402
from connector.settings import Settings  # noqa: E402
from tests.bench import linkedin as linkedin_bench  # noqa: E402
from tests.bench import prospecting as prospecting_bench  # noqa: E402
from tests.bench import reconcile as reconcile_bench  # noqa: E402
from tests.bench.linkedin import LINKEDIN_FIGURES  # noqa: E402, F401 - tests/bench/test_quick.py
from tests.bench.prospecting import PROSPECTING_FIGURES  # noqa: E402, F401 - tests/bench/test_quick.py
from tests.bench.reconcile import RECONCILE_FIGURES  # noqa: E402, F401 - tests/bench/test_quick.py
from tests.docs_markers import add_write_readme, figures_block, write_between  # noqa: E402
from tests.sync_harness import ROOT_MAPPING, prepare, sandbox_env, settings_for  # noqa: E402

# ----------------------------------------------------------------------------- figure names
# The economy figures, by name: tests/bench/test_quick.py checks that the table shows each.
HS_FIRST = "HubSpot calls per 1,000 contacts, first full cycle"
HS_UNCHANGED = "HubSpot calls, unchanged re-sync"
HS_CHANGED = "HubSpot calls, 5% changed re-sync"
PAID_FIRST = "Saber writes (paid calls) per researched contact, first cycle"
PAID_CHANGED = "Saber paid calls, 5% changed re-sync"
SECOND_CHARGES = "second charges (same answer paid twice), all syncs"
FREE_FIRST = "Saber free reads per researched contact, first cycle"
LOOKS_FIRST = "look-ups of research and signals per researched contact, first cycle"
WALL_FIRST = "first sync wall time / floor, research 2-5 min"
WALL_CHANGED = "5% changed re-sync wall time / floor (times learned)"
SABER_UNCHANGED = "Saber calls, unchanged re-sync"
CREDITS_FIRST = "credits spent / minimum, first cycle"
CREDITS_CHANGED = "credits spent / minimum, 5% changed re-sync"
ECONOMY_FIGURES = (
    HS_FIRST,
    HS_UNCHANGED,
    HS_CHANGED,
    PAID_FIRST,
    PAID_CHANGED,
    SECOND_CHARGES,
    FREE_FIRST,
    LOOKS_FIRST,
    WALL_FIRST,
    WALL_CHANGED,
    SABER_UNCHANGED,
    CREDITS_FIRST,
    CREDITS_CHANGED,
)

# ----------------------------------------------------------------------------- constants
SELECTED_STAGES = ("lead", "marketingqualifiedlead")  # the default mapping's select.filters
PER_DOMAIN = 5  # selected contacts per company domain in the seeded portals
CHANGED_SHARE = 0.05


def default(setting: str) -> Any:
    """The connector's default for a setting (its lower-case name), as a user gets it."""
    return Settings.model_fields[setting].default


POLL_MIN, POLL_MAX = default("connector_poll_min_seconds"), default("connector_poll_max_seconds")
POLL = {"connector_poll_min_seconds": POLL_MIN / 60, "connector_poll_max_seconds": POLL_MAX / 60}
RESEARCH_SECONDS = (2.0, 5.0)
SIGNAL_SECONDS = (15.0 / 60, 45.0 / 60)  # Saber's 15-45 s, scaled as research of 2-5 min is to 2-5 s
WAIT = 1800.0  # --wait of the first syncs: until every research is done (they take seconds)
# Calls Saber charges for (a batch: one call, a credit per signal in it).
PAID_ENDPOINTS = (
    "research_create",
    "contact_signal_create",
    "company_signal_create",
    "company_signal_batch",
    "company_signal_sync",
    "contact_signal_sync",
)
POLLS = ("research_get", "contact_signal_get", "company_signal_get")  # looks at work in flight
SCALE_LIFTED = {  # no rate limits for the scale runs: the connector's own cost is measured
    "HUBSPOT_REQUESTS_PER_10S": "100000000",
    "HUBSPOT_SEARCHES_PER_SECOND": "100000000",
    "SABER_READS_PER_MINUTE": "1000000000",
    "SABER_READ_BURST": "1000000000",
    "SABER_WRITES_PER_MINUTE": "1000000000",
    "SABER_WRITE_BURST": "1000000000",
}

_T0 = time.monotonic()


def say(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the report
@dataclass
class Row:
    figure: str
    value: str
    target: str = "-"
    met: bool | None = None  # None: no target, shown for context


@dataclass
class Section:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    crashed: str | None = None

    def add(self, figure: str, value: str, target: str = "-", met: bool | None = None) -> None:
        self.rows.append(Row(figure, value, target, met))


def render(sections: Sequence[Section]) -> str:
    """The plain-text table, every section's rows under its title, then the notes."""
    head = ("figure", "value", "target", "met?")
    rows = [r for s in sections for r in s.rows]
    widths = [
        max([len(head[0]), *(len(r.figure) + 2 for r in rows)]),
        max([len(head[1]), *(len(r.value) for r in rows)]),
        max([len(head[2]), *(len(r.target) for r in rows)]),
        4,
    ]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(head), "-+-".join("-" * w for w in widths)]
    for s in sections:
        out.append(f"{s.title}")
        if s.crashed:
            out.append(f"  the bench crashed here: {s.crashed}")
        for r in s.rows:
            met = "-" if r.met is None else ("yes" if r.met else "NO")
            out.append(line((f"  {r.figure}", r.value, r.target, met)))
    notes = [(s.name, n) for s in sections for n in s.notes]
    if notes:
        out.append("")
        out.append("notes:")
        out.extend(f"- {name}: {n}" for name, n in notes)
    return "\n".join(out)


# ----------------------------------------------------------------------------- the portal
def portal_rows(n: int, seed: int = 7) -> list[dict[str, str | None]]:
    """`n` seeded contacts, their companies reassigned so about PER_DOMAIN selected ones share a domain.

    The sandbox's own seed spreads contacts over 600 companies (one or two per company in a
    small portal); here the selected contacts with a company go round-robin over
    len(selected) / PER_DOMAIN companies, the others to one of the same at random, and the
    website and a company e-mail address follow the company.
    """
    rows = seed_contacts(n, seed)
    domain_of = dict(COMPANIES)
    with_company = [i for i, r in enumerate(rows) if r.get("company")]
    selected = [i for i in with_company if rows[i].get("lifecyclestage") in SELECTED_STAGES]
    first_by_domain: dict[str, tuple[str, str]] = {}
    for name, domain in COMPANIES:  # several seeded companies share a domain (acme.com): one each
        first_by_domain.setdefault(domain, (name, domain))
    distinct = list(first_by_domain.values())
    k = max(1, min(len(distinct), round(len(selected) / PER_DOMAIN)))
    chosen = distinct[:k]
    rnd = random.Random(seed)
    picks = {i: chosen[j % k] for j, i in enumerate(selected)}
    for i in with_company:
        name, domain = picks.get(i) or chosen[rnd.randrange(k)]
        row = rows[i]
        old = domain_of[str(row["company"])]
        row["company"] = name
        if row.get("website"):
            row["website"] = str(row["website"]).replace(old, domain)
        local, _, mail_domain = str(row["email"]).partition("@")
        if mail_domain == old:
            row["email"] = f"{local}@{domain}"
    seen: set[str] = set()
    for i, row in enumerate(rows):  # HubSpot keeps e-mail addresses unique
        email = str(row["email"])
        if email.lower() in seen:
            local, _, mail_domain = email.partition("@")
            email = row["email"] = f"{local}.{i}@{mail_domain}"
        seen.add(email.lower())
    return rows


class TimedSaber(SaberSandbox):
    """The Saber sandbox with research taking `low`-`high` seconds, drawn per research.

    The sandbox's `research_delay` is one fixed number; this draws each research's due time
    (deterministically, from the sandbox's seed) so that results trickle in as they do.
    """

    def __init__(self, *args: Any, research_seconds: tuple[float, float] = RESEARCH_SECONDS, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.research_seconds = research_seconds
        self._delays = random.Random(f"bench-delays-{self.seed}")

    def _new_research(self, body: dict[str, Any]) -> Any:
        record = super()._new_research(body)
        low, high = self.research_seconds
        record.due = record.created + low + (high - low) * self._delays.random()
        return record


def start_box(
    *,
    rows: list[dict[str, str | None]] | None = None,
    contacts: int = 0,
    hubspot_latency: float = 0.0,
    saber_latency: float = 0.0,
    hubspot_limits: tuple[int, int] = (100, 5),
    hubspot_speed: float = 1.0,
    saber_limits: dict[str, int] | None = None,
    research_seconds: tuple[float, float] = RESEARCH_SECONDS,
    signal_seconds: tuple[float, float] = SIGNAL_SECONDS,
) -> RunningSandbox:
    """Both fake APIs on free loopback ports; `rows` are added as a person would add them.

    `hubspot_speed` shortens HubSpot's limit windows (10 s, 1 s) by that factor.
    """
    hubspot = HubSpotSandbox(
        knobs=Knobs(latency=hubspot_latency, seed=1),
        contacts=contacts,
        requests_per_10s=hubspot_limits[0],
        searches_per_second=hubspot_limits[1],
        rate_window=10.0 / hubspot_speed,
        search_window=1.0 / hubspot_speed,
    )
    for row in rows or ():
        hubspot.add_contact(row)
    hubspot.start()
    try:
        saber = TimedSaber(
            knobs=Knobs(latency=saber_latency, seed=2),
            credits=10**9,
            research_seconds=research_seconds,
            signal_delay=signal_seconds,
            **(saber_limits or {}),
        )
        saber.start()
    except BaseException:
        hubspot.stop()
        raise
    return RunningSandbox(hubspot=hubspot, saber=saber)


@contextlib.contextmanager
def workdir(name: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"saber-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def bench_mapping(directory: Path) -> Path:
    """mappings/default.yaml with `max_new_per_run` lifted, so one cycle launches every selected contact."""
    text = ROOT_MAPPING.read_text(encoding="utf-8")
    lifted, count = re.subn(r"(max_new_per_run:\s*)\d+", r"\g<1>1000000", text)
    if count != 1:
        raise RuntimeError(f"{ROOT_MAPPING}: no single max_new_per_run line to lift")
    path = directory / "mapping.yaml"
    path.write_text(lifted, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Clock:
    """Economy's time scale: research of 2-5 minutes takes (120-300)/speed s, and so on.

    Everything that depends on time runs `speed` times faster: research, the polling schedule
    (the defaults of the first look and the longest wait, divided by `speed`), the write
    delay, the APIs' latency (HubSpot 150 ms, Saber 300 ms) and both APIs' published limits (and the connector's
    settings for them; burst sizes are counts and stay). The connector's own CPU time cannot
    be scaled, so `speed` is kept low enough that launching takes about as long, next to
    research, as it does for real.
    """

    speed: float

    @property
    def research(self) -> tuple[float, float]:
        return (120.0 / self.speed, 300.0 / self.speed)

    @property
    def signals(self) -> tuple[float, float]:
        return (15.0 / self.speed, 45.0 / self.speed)

    @property
    def saber(self) -> dict[str, int]:
        return {
            "writes_per_minute": round(2_000 * self.speed),
            "write_burst": 400,
            "reads_per_minute": round(100_000 * self.speed),
            "read_burst": 10_000,
        }

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "connector_poll_min_seconds": POLL_MIN / self.speed,
            "connector_poll_max_seconds": POLL_MAX / self.speed,
            "connector_write_delay_seconds": default("connector_write_delay_seconds") / self.speed,
            "saber_writes_per_minute": round(2_000 * self.speed),
            "saber_write_burst": 400,
            "saber_reads_per_minute": round(100_000 * self.speed),
            "saber_read_burst": 10_000,
            "hubspot_requests_per_10s": round(90 * self.speed),
            "hubspot_searches_per_second": round(4 * self.speed),
        }


def connector_env(box: RunningSandbox, directory: Path, mapping: Path, **values: Any) -> dict[str, str]:
    """The CLI's environment for this sandbox: the defaults a user gets, the polling schedule scaled by 1/60.

    `values` are settings by their lower-case names (`saber_write_burst=40`).
    """
    env = sandbox_env(box, directory, mapping)
    merged = {**POLL, "connector_concurrency": 8, "http_max_backoff": 60.0, "connector_log_level": "WARNING"}
    merged.update(values)
    env.update({name.upper(): str(value) for name, value in merged.items()})
    return env


def needs_research(mapping: Mapping, rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The inputs of every contact the mapping selects and can research (the minimum's basis)."""
    out = []
    for row in rows:
        if row.get("lifecyclestage") not in SELECTED_STAGES:
            continue
        inputs = build_inputs(mapping, row).inputs
        if inputs is not None:
            out.append(inputs)
    return out


def folded(question: str) -> str:
    return " ".join(question.split()).casefold()


# ----------------------------------------------------------------------------- counting
@dataclass
class Phase:
    """What one sync did, as the sandboxes saw it."""

    name: str
    seconds: float
    summary: dict[str, Any]  # the CLI's `--output json` summary
    hubspot: list[RecordedRequest]
    saber: list[RecordedRequest]
    research: list[dict[str, Any]]  # research created in this phase
    credits: int  # credits the sandbox charged in this phase

    def hubspot_by_endpoint(self) -> Counter[str]:
        return Counter(r.endpoint for r in self.hubspot)

    def saber_by_endpoint(self) -> Counter[str]:
        return Counter(r.endpoint for r in self.saber)

    def paid(self) -> list[RecordedRequest]:
        """Calls to a paid endpoint that Saber accepted (a refused or throttled call is not charged)."""
        return [r for r in self.saber if r.endpoint in PAID_ENDPOINTS and 200 <= r.status < 300]

    def reads(self) -> list[RecordedRequest]:
        return [r for r in self.saber if r.method == "GET"]

    def looks(self) -> list[RecordedRequest]:
        """Reads that look at research or a signal in flight: by id, or a research by its external ID
        once it was launched (a look-up before the launch is the check that nothing is paid twice)."""
        launched: dict[str, float] = {}
        for r in self.saber:
            if r.endpoint == "research_create" and isinstance(r.body, dict) and 200 <= r.status < 300:
                launched.setdefault(str(r.body.get("externalId")), r.at)
        out = []
        for r in self.saber:
            if r.method != "GET" or r.status == 429:
                continue
            if r.endpoint in POLLS:
                out.append(r)
            elif r.endpoint == "research_find":
                at = launched.get((r.query.get("externalId") or [""])[0])
                if at is not None and r.at > at:
                    out.append(r)
        return out


def run_phase(name: str, box: RunningSandbox, env: dict[str, str], directory: Path) -> Phase:
    """`saber-connector sync --wait ...` once, with the sandboxes' logs of what it did."""
    box.hubspot.clear_log()
    box.saber.clear_log()
    before_research = len(box.saber.all_research())
    before_credits = box.saber.credits_left
    say(f"{name}: sync starts")
    run = run_measured(("sync", "--wait", f"{WAIT:g}", "--output", "json"), env, directory)
    if run.exit_code not in (0, 1):  # 1: record-level failures, still a finished cycle
        raise RuntimeError(f"{name}: saber-connector sync exited {run.exit_code}: {stderr_tail(directory)}")
    summary = run.summary
    phase = Phase(
        name=name,
        seconds=run.wall,
        summary=summary,
        hubspot=list(box.hubspot.requests),
        saber=list(box.saber.requests),
        research=box.saber.all_research()[before_research:],
        credits=before_credits - box.saber.credits_left,
    )
    say(
        f"{name}: done in {run.wall:.1f}s ({run.cpu:.1f}s CPU), outcome {summary.get('outcome')}, "
        f"{len(phase.research)} research launched, {len(phase.hubspot)} HubSpot and {len(phase.saber)} "
        f"Saber calls, {summary.get('pending')} pending"
    )
    return phase


def stderr_tail(directory: Path) -> str:
    path = directory / "connector-stderr.log"
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def second_charges(box: RunningSandbox) -> tuple[int, int]:
    """(research, signals) paid again for the same thing: same contact and inputs, or same target and
    question, from the sandbox's own books (every accepted signal POST is a new, charged signal)."""
    research = Counter(
        json.dumps({k: v for k, v in r.items() if k in RESEARCH_KEYS}, sort_keys=True)
        for r in box.saber.all_research()
    )
    signals = Counter(
        (
            "company" if "domain" in s else "contact",
            str(s.get("domain") or s.get("contactProfileUrl") or "").casefold(),
            folded(str(s.get("question", ""))),
            str(s.get("answerType")),
        )
        for s in box.saber.signals(created=True)
    )
    return sum(n - 1 for n in research.values()), sum(n - 1 for n in signals.values())


def tail_seconds(research: Sequence[dict[str, Any]], signals: Sequence[dict[str, Any]]) -> float:
    """What no limit can shorten: from the last launch until the last research is done, then the
    longest signal's own time."""
    times = [(_when(r.get("createdAt")), _when(r.get("completedAt"))) for r in research]
    done = [(start, end) for start, end in times if start is not None and end is not None]
    after_last = (
        (max(end for _, end in done) - max(start for start, _ in done)).total_seconds() if done else 0.0
    )
    longest = max((s.get("metadata", {}).get("processingTimeMs", 0) for s in signals), default=0)
    return max(0.0, after_last) + longest / 1000.0


def _when(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None


def limit_floor(
    phase: Phase, saber: dict[str, int], hubspot_window: float, searches_per_second: float
) -> tuple[str, float, dict[str, float]]:
    """The tightest limit and the time it alone needs for the calls the run made (beyond its burst)."""
    writes = [r for r in phase.saber if r.method == "POST" and 200 <= r.status < 300]
    reads = [r for r in phase.saber if r.method == "GET" and 200 <= r.status < 500 and r.status != 429]
    searches = [r for r in phase.hubspot if r.endpoint == "contacts_search" and r.status != 429]
    others = [r for r in phase.hubspot if r.endpoint != "contacts_search" and r.status != 429]
    limits = {
        "Saber writes": max(0, len(writes) - saber["write_burst"]) * 60 / saber["writes_per_minute"],
        "Saber reads": max(0, len(reads) - saber["read_burst"]) * 60 / saber["reads_per_minute"],
        "HubSpot calls/10 s": hubspot_window * ((len(others) - 1) // 100) if others else 0.0,
        "HubSpot searches/s": (len(searches) - 1) / searches_per_second if searches else 0.0,
    }
    binding = max(limits, key=lambda k: limits[k])
    return binding, limits[binding], limits


RESEARCH_KEYS = (
    "externalId",
    "externalSource",
    "firstName",
    "lastName",
    "companyName",
    "companyDomain",
    "contactProfileUrl",
    "linkedInSalesNavigatorUrl",
    "jobTitle",
)


def signal_minimum(mapping: Mapping, research: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """(company, contact) signal asks the mapping needs at least for this completed research.

    A company-scope signal once per distinct company domain; a contact-scope one once per
    distinct profile URL, and only where the research result does not already answer it.
    """
    used = set(mapping.used_signals())
    company = [s for k, s in mapping.signals.items() if k in used and s.scope == "company"]
    contact = [s for k, s in mapping.signals.items() if k in used and s.scope == "contact"]
    company_targets: set[tuple[str, str, str]] = set()
    contact_targets: set[tuple[str, str, str]] = set()
    for r in research:
        if r.get("status") != "completed":
            continue
        result = r.get("result") or {}
        answered = {folded(str(s.get("question", ""))) for s in result.get("signals") or []}
        domain = str(r.get("companyDomain") or "").casefold()
        for spec in company:
            if folded(spec.question) not in answered and domain:
                company_targets.add((domain, folded(spec.question), spec.answer_type))
        url = str(r.get("contactProfileUrl") or result.get("linkedInUrl") or "")
        for spec in contact:
            if folded(spec.question) not in answered and url:
                contact_targets.add((url, folded(spec.question), spec.answer_type))
    return len(company_targets), len(contact_targets)


def ratio(value: float, of: float) -> str:
    return f"{value / of:.2f}" if of else "-"


def breakdown(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"


# ----------------------------------------------------------------------------- economy
def economy(quick: bool) -> Section:
    n = 200 if quick else 2000
    section = Section("economy", "")
    rows = portal_rows(n)
    clock = Clock(speed=60 if quick else 10)
    with (
        workdir("economy") as tmp,
        start_box(
            rows=rows,
            hubspot_latency=0.15 / clock.speed,
            saber_latency=0.3 / clock.speed,
            hubspot_speed=clock.speed,
            saber_limits=clock.saber,
            research_seconds=clock.research,
            signal_seconds=clock.signals,
        ) as box,
    ):
        mapping_path = bench_mapping(tmp)
        mapping = load_mapping(mapping_path)
        prepare(settings_for(box, tmp, mapping_path))
        env = connector_env(box, tmp, mapping_path, **clock.settings)
        wanted = needs_research(mapping, rows)
        domains = Counter(i["companyDomain"].casefold() for i in wanted)
        section.title = (
            f"economy: {n:,} contacts, {len(wanted):,} selected and researchable at {len(domains):,} "
            f"company domains ({len(wanted) / max(1, len(domains)):.1f} a domain), default mapping"
        )
        say(f"economy: {n} contacts, {len(wanted)} to research, {len(domains)} domains")

        first = run_phase("economy first sync", box, env, tmp)
        first_tail = tail_seconds(first.research, box.saber.signals(created=True))
        first_signals = len(box.saber.signals(created=True))
        unchanged = run_phase("economy unchanged re-sync", box, env, tmp)
        researched_ids = sorted({str(r.get("externalId")) for r in first.research}, key=int)
        changed = researched_ids[:: max(1, len(researched_ids) // max(1, round(n * CHANGED_SHARE)))]
        changed = changed[: round(n * CHANGED_SHARE)]
        for cid in changed:
            title = box.hubspot.contact(cid).get("jobtitle") or "Engineer"
            box.hubspot.edit_contact(cid, {"jobtitle": f"Principal {title}"[:200]})
        say(f"economy: changed the job title of {len(changed)} researched contacts")
        signals_before = len(box.saber.signals(created=True))
        edited = run_phase("economy 5% changed re-sync", box, env, tmp)
        edited_tail = tail_seconds(edited.research, box.saber.signals(created=True)[signals_before:])
        research_twice, signals_twice = second_charges(box)

    cost, signal_cost = box.saber.research_cost, box.saber.signal_cost
    # First cycle: every researchable contact once, each company's signal once, no contact signal the result holds.
    researched = len({r.get("externalId") for r in first.research})
    company_min, contact_min = signal_minimum(mapping, first.research)
    paid_min = len(wanted) + company_min + contact_min
    credits_min = len(wanted) * cost + (company_min + contact_min) * signal_cost
    paid = first.paid()
    hs_per_1000 = len(first.hubspot) / n * 1000
    section.add(HS_FIRST, f"{hs_per_1000:.1f} ({len(first.hubspot)} calls)", "<= 26", hs_per_1000 <= 26)
    section.add(HS_UNCHANGED, str(len(unchanged.hubspot)), "<= 2", len(unchanged.hubspot) <= 2)
    # 5% changed: one research per changed contact; its company's answer is still fresh, nothing else to pay.
    changed_min = len(changed)
    section.add(
        HS_CHANGED,
        f"{len(edited.hubspot)} for {len(changed)} changed",
        "-",
    )
    per = len(paid) / researched if researched else 0.0
    # Batched: research and contact signals one call each, company signals at least 10 a call.
    writes_target = len(wanted) + contact_min + math.ceil(company_min / 10)
    section.add(
        PAID_FIRST,
        f"{per:.3f} ({len(paid)} for {researched}: {breakdown(Counter(r.endpoint for r in paid))})",
        f"<= {writes_target / max(1, len(wanted)):.3f} ({writes_target}; unbatched {paid_min})",
        len(paid) <= writes_target and researched == len(wanted),
    )
    section.add(
        PAID_CHANGED,
        f"{len(edited.paid())}",
        f"= minimum {changed_min}",
        len(edited.paid()) <= changed_min,
    )
    section.add(
        SECOND_CHARGES,
        f"{research_twice + signals_twice} ({research_twice} research, {signals_twice} signals)",
        "0",
        research_twice + signals_twice == 0,
    )
    reads = first.reads()
    free_per = len(reads) / researched if researched else 0.0
    section.add(FREE_FIRST, f"{free_per:.2f} ({len(reads)} reads)", "<= 2.5", free_per <= 2.5)
    looks = first.looks()
    looks_per = len(looks) / researched if researched else 0.0
    section.add(
        LOOKS_FIRST,
        f"{looks_per:.2f} ({breakdown(Counter(r.endpoint for r in looks))})",
        "<= 1.5 (no webhooks)",
        looks_per <= 1.5,
    )
    floors: dict[str, tuple[str, float]] = {}
    for name, phase, tail in ((WALL_FIRST, first, first_tail), (WALL_CHANGED, edited, edited_tail)):
        binding, floor, _ = limit_floor(phase, clock.saber, 10.0 / clock.speed, 5 * clock.speed)
        floors[name] = (binding, floor + tail)
        section.add(
            name,
            f"{phase.seconds / (floor + tail):.2f} ({phase.seconds:.1f} s, floor {floor + tail:.1f} s)",
            "<= 1.10",
            floor + tail > 0 and phase.seconds / (floor + tail) <= 1.10,
        )
    binding, floor = floors[WALL_FIRST]
    section.add(SABER_UNCHANGED, str(len(unchanged.saber)), "0 paid", not unchanged.paid())
    section.add(
        CREDITS_FIRST,
        f"{first.credits} / {credits_min}",
        "= minimum",
        first.credits <= credits_min,
    )
    section.add(
        CREDITS_CHANGED,
        f"{edited.credits} / {changed_min * cost}",
        "= minimum",
        edited.credits <= changed_min * cost,
    )
    for phase in (first, unchanged, edited):
        section.notes.append(
            f"{phase.name} ({phase.seconds:.1f}s): HubSpot {breakdown(phase.hubspot_by_endpoint())}; "
            f"Saber {breakdown(phase.saber_by_endpoint())}; credits {phase.credits} "
            f"(summary: by kind {phase.summary.get('credits_by_kind')}, saved {phase.summary.get('credits_saved')})"
        )
    section.notes.append(
        f"minimum, first cycle: {len(wanted)} research + {company_min} company signals (one per domain) + "
        f"{contact_min} contact signals (the research result answers the contact-scope question); "
        f"{researched} contacts researched"
    )
    section.notes.append(
        "the mapping is mappings/default.yaml with max_new_per_run lifted from 500, so one cycle "
        f"researches every selected contact. Time runs {clock.speed:g} times faster than for real: research "
        f"takes {clock.research[0]:g}-{clock.research[1]:g} s (2-5 minutes for real), the polling schedule is "
        f"the default divided by {clock.speed:g} (first look after {POLL_MIN / clock.speed:g} s instead of "
        f"{POLL_MIN:g} s, at most every {POLL_MAX / clock.speed:g} s instead of {POLL_MAX:g} s), so is the "
        f"write delay, latency is HubSpot's 150 ms and Saber's 300 ms divided by {clock.speed:g}, "
        f"both APIs' published limits (and the connector's settings) are {clock.speed:g} times higher. "
        "The connector's own CPU time is not scaled, so the speed is chosen for launching to take about "
        "as long next to research as it does for real: look-ups per research depend on it"
    )
    section.notes.append(
        "free reads are every Saber GET: research look-ups by external id (before a launch, and the "
        "polls), by research id, signal lists, signals by id, credits; look-ups are the reads that look at "
        "work in flight (a research or a signal by id, a research by external id once launched): the "
        "look-up by external id before a launch, kept so that a lost state database or a crash never "
        "pays twice, is not one of them"
    )
    section.notes.append(
        f"first sync: {first_signals} signals made, floor = {binding} ({floor - first_tail:.1f} s) + the "
        f"last research's and the longest signal's own time ({first_tail:.1f} s)"
    )
    section.notes.append(
        f"the unchanged re-sync pulled {unchanged.summary.get('contacts_seen')} contacts: the {first.summary.get('contacts_written')} "
        "the first sync wrote, whose lastmodifieddate its own writes moved past the saved cursor"
    )
    section.notes.append(
        "HubSpot calls per 1,000 contacts count every call of the cycle per 1,000 contacts in the portal"
    )
    if first.summary.get("pending") or edited.summary.get("pending"):
        section.notes.append(
            f"research still pending after --wait: {first.summary.get('pending')} (first), {edited.summary.get('pending')} (5%)"
        )
    return section


# ----------------------------------------------------------------------------- throughput
SCALED_SABER = {"writes_per_minute": 200, "write_burst": 40, "reads_per_minute": 10_000, "read_burst": 1_000}


def naive_baseline(
    box: RunningSandbox, mapping: Mapping, contact_ids: Sequence[str], poll: float
) -> list[float]:
    """The script a user would write, timed per contact: read it, POST research, poll until done, PATCH it."""
    hubspot = httpx.Client(
        base_url=box.hubspot.url, headers={"Authorization": f"Bearer {box.hubspot.token}"}, timeout=60
    )
    saber = httpx.Client(
        base_url=box.saber.url, headers={"Authorization": f"Bearer {box.saber.api_key}"}, timeout=60
    )
    props = ",".join(mapping.input_properties())
    times = []
    try:
        for cid in contact_ids:
            started = time.monotonic()
            contact = _naive_call(
                hubspot, "GET", f"/crm/v3/objects/contacts/{cid}", params={"properties": props}
            )
            inputs = build_inputs(mapping, contact["properties"]).inputs
            if inputs is None:
                continue
            created = _naive_call(saber, "POST", "/v1/contacts/research", json=inputs)
            while True:
                time.sleep(poll)
                research = _naive_call(saber, "GET", f"/v1/contacts/research/{created['id']}")
                if research["status"] in ("completed", "failed"):
                    break
            result = research.get("result") or {}
            values = {
                "saber_summary": result.get("summary") or "",
                "saber_current_title": result.get("currentTitle") or "",
                "saber_research_status": research["status"],
            }
            _naive_call(hubspot, "PATCH", f"/crm/v3/objects/contacts/{cid}", json={"properties": values})
            times.append(time.monotonic() - started)
    finally:
        hubspot.close()
        saber.close()
    return times


def _naive_call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """One call of the naive script; it waits out a 429 as told (kinder than most such scripts)."""
    for _ in range(20):
        answer = client.request(method, url, **kwargs)
        if answer.status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After") or 1))
            continue
        answer.raise_for_status()
        return dict(answer.json())
    raise RuntimeError("the naive baseline was throttled 20 times in a row")


def throughput(quick: bool) -> Section:
    n = 100 if quick else 2000
    sample = 6 if quick else 16
    poll = 1.0
    section = Section("throughput", "")
    rows = portal_rows(n, seed=8)
    with (
        workdir("throughput") as tmp,
        start_box(rows=rows, hubspot_latency=0.15, saber_latency=0.3, saber_limits=SCALED_SABER) as box,
    ):
        mapping_path = bench_mapping(tmp)
        mapping = load_mapping(mapping_path)
        prepare(settings_for(box, tmp, mapping_path))
        env = connector_env(box, tmp, mapping_path, **{f"saber_{k}": v for k, v in SCALED_SABER.items()})
        wanted = needs_research(mapping, rows)
        section.title = (
            f"throughput: first sync of {n:,} contacts ({len(wanted):,} to research); HubSpot 150 ms, "
            f"100 calls/10 s, 5 searches/s; Saber 300 ms, 200 writes/min (burst 40), "
            f"10,000 reads/min (burst 1,000); research 2-5 s, signals 0.25-0.75 s"
        )
        box.saber.set_limits(**SCALED_SABER)  # both buckets start full
        phase = run_phase("throughput first sync", box, env, tmp)
        tail = tail_seconds(phase.research, box.saber.signals(created=True))
        throttled = dict(box.saber.rate_limited)
        researched_ids = [str(r.get("externalId")) for r in phase.research if r.get("status") == "completed"]
        ids = researched_ids[:sample]
        say(f"throughput: naive baseline on {len(ids)} contacts, one after another (poll every {poll:g} s)")
        times = naive_baseline(box, mapping, ids, poll)
        say(f"throughput: naive baseline done, {sum(times):.1f}s for {len(times)} contacts")

    writes = [r for r in phase.saber if r.method == "POST" and 200 <= r.status < 300]
    reads = [r for r in phase.saber if r.method == "GET" and 200 <= r.status < 500 and r.status != 429]
    searches = [r for r in phase.hubspot if r.endpoint == "contacts_search" and r.status != 429]
    others = [r for r in phase.hubspot if r.endpoint != "contacts_search" and r.status != 429]
    binding, limit_time, limits = limit_floor(phase, SCALED_SABER, 10.0, 5.0)
    floor = limit_time + tail
    wall = phase.seconds
    section.add(
        f"first sync wall time, {n:,} contacts",
        f"{wall:.1f} s",
        f"<= 1.10 x floor = {1.10 * floor:.1f} s",
        wall <= 1.10 * floor,
    )
    section.add(
        "floor the tightest limit allows, plus the last research and the longest signal",
        f"{floor:.1f} s",
        f"({binding}: {len(writes)} writes, {limit_time:.1f} s; then {tail:.1f} s)"
        if binding == "Saber writes"
        else f"({binding}, {limit_time:.1f} s; then {tail:.1f} s)",
    )
    section.add("wall time / floor", ratio(wall, floor), "<= 1.10", floor > 0 and wall / floor <= 1.10)
    researched_n = len({r.get("externalId") for r in phase.research})
    section.add(
        "Saber writes per researched contact",
        f"{len(writes) / max(1, researched_n):.3f} ({breakdown(Counter(r.endpoint for r in writes))})",
        f"(the floor they set: {limits['Saber writes']:.1f} s)",
    )
    looks = phase.looks()
    section.add(
        "look-ups of research and signals per researched contact, research 2-5 s",
        f"{len(looks) / max(1, researched_n):.2f} ({breakdown(Counter(r.endpoint for r in looks))})",
        "<= 1.5 (no webhooks)",
        len(looks) / max(1, researched_n) <= 1.5,
    )
    researched = len(phase.research)
    mean = sum(times) / len(times) if times else 0.0
    naive_total = mean * researched
    section.add(
        f"naive script, {researched:,} contacts (extrapolated)",
        f"{naive_total:.0f} s",
        f"(measured on {len(times)}: {mean:.2f} s each)",
    )
    speedup = naive_total / wall if wall else 0.0
    section.add("connector speed-up over the naive script", f"{speedup:.1f} x", ">= 10 x", speedup >= 10)
    section.notes.append(
        f"the first sync made {len(writes)} Saber writes ({breakdown(Counter(r.endpoint for r in writes))}), "
        f"{len(reads)} Saber reads, {len(others)} HubSpot calls and {len(searches)} searches; "
        f"the sandbox refused {throttled or 'no'} calls with 429; "
        + "; ".join(f"{k} alone would take {v:.1f} s" for k, v in limits.items())
    )
    section.notes.append(
        "the floor is the time the tightest limit itself needs for the calls the run made (calls beyond "
        "the burst at the refill rate), plus what no limit can shorten: the last-launched research's own "
        "time and the longest signal's; it leaves out the answers' latency, so it cannot quite be reached"
    )
    section.notes.append(
        "the connector runs with SABER_WRITES_PER_MINUTE=200, SABER_WRITE_BURST=40, SABER_READS_PER_MINUTE=10000, "
        "SABER_READ_BURST=1000 (the scaled limits, as a user on that plan sets them), the HubSpot defaults "
        f"(90 calls/10 s, 4 searches/s), concurrency 8, and the polling schedule scaled by 1/60 "
        f"(first look after {POLL_MIN / 60:g} s instead of {POLL_MIN:g} s, at most every {POLL_MAX / 60:g} s)"
    )
    section.notes.append(
        f"the naive script ran on {len(times)} of the researched contacts (after the connector's run, in the "
        f"same sandbox) and was extrapolated to all {researched:,}: it asks no signals, writes 3 properties, "
        f"polls every {poll:g} s and skips finding the contacts, so the real script would be slower"
        + ("; the quick run caps it at 6 contacts to stay well under 2 minutes" if quick else "")
    )
    return section


# ----------------------------------------------------------------------------- scale
@dataclass
class Measured:
    args: tuple[str, ...]
    exit_code: int
    wall: float
    cpu: float
    rss_mb: float
    summary: dict[str, Any]


def run_measured(args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 900) -> Measured:
    """`saber-connector ARGS` in a subprocess: wall time, CPU time and peak RSS of that process alone.

    Measured by `/usr/bin/time -v` when present: the connector is then forked from `time`, a
    small process, so its peak RSS is its own. (The bench's own `wait4` figure is not: a child's
    `ru_maxrss` counts what it held between fork and exec, the bench's sandbox memory.) Without
    `time`, the peak is polled from /proc/<pid>/status (VmHWM, reset at exec) and the CPU time
    comes from `wait4`.
    """
    time_bin = Path("/usr/bin/time")
    report = cwd / "time-v.txt"
    command = [sys.executable, "-m", "connector.cli", *args]
    if time_bin.exists():
        command = [str(time_bin), "-v", "-o", str(report), *command]
    with open(cwd / "connector-stderr.log", "ab") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )
        peak_kb = [0]
        done = threading.Event()

        def watch() -> None:  # the fallback: VmHWM, polled
            while not done.wait(0.05):
                with contextlib.suppress(OSError, ValueError):
                    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak_kb[0] = max(peak_kb[0], int(line.split()[1]))

        watcher = threading.Thread(target=watch, daemon=True)
        killer = threading.Timer(timeout, proc.kill)
        if not time_bin.exists():
            watcher.start()
        killer.start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
            done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
    cpu, rss_kb = usage.ru_utime + usage.ru_stime, peak_kb[0]
    if time_bin.exists():
        fields = dict(
            line.strip().rsplit(": ", 1) for line in report.read_text().splitlines() if ": " in line
        )
        cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
        rss_kb = int(fields["Maximum resident set size (kbytes)"])
    text = out.decode("utf-8", "replace")
    try:
        summary = json.loads(text[text.index("{") :]) if "{" in text else {}
    except ValueError:
        summary = {}
    return Measured(
        args=tuple(args), exit_code=proc.returncode, wall=wall, cpu=cpu, rss_mb=rss_kb / 1024, summary=summary
    )


SCALE_PASSES = (
    ("dry run", ("sync", "--dry-run", "--output", "json")),
    ("read-and-plan pass", ("sync", "--max-new", "0", "--output", "json")),
    ("unchanged re-sync", ("sync", "--max-new", "0", "--output", "json")),
)


def scale_at(n: int) -> dict[str, Measured]:
    with workdir(f"scale-{n}") as tmp:
        say(f"scale: seeding {n:,} contacts")
        box = start_box(
            contacts=n,
            hubspot_limits=(10**9, 10**9),
            saber_limits={k: 10**9 for k in SCALED_SABER},
        )
        with box:
            mapping = tmp / "mapping.yaml"
            mapping.write_text(ROOT_MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
            prepare(settings_for(box, tmp, mapping))
            env = sandbox_env(box, tmp, mapping)
            env.update(SCALE_LIFTED)
            env.update({"CONNECTOR_LOG_LEVEL": "WARNING", **{k.upper(): str(v) for k, v in POLL.items()}})
            out = {}
            for name, args in SCALE_PASSES:
                m = run_measured(args, env, tmp)
                say(
                    f"scale {n:,}: {name}: exit {m.exit_code}, {m.wall:.1f}s wall, {m.cpu:.1f}s CPU, "
                    f"{m.rss_mb:.0f} MB peak, {m.summary.get('contacts_seen')} contacts seen"
                )
                if m.exit_code not in (0, 1):
                    tail = (tmp / "connector-stderr.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"saber-connector {' '.join(args)} exited {m.exit_code}: {tail}")
                out[name] = m
            return out


def scale(quick: bool) -> Section:
    small, large = (1_000, 5_000) if quick else (10_000, 100_000)
    section = Section(
        "scale",
        f"scale: {large:,} contacts (growth from {small:,}), no latency, no rate limits, the CLI in a subprocess",
    )
    at_small = scale_at(small)
    at_large = scale_at(large)
    for name, _ in SCALE_PASSES:
        m = at_large[name]
        section.add(f"{name} wall time, {large:,} contacts", f"{m.wall:.1f} s")
        section.add(f"{name} CPU time per contact", f"{m.cpu / large * 1000:.3f} ms")
    peak_large = max(m.rss_mb for m in at_large.values())
    peak_small = max(m.rss_mb for m in at_small.values())
    section.add(
        f"peak RSS of the connector, {large:,} contacts", f"{peak_large:.0f} MB", "< 250 MB", peak_large < 250
    )
    growth = (peak_large - peak_small) / peak_small
    section.add(
        f"peak RSS growth, {small:,} -> {large:,} contacts",
        f"{growth * 100:+.0f}% ({peak_small:.0f} -> {peak_large:.0f} MB)",
        "< 25%",
        growth < 0.25,
    )
    for name, _ in SCALE_PASSES:
        s, b = at_small[name], at_large[name]
        calls = b.summary.get("api_calls") or {}
        section.notes.append(
            f"{name}: {s.rss_mb:.0f} -> {b.rss_mb:.0f} MB peak, {s.wall:.1f} -> {b.wall:.1f} s wall, "
            f"{s.cpu:.1f} -> {b.cpu:.1f} s CPU ({small:,} -> {large:,} contacts); at {large:,}: "
            f"{b.summary.get('contacts_seen')} contacts seen, calls {calls}"
        )
    section.notes.append(
        "CPU time and peak RSS are the connector process's own (/usr/bin/time -v), interpreter start "
        "included (`saber-connector version` alone: about 48 MB, 0.3 s); the "
        "sandbox runs in the bench's process. Rate limits are lifted: at HubSpot's 5 searches a second "
        f"and Saber's 100,000 reads a minute the pull and the look-ups of {large:,} contacts could not be faster "
        "than the notes' call counts allow"
    )
    return section


# ----------------------------------------------------------------------------- prospecting
def prospecting(quick: bool) -> Section:
    """`saber-connector prospect` twice on a portal of target accounts (tests/bench/prospecting.py)."""
    with workdir("prospecting") as tmp:
        outcome = prospecting_bench.measure(quick, tmp, say)
    section = Section("prospecting", outcome.title, notes=outcome.notes)
    for figure, value in outcome.rows:
        section.add(figure, value)
    return section


# ----------------------------------------------------------------------------- linkedin
def linkedin(quick: bool) -> Section:
    """`saber-connector linkedin run` until a job and a scan land, then a rerun (tests/bench/linkedin.py)."""
    with workdir("linkedin") as tmp:
        outcome = linkedin_bench.measure(quick, tmp, say)
    section = Section("linkedin", outcome.title, notes=outcome.notes)
    for figure, value in outcome.rows:
        section.add(figure, value)
    return section


# ----------------------------------------------------------------------------- reconcile
def reconcile(quick: bool) -> Section:
    """`saber-connector reconcile` over a state knowing N contacts (tests/bench/reconcile.py)."""
    with workdir("reconcile") as tmp:
        outcome = reconcile_bench.measure(quick, tmp, say)
    section = Section("reconcile", outcome.title, notes=outcome.notes)
    for figure, value in outcome.rows:
        section.add(figure, value)
    return section


# ----------------------------------------------------------------------------- main
SECTIONS: dict[str, Callable[[bool], Section]] = {
    "economy": economy,
    "throughput": throughput,
    "scale": scale,
    "prospecting": prospecting,
    "linkedin": linkedin,
    "reconcile": reconcile,
}


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="tests/bench/run.py")
    parser.add_argument("--quick", action="store_true", help="small sizes: the CI smoke test")
    parser.add_argument(
        "--only", action="append", choices=list(SECTIONS), help="run only this part (repeatable)"
    )
    add_write_readme(parser, README, str(README.relative_to(ROOT)))
    args = parser.parse_args(argv)
    configure_logging("WARNING", "console")
    wanted = list(dict.fromkeys(args.only or SECTIONS))
    say(f"{'quick' if args.quick else 'full'} run of {', '.join(wanted)} on {machine()}")
    sections = []
    crashed = False
    for name in wanted:
        started = time.monotonic()
        try:
            section = SECTIONS[name](args.quick)
        except Exception as exc:  # noqa: BLE001 - report it, run the other parts, exit 1
            traceback.print_exc()
            section = Section(name, f"{name}:", crashed=f"{type(exc).__name__}: {exc}")
            crashed = True
        say(f"{name} took {time.monotonic() - started:.0f}s")
        sections.append(section)
    table = render(sections)
    print(table, flush=True)
    ran = f"{'quick' if args.quick else 'full'} run, {time.monotonic() - _T0:.0f} s, on {machine()}"
    print(f"\n{ran}")
    if args.write_readme and not crashed:  # a crashed part never replaces figures a whole run wrote
        options = [*(["--quick"] if args.quick else []), *(f"--only {n}" for n in args.only or ())]
        write_readme(args.write_readme, f"{table}\n\n{ran}", " ".join(["tests/bench/run.py", *options]))
    return 1 if crashed else 0


def write_readme(readme: Path, output: str, command: str) -> None:
    """The printed figures, between the figures markers of `readme` (the bench's README by default)."""
    write_between(readme, figures_block(command, output))
    say(f"figures written to {readme}")


if __name__ == "__main__":
    sys.exit(main())
