"""What one contact's signals came to in a cycle, and the names asking and collecting them share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from connector.mapping import SignalAsk
from connector.saber.models import Signal
from connector.sync.signal_lists import folded

# Why a written result stays pending work.
SIGNAL_UNANSWERED = "SIGNAL_UNANSWERED"  # a mapped signal failed or could not be paid: a later run asks
SIGNAL_PENDING = "SIGNAL_PENDING"  # a mapped signal is in flight at Saber: written again once it is in


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
