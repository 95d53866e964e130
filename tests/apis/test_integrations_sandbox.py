"""The account-group API sandbox holds clients to the pages: envelope, permissions, pages, jobs, scans, results."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.sandbox.integrations import IntegrationsSandbox
from connector.sandbox.integrations_people import people_for
from connector.sandbox.runner import start_sandbox
from tests.support import wait_for

HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SPEC = "66a1f0c2e4b0a1b2c3d4e5f6"


class Api:
    """Plain httpx calls to one sandbox group, returning (status, envelope)."""

    def __init__(self, box: IntegrationsSandbox, key: str | None = None, group: str | None = None) -> None:
        self.box = box
        self.group = group or box.group_id
        self.http = httpx.Client(
            base_url=f"{box.url}/v1", headers={"Authorization": f"Bearer {key or box.api_key}"}, timeout=10
        )

    def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        prefix = "" if path.startswith("/accounts") and path.count("/") == 1 else f"/accounts/{self.group}"
        response = self.http.request(method, prefix + path, **kwargs)
        return response.status_code, response.json()

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        status, body = self.call(method, path, **kwargs)
        assert status in (200, 201, 202), body
        return body["data"]

    def audience(self, name: str = "list") -> str:
        return str(self.ok("POST", "/audiences", json={"name": name})["id"])

    def start_job(self, body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/prospecting", json=body, headers=headers)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/prospecting/{job_id}"))

    def finished(self, job_id: str) -> dict[str, Any]:
        return dict(
            wait_for(lambda: (j := self.job(job_id))["status"] in ("completed", "failed", "cancelled") and j)
        )

    def signals(self, pid: str, **params: Any) -> dict[str, Any]:
        return dict(self.ok("GET", f"/prospects/{pid}/signals", params=params))

    def all_items(self, path: str, limit: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = self.ok("GET", path, params=params)
            items += page["items"]
            if not page["hasMore"]:
                assert page["nextCursor"] is None
                return items
            cursor = page["nextCursor"]


@pytest.fixture
def box() -> Iterator[IntegrationsSandbox]:
    with IntegrationsSandbox(job_seconds=0.3, scan_seconds=0.3, evaluate_seconds=0.3) as server:
        yield server


@pytest.fixture
def api(box: IntegrationsSandbox) -> Iterator[Api]:
    client = Api(box)
    yield client
    client.http.close()


def search_job(audience: str | None = None, n: int = 10, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"source": "sales_navigator", "savedSearchId": "3318", "maxResults": n, **extra}
    if audience:
        body["audienceId"] = audience
    return body


def filled(api: Api, n: int = 10) -> tuple[str, list[dict[str, Any]]]:
    """An audience filled by a completed job of `n` prospects, and those prospects."""
    audience = api.audience()
    status, body = api.start_job(search_job(audience, n))
    assert status == 202, body
    assert api.finished(body["data"]["jobId"])["status"] == "completed"
    return audience, api.all_items(f"/audiences/{audience}/prospects", 100)


# ---------------------------------------------------------------------- envelope, keys, groups
def test_every_answer_is_the_envelope_with_a_trace_id(api: Api) -> None:
    """Successes and errors alike carry success, data, error and a 24-hex traceId."""
    status, good = api.call("GET", "/accounts")
    assert status == 200 and good["success"] is True and good["error"] is None
    assert HEX24.match(good["traceId"])
    group = good["data"]["items"][0]
    assert HEX24.match(group["id"]) and group["name"] == "Sandbox" and ISO_MS_Z.match(group["createdAt"])
    status, bad = api.call("GET", "/prospecting/nope")
    assert status == 404 and bad["success"] is False and bad["data"] is None
    assert bad["error"]["code"] == "NOT_FOUND" and HEX24.match(bad["traceId"])
    assert bad["traceId"] != good["traceId"]


def test_an_unknown_or_missing_key_is_401_in_the_envelope(box: IntegrationsSandbox) -> None:
    """A wrong key and no Authorization header both answer 401 UNAUTHORIZED."""
    wrong = httpx.get(f"{box.url}/v1/accounts", headers={"Authorization": "Bearer sk_live_wrong"})
    missing = httpx.get(f"{box.url}/v1/accounts")
    for response in (wrong, missing):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED" and response.json()["success"] is False


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("POST", "/prospecting", "prospecting:write"),
        ("GET", "/prospecting", "prospecting:read"),
        ("GET", "/sales-navigator/saved-searches", "prospecting:read"),
        ("GET", "/audiences", "audiences:read"),
        ("POST", "/audiences", "audiences:write"),
        ("GET", "/signal-specifications", "signals:read"),
        ("POST", "/signals/scans", "signals:write"),
        ("GET", "/signals/scans", "signals:read"),
        ("GET", "/prospects/0123456789abcdef01234567/signals", "signals:read"),
    ],
)
def test_a_key_without_the_permission_is_403_naming_it(
    box: IntegrationsSandbox, method: str, path: str, permission: str
) -> None:
    """A key holding every permission but the one a call needs gets 403 FORBIDDEN naming it in details."""
    box.add_key("sk_live_partial", set(box.REQUIRED.values()) - {permission})
    api = Api(box, key="sk_live_partial")
    status, body = api.call(method, path, json={})
    assert status == 403
    assert body["error"] == {
        "code": "FORBIDDEN",
        "message": f"Missing required permission: {permission}",
        "details": {"permission": permission},
    }


def test_a_key_reaches_only_its_groups(box: IntegrationsSandbox) -> None:
    """A key limited to one group lists only it, is 403 on another, and an unknown group is 404."""
    other = box.add_group("Other")
    box.add_key("sk_live_other", ["prospecting:read"], groups=[other])
    api = Api(box, key="sk_live_other")
    assert [g["id"] for g in api.ok("GET", "/accounts")["items"]] == [other]
    status, body = Api(box, key="sk_live_other", group=box.group_id).call("GET", "/prospecting")
    assert status == 403 and body["error"]["details"] == {"accountGroupId": box.group_id}
    status, body = Api(box, group="f" * 24).call("GET", "/prospecting")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"


def test_a_group_without_linkedin_refuses_jobs_and_scans_with_409(box: IntegrationsSandbox) -> None:
    """In a group with no LinkedIn account connected a job or scan start is 409 until one is connected."""
    group = box.add_group("Unconnected", linkedin_connected=False)
    api = Api(box, group=group)
    audience = api.audience()
    status, body = api.start_job(search_job(audience))
    assert status == 409 and body["error"]["code"] == "LINKEDIN_NOT_CONNECTED"
    scan = {"signalSpecificationId": SPEC, "audienceId": audience}
    assert api.call("POST", "/signals/scans", json=scan)[1]["error"]["code"] == "LINKEDIN_NOT_CONNECTED"
    box.connect_linkedin(group)
    assert api.start_job(search_job(audience))[0] == 202 and box.jobs_started == 1


def test_unknown_ids_are_404(api: Api) -> None:
    """A job, audience, its prospects, a scan or a prospect that does not exist answers 404 NOT_FOUND."""
    missing = "0" * 24
    for path in (
        f"/prospecting/{missing}",
        f"/audiences/{missing}",
        f"/audiences/{missing}/prospects",
        f"/signals/scans/{missing}",
        f"/prospects/{missing}/signals",
    ):
        status, body = api.call("GET", path)
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND"), path


def test_lists_of_searches_lead_lists_and_specifications(api: Api) -> None:
    """Saved searches, lead lists and signal specifications list their ids and names."""
    assert {"id": "3318", "name": "Platform leaders EU"} in api.ok("GET", "/sales-navigator/saved-searches")[
        "items"
    ]
    assert api.ok("GET", "/sales-navigator/lead-lists")["items"][0]["id"] == "7781"
    specs = api.ok("GET", "/signal-specifications")["items"]
    assert SPEC in [s["id"] for s in specs] and all(s["name"] for s in specs)


# ---------------------------------------------------------------------- pages
def test_cursor_pages_walk_every_item_once(api: Api) -> None:
    """Pages of `limit` items chain through opaque cursors to every item exactly once."""
    audience, people = filled(api, 23)
    assert len(people) == 23 and len({p["id"] for p in people}) == 23
    first = api.ok("GET", f"/audiences/{audience}/prospects", params={"limit": 10})
    assert len(first["items"]) == 10 and first["hasMore"] is True
    assert api.all_items(f"/audiences/{audience}/prospects", 10) == people
    assert len(api.ok("GET", f"/audiences/{audience}/prospects")["items"]) == 23  # default 25


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"cursor": "bm90LWEtY3Vyc29y"}, {"cursor": "%%%"}],
)
def test_a_bad_limit_or_unknown_cursor_is_400(api: Api, params: dict[str, Any]) -> None:
    """`limit` outside 1..100 and a cursor the API never gave are 400 VALIDATION_ERROR."""
    status, body = api.call("GET", "/prospecting", params=params)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"]["field"] in ("limit", "cursor")


def test_a_cursor_of_another_list_is_400(api: Api) -> None:
    """A cursor from one list is unknown to another."""
    audience, _ = filled(api, 5)
    cursor = api.ok("GET", f"/audiences/{audience}/prospects", params={"limit": 2})["nextCursor"]
    status, body = api.call("GET", "/audiences", params={"cursor": cursor})
    assert status == 400 and body["error"]["details"] == {"field": "cursor"}


# ---------------------------------------------------------------------- jobs
def test_a_job_moves_queued_running_completed_and_fills_its_audience(
    api: Api, box: IntegrationsSandbox
) -> None:
    """A job is queued, then running through import and enrichment, then completed with its prospects imported."""
    audience = api.audience()
    status, body = api.start_job(search_job(audience, 12))
    assert status == 202 and body["data"]["status"] == "queued" and ISO_MS_Z.match(body["data"]["createdAt"])
    job_id = body["data"]["jobId"]
    assert HEX24.match(job_id)
    first = api.job(job_id)
    assert first["status"] == "queued" and first["stages"]["import"]["status"] == "pending"
    running = wait_for(lambda: (j := api.job(job_id))["status"] == "running" and j)
    assert running["stages"]["import"]["status"] in ("running", "completed")
    done = api.finished(job_id)
    assert done["status"] == "completed" and done["error"] is None and done["type"] == "prospecting"
    assert done["stages"] == {
        "import": {"status": "completed", "progress": 1.0},
        "enrichment": {"status": "completed", "progress": 1.0},
    }
    assert ISO_MS_Z.match(done["updatedAt"]) and done["updatedAt"] > done["createdAt"]
    prospects = api.all_items(f"/audiences/{audience}/prospects", 100)
    assert len(prospects) == 12 and box.credits_used == 12 and box.jobs_started == 1
    assert api.ok("GET", f"/audiences/{audience}")["prospectCount"] == 12


def test_an_audience_answers_409_while_a_job_fills_it(api: Api, box: IntegrationsSandbox) -> None:
    """While its job runs the audience (one, its prospects, a scan on it) is 409 AUDIENCE_NOT_READY and left out of lists."""
    box.job_seconds = 5.0
    audience = api.audience()
    status, body = api.start_job(search_job(audience))
    assert status == 202
    for method, path, kwargs in (
        ("GET", f"/audiences/{audience}", {}),
        ("GET", f"/audiences/{audience}/prospects", {}),
        ("POST", "/signals/scans", {"json": {"signalSpecificationId": SPEC, "audienceId": audience}}),
    ):
        status, answer = api.call(method, path, **kwargs)
        assert (status, answer["error"]["code"]) == (409, "AUDIENCE_NOT_READY"), path
    assert audience not in [a["id"] for a in api.ok("GET", "/audiences")["items"]]
    api.ok("POST", f"/prospecting/{body['data']['jobId']}/cancel")
    assert api.ok("GET", f"/audiences/{audience}")["prospectCount"] == 0
    assert audience in [a["id"] for a in api.ok("GET", "/audiences")["items"]]


def test_a_job_imports_at_most_the_pool(api: Api, box: IntegrationsSandbox) -> None:
    """A search imports min(maxResults, pool_size) people and is charged for those it imported."""
    box.pool_size = 7
    _, people = filled(api, 50)
    assert len(people) == 7 and box.credits_used == 7


def test_search_emails_charges_two_credits_a_prospect(api: Api, box: IntegrationsSandbox) -> None:
    """With searchEmails each imported prospect costs 2 credits."""
    audience = api.audience()
    _, body = api.start_job(search_job(audience, 5, searchEmails=True))
    assert api.finished(body["data"]["jobId"])["status"] == "completed"
    assert box.credits_used == 10


def test_a_start_costing_more_than_the_credits_left_is_402(box: IntegrationsSandbox, api: Api) -> None:
    """A job whose estimate (maxResults x 1 or 2) exceeds the credits left is 402 INSUFFICIENT_CREDITS and starts nothing."""
    box.credits = 15
    status, body = api.start_job(search_job(None, 10, searchEmails=True))
    assert status == 402 and body["error"]["code"] == "INSUFFICIENT_CREDITS"
    assert body["error"]["details"] == {"required": 20, "available": 15}
    assert box.jobs_started == 0 and api.ok("GET", "/prospecting")["items"] == []
    status, _ = api.start_job(search_job(None, 15))
    assert status == 202


def test_running_jobs_hold_their_estimate_against_the_credits(box: IntegrationsSandbox, api: Api) -> None:
    """A second start is 402 when the first job's estimate already holds the credits left."""
    box.credits, box.job_seconds = 30, 5.0
    assert api.start_job(search_job(None, 20))[0] == 202
    status, body = api.start_job(search_job(None, 20))
    assert status == 402 and body["error"]["details"]["available"] == 10


