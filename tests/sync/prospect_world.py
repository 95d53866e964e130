"""A sandbox portal with target accounts for prospecting tests: companies, their people, a mapping.

Target companies carry a LinkedIn company URL (`linkedin_company_page`) and the target flag
(`saber_target_account`), set up through the sandbox's HubSpot; Saber's search sandbox is
given known people at each (no generated ones), so each test knows exactly who is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connector.sandbox.runner import RunningSandbox
from connector.settings import Settings
from tests.sync_harness import EXAMPLE_MAPPING, prepare, settings_for, write_mapping

ACME = "https://www.linkedin.com/company/acme-labs"
GLOBEX = "https://www.linkedin.com/company/globex"
BROKEN = "https://www.linkedin.com/company/broken-co"

PROSPECTING = """
prospecting:
  accounts:
    filters:
      - {property: saber_target_account, operator: EQ, value: true}
    linkedin_url: linkedin_company_page
  search:
    departments: [Engineering]
  per_account: 3
  max_new_per_run: 5
  refresh_after_days: 30
  contact:
    firstname: firstName
    lastname: lastName
    jobtitle: role
    saber_sales_navigator_url: linkedInSalesNavigatorProfileUrl
    company: {account: name}
    website: {account: domain}
    lifecyclestage: {value: lead}
"""


def person(first: str, last: str, url: str | None = "auto") -> dict[str, Any]:
    """An engineer Saber's search finds; `url` None: no Sales Navigator profile."""
    item: dict[str, Any] = {"firstName": first, "lastName": last, "role": "Staff Engineer"}
    item["department"] = "Engineering"
    if url is None:
        item["linkedInSalesNavigatorProfileUrl"] = None
    elif url != "auto":
        item["linkedInSalesNavigatorProfileUrl"] = url
    return item


def build(
    box: RunningSandbox, tmp_path: Path, mapping_text: str | None = None, *, ann_url: str = "auto"
) -> tuple[Settings, dict[str, str]]:
    """The portal's target companies (name -> id) and settings with the prospecting mapping, set up."""
    hub = box.hubspot
    hub.define_company_property("saber_target_account", "bool", "booleancheckbox")
    hub.define_company_property("linkedin_company_page")
    for name in ("saber_sales_navigator_url",):
        if name not in hub.property_names():
            hub.define_property(name)
    companies = {
        "acme": hub.add_company(
            {
                "name": "Acme Labs",
                "domain": "acme.example",
                "saber_target_account": "true",
                "linkedin_company_page": ACME,
            }
        ),
        "globex": hub.add_company(
            {
                "name": "Globex",
                "domain": "globex.example",
                "saber_target_account": "true",
                "linkedin_company_page": GLOBEX,
            }
        ),
        "nourl": hub.add_company(
            {"name": "No Page Inc", "domain": "nopage.example", "saber_target_account": "true"}
        ),
        "other": hub.add_company(
            {"name": "Not Targeted", "domain": "other.example", "linkedin_company_page": BROKEN}
        ),
    }
    people = box.saber.people
    for url in (ACME, GLOBEX, BROKEN):
        people.set_headcount(url, 0)
    people.add_people(
        ACME,
        [
            person("Ann", "Ames", ann_url),
            person("Bob", "Berg"),
            person("Cid", "Cole", None),
            person("Dee", "Dunn"),
            person("Eve", "Enz"),
        ],
    )
    people.add_people(GLOBEX, [person("Gil", "Gray"), person("Hal", "Hunt")])
    mapping = write_mapping(tmp_path, (mapping_text or EXAMPLE_MAPPING) + PROSPECTING)
    settings = settings_for(box, tmp_path, mapping)
    prepare(settings)
    return settings, companies


def created_at(box: RunningSandbox, company_id: str) -> list[dict[str, Any]]:
    """The contacts whose primary company is this one, with their properties."""
    hub = box.hubspot
    return [dict(hub.contact(c)) for c in hub.contact_ids() if hub.primary_company(c) == company_id]


def names_at(box: RunningSandbox, company_id: str) -> list[str]:
    return sorted(f"{c.get('firstname')} {c.get('lastname')}" for c in created_at(box, company_id))
