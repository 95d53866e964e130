"""Personal data the state holds: forgotten on request, when HubSpot deletes the person, or by age.

`forget` removes what a person asked (or an operator) to remove; `reconcile` follows HubSpot's
archives and GDPR deletes and applies retention. Both leave the economy whole: the state keeps that
a research id was paid for and a fingerprint of its inputs, never the values (`store.privacy`).
"""

from connector.privacy.forget import ForgetOutcome, forget_people
from connector.privacy.reconcile import ReconcileReport, reconcile

__all__ = ["ForgetOutcome", "ReconcileReport", "forget_people", "reconcile"]
