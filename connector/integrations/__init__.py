"""The account-group API (LinkedIn prospecting jobs, audiences, signal scans): client, errors, models.

Its sandbox lives in connector.sandbox.integrations.
"""

from connector.integrations.client import IntegrationsClient, derived_key
from connector.integrations.errors import (
    AudienceNotReady,
    IntegrationsAnswerError,
    IntegrationsAuthError,
    IntegrationsConfigError,
    IntegrationsConflict,
    IntegrationsCreditsError,
    IntegrationsError,
    IntegrationsNotFound,
    IntegrationsPermissionError,
    IntegrationsRejected,
    IntegrationsUnavailable,
)
from connector.integrations.models import (
    AccountGroup,
    Audience,
    Job,
    JobRequest,
    Named,
    Prospect,
    ProspectSignals,
    Scan,
    SignalItem,
    SignalSpecification,
    Stage,
    Started,
    linkedin_key,
)

__all__ = [
    "AccountGroup",
    "Audience",
    "AudienceNotReady",
    "IntegrationsAnswerError",
    "IntegrationsAuthError",
    "IntegrationsClient",
    "IntegrationsConfigError",
    "IntegrationsConflict",
    "IntegrationsCreditsError",
    "IntegrationsError",
    "IntegrationsNotFound",
    "IntegrationsPermissionError",
    "IntegrationsRejected",
    "IntegrationsUnavailable",
    "Job",
    "JobRequest",
    "Named",
    "Prospect",
    "ProspectSignals",
    "Scan",
    "SignalItem",
    "SignalSpecification",
    "Stage",
    "Started",
    "derived_key",
    "linkedin_key",
]
