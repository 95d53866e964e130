"""The mapping file as pydantic models: frozen, strict, unknown keys rejected.

Validators raise `problem(...)` errors that carry what was found, what is allowed and a
"did you mean" hint; the loader turns them into `file:line: key.path: found …, allowed: …`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connector.hubspot.limits import SearchOperator
from connector.mapping.convert import ConversionError, option_key
from connector.mapping.hints import did_you_mean, shown
from connector.mapping.paths import (
    COMPANY_FROM_PATTERN,
    FROM_PATTERN,
    SUBSCRIPTION_FROM_PATTERN,
    SUBSCRIPTION_ROOT,
    FromPath,
    PathError,
    parse_company_from,
    parse_from,
    parse_subscription_from,
)

WritePolicy = Literal["unless_edited", "always", "if_empty"]
PropertyType = Literal["string", "number", "bool", "date", "datetime", "enumeration", "multiple"]
Operator = (
    SearchOperator  # HubSpot's own list (connector.hubspot.limits): the mapping accepts what search does
)
Normalizer = Literal["domain", "email_domain", "url", "trim"]
Scope = Literal["contact", "company"]
VerificationMode = Literal["strict", "lenient"]
CompanyMatch = Literal["association", "domain"]
AnswerType = Literal[
    "open_text", "number", "boolean", "list", "percentage", "currency", "url", "json_schema",
    "contacts", "contacts_generation", "contact_posts", "contact_engagements",
]  # fmt: skip

WRITE_POLICIES: tuple[str, ...] = get_args(WritePolicy)
PROPERTY_TYPES: tuple[str, ...] = get_args(PropertyType)
OPERATORS: tuple[str, ...] = get_args(Operator)
NORMALIZERS: tuple[str, ...] = get_args(Normalizer)
SCOPES: tuple[str, ...] = get_args(Scope)
COMPANY_MATCHES: tuple[str, ...] = get_args(CompanyMatch)
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)
REQUIRED_INPUTS = ("firstName", "lastName", "companyName", "companyDomain")
OPTIONAL_INPUTS = ("contactProfileUrl", "linkedInSalesNavigatorUrl", "jobTitle")
INPUT_FIELDS = REQUIRED_INPUTS + OPTIONAL_INPUTS
OPTION_TYPES = ("enumeration", "multiple")
MAX_FILTERS = 3  # HubSpot allows 6 per search; the sync adds up to 3 (time window, keyset or ids)

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
CONFIDENCE_WORDS = "a number from 0.0 to 1.0 (the confidence an answer needs to be written)"
# The company property the connector matches companies by: writing it would move the match.
COMPANY_MATCH_PROPERTY = "domain"
SIGNAL_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
PATTERN_WORDS = {
    NAME_PATTERN: "a HubSpot internal name (lowercase letters, digits, underscores; a letter first)",
    SIGNAL_KEY_PATTERN: "letters, digits and underscores, not starting with a digit",
}

PropertyName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
SignalKey = Annotated[str, StringConstraints(pattern=SIGNAL_KEY_PATTERN)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def problem(
    found: str, allowed: str, *, hint: str | None = None, at: tuple[str | int, ...] = ()
) -> Exception:
    """A validation error the loader renders as `found …, allowed: …` (at: a deeper key)."""
    text = f"found {found}, allowed: {allowed}" + (f"; did you mean {hint!r}?" if hint else "")
    return PydanticCustomError("mapping", text, {"found": found, "allowed": allowed, "hint": hint, "at": at})


def _filter_scalar(value: Any) -> Any:
    """Filter values go to HubSpot as text: booleans as true/false, numbers plain, dates ISO."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return option_key(value)
        except ConversionError:
            raise problem(shown(value), "text, a finite number, true/false or a date") from None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise problem(shown(value), "text, a number, true/false or a date")


FilterScalar = Annotated[
    str,
    BeforeValidator(_filter_scalar),
    WithJsonSchema({"type": ["string", "number", "integer", "boolean"]}),
]


