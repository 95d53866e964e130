"""Starts both fake APIs together, as `saber-connector sandbox`, `demo` and the tests do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.integrations import IntegrationsSandbox
from connector.sandbox.saber import SaberSandbox
from connector.sandbox.server import Knobs
from connector.sandbox.target_accounts import add_target_accounts


@dataclass
class RunningSandbox:
    """The servers of one sandbox, started (the account-group API unless left out)."""

    hubspot: HubSpotSandbox
    saber: SaberSandbox
    integrations: IntegrationsSandbox | None = None

    def env(self) -> dict[str, str]:
        """The connector's settings that point it at this sandbox."""
        env = {
            "HUBSPOT_BASE_URL": self.hubspot.url,
            "HUBSPOT_ACCESS_TOKEN": self.hubspot.token,
            "SABER_BASE_URL": self.saber.url,
            "SABER_API_KEY": self.saber.api_key,
        }
        if self.integrations is not None:
            env["INTEGRATIONS_BASE_URL"] = self.integrations.url
            env["INTEGRATIONS_API_KEY"] = self.integrations.api_key
        return env

    def stop(self) -> None:
        if self.integrations is not None:
            self.integrations.stop()
        self.saber.stop()
        self.hubspot.stop()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    *,
    contacts: int = 50,
    seed: int = 7,
    target_accounts: int = 0,
    host: str = "127.0.0.1",
    hubspot_port: int = 0,
    saber_port: int = 0,
    research_delay: float = 0.5,
    signal_delay: float | tuple[float, float] = (0.3, 0.8),
    credits: int = 1000,
    hubspot_knobs: Knobs | None = None,
    saber_knobs: Knobs | None = None,
    integrations: bool = True,
    integrations_port: int = 0,
    integrations_knobs: Knobs | None = None,
    integrations_options: dict[str, Any] | None = None,
    **saber_options: Any,
) -> RunningSandbox:
    """Start HubSpot and Saber sandboxes on loopback (port 0: a free port).

    Research and signals take time as Saber's do, only less of it by default (`research_delay`,
    `signal_delay`: seconds, or a (low, high) range for signals): quick enough for tests and the
    demo, slow enough that every answer is collected later, never at once. `target_accounts` > 0:
    companies with LinkedIn pages, that many flagged as target accounts, and Saber's contact
    search knowing the people already there (connector/sandbox/target_accounts.py).
    `integrations`: also the account-group API (`integrations_options`: its constructor's
    keywords, e.g. `job_seconds`, `credits`, `plan_cap`).
    """
    hubspot = HubSpotSandbox(host, hubspot_port, hubspot_knobs, contacts=contacts, seed=seed).start()
    try:
        saber = SaberSandbox(
            host,
            saber_port,
            saber_knobs,
            credits=credits,
            research_delay=research_delay,
            signal_delay=signal_delay,
            **saber_options,
        ).start()
    except BaseException:
        hubspot.stop()
        raise
    box = RunningSandbox(hubspot=hubspot, saber=saber)
    if integrations:
        try:
            box.integrations = IntegrationsSandbox(
                host, integrations_port, integrations_knobs, seed=seed, **(integrations_options or {})
            ).start()
        except BaseException:
            box.stop()
            raise
    if target_accounts:
        add_target_accounts(hubspot, saber.people, target_accounts)
    return box
