"""Which mapped properties change on one contact: a pure function, one decision per property."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import Literal

from connector.mapping import Mapping, PropertyValue, canonical_company_value, canonical_value, write_decision

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
    def held(self) -> dict[str, str]:
        """Property -> value HubSpot already holds (`unchanged`): the connector's own, whoever typed it."""
        return {
            c.property: c.value for c in self.changes if c.decision == "unchanged" and c.value is not None
        }

    @property
    def shown(self) -> dict[str, dict[str, str | None]]:
        """What is to be written, from what (the dry run's plan shows it)."""
        return {c.property: {"from": c.current, "to": c.value} for c in self.changes if c.decision == "write"}

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
    *,
    company: bool = False,
) -> ChangeSet:
    """Mapped values against HubSpot's current values and the hashes of what was last written.

    `company`: the values are a company's (`companies.properties` and subscriptions), and
    `contact_id` is the company's id.
    """
    out: list[PropertyChange] = []
    for prop, pv in values.items():
        now = current.get(prop)
        if pv.error:
            out.append(PropertyChange(prop, "error", None, now, pv.error))
            continue
        if company:
            spec = mapping.company_spec(prop)
            policy = spec.write if spec is not None else "always"
            canonical = canonical_company_value(mapping, prop, now)
        else:
            policy, canonical = mapping.properties[prop].write, canonical_value(mapping, prop, now)
        decision = write_decision(policy, pv.value, canonical, written.get(prop))
        out.append(PropertyChange(prop, decision, pv.value, now))
    return ChangeSet(contact_id, tuple(out))
