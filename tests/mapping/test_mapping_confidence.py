"""Confidence thresholds (issue 12, item 5): `min_confidence` on signal-fed properties and beside
`version`; an answer below it, or with no confidence, is held back like a null answer."""

# ruff: noqa: E501 - expected messages stay verbatim

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from connector.mapping import (
    confidence_shortfall,
    explain_mapping,
    held_back,
    map_company_values,
    map_subscription_values,
    map_values,
    mapping_json_schema,
    parse_mapping,
    write_decision,
)
from connector.saber.models import Research, Signal
from tests.mapping.test_mapping_companies import EXAMPLE as COMPANIES_EXAMPLE
from tests.mapping.test_mapping_load import schema_errors
from tests.mapping_errors import assert_error_at, error_of

BASE = (Path(__file__).parents[1] / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")
RESEARCH = Research.model_validate(
    {"id": "cr_1", "status": "completed", "result": {"summary": "Leads platform."}}
)
SIGNAL_PROPS = ("saber_runs_kubernetes", "saber_runs_kubernetes_confidence")


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def with_default(value: str, text: str = BASE) -> str:
    return edit("version: 1\n", f"version: 1\nmin_confidence: {value}\n", text)


def runs_k8s(confidence: Any, answer: Any = True) -> dict[str, Signal]:
    raw = {
        "status": "completed",
        "answer": None if answer is None else {"type": "boolean", "boolean": {"value": answer}},
    }
    return {"runs_kubernetes": Signal.model_validate({**raw, "confidence": confidence})}


# ---------------------------------------------------------------------------- loading
def test_thresholds_load_at_both_levels() -> None:
    """`min_confidence` beside `version` is the default; a property's own one wins, null turns it off."""
    text = with_default("0.7").replace(
        "{from: signals.runs_kubernetes.confidence, type: number}",
        "{from: signals.runs_kubernetes.confidence, type: number, min_confidence: null}",
    )
    text = text.replace(
        "{from: signals.runs_kubernetes.answer, type: bool}",
        "{from: signals.runs_kubernetes.answer, type: bool, min_confidence: 1}",
    )
    m = parse_mapping(text)
    assert m.min_confidence == 0.7
    assert m.threshold(m.properties["saber_runs_kubernetes"]) == 1.0
    assert m.threshold(m.properties["saber_runs_kubernetes_confidence"]) is None
    assert m.threshold(m.properties["saber_summary"]) is None  # not fed by a signal: never held back
    assert parse_mapping(with_default("0")).min_confidence == 0.0


def test_a_written_threshold_survives_the_dump() -> None:
    """The dump keeps a property's own `min_confidence` (even null), so it reloads the same."""
    text = edit(
        "{from: signals.runs_kubernetes.answer, type: bool}",
        "{from: signals.runs_kubernetes.answer, type: bool, min_confidence: null}",
        with_default("0.5"),
    )
    data = parse_mapping(text).model_dump(mode="json")
    assert data["min_confidence"] == 0.5
    assert data["properties"]["saber_runs_kubernetes"]["min_confidence"] is None
    assert "min_confidence" not in data["properties"]["saber_runs_kubernetes_confidence"]


ERRORS = [
    (
        "default above 1",
        with_default("1.5"),
        "min_confidence: 1.5",
        "min_confidence: found 1.5, allowed: a number from 0.0 to 1.0 (the confidence an answer needs to be written)",
    ),
    (
        "default below 0",
        with_default("-0.1"),
        "min_confidence: -0.1",
        "min_confidence: found -0.1, allowed: a number from 0.0 to 1.0",
    ),
    (
        "default as text",
        with_default("high"),
        "min_confidence: high",
        "min_confidence: found 'high', allowed: a number from 0.0 to 1.0",
    ),
    (
        "default as yes/no",
        with_default("true"),
        "min_confidence: true",
        "min_confidence: found true, allowed: a number from 0.0 to 1.0",
    ),
    (
        "default as a percentage",
        with_default("70"),
        "min_confidence: 70",
        "min_confidence: found 70, allowed: a number from 0.0 to 1.0",
    ),
    (
        "misspelt default",
        edit("version: 1\n", "version: 1\nmin_confidance: 0.7\n"),
        "min_confidance",
        "min_confidance: found unknown key 'min_confidance', allowed: version, external_source, select, inputs, "
        "signals, properties, hubspot_group; did you mean 'min_confidence'? (also: min_confidence, companies, prospecting, linkedin)",
    ),
    (
        "property threshold out of range",
        edit(
            "{from: signals.runs_kubernetes.answer, type: bool}",
            "{from: signals.runs_kubernetes.answer, type: bool, min_confidence: 2}",
        ),
        "min_confidence: 2",
        "properties.saber_runs_kubernetes.min_confidence: found 2, allowed: a number from 0.0 to 1.0",
    ),
    (
        "threshold on a property from the research result",
        edit("{from: result.summary}", "{from: result.summary, min_confidence: 0.8}"),
        "result.summary, min_confidence",
        "properties.saber_summary.min_confidence: found min_confidence 0.8 on a property from result.summary, "
        "allowed: min_confidence only on properties fed by a signal (from: signals.<key>.…)",
    ),
    (
        "threshold on a property from the research itself",
        edit("{from: research.status}", "{from: research.status, min_confidence: 0.8}"),
        "research.status, min_confidence",
        "properties.saber_research_status.min_confidence: found min_confidence 0.8 on a property from research.status",
    ),
    (
        "misspelt threshold on a signal-fed property",
        edit(
            "{from: signals.runs_kubernetes.answer, type: bool}",
            "{from: signals.runs_kubernetes.answer, type: bool, min_confidense: 0.8}",
        ),
        "min_confidense",
        "properties.saber_runs_kubernetes.min_confidense: found unknown key 'min_confidense', allowed: from, type, "
        "options, write, label, min_confidence; did you mean 'min_confidence'?",
    ),
    (
        "company property threshold out of range",
        edit(
            "{from: signals.hiring_engineers.answer, type: bool}",
            "{from: signals.hiring_engineers.answer, type: bool, min_confidence: 1.01}",
            COMPANIES_EXAMPLE,
        ),
        "min_confidence: 1.01",
        "companies.properties.saber_hiring_engineers.min_confidence: found 1.01, allowed: a number from 0.0 to 1.0",
    ),
    (
        "subscription property threshold as text",
        edit("{from: answer}", "{from: answer, min_confidence: '0.8'}", COMPANIES_EXAMPLE),
        "min_confidence: '0.8'",
        "companies.subscriptions.funding_news.properties.saber_funding_news.min_confidence: found '0.8', allowed: a number from 0.0 to 1.0",
    ),
]


@pytest.mark.parametrize(("text", "marker", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_threshold_error_names_file_line_key_found_and_allowed(
    tmp_path: Path, text: str, marker: str, expected: str
) -> None:
    """Each threshold mistake is reported as file:line: key.path: found …, allowed: …."""
    assert_error_at(tmp_path, text, marker, expected)


def test_a_typo_in_a_result_property_does_not_offer_the_threshold(tmp_path: Path) -> None:
    """min_confidence is listed only where it is allowed: not for a property from the research result."""
    message = error_of(
        tmp_path,
        edit("{from: result.email, write: if_empty}", "{from: result.email, write: if_empty, min_conf: 1}"),
    )
    assert message.endswith(
        "properties.saber_email.min_conf: found unknown key 'min_conf', allowed: from, type, options, write, label"
    )


# ---------------------------------------------------------------------------- contact values
@pytest.mark.parametrize(
    ("confidence", "held"),
    [
        (0.69, list(SIGNAL_PROPS)),
        (0.7, []),
        (0.95, []),
        (0, list(SIGNAL_PROPS)),
        (None, ["saber_runs_kubernetes"]),  # its confidence property has no value to hold back
    ],
)
def test_contact_answer_below_the_threshold_is_held_back(confidence: float | None, held: list[str]) -> None:
    """Below `min_confidence`, or with no confidence, a signal's answer is held back; at or above it is written."""
    m = parse_mapping(with_default("0.7"))
    values = map_values(m, RESEARCH, runs_k8s(confidence))
    pv = values["saber_runs_kubernetes"]
    assert pv.value == (None if held else "true")
    assert pv.low_confidence is bool(held) and pv.error is None
    assert held_back(values) == held
    assert values["saber_summary"].value == "Leads platform."  # result properties are never held back


def test_held_back_reason_names_the_confidence_and_the_threshold() -> None:
    """The reason shown by the summary and `explain` says what the confidence was and what was needed."""
    m = parse_mapping(with_default("0.7"))
    assert (
        map_values(m, RESEARCH, runs_k8s(0.42))["saber_runs_kubernetes"].held_back
        == "confidence 0.42 below min_confidence 0.7"
    )
    assert (
        map_values(m, RESEARCH, runs_k8s(None))["saber_runs_kubernetes"].held_back
        == "no confidence given, min_confidence 0.7"
    )
    assert confidence_shortfall(None, runs_k8s(0.1)["runs_kubernetes"]) is None


def test_a_held_back_answer_never_blanks_a_value() -> None:
    """A held-back answer is decided like a null one: nothing is written over what HubSpot holds."""
    m = parse_mapping(with_default("0.7"))
    pv = map_values(m, RESEARCH, runs_k8s(0.2, answer=False))["saber_runs_kubernetes"]
    for policy in ("unless_edited", "always", "if_empty"):
        assert write_decision(policy, pv.value, "true", None) == "null"
        assert write_decision(policy, pv.value, None, None) == "null"


def test_a_null_answer_is_null_not_low_confidence() -> None:
    """An answer Saber could not verify is a null answer, not counted as held back for confidence."""
    m = parse_mapping(with_default("0.7"))
    values = map_values(m, RESEARCH, runs_k8s(None, answer=None))
    assert values["saber_runs_kubernetes"].value is None
    assert "saber_runs_kubernetes" not in held_back(values)


def test_a_property_threshold_overrides_the_default() -> None:
    """A property's own `min_confidence` replaces the default, stricter or looser, and null disables it."""
    text = with_default("0.9")
    text = edit(
        "{from: signals.runs_kubernetes.answer, type: bool}",
        "{from: signals.runs_kubernetes.answer, type: bool, min_confidence: 0.5}",
        text,
    )
    text = edit(
        "{from: signals.runs_kubernetes.confidence, type: number}",
        "{from: signals.runs_kubernetes.confidence, type: number, min_confidence: null}",
        text,
    )
    values = map_values(parse_mapping(text), RESEARCH, runs_k8s(0.6))
    assert values["saber_runs_kubernetes"].value == "true"
    assert values["saber_runs_kubernetes_confidence"].value == "0.6"
    strict = edit(
        "{from: signals.runs_kubernetes.answer, type: bool}",
        "{from: signals.runs_kubernetes.answer, type: bool, min_confidence: 0.8}",
    )
    values = map_values(parse_mapping(strict), RESEARCH, runs_k8s(0.6))
    assert held_back(values) == ["saber_runs_kubernetes"]  # no default: the other signal property is written
    assert values["saber_runs_kubernetes_confidence"].value == "0.6"


def test_without_thresholds_nothing_is_held_back() -> None:
    """A mapping with no `min_confidence` writes low and missing confidences as before."""
    m = parse_mapping(BASE)
    for confidence in (0.01, None):
        values = map_values(m, RESEARCH, runs_k8s(confidence))
        assert values["saber_runs_kubernetes"].value == "true" and held_back(values) == []


def test_a_held_back_value_hides_its_conversion_error() -> None:
    """An answer held back for low confidence is not also reported as a conversion failure."""
    text = with_default("0.7")
    m = parse_mapping(text)
    odd = {
        "runs_kubernetes": Signal.model_validate(
            {
                "status": "completed",
                "answer": {"type": "open_text", "open_text": {"value": "maybe"}},
                "confidence": 0.1,
            }
        )
    }
    pv = map_values(m, RESEARCH, odd)["saber_runs_kubernetes"]
    assert pv.error is None and pv.low_confidence
    confident = {"runs_kubernetes": odd["runs_kubernetes"].model_copy(update={"confidence": 0.9})}
    assert map_values(m, RESEARCH, confident)["saber_runs_kubernetes"].error


# ---------------------------------------------------------------------------- company values
def test_company_and_subscription_values_honour_thresholds() -> None:
    """The default applies to company properties and subscription entries; low ones are held back per property."""
    m = parse_mapping(with_default("0.8", COMPANIES_EXAMPLE))
    low = Signal.model_validate(
        {
            "status": "completed",
            "answer": {"type": "boolean", "boolean": {"value": True}},
            "confidence": 0.5,
            "company": {"employeeCount": 150},
        }
    )
    values = map_company_values(m, {"hiring_engineers": low})
    assert held_back(values) == ["saber_hiring_engineers", "saber_employee_count"]  # no reasoning: plain null
    assert all(v.value is None for v in values.values())
    entry = Signal.model_validate(
        {
            "status": "completed",
            "answer": {"type": "open_text", "open_text": {"value": "Series B"}},
            "completedAt": "2024-01-15T10:32:15Z",
        }
    )
    sub = map_subscription_values(m, "funding_news", entry)
    assert held_back(sub) == ["saber_funding_news", "saber_funding_news_at"]
    sure = entry.model_copy(update={"confidence": 0.85})
    assert map_subscription_values(m, "funding_news", sure)["saber_funding_news"].value == "Series B"


# ---------------------------------------------------------------------------- explain
def test_explain_shows_the_thresholds() -> None:
    """`mapping explain` names each property's threshold and the mapping's default."""
    text = edit(
        "{from: signals.runs_kubernetes.confidence, type: number}",
        "{from: signals.runs_kubernetes.confidence, type: number, min_confidence: null}",
        with_default("0.75"),
    )
    out = explain_mapping(parse_mapping(text))
    line = next(row for row in out.splitlines() if row.startswith("  saber_runs_kubernetes ("))
    assert "only an answer with confidence at least 0.75" in line
    other = next(row for row in out.splitlines() if row.startswith("  saber_runs_kubernetes_confidence ("))
    assert "confidence at least" not in other
    assert "Answers from signals need confidence at least 0.75 to be written" in out
    assert "confidence at least" not in explain_mapping(parse_mapping(BASE))


def test_schema_checks_the_default_threshold() -> None:
    """The JSON Schema bounds a default `min_confidence` to 0..1 and allows no other unknown top-level key."""
    schema = mapping_json_schema()
    node = schema["properties"]["min_confidence"]
    assert (node["minimum"], node["maximum"]) == (0, 1)
    assert node["type"] == ["number", "null"]
    assert schema_errors(schema, schema, {**YAML(typ="safe").load(BASE), "min_confidense": 0.7})