def _confidence(value: Any) -> Any:
    """A confidence threshold: a number from 0 to 1 (ints allowed, booleans and text not)."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise problem(shown(value), CONFIDENCE_WORDS)
    return float(value)


Confidence = Annotated[
    float | None,
    BeforeValidator(_confidence),
    WithJsonSchema({"type": ["number", "null"], "minimum": 0, "maximum": 1}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_by_name=True, serialize_by_alias=True
    )


class FilterSpec(_Strict):
    """One HubSpot search filter; all filters must hold for a contact to be selected."""

    property: PropertyName = Field(description="HubSpot contact property")
    operator: Operator = Field(description="HubSpot search operator")
    value: FilterScalar | None = Field(
        None, description="for EQ, NEQ, GT, GTE, LT, LTE, CONTAINS_TOKEN, BETWEEN"
    )
    values: list[FilterScalar] | None = Field(None, min_length=1, description="for IN and NOT_IN")
    high_value: FilterScalar | None = Field(None, description="the upper bound, for BETWEEN")

    @model_validator(mode="after")
    def _operands(self) -> FilterSpec:
        op = self.operator
        given = {k for k in ("value", "values", "high_value") if getattr(self, k) is not None}
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            needed: set[str] = set()
        elif op in ("IN", "NOT_IN"):
            needed = {"values"}
        elif op == "BETWEEN":
            needed = {"value", "high_value"}
        else:
            needed = {"value"}
        if given == needed:
            return self
        extra, missing = sorted(given - needed), sorted(needed - given)
        found = ", ".join([f"{k} (not used by {op})" for k in extra] + [f"no {k}" for k in missing])
        order = ("value", "high_value", "values")
        wanted = " and ".join(k for k in order if k in needed) if needed else "no value"
        at = (extra[0],) if extra else ()
        raise problem(found, f"operator {op} takes {wanted}", at=at)


class Select(_Strict):
    """Which contacts are researched, how often, and how many new ones per run."""

    filters: list[FilterSpec] = Field(default_factory=list, max_length=MAX_FILTERS)
    refresh_after_days: int | None = Field(
        90, ge=1, description="research again after this many days; null: never"
    )
    max_new_per_run: int = Field(500, ge=0, description="new research launched per run, at most")


class InputSpec(_Strict):
    """Where a Saber input comes from: a HubSpot property, normalised, with an optional fallback."""

    property: PropertyName = Field(description="HubSpot contact property to read")
    normalize: Normalizer | None = Field(
        None, description="domain, email_domain, url or trim (always applied)"
    )
    fallback: InputSpec | None = Field(None, description="used when this property is empty or unusable")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"property": data}
        if isinstance(data, dict):
            return data
        raise problem(shown(data), "a HubSpot property name or {property, normalize, fallback}")

    def chain(self) -> Iterator[InputSpec]:
        """This spec, then its fallbacks in order."""
        spec: InputSpec | None = self
        while spec is not None:
            yield spec
            spec = spec.fallback


class Inputs(_Strict):
    """Saber research fields, each read from a HubSpot contact property."""

    # Saber's own field names, camelCase as the API spells them.
    firstName: InputSpec
    lastName: InputSpec
    companyName: InputSpec
    companyDomain: InputSpec
    contactProfileUrl: InputSpec | None = None
    linkedInSalesNavigatorUrl: InputSpec | None = None
    jobTitle: InputSpec | None = None

    def items(self) -> list[tuple[str, InputSpec]]:
        """(Saber field, spec) for every mapped input, required ones first."""
        return [(name, spec) for name in INPUT_FIELDS if (spec := getattr(self, name)) is not None]

    def get(self, name: str) -> InputSpec | None:
        return getattr(self, name, None) if name in INPUT_FIELDS else None

    def keys(self) -> list[str]:
        return [name for name, _ in self.items()]

    def __getitem__(self, name: str) -> InputSpec:
        spec = self.get(name)
        if spec is None:
            raise KeyError(name)
        return spec

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


class SignalSpec(_Strict):
    """A question answered for every researched contact: written out, or a Saber signal template's."""

    question: NonEmpty | None = Field(
        None, description="asked as written; matched to result signals ignoring case/spacing"
    )
    template: NonEmpty | None = Field(
        None,
        description="a Saber signal template's id, instead of question: the template fixes the question and "
        "the answer type (`check` reads it)",
    )
    scope: Scope = Field("contact", description="contact (needs a profile URL) or company (the domain)")
    answer_type: AnswerType = Field("open_text", description="Saber's answer type")
    verification_mode: VerificationMode = Field(
        "strict",
        description="strict: an answer Saber cannot verify is null (never written); lenient: best-effort "
        "estimates (sent as verificationMode)",
    )

    @model_validator(mode="after")
    def _question_or_template(self) -> SignalSpec:
        if self.template is None and self.question is None:
            raise problem("neither question nor template", "question: <text>, or template: <template id>")
        if self.template is not None and "question" in self.model_fields_set:
            raise problem(
                "both question and template",
                "one of them: a template fixes its own question",
                at=("template",),
            )
        if self.template is not None and "answer_type" in self.model_fields_set:
            raise problem(
                "answer_type with a template",
                "no answer_type: the template fixes it",
                at=("answer_type",),
            )
        return self

    @property
    def text(self) -> str:
        """The question as the mapping names it: its text, or `template <id>` until the template is read."""
        return self.question if self.question is not None else f"template {self.template}"

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Dump the later keys only when written: mappings without them dump (and fingerprint) as before."""
        data = handler(self)
        if isinstance(data, dict):
            for key in ("verification_mode", "template"):
                if key not in self.model_fields_set:
                    data.pop(key, None)
            if self.template is not None:  # filled in from the template: not the mapping's own
                data.pop("question", None)
                data.pop("answer_type", None)
        return data


class _WrittenProperty(_Strict):
    """What every written property shares (contact or company): source, type, options, policy, label,
    and the confidence a signal's answer needs before it is written."""

    from_: str = Field(
        alias="from",
        description="result.<path>, signals.<key>.<field> or research.<field>",
        json_schema_extra={"pattern": FROM_PATTERN},
    )
    type: PropertyType = Field("string", description="HubSpot property type the value is converted for")
    options: dict[str, str] | None = Field(None, description="Saber value -> HubSpot option value")
    write: WritePolicy = Field("unless_edited", description="when a value may be written")
    label: NonEmpty | None = Field(None, description="label for `setup`; derived from the name when absent")
    min_confidence: Confidence = Field(
        None,
        description="signal-fed properties only: an answer below this confidence (or with none) is "
        "not written; default: the mapping's min_confidence; null: no threshold",
    )

    @classmethod
    def parse_path(cls, text: str) -> FromPath:
        """The `from` grammar of this kind of property."""
        return parse_from(text)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Dump `min_confidence` only when written: mappings without it dump (and fingerprint) as before."""
        data = handler(self)
        if isinstance(data, dict) and "min_confidence" not in self.model_fields_set:
            data.pop("min_confidence", None)
        return data

    @field_validator("from_", mode="after")
    @classmethod
    def _path(cls, text: str) -> str:
        try:
            return cls.parse_path(text).text
        except PathError as err:
            raise problem(err.detail, err.allowed, hint=err.hint) from None

    @field_validator("options", mode="before")
    @classmethod
    def _option_keys(cls, data: Any) -> Any:
        """YAML keys like `true` or `3` become the strings a Saber value is looked up by."""
        if not isinstance(data, dict):
            return data
        if not data:
            raise problem("an empty mapping", "Saber value: HubSpot option value pairs")
        out: dict[str, Any] = {}
        for key, value in data.items():
            try:
                key_text = option_key(key) if key is not None else "null"
                value_text = (
                    option_key(value) if not isinstance(value, dict | list) and value is not None else value
                )
            except ConversionError as err:
                raise problem(str(err), "text option values", at=(str(key),)) from None
            if isinstance(value_text, str) and (not value_text or ";" in value_text):
                raise problem(shown(value_text), "a non-empty option value without ';'", at=(key_text,))
            out[key_text] = value_text
        return out

    @model_validator(mode="after")
    def _options_need_enumeration(self) -> _WrittenProperty:
        if self.options is not None and self.type not in OPTION_TYPES:
            raise problem(
                f"options with type {self.type}",
                "options only with type enumeration or multiple",
                at=("options",),
            )
        return self

    @model_validator(mode="after")
    def _confidence_needs_a_signal(self) -> _WrittenProperty:
        if self.min_confidence is not None and not self.signal_fed:
            raise problem(
                f"min_confidence {self.min_confidence:g} on a property from {self.from_}",
                "min_confidence only on properties fed by a signal (from: signals.<key>.…)",
                at=("min_confidence",),
            )
        return self

    @property
    def path(self) -> FromPath:
        return type(self).parse_path(self.from_)

    @property
    def signal_fed(self) -> bool:
        """Whether the value comes from a signal (so a confidence threshold applies to it)."""
        return self.path.root in ("signals", SUBSCRIPTION_ROOT)

    def threshold(self, default: float | None) -> float | None:
        """The confidence this property's answers need: its own `min_confidence` (null: none),
        else the mapping's default; None for properties not fed by a signal."""
        if not self.signal_fed:
            return None
        if "min_confidence" in self.model_fields_set:
            return self.min_confidence
        return default


