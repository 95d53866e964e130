"""The HubSpot sandbox, over plain HTTP: it must refuse and answer what HubSpot does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import hubspot
import pytest
import urllib3
from hubspot.crm.contacts import PublicObjectSearchRequest

from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.hubspot_schema import to_epoch_ms
from connector.sandbox.seed import seed_contacts
from tests.hubspot_fixtures import (
    BATCH_READ,
    BATCH_UPDATE,
    CONTACTS,
    GROUPS,
    PROPERTIES,
    SEARCH,
    embedded_errors,
    http,
    running,
    statuses,
)

Row = dict[str, str | None]


@pytest.fixture(scope="module")
def box() -> Iterator[HubSpotSandbox]:
    """A 120-contact portal with one custom property of each type; tests must not change its contacts."""
    with running(contacts=120, seed=11) as sandbox:
        _define_typed_properties(sandbox)
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[HubSpotSandbox]:
    """A small portal a test may change."""
    with running(contacts=10, seed=5) as sandbox:
        _define_typed_properties(sandbox)
        yield sandbox


def _define_typed_properties(sandbox: HubSpotSandbox) -> None:
    sandbox.define_property("score", "number")
    sandbox.define_property("is_vip", "bool")
    sandbox.define_property("renewal_date", "date")
    sandbox.define_property("last_seen_at", "datetime")
    sandbox.define_property("tier", "enumeration", "select", options=["gold", "silver"])
    sandbox.define_property("stacks", "enumeration", "checkbox", options=["aws", "gcp", "azure"])
    sandbox.define_property("notes", "string", "textarea")


def _search(sandbox: HubSpotSandbox, body: dict[str, Any]) -> dict[str, Any]:
    with http(sandbox) as client:
        answer = client.post(SEARCH, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _search_all(sandbox: HubSpotSandbox, filters: list[dict[str, Any]]) -> list[str]:
    body = {"filterGroups": [{"filters": filters}], "limit": 200}
    return [r["id"] for r in _search(sandbox, body)["results"]]


def _rows(sandbox: HubSpotSandbox) -> dict[str, Row]:
    return {cid: sandbox.contact(cid) for cid in sandbox.contact_ids()}


# ------------------------------------------------------------------------------ auth
@pytest.mark.parametrize("token", ["", "pat-na1-wrong"])
def test_missing_or_wrong_token_gets_401_with_hubspots_error_body(box: HubSpotSandbox, token: str) -> None:
    """Without the right bearer token every endpoint answers 401 INVALID_AUTHENTICATION."""
    with http(box, token=token) as client:
        answer = client.get(CONTACTS)
    assert answer.status_code == 401
    body = answer.json()
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found")
    assert len(body["correlationId"]) == 36


# ------------------------------------------------------------------------------ list / get
def test_list_pages_with_after_cursor_and_link_until_the_last_page(box: HubSpotSandbox) -> None:
    """Listing returns every contact once; paging.next (after + link) is present only while more remain."""
    seen: list[str] = []
    after = None
    with http(box) as client:
        while True:
            params = {"limit": 50, **({"after": after} if after else {})}
            body = client.get(CONTACTS, params=params).json()
            seen += [r["id"] for r in body["results"]]
            if "paging" not in body:
                break
            after = body["paging"]["next"]["after"]
            assert body["paging"]["next"]["link"].endswith(f"after={after}")
    assert seen == box.contact_ids()
    assert len(seen) == 120


def test_list_limit_over_100_is_400(box: HubSpotSandbox) -> None:
    """HubSpot's list endpoint caps limit at 100."""
    with http(box) as client:
        answer = client.get(CONTACTS, params={"limit": 101})
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_get_returns_default_properties_plus_requested_in_either_query_form(box: HubSpotSandbox) -> None:
    """Defaults always come back; extras may be comma-separated or repeated; values are strings or null."""
    cid = box.contact_ids()[3]
    with http(box) as client:
        comma = client.get(f"{CONTACTS}/{cid}", params={"properties": "company,jobtitle"}).json()
        repeated = client.get(f"{CONTACTS}/{cid}?properties=company&properties=jobtitle").json()
        missing = client.get(f"{CONTACTS}/999999999")
    assert comma == repeated
    expected = {"createdate", "email", "firstname", "lastname", "hs_object_id", "lastmodifieddate"}
    assert set(comma["properties"]) == expected | {"company", "jobtitle"}
    assert comma["properties"]["hs_object_id"] == cid
    assert all(v is None or isinstance(v, str) for v in comma["properties"].values())
    assert comma["archived"] is False
    assert comma["updatedAt"] == comma["properties"]["lastmodifieddate"]
    assert missing.status_code == 404
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_standard_property_values_are_iso_with_milliseconds_and_z(box: HubSpotSandbox) -> None:
    """Timestamps look like HubSpot's: 2024-01-02T03:04:05.678Z."""
    row = box.contact(box.contact_ids()[0])
    for name in ("createdate", "lastmodifieddate", "hs_lastmodifieddate"):
        value = row[name]
        assert value is not None and len(value) == 24 and value.endswith("Z") and value[19] == "."


