"""Crash safety (item 1): SIGKILL `sync`, `run` and one of two `run` replicas at the moments that matter.

Each trial starts a fresh sandbox and state database, runs the connector as its own process,
SIGKILLs it at one moment, checks the SQLite file (`PRAGMA integrity_check`) and that
`status` still answers, then re-runs until a cycle has nothing pending (for `run`: starts it
again until the portal is done). The world is then judged against a clean run: research paid
twice for the same contact and inputs, signal asks paid twice for the same subject and
question, completed research not in the portal, properties that differ from the clean run's,
credits beyond the clean run's, written values whose hash the state lost, runs still shown as
running.

The moments: random ones (a few milliseconds after a random request of the run); mid-launch
(the look-up by external ID before a POST); a research POST Saber applied and the connector
never heard of (also one replacing earlier research, and both after Saber forgot the
Idempotency-Key); a paid signal ask likewise; a HubSpot batch update likewise; the last batch
update of the cycle (before the cursor is saved, or just after it was heard); SIGTERM then
SIGKILL mid-stop; the first start's migration; for `run`, the property setup at start. For
two replicas on PostgreSQL, the one holding the run lock when the request is applied (the
one that sent it) is killed, and the other must finish the job alone.
"""

from __future__ import annotations

import functools
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from connector.logs import configure_logging
from tests.reliability.crash_kit import (
    SIGNAL_ENDPOINTS,
    Child,
    KillSwitch,
    Reference,
    Verdict,
    World,
    change_inputs,
    clean_sync,
    integrity,
    judge,
    kill_after,
    kill_at_migration,
    latest_research,
    output_properties,
    pg_admin,
    pg_database,
    poll,
    portal,
    reference_run,
    request_sender,
    research_done,
    schema_head,
    schema_version,
    spawn_run,
    spawn_sync,
    unowned_values,
    unwritten_results,
    world_done,
)
from tests.reliability.figures import Figure

SEED = 20261201  # trials are reproducible: the same seed picks the same moments
MAX_RERUNS = 4
WORKERS = 3  # trials side by side: most of a trial is waiting for research and subprocesses

RANDOM = "random moment"
LAUNCH = "mid-launch (look-up before a POST)"
POSTED = "research POST applied, never heard"
REPLACING = "research POST replacing a result (inputs changed), never heard"
FORGOT = ", key forgotten by Saber"
WITH_WEBHOOKS = ", with webhooks"
SETUP = "mid-setup (creating the properties at start)"
GRACE = "SIGTERM after a research POST, SIGKILL mid-stop"
EARLY = "random moment of the start (migration, setup, first cycle)"
SIGNAL = "mid-signal-ask (paid, never heard)"
BATCH = "mid-batch-write (applied, never heard)"
CURSOR = "last batch write, before the cursor save"
MIGRATION = "mid-migration (first start)"


@dataclass
class Trial:
    """How one trial went."""

    mode: str
    moment: str
    killed: bool = False
    integrity: str = "ok"
    mid_migration: bool = False
    restarts: int = 0
    restart_failures: int = 0
    finished: bool = False
    survivor_alone: bool | None = None
    adopted: int = 0  # research the re-runs found at Saber by external ID instead of paying again
    unheard_write: bool = False  # values of the killed batch were in HubSpot with no hash kept
    status_failed: bool = False  # `status` right after the kill did not answer
    verdict: Verdict | None = None
    notes: list[str] = field(default_factory=list)


Arm = Callable[[World, Child], None]


def _switch(endpoints: tuple[str, ...] | str, nth: int, **kw: object) -> Arm:
    names = frozenset((endpoints,) if isinstance(endpoints, str) else endpoints)

    def arm(world: World, child: Child) -> None:
        KillSwitch(names, nth, **kw).install(world, child)  # type: ignore[arg-type]

    return arm


def _last_write(reference: Reference, delay: float) -> Arm:
    """The batch update after which the portal is complete: the cursor save comes next."""

    def arm(world: World, child: Child) -> None:
        box = world.box

        def complete(_entry: object) -> bool:
            return (
                reference.researched <= set(latest_research(box))
                and research_done(box)
                and not unwritten_results(box)
            )

        KillSwitch(frozenset({"contacts_batch_update"}), 1, delay=delay, when=complete).install(world, child)

    return arm


