"""`saber-connector demo`: the whole product against the built-in sandbox, on a fresh machine."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from connector.clients import hubspot_from
from connector.commands.setup import setup_properties
from connector.commands.sync import run_sync
from connector.mapping import load_mapping, packaged_mapping
from connector.sandbox.runner import start_sandbox
from connector.settings import Settings
from connector.sync.options import SyncOptions

SHOWN_CONTACTS = 5


def run_demo(settings: Settings, *, contacts: int, wait: float, echo: Callable[[str], None]) -> int:
    """Start the sandbox, create the mapped properties, sync with --wait, show before/after."""
    if "connector_mapping" not in settings.model_fields_set and not settings.connector_mapping.exists():
        # Run anywhere (an installed wheel, outside the repository): the packaged default mapping.
        settings = settings.model_copy(update={"connector_mapping": packaged_mapping()})
    mapping = load_mapping(settings.connector_mapping)
    sandbox = start_sandbox(contacts=contacts, research_delay=1.0, signal_delay=(1.0, 3.0))
    with sandbox as box, tempfile.TemporaryDirectory() as tmp:
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
        with hubspot_from(demo_settings) as hubspot:
            echo(setup_properties(mapping, hubspot).render())
        before = {cid: box.hubspot.contact(cid) for cid in box.hubspot.contact_ids()}
        echo(f"\nsync --wait {wait:g} with {mapping.source_path} ...")
        summary = run_sync(demo_settings, SyncOptions(wait_seconds=wait), show_progress=True)
        echo(summary.render())
        outputs = mapping.output_properties()
        after = {cid: box.hubspot.contact(cid) for cid in before}
        written = [
            cid
            for cid in sorted(before, key=int)
            if any(before[cid].get(p) != after[cid].get(p) for p in outputs)
        ]
        for cid in written[:SHOWN_CONTACTS]:
            echo(f"\ncontact {cid} ({_who(after[cid])}):")
            for prop in outputs:
                if before[cid].get(prop) != after[cid].get(prop):
                    value = after[cid].get(prop) or ""
                    value = value if len(value) <= 70 else value[:67] + "..."
                    echo(f"  {prop:<34} {before[cid].get(prop)!r} -> {value!r}")
        skipped = next(
            (e for examples in summary.skip_examples.values() for e in examples if e.contact_id in after),
            None,
        )
        if skipped is not None:
            reason = next(r for r, examples in summary.skip_examples.items() if skipped in examples)
            echo(f"\ncontact {skipped.contact_id} ({_who(after[skipped.contact_id])}): skipped, {reason}")
            if skipped.detail:
                echo(f"  {skipped.detail}")
        echo("\nsee one contact in full: saber-connector explain CONTACT_ID (against your own portal)")
        return summary.exit_code


def _who(props: dict[str, str | None]) -> str:
    name = f"{props.get('firstname') or ''} {props.get('lastname') or ''}".strip() or "no name"
    return f"{name}, {props.get('company') or 'no company'}"
