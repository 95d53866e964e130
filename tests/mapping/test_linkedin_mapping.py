"""The mapping's `linkedin` section (issue 19, item 2): prospecting jobs, what a created contact holds,
and signal scans' result paths, validated with file, line, key, found and allowed."""

# ruff: noqa: E501 - the issue's example and expected messages stay verbatim

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from connector.errors import ConfigError
from connector.mapping import (
    ConversionError,
    LinkedInJob,
    LinkedInSource,
    Mapping,
    ScanProperty,
    explain_mapping,
    load_mapping,
    mapping_json_schema,
    parse_mapping,
    parse_scan_path,
    scan_value,
)
from tests.mapping.test_mapping_load import schema_errors
from tests.mapping_errors import assert_error_at, error_of, line_of

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = (ROOT / "mappings" / "default.yaml").read_text(encoding="utf-8")

# The `linkedin` block of issue 19, exactly as written there.
ISSUE_LINKEDIN = """linkedin:
  max_credits_per_run: 500          # what jobs and uploads may spend in one run, at most
  jobs:
    platform_leaders:               # a name of your choice
      source: sales_navigator       # linkedin_search | sales_navigator | post_commenters
      saved_search_id: "3318"       # sales_navigator: saved_search_id or lead_list_id; linkedin_search: search_url; post_commenters: post_url
      max_results: 200              # capped by the plan
      search_emails: false          # 2 credits a prospect when true
      every_days: 7                 # start it again after this long
  contact:                          # HubSpot contact property <- a prospect field (dots go into objects), or a fixed value
    firstname: firstName
    lastname: lastName
    jobtitle: headline
    saber_linkedin_url: linkedinUrl
    company: company.name
    website: company.website
    lifecyclestage: {value: lead}
  scans:
    hiring_signals:
      signal_specification: "66a1f0c2e4b0a1b2c3d4e5f6"
      audience: hubspot             # hubspot: the selected HubSpot contacts that have a LinkedIn URL; or a job's name; or an audience id
      linkedin_url: linkedin_url    # with audience hubspot: the contact property holding the LinkedIn profile URL
      every_days: 7
      properties:                   # HubSpot contact property <- a path into the prospect's results
        saber_scan_status: {from: status}
        saber_scan_items:  {from: items.count, type: number}
        saber_scan_top:    {from: items.0.summary}
        saber_scan_score:  {from: items.0.score, type: number}
        saber_scan_link:   {from: items.0.postLink}
"""
# The default mapping's other sections with the issue's block added.
EXAMPLE = DEFAULT + "\n" + ISSUE_LINKEDIN


def edit(old: str, new: str) -> str:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1)


def loaded(text: str = EXAMPLE) -> Mapping:
    return parse_mapping(text)


# ---------------------------------------------------------------------------- loads
def test_issue_example_loads_exactly_as_written_on_the_default_mapping(tmp_path: Path) -> None:
    """The issue's block loads as written on top of mappings/default.yaml, every key kept, the rest unchanged."""
    path = tmp_path / "x.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    m = load_mapping(path)
    section = m.linkedin
    assert section is not None and section.max_credits_per_run == 500
    job = section.jobs["platform_leaders"]
    assert (job.source, job.saved_search_id, job.max_results, job.search_emails, job.every_days) == (
        "sales_navigator",
        "3318",
        200,
        False,
        7,
    )
    assert {name: source.model_dump() for name, source in section.contact.items()} == {
        "firstname": "firstName",
        "lastname": "lastName",
        "jobtitle": "headline",
        "saber_linkedin_url": "linkedinUrl",
        "company": "company.name",
        "website": "company.website",
        "lifecyclestage": {"value": "lead"},
    }
    scan = section.scans["hiring_signals"]
    assert (scan.signal_specification, scan.audience, scan.linkedin_url, scan.every_days, scan.min_score) == (
        "66a1f0c2e4b0a1b2c3d4e5f6",
        "hubspot",
        "linkedin_url",
        7,
        None,
    )
    assert {n: (p.from_, p.type, p.write) for n, p in scan.properties.items()} == {
        "saber_scan_status": ("status", "string", "unless_edited"),
        "saber_scan_items": ("items.count", "number", "unless_edited"),
        "saber_scan_top": ("items.0.summary", "string", "unless_edited"),
        "saber_scan_score": ("items.0.score", "number", "unless_edited"),
        "saber_scan_link": ("items.0.postLink", "string", "unless_edited"),
    }
    default = parse_mapping(DEFAULT)
    assert m.properties == default.properties and m.inputs == default.inputs and m.select == default.select
    assert m.line_of("linkedin", "scans", "hiring_signals", "audience") == line_of(
        EXAMPLE, "audience: hubspot"
    )


