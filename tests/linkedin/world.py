"""A sandbox portal and account group for LinkedIn job tests: a mapping with one job, helpers to read.

The mapping is the sync's example plus a `linkedin` section with one Sales Navigator job over the
sandbox's saved search 3318 (its prospects are the same every time: `expected`) and the issue's
`contact` part; no scans, so that only the job stage acts.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from connector.clients import store_from
from connector.integrations.models import linkedin_key
from connector.sandbox.integrations import IntegrationsSandbox
from connector.sandbox.integrations_people import people_for
from connector.sandbox.runner import RunningSandbox
from connector.sandbox.server import RecordedRequest
from connector.settings import Settings
from tests.support import wait_for
from tests.sync_harness import EXAMPLE_MAPPING, prepare, settings_for, write_mapping

SEARCH = "3318"
URL_PROPERTY = "saber_linkedin_url"


def linkedin_section(
    max_results: int = 5, budget: int = 500, search_emails: bool = False, every_days: float = 7
) -> str:
    """The mapping's `linkedin` section: one job over saved search 3318 and the issue's contact part."""
    return f"""
linkedin:
  max_credits_per_run: {budget}
  jobs:
    platform_leaders:
      source: sales_navigator
      saved_search_id: "{SEARCH}"
      max_results: {max_results}
      search_emails: {"true" if search_emails else "false"}
      every_days: {every_days}
  contact:
    firstname: firstName
    lastname: lastName
    jobtitle: headline
    {URL_PROPERTY}: linkedinUrl
    company: company.name
    website: company.website
    lifecyclestage: {{value: lead}}
"""


def build(box: RunningSandbox, tmp_path: Path, section: str | None = None) -> Settings:
    """Settings for this sandbox (integrations included) with the LinkedIn mapping, its properties set up."""
    mapping = write_mapping(tmp_path, EXAMPLE_MAPPING + (section or linkedin_section()))
    settings = settings_for(box, tmp_path, mapping, **integrations_settings(box))
    prepare(settings)
    if URL_PROPERTY not in box.hubspot.property_names():
        box.hubspot.define_property(URL_PROPERTY)
    return settings


def integrations_settings(box: RunningSandbox) -> dict[str, Any]:
    api = sandbox(box)
    return {"integrations_base_url": api.url, "integrations_api_key": api.api_key}


def sandbox(box: RunningSandbox) -> IntegrationsSandbox:
    assert box.integrations is not None, "start_sandbox(integrations=True)"
    return box.integrations


def expected(n: int = 5) -> list[dict[str, Any]]:
    """The people the job over saved search 3318 imports, in order."""
    return people_for("sales_navigator", SEARCH, n)


def contacts_by_profile(box: RunningSandbox) -> Counter[str]:
    """How many HubSpot contacts hold each LinkedIn profile in the mapped URL property."""
    hub = box.hubspot
    keys = (linkedin_key(hub.contact(c).get(URL_PROPERTY)) for c in hub.contact_ids())
    return Counter(k for k in keys if k)


def key_of(request: RecordedRequest) -> str | None:
    """The Idempotency-Key a recorded request carried (header names compared without case)."""
    return next((v for k, v in request.headers.items() if k.lower() == "idempotency-key"), None)


def started_job_ids(settings: Settings) -> list[str]:
    """The ids of the jobs the connector's state says it started."""
    with store_from(settings) as store:
        return [row.job_id for row in store.linkedin.jobs() if row.job_id]


def jobs_finished(box: RunningSandbox, settings: Settings) -> None:
    """Wait until every job the connector started has finished at the sandbox (its audience readable)."""
    api = sandbox(box)
    ids = started_job_ids(settings)
    assert ids, "no job started"
    wait_for(
        lambda: all(api.job_view(i)["status"] in ("completed", "failed", "cancelled") for i in ids),
        timeout=15,
    )
