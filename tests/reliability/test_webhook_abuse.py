"""Item 10: webhook abuse is rejected or absorbed, and blocks neither /healthz nor the cycles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.service.http import ServiceHTTP
from connector.service.metrics import Metrics
from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import webhook_abuse

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SECRET = "whsec-focused-8F3KQ2ZP"


class _Alive:
    def alive(self) -> bool:
        return True

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        return True, {"ready": True}


@pytest.fixture
def server() -> Iterator[ServiceHTTP]:
    hints: list[tuple[str | None, str | None]] = []
    with ServiceHTTP(
        "127.0.0.1",
        0,
        status=_Alive(),
        metrics=Metrics(),
        webhook_secret=lambda: SECRET,
        on_webhook=lambda research_id, external_id: hints.append((research_id, external_id)),
    ) as http:
        yield http


def test_abuse_is_rejected_or_absorbed_and_blocks_nothing() -> None:
    """Wrong secrets, replays, oversized and malformed bodies, a flood and slow-loris leave /healthz prompt, cycles running and nothing paid twice."""
    figures = webhook_abuse.run(long=False)
    assert_all_ok(figures)
    values = {f.name: f.value for f in figures}
    assert values["requests: flood: wrong secret"] >= webhook_abuse.SHORT.flood_threads
    assert values["full cycles completed during the abuse"] >= 1
    assert values["slow connections dropped by the server"] == webhook_abuse.SHORT.slow_connections


def test_deeply_nested_json_is_a_400_not_a_500(server: ServiceHTTP) -> None:
    """A body nested deeper than the JSON parser recurses (found by the suite) is refused as malformed."""
    body = b"[" * 100_000 + b"]" * 100_000
    answer = httpx.post(f"{server.url}/webhooks/saber/{SECRET}", content=body, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": "body is not valid JSON"}
