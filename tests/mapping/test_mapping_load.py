"""Loading mapping files: the example and the default load; every mistake names file, line, key,
what was found and what is allowed; the JSON Schema and the plain-words explanation."""

# ruff: noqa: E501 - the issue's example and expected messages stay verbatim

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from connector.errors import ConfigError
from connector.mapping import (
    Mapping,
    enumeration_option_problems,
    explain_mapping,
    load_mapping,
    mapping_json_schema,
    parse_mapping,
)
from connector.mapping.paths import FROM_PATTERN, PathError, parse_from

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "mappings" / "default.yaml"

# The example from the mapping issue, exactly as written there.
FIXTURES = Path(__file__).parents[1] / "fixtures"
EXAMPLE = (FIXTURES / "mapping" / "example.yaml").read_text(encoding="utf-8")


OUTPUTS = [
    "saber_summary",
    "saber_seniority",
    "saber_email",
    "saber_runs_kubernetes",
    "saber_runs_kubernetes_confidence",
    "saber_research_status",
    "saber_researched_at",
]


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the first line containing `marker`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in text")


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def edit(old: str, new: str) -> str:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1)


# ---------------------------------------------------------------------------- loads
def test_example_loads_exactly_as_written(tmp_path: Path) -> None:
    """The issue's example loads, with every key as written and the defaults filled in."""
    path = write(tmp_path, EXAMPLE)
    m = load_mapping(path)
    assert (m.version, m.external_source, m.source_path) == (1, "hubspot", path)
    f = m.select.filters[0]
    assert (f.property, f.operator, f.values, f.value) == (
        "lifecyclestage",
        "IN",
        ["lead", "marketingqualifiedlead"],
        None,
    )
    assert (m.select.refresh_after_days, m.select.max_new_per_run) == (90, 500)
    domain = m.inputs.companyDomain
    assert (domain.property, domain.normalize) == ("website", "domain")
    assert (domain.fallback.property, domain.fallback.normalize) == ("email", "email_domain")
    assert m.inputs.firstName.property == "firstname" and m.inputs.firstName.normalize is None
    sig = m.signals["runs_kubernetes"]
    assert (sig.scope, sig.answer_type) == ("contact", "boolean")
    assert sig.question == "Does this person's team run Kubernetes in production?"
    assert list(m.properties) == OUTPUTS
    seniority = m.properties["saber_seniority"]
    assert (seniority.type, seniority.options) == (
        "enumeration",
        {"VP": "vp", "Director": "director", "C-Level": "c_level"},
    )
    assert [m.properties[p].write for p in OUTPUTS] == ["unless_edited", "unless_edited", "if_empty"] + [
        "unless_edited"
    ] * 4
    assert m.properties["saber_summary"].type == "string"
    assert (m.hubspot_group.name, m.hubspot_group.label) == ("saber", "Saber")


def test_property_lists_for_reads_and_writes(tmp_path: Path) -> None:
    """input_properties includes fallbacks; hubspot_properties is both lists without repeats."""
    m = load_mapping(write(tmp_path, EXAMPLE))
    assert m.input_properties() == [
        "firstname",
        "lastname",
        "company",
        "website",
        "email",
        "linkedin_url",
        "jobtitle",
    ]
    assert m.output_properties() == OUTPUTS
    assert m.hubspot_properties() == m.input_properties() + OUTPUTS
    assert len(set(m.hubspot_properties())) == len(m.hubspot_properties())
    assert m.filter_properties() == ["lifecyclestage"]


def test_default_mapping_loads_and_prefixes_outputs() -> None:
    """mappings/default.yaml loads, writes only saber_* properties, and asks a company-scope signal."""
    m = load_mapping(DEFAULT)
    assert all(name.startswith("saber_") for name in m.output_properties())
    assert m.inputs.contactProfileUrl.property == "linkedin_url"
    assert {"company", "contact"} <= {s.scope for s in m.signals.values()}
    assert m.properties["saber_linkedin_url"].write == "if_empty"
    for name in ("saber_department", "saber_current_title", "saber_location", "saber_email_status"):
        assert name in m.properties


