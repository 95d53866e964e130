"""Values for the mapped properties, read from a research (and its signals) through `from` paths."""

from __future__ import annotations

import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.mapping.convert import ConversionError, to_hubspot
from connector.mapping.hints import shown
from connector.mapping.inputs import normalize_url
from connector.mapping.paths import FromPath
from connector.saber.models import Research, Signal

if TYPE_CHECKING:
    from connector.mapping.model import Mapping


@dataclass(frozen=True)
class SignalAsk:
    """A signal the result does not answer, to ask through the sync endpoint of its scope."""

    key: str
    scope: str
    question: str
    answer_type: str
    target: str  # contact profile URL (contact scope) or company domain (company scope)


@dataclass(frozen=True)
class PropertyValue:
    """What one property would get: a HubSpot-ready string, nothing (None), or an error."""

    property: str
    value: str | None
    error: str | None = None


def _spellings(key: str) -> list[str]:
    """A key as written, camelCase and snake_case (the contract allows both)."""
    camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), key)
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()
    return list(dict.fromkeys([key, camel, snake]))


def walk(value: Any, steps: tuple[str | int, ...]) -> Any:
    """Follow keys and list indexes into `value`; None where the path leads nowhere."""
    for step in steps:
        if isinstance(value, AbcMapping):
            for key in _spellings(str(step)):
                if key in value:
                    value = value[key]
                    break
            else:
                return None
        elif isinstance(value, list | tuple) and isinstance(step, int):
            if not -len(value) <= step < len(value):
                return None
            value = value[step]
        else:
            return None
    return value


def signal_of(
    mapping: Mapping, key: str, research: Research, answers: AbcMapping[str, Signal]
) -> Signal | None:
    """A signal's answer: from the research result when it holds the question, else as asked."""
    spec = mapping.signals.get(key)
    if spec is None:
        return None
    return research.signal_for(spec.question) or answers.get(key)


def _research_field(research: Research, field: str) -> Any:
    return {
        "id": research.id,
        "status": research.status,
        "createdAt": research.created_at,
        "completedAt": research.completed_at,
        "errorCode": research.error_code,
        "error": research.error,
    }.get(field)


def extract(mapping: Mapping, path: FromPath, research: Research, answers: AbcMapping[str, Signal]) -> Any:
    """The raw value a `from` path points at (None when there is none)."""
    if path.root == "research":
        return _research_field(research, str(path.steps[0]))
    if path.root == "result":
        if research.status != "completed" or research.result is None:
            return None
        return walk(research.result, path.steps)
    if research.status != "completed":
        return None
    signal = signal_of(mapping, str(path.steps[0]), research, answers)
    if signal is None:
        return None
    field = path.steps[1]
    if field == "answer":
        value = signal.answer.value if signal.answer is not None else None
        return walk(value, path.steps[2:]) if len(path.steps) > 2 else value
    if field == "confidence":
        return signal.confidence
    if field == "reasoning":
        return signal.reasoning
    return [s.model_dump(exclude_none=True) for s in signal.sources] or None


def map_values(
    mapping: Mapping, research: Research, signal_answers: AbcMapping[str, Signal] | None = None
) -> dict[str, PropertyValue]:
    """Every mapped property's value for one research; conversion problems are per property."""
    answers = signal_answers or {}
    out: dict[str, PropertyValue] = {}
    for name, spec in mapping.properties.items():
        raw: Any = None
        try:
            raw = extract(mapping, spec.path, research, answers)
            value = to_hubspot(spec.type, raw, spec.options)
        except ConversionError as err:
            out[name] = PropertyValue(name, None, f"{name} ({spec.type}, from {spec.from_}): {err}")
            continue
        except Exception as err:  # noqa: BLE001 - one odd value must not stop the others
            out[name] = PropertyValue(
                name, None, f"{name} (from {spec.from_}): cannot convert {shown(raw)}: {err}"
            )
            continue
        out[name] = PropertyValue(name, value, None)
    return out


def profile_url(research: Research, inputs: AbcMapping[str, str]) -> str | None:
    """The contact's profile URL: the one sent to Saber, else the one research found."""
    given = inputs.get("contactProfileUrl")
    if given:
        return given
    found = walk(research.result or {}, ("linkedInUrl",))
    return normalize_url(found) if isinstance(found, str) and found.strip() else None


def signals_to_ask(
    mapping: Mapping, research: Research, inputs: AbcMapping[str, str]
) -> tuple[list[SignalAsk], dict[str, str]]:
    """Signals the research result does not answer and can be asked, and why the others cannot."""
    asks: list[SignalAsk] = []
    cannot: dict[str, str] = {}
    used = set(mapping.used_signals())
    for key, spec in mapping.signals.items():
        if key not in used:
            cannot[key] = "no property maps it"
            continue
        if research.status != "completed":
            cannot[key] = f"the research is {research.status}"
            continue
        if research.signal_for(spec.question) is not None:
            continue
        if spec.scope == "company":
            target = inputs.get("companyDomain")
            why = "no company domain"
        else:
            target = profile_url(research, inputs)
            why = "no profile URL: no contactProfileUrl input and the research found no linkedInUrl"
        if not target:
            cannot[key] = why
            continue
        asks.append(SignalAsk(key, spec.scope, spec.question, spec.answer_type, target))
    return asks, cannot
