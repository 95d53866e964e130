"""Which mapped properties change on one contact: a pure function, one decision per property."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import Literal

from connector.mapping import Mapping, PropertyValue, canonical_value, write_decision

# The write policy's decisions (see `write_decision`), plus "error" for a conversion failure.
ChangeKind = Literal["write", "null", "unchanged", "kept_edit", "kept_value", "error"]


@dataclass(frozen=True, slots=True)
class PropertyChange:
    """One property: the mapped value, HubSpot's value now, and what was decided."""

    property: str
    decision: ChangeKind
    value: str | None
    current: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Every mapped property of one contact and its decision."""

    contact_id: str
    changes: tuple[PropertyChange, ...]

    @property
    def updates(self) -> dict[str, str]:
        """Property → value for what is to be written."""
        return {c.property: c.value for c in self.changes if c.decision == "write" and c.value is not None}

    @property
    def errors(self) -> tuple[PropertyChange, ...]:
        return tuple(c for c in self.changes if c.decision == "error")

    def of(self, decision: ChangeKind) -> tuple[PropertyChange, ...]:
        return tuple(c for c in self.changes if c.decision == decision)


def compute_changes(
    mapping: Mapping,
    contact_id: str,
    values: AbcMapping[str, PropertyValue],
    current: AbcMapping[str, str | None],
    written: AbcMapping[str, str],
) -> ChangeSet:
    """Mapped values against HubSpot's current values and the hashes of what was last written."""
    out: list[PropertyChange] = []
    for prop, pv in values.items():
        now = current.get(prop)
        if pv.error:
            out.append(PropertyChange(prop, "error", None, now, pv.error))
            continue
        policy = mapping.properties[prop].write
        decision = write_decision(policy, pv.value, canonical_value(mapping, prop, now), written.get(prop))
        out.append(PropertyChange(prop, decision, pv.value, now))
    return ChangeSet(contact_id, tuple(out))
