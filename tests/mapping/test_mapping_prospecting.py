"""The mapping's `prospecting` section (issue 18, item 1): the target accounts, Saber's contact search,
the limits, and what a created contact holds, validated with file, line, key, found and allowed."""

# ruff: noqa: E501 - the issue's example and expected messages stay verbatim

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from connector.errors import ConfigError
from connector.mapping import Mapping, explain_mapping, load_mapping, mapping_json_schema, parse_mapping
from connector.mapping.model import FilterSpec
from connector.mapping.prospecting import COUNTRIES, ContactSource, filter_verdict
from tests.mapping.test_mapping_load import schema_errors
from tests.mapping_errors import assert_error_at, error_of, line_of

ROOT = Path(__file__).resolve().parents[2]
BASE = (Path(__file__).parents[1] / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")

# The `prospecting` block of issue 18, exactly as written there.
ISSUE_PROSPECTING = """prospecting:
  accounts:                          # the HubSpot companies to find people at
    filters:                         # HubSpot company search filters, all of which must hold
      - {property: saber_target_account, operator: EQ, value: true}
    linkedin_url: linkedin_company_page   # the company property holding its LinkedIn company URL
  search:                            # what Saber's contact search looks for at each account
    job_titles: [VP Engineering, Head of Platform]
    seniority_levels: [Vice President, Director]
    departments: [Engineering]
    countries: [US, GB]              # ISO 3166-1 alpha-2 only, checked when the mapping loads
    keywords: Kubernetes
  per_account: 5                     # new contacts per company, at most
  max_new_per_run: 100               # new contacts per run, at most
  refresh_after_days: 30             # search an account again after this long
  contact:                           # HubSpot contact property <- a search item field, an account property, or a fixed value
    firstname: firstName
    lastname: lastName
    jobtitle: role
    saber_sales_navigator_url: linkedInSalesNavigatorProfileUrl
    saber_prospect_location: location
    company: {account: name}
    website: {account: domain}
    lifecyclestage: {value: lead}
"""
# The mapping example of mappings/README.md with the issue's block added.
EXAMPLE = BASE + "\n" + ISSUE_PROSPECTING


def edit(old: str, new: str) -> str:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1)


def loaded(text: str = EXAMPLE) -> Mapping:
    return parse_mapping(text)


# ---------------------------------------------------------------------------- loads
def test_issue_example_loads_exactly_as_written(tmp_path: Path) -> None:
    """The issue's `prospecting` block loads as written, every key kept, and the contact part is unchanged."""
    path = tmp_path / "x.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    m = load_mapping(path)
    p = m.prospecting
    assert p is not None
    (only,) = p.accounts.filters
    assert (only.property, only.operator, only.value) == ("saber_target_account", "EQ", "true")
    assert p.accounts.linkedin_url == "linkedin_company_page"
    assert p.search.job_titles == ["VP Engineering", "Head of Platform"]
    assert p.search.seniority_levels == ["Vice President", "Director"]
    assert p.search.departments == ["Engineering"]
    assert p.search.countries == ["US", "GB"]
    assert p.search.keywords == "Kubernetes"
    assert (p.per_account, p.max_new_per_run, p.refresh_after_days) == (5, 100, 30)
    assert {name: source.model_dump() for name, source in p.contact.items()} == {
        "firstname": "firstName",
        "lastname": "lastName",
        "jobtitle": "role",
        "saber_sales_navigator_url": "linkedInSalesNavigatorProfileUrl",
        "saber_prospect_location": "location",
        "company": {"account": "name"},
        "website": {"account": "domain"},
        "lifecyclestage": {"value": "lead"},
    }
    assert m.properties == parse_mapping(BASE).properties and m.inputs == parse_mapping(BASE).inputs
    assert m.line_of("prospecting", "search", "countries") == line_of(EXAMPLE, "countries: [US, GB]")


def test_shipped_prospecting_mapping_holds_the_issue_example() -> None:
    """mappings/prospecting.yaml loads, holds the issue's block verbatim, and feeds the Sales Navigator input."""
    path = ROOT / "mappings" / "prospecting.yaml"
    assert ISSUE_PROSPECTING in path.read_text(encoding="utf-8")
    m = load_mapping(path)
    assert m.prospecting is not None
    assert m.inputs["linkedInSalesNavigatorUrl"].property == m.prospecting.sales_navigator_property()
    assert "Hint: inputs.linkedInSalesNavigatorUrl" not in explain_mapping(m)
    assert "select.filters:" not in explain_mapping(m)  # created contacts (lifecyclestage lead) are selected


