"""Outages (item 3): `run` through API outages stays up, says why it is not ready, backs off and resumes."""

from __future__ import annotations

import pytest

from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import outages

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_service_rides_out_outages_a_daily_limit_and_a_revoked_key() -> None:
    """Saber down, HubSpot down, DAILY limit, 401: up throughout, not ready with a reason, bounded calls, nothing lost."""
    figures = outages.run(long=False)
    assert_all_ok(figures)
    reasons = {f.name: f.note for f in figures if f.name.endswith("not ready, with a reason")}
    assert len(reasons) == 4
    assert all(reasons.values())  # each outage's reason is shown
    assert any("SABER_API_KEY" in note for note in reasons.values())
    assert any("daily" in note.lower() for note in reasons.values())
