"""The mapping file as pydantic models: the root `Mapping`, and what it derives for the sync.

The sections live beside it: the contact side and the shared property model in
`connector.mapping.fields`, the companies section in `connector.mapping.companies`, the
prospecting section in `connector.mapping.prospecting`; their names are re-exported here, where
the loader, the description and the sync look them up.
Validators raise `problem(...)` errors that carry what was found, what is allowed and a
"did you mean" hint; the loader turns them into `file:line: key.path: found …, allowed: …`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from connector.mapping.companies import (
    COMPANY_MATCH_PROPERTY,
    AnyPropertySpec,
    Companies,
    CompanyPropertySpec,
    SubscriptionPropertySpec,
    SubscriptionSpec,
    company_reference_problems,
)
from connector.mapping.convert import canonical
from connector.mapping.fields import (
    ANSWER_TYPES,
    COMPANY_MATCHES,
    CONFIDENCE_WORDS,
    INPUT_FIELDS,
    MAX_FILTERS,
    NAME_PATTERN,
    NORMALIZERS,
    OPERATORS,
    OPTION_TYPES,
    OPTIONAL_INPUTS,
    PATTERN_WORDS,
    PROPERTY_TYPES,
    REQUIRED_INPUTS,
    SCOPES,
    SIGNAL_KEY_PATTERN,
    UUID_PATTERN,
    WRITE_POLICIES,
    Confidence,
    FilterSpec,
    Inputs,
    InputSpec,
    NonEmpty,
    PropertyName,
    PropertySpec,
    PropertyType,
    Select,
    SignalKey,
    SignalSpec,
    StrictModel,
    WritePolicy,
    problem,
)
from connector.mapping.hints import did_you_mean, shown
from connector.mapping.linkedin import LinkedIn, linkedin_reference_problems
from connector.mapping.paths import PathError, parse_from
from connector.mapping.prospecting import Prospecting, prospecting_reference_problems

__all__ = [
    "ANSWER_TYPES",
    "COMPANY_MATCHES",
    "COMPANY_MATCH_PROPERTY",
    "CONFIDENCE_WORDS",
    "INPUT_FIELDS",
    "MAX_FILTERS",
    "NAME_PATTERN",
    "NORMALIZERS",
    "OPERATORS",
    "OPTIONAL_INPUTS",
    "OPTION_TYPES",
    "PATTERN_WORDS",
    "PROPERTY_TYPES",
    "REQUIRED_INPUTS",
    "SCOPES",
    "SIGNAL_KEY_PATTERN",
    "UUID_PATTERN",
    "WRITE_POLICIES",
    "AnyPropertySpec",
    "Companies",
    "CompanyPropertySpec",
    "FilterSpec",
    "HubspotGroup",
    "InputSpec",
    "LinkedIn",
    "Inputs",
    "Mapping",
    "PropertyDefinition",
    "PropertySpec",
    "PropertyType",
    "Prospecting",
    "Select",
    "SignalSpec",
    "SubscriptionPropertySpec",
    "SubscriptionSpec",
    "WritePolicy",
    "canonical_company_value",
    "canonical_value",
    "company_reference_problems",
    "derived_label",
    "linkedin_reference_problems",
    "problem",
    "prospecting_reference_problems",
    "reference_problems",
]


@dataclass(frozen=True)
class PropertyDefinition:
    """What `setup` needs to create one mapped property (contact or company) in HubSpot."""

    name: str
    label: (
        str  # the mapping's `label`, else derived from the name: saber_employee_count -> Saber Employee count
    )
    type: str  # the mapping's type: string, number, bool, date, datetime, enumeration, multiple
    options: tuple[str, ...]  # HubSpot option values an enumeration needs, in mapping order
    group: str  # the property group (`hubspot_group.name`)
    source: str  # the `from` it is written from (long text for summary/reasoning/… is setup's call)


def derived_label(name: str) -> str:
    """A property's label when the mapping gives none (as `setup` derives it for contact properties)."""
    return "Saber " + name.removeprefix("saber_").replace("_", " ").replace("-", " ").strip().capitalize()


class HubspotGroup(StrictModel):
    """The HubSpot property group `setup` creates the connector's properties in."""

    name: PropertyName = "saber"
    label: NonEmpty = "Saber"


