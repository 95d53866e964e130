"""Signals the research result does not answer: reused when stored for the same inputs, else asked."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta
from itertools import islice

from connector.errors import RecordFailure, RetriableApiError, SkippableError
from connector.logs import get_logger
from connector.mapping import InputsResult, SignalAsk, signals_to_ask
from connector.mapping.inputs import is_free_mail
from connector.saber import InsufficientCredits
from connector.saber.models import Signal
from connector.sync.config import Cycle
from connector.sync.jobs import WriteJob

log = get_logger("sync")

LOOK_AT = 25  # signals of Saber's list read before paying (one page): a free read, bounded
# Why a written result stays pending work: a mapped signal has no answer yet (a later run asks).
SIGNAL_UNANSWERED = "SIGNAL_UNANSWERED"

Ask = Callable[[str, SignalAsk, InputsResult], "Signal | None"]


def signal_answers(
    cycle: Cycle, job: WriteJob, ask: Ask, unanswered: list[str] | None = None
) -> dict[str, Signal]:
    """The mapping's signals for one completed research: stored ones reused, missing ones asked.

    The keys of asks that got no answer this time (the ask failed past its retries, the
    credits ran out, the run was stopped) go into `unanswered`: the result is not done
    until a later run has asked them again. A company signal of a free-mail domain is
    never asked, and is not counted there.
    """
    if job.research.status != "completed" or job.inputs.inputs is None:
        return {}
    asks, unaskable = signals_to_ask(cycle.mapping, job.research, job.inputs.inputs)
    answers: dict[str, Signal] = {}
    for item in asks:
        stored = job.signals.get(item.key)
        if (
            stored
            and stored.get("fingerprint") == job.inputs.fingerprint
            and stored.get("target") == item.target
        ):
            answers[item.key] = Signal.model_validate(stored["signal"])
            continue
        signal = ask(job.contact_id, item, job.inputs)
        if signal is not None:
            answers[item.key] = signal
        elif unanswered is not None and not (item.scope == "company" and is_free_mail(item.target)):
            unanswered.append(item.key)
    for key, why in unaskable.items():
        log.debug("signal not asked", contact_id=job.contact_id, signal=key, reason=why)
    return answers


def answer_key(item: SignalAsk) -> str:
    """The shared answer's key: scope, target, the question (case and spacing folded), answer type."""
    question = " ".join(item.question.split()).casefold()
    raw = "\x1f".join((item.scope, item.target.casefold(), question, item.answer_type))
    return hashlib.sha256(raw.encode()).hexdigest()


