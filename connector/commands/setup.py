"""`saber-connector setup [--dry-run]`: one plan, computed from one read of the portal's properties.

`plan_setup` says what `setup` would create (the group, every mapped property HubSpot
lacks and every contact property `prospecting.contact` sets that it lacks, the options an
enumeration of the connector's own group lacks) and what it cannot
fix (conflicts). `setup --dry-run` prints the plan; `setup` applies it (`setup_properties`)
and reports what it did. A property of another group is never changed: the options it
lacks are conflicts.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field, replace

from connector.clients import hubspot_from
from connector.hubspot import HubSpotAdapter, PropertyInfo, PropertySpec
from connector.mapping import Mapping, load_mapping
from connector.portal import (
    OBJECT_NOUNS,
    WrittenSpec,
    diff_properties,
    hubspot_spec,
    linkedin_conflict,
    linkedin_specs,
    option_problems,
    property_spec,
    prospect_conflict,
    prospecting_specs,
)
from connector.settings import Settings

Options = tuple[tuple[str, str], ...]  # (label, value) options of an enumeration


@dataclass
class SetupPlan:
    """The group and properties `setup` would create, those that exist, and the conflicts."""

    group: str
    group_label: str
    group_in_use: bool  # some existing property is in the group, so the group exists
    create: list[PropertySpec] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # (property, (label, value) options) `setup` would add to an enumeration of the connector's own group.
    add_options: list[tuple[str, Options]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # per property, in the mapping's order
    # Enumeration options the mapping writes that the portal's properties lack, once the plan is
    # applied (file:line; contact properties only).
    option_conflicts: list[str] = field(default_factory=list)
    object_type: str = "contacts"  # another type's plan renders without the header, its noun in front
    order: list[str] = field(default_factory=list)  # every property planned, in the mapping's order
    companies: SetupPlan | None = None  # the company properties' plan, when the mapping writes some

    @property
    def exit_code(self) -> int:
        conflicted = self.conflicts or self.option_conflicts
        return 2 if conflicted or (self.companies is not None and self.companies.exit_code) else 0

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
        lines += [
            f"  would add     {name} options {', '.join(v for _, v in options)}"
            for name, options in self.add_options
        ]
        conflicts = [*self.conflicts, *self.option_conflicts]
        lines += [f"  CONFLICT      {text}" for text in conflicts]
        if not self.create and not self.add_options and not conflicts:
            lines.append(f"nothing to create: every mapped {noun}property exists")
        if self.companies is not None:
            lines.append(self.companies.render())
        return "\n".join(lines)


def plan_setup(
    mapping: Mapping,
    existing: dict[str, PropertyInfo],
    company_existing: AbcMapping[str, PropertyInfo] | None = None,
) -> SetupPlan:
    """What `setup` does against a portal with these contact properties (a pure function).

    Options the mapping writes are added to an existing enumeration of the connector's own
    group; the options a property of another group lacks are conflicts. With
    `company_existing` (the portal's company properties) the mapped company properties are
    planned too, in `companies`.
    """
    group = mapping.hubspot_group
    plan = SetupPlan(
        group=group.name,
        group_label=group.label,
        group_in_use=any(info.group_name == group.name for info in existing.values()),
    )
    after = dict(existing)  # the portal as `setup` would leave it
    for diff in diff_properties(mapping.properties, existing):
        plan.order.append(diff.name)
        if diff.info is None:
            plan.create.append(property_spec(mapping, diff.name))
            continue
        plan.existing.append(diff.name)
        if diff.conflict:
            plan.conflicts.append(diff.conflict)
        elif diff.lacking and diff.info.group_name == group.name:
            plan.add_options.append((diff.name, diff.lacking))
            values = tuple(value for _, value in diff.lacking)
            after[diff.name] = replace(diff.info, options=(*diff.info.options, *values))
    plan_extra_contacts(plan, mapping, existing)
    plan.option_conflicts = option_problems(mapping, after)
    company_specs = mapping.company_specs()
    if company_specs and company_existing is not None:
        plan.companies = plan_object_setup(
            company_specs, group.name, group.label, company_existing, "companies"
        )
    return plan


# The stages that write contacts of their own: their properties, and why an existing one cannot take them.
ExtraSpecs = Callable[[Mapping], AbcMapping[str, PropertySpec]]
ExtraConflict = Callable[[Mapping, str, PropertyInfo], str | None]
EXTRA_CONTACT_PROPERTIES: tuple[tuple[ExtraSpecs, ExtraConflict], ...] = (
    (prospecting_specs, prospect_conflict),  # what `prospecting.contact` sets
    (linkedin_specs, linkedin_conflict),  # what the `linkedin` section's `contact` and scans write
)


def plan_extra_contacts(plan: SetupPlan, mapping: Mapping, existing: AbcMapping[str, PropertyInfo]) -> None:
    """Add to the contact plan the properties prospecting and the `linkedin` section write: those the
    portal lacks are created in the group, those it has (HubSpot's own, firstname...) checked."""
    for specs, conflict_of in EXTRA_CONTACT_PROPERTIES:
        for name, spec in specs(mapping).items():
            if name in plan.order:
                continue
            plan.order.append(name)
            info = existing.get(name)
            if info is None:
                plan.create.append(spec)
                continue
            plan.existing.append(name)
            if conflict := conflict_of(mapping, name, info):
                plan.conflicts.append(conflict)


def plan_object_setup(
    specs: AbcMapping[str, WrittenSpec],
    group_name: str,
    group_label: str,
    existing: AbcMapping[str, PropertyInfo],
    object_type: str,
) -> SetupPlan:
    """What `setup_object_properties` does against these properties of one object type (pure)."""
    plan = SetupPlan(
        group=group_name,
        group_label=group_label,
        group_in_use=any(info.group_name == group_name for info in existing.values()),
        object_type=object_type,
    )
    for diff in diff_properties(specs, existing):
        plan.order.append(diff.name)
        if diff.info is None:
            plan.create.append(hubspot_spec(diff.name, diff.spec, group_name))
            continue
        plan.existing.append(diff.name)
        if diff.conflict:
            plan.conflicts.append(diff.conflict)
        elif diff.lacking and diff.info.group_name == group_name:
            plan.add_options.append((diff.name, diff.lacking))
        elif diff.lacking:
            plan.conflicts.append(
                f"{diff.name} lacks the options {', '.join(value for _, value in diff.lacking)},"
                f" and is not in group {group_name}: add them in HubSpot"
            )
    return plan


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

    @property
    def exit_code(self) -> int:
        return 2 if self.conflicts else 0

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
    """Create the group and every mapped property HubSpot lacks; add missing options; report conflicts."""
    group = mapping.hubspot_group
    report = SetupReport(group=group.name)
    report.group_created = hubspot.ensure_group(group.name, group.label)
    existing = hubspot.get_properties()
    plan = plan_setup(mapping, existing)
    apply_plan(plan, hubspot, report, existing)
    # What the portal now says, not what the plan expected, decides the remaining option conflicts.
    report.conflicts.extend(option_problems(mapping, existing))
    company_specs = mapping.company_specs()
    if company_specs:  # the company properties, in the same group on companies
        report.add_companies(
            setup_object_properties(hubspot, company_specs, group.name, group.label, "companies")
        )
    return report


def setup_object_properties(
    hubspot: HubSpotAdapter,
    specs: AbcMapping[str, WrittenSpec],
    group_name: str,
    group_label: str,
    object_type: str,
) -> SetupReport:
    """`setup` for any object type: the group, then the plan of its written properties applied."""
    report = SetupReport(group=group_name, object_type=object_type)
    if not specs:
        return report
    report.group_created = hubspot.ensure_group(group_name, group_label, object_type=object_type)
    existing = hubspot.get_properties(object_type)
    plan = plan_object_setup(specs, group_name, group_label, existing, object_type)
    apply_plan(plan, hubspot, report, existing)
    return report


def apply_plan(
    plan: SetupPlan, hubspot: HubSpotAdapter, report: SetupReport, existing: dict[str, PropertyInfo]
) -> None:
    """Create what the plan creates and add the options it adds, in the mapping's order; `existing`
    is updated with what HubSpot answers, and `report` says what was done and the plan's conflicts."""
    object_type = plan.object_type
    creates = {spec.name: spec for spec in plan.create}
    adds = dict(plan.add_options)
    for name in plan.order:
        if name in creates:
            hubspot.create_property(creates[name], object_type=object_type)
            report.created.append(name)
        elif name in adds:
            existing[name], added = hubspot.add_property_options(name, adds[name], object_type=object_type)
            if added:
                report.options_added.append((name, added))
    report.existing += plan.existing
    report.conflicts += plan.conflicts


def run_setup(settings: Settings, *, apply: bool) -> SetupPlan | SetupReport:
    """`setup`: the plan applied, and what was done; `setup --dry-run` (apply=False): the plan only."""
    mapping = load_mapping(settings.connector_mapping)
    with hubspot_from(settings) as hubspot:
        if not apply:
            companies = hubspot.get_properties("companies") if mapping.company_specs() else None
            return plan_setup(mapping, hubspot.get_properties(), companies)
        return setup_properties(mapping, hubspot)