def test_readme_documents_the_section_with_the_issue_example() -> None:
    """The mapping reference carries the issue's example verbatim and a row for every key of the section."""
    text = (ROOT / "mappings" / "README.md").read_text(encoding="utf-8")
    assert ISSUE_PROSPECTING in text
    for key in (
        "prospecting.accounts.filters",
        "prospecting.accounts.linkedin_url",
        "prospecting.search",
        "prospecting.per_account",
        "prospecting.max_new_per_run",
        "prospecting.refresh_after_days",
        "prospecting.contact",
    ):
        assert f"`{key}`" in text, key


def test_a_mapping_without_prospecting_is_unchanged() -> None:
    """The section is optional: without it the dump (the mapping's fingerprint) and explain have no trace of it."""
    m = loaded(BASE)
    assert m.prospecting is None
    assert "prospecting" not in m.model_dump(mode="json")
    assert "prospecting" not in explain_mapping(m)
    assert load_mapping(ROOT / "mappings" / "default.yaml").prospecting is None


def test_dump_with_prospecting_differs_so_a_change_is_seen() -> None:
    """The dump carries the section in the file's form, so editing it is a changed mapping."""
    one = loaded().model_dump(mode="json")
    assert one["prospecting"]["contact"]["company"] == {"account": "name"}
    assert one["prospecting"]["search"] == {
        "job_titles": ["VP Engineering", "Head of Platform"],
        "seniority_levels": ["Vice President", "Director"],
        "departments": ["Engineering"],
        "countries": ["US", "GB"],
        "keywords": "Kubernetes",
    }
    assert one != loaded(edit("per_account: 5", "per_account: 4")).model_dump(mode="json")


def test_defaults_and_the_smallest_section() -> None:
    """Only accounts, one search filter and contact are needed; the limits default, refresh 0 is allowed."""
    text = edit("  per_account: 5                     # new contacts per company, at most\n", "")
    text = text.replace("  max_new_per_run: 100               # new contacts per run, at most\n", "")
    text = text.replace("refresh_after_days: 30 ", "refresh_after_days: 0 ")
    p = loaded(text).prospecting
    assert p is not None and (p.per_account, p.max_new_per_run, p.refresh_after_days) == (5, 100, 0)
    only_keywords = re.sub(r"    (job_titles|seniority_levels|departments|countries): .*\n", "", EXAMPLE)
    q = loaded(only_keywords).prospecting
    assert q is not None and q.search.body() == {"keywords": "Kubernetes"}


# ---------------------------------------------------------------------------- views
def test_views_for_the_prospecting_stage_and_setup() -> None:
    """The stage reads Saber's request fields, the properties it reads and writes, and the URL property."""
    p = loaded().prospecting
    assert p is not None
    assert p.search.body() == {
        "jobTitles": ["VP Engineering", "Head of Platform"],
        "seniorityLevels": ["Vice President", "Director"],
        "departments": ["Engineering"],
        "countries": ["US", "GB"],
        "keywords": "Kubernetes",
    }
    assert p.sales_navigator_property() == "saber_sales_navigator_url"
    assert p.account_properties() == ["linkedin_company_page", "name", "domain"]
    assert p.filter_properties() == ["saber_target_account"]
    assert p.contact_properties()[:3] == ["firstname", "lastname", "jobtitle"]
    assert p.fixed_values() == {"lifecyclestage": "lead"}


def test_the_sync_cycle_does_not_see_the_section() -> None:
    """Adding or editing the section leaves what the cycle fingerprints as it was, so nothing is pulled again."""
    without = loaded(BASE)
    assert without.cycle_dump() == without.model_dump(mode="json")  # an existing mapping: the same as before
    assert loaded().cycle_dump() == without.cycle_dump()
    assert loaded(edit("per_account: 5", "per_account: 2")).cycle_dump() == without.cycle_dump()


def test_setup_definitions_for_the_contact_part() -> None:
    """`setup` is given every contact property the section writes, as text in the mapping's group."""
    m = loaded()
    definitions = {d.name: d for d in m.prospecting_property_definitions()}
    assert list(definitions) == list(m.prospecting.contact)  # type: ignore[union-attr]
    url = definitions["saber_sales_navigator_url"]
    assert (url.label, url.type, url.group) == ("Saber Sales navigator url", "string", "saber")
    assert "linkedInSalesNavigatorProfileUrl" in url.source
    assert loaded(BASE).prospecting_property_definitions() == []