def reference_problems(
    properties: dict[str, tuple[Any, Any]], signal_keys: set[str], input_properties: set[str]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-references a single section cannot check: (key path, message) for each problem.

    `properties` maps a property name to its (from, write) as found, possibly malformed.
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    for name, (source, write) in properties.items():
        if isinstance(source, str):
            try:
                path = parse_from(source)
            except PathError:
                path = None
            key = path.signal_key if path is not None else None
            if key is not None and key not in signal_keys:
                allowed = ", ".join(sorted(signal_keys)) or "none: add it under signals:"
                hint = did_you_mean(key, signal_keys)
                message = f"found signal {key!r}, which signals does not define, allowed: {allowed}"
                out.append(
                    (("properties", name, "from"), message + (f"; did you mean {hint!r}?" if hint else ""))
                )
        if name in input_properties and write != "if_empty":
            out.append(
                (
                    ("properties", name),
                    f"found {name!r}, which is also an input: writing it would change the inputs and "
                    "research the contact again; allowed: only with write: if_empty",
                )
            )
    return out


class Mapping(StrictModel):
    """A loaded mapping file: which contacts, what is sent to Saber, asked, and written where."""

    version: Literal[1] = Field(description="format version; 1")
    external_source: str = Field(
        "hubspot", min_length=1, max_length=50, description="externalSource sent to Saber"
    )
    select: Select = Field(default_factory=Select)
    inputs: Inputs
    signals: dict[SignalKey, SignalSpec] = Field(default_factory=dict)
    properties: dict[PropertyName, PropertySpec] = Field(min_length=1)
    hubspot_group: HubspotGroup = Field(default_factory=HubspotGroup)
    min_confidence: Confidence = Field(
        None, description="default confidence every signal-fed property's answer needs (0.0-1.0)"
    )
    companies: Companies | None = Field(None, description="company answers on HubSpot company records")
    prospecting: Prospecting | None = Field(
        None, description="people found at target accounts with Saber's contact search, created in HubSpot"
    )
    linkedin: LinkedIn | None = Field(
        None,
        description="LinkedIn prospecting jobs imported into HubSpot, signal scans written onto contacts",
    )

    _source_path: Path | None = PrivateAttr(None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave out the later sections when unused: an older mapping dumps (and fingerprints) as before."""
        data = handler(self)
        if isinstance(data, dict):
            for key in ("min_confidence", "companies", "prospecting", "linkedin"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _version_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise problem(shown(value), "1")
        return value

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Mapping:
        if (info.context or {}).get("references_checked"):
            return self
        found = reference_problems(
            {name: (spec.from_, spec.write) for name, spec in self.properties.items()},
            set(self.signals),
            set(self.input_properties()),
        )
        if self.companies is not None:
            found += company_reference_problems(self.companies.model_dump(by_alias=True), dict(self.signals))
        if self.prospecting is not None:
            found += prospecting_reference_problems(
                self.prospecting.model_dump(),
                self.inputs.model_dump(exclude_none=True),
                dict(self.properties),
            )
        if self.linkedin is not None:
            found += linkedin_reference_problems(
                self.linkedin.model_dump(by_alias=True), dict(self.properties)
            )
        if found:
            loc, message = found[0]
            raise ValueError(f"{'.'.join(str(p) for p in loc)}: {message}")
        return self

    # ------------------------------------------------------------------ derived views
    @property
    def source_path(self) -> Path | None:
        """The file this mapping was loaded from (None when built in code)."""
        return self._source_path

    def line_of(self, *path: str | int) -> int | None:
        """The line of a key in the mapping file (its nearest parent's when absent)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self._lines:
                return self._lines[path[:end]]
        return None

    def where(self, *path: str | int) -> str:
        """`file:line` of a key, for messages."""
        line = self.line_of(*path)
        name = str(self._source_path) if self._source_path is not None else "<mapping>"
        return f"{name}:{line}" if line else name

    def cycle_dump(self) -> dict[str, Any]:
        """The mapping as the sync cycle reads it (what its fingerprint is taken of): all of it but
        `prospecting` and `linkedin`, stages of their own, so adding or editing them pulls nothing again."""
        data: dict[str, Any] = self.model_dump(mode="json")
        data.pop("prospecting", None)
        data.pop("linkedin", None)
        return data

    def prospecting_property_definitions(self) -> list[PropertyDefinition]:
        """The contact properties `prospecting.contact` writes, as `setup` creates those the portal
        lacks: text properties in the mapping's group (empty without the section)."""
        if self.prospecting is None:
            return []
        return [
            PropertyDefinition(
                name=name,
                label=derived_label(name),
                type="string",
                options=(),
                group=self.hubspot_group.name,
                source=f"prospecting.contact: {source.words()}",
            )
            for name, source in self.prospecting.contact.items()
        ]

    def linkedin_property_definitions(self) -> list[PropertyDefinition]:
        """The contact properties `linkedin.contact` sets (text) and the scans write (their types), as
        `setup` creates those the portal lacks, in the mapping's group (empty without the section)."""
        if self.linkedin is None:
            return []
        group = self.hubspot_group.name
        out = [
            PropertyDefinition(
                name, derived_label(name), "string", (), group, f"linkedin.contact: {src.words()}"
            )
            for name, src in self.linkedin.contact.items()
        ]
        for name, (scan, prop) in self.linkedin.scan_properties().items():
            label = prop.label or derived_label(name)
            out.append(
                PropertyDefinition(name, label, prop.type, (), group, f"linkedin.scans.{scan}: {prop.from_}")
            )
        return out

    def input_properties(self) -> list[str]:
        """HubSpot properties the inputs read, fallbacks included, in order, without repeats."""
        names = [spec.property for _, top in self.inputs.items() for spec in top.chain()]
        return list(dict.fromkeys(names))

    def output_properties(self) -> list[str]:
        """HubSpot properties the mapping writes, in file order."""
        return list(self.properties)

    def hubspot_properties(self) -> list[str]:
        """Input and output properties, deduplicated: what the sync reads from HubSpot."""
        return list(dict.fromkeys([*self.input_properties(), *self.output_properties()]))

    def used_signals(self) -> list[str]:
        """Signal keys some property maps (contact or company); the others are never asked."""
        specs = [*self.properties.values(), *self.company_properties().values()]
        used = {spec.path.signal_key for spec in specs}
        return [key for key in self.signals if key in used]

    def contact_signals(self) -> list[str]:
        """Signal keys some contact property maps (a company-only signal lands on companies only)."""
        used = {spec.path.signal_key for spec in self.properties.values()}
        return [key for key in self.signals if key in used]

    # ------------------------------------------------------------------ companies
    def company_properties(self) -> dict[str, CompanyPropertySpec]:
        """`companies.properties`: company property <- company-scope signal (empty without companies)."""
        return dict(self.companies.properties) if self.companies is not None else {}

    def subscriptions(self) -> dict[str, SubscriptionSpec]:
        """`companies.subscriptions` by their names (empty without companies)."""
        return dict(self.companies.subscriptions) if self.companies is not None else {}

    def company_specs(self) -> dict[str, CompanyPropertySpec | SubscriptionPropertySpec]:
        """Every HubSpot company property the mapping writes, with its spec, in file order."""
        return self.companies.specs() if self.companies is not None else {}

    def company_spec(self, name: str) -> CompanyPropertySpec | SubscriptionPropertySpec | None:
        """The spec of one written company property (type, options, write policy, label), or None."""
        return self.company_specs().get(name)

    def company_property_definitions(self) -> list[PropertyDefinition]:
        """Every written company property as `setup` creates it: name, label, type, options, group."""
        return [
            PropertyDefinition(
                name=name,
                label=spec.label or derived_label(name),
                type=spec.type,
                options=tuple(dict.fromkeys((spec.options or {}).values())),
                group=self.hubspot_group.name,
                source=spec.from_,
            )
            for name, spec in self.company_specs().items()
        ]

    def company_output_properties(self) -> list[str]:
        """HubSpot company properties the mapping writes, in file order (what `setup` creates)."""
        return list(self.company_specs())

    def company_hubspot_properties(self) -> list[str]:
        """What the sync reads from HubSpot companies: `domain` (to match by) and the written ones."""
        if self.companies is None:
            return []
        return list(dict.fromkeys([COMPANY_MATCH_PROPERTY, *self.company_output_properties()]))

    def company_signals(self) -> list[str]:
        """Signal keys a company property maps: asked once per company, written on the company."""
        used = {spec.path.signal_key for spec in self.company_properties().values()}
        return [key for key in self.signals if key in used]

    def threshold(self, spec: AnyPropertySpec) -> float | None:
        """The confidence a property's answers need (its own, else the mapping's; None: no threshold)."""
        return spec.threshold(self.min_confidence)

    def filter_properties(self) -> list[str]:
        """HubSpot properties the select filters test."""
        return list(dict.fromkeys(f.property for f in self.select.filters))

    def template_signals(self) -> dict[str, str]:
        """Signal key -> the template id it asks, for the signals that name a template."""
        return {key: spec.template for key, spec in self.signals.items() if spec.template is not None}

    def with_templates(self, templates: dict[str, tuple[str, str]]) -> Mapping:
        """A copy whose template signals carry their template's question and answer type (key -> both)."""
        signals = dict(self.signals)
        for key, (question, answer_type) in templates.items():
            spec = signals[key]
            kind = answer_type if answer_type in ANSWER_TYPES else "open_text"
            signals[key] = spec.model_copy(update={"question": question, "answer_type": kind})
        return self.model_copy(update={"signals": signals})

    def with_source(self, path: str | Path | None, lines: dict[tuple[str | int, ...], int]) -> Mapping:
        """Attach where the mapping came from (used by the loader)."""
        self._source_path = Path(path) if path is not None else None
        self._lines = dict(lines)
        return self


def canonical_value(mapping: Mapping, prop: str, current: str | None) -> str | None:
    """HubSpot's current value of a mapped property, canonicalised for that property's type."""
    spec = mapping.properties.get(prop)
    return canonical(spec.type if spec is not None else "string", current)


def canonical_company_value(mapping: Mapping, prop: str, current: str | None) -> str | None:
    """HubSpot's current value of a written company property, canonicalised for its type."""
    spec = mapping.company_spec(prop)
    return canonical(spec.type if spec is not None else "string", current)
