"""The sandbox's contact batch create: what HubSpot accepts, refuses and answers when people are added.

`POST /crm/v3/objects/contacts/batch/create`, checked against HubSpot's OpenAPI spec
(`CRM/Contacts/Rollouts/424/v3/contacts.json`: `BatchInputSimplePublicObjectBatchInputForCreate`,
each input `SimplePublicObjectBatchInputForCreate` with `properties` and `associations`
required, `objectWriteTraceId` optional and echoed on the created `SimplePublicObject`;
201 `BatchResponseSimplePublicObject`). Kept out of `hubspot.py` so the rules of a create read in
one place; `HubSpotSandbox.contacts_batch_create` calls `parse_inputs`, `refusal` and `create`
under its state lock.

Refused as HubSpot refuses them, the whole batch at once and nothing created: a malformed body,
more than 100 inputs, an association of a type other than contact → company (1 Primary, 279
unlabelled) or to a company the portal does not have (400 VALIDATION_ERROR); a value HubSpot
rejects (400, the per-property errors embedded in `message`, as for updates; an email that is
not an address is `INVALID_EMAIL`); an email a contact already has, or one two inputs share (409
CONFLICT `Contact already exists. Existing ID: 51`). The wording of the unknown-company
refusal is not published; the sandbox names the ids it could not find, in `context.ids` too.

A created contact gets the next id, `createdate` and `lastmodifieddate` now (so an incremental
pull sees it) and its associations, readable through the v4 associations endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.hubspot.limits import CONTACT_TO_COMPANY, PRIMARY_CONTACT_TO_COMPANY
from connector.sandbox.hubspot_companies import CompanyStore
from connector.sandbox.hubspot_contacts import ContactStore
from connector.sandbox.hubspot_schema import Invalid, as_text
from connector.sandbox.hubspot_store import ObjectStore

CATEGORIES = frozenset({"HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"})  # the spec's enum
CONTACT_COMPANY_TYPES = frozenset({PRIMARY_CONTACT_TO_COMPANY, CONTACT_TO_COMPANY})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Validate = Callable[[Mapping[str, str], ObjectStore], list[dict[str, Any]]]


@dataclass(frozen=True)
class CreateInput:
    """One input of a batch create, as read from the request."""

    properties: dict[str, str]
    companies: tuple[tuple[str, int], ...]  # (company id as sent, association type id)
    trace_id: str | None


@dataclass(frozen=True)
class Refusal:
    """Why HubSpot refuses a whole batch: its status, category, message and extra body fields."""

    status: int
    category: str
    message: str
    extra: dict[str, Any]


def parse_inputs(inputs: list[dict[str, Any]]) -> list[CreateInput]:
    """The inputs, checked against the spec's shapes; raises `Invalid` (400) for the first bad one."""
    parsed = []
    for i, item in enumerate(inputs):
        props = item.get("properties")
        if not isinstance(props, dict):
            raise Invalid(f"Invalid input JSON: inputs[{i}].properties must be an object")
        links = item.get("associations")
        if not isinstance(links, list):
            raise Invalid(f"Invalid input JSON: inputs[{i}].associations is required and must be a list")
        trace = item.get("objectWriteTraceId")
        if trace is not None and not isinstance(trace, str):
            raise Invalid(f"Invalid input JSON: inputs[{i}].objectWriteTraceId must be a string")
        companies = []
        for link in links:
            to = link.get("to") if isinstance(link, dict) else None
            types = link.get("types") if isinstance(link, dict) else None
            if (
                not isinstance(to, dict)
                or to.get("id") in (None, "")
                or not isinstance(types, list)
                or not types
            ):
                raise Invalid(f"Invalid input JSON: inputs[{i}].associations needs to.id and a list of types")
            for spec in types:
                category = spec.get("associationCategory") if isinstance(spec, dict) else None
                type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
                if category not in CATEGORIES or not isinstance(type_id, int) or isinstance(type_id, bool):
                    raise Invalid(
                        f"Invalid input JSON: inputs[{i}].associations types need an associationCategory "
                        f"(one of {sorted(CATEGORIES)}) and an integer associationTypeId"
                    )
                companies.append((str(to["id"]), type_id))
        parsed.append(CreateInput({str(k): as_text(v) for k, v in props.items()}, tuple(companies), trace))
    return parsed


def refusal(
    batch: list[CreateInput], contacts: ContactStore, companies: CompanyStore, validate: Validate
) -> Refusal | None:
    """Why HubSpot would refuse this batch (nothing is then created), or None to create it."""
    bad_types = sorted({t for item in batch for _, t in item.companies if t not in CONTACT_COMPANY_TYPES})
    if bad_types:
        return Refusal(
            400,
            "VALIDATION_ERROR",
            f"association type ids {bad_types} are not valid from contacts to companies "
            f"(HUBSPOT_DEFINED {PRIMARY_CONTACT_TO_COMPANY}: Primary, {CONTACT_TO_COMPANY}: unlabeled)",
            {},
        )
    missing = sorted(
        {raw for item in batch for raw, _ in item.companies if companies.resolve(raw, None) is None}
    )
    if missing:
        return Refusal(
            400,
            "VALIDATION_ERROR",
            f"Could not create associations: no COMPANY with id {', '.join(missing)} exists",
            {"context": {"ids": missing}},
        )
    errors = []
    for item in batch:
        errors += validate(item.properties, contacts)
        email = item.properties.get("email") or ""
        if email and not _EMAIL.match(email.strip()):
            message = f"Email address {email} is invalid"
            errors.append(
                {
                    "isValid": False,
                    "message": message,
                    "error": "INVALID_EMAIL",
                    "name": "email",
                    "localizedErrorMessage": message,
                }
            )
    if errors:
        return Refusal(400, "VALIDATION_ERROR", "", {"errors": errors})
    seen: set[str] = set()
    for item in batch:
        email = (item.properties.get("email") or "").strip().lower()
        if not email:
            continue
        existing = contacts.by_email.get(email)
        if existing is not None:
            return Refusal(409, "CONFLICT", f"Contact already exists. Existing ID: {existing}", {})
        if email in seen:
            return Refusal(409, "CONFLICT", f"Contact already exists: {email} is in this batch twice", {})
        seen.add(email)
    return None


def create(item: CreateInput, contacts: ContactStore, companies: CompanyStore) -> dict[str, Any]:
    """Create one validated contact with its associations; HubSpot's `SimplePublicObject` for it."""
    cid = contacts.insert(dict(item.properties.items()))
    for raw, type_id in item.companies:
        company = companies.resolve(raw, None)
        if company is not None:
            companies.associate(cid, company, type_id == PRIMARY_CONTACT_TO_COMPANY)
    answer = contacts.object(cid, (), item.properties)
    if item.trace_id is not None:
        answer["objectWriteTraceId"] = item.trace_id
    return answer