def test_fixed_values_become_hubspot_text() -> None:
    """`{value: V}` takes text, numbers and booleans, and keeps them as the text HubSpot is sent."""
    text = edit(
        "lifecyclestage: {value: lead}",
        "lifecyclestage: {value: lead}\n    hs_lead_score: {value: 3}\n    opted_in: {value: true}\n    since: {value: 2024-01-15}",
    )
    p = loaded(text).prospecting
    assert p is not None and p.fixed_values() == {
        "lifecyclestage": "lead",
        "hs_lead_score": "3",
        "opted_in": "true",
        "since": "2024-01-15",
    }


def test_countries_are_the_249_assigned_codes() -> None:
    """The module's list is ISO 3166-1 alpha-2 as assigned: 249 upper-case pairs, GB and not UK."""
    assert len(COUNTRIES) == 249
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in COUNTRIES)
    assert {"US", "GB", "DE", "AX", "SS"} <= COUNTRIES and not {"UK", "EU", "EL"} & COUNTRIES


# ---------------------------------------------------------------------------- errors
ERRORS = [
    (
        "UK is not ISO",
        edit("countries: [US, GB]", "countries: [US, UK]"),
        "countries: [US, UK]",
        "prospecting.search.countries[1]: found 'UK', allowed: an ISO 3166-1 alpha-2 code in capitals (US, GB, DE, …): country names are not accepted; did you mean 'GB'?",
    ),
    (
        "lower-case code",
        edit("countries: [US, GB]", "countries: [us]"),
        "countries: [us]",
        "prospecting.search.countries[0]: found 'us', allowed: an ISO 3166-1 alpha-2 code in capitals (US, GB, DE, …): country names are not accepted; did you mean 'US'?",
    ),
    (
        "country name",
        edit("countries: [US, GB]", "countries: [Germany]"),
        "countries: [Germany]",
        "prospecting.search.countries[0]: found 'Germany', allowed: an ISO 3166-1 alpha-2 code in capitals",
    ),
    (
        "per_account 0",
        edit("per_account: 5", "per_account: 0"),
        "per_account: 0",
        "prospecting.per_account: found 0, allowed: a whole number >= 1",
    ),
    (
        "max_new_per_run 0",
        edit("max_new_per_run: 100", "max_new_per_run: 0"),
        "max_new_per_run: 0",
        "prospecting.max_new_per_run: found 0, allowed: a whole number >= 1",
    ),
    (
        "negative refresh",
        edit("refresh_after_days: 30 ", "refresh_after_days: -1 "),
        "refresh_after_days: -1",
        "prospecting.refresh_after_days: found -1, allowed: a whole number >= 0",
    ),
    (
        "refresh as text",
        edit("refresh_after_days: 30 ", "refresh_after_days: monthly "),
        "refresh_after_days: monthly",
        "prospecting.refresh_after_days: found 'monthly', allowed: a whole number",
    ),
    (
        "no linkedin_url",
        edit(
            "    linkedin_url: linkedin_company_page   # the company property holding its LinkedIn company URL\n",
            "",
        ),
        "  accounts:",
        "prospecting.accounts.linkedin_url: found nothing, required: the company property holding its LinkedIn company URL",
    ),
    (
        "linkedin_url not a property name",
        edit("linkedin_url: linkedin_company_page", "linkedin_url: LinkedIn Page"),
        "linkedin_url: LinkedIn Page",
        "prospecting.accounts.linkedin_url: found value 'LinkedIn Page', allowed: a HubSpot internal name",
    ),
    (
        "account filter without its value",
        edit(
            "{property: saber_target_account, operator: EQ, value: true}",
            "{property: saber_target_account, operator: EQ}",
        ),
        "operator: EQ}",
        "prospecting.accounts.filters[0]: found no value, allowed: operator EQ takes value",
    ),
    (
        "account filter with an unknown operator",
        edit("operator: EQ, value: true}", "operator: EQUALS, value: true}"),
        "operator: EQUALS",
        "prospecting.accounts.filters[0].operator: found 'EQUALS', allowed: EQ, NEQ, GT, GTE, LT, LTE, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, BETWEEN, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN",
    ),
    (
        "no account filter",
        edit(
            "    filters:                         # HubSpot company search filters, all of which must hold\n      - {property: saber_target_account, operator: EQ, value: true}\n",
            "    filters: []\n",
        ),
        "filters: []",
        "prospecting.accounts.filters: found an empty list, allowed: at least 1 filter",
    ),
    (
        "too many account filters",
        edit(
            "      - {property: saber_target_account, operator: EQ, value: true}\n",
            "      - {property: saber_target_account, operator: EQ, value: true}\n" * 4,
        ),
        "    filters:  ",
        "prospecting.accounts.filters: found 4 filters, allowed: at most 3",
    ),
    (
        "a search with the company only",
        re.sub(
            r"    (job_titles|seniority_levels|departments|countries|keywords): .*\n", "", EXAMPLE
        ).replace(
            "  search:                            # what Saber's contact search looks for at each account\n",
            "  search: {}\n",
        ),
        "  search: {}",
        "prospecting.search: found no filter besides the company (every employee would be a candidate), allowed: at least one of job_titles, seniority_levels, departments, countries, keywords",
    ),
    (
        "keywords too long",
        edit("keywords: Kubernetes", "keywords: " + "k" * 501),
        "keywords: kkk",
        "prospecting.search.keywords: found 'kkk",
    ),
    (
        "empty job title list",
        edit("job_titles: [VP Engineering, Head of Platform]", "job_titles: []"),
        "job_titles: []",
        "prospecting.search.job_titles: found an empty list, allowed: at least 1 entry",
    ),
    (
        "misspelt search key",
        edit("    departments: [Engineering]", "    department: [Engineering]"),
        "department: [Engineering]",
        "prospecting.search.department: found unknown key 'department', allowed: job_titles, seniority_levels, departments, countries, keywords; did you mean 'departments'?",
    ),
    (
        "misspelt section key",
        edit("  per_account: 5", "  per_acount: 5"),
        "per_acount",
        "prospecting.per_acount: found unknown key 'per_acount', allowed: accounts, search, per_account, max_new_per_run, refresh_after_days, contact; did you mean 'per_account'?",
    ),
    (
        "unknown search item field",
        edit("jobtitle: role", "jobtitle: title"),
        "jobtitle: title",
        "prospecting.contact.jobtitle: found search item field 'title', allowed: a search item field (firstName, lastName, fullName, role, linkedInSalesNavigatorProfileUrl, avatar, location), {account: <company property>} or {value: <fixed value>}",
    ),
    (
        "misspelt search item field",
        edit("saber_prospect_location: location", "saber_prospect_location: locaton"),
        "locaton",
        "prospecting.contact.saber_prospect_location: found search item field 'locaton', allowed: a search item field (firstName, lastName, fullName, role, linkedInSalesNavigatorProfileUrl, avatar, location), {account: <company property>} or {value: <fixed value>}; did you mean 'location'?",
    ),
    (
        "misspelt account key",
        edit("company: {account: name}", "company: {acount: name}"),
        "acount",
        "prospecting.contact.company.acount: found unknown key 'acount', allowed: account or value (or a bare search item field); did you mean 'account'?",
    ),
    (
        "both account and value",
        edit("website: {account: domain}", "website: {account: domain, value: acme.com}"),
        "value: acme.com",
        "prospecting.contact.website: found a mapping (account, value), allowed: a search item field",
    ),
    (
        "a list as fixed value",
        edit("lifecyclestage: {value: lead}", "lifecyclestage: {value: [lead]}"),
        "{value: [lead]}",
        "prospecting.contact.lifecyclestage.value: found a list of 1, allowed: text, a number, true/false or a date",
    ),
    (
        "contact property name",
        edit("    jobtitle: role", "    JobTitle: role"),
        "JobTitle: role",
        "prospecting.contact.JobTitle: found name 'JobTitle', allowed: a HubSpot internal name",
    ),
    (
        "no contact",
        EXAMPLE.split("  contact:  ")[0],
        "prospecting:",
        "prospecting.contact: found nothing, required: HubSpot contact property <- a search item field, {account: <company property>} or {value: <fixed value>}",
    ),
    (
        "a required input the contact does not feed",
        edit("    company: {account: name}\n", ""),
        "  contact:  ",
        "prospecting.contact: inputs.companyName reads contact property `company`, which prospecting.contact does not set: add `company: {account: name}`",
    ),
    (
        "the domain input not fed",
        edit("    website: {account: domain}\n", ""),
        "  contact:  ",
        "prospecting.contact: inputs.companyDomain reads contact property `website`, which prospecting.contact does not set: add `website: {account: domain}`",
    ),
    (
        "a name input not fed",
        edit("    lastname: lastName\n", ""),
        "  contact:  ",
        "prospecting.contact: inputs.lastName reads contact property `lastname`, which prospecting.contact does not set: add `lastname: lastName`",
    ),
    (
        "a domain input from email addresses only",
        edit(
            "companyDomain: {property: website, normalize: domain, fallback: {property: email, normalize: email_domain}}",
            "companyDomain: {property: email, normalize: email_domain}",
        ),
        "  contact:  ",
        "prospecting.contact: inputs.companyDomain reads only email addresses, which a search item never has: add a fallback {property: website, normalize: domain} to inputs.companyDomain and `website: {account: domain}` to prospecting.contact",
    ),
    (
        "a property the research writes, set at creation",
        edit(
            "    lifecyclestage: {value: lead}",
            "    lifecyclestage: {value: lead}\n    saber_summary: {value: new}",
        ),
        "saber_summary: {value: new}",
        "prospecting.contact.saber_summary: found 'saber_summary', which properties: also writes from the research",
    ),
    (
        "section not a mapping",
        BASE + "\nprospecting: yes\n",
        "prospecting: yes",
        "prospecting: found 'yes', allowed: a mapping of keys",
    ),
]


