"""The mapping's `companies` section (issue 12, item 1): company answers and Saber's signal
subscriptions mapped to HubSpot company properties, validated like contact properties."""

# ruff: noqa: E501 - the issue's example and expected messages stay verbatim

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from connector.mapping import (
    Mapping,
    canonical_company_value,
    explain_mapping,
    load_mapping,
    map_company_values,
    map_subscription_values,
    map_values,
    mapping_json_schema,
    parse_mapping,
    signals_to_ask,
)
from connector.mapping.paths import (
    COMPANY_FROM_PATTERN,
    SUBSCRIPTION_FROM_PATTERN,
    PathError,
    parse_company_from,
    parse_subscription_from,
)
from connector.saber.models import Research, Signal
from tests.mapping.test_mapping_load import schema_errors
from tests.mapping_errors import assert_error_at, error_of, line_of

ROOT = Path(__file__).resolve().parents[2]
BASE = (Path(__file__).parents[1] / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")
SIGNALS_LINE = "signals:                             # questions answered for every researched contact\n"
HIRING = """  hiring_engineers:
    question: "Is the company hiring engineers?"
    scope: company
    answer_type: boolean
"""

# The `companies` block of issue 12, exactly as written there.
ISSUE_COMPANIES = """companies:
  match: association        # association: the contact's primary associated company (default); domain: a company whose `domain` equals the contact's companyDomain input
  properties:               # HubSpot company property <- a company-scope signal, or a company fact Saber returned
    saber_hiring_engineers:           {from: signals.hiring_engineers.answer, type: bool}
    saber_hiring_engineers_reasoning: {from: signals.hiring_engineers.reasoning}
    saber_employee_count:             {from: signals.hiring_engineers.company.employeeCount, type: number}
  subscriptions:            # Saber company signal subscriptions whose answers land on companies
    funding_news:
      id: "<subscription uuid>"
      properties:
        saber_funding_news:    {from: answer}
        saber_funding_news_at: {from: completedAt, type: datetime}
"""
# The mapping example of mappings/README.md with the company-scope signal defined, and the block above.
EXAMPLE = BASE.replace(SIGNALS_LINE, SIGNALS_LINE + HIRING) + "\n" + ISSUE_COMPANIES
UUID = "a12b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"


def edit(old: str, new: str) -> str:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1)


def signal(**fields: Any) -> Signal:
    return Signal.model_validate({"status": "completed", "signalType": "COMPANY", **fields})


HIRING_ANSWER = signal(
    question="Is the company hiring engineers?",
    domain="acme.com",
    answerType="boolean",
    answer={"type": "boolean", "boolean": {"value": True}},
    reasoning="  12 open engineering roles on the careers page. ",
    confidence=0.9,
    company={"id": "comp_1", "name": "Acme Corp", "domain": "acme.com", "employeeCount": 150},
)
LOG_ENTRY = signal(
    id="e45c1dc4-d422-4b51-956b-cb6d3ddaf250",
    question="Did the company announce funding?",
    domain="acme.com",
    createdAt="2024-01-15T10:30:00Z",
    completedAt="2024-01-15T10:32:15Z",
    answer={"type": "open_text", "open_text": {"value": "Series B, $40M"}},
    confidence=0.95,
    company={"domain": "acme.com", "employeeCount": 150, "industry": "Software"},
    changeContext={"changeType": "CHANGED", "previousSignalId": "feb2e1c1-dc67-49f6-a459-62383c67daf5"},
)


# ---------------------------------------------------------------------------- loads
def test_issue_example_loads_exactly_as_written(tmp_path: Path) -> None:
    """The issue's `companies` block loads as written, every key kept and the contact part unchanged."""
    path = tmp_path / "x.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    m = load_mapping(path)
    assert m.companies is not None and m.companies.match == "association"
    props = m.companies.properties
    assert list(props) == [
        "saber_hiring_engineers",
        "saber_hiring_engineers_reasoning",
        "saber_employee_count",
    ]
    assert (props["saber_hiring_engineers"].from_, props["saber_hiring_engineers"].type) == (
        "signals.hiring_engineers.answer",
        "bool",
    )
    assert props["saber_hiring_engineers_reasoning"].type == "string"
    assert props["saber_employee_count"].path.steps == ("hiring_engineers", "company", "employeeCount")
    assert all(spec.write == "unless_edited" for spec in m.company_specs().values())
    sub = m.companies.subscriptions["funding_news"]
    assert sub.id == "<subscription uuid>" and not sub.looks_like_uuid
    assert {n: (s.from_, s.type) for n, s in sub.properties.items()} == {
        "saber_funding_news": ("answer", "string"),
        "saber_funding_news_at": ("completedAt", "datetime"),
    }
    assert m.properties == parse_mapping(BASE.replace(SIGNALS_LINE, SIGNALS_LINE + HIRING)).properties
    assert m.line_of("companies", "subscriptions", "funding_news", "id") == line_of(
        EXAMPLE, "<subscription uuid>"
    )


