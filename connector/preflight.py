"""The check before a run spends anything: does HubSpot have what the mapping reads and writes?

One read of the contact properties (and of the company ones when the mapping writes
companies). A run that would launch research and then fail every
write (the mapped properties not created yet, or of a type the mapping cannot write) is
stopped here with exit code 2 and the fix, before a credit is spent.
"""

from __future__ import annotations

from connector.errors import ConfigError
from connector.hubspot import HubSpotAdapter, PropertyInfo
from connector.mapping import Mapping
from connector.mapping.hints import did_you_mean
from connector.properties import company_where, spec_conflict, type_conflict


def preflight(mapping: Mapping, hubspot: HubSpotAdapter) -> dict[str, PropertyInfo]:
    """Raise a `ConfigError` naming the fix when the portal cannot take this mapping; else its properties."""
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
    missing = [name for name in mapping.output_properties() if name not in existing]
    if missing:
        return (
            f"{where}: HubSpot has no property {', '.join(missing)} that the mapping writes;"
            " run `saber-connector setup` to create the mapped properties, then sync again"
        )
    for name in mapping.output_properties():
        conflict = type_conflict(mapping, name, existing[name])
        if conflict:
            fix = "change the mapping's type or the property in HubSpot"
            return f"{where}: properties.{name}: {conflict}; {fix}"
    return None


def company_problem(mapping: Mapping, existing: dict[str, PropertyInfo]) -> str | None:
    """The first reason the portal's company properties cannot take the `companies` section, or None."""
    where = company_where(mapping)
    specs = mapping.company_specs()
    missing = [name for name in specs if name not in existing]
    if missing:
        return (
            f"{where(missing[0])}: HubSpot has no company property {', '.join(missing)} that the mapping"
            " writes; run `saber-connector setup` to create the mapped properties, then sync again"
        )
    for name, spec in specs.items():
        conflict = spec_conflict(name, spec, existing[name])
        if conflict:
            return f"{where(name)}: companies: {conflict}; change the mapping's type or the company property"
    return None