def test_max_results_above_the_plan_cap_is_422(box: IntegrationsSandbox, api: Api) -> None:
    """maxResults above the plan's cap is 422 VALIDATION_ERROR naming maxResults."""
    box.plan_cap = 100
    status, body = api.start_job(search_job(None, 101))
    assert status == 422 and body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"] == {"field": "maxResults"}
    assert api.start_job(search_job(None, 100))[0] == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "nope"}, "source"),
        ({"savedSearchId": "3318"}, "source"),
        ({"source": "sales_navigator"}, "savedSearchId"),
        ({"source": "sales_navigator", "savedSearchId": "1", "leadListId": "2"}, "savedSearchId"),
        (
            {
                "source": "sales_navigator",
                "savedSearchId": "1",
                "searchUrl": "https://www.linkedin.com/search/x",
            },
            "searchUrl",
        ),
        ({"source": "linkedin_search", "searchUrl": "https://example.com/search/results"}, "searchUrl"),
        ({"source": "post_commenters", "postUrl": "not a url"}, "postUrl"),
        ({"source": "url_upload", "profileUrls": []}, "profileUrls"),
        ({"source": "url_upload", "profileUrls": ["https://www.linkedin.com/company/acme"]}, "profileUrls.0"),
        ({"source": "url_upload", "profileUrls": ["https://www.linkedin.com/in/a"] * 1001}, "profileUrls"),
        ({"source": "sales_navigator", "savedSearchId": "1", "maxResults": 0}, "maxResults"),
        ({"source": "sales_navigator", "savedSearchId": "1", "maxResults": "10"}, "maxResults"),
        ({"source": "sales_navigator", "savedSearchId": "1", "searchEmails": "yes"}, "searchEmails"),
        ({"source": "sales_navigator", "savedSearchId": "1", "audienceId": "0" * 24}, "audienceId"),
        ({"source": "sales_navigator", "savedSearchId": "1", "urls": []}, "urls"),
    ],
)
def test_a_job_body_is_validated_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    """Each invalid job body (assumption I1) is 400 VALIDATION_ERROR naming its field, and starts nothing."""
    status, answer = api.start_job(body)
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR"
    assert answer["error"]["details"] == {"field": field} and answer["error"]["message"].startswith(field)
    assert api.box.jobs_started == 0


