"""Values for the mapped properties, read from a research (and its signals) through `from` paths."""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.mapping.convert import ConversionError, to_hubspot
from connector.mapping.hints import shown
from connector.mapping.inputs import normalize_url
from connector.mapping.paths import SUBSCRIPTION_ROOT, FromPath
from connector.saber.models import Research, Signal

if TYPE_CHECKING:
    from connector.mapping.model import AnyPropertySpec, Mapping


@dataclass(frozen=True)
class SignalAsk:
    """A signal the result does not answer, to ask through the sync endpoint of its scope."""

    key: str
    scope: str
    question: str
    answer_type: str
    target: str  # contact profile URL (contact scope) or company domain (company scope)
    template_id: str | None = None  # asked by this Saber template instead of the question


@dataclass(frozen=True)
class PropertyValue:
    """What one property would get: a HubSpot-ready string, nothing (None), or an error.

    `held_back` says why an answer was not written for low confidence (its value is then None,
    like a null answer: nothing is written and nothing is blanked).
    """

    property: str
    value: str | None
    error: str | None = None
    held_back: str | None = None

    @builtins.property  # `property` is a field of this class
    def low_confidence(self) -> bool:
        """Whether the answer was held back for confidence below the property's `min_confidence`."""
        return self.held_back is not None


def confidence_shortfall(threshold: float | None, signal: Signal | None) -> str | None:
    """Why `signal`'s answer falls short of `threshold` (no confidence counts as short), or None."""
    if threshold is None or signal is None:
        return None
    if signal.confidence is None:
        return f"no confidence given, min_confidence {threshold:g}"
    if signal.confidence < threshold:
        return f"confidence {signal.confidence:g} below min_confidence {threshold:g}"
    return None


def held_back(values: AbcMapping[str, PropertyValue]) -> list[str]:
    """The properties whose answers were held back for low confidence (for the summary's counts)."""
    return [name for name, pv in values.items() if pv.low_confidence]


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
    return research.signal_for(spec.text) or answers.get(key)


def _research_field(research: Research, field: str) -> Any:
    return {
        "id": research.id,
        "status": research.status,
        "createdAt": research.created_at,
        "completedAt": research.completed_at,
        "errorCode": research.error_code,
        "error": research.error,
    }.get(field)


def findings(research: Research) -> AbcMapping[str, Any]:
    """Where a research's findings are: its `result` object when it has one, else the research itself
    (the completed shape is not published: assumption A2)."""
    return research.result if research.result is not None else research.raw


def extract(mapping: Mapping, path: FromPath, research: Research, answers: AbcMapping[str, Signal]) -> Any:
    """The raw value a `from` path points at (None when there is none)."""
    if path.root == "research":
        return _research_field(research, str(path.steps[0]))
    if path.root == "result":
        if research.status != "completed":
            return None
        return walk(findings(research), path.steps)
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


def _converted(name: str, spec: AnyPropertySpec, raw: Any, shortfall: str | None) -> PropertyValue:
    """One property's value from its raw answer: held back when the answer's confidence is short."""
    try:
        value = to_hubspot(spec.type, raw, spec.options)
    except ConversionError as err:
        if shortfall:  # not written anyway: the confidence is what keeps it out
            return PropertyValue(name, None, None, shortfall)
        return PropertyValue(name, None, f"{name} ({spec.type}, from {spec.from_}): {err}")
    except Exception as err:  # noqa: BLE001 - one odd value must not stop the others
        if shortfall:
            return PropertyValue(name, None, None, shortfall)
        return PropertyValue(name, None, f"{name} (from {spec.from_}): cannot convert {shown(raw)}: {err}")
    if value is not None and shortfall:
        return PropertyValue(name, None, None, shortfall)
    return PropertyValue(name, value, None)


def map_values(
    mapping: Mapping, research: Research, signal_answers: AbcMapping[str, Signal] | None = None
) -> dict[str, PropertyValue]:
    """Every mapped property's value for one research; conversion problems are per property.

    A signal-fed property whose answer's confidence is below its `min_confidence` (or missing)
    gets no value and says so in `held_back`.
    """
    answers = signal_answers or {}
    out: dict[str, PropertyValue] = {}
    for name, spec in mapping.properties.items():
        raw: Any = None
        shortfall: str | None = None
        try:
            raw = extract(mapping, spec.path, research, answers)
            threshold = mapping.threshold(spec)
            if threshold is not None and research.status == "completed":
                signal = signal_of(mapping, str(spec.path.steps[0]), research, answers)
                shortfall = confidence_shortfall(threshold, signal)
        except Exception as err:  # noqa: BLE001 - one odd value must not stop the others
            out[name] = PropertyValue(name, None, f"{name} (from {spec.from_}): cannot read it: {err}")
            continue
        out[name] = _converted(name, spec, raw, shortfall)
    return out


