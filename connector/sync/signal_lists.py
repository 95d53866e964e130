"""Saber's signal lists, read free before anything is paid: answers already there, asks already made.

One page (the newest 25) of a target's signals is read: by domain for a company, by
profile URL for a contact. A listed signal matches an ask when it asks the same question
(case and spacing folded) with the same answer type, or comes from the same template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from itertools import islice

from connector.errors import RUN_GOES_ON
from connector.logs import get_logger
from connector.saber import SaberClient
from connector.saber.models import Signal
from connector.state.signal_asks import AskSpec
from connector.sync.context import EngineConfig
from connector.sync.outage import OutageBreaker

log = get_logger("sync")

LOOK_AT = 25  # signals of a target's list read (one page): a free read, bounded
# How far before an ask Saber's clock may put the signal it made (the lists are matched from there).
CLOCK_SKEW = timedelta(minutes=5)


def folded(text: str | None) -> str:
    """A question as compared: case and runs of spacing folded."""
    return " ".join((text or "").split()).casefold()


def same_type(found: str | None, wanted: str) -> bool:
    """Saber spells answer types in snake_case or camelCase."""
    return (found or "").replace("_", "").lower() == wanted.replace("_", "").lower()


class SaberLists:
    """Reads one page of a target's signals and finds the one an ask is looking for."""

    def __init__(
        self,
        saber: SaberClient,
        saber_health: OutageBreaker,
        config: EngineConfig,
        clock: Callable[[], datetime],
        fresh: Callable[[datetime | None], bool],
    ) -> None:
        self.saber = saber
        self.saber_health = saber_health
        self.config = config
        self.clock = clock
        self.fresh = fresh  # whether an answer of that time is young enough to use

    def read(self, scope: str, target: str) -> list[Signal]:
        """The target's newest signals ([] when the list cannot be read: nothing is found then)."""
        if scope == "company":
            listing = lambda: list(islice(self.saber.list_company_signals(domain=target), LOOK_AT))  # noqa: E731
        else:
            listing = lambda: list(islice(self.saber.list_contact_signals(target), LOOK_AT))  # noqa: E731
        try:
            return self.saber_health.call(f"list_{scope}_signals", listing)
        except RUN_GOES_ON as exc:
            log.debug("signal list unavailable", scope=scope, error=str(exc))
            return []

    def match(self, listed: Iterable[Signal], spec: AskSpec, *, since: datetime | None) -> Signal | None:
        """The newest listed signal that serves this ask, or None.

        Without `since` (before paying): a completed answer young enough, or one still in
        flight (made within the signal timeout). With `since` (an ask made then whose answer
        was lost): a signal made from then on, whatever its status, failed included.
        """
        wanted = folded(spec.question)
        in_flight_since = self.clock() - self.config.signal_timeout
        for signal in listed:  # newest first
            same = folded(signal.question) == wanted and same_type(signal.answer_type, spec.answer_type)
            if not same and not (spec.template_id and signal.signal_template_id == spec.template_id):
                continue
            created = signal.created_at
            if since is not None:
                if created is not None and created >= since - CLOCK_SKEW:
                    return signal
                continue
            if signal.answered and self.fresh(signal.completed_at or created):
                return signal
            in_flight = not signal.answered and not signal.failed
            if in_flight and created is not None and created >= in_flight_since:
                return signal
        return None
