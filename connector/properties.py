"""The HubSpot properties a mapping needs: created by `setup`, verified by `check`.

The contact side reads the mapping's `properties`; the `*_object_*` functions take any
object type's written specs (a name -> spec mapping, e.g. the company properties) and the
object type, so `setup` and `check` handle company properties the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from typing import Protocol

from connector.hubspot import HubSpotAdapter, PropertyInfo, PropertySpec
from connector.mapping import Mapping

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


@dataclass
class SetupReport:
    """What `setup` did and what it could not fix (for contact properties unless `object_type` says)."""

    group_created: bool = False
    group: str = ""
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # (property, option values added) for existing enumerations of the group that lacked some.
    options_added: list[tuple[str, list[str]]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    object_type: str = "contacts"
    # The company property group, once company properties were set up too (None: none mapped);
    # their names are in the lists above as "name (company)", their conflicts as "company property …".
    company_group_created: bool | None = None

    def render(self) -> str:
        kind = OBJECT_NOUNS.get(self.object_type, self.object_type)
        noun = "" if self.object_type == "contacts" else f"{kind} "
        lines = [f"{noun}property group {self.group}: {'created' if self.group_created else 'exists'}"]
        if self.company_group_created is not None:
            state = "created" if self.company_group_created else "exists"
            lines.append(f"company property group {self.group}: {state}")
        lines += [f"  created  {name}" for name in self.created]
        lines += [f"  exists   {name}" for name in self.existing]
        lines += [f"  options  {name}: added {', '.join(values)}" for name, values in self.options_added]
        lines += [f"  CONFLICT {text}" for text in self.conflicts]
        return "\n".join(lines)

    def add_companies(self, companies: SetupReport) -> None:
        """Fold what `setup_object_properties` did for company properties into this report."""
        self.company_group_created = companies.group_created
        self.created += [f"{name} (company)" for name in companies.created]
        self.existing += [f"{name} (company)" for name in companies.existing]
        self.options_added += [(f"{name} (company)", values) for name, values in companies.options_added]
        self.conflicts += [f"company property {text}" for text in companies.conflicts]


def setup_properties(mapping: Mapping, hubspot: HubSpotAdapter) -> SetupReport:
    """Create the group and every mapped property HubSpot lacks; add missing options; report conflicts.

    Options the mapping writes are added to an existing enumeration only when it is in
    the connector's own group (`hubspot_group`): a property someone else owns is never
    changed, its missing options are reported as conflicts.
    """
    group = mapping.hubspot_group
    report = SetupReport(group=group.name)
    report.group_created = hubspot.ensure_group(group.name, group.label)
    existing = hubspot.get_properties()
    for name in mapping.output_properties():
        if name in existing:
            report.existing.append(name)
            problem = type_conflict(mapping, name, existing[name])
            if problem:
                report.conflicts.append(problem)
            elif existing[name].group_name == group.name:
                missing = missing_options(mapping, name, existing[name])
                if missing:
                    existing[name], added = hubspot.add_property_options(name, missing)
                    if added:
                        report.options_added.append((name, added))
            continue
        hubspot.create_property(property_spec(mapping, name))
        report.created.append(name)
    report.conflicts.extend(option_problems(mapping, existing))
    company_specs = mapping.company_specs()
    if company_specs:  # the company properties, in the same group on companies
        report.add_companies(
            setup_object_properties(hubspot, company_specs, group.name, group.label, "companies")
        )
    return report


def missing_options(mapping: Mapping, name: str, existing: PropertyInfo) -> list[tuple[str, str]]:
    """The (label, value) options `setup` would create for this property that HubSpot's lacks."""
    if existing.type != "enumeration":
        return []
    have = set(existing.options)
    return [(label, value) for label, value in property_spec(mapping, name).options if value not in have]


def option_problems(mapping: Mapping, existing: dict[str, PropertyInfo]) -> list[str]:
    """Enumeration options the mapping writes that the HubSpot property lacks (file:line)."""
    from connector.mapping import enumeration_option_problems

    options = {name: set(info.options) for name, info in existing.items() if info.type == "enumeration"}
    return enumeration_option_problems(mapping, options)


def missing_properties(mapping: Mapping, existing: dict[str, PropertyInfo]) -> list[str]:
    """Properties the mapping reads, filters on or writes that the portal does not have."""
    names = dict.fromkeys([*mapping.hubspot_properties(), *mapping.filter_properties()])
    return [name for name in names if name not in existing]


def _label(value: str, prefix: str = "") -> str:
    return prefix + value.replace("_", " ").replace("-", " ").strip().capitalize()


def setup_object_properties(
    hubspot: HubSpotAdapter,
    specs: AbcMapping[str, WrittenSpec],
    group_name: str,
    group_label: str,
    object_type: str,
) -> SetupReport:
    """`setup` for any object type: the group, every written property HubSpot lacks, the options
    an enumeration of the group lacks, and the conflicts (as `setup_properties` does for contacts).

    A property of another group is never changed: the options it lacks are conflicts.
    """
    report = SetupReport(group=group_name, object_type=object_type)
    if not specs:
        return report
    report.group_created = hubspot.ensure_group(group_name, group_label, object_type=object_type)
    existing = hubspot.get_properties(object_type)
    for name, spec in specs.items():
        if name not in existing:
            hubspot.create_property(hubspot_spec(name, spec, group_name), object_type=object_type)
            report.created.append(name)
            continue
        report.existing.append(name)
        problem = spec_conflict(name, spec, existing[name])
        if problem:
            report.conflicts.append(problem)
            continue
        missing = missing_spec_options(name, spec, existing[name])
        if not missing:
            continue
        if existing[name].group_name != group_name:
            values = ", ".join(value for _, value in missing)
            report.conflicts.append(
                f"{name} lacks the options {values}, and is not in group {group_name}: add them in HubSpot"
            )
            continue
        existing[name], added = hubspot.add_property_options(name, missing, object_type=object_type)
        if added:
            report.options_added.append((name, added))
    return report


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
    for name, spec in specs.items():
        at = f"{where(name)}: " if where is not None else ""
        info = existing.get(name)
        if info is None:
            hint = "run `saber-connector setup` to create it"
            problems.append(f"{at}{noun} property {name} does not exist in HubSpot ({hint})")
            continue
        conflict = spec_conflict(name, spec, info)
        if conflict:
            problems.append(f"{at}{noun} property {conflict}")
            continue
        have = set(info.options)
        lacking = [value for value in dict.fromkeys((spec.options or {}).values()) if value not in have]
        if lacking and info.type == "enumeration":
            listed = ", ".join(sorted(have)) or "none"
            problems.append(
                f"{at}{noun} property {name} lacks the options {', '.join(lacking)}; it has: {listed}"
            )
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
