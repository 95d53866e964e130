"""The typed side of errors: every connector error has a `code`, an unavailable API's error says which
`api`, and `RUN_GOES_ON` is what one call may fail with while the run goes on."""

from __future__ import annotations

import pytest

from connector.errors import (
    RUN_GOES_ON,
    ApiOutage,
    ApiUnavailableError,
    ConfigError,
    ConnectorError,
    FatalApiError,
)
from connector.hubspot.errors import error_from_response
from connector.hubspot.errors import unreachable as hubspot_unreachable
from connector.saber.errors import parse_error
from connector.saber.errors import unreachable as saber_unreachable
from connector.state import StateUnavailableError
from connector.sync.outage import OutageBreaker


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_connector_error_class_has_a_code() -> None:
    """`exc.code` works on any connector error: the API's own code, or None when it gave none."""
    classes = [ConnectorError, *_subclasses(ConnectorError)]
    assert StateUnavailableError in classes and len(classes) > 15
    assert [cls.__name__ for cls in classes if not hasattr(cls, "code")] == []
    assert ConfigError("bad setting").code is None


def test_saber_errors_keep_saber_code_and_name_their_api() -> None:
    """A Saber error's `code` is Saber's; one that makes Saber unavailable says `api == "saber"`."""
    not_found = parse_error(404, '{"error": "NOT_FOUND", "message": "no such research"}')
    assert not_found.code == "NOT_FOUND" and not_found.api == "saber"
    down = saber_unreachable("http://127.0.0.1:9", ConnectionRefusedError("refused"))
    assert isinstance(down, ApiUnavailableError) and down.api == "saber" and down.code == "TRANSPORT_ERROR"
    refused = parse_error(401, '{"error": "UNAUTHORIZED", "message": "bad key"}')
    assert isinstance(refused, FatalApiError) and refused.api == "saber"


def test_hubspot_errors_name_their_api_and_carry_no_code() -> None:
    """HubSpot gives no error code of its own: its status and category say it; `api == "hubspot"`."""
    failed = error_from_response(503, '{"status": "error", "message": "down", "category": "X"}', {})
    assert isinstance(failed, ApiUnavailableError) and failed.api == "hubspot" and failed.code is None
    down = hubspot_unreachable("http://127.0.0.1:9", ConnectionRefusedError("refused"))
    assert down.api == "hubspot"
    refused = error_from_response(401, '{"message": "expired", "category": "INVALID_AUTHENTICATION"}', {})
    assert isinstance(refused, FatalApiError) and refused.api == "hubspot"


def test_an_outage_names_the_api_whose_calls_failed() -> None:
    """The breaker's `ApiOutage` takes its `api` from the failures that tripped it."""
    breaker = OutageBreaker("Saber", threshold=1)

    def launch() -> None:
        raise saber_unreachable("http://127.0.0.1:9", ConnectionRefusedError("refused"))

    with pytest.raises(ApiOutage) as caught:
        breaker.call("launch", launch)
    assert caught.value.api == "saber" and str(caught.value).startswith("Saber is unavailable")


def test_run_goes_on_catches_skippable_and_retriable_errors_only() -> None:
    """A refused record and an API down past its retries are caught; a refused key and an outage are not."""
    caught = [
        parse_error(404, '{"error": "NOT_FOUND"}'),
        saber_unreachable("http://127.0.0.1:9", ConnectionRefusedError("refused")),
        error_from_response(503, "", {}),
    ]
    passed = [parse_error(401, "{}"), ApiOutage("Saber is unavailable", api="saber"), ConfigError("x")]
    assert all(isinstance(exc, RUN_GOES_ON) for exc in caught)
    assert not any(isinstance(exc, RUN_GOES_ON) for exc in passed)
