"""Who a LinkedIn job's prospects already are in HubSpot: by LinkedIn URL, else by name at the company.

A person must never be created twice, whoever created the first: a person, an import, prospecting,
or an earlier run whose answer was lost. Two searches tell:

- the mapped LinkedIn URL property (the `contact` part's property fed by `linkedinUrl`), searched
  with `IN` batches of at most 100 values. People write the same profile many ways
  (`https://www.linkedin.com/in/ann/`, `linkedin.com/in/Ann`, `http://linkedin.com/in/ann?trk=x`),
  so each profile is asked in several spellings (lower case: HubSpot's rule for string `IN`
  values) and what comes back is compared by `linkedin_key`;
- for the rest, the same first and last name with the same value in the property the mapping
  feeds from `company.name` (one `firstname IN` + `lastname IN` + company `IN` search, compared
  folded). Without such a property a name alone proves nothing, and no name match is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connector.hubspot.adapter import HubSpotAdapter, SearchFilter
from connector.hubspot.limits import MAX_IN_VALUES
from connector.integrations.models import linkedin_key
from connector.state.prospects import fold_name

NameAt = tuple[str, str, str]  # (folded first name, folded last name, folded company)
# The ways a profile URL is written, all asked for: HubSpot compares `IN` values whole.
URL_FORMS = tuple(
    f"{scheme}{host}{{k}}{slash}"
    for scheme in ("https://", "http://", "")
    for host in ("www.", "")
    for slash in ("", "/")
)


def url_spellings(key: str, given: Iterable[str | None] = ()) -> list[str]:
    """The spellings of one profile key HubSpot may hold (lower case), the given ones first."""
    out: dict[str, None] = {}
    for url in given:
        if url and url.strip():
            out.setdefault(url.strip().lower(), None)
    for form in URL_FORMS:
        out.setdefault(form.format(k=key), None)
    return list(out)


def name_at(first: str | None, last: str | None, company: str | None) -> NameAt:
    """A person as compared by name: folded first name, last name and company name."""
    return (fold_name(first), fold_name(last), fold_name(company))


class LinkedInPeople:
    """Reads that say which prospects HubSpot already has (see the module)."""

    def __init__(
        self, hubspot: HubSpotAdapter, url_property: str | None, company_property: str | None
    ) -> None:
        self.hubspot = hubspot
        self.url_property = url_property
        self.company_property = company_property

    def by_keys(self, urls: dict[str, str | None]) -> dict[str, str]:
        """LinkedIn key -> the id of a HubSpot contact holding that profile (those found).

        `urls`: key -> the URL as the prospect gave it (asked as written too).
        """
        if not self.url_property:
            return {}
        prop = self.url_property
        forms = {key: url_spellings(key, [url]) for key, url in urls.items() if key}
        found: dict[str, str] = {}
        chunk: list[str] = []
        keys_in_chunk: set[str] = set()
        for key, spellings in forms.items():
            if len(chunk) + len(spellings) > MAX_IN_VALUES:
                self._search_urls(prop, chunk, keys_in_chunk, found)
                chunk, keys_in_chunk = [], set()
            chunk.extend(spellings)
            keys_in_chunk.add(key)
        if chunk:
            self._search_urls(prop, chunk, keys_in_chunk, found)
        return found

    def _search_urls(self, prop: str, values: list[str], keys: set[str], found: dict[str, str]) -> None:
        only = SearchFilter(prop, "IN", values=tuple(values))
        for contact in self.hubspot.contacts.search(properties=[prop], filters=[only]):
            key = linkedin_key(contact.properties.get(prop))
            if key in keys:
                found.setdefault(key, contact.id)

    def by_names(self, people: Sequence[tuple[str | None, str | None, str | None]]) -> dict[NameAt, str]:
        """(first, last, company) folded -> the id of a contact of that name at that company."""
        if not self.company_property:
            return {}
        given = [
            (f.strip(), la.strip(), c.strip())
            for f, la, c in people
            if f and la and c and f.strip() and la.strip() and c.strip()
        ]
        wanted = {name_at(*p) for p in given}
        found: dict[NameAt, str] = {}
        props = ["firstname", "lastname", self.company_property]
        for start in range(0, len(given), MAX_IN_VALUES // 2):  # two spellings of each value
            chunk = given[start : start + MAX_IN_VALUES // 2]
            filters = [
                SearchFilter("firstname", "IN", values=_spellings(f for f, _, _ in chunk)),
                SearchFilter("lastname", "IN", values=_spellings(la for _, la, _ in chunk)),
                SearchFilter(self.company_property, "IN", values=_spellings(c for _, _, c in chunk)),
            ]
            for contact in self.hubspot.contacts.search(properties=props, filters=filters):
                p = contact.properties
                name = name_at(p.get("firstname"), p.get("lastname"), p.get(self.company_property))
                if name in wanted:
                    found.setdefault(name, contact.id)
        return found


def _spellings(values: Iterable[str]) -> tuple[str, ...]:
    """Each value lower-cased as written and folded (HubSpot takes `IN` string values in lower case)."""
    out: dict[str, None] = {}
    for value in values:
        out.setdefault(" ".join(value.lower().split()), None)
        out.setdefault(fold_name(value), None)
    return tuple(out)
