"""Converting Saber values to the strings HubSpot accepts, per property type, and reading HubSpot's
current values back in the same form."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connector.mapping import ConversionError, canonical, canonical_value, parse_mapping, to_hubspot
from connector.mapping.convert import TEXT_LIMIT

SENIORITY = {"VP": "vp", "Director": "director", "C-Level": "c_level"}

EXAMPLE = (Path(__file__).parents[1] / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- number
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (42, "42"),
        (-17, "-17"),
        (10**25, "10000000000000000000000000"),
        (0.87, "0.87"),
        (0.1 + 0.2, "0.3"),
        (-2.5, "-2.5"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (2.0, "2"),
        (-0.0, "0"),
        (Decimal("12.50"), "12.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.000"), "0"),
        (Decimal("3.14159265358979323846264338327950288"), "3.14159265358979323846264338327950288"),
        ("  42 ", "42"),
        ("+7", "7"),
        ("1e3", "1000"),
        ("-.5", "-0.5"),
        ("3.", "3"),
        ("0012.300", "12.3"),
    ],
)
def test_numbers_are_plain_decimal_strings(value: Any, expected: str) -> None:
    """Numbers become plain decimal text: no exponent, no separators, at most one point."""
    out = to_hubspot("number", value)
    assert out == expected
    assert "e" not in out.lower() and out.count(".") <= 1 and "," not in out


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (True, "yes/no value, not a number"),
        (False, "yes/no value, not a number"),
        ("12%", "percentage"),
        ("1,200", "thousands separator"),
        ("1.200,50", "thousands separator"),
        ("$5", "not a plain number"),
        ("twelve", "not a plain number"),
        ("1 2", "not a plain number"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (Decimal("NaN"), "not a finite number"),
        ("1e999", "out of range"),
        ([1, 2], "not a single value"),
        ({"value": 1}, "not a single value"),
    ],
)
def test_numbers_that_are_rejected(value: Any, words: str) -> None:
    """Booleans, percentages, separators, non-finite and huge values are not numbers for HubSpot."""
    with pytest.raises(ConversionError, match=words):
        to_hubspot("number", value)


# ---------------------------------------------------------------------------- bool
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        ("Yes", "true"),
        (" no ", "false"),
        ("TRUE", "true"),
        ("false", "false"),
    ],
)
def test_booleans(value: Any, expected: str) -> None:
    """Saber booleans and true/false/yes/no text become "true"/"false"."""
    assert to_hubspot("bool", value) == expected


@pytest.mark.parametrize("value", [1, 0, "maybe", "y", 0.5])
def test_non_booleans_are_rejected(value: Any) -> None:
    """Numbers and other words are not guessed into yes/no."""
    with pytest.raises(ConversionError, match="not true/false or yes/no"):
        to_hubspot("bool", value)


# ---------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15", "2024-01-15"),
        (date(2024, 1, 15), "2024-01-15"),
        ("2024-01-15T10:32:15Z", "2024-01-15"),
        ("2024-01-15T23:30:00-05:00", "2024-01-16"),
        ("2024-01-15T01:00:00+02:00", "2024-01-14"),
        ("2024-01-15T23:59:59", "2024-01-15"),
        (datetime(2024, 1, 15, 22, 0, tzinfo=timezone(timedelta(hours=-3))), "2024-01-16"),
        (datetime(2024, 2, 29, 12, 0), "2024-02-29"),
    ],
)
def test_dates_are_the_utc_day(value: Any, expected: str) -> None:
    """Dates are the UTC calendar day (midnight UTC) as YYYY-MM-DD; offsets move the day."""
    assert to_hubspot("date", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15T10:32:15Z", "2024-01-15T10:32:15.000Z"),
        ("2024-01-15T10:32:15.123456+00:00", "2024-01-15T10:32:15.123Z"),
        ("2024-01-15T12:32:15+02:00", "2024-01-15T10:32:15.000Z"),
        ("2024-01-15T20:00:00-08:00", "2024-01-16T04:00:00.000Z"),
        ("2024-01-15T10:32:15", "2024-01-15T10:32:15.000Z"),
        ("2024-01-15", "2024-01-15T00:00:00.000Z"),
        (datetime(2024, 1, 15, 10, 32, 15, 999999, tzinfo=UTC), "2024-01-15T10:32:15.999Z"),
        (datetime(2024, 1, 15, 10, 32, 15), "2024-01-15T10:32:15.000Z"),
    ],
)
def test_datetimes_are_utc_iso_with_milliseconds(value: Any, expected: str) -> None:
    """Datetimes are converted to UTC (naive means UTC) as YYYY-MM-DDTHH:MM:SS.mmmZ."""
    assert to_hubspot("datetime", value) == expected


@pytest.mark.parametrize("kind", ["date", "datetime"])
@pytest.mark.parametrize(
    ("value", "words"), [("last week", "not an ISO 8601"), (1705314735, "is a number"), (True, "is a number")]
)
def test_unreadable_dates_are_rejected(kind: str, value: Any, words: str) -> None:
    """Free text and bare numbers (seconds or milliseconds?) are not guessed into dates."""
    with pytest.raises(ConversionError, match=words):
        to_hubspot(kind, value)


# ---------------------------------------------------------------------------- text
def test_text_is_stripped() -> None:
    """Leading and trailing whitespace is removed."""
    assert to_hubspot("string", "\n  VP of Sales \t") == "VP of Sales"


def test_long_text_is_cut_to_hubspot_limit() -> None:
    """Text longer than 65,536 characters is cut to exactly the limit."""
    out = to_hubspot("string", "x" * 65_537)
    assert TEXT_LIMIT == 65_536
    assert out is not None and len(out) == 65_536


def test_cut_text_does_not_end_in_whitespace() -> None:
    """A cut that lands on spaces leaves no trailing whitespace."""
    out = to_hubspot("string", "a" * 65_530 + " " * 100)
    assert out == "a" * 65_530


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Kubernetes", " Go ", "", None, "Rust"], "Kubernetes; Go; Rust"),
        ([1, 2.5, True], "1; 2.5; true"),
        ({"b": 1, "a": "x"}, '{"a":"x","b":1}'),
        ([{"name": "Ann"}, {"name": "Bo"}], '{"name":"Ann"}; {"name":"Bo"}'),
        (
            [
                {"url": "https://a.example/x", "title": "A  page", "snippet": "s"},
                {"url": "https://b.example"},
            ],
            "A page (https://a.example/x)\nhttps://b.example",
        ),
        (0.1 + 0.2, "0.3"),
        (True, "true"),
        (datetime(2024, 1, 15, 10, 0, tzinfo=UTC), "2024-01-15T10:00:00.000Z"),
        ("Zürich – 北京", "Zürich – 北京"),
    ],
    ids=["list", "scalars", "dict", "list-of-dicts", "sources", "float", "bool", "datetime", "unicode"],
)
def test_structured_values_become_readable_text(value: Any, expected: str) -> None:
    """Lists join with "; ", sources become "title (url)" lines, mappings compact JSON."""
    assert to_hubspot("string", value) == expected


@pytest.mark.parametrize("kind", ["string", "number", "bool", "date", "datetime", "enumeration", "multiple"])
@pytest.mark.parametrize("value", [None, "", "   ", [], {}])
def test_null_and_empty_mean_nothing_to_write(kind: str, value: Any) -> None:
    """None, blank text and empty containers are "nothing to write" for every type."""
    assert to_hubspot(kind, value) is None


# ---------------------------------------------------------------------------- enumeration / multiple
@pytest.mark.parametrize(
    ("value", "expected"), [("VP", "vp"), (" Director ", "director"), ("C-Level", "c_level"), (["VP"], "vp")]
)
def test_enumeration_options_map_values(value: Any, expected: str) -> None:
    """Enumeration values are looked up in options (after trimming)."""
    assert to_hubspot("enumeration", value, SENIORITY) == expected


@pytest.mark.parametrize("value", ["Manager", "vp", "VP of Sales"])
def test_enumeration_value_missing_from_options_is_an_error(value: str) -> None:
    """A value not in options is an error naming the value and the options, not a guess."""
    with pytest.raises(ConversionError) as caught:
        to_hubspot("enumeration", value, SENIORITY)
    assert repr(value) in str(caught.value) and "VP, Director, C-Level" in str(caught.value)


def test_enumeration_without_options_passes_the_value() -> None:
    """Without options the (trimmed) value is written as the option value."""
    assert to_hubspot("enumeration", " Sales ") == "Sales"
    assert to_hubspot("enumeration", True) == "true"


def test_enumeration_rejects_several_values() -> None:
    """A list of several values cannot go into a single-choice property."""
    with pytest.raises(ConversionError, match="type: multiple"):
        to_hubspot("enumeration", ["VP", "Director"], SENIORITY)


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        (["VP", "Director"], SENIORITY, "director;vp"),
        (["Director", "VP", "VP"], SENIORITY, "director;vp"),
        ("C-Level", SENIORITY, "c_level"),
        (["b", " a ", None, ""], None, "a;b"),
        ([True, 3], {"true": "yes", "3": "three"}, "three;yes"),
    ],
)
def test_multiple_applies_options_to_each_and_joins(value: Any, options: Any, expected: str) -> None:
    """Multi-select values are mapped one by one, deduplicated, sorted and joined with ';'."""
    assert to_hubspot("multiple", value, options) == expected


def test_multiple_reports_every_unknown_value() -> None:
    """All values missing from options are named in one error."""
    with pytest.raises(ConversionError) as caught:
        to_hubspot("multiple", ["VP", "Manager", "Intern"], SENIORITY)
    assert "'Manager', 'Intern' not among the mapped options" in str(caught.value)


def test_multiple_rejects_semicolons_in_values() -> None:
    """A value containing the separator would split into two options."""
    with pytest.raises(ConversionError, match="';'"):
        to_hubspot("multiple", ["a;b"])


# ---------------------------------------------------------------------------- canonical
@pytest.mark.parametrize(
    ("kind", "current", "expected"),
    [
        ("number", "12.50", "12.5"),
        ("number", "1.0", "1"),
        ("number", " 7 ", "7"),
        ("bool", "True", "true"),
        ("bool", "no", "false"),
        ("date", "2024-01-15", "2024-01-15"),
        ("date", "1705276800000", "2024-01-15"),
        ("datetime", "2024-01-15T10:32:15Z", "2024-01-15T10:32:15.000Z"),
        ("datetime", "1705314735000", "2024-01-15T10:32:15.000Z"),
        ("multiple", "vp;director", "director;vp"),
        ("multiple", " b ; a ;", "a;b"),
        ("string", "  text ", "text"),
        ("enumeration", "vp", "vp"),
        ("number", "about ten", "about ten"),
        ("date", "sometime", "sometime"),
        ("string", "", None),
        ("number", None, None),
    ],
)
def test_canonical_reads_hubspot_values_in_written_form(kind: str, current: Any, expected: Any) -> None:
    """HubSpot's current values are read back in the form the converter writes; odd ones stay as typed."""
    assert canonical(kind, current) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("number", 0.1 + 0.2),
        ("number", Decimal("12.50")),
        ("bool", "Yes"),
        ("date", "2024-01-15T23:30:00-05:00"),
        ("datetime", "2024-01-15T12:32:15+02:00"),
        ("multiple", ["z", "a"]),
        ("string", " x "),
    ],
)
def test_canonical_of_a_written_value_is_itself(kind: str, value: Any) -> None:
    """What the connector writes compares equal when read back, so it is not rewritten."""
    written = to_hubspot(kind, value)
    assert canonical(kind, written) == written


def test_canonical_value_uses_the_property_type() -> None:
    """canonical_value looks up the property's type in the mapping; unknown properties are text."""
    m = parse_mapping(EXAMPLE)
    assert canonical_value(m, "saber_runs_kubernetes_confidence", "0.870") == "0.87"
    assert canonical_value(m, "saber_researched_at", "1705314735000") == "2024-01-15T10:32:15.000Z"
    assert canonical_value(m, "not_mapped", " 0.870 ") == "0.870"
