"""When to look a pending research up again: soon while it is young, rarely as it ages."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_check_delay(age: timedelta, minimum: float, maximum: float) -> timedelta:
    """A quarter of the research's age, kept between `minimum` and `maximum` seconds.

    A young research is checked every `minimum` seconds; one that has been running for an
    hour is checked every 15 minutes; so calls per contact grow only logarithmically.
    """
    seconds = max(minimum, min(maximum, age.total_seconds() / 4))
    return timedelta(seconds=seconds)


def next_check_at(launched_at: datetime | None, now: datetime, minimum: float, maximum: float) -> datetime:
    """The time of the next look-up for a research launched at `launched_at`."""
    age = now - launched_at if launched_at else timedelta(0)
    return now + next_check_delay(age, minimum, maximum)
