"""Does the portal have what the mapping reads and writes? One answer, for preflight, `check` and `setup`.

`diff_properties` compares written specs with the portal's properties, one `PropertyDiff`
each (missing, of a type that cannot hold the values, or an enumeration lacking options):
`preflight` stops a run at the first problem before a credit is spent, `check` lists them
all, and `setup` plans from them what to create. The contact side reads the mapping's
`properties`; the `*_object_*` functions take any object type's written specs (a name ->
spec mapping, e.g. the company properties) and the object type, so every command handles
company properties the same way. The `prospecting` section has its own: the contact properties
`prospecting.contact` sets (`setup` creates those the portal lacks, as text) and the company
properties `accounts` reads and filters on (only checked: they are the portal's own), reported
by `check` and stopped on by `preflight_prospecting` before the prospecting stage spends anything.
The `linkedin` section's checks live in `connector.portal_linkedin` and are re-exported here
(`linkedin_specs`, `linkedin_conflict`, `linkedin_problems`, `preflight_linkedin`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import Protocol

from connector.errors import ConfigError
from connector.hubspot import HubSpotAdapter, PropertyInfo, PropertySpec
from connector.mapping import FilterSpec, Mapping, enumeration_option_problems
from connector.mapping.hints import did_you_mean
from connector.portal_linkedin import linkedin_conflict as linkedin_conflict  # re-exported
from connector.portal_linkedin import linkedin_problems as linkedin_problems
from connector.portal_linkedin import linkedin_specs as linkedin_specs
from connector.portal_linkedin import preflight_linkedin as preflight_linkedin

# Mapping type -> (HubSpot type, fieldType).
HUBSPOT_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "text"),
    "number": ("number", "number"),
    "bool": ("bool", "booleancheckbox"),
    "date": ("date", "date"),
    "datetime": ("datetime", "date"),
    "enumeration": ("enumeration", "select"),
    "multiple": ("enumeration", "checkbox"),
}
LONG_TEXT_HINTS = ("summary", "reasoning", "description", "sources")
BOOL_OPTIONS = (("Yes", "true"), ("No", "false"))
OBJECT_NOUNS = {"contacts": "contact", "companies": "company"}


class WrittenSpec(Protocol):
    """What a mapped, written property says (the mapping's contact and company property specs)."""

    @property
    def from_(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def options(self) -> dict[str, str] | None: ...
    @property
    def label(self) -> str | None: ...


def property_spec(mapping: Mapping, name: str) -> PropertySpec:
    """What `setup` creates for one mapped property."""
    return hubspot_spec(name, mapping.properties[name], mapping.hubspot_group.name)


def hubspot_spec(name: str, spec: WrittenSpec, group_name: str) -> PropertySpec:
    """What `setup` creates for one written property of any object type, in this group."""
    hs_type, field_type = HUBSPOT_TYPES[spec.type]
    if spec.type == "string" and any(hint in spec.from_ for hint in LONG_TEXT_HINTS):
        field_type = "textarea"
    options: tuple[tuple[str, str], ...] = ()
    if spec.type == "bool":
        options = BOOL_OPTIONS
    elif spec.options:
        values = dict.fromkeys(spec.options.values())
        options = tuple((_label(v), v) for v in values)
    return PropertySpec(
        name=name,
        label=spec.label or _label(name.removeprefix("saber_"), prefix="Saber "),
        type=hs_type,
        field_type=field_type,
        group_name=group_name,
        options=options,
        description=f"Written by saber-connector from {spec.from_}.",
    )


def type_conflict(mapping: Mapping, name: str, existing: PropertyInfo) -> str | None:
    """Why an existing HubSpot property cannot hold the mapped values, or None."""
    return spec_conflict(name, mapping.properties[name], existing)


def spec_conflict(name: str, spec: WrittenSpec, existing: PropertyInfo) -> str | None:
    """Why an existing HubSpot property (of any object type) cannot hold this spec's values, or None."""
    wanted, field_type = HUBSPOT_TYPES[spec.type]
    if existing.read_only:
        return f"{name} is read-only in HubSpot"
    if spec.type == "string":
        # Text can go into text-like properties only; HubSpot would validate anything else.
        if existing.type != "string":
            return f"{name} is {existing.type}/{existing.field_type} in HubSpot, the mapping writes text"
        return None
    if existing.type != wanted:
        return f"{name} is {existing.type}/{existing.field_type} in HubSpot, the mapping writes {spec.type}"
    if spec.type == "multiple" and existing.field_type != "checkbox":
        return (
            f"{name} is a single-select ({existing.field_type}) in HubSpot, the mapping writes several values"
        )
    return None


@dataclass(frozen=True, slots=True)
class PropertyDiff:
    """One written property against the portal's: missing, of a type that cannot hold the
    values (`conflict`), or an enumeration that lacks some of the options written (`lacking`)."""

    name: str
    spec: WrittenSpec
    info: PropertyInfo | None  # None: the portal has no such property
    conflict: str | None = None
    lacking: tuple[tuple[str, str], ...] = ()  # (label, value) options to add; none when in conflict


def diff_properties(
    specs: AbcMapping[str, WrittenSpec], existing: AbcMapping[str, PropertyInfo]
) -> list[PropertyDiff]:
    """Each written property (in the specs' order) against the portal's properties of its object type."""
    diffs: list[PropertyDiff] = []
    for name, spec in specs.items():
        info = existing.get(name)
        if info is None:
            diffs.append(PropertyDiff(name, spec, None))
            continue
        conflict = spec_conflict(name, spec, info)
        lacking = () if conflict else tuple(missing_spec_options(name, spec, info))
        diffs.append(PropertyDiff(name, spec, info, conflict, lacking))
    return diffs


def option_problems(mapping: Mapping, existing: dict[str, PropertyInfo]) -> list[str]:
    """Enumeration options the mapping writes that the HubSpot property lacks (file:line)."""
    options = {name: set(info.options) for name, info in existing.items() if info.type == "enumeration"}
    return enumeration_option_problems(mapping, options)


def missing_properties(mapping: Mapping, existing: dict[str, PropertyInfo]) -> list[str]:
    """Properties the mapping reads, filters on or writes that the portal does not have."""
    names = dict.fromkeys([*mapping.hubspot_properties(), *mapping.filter_properties()])
    return [name for name in names if name not in existing]


def _label(value: str, prefix: str = "") -> str:
    return prefix + value.replace("_", " ").replace("-", " ").strip().capitalize()


def check_object_properties(
    specs: AbcMapping[str, WrittenSpec],
    existing: AbcMapping[str, PropertyInfo],
    object_type: str,
    where: Callable[[str], str] | None = None,
) -> list[str]:
    """`check` for any object type: each written property the portal lacks, cannot hold, or whose
    options it lacks, one problem a line (`where(name)` prefixes a problem with its file:line)."""
    noun = OBJECT_NOUNS.get(object_type, object_type)
    problems: list[str] = []
    for diff in diff_properties(specs, existing):
        at = f"{where(diff.name)}: " if where is not None else ""
        if diff.info is None:
            hint = "run `saber-connector setup` to create it"
            problems.append(f"{at}{noun} property {diff.name} does not exist in HubSpot ({hint})")
        elif diff.conflict:
            problems.append(f"{at}{noun} property {diff.conflict}")
        elif diff.lacking:
            listed = ", ".join(sorted(set(diff.info.options))) or "none"
            lacking = ", ".join(value for _, value in diff.lacking)
            problems.append(f"{at}{noun} property {diff.name} lacks the options {lacking}; it has: {listed}")
    return problems


def missing_spec_options(name: str, spec: WrittenSpec, existing: PropertyInfo) -> list[tuple[str, str]]:
    """The (label, value) options `setup` would create for this property that HubSpot's lacks."""
    if existing.type != "enumeration":
        return []
    have = set(existing.options)
    return [(label, value) for label, value in hubspot_spec(name, spec, "").options if value not in have]


def company_where(mapping: Mapping) -> Callable[[str], str]:
    """`file:line` of a written company property: under `companies.properties` or its subscription."""

    def where(name: str) -> str:
        if name in mapping.company_properties():
            return mapping.where("companies", "properties", name)
        for key, sub in mapping.subscriptions().items():
            if name in sub.properties:
                return mapping.where("companies", "subscriptions", key, "properties", name)
        return mapping.where("companies")

    return where


# ---------------------------------------------------------------------------- preflight
def preflight(mapping: Mapping, hubspot: HubSpotAdapter) -> dict[str, PropertyInfo]:
    """The check before a run spends anything: a `ConfigError` naming the fix when the portal
    cannot take this mapping (exit code 2, before a credit is spent), else its contact properties.

    One read of the contact properties (and of the company ones when the mapping writes
    companies): a run that would launch research and then fail every write (the mapped
    properties not created yet, or of a type the mapping cannot write) is stopped here.
    """
    existing = hubspot.get_properties()
    problem = preflight_problem(mapping, existing)
    if problem is None and mapping.company_specs():
        problem = company_problem(mapping, hubspot.get_properties("companies"))
    if problem is not None:
        raise ConfigError(problem)
    return existing


def preflight_problem(mapping: Mapping, existing: dict[str, PropertyInfo]) -> str | None:
    """The first reason the portal's properties cannot serve the mapping, as one line, or None."""
    where = mapping.source_path or "the mapping"
    for i, f in enumerate(mapping.select.filters):
        if f.property not in existing:
            hint = did_you_mean(f.property, existing)
            line = mapping.line_of("select", "filters", i, "property")
            return (
                f"{where}{f':{line}' if line else ''}: select.filters[{i}].property:"
                f" HubSpot has no contact property {f.property!r}"
                + (f"; did you mean {hint!r}?" if hint else "")
            )
    diffs = diff_properties(mapping.properties, existing)
    missing = [diff.name for diff in diffs if diff.info is None]
    if missing:
        return (
            f"{where}: HubSpot has no property {', '.join(missing)} that the mapping writes;"
            " run `saber-connector setup` to create the mapped properties, then sync again"
        )
    conflict = next((diff for diff in diffs if diff.conflict), None)
    if conflict is not None:
        fix = "change the mapping's type or the property in HubSpot"
        return f"{where}: properties.{conflict.name}: {conflict.conflict}; {fix}"
    return None


def company_problem(mapping: Mapping, existing: dict[str, PropertyInfo]) -> str | None:
    """The first reason the portal's company properties cannot take the `companies` section, or None."""
    where = company_where(mapping)
    diffs = diff_properties(mapping.company_specs(), existing)
    missing = [diff.name for diff in diffs if diff.info is None]
    if missing:
        return (
            f"{where(missing[0])}: HubSpot has no company property {', '.join(missing)} that the mapping"
            " writes; run `saber-connector setup` to create the mapped properties, then sync again"
        )
    conflict = next((diff for diff in diffs if diff.conflict), None)
    if conflict is not None:
        return (
            f"{where(conflict.name)}: companies: {conflict.conflict};"
            " change the mapping's type or the company property"
        )
    return None


# ---------------------------------------------------------------------------- prospecting
def prospecting_specs(mapping: Mapping) -> dict[str, PropertySpec]:
    """What `setup` creates for each contact property `prospecting.contact` sets and the portal lacks:
    text in the connector's group (HubSpot's own, firstname or lifecyclestage, exist and are only checked)."""
    return {
        d.name: PropertySpec(
            name=d.name,
            label=d.label,
            type="string",
            field_type="text",
            group_name=d.group,
            description=f"Set by saber-connector on the contacts it creates, from {d.source}.",
        )
        for d in mapping.prospecting_property_definitions()
    }


def prospect_conflict(mapping: Mapping, name: str, existing: PropertyInfo) -> str | None:
    """Why an existing contact property cannot take what `prospecting.contact` sets in it, or None."""
    if mapping.prospecting is None or name not in mapping.prospecting.contact:
        return None
    source = mapping.prospecting.contact[name]
    kind = f"{existing.type}/{existing.field_type}"
    if existing.read_only:
        return f"{name} is read-only in HubSpot, prospecting.contact sets it"
    if source.value is not None:
        value = source.value
        if existing.type == "enumeration" and value not in existing.options:
            listed = ", ".join(existing.options) or "none"
            return f"{name} has no option {value!r} in HubSpot, prospecting.contact sets it; it has: {listed}"
        if existing.type == "bool" and value not in ("true", "false"):
            return f"{name} is {kind} in HubSpot, prospecting.contact sets it to {value!r} (not true/false)"
        if existing.type == "number" and not _is_number(value):
            return f"{name} is {kind} in HubSpot, prospecting.contact sets it to {value!r} (not a number)"
        return None
    if source.field is not None and existing.type != "string":
        return (
            f"{name} is {kind} in HubSpot, prospecting.contact writes the search item's {source.field} (text)"
        )
    return None


def prospect_contact_problems(mapping: Mapping, existing: AbcMapping[str, PropertyInfo]) -> list[str]:
    """`check` for `prospecting.contact`: each contact property it sets that the portal lacks or
    that cannot take the value, one problem a line with its mapping file:line."""
    if mapping.prospecting is None:
        return []
    problems: list[str] = []
    for name in mapping.prospecting.contact_properties():
        at = mapping.where("prospecting", "contact", name)
        info = existing.get(name)
        if info is None:
            hint = "prospecting.contact sets it; run `saber-connector setup` to create it"
            problems.append(f"{at}: contact property {name} does not exist in HubSpot ({hint})")
        elif conflict := prospect_conflict(mapping, name, info):
            problems.append(f"{at}: contact property {conflict}")
    return problems


def account_problems(mapping: Mapping, existing: AbcMapping[str, PropertyInfo]) -> list[str]:
    """`check` for `prospecting.accounts` (and the company properties `contact` copies): each
    company property the portal lacks or of a type that cannot serve, one a line with file:line,
    in the file's order."""
    if mapping.prospecting is None:
        return []
    prospecting = mapping.prospecting
    problems: list[str] = []

    def missing(at: str, name: str, why: str) -> str:
        hint = did_you_mean(name, existing)
        mean = f"; did you mean {hint!r}?" if hint else ""
        return f"{at}: HubSpot has no company property {name!r} ({why}){mean}"

    for i, spec in enumerate(prospecting.accounts.filters):
        at = mapping.where("prospecting", "accounts", "filters", i, "property")
        info = existing.get(spec.property)
        if info is None:
            problems.append(missing(at, spec.property, f"prospecting.accounts.filters[{i}] tests it"))
        elif (why := filter_type_problem(spec, info)) is not None:
            problems.append(f"{at}: prospecting.accounts.filters[{i}]: {why}")
    url = prospecting.accounts.linkedin_url
    at = mapping.where("prospecting", "accounts", "linkedin_url")
    info = existing.get(url)
    if info is None:
        problems.append(missing(at, url, "prospecting.accounts.linkedin_url: the LinkedIn company URL"))
    elif info.type != "string":
        problems.append(
            f"{at}: company property {url} is {info.type}/{info.field_type} in HubSpot;"
            " prospecting.accounts.linkedin_url must name a text property holding the LinkedIn company URL"
        )
    for name, source in prospecting.contact.items():
        if source.account is not None and source.account not in existing:
            at = mapping.where("prospecting", "contact", name, "account")
            problems.append(missing(at, source.account, f"prospecting.contact.{name} copies it"))
    return problems


def filter_type_problem(spec: FilterSpec, info: PropertyInfo) -> str | None:
    """Why a search filter's values cannot match the property's type (HubSpot would refuse the search
    or never match), or None."""
    values = [v for v in (spec.value, spec.high_value, *(spec.values or [])) if v is not None]
    kind = f"{info.type}/{info.field_type}"
    if info.type == "bool":
        bad = [v for v in values if v.lower() not in ("true", "false")]
        if bad:
            return (
                f"company property {info.name} is {kind} in HubSpot; found {bad[0]!r}, allowed: true or false"
            )
    elif info.type == "number":
        bad = [v for v in values if not _is_number(v)]
        if bad:
            return f"company property {info.name} is {kind} in HubSpot; found {bad[0]!r}, allowed: a number"
    elif info.type == "enumeration" and spec.operator in ("EQ", "NEQ", "IN", "NOT_IN"):
        options = {option.casefold() for option in info.options}
        bad = [v for v in values if v.casefold() not in options]
        if bad:
            listed = ", ".join(info.options) or "none"
            return f"company property {info.name} has no option {bad[0]!r} in HubSpot; it has: {listed}"
    return None


def copy_problems(
    mapping: Mapping, contacts: AbcMapping[str, PropertyInfo], companies: AbcMapping[str, PropertyInfo]
) -> list[str]:
    """`check` for each `{account: X}` in `prospecting.contact`: a contact property that cannot hold
    the company property's values (text takes anything; another type only its own, an enumeration
    only options it has), one a line with file:line. Missing properties are the other checks'."""
    if mapping.prospecting is None:
        return []
    problems: list[str] = []
    for name, source in mapping.prospecting.contact.items():
        contact, company = contacts.get(name), companies.get(source.account or "")
        if contact is None or company is None or contact.type == "string" or contact.read_only:
            continue
        at = mapping.where("prospecting", "contact", name)
        copied = f"company property {company.name} ({company.type}/{company.field_type})"
        if contact.type != company.type:
            kind = f"{contact.type}/{contact.field_type}"
            problems.append(f"{at}: contact property {name} is {kind} in HubSpot, it cannot hold {copied}")
        elif contact.type == "enumeration":
            lacking = [option for option in company.options if option not in contact.options]
            if lacking:
                problems.append(
                    f"{at}: contact property {name} lacks the options {', '.join(lacking)} of {copied},"
                    " which prospecting.contact copies into it"
                )
    return problems


def prospecting_problems(
    mapping: Mapping, contacts: AbcMapping[str, PropertyInfo], companies: AbcMapping[str, PropertyInfo]
) -> list[str]:
    """Every reason the portal cannot serve the `prospecting` section, one a line (none without it)."""
    return [
        *account_problems(mapping, companies),
        *prospect_contact_problems(mapping, contacts),
        *copy_problems(mapping, contacts, companies),
    ]


def prospecting_problem(
    mapping: Mapping, contacts: AbcMapping[str, PropertyInfo], companies: AbcMapping[str, PropertyInfo]
) -> str | None:
    """The first reason the portal cannot serve the `prospecting` section, as one line, or None."""
    problems = prospecting_problems(mapping, contacts, companies)
    return problems[0] if problems else None


def preflight_prospecting(
    mapping: Mapping, hubspot: HubSpotAdapter
) -> tuple[dict[str, PropertyInfo], dict[str, PropertyInfo]]:
    """The prospecting stage's check before it searches or creates anything: a `ConfigError` naming
    the fix (exit code 2) when the portal cannot serve the section, else its contact and company
    properties. Nothing is read without a `prospecting` section."""
    if mapping.prospecting is None:
        return {}, {}
    contacts = hubspot.get_properties()
    companies = hubspot.get_properties("companies")
    problem = prospecting_problem(mapping, contacts, companies)
    if problem is not None:
        raise ConfigError(problem)
    return contacts, companies


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
