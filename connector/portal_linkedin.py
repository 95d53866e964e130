"""Does the portal have what the mapping's `linkedin` section writes and reads? For `setup`, `check`
and the LinkedIn run's preflight (re-exported by `connector.portal`).

The section writes two kinds of contact properties: those `linkedin.contact` sets on the contacts
a job creates (text, or a fixed value; HubSpot's own such as firstname or lifecyclestage exist and
are only checked), and those the scans write (their own types). A scan over the portal's contacts
also reads each contact's LinkedIn URL property (`linkedin_url`), which must be text. A run that
would import prospects or spend on a scan and then fail every write is stopped before it starts.
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping

from connector.errors import ConfigError
from connector.hubspot import HubSpotAdapter, PropertyInfo, PropertySpec
from connector.mapping import Mapping
from connector.mapping.hints import did_you_mean

# Mapping type -> (HubSpot type, fieldType): the scans' types, as `connector.portal.HUBSPOT_TYPES` has them.
LINKEDIN_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "text"),
    "number": ("number", "number"),
    "bool": ("bool", "booleancheckbox"),
    "date": ("date", "date"),
    "datetime": ("datetime", "date"),
}
LONG_TEXT = ("summary", "reasoning")
BOOL_OPTIONS = (("Yes", "true"), ("No", "false"))
SETUP_HINT = "run `saber-connector setup` to create it"


def linkedin_specs(mapping: Mapping) -> dict[str, PropertySpec]:
    """What `setup` creates for each contact property the section writes and the portal lacks, in the
    mapping's group: text for `contact`, the scans' own types (summaries and reasonings long text)."""
    out: dict[str, PropertySpec] = {}
    for d in mapping.linkedin_property_definitions():
        hs_type, field_type = LINKEDIN_TYPES.get(d.type, LINKEDIN_TYPES["string"])
        if d.type == "string" and any(word in d.source for word in LONG_TEXT):
            field_type = "textarea"
        out[d.name] = PropertySpec(
            name=d.name,
            label=d.label,
            type=hs_type,
            field_type=field_type,
            group_name=d.group,
            options=BOOL_OPTIONS if d.type == "bool" else (),
            description=f"Written by saber-connector from {d.source}.",
        )
    return out


def linkedin_where(mapping: Mapping, name: str) -> str:
    """`file:line` of a property the section writes: under `linkedin.contact` or its scan."""
    section = mapping.linkedin
    if section is not None and name in section.contact:
        return mapping.where("linkedin", "contact", name)
    if section is not None and name in section.scan_properties():
        scan, _ = section.scan_properties()[name]
        return mapping.where("linkedin", "scans", scan, "properties", name)
    return mapping.where("linkedin")


def linkedin_conflict(mapping: Mapping, name: str, existing: PropertyInfo) -> str | None:
    """Why an existing contact property cannot take what the section writes into it, or None."""
    section = mapping.linkedin
    if section is None:
        return None
    kind = f"{existing.type}/{existing.field_type}"
    if existing.read_only and (name in section.contact or name in section.scan_properties()):
        return f"{name} is read-only in HubSpot, the linkedin section writes it"
    source = section.contact.get(name)
    if source is not None and source.value is not None:
        value = source.value
        if existing.type == "enumeration" and value not in existing.options:
            listed = ", ".join(existing.options) or "none"
            return f"{name} has no option {value!r} in HubSpot, linkedin.contact sets it; it has: {listed}"
        if existing.type in ("bool", "number", "date", "datetime") and not _fits(existing.type, value):
            return f"{name} is {kind} in HubSpot, linkedin.contact sets it to {value!r}"
        return None
    if source is not None and existing.type != "string":
        return f"{name} is {kind} in HubSpot, linkedin.contact writes the prospect's {source.field} (text)"
    if name in section.scan_properties():
        scan, prop = section.scan_properties()[name]
        wanted = LINKEDIN_TYPES[prop.type][0]
        if existing.type != wanted:
            return f"{name} is {kind} in HubSpot, scan {scan} writes {prop.type} ({prop.from_})"
    return None


def linkedin_problems(mapping: Mapping, existing: AbcMapping[str, PropertyInfo]) -> list[str]:
    """`check` for the section: each contact property it writes that the portal lacks or that cannot
    take the value, and each scan's LinkedIn URL property missing or not text, one a line with file:line."""
    section = mapping.linkedin
    if section is None:
        return []
    problems: list[str] = []
    for name in linkedin_specs(mapping):
        at = linkedin_where(mapping, name)
        info = existing.get(name)
        if info is None:
            problems.append(f"{at}: contact property {name} does not exist in HubSpot ({SETUP_HINT})")
        elif conflict := linkedin_conflict(mapping, name, info):
            problems.append(f"{at}: contact property {conflict}")
    for scan_name, scan in section.scans.items():
        url = scan.linkedin_url
        if url is None:
            continue
        at = mapping.where("linkedin", "scans", scan_name, "linkedin_url")
        info = existing.get(url)
        if info is None:
            hint = did_you_mean(url, existing)
            mean = f"; did you mean {hint!r}?" if hint else ""
            problems.append(
                f"{at}: HubSpot has no contact property {url!r} (linkedin.scans.{scan_name}.linkedin_url: "
                f"the LinkedIn profile URL){mean}"
            )
        elif info.type != "string":
            problems.append(
                f"{at}: contact property {url} is {info.type}/{info.field_type} in HubSpot; "
                f"linkedin.scans.{scan_name}.linkedin_url must name a text property holding the profile URL"
            )
    return problems


def preflight_linkedin(mapping: Mapping, hubspot: HubSpotAdapter) -> dict[str, PropertyInfo]:
    """The LinkedIn run's check before it starts or imports anything: a `ConfigError` (exit code 2)
    naming every missing property and the fix, or the first other problem; else the portal's contact
    properties. Nothing is read without a `linkedin` section."""
    if mapping.linkedin is None:
        return {}
    existing = hubspot.get_properties()
    missing = [name for name in linkedin_specs(mapping) if name not in existing]
    if missing:
        raise ConfigError(
            f"{linkedin_where(mapping, missing[0])}: HubSpot has no contact property {', '.join(missing)} "
            "that the linkedin section writes; run `saber-connector setup` to create them, then run again"
        )
    problems = linkedin_problems(mapping, existing)
    if problems:
        raise ConfigError(problems[0])
    return existing


def _fits(kind: str, value: str) -> bool:
    """Whether a fixed text value is one HubSpot takes for a property of this type."""
    if kind == "bool":
        return value in ("true", "false")
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return False
        return True
    return len(value) >= 10 and value[:4].isdigit() and value[4] == "-"  # dates: ISO
