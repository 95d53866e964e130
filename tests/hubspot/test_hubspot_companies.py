"""The adapter's companies and associations, and `setup`/`check` for company properties, against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connector.clients import hubspot_from
from connector.commands.check import run_checks
from connector.commands.setup import plan_object_setup, plan_setup, setup_object_properties, setup_properties
from connector.hubspot import HubSpotAdapter, HubSpotAuthError, HubSpotError, PropertySpec
from connector.mapping import load_mapping
from connector.portal import check_object_properties
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.runner import RunningSandbox, start_sandbox
from tests.hubspot_fixtures import fast_adapter, running
from tests.support import run_cli
from tests.sync_harness import MAPPING_HEAD, sandbox_env, settings_for, write_mapping

COMPANY_MAPPING = (
    MAPPING_HEAD
    + """\
signals:
  hiring_engineers:
    question: "Is the company hiring engineers?"
    scope: company
    answer_type: boolean
properties:
  saber_summary: {from: result.summary}
companies:
  match: association
  properties:
    saber_hiring_engineers:           {from: signals.hiring_engineers.answer, type: bool}
    saber_hiring_engineers_reasoning: {from: signals.hiring_engineers.reasoning}
    saber_employee_count:             {from: signals.hiring_engineers.company.employeeCount, type: number}
    saber_hiring_stage:
      from: signals.hiring_engineers.answer
      type: enumeration
      options: {"true": hiring, "false": not_hiring}
  subscriptions:
    funding_news:
      id: "3f2b8c1e-6d0a-4b7e-9f41-2a5c7d9e0b13"
      properties:
        saber_funding_news:    {from: answer}
        saber_funding_news_at: {from: completedAt, type: datetime}
"""
)
COMPANY_TYPES = {
    "saber_hiring_engineers": ("bool", "booleancheckbox"),
    "saber_hiring_engineers_reasoning": ("string", "textarea"),
    "saber_employee_count": ("number", "number"),
    "saber_hiring_stage": ("enumeration", "select"),
    "saber_funding_news": ("string", "text"),
    "saber_funding_news_at": ("datetime", "date"),
}


@dataclass(frozen=True)
class Spec:
    """A written property spec as the mapping gives one (from, type, options, label)."""

    from_: str
    type: str = "string"
    options: dict[str, str] | None = None
    label: str | None = None


@pytest.fixture
def box() -> Iterator[HubSpotSandbox]:
    """A 60-contact portal with its seeded companies, per test."""
    with running(contacts=60, seed=7) as sandbox:
        yield sandbox


def _bodies(box: HubSpotSandbox, endpoint: str) -> list[dict]:
    return [r.body for r in box.requests_to(endpoint)]


def _add_companies(box: HubSpotSandbox, n: int, domain: str) -> list[str]:
    return [box.add_company({"name": f"Co {i}", "domain": domain}) for i in range(n)]


# ---------------------------------------------------------------------------- search by domain
def test_search_by_domain_sends_lowercase_in_batches_of_100_and_keeps_every_holder(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """250 domains make 3 searches of ≤100 lower-case IN values; a shared domain returns both companies."""
    shared = next(
        d
        for d in map(str, (box.company(c)["domain"] for c in box.company_ids()))
        if len(box.companies_with_domain(d)) == 2
    )
    single = next(
        d
        for d in map(str, (box.company(c)["domain"] for c in box.company_ids()))
        if len(box.companies_with_domain(d)) == 1
    )
    domains = [shared.upper(), f"  {single} ", *[f"unknown{i}.example" for i in range(248)]]
    found = adapter.companies.search_by_domain(domains, ["name"])
    values = [
        f["values"]
        for b in _bodies(box, "companies_search")
        for f in b["filterGroups"][0]["filters"]
        if f["propertyName"] == "domain"
    ]
    assert [len(v) for v in values] == [100, 100, 50]
    assert all(v == v.lower() and v == v.strip() for chunk in values for v in chunk)
    assert [c.id for c in found[shared]] == box.companies_with_domain(shared)
    assert [c.id for c in found[single]] == box.companies_with_domain(single)
    assert found["unknown7.example"] == [] and len(found) == 250
    assert found[single][0].properties["name"] and found[single][0].domain == single
    assert adapter.calls["search_companies"] == 3


def test_search_by_domain_pages_by_id_past_one_page(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """More companies than a page on one domain: keyset pages (hs_object_id GT the last id, after 0) find all."""
    ids = _add_companies(box, 230, "big.example")
    found = adapter.companies.search_by_domain(["big.example"])
    bodies = _bodies(box, "companies_search")
    assert [c.id for c in found["big.example"]] == ids
    assert len(bodies) == 2 and all(b["after"] == "0" and b["limit"] == 200 for b in bodies)
    keyset = [f for f in bodies[1]["filterGroups"][0]["filters"] if f["propertyName"] == "hs_object_id"]
    assert keyset == [{"propertyName": "hs_object_id", "operator": "GT", "value": ids[199]}]


def test_a_company_without_a_domain_is_not_found_by_domain(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A company whose domain is empty matches no domain search, even its website's."""
    blank = next(c for c in box.company_ids() if box.company(c)["domain"] is None)
    box.edit_company(blank, {"website": "https://blank.example"})
    assert adapter.companies.search_by_domain(["blank.example"]) == {"blank.example": []}