def test_shipped_companies_mapping_loads() -> None:
    """mappings/companies.yaml, the copyable example, loads with its company part and a default threshold."""
    m = load_mapping(ROOT / "mappings" / "companies.yaml")
    assert m.companies is not None
    assert set(m.company_output_properties()) >= {"saber_hiring_engineers", "saber_funding_news_at"}
    assert m.min_confidence == 0.7
    assert m.signals["hiring_engineers"].scope == "company"


def test_match_defaults_to_association_and_takes_domain() -> None:
    """Without `match` a contact's company is its associated one; `match: domain` is kept as written."""
    assert parse_mapping(edit("  match: association", "  # no match")).companies.match == "association"  # type: ignore[union-attr]
    assert parse_mapping(edit("  match: association", "  match: domain")).companies.match == "domain"  # type: ignore[union-attr]


def test_a_mapping_without_companies_is_unchanged() -> None:
    """The section is optional: without it nothing is written on companies and the dump has no trace of it."""
    m = parse_mapping(BASE)
    assert m.companies is None
    assert (m.company_specs(), m.company_output_properties(), m.company_hubspot_properties()) == ({}, [], [])
    assert m.subscriptions() == {} and m.company_signals() == []
    assert "companies" not in m.model_dump(mode="json") and "min_confidence" not in m.model_dump(mode="json")
    assert "HubSpot companies" not in explain_mapping(m)


def test_dump_with_companies_differs_so_a_change_is_seen() -> None:
    """The mapping's dump (its fingerprint) carries the company part, so editing it is a changed mapping."""
    one = parse_mapping(EXAMPLE).model_dump(mode="json")
    two = parse_mapping(edit("type: number}", "type: string}")).model_dump(mode="json")
    assert (
        one["companies"]["properties"]["saber_employee_count"]["from"]
        == "signals.hiring_engineers.company.employeeCount"
    )
    assert one != two


# ---------------------------------------------------------------------------- derived views
def test_company_views_for_the_engine_and_setup() -> None:
    """Company specs come in file order, `domain` is read to match by, and company signals are asked."""
    m = parse_mapping(EXAMPLE)
    assert m.company_output_properties() == [
        "saber_hiring_engineers",
        "saber_hiring_engineers_reasoning",
        "saber_employee_count",
        "saber_funding_news",
        "saber_funding_news_at",
    ]
    assert m.company_hubspot_properties()[0] == "domain"
    assert m.company_spec("saber_funding_news_at").type == "datetime"  # type: ignore[union-attr]
    assert m.company_spec("saber_summary") is None  # a contact property is not a company one
    assert m.company_signals() == ["hiring_engineers"]
    assert m.used_signals() == ["hiring_engineers", "runs_kubernetes"]
    assert m.contact_signals() == ["runs_kubernetes"]
    assert "saber_hiring_engineers" not in m.hubspot_properties()  # not read from or written on contacts
    assert canonical_company_value(m, "saber_hiring_engineers", " TRUE ") == "true"
    assert canonical_company_value(m, "saber_funding_news_at", "1705314735000") == "2024-01-15T10:32:15.000Z"


def test_a_company_only_signal_is_asked_with_the_company_domain() -> None:
    """A signal only a company property maps is still asked (once per company) with the contact's domain."""
    m = parse_mapping(EXAMPLE)
    research = Research.model_validate({"id": "cr_1", "status": "completed", "result": {"summary": "x"}})
    asks, cannot = signals_to_ask(
        m, research, {"companyDomain": "acme.com", "contactProfileUrl": "https://x.io/in/a"}
    )
    by_key = {a.key: a for a in asks}
    assert (by_key["hiring_engineers"].scope, by_key["hiring_engineers"].target) == ("company", "acme.com")
    assert "hiring_engineers" not in cannot


