"""A faithful fake of HubSpot CRM v3 contacts and contact properties, on loopback.

It answers what the official `hubspot-api-client` 12.x deserialises, and refuses what
HubSpot refuses: bad tokens, calls needing a scope the app lacks (403), pages past the
search depth of 10,000, oversize batches, property values of the wrong type (rejecting the
whole batch, the per-property errors embedded as JSON text in `message`), unknown IDs
(207), duplicate properties (409) and requests over the rolling ten-second, per-second
search and daily limits (429 with HubSpot's body and headers).

Emulated: contacts list/get/update/search/batch read/batch update, contact properties
(list/get/create/update) and property groups (list/get/create); companies, their properties
and the v4 contact-company associations read come from `hubspot_companies.py`, mixed in.
Not emulated: association writes, archiving and deleting through the API, search index lag,
lifecycle-stage ordering rules, property history, OAuth.

State lives in memory: a dict id -> properties plus an id-sorted list. Searches keep a
small cache of matching ids per filter set, updated incrementally as contacts change,
so paging through 100,000 contacts stays fast.
"""

from __future__ import annotations

import bisect
import fnmatch
import hmac
import json
import math
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connector.hubspot.limits import (  # HubSpot's contract, shared with the adapter and the mapping
    MAX_BATCH,
    MAX_FILTER_GROUPS,
    MAX_FILTERS_PER_GROUP,
    MAX_FILTERS_TOTAL,
    MAX_TEXT,
    OPERATORS,
)
from connector.hubspot.limits import MAX_LIST_PAGE as MAX_LIST_LIMIT
from connector.hubspot.limits import MAX_SEARCH_PAGE as MAX_SEARCH_LIMIT
from connector.hubspot.limits import MAX_SEARCH_RESULTS as MAX_SEARCH_DEPTH
from connector.sandbox.hubspot_companies import (
    COMPANY_DEFAULT_PROPERTIES,
    COMPANY_QUERY_FIELDS,
    COMPANY_RULES,
    COMPANY_SCOPES,
    MAX_IN_VALUES,
    CompanyEndpoints,
)
from connector.sandbox.seed import iso_from_ms, seed_contacts
from connector.sandbox.server import Fault, Knobs, SandboxServer

DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
QUERY_FIELDS = ("firstname", "lastname", "email", "company", "phone", "website")  # a search's `query`
SEARCH_ENDPOINTS = frozenset({"contacts_search", "companies_search"})
PORTAL_ID = 24_681_357
STANDARD_CREATED = "2019-08-06T02:41:08.029Z"
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
CATEGORIES = frozenset(
    {
        "VALIDATION_ERROR",
        "INVALID_AUTHENTICATION",
        "MISSING_SCOPES",
        "OBJECT_NOT_FOUND",
        "OBJECT_ALREADY_EXISTS",
        "CONFLICT",
        "RATE_LIMITS",
        "INTERNAL_ERROR",
    }
)
STATUS_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
    409: "CONFLICT",
    429: "RATE_LIMITS",
}
FIELD_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"text", "textarea", "html", "phonenumber", "file"}),
    "number": frozenset({"number", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox"}),
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
}
LIFECYCLE_STAGES = (
    ("Subscriber", "subscriber"),
    ("Lead", "lead"),
    ("Marketing Qualified Lead", "marketingqualifiedlead"),
    ("Sales Qualified Lead", "salesqualifiedlead"),
    ("Opportunity", "opportunity"),
    ("Customer", "customer"),
    ("Evangelist", "evangelist"),
    ("Other", "other"),
)
# The private-app scope each endpoint needs (granular scopes, as HubSpot's 403 names them).
REQUIRED_SCOPES = {
    "contacts_list": "crm.objects.contacts.read",
    "contacts_get": "crm.objects.contacts.read",
    "contacts_search": "crm.objects.contacts.read",
    "contacts_batch_read": "crm.objects.contacts.read",
    "contacts_update": "crm.objects.contacts.write",
    "contacts_batch_update": "crm.objects.contacts.write",
    "properties_list": "crm.schemas.contacts.read",
    "property_get": "crm.schemas.contacts.read",
    "groups_list": "crm.schemas.contacts.read",
    "group_get": "crm.schemas.contacts.read",
    "property_create": "crm.schemas.contacts.write",
    "property_update": "crm.schemas.contacts.write",
    "group_create": "crm.schemas.contacts.write",
    **COMPANY_SCOPES,  # companies, company properties, associations (hubspot_companies.py)
}
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. "
    "Read more about required scopes here: https://developers.hubspot.com/scopes."
)
# The fields of CRM properties v3 `PropertyUpdate` (PATCH /crm/v3/properties/{objectType}/{propertyName});
# HubSpot's JSON binding refuses any other.
PROPERTY_UPDATE_FIELDS = frozenset(
    {
        "calculationFormula",
        "currencyPropertyName",
        "description",
        "displayOrder",
        "fieldType",
        "formField",
        "groupName",
        "hidden",
        "label",
        "numberDisplayHint",
        "options",
        "showCurrencySymbol",
        "textDisplayHint",
        "type",
    }
)
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_EPOCH_MS = re.compile(r"^-?\d+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TOKEN_SPLIT = re.compile(r"[^\w]+")


def now_ms() -> int:
    return int(time.time() * 1000)


def _correlation_id() -> str:
    return str(uuid.uuid4())


# ----------------------------------------------------------------------------- schema
@dataclass
class SandboxProperty:
    """One contact property definition, as HubSpot's properties API describes it."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str = "contactinformation"
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    read_only: bool = False
    hubspot_defined: bool = True
    hidden: bool = False
    display_order: int = -1
    created_at: str = STANDARD_CREATED
    updated_at: str = STANDARD_CREATED

    @classmethod
    def custom(
        cls,
        name: str,
        type: str,  # noqa: A002
        field_type: str | None,
        *,
        label: str | None,
        group_name: str,
        options: Iterable[tuple[str, str] | str],
        read_only: bool,
        description: str = "",
    ) -> SandboxProperty:
        """A portal's own property (contact or company), as an admin defines it: HubSpot's
        default field type for the type, Yes/No options for a bool given none."""
        default_field = {"string": "text", "number": "number", "date": "date", "datetime": "date"}
        default_field |= {"enumeration": "select", "bool": "booleancheckbox"}
        opts = list(options)
        if type == "bool" and not opts:
            opts = [("Yes", "true"), ("No", "false")]
        return cls(
            name=name,
            label=label or name.replace("_", " ").capitalize(),
            type=type,
            field_type=field_type or default_field[type],
            group_name=group_name,
            description=description,
            options=_options(opts),
            read_only=read_only,
            hubspot_defined=False,
        )

    @property
    def option_values(self) -> frozenset[str]:
        return frozenset(o["value"] for o in self.options)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "updatedAt": self.updated_at,
            "createdAt": self.created_at,
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": False,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "archived": False,
        }
        if self.type == "enumeration":
            body["modificationMetadata"]["readOnlyOptions"] = False
        if not self.hubspot_defined:
            body["createdUserId"] = "1234567"
            body["updatedUserId"] = "1234567"
        return body


def _options(values: Iterable[tuple[str, str] | str]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(values):
        label, value = (item, item) if isinstance(item, str) else item
        out.append({"label": label, "value": value, "displayOrder": i, "hidden": False})
    return out


def standard_properties() -> list[SandboxProperty]:
    """The contact properties every sandbox portal starts with."""
    p = SandboxProperty
    return [
        p("firstname", "First Name", "string", "text"),
        p("lastname", "Last Name", "string", "text"),
        p("email", "Email", "string", "text"),
        p("company", "Company Name", "string", "text"),
        p("website", "Website URL", "string", "text"),
        p("jobtitle", "Job Title", "string", "text"),
        p("phone", "Phone Number", "string", "phonenumber"),
        p("city", "City", "string", "text"),
        p("country", "Country/Region", "string", "text"),
        p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_options(LIFECYCLE_STAGES)),
        # HubSpot has no standard LinkedIn URL on contacts: portals add their own.
        p("linkedin_url", "LinkedIn URL", "string", "text", hubspot_defined=False),
        p("hs_object_id", "Record ID", "number", "number", read_only=True),
        p("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox", read_only=True),
        p("createdate", "Create Date", "datetime", "date", read_only=True),
        p("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
        p("hs_lastmodifieddate", "Object last modified date/time", "datetime", "date", read_only=True),
    ]


STANDARD_GROUPS = (
    ("contactinformation", "Contact information"),
    ("emailinformation", "Email information"),
    ("sales_properties", "Sales properties"),
)


# ----------------------------------------------------------------------------- values
_ms_cache: dict[str, int | None] = {}


def to_epoch_ms(value: str) -> int | None:
    """A datetime/date value (epoch ms, ISO 8601 or YYYY-MM-DD) as epoch ms, or None."""
    cached = _ms_cache.get(value)
    if cached is not None or value in _ms_cache:
        return cached
    ms: int | None
    if _EPOCH_MS.match(value):
        ms = int(value)
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            ms = None
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            ms = int(moment.timestamp() * 1000)
    if len(_ms_cache) > 500_000:
        _ms_cache.clear()
    _ms_cache[value] = ms
    return ms


def _date_ms(value: str) -> int | None:
    """A date value (midnight epoch ms or YYYY-MM-DD) as epoch ms."""
    if _EPOCH_MS.match(value):
        return int(value)
    if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        return to_epoch_ms(value)
    return None


class Invalid(Exception):
    """A request HubSpot would refuse with 400; the message is HubSpot-like."""


def _invalid_value(prop: SandboxProperty, value: str) -> tuple[str, str] | None:
    """(error code, message) when HubSpot would refuse `value` for `prop`, else None."""
    if value == "":
        return None  # clears the value, always allowed
    kind = prop.type
    if kind != "string" and value != value.strip():
        return "LEADING_TRAILING_WHITESPACE", f"{value!r} has leading or trailing whitespace."
    if kind == "string":
        if len(value) > MAX_TEXT:
            return (
                "MAX_LENGTH_EXCEEDED",
                f"value for {prop.name} is {len(value)} characters long, the limit is {MAX_TEXT}.",
            )
        return None
    if kind == "number":
        return None if _NUMBER.match(value) else ("INVALID_LONG", f"{value} was not a valid long.")
    if kind == "bool":
        return (
            None if value in ("true", "false") else ("INVALID_BOOLEAN", f"{value} was not a valid boolean.")
        )
    if kind == "date":
        ms = _date_ms(value)
        if ms is None:
            return "INVALID_DATE", f"{value} was not a valid date."
        if ms % 86_400_000:
            at = time.gmtime(ms // 1000)
            return (
                "INVALID_DATE",
                f"{value} is at {at.tm_hour}:{at.tm_min}:{at.tm_sec}.{ms % 1000} UTC, not midnight!",
            )
        return None
    if kind == "datetime":
        return None if to_epoch_ms(value) is not None else ("INVALID_LONG", f"{value} was not a valid long.")
    if kind == "enumeration":
        allowed = prop.option_values
        parts = value.split(";") if prop.field_type == "checkbox" else [value]
        for part in parts:
            if part not in allowed:
                shown = ", ".join(sorted(allowed))
                return "INVALID_OPTION", f"{part} was not one of the allowed options: [{shown}]"
        return None
    return None


def _normalise(prop: SandboxProperty, value: str) -> str | None:
    """The value as HubSpot stores and returns it (None: no value)."""
    if value == "":
        return None
    if prop.type == "datetime":
        ms = to_epoch_ms(value)
        return iso_from_ms(ms) if ms is not None else value
    if prop.type == "date":
        ms = _date_ms(value)
        return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000)) if ms is not None else value
    return value


def _as_text(value: Any) -> str:
    """HubSpot coerces JSON numbers and booleans in property values to text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# ----------------------------------------------------------------------------- search
Pred = Callable[[dict[str, str | None]], bool]


@dataclass
class _Group:
    """One compiled filterGroup: an id range/set plus predicates on other properties."""

    lo: int = 0
    hi: int = 2**63
    ids: set[int] | None = None
    preds: list[Pred] = field(default_factory=list)
    key: str = ""


@dataclass
class _CacheEntry:
    version: int
    ids: list[int]
    preds: list[Pred]


@dataclass(frozen=True)
class _Kind:
    """What one object type's endpoints answer differently, for the search, batch and validation
    code that contacts and companies share (`CONTACT_KIND`, `COMPANY_KIND`)."""

    noun: str  # how HubSpot's messages name one record: CONTACT, COMPANY
    defaults: tuple[str, ...]  # the properties every answer carries
    modified: str  # the property an answer's `updatedAt` is read from
    query_fields: tuple[str, ...]  # what a search's free-text `query` looks in
    max_in_values: int | None = None  # values one IN / NOT_IN filter may have (None: no limit)
    strict_inputs: bool = False  # 400 for a batch input without an id, or non-list property names
    cached: bool = False  # searches keep their matches in the change-log cache
    faulty: bool = False  # batch updates suffer `reject_rate` and `partial_rate`


# Searches page through portals of 100,000 contacts: they keep the change-log cache.
CONTACT_KIND = _Kind(
    "CONTACT", DEFAULT_PROPERTIES, "lastmodifieddate", QUERY_FIELDS, cached=True, faulty=True
)
COMPANY_KIND = _Kind(
    "COMPANY",
    COMPANY_DEFAULT_PROPERTIES,
    "hs_lastmodifieddate",
    COMPANY_QUERY_FIELDS,
    max_in_values=MAX_IN_VALUES,
    strict_inputs=True,
)


@dataclass(frozen=True)
class _Store:
    """One object type's records, as the code contacts and companies share reads them. `ids` is
    the list of the moment (merging or archiving contacts rebuilds it): make the store under the
    state lock where its ids are read."""

    kind: _Kind
    schema: dict[str, SandboxProperty]
    rows: dict[int, dict[str, str | None]]
    ids: list[int]  # ascending
    resolve: Callable[[Any, str | None], int | None]  # an input's id (and idProperty) to a record
    write: Callable[[int, Mapping[str, str]], None]  # apply validated changes, bump the stamps
    rules: Mapping[str, tuple[Callable[[str], bool], str]] = field(default_factory=dict)

    def object(self, cid: int, wanted: Sequence[str], extra: Iterable[str] = ()) -> dict[str, Any]:
        """One record as HubSpot answers it: the default properties, plus the wanted ones it defines."""
        row = self.rows[cid]
        names = dict.fromkeys(self.kind.defaults)
        for name in (*wanted, *extra):
            if name in self.schema:
                names[name] = None
        return {
            "id": str(cid),
            "properties": {name: row.get(name) for name in names},
            "createdAt": row["createdate"],
            "updatedAt": row[self.kind.modified],
            "archived": False,
        }


class HubSpotSandbox(CompanyEndpoints, SandboxServer):
    """Fake HubSpot CRM v3 (contacts, companies, their properties and groups, v4 contact-company
    associations) with HubSpot's limits."""

    name = "hubspot"
    url_map = Map(
        [
            Rule("/crm/v3/objects/contacts", methods=["GET"], endpoint="contacts_list"),
            Rule("/crm/v3/objects/contacts/search", methods=["POST"], endpoint="contacts_search"),
            Rule("/crm/v3/objects/contacts/batch/read", methods=["POST"], endpoint="contacts_batch_read"),
            Rule("/crm/v3/objects/contacts/batch/update", methods=["POST"], endpoint="contacts_batch_update"),
            Rule("/crm/v3/objects/contacts/<contact_id>", methods=["GET"], endpoint="contacts_get"),
            Rule("/crm/v3/objects/contacts/<contact_id>", methods=["PATCH"], endpoint="contacts_update"),
            Rule("/crm/v3/properties/contacts", methods=["GET"], endpoint="properties_list"),
            Rule("/crm/v3/properties/contacts", methods=["POST"], endpoint="property_create"),
            # Static /groups before the <name> converter, so "groups" is never a property name.
            Rule("/crm/v3/properties/contacts/groups", methods=["GET"], endpoint="groups_list"),
            Rule("/crm/v3/properties/contacts/groups", methods=["POST"], endpoint="group_create"),
            Rule("/crm/v3/properties/contacts/groups/<name>", methods=["GET"], endpoint="group_get"),
            Rule("/crm/v3/properties/contacts/<name>", methods=["GET"], endpoint="property_get"),
            Rule("/crm/v3/properties/contacts/<name>", methods=["PATCH"], endpoint="property_update"),
            *COMPANY_RULES,
        ]
    )

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        knobs: Knobs | None = None,
        *,
        token: str = "pat-sandbox-hubspot-token",
        contacts: int = 50,
        seed: int = 7,
        requests_per_10s: int = 100,
        searches_per_second: int = 5,
        daily_limit: int | None = None,
        rate_window: float = 10.0,
        search_window: float = 1.0,
    ):
        super().__init__(host, port, knobs)
        self.token = token
        self.requests_per_10s = requests_per_10s
        self.searches_per_second = searches_per_second
        self.daily_limit = daily_limit
        # Tests shorten the windows so that rate limiting can be exercised in well under 10 s.
        self.rate_window = rate_window
        self.search_window = search_window
        # HubSpot's messages usually quote the refused value; set False to test clients'
        # handling of the messages that do not.
        self.quote_values = True
        # The scopes the token's private app was granted (None: every scope); a call that
        # needs another is refused with HubSpot's 403 MISSING_SCOPES answer.
        self.granted_scopes: set[str] | None = None
        # Batch-update faults (shares of calls; counted in `faults`): a 207 where some inputs
        # were not applied (a transient per-record INTERNAL_ERROR), and a whole-batch 400
        # VALIDATION_ERROR that writes nothing, as HubSpot answers for one refused value.
        self.partial_rate = 0.0
        self.reject_rate = 0.0
        self._state = threading.RLock()
        self._calls: deque[float] = deque()
        self._searches: deque[float] = deque()
        self.daily_used = 0
        self._schema: dict[str, SandboxProperty] = {p.name: p for p in standard_properties()}
        self._groups: dict[str, dict[str, Any]] = {
            name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(STANDARD_GROUPS)
        }
        self._props: dict[int, dict[str, str | None]] = {}
        self._ids: list[int] = []
        self._by_email: dict[str, int] = {}
        self._merged: dict[int, int] = {}  # a merged-away id -> the contact it lives on in
        self._rules: dict[str, tuple[Callable[[str], bool], str]] = {}  # portal validation rules
        self._next_id = 51
        self._log: list[int] = []  # contact ids in the order they changed (search cache upkeep)
        self._cache: OrderedDict[str, _CacheEntry] = OrderedDict()
        self._seed_ids(seed_contacts(contacts, seed), seed)
        self._init_companies(seed)  # companies for the contacts' domains, and their associations

    def _seed_ids(self, rows: list[dict[str, str | None]], seed: int) -> None:
        """Insert seeded contacts with non-contiguous ids (as real portals have)."""
        step = seed % 3 + 1
        for i, row in enumerate(rows):
            self._insert(row, step=1 + (i * step) % 3, trusted=True)

    # ------------------------------------------------------------ test helpers
    def add_contact(self, props: Mapping[str, str | None]) -> str:
        """Create a contact as a person would in HubSpot; returns its id.

        `createdate` / `lastmodifieddate` may be given to place it in time.
        """
        self._check_known(props, "contacts")
        with self._state:
            return str(self._insert(dict(props)))

    def edit_contact(self, contact_id: str, props: Mapping[str, str | None]) -> None:
        """Change a contact as a person editing in HubSpot would (bumps lastmodifieddate)."""
        self._edit(contact_id, props, "contacts")

    def merge_contacts(self, primary_id: str, other_id: str) -> str:
        """Merge two contacts as HubSpot does: a new id, the primary's values winning,
        `hs_merged_object_ids` listing the old ids, which resolve to the new contact on read."""
        with self._state:
            primary, other = int(primary_id), int(other_id)
            a, b = self._props.pop(primary), self._props.pop(other)
            self._ids = [i for i in self._ids if i not in (primary, other)]
            for email in (a.get("email"), b.get("email")):
                if email:
                    self._by_email.pop(email.lower(), None)
            old = sorted(
                {primary, other}
                | {int(x) for r in (a, b) for x in (r.get("hs_merged_object_ids") or "").split(";") if x}
            )
            merged = {**{k: v for k, v in b.items() if v}, **{k: v for k, v in a.items() if v}}
            for key in ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"):
                merged.pop(key, None)
            merged["createdate"] = a.get("createdate") or iso_from_ms(now_ms())
            merged["lastmodifieddate"] = iso_from_ms(now_ms())
            merged["hs_merged_object_ids"] = ";".join(str(i) for i in old)
            new = self._insert(merged, trusted=True)
            self._merge_links(primary, other, new)  # the merged contact keeps both's companies
            for i in old:
                self._merged[i] = new
            for i, target in list(self._merged.items()):  # ids merged earlier follow along
                if target in (primary, other):
                    self._merged[i] = new
            self._cache.clear()
            return str(new)

    def contact(self, contact_id: str) -> dict[str, str | None]:
        """Every property the portal defines, for one contact (None where it has no value)."""
        return self._values(contact_id, "contacts")

    def contact_ids(self) -> list[str]:
        """Every contact id, ascending."""
        with self._state:
            return [str(i) for i in self._ids]

    def define_property(
        self,
        name: str,
        type: str = "string",  # noqa: A002
        field_type: str | None = None,
        *,
        label: str | None = None,
        group_name: str = "contactinformation",
        options: Iterable[tuple[str, str] | str] = (),
        read_only: bool = False,
        description: str = "",
    ) -> dict[str, Any]:
        """Add a property definition directly (as a portal admin would); returns its JSON."""
        prop = SandboxProperty.custom(
            name,
            type,
            field_type,
            label=label,
            group_name=group_name,
            options=options,
            read_only=read_only,
            description=description,
        )
        with self._state:
            self._schema[name] = prop
            self._cache.clear()
        return prop.to_json()

    def answer_next(
        self, status: int, body: dict[str, Any], endpoint: str | None = None, count: int = 1
    ) -> None:
        """Answer the next matching requests with this status and body, whatever they ask."""
        self._script(count, Fault(status=status, body=body), endpoint)

    def archive_contact(self, contact_id: str) -> None:
        """Delete (archive) a contact as a person would: reads and searches no longer see it,
        and a batch update naming it answers 207 with OBJECT_NOT_FOUND for it."""
        with self._state:
            cid = int(contact_id)
            row = self._props.pop(cid)
            self._ids = [i for i in self._ids if i != cid]
            if row.get("email"):
                self._by_email.pop(row["email"].lower(), None)  # type: ignore[union-attr]
            self._cache.clear()

    def delete_property(self, name: str) -> None:
        """Delete a property definition as a portal admin would (its values go with it)."""
        with self._state:
            del self._schema[name]
            for row in self._props.values():
                row.pop(name, None)
            self._cache.clear()

    def remove_option(self, name: str, value: str) -> None:
        """Remove one option of an enumeration property, as a portal admin would."""
        with self._state:
            prop = self._schema[name]
            prop.options = [o for o in prop.options if o.get("value") != value]

    def add_validation_rule(self, name: str, accepts: Callable[[str], bool], message: str) -> None:
        """A portal-level validation rule: a value `accepts` refuses fails the whole batch with 400."""
        with self._state:
            self._rules[name] = (accepts, message)

    def property_names(self) -> list[str]:
        with self._state:
            return sorted(self._schema)

    # ------------------------------------------------------------ test helpers of both object types
    def _check_known(self, props: Mapping[str, Any], object_type: str) -> None:
        """A test helper's values must name properties the portal defines (a typo fails loudly)."""
        store = self._store(object_type)
        unknown = sorted(set(props) - set(store.schema))
        if unknown:
            raise ValueError(f"sandbox portal has no {store.kind.noun.lower()} properties {unknown}")

    def _edit(self, record_id: str, props: Mapping[str, str | None], object_type: str) -> None:
        self._check_known(props, object_type)
        with self._state:
            store = self._store(object_type)
            cid = int(record_id)
            if cid not in store.rows:
                raise KeyError(f"no {store.kind.noun.lower()} {record_id}")
            store.write(cid, {k: _as_text(v) for k, v in props.items()})

    def _values(self, record_id: str, object_type: str) -> dict[str, str | None]:
        with self._state:
            store = self._store(object_type)
            row = store.rows[int(record_id)]
            return {name: row.get(name) for name in store.schema}

    # ------------------------------------------------------------ storage
    def _insert(self, props: dict[str, str | None], step: int = 1, trusted: bool = False) -> int:
        """Store a new contact; `trusted` values (from the seed) are already in HubSpot's form."""
        cid = self._next_id
        self._next_id += step
        row: dict[str, str | None]
        if trusted:
            row = {name: value for name, value in props.items() if value}
        else:
            row = {}
            for name, value in props.items():
                if value is None or value == "":
                    continue
                prop = self._schema.get(name)
                row[name] = _normalise(prop, value) if prop else value
        if "createdate" not in row:
            row["createdate"] = iso_from_ms(now_ms())
        row.setdefault("lastmodifieddate", row["createdate"])
        row["hs_lastmodifieddate"] = row["lastmodifieddate"]
        row["hs_object_id"] = str(cid)
        self._props[cid] = row
        self._ids.append(cid)  # ids only grow, so the list stays sorted
        email = row.get("email")
        if email:
            self._by_email[email.lower()] = cid
        self._log.append(cid)
        return cid

    def _write(self, cid: int, changes: Mapping[str, str]) -> None:
        """Apply validated changes and bump the modification stamps."""
        row = self._props[cid]
        old_email = row.get("email")
        for name, value in changes.items():
            prop = self._schema.get(name)
            row[name] = _normalise(prop, value) if prop else (value or None)
        stamp = iso_from_ms(max(now_ms(), (to_epoch_ms(row["lastmodifieddate"] or "0") or 0) + 1))
        row["lastmodifieddate"] = row["hs_lastmodifieddate"] = stamp
        if row.get("email") != old_email:
            if old_email:
                self._by_email.pop(old_email.lower(), None)
            if row.get("email"):
                self._by_email[row["email"].lower()] = cid  # type: ignore[union-attr]
        self._log.append(cid)

    def _store(self, object_type: str) -> _Store:
        """The records of one object type (contacts or companies), for the handlers they share."""
        if object_type == "companies":
            return self._company_store()
        return _Store(
            CONTACT_KIND, self._schema, self._props, self._ids, self._resolve, self._write, self._rules
        )

    def _resolve(self, raw_id: Any, id_property: str | None) -> int | None:
        """The contact id an input refers to (by id or by a unique property), or None."""
        if raw_id is None:
            return None
        text = str(raw_id)
        if id_property and id_property != "hs_object_id":
            if id_property != "email":
                return None
            return self._by_email.get(text.lower())
        if not text.isdigit():
            return None
        cid = self._merged.get(int(text), int(text))  # a merged-away id reads as the merged contact
        return cid if cid in self._props else None

    # ------------------------------------------------------------ base hooks
    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not (
            scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())
        ):
            return self.json(401, self.error_body(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE))
        needed = REQUIRED_SCOPES.get(self._endpoint_of(request))
        granted = self.granted_scopes
        if needed is None or granted is None or needed in granted:
            return None
        body = self.error_body(403, "MISSING_SCOPES", SCOPES_MESSAGE)
        body["errors"] = [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [needed]},
            }
        ]
        body["links"] = {"scopes": "https://developers.hubspot.com/scopes"}
        return self.json(403, body)

    def error_body(self, status: int, code: str, message: str) -> dict[str, Any]:
        if code in CATEGORIES:
            category = code
        else:  # the base class's generic codes (BAD_REQUEST, NOT_FOUND, ...) in HubSpot's words
            category = STATUS_CATEGORIES.get(
                status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR"
            )
        return {
            "status": "error",
            "message": message,
            "correlationId": _correlation_id(),
            "category": category,
        }

    def random_throttle(self) -> Fault:
        """HubSpot's 429 as it comes: the policy body and rate-limit headers, with or without Retry-After."""
        if self._rng.random() < 0.5:
            return Fault(status=429, retry_after=0.05, style="retry-after")
        return Fault(status=429, style="window only")

    def throttle_response(self, request: Request, fault: Fault) -> Response:
        endpoint = self._endpoint_of(request)
        body = fault.body or self._limit_body("TEN_SECONDLY_ROLLING")
        headers: dict[str, str] = {}
        if endpoint not in SEARCH_ENDPOINTS:
            headers.update(self._limit_headers(remaining=0))
        if fault.retry_after is not None:
            value = fault.retry_after
            headers["Retry-After"] = str(int(value)) if float(value).is_integer() else f"{value:g}"
        return self.json(429, body, headers)

    def rate_limit(self, request: Request, endpoint: str) -> Response | None:
        now = time.monotonic()
        with self._state:
            if self.daily_limit is not None and self.daily_used >= self.daily_limit:
                return self.json(429, self._limit_body("DAILY"), self._limit_headers(0))
            if endpoint in SEARCH_ENDPOINTS:
                window, limit, calls = self.search_window, self.searches_per_second, self._searches
            else:
                window, limit, calls = self.rate_window, self.requests_per_10s, self._calls
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= limit:
                if endpoint in SEARCH_ENDPOINTS:  # search answers carry no rate-limit headers
                    return self.json(429, self._limit_body("SECONDLY"))
                return self.json(429, self._limit_body("TEN_SECONDLY_ROLLING"), self._limit_headers(0))
            calls.append(now)
            self.daily_used += 1
            if endpoint not in SEARCH_ENDPOINTS:
                request.environ["sandbox.hubspot.headers"] = self._limit_headers(limit - len(calls))
        return None

    def _limit_body(self, policy: str) -> dict[str, Any]:
        names = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly", "DAILY": "daily"}
        return {
            "status": "error",
            "message": f"You have reached your {names.get(policy, policy.lower())} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": _correlation_id(),
            "policyName": policy,
            "groupName": f"publicapi:private-app:{PORTAL_ID}",
        }

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        daily = self.daily_limit if self.daily_limit is not None else 250_000
        return {
            "X-HubSpot-RateLimit-Max": str(self.requests_per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_window * 1000)),
            "X-HubSpot-RateLimit-Daily": str(daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(daily - self.daily_used, 0)),
        }

    def _endpoint_of(self, request: Request) -> str:
        try:
            endpoint, _ = self.url_map.bind_to_environ(request.environ).match()
        except Exception:  # noqa: BLE001 - any routing miss means "not a known endpoint"
            return "unknown"
        return str(endpoint)

    # ------------------------------------------------------------ answers
    def _ok(self, request: Request, body: Any, status: int = 200) -> Response:
        return self.json(status, body, request.environ.get("sandbox.hubspot.headers"))

    def _fail(self, request: Request, status: int, category: str, message: str, **extra: Any) -> Response:
        body = self.error_body(status, category, message)
        body["category"] = category
        body.update(extra)
        return self.json(status, body, request.environ.get("sandbox.hubspot.headers"))

    def _body(self, request: Request) -> dict[str, Any]:
        body = self.read_json(request)
        if not isinstance(body, dict):
            raise Invalid("Invalid input JSON: the request body must be a JSON object")
        return body

    @staticmethod
    def _wanted(request: Request) -> list[str]:
        names: list[str] = []
        for raw in request.args.getlist("properties"):
            names.extend(n.strip() for n in raw.split(",") if n.strip())
        return names

    @staticmethod
    def _now_iso() -> str:
        return iso_from_ms(now_ms())

    # ------------------------------------------------------------ contacts
    def contacts_list(self, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "10"))
            after = int(request.args.get("after", "0") or "0")
        except ValueError:
            return self._fail(request, 400, "VALIDATION_ERROR", "limit and after must be integers")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return self._fail(
                request, 400, "VALIDATION_ERROR", f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}"
            )
        wanted = self._wanted(request)
        if request.args.get("archived", "false").lower() == "true":
            return self._ok(request, {"results": []})
        with self._state:
            store = self._store("contacts")
            start = bisect.bisect_left(self._ids, after)
            page = self._ids[start : start + limit]
            results = [store.object(cid, wanted) for cid in page]
            more = start + limit < len(self._ids)
        body: dict[str, Any] = {"results": results}
        if more:
            nxt = str(page[-1] + 1)
            link = f"{self.url}/crm/v3/objects/contacts?limit={limit}&after={nxt}"
            body["paging"] = {"next": {"after": nxt, "link": link}}
        return self._ok(request, body)

    def contacts_get(self, request: Request, contact_id: str) -> Response:
        return self._get_one(request, contact_id, "contacts")

    def contacts_update(self, request: Request, contact_id: str) -> Response:
        try:
            body = self._body(request)
            props = body.get("properties")
            if not isinstance(props, dict):
                raise Invalid("Invalid input JSON: properties must be an object")
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        changes = {str(k): _as_text(v) for k, v in props.items()}
        with self._state:
            store = self._store("contacts")
            errors = self._validate(changes, store)
            if errors:
                return self._validation_failure(request, errors)
            cid = self._resolve(contact_id, request.args.get("idProperty"))
            if cid is None:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", "resource not found")
            self._write(cid, changes)
            return self._ok(request, store.object(cid, (), changes))

    def contacts_batch_read(self, request: Request) -> Response:
        return self._batch_read(request, "contacts")

    def contacts_batch_update(self, request: Request) -> Response:
        return self._batch_update(request, "contacts")

    # ------------------------------------------------------------ shared by contacts and companies
    def _get_one(self, request: Request, raw_id: str, object_type: str) -> Response:
        """`GET /crm/v3/objects/{type}/{id}`: one record, or 404."""
        wanted = self._wanted(request)
        with self._state:
            store = self._store(object_type)
            cid = store.resolve(raw_id, request.args.get("idProperty"))
            if cid is None:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", "resource not found")
            return self._ok(request, store.object(cid, wanted))

    def _batch_read(self, request: Request, object_type: str) -> Response:
        """`POST .../batch/read`: the records found (each once), a 207 naming the ids that were not."""
        store = self._store(object_type)
        started = self._now_iso()
        try:
            body = self._body(request)
            inputs = self._inputs(body)
            lists = ("properties", "propertiesWithHistory") if store.kind.strict_inputs else ()
            for key in lists:
                if key in body and not isinstance(body[key], list):
                    raise Invalid(f"Invalid input JSON: {key} must be a list of property names")
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        wanted = [str(p) for p in body.get("properties") or []]
        id_property = body.get("idProperty")
        with self._state:
            results, missing, seen = [], [], set()
            for item in inputs:
                raw = item.get("id")
                cid = store.resolve(raw, id_property)
                if cid is None:
                    missing.append(str(raw))
                elif cid not in seen:
                    seen.add(cid)
                    results.append(store.object(cid, wanted))
        errors = []
        if missing:
            errors.append(
                self._record_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {store.kind.noun} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    missing,
                )
            )
        return self._batch_answer(request, started, results, errors)

    def _batch_update(self, request: Request, object_type: str) -> Response:
        """`POST .../batch/update`: all or nothing on a bad value, else a 207 for unknown ids."""
        store = self._store(object_type)
        started = self._now_iso()
        try:
            body = self._body(request)
            inputs = self._inputs(body)
            for item in inputs:
                no_id = store.kind.strict_inputs and item.get("id") in (None, "")
                if no_id or not isinstance(item.get("properties"), dict):
                    raise Invalid("Invalid input JSON: every input needs an id and a properties object")
            raw_ids = [str(item.get("id")) for item in inputs]
            dupes = sorted({i for i in raw_ids if raw_ids.count(i) > 1})
            if dupes:
                raise Invalid(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique")
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        changes = [{str(k): _as_text(v) for k, v in item["properties"].items()} for item in inputs]
        with self._state:
            errors = [err for ch in changes for err in self._validate(ch, store)]
            if errors:  # one bad value rejects the whole batch; nothing is written
                return self._validation_failure(request, errors)
            skipped: set[int] = set()
            if store.kind.faulty:
                rejected = self._random_rejection(changes)
                if rejected is not None:
                    return self._validation_failure(request, rejected)
                skipped = self._random_partial(len(inputs))
            results, missing, flaky = [], [], []
            for i, (item, change) in enumerate(zip(inputs, changes, strict=True)):
                cid = store.resolve(item.get("id"), item.get("idProperty") or body.get("idProperty"))
                if cid is None:
                    missing.append(str(item.get("id")))
                    continue
                if i in skipped:
                    flaky.append(str(item.get("id")))
                    continue
                if change:
                    store.write(cid, change)
                results.append(store.object(cid, (), change))
        errors = [
            self._record_error("OBJECT_NOT_FOUND", f"Could not find {store.kind.noun} with id {raw}.", [raw])
            for raw in missing
        ]
        errors += [
            self._record_error(
                "INTERNAL_ERROR", f"Could not update {store.kind.noun} {raw}; try again.", [raw]
            )
            for raw in flaky
        ]
        return self._batch_answer(request, started, results, errors)

    def _random_rejection(self, changes: list[dict[str, str]]) -> list[dict[str, Any]] | None:
        """At `reject_rate`: HubSpot's per-property error for one value of the batch (state lock held)."""
        filled = [(name, value) for change in changes for name, value in change.items() if value]
        if not filled or self.reject_rate <= 0 or self._rng.random() >= self.reject_rate:
            return None
        name, value = filled[self._rng.randrange(len(filled))]
        self.faults["400 batch"] += 1
        message = (
            f"{value!r} was rejected by a validation rule of this portal."
            if self.quote_values
            else f"The value for {name} is not valid."
        )
        error = {"isValid": False, "message": message, "error": "INVALID_VALUE", "name": name}
        return [{**error, "localizedErrorMessage": message}]

    def _random_partial(self, size: int) -> set[int]:
        """At `partial_rate`: the inputs (about a third, at least one) a 207 leaves unapplied."""
        if size == 0 or self.partial_rate <= 0 or self._rng.random() >= self.partial_rate:
            return set()
        self.faults["207 partial"] += 1
        skipped = {i for i in range(size) if self._rng.random() < 1 / 3}
        return skipped or {self._rng.randrange(size)}

    def _batch_answer(
        self, request: Request, started: str, results: list[Any], errors: list[dict[str, Any]]
    ) -> Response:
        """A batch answer: 200 when every input succeeded, else 207 with per-record errors."""
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": self._now_iso(),
        }
        if not errors:
            return self._ok(request, answer)
        answer["numErrors"] = len(errors)
        answer["errors"] = errors
        return self._ok(request, answer, 207)

    @staticmethod
    def _record_error(category: str, message: str, ids: list[str]) -> dict[str, Any]:
        return {
            "status": "error",
            "category": category,
            "message": message,
            "context": {"ids": ids},
            "links": {},
            "errors": [],
        }

    @staticmethod
    def _inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise Invalid("Invalid input JSON: inputs must be a list of objects")
        if len(inputs) > MAX_BATCH:
            raise Invalid(f"Too many inputs: {len(inputs)}. The maximum is {MAX_BATCH} per batch request")
        return inputs

    def _validate(self, changes: Mapping[str, str], store: _Store) -> list[dict[str, Any]]:
        """HubSpot's per-property validation results for one input's values."""
        errors = []
        for name, value in changes.items():
            prop = store.schema.get(name)
            if prop is None:
                problem: tuple[str, str] | None = (
                    "PROPERTY_DOESNT_EXIST",
                    f'Property "{name}" does not exist',
                )
            elif prop.read_only:
                problem = ("READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
            else:
                problem = _invalid_value(prop, value)
                rule = store.rules.get(name)
                if problem is None and rule is not None and value and not rule[0](value):
                    problem = ("INVALID_VALUE", f"{value!r} {rule[1]}")
            if problem:
                code, message = problem
                if not self.quote_values:
                    message = f"The value for {name} is not valid."
                errors.append(
                    {
                        "isValid": False,
                        "message": message,
                        "error": code,
                        "name": name,
                        "localizedErrorMessage": message,
                    }
                )
        return errors

    def _validation_failure(self, request: Request, errors: list[dict[str, Any]]) -> Response:
        embedded = json.dumps(errors, separators=(",", ":"), ensure_ascii=False)
        return self._fail(request, 400, "VALIDATION_ERROR", f"Property values were not valid: {embedded}")

    # ------------------------------------------------------------ search
    def contacts_search(self, request: Request) -> Response:
        return self._search(request, "contacts")

    def _search(self, request: Request, object_type: str) -> Response:
        """`POST .../search` over one object type's records, with HubSpot's limits and paging."""
        try:
            body = self._body(request)
            limit = self._int(body.get("limit", 10), "limit")
            after = self._int(body.get("after") or 0, "after")
            if limit < 0 or limit > MAX_SEARCH_LIMIT:
                raise Invalid(f"limit must be between 0 and {MAX_SEARCH_LIMIT}, got {limit}")
            if after < 0 or after + limit > MAX_SEARCH_DEPTH:
                raise Invalid(
                    f"Paging past {MAX_SEARCH_DEPTH} results is not supported "
                    f"(after={after}, limit={limit}); narrow the search instead"
                )
            groups_raw = body.get("filterGroups") or []
            if not isinstance(groups_raw, list) or len(groups_raw) > MAX_FILTER_GROUPS:
                raise Invalid(f"A search can have at most {MAX_FILTER_GROUPS} filterGroups")
            wanted = [str(p) for p in body.get("properties") or []]
            query = body.get("query")
            with self._state:
                store = self._store(object_type)
                sorts = self._sorts(body.get("sorts") or [], store)
                groups = self._compile(groups_raw, store)
                ids = self._match(groups, query if isinstance(query, str) and query.strip() else None, store)
                ids = self._sorted(ids, sorts, store)
                total = len(ids)
                page = ids[after : after + limit]
                results = [store.object(cid, wanted) for cid in page]
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        answer: dict[str, Any] = {"total": total, "results": results}
        if after + limit < total and limit:
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return self._ok(request, answer)

    @staticmethod
    def _int(value: Any, name: str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise Invalid(f"{name} must be an integer, got {value!r}") from None

    def _compile(self, groups_raw: list[Any], store: _Store) -> list[_Group]:
        total = 0
        groups = []
        for raw in groups_raw:
            filters = raw.get("filters") if isinstance(raw, dict) else None
            if not isinstance(filters, list):
                raise Invalid("every filterGroup needs a filters list")
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise Invalid(
                    f"A filterGroup can have at most {MAX_FILTERS_PER_GROUP} filters, got {len(filters)}"
                )
            total += len(filters)
            groups.append(self._compile_group(filters, store))
        if total > MAX_FILTERS_TOTAL:
            raise Invalid(f"A search can have at most {MAX_FILTERS_TOTAL} filters in all, got {total}")
        return groups

    def _compile_group(self, filters: list[Any], store: _Store) -> _Group:
        group = _Group()
        keys = []
        for f in filters:
            if not isinstance(f, dict):
                raise Invalid("every filter must be an object")
            name, op = f.get("propertyName"), f.get("operator")
            if op not in OPERATORS:
                raise Invalid(f"Unknown filter operator {op!r}")
            prop = store.schema.get(str(name))
            if prop is None:
                raise Invalid(f"Unable to find property {name!r} to filter on")
            values = f.get("values")
            cap = store.kind.max_in_values
            if cap is not None and op in ("IN", "NOT_IN") and isinstance(values, list) and len(values) > cap:
                raise Invalid(f"filter {op} on {name} has {len(values)} values; at most {cap} are allowed")
            if name == "hs_object_id" and self._id_filter(group, op, f):
                continue
            group.preds.append(self._predicate(prop, op, f))
            keys.append(json.dumps([name, op, f.get("value"), f.get("values"), f.get("highValue")]))
        group.key = "|".join(sorted(keys))
        return group

    @staticmethod
    def _id_filter(group: _Group, op: str, f: dict[str, Any]) -> bool:
        """Fold an hs_object_id range/set filter into the group's id bounds (True if folded)."""
        try:
            if op in ("EQ", "IN"):
                raw = [f.get("value")] if op == "EQ" else list(f.get("values") or [])
                wanted = {int(float(v)) for v in raw if float(v).is_integer()}
                group.ids = wanted if group.ids is None else group.ids & wanted
            elif op == "GT":
                group.lo = max(group.lo, math.floor(float(f["value"])) + 1)
            elif op == "GTE":
                group.lo = max(group.lo, math.ceil(float(f["value"])))
            elif op == "LT":
                group.hi = min(group.hi, math.ceil(float(f["value"])) - 1)
            elif op == "LTE":
                group.hi = min(group.hi, math.floor(float(f["value"])))
            elif op == "BETWEEN":
                group.lo = max(group.lo, math.ceil(float(f["value"])))
                group.hi = min(group.hi, math.floor(float(f["highValue"])))
            else:
                return False
        except (KeyError, TypeError, ValueError):
            raise Invalid(f"hs_object_id filter {op} needs numeric values") from None
        return True

    def _predicate(self, prop: SandboxProperty, op: str, f: dict[str, Any]) -> Pred:
        """Compile one filter into a test on a record's stored properties."""
        name = prop.name
        multi = prop.type == "enumeration" and prop.field_type == "checkbox"
        key = self._key_fn(prop)

        def parsed(raw: Any) -> Any:
            if raw is None:
                raise Invalid(f"filter {op} on {name} needs a value")
            value = key(_as_text(raw))
            if value is None:
                raise Invalid(f"{raw!r} is not a valid value for {prop.type} property {name}")
            return value

        def stored(row: dict[str, str | None]) -> list[Any]:
            raw = row.get(name)
            if raw is None or raw == "":
                return []
            parts = raw.split(";") if multi else [raw]
            return [k for k in (key(p) for p in parts) if k is not None]

        if op == "HAS_PROPERTY":
            return lambda row: row.get(name) not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return lambda row: row.get(name) in (None, "")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = _as_text(f.get("value")).lower()
            if not token:
                raise Invalid(f"filter {op} on {name} needs a value")

            def contains(row: dict[str, str | None]) -> bool:
                text = (row.get(name) or "").lower()
                if not text:
                    return False
                if "*" in token:
                    return fnmatch.fnmatchcase(text, token) or any(
                        fnmatch.fnmatchcase(t, token) for t in _TOKEN_SPLIT.split(text) if t
                    )
                return token == text or token in _TOKEN_SPLIT.split(text)

            return contains if op == "CONTAINS_TOKEN" else (lambda row: not contains(row))
        if op in ("IN", "NOT_IN"):
            values = f.get("values")
            if not isinstance(values, list) or not values:
                raise Invalid(f"filter {op} on {name} needs a non-empty values list")
            wanted = {parsed(v) for v in values}
            if op == "IN":
                return lambda row: any(v in wanted for v in stored(row))
            return lambda row: not any(v in wanted for v in stored(row))
        if op == "BETWEEN":
            low, high = parsed(f.get("value")), parsed(f.get("highValue"))
            return lambda row: any(low <= v <= high for v in stored(row))
        target = parsed(f.get("value"))
        compare: dict[str, Callable[[Any], bool]] = {
            "EQ": lambda v: v == target,
            "GT": lambda v: v > target,
            "GTE": lambda v: v >= target,
            "LT": lambda v: v < target,
            "LTE": lambda v: v <= target,
        }
        if op == "NEQ":
            return lambda row: not any(v == target for v in stored(row))
        test = compare[op]
        return lambda row: any(test(v) for v in stored(row))

    @staticmethod
    def _key_fn(prop: SandboxProperty) -> Callable[[str], Any]:
        """How values of this property compare: numbers and times numerically, text ignoring case."""
        if prop.type == "number":

            def number(value: str) -> float | None:
                try:
                    return float(value)
                except ValueError:
                    return None

            return number
        if prop.type in ("datetime", "date"):
            return to_epoch_ms
        return str.lower

    def _match(self, groups: list[_Group], query: str | None, store: _Store) -> list[int]:
        """Ids matching any group (every record when there is none), ascending."""
        if not groups:
            ids = list(store.ids)
        else:
            found: list[int] = []
            for group in groups:
                found.extend(self._match_group(group, store))
            ids = sorted(set(found)) if len(groups) > 1 else found
        if query:
            needle = query.strip().lower()
            rows, fields = store.rows, store.kind.query_fields
            ids = [i for i in ids if any(needle in (rows[i].get(p) or "").lower() for p in fields)]
        return ids

    def _match_group(self, group: _Group, store: _Store) -> list[int]:
        rows = store.rows
        if group.ids is not None:
            cands = sorted(i for i in group.ids if i in rows and group.lo <= i <= group.hi)
            return [i for i in cands if all(p(rows[i]) for p in group.preds)]
        if not group.preds:
            base = store.ids
        elif store.kind.cached:
            base = self._cached(group)
        else:
            base = [i for i in store.ids if all(p(rows[i]) for p in group.preds)]
        start = bisect.bisect_left(base, group.lo)
        end = bisect.bisect_right(base, group.hi)
        return base[start:end]

    def _cached(self, group: _Group) -> list[int]:
        """Contact ids matching the group's predicates, kept current from the change log."""
        entry = self._cache.get(group.key)
        version = len(self._log)
        if entry is not None and version - entry.version > max(5_000, len(self._ids) // 4):
            entry = None  # too far behind: rebuilding is cheaper
        if entry is None:
            preds, props = group.preds, self._props
            ids = [i for i in self._ids if all(p(props[i]) for p in preds)]
            entry = _CacheEntry(version, ids, preds)
            self._cache[group.key] = entry
            if len(self._cache) > 64:
                self._cache.popitem(last=False)
        elif entry.version < version:
            for cid in set(self._log[entry.version :]):
                pos = bisect.bisect_left(entry.ids, cid)
                present = pos < len(entry.ids) and entry.ids[pos] == cid
                ok = cid in self._props and all(p(self._props[cid]) for p in entry.preds)
                if ok and not present:
                    entry.ids.insert(pos, cid)
                elif present and not ok:
                    del entry.ids[pos]
            entry.version = version
        self._cache.move_to_end(group.key)
        return entry.ids

    def _sorts(self, raw: Any, store: _Store) -> list[tuple[str, bool]]:
        """[(property, descending)] from the object or the string form of `sorts`."""
        if not isinstance(raw, list):
            raise Invalid("sorts must be a list")
        out = []
        for item in raw:
            if isinstance(item, str):
                desc = item.startswith("-")
                name, direction = item.lstrip("-"), ("DESCENDING" if desc else "ASCENDING")
            elif isinstance(item, dict):
                name, direction = str(item.get("propertyName")), str(item.get("direction", "ASCENDING"))
            else:
                raise Invalid("every sort must be an object or a property name")
            if direction not in ("ASCENDING", "DESCENDING"):
                raise Invalid(f"sort direction must be ASCENDING or DESCENDING, got {direction!r}")
            if name not in store.schema:
                raise Invalid(f"Unable to find property {name!r} to sort on")
            out.append((name, direction == "DESCENDING"))
        if len(out) > 1:
            raise Invalid("Only one sort can be applied to a search")
        return out

    def _sorted(self, ids: list[int], sorts: list[tuple[str, bool]], store: _Store) -> list[int]:
        """Order matches by the sort; records without a value come last, ties by id."""
        if not sorts or sorts[0] == ("hs_object_id", False):
            return ids
        name, desc = sorts[0]
        if name == "hs_object_id":
            return ids[::-1]
        key = self._key_fn(store.schema[name])
        valued: list[tuple[Any, int]] = []
        empty: list[int] = []
        for cid in ids:
            raw = store.rows[cid].get(name)
            k = key(raw) if raw else None
            if k is None:
                empty.append(cid)
            else:
                valued.append((k, cid))
        valued.sort(key=lambda pair: pair[0], reverse=desc)  # stable: ties keep id order
        return [cid for _, cid in valued] + empty

    # ------------------------------------------------------------ properties and groups
    def _schema_for(self, object_type: str) -> tuple[dict[str, SandboxProperty], dict[str, dict[str, Any]]]:
        """The property definitions and groups of one object type (contacts or companies)."""
        if object_type == "companies":
            return self._company_schema, self._company_groups
        return self._schema, self._groups

    def properties_list(self, request: Request, object_type: str = "contacts") -> Response:
        schema, _ = self._schema_for(object_type)
        with self._state:
            results = [p.to_json() for p in schema.values()]
        return self._ok(request, {"results": results})

    def property_get(self, request: Request, name: str, object_type: str = "contacts") -> Response:
        schema, _ = self._schema_for(object_type)
        with self._state:
            prop = schema.get(name)
            if prop is None:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
            return self._ok(request, prop.to_json())

    def property_create(self, request: Request, object_type: str = "contacts") -> Response:
        schema, groups = self._schema_for(object_type)
        try:
            body = self._body(request)
            missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
            if missing:
                raise Invalid(f"Invalid input JSON: missing required fields {missing}")
            name, kind, field_type = str(body["name"]), str(body["type"]), str(body["fieldType"])
            if not _NAME.match(name):
                raise Invalid(f"Property name {name!r} must be lower case letters, digits and underscores")
            if kind not in FIELD_TYPES:
                raise Invalid(f"type {kind!r} must be one of {sorted(FIELD_TYPES)}")
            if field_type not in FIELD_TYPES[kind]:
                raise Invalid(f"fieldType {field_type!r} is not valid for type {kind!r}")
            options = self._option_input(body.get("options") or [])
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        stamp = self._now_iso()
        with self._state:
            if name in schema:
                return self._fail(
                    request, 409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists."
                )
            if body["groupName"] not in groups:
                return self._fail(
                    request, 400, "VALIDATION_ERROR", f"Unable to find property group {body['groupName']}"
                )
            if kind == "bool" and not options:
                options = _options([("Yes", "true"), ("No", "false")])
            prop = SandboxProperty(
                name=name,
                label=str(body["label"]),
                type=kind,
                field_type=field_type,
                group_name=str(body["groupName"]),
                description=str(body.get("description") or ""),
                options=options,
                hidden=bool(body.get("hidden", False)),
                display_order=int(body.get("displayOrder", -1)),
                hubspot_defined=False,
                created_at=stamp,
                updated_at=stamp,
            )
            schema[name] = prop
            return self._ok(request, prop.to_json(), 201)

    def property_update(self, request: Request, name: str, object_type: str = "contacts") -> Response:
        """PATCH one property: the given fields replace the stored ones (`options` as a whole list)."""
        schema, groups = self._schema_for(object_type)
        try:
            body = self._body(request)
            unknown = sorted(set(body) - PROPERTY_UPDATE_FIELDS)
            if unknown:
                raise Invalid(f"Invalid input JSON: Unrecognized field {unknown[0]!r} in PropertyUpdate")
            for key, kind in (("label", str), ("description", str), ("groupName", str), ("type", str)):
                if key in body and not isinstance(body[key], kind):
                    raise Invalid(f"Invalid input JSON: {key} must be a string")
            for key in ("hidden", "formField"):
                if key in body and not isinstance(body[key], bool):
                    raise Invalid(f"Invalid input JSON: {key} must be true or false")
            if "displayOrder" in body and (
                isinstance(body["displayOrder"], bool) or not isinstance(body["displayOrder"], int)
            ):
                raise Invalid("Invalid input JSON: displayOrder must be an integer")
            if "label" in body and not body["label"].strip():
                raise Invalid("label must not be empty")
            options = self._option_input(body["options"], require_hidden=True) if "options" in body else None
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        with self._state:
            prop = schema.get(name)
            if prop is None:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")
            kind = str(body.get("type", prop.type))
            field_type = str(body.get("fieldType", prop.field_type))
            problem = None
            if kind not in FIELD_TYPES:
                problem = f"type {kind!r} must be one of {sorted(FIELD_TYPES)}"
            elif field_type not in FIELD_TYPES[kind]:
                problem = f"fieldType {field_type!r} is not valid for type {kind!r}"
            elif prop.hubspot_defined and (kind, field_type) != (prop.type, prop.field_type):
                problem = f"{name} is a HubSpot-defined property: its type and fieldType cannot be changed"
            elif "groupName" in body and body["groupName"] not in groups:
                problem = f"Unable to find property group {body['groupName']}"
            elif options is not None and kind not in ("enumeration", "bool"):
                problem = f"options can only be set on enumeration properties; {name} is {kind}"
            if problem:
                return self._fail(request, 400, "VALIDATION_ERROR", problem)
            prop.type, prop.field_type = kind, field_type
            if options is not None:
                prop.options = options
            prop.label = body.get("label", prop.label)
            prop.description = body.get("description", prop.description)
            prop.group_name = body.get("groupName", prop.group_name)
            prop.hidden = body.get("hidden", prop.hidden)
            prop.display_order = body.get("displayOrder", prop.display_order)
            prop.updated_at = self._now_iso()
            self._cache.clear()  # a changed type changes how searches compare values
            return self._ok(request, prop.to_json())

    @staticmethod
    def _option_input(raw: Any, *, require_hidden: bool = False) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise Invalid("options must be a list")
        out, seen = [], set()
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not item.get("label") or item.get("value") in (None, ""):
                raise Invalid("every option needs a label and a value")
            if require_hidden and not isinstance(item.get("hidden"), bool):  # OptionInput requires it
                raise Invalid(f"option {item['value']!r}: hidden is required (true or false)")
            value = str(item["value"])
            if value in seen:
                raise Invalid(f"Duplicate option value {value!r}")
            seen.add(value)
            out.append(
                {
                    "label": str(item["label"]),
                    "value": value,
                    "displayOrder": int(item.get("displayOrder", i)),
                    "hidden": bool(item.get("hidden", False)),
                }
            )
        return out

    def groups_list(self, request: Request, object_type: str = "contacts") -> Response:
        _, groups = self._schema_for(object_type)
        with self._state:
            return self._ok(request, {"results": [dict(g) for g in groups.values()]})

    def group_get(self, request: Request, name: str, object_type: str = "contacts") -> Response:
        _, groups = self._schema_for(object_type)
        with self._state:
            group = groups.get(name)
            if group is None:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", f"Unable to find property group {name}")
            return self._ok(request, dict(group))

    def group_create(self, request: Request, object_type: str = "contacts") -> Response:
        _, groups = self._schema_for(object_type)
        try:
            body = self._body(request)
            name, label = body.get("name"), body.get("label")
            if not name or not label:
                raise Invalid("Invalid input JSON: a property group needs a name and a label")
            if not _NAME.match(str(name)):
                raise Invalid(f"Group name {name!r} must be lower case letters, digits and underscores")
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        with self._state:
            if name in groups:
                return self._fail(
                    request, 409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists."
                )
            group = {
                "name": str(name),
                "label": str(label),
                "displayOrder": int(body.get("displayOrder", -1)),
                "archived": False,
            }
            groups[str(name)] = group
            return self._ok(request, dict(group), 201)