def _moments(reference: Reference, rng: random.Random, long: bool) -> list[tuple[str, Arm | float]]:
    """(moment, how to arm it) for the `sync` trials; a float is a delay for the migration kill."""
    reps = 3 if long else 1
    out: list[tuple[str, Arm | float]] = []
    for _ in range(2 * reps):
        out.append((RANDOM, _random_moment(reference, rng)))
    for _ in range(reps):
        out.append((LAUNCH, _switch("research_find", rng.randint(1, 4), applied_only=False)))
        out.append((POSTED, _switch("research_create", rng.randint(1, 6))))
        out.append((SIGNAL, _switch(SIGNAL_ENDPOINTS, rng.randint(1, 4))))
        out.append((BATCH, _switch("contacts_batch_update", 1)))
        out.append((CURSOR, _last_write(reference, rng.choice((0.0, rng.uniform(0.0, 0.03))))))
        if long:
            kw = {"term_first": True, "delay": rng.uniform(0.0, 0.3)}
            out.append((GRACE, _switch("research_create", rng.randint(1, 6), **kw)))
        out.append((MIGRATION, rng.uniform(0.0, 0.04)))
    if long:
        out.append((POSTED, _switch("research_create", 1)))
        out.append((MIGRATION, 0.0))
    if not long:  # the short version: one of each moment, random included once
        out = out[1:]
    return out


def _random_moment(reference: Reference, rng: random.Random) -> Arm:
    """A random moment of the run: some milliseconds after a random one of its API requests.

    Drawn from the clean run's requests (not from its duration, which a loaded machine
    stretches or shrinks), so the kill lands while the process is busy: between requests,
    in a state commit, in a worker thread's bookkeeping.
    """
    nth = rng.randint(1, max(1, int(reference.requests * 0.9)))
    return _switch((), nth, applied_only=False, delay=rng.uniform(0.001, 0.03))


# ---------------------------------------------------------------------------------- sync
def sync_trial(
    reference: Reference, moment: str, arm: Arm | float, *, changed: bool = False, forget_keys: bool = False
) -> Trial:
    """One `sync --wait` killed at `moment`, then re-run until a cycle leaves nothing pending.

    `changed`: the portal was researched by a clean run first, then some contacts' inputs
    changed, so the killed run's POSTs replace earlier research (the `replaces` path).
    `forget_keys`: Saber forgets the Idempotency-Keys before the re-runs (a restart after
    its window, which the contract does not publish): only look-ups keep a POST from repeating.
    """
    trial = Trial("sync", moment + (FORGOT if forget_keys else ""))
    with World.create() as world:
        if changed:
            clean_sync(world)
            change_inputs(world)
        child = spawn_sync(world)
        if isinstance(arm, float):
            kill_at_migration(world, child, arm)
        else:
            arm(world, child)
        child.wait(timeout=120)
        if child.alive():
            child.kill()
            trial.notes.append("the killed run did not end in 120 s")
        trial.killed = child.hit
        trial.integrity = integrity(world)
        if moment == MIGRATION and trial.killed:
            trial.mid_migration = schema_version(world) != schema_head()
        if moment == BATCH:
            trial.unheard_write = bool(unowned_values(world, portal(world.box, output_properties())))
        status = Child(world, ("status", "--output", "json"), world.env())
        if status.wait(timeout=60) != 0 or status.summary() is None or "Traceback" in status.stderr():
            trial.status_failed = True
            trial.notes.append(f"status after the kill exited {status.returncode}: {status.stderr()[-300:]}")
        if forget_keys:
            world.box.saber.forget_idempotency_keys()
        for _ in range(MAX_RERUNS):
            rerun = spawn_sync(world)
            code = rerun.wait(timeout=120)
            trial.restarts += 1
            err = rerun.stderr()
            if code not in (0, 1) or "Traceback" in err:
                trial.restart_failures += 1
                trial.notes.append(f"re-run exited {code}: {err.strip().splitlines()[-1:]}")
                continue
            summary = rerun.summary() or {}
            trial.adopted += int((summary.get("research") or {}).get("adopted") or 0)
            if not summary.get("pending") and not summary.get("writes_pending"):
                trial.finished = True
                break
        trial.verdict = judge(world, reference)
    return trial


