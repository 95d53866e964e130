"""`saber-connector demo`: the whole product against the built-in sandbox, on a fresh machine.

After the sync it prospects: the sandbox portal has a few target accounts (companies with a
LinkedIn page and `saber_target_account`), and `prospect` with the packaged demo prospecting
mapping (connector/mapping/demo_prospecting.yaml) creates the people missing there, so a new
user sees people found, the ones HubSpot already has left alone, and the ones created. Last,
`linkedin run` with the packaged demo LinkedIn mapping (connector/mapping/demo_linkedin.yaml),
run until its prospecting job has landed in HubSpot and its signal scan's results are written
onto the people it brought in.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from connector.clients import hubspot_from
from connector.commands.linkedin import run_linkedin
from connector.commands.prospect import run_prospect
from connector.commands.setup import setup_properties
from connector.commands.sync import run_sync
from connector.linkedin.summary import LinkedInSummary
from connector.mapping import load_mapping, packaged_mapping
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.runner import start_sandbox
from connector.settings import Settings
from connector.sync.options import SyncOptions
from connector.sync.prospect_summary import ProspectSummary

SHOWN_CONTACTS = 5
SHOWN_PEOPLE = 4  # people created by the demo's prospecting, by name and company
TARGET_ACCOUNTS = 6  # the sandbox portal's target accounts the demo prospects at
LINKEDIN_RUNS = 20  # `linkedin run`s the demo makes at most, until its job and scan have landed
LINKEDIN_PAUSE = 0.5  # seconds between two of them (the sandbox's jobs and scans take ~0.3 s a step)
SCAN_PROPERTIES = ("saber_scan_status", "saber_scan_items", "saber_scan_top", "saber_scan_score")


def run_demo(settings: Settings, *, contacts: int, wait: float, echo: Callable[[str], None]) -> int:
    """Start the sandbox, create the mapped properties, sync with --wait, show before/after."""
    if "connector_mapping" not in settings.model_fields_set and not settings.connector_mapping.exists():
        # Run anywhere (an installed wheel, outside the repository): the packaged default mapping.
        settings = settings.model_copy(update={"connector_mapping": packaged_mapping()})
    mapping = load_mapping(settings.connector_mapping)
    sandbox = start_sandbox(
        contacts=contacts, research_delay=1.0, signal_delay=(1.0, 3.0), target_accounts=TARGET_ACCOUNTS
    )
    with sandbox as box, tempfile.TemporaryDirectory() as tmp:
        echo(f"sandbox: HubSpot at {box.hubspot.url}, Saber at {box.saber.url}")
        demo_settings = settings.model_copy(
            update={
                "hubspot_base_url": box.hubspot.url,
                "hubspot_access_token": SecretStr(box.hubspot.token),
                "saber_base_url": box.saber.url,
                "saber_api_key": SecretStr(box.saber.api_key),
                "integrations_base_url": box.integrations.url if box.integrations else None,
                "integrations_api_key": SecretStr(box.integrations.api_key) if box.integrations else None,
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
        prospected = _prospect(demo_settings, echo)
        linkedin = _linkedin(demo_settings, box.hubspot, echo)
        return summary.exit_code or prospected.exit_code or linkedin


def demo_prospecting_mapping() -> Path:
    """The packaged prospecting mapping the demo runs `prospect` with."""
    return packaged_mapping().with_name("demo_prospecting.yaml")


def _prospect(settings: Settings, echo: Callable[[str], None]) -> ProspectSummary:
    """Set up the prospecting mapping's properties, run `prospect`, show who was found and created."""
    settings = settings.model_copy(update={"connector_mapping": demo_prospecting_mapping()})
    mapping = load_mapping(settings.connector_mapping)
    with hubspot_from(settings) as hubspot:
        setup_properties(mapping, hubspot)
    echo(
        f"\nprospect with {settings.connector_mapping} "
        f"(the people missing at {TARGET_ACCOUNTS} target accounts) ..."
    )
    summary = run_prospect(settings)
    echo(summary.render())
    # One person per account first, so the examples show several companies.
    created = sorted(
        (
            (i, p.name, a.name)
            for a in summary.accounts
            for i, p in enumerate(x for x in a.people if x.action == "created")
        ),
        key=lambda e: e[0],
    )
    known = [(p.name, a.name) for a in summary.accounts for p in a.people if p.reason == "already_in_hubspot"]
    for _, name, company in created[:SHOWN_PEOPLE]:
        echo(f"  created {name}, {company}")
    for name, company in known[:1]:
        echo(f"  not created {name}, {company}: HubSpot already has them at that company")
    echo(
        "the next sync researches them like any contact: saber-connector sync with a mapping "
        "whose select takes leads (CONNECTOR_MAPPING=mappings/prospecting.yaml)"
    )
    return summary


def _linkedin(settings: Settings, portal: HubSpotSandbox, echo: Callable[[str], None]) -> int:
    """`linkedin run` until the demo's job has landed and its scan's results are written; show both."""
    settings = settings.model_copy(
        update={"connector_mapping": packaged_mapping().with_name("demo_linkedin.yaml")}
    )
    mapping = load_mapping(settings.connector_mapping)
    with hubspot_from(settings) as hubspot:
        setup_properties(mapping, hubspot)
    echo(
        f"\nlinkedin run with {settings.connector_mapping} (a LinkedIn search imported into HubSpot, "
        "then a signal scan over the people it found) ..."
    )
    before = set(portal.contact_ids())
    runs: list[LinkedInSummary] = []
    for _ in range(LINKEDIN_RUNS):
        runs.append(run_linkedin(settings))
        if runs[-1].exit_code() or (sum(r.results_written for r in runs) and not runs[-1].results_pending):
            break
        time.sleep(LINKEDIN_PAUSE)  # the job and the scan move on at the API meanwhile

    def total(field: str) -> int:
        return sum(getattr(r, field) for r in runs)

    echo(
        f"{len(runs)} runs: job started {total('jobs_started')}, prospects imported "
        f"{total('prospects_imported')}, contacts created {total('contacts_created')}, already in HubSpot "
        f"{total('contacts_matched')}; scan started {total('scans_started')}, results written "
        f"{total('results_written')}; credits {total('credits_held')}"
    )
    for cid in sorted(set(portal.contact_ids()) - before, key=int)[:SHOWN_PEOPLE]:
        props = portal.contact(cid)
        found = ", ".join(f"{p.removeprefix('saber_scan_')} {props.get(p)!r}" for p in SCAN_PROPERTIES)
        echo(f"  created {_who(props)}: {found}")
    failed = next((r for r in runs if r.exit_code()), None)
    if failed is not None:
        echo(failed.render())
    return failed.exit_code() if failed is not None else 0


def _who(props: dict[str, str | None]) -> str:
    name = f"{props.get('firstname') or ''} {props.get('lastname') or ''}".strip() or "no name"
    return f"{name}, {props.get('company') or 'no company'}"
