"""Whether HubSpot still has contacts the connector holds data about: the reconciliation's question.

A contact deleted in HubSpot is archived (restorable for 90 days, read only with `archived=true`)
or, on a GDPR request, gone for good; a contact merged into another reads as the survivor, whose
`hs_merged_object_ids` names it. The connector must forget the first two and leave the third to
the merge path, so `presence` tells the four apart in at most two batch reads per 100 ids: the
live read first, then the archived read of only the ids the live read did not find.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from connector.hubspot.limits import MERGED_IDS
from connector.hubspot.objects import CrmObjects
from connector.hubspot.records import Contact

PresenceState = Literal["active", "archived", "gone", "merged"]


@dataclass(frozen=True)
class Presence:
    """What HubSpot holds for one contact id.

    `state`: "active" (a live contact), "merged" (merged away into the live contact `merged_into`),
    "archived" (deleted, restorable; `merged_into` names the archived survivor when the id was
    merged away before), "gone" (GDPR-deleted, or never known: HubSpot cannot tell them apart).
    """

    state: PresenceState
    merged_into: str | None = None


ACTIVE = Presence("active")
GONE = Presence("gone")


def presence(objects: CrmObjects[Contact], ids: Sequence[str]) -> dict[str, Presence]:
    """Each id's `Presence`, in the order given (each id once): one live batch read per 100 ids,
    then one archived batch read per 100 of the ids it did not find."""
    unique = list(dict.fromkeys(str(i) for i in ids))
    found: dict[str, Presence] = {}
    live = objects.read(unique, [MERGED_IDS])
    _place(found, live, set(unique), ACTIVE, "merged")
    missing = [i for i in unique if i not in found]
    if missing:
        archived = objects.read(missing, [MERGED_IDS], archived=True)
        _place(found, archived, set(missing), Presence("archived"), "archived")
    return {i: found.get(i, GONE) for i in unique}


def _place(
    found: dict[str, Presence],
    contacts: Iterable[Contact],
    asked: set[str],
    own: Presence,
    merged_state: PresenceState,
) -> None:
    """Record what one read answered: each contact for its own id, and for the asked ids merged into it."""
    for contact in contacts:
        if contact.id in asked:
            found[contact.id] = own
        for old in (contact.properties.get(MERGED_IDS) or "").split(";"):
            old = old.strip()
            if old and old != contact.id and old in asked and old not in found:
                found[old] = Presence(merged_state, contact.id)
