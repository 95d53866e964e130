"""Error types shared by every part of the connector, typed by what happens next.

As in Meltano's singer-sdk, an error's class says its consequence, so callers catch by
consequence and never re-raise by hand:

* `FatalApiError`: retrying in this run cannot help (a refused key, a `DAILY` limit):
  the run stops, exit code 3.
* `RetriableApiError`: the API is down or throttling past every retry; one call failed,
  the next may work. Per contact it is put off to the next run; a run of them in a row
  trips an `ApiOutage`, which stops the run with exit code 3.
* `SkippableError`: the API refused this one record (bad inputs, an odd answer): the
  record is reported, the run goes on.

`ConfigError` (exit 2) is what the operator must fix before anything can run.

`RUN_GOES_ON` names the two that end one call and not the run (a record skipped or put off);
every error has a `code` (the API's own, or None) and an unavailable API's error says which
`api` it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ApiName = Literal["hubspot", "saber", "integrations"]
API_LABELS: dict[ApiName, str] = {  # as messages name them
    "hubspot": "HubSpot",
    "saber": "Saber",
    "integrations": "Saber integrations API",
}


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code = 1
    code: str | None = None  # the code the API gave (Saber's `NOT_FOUND`, ...); None: it gave none


class ConfigError(ConnectorError):
    """A setting, config file or mapping is missing or malformed (exit code 2)."""

    exit_code = 2


class ApiUnavailableError(ConnectorError):
    """An API could not be reached or refused the key (exit code 3); `api` says which one."""

    exit_code = 3
    api: ApiName | None = None


class FatalApiError(ApiUnavailableError):
    """Retrying cannot help in this run: a refused key, a used-up daily limit (stops the run)."""


class RetriableApiError(ApiUnavailableError):
    """The API is unavailable right now (5xx, 429 or no answer after every retry)."""


class ApiOutage(FatalApiError):
    """Consecutive unavailable answers passed the threshold: the API is taken as down for this run."""

    def __init__(self, message: str, *, api: ApiName | None = None) -> None:
        super().__init__(message)
        self.api = api


class SkippableError(ConnectorError):
    """The API refused one record's call; report it against that record and go on."""


# What one call can fail with while the run goes on: the record is reported (skippable) or put
# off to the next run (retriable); `except RUN_GOES_ON as exc:` catches both.
RUN_GOES_ON: tuple[type[SkippableError], type[RetriableApiError]] = (SkippableError, RetriableApiError)


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """One record-level failure (a HubSpot write or a Saber call), for the summary and `status`."""

    contact_id: str
    property: str | None  # None: the whole record failed
    code: str
    message: str