def test_shipped_linkedin_mapping_holds_the_issue_example() -> None:
    """mappings/linkedin.yaml loads, holds the issue's block verbatim, and explain gives it no hint."""
    path = ROOT / "mappings" / "linkedin.yaml"
    assert ISSUE_LINKEDIN in path.read_text(encoding="utf-8")
    m = load_mapping(path)
    assert m.linkedin is not None and "Hint:" not in explain_mapping(m)


def test_readme_documents_the_section_with_the_issue_example(tmp_path: Path) -> None:
    """The mapping reference carries the issue's example verbatim, a row per key, and error lines as the loader says them."""
    text = (ROOT / "mappings" / "README.md").read_text(encoding="utf-8")
    assert ISSUE_LINKEDIN in text
    for key in (
        "max_credits_per_run",
        "jobs",
        "contact",
        "scans",
        "scans.<scan>.audience",
        "scans.<scan>.properties",
    ):
        assert f"`linkedin.{key}`" in text, key
    message = error_of(tmp_path, edit("items.0.summary", "items.0.sumary"))
    documented = message.split(": ", 1)[1].split(": ", 1)[1]
    assert documented in text


def test_a_mapping_without_linkedin_is_unchanged() -> None:
    """The section is optional: without it the dump and explain have no trace of it, and nothing is defined for setup."""
    m = loaded(DEFAULT)
    assert m.linkedin is None and "linkedin" not in m.model_dump(mode="json")
    assert "LinkedIn" not in explain_mapping(m)
    assert m.linkedin_property_definitions() == []


def test_the_sync_cycle_does_not_see_the_section() -> None:
    """Adding or editing the section leaves what the cycle fingerprints as it was, while the dump shows the change."""
    without = loaded(DEFAULT)
    assert loaded().cycle_dump() == without.cycle_dump()
    changed = loaded(edit("max_results: 200", "max_results: 150"))
    assert changed.cycle_dump() == without.cycle_dump()
    assert changed.model_dump(mode="json") != loaded().model_dump(mode="json")


def test_defaults_and_the_smallest_section() -> None:
    """A scan needs only its specification and one property: hubspot audience, linkedin_url, 7 days and the budget default."""
    m = loaded(
        DEFAULT
        + "\nlinkedin:\n  scans:\n    s:\n      signal_specification: 66a1f0c2e4b0a1b2c3d4e5f6\n      properties:\n        saber_x: {from: status}\n"
    )
    section = m.linkedin
    assert section is not None and section.max_credits_per_run == 500 and section.jobs == {}
    scan = section.scans["s"]
    assert (scan.audience, scan.linkedin_url, scan.every_days) == ("hubspot", "linkedin_url", 7)
    assert scan.audience_kind(section.jobs) == "hubspot"
    job = LinkedInJob.model_validate(
        {
            "source": "linkedin_search",
            "search_url": "https://www.linkedin.com/search/results/people/?keywords=k8s",
        }
    )
    assert (job.max_results, job.search_emails, job.every_days) == (100, False, 7)


# ---------------------------------------------------------------------------- views
def test_views_for_the_jobs_and_scans_stages() -> None:
    """The run reads each job's API inputs and credits, the URL property, fixed values and the scans' properties."""
    section = loaded().linkedin
    assert section is not None
    job = section.jobs["platform_leaders"]
    assert job.inputs() == {"savedSearchId": "3318"} and job.credits() == 200
    assert job.model_copy(update={"search_emails": True}).credits() == 400
    assert section.url_property() == "saber_linkedin_url"
    assert section.fixed_values() == {"lifecyclestage": "lead"}
    assert section.job_names() == ["platform_leaders"] and section.scan_names() == ["hiring_signals"]
    assert list(section.scan_properties()) == [
        "saber_scan_status",
        "saber_scan_items",
        "saber_scan_top",
        "saber_scan_score",
        "saber_scan_link",
    ]
    assert section.scan_properties()["saber_scan_top"][0] == "hiring_signals"


