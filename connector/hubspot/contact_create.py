"""HubSpot contact batch create, each new contact associated with its company as the primary one.

Why a module of its own: a create is the one HubSpot write that is not idempotent. An update
sent twice lands the same values; a create sent twice makes two people. So this path differs
from `CrmObjects.update` in what it retries and what it reports:

- One `POST /crm/v3/objects/contacts/batch/create` per ≤100 inputs, each input carrying its
  company as `associations: [{to: {id}, types: [{HUBSPOT_DEFINED, 1}]}]` (type 1: the contact's
  Primary company, HubSpot's OpenAPI spec `SimplePublicObjectBatchInputForCreate`) and the
  caller's key as `objectWriteTraceId`, which HubSpot echoes on each created object: results are
  matched to inputs by it, not by position.
- HubSpot refuses a whole batch for one bad input (400 VALIDATION_ERROR, per-property errors in
  its message; 409 CONFLICT `Contact already exists. Existing ID: 51` for an email it holds) and
  creates nothing, so the refused inputs are found (by the errors, by the existing contact's
  email, else by halving the batch), recorded as failures, and the rest is sent again.
- Rate limits (429) are retried by the call policy: HubSpot applied nothing. A 5xx, a read
  timeout, a reset after sending or an unreadable 2xx may have been applied: the call is not
  retried and `CreateMaybeApplied` says which inputs to look up before sending them again.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import hubspot.crm.contacts as hs_contacts

from connector.hubspot.errors import CreateMaybeApplied, HubSpotError
from connector.hubspot.limits import MAX_BATCH, PRIMARY_CONTACT_TO_COMPANY
from connector.hubspot.objects import locate
from connector.hubspot.records import CreateFailure, CreateResult, NewContact
from connector.hubspot.transport import HubSpotTransport, read_json
from connector.logs import get_logger

log = get_logger("hubspot")
EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")
TRACE_KEY = "objectWriteTraceId"


def existing_id(message: str) -> str | None:
    """The contact id HubSpot's duplicate-email conflict names (`... Existing ID: 51`), if any."""
    found = EXISTING_ID.search(message or "")
    return found.group(1) if found else None


class ContactCreator:
    """Batch creates through the shared transport (see the module)."""

    def __init__(self, transport: HubSpotTransport) -> None:
        self.transport = transport
        self._batch = transport.api(transport.client.crm.contacts.batch_api)

    def create(self, contacts: Sequence[NewContact]) -> CreateResult:
        """Create these contacts, 100 a call; each created key's id, or why it was not created.

        Never retried once it may have been applied: see `CreateMaybeApplied`. An input whose
        email an earlier input of the same call has is not sent (HubSpot would refuse the batch).
        """
        keys = [c.key for c in contacts]
        if any(not k for k in keys) or len(set(keys)) != len(keys):
            raise ValueError("every contact to create needs a key, unique within the call")
        result = CreateResult()
        emails: dict[str, str] = {}
        todo: list[NewContact] = []
        for contact in contacts:
            email = (contact.properties.get("email") or "").strip().lower()
            if email and email in emails:
                message = (
                    f"the same email as {emails[email]} in this create; HubSpot keeps one contact per email"
                )
                result.failures.append(CreateFailure(contact.key, "DUPLICATE_EMAIL", message, "email"))
                continue
            if email:
                emails[email] = contact.key
            todo.append(contact)
        chunks = [todo[i : i + MAX_BATCH] for i in range(0, len(todo), MAX_BATCH)]
        for n, chunk in enumerate(chunks):
            later = [c.key for rest in chunks[n + 1 :] for c in rest]
            _Chunk(self, chunk, result, later).run()
        return result

    def send(self, batch: Sequence[NewContact]) -> dict[str, Any]:
        """One batch create call, as HubSpot answers it (its JSON); not retried once it may have landed."""
        body = hs_contacts.BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                hs_contacts.SimplePublicObjectBatchInputForCreate(
                    properties=dict(c.properties),
                    associations=_associations(c.company_id),
                    object_write_trace_id=c.key,
                )
                for c in batch
            ]
        )
        return self.transport.call(
            "create_contacts",
            lambda: read_json(
                self._batch.create(
                    batch_input_simple_public_object_batch_input_for_create=body,
                    _request_timeout=self.transport.timeout,
                    _preload_content=False,
                )
            ),
            unsafe=True,
        )

    def email_of(self, contact_id: str) -> str | None:
        """The email of the contact a conflict names (a batch read; None when it cannot be read)."""
        body = hs_contacts.BatchReadInputSimplePublicObjectId(
            inputs=[hs_contacts.SimplePublicObjectId(id=contact_id)],
            properties=["email"],
            properties_with_history=[],
        )
        answer = self.transport.call(
            "read_contacts",
            lambda: read_json(
                self._batch.read(
                    batch_read_input_simple_public_object_id=body,
                    _request_timeout=self.transport.timeout,
                    _preload_content=False,
                )
            ),
        )
        for obj in answer.get("results") or []:
            email = ((obj.get("properties") or {}).get("email") or "").strip().lower()
            return email or None
        return None