@pytest.mark.parametrize(("text", "marker", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_file_line_key_found_and_allowed(
    tmp_path: Path, text: str, marker: str, expected: str
) -> None:
    """Each mistake in the section is refused with its line, key path, what was found and what is allowed."""
    assert_error_at(tmp_path, text, marker, expected)


def test_a_fallback_the_contact_feeds_is_enough(tmp_path: Path) -> None:
    """An input is fed when any property of its fallback chain is set, e.g. the domain from the website."""
    text = edit("  companyName: company", "  companyName: {property: hs_company_name, fallback: company}")
    assert loaded(text).prospecting is not None
    message = error_of(tmp_path, text.replace("    company: {account: name}\n", ""))
    assert "inputs.companyName reads contact property `hs_company_name`" in message


def test_several_problems_listed_one_per_line_in_file_order(tmp_path: Path) -> None:
    """A bad country, a bad limit and an unfed input are all reported at once, in file order."""
    text = edit("countries: [US, GB]", "countries: [UK]").replace("per_account: 5", "per_account: 0")
    text = text.replace("    firstname: firstName\n", "")
    rows = error_of(tmp_path, text).splitlines()
    assert [row.split(": ")[1] for row in rows] == [
        "prospecting.search.countries[0]",
        "prospecting.per_account",
        "prospecting.contact",
    ]


def test_building_in_code_still_checks_what_contact_feeds() -> None:
    """A mapping built in code (not from a file) is refused the same when a required input is not fed."""
    data = YAML(typ="safe").load(EXAMPLE)
    del data["prospecting"]["contact"]["firstname"]
    with pytest.raises(ValueError, match="inputs.firstName reads contact property `firstname`"):
        Mapping.model_validate(data)
    with pytest.raises(ConfigError):
        parse_mapping(edit("    firstname: firstName\n", ""))


# ---------------------------------------------------------------------------- schema
def test_schema_accepts_the_mappings_with_prospecting() -> None:
    """The issue's example and mappings/prospecting.yaml validate against the schema for editors."""
    schema = mapping_json_schema()
    for text in (EXAMPLE, (ROOT / "mappings" / "prospecting.yaml").read_text(encoding="utf-8")):
        assert schema_errors(schema, schema, YAML(typ="safe").load(text)) == []
    assert "Prospecting" in json.dumps(schema["properties"]["prospecting"])
    countries = schema["$defs"]["Search"]["properties"]["countries"]["anyOf"][0]["items"]
    assert countries["enum"] == sorted(COUNTRIES)  # an editor completes and checks the codes


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p["search"].update(countries=["UK"]), "search.countries: matches no anyOf branch"),
        (lambda p: p.update(per_account=0), "below minimum"),
        (lambda p: p["accounts"].pop("linkedin_url"), "missing linkedin_url"),
        (lambda p: p.update(search={}), "too few keys"),
        (lambda p: p["contact"].update(jobtitle="title"), "matches no anyOf branch"),
        (lambda p: p["contact"].update(company={"acount": "name"}), "matches no anyOf branch"),
        (lambda p: p["contact"].update({"Bad-Name": "role"}), "unknown key 'Bad-Name'"),
        (lambda p: p.update(per_acount=5), "unknown key 'per_acount'"),
        (lambda p: p["accounts"].update(filters=[]), "bad item count"),
        (lambda p: p["search"].update(keywords="k" * 501), "search.keywords: matches no anyOf branch"),
    ],
    ids=[
        "country",
        "per_account",
        "linkedin_url",
        "search",
        "field",
        "account",
        "name",
        "key",
        "filters",
        "keywords",
    ],
)
def test_schema_rejects_what_the_loader_rejects(change: Any, expected: str) -> None:
    """Mistakes in the section the loader reports are also flagged by the schema, at the key at fault."""
    data = YAML(typ="safe").load(EXAMPLE)
    change(data["prospecting"])
    schema = mapping_json_schema()
    assert schema_errors(schema, schema, data)  # the whole file is refused
    section = schema["$defs"]["Prospecting"]  # and the section says why
    assert any(expected in e for e in schema_errors(schema, section, data["prospecting"], "$.prospecting"))