# ------------------------------------------------------------------------------ search
def _lower(value: str | None) -> str:
    return (value or "").lower()


def _ms_of(row: Row) -> int:
    return to_epoch_ms(row["lastmodifieddate"] or "") or 0


MIDDLE_ID = 150  # ids start at 51 and step 1-3: numerically, not as text ("99" > "150")
WINDOW = (to_epoch_ms("2023-01-03T00:00:00.000Z") or 0, to_epoch_ms("2023-02-01T00:00:00.000Z") or 0)

OPERATOR_CASES: list[tuple[str, dict[str, Any], Callable[[Row], bool]]] = [
    (
        "EQ ignores case",
        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "LEAD"},
        lambda r: r.get("lifecyclestage") == "lead",
    ),
    (
        "NEQ",
        {"propertyName": "lifecyclestage", "operator": "NEQ", "value": "lead"},
        lambda r: r.get("lifecyclestage") != "lead",
    ),
    (
        "GT on ids is numeric",
        {"propertyName": "hs_object_id", "operator": "GT", "value": str(MIDDLE_ID)},
        lambda r: int(r["hs_object_id"] or 0) > MIDDLE_ID,
    ),
    (
        "GTE",
        {"propertyName": "hs_object_id", "operator": "GTE", "value": "99"},
        lambda r: int(r["hs_object_id"] or 0) >= 99,
    ),
    (
        "LT",
        {"propertyName": "hs_object_id", "operator": "LT", "value": "99"},
        lambda r: int(r["hs_object_id"] or 0) < 99,
    ),
    (
        "LTE",
        {"propertyName": "hs_object_id", "operator": "LTE", "value": str(MIDDLE_ID)},
        lambda r: int(r["hs_object_id"] or 0) <= MIDDLE_ID,
    ),
    (
        "IN ignores case",
        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["Customer", "subscriber"]},
        lambda r: r.get("lifecyclestage") in ("customer", "subscriber"),
    ),
    (
        "NOT_IN",
        {
            "propertyName": "lifecyclestage",
            "operator": "NOT_IN",
            "values": ["lead", "marketingqualifiedlead"],
        },
        lambda r: r.get("lifecyclestage") not in ("lead", "marketingqualifiedlead"),
    ),
    (
        "HAS_PROPERTY",
        {"propertyName": "website", "operator": "HAS_PROPERTY"},
        lambda r: bool(r.get("website")),
    ),
    (
        "NOT_HAS_PROPERTY",
        {"propertyName": "company", "operator": "NOT_HAS_PROPERTY"},
        lambda r: not r.get("company"),
    ),
    (
        "BETWEEN datetimes as epoch ms",
        {
            "propertyName": "lastmodifieddate",
            "operator": "BETWEEN",
            "value": str(WINDOW[0]),
            "highValue": str(WINDOW[1]),
        },
        lambda r: WINDOW[0] <= _ms_of(r) <= WINDOW[1],
    ),
    (
        "GTE datetime given as ISO",
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "2023-02-01T00:00:00Z"},
        lambda r: _ms_of(r) >= WINDOW[1],
    ),
    (
        "CONTAINS_TOKEN with a wildcard",
        {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@gmail.com"},
        lambda r: _lower(r.get("email")).endswith("@gmail.com"),
    ),
]


