"""Whether research is launched with the caller's external IDs, learned from Saber's answers.

`externalId`/`externalSource` are not in Saber's published create schema (assumption A1).
They are sent until Saber answers 400 naming them; from then on, for the rest of the
process, research is launched without them.
"""

from __future__ import annotations

import threading

from connector.logs import get_logger
from connector.saber.errors import SaberValidationError

log = get_logger("saber")
EXTERNAL_FIELDS = ("externalId", "externalSource")


class ExternalIds:
    """Whether research is launched with the caller's external IDs: until Saber refuses them, or never.

    One per Saber client (a process has one): `refuse` records the first refusal and logs it once.
    """

    def __init__(self, *, send: bool = True) -> None:
        self._lock = threading.Lock()
        self.reason: str | None = None if send else "turned off (SABER_EXTERNAL_IDS=off)"

    @property
    def sent(self) -> bool:
        return self.reason is None

    @property
    def mode(self) -> str:
        """`with external IDs`, or `without external IDs (why)`: what `check` and `status` say."""
        return "with external IDs" if self.reason is None else f"without external IDs ({self.reason})"

    def refuse(self, error: SaberValidationError) -> None:
        with self._lock:
            if self.reason is not None:
                return
            self.reason = f"Saber refused them: {error}"
        log.warning(
            "research launched without externalId/externalSource from now on",
            reason=str(error),
            note="Saber's create schema does not list them; the stored research id finds each research",
        )


def names_external_ids(error: SaberValidationError) -> bool:
    """Whether a 400 is about `externalId`/`externalSource` (a field named, or the message)."""
    named = {field for field, _ in error.fields}
    return bool(named & set(EXTERNAL_FIELDS)) or any(name in error.message for name in EXTERNAL_FIELDS)
