"""A faithful fake of HubSpot CRM v3 contacts and contact properties, on loopback.

It answers what the official `hubspot-api-client` 12.x deserialises, and refuses what
HubSpot refuses: bad tokens, calls needing a scope the app lacks (403), pages past the
search depth of 10,000, oversize batches, property values of the wrong type (rejecting the
whole batch, the per-property errors embedded as JSON text in `message`), unknown IDs
(207), duplicate properties (409) and requests over the rolling ten-second, per-second
search and daily limits (429 with HubSpot's body and headers).

Emulated: contacts list/get/update/search/batch read/batch update/batch create (with
associations to companies, `hubspot_create.py`), archive (one and batch), GDPR delete, and
reads of archived contacts (`archived=true` on list and batch read), contact properties
(list/get/create/update) and property groups (list/get/create); companies, their properties
and the v4 contact-company associations read, over the companies' store (`hubspot_companies.py`).
Not emulated: association writes (but a create's), restoring archived contacts, GDPR's email
blocklist, search index lag, lifecycle-stage ordering rules, property history, OAuth.

State lives in memory, in one object store per object type (`hubspot_store.py`: property
definitions, groups and records; `hubspot_contacts.py`, `hubspot_companies.py`) that the
endpoints and test helpers of both types share; the property model and value rules are
`hubspot_schema.py`, the search `hubspot_search.py`. Contact searches keep a small cache of
matching ids per filter set, updated incrementally as contacts change, so paging through
100,000 contacts stays fast.
"""

from __future__ import annotations

import bisect
import hmac
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connector.hubspot.limits import (  # HubSpot's contract, shared with the adapter and the mapping
    MAX_BATCH,
    MAX_FILTER_GROUPS,
    MAX_FILTERS_PER_GROUP,
    MAX_TEXT,
    OPERATORS,
)
from connector.hubspot.limits import MAX_LIST_PAGE as MAX_LIST_LIMIT
from connector.hubspot.limits import MAX_SEARCH_PAGE as MAX_SEARCH_LIMIT
from connector.hubspot.limits import MAX_SEARCH_RESULTS as MAX_SEARCH_DEPTH
from connector.sandbox.hubspot_companies import (
    ASSOCIATION_PAGE,
    COMPANY_RULES,
    COMPANY_SCOPES,
    MAX_ASSOCIATION_INPUTS,
    OBJECT_TYPE_NAMES,
    CompanyStore,
    association_types,
    links_page,
    no_associations,
)
from connector.sandbox.hubspot_contacts import ContactStore
from connector.sandbox.hubspot_create import create, parse_inputs, refusal
from connector.sandbox.hubspot_schema import (
    FIELD_TYPES,
    Invalid,
    SandboxProperty,
    as_text,
    invalid_value,
    now_ms,
    option_list,
)
from connector.sandbox.hubspot_search import compile_groups, match, parse_sorts, sort_ids, to_int
from connector.sandbox.hubspot_store import ObjectStore, Row
from connector.sandbox.seed import iso_from_ms, seed_contacts
from connector.sandbox.server import Fault, Knobs, SandboxServer

__all__ = [  # the limits re-exported: tests check the sandbox follows the adapter's numbers
    "MAX_BATCH",
    "MAX_FILTERS_PER_GROUP",
    "MAX_LIST_LIMIT",
    "MAX_SEARCH_DEPTH",
    "MAX_SEARCH_LIMIT",
    "MAX_TEXT",
    "OPERATORS",
    "HubSpotSandbox",
    "SandboxProperty",
]