@pytest.mark.parametrize(("case", "flt", "expected"), OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES])
def test_each_search_operator_matches_what_hubspot_would(
    box: HubSpotSandbox, case: str, flt: dict[str, Any], expected: Callable[[Row], bool]
) -> None:
    """Each operator selects exactly the contacts its HubSpot meaning selects."""
    want = [cid for cid, row in _rows(box).items() if expected(row)]
    assert want, f"{case}: the seed gives no matching contact, the case proves nothing"
    assert _search_all(box, [flt]) == want


def test_search_answer_shape_total_and_offset_paging(box: HubSpotSandbox) -> None:
    """Search answers total, results and paging.next.after (an offset) only while more remain."""
    first = _search(box, {"limit": 100, "properties": ["company"]})
    assert first["total"] == 120
    assert first["paging"]["next"]["after"] == "100"
    assert "company" in first["results"][0]["properties"]
    rest = _search(box, {"limit": 100, "after": "100"})
    assert "paging" not in rest
    assert [r["id"] for r in first["results"] + rest["results"]] == box.contact_ids()


def test_filter_groups_are_ored_and_filters_anded(box: HubSpotSandbox) -> None:
    """Two groups give the union; filters in a group must all hold."""
    groups = [
        {
            "filters": [
                {"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"},
                {"propertyName": "website", "operator": "HAS_PROPERTY"},
            ]
        },
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "subscriber"}]},
    ]
    got = [r["id"] for r in _search(box, {"filterGroups": groups, "limit": 200})["results"]]
    rows = _rows(box)
    want = [
        cid
        for cid, r in rows.items()
        if (r.get("lifecyclestage") == "customer" and r.get("website"))
        or r.get("lifecyclestage") == "subscriber"
    ]
    assert got == want


@pytest.mark.parametrize(
    "sorts",
    [[{"propertyName": "lastname", "direction": "DESCENDING"}], ["-lastname"]],
    ids=["object form", "string form"],
)
def test_search_sorts_descending_with_missing_values_last(box: HubSpotSandbox, sorts: list[Any]) -> None:
    """Sorting orders by the property (ignoring case); contacts without a value come last."""
    got = [r["properties"]["lastname"] for r in _search(box, {"sorts": sorts, "limit": 200})["results"]]
    present = [v for v in got if v is not None]
    assert present == sorted(present, key=str.lower, reverse=True)
    assert got[len(present) :] == [None] * (len(got) - len(present))


def test_search_sort_ascending_by_id_is_numeric(box: HubSpotSandbox) -> None:
    """hs_object_id sorts as a number, not as text."""
    body = {"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200}
    ids = [int(r["id"]) for r in _search(box, body)["results"]]
    assert ids == sorted(ids) and ids[0] < 100 < ids[-1]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"limit": 201}, "limit"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}]},
            "at most 6",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6},
            "at most 5",
        ),
        ({"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "HAS_PROPERTY"}]}]}, "nope"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]},
            "LIKE",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "score", "operator": "GT", "value": "ten"}]}]},
            "ten",
        ),
    ],
    ids=["limit>200", "7 filters", "6 groups", "unknown property", "unknown operator", "bad number"],
)
def test_invalid_searches_are_400_validation_errors(
    box: HubSpotSandbox, body: dict[str, Any], fragment: str
) -> None:
    """Searches HubSpot refuses get 400 VALIDATION_ERROR naming the problem."""
    with http(box) as client:
        answer = client.post(SEARCH, json=body)
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"
    assert fragment in answer.json()["message"]


def test_six_filters_in_a_group_are_accepted(box: HubSpotSandbox) -> None:
    """Six filters per group is HubSpot's limit, not over it."""
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    assert _search(box, {"filterGroups": [{"filters": [flt] * 6}]})["total"] == 120