def test_a_company_answer_is_not_written_on_contacts() -> None:
    """A company-scope answer feeds the company values only, unless `properties:` maps it for contacts too."""
    m = parse_mapping(EXAMPLE)
    research = Research.model_validate({"id": "cr_1", "status": "completed", "result": {"summary": "x"}})
    contact = map_values(m, research, {"hiring_engineers": HIRING_ANSWER})
    assert not any(name.startswith("saber_hiring") for name in contact)
    assert (
        map_company_values(m, {"hiring_engineers": HIRING_ANSWER})["saber_hiring_engineers"].value == "true"
    )


# ---------------------------------------------------------------------------- values
def test_company_values_from_the_company_signal() -> None:
    """Answer, reasoning and the company fact Saber returned become the company property values."""
    values = map_company_values(parse_mapping(EXAMPLE), {"hiring_engineers": HIRING_ANSWER})
    assert {n: (v.value, v.error, v.held_back) for n, v in values.items()} == {
        "saber_hiring_engineers": ("true", None, None),
        "saber_hiring_engineers_reasoning": ("12 open engineering roles on the careers page.", None, None),
        "saber_employee_count": ("150", None, None),
    }


def test_company_values_null_failed_or_missing_give_nothing() -> None:
    """A null answer, a failed or unasked signal gives no value: nothing is written, nothing blanked."""
    m = parse_mapping(EXAMPLE)
    null = signal(answer=None, confidence=None, question="Is the company hiring engineers?")
    failed = signal(status="failed", answer={"type": "boolean", "boolean": {"value": True}}, confidence=0.9)
    for answers in ({"hiring_engineers": null}, {"hiring_engineers": failed}, {}):
        values = map_company_values(m, answers)
        assert values["saber_hiring_engineers"].value is None
        assert all(v.error is None and not v.low_confidence for v in values.values())
    assert map_company_values(m, {"hiring_engineers": null})["saber_hiring_engineers_reasoning"].value is None


def test_company_values_fall_back_to_the_research_result() -> None:
    """A company question the research result already answers is read from there when none was kept."""
    research = Research.model_validate(
        {"id": "cr_1", "status": "completed", "result": {"signals": [HIRING_ANSWER.raw]}}
    )
    values = map_company_values(parse_mapping(EXAMPLE), {}, research)
    assert values["saber_hiring_engineers"].value == "true"


def test_company_value_conversion_problems_are_per_property() -> None:
    """A company fact that cannot be converted is an error for that property; the others still map."""
    odd = signal(
        answer={"type": "boolean", "boolean": {"value": True}},
        confidence=0.8,
        company={"employeeCount": "about 150"},
    )
    values = map_company_values(parse_mapping(EXAMPLE), {"hiring_engineers": odd})
    assert values["saber_employee_count"].value is None
    assert "saber_employee_count (number, from signals.hiring_engineers.company.employeeCount)" in (
        values["saber_employee_count"].error or ""
    )
    assert values["saber_hiring_engineers"].value == "true"


def test_subscription_values_from_a_log_entry() -> None:
    """A subscription log entry's answer and completedAt land on its company properties, converted."""
    text = edit(
        "        saber_funding_news_at: {from: completedAt, type: datetime}\n",
        "        saber_funding_news_at: {from: completedAt, type: datetime}\n"
        "        saber_funding_industry: {from: company.industry}\n"
        "        saber_funding_change: {from: changeContext.changeType}\n"
        "        saber_funding_domain: {from: domain}\n",
    )
    values = map_subscription_values(parse_mapping(text), "funding_news", LOG_ENTRY)
    assert {n: v.value for n, v in values.items()} == {
        "saber_funding_news": "Series B, $40M",
        "saber_funding_news_at": "2024-01-15T10:32:15.000Z",
        "saber_funding_industry": "Software",
        "saber_funding_change": "CHANGED",
        "saber_funding_domain": "acme.com",
    }


def test_subscription_entry_not_completed_gives_nothing() -> None:
    """An execution still processing (or failed) writes nothing; an unknown subscription is a KeyError."""
    m = parse_mapping(EXAMPLE)
    processing = LOG_ENTRY.model_copy(update={"status": "processing"})
    assert all(v.value is None for v in map_subscription_values(m, "funding_news", processing).values())
    with pytest.raises(KeyError):
        map_subscription_values(m, "no_such", LOG_ENTRY)


