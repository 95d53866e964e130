"""The Saber API: typed client, errors and models (the sandbox lives in connector.sandbox.saber)."""

from connector.saber.client import ResearchRequest, SaberClient
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
from connector.saber.models import (
    Answer,
    Research,
    ResearchStarted,
    Signal,
    SignalBatch,
    SignalPage,
    SignalTemplate,
)
from connector.saber.signals import SignalQuestion, SignalRequest
from connector.saber.transport import idempotency_key

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
    "SignalBatch",
    "SignalPage",
    "SignalQuestion",
    "SignalRequest",
    "SignalTemplate",
    "idempotency_key",
    "parse_error",
]