def _associations(company_id: str | None) -> list[Any]:
    """The create input's associations: the company as the contact's Primary company, or none."""
    if not company_id:
        return []
    spec = hs_contacts.AssociationSpec(
        association_category="HUBSPOT_DEFINED", association_type_id=PRIMARY_CONTACT_TO_COMPANY
    )
    return [
        hs_contacts.PublicAssociationsForObject(
            to=hs_contacts.PublicObjectId(id=str(company_id)), types=[spec]
        )
    ]


class _Chunk:
    """One chunk of ≤100 inputs, sent until each is created or has failed (or may have been created)."""

    def __init__(
        self, creator: ContactCreator, chunk: list[NewContact], result: CreateResult, later: list[str]
    ):
        self.creator = creator
        self.chunk = chunk
        self.result = result
        self.later = later
        self.done: set[str] = set()
        # Every resend drops an input or halves a batch: 2n + 4 sends always suffice.
        self.budget = 2 * len(chunk) + 4

    def run(self) -> None:
        queue: deque[list[NewContact]] = deque([self.chunk])
        sends = 0
        while queue:
            batch = [c for c in queue.popleft() if c.key not in self.done]
            if not batch:
                continue
            if sends >= self.budget:
                for c in batch:
                    self.fail(c, "UNRESOLVED", "gave up isolating HubSpot's refusal of this batch")
                continue
            sends += 1
            try:
                answer = self.creator.send(batch)
            except HubSpotError as exc:
                if exc.maybe_applied:
                    pending = [c.key for b in queue for c in b if c.key not in self.done]
                    raise CreateMaybeApplied(
                        f"a batch create of {len(batch)} contacts may have been applied although its answer "
                        f"was lost ({exc}); look these contacts up before sending them again",
                        keys=[c.key for c in batch],
                        result=self.result,
                        unsent=[*pending, *self.later],
                    ) from exc
                queue.extendleft(reversed(self.isolate(batch, exc)))
                continue
            self.collect(batch, answer)

    def fail(
        self,
        contact: NewContact,
        code: str,
        message: str,
        prop: str | None = None,
        existing: str | None = None,
    ) -> None:
        if contact.key not in self.done:
            self.done.add(contact.key)
            self.result.failures.append(CreateFailure(contact.key, code, message, prop, existing))

    def isolate(self, batch: list[NewContact], exc: HubSpotError) -> list[list[NewContact]]:
        """Record the inputs HubSpot refused (the whole batch, nothing created); return what to send next."""
        if exc.status == 409:  # HubSpot says CONFLICT; any 409 is a refusal that created nothing
            found = existing_id(exc.message)
            if len(batch) == 1:
                self.fail(batch[0], "CONFLICT", exc.message, "email", found)
                return []
            email = self.creator.email_of(found) if found else None
            holders = [
                c for c in batch if email and (c.properties.get("email") or "").strip().lower() == email
            ]
            if holders:
                for c in holders:
                    self.fail(c, "CONFLICT", exc.message, "email", found)
                return [batch]
            return _halves(batch)
        if exc.status == 400 and exc.category == "VALIDATION_ERROR":
            props = {c.key: {str(k): str(v) for k, v in c.properties.items()} for c in batch}
            located, _ = locate(props, exc.errors)
            if located:
                by_key = {c.key: c for c in batch}
                for key, err in located:
                    self.fail(by_key[key], err.code, err.message, err.name)
                log.info("hubspot_creates_refused", inputs=len({k for k, _ in located}), resending=len(batch))
                return [batch]
            if len(batch) == 1:
                named = exc.errors[0] if exc.errors else None
                code = named.code if named else exc.category
                self.fail(
                    batch[0], code, named.message if named else exc.message, named.name if named else None
                )
                return []
            return _halves(batch)
        raise exc

    def collect(self, batch: list[NewContact], answer: Mapping[str, Any]) -> None:
        """Match the created objects to the inputs (by the echoed trace id, else by email)."""
        by_key = {c.key: c for c in batch}
        by_email = {
            (c.properties.get("email") or "").strip().lower(): c for c in batch if c.properties.get("email")
        }
        for obj in answer.get("results") or []:
            cid = str(obj.get("id") or "")
            props = obj.get("properties") or {}
            match = by_key.get(str(obj.get(TRACE_KEY) or ""))
            if match is None:
                match = by_email.get(str(props.get("email") or "").strip().lower())
            if not cid:
                continue
            if match is None or match.key in self.done:
                self.result.unmatched.append(cid)
                continue
            self.done.add(match.key)
            self.result.created[match.key] = cid
        for err in answer.get("errors") or []:
            context = err.get("context") or {}
            for key in context.get(TRACE_KEY) or []:
                if str(key) in by_key:
                    self.fail(
                        by_key[str(key)], str(err.get("category") or "ERROR"), str(err.get("message") or "")
                    )
        unconfirmed = [c for c in batch if c.key not in self.done]
        for c in unconfirmed:
            if self.result.unmatched:
                message = "HubSpot created contacts its answer does not attribute; look this one up"
                self.fail(c, "UNATTRIBUTED", message)
            else:
                self.fail(c, "NOT_CONFIRMED", "HubSpot's answer did not include this contact")


def _halves(batch: list[NewContact]) -> list[list[NewContact]]:
    cut = max(1, len(batch) // 2)
    return [batch[:cut], batch[cut:]]