def test_paging_past_10000_results_is_400() -> None:
    """after + limit may reach 10,000 but not pass it, however many contacts match."""
    with running(contacts=10_050, seed=2) as big, http(big) as client:
        last_page = client.post(SEARCH, json={"limit": 200, "after": "9800"})
        assert last_page.status_code == 200
        assert last_page.json()["total"] == 10_050
        assert last_page.json()["paging"]["next"]["after"] == "10000"  # HubSpot still offers it...
        beyond = client.post(SEARCH, json={"limit": 200, "after": "10000"})  # ...then refuses it
        straddling = client.post(SEARCH, json={"limit": 200, "after": "9900"})
    assert beyond.status_code == 400 and straddling.status_code == 400
    assert beyond.json()["category"] == "VALIDATION_ERROR"


def test_search_over_100000_contacts_answers_quickly() -> None:
    """A filtered search over a 100,000-contact portal answers well under a second."""
    with running(contacts=100_000, seed=1) as big:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["lead"]},
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1680000000000"},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": "150000"},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": 200,
        }
        started = time.perf_counter()
        first = _search(big, body)
        took = time.perf_counter() - started
    assert first["total"] > 1_000 and len(first["results"]) == 200
    assert took < 1.0


# ------------------------------------------------------------------------------ batch read
def test_batch_read_unknown_ids_give_207_with_per_record_errors(box: HubSpotSandbox) -> None:
    """Known ids come back; unknown ones are listed in an OBJECT_NOT_FOUND error's context."""
    known = box.contact_ids()[:2]
    inputs = [{"id": known[0]}, {"id": "424242"}, {"id": known[1]}, {"id": "nope"}]
    with http(box) as client:
        answer = client.post(BATCH_READ, json={"inputs": inputs, "properties": ["company"]})
    assert answer.status_code == 207
    body = answer.json()
    assert body["status"] == "COMPLETE"
    assert [r["id"] for r in body["results"]] == known
    assert "company" in body["results"][0]["properties"]
    assert body["numErrors"] == 1
    (error,) = body["errors"]
    assert error["status"] == "error" and error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["424242", "nope"]}


def test_batch_read_by_email_and_over_100_inputs(box: HubSpotSandbox) -> None:
    """idProperty=email looks contacts up by email; more than 100 inputs is a 400."""
    cid = box.contact_ids()[5]
    email = box.contact(cid)["email"] or ""
    with http(box) as client:
        by_email = client.post(BATCH_READ, json={"inputs": [{"id": email.upper()}], "idProperty": "email"})
        too_many = client.post(BATCH_READ, json={"inputs": [{"id": str(i)} for i in range(101)]})
    assert by_email.status_code == 200 and by_email.json()["results"][0]["id"] == cid
    assert too_many.status_code == 400


# ------------------------------------------------------------------------------ batch update
INVALID_VALUES = [
    ("score", "1,000", "INVALID_LONG"),
    ("score", "abc", "INVALID_LONG"),
    ("score", "1.2.3", "INVALID_LONG"),
    ("is_vip", "yes", "INVALID_BOOLEAN"),
    ("renewal_date", "1700000000000", "INVALID_DATE"),  # 2023-11-14T22:13:20Z: not midnight
    ("renewal_date", "15/01/2024", "INVALID_DATE"),
    ("last_seen_at", "tomorrow", "INVALID_LONG"),
    ("tier", "platinum", "INVALID_OPTION"),
    ("tier", "Gold", "INVALID_OPTION"),  # options are case-sensitive values
    ("stacks", "aws;oracle", "INVALID_OPTION"),
    ("score", " 5", "LEADING_TRAILING_WHITESPACE"),
    ("tier", "gold ", "LEADING_TRAILING_WHITESPACE"),
    ("notes", "x" * 65_537, "MAX_LENGTH_EXCEEDED"),
    ("no_such_property", "x", "PROPERTY_DOESNT_EXIST"),
    ("hs_object_id", "1", "READ_ONLY_VALUE"),
    ("lastmodifieddate", "1700000000000", "READ_ONLY_VALUE"),
]


