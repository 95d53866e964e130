"""The mapping file's building blocks as pydantic models: frozen, strict, unknown keys rejected.

The contact side of a mapping (which contacts, the Saber inputs, the signals asked, the contact
properties written) and what every written property shares (`WrittenProperty`), which the
companies section (`connector.mapping.companies`) builds on. Validators raise `problem(...)`
errors that carry what was found, what is allowed and a "did you mean" hint; the loader turns
them into `file:line: key.path: found …, allowed: …`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connector.hubspot.limits import SearchOperator
from connector.mapping.convert import ConversionError, option_key
from connector.mapping.hints import shown
from connector.mapping.paths import (
    FROM_PATTERN,
    SUBSCRIPTION_ROOT,
    FromPath,
    PathError,
    parse_from,
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


class StrictModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, validate_by_name=True, serialize_by_alias=True
    )


class FilterSpec(StrictModel):
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


class Select(StrictModel):
    """Which contacts are researched, how often, and how many new ones per run."""

    filters: list[FilterSpec] = Field(default_factory=list, max_length=MAX_FILTERS)
    refresh_after_days: int | None = Field(
        default=90, ge=1, description="research again after this many days; null: never"
    )
    max_new_per_run: int = Field(default=500, ge=0, description="new research launched per run, at most")


class InputSpec(StrictModel):
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


class Inputs(StrictModel):
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


class SignalSpec(StrictModel):
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


class WrittenProperty(StrictModel):
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
    def _options_need_enumeration(self) -> WrittenProperty:
        if self.options is not None and self.type not in OPTION_TYPES:
            raise problem(
                f"options with type {self.type}",
                "options only with type enumeration or multiple",
                at=("options",),
            )
        return self

    @model_validator(mode="after")
    def _confidence_needs_a_signal(self) -> WrittenProperty:
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


class PropertySpec(WrittenProperty):
    """A HubSpot contact property the connector writes, and where its value comes from."""
