"""Write policies: whether a new value may replace what HubSpot holds now.

- `unless_edited` (default): write when the value changes, but never over a value a person
  changed since the connector last wrote it (the stored hash of the last write differs from
  the hash of the current, non-empty value; no stored hash means the connector never wrote it).
- `always`: write whenever the value differs.
- `if_empty`: write only into an empty property.

Under every policy a null answer (None) writes nothing and an equal value is not rewritten.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from connector.mapping.model import WRITE_POLICIES


def value_hash(value: str) -> str:
    """The hash stored for each written property value (sha256 hex of its UTF-8 text)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_empty(value: str | None) -> bool:
    return value is None or not value.strip()


WriteDecision = Literal["write", "null", "unchanged", "kept_edit", "kept_value"]


def write_decision(
    policy: str, new: str | None, current: str | None, last_written_hash: str | None
) -> WriteDecision:
    """What happens to one property under `policy`, and why (the provenance `explain` shows).

    `null`: the answer is empty, nothing is written; `unchanged`: HubSpot holds the value
    already; `kept_edit`: a person changed what the connector wrote (`unless_edited`);
    `kept_value`: `if_empty` keeps a value that is there; `write`: the value goes out.
    """
    if policy not in WRITE_POLICIES:
        raise ValueError(f"unknown write policy {policy!r}; allowed: {', '.join(WRITE_POLICIES)}")
    if new is None:
        return "null"
    if current == new:
        return "unchanged"
    if is_empty(current) or policy == "always":
        return "write"
    if policy == "if_empty":
        return "kept_value"
    assert current is not None
    if last_written_hash is not None and value_hash(current) == last_written_hash:
        return "write"
    return "kept_edit"


def should_write(policy: str, new: str | None, current: str | None, last_written_hash: str | None) -> bool:
    """Whether `new` may be written over HubSpot's `current` value under `policy`."""
    return write_decision(policy, new, current, last_written_hash) == "write"


def edited_by_person(current: str | None, last_written_hash: str | None) -> bool:
    """Whether HubSpot's current value is not what the connector last wrote (and not empty)."""
    if is_empty(current):
        return False
    assert current is not None
    return last_written_hash is None or value_hash(current) != last_written_hash