# ---------------------------------------------------------------------------------- run
def _service_moments(reference: Reference, rng: random.Random, long: bool) -> list[tuple[str, Arm | float]]:
    out: list[tuple[str, Arm | float]] = [
        (POSTED, _switch("research_create", rng.randint(1, 6))),
        (GRACE, _switch("research_create", rng.randint(1, 6), term_first=True, delay=rng.uniform(0.0, 0.3))),
    ]
    if long:
        out.append((SETUP, _switch("property_create", rng.randint(1, 12))))
        out += [
            (SIGNAL, _switch(SIGNAL_ENDPOINTS, rng.randint(1, 4))),
            (BATCH, _switch("contacts_batch_update", 1)),
            (RANDOM, _random_moment(reference, rng)),
            (MIGRATION, rng.uniform(0.0, 0.04)),
        ]
    return out


def run_trial(reference: Reference, moment: str, arm: Arm | float, *, webhooks: bool = False) -> Trial:
    """`run` killed at `moment` (setting the portal up itself), then started again until the portal is done.

    `webhooks`: Saber calls the service back; the dead one's callbacks go nowhere (the new
    start listens on another port), so its safety poll must collect them.
    """
    trial = Trial("run", moment + (WITH_WEBHOOKS if webhooks else ""))
    with World.create(prepare_portal=False) as world:
        first = spawn_run(world, webhooks=webhooks)
        if isinstance(arm, float):
            kill_at_migration(world, first, arm)
        else:
            arm(world, first)
        poll(lambda: first.hit or not first.alive(), timeout=60, interval=0.05)
        trial.killed = first.hit
        if not trial.killed:
            first.stop()
            trial.notes.append(f"the kill never came; the first run ended with {first.returncode}")
        first.wait(timeout=10)
        trial.integrity = integrity(world)
        if moment == MIGRATION and trial.killed:
            trial.mid_migration = schema_version(world) != schema_head()
        second = spawn_run(world, webhooks=webhooks)
        trial.restarts = 1
        _finish(trial, world, reference, [second], "restarted run")
    return trial


def _finish(trial: Trial, world: World, reference: Reference, survivors: list[Child], what: str) -> None:
    """Wait until the portal is done (or the first survivor died), stop the survivors, judge the world."""
    trial.finished = poll(lambda: world_done(world, reference) or not survivors[0].alive(), 120, 0.25)
    trial.finished = trial.finished and survivors[0].alive()
    for child in survivors:
        code = child.stop()
        if code != 0 or "Traceback" in child.stderr():
            trial.restart_failures += 1
            trial.notes.append(f"{what} exited {code}: {child.stderr().strip().splitlines()[-1:]}")
    trial.verdict = judge(world, reference)


# ---------------------------------------------------------------------------------- replicas
def replicas_trial(reference: Reference, moment: str, endpoints: tuple[str, ...], nth: int) -> Trial:
    """Two `run` replicas on one fresh PostgreSQL database; the one in a cycle dies at `moment`.

    The victim is the replica holding the run lock when the `nth` request matching
    `endpoints` is applied (the one that sent it: only the holder runs a cycle); with no
    endpoints, a random replica is killed `nth` tenths of a second after both started.
    """
    trial = Trial("replicas", moment)
    admin, why = pg_admin()
    if admin is None:
        trial.notes.append(f"skipped: {why}")
        return trial
    with pg_database(admin) as url, World.create(state_url=url, prepare_portal=False) as world:
        replicas = [spawn_run(world, webhooks=True, schedule="2s") for _ in range(2)]
        if endpoints:
            switch = KillSwitch(
                frozenset(endpoints), nth, pick=lambda entry: request_sender(entry, url, replicas)
            ).install(world)
            poll(lambda: switch.fired.is_set() or not all(r.alive() for r in replicas), 90, 0.05)
            victim = switch.victim
            trial.notes += switch.errors[:2]
        else:
            victim = replicas[nth % 2]
            kill_after(victim, nth / 10).join()
        trial.killed = victim is not None and victim.killed_at is not None
        survivors = [r for r in replicas if r is not victim]
        trial.restarts = len(survivors)
        _finish(trial, world, reference, survivors, "surviving replica")
        trial.survivor_alone = trial.killed and trial.finished and len(survivors) == 1
    return trial