class PropertySpec(_WrittenProperty):
    """A HubSpot contact property the connector writes, and where its value comes from."""


class CompanyPropertySpec(_WrittenProperty):
    """A HubSpot company property fed by a company-scope signal (its answer or a company fact)."""

    from_: str = Field(
        alias="from",
        description="signals.<key>.answer|confidence|reasoning|sources|company.<field> "
        "of a company-scope signal",
        json_schema_extra={"pattern": COMPANY_FROM_PATTERN},
    )

    @classmethod
    def parse_path(cls, text: str) -> FromPath:
        return parse_company_from(text)


class SubscriptionPropertySpec(_WrittenProperty):
    """A HubSpot company property fed by a field of a subscription's log entry."""

    from_: str = Field(
        alias="from",
        description="a field of the subscription's log entry: answer[.<path>], confidence, reasoning, "
        "sources, completedAt, createdAt, question, domain, id, company.<field>, changeContext.<field>",
        json_schema_extra={"pattern": SUBSCRIPTION_FROM_PATTERN},
    )

    @classmethod
    def parse_path(cls, text: str) -> FromPath:
        return parse_subscription_from(text)


AnyPropertySpec = PropertySpec | CompanyPropertySpec | SubscriptionPropertySpec


class SubscriptionSpec(_Strict):
    """A Saber company signal subscription whose executions land on HubSpot companies (no credits)."""

    id: NonEmpty = Field(description="the subscription's UUID, as Saber shows it")
    properties: dict[PropertyName, SubscriptionPropertySpec] = Field(
        min_length=1, description="HubSpot company property <- a field of the log entry"
    )

    @property
    def looks_like_uuid(self) -> bool:
        """Whether `id` has a UUID's shape (Saber answers 404 for anything else)."""
        return re.fullmatch(UUID_PATTERN, self.id) is not None