class SignalAsker:
    """Answers one signal for one contact, paying only when no answer already at hand can serve.

    In order: the shared answer table (one answer per company domain or profile URL, for
    every contact, run and replica), an ask in flight in this process for the same key
    (waited for, never repeated), an answer Saber already holds (its signal lists, free
    reads), and only then Saber's paid sync endpoint within the run's credit budget.
    """

    def __init__(self, cycle: Cycle, fail: Callable[[RecordFailure], None]) -> None:
        self.cycle = cycle
        self.fail = fail
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[Signal | None]] = {}

    def ask(self, contact_id: str, item: SignalAsk, inputs: InputsResult) -> Signal | None:
        c = self.cycle
        if c.stop.requested:  # Ctrl-C / SIGTERM: pay for nothing new
            return None
        if item.scope == "company" and is_free_mail(item.target):
            log.debug(
                "signal not asked", contact_id=contact_id, signal=item.key, reason="free-mail is no company"
            )
            return None
        key = answer_key(item)
        signal = self._stored(key)
        if signal is not None:
            c.summary.save(f"{item.scope}_answers_reused", c.config.signal_cost)
        else:
            with self._lock:
                pending = self._in_flight.get(key)
                owner = pending is None
                if owner:
                    pending = self._in_flight[key] = Future()
            assert pending is not None
            if owner:
                try:
                    signal = self._answer(contact_id, item, key)
                finally:
                    pending.set_result(signal)
                    with self._lock:
                        del self._in_flight[key]
            else:
                signal = pending.result()  # the same company or person, asked by another worker
                if signal is not None:
                    c.summary.save(f"{item.scope}_answers_reused", c.config.signal_cost)
        if signal is not None:
            c.store.record_signal(
                contact_id, item.key, {"signal": signal.raw, "target": item.target}, inputs.fingerprint or ""
            )
        return signal

    def _stored(self, key: str) -> Signal | None:
        """The shared answer under `key`, unless it is older than the refresh window."""
        found = self.cycle.store.signal_answer(key)
        if found is None or not self._fresh(found[1]):
            return None
        return Signal.model_validate(found[0])

    def _fresh(self, answered_at: datetime | None) -> bool:
        days = self.cycle.mapping.select.refresh_after_days
        if days is None:
            return True
        return answered_at is not None and self.cycle.clock() - answered_at < timedelta(days=days)

    def _answer(self, contact_id: str, item: SignalAsk, key: str) -> Signal | None:
        """Look in Saber's lists (free), else pay; keep what was found in the shared table."""
        c = self.cycle
        signal = self._held_by_saber(item)
        source = "saber_list"
        if signal is not None:
            c.summary.save("saber_lists", c.config.signal_cost)
        else:
            signal, source = self._pay(contact_id, item), "asked"
        if signal is not None:
            c.store.record_signal_answer(
                key,
                scope=item.scope,
                target=item.target,
                question=item.question,
                answer_type=item.answer_type,
                source=source,
                signal=signal.raw,
                answered_at=signal.completed_at or c.clock(),
            )
        return signal

    def _held_by_saber(self, item: SignalAsk) -> Signal | None:
        """A completed answer Saber already holds for this target, question and type, young enough."""
        c = self.cycle
        if item.scope == "company":
            listing = lambda: list(islice(c.saber.list_company_signals(domain=item.target), LOOK_AT))  # noqa: E731
        else:
            listing = lambda: list(islice(c.saber.list_contact_signals(item.target), LOOK_AT))  # noqa: E731
        try:
            signals = c.saber_health.call(f"list_{item.scope}_signals", listing)
        except (SkippableError, RetriableApiError) as exc:
            log.debug("signal list unavailable", signal=item.key, error=str(exc))
            return None
        wanted = " ".join(item.question.split()).casefold()
        for signal in signals:  # newest first
            if (
                (signal.status or "").lower() == "completed"
                and " ".join((signal.question or "").split()).casefold() == wanted
                and _same_type(signal.answer_type, item.answer_type)
                and self._fresh(signal.completed_at or signal.created_at)
            ):
                return signal
        return None

    def _pay(self, contact_id: str, item: SignalAsk) -> Signal | None:
        """Saber's paid sync endpoint, within the run's credit budget."""
        c = self.cycle
        cost = c.config.signal_cost
        if not c.budget.reserve(cost):
            return None
        signal: Signal | None = None
        try:
            if item.scope == "company":
                signal = c.saber_health.call(
                    "company_signal",
                    lambda: c.saber.company_signal(item.target, item.question, item.answer_type),
                )
            else:
                signal = c.saber_health.call(
                    "contact_signal",
                    lambda: c.saber.contact_signal(item.target, item.question, item.answer_type),
                )
        except InsufficientCredits:
            c.budget.mark_exhausted()
        except (SkippableError, RetriableApiError) as exc:
            code = getattr(exc, "code", None) or "SIGNAL_FAILED"
            self.fail(RecordFailure(contact_id, None, code, f"signal {item.key}: {exc}"))
        finally:
            if signal is None:  # nothing was spent: give the reservation back
                c.budget.refund(cost)
        if signal is not None:
            c.summary.count("signals_asked")
            c.summary.spend(f"{item.scope}_signals", cost)
        return signal


def _same_type(found: str | None, wanted: str) -> bool:
    """Saber spells answer types in snake_case or camelCase."""
    return (found or "").replace("_", "").lower() == wanted.replace("_", "").lower()
