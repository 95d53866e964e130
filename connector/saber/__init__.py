"""The Saber API: typed client, errors and models (the sandbox lives in connector.sandbox.saber)."""

from connector.saber.client import ResearchRequest, SaberClient, idempotency_key
from connector.saber.errors import (
    InsufficientCredits,
    SaberAuthError,
    SaberError,
    SaberNotFound,
    SaberRateLimited,
    SaberRequestError,
    SaberUnavailable,
    SaberValidationError,
    parse_error,
)
from connector.saber.models import Answer, Research, ResearchStarted, Signal, SignalPage

__all__ = [
    "Answer",
    "InsufficientCredits",
    "Research",
    "ResearchRequest",
    "ResearchStarted",
    "SaberAuthError",
    "SaberClient",
    "SaberError",
    "SaberNotFound",
    "SaberRateLimited",
    "SaberRequestError",
    "SaberUnavailable",
    "SaberValidationError",
    "Signal",
    "SignalPage",
    "idempotency_key",
    "parse_error",
]
