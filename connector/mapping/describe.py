"""The mapping explained: its JSON Schema (editor completion), plain words, and option checks."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from typing import Any

from connector.mapping.describe_linkedin import linkedin_lines
from connector.mapping.linkedin import job_schema_rules
from connector.mapping.model import (
    NAME_PATTERN,
    OPTIONAL_INPUTS,
    AnyPropertySpec,
    CompanyPropertySpec,
    FilterSpec,
    InputSpec,
    Mapping,
    SubscriptionPropertySpec,
)
from connector.mapping.prospecting import SALES_NAVIGATOR_FIELD, Prospecting, filter_verdict

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

POLICY_WORDS = {
    "unless_edited": "when it changes, unless a person edited it in HubSpot",
    "always": "whenever it changes, even over a person's edit",
    "if_empty": "only while the HubSpot property is empty",
}
TYPE_WORDS = {
    "string": "text",
    "number": "number",
    "bool": "yes/no",
    "date": "date",
    "datetime": "date and time (UTC)",
    "enumeration": "single choice",
    "multiple": "multiple choice",
}
NORMALIZE_WORDS = {
    "domain": "as a domain",
    "email_domain": "the domain of the address, free-mail skipped",
    "url": "as an http(s) URL",
    "trim": "",
    None: "",
}
OPERATOR_WORDS = {
    "EQ": "is",
    "NEQ": "is not",
    "GT": "is greater than",
    "GTE": "is at least",
    "LT": "is less than",
    "LTE": "is at most",
    "IN": "is one of",
    "NOT_IN": "is none of",
    "HAS_PROPERTY": "has a value",
    "NOT_HAS_PROPERTY": "has no value",
    "BETWEEN": "is between",
    "CONTAINS_TOKEN": "contains",
}


# ---------------------------------------------------------------------------- JSON Schema
def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the mapping file, for editors and CI linting."""
    schema = Mapping.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    # An input is a bare property name or {property, normalize, fallback}.
    if "InputSpec" in defs:
        defs["InputSpecObject"] = defs.pop("InputSpec")
        defs["InputSpec"] = {
            "anyOf": [
                {"type": "string", "pattern": NAME_PATTERN, "description": "a HubSpot contact property"},
                {"$ref": "#/$defs/InputSpecObject"},
            ]
        }
    # Keys of `signals` and `properties` must match their patterns: nothing else is allowed.
    for section in ("signals", "properties"):
        schema["properties"][section]["additionalProperties"] = False
    for name, section in (
        ("Companies", "properties"),
        ("Companies", "subscriptions"),
        ("SubscriptionSpec", "properties"),
        ("Prospecting", "contact"),
        ("LinkedIn", "jobs"),
        ("LinkedIn", "contact"),
        ("LinkedIn", "scans"),
        ("LinkedInScan", "properties"),
    ):
        if name in defs:
            defs[name]["properties"][section]["additionalProperties"] = False
    if "LinkedInJob" in defs:  # each source's one input
        defs["LinkedInJob"]["anyOf"] = job_schema_rules()
    if "Search" in defs:  # at least one filter besides the company
        defs["Search"]["minProperties"] = 1
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "saber-connector mapping",
        **{k: v for k, v in schema.items() if k != "title"},
    }


# ---------------------------------------------------------------------------- plain words
def _filter_words(f: FilterSpec) -> str:
    verb = OPERATOR_WORDS[f.operator]
    if f.operator in ("IN", "NOT_IN"):
        return f"{f.property} {verb} {', '.join(f.values or [])}"
    if f.operator == "BETWEEN":
        return f"{f.property} {verb} {f.value} and {f.high_value}"
    if f.operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return f"{f.property} {verb}"
    return f"{f.property} {verb} {f.value}"


def _input_words(spec: InputSpec) -> str:
    parts = []
    for step in spec.chain():
        how = NORMALIZE_WORDS.get(step.normalize, "")
        parts.append(f"{step.property} ({how})" if how else step.property)
    return ", else ".join(parts)


ENTRY_WORDS = {
    "completedAt": "when the execution completed",
    "createdAt": "when the execution started",
    "question": "the question asked",
    "domain": "the company domain",
    "id": "the execution's id",
}