SEARCH_ENDPOINTS = frozenset({"contacts_search", "companies_search"})
PORTAL_ID = 24_681_357
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
# The private-app scope each endpoint needs (granular scopes, as HubSpot's 403 names them).
REQUIRED_SCOPES = {
    "contacts_list": "crm.objects.contacts.read",
    "contacts_get": "crm.objects.contacts.read",
    "contacts_search": "crm.objects.contacts.read",
    "contacts_batch_read": "crm.objects.contacts.read",
    "contacts_update": "crm.objects.contacts.write",
    "contacts_batch_update": "crm.objects.contacts.write",
    "contacts_batch_create": "crm.objects.contacts.write",
    "contacts_archive": "crm.objects.contacts.write",
    "contacts_batch_archive": "crm.objects.contacts.write",
    "contacts_gdpr_delete": "crm.objects.contacts.write",
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
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _correlation_id() -> str:
    return str(uuid.uuid4())


def _archived(request: Request) -> bool:
    """Whether a read asks for archived records only (`?archived=true`)."""
    return request.args.get("archived", "false").lower() == "true"


class HubSpotSandbox(SandboxServer):
    """Fake HubSpot CRM v3 (contacts, companies, their properties and groups, v4 contact-company
    associations) with HubSpot's limits.

    The contacts' and the companies' stores (`self.contacts`, `self.companies`) are shared by
    the endpoints and the test helpers of both object types; `self._state` guards them.
    """

    name = "hubspot"
    association_page = ASSOCIATION_PAGE  # associations answered per input before `paging.next.after`
    url_map = Map(
        [
            Rule("/crm/v3/objects/contacts", methods=["GET"], endpoint="contacts_list"),
            Rule("/crm/v3/objects/contacts/search", methods=["POST"], endpoint="contacts_search"),
            Rule("/crm/v3/objects/contacts/batch/read", methods=["POST"], endpoint="contacts_batch_read"),
            Rule("/crm/v3/objects/contacts/batch/update", methods=["POST"], endpoint="contacts_batch_update"),
            Rule("/crm/v3/objects/contacts/batch/create", methods=["POST"], endpoint="contacts_batch_create"),
            Rule(
                "/crm/v3/objects/contacts/batch/archive", methods=["POST"], endpoint="contacts_batch_archive"
            ),  # noqa: E501
            Rule("/crm/v3/objects/contacts/gdpr-delete", methods=["POST"], endpoint="contacts_gdpr_delete"),
            Rule("/crm/v3/objects/contacts/<contact_id>", methods=["GET"], endpoint="contacts_get"),
            Rule("/crm/v3/objects/contacts/<contact_id>", methods=["PATCH"], endpoint="contacts_update"),
            Rule("/crm/v3/objects/contacts/<contact_id>", methods=["DELETE"], endpoint="contacts_archive"),
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
        self.contacts = ContactStore()
        self.contacts.seed(seed_contacts(contacts, seed), seed)
        # Companies for the contacts' domains, and their associations.
        self.companies = CompanyStore()
        self.companies.seed(self.contacts, seed)
        self._company_schema = self.companies.schema  # the company property definitions, by name

    # ------------------------------------------------------------ test helpers: contacts
    def add_contact(self, props: Mapping[str, str | None]) -> str:
        """Create a contact as a person would in HubSpot; returns its id.

        `createdate` / `lastmodifieddate` may be given to place it in time.
        """
        self.contacts.check_known(props)
        with self._state:
            return str(self.contacts.insert(dict(props)))

    def edit_contact(self, contact_id: str, props: Mapping[str, str | None]) -> None:
        """Change a contact as a person editing in HubSpot would (bumps lastmodifieddate)."""
        self.contacts.check_known(props)
        with self._state:
            self.contacts.edit(contact_id, props)

    def merge_contacts(self, primary_id: str, other_id: str) -> str:
        """Merge two contacts as HubSpot does: a new id, the primary's values winning,
        `hs_merged_object_ids` listing the old ids, which resolve to the new contact on read."""
        with self._state:
            primary, other = int(primary_id), int(other_id)
            new = self.contacts.merge(primary, other)
            self.companies.merge_links(primary, other, new)  # the merged contact keeps both's companies
            return str(new)

    def contact(self, contact_id: str) -> Row:
        """Every property the portal defines, for one contact (None where it has no value)."""
        with self._state:
            return self.contacts.values(contact_id)

    def contact_ids(self) -> list[str]:
        """Every contact id, ascending."""
        with self._state:
            return [str(i) for i in self.contacts.ids]

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
            self.contacts.schema[name] = prop
            self.contacts.cache.clear()
        return prop.to_json()

    def answer_next(
        self, status: int, body: dict[str, Any], endpoint: str | None = None, count: int = 1
    ) -> None:
        """Answer the next matching requests with this status and body, whatever they ask."""
        self._script(count, Fault(status=status, body=body), endpoint)

    def archive_contact(self, contact_id: str) -> None:
        """Delete (archive) a contact as a person would: reads and searches no longer see it,
        and a batch update naming it answers 207 with OBJECT_NOT_FOUND for it; reads with
        `archived=true` do see it."""
        with self._state:
            self.contacts.archive(int(contact_id))

    def gdpr_delete_contact(self, contact_id: str) -> None:
        """Delete a contact for good (live or archived), as a GDPR request in HubSpot does:
        no read finds it again, not even with `archived=true`."""
        with self._state:
            self.contacts.gdpr_delete(int(contact_id))

    def archived_contact_ids(self) -> list[str]:
        """Every archived contact id, ascending."""
        with self._state:
            return [str(i) for i in sorted(self.contacts.archived)]

    def delete_property(self, name: str) -> None:
        """Delete a property definition as a portal admin would (its values go with it)."""
        with self._state:
            self.contacts.delete_property(name)

    def remove_option(self, name: str, value: str) -> None:
        """Remove one option of an enumeration property, as a portal admin would."""
        with self._state:
            prop = self.contacts.schema[name]
            prop.options = [o for o in prop.options if o.get("value") != value]

    def add_validation_rule(self, name: str, accepts: Callable[[str], bool], message: str) -> None:
        """A portal-level validation rule: a value `accepts` refuses fails the whole batch with 400."""
        with self._state:
            self.contacts.rules[name] = (accepts, message)

    def property_names(self) -> list[str]:
        with self._state:
            return sorted(self.contacts.schema)

    # ------------------------------------------------------------ test helpers: companies
    def add_company(self, props: Mapping[str, str | None]) -> str:
        """Create a company as a person would in HubSpot; returns its id."""
        self.companies.check_known(props)
        with self._state:
            cid = self.companies.insert(self.companies.normalised(props), created=iso_from_ms(now_ms()))
            return str(cid)

    def edit_company(self, company_id: str, props: Mapping[str, str | None]) -> None:
        """Change a company as a person editing in HubSpot would (bumps hs_lastmodifieddate)."""
        self.companies.check_known(props)
        with self._state:
            self.companies.edit(company_id, props)

    def company(self, company_id: str) -> Row:
        """Every company property the portal defines, for one company (None where it has no value)."""
        with self._state:
            return self.companies.values(company_id)

    def company_ids(self) -> list[str]:
        """Every company id, ascending."""
        with self._state:
            return [str(i) for i in self.companies.ids]

    def companies_with_domain(self, domain: str) -> list[str]:
        """Ids of the companies whose `domain` is this one (case ignored)."""
        with self._state:
            return self.companies.with_domain(domain)

    def associate(self, contact_id: str, company_id: str, *, primary: bool = False) -> None:
        """Link a contact to a company (as the primary one: any other primary becomes unlabelled)."""
        with self._state:
            contact, company = int(contact_id), int(company_id)
            if contact not in self.contacts.rows or company not in self.companies.rows:
                raise KeyError(f"no contact {contact_id} or no company {company_id}")
            self.companies.associate(contact, company, primary)

    def dissociate(self, contact_id: str, company_id: str | None = None) -> None:
        """Remove a contact's link to one company, or to every company."""
        with self._state:
            self.companies.dissociate(int(contact_id), int(company_id) if company_id is not None else None)

    def company_links(self, contact_id: str) -> dict[str, bool]:
        """A contact's associated companies: company id -> whether it is the primary one."""
        with self._state:
            return {str(k): v for k, v in self.companies.links.get(int(contact_id), {}).items()}

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
        prop = SandboxProperty.custom(
            name, type, field_type, label=label, group_name=group_name, options=options, read_only=read_only
        )
        with self._state:
            self.companies.schema[name] = prop
        return prop.to_json()

    def company_property_names(self) -> list[str]:
        with self._state:
            return sorted(self.companies.schema)

    def _store(self, object_type: str) -> ObjectStore:
        """The records of one object type (contacts or companies), for the handlers they share."""
        return self.companies if object_type == "companies" else self.contacts

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

    def _no_content(self, request: Request) -> Response:
        return Response(status=204, headers=request.environ.get("sandbox.hubspot.headers"))

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
        archived = _archived(request)
        with self._state:
            store = self.contacts
            ids = sorted(store.archived) if archived else store.ids
            start = bisect.bisect_left(ids, after)
            page = ids[start : start + limit]
            if archived:
                results = [store.archived_object(cid, wanted) for cid in page]
            else:
                results = [store.object(cid, wanted) for cid in page]
            more = start + limit < len(ids)
        body: dict[str, Any] = {"results": results}
        if more:
            nxt = str(page[-1] + 1)
            link = f"{self.url}/crm/v3/objects/contacts?limit={limit}&after={nxt}"
            if archived:
                link += "&archived=true"
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
        changes = {str(k): as_text(v) for k, v in props.items()}
        with self._state:
            store = self._store("contacts")
            errors = self._validate(changes, store)
            if errors:
                return self._validation_failure(request, errors)
            cid = store.resolve(contact_id, request.args.get("idProperty"))
            if cid is None:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", "resource not found")
            store.write(cid, changes)
            return self._ok(request, store.object(cid, (), changes))

    def contacts_batch_read(self, request: Request) -> Response:
        return self._batch_read(request, "contacts")

    def contacts_batch_update(self, request: Request) -> Response:
        return self._batch_update(request, "contacts")

    def contacts_archive(self, request: Request, contact_id: str) -> Response:
        """`DELETE .../contacts/{id}`: 204, whether or not the contact was there (HubSpot's archive
        of an unknown or already archived id answers 204 too)."""
        with self._state:
            cid = self.contacts.resolve(contact_id, None)
            if cid is not None:
                self.contacts.archive(cid)
        return self._no_content(request)

    def contacts_batch_archive(self, request: Request) -> Response:
        """`POST .../contacts/batch/archive` (`{inputs: [{id}]}`): 204; unknown ids are skipped."""
        try:
            inputs = self._inputs(self._body(request))
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        with self._state:
            for item in inputs:
                cid = self.contacts.resolve(item.get("id"), None)
                if cid is not None:
                    self.contacts.archive(cid)
        return self._no_content(request)

    def contacts_gdpr_delete(self, request: Request) -> Response:
        """`POST .../contacts/gdpr-delete` (`{objectId, idProperty?}`): 204, the contact gone for good;
        404 for an unknown id (an unknown email answers 204: HubSpot blocklists it)."""
        try:
            body = self._body(request)
            raw = body.get("objectId")
            if raw in (None, ""):
                raise Invalid("Invalid input JSON: objectId is required")
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        id_property = body.get("idProperty")
        by_email = id_property == "email"
        with self._state:
            cid = self.contacts.resolve(raw, id_property)
            if cid is None and not by_email:
                cid = self.contacts.resolve_archived(raw)
            if cid is None and not by_email:
                return self._fail(request, 404, "OBJECT_NOT_FOUND", "resource not found")
            if cid is not None:
                self.contacts.gdpr_delete(cid)
        return self._no_content(request)

    def contacts_batch_create(self, request: Request) -> Response:
        """`POST .../contacts/batch/create`: 201, all created; or the whole batch refused (hubspot_create)."""
        started = self._now_iso()
        try:
            batch = parse_inputs(self._inputs(self._body(request)))
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        with self._state:
            refused = refusal(batch, self.contacts, self.companies, self._validate)
            if refused is not None and "errors" in refused.extra:
                return self._validation_failure(request, refused.extra["errors"])
            if refused is not None:
                return self._fail(request, refused.status, refused.category, refused.message, **refused.extra)
            results = [create(item, self.contacts, self.companies) for item in batch]
        answer = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": self._now_iso(),
        }
        return self._ok(request, answer, 201)

    # ------------------------------------------------------------ shared by contacts and companies
    def _get_one(self, request: Request, raw_id: str, object_type: str) -> Response:
        """`GET /crm/v3/objects/{type}/{id}`: one record, or 404 (archived contacts: `archived=true`)."""
        wanted = self._wanted(request)
        with self._state:
            store = self._store(object_type)
            if object_type == "contacts" and _archived(request):
                archived = self.contacts.resolve_archived(raw_id)
                if archived is None:
                    return self._fail(request, 404, "OBJECT_NOT_FOUND", "resource not found")
                return self._ok(request, self.contacts.archived_object(archived, wanted))
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
        archived = object_type == "contacts" and _archived(request)  # archived contacts only, as HubSpot
        with self._state:
            results, missing, seen = [], [], set()
            for item in inputs:
                raw = item.get("id")
                cid = self.contacts.resolve_archived(raw) if archived else store.resolve(raw, id_property)
                if cid is None:
                    missing.append(str(raw))
                elif cid not in seen:
                    seen.add(cid)
                    read = self.contacts.archived_object if archived else store.object
                    results.append(read(cid, wanted))
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
        changes = [{str(k): as_text(v) for k, v in item["properties"].items()} for item in inputs]
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

    def _validate(self, changes: Mapping[str, str], store: ObjectStore) -> list[dict[str, Any]]:
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
                problem = invalid_value(prop, value)
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
            limit = to_int(body.get("limit", 10), "limit")
            after = to_int(body.get("after") or 0, "after")
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
                sorts = parse_sorts(body.get("sorts") or [], store)
                groups = compile_groups(groups_raw, store)
                cache = self.contacts.cache if store.kind.cached else None
                ids = match(groups, query if isinstance(query, str) and query.strip() else None, store, cache)
                ids = sort_ids(ids, sorts, store)
                total = len(ids)
                page = ids[after : after + limit]
                results = [store.object(cid, wanted) for cid in page]
        except Invalid as exc:
            return self._fail(request, 400, "VALIDATION_ERROR", str(exc))
        answer: dict[str, Any] = {"total": total, "results": results}
        if after + limit < total and limit:
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return self._ok(request, answer)

    # ------------------------------------------------------------ properties and groups
    def _schema_for(self, object_type: str) -> tuple[dict[str, SandboxProperty], dict[str, dict[str, Any]]]:
        """The property definitions and groups of one object type (contacts or companies)."""
        store = self._store(object_type)
        return store.schema, store.groups

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
                options = option_list([("Yes", "true"), ("No", "false")])
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
            for key in ("label", "description", "groupName", "type"):
                if key in body and not isinstance(body[key], str):
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
            self.contacts.cache.clear()  # a changed type changes how searches compare values
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
                links = self.companies.links_from(source, raw, self.contacts.rows)
                if not links:
                    empty.append(raw)
                    continue
                page, more = links_page(links, after, self.association_page)
                entry: dict[str, Any] = {
                    "from": {"id": raw},
                    "to": [
                        {"toObjectId": cid, "associationTypes": association_types(source, primary)}
                        for cid, primary in page
                    ],
                }
                if more:
                    entry["paging"] = {"next": {"after": str(page[-1][0]), "link": None}}
                results.append(entry)
        errors = [no_associations(source, target, raw) for raw in empty]
        return self._batch_answer(request, started, results, errors)
