"""Helpers for end-to-end sync tests: a sandbox, a mapping file and settings pointing at both."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from connector.commands.setup import setup_properties
from connector.commands.sync import run_sync
from connector.mapping import load_mapping
from connector.sandbox.runner import RunningSandbox
from connector.settings import Settings, load_settings
from connector.sync.options import SyncOptions
from connector.sync.summary import RunSummary
from tests.support import wait_for

# The example from the mapping issue, exactly as written there.
EXAMPLE_MAPPING = """\
version: 1
external_source: hubspot             # externalSource sent to Saber with each contact's ID

select:                              # which contacts are researched
  filters:                           # HubSpot search filters; all must hold
    - {property: lifecyclestage, operator: IN, values: [lead, marketingqualifiedlead]}
  refresh_after_days: 90             # research again when the last result is older
  max_new_per_run: 500               # new research launched per run, at most

inputs:                              # Saber research field <- HubSpot contact property
  firstName: firstname
  lastName: lastname
  companyName: company
  companyDomain: {property: website, normalize: domain, fallback: {property: email, normalize: email_domain}}
  jobTitle: jobtitle
  contactProfileUrl: linkedin_url

signals:                             # questions answered for every researched contact
  runs_kubernetes:
    question: "Does this person's team run Kubernetes in production?"
    scope: contact                   # contact | company
    answer_type: boolean

properties:                          # HubSpot contact property <- where its value comes from
  saber_summary:         {from: result.summary}
  saber_seniority:       {from: result.seniority, type: enumeration, options: {VP: vp, Director: director, C-Level: c_level}}
  saber_email:           {from: result.email, write: if_empty}
  saber_runs_kubernetes: {from: signals.runs_kubernetes.answer, type: bool}
  saber_runs_kubernetes_confidence: {from: signals.runs_kubernetes.confidence, type: number}
  saber_research_status: {from: research.status}
  saber_researched_at:   {from: research.completedAt, type: datetime}
"""

# The `version` and `inputs` that the mappings written by setup/check tests start with.
MAPPING_HEAD = """\
version: 1
inputs:
  firstName: firstname
  lastName: lastname
  companyName: company
  companyDomain: {property: website, normalize: domain}
"""

# The default mapping users copy (several signals, a company-scope one among them).
ROOT_MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "default.yaml"

# Properties whose values depend on when research ran, not on what it found.
TIME_DEPENDENT = {"saber_researched_at"}


def write_mapping(tmp_path: Path, text: str = EXAMPLE_MAPPING) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(box: RunningSandbox, tmp_path: Path, mapping: Path, **extra: Any) -> Settings:
    """Settings that point the connector at this sandbox, with a fresh SQLite state file."""
    values: dict[str, Any] = {
        "hubspot_base_url": box.hubspot.url,
        "hubspot_access_token": box.hubspot.token,
        "saber_base_url": box.saber.url,
        "saber_api_key": box.saber.api_key,
        "connector_state_url": f"sqlite:///{tmp_path / 'state.db'}",
        "connector_mapping": mapping,
        "connector_poll_min_seconds": 0.1,
        "http_max_backoff": 0.2,
        "connector_concurrency": 4,
    }
    values.update(extra)
    return load_settings(None, **values)


def sandbox_env(box: RunningSandbox, tmp_path: Path, mapping: Path) -> dict[str, str]:
    """Environment for running the CLI in a subprocess against this sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SABER_", "CONNECTOR_"))}
    env.update(box.env())
    env.update(
        {
            "CONNECTOR_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}",
            "CONNECTOR_MAPPING": str(mapping),
            "CONNECTOR_POLL_MIN_SECONDS": "0.1",
            "HTTP_MAX_BACKOFF": "0.2",
            "CONNECTOR_LOG_FORMAT": "json",
        }
    )
    return env


def prepare(settings: Settings) -> None:
    """Create the mapped properties in the sandbox portal (what `setup` does)."""
    from connector.clients import hubspot_from

    hubspot = hubspot_from(settings)
    try:
        setup_properties(load_mapping(settings.connector_mapping), hubspot)
    finally:
        hubspot.close()


def prepared(box: RunningSandbox, tmp_path: Path) -> Settings:
    """Settings for this sandbox with the example mapping, its properties created."""
    settings = settings_for(box, tmp_path, write_mapping(tmp_path))
    prepare(settings)
    return settings


def sync(settings: Settings, **options: Any) -> RunSummary:
    return run_sync(settings, SyncOptions(**options), show_progress=False)


def portal_values(box: RunningSandbox, props: list[str]) -> dict[str, dict[str, str | None]]:
    """The mapped properties of every contact in the sandbox portal."""
    return {cid: {p: box.hubspot.contact(cid).get(p) for p in props} for cid in box.hubspot.contact_ids()}


wait_until = wait_for  # the sync tests poll the sandbox and the state store