def test_a_body_that_is_not_an_object_is_400(api: Api) -> None:
    """Broken JSON and a JSON array are both 400 VALIDATION_ERROR in the envelope."""
    status, body = api.call(
        "POST", "/prospecting", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR" and body["success"] is False
    assert api.start_job([])[0] == 400  # type: ignore[arg-type]


def test_renamed_job_fields_are_the_ones_accepted(box: IntegrationsSandbox, api: Api) -> None:
    """With `job_fields` renames the sandbox takes the renamed names and rejects the canonical ones."""
    box.job_fields = {"profileUrls": "urls"}
    url = "https://www.linkedin.com/in/jane-doe"
    assert api.start_job({"source": "url_upload", "profileUrls": [url]})[1]["error"]["details"] == {
        "field": "profileUrls"
    }
    assert api.start_job({"source": "url_upload", "urls": [url]})[0] == 202


def test_the_jobs_list_is_newest_first_and_filters_by_status(api: Api, box: IntegrationsSandbox) -> None:
    """Jobs list newest first with the page's item fields; `status` filters, and an unknown status is 400."""
    first = api.start_job(search_job(None, 1))[1]["data"]["jobId"]
    api.finished(first)
    box.job_seconds = 5.0
    second = api.start_job(search_job(None, 2))[1]["data"]["jobId"]
    items = api.ok("GET", "/prospecting")["items"]
    assert [i["jobId"] for i in items] == [second, first]
    assert set(items[0]) == {"jobId", "type", "status", "createdAt", "updatedAt"}
    assert [i["jobId"] for i in api.ok("GET", "/prospecting", params={"status": "completed"})["items"]] == [
        first
    ]
    assert [i["jobId"] for i in api.ok("GET", "/prospecting", params={"status": "queued"})["items"]] == [
        second
    ]
    status, body = api.call("GET", "/prospecting", params={"status": "done"})
    assert status == 400 and body["error"]["details"] == {"field": "status"}


def test_a_cancelled_job_imports_nothing_and_a_finished_one_cannot_cancel(
    api: Api, box: IntegrationsSandbox
) -> None:
    """Cancel turns a queued job `cancelled` with nothing imported; cancelling it again is 422."""
    box.job_seconds = 5.0
    audience = api.audience()
    job_id = api.start_job(search_job(audience, 5))[1]["data"]["jobId"]
    cancelled = api.ok("POST", f"/prospecting/{job_id}/cancel")
    assert cancelled["status"] == "cancelled" and api.job(job_id)["status"] == "cancelled"
    assert api.ok("GET", f"/audiences/{audience}")["prospectCount"] == 0 and box.credits_used == 0
    status, body = api.call("POST", f"/prospecting/{job_id}/cancel")
    assert status == 422 and body["success"] is False


def test_fail_next_job_ends_the_job_failed_with_its_code(api: Api, box: IntegrationsSandbox) -> None:
    """After `fail_next_job` the next job ends `failed` with the code, imports nothing and costs nothing."""
    box.fail_next_job("LINKEDIN_ACCOUNT_DISCONNECTED")
    audience = api.audience()
    job = api.finished(api.start_job(search_job(audience, 5))[1]["data"]["jobId"])
    assert job["status"] == "failed" and job["error"]["code"] == "LINKEDIN_ACCOUNT_DISCONNECTED"
    assert box.credits_used == 0 and api.ok("GET", f"/audiences/{audience}")["prospectCount"] == 0
    assert api.finished(api.start_job(search_job(audience, 5))[1]["data"]["jobId"])["status"] == "completed"


# ---------------------------------------------------------------------- idempotency
def test_a_replayed_job_start_is_200_with_the_same_job(api: Api, box: IntegrationsSandbox) -> None:
    """The same Idempotency-Key and body answers 200 with the same job; a new key 202; another body 409."""
    audience = api.audience()
    status, first = api.start_job(search_job(audience, 5), key="k-1")
    assert status == 202
    status, again = api.start_job(search_job(audience, 5), key="k-1")
    assert status == 200 and again["data"]["jobId"] == first["data"]["jobId"]
    status, conflict = api.start_job(search_job(audience, 6), key="k-1")
    assert status == 409 and conflict["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    api.finished(first["data"]["jobId"])
    status, later = api.start_job(search_job(audience, 5), key="k-1")
    assert status == 200 and later["data"] == {**first["data"], "status": "completed"}
    status, other = api.start_job(search_job(audience, 5), key="k-2")
    assert status == 202 and other["data"]["jobId"] != first["data"]["jobId"]
    assert box.jobs_started == 2


def test_a_replayed_scan_start_is_200_with_the_same_scan(api: Api, box: IntegrationsSandbox) -> None:
    """Scans replay like jobs: 200 same id, 202 for a new key, 409 IDEMPOTENCY_CONFLICT for another body."""
    audience, people = filled(api, 3)
    body = {"signalSpecificationId": SPEC, "audienceId": audience}
    status, first = api.call("POST", "/signals/scans", json=body, headers={"Idempotency-Key": "s-1"})
    assert status == 202 and first["data"]["status"] == "queued"
    status, again = api.call("POST", "/signals/scans", json=body, headers={"Idempotency-Key": "s-1"})
    assert status == 200 and again["data"]["scanId"] == first["data"]["scanId"]
    other = {**body, "prospectIds": [people[0]["id"]]}
    status, conflict = api.call("POST", "/signals/scans", json=other, headers={"Idempotency-Key": "s-1"})
    assert status == 409 and conflict["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    status, _ = api.call("POST", "/signals/scans", json=body, headers={"Idempotency-Key": "s-2"})
    assert status == 202 and box.scans_started == 2


# ---------------------------------------------------------------------- url uploads, determinism
def test_url_upload_imports_one_prospect_per_url_named_from_its_slug(
    api: Api, box: IntegrationsSandbox
) -> None:
    """Each uploaded profile URL becomes one prospect named after its slug, with a stable id, at 1 credit each."""
    urls = [
        "https://www.linkedin.com/in/jane-doe-12ab",
        "https://linkedin.com/in/Omar-Haddad/",
        "https://www.linkedin.com/in/ann-marie-fadbec",
        "https://www.linkedin.com/in/bob",
    ]
    audience = api.audience()
    job = api.start_job(
        {"source": "url_upload", "profileUrls": urls, "maxResults": 1, "audienceId": audience}
    )
    api.finished(job[1]["data"]["jobId"])
    people = api.all_items(f"/audiences/{audience}/prospects", 100)
    names = [(p["firstName"], p["lastName"], p["name"]) for p in people]
    assert names == [
        ("Jane", "Doe", "Jane Doe"),
        ("Omar", "Haddad", "Omar Haddad"),
        ("Ann", "Marie", "Ann Marie"),  # LinkedIn's hex suffix is no name
        ("Bob", None, "Bob"),
    ]
    assert people[0]["linkedinUrl"] == "https://www.linkedin.com/in/jane-doe-12ab"
    assert [p["id"] for p in people] == [box.prospect_id_for(u) for u in urls]
    assert box.credits_used == 4 and box.prospect(people[1]["id"])["publicIdentifier"] == "Omar-Haddad"


def test_uploading_a_prospect_again_is_charged_again_into_the_same_prospect(
    api: Api, box: IntegrationsSandbox
) -> None:
    """A second upload of a URL (assumption I2) costs again and counts a second import, with the same prospect id."""
    url = "https://www.linkedin.com/in/jane-doe"
    audience = api.audience()
    for n in range(2):
        _, body = api.start_job({"source": "url_upload", "profileUrls": [url], "audienceId": audience})
        api.finished(body["data"]["jobId"])
        assert box.credits_used == n + 1
    assert box.imports["linkedin.com/in/jane-doe"] == 2
    assert [p["id"] for p in api.all_items(f"/audiences/{audience}/prospects", 100)] == [
        box.prospect_id_for(url)
    ]


def test_an_audience_is_filled_by_several_jobs_one_after_another(api: Api) -> None:
    """An upload into an audience a search filled adds its prospects; a second job while one fills it is 409."""
    audience, people = filled(api, 4)
    url = "https://www.linkedin.com/in/new-person"
    _, body = api.start_job({"source": "url_upload", "profileUrls": [url], "audienceId": audience})
    status, busy = api.start_job({"source": "url_upload", "profileUrls": [url], "audienceId": audience})
    assert status == 409 and busy["error"]["code"] == "AUDIENCE_NOT_READY"
    api.finished(body["data"]["jobId"])
    after = api.all_items(f"/audiences/{audience}/prospects", 100)
    assert after[:4] == people and after[4]["linkedinUrl"] == url and len(after) == 5


def test_people_are_deterministic_per_input() -> None:
    """The same source and input give the same people; another input gives mostly others."""
    one = [p["linkedinUrl"] for p in people_for("sales_navigator", "3318", 30)]
    assert one == [p["linkedinUrl"] for p in people_for("sales_navigator", "3318", 30)]
    other = [p["linkedinUrl"] for p in people_for("linkedin_search", "3318", 30)]
    assert len(set(one) & set(other)) < 10 and len(set(one)) == 30
    person = people_for("post_commenters", "https://www.linkedin.com/posts/x", 1)[0]
    assert person["linkedinUrl"] == f"https://www.linkedin.com/in/{person['publicIdentifier']}"
    assert set(person["company"]) >= {"name", "website", "linkedinUrl", "industry"}


def test_two_sandboxes_import_the_same_prospects_with_the_same_ids() -> None:
    """Prospect ids are stable per (group, LinkedIn key): a fresh sandbox with the same seed imports the same ones."""
    seen = []
    for _ in range(2):
        with IntegrationsSandbox() as server:
            client = Api(server)
            _, people = filled(client, 6)
            seen.append([(p["id"], p["linkedinUrl"]) for p in people])
            client.http.close()
    assert seen[0] == seen[1] and all(HEX24.match(pid) for pid, _ in seen[0])


# ---------------------------------------------------------------------- scans and results
def test_a_scan_moves_to_completed_and_its_prospects_to_evaluated(api: Api, box: IntegrationsSandbox) -> None:
    """A scan is queued, running, completed; its prospects are pending until evaluated after it completes."""
    box.evaluate_seconds = 0.5
    audience, people = filled(api, 6)
    pid = people[0]["id"]
    assert api.signals(pid) == {"prospectId": pid, "status": "pending", "results": []}  # never scanned
    _, body = api.call("POST", "/signals/scans", json={"signalSpecificationId": SPEC, "audienceId": audience})
    scan_id = body["data"]["scanId"]
    first = api.ok("GET", f"/signals/scans/{scan_id}")
    assert first["status"] == "queued" and first["type"] == "signal_scan" and first["error"] is None
    wait_for(lambda: api.ok("GET", f"/signals/scans/{scan_id}")["status"] == "completed")
    assert api.signals(pid)["status"] == "pending"  # evaluated only evaluate_seconds after
    for person in people:
        wait_for(lambda p=person: api.signals(p["id"])["status"] == "evaluated")
    assert [s["scanId"] for s in api.ok("GET", "/signals/scans")["items"]] == [scan_id]


def test_hold_pending_keeps_one_prospect_pending_until_released(api: Api, box: IntegrationsSandbox) -> None:
    """A held prospect stays pending after the others are evaluated, and is evaluated once released."""
    audience, people = filled(api, 3)
    held, other = people[0]["id"], people[1]["id"]
    box.hold_pending(held)
    api.ok("POST", "/signals/scans", json={"signalSpecificationId": SPEC, "audienceId": audience})
    wait_for(lambda: api.signals(other)["status"] == "evaluated")
    assert api.signals(held)["status"] == "pending"
    box.release_pending(held)
    assert api.signals(held)["status"] == "evaluated"


def test_a_scan_of_some_prospects_evaluates_only_them(api: Api) -> None:
    """With prospectIds only those prospects are evaluated; an id outside the audience is 400."""
    audience, people = filled(api, 4)
    chosen = people[0]["id"]
    body = {"signalSpecificationId": SPEC, "audienceId": audience, "prospectIds": [chosen]}
    api.ok("POST", "/signals/scans", json=body)
    wait_for(lambda: api.signals(chosen)["status"] == "evaluated")
    assert api.signals(people[1]["id"])["status"] == "pending"
    status, answer = api.call("POST", "/signals/scans", json={**body, "prospectIds": ["0" * 24]})
    assert status == 400 and answer["error"]["details"] == {"field": "prospectIds"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"audienceId": "x"}, "signalSpecificationId"),
        ({"signalSpecificationId": SPEC}, "audienceId"),
        ({"signalSpecificationId": "0" * 24, "audienceId": "x"}, "signalSpecificationId"),
        ({"signalSpecificationId": SPEC, "audienceId": "x", "extra": 1}, "extra"),
    ],
)
def test_a_scan_body_is_validated_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    """Each invalid scan body is 400 VALIDATION_ERROR naming its field."""
    status, answer = api.call("POST", "/signals/scans", json=body)
    assert status == 400 and answer["error"]["details"] == {"field": field}