def _from_words(mapping: Mapping, spec: AnyPropertySpec) -> str:
    path = spec.path
    if isinstance(spec, SubscriptionPropertySpec):
        field, *rest = (str(p) for p in path.steps)
        if field in ENTRY_WORDS:
            return ENTRY_WORDS[field]
        deeper = ".".join(rest)
        if field == "company":
            return f"the company's {deeper} Saber returned"
        if field == "changeContext":
            return f"what changed since the previous execution ({deeper})"
        return f"the execution's {field}" + (f" ({deeper})" if deeper else "")
    if isinstance(spec, CompanyPropertySpec) and path.steps[1] == "company":
        deeper = ".".join(str(p) for p in path.steps[2:])
        return f"the company's {deeper} Saber returned with signal {path.steps[0]}"
    if path.root == "research":
        return f"the research's {path.steps[0]}"
    if path.root == "result":
        return f"the research result's {spec.from_.removeprefix('result.')}"
    key, signal_field, *more = path.steps
    deeper = f" ({'.'.join(str(r) for r in more)})" if more else ""
    what = {"answer": "answer", "confidence": "confidence", "reasoning": "reasoning", "sources": "sources"}[
        str(signal_field)
    ]
    return f"the {what}{deeper} of signal {key}"


def _confidence_words(mapping: Mapping, spec: AnyPropertySpec) -> str:
    """`; only with confidence at least 0.7` for a property with a threshold, else nothing."""
    threshold = mapping.threshold(spec)
    if threshold is None:
        return ""
    return f"; only an answer with confidence at least {threshold:g} (lower or none: not written)"


def _property_line(mapping: Mapping, name: str, spec: AnyPropertySpec, indent: str = "  ") -> str:
    options = ""
    if spec.options:
        options = " mapping " + ", ".join(f"{k} -> {v}" for k, v in spec.options.items())
    return (
        f"{indent}{name} ({TYPE_WORDS[spec.type]}) <- {_from_words(mapping, spec)}{options}"
        f"{_confidence_words(mapping, spec)}; written {POLICY_WORDS[spec.write]} [{spec.write}]."
    )


MATCH_WORDS = {
    "association": (
        "A contact's company is its primary associated company in HubSpot (match: association); "
        "a contact with no associated company is reported with that reason."
    ),
    "domain": (
        "A contact's company is the HubSpot company whose domain equals the contact's companyDomain "
        "input (match: domain); no company with that domain, or two of them, is reported with that "
        "reason, never guessed."
    ),
}


def _company_lines(mapping: Mapping) -> list[str]:
    """The `companies` section in plain words (nothing when the mapping has none)."""
    companies = mapping.companies
    if companies is None:
        return []
    lines = ["", "What lands on HubSpot companies:", f"  {MATCH_WORDS[companies.match]}"]
    lines.append("  An unmatched contact's own properties are still written.")
    if companies.properties:
        lines.append(
            "  From the company-scope questions, asked once per company and shared by its contacts "
            "(written on the company, not on its contacts unless properties: maps them too):"
        )
        for name, company_spec in companies.properties.items():
            lines.append(_property_line(mapping, name, company_spec, "    "))
    for key, sub in companies.subscriptions.items():
        lines.append(
            f"  Subscription {key} (Saber id {sub.id}): each full sync reads the executions completed "
            "since the last one from its logs (free: no credits) and writes the newest per company "
            "domain to the company with that domain:"
        )
        if not sub.looks_like_uuid:
            lines.append(
                f"    Note: {sub.id!r} is not a UUID: Saber will answer 404 for it; put the subscription's "
                "id here."
            )
        for name, spec in sub.properties.items():
            lines.append(_property_line(mapping, name, spec, "    "))
    lines.append(
        "  As for contacts, a null or held-back answer never blanks a company value, an unchanged value "
        "is not rewritten, and only companies with a changed value are updated."
    )
    lines.append(
        f"  Company properties are created by `setup` in the company property group "
        f"{mapping.hubspot_group.name!r} ({mapping.hubspot_group.label})."
    )
    return lines