def test_default_mapping_contains_the_example() -> None:
    """Every property, input and signal of the example is in the default mapping; seniority adds options."""
    example, default = parse_mapping(EXAMPLE), load_mapping(DEFAULT)
    seniority = default.properties["saber_seniority"]
    assert example.properties["saber_seniority"].options.items() <= seniority.options.items()
    assert {"Manager", "Senior", "Entry"} <= set(seniority.options)
    for name, spec in example.properties.items():
        if name != "saber_seniority":
            assert default.properties[name] == spec
    assert default.inputs.items()[: len(example.inputs.items())] == example.inputs.items()
    assert default.signals["runs_kubernetes"] == example.signals["runs_kubernetes"]
    assert default.select == example.select


def test_mapping_is_frozen() -> None:
    """A loaded mapping cannot be changed by accident."""
    m = parse_mapping(EXAMPLE)
    with pytest.raises(ValueError):
        m.external_source = "other"  # type: ignore[misc]


def test_dump_uses_the_file_keys() -> None:
    """model_dump spells `from` as in the file, so a mapping fingerprint reads naturally."""
    data = parse_mapping(EXAMPLE).model_dump(mode="json")
    assert data["properties"]["saber_email"] == {
        "from": "result.email",
        "type": "string",
        "options": None,
        "write": "if_empty",
        "label": None,
    }
    assert "source_path" not in data


def test_filters_values_become_text_and_operands_are_checked() -> None:
    """Booleans, numbers and dates in filters become HubSpot text; BETWEEN needs both bounds."""
    text = edit(
        "    - {property: lifecyclestage, operator: IN, values: [lead, marketingqualifiedlead]}",
        "    - {property: hs_is_unworked, operator: EQ, value: true}\n"
        "    - {property: num_employees, operator: BETWEEN, value: 10, high_value: 2.5e3}\n"
        "    - {property: createdate, operator: GTE, value: 2024-01-31}",
    )
    f = parse_mapping(text).select.filters
    assert [(x.value, x.high_value) for x in f] == [("true", None), ("10", "2500"), ("2024-01-31", None)]


def test_bare_and_object_inputs_and_nested_fallbacks() -> None:
    """An input is a property name or {property, normalize, fallback}, fallbacks nesting freely."""
    text = edit(
        "  jobTitle: jobtitle",
        "  jobTitle: {property: jobtitle, fallback: {property: hs_job_title, fallback: {property: title}}}",
    )
    m = parse_mapping(text)
    assert [s.property for s in m.inputs.jobTitle.chain()] == ["jobtitle", "hs_job_title", "title"]


def test_refresh_never_and_explicit_group() -> None:
    """refresh_after_days: null means never; hubspot_group and labels can be set."""
    text = edit("refresh_after_days: 90", "refresh_after_days: null") + (
        "hubspot_group: {name: saber_ai, label: Saber AI}\n"
    )
    text = text.replace("{from: result.summary}", "{from: result.summary, label: Research summary}")
    m = parse_mapping(text)
    assert m.select.refresh_after_days is None
    assert (m.hubspot_group.name, m.hubspot_group.label) == ("saber_ai", "Saber AI")
    assert m.properties["saber_summary"].label == "Research summary"


def test_options_keys_from_yaml_scalars() -> None:
    """Option keys written as YAML booleans or numbers match Saber values by their text."""
    text = edit(
        "{from: result.email, write: if_empty}",
        "{from: result.tier, type: enumeration, options: {2: two, true: yes}}",
    )
    assert parse_mapping(text).properties["saber_email"].options == {"2": "two", "true": "yes"}


def test_building_in_code_still_checks_references() -> None:
    """A Mapping built without the loader still rejects a property naming an unknown signal."""
    data: dict[str, Any] = YAML(typ="safe").load(EXAMPLE)
    data["properties"]["saber_x"] = {"from": "signals.nope.answer"}
    with pytest.raises(ValueError, match="nope"):
        Mapping.model_validate(data)


