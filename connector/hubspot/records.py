"""What the HubSpot adapter reads and writes, as plain values: contacts, companies, properties.

Kept apart from the calls that produce them so that the sync, the commands and the tests can
name these types without loading the official client, and so that every API module (contacts,
companies, properties) shares one definition and one parser of HubSpot's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from connector.errors import RecordFailure
from connector.hubspot.errors import HubSpotError

R = TypeVar("R", bound="Record")


class Record(Protocol):
    """A contact or a company, as read from HubSpot: what keyset paging needs of one."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class Contact:
    id: str
    properties: dict[str, str | None]
    updated_at: datetime | None


@dataclass(frozen=True)
class Company:
    """One HubSpot company: its id, the properties asked for, when it last changed."""

    id: str
    properties: dict[str, str | None]
    updated_at: datetime | None

    @property
    def domain(self) -> str | None:
        """The company's `domain`, lower-cased and trimmed (None when it has none)."""
        value = (self.properties.get("domain") or "").strip().lower()
        return value or None


@dataclass(frozen=True)
class ContactCompanies:
    """The companies one contact is associated with (ids as HubSpot lists them)."""

    contact_id: str
    company_ids: tuple[str, ...] = ()  # every associated company, the primary one first
    primary_id: str | None = None  # the one labelled Primary (type 1), if any

    @property
    def company_id(self) -> str | None:
        """The company to write to: the primary one, else the only one; None when there is
        none, or several and none of them primary (never a guess)."""
        if self.primary_id is not None:
            return self.primary_id
        return self.company_ids[0] if len(self.company_ids) == 1 else None

    @property
    def ambiguous(self) -> bool:
        """Several companies and none of them primary."""
        return self.primary_id is None and len(self.company_ids) > 1


@dataclass
class AssociationsResult:
    """Each asked contact's companies, and the contacts HubSpot could not answer for."""

    contacts: dict[str, ContactCompanies] = field(default_factory=dict)
    failures: list[RecordFailure] = field(default_factory=list)


@dataclass(frozen=True)
class SearchFilter:
    property: str
    operator: str
    value: str | None = None
    values: tuple[str, ...] | None = None
    high_value: str | None = None


@dataclass(frozen=True)
class PropertyInfo:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: tuple[str, ...]  # option values
    read_only: bool


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: tuple[tuple[str, str], ...] = ()  # (label, value)
    description: str = ""


@dataclass
class BatchResult:
    written: list[str] = field(default_factory=list)  # contact ids with at least one value landed
    failures: list[RecordFailure] = field(default_factory=list)


@dataclass(frozen=True)
class NewContact:
    """One contact to create: its property values and the company to associate as its primary one.

    `key` is the caller's own name for it (a candidate's Sales Navigator URL, say), unique within
    one `create` call: it is sent as the input's `objectWriteTraceId`, which HubSpot echoes on the
    created object, so each created id is matched to its input whatever order HubSpot answers in.
    """

    key: str
    properties: Mapping[str, str]
    company_id: str | None = None  # associated as the contact's Primary company (type 1)


@dataclass(frozen=True)
class CreateFailure:
    """One input HubSpot did not create, and why (`existing_id`: the contact a duplicate email names)."""

    key: str
    code: str  # HubSpot's category (CONFLICT, VALIDATION_ERROR, ...) or a per-property error code
    message: str
    property: str | None = None  # the property whose value was refused, when HubSpot said which
    existing_id: str | None = None  # for a duplicate email: the id of the contact that has it


@dataclass
class CreateResult:
    """What a batch create did: the id of each created input, by key, and the inputs that failed.

    `unmatched`: ids HubSpot created that no input's key names (its answer lacked the echoed
    trace id and nothing else told them apart): they exist; the caller looks them up.
    """

    created: dict[str, str] = field(default_factory=dict)  # key -> new contact id
    failures: list[CreateFailure] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


# -------------------------------------------------------------------- HubSpot's JSON
def contact_from_json(obj: Mapping[str, Any]) -> Contact:
    """A Contact from one object of HubSpot's JSON (id, properties, updatedAt)."""
    return parse_record(Contact, "contact", obj)


def company_from_json(obj: Mapping[str, Any]) -> Company:
    """A Company from one object of HubSpot's JSON (id, properties, updatedAt)."""
    return parse_record(Company, "company", obj)


def parse_record(make: Callable[..., R], noun: str, obj: Mapping[str, Any]) -> R:
    """A contact or company from one object of HubSpot's JSON: `make(id, properties, updated_at)`."""
    try:
        cid = str(obj["id"])
    except (KeyError, TypeError):
        raise HubSpotError(f"HubSpot returned a {noun} without an id") from None
    props = obj.get("properties") or {}
    return make(
        id=cid,
        properties={str(k): None if v is None else str(v) for k, v in props.items()},
        updated_at=parse_time(obj.get("updatedAt")),
    )


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp of HubSpot's as an aware UTC datetime (None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def property_info(p: Any) -> PropertyInfo:
    """A PropertyInfo from the client's property model (read-only when calculated too)."""
    meta = p.modification_metadata
    read_only = bool(getattr(meta, "read_only_value", False)) or bool(p.calculated)
    return PropertyInfo(
        name=p.name,
        label=p.label,
        type=p.type,
        field_type=p.field_type,
        group_name=p.group_name,
        options=tuple(o.value for o in p.options or []),
        read_only=read_only,
    )
