"""`saber-connector sandbox`: the fake HubSpot, Saber and account-group APIs on loopback until stopped."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from connector.sandbox.runner import start_sandbox


def serve_sandbox(
    echo: Callable[[str], None],
    *,
    contacts: int,
    hubspot_port: int,
    saber_port: int,
    research_delay: float,
    signal_delay: float,
    credits: int,
    seed: int,
    integrations_port: int = 0,
) -> None:
    """Start the sandboxes, print how to point the connector at them, wait for SIGTERM or Ctrl-C.

    The account-group API's jobs and scans take `research_delay` seconds each (and its results
    as long again after a scan), so a person watching sees them queued and running.
    """
    box = start_sandbox(
        contacts=contacts,
        hubspot_port=hubspot_port,
        saber_port=saber_port,
        research_delay=research_delay,
        signal_delay=signal_delay,
        credits=credits,
        seed=seed,
        integrations_port=integrations_port,
        integrations_options={
            "job_seconds": research_delay,
            "scan_seconds": research_delay,
            "evaluate_seconds": research_delay,
        },
    )
    # Handle SIGTERM before printing: whoever reads the output may stop the sandbox at once.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    echo("Sandbox running. Point the connector at it with:\n")
    for name, value in box.env().items():
        echo(f"  export {name}={value}")
    if box.integrations is not None:
        echo(
            f"\nAccount-group (integrations) API: {box.integrations.url}/v1, "
            f"account group {box.integrations.group_id} ({box.integrations.credits} credits, "
            f"plan cap {box.integrations.plan_cap})."
        )
    echo("\nPress Ctrl-C to stop.")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