# ---------------------------------------------------------------------------------- figures
# What must never happen, counted per trial by `judge`: (figure, `Verdict` field, what it counts).
NEVER_IN_A_VERDICT = (
    (
        "duplicate research launches",
        "duplicate_research",
        "paid research per external ID and inputs, beyond one",
    ),
    ("duplicate paid signal asks", "duplicate_signals", "per subject and question, beyond one"),
    ("completed results never written", "unwritten", ""),
    ("final differences from a clean run", "differences", "contact properties; research time excepted"),
    ("credits spent beyond the clean run's", "extra_credits", ""),
    (
        "written values the state does not own",
        "unowned",
        "no hash kept: they would pass for a person's edits",
    ),
    (
        "runs still shown as running at the end",
        "stale_runs",
        "a killed run is marked interrupted by the next",
    ),
)


def _figures(section: str, trials: list[Trial], sqlite: bool) -> list[Figure]:
    if not trials:
        return []
    skipped = [n for t in trials for n in t.notes if n.startswith("skipped:")]
    if skipped:
        return [Figure(section, "trials", 0, note=skipped[0])]
    verdicts = [t.verdict for t in trials if t.verdict is not None]
    moments = Counter(t.moment for t in trials)
    details = [d for v in verdicts for d in v.details][:3] + [n for t in trials for n in t.notes][:3]
    note = "; ".join(details)
    missed = Counter(t.moment for t in trials if not t.killed)
    figures = [
        Figure(section, "trials", len(trials)),
        *(Figure(section, f"killed at: {m}", n) for m, n in moments.items()),
        Figure(
            section,
            "kills that landed",
            sum(t.killed for t in trials),
            must_be=len(trials),
            note="; ".join(f"missed {m}: {n}" for m, n in missed.items()),
        ),
    ]
    # Each of these counts what must never happen: (name, count over the trials, what it counts).
    never = [(name, sum(getattr(v, field) for v in verdicts), why) for name, field, why in NEVER_IN_A_VERDICT]
    never += [
        ("trials not finished", sum(not t.finished for t in trials), note),
        (
            "restarted or surviving processes that failed",
            sum(t.restart_failures for t in trials),
            f"exit code or traceback, of {sum(t.restarts for t in trials)}",
        ),
    ]
    figures += [Figure(section, name, value, must_be=0, note=why) for name, value, why in never]
    sync = [t for t in trials if t.mode == "sync"]
    # Sync trials at some moments, each of which must have gone this way: (name, trials, count, what it counts).
    each = [
        (
            "research POSTs never heard of, then adopted",
            [t for t in sync if t.moment.startswith((POSTED, REPLACING))],
            lambda t: t.adopted > 0,
            "found at Saber by external ID, not paid again",
        ),
        (
            "killed batch writes that had landed unheard",
            [t for t in sync if t.moment == BATCH],
            lambda t: t.unheard_write,
            "values in HubSpot, no hash kept: the moment the re-run must own them",
        ),
    ]
    if sync:
        figures.append(
            Figure(
                section,
                "`status` right after a kill that failed",
                sum(t.status_failed for t in trials),
                must_be=0,
                note="exit code, traceback or no JSON",
            )
        )
    figures += [
        Figure(section, name, sum(bool(went(t)) for t in these), must_be=len(these), note=why)
        for name, these, went, why in each
        if these
    ]
    if sqlite:
        bad = [t.integrity for t in trials if t.integrity != "ok"]
        figures.append(
            Figure(
                section,
                "PRAGMA integrity_check after each kill",
                bad[0] if bad else "ok",
                must_be="ok",
                note=f"{len(trials)} checks",
            )
        )
        if any(t.moment == MIGRATION for t in trials):
            figures.append(
                Figure(
                    section,
                    "kills that caught the migration",
                    sum(t.mid_migration for t in trials),
                    note=f"of {moments[MIGRATION]}; schema not at head when killed, migrated by the next start",
                )
            )
    if any(t.survivor_alone is not None for t in trials):
        figures.append(
            Figure(
                section,
                "the survivor finished alone",
                "yes" if all(t.survivor_alone for t in trials) else "no",
                must_be="yes",
            )
        )
    return figures


