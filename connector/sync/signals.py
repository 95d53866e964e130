"""Signals the research result does not answer: reused, found, or asked once and collected later.

Saber's signals take tens of seconds, so they are asked asynchronously and collected like
research (`connector.sync.signal_collect`). For each question and target a batch of write
jobs needs (`SignalStage.resolve`), in order:

1. the answer this contact already holds for these inputs, or the shared answer kept for
   the target (one per company domain or profile URL, for every contact, run and replica);
2. an ask already in flight (another contact, run or replica asked it): the contact waits;
3. the ask is claimed in the state database (one winner across replicas), and Saber's lists
   are read, free: a completed answer young enough is kept, one in flight adopted; only then
4. it is paid for, within the run's credit budget: contact questions one create each,
   company questions in batches of questions x domains. The signal's id is stored the moment
   Saber answers. A create whose answer was lost is never resent blindly: its ask stays
   `asking` and is looked for in Saber's lists before anything is paid again.

A contact whose answers are not all in is written with what is known and stays pending
(`SIGNAL_PENDING` while an ask is in flight, `SIGNAL_UNANSWERED` when one failed or could
not be paid); once nothing it waits on is in flight it is written again.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connector.errors import RUN_GOES_ON, ConnectorError, RecordFailure, SkippableError
from connector.logs import get_logger
from connector.mapping import SignalAsk, signals_to_ask
from connector.mapping.inputs import is_free_mail
from connector.saber import InsufficientCredits
from connector.saber.models import Signal, SignalBatch
from connector.saber.signals import SignalQuestion, SignalRequest
from connector.state.signal_asks import AnswerRecord, AskSpec
from connector.sync.config import Cycle
from connector.sync.jobs import WriteJob
from connector.sync.polling import Schedule
from connector.sync.signal_lists import SaberLists, folded

log = get_logger("sync")

# Why a written result stays pending work.
SIGNAL_UNANSWERED = "SIGNAL_UNANSWERED"  # a mapped signal failed or could not be paid: a later run asks
SIGNAL_PENDING = "SIGNAL_PENDING"  # a mapped signal is in flight at Saber: written again once it is in
MAX_RESEND_PAUSE = 5.0  # seconds, at most, between a lost answer's look in the lists and the resend


def answer_key(item: SignalAsk, verification_mode: str | None = None) -> str:
    """The shared answer's key: scope, target, the question (case and spacing folded), answer type.

    A lenient answer is not a strict one: `lenient` is part of its key (strict keeps the old key).
    """
    parts = [item.scope, item.target.casefold(), folded(item.question), item.answer_type]
    if verification_mode == "lenient":
        parts.append("lenient")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def signal_kind(scope: str) -> str:
    """The timing kind of a signal of this scope (`connector.sync.polling.KINDS`)."""
    return f"{scope}_signal"


@dataclass
class Resolution:
    """What one contact's signals came to in this cycle."""

    answers: dict[str, Signal] = field(default_factory=dict)  # mapping key -> answer
    waiting: list[str] = field(default_factory=list)  # mapping keys in flight at Saber
    unanswered: list[str] = field(default_factory=list)  # mapping keys not answered (failed, unpaid)
    wait_keys: set[str] = field(default_factory=set)  # answer keys waited on (`signal_waits`)

    @property
    def pending(self) -> str | None:
        """Why the contact's result is not done yet, or None."""
        if self.unanswered:
            return SIGNAL_UNANSWERED
        return SIGNAL_PENDING if self.waiting else None


@dataclass
class _Need:
    """One ask the batch needs, and the contacts (with their mapping keys) it answers."""

    spec: AskSpec
    question: SignalQuestion
    users: list[tuple[WriteJob, SignalAsk]] = field(default_factory=list)
    waited: set[str] = field(default_factory=set)  # contacts that already waited on it (counted then)
    first_counted: bool = False  # its first user's answer is counted otherwise (paid, or found free)

    def served(self) -> list[tuple[WriteJob, SignalAsk]]:
        """The users whose answer comes without paying and is not counted yet: credits saved."""
        users = self.users[1:] if self.first_counted else self.users
        return [(job, item) for job, item in users if job.contact_id not in self.waited]

    @property
    def request(self) -> SignalRequest:
        scope = "company" if self.spec.scope == "company" else "contact"
        return SignalRequest(scope, self.spec.target, self.question)