# ---------------------------------------------------------------------------- companies
def _signal_field(signal: Signal, steps: tuple[str | int, ...]) -> Any:
    """A field of a signal object: answer (deeper), confidence, reasoning, sources, or a raw field."""
    field, rest = str(steps[0]), steps[1:]
    if field == "answer":
        value = signal.answer.value if signal.answer is not None else None
        return walk(value, rest) if rest else value
    if field == "confidence":
        return signal.confidence
    if field == "reasoning":
        return signal.reasoning
    if field == "sources":
        return [s.model_dump(exclude_none=True) for s in signal.sources] or None
    if field == "completedAt":
        return signal.completed_at
    if field == "createdAt":
        return signal.created_at
    return walk(signal.raw, (field, *rest))  # question, domain, id, company.…, changeContext.…


def company_signal_of(
    mapping: Mapping, key: str, answers: AbcMapping[str, Signal], research: Research | None = None
) -> Signal | None:
    """A company-scope signal's answer: the one kept for the company, else one the research holds."""
    found = answers.get(key)
    if found is not None:
        return found
    spec = mapping.signals.get(key)
    if spec is None or research is None or research.status != "completed":
        return None
    return research.signal_for(spec.text)


def map_company_values(
    mapping: Mapping, answers: AbcMapping[str, Signal], research: Research | None = None
) -> dict[str, PropertyValue]:
    """Every `companies.properties` value for one company, from its company-scope signal answers.

    `answers` maps a signal key to the answer kept for this company (asked once per company);
    `research` (any of its contacts' completed research) is looked in when a key is missing.
    Low confidence holds a value back as for contacts (`held_back`); a failed or missing signal
    gives None. Subscription properties are not included: see `map_subscription_values`.
    """
    out: dict[str, PropertyValue] = {}
    for name, spec in mapping.company_properties().items():
        raw: Any = None
        shortfall: str | None = None
        try:
            signal = company_signal_of(mapping, str(spec.path.steps[0]), answers, research)
            if signal is not None and signal.status not in (None, "completed"):
                signal = None
            if signal is not None:
                raw = _signal_field(signal, spec.path.steps[1:])
                shortfall = confidence_shortfall(mapping.threshold(spec), signal)
        except Exception as err:  # noqa: BLE001 - one odd value must not stop the others
            out[name] = PropertyValue(name, None, f"{name} (from {spec.from_}): cannot read it: {err}")
            continue
        out[name] = _converted(name, spec, raw, shortfall)
    return out


def map_subscription_values(mapping: Mapping, subscription: str, entry: Signal) -> dict[str, PropertyValue]:
    """The values one subscription log entry (one execution for one company) gives its properties.

    `subscription` is the key under `companies.subscriptions`. An entry that is not completed
    gives None for everything; low confidence holds values back (`held_back`).
    """
    spec_of = mapping.subscriptions().get(subscription)
    if spec_of is None:
        raise KeyError(f"companies.subscriptions has no {subscription!r}")
    done = entry.status in (None, "completed")
    out: dict[str, PropertyValue] = {}
    for name, spec in spec_of.properties.items():
        raw: Any = None
        shortfall: str | None = None
        try:
            assert spec.path.root == SUBSCRIPTION_ROOT
            if done:
                raw = _signal_field(entry, spec.path.steps)
                shortfall = confidence_shortfall(mapping.threshold(spec), entry)
        except Exception as err:  # noqa: BLE001 - one odd value must not stop the others
            out[name] = PropertyValue(name, None, f"{name} (from {spec.from_}): cannot read it: {err}")
            continue
        out[name] = _converted(name, spec, raw, shortfall)
    return out


def profile_url(research: Research, inputs: AbcMapping[str, str]) -> str | None:
    """The contact's profile URL: the one sent to Saber, else the one research found."""
    given = inputs.get("contactProfileUrl")
    if given:
        return given
    found = walk(findings(research), ("linkedInUrl",))
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
        if research.signal_for(spec.text) is not None:
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
        asks.append(SignalAsk(key, spec.scope, spec.text, spec.answer_type, target, spec.template))
    return asks, cannot