# ---------------------------------------------------------------------------- errors
# (description, text, line marker, expected message after "file:line: ")
ERRORS = [
    (
        "misspelt write policy",
        edit("write: if_empty}", "write: if_emtpy}"),
        "if_emtpy",
        "properties.saber_email.write: found 'if_emtpy', allowed: unless_edited, always, if_empty; "
        "did you mean 'if_empty'?",
    ),
    (
        "unknown top-level key",
        edit("external_source: hubspot", "external_sorce: hubspot"),
        "external_sorce",
        "external_sorce: found unknown key 'external_sorce', allowed: version, external_source, select, "
        "inputs, signals, properties, hubspot_group; did you mean 'external_source'?",
    ),
    (
        "unknown key in select",
        edit("  max_new_per_run: 500", "  max_new_per_rnu: 500"),
        "max_new_per_rnu",
        "select.max_new_per_rnu: found unknown key 'max_new_per_rnu', allowed: filters, refresh_after_days, "
        "max_new_per_run; did you mean 'max_new_per_run'?",
    ),
    (
        "unknown key in a filter",
        edit("operator: IN, values:", "operator: IN, vals:"),
        "vals:",
        "select.filters[0].vals: found unknown key 'vals', allowed: property, operator, value, values, "
        "high_value; did you mean 'values'?",
    ),
    (
        "unknown key in an input",
        edit("normalize: domain,", "normalise: domain,"),
        "normalise",
        "inputs.companyDomain.normalise: found unknown key 'normalise', allowed: property, normalize, "
        "fallback; did you mean 'normalize'?",
    ),
    (
        "unknown key in a nested fallback",
        edit(
            "{property: email, normalize: email_domain}",
            "{property: email, normalize: email_domain, falback: x}",
        ),
        "falback",
        "inputs.companyDomain.fallback.falback: found unknown key 'falback', allowed: property, normalize, "
        "fallback; did you mean 'fallback'?",
    ),
    (
        "unknown key in a signal",
        edit("    answer_type: boolean", "    answertype: boolean"),
        "answertype",
        "signals.runs_kubernetes.answertype: found unknown key 'answertype', allowed: question, scope, "
        "answer_type; did you mean 'answer_type'? (also: template, verification_mode)",
    ),
    (
        "unknown key in a property",
        edit("{from: result.email, write: if_empty}", "{from: result.email, wirte: if_empty}"),
        "wirte",
        "properties.saber_email.wirte: found unknown key 'wirte', allowed: from, type, options, write, label; "
        "did you mean 'write'?",
    ),
    (
        "unknown key in hubspot_group",
        EXAMPLE + "hubspot_group: {name: saber, lable: Saber}\n",
        "lable",
        "hubspot_group.lable: found unknown key 'lable', allowed: name, label; did you mean 'label'?",
    ),
    (
        "bad property type",
        edit("type: number}", "type: numeric}"),
        "numeric",
        "properties.saber_runs_kubernetes_confidence.type: found 'numeric', allowed: string, number, bool, "
        "date, datetime, enumeration, multiple; did you mean 'number'?",
    ),
    (
        "bad operator",
        edit("operator: IN", "operator: in"),
        "operator: in",
        "select.filters[0].operator: found 'in', allowed: EQ, NEQ, GT, GTE, LT, LTE, IN, NOT_IN, HAS_PROPERTY, "
        "NOT_HAS_PROPERTY, BETWEEN, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN; did you mean 'IN'?",
    ),
    (
        "operator without the operand it needs",
        edit("operator: IN, values: [lead, marketingqualifiedlead]", "operator: EQ, values: [lead]"),
        "operator: EQ",
        "select.filters[0].values: found values (not used by EQ), no value, allowed: operator EQ takes value",
    ),
    (
        "more than three filters",
        edit(
            "    - {property: lifecyclestage",
            "    - {property: a, operator: HAS_PROPERTY}\n" * 3 + "    - {property: lifecyclestage",
        ),
        "  filters:",
        "select.filters: found 4 filters, allowed: at most 3 (the sync adds up to 3 of its own to HubSpot's 6 per search)",
    ),
    (
        "from with an unknown root",
        edit("{from: result.summary}", "{from: results.summary}"),
        "results.summary",
        "properties.saber_summary.from: found root 'results', allowed: result.<path> (list indexes as .0 or [0]), "
        "signals.<key>.answer|confidence|reasoning|sources, research.id|status|createdAt|completedAt|errorCode|"
        "error; did you mean 'result'?",
    ),
    (
        "from with an empty step",
        edit("{from: result.summary}", "{from: result..summary}"),
        "result..summary",
        "properties.saber_summary.from: found 'result..summary' (an empty step at character 7), allowed:",
    ),
    (
        "from with a bad list index",
        edit("{from: result.summary}", "{from: 'result.positions[first].title'}"),
        "positions[first]",
        "properties.saber_summary.from: found 'result.positions[first].title' (a list index that is not "
        "[<whole number>] at character 17), allowed:",
    ),
    (
        "from with a bad signal field",
        edit("signals.runs_kubernetes.confidence", "signals.runs_kubernetes.confidance"),
        "confidance",
        "properties.saber_runs_kubernetes_confidence.from: found signal field 'confidance', allowed: "
        "signals.<key>.answer|confidence|reasoning|sources (answer may go deeper: answer.<field>); "
        "did you mean 'confidence'?",
    ),
    (
        "from with a bad research field",
        edit("research.completedAt", "research.completed_at"),
        "completed_at",
        "properties.saber_researched_at.from: found research field 'completed_at', allowed: research.id, "
        "research.status, research.createdAt, research.completedAt, research.errorCode, research.error; "
        "did you mean 'completedAt'?",
    ),
    (
        "from naming a signal that signals lacks",
        edit("signals.runs_kubernetes.answer", "signals.runs_k8s.answer"),
        "runs_k8s",
        "properties.saber_runs_kubernetes.from: found signal 'runs_k8s', which signals does not define, "
        "allowed: runs_kubernetes; did you mean 'runs_kubernetes'?",
    ),
    (
        "options on a type without options",
        edit("{from: result.email, write: if_empty}", "{from: result.email, options: {a: b}}"),
        "options: {a: b}",
        "properties.saber_email.options: found options with type string, allowed: options only with type "
        "enumeration or multiple",
    ),
    (
        "input field not in the allowed set",
        edit("  jobTitle: jobtitle", "  title: jobtitle"),
        "title: jobtitle",
        "inputs.title: found unknown key 'title', allowed: firstName, lastName, companyName, companyDomain, "
        "contactProfileUrl, linkedInSalesNavigatorUrl, jobTitle; did you mean 'jobTitle'?",
    ),
    (
        "required input missing",
        edit("  lastName: lastname\n", ""),
        "inputs:",
        "inputs.lastName: found nothing, required: a HubSpot property name or {property, normalize, fallback}",
    ),
    (
        "bad normaliser",
        edit("normalize: domain,", "normalize: hostname,"),
        "hostname",
        "inputs.companyDomain.normalize: found 'hostname', allowed: domain, email_domain, url, trim",
    ),
    (
        "input that is neither a name nor a mapping",
        edit("  firstName: firstname", "  firstName: [firstname]"),
        "firstName:",
        "inputs.firstName: found a list of 1, allowed: a HubSpot property name or {property, normalize, fallback}",
    ),
    (
        "input property name not a HubSpot internal name",
        edit("  lastName: lastname", "  lastName: Last Name"),
        "Last Name",
        "inputs.lastName.property: found value 'Last Name', allowed: a HubSpot internal name",
    ),
    (
        "output property name not a HubSpot internal name",
        edit("  saber_summary:  ", "  Saber-Summary:  "),
        "Saber-Summary",
        "properties.Saber-Summary: found name 'Saber-Summary', allowed: a HubSpot internal name",
    ),
    (
        "bad scope",
        edit("scope: contact ", "scope: person "),
        "scope: person",
        "signals.runs_kubernetes.scope: found 'person', allowed: contact, company",
    ),
    (
        "bad answer type",
        edit("answer_type: boolean", "answer_type: bool"),
        "answer_type: bool",
        "signals.runs_kubernetes.answer_type: found 'bool', allowed: open_text, number, boolean, list, "
        "percentage, currency, url, json_schema, contacts, contacts_generation, contact_posts, "
        "contact_engagements; did you mean 'boolean'?",
    ),
    (
        "empty question",
        edit('question: "Does this person\'s team run Kubernetes in production?"', 'question: "  "'),
        "question:",
        "signals.runs_kubernetes.question: found '  ', allowed: non-empty text",
    ),
    (
        "refresh_after_days below 1",
        edit("refresh_after_days: 90", "refresh_after_days: 0"),
        "refresh_after_days",
        "select.refresh_after_days: found 0, allowed: a whole number >= 1",
    ),
    (
        "max_new_per_run as text",
        edit("max_new_per_run: 500", "max_new_per_run: lots"),
        "max_new_per_run",
        "select.max_new_per_run: found 'lots', allowed: a whole number",
    ),
    (
        "version not 1",
        edit("version: 1", "version: 2"),
        "version",
        "version: found 2, allowed: 1",
    ),
    (
        "version missing",
        edit("version: 1\n", ""),
        "external_source",
        "version: found nothing, required: 1",
    ),
    (
        "an output that is also an input",
        edit("  saber_research_status: {from: research.status}", "  jobtitle: {from: result.currentTitle}"),
        "jobtitle: {from",
        "properties.jobtitle: found 'jobtitle', which is also an input",
    ),
]


