"""The service's schedules: a five-field cron expression or an interval like `30s`, `15m`, `1h`."""

from __future__ import annotations

import re

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

INTERVAL = re.compile(r"^\s*(\d+)\s*([smh])\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600}
ALLOWED_INTERVAL = "an interval: a whole number and s, m or h (30s, 15m, 1h)"
ALLOWED = f"a five-field cron expression (*/15 * * * *) or {ALLOWED_INTERVAL}"


def parse_interval(text: str) -> float:
    """Seconds in `30s` / `15m` / `1h`; a ValueError naming what is allowed otherwise."""
    match = INTERVAL.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"must be {ALLOWED_INTERVAL}")
    return float(int(match.group(1)) * UNITS[match.group(2)])


def parse_schedule(text: str) -> BaseTrigger:
    """The trigger for a schedule setting; a ValueError naming what is allowed otherwise."""
    if INTERVAL.match(text):
        return IntervalTrigger(seconds=parse_interval(text))
    if len(text.split()) == 5:
        try:
            return CronTrigger.from_crontab(text.strip(), timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"must be {ALLOWED}; the cron expression is invalid: {exc}") from None
    raise ValueError(f"must be {ALLOWED}")
