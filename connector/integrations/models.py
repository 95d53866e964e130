"""The account-group API's answers as frozen values, read defensively.

The pages publish examples, not schemas, and leave parts unsaid (assumptions I1-I3 in
shared/saber-api.md): so extra fields are ignored, camelCase and snake_case are both read,
numbers are taken from numeric strings (result scores come as `"0.87"`), and an answer of
the wrong shape raises `IntegrationsAnswerError` naming the call and the id, to be reported
against that job, scan or prospect instead of a traceback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from connector.integrations.errors import IntegrationsAnswerError

FINISHED = frozenset({"completed", "failed", "cancelled"})
SIGNAL_STATUSES = frozenset({"pending", "evaluated"})
SOURCES = ("linkedin_search", "sales_navigator", "post_commenters", "url_upload")
INPUT_NAMES = ("searchUrl", "savedSearchId", "leadListId", "postUrl", "profileUrls")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


# ---------------------------------------------------------------------- reading helpers
def snake(name: str) -> str:
    """`firstName` -> `first_name`."""
    return _CAMEL.sub("_", name).lower()


def camel(name: str) -> str:
    """`first_name` -> `firstName`."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def get(raw: Mapping[str, Any], name: str) -> Any:
    """A field by its camelCase name, else its snake_case one (None when neither is there)."""
    if name in raw:
        return raw[name]
    for other in (snake(name), camel(name)):
        if other in raw:
            return raw[other]
    return None


def text(raw: Mapping[str, Any], *names: str) -> str | None:
    """The first of `names` holding a non-empty string (numbers are taken as text: ids)."""
    for name in names:
        value = get(raw, name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def number(value: Any) -> float | None:
    """A finite number from a number or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def integer(value: Any) -> int | None:
    parsed = number(value)
    return int(parsed) if parsed is not None else None


def wrong(call: str, ident: str | None, why: str) -> IntegrationsAnswerError:
    """The error for an answer of the wrong shape, naming the call and the id."""
    where = f"{call} {ident}" if ident else call
    return IntegrationsAnswerError(f"{where}: unexpected answer: {why}", status=200, code="INVALID_RESPONSE")


def obj(data: Any, call: str, ident: str | None = None) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise wrong(call, ident, f"expected an object, got {type(data).__name__}")
    return data


def required(raw: Mapping[str, Any], call: str, ident: str | None, *names: str) -> str:
    value = text(raw, *names)
    if value is None:
        raise wrong(call, ident, f"no {names[0]}")
    return value


def linkedin_key(url: str | None) -> str:
    """A LinkedIn profile URL as compared: 'linkedin.com/in/<slug>' lower-cased.

    No scheme, www (or country subdomain), query or trailing slash; '' when not a profile URL.
    """
    if not isinstance(url, str) or not url.strip():
        return ""
    value = url.strip()
    if "://" not in value:
        value = "https://" + value.lstrip("/")
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return ""
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0].lower() != "in":
        return ""
    slug = unquote(segments[1]).strip().lower()
    return f"linkedin.com/in/{slug}" if slug else ""


# ---------------------------------------------------------------------- values
@dataclass(frozen=True)
class AccountGroup:
    """An account group the key reaches (every other call is scoped by one)."""

    id: str
    name: str
    created_at: str | None

    @classmethod
    def parse(cls, data: Any, call: str = "groups") -> AccountGroup:
        raw = obj(data, call)
        ident = required(raw, call, None, "id", "accountGroupId", "_id")
        return cls(ident, text(raw, "name") or "", text(raw, "createdAt"))


@dataclass(frozen=True)
class Named:
    """A saved search or a lead list: the ids a `sales_navigator` job takes."""

    id: str
    name: str

    @classmethod
    def parse(cls, data: Any, call: str) -> Named:
        raw = obj(data, call)
        return cls(required(raw, call, None, "id", "_id"), text(raw, "name") or "")


@dataclass(frozen=True)
class SignalSpecification:
    """What a scan evaluates its audience for."""

    id: str
    name: str
    description: str | None

    @classmethod
    def parse(cls, data: Any, call: str = "specifications") -> SignalSpecification:
        raw = obj(data, call)
        ident = required(raw, call, None, "id", "_id")
        return cls(ident, text(raw, "name") or "", text(raw, "description"))


@dataclass(frozen=True)
class Audience:
    """An audience ("imported list"): what a job fills and a scan evaluates."""

    id: str
    name: str
    type: str | None
    prospect_count: int | None

    @classmethod
    def parse(cls, data: Any, call: str = "audience", ident: str | None = None) -> Audience:
        raw = obj(data, call, ident)
        found = required(raw, call, ident, "id", "audienceId", "_id")
        return cls(found, text(raw, "name") or "", text(raw, "type"), integer(get(raw, "prospectCount")))


@dataclass(frozen=True)
class Prospect:
    """A person of an audience; `raw` keeps every field for the mapping's paths."""

    id: str
    first_name: str | None
    last_name: str | None
    name: str | None
    headline: str | None
    linkedin_url: str | None
    public_identifier: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, data: Any, call: str = "audience_prospects", ident: str | None = None) -> Prospect:
        raw = obj(data, call, ident)
        return cls(
            required(raw, call, ident, "id", "prospectId", "_id"),
            text(raw, "firstName"),
            text(raw, "lastName"),
            text(raw, "name", "fullName"),
            text(raw, "headline"),
            text(raw, "linkedinUrl", "linkedInUrl", "profileUrl"),
            text(raw, "publicIdentifier"),
            raw,
        )

    def field(self, path: str) -> Any:
        """A dotted path into `raw` ("firstName", "company.name"); None when absent."""
        return dig(self.raw, path)

    @property
    def key(self) -> str:
        """What the connector compares people by: the LinkedIn key, else `pid:<publicIdentifier>`, else ''."""
        key = linkedin_key(self.linkedin_url)
        if key:
            return key
        return f"pid:{self.public_identifier.lower()}" if self.public_identifier else ""


