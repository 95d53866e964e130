"""State loss (item 5): a deleted state database costs no credit and no person's edit."""

from __future__ import annotations

import pytest

from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import state_loss

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_lost_state_database_adopts_saber_research_pays_nothing_and_keeps_edits() -> None:
    """With the state database deleted, the next run adopts every research and signal Saber holds,
    pays nothing, keeps every edited value (without its hashes it cannot tell a person's edit from
    an older write of its own, so it keeps both) and adopts the hashes of values equal to the result."""
    figures = state_loss.run(long=False)
    assert_all_ok(figures)
    by_name = {f.name: f.value for f in figures}
    assert by_name["contacts researched and written before the loss"] > 0
    assert by_name["values people edited before the state-loss run"] > 0