def test_results_have_string_scores_and_about_two_thirds_have_items(
    api: Api, box: IntegrationsSandbox
) -> None:
    """Evaluated results are 1-3 items with string scores in 1-2 groups for about 2/3 of prospects, none for the rest."""
    audience, people = filled(api, 30)
    api.ok("POST", "/signals/scans", json={"signalSpecificationId": SPEC, "audienceId": audience})
    answers = [
        wait_for(lambda p=p: (s := api.signals(p["id"]))["status"] == "evaluated" and s) for p in people
    ]
    with_items = [a for a in answers if a["results"]]
    assert 12 <= len(with_items) <= 27 and len(with_items) < len(answers)
    for answer in with_items:
        assert 1 <= len(answer["results"]) <= 2
        items = [i for group in answer["results"] for i in group["items"]]
        assert 1 <= len(items) <= 3
        for item in items:
            assert isinstance(item["score"], str) and 0 < float(item["score"]) < 1
            assert {"reasoning", "summary", "title", "postedAt", "postLink", "jobUrl", "companyName"} <= set(
                item
            )
    pid = with_items[0]["prospectId"]
    assert box.prospect_signals_for(pid) == api.signals(pid)  # the same, read again


def test_min_score_drops_items_below_it(api: Api) -> None:
    """`minScore` keeps only items scored at or above it; a minScore outside 0..1 is 400."""
    audience, people = filled(api, 12)
    api.ok("POST", "/signals/scans", json={"signalSpecificationId": SPEC, "audienceId": audience})
    for person in people:
        full = wait_for(lambda p=person: (s := api.signals(p["id"]))["status"] == "evaluated" and s)
        kept = api.signals(person["id"], minScore=0.7)
        expected = [
            float(i["score"]) for g in full["results"] for i in g["items"] if float(i["score"]) >= 0.7
        ]
        assert [float(i["score"]) for g in kept["results"] for i in g["items"]] == expected
    status, answer = api.call("GET", f"/prospects/{people[0]['id']}/signals", params={"minScore": 2})
    assert status == 400 and answer["error"]["details"] == {"field": "minScore"}


