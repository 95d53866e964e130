"""The HubSpot adapter over the official client, against the sandbox over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from connector.errors import ApiUnavailableError
from connector.http_policy import RETRIED_EVENT, CallPolicy
from connector.hubspot import (
    Contact,
    DailyLimitReached,
    HubSpotAdapter,
    HubSpotAuthError,
    HubSpotError,
    HubSpotUnavailableError,
    PropertySpec,
    RecordFailure,
    SearchFilter,
)
from connector.hubspot.errors import error_from_response, parse_property_errors
from connector.ratelimit import RateLimiter
from connector.sandbox.hubspot import HubSpotSandbox

try:  # tests/ as a package (rootdir on sys.path) or as plain files (tests/ on sys.path)
    from tests.hubspot_fixtures import fast_adapter, running, statuses
except ModuleNotFoundError:
    from hubspot_fixtures import fast_adapter, running, statuses  # type: ignore[no-redef]


def _limit_body(policy: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": "00000000-0000-0000-0000-000000000000",
        "policyName": policy,
        "groupName": "publicapi:private-app:1",
    }


@pytest.fixture
def box() -> Iterator[HubSpotSandbox]:
    """A 30-contact portal with typed custom properties."""
    with running(contacts=30, seed=4) as sandbox:
        sandbox.define_property("score", "number")
        sandbox.define_property("renewal_date", "date")
        sandbox.define_property("tier", "enumeration", "select", options=["gold", "silver"])
        sandbox.define_property("stacks", "enumeration", "checkbox", options=["aws", "gcp", "azure"])
        yield sandbox


def _ids(contacts: Iterator[Contact] | list[Contact]) -> list[str]:
    return [c.id for c in contacts]


# ------------------------------------------------------------------------------ retries
def test_429_ten_secondly_waits_for_the_reported_window_then_retries() -> None:
    """A 429 without Retry-After waits out X-HubSpot-RateLimit-Interval-Milliseconds, then succeeds."""
    with running(contacts=5, rate_window=0.3) as sandbox:
        sandbox.throttle_next(endpoint="contacts_list", retry_after=None)  # type: ignore[arg-type]
        hs = fast_adapter(sandbox, max_backoff=2.0)
        started = time.perf_counter()
        got = _ids(hs.list_contacts(properties=["email"]))
        waited = time.perf_counter() - started
    assert got == sandbox.contact_ids()
    assert statuses(sandbox, "contacts_list") == [429, 200]
    assert 0.28 <= waited < 1.5


def test_429_retry_after_header_is_honoured_over_the_window(box: HubSpotSandbox) -> None:
    """When HubSpot does send Retry-After, that is the wait (not the 10 s window)."""
    box.throttle_next(endpoint="contacts_list", retry_after=0.2)
    hs = fast_adapter(box, max_backoff=5.0)
    started = time.perf_counter()
    hs.check_access()
    waited = time.perf_counter() - started
    assert statuses(box, "contacts_list") == [429, 200]
    assert 0.18 <= waited < 1.5


@pytest.mark.parametrize("policy", ["SECONDLY", "SOMETHING_NEW"])
def test_429_on_search_is_retried_for_secondly_and_unknown_policies(
    box: HubSpotSandbox, adapter: HubSpotAdapter, policy: str
) -> None:
    """A 429 SECONDLY (or an unknown policy) on a search POST is retried and the search completes."""
    box.throttle_next(endpoint="contacts_search", retry_after=None, body=_limit_body(policy))  # type: ignore[arg-type]
    got = _ids(adapter.search_contacts(properties=["email"]))
    assert got == box.contact_ids()
    assert statuses(box, "contacts_search") == [429, 200]


CALLS: dict[str, Callable[[HubSpotAdapter, HubSpotSandbox], Any]] = {
    "contacts_list": lambda hs, box: list(hs.list_contacts(properties=["email"])),
    "contacts_search": lambda hs, box: list(hs.search_contacts(properties=["email"])),
    "contacts_batch_read": lambda hs, box: hs.read_contacts(box.contact_ids()[:3], ["email"]),
    "contacts_batch_update": lambda hs, box: hs.update_contacts({box.contact_ids()[0]: {"jobtitle": "CTO"}}),
    "properties_list": lambda hs, box: hs.get_properties(),
}


@pytest.mark.parametrize("endpoint", list(CALLS))
def test_5xx_is_retried_for_gets_and_posts(
    box: HubSpotSandbox, adapter: HubSpotAdapter, endpoint: str
) -> None:
    """Two 5xx answers in a row are retried, for GETs and for POSTs (search, batch read/update) alike."""
    box.fail_next(1, status=503, endpoint=endpoint)
    box.fail_next(1, status=502, endpoint=endpoint)
    result = CALLS[endpoint](adapter, box)
    assert result
    assert statuses(box, endpoint) == [503, 502, 200]


@pytest.mark.parametrize("endpoint", ["contacts_list", "contacts_search", "contacts_batch_update"])
def test_connection_reset_is_retried(box: HubSpotSandbox, adapter: HubSpotAdapter, endpoint: str) -> None:
    """A connection reset with no answer at all is retried, GET or POST."""
    box.reset_next(endpoint=endpoint)
    assert CALLS[endpoint](adapter, box)
    assert statuses(box, endpoint) == [0, 200]


def test_persistent_5xx_gives_up_after_max_attempts_as_unavailable(box: HubSpotSandbox) -> None:
    """Still failing after max_attempts: HubSpotUnavailableError, exit code 3, no further calls."""
    box.fail_next(10, status=500, endpoint="contacts_search")
    hs = fast_adapter(box, max_attempts=3)
    with pytest.raises(HubSpotUnavailableError) as info:
        list(hs.search_contacts(properties=["email"]))
    assert statuses(box, "contacts_search") == [500, 500, 500]
    assert info.value.status == 500 and info.value.attempts == 3
    assert isinstance(info.value, ApiUnavailableError) and info.value.exit_code == 3
    assert info.value.unavailable


def test_unreachable_hubspot_is_unavailable_at_once() -> None:
    """Nothing listening and never an answer: HubSpotUnavailableError (exit code 3) after one attempt."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hs = HubSpotAdapter(
        f"http://127.0.0.1:{port}",
        "pat-na1-secret",
        policy=CallPolicy(max_attempts=2, max_backoff=0.01, backoff_base=0.01),
    )
    with pytest.raises(HubSpotUnavailableError) as info:
        hs.check_access()
    assert info.value.transport and info.value.exit_code == 3
    assert hs.calls["check_access"] == 1
    assert str(info.value) == (
        f"cannot reach HubSpot at HUBSPOT_BASE_URL (http://127.0.0.1:{port}): connection refused"
    )
    assert "pat-na1-secret" not in str(info.value)