@pytest.mark.parametrize(
    ("job", "inputs", "credits"),
    [
        ({"source": "sales_navigator", "lead_list_id": "77"}, {"leadListId": "77"}, 100),
        (
            {
                "source": "linkedin_search",
                "search_url": "https://www.linkedin.com/search/results/people/?q=x",
                "max_results": 30,
                "search_emails": True,
            },
            {"searchUrl": "https://www.linkedin.com/search/results/people/?q=x"},
            60,
        ),
        (
            {"source": "post_commenters", "post_url": "https://linkedin.com/posts/acme-1"},
            {"postUrl": "https://linkedin.com/posts/acme-1"},
            100,
        ),
        (
            {
                "source": "url_upload",
                "profile_urls": ["https://www.linkedin.com/in/a", "https://www.linkedin.com/in/b/"],
            },
            {"profileUrls": ["https://www.linkedin.com/in/a", "https://www.linkedin.com/in/b/"]},
            2,
        ),
    ],
    ids=["lead_list", "search", "post", "upload"],
)
def test_each_source_sends_its_one_input_and_costs_what_it_may_import(
    job: dict[str, Any], inputs: dict[str, Any], credits: int
) -> None:
    """inputs() names the source's input as the API does; credits() is max_results (or the URL count) x 1 or 2."""
    model = LinkedInJob.model_validate(job)
    assert model.inputs() == inputs and model.credits() == credits


@pytest.mark.parametrize(
    ("audience", "kind", "url"),
    [
        ("hubspot", "hubspot", "linkedin_url"),
        ("platform_leaders", "job", None),
        ("66a1f0c2e4b0a1b2c3d4e5f7", "id", None),
    ],
)
def test_audience_kinds(audience: str, kind: str, url: str | None) -> None:
    """A scan's audience is the portal's contacts, a job's prospects or an audience id; only hubspot reads a URL property."""
    text = edit(
        "      linkedin_url: linkedin_url    # with audience hubspot: the contact property holding the LinkedIn profile URL\n",
        "",
    )
    section = loaded(text.replace("audience: hubspot ", f"audience: {audience} ")).linkedin
    assert section is not None
    scan = section.scans["hiring_signals"]
    assert scan.audience_kind(section.jobs) == kind and scan.linkedin_url == url


def test_setup_definitions_for_contact_and_scans() -> None:
    """`setup` is given every property the section writes: the contact part as text, the scans' with their types."""
    definitions = {d.name: d for d in loaded().linkedin_property_definitions()}
    assert list(definitions)[:7] == [
        "firstname",
        "lastname",
        "jobtitle",
        "saber_linkedin_url",
        "company",
        "website",
        "lifecyclestage",
    ]
    score = definitions["saber_scan_score"]
    assert (score.type, score.label, score.group) == ("number", "Saber Scan score", "saber")
    assert "items.0.score" in score.source and definitions["company"].type == "string"


# ---------------------------------------------------------------------------- result paths and values
@pytest.mark.parametrize(
    ("path", "kind", "index", "field"),
    [
        ("status", "status", None, None),
        ("items.count", "count", None, None),
        ("items.0.summary", "item", 0, "summary"),
        ("items.12.postedAt", "item", 12, "postedAt"),
        ("items.postLink", "list", None, "postLink"),
    ],
)
def test_result_paths_parse(path: str, kind: str, index: int | None, field: str | None) -> None:
    """Each `from:` form reads what its name says: the status, the count, the n-th item's field, or every item's."""
    parsed = parse_scan_path(path)
    assert (parsed.kind, parsed.index, parsed.field) == (kind, index, field)


@pytest.mark.parametrize(
    ("spec", "raw", "expected"),
    [
        ({"from": "items.0.score", "type": "number"}, "0.87", "0.87"),
        ({"from": "items.count", "type": "number"}, 0, "0"),
        ({"from": "items.count"}, 3, "3"),
        ({"from": "status"}, "evaluated", "evaluated"),
        ({"from": "items.summary"}, ["Hiring SREs", None, "Kubernetes post"], "Hiring SREs; Kubernetes post"),
        ({"from": "items.0.postedAt", "type": "date"}, "2026-11-30T10:00:00Z", "2026-11-30"),
        ({"from": "items.0.summary"}, None, None),
        ({"from": "items.title"}, [], None),
    ],
)
def test_scan_value_converts_by_type_and_joins_lists(
    spec: dict[str, Any], raw: Any, expected: str | None
) -> None:
    """scan_value gives HubSpot's string: numbers from numeric strings, dates as the UTC day, lists joined with '; '."""
    assert scan_value(ScanProperty.model_validate(spec), raw) == expected