def test_company_search_is_retried_after_a_429_under_the_search_limit(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A 429 SECONDLY on a company search is waited out and retried, as contact searches are."""
    box.throttle_next(endpoint="companies_search", retry_after=0.01)
    found = adapter.companies.search_by_domain(["acme.com"])
    assert "acme.com" in found and adapter.retries["search_companies"] == 1


# ---------------------------------------------------------------------------- read and update
def test_read_companies_100_a_call_leaving_unknown_ids_out(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """Batch reads go 100 ids a call with the asked properties; ids HubSpot does not know are left out."""
    ids = _add_companies(box, 130, "many.example")
    read = adapter.companies.read([*ids, "42", ids[0]], ["domain", "numberofemployees"])
    bodies = _bodies(box, "companies_batch_read")
    assert [c.id for c in read] == ids
    assert [len(b["inputs"]) for b in bodies] == [100, 31]
    assert (
        bodies[0]["properties"] == ["domain", "numberofemployees"]
        and bodies[0]["propertiesWithHistory"] == []
    )
    assert read[0].updated_at is not None and read[0].properties["domain"] == "many.example"


def test_update_companies_lands_valid_values_and_records_each_failure(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A bad value is isolated (the rest is resent and lands); an unknown id is a 207 record failure."""
    box.define_company_property("saber_employee_count", "number")
    box.define_company_property("saber_hiring", "bool")
    good, bad = box.company_ids()[:2]
    result = adapter.companies.update(
        {
            good: {"saber_employee_count": "120", "saber_hiring": "true"},
            bad: {"saber_employee_count": "about 50", "saber_hiring": "false"},
            "31337": {"saber_hiring": "true"},
            box.company_ids()[2]: {},
        }
    )
    assert sorted(result.written) == sorted([good, bad])
    failures = {(f.contact_id, f.property, f.code) for f in result.failures}
    assert failures == {(bad, "saber_employee_count", "INVALID_LONG"), ("31337", None, "OBJECT_NOT_FOUND")}
    assert box.company(good)["saber_employee_count"] == "120" and box.company(bad)["saber_hiring"] == "false"
    assert box.company(bad)["saber_employee_count"] is None
    resent = _bodies(box, "companies_batch_update")[1]["inputs"]
    assert len(_bodies(box, "companies_batch_update")) == 2
    assert next(i for i in resent if i["id"] == bad)["properties"] == {"saber_hiring": "false"}


def test_update_companies_goes_100_a_call_and_retries_a_5xx(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """250 companies are written in 3 calls; a 503 is retried under the call policy and nothing is lost."""
    ids = _add_companies(box, 250, "bulk.example")
    box.fail_next(1, 503, endpoint="companies_batch_update")
    result = adapter.companies.update({cid: {"description": f"n{i}"} for i, cid in enumerate(ids)})
    sizes = [len(b["inputs"]) for b in _bodies(box, "companies_batch_update")]
    assert sizes == [100, 100, 100, 50] and adapter.retries["update_companies"] == 1
    assert sorted(result.written) == sorted(ids) and result.failures == []
    assert box.company(ids[-1])["description"] == "n249"


def test_an_answer_that_omits_a_company_is_a_not_confirmed_failure(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A 200 whose results leave a company out is a NOT_CONFIRMED failure naming a company, not a contact."""
    cid = box.company_ids()[0]
    box.answer_next(
        200,
        {
            "status": "COMPLETE",
            "results": [],
            "startedAt": "2024-01-01T00:00:00Z",
            "completedAt": "2024-01-01T00:00:01Z",
        },
        endpoint="companies_batch_update",
    )
    result = adapter.companies.update({cid: {"description": "x"}})
    (failure,) = result.failures
    assert (
        failure.code == "NOT_CONFIRMED" and failure.message.endswith("this company") and result.written == []
    )


# ---------------------------------------------------------------------------- associations
def test_associations_prefer_the_primary_company_over_a_lower_unlabelled_one(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A contact's primary company comes first and is its company, even when an unlabelled one has a lower id."""
    contact = box.contact_ids()[0]
    low, high = box.company_ids()[0], box.company_ids()[-1]
    box.dissociate(contact)
    box.associate(contact, low)
    box.associate(contact, high, primary=True)
    found = adapter.companies.associations([contact]).contacts[contact]
    assert found.company_ids == (high, low) and found.primary_id == high
    assert found.company_id == high and not found.ambiguous
    body = _bodies(box, "associations_batch_read")[0]
    assert body == {"inputs": [{"id": contact}]}
    assert (
        box.requests_to("associations_batch_read")[0].path
        == "/crm/v4/associations/contacts/companies/batch/read"
    )


def test_associations_for_contacts_without_a_company_or_with_several_unlabelled(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """No company: empty, no failure. Several companies and no primary: ambiguous, no company picked. One unlabelled: that one."""
    none, several, one = box.contact_ids()[:3]
    a, b = box.company_ids()[:2]
    for contact in (none, several, one):
        box.dissociate(contact)
    box.associate(several, a)
    box.associate(several, b)
    box.associate(one, b)
    result = adapter.companies.associations([none, several, one, "999999"])
    assert result.failures == []
    assert result.contacts[none].company_ids == () and result.contacts[none].company_id is None
    assert result.contacts[several].ambiguous and result.contacts[several].company_id is None
    assert result.contacts[one].company_id == b and result.contacts["999999"].company_ids == ()


def test_associations_go_100_contacts_a_call_and_follow_each_contacts_paging(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """150 contacts go ≤100 a call; a contact with more companies than a page is read on with its `after`."""
    box.association_page = 2
    busy = box.contact_ids()[0]
    for cid in box.company_ids()[:5]:
        box.associate(busy, cid)
    contacts = [*box.contact_ids(), *[str(10_000 + i) for i in range(90)]]
    result = adapter.companies.associations(contacts)
    bodies = _bodies(box, "associations_batch_read")
    sizes = [len(b["inputs"]) for b in bodies]
    assert sizes[0] == 100 and max(sizes) == 100 and len(bodies) <= 3
    assert sum(1 for b in bodies for i in b["inputs"] if "after" not in i) == 150  # each contact asked once
    assert (
        set(result.contacts[busy].company_ids) == set(box.company_links(busy))
        and len(result.contacts[busy].company_ids) >= 5
    )
    assert any(i.get("after") for b in bodies[2:] for i in b["inputs"])
    assert all(
        result.contacts[c].company_ids
        == tuple(sorted(box.company_links(c), key=lambda x: (not box.company_links(c)[x], int(x))))
        for c in box.contact_ids()
    )
    assert len(result.contacts) == 150


def test_associations_record_other_per_contact_errors_and_refuse_a_bad_token(box: HubSpotSandbox) -> None:
    """A per-contact error other than 'no associations' is a record failure; a refused token is an auth error."""
    contact = box.contact_ids()[1]
    error = {
        "status": "error",
        "category": "INTERNAL_ERROR",
        "message": "try again",
        "context": {"fromObjectId": [contact]},
        "links": {},
        "errors": [],
    }
    box.answer_next(
        207,
        {
            "status": "COMPLETE",
            "results": [],
            "errors": [error],
            "startedAt": "2024-01-01T00:00:00Z",
            "completedAt": "2024-01-01T00:00:01Z",
        },
        endpoint="associations_batch_read",
    )
    with fast_adapter(box) as hs:
        result = hs.companies.associations([contact])
    assert [(f.contact_id, f.code) for f in result.failures] == [(contact, "INTERNAL_ERROR")]
    assert contact not in result.contacts  # not taken for a contact without companies
    with fast_adapter(box, token="pat-wrong") as refused, pytest.raises(HubSpotAuthError):
        refused.companies.associations([contact])


def test_a_missing_companies_scope_names_the_scope(box: HubSpotSandbox) -> None:
    """A private app without crm.objects.companies.read gets an auth error naming that scope."""
    box.granted_scopes = {"crm.objects.contacts.read"}
    with fast_adapter(box) as hs, pytest.raises(HubSpotAuthError) as caught:
        hs.companies.read([box.company_ids()[0]], ["name"])
    assert caught.value.missing_scopes == ["crm.objects.companies.read"]


def test_company_calls_follow_hubspots_rate_headers_and_searches_their_own_limit() -> None:
    """Company and association calls spread themselves on X-HubSpot-RateLimit-Remaining; company searches
    keep under the per-second search limit: HubSpot never answers 429."""
    with running(
        contacts=10, requests_per_10s=8, rate_window=0.5, searches_per_second=3, search_window=0.3
    ) as small:
        hs = fast_adapter(
            small, requests_per_10s=1_000, searches_per_second=2, search_period=0.3, max_backoff=2.0
        )
        contacts, companies = small.contact_ids(), small.company_ids()
        for _ in range(8):
            hs.companies.read(companies[:3], ["name"])
            hs.companies.associations(contacts[:3])
            hs.companies.search_by_domain(["acme.com"])
        hs.close()
    assert len(small.requests) == 24 and 429 not in {r.status for r in small.requests}
    assert hs.quota is not None and hs.quota.slowed > 0


# ---------------------------------------------------------------------------- properties by object type
def test_property_calls_take_the_object_type(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """Groups, properties and options are read and created on companies apart from contacts."""
    spec = PropertySpec(
        "saber_stage", "Saber stage", "enumeration", "select", "saber", (("Hiring", "hiring"),)
    )
    assert adapter.ensure_group("saber", "Saber", object_type="companies") is True
    assert adapter.ensure_group("saber", "Saber", object_type="companies") is False
    created = adapter.create_property(spec, object_type="companies")
    info, added = adapter.add_property_options(
        "saber_stage", [("Not hiring", "not_hiring")], object_type="companies"
    )
    companies, contacts = adapter.get_properties("companies"), adapter.get_properties()
    assert (
        created.group_name == "saber" and added == ["not_hiring"] and info.options == ("hiring", "not_hiring")
    )
    assert "saber_stage" in companies and "domain" in companies and "firstname" not in companies
    assert "saber_stage" not in contacts and adapter.get_property("saber_stage") is None
    assert adapter.get_property("saber_stage", object_type="companies") == companies["saber_stage"]
    with pytest.raises(HubSpotError) as caught:
        adapter.create_property(spec, object_type="companies")
    assert caught.value.status == 409


def test_setup_object_properties_creates_adds_options_and_reports_conflicts(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """Company specs are created in the group once; missing options are added in the group; a wrong type is a conflict."""
    specs = {
        "saber_hiring": Spec("signals.h.answer", "bool"),
        "saber_stage": Spec("signals.h.answer", "enumeration", {"true": "hiring", "false": "not_hiring"}),
        "numberofemployees": Spec("signals.h.company.employeeCount", "bool"),
    }
    box.define_company_property(
        "saber_stage", "enumeration", group_name="companyinformation", options=["hiring"]
    )
    first = setup_object_properties(adapter, specs, "saber", "Saber", "companies")
    second = setup_object_properties(adapter, specs, "saber", "Saber", "companies")
    assert first.group_created and first.created == ["saber_hiring"] and first.object_type == "companies"
    assert first.conflicts == [
        "saber_stage lacks the options not_hiring, and is not in group saber: add them in HubSpot",
        "numberofemployees is number/number in HubSpot, the mapping writes bool",
    ]
    assert second.created == [] and not second.group_created
    assert "company property group saber: created" in first.render()
    assert box.company_property_names().count("saber_hiring") == 1
    problems = check_object_properties(specs, adapter.get_properties("companies"), "companies")
    assert problems == [
        "company property saber_stage lacks the options not_hiring; it has: hiring",
        "company property numberofemployees is number/number in HubSpot, the mapping writes bool",
    ]
    plan = plan_object_setup(specs, "saber", "Saber", adapter.get_properties("companies"), "companies")
    assert plan.create == [] and plan.exit_code == 2 and "setup --dry-run" not in plan.render()


def test_check_object_properties_names_a_missing_property_with_its_line() -> None:
    """A missing company property is named with the file:line `where` gives and a hint to run setup."""
    problems = check_object_properties(
        {"saber_x": Spec("answer")}, {}, "companies", lambda name: f"m.yaml:9 ({name})"
    )
    assert problems == [
        "m.yaml:9 (saber_x): company property saber_x does not exist in HubSpot (run `saber-connector setup` to create it)"
    ]


# ---------------------------------------------------------------------------- setup and check with a mapping
@pytest.fixture
def portal() -> Iterator[RunningSandbox]:
    """Both sandboxes, small, per test."""
    with start_sandbox(contacts=5, seed=3, research_delay=0.1) as sandbox:
        yield sandbox


def test_setup_creates_the_mapped_company_properties_and_check_passes(
    portal: RunningSandbox, tmp_path: Path
) -> None:
    """`setup` creates every company property of the issue's mapping with HubSpot types; `check` then passes."""
    mapping = write_mapping(tmp_path, COMPANY_MAPPING)
    env = sandbox_env(portal, tmp_path, mapping)
    dry = run_cli("setup", "--dry-run", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "company property group saber: would be created" in dry.stdout
    assert "would create  saber_hiring_stage (enumeration/select" in dry.stdout
    assert portal.hubspot.company_property_names().count("saber_hiring_engineers") == 0
    proc = run_cli("setup", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "company property group saber: created" in proc.stdout
    assert "created  saber_funding_news_at (company)" in proc.stdout
    stored = {name: portal.hubspot._company_schema[name] for name in COMPANY_TYPES}
    assert {n: (p.type, p.field_type) for n, p in stored.items()} == COMPANY_TYPES
    assert all(p.group_name == "saber" for p in stored.values())
    assert [o["value"] for o in stored["saber_hiring_stage"].options] == ["hiring", "not_hiring"]
    assert "saber_hiring_engineers" not in portal.hubspot.property_names()  # not on contacts
    report = run_checks(settings_for(portal, tmp_path, mapping))
    assert report.exit_code == 0, report.render()
    assert any("all 6 mapped company properties exist" in line for line in report.lines)


def test_check_names_a_missing_or_mistyped_company_property_with_file_and_line(
    portal: RunningSandbox, tmp_path: Path
) -> None:
    """Before `setup`, `check` exits 2 naming each missing company property at its line; a wrong type too."""
    mapping = write_mapping(tmp_path, COMPANY_MAPPING)
    portal.hubspot.define_company_property("saber_employee_count", "string")
    proc = run_cli("check", env=sandbox_env(portal, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = next(
        i for i, text in enumerate(COMPANY_MAPPING.splitlines(), 1) if "saber_funding_news_at" in text
    )
    assert (
        f"{mapping}:{line}: company property saber_funding_news_at does not exist in HubSpot" in proc.stdout
    )
    assert (
        "company property saber_employee_count is string/text in HubSpot, the mapping writes number"
        in proc.stdout
    )


def test_setup_in_process_reports_company_conflicts_with_the_contact_ones(
    portal: RunningSandbox, tmp_path: Path
) -> None:
    """`setup_properties` folds the company side in: names marked (company), conflicts as company property ones."""
    mapping_path = write_mapping(tmp_path, COMPANY_MAPPING)
    portal.hubspot.define_company_property("saber_hiring_engineers", "number")
    mapping = load_mapping(mapping_path)
    with hubspot_from(settings_for(portal, tmp_path, mapping_path)) as hubspot:
        report = setup_properties(mapping, hubspot)
        plan = plan_setup(mapping, hubspot.get_properties(), hubspot.get_properties("companies"))
    assert report.created[0] == "saber_summary" and "saber_funding_news (company)" in report.created
    assert report.conflicts == [
        "company property saber_hiring_engineers is number/number in HubSpot, the mapping writes bool"
    ]
    assert plan.exit_code == 2 and plan.companies is not None and plan.companies.create == []


def test_a_repeated_association_cursor_ends_the_paging(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """An answer that keeps giving the same `after` for a contact is read twice, not forever."""
    contact, company = box.contact_ids()[0], box.company_ids()[0]
    entry = {
        "from": {"id": contact},
        "to": [
            {"toObjectId": int(company), "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1}]}
        ],
        "paging": {"next": {"after": "7"}},
    }
    body = {
        "status": "COMPLETE",
        "results": [entry],
        "startedAt": "2024-01-01T00:00:00Z",
        "completedAt": "2024-01-01T00:00:01Z",
    }
    box.answer_next(200, body, endpoint="associations_batch_read", count=3)
    result = adapter.companies.associations([contact])
    assert box.count("associations_batch_read") == 2
    assert result.contacts[contact].primary_id == company