def test_fail_next_scan_ends_the_scan_failed_and_evaluates_nobody(api: Api, box: IntegrationsSandbox) -> None:
    """After `fail_next_scan` the scan ends failed with its code and its prospects stay pending."""
    audience, people = filled(api, 2)
    box.fail_next_scan("UPSTREAM_ERROR")
    scan_id = api.ok("POST", "/signals/scans", json={"signalSpecificationId": SPEC, "audienceId": audience})[
        "scanId"
    ]
    scan = wait_for(lambda: (s := api.ok("GET", f"/signals/scans/{scan_id}"))["status"] == "failed" and s)
    assert scan["error"]["code"] == "UPSTREAM_ERROR" and api.signals(people[0]["id"])["status"] == "pending"


# ---------------------------------------------------------------------- audiences, faults, runner
def test_audiences_are_created_empty_patched_and_deleted(api: Api) -> None:
    """Create answers 201 with an empty audience; PATCH renames it; DELETE removes it; a bad type is 400."""
    status, body = api.call("POST", "/audiences", json={"name": "Leads", "type": "monitoring"})
    assert status == 201
    created = body["data"]
    assert created["prospectCount"] == 0 and created["type"] == "monitoring" and HEX24.match(created["id"])
    assert api.ok("PATCH", f"/audiences/{created['id']}", json={"name": "Renamed"})["name"] == "Renamed"
    api.ok("DELETE", f"/audiences/{created['id']}")
    assert api.call("GET", f"/audiences/{created['id']}")[0] == 404
    status, body = api.call("POST", "/audiences", json={"name": "x", "type": "static"})
    assert status == 400 and body["error"]["details"] == {"field": "type"}


