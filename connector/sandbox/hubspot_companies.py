"""HubSpot companies, company properties and contact → company associations for the sandbox.

The companies' `ObjectStore` and their links to contacts, for `HubSpotSandbox`
(connector/sandbox/hubspot.py), whose company endpoints answer what HubSpot's CRM v3
companies API and v4 associations API answer (shapes checked against HubSpot's public OpenAPI
specs, `CRM/Companies/.../v3/companies.json` and `CRM/Associations/.../v4/associations.json`)
and refuses what they refuse: the same auth, scopes, rate limits, body and value validation,
batch sizes, 207s with per-record errors and search limits as the contact endpoints, plus at
most 100 values per `IN` filter.

Emulated: companies search, batch read, batch update, get one; company properties
(list/get/create/update) and groups (list/get/create); `POST /crm/v4/associations/{from}/{to}/batch/read`
for contacts → companies (type 1 "Primary", 279 unlabelled) and companies → contacts (2, 280),
paged per input. Not emulated: creating, merging or archiving companies, association writes
through the API (tests use `associate`), a company's associations following a contact merge.

Seeded from the seeded contacts, deterministically: one company per domain the contacts'
websites and work emails name, with these imperfections real portals have: some companies
have no `domain` (only an association finds them), some domains are held by two companies,
some contacts have no associated company, and some have a second, unlabelled one besides
their primary.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Rule

from connector.hubspot.limits import (
    COMPANY_TO_CONTACT,
    CONTACT_TO_COMPANY,
    MAX_IN_VALUES,
    NO_ASSOCIATIONS,
    PRIMARY_COMPANY_TO_CONTACT,
    PRIMARY_CONTACT_TO_COMPANY,
)
from connector.sandbox.hubspot_schema import SandboxProperty, normalise, now_ms, option_list, to_epoch_ms
from connector.sandbox.hubspot_store import ObjectKind, ObjectStore, Row
from connector.sandbox.seed import FREE_MAIL, iso_from_ms

COMPANY_DEFAULT_PROPERTIES = ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name")
COMPANY_QUERY_FIELDS = ("name", "domain", "website", "phone")  # what a search's `query` looks in
# Inputs per v4 associations batch read (HubSpot documents 1,000; the connector sends 100).
MAX_ASSOCIATION_INPUTS = 1_000
ASSOCIATION_PAGE = 500  # associations answered per input before `paging.next.after`
FIRST_COMPANY_ID = 9_700_000_001  # company ids are large, and far from contact ids
COMPANY_CREATED = "2022-11-15T08:00:00.000Z"
STANDARD_COMPANY_GROUPS = (
    ("companyinformation", "Company information"),
    ("social_media_information", "Social media information"),
    ("sales_properties", "Sales properties"),
)
INDUSTRIES = ("COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "INTERNET", "FINANCIAL_SERVICES")

COMPANY_RULES = [
    Rule("/crm/v3/objects/companies/search", methods=["POST"], endpoint="companies_search"),
    Rule("/crm/v3/objects/companies/batch/read", methods=["POST"], endpoint="companies_batch_read"),
    Rule("/crm/v3/objects/companies/batch/update", methods=["POST"], endpoint="companies_batch_update"),
    Rule("/crm/v3/objects/companies/<company_id>", methods=["GET"], endpoint="companies_get"),
    Rule("/crm/v3/properties/companies", methods=["GET"], endpoint="company_properties_list"),
    Rule("/crm/v3/properties/companies", methods=["POST"], endpoint="company_property_create"),
    Rule("/crm/v3/properties/companies/groups", methods=["GET"], endpoint="company_groups_list"),
    Rule("/crm/v3/properties/companies/groups", methods=["POST"], endpoint="company_group_create"),
    Rule("/crm/v3/properties/companies/groups/<name>", methods=["GET"], endpoint="company_group_get"),
    Rule("/crm/v3/properties/companies/<name>", methods=["GET"], endpoint="company_property_get"),
    Rule("/crm/v3/properties/companies/<name>", methods=["PATCH"], endpoint="company_property_update"),
    Rule(
        "/crm/v4/associations/<from_type>/<to_type>/batch/read",
        methods=["POST"],
        endpoint="associations_batch_read",
    ),
]
COMPANY_SCOPES = {
    "companies_search": "crm.objects.companies.read",
    "companies_batch_read": "crm.objects.companies.read",
    "companies_get": "crm.objects.companies.read",
    "companies_batch_update": "crm.objects.companies.write",
    "company_properties_list": "crm.schemas.companies.read",
    "company_property_get": "crm.schemas.companies.read",
    "company_groups_list": "crm.schemas.companies.read",
    "company_group_get": "crm.schemas.companies.read",
    "company_property_create": "crm.schemas.companies.write",
    "company_property_update": "crm.schemas.companies.write",
    "company_group_create": "crm.schemas.companies.write",
    # Reading a contact's associations needs read access to contacts (the `from` object).
    "associations_batch_read": "crm.objects.contacts.read",
}
# Object type names the associations API accepts, by the sandbox's two object types.
OBJECT_TYPE_NAMES = {
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
}


COMPANY_KIND = ObjectKind(
    "COMPANY",
    COMPANY_DEFAULT_PROPERTIES,
    "hs_lastmodifieddate",
    COMPANY_QUERY_FIELDS,
    max_in_values=MAX_IN_VALUES,
    strict_inputs=True,
)


def company_domain_of(row: Mapping[str, str | None]) -> str | None:
    """The company domain a seeded contact's website (else work email) names, lower-cased."""
    website = (row.get("website") or "").strip().lower()
    if website:
        host = website.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        host = host.removeprefix("www.")
        if "." in host:
            return host
    email = (row.get("email") or "").lower()
    domain = email.rpartition("@")[2]
    if domain and domain not in FREE_MAIL:
        return domain
    return None