# ---------------------------------------------------------------------------- explain
def test_explain_says_the_section_in_plain_words() -> None:
    """`mapping explain` names the accounts, the search, the limits and where each created property comes from."""
    text = explain_mapping(loaded())
    assert "HubSpot companies where saber_target_account is true" in text
    assert "LinkedIn company URL is read from linkedin_company_page" in text
    assert "job title VP Engineering or Head of Platform" in text and "located in US or GB" in text
    assert "searched again after 30 days" in text
    assert "At most 5 new contacts per company and 100 per run" in text
    assert "the same saber_sales_navigator_url, else the same first and last name" in text
    assert "    company <- the account company's name" in text
    assert "    jobtitle <- the person's role (Saber's search item)" in text
    assert "    lifecyclestage <- always 'lead'" in text


def test_explain_hints_the_sales_navigator_input() -> None:
    """A mapped Sales Navigator URL the inputs do not read is a hint (not an error) naming the line to add."""
    text = explain_mapping(loaded())
    assert (
        "Hint: inputs.linkedInSalesNavigatorUrl does not read saber_sales_navigator_url: add "
        "`linkedInSalesNavigatorUrl: saber_sales_navigator_url` under inputs"
    ) in text
    fed = edit(
        "  contactProfileUrl: linkedin_url\n",
        "  contactProfileUrl: linkedin_url\n  linkedInSalesNavigatorUrl: saber_sales_navigator_url\n",
    )
    assert "Hint: inputs.linkedInSalesNavigatorUrl" not in explain_mapping(loaded(fed))
    unmapped = explain_mapping(
        loaded(edit("    saber_sales_navigator_url: linkedInSalesNavigatorProfileUrl\n", ""))
    )
    assert "no contact property is fed by linkedInSalesNavigatorProfileUrl" in unmapped
    assert "Hint: inputs.contactProfileUrl reads linkedin_url" in text


