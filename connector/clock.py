"""The one clock: now, as a timezone-aware UTC datetime.

Every part that needs the time takes a `clock` (this function by default), so that tests
can move time without patching; the state store refuses naive datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
