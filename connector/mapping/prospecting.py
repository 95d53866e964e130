"""The mapping's `prospecting` section: which people Saber's contact search finds at target accounts,
and what a HubSpot contact created for one of them holds.

Sales teams work accounts, and the people they need are often not in HubSpot at all. This section
names the target companies (HubSpot company search filters, the same model as `select.filters`),
what Saber's contact search (`POST /v1/contacts/search`) looks for at each, how many new contacts
a run may create, and each created contact's properties: a field of the search item, a property
of the account's company, or a fixed value. It checks, when the mapping loads, only what Saber's
contract publishes (ISO 3166-1 alpha-2 countries, keywords up to 500 characters, at least one
filter besides the company), and that a created contact can be researched: every required
research input must read a property `contact` sets (`prospecting_reference_problems`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
    model_validator,
)

from connector.mapping.fields import (
    MAX_FILTERS,
    NAME_PATTERN,
    FilterSpec,
    NonEmpty,
    PropertyName,
    StrictModel,
    problem,
)
from connector.mapping.hints import did_you_mean, shown

# The fields of one item of Saber's contact search answer, as the contract spells them.
SearchItemField = Literal[
    "firstName", "lastName", "fullName", "role", "linkedInSalesNavigatorProfileUrl", "avatar", "location"
]  # fmt: skip
SEARCH_ITEM_FIELDS: tuple[str, ...] = get_args(SearchItemField)
SALES_NAVIGATOR_FIELD = "linkedInSalesNavigatorProfileUrl"
MAX_KEYWORDS = 500  # the contract's limit on `keywords`
SEARCH_FILTERS = ("job_titles", "seniority_levels", "departments", "countries", "keywords")

# ISO 3166-1 alpha-2: the 249 officially assigned codes (the contract takes nothing else).
COUNTRIES = frozenset(
    (
        "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
        "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
        "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
        "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
        "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
        "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
        "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
        "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
        "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
        "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
        "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
        "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
        "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
        "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
        "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
        "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
    )
)  # fmt: skip
# Codes in common use that ISO does not assign (or reserves for something else), and the ones it does.
COUNTRY_ALIASES = {"UK": "GB", "EL": "GR", "USA": "US"}
COUNTRY_WORDS = "an ISO 3166-1 alpha-2 code in capitals (US, GB, DE, …): country names are not accepted"

# What `contact` needs for each research input a created contact must have, and where it comes from.
INPUT_SOURCES = {
    "firstName": "firstName",
    "lastName": "lastName",
    "companyName": "{account: name}",
    "companyDomain": "{account: domain}",
    "jobTitle": "role",
    "linkedInSalesNavigatorUrl": SALES_NAVIGATOR_FIELD,
}
REQUIRED_FOR_RESEARCH = ("firstName", "lastName", "companyName", "companyDomain")
SOURCE_WORDS = (
    f"a search item field ({', '.join(SEARCH_ITEM_FIELDS)}), {{account: <company property>}} "
    "or {value: <fixed value>}"
)


def _country(value: Any) -> Any:
    """One country as Saber takes it: an assigned ISO 3166-1 alpha-2 code, upper case."""
    if not isinstance(value, str):
        raise problem(shown(value), COUNTRY_WORDS)
    if value in COUNTRIES:
        return value
    upper = value.strip().upper()
    hint = COUNTRY_ALIASES.get(upper) or (upper if upper in COUNTRIES else None)
    if hint is None and len(upper) == 2:
        hint = did_you_mean(upper, sorted(COUNTRIES))
    raise problem(shown(value), COUNTRY_WORDS, hint=hint)


Country = Annotated[
    str,
    BeforeValidator(_country),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRIES), "description": "ISO 3166-1 alpha-2"}),
]
Keywords = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_KEYWORDS)]


class Accounts(StrictModel):
    """The HubSpot companies people are found at, and where each keeps its LinkedIn company URL."""

    filters: list[FilterSpec] = Field(
        min_length=1,
        max_length=MAX_FILTERS,
        description="HubSpot company search filters, all of which must hold (as select.filters)",
    )
    linkedin_url: PropertyName = Field(description="the company property holding its LinkedIn company URL")


class Search(StrictModel):
    """What Saber's contact search looks for at each account (besides the company itself)."""

    job_titles: list[NonEmpty] | None = Field(None, min_length=1, description="sent as jobTitles")
    seniority_levels: list[NonEmpty] | None = Field(
        None, min_length=1, description="sent as seniorityLevels (LinkedIn Sales Navigator's taxonomy)"
    )
    departments: list[NonEmpty] | None = Field(
        None, min_length=1, description="sent as departments (LinkedIn Sales Navigator's taxonomy)"
    )
    countries: list[Country] | None = Field(None, min_length=1, description="ISO 3166-1 alpha-2 codes")
    keywords: Keywords | None = Field(None, description=f"at most {MAX_KEYWORDS} characters")

    @model_validator(mode="after")
    def _a_filter_besides_the_company(self) -> Search:
        if all(getattr(self, name) is None for name in SEARCH_FILTERS):
            raise problem(
                "no filter besides the company (every employee would be a candidate)",
                f"at least one of {', '.join(SEARCH_FILTERS)}",
            )
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Only the filters given: the dump reads like the file."""
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data

    def body(self) -> dict[str, Any]:
        """The search's filters as Saber's request fields (without the company, `limit` and `offset`)."""
        names = {
            "job_titles": "jobTitles",
            "seniority_levels": "seniorityLevels",
            "departments": "departments",
            "countries": "countries",
            "keywords": "keywords",
        }
        out: dict[str, Any] = {}
        for name, field in names.items():
            value = getattr(self, name)
            if value is not None:
                out[field] = list(value) if isinstance(value, list) else value
        return out


def _scalar(value: Any) -> str:
    """A fixed value as HubSpot takes it: text, booleans as true/false, numbers plain."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and value == value and abs(value) != float("inf")):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise problem(shown(value), "text, a number, true/false or a date", at=("value",))


