"""Who prospecting finds already in HubSpot: by Sales Navigator URL, else by name at the company.

A person must never be created twice, whoever created the first: a person, an import, or
an earlier run whose answer was lost. Two reads tell: the mapped Sales Navigator URL property
searched with `IN` batches of at most 100 values (lower case, HubSpot's rule for string `IN`
values; HubSpot compares text ignoring case), and, for the rest, the same first and last name
among the contacts associated with the account's company (one `firstname IN` + `lastname IN` search, then the
v4 associations of the namesakes it finds, so a namesake at another company does not count).

A create whose answer was lost is looked for differently (`at_company`): among the company's
associated contacts read through the associations API, not the search, because HubSpot's search
index lags behind writes and a contact created a moment before a crash may not be searchable yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connector.hubspot.adapter import Contact, HubSpotAdapter, SearchFilter
from connector.hubspot.limits import MAX_IN_VALUES
from connector.state.prospects import fold_name, fold_url

Name = tuple[str, str]  # (folded first name, folded last name)


class HubSpotPeople:
    """Reads that say which people HubSpot already has (see the module)."""

    def __init__(self, hubspot: HubSpotAdapter, url_property: str | None) -> None:
        self.hubspot = hubspot
        self.url_property = url_property  # the contact property the mapping writes the URL to, if any

    def by_urls(self, urls: Sequence[str]) -> dict[str, str]:
        """Folded Sales Navigator URL -> the id of a HubSpot contact holding it (those found)."""
        if not self.url_property:
            return {}
        wanted = list(dict.fromkeys(fold_url(u) for u in urls if fold_url(u)))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), MAX_IN_VALUES):
            chunk = tuple(wanted[start : start + MAX_IN_VALUES])
            only = SearchFilter(self.url_property, "IN", values=chunk)
            for contact in self.hubspot.contacts.search(properties=[self.url_property], filters=[only]):
                url = fold_url(contact.properties.get(self.url_property))
                if url in chunk:
                    found.setdefault(url, contact.id)
        return found

    def by_names(self, company_id: str, names: Sequence[tuple[str | None, str | None]]) -> dict[Name, str]:
        """(first, last) folded -> the id of a contact of that name associated with the company.

        `names` as found; each goes to HubSpot lower-cased as found and folded (accents dropped),
        and what comes back is compared folded.
        """
        given = [(f.strip(), la.strip()) for f, la in names if f and la and f.strip() and la.strip()]
        wanted = {(fold_name(f), fold_name(la)) for f, la in given}
        namesakes: dict[str, Name] = {}
        for start in range(0, len(given), MAX_IN_VALUES // 2):  # two spellings of each name
            chunk = given[start : start + MAX_IN_VALUES // 2]
            both = [  # both names: a common last name alone would page through half the portal
                SearchFilter("firstname", "IN", values=_spellings(f for f, _ in chunk)),
                SearchFilter("lastname", "IN", values=_spellings(la for _, la in chunk)),
            ]
            for contact in self.hubspot.contacts.search(properties=["firstname", "lastname"], filters=both):
                props = contact.properties
                name = (fold_name(props.get("firstname")), fold_name(props.get("lastname")))
                if name in wanted:
                    namesakes[contact.id] = name
        if not namesakes:
            return {}
        links = self.hubspot.companies.associations(list(namesakes))
        found: dict[Name, str] = {}
        for contact_id, name in namesakes.items():
            companies = links.contacts.get(contact_id)
            if companies is not None and company_id in companies.company_ids:
                found.setdefault(name, contact_id)
        return found

    def at_company(self, company_ids: Sequence[str]) -> dict[str, list[Contact]]:
        """Each company's associated contacts, with their names and URL (reads, never the search index)."""
        props = ["firstname", "lastname", *([self.url_property] if self.url_property else [])]
        links = self.hubspot.companies.contacts_of(company_ids)
        ids = list(dict.fromkeys(i for found in links.values() for i in found))
        contacts = {c.id: c for c in self.hubspot.read_contacts(ids, props)} if ids else {}
        return {cid: [contacts[i] for i in found if i in contacts] for cid, found in links.items()}

    def url_of(self, contact: Contact) -> str:
        """The contact's Sales Navigator URL, folded ('' when none or not mapped)."""
        return fold_url(contact.properties.get(self.url_property)) if self.url_property else ""


def _spellings(names: Iterable[str]) -> tuple[str, ...]:
    """Each name lower-cased as written and folded (HubSpot takes `IN` string values in lower case)."""
    out: dict[str, None] = {}
    for name in names:
        out.setdefault(" ".join(name.lower().split()), None)
        out.setdefault(fold_name(name), None)
    return tuple(out)