def explain_mapping(mapping: Mapping) -> str:
    """What the mapping does, in plain words: selection, inputs, questions and credits, writes."""
    lines: list[str] = [f"Mapping {mapping.source_path or '(not from a file)'}", ""]
    sel = mapping.select
    lines.append("Which contacts:")
    if sel.filters:
        lines.append("  HubSpot contacts where " + ", and ".join(_filter_words(f) for f in sel.filters) + ".")
    else:
        lines.append("  Every HubSpot contact (no filters).")
    if sel.refresh_after_days is None:
        lines.append("  Each is researched once and never again unless its inputs change.")
    else:
        lines.append(
            f"  Each is researched again when its inputs change or its result is older than "
            f"{sel.refresh_after_days} days."
        )
    lines.append(f"  At most {sel.max_new_per_run} new research requests are launched per run.")
    lines += [
        "",
        f"What is sent to Saber (with the HubSpot contact ID, externalSource {mapping.external_source!r}):",
    ]
    for field, spec in mapping.inputs.items():
        need = (
            "required" if field in ("firstName", "lastName", "companyName", "companyDomain") else "optional"
        )
        lines.append(f"  {field:<26} <- {_input_words(spec)} [{need}]")
    lines.append(
        "  A contact whose required inputs are missing or invalid is skipped with a reason; "
        "an invalid optional input is left out."
    )
    lines += ["", "What is asked:"]
    lines.append("  One contact research per contact.")
    used = set(mapping.used_signals())
    for key, sig in mapping.signals.items():
        asked_as = f"Saber template {sig.template}" if sig.template is not None else repr(sig.question)
        if key not in used:
            lines.append(f"  {key}: {asked_as} - never asked: no property maps it.")
            continue
        target = "the contact's profile URL" if sig.scope == "contact" else "the company domain"
        kind = "its question and answer type" if sig.template is not None else sig.answer_type
        how = "asked in batches of questions x domains" if sig.scope == "company" else "asked"
        lenient = ", lenient: best-effort estimates" if sig.verification_mode == "lenient" else ""
        lines.append(
            f"  {key}: {asked_as} ({sig.scope}, {kind}{lenient}) - read from the research result when it "
            f"answers it, otherwise {how} with {target} (1 credit); the answer is collected when Saber "
            "has it (signals take tens of seconds)."
        )
    asked = len(used)
    lines.append(
        f"  Credits per contact: the research, plus up to {asked} signal question{'s' if asked != 1 else ''} "
        f"at 1 credit each (so at most 1 + {asked} = {1 + asked}, assuming a research costs 1 credit)."
    )
    if any(mapping.signals[key].scope == "company" for key in used):
        lines.append(
            "  A company-scope question is asked once per company domain: contacts at the same company "
            "share its answer and its credit."
        )
    lines += ["", "What lands where in HubSpot:"]
    for name, prop in mapping.properties.items():
        lines.append(_property_line(mapping, name, prop))
    lines.append(
        "  A null answer never blanks a value already there; an unchanged value is not rewritten; "
        "a value that cannot be converted is reported for that contact and property."
    )
    lines.append(
        f"  Properties are created by `setup` in group {mapping.hubspot_group.name!r} "
        f"({mapping.hubspot_group.label})."
    )
    if mapping.min_confidence is not None:
        lines.append(
            f"  Answers from signals need confidence at least {mapping.min_confidence:g} to be written "
            "(min_confidence; a property's own min_confidence overrides it); one held back is counted "
            "per property in the run summary."
        )
    lines += _company_lines(mapping)
    lines += _prospecting_lines(mapping)
    lines += linkedin_lines(mapping, POLICY_WORDS, TYPE_WORDS)
    return "\n".join(lines)


SEARCH_WORDS = {
    "job_titles": "job title",
    "seniority_levels": "seniority",
    "departments": "department",
    "countries": "located in",
}


def _search_words(prospecting: Prospecting) -> str:
    search = prospecting.search
    parts = [
        f"{words} {' or '.join(getattr(search, name))}"
        for name, words in SEARCH_WORDS.items()
        if getattr(search, name) is not None
    ]
    if search.keywords is not None:
        parts.append(f"keywords {search.keywords!r}")
    return ", and ".join(parts)