@pytest.mark.parametrize(
    ("name", "value", "code"), INVALID_VALUES, ids=[f"{c[0]}={c[1][:12]!r}" for c in INVALID_VALUES]
)
def test_one_invalid_value_rejects_the_whole_batch_with_embedded_errors(
    fresh: HubSpotSandbox, name: str, value: str, code: str
) -> None:
    """An invalid value gives 400 VALIDATION_ERROR, per-property errors as JSON text; nothing is written."""
    good, bad = fresh.contact_ids()[:2]
    before = {cid: fresh.contact(cid) for cid in (good, bad)}
    inputs = [{"id": good, "properties": {"jobtitle": "Changed"}}, {"id": bad, "properties": {name: value}}]
    with http(fresh) as client:
        answer = client.post(BATCH_UPDATE, json={"inputs": inputs})
    assert answer.status_code == 400
    body = answer.json()
    assert body["category"] == "VALIDATION_ERROR" and body["status"] == "error" and body["correlationId"]
    (error,) = embedded_errors(body)
    assert error["isValid"] is False
    assert error["error"] == code
    assert error["name"] == name
    assert error["message"] and error["localizedErrorMessage"]
    assert {cid: fresh.contact(cid) for cid in (good, bad)} == before


VALID_VALUES = [
    ("score", "1000", "1000"),
    ("score", "-0.75", "-0.75"),
    ("is_vip", "true", "true"),
    ("renewal_date", "2024-01-15", "2024-01-15"),
    ("renewal_date", "1705276800000", "2024-01-15"),  # midnight UTC in epoch ms
    ("last_seen_at", "1705312245123", "2024-01-15T09:50:45.123Z"),
    ("last_seen_at", "2024-01-15T09:50:45Z", "2024-01-15T09:50:45.000Z"),
    ("tier", "gold", "gold"),
    ("stacks", "aws;gcp", "aws;gcp"),
    ("notes", " padded text is fine ", " padded text is fine "),
    ("notes", "x" * 65_536, "x" * 65_536),
    ("jobtitle", "", None),  # the empty string clears a value
]


@pytest.mark.parametrize(
    ("name", "value", "stored"), VALID_VALUES, ids=[f"{c[0]}={c[1][:14]!r}" for c in VALID_VALUES]
)
def test_valid_values_are_written_as_hubspot_stores_them(
    fresh: HubSpotSandbox, name: str, value: str, stored: str | None
) -> None:
    """Accepted values land, normalised the way HubSpot returns them."""
    cid = fresh.contact_ids()[0]
    with http(fresh) as client:
        answer = client.post(BATCH_UPDATE, json={"inputs": [{"id": cid, "properties": {name: value}}]})
    assert answer.status_code == 200, answer.text
    assert fresh.contact(cid).get(name) == stored
    assert answer.json()["results"][0]["properties"][name] == stored


def test_unknown_ids_give_207_and_the_rest_is_written(fresh: HubSpotSandbox) -> None:
    """A valid batch with an unknown id writes the known contacts and reports the unknown one."""
    a, b = fresh.contact_ids()[:2]
    inputs = [
        {"id": a, "properties": {"jobtitle": "A"}},
        {"id": "31337", "properties": {"jobtitle": "ghost"}},
        {"id": b, "properties": {"jobtitle": "B"}},
    ]
    with http(fresh) as client:
        answer = client.post(BATCH_UPDATE, json={"inputs": inputs})
    assert answer.status_code == 207
    body = answer.json()
    assert sorted(r["id"] for r in body["results"]) == sorted([a, b])
    assert body["numErrors"] == 1 and body["errors"][0]["context"] == {"ids": ["31337"]}
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert (fresh.contact(a)["jobtitle"], fresh.contact(b)["jobtitle"]) == ("A", "B")


