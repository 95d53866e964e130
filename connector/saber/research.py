"""Starting research for one CRM contact: the request body and the idempotency key, in one place.

The key is derived from the contact, the fingerprint of its inputs and the research it
replaces, so a retried, crashed or concurrent launch of the same thing sends the same key
and Saber answers it once; new inputs or a refresh make a new key.

`externalId`/`externalSource` are not in Saber's published create schema (assumption A1):
they are sent until Saber answers 400 naming them, and from then on, for the rest of the
process, research is launched without them (`ExternalIds`): the stored research id is what
finds it again, and look-ups by external ID are skipped (they would find nothing).
"""

from __future__ import annotations

from collections.abc import Mapping

from connector.saber.client import RESEARCH_PATH, ResearchRequest, SaberClient
from connector.saber.errors import SaberValidationError
from connector.saber.external_ids import names_external_ids
from connector.saber.models import ResearchStarted
from connector.saber.transport import idempotency_key


def research_key(contact_id: str, fingerprint: str, replaces: str | None) -> str:
    """The `Idempotency-Key` of one launch."""
    return idempotency_key(
        "POST", RESEARCH_PATH, {"contact": contact_id, "inputs": fingerprint, "replaces": replaces}
    )


def start_contact_research(
    saber: SaberClient,
    inputs: Mapping[str, str],
    *,
    contact_id: str,
    external_source: str,
    fingerprint: str,
    replaces: str | None,
    webhook_url: str | None = None,
) -> ResearchStarted:
    """POST the research for one contact keyed by `externalId` (the CRM id) and `externalSource`;
    without them once Saber refused them (then at once, in the same launch)."""
    key = research_key(contact_id, fingerprint, replaces)
    if saber.external_ids.sent:
        body = {
            **inputs,
            "externalId": contact_id,
            "externalSource": external_source,
            "webhookUrl": webhook_url,
        }
        try:
            return saber.create_research(ResearchRequest.from_body(body), idempotency_key=key)
        except SaberValidationError as exc:
            if not names_external_ids(exc):
                raise
            saber.external_ids.refuse(exc)
    request = ResearchRequest.from_body({**inputs, "webhookUrl": webhook_url})
    return saber.create_research(request, idempotency_key=key)