def test_scan_value_refuses_what_the_type_cannot_hold() -> None:
    """A score that is not a number is a ConversionError, recorded against the prospect, never a blank."""
    with pytest.raises(ConversionError):
        scan_value(ScanProperty.model_validate({"from": "items.0.score", "type": "number"}), "high")


def test_fixed_values_become_hubspot_text() -> None:
    """`{value: V}` takes text, numbers and booleans, kept as the text HubSpot is sent."""
    assert LinkedInSource.model_validate({"value": 3}).value == "3"
    assert LinkedInSource.model_validate({"value": True}).value == "true"
    assert LinkedInSource.model_validate("company.linkedinUrl").field == "company.linkedinUrl"


# ---------------------------------------------------------------------------- errors
SN = '      saved_search_id: "3318"       # sales_navigator: saved_search_id or lead_list_id; linkedin_search: search_url; post_commenters: post_url\n'
ERRORS = [
    (
        "no input",
        edit(SN, ""),
        "    platform_leaders:",
        "linkedin.jobs.platform_leaders: found no saved_search_id or lead_list_id, allowed: source sales_navigator needs saved_search_id or lead_list_id",
    ),
    (
        "both ids",
        edit(SN, SN + '      lead_list_id: "12"\n'),
        'lead_list_id: "12"',
        "linkedin.jobs.platform_leaders.lead_list_id: found both saved_search_id and lead_list_id, allowed: one of them",
    ),
    (
        "another source's input",
        edit(SN, SN + "      post_url: https://www.linkedin.com/posts/x\n"),
        "post_url: https",
        "linkedin.jobs.platform_leaders.post_url: found post_url with source sales_navigator, allowed: source sales_navigator takes saved_search_id or lead_list_id",
    ),
    (
        "search without url",
        edit("source: sales_navigator ", "source: linkedin_search ").replace(SN, ""),
        "    platform_leaders:",
        "linkedin.jobs.platform_leaders: found no search_url, allowed: source linkedin_search needs search_url",
    ),
    (
        "unknown source",
        edit("source: sales_navigator ", "source: salesnavigator "),
        "source: salesnavigator",
        "linkedin.jobs.platform_leaders.source: found 'salesnavigator', allowed: linkedin_search, sales_navigator, post_commenters, url_upload; did you mean 'sales_navigator'?",
    ),
    (
        "unquoted id",
        edit('saved_search_id: "3318"', "saved_search_id: 3318"),
        "saved_search_id: 3318",
        'linkedin.jobs.platform_leaders.saved_search_id: found 3318 (a number), allowed: text: quote the id, "3318"',
    ),
    (
        "too many results",
        edit("max_results: 200 ", "max_results: 2500 "),
        "max_results: 2500",
        "linkedin.jobs.platform_leaders.max_results: found 2500, allowed: a whole number from 1 to 2000",
    ),
    (
        "no results",
        edit("max_results: 200 ", "max_results: 0 "),
        "max_results: 0",
        "linkedin.jobs.platform_leaders.max_results: found 0, allowed: a whole number from 1 to 2000",
    ),
    (
        "every zero days",
        edit(
            "      every_days: 7                 # start it again",
            "      every_days: 0                 # start it again",
        ),
        "every_days: 0",
        "linkedin.jobs.platform_leaders.every_days: found 0.0, allowed: a number of days > 0",
    ),
    (
        "misspelt job key",
        edit("search_emails: false", "search_email: false"),
        "search_email: false",
        "linkedin.jobs.platform_leaders.search_email: found unknown key 'search_email', allowed: source, search_url, saved_search_id, lead_list_id, post_url, profile_urls, max_results, search_emails, every_days; did you mean 'search_emails'?",
    ),
    (
        "misspelt section key",
        edit("  max_credits_per_run: 500", "  max_credit_per_run: 500"),
        "max_credit_per_run",
        "linkedin.max_credit_per_run: found unknown key 'max_credit_per_run', allowed: max_credits_per_run, jobs, contact, scans; did you mean 'max_credits_per_run'?",
    ),
    (
        "negative budget",
        edit("max_credits_per_run: 500", "max_credits_per_run: -1"),
        "max_credits_per_run: -1",
        "linkedin.max_credits_per_run: found -1, allowed: a whole number >= 0",
    ),
    (
        "job named hubspot",
        edit("    platform_leaders:   ", "    hubspot:   "),
        "    hubspot:   ",
        "linkedin.jobs.hubspot: found job name 'hubspot', allowed: another name",
    ),
    (
        "job name",
        edit("    platform_leaders:   ", "    Platform-Leaders:   "),
        "Platform-Leaders",
        "linkedin.jobs.Platform-Leaders: found name 'Platform-Leaders', allowed: a HubSpot internal name",
    ),
    (
        "empty contact path",
        edit("company: company.name", "company: company..name"),
        "company..name",
        "linkedin.contact.company: found prospect field 'company..name', allowed: a prospect field (firstName, lastName, headline, linkedinUrl, company.name, …) or {value: <fixed value>}",
    ),
    (
        "misspelt value key",
        edit("lifecyclestage: {value: lead}", "lifecyclestage: {valu: lead}"),
        "{valu: lead}",
        "linkedin.contact.lifecyclestage.valu: found unknown key 'valu', allowed: value (or a bare prospect field); did you mean 'value'?",
    ),
    (
        "a list as fixed value",
        edit("lifecyclestage: {value: lead}", "lifecyclestage: {value: [lead]}"),
        "{value: [lead]}",
        "linkedin.contact.lifecyclestage.value: found a list of 1, allowed: text, a number, true/false or a date",
    ),
    (
        "jobs without contact",
        DEFAULT
        + "\n"
        + ISSUE_LINKEDIN.split("  contact:")[0]
        + "  scans:"
        + ISSUE_LINKEDIN.split("  scans:")[1],
        "linkedin:",
        "linkedin: found jobs and no contact, allowed: a contact part",
    ),
    (
        "unknown audience",
        edit("audience: hubspot ", "audience: platform_leader "),
        "audience: platform_leader",
        "linkedin.scans.hiring_signals.audience: found 'platform_leader', which linkedin.jobs does not define, allowed: hubspot, a job of linkedin.jobs (platform_leaders) or an audience id (24 hex digits); did you mean 'platform_leaders'?",
    ),
    (
        "url with a job audience",
        edit("audience: hubspot ", "audience: platform_leaders "),
        "linkedin_url: linkedin_url",
        "linkedin.scans.hiring_signals.linkedin_url: found linkedin_url with audience 'platform_leaders', allowed: linkedin_url only with audience: hubspot",
    ),
    (
        "no specification",
        edit('      signal_specification: "66a1f0c2e4b0a1b2c3d4e5f6"\n', ""),
        "    hiring_signals:",
        "linkedin.scans.hiring_signals.signal_specification: found nothing, required: the signal specification's id (24 hex digits)",
    ),
    (
        "min_score above 1",
        edit(
            "      every_days: 7\n      properties:",
            "      every_days: 7\n      min_score: 5\n      properties:",
        ),
        "min_score: 5",
        "linkedin.scans.hiring_signals.min_score: found 5.0, allowed: a score from 0.0 to 1.0",
    ),
    (
        "misspelt item field",
        edit("items.0.summary", "items.0.sumary"),
        "items.0.sumary",
        "linkedin.scans.hiring_signals.properties.saber_scan_top.from: found field 'sumary' in 'items.0.sumary', allowed: score, summary, title, reasoning, postLink, postedAt, jobUrl, companyName, type; did you mean 'summary'?",
    ),
    (
        "misspelt root",
        edit("{from: items.0.postLink}", "{from: item.0.postLink}"),
        "item.0.postLink",
        "linkedin.scans.hiring_signals.properties.saber_scan_link.from: found 'item.0.postLink', allowed: status, items.count, items.<n>.<field> or items.<field> (fields: score, summary, title, reasoning, postLink, postedAt, jobUrl, companyName, type); did you mean 'items.0.postLink'?",
    ),
    (
        "misspelt count",
        edit("{from: items.count, type: number}", "{from: items.counts, type: number}"),
        "items.counts",
        "linkedin.scans.hiring_signals.properties.saber_scan_items.from: found field 'counts' in 'items.counts', allowed: count, score, summary",
    ),
    (
        "index without field",
        edit("{from: items.0.summary}", "{from: items.0}"),
        "{from: items.0}",
        "linkedin.scans.hiring_signals.properties.saber_scan_top.from: found 'items.0' (no field), allowed: items.0.<field>",
    ),
    (
        "number for text",
        edit("{from: items.0.summary}", "{from: items.0.summary, type: number}"),
        "items.0.summary, type: number",
        "linkedin.scans.hiring_signals.properties.saber_scan_top.type: found type number for items.0.summary, allowed: string (number: items.count and items.<n>.score",
    ),
    (
        "enumeration type",
        edit("{from: status}", "{from: status, type: enumeration}"),
        "{from: status, type: enumeration}",
        "linkedin.scans.hiring_signals.properties.saber_scan_status.type: found 'enumeration', allowed: string, number, bool, date, datetime",
    ),
    (
        "unknown write policy",
        edit("{from: status}", "{from: status, write: if_emtpy}"),
        "write: if_emtpy",
        "linkedin.scans.hiring_signals.properties.saber_scan_status.write: found 'if_emtpy', allowed: unless_edited, always, if_empty; did you mean 'if_empty'?",
    ),
    (
        "no from",
        edit("{from: status}", "{type: string}"),
        "saber_scan_status:",
        "linkedin.scans.hiring_signals.properties.saber_scan_status.from: found nothing, required: status, items.count",
    ),
    (
        "a property the research writes",
        edit("saber_scan_top:    {from: items.0.summary}", "saber_summary:    {from: items.0.summary}"),
        "saber_summary:    {from",
        "linkedin.scans.hiring_signals.properties.saber_summary: found 'saber_summary', which properties: also writes it from the research",
    ),
    (
        "a property the contact sets",
        edit("saber_scan_top:    {from: items.0.summary}", "jobtitle:    {from: items.0.title}"),
        "jobtitle:    {from",
        "linkedin.scans.hiring_signals.properties.jobtitle: found 'jobtitle', which linkedin.contact also sets it",
    ),
    (
        "no properties",
        edit(
            "      properties:                   # HubSpot contact property <- a path into the prospect's results\n",
            "      properties: {}\n",
        ).split("        saber_scan_status")[0],
        "properties: {}",
        "linkedin.scans.hiring_signals.properties: found an empty mapping, allowed: at least 1 entry",
    ),
    (
        "section not a mapping",
        DEFAULT + "\nlinkedin: yes\n",
        "linkedin: yes",
        "linkedin: found 'yes', allowed: a mapping of keys",
    ),
]


