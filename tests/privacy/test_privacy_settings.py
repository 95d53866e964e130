"""The privacy settings and the commands' arguments: defaults, validation, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.settings import load_settings
from tests.support import run_cli


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("SCHEDULE", "RESULT_RETENTION_DAYS", "HISTORY_RETENTION_DAYS"):
        monkeypatch.delenv(
            f"CONNECTOR_RECONCILE_{name}" if name == "SCHEDULE" else f"CONNECTOR_{name}", raising=False
        )


def test_the_privacy_settings_default_to_daily_a_year_and_ninety_days() -> None:
    """Unset, reconciliation runs daily, results are kept 365 days and run history 90."""
    settings = load_settings(None)
    assert settings.connector_reconcile_schedule == "24h"
    assert settings.connector_result_retention_days == 365
    assert settings.connector_history_retention_days == 90


def test_a_cron_reconcile_schedule_is_accepted_and_a_bad_one_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cron expression is a valid schedule; anything else is one line naming the setting."""
    monkeypatch.setenv("CONNECTOR_RECONCILE_SCHEDULE", "0 3 * * *")
    assert load_settings(None).connector_reconcile_schedule == "0 3 * * *"
    monkeypatch.setenv("CONNECTOR_RECONCILE_SCHEDULE", "daily")
    with pytest.raises(ConfigError, match="CONNECTOR_RECONCILE_SCHEDULE"):
        load_settings(None)
    monkeypatch.setenv("CONNECTOR_RECONCILE_SCHEDULE", "24h")
    monkeypatch.setenv("CONNECTOR_RESULT_RETENTION_DAYS", "0")
    with pytest.raises(ConfigError, match="CONNECTOR_RESULT_RETENTION_DAYS"):
        load_settings(None)


def test_forget_without_anyone_to_forget_is_a_usage_error(tmp_path: Path) -> None:
    """`forget` with no CONTACT_ID and no --email, or an id that is not a number, exits 2 saying why."""
    env = {"PATH": "/usr/bin:/bin", "CONNECTOR_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    empty = run_cli("forget", env=env, cwd=tmp_path)
    assert empty.returncode == 2 and "CONTACT_ID" in empty.stderr
    typo = run_cli("forget", "abc", env=env, cwd=tmp_path)
    assert typo.returncode == 2 and "not a HubSpot contact ID" in typo.stderr
    nothing = run_cli("forget", "123", env=env, cwd=tmp_path)
    assert nothing.returncode == 0 and "nothing to remove" in nothing.stdout