# ---------------------------------------------------------------------------- errors
ERRORS = [
    (
        "contact-scope signal feeding a company property",
        edit("{from: signals.hiring_engineers.reasoning}", "{from: signals.runs_kubernetes.reasoning}"),
        "signals.runs_kubernetes.reasoning",
        "companies.properties.saber_hiring_engineers_reasoning.from: found signal 'runs_kubernetes', which is "
        "contact-scope: its answer is about one person, not the company; allowed: company-scope signals: hiring_engineers",
    ),
    (
        "company property naming a signal that signals lacks",
        edit(
            "{from: signals.hiring_engineers.answer, type: bool}",
            "{from: signals.hiring_engineer.answer, type: bool}",
        ),
        "signals.hiring_engineer.answer",
        "companies.properties.saber_hiring_engineers.from: found signal 'hiring_engineer', which signals does not "
        "define, allowed: hiring_engineers; did you mean 'hiring_engineers'?",
    ),
    (
        "company property from the contact research",
        edit("{from: signals.hiring_engineers.reasoning}", "{from: result.summary}"),
        "saber_hiring_engineers_reasoning: {from: result.summary}",
        "companies.properties.saber_hiring_engineers_reasoning.from: found 'result.summary' (company properties "
        "are fed by company-scope signals), allowed: signals.<key>.answer|confidence|reasoning|sources|company of "
        "a company-scope signal",
    ),
    (
        "company property with an unknown root",
        edit("{from: signals.hiring_engineers.reasoning}", "{from: signal.hiring_engineers.reasoning}"),
        "signal.hiring_engineers.reasoning",
        "companies.properties.saber_hiring_engineers_reasoning.from: found root 'signal', allowed: "
        "signals.<key>.answer|confidence|reasoning|sources|company of a company-scope signal",
    ),
    (
        "company property with a misspelt signal field",
        edit("hiring_engineers.company.employeeCount", "hiring_engineers.compnay.employeeCount"),
        "compnay",
        "companies.properties.saber_employee_count.from: found signal field 'compnay', allowed: "
        "signals.<key>.answer|confidence|reasoning|sources|company of a company-scope signal (answer may go "
        "deeper: answer.<field>; company needs a field: company.<field>); did you mean 'company'?",
    ),
    (
        "company fact without a field",
        edit("hiring_engineers.company.employeeCount", "hiring_engineers.company"),
        "hiring_engineers.company,",
        "companies.properties.saber_employee_count.from: found 'signals.hiring_engineers.company' (which fact of "
        "the company? e.g. company.employeeCount), allowed:",
    ),
    (
        "misspelt match",
        edit("  match: association", "  match: assocation"),
        "match: assocation",
        "companies.match: found 'assocation', allowed: association, domain; did you mean 'association'?",
    ),
    (
        "unknown key in companies",
        edit("  subscriptions:", "  subscription:"),
        "  subscription:",
        "companies.subscription: found unknown key 'subscription', allowed: match, properties, subscriptions; "
        "did you mean 'subscriptions'?",
    ),
    (
        "misspelt write policy on a company property",
        edit(
            "{from: signals.hiring_engineers.answer, type: bool}",
            "{from: signals.hiring_engineers.answer, type: bool, write: alway}",
        ),
        "write: alway",
        "companies.properties.saber_hiring_engineers.write: found 'alway', allowed: unless_edited, always, "
        "if_empty; did you mean 'always'?",
    ),
    (
        "misspelt type on a company property",
        edit("company.employeeCount, type: number}", "company.employeeCount, type: numbr}"),
        "type: numbr",
        "companies.properties.saber_employee_count.type: found 'numbr', allowed: string, number, bool, date, "
        "datetime, enumeration, multiple; did you mean 'number'?",
    ),
    (
        "options on a company property that is not an enumeration",
        edit(
            "{from: signals.hiring_engineers.reasoning}",
            "{from: signals.hiring_engineers.reasoning, options: {a: b}}",
        ),
        "options: {a: b}",
        "companies.properties.saber_hiring_engineers_reasoning.options: found options with type string, allowed: "
        "options only with type enumeration or multiple",
    ),
    (
        "company property name that is not a HubSpot name",
        edit("    saber_employee_count: ", "    Saber-Employees: "),
        "Saber-Employees",
        "companies.properties.Saber-Employees: found name 'Saber-Employees', allowed: a HubSpot internal name",
    ),
    (
        "unknown key in a subscription property",
        edit("{from: answer}", "{form: answer}"),
        "{form: answer}",
        "companies.subscriptions.funding_news.properties.saber_funding_news.form: found unknown key 'form', "
        "allowed: from, type, options, write, label, min_confidence; did you mean 'from'?",
    ),
    (
        "subscription property from a misspelt field",
        edit("{from: completedAt, type: datetime}", "{from: completed_at, type: datetime}"),
        "completed_at",
        "companies.subscriptions.funding_news.properties.saber_funding_news_at.from: found log entry field "
        "'completed_at', allowed: answer|confidence|reasoning|sources|completedAt|createdAt|question|domain|id|"
        "company|changeContext of the subscription's log entry",
    ),
    (
        "subscription property written as a signal path",
        edit("{from: answer}", "{from: signals.funding_news.answer}"),
        "signals.funding_news.answer",
        "companies.subscriptions.funding_news.properties.saber_funding_news.from: found log entry field "
        "'signals', allowed:",
    ),
    (
        "subscription without an id",
        edit('      id: "<subscription uuid>"\n', ""),
        "    funding_news:",
        "companies.subscriptions.funding_news.id: found nothing, required: the subscription's id, as Saber shows "
        "it (a UUID)",
    ),
    (
        "subscription with no properties",
        EXAMPLE.split("      properties:\n        saber_funding_news:")[0],
        "    funding_news:",
        "companies.subscriptions.funding_news.properties: found nothing, required:",
    ),
    (
        "companies with nothing to write",
        BASE.replace(SIGNALS_LINE, SIGNALS_LINE + HIRING) + "\ncompanies:\n  match: domain\n",
        "companies:",
        "companies: found nothing to write, allowed: properties and/or subscriptions (or leave companies out)",
    ),
    (
        "the same subscription twice",
        edit(
            "        saber_funding_news_at: {from: completedAt, type: datetime}\n",
            "        saber_funding_news_at: {from: completedAt, type: datetime}\n"
            '    funding_again:\n      id: "<Subscription UUID>"\n      properties:\n'
            "        saber_funding_again: {from: answer}\n",
        ),
        "<Subscription UUID>",
        "companies.subscriptions.funding_again.id: found subscription id '<Subscription UUID>' again (first under "
        "funding_news), allowed: each subscription once",
    ),
    (
        "one company property fed twice",
        edit(
            "        saber_funding_news:    {from: answer}",
            "        saber_hiring_engineers:    {from: answer}",
        ),
        "saber_hiring_engineers:    {from: answer}",
        "companies.subscriptions.funding_news.properties.saber_hiring_engineers: found company property "
        "'saber_hiring_engineers' also written by companies.properties.saber_hiring_engineers, allowed: one "
        "source per company property",
    ),
    (
        "writing the domain companies are matched by",
        edit("    saber_employee_count: ", "    domain: "),
        "    domain: ",
        "companies.properties.domain: found company property 'domain', which the connector matches companies by; "
        "allowed: any other company property",
    ),
]