@pytest.mark.parametrize(("text", "marker", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_file_line_key_found_and_allowed(
    tmp_path: Path, text: str, marker: str, expected: str
) -> None:
    """Each mistake in the section is refused with its line, key path (naming the job or scan), what was found and what is allowed."""
    assert_error_at(tmp_path, text, marker, expected)


def test_two_scans_writing_one_property_are_refused(tmp_path: Path) -> None:
    """A property written by two scans is refused at the second, which names the first."""
    second = "    again:\n      signal_specification: 66a1f0c2e4b0a1b2c3d4e5f7\n      properties:\n        saber_scan_link: {from: items.1.postLink}\n"
    text = EXAMPLE + second
    assert_error_at(
        tmp_path,
        text,
        "saber_scan_link: {from: items.1",
        "linkedin.scans.again.properties.saber_scan_link: found 'saber_scan_link', which scan hiring_signals also writes it",
    )


def test_several_problems_listed_one_per_line_in_file_order(tmp_path: Path) -> None:
    """A bad budget, a bad audience and a misspelt field are all reported at once, in file order."""
    text = edit("max_credits_per_run: 500", "max_credits_per_run: -1").replace(
        "audience: hubspot ", "audience: nobody "
    )
    text = text.replace("items.0.postLink", "items.0.link")
    rows = error_of(tmp_path, text).splitlines()
    assert [row.split(": ")[1] for row in rows] == [
        "linkedin.max_credits_per_run",
        "linkedin.scans.hiring_signals.audience",
        "linkedin.scans.hiring_signals.properties.saber_scan_link.from",
    ]


def test_building_in_code_still_checks_the_cross_references() -> None:
    """A mapping built in code (not from a file) is refused the same when a scan's audience names no job."""
    data = YAML(typ="safe").load(EXAMPLE)
    data["linkedin"]["scans"]["hiring_signals"]["audience"] = "nobody"
    del data["linkedin"]["scans"]["hiring_signals"]["linkedin_url"]
    with pytest.raises(ValueError, match="found 'nobody', which linkedin.jobs does not define"):
        Mapping.model_validate(data)
    with pytest.raises(ConfigError):
        parse_mapping(edit("audience: hubspot ", "audience: nobody "))


# ---------------------------------------------------------------------------- schema
def test_schema_accepts_the_mappings_with_linkedin() -> None:
    """The issue's example and mappings/linkedin.yaml validate against the schema for editors."""
    schema = mapping_json_schema()
    for text in (EXAMPLE, (ROOT / "mappings" / "linkedin.yaml").read_text(encoding="utf-8")):
        assert schema_errors(schema, schema, YAML(typ="safe").load(text)) == []
    assert "LinkedIn" in json.dumps(schema["properties"]["linkedin"])
    assert "^(status|items" in schema["$defs"]["ScanProperty"]["properties"]["from"]["pattern"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["jobs"]["platform_leaders"].pop("saved_search_id"), "matches no anyOf branch"),
        (lambda s: s["jobs"]["platform_leaders"].update(max_results=0), "below minimum"),
        (lambda s: s["jobs"]["platform_leaders"].update(max_results=5000), "above maximum"),
        (lambda s: s["jobs"]["platform_leaders"].update(source="salesnav"), "not in enum"),
        (
            lambda s: s["scans"]["hiring_signals"]["properties"]["saber_scan_top"].update(
                {"from": "items.0.sumary"}
            ),
            "does not match",
        ),
        (
            lambda s: s["scans"]["hiring_signals"]["properties"].update({"Bad-Name": {"from": "status"}}),
            "unknown key 'Bad-Name'",
        ),
        (lambda s: s["contact"].update(company={"valu": "x"}), "matches no anyOf branch"),
        (lambda s: s.update(max_credit_per_run=5), "unknown key 'max_credit_per_run'"),
        (lambda s: s["scans"]["hiring_signals"].pop("signal_specification"), "missing signal_specification"),
    ],
    ids=["input", "min", "max", "source", "from", "name", "value", "key", "spec"],
)
def test_schema_rejects_what_the_loader_rejects(change: Any, expected: str) -> None:
    """Mistakes in the section the loader reports are also flagged by the schema, at the key at fault."""
    data = YAML(typ="safe").load(EXAMPLE)
    change(data["linkedin"])
    schema = mapping_json_schema()
    assert schema_errors(schema, schema, data)
    section = schema["$defs"]["LinkedIn"]
    assert any(expected in e for e in schema_errors(schema, section, data["linkedin"], "$.linkedin"))


