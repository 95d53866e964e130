"""Signals the research result does not answer: reused, found, or asked once and collected later.

Saber's signals take tens of seconds, so they are asked asynchronously and collected like
research (`connector.sync.signal_collect`). For each question and target a batch of write
jobs needs (`SignalStage.ask`), in order:

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

import random
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from connector.errors import RUN_GOES_ON, ConnectorError, SkippableError
from connector.logs import get_logger
from connector.mapping import Mapping, SignalAsk, signals_to_ask
from connector.mapping.inputs import is_free_mail
from connector.saber import InsufficientCredits, SaberClient
from connector.saber.models import Signal, SignalBatch
from connector.saber.signals import SignalQuestion
from connector.state import StateStore, StoredSignal
from connector.state.signal_asks import AnswerRecord, AskSpec
from connector.sync.context import EngineConfig
from connector.sync.credits import CreditBudget
from connector.sync.failures import Failure, contact_failure
from connector.sync.jobs import WriteJob
from connector.sync.outage import OutageBreaker
from connector.sync.polling import Schedule
from connector.sync.resolution import Resolution, answer_key, signal_kind
from connector.sync.signal_lists import SaberLists, folded
from connector.sync.signal_needs import Batch, Need, batches, by_target
from connector.sync.stopping import StopRequest
from connector.sync.summary import RunSummary

log = get_logger("sync")

MAX_RESEND_PAUSE = 5.0  # seconds, at most, between a lost answer's look in the lists and the resend


def _in_turn(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """`fn` over `items`, one after the other (the default of `RunAll`)."""
    return [fn(x) for x in items]


RunAll = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]  # fn over items, on a pool


class SignalStage:
    """Answers the mapping's signals for a batch of write jobs, paying only when nothing can serve."""

    def __init__(
        self,
        *,
        mapping: Mapping,
        saber: SaberClient,
        saber_health: OutageBreaker,
        store: StateStore,
        summary: RunSummary,
        budget: CreditBudget,
        config: EngineConfig,
        clock: Callable[[], datetime],
        stop: StopRequest,
        schedule: Schedule,
        fail: Callable[[Failure], None],
        run_all: RunAll = _in_turn,
    ) -> None:
        self.mapping = mapping
        self.saber = saber
        self.saber_health = saber_health
        self.store = store
        self.summary = summary
        self.budget = budget
        self.config = config
        self.clock = clock
        self.stop = stop
        self.schedule = schedule
        self.fail = fail
        self.run_all = run_all  # the cycle's pool: reads and creates for many targets at once
        self.lists = SaberLists(saber, saber_health, config, clock, self.fresh)
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._counted: set[tuple[str, str]] = set()  # (contact, ask) whose saving this run counted

    def fresh(self, answered_at: datetime | None) -> bool:
        """Whether an answer of that time is young enough (the mapping's refresh window)."""
        days = self.mapping.select.refresh_after_days
        if days is None:
            return True
        return answered_at is not None and self.clock() - answered_at < timedelta(days=days)

    # ------------------------------------------------------------------ the batch
    def ask(self, jobs: Sequence[WriteJob]) -> dict[str, Resolution]:
        """Each job's answers, what it waits on and what is unanswered; pays for what must be asked."""
        out = {job.contact_id: Resolution() for job in jobs}
        needs: dict[str, Need] = {}
        for job in jobs:
            for item in self._asks(job):
                stored = StoredSignal.decode(job.signals.get(item.key))
                if stored and stored.fingerprint == job.inputs.fingerprint and stored.target == item.target:
                    out[job.contact_id].answers[item.key] = Signal.model_validate(stored.signal)
                    continue
                mode = self.mapping.signals[item.key].verification_mode
                key = answer_key(item, mode)
                if key not in needs:
                    webhook = self.config.webhook_url
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
                    needs[key] = Need(spec, question)
                needs[key].users.append((job, item))
        if needs:
            waited = self.store.signal_waits_of([job.contact_id for job in jobs])
            for need in needs.values():
                need.waited = {cid for cid, keys in waited.items() if need.spec.key in keys}
            self._serve(list(needs.values()), out)
        return out

    def _asks(self, job: WriteJob) -> list[SignalAsk]:
        """The job's signals its research result does not answer and that can be asked."""
        if job.research.status != "completed" or job.inputs.inputs is None:
            return []
        asks, unaskable = signals_to_ask(self.mapping, job.research, job.inputs.inputs)
        for key, why in unaskable.items():
            log.debug("signal not asked", contact_id=job.contact_id, signal=key, reason=why)
        # A free-mail domain is no company: never asked, and nothing waits on it.
        return [a for a in asks if not (a.scope == "company" and is_free_mail(a.target))]

    def _serve(self, needs: list[Need], out: dict[str, Resolution]) -> None:
        """Kept answers, asks in flight, then claims: looked up in Saber's lists, then paid for."""
        unkept = []
        kept = self.store.signal_answers_of([n.spec.key for n in needs])
        for need in needs:
            found = kept.get(need.spec.key)
            if found is not None and self.fresh(found[1]):
                self._answered(need, Signal.model_validate(found[0]), out)
            else:
                unkept.append(need)
        rows = self.store.signal_asks_for([n.spec.key for n in unkept])
        started = self.summary.started_at
        claimed: list[Need] = []
        for need in unkept:
            row = rows.get(need.spec.key)
            if row is not None and row.status == "failed" and row.updated_at >= started:
                self._unanswered(need, out)  # failed during this run: a later run asks again
            elif self.stop.requested:
                self._unanswered(need, out)  # Ctrl-C / SIGTERM: pay for nothing new
            elif self.store.claim_signal_ask(need.spec, failed_before=started):
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
                    self.store.release_signal_ask(need.spec.key)

    def _look_first(self, claimed: list[Need], out: dict[str, Resolution], sent: set[str]) -> list[Need]:
        """Saber's lists, one page per target: a young completed answer is kept, one in flight adopted."""
        unpaid: list[Need] = []
        for group, listed in self._read_lists(claimed):
            for need in group:
                found = self.lists.match(listed, need.spec, since=None)
                if found is None:
                    unpaid.append(need)
                    continue
                self.summary.save("saber_lists", self.config.signal_cost)
                need.first_counted = True
                sent.add(need.spec.key)
                self._took(need, found, out, source="saber_list")
        return unpaid

    # ------------------------------------------------------------------ paying
    def _pay(self, unpaid: list[Need], out: dict[str, Resolution], sent: set[str]) -> None:
        """Ask what nothing could answer: contact questions one by one, company ones in batches."""
        self.run_all(
            lambda need: None if self.stop.requested else self._ask_one(need, out, sent),
            [n for n in unpaid if n.spec.scope != "company"],
        )
        for batch in batches([n for n in unpaid if n.spec.scope == "company"], self.config.signal_batch_size):
            if self.stop.requested:
                break
            self._ask_batch(batch, out, sent)
        for need in unpaid:
            if need.spec.key not in sent:
                self._unanswered(need, out)

    def _ask_one(self, need: Need, out: dict[str, Resolution], sent: set[str]) -> None:
        """One create; a lost answer is looked for in the lists before the same ask is sent again."""
        cost = self.config.signal_cost
        if not self.budget.reserve(cost):
            return
        for attempt in range(1, self.saber.policy.max_attempts + 1):
            try:
                signal = self.saber_health.call(
                    f"create_{need.spec.scope}_signal", lambda: self.saber.create_signal(need.request)
                )
            except InsufficientCredits:
                self.budget.mark_exhausted()
                self.budget.refund(cost)
                return
            except RUN_GOES_ON as exc:
                if not getattr(exc, "maybe_applied", False):
                    self.budget.refund(cost)
                    self._refused([need], exc)
                    return
                sent.add(need.spec.key)  # it may have been made: never released, looked for
                last = attempt == self.saber.policy.max_attempts
                self._garbled([need], exc, last=last)
                if not self._lost([need], out, last=last):
                    return
                self._pause(attempt)
                continue
            sent.add(need.spec.key)
            self._paid(need)
            self._took(need, signal, out, source="asked")
            return

    def _ask_batch(self, batch: Batch, out: dict[str, Resolution], sent: set[str]) -> None:
        """One batch POST; the budget reserves the whole batch first (whole domains, as many as it allows)."""
        questions, domains, members = batch
        cost = self.config.signal_cost
        reserved = self.budget.reserve_many(len(members), cost)
        if reserved < len(members):
            keep = reserved // len(questions)
            self.budget.refund(cost * (reserved - keep * len(questions)))
            kept = set(domains[:keep])
            batch = (questions, domains[:keep], [n for n in members if n.spec.target in kept])
        if batch[1]:
            self._send_batch(batch, out, sent, attempt=1)

    def _send_batch(self, batch: Batch, out: dict[str, Resolution], sent: set[str], *, attempt: int) -> None:
        """Send a reserved batch; after a lost answer, what is not in the lists is sent again (as batches)."""
        questions, domains, members = batch
        cost = self.config.signal_cost
        try:
            answer = self.saber_health.call(
                "create_company_signal_batch",
                lambda: self.saber.create_company_signal_batch(
                    questions, domains, wait_seconds=self.config.signal_batch_wait
                ),
            )
        except InsufficientCredits:
            self.budget.mark_exhausted()
            self.budget.refund(cost * len(members))
            return
        except RUN_GOES_ON as exc:
            if not getattr(exc, "maybe_applied", False):
                self.budget.refund(cost * len(members))
                self._refused(members, exc)
                return
            sent.update(n.spec.key for n in members)
            last = attempt >= self.saber.policy.max_attempts
            self._garbled(members, exc, last=last)
            missing = self._lost(members, out, last=last)
            if missing:
                self._pause(attempt)
                for again in batches(missing, self.config.signal_batch_size):
                    self._send_batch(again, out, sent, attempt=attempt + 1)
            return
        self._batch_answered(answer, members, out, sent)

    def _batch_answered(
        self, answer: SignalBatch, members: list[Need], out: dict[str, Resolution], sent: set[str]
    ) -> None:
        """Each signal a batch made, by domain and question: its id is stored to be collected."""
        cost = self.config.signal_cost
        self.summary.count("signal_batches")
        by_item = {(folded(n.spec.target), folded(n.spec.question)): n for n in members}
        by_template: dict[tuple[str, str | None], Need] = {
            (folded(n.spec.target), n.spec.template_id): n for n in members if n.spec.template_id
        }
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
                self.budget.refund(cost)
                rejected = SkippableError(item.error or "rejected by Saber")
                self._refused([need], rejected, code="SIGNAL_REJECTED")
        missing = [n for n in members if n.spec.key not in seen]
        if missing:  # an asynchronous batch names no signal: they are found in the lists
            sent.update(n.spec.key for n in missing)
            self._lost(missing, out, quiet=answer.is_async, last=True)

    def _pause(self, attempt: int) -> None:
        """The wait before an ask whose answer was lost (and that is not in the lists) is sent again."""
        self.stop.sleep(min(MAX_RESEND_PAUSE, self.saber.policy.backoff(attempt, self._rng)))

    def _paid(self, need: Need) -> None:
        need.first_counted = True
        self.summary.count("signals_asked")
        self.summary.spend(f"{need.spec.scope}_signals", self.config.signal_cost)

    def _lost(
        self, needs: list[Need], out: dict[str, Resolution], *, last: bool, quiet: bool = False
    ) -> list[Need]:
        """Creates whose answers were lost, looked for in the lists: what was made is taken over.

        Returns the asks not there, to be sent again; on the `last` try they stay `asking`
        instead, to be looked for again later (never paid again before that).
        """
        if not quiet:
            log.warning("signal answer lost; looking for it before paying again", asks=len(needs))
        now = self.clock()
        asked = self.store.signal_asks_for([n.spec.key for n in needs])
        missing: list[Need] = []
        for group, listed in self._read_lists(needs):
            for need in group:
                row = asked.get(need.spec.key)
                found = self.lists.match(listed, need.spec, since=row.asked_at if row else now)
                if found is not None:
                    self._paid(need)
                    self._took(need, found, out, source="asked")
                elif last:
                    look = now + timedelta(seconds=self.config.lost_look_seconds)
                    self.store.record_signal_ask_lost(need.spec.key, next_check_at=look)
                    self._waiting(need, out)
                else:
                    missing.append(need)
        return missing

    def _read_lists(self, needs: Sequence[Need]) -> list[tuple[list[Need], list[Signal]]]:
        """Each target's newest signals (one free read per target, on the pool), with the asks it serves."""
        groups = list(by_target(needs).values())
        pages = self.run_all(lambda group: self.lists.read(group[0].spec.scope, group[0].spec.target), groups)
        return list(zip(groups, pages, strict=True))

    def _took(self, need: Need, signal: Signal, out: dict[str, Resolution], source: str) -> None:
        """What Saber holds for a claimed ask: an answer kept, a failure recorded, or an id to collect."""
        status = (signal.status or "").lower()
        if status == "completed" or (source == "saber_list" and signal.answered):
            answered_at = signal.completed_at or self.clock()
            record = AnswerRecord(need.spec.key, need.spec, source, signal.raw, answered_at)
            self.store.settle_signal_ask(record)
            if source == "asked":
                self.schedule.note(signal_kind(need.spec.scope), signal.processing_seconds)
            self._answered(need, signal, out)
        elif signal.failed:
            error = None if signal.error is None else str(signal.error)
            self.store.record_signal_failed(need.spec.key, error_code=signal.error_code, error=error)
            self.summary.count("signals_failed")
            self._unanswered(need, out)
        elif signal.id:
            first = first_look(self.config, self.schedule, need.spec.scope, signal.created_at or self.clock())
            self.store.record_signal_asked(need.spec.key, signal.id, next_check_at=first)
            self._waiting(need, out)
        else:  # no id to collect it by: looked for in the lists
            self._lost([need], out, last=True)

    def _garbled(self, needs: list[Need], exc: ConnectorError, *, last: bool) -> None:
        """A paid create answered with something unreadable, or failing past every attempt: said
        against each contact waiting on it (the ask itself is looked for in the lists)."""
        if isinstance(exc, SkippableError) or last:
            code = exc.code or "SIGNAL_FAILED"
            for need in needs:
                for job, item in need.users:
                    self.fail(contact_failure(job.contact_id, code, f"signal {item.key}: {exc}"))

    def _refused(self, needs: list[Need], exc: ConnectorError, code: str | None = None) -> None:
        """Saber refused the ask or kept failing it (nothing made): recorded per contact; a later run asks."""
        code = code or exc.code or "SIGNAL_FAILED"
        for need in needs:
            self.store.release_signal_ask(need.spec.key)
            for job, item in need.users:
                self.fail(contact_failure(job.contact_id, code, f"signal {item.key}: {exc}"))

    # ------------------------------------------------------------------ outcomes per contact
    def _answered(self, need: Need, signal: Signal, out: dict[str, Resolution]) -> None:
        self._count_reuse(need)
        for job, item in need.users:
            out[job.contact_id].answers[item.key] = signal
            self.store.record_signal(
                job.contact_id,
                item.key,
                {"signal": signal.raw, "target": item.target},
                job.inputs.fingerprint or "",
            )

    def _waiting(self, need: Need, out: dict[str, Resolution]) -> None:
        self._count_reuse(need)
        for job, item in need.users:
            out[job.contact_id].waiting.append(item.key)
            out[job.contact_id].wait_keys.add(need.spec.key)

    def _count_reuse(self, need: Need) -> None:
        """Every contact the answer serves without a payment of its own (once per contact and ask)."""
        with self._lock:
            for job, item in need.served():
                if (job.contact_id, need.spec.key) not in self._counted:
                    self._counted.add((job.contact_id, need.spec.key))
                    self.summary.save(f"{item.scope}_answers_reused", self.config.signal_cost)
            self._counted |= {(job.contact_id, need.spec.key) for job, _ in need.users}
        need.waited |= {job.contact_id for job, _ in need.users}  # counted: never again

    def _unanswered(self, need: Need, out: dict[str, Resolution]) -> None:
        for job, item in need.users:
            out[job.contact_id].unanswered.append(item.key)


def first_look(config: EngineConfig, schedule: Schedule, scope: str, asked_at: datetime) -> datetime:
    """When a signal asked at `asked_at` is first looked up (with webhooks: the late safety poll)."""
    if config.webhook_url is not None:
        return asked_at + timedelta(seconds=max(config.poll_min_seconds, config.webhook_poll_seconds))
    return schedule.first(signal_kind(scope), asked_at)