@pytest.mark.parametrize(
    "inputs",
    [
        [{"id": str(i), "properties": {"jobtitle": "x"}} for i in range(101)],
        [{"id": "51", "properties": {"jobtitle": "x"}}, {"id": "51", "properties": {"jobtitle": "y"}}],
    ],
    ids=["101 inputs", "duplicate ids"],
)
def test_oversize_or_duplicate_batches_are_400(fresh: HubSpotSandbox, inputs: list[dict[str, Any]]) -> None:
    """Over 100 inputs, or the same id twice, is refused outright."""
    with http(fresh) as client:
        answer = client.post(BATCH_UPDATE, json={"inputs": inputs})
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


def test_writes_bump_lastmodifieddate_only_for_written_contacts(fresh: HubSpotSandbox) -> None:
    """lastmodifieddate and hs_lastmodifieddate move forward on a write, and only there."""
    written, untouched = fresh.contact_ids()[:2]
    before = {cid: fresh.contact(cid) for cid in (written, untouched)}
    with http(fresh) as client:
        client.post(BATCH_UPDATE, json={"inputs": [{"id": written, "properties": {"jobtitle": "New"}}]})
    after = fresh.contact(written)
    assert after["lastmodifieddate"] == after["hs_lastmodifieddate"]
    assert (to_epoch_ms(after["lastmodifieddate"] or "") or 0) > (
        to_epoch_ms(before[written]["lastmodifieddate"] or "") or 0
    )
    assert fresh.contact(untouched) == before[untouched]


def test_patch_one_contact_validates_and_404s(fresh: HubSpotSandbox) -> None:
    """PATCH on one contact writes valid values, refuses invalid ones like a batch, and 404s unknown ids."""
    cid = fresh.contact_ids()[0]
    with http(fresh) as client:
        ok = client.patch(f"{CONTACTS}/{cid}", json={"properties": {"score": "7"}})
        bad = client.patch(f"{CONTACTS}/{cid}", json={"properties": {"score": "seven"}})
        missing = client.patch(f"{CONTACTS}/777777", json={"properties": {"score": "7"}})
    assert ok.status_code == 200 and ok.json()["properties"]["score"] == "7"
    assert bad.status_code == 400 and embedded_errors(bad.json())[0]["error"] == "INVALID_LONG"
    assert missing.status_code == 404
    assert fresh.contact(cid)["score"] == "7"


def test_edit_and_add_helpers_behave_like_a_person_in_hubspot(fresh: HubSpotSandbox) -> None:
    """edit_contact bumps lastmodifieddate; add_contact gives a higher id; unknown properties are refused."""
    cid = fresh.contact_ids()[0]
    before = fresh.contact(cid)["lastmodifieddate"] or ""
    fresh.edit_contact(cid, {"company": "Brand New Ltd"})
    assert fresh.contact(cid)["company"] == "Brand New Ltd"
    assert (to_epoch_ms(fresh.contact(cid)["lastmodifieddate"] or "") or 0) > (to_epoch_ms(before) or 0)
    new = fresh.add_contact({"firstname": "Zoë", "email": "zoe@example.com"})
    assert int(new) > int(cid) and fresh.contact(new)["hs_object_id"] == new
    with pytest.raises(ValueError, match="no_such"):
        fresh.edit_contact(cid, {"no_such": "x"})


# ------------------------------------------------------------------------------ properties and groups
def test_properties_and_groups_create_get_list_and_409(fresh: HubSpotSandbox) -> None:
    """Groups and properties are created (201), listed, fetched, and a second create is a 409."""
    prop = {
        "name": "saber_tier",
        "label": "Saber tier",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "saber",
        "options": [{"label": "Gold", "value": "gold"}],
    }
    with http(fresh) as client:
        orphan = client.post(PROPERTIES, json=prop)
        group = client.post(GROUPS, json={"name": "saber", "label": "Saber"})
        group_again = client.post(GROUPS, json={"name": "saber", "label": "Saber"})
        created = client.post(PROPERTIES, json=prop)
        again = client.post(PROPERTIES, json=prop)
        fetched = client.get(f"{PROPERTIES}/saber_tier")
        groups = client.get(GROUPS)  # not a property called "groups"
        one_group = client.get(f"{GROUPS}/saber")
        listed = client.get(PROPERTIES)
        wrong_type = client.post(PROPERTIES, json={**prop, "name": "saber_x", "type": "number"})
    assert orphan.status_code == 400  # its group does not exist yet
    assert group.status_code == 201 and group.json() == {
        "name": "saber",
        "label": "Saber",
        "displayOrder": -1,
        "archived": False,
    }
    assert group_again.status_code == 409
    assert created.status_code == 201
    body = created.json()
    assert body["options"] == [{"label": "Gold", "value": "gold", "displayOrder": 0, "hidden": False}]
    assert body["modificationMetadata"]["readOnlyValue"] is False
    assert again.status_code == 409
    assert again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    assert again.json()["message"] == "A property named 'saber_tier' already exists."
    assert fetched.json()["name"] == "saber_tier"
    assert "saber" in [g["name"] for g in groups.json()["results"]]
    assert one_group.json()["label"] == "Saber"
    assert "saber_tier" in [p["name"] for p in listed.json()["results"]]
    assert wrong_type.status_code == 400