# ---------------------------------------------------------------------------- explain
def test_explain_says_the_section_in_plain_words() -> None:
    """`mapping explain` names the budget, each job and its credits, what a created contact holds, and each scan's writes."""
    text = explain_mapping(loaded())
    assert "spend at most 500 credits a run" in text
    assert (
        "Job platform_leaders: Sales Navigator saved search 3318: up to 200 prospects, at most 200 credits a start, started again after 7 days."
        in text
    )
    assert "the same saber_linkedin_url, else the same first and last name at the same company" in text
    assert (
        "    company <- the prospect's company.name" in text and "    lifecyclestage <- always 'lead'" in text
    )
    assert (
        "Scan hiring_signals: signal specification 66a1f0c2e4b0a1b2c3d4e5f6 over the selected HubSpot contacts with a linkedin_url"
        in text
    )
    assert "    saber_scan_score (number) <- the best item's score; written when it changes" in text
    assert "Hint:" not in text


def test_explain_hints_what_would_go_unnoticed() -> None:
    """A job the budget never lets start, no linkedinUrl feed and an unknown prospect field are hints, not errors."""
    text = edit("max_credits_per_run: 500", "max_credits_per_run: 100").replace(
        "saber_linkedin_url: linkedinUrl", "saber_linkedin_url: linkedinurl"
    )
    hints = [line for line in explain_mapping(loaded(text)).splitlines() if "Hint:" in line]
    assert any(
        "job platform_leaders may cost 200 credits a start, more than max_credits_per_run (100): it never starts"
        in h
        for h in hints
    )
    assert any("no contact property is fed by linkedinUrl" in h for h in hints)
    assert any(
        "linkedin.contact.saber_linkedin_url reads linkedinurl, which the API's pages do not show; did you mean 'linkedinUrl'?"
        in h
        for h in hints
    )