@pytest.mark.parametrize("endpoint", ["contacts_batch_update", "contacts_search"])
def test_daily_limit_stops_at_once_without_retrying(
    box: HubSpotSandbox, adapter: HubSpotAdapter, endpoint: str
) -> None:
    """A 429 with policyName DAILY raises DailyLimitReached after exactly one call."""
    box.throttle_next(endpoint=endpoint, retry_after=None, body=_limit_body("DAILY"))  # type: ignore[arg-type]
    with pytest.raises(DailyLimitReached) as info:
        CALLS[endpoint](adapter, box)
    assert statuses(box, endpoint) == [429]
    assert "daily API limit is used up" in str(info.value) and info.value.policy_name == "DAILY"
    assert isinstance(info.value, HubSpotError) and info.value.exit_code == 3


def test_the_sandbox_daily_limit_stops_the_adapter() -> None:
    """With the portal's daily limit reached, the next call raises DailyLimitReached and is not repeated."""
    with running(contacts=3, daily_limit=2) as sandbox:
        hs = fast_adapter(sandbox)
        hs.check_access()
        hs.check_access()
        with pytest.raises(DailyLimitReached):
            hs.check_access()
    assert statuses(sandbox) == [200, 200, 429]


def test_wrong_token_raises_auth_error_without_retrying_or_leaking_it(box: HubSpotSandbox) -> None:
    """401 becomes HubSpotAuthError (exit code 3) after one call; the token is in no message or log."""
    token = "pat-na1-0123456789abcdef-wrong"
    hs = fast_adapter(box, token=token)
    with capture_logs() as logs, pytest.raises(HubSpotAuthError) as info:
        hs.check_access()
    assert info.value.status == 401 and info.value.category == "INVALID_AUTHENTICATION"
    assert info.value.exit_code == 3
    assert statuses(box) == [401]
    assert token not in str(info.value) and token not in repr(logs)


def test_missing_scope_403_is_an_auth_error(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """403 (the private app lacks a scope) is a HubSpotAuthError too."""
    body = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes.",
        "category": "MISSING_SCOPES",
    }
    box.answer_next(403, body, endpoint="properties_list")
    with pytest.raises(HubSpotAuthError, match="MISSING_SCOPES"):
        adapter.get_properties()