def test_standard_properties_are_seeded_in_contactinformation(box: HubSpotSandbox) -> None:
    """HubSpot's standard contact properties exist, linkedin_url as a custom one, with lifecycle stages."""
    with http(box) as client:
        props = {p["name"]: p for p in client.get(PROPERTIES).json()["results"]}
    for name in ("firstname", "lastname", "email", "company", "website", "jobtitle", "phone", "linkedin_url"):
        assert props[name]["type"] == "string" and props[name]["groupName"] == "contactinformation"
    assert props["linkedin_url"]["hubspotDefined"] is False
    assert "hs_linkedin_url" not in props
    stages = [o["value"] for o in props["lifecyclestage"]["options"]]
    assert stages == [
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
        "other",
    ]
    assert props["hs_object_id"]["modificationMetadata"]["readOnlyValue"] is True


def test_the_official_client_deserialises_every_answer(fresh: HubSpotSandbox) -> None:
    """hubspot-api-client 12.x reads the sandbox's answers without complaint (required fields present)."""
    client = hubspot.HubSpot(access_token=fresh.token, host=fresh.url, retry=urllib3.Retry(total=0))
    ids = fresh.contact_ids()[:2]
    page = client.crm.contacts.basic_api.get_page(limit=2, properties=["company"])
    found = client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(limit=1, properties=["jobtitle"])
    )
    read = client.crm.contacts.batch_api.read(
        batch_read_input_simple_public_object_id={"inputs": [{"id": ids[0]}, {"id": "1"}], "properties": []}
    )
    props = client.crm.properties.core_api.get_all(object_type="contacts")
    one = client.crm.properties.core_api.get_by_name(object_type="contacts", property_name="tier")
    groups = client.crm.properties.groups_api.get_all(object_type="contacts")
    assert [c.id for c in page.results] == ids and page.paging.next.after
    assert found.total == 10 and found.results[0].updated_at is not None
    assert read.errors[0].context == {"ids": ["1"]}
    assert "stacks" in [p.name for p in props.results]
    assert [o.value for o in one.options] == ["gold", "silver"]
    assert groups.results[0].name == "contactinformation"


# ------------------------------------------------------------------------------ rate limits
def test_ten_secondly_limit_answers_429_with_hubspots_body_and_headers() -> None:
    """Over requests_per_10s in the rolling window: 429 TEN_SECONDLY_ROLLING with rate-limit headers."""
    with running(contacts=3, requests_per_10s=3) as small, http(small) as client:
        answers = [client.get(CONTACTS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in answers[0].headers
    body = answers[3].json()
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["correlationId"] and body["groupName"]
    assert answers[3].headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_every_call_but_search_reports_what_is_left_of_the_window() -> None:
    """Lists, batch reads and updates, properties and groups each carry Max, Remaining and the window; search none."""
    with running(contacts=3, requests_per_10s=50) as small, http(small) as client:
        cid = small.contact_ids()[0]
        answers = [
            client.get(CONTACTS),
            client.post(BATCH_READ, json={"inputs": [{"id": cid}], "properties": ["email"]}),
            client.post(BATCH_UPDATE, json={"inputs": [{"id": cid, "properties": {"jobtitle": "CTO"}}]}),
            client.get(PROPERTIES),
            client.get(GROUPS),
        ]
        search = client.post(SEARCH, json={})
    assert [a.status_code for a in answers] == [200] * 5 and search.status_code == 200
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers] == ["49", "48", "47", "46", "45"]
    assert {a.headers["X-HubSpot-RateLimit-Max"] for a in answers} == {"50"}
    assert {a.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] for a in answers} == {"10000"}
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in search.headers)