def standard_company_properties() -> list[SandboxProperty]:
    """The company properties every sandbox portal starts with."""

    def p(name: str, label: str, kind: str, field_type: str, **extra: Any) -> SandboxProperty:
        extra.setdefault("group_name", "companyinformation")
        return SandboxProperty(name, label, kind, field_type, **extra)

    return [
        p("name", "Company name", "string", "text"),
        p("domain", "Company Domain Name", "string", "text"),
        p("website", "Website URL", "string", "text"),
        p("description", "Description", "string", "textarea"),
        p("industry", "Industry", "enumeration", "select", options=option_list(INDUSTRIES)),
        p("numberofemployees", "Number of Employees", "number", "number"),
        p("annualrevenue", "Annual Revenue", "number", "number"),
        p("city", "City", "string", "text"),
        p("country", "Country/Region", "string", "text"),
        p("phone", "Phone Number", "string", "phonenumber"),
        p("hs_object_id", "Record ID", "number", "number", read_only=True),
        p("createdate", "Create Date", "datetime", "date", read_only=True),
        p("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    ]


class CompanyStore(ObjectStore):
    """The portal's companies, and each contact's links to them (see the module)."""

    def __init__(self) -> None:
        super().__init__(COMPANY_KIND, standard_company_properties(), STANDARD_COMPANY_GROUPS)
        self.next_id = FIRST_COMPANY_ID
        # contact id -> {company id: is primary}; the company → contact side is derived from it.
        self.links: dict[int, dict[int, bool]] = {}

    def seed(self, contacts: ObjectStore, seed: int) -> None:
        """One company per domain the contacts name, with real portals' imperfections (see the module)."""
        by_domain: dict[str, list[int]] = {}
        names: dict[str, str] = {}
        for cid in contacts.ids:
            row = contacts.rows[cid]
            domain = company_domain_of(row)
            if domain is None or not row.get("company"):
                continue
            by_domain.setdefault(domain, []).append(cid)
            names.setdefault(domain, row["company"] or domain)
        shift = seed % 5
        companies: dict[str, list[int]] = {}
        for i, domain in enumerate(sorted(by_domain)):
            props: dict[str, str | None] = {
                "name": names[domain],
                "domain": domain,
                "website": f"https://www.{domain}",
                "numberofemployees": str(10 + (i * 37 + seed) % 5000),
                "industry": INDUSTRIES[(i + seed) % len(INDUSTRIES)],
            }
            if (i + shift) % 8 == 3:  # a company nobody gave a domain: found only by association
                props["domain"] = None
                props["website"] = None
            ids = [self.insert(props)]
            if (i + shift) % 9 == 5:  # a second record for the same domain (a duplicate, a subsidiary)
                ids.append(self.insert({**props, "name": f"{names[domain]} (EMEA)", "domain": domain}))
            companies[domain] = ids
        spare = [ids[0] for ids in companies.values()]
        for j, (domain, cid) in enumerate((d, cid) for d, ids in by_domain.items() for cid in ids):
            if (j + shift) % 10 == 4:
                continue  # a contact nobody associated with its company
            ids = companies[domain]
            primary = ids[j % len(ids)]
            self.links[cid] = {primary: True}
            if (j + shift) % 11 == 6 and len(spare) > 1:  # also linked, unlabelled, to another company
                other = spare[(j * 7 + 1) % len(spare)]
                if other != primary:
                    self.links[cid][other] = False

    def insert(self, props: Mapping[str, str | None], created: str | None = None) -> int:
        """Store a new company (values in HubSpot's form); returns its id."""
        cid = self.next_id
        self.next_id += 3
        row: Row = {name: value for name, value in props.items() if value not in (None, "")}
        row["createdate"] = created or row.get("createdate") or COMPANY_CREATED
        row.setdefault("hs_lastmodifieddate", row["createdate"])
        row["hs_object_id"] = str(cid)
        self.rows[cid] = row
        self.ids.append(cid)
        return cid

    def normalised(self, props: Mapping[str, str | None]) -> Row:
        """Values as HubSpot stores them, for the properties it defines."""
        out: Row = {}
        for name, value in props.items():
            prop = self.schema.get(name)
            out[name] = normalise(prop, value) if prop and value else value
        return out

    def write(self, cid: int, changes: Mapping[str, str]) -> None:
        """Apply validated changes and bump the modification stamp."""
        row = self.rows[cid]
        for name, value in self.normalised(changes).items():
            row[name] = value or None
        before = to_epoch_ms(row.get("hs_lastmodifieddate") or "0") or 0
        row["hs_lastmodifieddate"] = iso_from_ms(max(now_ms(), before + 1))

    def resolve(self, raw_id: Any, id_property: str | None) -> int | None:
        """The company an input refers to (by id, or by a unique property: companies have none but id)."""
        if raw_id is None or (id_property and id_property != "hs_object_id"):
            return None
        text = str(raw_id)
        return int(text) if text.isdigit() and int(text) in self.rows else None

    def with_domain(self, domain: str) -> list[str]:
        """Ids of the companies whose `domain` is this one (case ignored)."""
        wanted = domain.lower()
        return [str(i) for i in self.ids if (self.rows[i].get("domain") or "").lower() == wanted]

    # ------------------------------------------------------------ links to contacts
    def associate(self, contact: int, company: int, primary: bool) -> None:
        """Link a contact to a company (as the primary one: any other primary becomes unlabelled)."""
        links = self.links.setdefault(contact, {})
        if primary:
            for other in links:
                links[other] = False
        links[company] = primary or links.get(company, False)

    def dissociate(self, contact: int, company: int | None) -> None:
        """Remove a contact's link to one company, or to every company."""
        links = self.links.get(contact, {})
        if company is None:
            links.clear()
        else:
            links.pop(company, None)

    def links_from(self, source: str, raw: str, contacts: Mapping[int, Row]) -> list[tuple[int, bool]]:
        """(associated id, primary?) for one object, ascending by id (none for archived contacts)."""
        if not raw.isdigit():
            return []
        oid = int(raw)
        if source == "contacts":
            return sorted(self.links.get(oid, {}).items()) if oid in contacts else []
        return sorted(
            (contact, links[oid])
            for contact, links in self.links.items()
            if oid in links and contact in contacts
        )

    def merge_links(self, primary: int, other: int, merged: int) -> None:
        """A merged contact keeps the companies of both (the primary contact's primary company wins)."""
        first, second = self.links.pop(primary, {}), self.links.pop(other, {})
        links = {company: False for company in (*first, *second)}
        leads = [c for c, p in first.items() if p] + [c for c, p in second.items() if p]
        lead = leads[0] if leads else None
        if lead is not None:
            links[lead] = True
        if links:
            self.links[merged] = links


def links_page(
    links: list[tuple[int, bool]], after: str | None, size: int
) -> tuple[list[tuple[int, bool]], bool]:
    """One page of an object's links after the cursor `after` (an id), and whether more follow."""
    start = bisect.bisect_right([cid for cid, _ in links], int(after)) if after else 0
    return links[start : start + size], start + size < len(links)


def association_types(source: str, primary: bool) -> list[dict[str, Any]]:
    """The associationTypes of one link, as HubSpot lists them (the primary label first)."""
    labelled, plain = (
        (PRIMARY_CONTACT_TO_COMPANY, CONTACT_TO_COMPANY)
        if source == "contacts"
        else (PRIMARY_COMPANY_TO_CONTACT, COMPANY_TO_CONTACT)
    )
    types = [{"category": "HUBSPOT_DEFINED", "typeId": plain, "label": None}]
    if primary:
        label = "Primary" if source == "contacts" else "Contact with Primary Company"
        types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": labelled, "label": label})
    return types


def no_associations(source: str, target: str, raw: str) -> dict[str, Any]:
    """HubSpot's per-input error for an object with no associations of that type (unknown ids too)."""
    noun = {"contacts": "contact", "companies": "company"}
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": f"crm.associations.{NO_ASSOCIATIONS}",
        "message": f"No {noun[target]} is associated with {noun[source]} {raw}.",
        "context": {"fromObjectId": [raw]},
        "links": {},
        "errors": [],
    }
