"""`saber-connector setup --dry-run`: what `setup` would create, computed from one read of the
portal's properties, without creating anything."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from connector.hubspot import PropertyInfo, PropertySpec
from connector.mapping import Mapping
from connector.properties import option_problems, property_spec, type_conflict


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

    @property
    def exit_code(self) -> int:
        return 2 if self.conflicts else 0

    def render(self) -> str:
        group = "exists" if self.group_in_use else "would be created (unless HubSpot has it already)"
        lines = ["setup --dry-run: nothing was created", f"property group {self.group}: {group}"]
        for spec in self.create:
            options = f", options {', '.join(v for _, v in spec.options)}" if spec.options else ""
            lines.append(
                f"  would create  {spec.name} ({spec.type}/{spec.field_type}, label {spec.label!r}{options})"
            )
        lines += [f"  exists        {name}" for name in self.existing]
        lines += [f"  would add     {name} options {', '.join(values)}" for name, values in self.add_options]
        lines += [f"  CONFLICT      {text}" for text in self.conflicts]
        if not self.create and not self.add_options and not self.conflicts:
            lines.append("nothing to create: every mapped property exists")
        return "\n".join(lines)


def plan_setup(mapping: Mapping, existing: dict[str, PropertyInfo]) -> SetupPlan:
    """What `setup_properties` would do against a portal with these properties (a pure function).

    As `setup` does, options the mapping writes are added to an existing enumeration of the
    connector's own group; the options a property of another group lacks are conflicts.
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
    return plan