def test_search_limit_is_per_second_with_no_rate_limit_headers() -> None:
    """Searches have their own per-second limit (policy SECONDLY) and carry no rate-limit headers."""
    with running(contacts=3, searches_per_second=2) as small, http(small) as client:
        answers = [client.post(SEARCH, json={}) for _ in range(3)]
        listing = client.get(CONTACTS)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["policyName"] == "SECONDLY"
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for h in answers[0].headers)
    assert listing.status_code == 200  # searches do not use up the ten-second budget


def test_daily_limit_answers_429_with_policy_daily() -> None:
    """Past the daily limit every call is a 429 with policyName DAILY."""
    with running(contacts=3, daily_limit=2) as small, http(small) as client:
        answers = [client.get(CONTACTS) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["policyName"] == "DAILY"
    assert answers[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_scripted_throttle_looks_like_hubspots_and_retry_after_only_when_given(fresh: HubSpotSandbox) -> None:
    """throttle_next gives HubSpot's 429 body; Retry-After appears only if a retry_after was scripted."""
    fresh.throttle_next(endpoint="contacts_list", retry_after=None)  # type: ignore[arg-type]
    fresh.throttle_next(endpoint="contacts_list", retry_after=2)
    with http(fresh) as client:
        plain, hinted = client.get(CONTACTS), client.get(CONTACTS)
    assert plain.status_code == hinted.status_code == 429
    assert plain.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "Retry-After" not in plain.headers
    assert plain.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert hinted.headers["Retry-After"] == "2"
    assert statuses(fresh, "contacts_list") == [429, 429]


def test_scripted_5xx_uses_hubspots_error_shape(fresh: HubSpotSandbox) -> None:
    """fail_next answers with HubSpot's error JSON."""
    fresh.fail_next(status=502, endpoint="contacts_search")
    with http(fresh) as client:
        answer = client.post(SEARCH, json={})
    assert answer.status_code == 502
    assert answer.json()["status"] == "error" and answer.json()["category"] == "INTERNAL_ERROR"


# ------------------------------------------------------------------------------ seed
def test_seed_is_deterministic_and_realistically_messy() -> None:
    """The same seed gives the same contacts, with non-ASCII names, free mail, varied websites and gaps."""
    rows = seed_contacts(2_000, 7)
    assert rows == seed_contacts(2_000, 7)
    assert rows != seed_contacts(2_000, 8)
    names = {r["firstname"] for r in rows} | {r["lastname"] for r in rows}
    assert {"José", "Zoë", "Łukasz", "Søren", "田中"} <= names
    emails = [r["email"] or "" for r in rows]
    assert len(set(emails)) == len(emails)
    free = sum(e.endswith(("@gmail.com", "@outlook.com", "@yahoo.com")) for e in emails)
    assert 0.05 * len(rows) < free < 0.3 * len(rows)
    websites = [r["website"] for r in rows if r["website"]]
    assert any(w.startswith("https://www.") for w in websites) and any("://" not in w for w in websites)
    assert any(w.endswith("/about") for w in websites)
    assert any(r["company"] is None and r["website"] is None for r in rows)
    assert any(r["lastname"] is None for r in rows)
    stages = [r["lifecyclestage"] for r in rows]
    assert stages.count("lead") + stages.count("marketingqualifiedlead") > 0.6 * len(rows)
    linked = [r["linkedin_url"] for r in rows if r["linkedin_url"]]
    assert len(linked) > 0.7 * len(rows) and all(u.startswith("https://www.linkedin.com/in/") for u in linked)
