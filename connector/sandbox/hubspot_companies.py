"""HubSpot companies, company properties and contact → company associations for the sandbox.

Mixed into `HubSpotSandbox` (connector/sandbox/hubspot.py), it answers what HubSpot's CRM v3
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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connector.sandbox.seed import FREE_MAIL, iso_from_ms

if TYPE_CHECKING:
    from connector.sandbox.hubspot import SandboxProperty, _Store

COMPANY_DEFAULT_PROPERTIES = ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name")
COMPANY_QUERY_FIELDS = ("name", "domain", "website", "phone")  # what a search's `query` looks in
MAX_IN_VALUES = 100  # values of one IN / NOT_IN filter
# Inputs per v4 associations batch read (HubSpot documents 1,000; the connector sends 100).
MAX_ASSOCIATION_INPUTS = 1_000
ASSOCIATION_PAGE = 500  # associations answered per input before `paging.next.after`
PRIMARY_CONTACT_TO_COMPANY = 1
CONTACT_TO_COMPANY = 279
PRIMARY_COMPANY_TO_CONTACT = 2
COMPANY_TO_CONTACT = 280
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
    from connector.sandbox.hubspot import SandboxProperty, _options

    def p(name: str, label: str, kind: str, field_type: str, **extra: Any) -> SandboxProperty:
        extra.setdefault("group_name", "companyinformation")
        return SandboxProperty(name, label, kind, field_type, **extra)

    return [
        p("name", "Company name", "string", "text"),
        p("domain", "Company Domain Name", "string", "text"),
        p("website", "Website URL", "string", "text"),
        p("description", "Description", "string", "textarea"),
        p("industry", "Industry", "enumeration", "select", options=_options(INDUSTRIES)),
        p("numberofemployees", "Number of Employees", "number", "number"),
        p("annualrevenue", "Annual Revenue", "number", "number"),
        p("city", "City", "string", "text"),
        p("country", "Country/Region", "string", "text"),
        p("phone", "Phone Number", "string", "phonenumber"),
        p("hs_object_id", "Record ID", "number", "number", read_only=True),
        p("createdate", "Create Date", "datetime", "date", read_only=True),
        p("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    ]


class CompanyEndpoints:
    """Companies, company properties and v4 associations; a mixin of `HubSpotSandbox`."""

    if TYPE_CHECKING:  # what the sandbox class it is mixed into provides
        from threading import RLock

        _state: RLock
        _props: dict[int, dict[str, str | None]]
        _ids: list[int]

        def _ok(self, request: Request, body: Any, status: int = 200) -> Response: ...
        def _fail(
            self, request: Request, status: int, category: str, message: str, **extra: Any
        ) -> Response: ...
        def _body(self, request: Request) -> dict[str, Any]: ...
        def _batch_answer(
            self, request: Request, started: str, results: list[Any], errors: list[dict[str, Any]]
        ) -> Response: ...
        def _now_iso(self) -> str: ...
        def _get_one(self, request: Request, raw_id: str, object_type: str) -> Response: ...
        def _batch_read(self, request: Request, object_type: str) -> Response: ...
        def _batch_update(self, request: Request, object_type: str) -> Response: ...
        def _search(self, request: Request, object_type: str) -> Response: ...
        def _check_known(self, props: Mapping[str, Any], object_type: str) -> None: ...
        def _edit(self, record_id: str, props: Mapping[str, str | None], object_type: str) -> None: ...
        def _values(self, record_id: str, object_type: str) -> dict[str, str | None]: ...
        def properties_list(self, request: Request, object_type: str = "contacts") -> Response: ...
        def property_get(self, request: Request, name: str, object_type: str = "contacts") -> Response: ...
        def property_create(self, request: Request, object_type: str = "contacts") -> Response: ...
        def property_update(self, request: Request, name: str, object_type: str = "contacts") -> Response: ...
        def groups_list(self, request: Request, object_type: str = "contacts") -> Response: ...
        def group_get(self, request: Request, name: str, object_type: str = "contacts") -> Response: ...
        def group_create(self, request: Request, object_type: str = "contacts") -> Response: ...

    association_page = ASSOCIATION_PAGE

    def _init_companies(self, seed: int) -> None:
        """Company state, seeded from the contacts already stored (call once, from __init__)."""
        self._company_schema: dict[str, SandboxProperty] = {p.name: p for p in standard_company_properties()}
        self._company_groups: dict[str, dict[str, Any]] = {
            name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(STANDARD_COMPANY_GROUPS)
        }
        self._companies: dict[int, dict[str, str | None]] = {}
        self._company_ids: list[int] = []
        self._next_company_id = FIRST_COMPANY_ID
        # contact id -> {company id: is primary}; the company → contact side is derived from it.
        self._links: dict[int, dict[int, bool]] = {}
        self._seed_companies(seed)

    def _seed_companies(self, seed: int) -> None:
        """One company per domain the contacts name, with real portals' imperfections (see the module)."""
        by_domain: dict[str, list[int]] = {}
        names: dict[str, str] = {}
        for cid in self._ids:
            row = self._props[cid]
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
            ids = [self._insert_company(props)]
            if (i + shift) % 9 == 5:  # a second record for the same domain (a duplicate, a subsidiary)
                ids.append(
                    self._insert_company({**props, "name": f"{names[domain]} (EMEA)", "domain": domain})
                )
            companies[domain] = ids
        spare = [ids[0] for ids in companies.values()]
        for j, (domain, cid) in enumerate((d, cid) for d, ids in by_domain.items() for cid in ids):
            if (j + shift) % 10 == 4:
                continue  # a contact nobody associated with its company
            ids = companies[domain]
            primary = ids[j % len(ids)]
            self._links[cid] = {primary: True}
            if (j + shift) % 11 == 6 and len(spare) > 1:  # also linked, unlabelled, to another company
                other = spare[(j * 7 + 1) % len(spare)]
                if other != primary:
                    self._links[cid][other] = False

    def _insert_company(self, props: Mapping[str, str | None], created: str | None = None) -> int:
        cid = self._next_company_id
        self._next_company_id += 3
        row = {name: value for name, value in props.items() if value not in (None, "")}
        row["createdate"] = created or row.get("createdate") or COMPANY_CREATED
        row.setdefault("hs_lastmodifieddate", row["createdate"])
        row["hs_object_id"] = str(cid)
        self._companies[cid] = row
        self._company_ids.append(cid)
        return cid

    # ------------------------------------------------------------ test helpers
    def add_company(self, props: Mapping[str, str | None]) -> str:
        """Create a company as a person would in HubSpot; returns its id."""
        self._check_known(props, "companies")
        with self._state:
            cid = self._insert_company(self._normalised(props), created=iso_from_ms(_now_ms()))
            return str(cid)

    def edit_company(self, company_id: str, props: Mapping[str, str | None]) -> None:
        """Change a company as a person editing in HubSpot would (bumps hs_lastmodifieddate)."""
        self._edit(company_id, props, "companies")

    def company(self, company_id: str) -> dict[str, str | None]:
        """Every company property the portal defines, for one company (None where it has no value)."""
        return self._values(company_id, "companies")

    def company_ids(self) -> list[str]:
        """Every company id, ascending."""
        with self._state:
            return [str(i) for i in self._company_ids]

    def companies_with_domain(self, domain: str) -> list[str]:
        """Ids of the companies whose `domain` is this one (case ignored)."""
        wanted = domain.lower()
        with self._state:
            return [
                str(i)
                for i in self._company_ids
                if (self._companies[i].get("domain") or "").lower() == wanted
            ]

    def associate(self, contact_id: str, company_id: str, *, primary: bool = False) -> None:
        """Link a contact to a company (as the primary one: any other primary becomes unlabelled)."""
        with self._state:
            contact, company = int(contact_id), int(company_id)
            if contact not in self._props or company not in self._companies:
                raise KeyError(f"no contact {contact_id} or no company {company_id}")
            links = self._links.setdefault(contact, {})
            if primary:
                for other in links:
                    links[other] = False
            links[company] = primary or links.get(company, False)

    def dissociate(self, contact_id: str, company_id: str | None = None) -> None:
        """Remove a contact's link to one company, or to every company."""
        with self._state:
            links = self._links.get(int(contact_id), {})
            if company_id is None:
                links.clear()
            else:
                links.pop(int(company_id), None)

    def company_links(self, contact_id: str) -> dict[str, bool]:
        """A contact's associated companies: company id -> whether it is the primary one."""
        with self._state:
            return {str(k): v for k, v in self._links.get(int(contact_id), {}).items()}

    def primary_company(self, contact_id: str) -> str | None:
        """The contact's primary company, or None."""
        return next((cid for cid, primary in self.company_links(contact_id).items() if primary), None)

    def define_company_property(
        self,
        name: str,
        type: str = "string",  # noqa: A002
        field_type: str | None = None,
        *,
        label: str | None = None,
        group_name: str = "companyinformation",
        options: Iterable[tuple[str, str] | str] = (),
        read_only: bool = False,
    ) -> dict[str, Any]:
        """Add a company property definition directly (as a portal admin would); returns its JSON."""
        from connector.sandbox.hubspot import SandboxProperty

        prop = SandboxProperty.custom(
            name, type, field_type, label=label, group_name=group_name, options=options, read_only=read_only
        )
        with self._state:
            self._company_schema[name] = prop
        return prop.to_json()

    def company_property_names(self) -> list[str]:
        with self._state:
            return sorted(self._company_schema)

    def _normalised(self, props: Mapping[str, str | None]) -> dict[str, str | None]:
        from connector.sandbox.hubspot import _normalise

        out: dict[str, str | None] = {}
        for name, value in props.items():
            prop = self._company_schema.get(name)
            out[name] = _normalise(prop, value) if prop and value else value
        return out

    # ------------------------------------------------------------ storage
    def _write_company(self, cid: int, changes: Mapping[str, str]) -> None:
        """Apply validated changes and bump the modification stamp."""
        from connector.sandbox.hubspot import to_epoch_ms

        row = self._companies[cid]
        for name, value in self._normalised(changes).items():
            row[name] = value or None
        before = to_epoch_ms(row.get("hs_lastmodifieddate") or "0") or 0
        row["hs_lastmodifieddate"] = iso_from_ms(max(_now_ms(), before + 1))

    def _company_store(self) -> _Store:
        """The companies, for the search, batch and validation code they share with contacts."""
        from connector.sandbox.hubspot import COMPANY_KIND, _Store

        return _Store(
            COMPANY_KIND,
            self._company_schema,
            self._companies,
            self._company_ids,
            self._company_of,
            self._write_company,
        )

    def _company_of(self, raw_id: Any, id_property: str | None) -> int | None:
        """The company an input refers to (by id, or by a unique property: companies have none but id)."""
        if raw_id is None or (id_property and id_property != "hs_object_id"):
            return None
        text = str(raw_id)
        return int(text) if text.isdigit() and int(text) in self._companies else None

    # ------------------------------------------------------------ companies
    def companies_get(self, request: Request, company_id: str) -> Response:
        return self._get_one(request, company_id, "companies")

    def companies_batch_read(self, request: Request) -> Response:
        return self._batch_read(request, "companies")

    def companies_batch_update(self, request: Request) -> Response:
        return self._batch_update(request, "companies")

    def companies_search(self, request: Request) -> Response:
        return self._search(request, "companies")

    # ------------------------------------------------------------ properties and groups
    def company_properties_list(self, request: Request) -> Response:
        return self.properties_list(request, object_type="companies")

    def company_property_get(self, request: Request, name: str) -> Response:
        return self.property_get(request, name, object_type="companies")

    def company_property_create(self, request: Request) -> Response:
        return self.property_create(request, object_type="companies")

    def company_property_update(self, request: Request, name: str) -> Response:
        return self.property_update(request, name, object_type="companies")

    def company_groups_list(self, request: Request) -> Response:
        return self.groups_list(request, object_type="companies")

    def company_group_get(self, request: Request, name: str) -> Response:
        return self.group_get(request, name, object_type="companies")

    def company_group_create(self, request: Request) -> Response:
        return self.group_create(request, object_type="companies")

    # ------------------------------------------------------------ associations (v4)
    def associations_batch_read(self, request: Request, from_type: str, to_type: str) -> Response:
        """`POST /crm/v4/associations/{from}/{to}/batch/read`: each input's associated objects, paged."""
        from connector.sandbox.hubspot import Invalid

        started = self._now_iso()
        source, target = OBJECT_TYPE_NAMES.get(from_type.lower()), OBJECT_TYPE_NAMES.get(to_type.lower())
        if source is None or target is None:
            unknown = from_type if source is None else to_type
            return self._fail(
                request, 400, "VALIDATION_ERROR", f"Unable to infer object type from: {unknown}"
            )
        if {source, target} != {"contacts", "companies"}:
            return self._fail(
                request, 400, "VALIDATION_ERROR", f"No association definitions from {from_type} to {to_type}"
            )
        try:
            body = self._body(request)
            inputs = body.get("inputs")
            if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
                raise Invalid("Invalid input JSON: inputs must be a list of objects")
            if len(inputs) > MAX_ASSOCIATION_INPUTS:
                raise Invalid(
                    f"Too many inputs: {len(inputs)}. "
                    f"The maximum is {MAX_ASSOCIATION_INPUTS} per batch request"
                )
            for item in inputs:
                if item.get("id") in (None, "") or not isinstance(item.get("id"), str | int):
                    raise Invalid("Invalid input JSON: every input needs an id")
                after = item.get("after")
                if after is not None and not (isinstance(after, str) and after.isdigit()):
                    raise Invalid(f"Invalid input JSON: after {after!r} is not a paging cursor this API gave")
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        results, empty = [], []
        with self._state:
            seen: set[tuple[str, str | None]] = set()
            for item in inputs:
                raw, after = str(item["id"]), item.get("after")
                if (raw, after) in seen:
                    continue
                seen.add((raw, after))
                links = self._links_from(source, raw)
                if not links:
                    empty.append(raw)
                    continue
                start = bisect.bisect_right([cid for cid, _ in links], int(after)) if after else 0
                page = links[start : start + self.association_page]
                entry: dict[str, Any] = {
                    "from": {"id": raw},
                    "to": [
                        {"toObjectId": cid, "associationTypes": _association_types(source, primary)}
                        for cid, primary in page
                    ],
                }
                if start + self.association_page < len(links):
                    entry["paging"] = {"next": {"after": str(page[-1][0]), "link": None}}
                results.append(entry)
        errors = [_no_associations(source, target, raw) for raw in empty]
        return self._batch_answer(request, started, results, errors)

    def _links_from(self, source: str, raw: str) -> list[tuple[int, bool]]:
        """(associated id, primary?) for one object, ascending by id (none for archived contacts)."""
        if not raw.isdigit():
            return []
        oid = int(raw)
        if source == "contacts":
            return sorted(self._links.get(oid, {}).items()) if oid in self._props else []
        return sorted(
            (contact, links[oid])
            for contact, links in self._links.items()
            if oid in links and contact in self._props
        )

    def _merge_links(self, primary: int, other: int, merged: int) -> None:
        """A merged contact keeps the companies of both (the primary contact's primary company wins)."""
        first, second = self._links.pop(primary, {}), self._links.pop(other, {})
        links = {company: False for company in (*first, *second)}
        leads = [c for c, p in first.items() if p] + [c for c, p in second.items() if p]
        lead = leads[0] if leads else None
        if lead is not None:
            links[lead] = True
        if links:
            self._links[merged] = links


def _association_types(source: str, primary: bool) -> list[dict[str, Any]]:
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


def _no_associations(source: str, target: str, raw: str) -> dict[str, Any]:
    """HubSpot's per-input error for an object with no associations of that type (unknown ids too)."""
    noun = {"contacts": "contact", "companies": "company"}
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": f"No {noun[target]} is associated with {noun[source]} {raw}.",
        "context": {"fromObjectId": [raw]},
        "links": {},
        "errors": [],
    }


def _now_ms() -> int:
    from connector.sandbox.hubspot import now_ms

    return now_ms()
