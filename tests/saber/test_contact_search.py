"""Saber's contact search over real HTTP: the sandbox holds to Saber's schema, the client pages and types it.

`POST /v1/contacts/search` finds people at a company through the key owner's Sales Navigator:
deterministic people per company URL in the sandbox, filters, `limit`/`offset` paging with
`total`/`hasMore`, `salesNavConnected: false`, a 422 for a URL Saber cannot process and a 400
naming the filter at fault; the client walks the pages lazily and types every answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

import httpx
import pytest

from connector.saber import InsufficientCredits, SaberAuthError, SaberClient, SaberRequestError
from connector.saber.contact_search import (
    CONTACT_SEARCH_PATH,
    OPERATION,
    CompanyUrlRejected,
    ContactSearch,
    SalesNavigatorNotConnected,
    SearchFilterRejected,
)
from connector.sandbox.saber import SaberSandbox
from connector.sandbox.saber_search import company_key
from connector.sandbox.seed import FIRST_NAMES, LAST_NAMES, seed_contacts
from tests.saber.test_saber_client import make_client

ACME = "https://www.linkedin.com/company/acme-labs"
GLOBEX = "https://www.linkedin.com/company/globex"


@pytest.fixture
def box() -> Iterator[SaberSandbox]:
    with SaberSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def http(box: SaberSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.url, headers={"Authorization": f"Bearer {box.api_key}"}) as client:
        yield client


@pytest.fixture
def saber(box: SaberSandbox) -> Iterator[SaberClient]:
    with make_client(box) as client:
        yield client


def search(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post(CONTACT_SEARCH_PATH, json=body)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# ---------------------------------------------------------------------------------- sandbox
def test_the_same_company_url_always_finds_the_same_people(http: httpx.Client) -> None:
    """People are seeded from the company URL: another sandbox, another spelling of the URL, the same people."""
    first = search(http, companyLinkedInUrls=[ACME], limit=100).json()
    with SaberSandbox() as other, httpx.Client(base_url=other.url) as again:
        again.headers["Authorization"] = f"Bearer {other.api_key}"
        spelt = search(
            again, companyLinkedInUrls=["http://linkedin.com/company/ACME-LABS/"], limit=100
        ).json()
    assert first["items"] and first["items"] == spelt["items"]
    assert search(http, companyLinkedInUrls=[GLOBEX], limit=100).json()["items"] != first["items"]


def test_found_people_have_the_published_fields_and_some_have_no_sales_navigator_url(
    http: httpx.Client,
) -> None:
    """Items carry firstName, lastName, fullName, role and location; some lack a Sales Navigator URL."""
    items = []
    for n in range(8):
        url = f"https://www.linkedin.com/company/company-{n}"
        items += search(http, companyLinkedInUrls=[url], limit=100).json()["items"]
    assert all({"firstName", "lastName", "fullName", "role", "location"} <= item.keys() for item in items)
    with_url = [i for i in items if "linkedInSalesNavigatorProfileUrl" in i]
    assert 0 < len(with_url) < len(items)
    assert all(
        i["linkedInSalesNavigatorProfileUrl"].startswith("https://www.linkedin.com/sales/lead/")
        for i in with_url
    )
    first_names = {f for f, _ in FIRST_NAMES}
    last_names = {n for n, _ in LAST_NAMES}
    assert all(i["firstName"] in first_names and i["lastName"] in last_names for i in items)


def test_people_added_to_a_company_come_first_with_their_names(box: SaberSandbox, http: httpx.Client) -> None:
    """`add_people` puts the portal's namesakes at the front of the company's list, one without a URL."""
    box.people.add_people(
        ACME,
        [
            {"firstName": "Zoë", "lastName": "Müller", "role": "VP Engineering"},
            {
                "firstName": "Wei",
                "lastName": "Kim",
                "role": "Head of Platform",
                "linkedInSalesNavigatorProfileUrl": None,
            },
        ],
    )
    items = search(http, companyLinkedInUrls=[ACME]).json()["items"]
    assert [(i["firstName"], i["lastName"]) for i in items[:2]] == [("Zoë", "Müller"), ("Wei", "Kim")]
    assert (
        "linkedInSalesNavigatorProfileUrl" in items[0] and "linkedInSalesNavigatorProfileUrl" not in items[1]
    )
    found = search(http, companyLinkedInUrls=[ACME], firstName="zoe", lastName="MULLER").json()
    assert [i["fullName"] for i in found["items"]] == ["Zoë Müller"]


def test_namesakes_of_portal_contacts_are_found_at_their_company(
    box: SaberSandbox, http: httpx.Client
) -> None:
    """`add_namesakes` takes the portal seed's contacts: their names and titles are found at the company."""
    contacts = [c for c in seed_contacts(40) if c["company"] == seed_contacts(40)[0]["company"]]
    contacts += [{"firstname": "Solo", "lastname": None, "jobtitle": "CTO"}]
    added = box.people.add_namesakes(ACME, contacts, with_profile=False)
    assert len(added) == len(contacts) - 1
    items = search(http, companyLinkedInUrls=[ACME], limit=100).json()["items"]
    named = [(c["firstname"], c["lastname"]) for c in contacts[:-1]]
    assert [(i["firstName"], i["lastName"]) for i in items[: len(named)]] == named
    assert all("linkedInSalesNavigatorProfileUrl" not in i for i in items[: len(named)])


