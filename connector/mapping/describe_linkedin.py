"""The `linkedin` section in plain words, for `mapping explain`: what each job imports and costs,
what a created contact holds, what each scan writes where, and hints for what would go unnoticed
(a job the budget never lets start, a person never known again, a field prospects do not have)."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping

from connector.mapping.hints import did_you_mean
from connector.mapping.linkedin import HEX_ID, PROSPECT_FIELDS, LinkedIn
from connector.mapping.model import Mapping


def _hints(mapping: Mapping, section: LinkedIn) -> list[str]:
    """What the section will not do as one may expect (none of it stops the mapping loading)."""
    hints: list[str] = []
    for name, job in section.jobs.items():
        if job.credits() > section.max_credits_per_run:
            hints.append(
                f"job {name} may cost {job.credits()} credits a start, more than max_credits_per_run "
                f"({section.max_credits_per_run}): it never starts; lower max_results or raise the budget."
            )
    if section.jobs and section.url_property() is None:
        hints.append(
            "no contact property is fed by linkedinUrl: an imported person is known again by first and last "
            "name at the same company only; add e.g. `saber_linkedin_url: linkedinUrl` to linkedin.contact."
        )
    for name, source in section.contact.items():
        if source.field is not None and source.field not in PROSPECT_FIELDS:
            hint = did_you_mean(source.field, PROSPECT_FIELDS)
            mean = f"; did you mean {hint!r}?" if hint else " (left empty when a prospect lacks it)."
            hints.append(
                f"linkedin.contact.{name} reads {source.field}, which the API's pages do not show{mean}"
            )
        spec = mapping.properties.get(name)
        if spec is not None and spec.write != "if_empty":
            hints.append(
                f"linkedin.contact sets {name}, which properties: writes with write: {spec.write}: the "
                "research would take the value set at creation for a person's edit; use write: if_empty."
            )
    for name, scan in section.scans.items():
        if not HEX_ID.fullmatch(scan.signal_specification):
            hints.append(
                f"scan {name}: {scan.signal_specification!r} is not an id of 24 hex digits; `saber-connector "
                "linkedin specs` lists the specifications' ids."
            )
    return hints


def linkedin_lines(
    mapping: Mapping, policy_words: AbcMapping[str, str], type_words: AbcMapping[str, str]
) -> list[str]:
    """The `linkedin` section in plain words (nothing when the mapping has none)."""
    section = mapping.linkedin
    if section is None:
        return []
    lines = ["", "What LinkedIn brings in (`saber-connector linkedin run`, with INTEGRATIONS_API_KEY):"]
    lines.append(
        f"  Jobs and uploads spend at most {section.max_credits_per_run} credits a run "
        "(max_credits_per_run); a start that would pass it waits for the next run, and a 402 (no credits "
        "left) stops starting."
    )
    for name, job in section.jobs.items():
        lines.append(f"  Job {name}: {job.words()}.")
    if section.jobs:
        url = section.url_property()
        known = f"the same {url}, else " if url else ""
        lines.append(
            "  A completed job's prospects become HubSpot contacts; a person already there "
            f"({known}the same first and last name at the same company) is matched, never created again. "
            "Each created contact is given:"
        )
        for prop, source in section.contact.items():
            lines.append(f"    {prop} <- {source.words()}")
    for name, scan in section.scans.items():
        lines.append(
            f"  Scan {name}: {scan.words(section.jobs)}. Each prospect's results are read once the scan "
            "completes (pending ones are read again next run; evaluated with nothing found is written as "
            "such) and written to its contact:"
        )
        for prop, spec in scan.properties.items():
            lines.append(
                f"    {prop} ({type_words[spec.type]}) <- {spec.words()}; written "
                f"{policy_words[spec.write]} [{spec.write}]."
            )
    lines += [f"  Hint: {hint}" for hint in _hints(mapping, section)]
    return lines