@pytest.mark.parametrize(("text", "marker", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_file_line_key_found_and_allowed(
    tmp_path: Path, text: str, marker: str, expected: str
) -> None:
    """Each mistake is reported as file:line: key.path: found …, allowed: …."""
    message = error_of(tmp_path, text)
    line = line_of(text, marker)
    prefix = f"{tmp_path / 'x.yaml'}:{line}: "
    assert any(row.startswith(prefix + expected) for row in message.splitlines()), message


def test_several_errors_listed_one_per_line_in_file_order(tmp_path: Path) -> None:
    """All problems are reported at once, one per line, sorted by line."""
    text = edit("version: 1", "version: 3")
    text = text.replace("write: if_empty}", "write: sometimes}").replace("type: bool}", "type: boolean}")
    rows = error_of(tmp_path, text).splitlines()
    assert len(rows) == 3
    numbers = [int(re.match(r".*?\.yaml:(\d+):", r).group(1)) for r in rows]
    assert numbers == sorted(numbers) == [1, line_of(text, "sometimes"), line_of(text, "type: boolean}")]


def test_block_style_keys_get_their_own_lines(tmp_path: Path) -> None:
    """In block style the error points at the offending key's own line, not its parent's."""
    text = edit(
        "  saber_email:           {from: result.email, write: if_empty}",
        "  saber_email:\n    from: result.email\n    type: string\n    write: never",
    )
    message = error_of(tmp_path, text)
    assert f"x.yaml:{line_of(text, 'write: never')}: properties.saber_email.write: found 'never'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\ninputs: [a, b\nproperties: {}\n",
            r"x\.yaml:3: YAML syntax error: while parsing a flow sequence",
        ),
        ("version: 1\n\tinputs: x\n", r"x\.yaml:2: YAML syntax error: .*indent with spaces, not tabs"),
        ("version: 1\nversion: 1\n", r"x\.yaml:2: duplicate key: found duplicate key \"version\""),
        ("", r"x\.yaml:1: the file is empty"),
        ("# nothing but a comment\n", r"x\.yaml:1: the file is empty"),
        ("- version: 1\n", r"x\.yaml:1: \(top level\): found a list of 1, allowed: a mapping of keys"),
    ],
    ids=["syntax", "tab", "duplicate", "empty", "comment-only", "list"],
)
def test_yaml_level_errors_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    """YAML syntax errors, duplicate keys, empty files and non-mapping files name a line."""
    message = error_of(tmp_path, text)
    assert re.search(expected, message), message