def test_retries_are_logged_without_the_token(box: HubSpotSandbox) -> None:
    """Each retry is logged with the operation and reason; the token never appears."""
    box.fail_next(1, status=503, endpoint="contacts_list")
    hs = fast_adapter(box)
    with capture_logs() as logs:
        hs.check_access()
    retries = [e for e in logs if e["event"] == RETRIED_EVENT and e["api"] == "hubspot"]
    assert len(retries) == 1 and retries[0]["operation"] == "check_access" and retries[0]["status"] == 503
    assert box.token not in repr(logs)


# ------------------------------------------------------------------------------ errors
def test_hubspot_errors_carry_what_hubspot_said(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """A 409 keeps status, category, message and correlation id, and its text names them."""
    spec = PropertySpec("firstname", "First", "string", "text", "contactinformation")
    with pytest.raises(HubSpotError) as info:
        adapter.create_property(spec)
    err = info.value
    assert (err.status, err.category) == (409, "OBJECT_ALREADY_EXISTS")
    assert err.message == "A property named 'firstname' already exists."
    assert err.correlation_id and len(err.correlation_id) == 36
    assert "409 OBJECT_ALREADY_EXISTS" in str(err)
    assert err.exit_code == 1 and not err.unavailable


def test_embedded_property_errors_are_parsed() -> None:
    """The JSON array inside a validation message becomes PropertyErrors (name, code, message)."""
    body = (
        '{"status":"error","message":"Property values were not valid: [{\\"isValid\\":false,'
        '\\"message\\":\\"reports was not one of the allowed options: [a, b]\\",'
        '\\"error\\":\\"INVALID_OPTION\\",'
        '\\"name\\":\\"hs_ticket_category\\",\\"localizedErrorMessage\\":\\"x\\"}]",'
        '"correlationId":"c-1","category":"VALIDATION_ERROR"}'
    )
    err = error_from_response(400, body, {"X-HubSpot-RateLimit-Max": "100"})
    assert err.category == "VALIDATION_ERROR" and err.correlation_id == "c-1"
    (only,) = err.errors
    assert (only.name, only.code) == ("hs_ticket_category", "INVALID_OPTION")
    assert only.message.startswith("reports was not one of the allowed options")
    assert parse_property_errors("no array here [not json") == []


def test_non_json_error_bodies_still_give_a_hubspot_error() -> None:
    """An HTML 502 from a proxy is still a HubSpotUnavailableError with a readable message."""
    err = error_from_response(502, b"<html>Bad gateway</html>", {"Retry-After": "7"})
    assert isinstance(err, HubSpotUnavailableError)
    assert err.retry_after == 7.0 and "Bad gateway" in str(err)


# ------------------------------------------------------------------------------ search
def test_search_past_the_10000_cap_returns_every_contact_exactly_once() -> None:
    """10,300 matching contacts at 200 a page: all come back once, in id order, with no 400 on the way."""
    with running(contacts=10_300, seed=9) as big:
        hs = fast_adapter(big)
        got = _ids(hs.search_contacts(properties=["email"], page_size=200))
        searches = big.requests_to("contacts_search")
    assert got == big.contact_ids()
    assert len(got) == 10_300
    assert {r.status for r in searches} == {200}
    assert len(searches) == hs.calls["search_contacts"] == 52
    assert all(int(r.body.get("after") or 0) + r.body["limit"] <= 10_000 for r in searches)


def test_search_stays_exact_while_contacts_change_under_it() -> None:
    """Contacts edited mid-stream (leaving the window) neither shift nor hide later pages."""
    with running(contacts=600, seed=6) as sandbox:
        hs = fast_adapter(sandbox)
        got: list[str] = []
        for contact in hs.search_contacts(properties=["email"], page_size=50):
            got.append(contact.id)
            if len(got) % 7 == 0:
                sandbox.edit_contact(got[len(got) // 2], {"jobtitle": "Edited mid-run"})
    assert got == sandbox.contact_ids()


def test_modified_window_selects_by_lastmodifieddate(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """modified_after (inclusive) and modified_before bound lastmodifieddate; both are sent as epoch ms."""
    inside = box.add_contact({"firstname": "In", "lastmodifieddate": "2025-03-01T12:00:00.000Z"})
    edge = box.add_contact({"firstname": "Edge", "lastmodifieddate": "2025-01-01T00:00:00.000Z"})
    box.add_contact({"firstname": "Late", "lastmodifieddate": "2025-07-01T00:00:00.000Z"})
    box.add_contact({"firstname": "Early", "lastmodifieddate": "2024-12-31T23:59:59.999Z"})
    got = adapter.search_contacts(
        properties=["firstname"],
        modified_after=datetime(2025, 1, 1, tzinfo=UTC),
        modified_before=datetime(2025, 6, 1, tzinfo=UTC),
    )
    contacts = list(got)
    assert _ids(contacts) == [inside, edge]
    assert contacts[1].updated_at == datetime(2025, 1, 1, tzinfo=UTC)
    filters = box.requests_to("contacts_search")[0].body["filterGroups"][0]["filters"]
    assert {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1735689600000"} in filters


def test_contacts_modified_after_the_search_started_wait_for_the_next_run(box: HubSpotSandbox) -> None:
    """The upper bound is fixed when the search starts, so a contact edited later is left for the next run."""
    hs = fast_adapter(box)
    stream = hs.search_contacts(properties=["email"], page_size=10)
    first = next(stream)
    last_id = box.contact_ids()[-1]
    box.edit_contact(last_id, {"jobtitle": "Edited after the start"})
    rest = _ids(stream)
    assert first.id == box.contact_ids()[0]
    assert last_id not in rest and len(rest) == 28


def test_filters_and_window_combine(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """Configured filters are ANDed with the window; results match the sandbox's own data."""
    after = datetime(2023, 1, 20, tzinfo=UTC)
    got = adapter.search_contacts(
        properties=["lifecyclestage", "company"],
        filters=[
            SearchFilter("lifecyclestage", "IN", values=("lead", "marketingqualifiedlead")),
            SearchFilter("company", "HAS_PROPERTY"),
        ],
        modified_after=after,
    )
    want = [
        cid
        for cid in box.contact_ids()
        if (row := box.contact(cid))["lifecyclestage"] in ("lead", "marketingqualifiedlead")
        and row.get("company")
        and (row["lastmodifieddate"] or "") >= "2023-01-20T00:00:00.000Z"
    ]
    contacts = list(got)
    assert want and _ids(contacts) == want
    assert all(c.properties["lifecyclestage"] in ("lead", "marketingqualifiedlead") for c in contacts)


@pytest.mark.parametrize(
    ("filters", "modified_after"),
    [
        ([SearchFilter("email", "HAS_PROPERTY")] * 5, None),
        ([SearchFilter("email", "HAS_PROPERTY")] * 4, datetime(2024, 1, 1, tzinfo=UTC)),
        ([SearchFilter("email", "LIKE", "x")], None),
    ],
    ids=["5 filters", "4 filters and a window", "unknown operator"],
)
def test_impossible_searches_raise_value_error_before_any_call(
    box: HubSpotSandbox, adapter: HubSpotAdapter, filters: list[SearchFilter], modified_after: datetime | None
) -> None:
    """More filters than HubSpot's 6 per group (counting the connector's own) is refused up front."""
    with pytest.raises(ValueError, match="filter"):
        adapter.search_contacts(properties=["email"], filters=filters, modified_after=modified_after)
    assert box.count() == 0


def test_four_configured_filters_fit(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """Four filters plus the upper bound and the id keyset make HubSpot's six."""
    got = _ids(
        adapter.search_contacts(properties=["email"], filters=[SearchFilter("email", "HAS_PROPERTY")] * 4)
    )
    assert got == box.contact_ids()


def test_list_contacts_pages_through_everything(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """Listing follows paging.next.after until the end."""
    got = list(adapter.list_contacts(properties=["company"], page_size=7))
    assert _ids(got) == box.contact_ids()
    assert adapter.calls["list_contacts"] == 5
    assert "company" in got[0].properties


def test_read_contacts_chunks_by_100_and_leaves_unknown_ids_out() -> None:
    """150 ids take two batch reads; ids HubSpot does not know are simply absent."""
    with running(contacts=150, seed=3) as sandbox:
        hs = fast_adapter(sandbox)
        ids = sandbox.contact_ids()
        got = hs.read_contacts([*ids, "4040404", ids[0]], ["jobtitle"])
    assert sorted(c.id for c in got) == sorted(ids)
    assert hs.calls["read_contacts"] == 2
    assert got[0].properties["jobtitle"] == sandbox.contact(got[0].id).get("jobtitle")


# ------------------------------------------------------------------------------ batch update
def test_update_with_unknown_ids_records_them_and_writes_the_rest(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A 207 names the unknown id as a record failure; the other contacts are written."""
    a, b = box.contact_ids()[:2]
    result = adapter.update_contacts(
        {a: {"jobtitle": "A"}, "999999": {"jobtitle": "?"}, b: {"jobtitle": "B"}}
    )
    assert result.written == [a, b]
    (failure,) = result.failures
    assert (failure.contact_id, failure.property, failure.code) == ("999999", None, "OBJECT_NOT_FOUND")
    assert (box.contact(a)["jobtitle"], box.contact(b)["jobtitle"]) == ("A", "B")


def test_invalid_values_are_dropped_and_the_valid_rest_lands(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """A 400 for a few bad values: those are recorded per contact and property, everything else is written."""
    c1, c2, c3, c4, c5, c6 = box.contact_ids()[:6]
    before_c3 = box.contact(c3)
    updates = {
        c1: {"jobtitle": "ok1", "score": "1,000"},
        c2: {"jobtitle": "ok2", "score": "42"},  # same property, valid value: must not be blamed
        c3: {"tier": "platinum"},  # its only value is bad: not written at all
        c4: {"tier": "gold", "no_such_property": "x"},
        c5: {"renewal_date": "1700000000000", "jobtitle": "ok5"},  # not midnight
        c6: {"stacks": "aws;gcp"},
    }
    result = adapter.update_contacts(updates)
    assert {(f.contact_id, f.property, f.code) for f in result.failures} == {
        (c1, "score", "INVALID_LONG"),
        (c3, "tier", "INVALID_OPTION"),
        (c4, "no_such_property", "PROPERTY_DOESNT_EXIST"),
        (c5, "renewal_date", "INVALID_DATE"),
    }
    assert result.written == [c1, c2, c4, c5, c6]
    assert box.contact(c1)["jobtitle"] == "ok1" and box.contact(c1).get("score") is None
    assert box.contact(c2)["score"] == "42"
    assert box.contact(c3) == before_c3
    assert box.contact(c4)["tier"] == "gold"
    assert box.contact(c5)["jobtitle"] == "ok5" and box.contact(c5).get("renewal_date") is None
    assert box.contact(c6)["stacks"] == "aws;gcp"
    assert statuses(box, "contacts_batch_update") == [400, 200]


def test_errors_that_do_not_quote_values_are_isolated_by_bisecting(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """When messages cannot tell which contact is at fault, the batch is split until they can (bounded)."""
    box.quote_values = False
    ids = box.contact_ids()[:20]
    bad = {ids[2], ids[11], ids[17]}
    updates = {
        cid: {"tier": "bronze" if cid in bad else ("gold" if i % 2 else "silver")}
        for i, cid in enumerate(ids)
    }
    result = adapter.update_contacts(updates)
    assert {(f.contact_id, f.property, f.code) for f in result.failures} == {
        (cid, "tier", "INVALID_OPTION") for cid in bad
    }
    assert result.written == [cid for cid in ids if cid not in bad]
    for i, cid in enumerate(ids):
        assert box.contact(cid).get("tier") == (None if cid in bad else ("gold" if i % 2 else "silver"))
    assert adapter.calls["update_contacts"] <= 20


def test_one_contact_with_several_bad_values_keeps_its_good_ones(
    box: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    """Vague errors on a single contact are narrowed down property by property."""
    box.quote_values = False
    cid = box.contact_ids()[0]
    result = adapter.update_contacts(
        {cid: {"score": "x", "tier": "gold", "renewal_date": "2024-01-15", "stacks": "nope"}}
    )
    assert {(f.property, f.code) for f in result.failures} == {
        ("score", "INVALID_LONG"),
        ("stacks", "INVALID_OPTION"),
    }
    assert result.written == [cid]
    row = box.contact(cid)
    assert (row["tier"], row["renewal_date"], row.get("score")) == ("gold", "2024-01-15", None)


def test_an_answer_missing_an_id_counts_it_as_failed(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """A "successful" batch whose results leave out a contact does not count that contact as written."""
    a, b = box.contact_ids()[:2]
    stamp = "2025-01-01T00:00:00.000Z"
    only_a = {
        "id": a,
        "properties": {"jobtitle": "A"},
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
    body = {"status": "COMPLETE", "results": [only_a], "startedAt": stamp, "completedAt": stamp}
    box.answer_next(200, body, endpoint="contacts_batch_update")
    result = adapter.update_contacts({a: {"jobtitle": "A"}, b: {"jobtitle": "B"}})
    assert result.written == [a]
    assert result.failures == [
        RecordFailure(b, None, "NOT_CONFIRMED", "HubSpot's answer did not include this contact")
    ]


def test_other_400s_on_update_are_raised(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """A 400 that is not a property validation error is not guessed at: it is raised."""
    body = {
        "status": "error",
        "message": "Invalid input JSON",
        "category": "INVALID_PARAMS",
        "correlationId": "c",
    }
    box.answer_next(400, body, endpoint="contacts_batch_update")
    with pytest.raises(HubSpotError, match="INVALID_PARAMS"):
        adapter.update_contacts({box.contact_ids()[0]: {"jobtitle": "x"}})
    assert box.count("contacts_batch_update") == 1


def test_more_than_100_updates_go_in_chunks_of_100() -> None:
    """250 contacts are written in three batch calls of 100, 100 and 50."""
    with running(contacts=250, seed=8) as sandbox:
        hs = fast_adapter(sandbox)
        ids = sandbox.contact_ids()
        result = hs.update_contacts({cid: {"jobtitle": f"T{cid}"} for cid in ids})
        sizes = [len(r.body["inputs"]) for r in sandbox.requests_to("contacts_batch_update")]
    assert sizes == [100, 100, 50]
    assert hs.calls["update_contacts"] == 3
    assert result.written == ids and not result.failures
    assert all(sandbox.contact(cid)["jobtitle"] == f"T{cid}" for cid in ids)


# ------------------------------------------------------------------------------ rate limiting
def test_client_side_limit_keeps_a_burst_under_hubspots_limit() -> None:
    """40 calls against 20 per window: with the adapter at 15 per window, HubSpot never answers 429."""
    with running(contacts=3, requests_per_10s=20, rate_window=0.5) as sandbox:
        hs = fast_adapter(sandbox, requests_per_10s=15, rate_period=0.5)
        for _ in range(40):
            hs.check_access()
    assert statuses(sandbox) == [200] * 40


def test_without_the_client_side_limit_the_same_burst_is_throttled() -> None:
    """The control: the same burst with no client-side limit (no headers followed) meets 429s, and survives them."""
    with running(contacts=3, requests_per_10s=20, rate_window=0.5) as sandbox:
        hs = fast_adapter(sandbox, requests_per_10s=1_000, max_backoff=1.0, follow_rate_headers=False)
        for _ in range(40):
            hs.check_access()
    assert 429 in statuses(sandbox)
    assert statuses(sandbox).count(200) == 40


def test_searches_keep_under_the_per_second_search_limit() -> None:
    """Searches also respect their own (shorter) window."""
    with running(contacts=3, searches_per_second=3, search_window=0.3) as sandbox:
        hs = fast_adapter(sandbox, searches_per_second=2, search_period=0.3)
        for _ in range(7):
            assert len(list(hs.search_contacts(properties=["email"]))) == 3
    assert statuses(sandbox) == [200] * 7


def test_rate_limiter_spaces_calls_in_a_rolling_window() -> None:
    """RateLimiter lets max_calls start in any window and makes the next wait for the oldest to leave it."""
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, 1.0, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.acquire() for _ in range(3)]
    now[0] += 0.4
    waits.append(limiter.acquire())  # the first call left the window at 101.0
    waits.append(limiter.acquire())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.6)
    assert waits[4] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        RateLimiter(0, 1.0)


# ------------------------------------------------------------------------------ properties
def test_ensure_group_and_create_property(box: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    """The group is created once; a property is created with its options and can be read back."""
    assert adapter.ensure_group("saber", "Saber") is True
    assert adapter.ensure_group("saber", "Saber") is False
    spec = PropertySpec(
        "saber_seniority",
        "Saber seniority",
        "enumeration",
        "select",
        "saber",
        options=(("VP", "vp"), ("Director", "director")),
        description="Written by saber-connector.",
    )
    info = adapter.create_property(spec)
    assert (info.name, info.type, info.field_type, info.group_name) == (
        "saber_seniority",
        "enumeration",
        "select",
        "saber",
    )
    assert info.options == ("vp", "director") and not info.read_only
    assert adapter.get_property("saber_seniority") == info
    assert adapter.get_property("no_such_property") is None
    with pytest.raises(HubSpotError) as again:
        adapter.create_property(spec)
    assert again.value.status == 409
    props = adapter.get_properties()
    assert props["saber_seniority"] == info
    assert props["hs_object_id"].read_only and not props["email"].read_only
    assert props["lifecyclestage"].options[:2] == ("subscriber", "lead")