def _prospecting_hints(mapping: Mapping, prospecting: Prospecting) -> list[str]:
    """What a created contact will lack, said as hints (none of them stops the mapping loading)."""
    hints: list[str] = []
    url_property = prospecting.sales_navigator_property()
    reads = {name: [s.property for s in spec.chain()] for name, spec in mapping.inputs.items()}
    if url_property is None:
        hints.append(
            f"no contact property is fed by {SALES_NAVIGATOR_FIELD}: a person is known again by first and "
            "last name at the company only; add e.g. `saber_sales_navigator_url: "
            f"{SALES_NAVIGATOR_FIELD}` to prospecting.contact."
        )
    elif url_property not in reads.get("linkedInSalesNavigatorUrl", []):
        hints.append(
            f"inputs.linkedInSalesNavigatorUrl does not read {url_property}: add `linkedInSalesNavigatorUrl: "
            f"{url_property}` under inputs, so research of a created contact starts from the profile it "
            "was found by."
        )
    for field in OPTIONAL_INPUTS:
        chain = reads.get(field)
        if chain and not any(name in prospecting.contact for name in chain):
            hints.append(
                f"inputs.{field} reads {', '.join(chain)}, which prospecting.contact does not set: a created "
                "contact is researched without it (a contact-scope signal is then asked with the LinkedIn "
                "URL the research finds)."
            )
    for spec in mapping.select.filters:
        verdict = filter_verdict(spec, prospecting.contact.get(spec.property))
        if verdict != "holds":
            fix = f"`{spec.property}: {{value: …}}` in prospecting.contact"
            hints.append(
                f"select.filters: {_filter_words(spec)} {'fails' if verdict == 'fails' else 'may not hold'} "
                f"for a created contact, so the cycle {'will not' if verdict == 'fails' else 'may not'} "
                f"research it; set a value it selects with {fix}."
            )
    return hints


def _prospecting_lines(mapping: Mapping) -> list[str]:
    """The `prospecting` section in plain words (nothing when the mapping has none)."""
    prospecting = mapping.prospecting
    if prospecting is None:
        return []
    accounts = prospecting.accounts
    url_property = prospecting.sales_navigator_property()
    again = (
        "every run" if prospecting.refresh_after_days == 0 else f"after {prospecting.refresh_after_days} days"
    )
    known = f"the same {url_property}, else " if url_property else ""
    lines = ["", "Who prospecting adds (`saber-connector prospect`):"]
    lines.append(
        "  Target accounts: HubSpot companies where "
        + ", and ".join(_filter_words(f) for f in accounts.filters)
        + f"; each one's LinkedIn company URL is read from {accounts.linkedin_url} (a company without a "
        "usable one is skipped, with the reason)."
    )
    lines.append(
        f"  At each, Saber's contact search (through the API key owner's LinkedIn Sales Navigator; free, "
        f"calls counted) looks for people with {_search_words(prospecting)}; it is searched again {again}."
    )
    lines.append(
        f"  At most {prospecting.per_account} new contacts per company and {prospecting.max_new_per_run} per "
        f"run. A person already in HubSpot ({known}the same first and last name among the company's "
        "contacts) or already created is never created again."
    )
    lines.append("  Each created contact is associated to its company and given:")
    for name, source in prospecting.contact.items():
        lines.append(f"    {name} <- {source.words()}")
    lines.append(
        "  The normal cycle then researches a created contact like any other, when select.filters select it."
    )
    lines += [f"  Hint: {hint}" for hint in _prospecting_hints(mapping, prospecting)]
    return lines


# ---------------------------------------------------------------------------- check
def enumeration_option_problems(mapping: Mapping, hubspot_options: AbcMapping[str, set[str]]) -> list[str]:
    """`file:line` problems for each mapped option value the HubSpot property lacks.

    `hubspot_options` maps a property name to its option values in HubSpot; properties it
    does not name are not checked (a missing property is reported elsewhere).
    """
    problems: list[str] = []
    for name, spec in mapping.properties.items():
        if not spec.options or name not in hubspot_options:
            continue
        have = set(hubspot_options[name])
        for key, value in spec.options.items():
            if value not in have:
                listed = ", ".join(sorted(have)) or "none"
                problems.append(
                    f"{mapping.where('properties', name, 'options', key)}: properties.{name}.options.{key}: "
                    f"found {value!r}, which HubSpot property {name} lacks; allowed: {listed}"
                )
    return problems
