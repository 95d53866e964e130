"""The HubSpot properties a mapping needs: created by `setup`, verified by `check`."""

from __future__ import annotations

from dataclasses import dataclass, field

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


def property_spec(mapping: Mapping, name: str) -> PropertySpec:
    """What `setup` creates for one mapped property."""
    spec = mapping.properties[name]
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
        group_name=mapping.hubspot_group.name,
        options=options,
        description=f"Written by saber-connector from {spec.from_}.",
    )


def type_conflict(mapping: Mapping, name: str, existing: PropertyInfo) -> str | None:
    """Why an existing HubSpot property cannot hold the mapped values, or None."""
    spec = mapping.properties[name]
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
    """What `setup` did and what it could not fix."""

    group_created: bool = False
    group: str = ""
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # (property, option values added) for existing enumerations of the group that lacked some.
    options_added: list[tuple[str, list[str]]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"property group {self.group}: {'created' if self.group_created else 'exists'}"]
        lines += [f"  created  {name}" for name in self.created]
        lines += [f"  exists   {name}" for name in self.existing]
        lines += [f"  options  {name}: added {', '.join(values)}" for name, values in self.options_added]
        lines += [f"  CONFLICT {text}" for text in self.conflicts]
        return "\n".join(lines)


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
