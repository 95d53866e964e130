"""One object type's property model and records in the sandbox portal, shared by its endpoints.

The contact and company endpoints (search, batch read, batch update, get one, properties and
groups) and the test helpers all read and write an `ObjectStore`: its property definitions
and groups, its records (`rows`, by id, and `ids`, ascending), the portal's validation rules
for it and the log of the records that changed (which the search cache follows). What differs
by object type (`ObjectKind`), and how a type resolves and writes records (`ContactStore`,
`CompanyStore`), is said by each type.

Stores take no lock: the sandbox calls them under its own state lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.sandbox.hubspot_schema import SandboxProperty, as_text

Row = dict[str, str | None]


@dataclass(frozen=True)
class ObjectKind:
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


class ObjectStore(ABC):
    """One object type's property definitions, groups and records (see the module)."""

    def __init__(
        self, kind: ObjectKind, schema: Iterable[SandboxProperty], groups: Iterable[tuple[str, str]]
    ) -> None:
        self.kind = kind
        self.schema: dict[str, SandboxProperty] = {p.name: p for p in schema}
        self.groups: dict[str, dict[str, Any]] = {
            name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(groups)
        }
        self.rows: dict[int, Row] = {}
        self.ids: list[int] = []  # ascending
        self.rules: dict[str, tuple[Callable[[str], bool], str]] = {}  # portal validation rules
        self.log: list[int] = []  # record ids in the order they changed (search cache upkeep)

    @abstractmethod
    def resolve(self, raw_id: Any, id_property: str | None) -> int | None:
        """The record an input refers to (by id, or by a unique property), or None."""

    @abstractmethod
    def write(self, cid: int, changes: Mapping[str, str]) -> None:
        """Apply validated changes and bump the modification stamps."""

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

    # ------------------------------------------------------------ what the test helpers share
    def check_known(self, props: Mapping[str, Any]) -> None:
        """A test helper's values must name properties the portal defines (a typo fails loudly)."""
        unknown = sorted(set(props) - set(self.schema))
        if unknown:
            raise ValueError(f"sandbox portal has no {self.kind.noun.lower()} properties {unknown}")

    def edit(self, record_id: str, props: Mapping[str, str | None]) -> None:
        """Change a record as a person editing in HubSpot would (bumps its modification stamps)."""
        cid = int(record_id)
        if cid not in self.rows:
            raise KeyError(f"no {self.kind.noun.lower()} {record_id}")
        self.write(cid, {k: as_text(v) for k, v in props.items()})

    def values(self, record_id: str) -> Row:
        """Every property the portal defines, for one record (None where it has no value)."""
        row = self.rows[int(record_id)]
        return {name: row.get(name) for name in self.schema}