def test_throttles_and_faults_come_in_the_envelope(api: Api, box: IntegrationsSandbox) -> None:
    """A scripted 429 carries Retry-After and a 500 the envelope with a traceId."""
    box.throttle_next(retry_after=2)
    response = api.http.get("/accounts")
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "RATE_LIMITED" and HEX24.match(response.json()["traceId"])
    box.fail_next(status=500)
    status, body = api.call("GET", "/accounts")
    assert status == 500 and body["success"] is False and HEX24.match(body["traceId"])


def test_start_sandbox_runs_the_account_group_api_and_names_it_in_env() -> None:
    """`start_sandbox` starts the account-group API by default and `env()` points the connector at it."""
    with start_sandbox(contacts=0) as running:
        assert running.integrations is not None
        env = running.env()
        assert env["INTEGRATIONS_BASE_URL"] == running.integrations.url
        response = httpx.get(
            f"{env['INTEGRATIONS_BASE_URL']}/v1/accounts",
            headers={"Authorization": f"Bearer {env['INTEGRATIONS_API_KEY']}"},
        )
        assert response.status_code == 200 and response.json()["success"] is True
    with start_sandbox(contacts=0, integrations=False) as bare:
        assert bare.integrations is None and "INTEGRATIONS_API_KEY" not in bare.env()
