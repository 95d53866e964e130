"""Shared fixtures: sandbox servers started in-process on free loopback ports."""

from __future__ import annotations

import pytest

from connector.logs import configure_logging


@pytest.fixture(autouse=True, scope="session")
def _quiet_logs() -> None:
    configure_logging("WARNING", "console")