def dig(raw: Any, path: str) -> Any:
    """Follow a dotted path through objects (either spelling) and lists (numeric parts)."""
    value = raw
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = get(value, part)
        elif isinstance(value, list | tuple) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


@dataclass(frozen=True)
class Stage:
    """One stage of a job (import, enrichment): its status and progress 0-1."""

    status: str | None
    progress: float | None


def _lifecycle(
    raw: Mapping[str, Any], call: str, ident: str | None, id_key: str
) -> tuple[str, str, str | None, str | None, str | None, str | None]:
    """What a job and a scan both say of themselves: id, status, times, and the error it ended with."""
    found = required(raw, call, ident, id_key, "id", "_id")
    status = required(raw, call, found, "status")
    code, message = _error(raw)
    return found, status, text(raw, "createdAt"), text(raw, "updatedAt"), code, message


def _error(raw: Mapping[str, Any]) -> tuple[str | None, str | None]:
    error = get(raw, "error")
    if isinstance(error, Mapping):
        return text(error, "code"), text(error, "message")
    if isinstance(error, str) and error:
        return text(raw, "errorCode"), error
    return text(raw, "errorCode"), text(raw, "errorMessage")


@dataclass(frozen=True)
class Job:
    """A prospecting job; it does not name the audience it fills (the connector records that)."""

    id: str
    type: str | None
    status: str
    created_at: str | None
    updated_at: str | None
    stages: Mapping[str, Stage]
    error_code: str | None
    error_message: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def parse(cls, data: Any, call: str = "job", ident: str | None = None) -> Job:
        raw = obj(data, call, ident)
        found, status, created, updated, code, message = _lifecycle(raw, call, ident, "jobId")
        stages_raw = get(raw, "stages")
        stages: dict[str, Stage] = {}
        if isinstance(stages_raw, Mapping):
            for name, stage in stages_raw.items():
                if isinstance(stage, Mapping):
                    stages[str(name)] = Stage(text(stage, "status"), number(get(stage, "progress")))
        elif stages_raw is not None:
            raise wrong(call, found, "stages is not an object")
        return cls(found, text(raw, "type", "source"), status, created, updated, stages, code, message)


@dataclass(frozen=True)
class Scan:
    """A signal scan of an audience; its results are read per prospect."""

    id: str
    type: str | None
    status: str
    created_at: str | None
    updated_at: str | None
    error_code: str | None
    error_message: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def parse(cls, data: Any, call: str = "scan", ident: str | None = None) -> Scan:
        raw = obj(data, call, ident)
        found, status, created, updated, code, message = _lifecycle(raw, call, ident, "scanId")
        return cls(found, text(raw, "type"), status, created, updated, code, message)


