"""`saber-connector demo`: the whole product against the built-in sandbox, on a fresh machine."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from connector.clients import hubspot_from
from connector.mapping import load_mapping
from connector.properties import setup_properties
from connector.sandbox.runner import start_sandbox
from connector.settings import Settings
from connector.sync.options import SyncOptions
from connector.sync.runner import run_sync

SHOWN_CONTACTS = 5


def run_demo(settings: Settings, *, contacts: int, wait: float, echo: Callable[[str], None]) -> int:
    """Start the sandbox, create the mapped properties, sync with --wait, show before/after."""
    mapping = load_mapping(settings.connector_mapping)
    with start_sandbox(contacts=contacts, research_delay=1.0) as box, tempfile.TemporaryDirectory() as tmp:
        echo(f"sandbox: HubSpot at {box.hubspot.url}, Saber at {box.saber.url}")
        demo_settings = settings.model_copy(
            update={
                "hubspot_base_url": box.hubspot.url,
                "hubspot_access_token": SecretStr(box.hubspot.token),
                "saber_base_url": box.saber.url,
                "saber_api_key": SecretStr(box.saber.api_key),
                "connector_state_url": f"sqlite:///{Path(tmp) / 'demo.db'}",
                "connector_poll_min_seconds": 0.5,
            }
        )
        hubspot = hubspot_from(demo_settings)
        try:
            echo(setup_properties(mapping, hubspot).render())
        finally:
            hubspot.close()
        shown = sorted(box.hubspot.contact_ids(), key=int)[: SHOWN_CONTACTS + 2]
        before = {cid: box.hubspot.contact(cid) for cid in shown}
        echo(f"\nsync --wait {wait:g} with {mapping.source_path} ...")
        summary = run_sync(demo_settings, SyncOptions(wait_seconds=wait), show_progress=True)
        echo(summary.render())
        outputs = mapping.output_properties()
        for cid in shown:
            after = box.hubspot.contact(cid)
            name = f"{after.get('firstname') or ''} {after.get('lastname') or ''}".strip()
            echo(f"\ncontact {cid} ({name}, {after.get('company') or 'no company'}):")
            changed = [p for p in outputs if before[cid].get(p) != after.get(p)]
            if not changed:
                echo("  (nothing written: not selected, or inputs unusable; see `skipped` above)")
            for prop in changed:
                value = after.get(prop) or ""
                value = value if len(value) <= 70 else value[:67] + "..."
                echo(f"  {prop:<34} {before[cid].get(prop)!r} -> {value!r}")
        return summary.exit_code
