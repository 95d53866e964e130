"""Signals the research result does not answer: reused when stored for the same inputs, else asked."""

from __future__ import annotations

from collections.abc import Callable

from connector.errors import RecordFailure, RetriableApiError, SkippableError
from connector.logs import get_logger
from connector.mapping import InputsResult, SignalAsk, signals_to_ask
from connector.saber import InsufficientCredits
from connector.saber.models import Signal
from connector.sync.config import Cycle
from connector.sync.jobs import WriteJob

log = get_logger("sync")

Ask = Callable[[str, SignalAsk, InputsResult], "Signal | None"]


def signal_answers(cycle: Cycle, job: WriteJob, ask: Ask) -> dict[str, Signal]:
    """The mapping's signals for one completed research: stored ones reused, missing ones asked."""
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
    for key, why in unaskable.items():
        log.debug("signal not asked", contact_id=job.contact_id, signal=key, reason=why)
    return answers


class SignalAsker:
    """Asks one signal through Saber's sync endpoint (paid), within the run's credit budget."""

    def __init__(self, cycle: Cycle, fail: Callable[[RecordFailure], None]) -> None:
        self.cycle = cycle
        self.fail = fail

    def ask(self, contact_id: str, item: SignalAsk, inputs: InputsResult) -> Signal | None:
        c = self.cycle
        cost = c.config.signal_cost
        if c.stop.requested:  # Ctrl-C / SIGTERM: pay for nothing new
            return None
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
        if signal is None:
            return None
        c.summary.count("signals_asked")
        c.store.record_signal(
            contact_id, item.key, {"signal": signal.raw, "target": item.target}, inputs.fingerprint or ""
        )
        return signal
