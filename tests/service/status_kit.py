"""A `saber-connector run` that has run cycles against the sandbox, for the status page's tests.

Saber fails a share of research (`failure_rate`) and the example mapping meets values it cannot
convert, so the page has failures, credits and errors to show; the service runs quick cycles
until the state database holds a few runs and the day's errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.service.service import SECRET_NAME as WEBHOOK_SECRET
from connector.state import StateStore
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.sync_harness import sandbox_env, wait_until, write_mapping

CONTACT_FIELDS = ("email", "firstname", "lastname", "phone", "company", "website", "jobtitle")


@dataclass(frozen=True)
class RanService:
    """The sandbox, the running service and its state database, after a few cycles."""

    box: RunningSandbox
    service: Service
    env: dict[str, str]
    tmp_path: Path

    @property
    def state_url(self) -> str:
        return self.env["CONNECTOR_STATE_URL"]

    def page(self) -> str:
        answer = self.service.get("/status")
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["content-type"].startswith("text/html")
        return answer.text

    def secrets(self) -> list[str]:
        """Every key and token the service was given, and the webhook secret it made."""
        with StateStore(self.state_url) as store:
            webhook = store.get_cursor(WEBHOOK_SECRET)
        assert webhook, "the service made no webhook secret"
        return [self.box.saber.api_key, self.box.hubspot.token, webhook]

    def contact_values(self) -> set[str]:
        """Every seeded contact's fields beyond its id (what the page must never show)."""
        values = set()
        for cid in self.box.hubspot.contact_ids():
            row = self.box.hubspot.contact(cid)
            values.update(str(row[f]) for f in CONTACT_FIELDS if row.get(f) and len(str(row[f])) > 2)
        return values


def _settled(url: str, full_runs: int) -> bool:
    """At least `full_runs` finished syncs and one collect cycle, and the day's errors recorded."""
    with StateStore(url) as store:
        runs = [r for r in store.last_runs(50) if r.outcome != "running"]
        kinds = [r.counts.raw.get("kind") for r in runs]
        return kinds.count("full") >= full_runs and "collect" in kinds and bool(store.common_errors(1))


@contextmanager
def ran_service(tmp_path: Path, *, full_runs: int = 2, **extra: str) -> Iterator[RanService]:
    """`run` against a fresh sandbox, once it has run `full_runs` syncs and a collect cycle, with errors."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with start_sandbox(contacts=16, seed=3, research_delay=0.3, failure_rate=0.3) as box:
        mapping = write_mapping(tmp_path)
        port = free_port()
        env = sandbox_env(box, tmp_path, mapping)
        env.update(http_env(port, public=True))  # webhooks on: a secret exists that the page must not show
        env.update(
            {
                "CONNECTOR_SCHEDULE": "2s",
                "CONNECTOR_COLLECT_INTERVAL": "1s",
                "CONNECTOR_BACKOFF_INITIAL_SECONDS": "1",
            }
        )
        env.update(extra)
        with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
            service = Service(proc, port)
            wait_until(service.started, timeout=30)
            wait_until(lambda: _settled(env["CONNECTOR_STATE_URL"], full_runs), timeout=60)
            yield RanService(box, service, env, tmp_path)
