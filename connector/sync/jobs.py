"""The value objects that pass between the stages of a cycle: frozen, slotted, no tuples."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connector.hubspot import Contact
from connector.mapping import InputsResult
from connector.saber.models import Research, Signal
from connector.state import ContactState
from connector.sync.changes import ChangeSet
from connector.sync.decide import Decision

LaunchKind = Literal["launched", "adopted", "deferred", "rejected", "failed"]


@dataclass(frozen=True, slots=True)
class ContactJob:
    """One pulled contact with its inputs, its stored state and what was decided for it."""

    contact: Contact
    inputs: InputsResult
    state: ContactState | None
    decision: Decision

    @property
    def contact_id(self) -> str:
        return self.contact.id


@dataclass(frozen=True, slots=True)
class WriteJob:
    """A finished research (completed or failed) to map and write onto one contact."""

    contact_id: str
    properties: dict[str, str | None]  # HubSpot's current values of the mapped properties
    inputs: InputsResult
    research: Research
    written: Mapping[str, str]  # property -> hash of what the connector last wrote
    signals: Mapping[str, dict[str, Any]]  # signals already answered, by mapping key
    write_pending: str | None  # the result has not fully landed yet (UNWRITTEN or a failure code)

    @classmethod
    def of(
        cls,
        state: ContactState,
        properties: dict[str, str | None],
        inputs: InputsResult,
        research: Research,
        *,
        write_pending: str | None = None,
    ) -> WriteJob:
        """A write job for a contact whose stored state holds what was written and asked before."""
        pending = write_pending or state.write_pending
        return cls(state.contact_id, properties, inputs, research, state.written, state.signals, pending)


@dataclass(frozen=True, slots=True)
class LaunchOutcome:
    """What launching one contact came to; `write` is set when an adopted result is already done."""

    kind: LaunchKind
    contact_id: str
    write: WriteJob | None = None


@dataclass(frozen=True, slots=True)
class CompanyNote:
    """One written contact's company answers, waiting to land on its company."""

    contact_id: str
    domain: str | None  # the company domain its answers were asked for
    answers: dict[str, Signal]  # company-scope signal key -> answer


@dataclass(frozen=True, slots=True)
class Computed:
    """What one write job comes to: its changes, the answers held back, what its company gets."""

    changes: ChangeSet
    held_back: tuple[str, ...]  # properties whose answers are below their `min_confidence`
    note: CompanyNote | None  # None: no company answers to carry (or research not completed)


def stored_research(state: ContactState) -> Research | None:
    """The research a stored state describes (the last completed or failed one), or None."""
    if state.research_status == "completed" and state.result:
        return Research.model_validate(state.result)
    if state.research_status == "failed" and state.research_id:
        return Research.failure(
            state.research_id, state.research_error_code, state.research_error, state.completed_at
        )
    return None
