"""`saber-connector sandbox`: the fake HubSpot and Saber APIs on loopback until a signal stops them."""

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
) -> None:
    """Start both sandboxes, print how to point the connector at them, wait for SIGTERM or Ctrl-C."""
    box = start_sandbox(
        contacts=contacts,
        hubspot_port=hubspot_port,
        saber_port=saber_port,
        research_delay=research_delay,
        signal_delay=signal_delay,
        credits=credits,
        seed=seed,
    )
    # Handle SIGTERM before printing: whoever reads the output may stop the sandbox at once.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    echo("Sandbox running. Point the connector at it with:\n")
    for name, value in box.env().items():
        echo(f"  export {name}={value}")
    echo("\nPress Ctrl-C to stop.")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