def test_explain_hints_when_select_would_not_pick_created_contacts() -> None:
    """A created contact that `select.filters` would not select is called out, with the fix."""
    assert "select.filters:" not in explain_mapping(loaded())
    text = explain_mapping(loaded(edit("lifecyclestage: {value: lead}", "lifecyclestage: {value: customer}")))
    assert (
        "Hint: select.filters: lifecyclestage is one of lead, marketingqualifiedlead fails for a created contact, "
        "so the cycle will not research it; set a value it selects with `lifecyclestage: {value: …}` in prospecting.contact."
    ) in text


@pytest.mark.parametrize(
    ("spec", "source", "verdict"),
    [
        ({"operator": "IN", "values": ["lead", "mql"]}, {"value": "Lead"}, "holds"),
        ({"operator": "NOT_IN", "values": ["lead"]}, {"value": "lead"}, "fails"),
        ({"operator": "EQ", "value": "lead"}, None, "fails"),
        ({"operator": "NOT_HAS_PROPERTY"}, None, "holds"),
        ({"operator": "NEQ", "value": "customer"}, None, "depends"),
        ({"operator": "HAS_PROPERTY"}, "role", "depends"),
        ({"operator": "GTE", "value": "10"}, {"value": 12}, "holds"),
        ({"operator": "BETWEEN", "value": "1", "high_value": "5"}, {"value": 7}, "fails"),
        ({"operator": "GT", "value": "10"}, {"value": "ten"}, "depends"),
    ],
)
def test_filter_verdict_for_created_contacts(spec: dict[str, Any], source: Any, verdict: str) -> None:
    """Whether a select filter holds for every created contact is decided from fixed values only."""
    filter_spec = FilterSpec.model_validate({"property": "x", **spec})
    contact_source = ContactSource.model_validate(source) if source is not None else None
    assert filter_verdict(filter_spec, contact_source) == verdict
