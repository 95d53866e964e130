"""HubSpot CRM access: the adapter over the official client, its data types and errors.

The adapter (and with it the official client, a large import) loads on first use of one of
these names, so `connector.hubspot.limits` stays cheap for the mapping to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.errors import RecordFailure  # re-exported: batch results carry it
    from connector.hubspot.adapter import HubSpotAdapter
    from connector.hubspot.companies import CompanyApi
    from connector.hubspot.errors import (
        CreateMaybeApplied,
        DailyLimitReached,
        HubSpotAuthError,
        HubSpotError,
        HubSpotUnavailableError,
        PropertyError,
    )
    from connector.hubspot.presence import Presence
    from connector.hubspot.records import (
        AssociationsResult,
        BatchResult,
        Company,
        Contact,
        ContactCompanies,
        CreateFailure,
        CreateResult,
        NewContact,
        PropertyInfo,
        PropertySpec,
        SearchFilter,
    )

_HOMES = {
    "RecordFailure": "connector.errors",
    "HubSpotAdapter": "connector.hubspot.adapter",
    "CompanyApi": "connector.hubspot.companies",
    "Presence": "connector.hubspot.presence",
    **dict.fromkeys(
        (
            "AssociationsResult",
            "BatchResult",
            "Company",
            "Contact",
            "ContactCompanies",
            "CreateFailure",
            "CreateResult",
            "NewContact",
            "PropertyInfo",
            "PropertySpec",
            "SearchFilter",
        ),
        "connector.hubspot.records",
    ),
    **dict.fromkeys(
        (
            "CreateMaybeApplied",
            "DailyLimitReached",
            "HubSpotAuthError",
            "HubSpotError",
            "HubSpotUnavailableError",
            "PropertyError",
        ),
        "connector.hubspot.errors",
    ),
}

__all__ = [
    "AssociationsResult",
    "BatchResult",
    "Company",
    "CompanyApi",
    "Contact",
    "ContactCompanies",
    "CreateFailure",
    "CreateMaybeApplied",
    "CreateResult",
    "DailyLimitReached",
    "HubSpotAdapter",
    "HubSpotAuthError",
    "HubSpotError",
    "HubSpotUnavailableError",
    "NewContact",
    "Presence",
    "PropertyError",
    "PropertyInfo",
    "PropertySpec",
    "RecordFailure",
    "SearchFilter",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562), then keep the name here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
