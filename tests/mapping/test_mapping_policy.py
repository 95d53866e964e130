"""Write policies: each policy against null answers, equal values, changes, a person's edits and
empty properties."""

from __future__ import annotations

import pytest

from connector.mapping import WRITE_POLICIES, should_write, value_hash
from connector.mapping.policy import edited_by_person

WRITTEN = "Written by the connector"
H = value_hash(WRITTEN)

# situation -> (new, current, last_written_hash)
SITUATIONS = {
    "null answer over a value": (None, WRITTEN, H),
    "null answer over empty": (None, None, H),
    "null answer over a person's value": (None, "Typed", H),
    "equal to current": (WRITTEN, WRITTEN, H),
    "equal to a person's value": ("Typed", "Typed", H),
    "changed, current is ours": ("New answer", WRITTEN, H),
    "changed, person edited": ("New answer", "Typed", H),
    "changed, never written by us": ("New answer", "Typed", None),
    "empty (None)": ("New answer", None, H),
    "empty (blank)": ("New answer", "", H),
    "empty (spaces)": ("New answer", "   ", None),
    "empty, never written": ("New answer", None, None),
}

EXPECTED = {
    #                                      unless_edited, always, if_empty
    "null answer over a value": (False, False, False),
    "null answer over empty": (False, False, False),
    "null answer over a person's value": (False, False, False),
    "equal to current": (False, False, False),
    "equal to a person's value": (False, False, False),
    "changed, current is ours": (True, True, False),
    "changed, person edited": (False, True, False),
    "changed, never written by us": (False, True, False),
    "empty (None)": (True, True, True),
    "empty (blank)": (True, True, True),
    "empty (spaces)": (True, True, True),
    "empty, never written": (True, True, True),
}

CASES = [
    (policy, situation, EXPECTED[situation][WRITE_POLICIES.index(policy)])
    for policy in WRITE_POLICIES
    for situation in SITUATIONS
]


@pytest.mark.parametrize(("policy", "situation", "expected"), CASES, ids=[f"{p}-{s}" for p, s, _ in CASES])
def test_policy_matrix(policy: str, situation: str, expected: bool) -> None:
    """Each policy decides as documented for each situation."""
    new, current, last = SITUATIONS[situation]
    assert should_write(policy, new, current, last) is expected


def test_policies_are_the_three_documented() -> None:
    """The policy names are exactly unless_edited (default first), always and if_empty."""
    assert WRITE_POLICIES == ("unless_edited", "always", "if_empty")


def test_unknown_policy_is_an_error() -> None:
    """A policy name the connector does not know raises rather than guessing."""
    with pytest.raises(ValueError, match="if_emtpy"):
        should_write("if_emtpy", "x", None, None)


def test_value_hash_is_stable_sha256() -> None:
    """The stored hash is the sha256 of the UTF-8 text: stable, and different for different values."""
    assert value_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert value_hash("Zürich") == value_hash("Zürich") != value_hash("Zurich")


@pytest.mark.parametrize(
    ("current", "last", "expected"),
    [(WRITTEN, H, False), ("Typed", H, True), ("Typed", None, True), (None, H, False), ("", None, False)],
)
def test_edited_by_person(current: str | None, last: str | None, expected: bool) -> None:
    """A non-empty value whose hash differs from the last write counts as a person's edit."""
    assert edited_by_person(current, last) is expected
