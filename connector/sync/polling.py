"""When to look a pending research up again: late and seldom, because every look is a call.

Saber's research takes minutes. The first look comes `minimum` seconds after the launch
(`CONNECTOR_POLL_MIN_SECONDS`, default 120 s: about when research is done), and every
later one waits as long as the research has already run (its age doubles between looks),
so research done in 2–5 minutes costs one or two looks, and a slow one only a handful.
With webhooks on, Saber says when research is done; the only poll is a late safety net
for results that send no webhook (those served from Saber's cache).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def next_check_delay(age: timedelta, minimum: float, maximum: float) -> timedelta:
    """As long as the research has run (doubling its age), kept between `minimum` and `maximum` seconds."""
    seconds = max(minimum, min(maximum, age.total_seconds()))
    return timedelta(seconds=seconds)


def next_check_at(launched_at: datetime | None, now: datetime, minimum: float, maximum: float) -> datetime:
    """The time of the next look-up for a research launched at `launched_at`."""
    age = now - launched_at if launched_at else timedelta(0)
    return now + next_check_delay(age, minimum, maximum)