class Companies(_Strict):
    """Company answers on HubSpot company records: how a contact's company is found, what is written."""

    match: CompanyMatch = Field(
        "association",
        description="association: the contact's primary associated company; "
        "domain: the one company whose domain equals the contact's companyDomain input",
    )
    properties: dict[PropertyName, CompanyPropertySpec] = Field(
        default_factory=dict, description="HubSpot company property <- a company-scope signal"
    )
    subscriptions: dict[SignalKey, SubscriptionSpec] = Field(
        default_factory=dict, description="Saber company signal subscriptions, by a name of your choice"
    )

    @model_validator(mode="after")
    def _something_to_write(self) -> Companies:
        if not self.properties and not self.subscriptions:
            raise problem(
                "nothing to write", "properties and/or subscriptions (or leave companies out)", at=()
            )
        return self

    def specs(self) -> dict[str, CompanyPropertySpec | SubscriptionPropertySpec]:
        """Every company property written, in file order: `properties`, then each subscription's."""
        out: dict[str, CompanyPropertySpec | SubscriptionPropertySpec] = dict(self.properties)
        for sub in self.subscriptions.values():
            for name, spec in sub.properties.items():
                out.setdefault(name, spec)
        return out


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


class HubspotGroup(_Strict):
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


def _scope_of(raw: Any) -> str:
    """A signal's scope from its definition, raw or loaded (contact when unsaid or malformed)."""
    if isinstance(raw, SignalSpec):
        return raw.scope
    scope = raw.get("scope", "contact") if isinstance(raw, dict) else "contact"
    return scope if isinstance(scope, str) else "contact"


