"""CRM reality (item 4): merges, deletions, schema changes, duplicates and validation rules."""

from __future__ import annotations

import pytest

from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import crm_reality

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_changing_portal_is_recorded_per_contact_holds_nothing_else_back_and_pays_nothing_twice() -> None:
    """Merged, deleted (while researched, and between read and write), a property deleted and
    another retyped mid-run, an option removed, a person entered twice, a validation rule: each
    recorded against its contact or refused by name, the other values land, nothing paid twice."""
    figures = crm_reality.run(long=False)
    assert_all_ok(figures)
    by_name = {f.name: f.value for f in figures}
    assert by_name["research shared by the same person (credits saved)"] >= 2
    assert by_name["errors recorded against a contact"] > 0