def test_a_set_headcount_keeps_the_company_s_first_people(box: SaberSandbox) -> None:
    """Growing a company's headcount adds people after the ones it had; the first stay the same."""
    before = [p.item for p in box.people.people_at(ACME)]
    box.people.set_headcount(ACME, len(before) + 20)
    after = [p.item for p in box.people.people_at(ACME)]
    assert after[: len(before)] == before and len(after) == len(before) + 20


def test_pages_follow_limit_and_offset_with_total_and_has_more(box: SaberSandbox, http: httpx.Client) -> None:
    """`limit`/`offset` page through `total` people; `hasMore` is false on the last page; default limit 25."""
    box.people.set_headcount(ACME, 130)
    first = search(http, companyLinkedInUrls=[ACME]).json()
    assert (len(first["items"]), first["total"], first["limit"], first["offset"]) == (25, 130, 25, 0)
    assert first["hasMore"] is True and first["salesNavConnected"] is True
    last = search(http, companyLinkedInUrls=[ACME], limit=100, offset=100).json()
    assert len(last["items"]) == 30 and last["hasMore"] is False
    every = search(http, companyLinkedInUrls=[ACME], limit=100).json()["items"] + last["items"]
    assert (
        len(every) == 130
        and every[25:50] == search(http, companyLinkedInUrls=[ACME], offset=25).json()["items"]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"companyLinkedInUrls": [ACME], "limit": 101}, "limit"),
        ({"companyLinkedInUrls": [ACME], "limit": 0}, "limit"),
        ({"companyLinkedInUrls": [ACME], "offset": -1}, "offset"),
        ({"companyLinkedInUrls": [ACME], "departments": ["Engineering Ops"]}, "departments"),
        ({"companyLinkedInUrls": [ACME], "seniorityLevels": ["VP"]}, "seniorityLevels"),
        ({"companyLinkedInUrls": [ACME], "countries": ["United States"]}, "countries"),
        ({"companyLinkedInUrls": [ACME], "keywords": "k" * 501}, "keywords"),
        ({"companyLinkedInUrls": ACME}, "companyLinkedInUrls"),
        ({"companyLinkedInUrls": ["not a url"]}, "companyLinkedInUrls"),
        ({"companyLinkedInUrls": [ACME], "jobTitle": ["CTO"]}, "jobTitle"),
        ({"limit": 10}, "body"),
    ],
)
def test_a_body_saber_refuses_is_a_400_naming_the_field(
    http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    """Limits, taxonomies, ISO codes, lengths, types, unknown properties and an empty search answer 400."""
    response = search(http, **body)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["type"], error["code"]) == ("VALIDATION", "VALIDATION_ERROR")
    assert error["message"].startswith(f"validation failed for '{field}': ")
    assert error["fields"][0]["field"] == field and error["requestId"]


def test_null_paging_takes_the_defaults(http: httpx.Client) -> None:
    """`limit` and `offset` sent as null are read as absent: 25 from 0."""
    answer = search(http, companyLinkedInUrls=[ACME], limit=None, offset=None).json()
    assert (answer["limit"], answer["offset"]) == (25, 0)