def company_reference_problems(
    companies: Any, signals: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the `companies` section refers to, checked across sections (raw data, possibly malformed):
    each company property's signal must be defined and company-scope; a company property is fed by
    one source; a subscription id is used once; the matching property `domain` is not written.

    `signals` maps a signal key to its raw definition (or a SignalSpec).
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(companies, dict):
        return out
    scopes = {key: _scope_of(spec) for key, spec in signals.items()}
    company_keys = sorted(k for k, v in scopes.items() if v == "company")
    allowed = ", ".join(company_keys) or "none: add one under signals: with scope: company"
    sources: dict[str, tuple[str | int, ...]] = {}

    def claim(name: str, loc: tuple[str | int, ...]) -> None:
        if name == COMPANY_MATCH_PROPERTY:
            out.append(
                (
                    loc,
                    f"found company property {name!r}, which the connector matches companies by; "
                    "allowed: any other company property",
                )
            )
        first = sources.setdefault(name, loc)
        if first != loc:
            out.append(
                (
                    loc,
                    f"found company property {name!r} also written by {'.'.join(str(p) for p in first)}, "
                    "allowed: one source per company property",
                )
            )

    props = companies.get("properties")
    for name, spec in props.items() if isinstance(props, dict) else []:
        claim(str(name), ("companies", "properties", name))
        source = spec.get("from") if isinstance(spec, dict) else None
        if not isinstance(source, str):
            continue
        try:
            key = parse_company_from(source).signal_key
        except PathError:
            continue
        loc = ("companies", "properties", name, "from")
        if key is None:
            continue
        if key not in scopes:
            hint = did_you_mean(key, company_keys or scopes)
            message = f"found signal {key!r}, which signals does not define, allowed: {allowed}"
            out.append((loc, message + (f"; did you mean {hint!r}?" if hint else "")))
        elif scopes[key] != "company":
            out.append(
                (
                    loc,
                    f"found signal {key!r}, which is {scopes[key]}-scope: its answer is about one person, "
                    f"not the company; allowed: company-scope signals: {allowed}",
                )
            )
    subs = companies.get("subscriptions")
    ids: dict[str, str] = {}
    for sub_key, sub in subs.items() if isinstance(subs, dict) else []:
        if not isinstance(sub, dict):
            continue
        sub_id = sub.get("id")
        if isinstance(sub_id, str) and sub_id.strip():
            folded = sub_id.strip().casefold()
            if folded in ids:
                out.append(
                    (
                        ("companies", "subscriptions", sub_key, "id"),
                        f"found subscription id {sub_id.strip()!r} again (first under {ids[folded]}), "
                        "allowed: each subscription once",
                    )
                )
            else:
                ids[folded] = str(sub_key)
        sub_props = sub.get("properties")
        for name in sub_props if isinstance(sub_props, dict) else []:
            claim(str(name), ("companies", "subscriptions", sub_key, "properties", name))
    return out


class Mapping(_Strict):
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

    _source_path: Path | None = PrivateAttr(None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave out the later sections when unused: an older mapping dumps (and fingerprints) as before."""
        data = handler(self)
        if isinstance(data, dict):
            for key in ("min_confidence", "companies"):
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