@functools.cache
def reference(changed: bool = False) -> Reference:
    """The clean run every trial is judged against (one per process: the sandbox is deterministic)."""
    return reference_run(changed)


def _parallel(jobs: list[Callable[[], Trial]], workers: int = WORKERS) -> list[Trial]:
    """Run trials side by side (each has its own sandbox, directory and database), in order."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crash") as pool:
        return [f.result() for f in [pool.submit(job) for job in jobs]]


def sqlite_figures(long: bool) -> list[Figure]:
    """`sync` killed at every moment, and `run` killed and restarted, on SQLite."""
    configure_logging("WARNING", "console")  # the sandboxes run in this process: keep them quiet
    ref = reference()
    rng = random.Random(SEED)
    sync_jobs = [functools.partial(sync_trial, ref, m, a) for m, a in _moments(ref, rng, long)]
    # Research replacing research (inputs changed): POSTs carrying `replaces`; then POSTs
    # whose Idempotency-Key Saber forgot before the re-run (only look-ups can save them).
    changed = reference(changed=True)
    replacing = [(n, False) for n in (1, 2, 3)] + [(n, True) for n in (1, 3)] if long else [(2, True)]
    sync_jobs += [
        functools.partial(
            sync_trial, changed, REPLACING, _switch("research_create", n), changed=True, forget_keys=forget
        )
        for n, forget in replacing
    ]
    if long:
        sync_jobs += [
            functools.partial(sync_trial, ref, POSTED, _switch("research_create", n), forget_keys=True)
            for n in (1, 4)
        ]
        sync_jobs += [
            functools.partial(sync_trial, ref, SIGNAL, _switch(SIGNAL_ENDPOINTS, n), forget_keys=True)
            for n in (2, 5)
        ]
    run_jobs = [functools.partial(run_trial, ref, m, a) for m, a in _service_moments(ref, rng, long)]
    if long:
        run_jobs += [
            functools.partial(run_trial, ref, POSTED, _switch("research_create", n), webhooks=True)
            for n in (2, 7)
        ]
    trials = _parallel([*sync_jobs, *run_jobs])
    return [
        *_figures("crash: sync on SQLite", trials[: len(sync_jobs)], sqlite=True),
        *_figures("crash: run on SQLite", trials[len(sync_jobs) :], sqlite=True),
    ]


def replica_figures(long: bool) -> list[Figure]:
    """Two `run` replicas on PostgreSQL, one killed mid-cycle (no figures but a note without a server)."""
    configure_logging("WARNING", "console")
    ref = reference()
    rng = random.Random(SEED + 1)
    plan: list[tuple[str, tuple[str, ...], int]] = [(POSTED, ("research_create",), rng.randint(1, 5))]
    if long:
        plan += [
            (POSTED, ("research_create",), rng.randint(6, 9)),
            (SIGNAL, SIGNAL_ENDPOINTS, rng.randint(1, 6)),
            (BATCH, ("contacts_batch_update",), 1),
            (EARLY, (), rng.randint(3, 15)),
        ]
    trials = _parallel([functools.partial(replicas_trial, ref, *p) for p in plan], workers=2)
    return _figures("crash: two run replicas on PostgreSQL", trials, sqlite=False)


def run(long: bool) -> list[Figure]:
    """The crash trials (long: 30 and more; short: one per moment, one `run`, one replica pair)."""
    started = time.monotonic()
    figures = [*sqlite_figures(long), *replica_figures(long)]
    ref = reference()
    total = sum(int(f.value) for f in figures if f.name == "trials" and isinstance(f.value, int))
    summary = Figure(
        "crash",
        "trials in all",
        total,
        note=f"{time.monotonic() - started:.0f} s; the clean run: {ref.seconds:.1f} s, "
        f"{len(ref.researched)} contacts researched, {ref.credits} credits",
    )
    return [summary, *figures]
