"""The sandbox portal's contacts: their `ObjectStore`, with what only contacts have.

Contacts are found by id or by `email` (a unique property), can be merged (the merged-away
ids then read as the contact they live on in), archived (kept apart, read only with
`archived=true`, as HubSpot keeps them restorable) and GDPR-deleted (gone for good, not even
archived), and their searches keep a
`SearchCache` (portals of 100,000 contacts are paged through), kept current from the change log
every insert and write appends to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.sandbox.hubspot_schema import (
    STANDARD_GROUPS,
    normalise,
    now_ms,
    standard_properties,
    to_epoch_ms,
)
from connector.sandbox.hubspot_search import SearchCache
from connector.sandbox.hubspot_store import ObjectKind, ObjectStore, Row
from connector.sandbox.seed import iso_from_ms

DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
QUERY_FIELDS = ("firstname", "lastname", "email", "company", "phone", "website")  # a search's `query`
FIRST_CONTACT_ID = 51
# Searches page through portals of 100,000 contacts: they keep the change-log cache.
CONTACT_KIND = ObjectKind(
    "CONTACT", DEFAULT_PROPERTIES, "lastmodifieddate", QUERY_FIELDS, cached=True, faulty=True
)


class ContactStore(ObjectStore):
    """The portal's contacts (see the module)."""

    def __init__(self) -> None:
        super().__init__(CONTACT_KIND, standard_properties(), STANDARD_GROUPS)
        self.by_email: dict[str, int] = {}
        self.merged: dict[int, int] = {}  # a merged-away id -> the contact it lives on in
        self.archived: dict[int, Row] = {}  # archived contacts (with `archivedAt`), by id
        self.next_id = FIRST_CONTACT_ID
        self.cache = SearchCache()

    def seed(self, rows: list[Row], seed: int) -> None:
        """Insert seeded contacts with non-contiguous ids (as real portals have)."""
        step = seed % 3 + 1
        for i, row in enumerate(rows):
            self.insert(row, step=1 + (i * step) % 3, trusted=True)

    def insert(self, props: Row, step: int = 1, trusted: bool = False) -> int:
        """Store a new contact; `trusted` values (from the seed) are already in HubSpot's form."""
        cid = self.next_id
        self.next_id += step
        row: Row
        if trusted:
            row = {name: value for name, value in props.items() if value}
        else:
            row = {}
            for name, value in props.items():
                if value is None or value == "":
                    continue
                prop = self.schema.get(name)
                row[name] = normalise(prop, value) if prop else value
        if "createdate" not in row:
            row["createdate"] = iso_from_ms(now_ms())
        row.setdefault("lastmodifieddate", row["createdate"])
        row["hs_lastmodifieddate"] = row["lastmodifieddate"]
        row["hs_object_id"] = str(cid)
        self.rows[cid] = row
        self.ids.append(cid)  # ids only grow, so the list stays sorted
        email = row.get("email")
        if email:
            self.by_email[email.lower()] = cid
        self.log.append(cid)
        return cid

    def write(self, cid: int, changes: Mapping[str, str]) -> None:
        """Apply validated changes and bump the modification stamps."""
        row = self.rows[cid]
        old_email = row.get("email")
        for name, value in changes.items():
            prop = self.schema.get(name)
            row[name] = normalise(prop, value) if prop else (value or None)
        stamp = iso_from_ms(max(now_ms(), (to_epoch_ms(row["lastmodifieddate"] or "0") or 0) + 1))
        row["lastmodifieddate"] = row["hs_lastmodifieddate"] = stamp
        if row.get("email") != old_email:
            if old_email:
                self.by_email.pop(old_email.lower(), None)
            new_email = row.get("email")
            if new_email:
                self.by_email[new_email.lower()] = cid
        self.log.append(cid)

    def resolve(self, raw_id: Any, id_property: str | None) -> int | None:
        """The contact id an input refers to (by id or by a unique property), or None."""
        if raw_id is None:
            return None
        text = str(raw_id)
        if id_property and id_property != "hs_object_id":
            if id_property != "email":
                return None
            return self.by_email.get(text.lower())
        if not text.isdigit():
            return None
        cid = self.merged.get(int(text), int(text))  # a merged-away id reads as the merged contact
        return cid if cid in self.rows else None

    def merge(self, primary: int, other: int) -> int:
        """Merge two contacts as HubSpot does: a new id, the primary's values winning,
        `hs_merged_object_ids` listing the old ids, which resolve to the new contact on read."""
        a, b = self.rows.pop(primary), self.rows.pop(other)
        self.ids = [i for i in self.ids if i not in (primary, other)]
        for email in (a.get("email"), b.get("email")):
            if email:
                self.by_email.pop(email.lower(), None)
        old = sorted(
            {primary, other}
            | {int(x) for r in (a, b) for x in (r.get("hs_merged_object_ids") or "").split(";") if x}
        )
        merged: Row = {**{k: v for k, v in b.items() if v}, **{k: v for k, v in a.items() if v}}
        for key in ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"):
            merged.pop(key, None)
        merged["createdate"] = a.get("createdate") or iso_from_ms(now_ms())
        merged["lastmodifieddate"] = iso_from_ms(now_ms())
        merged["hs_merged_object_ids"] = ";".join(str(i) for i in old)
        new = self.insert(merged, trusted=True)
        for i in old:
            self.merged[i] = new
        for i, target in list(self.merged.items()):  # ids merged earlier follow along
            if target in (primary, other):
                self.merged[i] = new
        self.cache.clear()
        return new

    def archive(self, cid: int) -> None:
        """Delete (archive) a contact: reads and searches no longer see it; `archived=true` reads do."""
        row = self.rows.pop(cid)
        self.ids = [i for i in self.ids if i != cid]
        email = row.get("email")
        if email:
            self.by_email.pop(email.lower(), None)
        row["archivedAt"] = iso_from_ms(now_ms())
        self.archived[cid] = row
        self.cache.clear()

    def resolve_archived(self, raw_id: Any) -> int | None:
        """The archived contact an id refers to (a merged-away id: the contact it lived on in), or None."""
        text = str(raw_id) if raw_id is not None else ""
        if not text.isdigit():
            return None
        cid = self.merged.get(int(text), int(text))
        return cid if cid in self.archived else None

    def archived_object(self, cid: int, wanted: Sequence[str]) -> dict[str, Any]:
        """One archived contact as HubSpot answers it under `archived=true`."""
        row = self.archived[cid]
        names = dict.fromkeys(self.kind.defaults)
        for name in wanted:
            if name in self.schema:
                names[name] = None
        return {
            "id": str(cid),
            "properties": {name: row.get(name) for name in names},
            "createdAt": row["createdate"],
            "updatedAt": row[self.kind.modified],
            "archived": True,
            "archivedAt": row["archivedAt"],
        }

    def gdpr_delete(self, cid: int) -> None:
        """Delete a contact for good (live or archived): no read, archived or not, finds it again,
        nor any id merged into it."""
        row = self.rows.pop(cid, None) or self.archived.pop(cid)
        self.ids = [i for i in self.ids if i != cid]
        email = row.get("email")
        if email and self.by_email.get(email.lower()) == cid:
            del self.by_email[email.lower()]
        self.merged = {old: new for old, new in self.merged.items() if new != cid}
        self.cache.clear()

    def delete_property(self, name: str) -> None:
        """Delete a property definition (its values go with it)."""
        del self.schema[name]
        for row in self.rows.values():
            row.pop(name, None)
        self.cache.clear()
