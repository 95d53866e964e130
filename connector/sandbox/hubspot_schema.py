"""The sandbox portal's property model: HubSpot's property definitions and the values they accept.

Shared by the contact and company endpoints (and their test helpers): what a property is
(`SandboxProperty`, as HubSpot's properties API describes one), the properties every portal
starts with, and HubSpot's value rules: which values a property refuses and with which error
(`invalid_value`), and how it stores the ones it takes (`normalise`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.hubspot.limits import MAX_TEXT
from connector.sandbox.seed import iso_from_ms

STANDARD_CREATED = "2019-08-06T02:41:08.029Z"
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
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_EPOCH_MS = re.compile(r"^-?\d+$")


def now_ms() -> int:
    return int(time.time() * 1000)


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
            options=option_list(opts),
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


def option_list(values: Iterable[tuple[str, str] | str]) -> list[dict[str, Any]]:
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
        p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=option_list(LIFECYCLE_STAGES)),
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


def invalid_value(prop: SandboxProperty, value: str) -> tuple[str, str] | None:
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


def normalise(prop: SandboxProperty, value: str) -> str | None:
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


def as_text(value: Any) -> str:
    """HubSpot coerces JSON numbers and booleans in property values to text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