def test_a_body_that_is_not_json_is_a_bad_request(http: httpx.Client) -> None:
    """Malformed JSON answers Saber's 400 BAD_REQUEST envelope."""
    response = http.post(CONTACT_SEARCH_PATH, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "BAD_REQUEST"


def test_a_url_saber_cannot_process_is_a_422_naming_it(box: SaberSandbox, http: httpx.Client) -> None:
    """A URL that is no LinkedIn company page, or one Saber cannot process, answers 422 naming it."""
    for url in ("https://acme.com/about", "https://www.linkedin.com/in/johndoe"):
        response = search(http, companyLinkedInUrls=[ACME, url])
        assert response.status_code == 422 and url in error_of(response)["message"]
    box.people.unprocessable.add(GLOBEX)
    response = search(http, companyLinkedInUrls=[GLOBEX])
    assert response.status_code == 422 and GLOBEX in error_of(response)["message"]


def test_without_sales_navigator_a_search_answers_no_items(box: SaberSandbox, http: httpx.Client) -> None:
    """With the key owner's Sales Navigator off, a search answers 200, no items, `salesNavConnected: false`."""
    box.sales_nav_connected = False
    answer = search(http, companyLinkedInUrls=[ACME]).json()
    assert answer["salesNavConnected"] is False and answer["items"] == [] and answer["total"] == 0
    assert answer["hasMore"] is False


def test_filters_narrow_the_people_found(box: SaberSandbox, http: httpx.Client) -> None:
    """Job titles match roles holding their words; seniority, department and country are exact; filters AND."""
    box.people.set_headcount(ACME, 150)
    everyone = box.people.people_at(ACME)

    def found(**filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = search(http, companyLinkedInUrls=[ACME], limit=100, **filters).json()[
            "items"
        ]
        return items

    vps = found(jobTitles=["VP Engineering"])
    assert vps and {i["role"] for i in vps} <= {"VP Engineering", "VP of Engineering"}
    directors = found(seniorityLevels=["Director"], departments=["Engineering"], countries=["GB"])
    expected = [
        p.item
        for p in everyone
        if (p.seniority, p.department, p.country) == ("Director", "Engineering", "GB")
    ]
    assert directors == expected[:100] and directors
    kubernetes = found(keywords="Kubernetes")
    assert kubernetes and len(kubernetes) == min(100, sum("Kubernetes" in p.skills for p in everyone))


def test_several_companies_are_searched_and_merged_without_duplicates(
    box: SaberSandbox, http: httpx.Client
) -> None:
    """Two company URLs return both companies' people, a person listed at both once."""
    twin = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "linkedInSalesNavigatorProfileUrl": "https://www.linkedin.com/sales/lead/ACwAAada",
    }
    box.people.add_people(ACME, [twin])
    box.people.add_people(GLOBEX, [twin])
    both = search(http, companyLinkedInUrls=[ACME, GLOBEX], limit=100).json()
    expected = len(box.people.people_at(ACME)) + len(box.people.people_at(GLOBEX)) - 1
    assert both["total"] == expected
    assert sum(i["fullName"] == "Ada Lovelace" for i in both["items"]) == 1


def test_contact_search_needs_the_key_and_counts_against_the_write_limit(
    box: SaberSandbox, http: httpx.Client
) -> None:
    """A wrong key answers 401; the answer's rate-limit headers are the write bucket's (a POST)."""
    refused = httpx.post(f"{box.url}{CONTACT_SEARCH_PATH}", json={"companyLinkedInUrls": [ACME]})
    assert refused.status_code == 401
    answer = search(http, companyLinkedInUrls=[ACME])
    assert answer.headers["X-Ratelimit-Limit"] == str(box.limits["writes_per_minute"])


def test_a_per_route_limit_answers_the_per_route_envelope(box: SaberSandbox, http: httpx.Client) -> None:
    """Past its per-route limit, contact search answers Saber's 429 that names no wait."""
    box.route_limits["contact_search"] = 1
    statuses = [search(http, companyLinkedInUrls=[ACME]) for _ in range(3)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and error_of(limited[0])["code"] == "TOO_MANY_REQUESTS"
    assert "retryAfter" not in limited[0].json() and limited[0].headers["X-Ratelimit-Reset"]


def test_company_key_reads_the_slug_of_a_linkedin_company_url() -> None:
    """Company URLs in their usual spellings name the same company; other URLs name none."""
    assert company_key("https://www.linkedin.com/company/Acme-Labs/") == "acme-labs"
    assert company_key("http://uk.linkedin.com/company/acme-labs?trk=x") == "acme-labs"
    assert company_key("https://www.linkedin.com/in/acme") is None


# ---------------------------------------------------------------------------------- client
def test_the_client_walks_every_page_and_types_the_people(box: SaberSandbox, saber: SaberClient) -> None:
    """`search_contacts` pages while `hasMore`, yields typed people and counts its calls."""
    box.people.set_headcount(ACME, 57)
    walk = saber.search_contacts(ContactSearch.at(ACME), page_size=20)
    people = list(walk)
    assert len(people) == 57 and walk.total == 57 and walk.pages == 3 and walk.finished
    assert saber.calls[OPERATION] == 3
    bodies = [r.body for r in box.requests if r.endpoint == "contact_search"]
    assert [(b["limit"], b["offset"]) for b in bodies] == [(20, 0), (20, 20), (20, 40)]
    assert all(b["companyLinkedInUrls"] == [ACME] for b in bodies)
    assert {p.name for p in people} == {
        f"{p.item['firstName']} {p.item['lastName']}" for p in box.people.people_at(ACME)
    }
    without = [p for p in people if p.linkedin_sales_navigator_profile_url is None]
    assert all(p.role and p.location and p.first_name and p.last_name for p in people)
    assert len(without) < len(people)


def test_a_caller_that_has_enough_stops_the_walk_before_the_next_page(
    box: SaberSandbox, saber: SaberClient
) -> None:
    """Taking five people of a five-item page sends one call, not one per page."""
    box.people.set_headcount(ACME, 80)
    walk = saber.search_contacts(ContactSearch.at(ACME), page_size=5)
    assert len(list(islice(walk, 5))) == 5
    assert saber.calls[OPERATION] == 1 and walk.total == 80 and not walk.finished


def test_the_filters_go_out_under_saber_s_field_names(box: SaberSandbox, saber: SaberClient) -> None:
    """The request carries companyLinkedInUrls, jobTitles, seniorityLevels, departments, countries, keywords."""
    ask = ContactSearch.at(
        ACME,
        job_titles=("VP Engineering", "Head of Platform"),
        seniority_levels=("Vice President", "Director"),
        departments=("Engineering",),
        countries=("US", "GB"),
        keywords="Kubernetes",
    )
    list(saber.search_contacts(ask, page_size=100))
    body = box.requests[-1].body
    assert body == {
        "companyLinkedInUrls": [ACME],
        "jobTitles": ["VP Engineering", "Head of Platform"],
        "seniorityLevels": ["Vice President", "Director"],
        "departments": ["Engineering"],
        "countries": ["US", "GB"],
        "keywords": "Kubernetes",
        "limit": 100,
        "offset": 0,
    }


def test_people_shifting_between_pages_are_not_yielded_twice(box: SaberSandbox, saber: SaberClient) -> None:
    """A person pushed onto the next page by a newcomer while paging is yielded once."""
    box.people.set_headcount(ACME, 10)
    walk = saber.search_contacts(ContactSearch.at(ACME), page_size=5)
    first = list(islice(walk, 5))
    box.people.add_people(ACME, [{"firstName": "New", "lastName": "Comer"}])
    rest = list(walk)
    identities = [p.identity for p in first + rest]
    assert len(identities) == len(set(identities)) == 10


def test_sales_navigator_not_connected_is_one_clear_error(box: SaberSandbox, saber: SaberClient) -> None:
    """`salesNavConnected: false` raises SalesNavigatorNotConnected, saying what to connect and where."""
    box.sales_nav_connected = False
    with pytest.raises(SalesNavigatorNotConnected) as caught:
        list(saber.search_contacts(ContactSearch.at(ACME)))
    line = str(caught.value)
    assert (
        "\n" not in line and "Sales Navigator" in line and "SABER_API_KEY" in line and "Saber web app" in line
    )
    assert caught.value.code == "SALES_NAV_NOT_CONNECTED"


def test_a_422_names_the_url_saber_could_not_process(box: SaberSandbox, saber: SaberClient) -> None:
    """A 422 becomes CompanyUrlRejected naming the URL, and is not retried."""
    bad = "https://acme.com/about-us"
    with pytest.raises(CompanyUrlRejected) as caught:
        list(saber.search_contacts(ContactSearch(company_linkedin_urls=(ACME, bad))))
    assert caught.value.url == bad and caught.value.status == 422 and bad in str(caught.value)
    assert saber.calls[OPERATION] == 1


@pytest.mark.parametrize(
    ("filters", "field", "key"),
    [
        ({"departments": ("Engineering Ops",)}, "departments", "departments"),
        ({"seniority_levels": ("VP",)}, "seniorityLevels", "seniority_levels"),
        ({"countries": ("United States",)}, "countries", "countries"),
    ],
)
def test_a_400_names_the_filter_at_fault(
    saber: SaberClient, filters: dict[str, Any], field: str, key: str
) -> None:
    """A 400 becomes SearchFilterRejected naming Saber's field and the mapping's key for it."""
    ask = ContactSearch.at(ACME, **filters)
    assert [f for f, _ in ask.problems()] == [field]
    with pytest.raises(SearchFilterRejected) as caught:
        next(saber.search_contacts(ask))
    assert caught.value.filter == field and caught.value.mapping_key == key
    assert f"'{field}'" in str(caught.value) and caught.value.status == 400


def test_a_400_that_names_its_field_only_in_the_message_is_still_read(
    box: SaberSandbox, saber: SaberClient
) -> None:
    """Saber's envelope without `fields` ("validation failed for 'departments': …") still names the filter."""
    message = "validation failed for 'departments': invalid value: Engineering Ops"
    box.fail_next(
        1,
        400,
        "contact_search",
        body={"error": {"type": "VALIDATION", "code": "VALIDATION_ERROR", "message": message}},
    )
    with pytest.raises(SearchFilterRejected) as caught:
        next(saber.search_contacts(ContactSearch.at(ACME)))
    assert caught.value.filter == "departments"


def test_a_402_is_insufficient_credits(box: SaberSandbox, saber: SaberClient) -> None:
    """A 402 from contact search is InsufficientCredits, as for every paid call."""
    body = {
        "error": {
            "type": "PAYMENT_REQUIRED",
            "code": "INSUFFICIENT_CREDITS",
            "message": "Insufficient credits",
        }
    }
    box.fail_next(1, 402, "contact_search", body=body)
    with pytest.raises(InsufficientCredits):
        next(saber.search_contacts(ContactSearch.at(ACME)))


def test_429s_and_5xx_are_retried_by_the_call_policy(box: SaberSandbox, saber: SaberClient) -> None:
    """A throttle and a 503 on a search are waited out and retried; the people still come."""
    box.throttle_next(1, retry_after=0.01, endpoint="contact_search")
    box.fail_next(1, 503, "contact_search")
    people = list(saber.search_contacts(ContactSearch.at(ACME), page_size=100))
    assert people and saber.retries[OPERATION] == 2 and saber.calls[OPERATION] == 3


def test_a_refused_key_stops_the_search(box: SaberSandbox) -> None:
    """A wrong key is SaberAuthError, as for every Saber call."""
    with SaberClient(box.url, "sk_live_wrong") as client, pytest.raises(SaberAuthError):
        next(client.search_contacts(ContactSearch.at(ACME)))


def test_a_search_must_ask_for_something_and_pages_stay_within_limits() -> None:
    """An empty search, a page over 100 and a negative offset are refused before anything is sent."""
    with pytest.raises(ValueError, match="at least one"):
        ContactSearch()
    with pytest.raises(ValueError, match="limit"):
        ContactSearch.at(ACME).to_body(limit=101)
    with pytest.raises(TypeError):
        ContactSearch(job_titles="CTO")  # type: ignore[arg-type]


def test_answers_missing_fields_are_read_defensively(box: SaberSandbox, saber: SaberClient) -> None:
    """An item with only `fullName`, and a page without hasMore or salesNavConnected, still read."""
    answer = {"items": [{"fullName": "Jane van Dyke", "role": "CTO"}], "total": 1}
    box.fail_next(1, 200, "contact_search", body=answer)
    people = list(saber.search_contacts(ContactSearch.at(ACME)))
    assert [(p.first_name, p.last_name, p.role) for p in people] == [("Jane", "van Dyke", "CTO")]


def test_an_answer_of_the_wrong_shape_is_an_invalid_response(box: SaberSandbox, saber: SaberClient) -> None:
    """A 200 whose body is no search page is a SaberRequestError INVALID_RESPONSE, not a crash."""
    box.fail_next(1, 200, "contact_search", body="[1, 2]", content_type="application/json")
    with pytest.raises(SaberRequestError) as caught:
        next(saber.search_contacts(ContactSearch.at(ACME)))
    assert caught.value.code == "INVALID_RESPONSE"
