"""Target accounts in the sandbox portal, so that prospecting has companies to find people at.

The default seed has no LinkedIn company pages and no target flag (tests rely on a portal that
lacks them); `start_sandbox(target_accounts=n)` adds both, deterministically: HubSpot's standard
`linkedin_company_page` company property (group "Social media information") and a boolean
`saber_target_account`, the flag `mappings/prospecting.yaml` filters on. Most seeded companies
get a LinkedIn page; the first `n` with one are marked as target accounts (companies are added
when the portal has too few), and Saber's contact search is given, first at each target
account, the names of the portal's contacts already there, so a run shows the dedupe by name.
"""

from __future__ import annotations

import unicodedata

from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.saber_search import PeopleDirectory

LINKEDIN_PAGE = "linkedin_company_page"
TARGET_FLAG = "saber_target_account"
NO_PAGE_EVERY = 7  # one seeded company in seven has no LinkedIn page


def linkedin_page(name: str, index: int) -> str:
    """A LinkedIn company URL for a company name (ASCII slug; the index keeps namesakes apart)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = "-".join("".join(ch if ch.isalnum() else " " for ch in ascii_name).split()) or "company"
    return f"https://www.linkedin.com/company/{slug}-{index}"


def add_target_accounts(hubspot: HubSpotSandbox, people: PeopleDirectory, count: int) -> list[str]:
    """Define the two company properties, give companies pages, mark `count` as targets; their ids."""
    hubspot.define_company_property(
        LINKEDIN_PAGE, label="LinkedIn Company Page", group_name="social_media_information"
    )
    hubspot.define_company_property(TARGET_FLAG, "bool", "booleancheckbox", label="Saber target account")
    targets: list[str] = []
    for i, company_id in enumerate(hubspot.company_ids()):
        if i % NO_PAGE_EVERY == NO_PAGE_EVERY - 1:
            continue
        name = hubspot.company(company_id).get("name") or "company"
        changes = {LINKEDIN_PAGE: linkedin_page(name, i)}
        if len(targets) < count:
            changes[TARGET_FLAG] = "true"
            targets.append(company_id)
        hubspot.edit_company(company_id, changes)
    extra = len(hubspot.company_ids())
    while len(targets) < count:  # a small portal: target accounts nobody has contacts at yet
        name = f"Prospect {len(targets) + 1} Inc"
        targets.append(
            hubspot.add_company(
                {
                    "name": name,
                    "domain": f"prospect{len(targets) + 1}.example",
                    LINKEDIN_PAGE: linkedin_page(name, extra + len(targets)),
                    TARGET_FLAG: "true",
                }
            )
        )
    at: dict[str, list[dict[str, str | None]]] = {}
    for contact_id in hubspot.contact_ids():
        company = hubspot.primary_company(contact_id)
        if company is not None:
            at.setdefault(company, []).append(dict(hubspot.contact(contact_id)))
    for company_id in targets:
        url = hubspot.company(company_id).get(LINKEDIN_PAGE)
        if url and at.get(company_id):
            people.add_namesakes(url, at[company_id])
    return targets
