"""Item 9: with debug logging on, no command, failure, page or state database shows either key."""

from __future__ import annotations

import pytest

from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import secrets

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_no_command_page_or_database_shows_a_key() -> None:
    """Every command (failures, --dry-run and the service with webhooks included) shows neither key nor the webhook secret."""
    figures = secrets.run(long=False)
    assert_all_ok(figures)
    values = {f.name: f.value for f in figures}
    assert values["commands run"] >= 12
    assert values["lines scanned"] > 100 and values["state database bytes scanned"] > 0


def test_the_search_finds_a_key_whole_or_cut() -> None:
    """The search counts a key shown whole and one cut short (its distinctive middle), so a leak cannot hide in a truncated line."""
    key = secrets.SABER_KEY
    assert secrets.count(f"error: {key}", [key]) >= 1
    assert secrets.count(f"request {key[:-6]}…", [key]) == 1
    assert secrets.count("nothing to see here", list(secrets.KEYS)) == 0
