"""Bad API answers (item 7): garbled Saber answers are recorded, never crash, never write garbage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.hubspot import HubSpotAdapter
from connector.hubspot.adapter import MAX_BODY_BYTES
from connector.hubspot.errors import HubSpotError
from connector.saber import SaberClient
from connector.saber.errors import SaberRequestError
from connector.sandbox.hubspot import HubSpotSandbox
from connector.sandbox.saber import SaberSandbox
from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import bad_answers

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


@pytest.fixture
def saber() -> Iterator[SaberSandbox]:
    with SaberSandbox() as box:
        yield box


def test_bad_answers_are_recorded_and_never_written() -> None:
    """Badly shaped research and garbled raw answers: no crash, no garbage write, nothing good
    held back, every one recorded against its contact, and no credit spent beyond a clean run."""
    figures = bad_answers.run(long=False)
    assert_all_ok(figures)
    assert {f.name: f.value for f in figures}["bad shapes tried (one contact each)"] == len(
        bad_answers.SHAPES
    )


def test_the_client_refuses_a_body_bigger_than_its_cap_without_reading_it(saber: SaberSandbox) -> None:
    """A 200 whose body is bigger than the cap is an invalid answer (RESPONSE_TOO_LARGE), not a memory spike."""
    client = SaberClient(saber.url, saber.api_key, max_body_bytes=64 * 1024)
    try:
        saber.fail_next(
            1, 200, "research_get", body='{"id": "' + "x" * 200_000 + '"}', content_type="application/json"
        )
        with pytest.raises(SaberRequestError) as caught:
            client.get_research("cr_000000000000")
        assert caught.value.code == "RESPONSE_TOO_LARGE"
        saber.fail_next(1, 502, "research_get", body="<html>" + "x" * 200_000 + "</html>")
        saber.fail_next(1, 404, "research_get", body={"error": "NOT_FOUND", "message": "gone"})
        with pytest.raises(SaberRequestError) as caught:  # an error page is cut, then read as the error it is
            client.get_research("cr_000000000000")
        assert caught.value.status == 404
    finally:
        client.close()


def test_a_lookup_answer_with_a_garbled_status_is_not_followed(saber: SaberSandbox) -> None:
    """`{"id": 5, "status": [...]}` is an invalid answer, not a research to poll forever."""
    client = SaberClient(saber.url, saber.api_key)
    try:
        saber.fail_next(1, 200, "research_find", body={"id": 5, "status": ["completed"]})
        with pytest.raises(SaberRequestError) as caught:
            client.find_research("51", "hubspot")
        assert caught.value.code == "INVALID_RESPONSE"
    finally:
        client.close()


def test_the_hubspot_adapter_refuses_a_body_bigger_than_its_cap_and_carries_on() -> None:
    """A HubSpot 200 bigger than the cap is refused as RESPONSE_TOO_LARGE (not retried); the next call works."""
    with HubSpotSandbox(contacts=3) as box:
        hubspot = HubSpotAdapter(box.url, box.token)
        try:
            box.answer_next(
                200, {"results": [], "padding": "a" * (MAX_BODY_BYTES + 1)}, endpoint="properties_list"
            )
            with pytest.raises(HubSpotError) as caught:
                hubspot.get_properties()
            assert caught.value.category == "RESPONSE_TOO_LARGE"
            assert box.count("properties_list") == 1  # not retried
            assert "firstname" in hubspot.get_properties()
        finally:
            hubspot.close()
