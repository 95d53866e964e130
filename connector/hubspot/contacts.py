"""HubSpot contacts: search, list, batch read, batch update and batch create, through the shared transport.

The search never meets HubSpot's 10,000-result cap (keyset paging, `CrmObjects.search`) and
fixes its upper `lastmodifieddate` bound when it starts, so contacts changed during a run are
left for the next one; batch updates land every valid value of a batch (`CrmObjects.update`);
batch creates associate each new contact with its company and are never sent twice blindly
(`contact_create`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import hubspot.crm.contacts as hs_contacts

from connector.hubspot.contact_create import ContactCreator
from connector.hubspot.limits import MAX_FILTERS_PER_GROUP, MAX_LIST_PAGE, MAX_SEARCH_PAGE, OPERATORS
from connector.hubspot.objects import CrmObjects, next_after
from connector.hubspot.presence import Presence, presence
from connector.hubspot.records import (
    BatchResult,
    Contact,
    CreateResult,
    NewContact,
    SearchFilter,
    contact_from_json,
)
from connector.hubspot.transport import HubSpotTransport, read_json

OBJECT_TYPE = "contacts"


class ContactApi:
    """HubSpot CRM v3 contacts (see the module)."""

    def __init__(self, transport: HubSpotTransport) -> None:
        self._transport = transport
        self._basic = transport.api(transport.client.crm.contacts.basic_api)
        self._objects = CrmObjects(transport, OBJECT_TYPE, "contact", hs_contacts, contact_from_json)
        self._creator = ContactCreator(transport)

    def search(
        self,
        *,
        properties: Sequence[str],
        filters: Sequence[SearchFilter] = (),
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        page_size: int = MAX_SEARCH_PAGE,
    ) -> Iterator[Contact]:
        """Every contact matching all `filters` and modified in the window, once, in id order.

        Keyset paging: each page is a fresh query for `hs_object_id > last id seen`, sorted
        by id, with `after` left at 0. It never nears the 10,000-result depth, uses the
        same number of calls as offset paging, and stays exact while contacts change
        under it (a contact that leaves the result set cannot shift the next page, as it
        would with offsets). `lastmodifieddate <= modified_before` (default: now, fixed
        here) keeps contacts changed during the run for the next run.
        """
        if not 1 <= page_size <= MAX_SEARCH_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_SEARCH_PAGE}, got {page_size}")
        base = [_api_filter(f) for f in filters]
        if modified_after is not None:
            base.append(
                hs_contacts.Filter(
                    property_name="lastmodifieddate", operator="GTE", value=_ms(modified_after)
                )
            )
        upper = modified_before if modified_before is not None else datetime.now(UTC)
        base.append(hs_contacts.Filter(property_name="lastmodifieddate", operator="LTE", value=_ms(upper)))
        if len(base) + 1 > MAX_FILTERS_PER_GROUP:  # + the hs_object_id keyset filter
            room = MAX_FILTERS_PER_GROUP - 2 - (modified_after is not None)
            raise ValueError(
                f"too many search filters: HubSpot allows {MAX_FILTERS_PER_GROUP} per group and the "
                f"connector needs {MAX_FILTERS_PER_GROUP - room} for paging and the modified window, "
                f"so at most {room} can be configured (got {len(filters)})"
            )
        return self._objects.search(base, list(dict.fromkeys(properties)), page_size)

    def list_all(self, *, properties: Sequence[str], page_size: int = MAX_LIST_PAGE) -> Iterator[Contact]:
        """Every contact, in HubSpot's list order (id), one page at a time."""
        if not 1 <= page_size <= MAX_LIST_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_LIST_PAGE}, got {page_size}")
        props = list(dict.fromkeys(properties))
        timeout = self._transport.timeout

        def pages() -> Iterator[Contact]:
            after: str | None = None
            while True:
                page = self._transport.call(
                    "list_contacts",
                    lambda a=after: read_json(  # type: ignore[misc]
                        self._basic.get_page(
                            limit=page_size,
                            after=a,
                            properties=props,
                            archived=False,
                            _request_timeout=timeout,
                            _preload_content=False,
                        )
                    ),
                )
                results = [contact_from_json(obj) for obj in page.get("results") or []]
                yield from results
                after = next_after(page)
                if not results or not after:
                    return

        return pages()

    def read(self, ids: Sequence[str], properties: Sequence[str]) -> list[Contact]:
        """The contacts with these ids (100 per call); ids HubSpot does not know are left out."""
        return self._objects.read(ids, properties)

    def presence(self, ids: Sequence[str]) -> dict[str, Presence]:
        """Whether HubSpot still has each contact: "active", "merged" (with `merged_into`), "archived"
        or "gone", by id in the order given; at most two batch reads per 100 ids (`presence`)."""
        return presence(self._objects, ids)

    def update(self, updates: Mapping[str, Mapping[str, str]]) -> BatchResult:
        """Write property values, 100 contacts per call, landing every valid value (`CrmObjects.update`)."""
        return self._objects.update(updates)

    def create(self, contacts: Sequence[NewContact]) -> CreateResult:
        """Create contacts, 100 per call (`MAX_BATCH`), each with its company as its Primary company.

        Returns each created input's id by its key, and each refused input with HubSpot's code and
        message (a duplicate email's conflict with the id of the contact that holds it); the other
        inputs of a refused batch are sent again. Not idempotent, so never resent blindly: after a
        read timeout, a reset or a 5xx it raises `CreateMaybeApplied` naming the inputs that may
        exist now; look them up (by the property you key people on) before sending them again.
        Other errors (auth, the daily limit, 429s past every retry) are raised as they are, after
        which the contacts of earlier batches of the call may exist: look them up too.
        """
        return self._creator.create(contacts)

    def check_access(self) -> None:
        """One cheap authenticated read; raises HubSpotAuthError when HubSpot refuses the token."""
        self._transport.call(
            "check_access",
            lambda: self._basic.get_page(
                limit=1, properties=["hs_object_id"], archived=False, _request_timeout=self._transport.timeout
            ),
        )


def _api_filter(f: SearchFilter) -> Any:
    if f.operator not in OPERATORS:
        raise ValueError(
            f"search filter on {f.property}: unknown operator {f.operator!r} (known: {sorted(OPERATORS)})"
        )
    return hs_contacts.Filter(
        property_name=f.property,
        operator=f.operator,
        value=f.value,
        values=list(f.values) if f.values is not None else None,
        high_value=f.high_value,
    )


def _ms(moment: datetime) -> str:
    """A datetime as HubSpot's filter value: epoch milliseconds (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))