def test_duplicate_key_deep_in_the_file(tmp_path: Path) -> None:
    """A duplicate property name is reported on the line of its second occurrence."""
    text = EXAMPLE + "  saber_summary: {from: result.currentTitle}\n"
    message = error_of(tmp_path, text)
    assert f"x.yaml:{len(text.splitlines())}: duplicate key" in message
    assert "saber_summary" in message


def test_missing_file(tmp_path: Path) -> None:
    """A mapping path that does not exist is a ConfigError naming the path."""
    with pytest.raises(ConfigError, match=r"nope\.yaml: mapping file not found"):
        load_mapping(tmp_path / "nope.yaml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """A directory given as the mapping is reported as such."""
    with pytest.raises(ConfigError, match="is a directory"):
        load_mapping(tmp_path)


# ---------------------------------------------------------------------------- check helper
def test_enumeration_option_problems_name_file_and_line(tmp_path: Path) -> None:
    """Option values the HubSpot property lacks are listed with the line of the option."""
    path = write(tmp_path, EXAMPLE)
    m = load_mapping(path)
    problems = enumeration_option_problems(m, {"saber_seniority": {"vp", "director"}, "saber_email": set()})
    line = line_of(EXAMPLE, "saber_seniority:")
    assert problems == [
        f"{path}:{line}: properties.saber_seniority.options.C-Level: found 'c_level', which HubSpot property "
        "saber_seniority lacks; allowed: director, vp"
    ]
    assert enumeration_option_problems(m, {"saber_seniority": {"vp", "director", "c_level"}}) == []


# ---------------------------------------------------------------------------- schema
def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _type_ok(value: Any, kind: str) -> bool:
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }[kind]


def schema_errors(root: dict[str, Any], schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """A small JSON Schema validator: enough of draft 2020-12 for the keywords pydantic emits."""
    known = {
        "$ref", "$defs", "$schema", "anyOf", "type", "enum", "const", "properties", "required",
        "additionalProperties", "patternProperties", "items", "pattern", "minLength", "maxLength",
        "minimum", "maxItems", "minItems", "minProperties", "default", "description", "title",
        "maximum", "exclusiveMinimum",
    }  # fmt: skip
    assert set(schema) <= known, set(schema) - known
    errors: list[str] = []
    if "$ref" in schema:
        errors += schema_errors(root, _resolve(root, schema["$ref"]), value, path)
    if "anyOf" in schema and not any(not schema_errors(root, s, value, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches no anyOf branch")
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, k) for k in kinds):
            return [*errors, f"{path}: not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
            errors.append(f"{path}: bad length")
    if isinstance(value, int | float) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: below minimum")
    if (
        isinstance(value, int | float)
        and "exclusiveMinimum" in schema
        and value <= schema["exclusiveMinimum"]
    ):
        errors.append(f"{path}: not above exclusiveMinimum")
    if isinstance(value, int | float) and "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: above maximum")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", 10**9) or len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: bad item count")
        for i, item in enumerate(value):
            errors += schema_errors(root, schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict):
        if len(value) < schema.get("minProperties", 0):
            errors.append(f"{path}: too few keys")
        errors += [f"{path}: missing {k}" for k in schema.get("required", []) if k not in value]
        props, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
        for key, item in value.items():
            subs = [props[key]] if key in props else [s for p, s in patterns.items() if re.search(p, key)]
            extra = schema.get("additionalProperties", True)
            if not subs and extra is False:
                errors.append(f"{path}: unknown key {key!r}")
            elif not subs and isinstance(extra, dict):
                subs = [extra]
            for sub in subs:
                errors += schema_errors(root, sub, item, f"{path}.{key}")
    return errors


def test_schema_is_json_with_resolvable_refs() -> None:
    """The schema is JSON, declares draft 2020-12, and every $ref points at a definition."""
    schema = mapping_json_schema()
    text = json.dumps(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    refs = re.findall(r'"\$ref": "([^"]+)"', text)
    assert refs and all(_resolve(schema, ref) for ref in refs)
    assert set(schema["required"]) == {"version", "inputs", "properties"}
    assert set(schema["$defs"]["Inputs"]["required"]) == {
        "firstName",
        "lastName",
        "companyName",
        "companyDomain",
    }


@pytest.mark.parametrize("source", ["example", "default"])
def test_schema_accepts_the_mappings_that_load(source: str) -> None:
    """The example and the default mapping validate against the schema."""
    text = EXAMPLE if source == "example" else DEFAULT.read_text(encoding="utf-8")
    data = YAML(typ="safe").load(text)
    schema = mapping_json_schema()
    assert schema_errors(schema, schema, data) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["properties"]["saber_email"].update(write="if_emtpy"), "not in enum"),
        (lambda d: d["properties"]["saber_email"].update(wirte="always"), "unknown key 'wirte'"),
        (lambda d: d["properties"]["saber_email"].update({"from": "resutl.email"}), "does not match"),
        (lambda d: d["properties"].update({"Bad-Name": {"from": "result.x"}}), "unknown key 'Bad-Name'"),
        (lambda d: d["inputs"].pop("companyDomain"), "missing companyDomain"),
        (lambda d: d["inputs"].update(twitter="handle"), "unknown key 'twitter'"),
        (lambda d: d.update(version=2), "is not 1"),
        (
            lambda d: d["select"]["filters"].extend([{"property": "a", "operator": "HAS_PROPERTY"}] * 4),
            "item count",
        ),
    ],
    ids=["write", "unknown-key", "from", "name", "required-input", "input-field", "version", "filters"],
)
def test_schema_rejects_what_the_loader_rejects(change: Any, expected: str) -> None:
    """Mistakes the loader reports are also flagged by the schema (for editors)."""
    data = YAML(typ="safe").load(EXAMPLE)
    change(data)
    schema = mapping_json_schema()
    assert any(expected in e for e in schema_errors(schema, schema, data))


@pytest.mark.parametrize(
    "text",
    [
        "result.summary",
        "result.positions.0.title",
        "result.positions[0].title",
        "result.positions[-1].company",
        "signals.runs_kubernetes.answer",
        "signals.x.answer.items[2]",
        "signals.x.sources",
        "research.errorCode",
        "results.summary",
        "result",
        "result..x",
        "result.a[b]",
        "signals.x",
        "signals.x.reasoning.more",
        "research.finishedAt",
        "research.id.more",
    ],
)
def test_schema_from_pattern_agrees_with_the_parser(text: str) -> None:
    """The schema's `from` pattern accepts exactly the paths the loader accepts."""
    try:
        parse_from(text)
        parsed = True
    except PathError:
        parsed = False
    assert bool(re.match(FROM_PATTERN, text)) is parsed


# ---------------------------------------------------------------------------- explain
def test_explain_mentions_everything() -> None:
    """The explanation names each filter, input, question, property, policy and the credits."""
    m = load_mapping(DEFAULT)
    text = explain_mapping(m)
    for name, spec in m.properties.items():
        assert f"  {name} (" in text
        assert f"[{spec.write}]" in text
    for field, _ in m.inputs.items():
        assert f"  {field} " in text
    for sig in m.signals.values():
        assert sig.question in text
    assert "lifecyclestage is one of lead, marketingqualifiedlead" in text
    assert f"at most 1 + {len(m.signals)} = {1 + len(m.signals)}" in text
    assert "website (as a domain), else email" in text
    assert "older than 90 days" in text and "At most 500 new" in text
    assert "VP -> vp" in text


def test_explain_says_unused_signals_are_not_asked() -> None:
    """A signal no property maps is called out and left out of the credit count."""
    text = EXAMPLE.replace(
        "    answer_type: boolean\n", "    answer_type: boolean\n  spare: {question: Unused?}\n"
    )
    out = explain_mapping(parse_mapping(text))
    assert "spare: 'Unused?' - never asked: no property maps it." in out
    assert "at most 1 + 1 = 2" in out


def test_inputs_read_like_a_dict_of_mapped_fields() -> None:
    """mapping.inputs answers keys(), [], `in` and items() for the mapped Saber fields only."""
    inputs = parse_mapping(EXAMPLE).inputs
    assert inputs.keys() == [
        "firstName",
        "lastName",
        "companyName",
        "companyDomain",
        "contactProfileUrl",
        "jobTitle",
    ]
    assert inputs["jobTitle"].property == "jobtitle"
    assert "jobTitle" in inputs and "linkedInSalesNavigatorUrl" not in inputs
    with pytest.raises(KeyError):
        inputs["linkedInSalesNavigatorUrl"]
