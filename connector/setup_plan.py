"""`saber-connector setup --dry-run`: what `setup` would create, computed from one read of the
portal's properties, without creating anything."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field, replace

from connector.hubspot import PropertyInfo, PropertySpec
from connector.mapping import Mapping
from connector.properties import (
    OBJECT_NOUNS,
    WrittenSpec,
    hubspot_spec,
    missing_spec_options,
    option_problems,
    property_spec,
    spec_conflict,
    type_conflict,
)


@dataclass
class SetupPlan:
    """The group and properties `setup` would create, those that exist, and the conflicts."""

    group: str
    group_label: str
    group_in_use: bool  # some existing property is in the group, so the group exists
    create: list[PropertySpec] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # (property, option values) `setup` would add to an enumeration of the connector's own group.
    add_options: list[tuple[str, list[str]]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    object_type: str = "contacts"  # another type's plan renders without the header, its noun in front
    companies: SetupPlan | None = None  # the company properties' plan, when the mapping writes some

    @property
    def exit_code(self) -> int:
        return 2 if self.conflicts or (self.companies is not None and self.companies.conflicts) else 0

    def render(self) -> str:
        group = "exists" if self.group_in_use else "would be created (unless HubSpot has it already)"
        contacts = self.object_type == "contacts"
        noun = "" if contacts else f"{OBJECT_NOUNS.get(self.object_type, self.object_type)} "
        lines = ["setup --dry-run: nothing was created"] if contacts else []
        lines.append(f"{noun}property group {self.group}: {group}")
        for spec in self.create:
            options = f", options {', '.join(v for _, v in spec.options)}" if spec.options else ""
            lines.append(
                f"  would create  {spec.name} ({spec.type}/{spec.field_type}, label {spec.label!r}{options})"
            )
        lines += [f"  exists        {name}" for name in self.existing]
        lines += [f"  would add     {name} options {', '.join(values)}" for name, values in self.add_options]
        lines += [f"  CONFLICT      {text}" for text in self.conflicts]
        if not self.create and not self.add_options and not self.conflicts:
            lines.append(f"nothing to create: every mapped {noun}property exists")
        if self.companies is not None:
            lines.append(self.companies.render())
        return "\n".join(lines)


def plan_setup(
    mapping: Mapping,
    existing: dict[str, PropertyInfo],
    company_existing: AbcMapping[str, PropertyInfo] | None = None,
) -> SetupPlan:
    """What `setup_properties` would do against a portal with these properties (a pure function).

    As `setup` does, options the mapping writes are added to an existing enumeration of the
    connector's own group; the options a property of another group lacks are conflicts.
    With `company_existing` (the portal's company properties) the mapped company properties
    are planned too, in `companies`.
    """
    group = mapping.hubspot_group
    plan = SetupPlan(
        group=group.name,
        group_label=group.label,
        group_in_use=any(info.group_name == group.name for info in existing.values()),
    )
    after = dict(existing)  # the portal as `setup` would leave it
    for name in mapping.output_properties():
        if name not in existing:
            plan.create.append(property_spec(mapping, name))
            continue
        plan.existing.append(name)
        problem = type_conflict(mapping, name, existing[name])
        if problem:
            plan.conflicts.append(problem)
        elif existing[name].group_name == group.name and existing[name].type == "enumeration":
            have = set(existing[name].options)
            missing = [value for _, value in property_spec(mapping, name).options if value not in have]
            if missing:
                plan.add_options.append((name, missing))
                after[name] = replace(existing[name], options=(*existing[name].options, *missing))
    plan.conflicts.extend(option_problems(mapping, after))
    company_specs = mapping.company_specs()
    if company_specs and company_existing is not None:
        plan.companies = plan_object_setup(
            company_specs, group.name, group.label, company_existing, "companies"
        )
    return plan


def plan_object_setup(
    specs: AbcMapping[str, WrittenSpec],
    group_name: str,
    group_label: str,
    existing: AbcMapping[str, PropertyInfo],
    object_type: str,
) -> SetupPlan:
    """What `setup_object_properties` would do against these properties of one object type (pure)."""
    plan = SetupPlan(
        group=group_name,
        group_label=group_label,
        group_in_use=any(info.group_name == group_name for info in existing.values()),
        object_type=object_type,
    )
    for name, spec in specs.items():
        if name not in existing:
            plan.create.append(hubspot_spec(name, spec, group_name))
            continue
        plan.existing.append(name)
        problem = spec_conflict(name, spec, existing[name])
        if problem:
            plan.conflicts.append(problem)
            continue
        missing = [value for _, value in missing_spec_options(name, spec, existing[name])]
        if not missing:
            continue
        if existing[name].group_name == group_name:
            plan.add_options.append((name, missing))
        else:
            plan.conflicts.append(
                f"{name} lacks the options {', '.join(missing)}, and is not in group {group_name}: "
                "add them in HubSpot"
            )
    return plan
