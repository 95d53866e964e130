"""A record-level failure and what it is about (a contact, a company, a subscription, a signal ask).

Stages say what failed as a `Failure` with a typed `Subject`; the run's effects record it
(`connector.sync.effects`), in the summary and, in a live run, in the errors table that
`status` reads. The table and the summary keep the subject as one string key: a contact's
id as it always was, `company:<id>`, `subscription:<key>` or `signal:<id>` for the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from connector.errors import RecordFailure

SubjectKind = Literal["contact", "company", "subscription", "signal"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a failure is about: a HubSpot contact or company, a mapped subscription, a signal ask."""

    kind: SubjectKind
    id: str

    @property
    def key(self) -> str:
        """The subject as stored and shown: a contact's id, else `kind:id`."""
        return self.id if self.kind == "contact" else f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class Failure:
    """One record-level failure: its subject, the property (None: the whole record), code and message."""

    subject: Subject
    code: str
    message: str
    prop: str | None = None

    def as_record(self) -> RecordFailure:
        """The failure as the summary lists it."""
        return RecordFailure(self.subject.key, self.prop, self.code, self.message)


def contact_failure(contact_id: str, code: str, message: str, prop: str | None = None) -> Failure:
    return Failure(Subject("contact", contact_id), code, message, prop)


def from_results(kind: SubjectKind, failures: Iterable[RecordFailure]) -> list[Failure]:
    """A HubSpot batch result's failures (keyed by the object's id), with their subject's kind."""
    return [Failure(Subject(kind, f.contact_id), f.code, f.message, f.property) for f in failures]