Batch = tuple[list[SignalQuestion], list[str], list[_Need]]  # questions, domains, the asks it makes
RunAll = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]  # fn over items, on a pool


class SignalStage:
    """Answers the mapping's signals for a batch of write jobs, paying only when nothing can serve."""

    def __init__(
        self,
        cycle: Cycle,
        schedule: Schedule,
        fail: Callable[[RecordFailure], None],
        run_all: RunAll = lambda fn, items: [fn(item) for item in items],
    ) -> None:
        self.cycle = cycle
        self.schedule = schedule
        self.fail = fail
        self.run_all = run_all  # the cycle's pool: reads and creates for many targets at once
        self.lists = SaberLists(cycle, self.fresh)
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._counted: set[tuple[str, str]] = set()  # (contact, ask) whose saving this run counted

    def fresh(self, answered_at: datetime | None) -> bool:
        """Whether an answer of that time is young enough (the mapping's refresh window)."""
        days = self.cycle.mapping.select.refresh_after_days
        if days is None:
            return True
        return answered_at is not None and self.cycle.clock() - answered_at < timedelta(days=days)

    # ------------------------------------------------------------------ the batch
    def resolve(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        """Each job's answers, what it waits on and what could not be answered; asks what must be asked."""
        out = {job.contact_id: Resolution() for job in jobs}
        needs: dict[str, _Need] = {}
        for job in jobs:
            for item in self._asks(job):
                stored = job.signals.get(item.key)
                if (
                    stored
                    and stored.get("fingerprint") == job.inputs.fingerprint
                    and stored.get("target") == item.target
                ):
                    out[job.contact_id].answers[item.key] = Signal.model_validate(stored["signal"])
                    continue
                mode = self.cycle.mapping.signals[item.key].verification_mode
                key = answer_key(item, mode)
                if key not in needs:
                    webhook = self.cycle.config.webhook_url
                    if item.template_id is not None:  # the template fixes the question and type
                        question = SignalQuestion(
                            template_id=item.template_id, verification_mode=mode, webhook_url=webhook
                        )
                    else:
                        question = SignalQuestion(
                            item.question, item.answer_type, verification_mode=mode, webhook_url=webhook
                        )
                    spec = AskSpec(
                        key, item.scope, item.target, item.question, item.answer_type, item.template_id, mode
                    )
                    needs[key] = _Need(spec, question)
                needs[key].users.append((job, item))
        if needs:
            waited = self.cycle.store.signal_waits_of([job.contact_id for job in jobs])
            for need in needs.values():
                need.waited = {cid for cid, keys in waited.items() if need.spec.key in keys}
            self._serve(list(needs.values()), out)
        return out

    def _asks(self, job: WriteJob) -> list[SignalAsk]:
        """The job's signals its research result does not answer and that can be asked."""
        if job.research.status != "completed" or job.inputs.inputs is None:
            return []
        asks, unaskable = signals_to_ask(self.cycle.mapping, job.research, job.inputs.inputs)
        for key, why in unaskable.items():
            log.debug("signal not asked", contact_id=job.contact_id, signal=key, reason=why)
        # A free-mail domain is no company: never asked, and nothing waits on it.
        return [a for a in asks if not (a.scope == "company" and is_free_mail(a.target))]

    def _serve(self, needs: list[_Need], out: dict[str, Resolution]) -> None:
        """Kept answers, asks in flight, then claims: looked up in Saber's lists, then paid for."""
        c = self.cycle
        unkept = []
        kept = c.store.signal_answers_of([n.spec.key for n in needs])
        for need in needs:
            found = kept.get(need.spec.key)
            if found is not None and self.fresh(found[1]):
                self._answered(need, Signal.model_validate(found[0]), out)
            else:
                unkept.append(need)
        rows = c.store.signal_asks_for([n.spec.key for n in unkept])
        started = c.summary.started_at
        claimed: list[_Need] = []
        for need in unkept:
            row = rows.get(need.spec.key)
            if row is not None and row.status == "failed" and row.updated_at >= started:
                self._unanswered(need, out)  # failed during this run: a later run asks again
            elif c.stop.requested:
                self._unanswered(need, out)  # Ctrl-C / SIGTERM: pay for nothing new
            elif c.store.claim_signal_ask(need.spec, failed_before=started):
                claimed.append(need)
            else:
                self._waiting(need, out)  # another worker, run or replica is asking it
        if not claimed:
            return
        sent: set[str] = set()
        try:
            self._pay(self._look_first(claimed, out, sent), out, sent)
        finally:
            for need in claimed:  # claims never acted on are given back (a stop, an outage)
                if need.spec.key not in sent:
                    c.store.release_signal_ask(need.spec.key)

    def _look_first(self, claimed: list[_Need], out: dict[str, Resolution], sent: set[str]) -> list[_Need]:
        """Saber's lists, one page per target: a young completed answer is kept, one in flight adopted."""
        unpaid: list[_Need] = []
        for group, listed in self._read_lists(claimed):
            for need in group:
                found = self.lists.match(listed, need.spec, since=None)
                if found is None:
                    unpaid.append(need)
                    continue
                self.cycle.summary.save("saber_lists", self.cycle.config.signal_cost)
                need.first_counted = True
                sent.add(need.spec.key)
                self._took(need, found, out, source="saber_list")
        return unpaid

    # ------------------------------------------------------------------ paying
    def _pay(self, unpaid: list[_Need], out: dict[str, Resolution], sent: set[str]) -> None:
        """Ask what nothing could answer: contact questions one by one, company ones in batches."""
        self.run_all(
            lambda need: None if self.cycle.stop.requested else self._ask_one(need, out, sent),
            [n for n in unpaid if n.spec.scope != "company"],
        )
        for batch in self._batches([n for n in unpaid if n.spec.scope == "company"]):
            if self.cycle.stop.requested:
                break
            self._ask_batch(batch, out, sent)
        for need in unpaid:
            if need.spec.key not in sent:
                self._unanswered(need, out)

    def _ask_one(self, need: _Need, out: dict[str, Resolution], sent: set[str]) -> None:
        """One create; a lost answer is looked for in the lists before the same ask is sent again."""
        c = self.cycle
        cost = c.config.signal_cost
        if not c.budget.reserve(cost):
            return
        for attempt in range(1, c.saber.policy.max_attempts + 1):
            try:
                signal = c.saber_health.call(
                    f"create_{need.spec.scope}_signal", lambda: c.saber.create_signal(need.request)
                )
            except InsufficientCredits:
                c.budget.mark_exhausted()
                c.budget.refund(cost)
                return
            except RUN_GOES_ON as exc:
                if not getattr(exc, "maybe_applied", False):
                    c.budget.refund(cost)
                    self._refused([need], exc)
                    return
                sent.add(need.spec.key)  # it may have been made: never released, looked for
                last = attempt == c.saber.policy.max_attempts
                self._garbled([need], exc, last=last)
                if not self._lost([need], out, last=last):
                    return
                self._pause(attempt)
                continue
            sent.add(need.spec.key)
            self._paid(need)
            self._took(need, signal, out, source="asked")
            return

    def _batches(self, needs: list[_Need]) -> list[Batch]:
        """Company asks grouped by the questions their domain needs, split to at most the batch size."""
        by_domain: dict[str, list[_Need]] = defaultdict(list)
        for need in needs:
            by_domain[need.spec.target].append(need)
        groups: dict[tuple[SignalQuestion, ...], list[str]] = defaultdict(list)
        for domain, wanted in by_domain.items():
            groups[tuple(sorted({n.question for n in wanted}, key=repr))].append(domain)
        size = max(1, self.cycle.config.signal_batch_size)
        batches: list[Batch] = []
        for questions, domains in groups.items():
            per_batch = max(1, size // len(questions))
            for start in range(0, len(domains), per_batch):
                chunk = domains[start : start + per_batch]
                batches.append((list(questions), chunk, [n for d in chunk for n in by_domain[d]]))
        return batches

    def _ask_batch(self, batch: Batch, out: dict[str, Resolution], sent: set[str]) -> None:
        """One batch POST; the budget reserves the whole batch first (whole domains, as many as it allows)."""
        c = self.cycle
        questions, domains, members = batch
        cost = c.config.signal_cost
        reserved = c.budget.reserve_many(len(members), cost)
        if reserved < len(members):
            keep = reserved // len(questions)
            c.budget.refund(cost * (reserved - keep * len(questions)))
            kept = set(domains[:keep])
            batch = (questions, domains[:keep], [n for n in members if n.spec.target in kept])
        if batch[1]:
            self._send_batch(batch, out, sent, attempt=1)

    def _send_batch(self, batch: Batch, out: dict[str, Resolution], sent: set[str], *, attempt: int) -> None:
        """Send a reserved batch; after a lost answer, what is not in the lists is sent again (as batches)."""
        c = self.cycle
        questions, domains, members = batch
        cost = c.config.signal_cost
        try:
            answer = c.saber_health.call(
                "create_company_signal_batch",
                lambda: c.saber.create_company_signal_batch(
                    questions, domains, wait_seconds=c.config.signal_batch_wait
                ),
            )
        except InsufficientCredits:
            c.budget.mark_exhausted()
            c.budget.refund(cost * len(members))
            return
        except RUN_GOES_ON as exc:
            if not getattr(exc, "maybe_applied", False):
                c.budget.refund(cost * len(members))
                self._refused(members, exc)
                return
            sent.update(n.spec.key for n in members)
            last = attempt >= c.saber.policy.max_attempts
            self._garbled(members, exc, last=last)
            missing = self._lost(members, out, last=last)
            if missing:
                self._pause(attempt)
                for again in self._batches(missing):
                    self._send_batch(again, out, sent, attempt=attempt + 1)
            return
        self._batch_answered(answer, members, out, sent)

    def _batch_answered(
        self, answer: SignalBatch, members: list[_Need], out: dict[str, Resolution], sent: set[str]
    ) -> None:
        """Each signal a batch made, by domain and question: its id is stored to be collected."""
        c = self.cycle
        cost = c.config.signal_cost
        c.summary.count("signal_batches")
        by_item = {(folded(n.spec.target), folded(n.spec.question)): n for n in members}
        by_template = {(folded(n.spec.target), n.spec.template_id): n for n in members if n.spec.template_id}
        seen: set[str] = set()
        for item in answer.results:
            need = by_item.get((folded(item.domain), folded(item.question))) or by_template.get(
                (folded(item.domain), item.template_id)
            )
            if need is None or need.spec.key in seen:
                continue
            seen.add(need.spec.key)
            if item.id:  # collected by id whatever its status says now: the answer comes with the GET
                sent.add(need.spec.key)
                self._paid(need)
                self._took(need, Signal.model_validate({"id": item.id, "status": "processing"}), out, "asked")
            else:  # rejected: nothing made, nothing charged
                c.budget.refund(cost)
                rejected = SkippableError(item.error or "rejected by Saber")
                self._refused([need], rejected, code="SIGNAL_REJECTED")
        missing = [n for n in members if n.spec.key not in seen]
        if missing:  # an asynchronous batch names no signal: they are found in the lists
            sent.update(n.spec.key for n in missing)
            self._lost(missing, out, quiet=answer.is_async, last=True)

    def _pause(self, attempt: int) -> None:
        """The wait before an ask whose answer was lost (and that is not in the lists) is sent again."""
        c = self.cycle
        c.stop.sleep(min(MAX_RESEND_PAUSE, c.saber.policy.backoff(attempt, self._rng)))

    def _paid(self, need: _Need) -> None:
        c = self.cycle
        need.first_counted = True
        c.summary.count("signals_asked")
        c.summary.spend(f"{need.spec.scope}_signals", c.config.signal_cost)

    def _lost(
        self, needs: list[_Need], out: dict[str, Resolution], *, last: bool, quiet: bool = False
    ) -> list[_Need]:
        """Creates whose answers were lost, looked for in the lists: what was made is taken over.

        Returns the asks not there, to be sent again; on the `last` try they stay `asking`
        instead, to be looked for again later (never paid again before that).
        """
        c = self.cycle
        if not quiet:
            log.warning("signal answer lost; looking for it before paying again", asks=len(needs))
        now = c.clock()
        asked = c.store.signal_asks_for([n.spec.key for n in needs])
        missing: list[_Need] = []
        for group, listed in self._read_lists(needs):
            for need in group:
                row = asked.get(need.spec.key)
                found = self.lists.match(listed, need.spec, since=row.asked_at if row else now)
                if found is not None:
                    self._paid(need)
                    self._took(need, found, out, source="asked")
                elif last:
                    look = now + timedelta(seconds=c.config.lost_look_seconds)
                    c.store.record_signal_ask_lost(need.spec.key, next_check_at=look)
                    self._waiting(need, out)
                else:
                    missing.append(need)
        return missing

    def _read_lists(self, needs: Sequence[_Need]) -> list[tuple[list[_Need], list[Signal]]]:
        """Each target's newest signals (one free read per target, on the pool), with the asks it serves."""
        groups = list(_by_target(needs).values())
        pages = self.run_all(lambda group: self.lists.read(group[0].spec.scope, group[0].spec.target), groups)
        return list(zip(groups, pages, strict=True))

    def _took(self, need: _Need, signal: Signal, out: dict[str, Resolution], source: str) -> None:
        """What Saber holds for a claimed ask: an answer kept, a failure recorded, or an id to collect."""
        c = self.cycle
        status = (signal.status or "").lower()
        if status == "completed" or (source == "saber_list" and signal.answered):
            c.store.settle_signal_ask(
                AnswerRecord(need.spec.key, need.spec, source, signal.raw, signal.completed_at or c.clock())
            )
            if source == "asked":
                self.schedule.note(signal_kind(need.spec.scope), signal.processing_seconds)
            self._answered(need, signal, out)
        elif signal.failed:
            error = None if signal.error is None else str(signal.error)
            c.store.record_signal_failed(need.spec.key, error_code=signal.error_code, error=error)
            c.summary.count("signals_failed")
            self._unanswered(need, out)
        elif signal.id:
            first = first_look(c, self.schedule, need.spec.scope, signal.created_at or c.clock())
            c.store.record_signal_asked(need.spec.key, signal.id, next_check_at=first)
            self._waiting(need, out)
        else:  # no id to collect it by: looked for in the lists
            self._lost([need], out, last=True)

    def _garbled(self, needs: list[_Need], exc: ConnectorError, *, last: bool) -> None:
        """A paid create answered with something unreadable, or failing past every attempt: said
        against each contact waiting on it (the ask itself is looked for in the lists)."""
        if isinstance(exc, SkippableError) or last:
            code = exc.code or "SIGNAL_FAILED"
            for need in needs:
                for job, item in need.users:
                    self.fail(RecordFailure(job.contact_id, None, code, f"signal {item.key}: {exc}"))

    def _refused(self, needs: list[_Need], exc: ConnectorError, code: str | None = None) -> None:
        """Saber refused the ask or kept failing it (nothing made): recorded per contact; a later run asks."""
        code = code or exc.code or "SIGNAL_FAILED"
        for need in needs:
            self.cycle.store.release_signal_ask(need.spec.key)
            for job, item in need.users:
                self.fail(RecordFailure(job.contact_id, None, code, f"signal {item.key}: {exc}"))

    # ------------------------------------------------------------------ outcomes per contact
    def _answered(self, need: _Need, signal: Signal, out: dict[str, Resolution]) -> None:
        c = self.cycle
        self._count_reuse(need)
        for job, item in need.users:
            out[job.contact_id].answers[item.key] = signal
            c.store.record_signal(
                job.contact_id,
                item.key,
                {"signal": signal.raw, "target": item.target},
                job.inputs.fingerprint or "",
            )

    def _waiting(self, need: _Need, out: dict[str, Resolution]) -> None:
        self._count_reuse(need)
        for job, item in need.users:
            out[job.contact_id].waiting.append(item.key)
            out[job.contact_id].wait_keys.add(need.spec.key)

    def _count_reuse(self, need: _Need) -> None:
        """Every contact the answer serves without a payment of its own (once per contact and ask)."""
        c = self.cycle
        with self._lock:
            for job, item in need.served():
                if (job.contact_id, need.spec.key) not in self._counted:
                    self._counted.add((job.contact_id, need.spec.key))
                    c.summary.save(f"{item.scope}_answers_reused", c.config.signal_cost)
            self._counted |= {(job.contact_id, need.spec.key) for job, _ in need.users}
        need.waited |= {job.contact_id for job, _ in need.users}  # counted: never again

    def _unanswered(self, need: _Need, out: dict[str, Resolution]) -> None:
        for job, item in need.users:
            out[job.contact_id].unanswered.append(item.key)


def first_look(cycle: Cycle, schedule: Schedule, scope: str, asked_at: datetime) -> datetime:
    """When a signal asked at `asked_at` is first looked up (with webhooks: the late safety poll)."""
    config = cycle.config
    if config.webhook_url is not None:
        return asked_at + timedelta(seconds=max(config.poll_min_seconds, config.webhook_poll_seconds))
    return schedule.first(signal_kind(scope), asked_at)


def _by_target(needs: Sequence[_Need]) -> dict[tuple[str, str], list[_Need]]:
    grouped: dict[tuple[str, str], list[_Need]] = defaultdict(list)
    for need in needs:
        grouped[(need.spec.scope, need.spec.target)].append(need)
    return grouped