class ContactSource(StrictModel):
    """Where one property of a created contact comes from: exactly one of the three is set."""

    field: SearchItemField | None = None  # a field of the search item (a bare name in the file)
    account: PropertyName | None = None  # a property of the account's HubSpot company
    value: str | None = None  # a fixed value

    @model_validator(mode="before")
    @classmethod
    def _file_form(cls, data: Any) -> Any:
        if isinstance(data, ContactSource):
            return data
        if isinstance(data, str):
            if data not in SEARCH_ITEM_FIELDS:
                raise problem(
                    f"search item field {shown(data)}",
                    SOURCE_WORDS,
                    hint=did_you_mean(data, SEARCH_ITEM_FIELDS),
                )
            return {"field": data}
        if isinstance(data, dict) and len(data) == 1:
            key, item = next(iter(data.items()))
            if key == "value":
                return {"value": _scalar(item)}
            if key == "account":
                return {"account": item}
            raise problem(
                f"unknown key {str(key)!r}",
                "account or value (or a bare search item field)",
                hint=did_you_mean(str(key), ("account", "value")),
                at=(str(key),),
            )
        raise problem(shown(data), SOURCE_WORDS)

    @model_serializer(mode="plain")
    def _dump(self) -> Any:
        """The file form: a bare field name, {account: X} or {value: V}."""
        if self.field is not None:
            return self.field
        if self.account is not None:
            return {"account": self.account}
        return {"value": self.value}

    def words(self) -> str:
        """Where the value comes from, in plain words (for `mapping explain`)."""
        if self.field is not None:
            return f"the person's {self.field} (Saber's search item)"
        if self.account is not None:
            return f"the account company's {self.account}"
        return f"always {self.value!r}"


SOURCE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "enum": list(SEARCH_ITEM_FIELDS), "description": "a field of the search item"},
        {
            "type": "object",
            "properties": {"account": {"type": "string", "pattern": NAME_PATTERN}},
            "required": ["account"],
            "additionalProperties": False,
            "description": "a property of the account's HubSpot company",
        },
        {
            "type": "object",
            "properties": {"value": {"type": ["string", "number", "boolean"]}},
            "required": ["value"],
            "additionalProperties": False,
            "description": "a fixed value",
        },
    ]
}
Source = Annotated[ContactSource, WithJsonSchema(SOURCE_SCHEMA)]


class Prospecting(StrictModel):
    """People found at target accounts with Saber's contact search, created as HubSpot contacts."""

    accounts: Accounts = Field(description="the HubSpot companies to find people at")
    search: Search = Field(description="what Saber's contact search looks for at each account")
    per_account: int = Field(5, ge=1, description="new contacts per company, at most")
    max_new_per_run: int = Field(100, ge=1, description="new contacts per run, at most")
    refresh_after_days: int = Field(30, ge=0, description="search an account again after this long")
    contact: dict[PropertyName, Source] = Field(
        min_length=1,
        description="HubSpot contact property <- a search item field, {account: <company property>} "
        "or {value: <fixed value>}",
    )

    def contact_properties(self) -> list[str]:
        """The HubSpot contact properties a created contact is given (what `setup` must create)."""
        return list(self.contact)

    def account_properties(self) -> list[str]:
        """The company properties read from each account: its LinkedIn URL, those the contact copies."""
        copied = [s.account for s in self.contact.values() if s.account is not None]
        return list(dict.fromkeys([self.accounts.linkedin_url, *copied]))

    def filter_properties(self) -> list[str]:
        """The company properties `accounts.filters` test."""
        return list(dict.fromkeys(f.property for f in self.accounts.filters))

    def sales_navigator_property(self) -> str | None:
        """The contact property holding the person's Sales Navigator URL (how a person is known again)."""
        return next((n for n, s in self.contact.items() if s.field == SALES_NAVIGATOR_FIELD), None)

    def fixed_values(self) -> dict[str, str]:
        """Contact property -> the fixed value every created contact gets."""
        return {n: s.value for n, s in self.contact.items() if s.value is not None}