@pytest.mark.parametrize(("text", "marker", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_company_error_names_file_line_key_found_and_allowed(
    tmp_path: Path, text: str, marker: str, expected: str
) -> None:
    """Each mistake in `companies` is reported as file:line: key.path: found …, allowed: …, like contact ones."""
    assert_error_at(tmp_path, text, marker, expected)


def test_company_errors_are_listed_with_the_others(tmp_path: Path) -> None:
    """A company mistake and a contact mistake are both reported at once, in file order."""
    text = edit("{from: result.email, write: if_empty}", "{from: result.email, write: if_emtpy}").replace(
        "signals.hiring_engineers.reasoning", "signals.runs_kubernetes.reasoning"
    )
    rows = error_of(tmp_path, text).splitlines()
    assert len(rows) == 2
    assert "properties.saber_email.write" in rows[0] and "companies.properties" in rows[1]


def test_a_mapping_built_in_code_checks_company_references() -> None:
    """Built without the loader, a company property fed by a contact-scope signal is still refused."""
    data = YAML(typ="safe").load(
        EXAMPLE.replace("signals.hiring_engineers.reasoning", "signals.runs_kubernetes.reasoning")
    )
    with pytest.raises(ValueError, match="which is contact-scope"):
        Mapping.model_validate(data)
    assert Mapping.model_validate(YAML(typ="safe").load(EXAMPLE)).companies is not None


# ---------------------------------------------------------------------------- schema and paths
def test_schema_accepts_the_companies_example() -> None:
    """The JSON Schema accepts the issue's example and refuses an unknown key under companies."""
    schema = mapping_json_schema()
    data = YAML(typ="safe").load(EXAMPLE)
    assert schema_errors(schema, schema, data) == []
    data["companies"]["properties"]["saber_x"] = {"from": "result.summary"}
    assert schema_errors(schema, schema, data)
    data = YAML(typ="safe").load(EXAMPLE)
    data["companies"]["colour"] = "blue"
    assert schema_errors(schema, schema, data)


@pytest.mark.parametrize(
    "text",
    [
        "signals.x.answer",
        "signals.x.answer.items[0]",
        "signals.x.company.employeeCount",
        "signals.x.company.locations[0].city",
        "signals.x.confidence",
        "signals.x.sources",
        "signals.x.company",
        "signals.x.reasoning.more",
        "result.summary",
        "research.status",
        "signals.x",
    ],
)
def test_company_from_pattern_agrees_with_the_parser(text: str) -> None:
    """The schema's company `from` pattern accepts exactly the paths the loader accepts."""
    try:
        parse_company_from(text)
        parsed = True
    except PathError:
        parsed = False
    assert bool(re.match(COMPANY_FROM_PATTERN, text)) is parsed


@pytest.mark.parametrize(
    "text",
    [
        "answer",
        "answer.items[1]",
        "completedAt",
        "createdAt",
        "confidence",
        "company.employeeCount",
        "changeContext.changeType",
        "question",
        "company",
        "changeContext",
        "completedAt.x",
        "signals.x.answer",
        "answered",
    ],
)
def test_subscription_from_pattern_agrees_with_the_parser(text: str) -> None:
    """The schema's subscription `from` pattern accepts exactly the paths the loader accepts."""
    try:
        parse_subscription_from(text)
        parsed = True
    except PathError:
        parsed = False
    assert bool(re.match(SUBSCRIPTION_FROM_PATTERN, text)) is parsed


# ---------------------------------------------------------------------------- explain
def test_explain_describes_the_company_part() -> None:
    """`mapping explain` says how companies are matched, what lands on them, and what subscriptions cost."""
    text = explain_mapping(parse_mapping(EXAMPLE))
    assert "What lands on HubSpot companies:" in text
    assert "primary associated company" in text
    for name in parse_mapping(EXAMPLE).company_output_properties():
        assert f"    {name} (" in text
    assert "the company's employeeCount Saber returned with signal hiring_engineers" in text
    assert "Subscription funding_news (Saber id <subscription uuid>)" in text and "no credits" in text
    assert "'<subscription uuid>' is not a UUID" in text
    assert "asked once per company" in text
    by_domain = explain_mapping(
        parse_mapping(edit("  match: association", "  match: domain").replace("<subscription uuid>", UUID))
    )
    assert "whose domain equals the contact's companyDomain" in by_domain and "never guessed" in by_domain
    assert "is not a UUID" not in by_domain


def test_readme_documents_the_example_as_it_loads() -> None:
    """The mapping reference's Companies section shows the issue's block verbatim, so the documented example loads."""
    readme = (ROOT / "mappings" / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Companies\n", 1)[1].split("\n## Confidence thresholds\n", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert ISSUE_COMPANIES in block
    documented = YAML(typ="safe").load(block)
    assert documented["signals"]["hiring_engineers"]["scope"] == "company"
    assert parse_mapping(
        BASE.replace(SIGNALS_LINE, SIGNALS_LINE + HIRING) + "\n" + block.split("\n\n", 1)[1]
    ).companies
    assert "min_confidence" in readme.split("\n## Confidence thresholds\n", 1)[1].split("\n## Errors\n", 1)[0]


def test_company_property_definitions_for_setup() -> None:
    """`setup` gets each company property's name, label (given or derived), type, option values and group."""
    text = edit(
        "{from: signals.hiring_engineers.reasoning}",
        "{from: signals.hiring_engineers.company.size, type: enumeration, options: {51-200: mid, 201-500: large, 501-1000: large}, label: Company size}",
    )
    text += "hubspot_group: {name: saber_ai, label: Saber AI}\n"
    defs = {d.name: d for d in parse_mapping(text).company_property_definitions()}
    assert list(defs) == parse_mapping(text).company_output_properties()
    size = defs["saber_hiring_engineers_reasoning"]
    assert (size.label, size.type, size.options, size.group) == (
        "Company size",
        "enumeration",
        ("mid", "large"),
        "saber_ai",
    )
    assert (defs["saber_employee_count"].label, defs["saber_employee_count"].type) == (
        "Saber Employee count",
        "number",
    )
    assert defs["saber_funding_news_at"].source == "completedAt"
