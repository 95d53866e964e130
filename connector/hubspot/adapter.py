"""The only place the connector talks to HubSpot: one object for the sync, the service and the commands.

`HubSpotAdapter` is a thin facade. It builds one `HubSpotTransport` (the official client,
timeouts, the call policy, rate limits and HubSpot's rate-limit headers followed) and the APIs
that share it: `ContactApi` (search that never hits the 10,000-result cap, list, batch read,
batch updates that land the valid values of a batch HubSpot rejects for one bad value),
`PropertyApi` (properties and groups) and `CompanyApi` (companies and associations, reached as
`adapter.companies`). Each of those modules has one job; this one only keeps callers to one name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Unpack

from connector.hubspot.companies import CompanyApi
from connector.hubspot.contacts import ContactApi
from connector.hubspot.limits import (  # re-exported: tests check the adapter follows these numbers
    MAX_BATCH,
    MAX_FILTERS_PER_GROUP,
    MAX_LIST_PAGE,
    MAX_SEARCH_PAGE,
    MAX_TEXT,
    OPERATORS,
)
from connector.hubspot.properties import OBJECT_TYPE, PropertyApi
from connector.hubspot.records import (  # re-exported: callers name them through the adapter's module
    BatchResult,
    Contact,
    PropertyInfo,
    PropertySpec,
    SearchFilter,
)
from connector.hubspot.transport import MAX_BODY_BYTES, HubSpotOptions, HubSpotTransport
from connector.ratelimit import QuotaFollower

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_FILTERS_PER_GROUP",
    "MAX_SEARCH_PAGE",
    "MAX_TEXT",
    "OPERATORS",
    "BatchResult",
    "Contact",
    "HubSpotAdapter",
    "PropertyInfo",
    "PropertySpec",
    "SearchFilter",
]


class HubSpotAdapter:
    """HubSpot CRM v3 contacts, companies and properties, with retries and rate limiting.

    `policy` (attempts, waits, the per-call time cap, timeouts) is shared with the Saber
    client; the rate limits are HubSpot's own, and its rate-limit headers are followed unless
    `follow_rate_headers` is False. Thread-safe: the API objects (and their connection pools)
    are built once and shared.
    """

    def __init__(self, base_url: str, access_token: str, **options: Unpack[HubSpotOptions]):
        self.transport = HubSpotTransport(base_url, access_token, **options)
        self.base_url = self.transport.base_url
        self.policy = self.transport.policy
        # Requests sent per operation (retries included), and of those the retries.
        self.calls: Counter[str] = self.transport.calls
        self.retries: Counter[str] = self.transport.retries
        # What HubSpot's answers say is left of the ten-secondly limit (None: not followed).
        self.quota: QuotaFollower | None = self.transport.quota
        self.contacts = ContactApi(self.transport)
        self.properties = PropertyApi(self.transport)
        self.companies = CompanyApi(self.transport)
        # Every contact matching all filters and modified in the window, once, in id order.
        self.search_contacts = self.contacts.search

    # ---------------------------------------------------------------- contacts
    def list_contacts(
        self, *, properties: Sequence[str], page_size: int = MAX_LIST_PAGE
    ) -> Iterator[Contact]:
        """Every contact, in HubSpot's list order (id), one page at a time."""
        return self.contacts.list_all(properties=properties, page_size=page_size)

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> list[Contact]:
        """The contacts with these ids (100 per call); ids HubSpot does not know are left out."""
        return self.contacts.read(ids, properties)

    def update_contacts(self, updates: Mapping[str, Mapping[str, str]]) -> BatchResult:
        """Write property values, 100 contacts per call, landing every valid value (`CrmObjects.update`)."""
        return self.contacts.update(updates)

    def check_access(self) -> None:
        """One cheap authenticated read; raises HubSpotAuthError when HubSpot refuses the token."""
        self.contacts.check_access()

    # ---------------------------------------------------------------- properties
    def get_properties(self, object_type: str = OBJECT_TYPE) -> dict[str, PropertyInfo]:
        """Every property of the portal for one object type (contacts unless told), by name."""
        return self.properties.get_all(object_type)

    def get_property(self, name: str, object_type: str = OBJECT_TYPE) -> PropertyInfo | None:
        """One property (of contacts unless told), or None when the portal has none of that name."""
        return self.properties.get(name, object_type)

    def ensure_group(self, name: str, label: str, object_type: str = OBJECT_TYPE) -> bool:
        """Create the property group (of contacts unless told); True if created, False if it existed."""
        return self.properties.ensure_group(name, label, object_type)

    def create_property(self, spec: PropertySpec, object_type: str = OBJECT_TYPE) -> PropertyInfo:
        """Create a property (of contacts unless told); raises HubSpotError(status=409) when it exists."""
        return self.properties.create(spec, object_type)

    def add_property_options(
        self, name: str, options: Sequence[tuple[str, str]], object_type: str = OBJECT_TYPE
    ) -> tuple[PropertyInfo, list[str]]:
        """Add (label, value) options an enumeration property lacks (`PropertyApi.add_options`)."""
        return self.properties.add_options(name, options, object_type)

    # ---------------------------------------------------------------- life cycle
    def close(self) -> None:
        """Close the connection pools."""
        self.transport.close()

    def __enter__(self) -> HubSpotAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