@dataclass(frozen=True)
class Started:
    """A job or scan start's answer: `replayed` when the API answered 200 to a known Idempotency-Key."""

    id: str
    status: str
    created_at: str | None
    replayed: bool

    @classmethod
    def parse(cls, data: Any, http_status: int, call: str, ident: str | None = None) -> Started:
        raw = obj(data, call, ident)
        found = required(raw, call, ident, "jobId", "scanId", "id", "_id")
        return cls(found, text(raw, "status") or "queued", text(raw, "createdAt"), http_status == 200)


@dataclass(frozen=True)
class SignalItem:
    """One finding of a scan about a prospect; `score` from a number or a numeric string (assumption I3)."""

    score: float | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def get(self, path: str) -> Any:
        """A dotted path into the item; `score` is the parsed number."""
        if path == "score":
            return self.score
        return dig(self.raw, path)


@dataclass(frozen=True)
class ProspectSignals:
    """A prospect's results: `pending` (not evaluated yet) or `evaluated` (no items: nothing found)."""

    prospect_id: str
    status: str
    items: tuple[SignalItem, ...]

    @classmethod
    def parse(cls, data: Any, call: str = "prospect_signals", ident: str | None = None) -> ProspectSignals:
        raw = obj(data, call, ident)
        found = text(raw, "prospectId", "id") or ident
        if found is None:
            raise wrong(call, ident, "no prospectId")
        status = text(raw, "status")
        if status not in SIGNAL_STATUSES:
            raise wrong(call, found, f"status {status!r} is neither pending nor evaluated")
        groups = get(raw, "results")
        if groups is None:
            groups = []
        if not isinstance(groups, list):
            raise wrong(call, found, "results is not a list")
        items: list[SignalItem] = []
        for group in groups:
            if not isinstance(group, Mapping):
                raise wrong(call, found, "a result group is not an object")
            entries = get(group, "items") or []
            if not isinstance(entries, list):
                raise wrong(call, found, "a result group's items is not a list")
            for entry in entries:
                if not isinstance(entry, Mapping):
                    raise wrong(call, found, "a result item is not an object")
                items.append(SignalItem(number(get(entry, "score")), entry))
        # Best score first; items with no score last, in the order given.
        items.sort(key=lambda item: (item.score is None, -(item.score or 0.0)))
        return cls(found, status, tuple(items))

    def value(self, path: str) -> Any:
        """A mapping's `from:` path: `status`; `items.count`; `items.<n>.<field>` (None past the end);
        `items.<field>`: every item's field, Nones dropped."""
        if path == "status":
            return self.status
        head, _, rest = path.partition(".")
        if head != "items":
            return None
        if rest == "count":
            return len(self.items)
        if not rest:
            return [dict(item.raw) for item in self.items]
        first, _, tail = rest.partition(".")
        if first.isdigit():
            index = int(first)
            if index >= len(self.items):
                return None
            item = self.items[index]
            return item.get(tail) if tail else dict(item.raw)
        return [v for item in self.items if (v := item.get(rest)) is not None]


@dataclass(frozen=True)
class JobRequest:
    """What a prospecting job is started with, by canonical field names (assumption I1)."""

    source: str
    inputs: Mapping[str, Any]
    max_results: int | None
    search_emails: bool
    audience_id: str

    def body(self, renames: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The assumption-I1 body, each field renamed as INTEGRATIONS_JOB_FIELDS says."""
        body: dict[str, Any] = {"source": self.source, **self.inputs}
        if self.max_results is not None:
            body["maxResults"] = self.max_results
        body["searchEmails"] = self.search_emails
        body["audienceId"] = self.audience_id
        names = renames or {}
        return {names.get(key, key): value for key, value in body.items()}

    def credits(self) -> int:
        """The most it may cost: max_results (or the URL count for url_upload), twice with searchEmails."""
        if self.source == "url_upload":
            urls = self.inputs.get("profileUrls") or ()
            count = len(urls) if isinstance(urls, list | tuple) else 0
        else:
            count = self.max_results or 0
        return count * (2 if self.search_emails else 1)
