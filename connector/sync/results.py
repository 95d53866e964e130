"""A finished research, recorded: shared by launching (an adopted result already done) and collecting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from connector.logs import get_logger
from connector.saber.models import Research
from connector.state import StateStore
from connector.sync.polling import Schedule
from connector.sync.summary import RunSummary

log = get_logger("sync")


def record_done(
    store: StateStore,
    summary: RunSummary,
    clock: Callable[[], datetime],
    contact_id: str,
    research: Research,
    schedule: Schedule | None = None,
) -> None:
    """Store a finished research (completed or failed) and count it; its duration teaches `schedule`."""
    store.record_result(
        contact_id,
        research_id=research.id,
        status=research.status,
        result=research.raw if research.status == "completed" else None,
        completed_at=research.completed_at or clock(),
        error_code=research.error_code,
        error=None if research.error is None else str(research.error),
    )
    summary.research_event(research.status)
    if schedule is not None:
        schedule.note("research", research.processing_seconds)
    if research.status == "failed":
        log.debug("research failed", contact_id=contact_id, error_code=research.error_code)
