"""HubSpot CRM access: the adapter over the official client, its data types and errors."""

from connector.errors import RecordFailure  # re-exported: batch results carry it
from connector.hubspot.adapter import (
    BatchResult,
    Contact,
    HubSpotAdapter,
    PropertyInfo,
    PropertySpec,
    SearchFilter,
)
from connector.hubspot.errors import (
    DailyLimitReached,
    HubSpotAuthError,
    HubSpotError,
    HubSpotUnavailableError,
    PropertyError,
)

__all__ = [
    "BatchResult",
    "Contact",
    "DailyLimitReached",
    "HubSpotAdapter",
    "HubSpotAuthError",
    "HubSpotError",
    "HubSpotUnavailableError",
    "PropertyError",
    "PropertyInfo",
    "PropertySpec",
    "RecordFailure",
    "SearchFilter",
]