# ---------------------------------------------------------------------------- across sections
def _chain(spec: Any) -> list[tuple[str, Any]]:
    """(property, normalize) along an input's fallback chain, raw and possibly malformed."""
    out: list[tuple[str, Any]] = []
    seen = 0
    while spec is not None and seen < 50:
        seen += 1
        if isinstance(spec, str):
            return [*out, (spec, None)]
        if not isinstance(spec, dict):
            return out
        if isinstance(spec.get("property"), str):
            out.append((spec["property"], spec.get("normalize")))
        spec = spec.get("fallback")
    return out


def prospecting_reference_problems(
    prospecting: Any, inputs: Any, properties: Any
) -> list[tuple[tuple[str | int, ...], str]]:
    """What `prospecting.contact` must give the rest of the mapping (raw data, possibly malformed):
    each required research input must read a property a created contact gets (else that contact
    could never be researched), and no property the research writes may be set at creation (the
    research result would find it set and keep it as a person's edit).
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    contact = prospecting.get("contact") if isinstance(prospecting, dict) else None
    if not isinstance(contact, dict) or not isinstance(inputs, dict):
        return out
    set_by_contact = {str(name) for name in contact}
    for field in REQUIRED_FOR_RESEARCH:
        chain = _chain(inputs.get(field))
        usable = [name for name, normalize in chain if normalize != "email_domain"]
        if not chain or any(name in set_by_contact for name in usable):
            continue
        if not usable:  # every step reads an email address, which a search item never has
            out.append(
                (
                    ("prospecting", "contact"),
                    f"inputs.{field} reads only email addresses, which a search item never has: add a "
                    f"fallback {{property: website, normalize: domain}} to inputs.{field} and "
                    f"`website: {INPUT_SOURCES[field]}` to prospecting.contact",
                )
            )
            continue
        name = usable[0]
        out.append(
            (
                ("prospecting", "contact"),
                f"inputs.{field} reads contact property `{name}`, which prospecting.contact does not set: "
                f"add `{name}: {INPUT_SOURCES[field]}`",
            )
        )
    written = set(properties) if isinstance(properties, dict) else set()
    for name in contact:
        if str(name) in written:
            out.append(
                (
                    ("prospecting", "contact", name),
                    f"found {str(name)!r}, which properties: also writes from the research (set at "
                    "creation, it would look like a person's edit and the result would not land); "
                    "allowed: a property properties: does not write",
                )
            )
    return out


# ---------------------------------------------------------------------------- created contacts selected?
Verdict = Literal["holds", "fails", "depends"]


def _compare(op: str, have: str, want: str) -> bool | None:
    """`have op want` as HubSpot would decide it for a fixed text value (None: cannot tell here)."""
    if op in ("EQ", "NEQ"):
        return (have.casefold() == want.casefold()) == (op == "EQ")
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = want.casefold().strip("*") in have.casefold()
        return found == (op == "CONTAINS_TOKEN")
    try:
        left, right = float(have), float(want)
    except ValueError:
        return None
    return {"GT": left > right, "GTE": left >= right, "LT": left < right, "LTE": left <= right}.get(op)


def filter_verdict(spec: FilterSpec, source: ContactSource | None) -> Verdict:
    """Whether a `select.filters` filter holds for every contact prospecting creates: `holds`,
    `fails`, or `depends` (on each person or account, or on how HubSpot treats an empty value)."""
    op = spec.operator
    if source is None:  # the property is empty on a created contact
        if op == "NOT_HAS_PROPERTY":
            return "holds"
        return "depends" if op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN") else "fails"
    if source.value is None:
        return "depends"  # a search item field or an account property: each contact its own
    have = source.value
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return "holds" if (op == "HAS_PROPERTY") == bool(have) else "fails"
    if op in ("IN", "NOT_IN"):
        inside = have.casefold() in {v.casefold() for v in spec.values or []}
        return "holds" if inside == (op == "IN") else "fails"
    if op == "BETWEEN":
        low, high = _compare("GTE", have, spec.value or ""), _compare("LTE", have, spec.high_value or "")
        return "depends" if low is None or high is None else "holds" if low and high else "fails"
    result = _compare(op, have, spec.value or "")
    return "depends" if result is None else "holds" if result else "fails"
