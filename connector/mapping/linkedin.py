"""The mapping's `linkedin` section: prospecting jobs and signal scans of the account-group API.

Jobs import people from a LinkedIn source into HubSpot (what a created contact holds is `contact`:
a prospect field, dots going into objects, or a fixed value); scans evaluate a signal
specification over an audience and write a prospect's results onto its contact through `from:`
paths (`status`, `items.count`, `items.<n>.<field>`, `items.<field>`). Everything the API takes or
the run needs is checked when the mapping loads, so a typo stops the run before a credit is spent;
the cross-references (a scan's audience naming a job, two writers for one property) are
`linkedin_reference_problems`, run on the raw data like the other sections' so every one is listed.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_serializer, model_validator

from connector.mapping.convert import ConversionError, option_key
from connector.mapping.fields import NonEmpty, PropertyName, StrictModel, problem
from connector.mapping.hints import did_you_mean, shown
from connector.mapping.linkedin_results import FROM_WORDS, SCAN_TYPES, ScanProperty

JobSource = Literal["linkedin_search", "sales_navigator", "post_commenters", "url_upload"]
AudienceKind = Literal["hubspot", "job", "id"]
JOB_SOURCES: tuple[str, ...] = get_args(JobSource)
HUBSPOT_AUDIENCE = "hubspot"
MAX_RESULTS = 2000  # the largest plan's cap (Tester 100, Starter 1,000, Scale/Enterprise 2,000)
MAX_PROFILE_URLS = 1000
# The file key of each input, the source that takes it, and its name in the API (assumption I1).
SOURCE_INPUTS: dict[str, tuple[str, ...]] = {
    "linkedin_search": ("search_url",),
    "sales_navigator": ("saved_search_id", "lead_list_id"),
    "post_commenters": ("post_url",),
    "url_upload": ("profile_urls",),
}
API_NAMES = {
    "search_url": "searchUrl",
    "saved_search_id": "savedSearchId",
    "lead_list_id": "leadListId",
    "post_url": "postUrl",
    "profile_urls": "profileUrls",
}
HEX_ID = re.compile(r"^[0-9a-fA-F]{24}$")
PROSPECT_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
# What the pages show of a prospect (the object is open: other paths are allowed, these hinted).
PROSPECT_FIELDS = (
    "id", "firstName", "lastName", "name", "headline", "about", "photoUrl", "linkedinUrl",
    "publicIdentifier", "company.name", "company.website", "company.linkedinUrl",
    "company.linkedinIdentifier", "company.industry",
)  # fmt: skip
URL_FIELDS = ("linkedinUrl", "linkedInUrl", "linkedin_url")
SOURCE_WORDS = (
    "a prospect field (firstName, lastName, headline, linkedinUrl, company.name, …) or {value: <fixed value>}"
)
# What a linkedin key must hold (the loader's messages for missing and mistyped keys).
LINKEDIN_WANTED = {
    "source": ", ".join(JOB_SOURCES),
    "search_url": "the LinkedIn search URL",
    "saved_search_id": 'the Sales Navigator saved search id, as text ("3318")',
    "lead_list_id": 'the Sales Navigator lead list id, as text ("3318")',
    "post_url": "the LinkedIn post URL",
    "profile_urls": f"1 to {MAX_PROFILE_URLS} LinkedIn profile URLs",
    "signal_specification": "the signal specification's id (24 hex digits)",
    "audience": "hubspot, a job of linkedin.jobs, or an audience id",
    "linkedin_url": "the contact property holding the LinkedIn profile URL",
    "from": FROM_WORDS,
    "contact": f"HubSpot contact property <- {SOURCE_WORDS}",
    "properties": "HubSpot contact property <- {from: <path into the prospect's results>}",
    "jobs": "job name <- {source, its input, max_results, search_emails, every_days}",
    "scans": "scan name <- {signal_specification, audience, properties}",
}
LINKEDIN_CHOICES: dict[str, tuple[str, ...]] = {"source": JOB_SOURCES, "type": SCAN_TYPES}


# ---------------------------------------------------------------------------- small checks
def _id_text(value: Any) -> Any:
    """An id stays text: a number in YAML would lose leading zeros, so it must be quoted."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise problem(f"{shown(value)} (a number)", f'text: quote the id, "{value}"')
    return value


def _linkedin_url(text: str) -> str:
    parts = urlsplit(text.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not (
        host == "linkedin.com" or host.endswith(".linkedin.com")
    ):
        raise problem(shown(text), "an http(s) URL on linkedin.com")
    return text.strip()


def _profile_url(text: str) -> str:
    url = _linkedin_url(text)
    if not re.search(r"linkedin\.com/in/[^/?#]+", url, re.IGNORECASE):
        raise problem(shown(text), "a LinkedIn profile URL (https://www.linkedin.com/in/<name>)")
    return url


def _positive_days(value: float) -> float:
    if not value > 0:
        raise problem(shown(value), "a number of days > 0")
    return value


Id = Annotated[str, Field(min_length=1), AfterValidator(str.strip)]
LinkedInUrl = Annotated[str, AfterValidator(_linkedin_url)]
ProfileUrl = Annotated[str, AfterValidator(_profile_url)]
Days = Annotated[float, AfterValidator(_positive_days), Field(json_schema_extra={"exclusiveMinimum": 0})]


# ---------------------------------------------------------------------------- jobs
class LinkedInJob(StrictModel):
    """A prospecting job: one LinkedIn source, started again every `every_days`."""

    source: JobSource = Field(description=", ".join(JOB_SOURCES))
    search_url: LinkedInUrl | None = Field(None, description="linkedin_search: the LinkedIn search URL")
    saved_search_id: Id | None = Field(
        None, description="sales_navigator: a saved search's id (or lead_list_id)"
    )
    lead_list_id: Id | None = Field(
        None, description="sales_navigator: a lead list's id (or saved_search_id)"
    )
    post_url: LinkedInUrl | None = Field(None, description="post_commenters: the post's URL")
    profile_urls: list[ProfileUrl] | None = Field(
        None, min_length=1, max_length=MAX_PROFILE_URLS, description="url_upload: LinkedIn profile URLs"
    )
    max_results: int = Field(
        100,
        description="prospects imported at most (capped by the plan)",
        json_schema_extra={"minimum": 1, "maximum": MAX_RESULTS},
    )
    search_emails: bool = Field(False, description="look for emails too: 2 credits a prospect")
    every_days: Days = Field(7, description="start it again after this many days")

    @field_validator("saved_search_id", "lead_list_id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _id_text(value)

    @field_validator("max_results", mode="after")
    @classmethod
    def _cap(cls, value: int) -> int:
        if not 1 <= value <= MAX_RESULTS:
            raise problem(
                shown(value), f"a whole number from 1 to {MAX_RESULTS} (plans cap it at 100, 1,000 or 2,000)"
            )
        return value

    @model_validator(mode="after")
    def _one_input(self) -> LinkedInJob:
        needed = SOURCE_INPUTS[self.source]
        given = [key for key in API_NAMES if getattr(self, key) is not None]
        wanted = " or ".join(needed)
        extra = [key for key in given if key not in needed]
        if extra:
            raise problem(
                f"{extra[0]} with source {self.source}",
                f"source {self.source} takes {wanted}",
                at=(extra[0],),
            )
        if not given:
            raise problem(f"no {wanted}", f"source {self.source} needs {wanted}")
        if len(given) > 1:
            raise problem(
                f"both {' and '.join(given)}", "one of them: a job imports one source", at=(given[1],)
            )
        if self.source == "url_upload" and "max_results" in self.model_fields_set:
            raise problem(
                "max_results with source url_upload",
                "no max_results: one prospect per URL",
                at=("max_results",),
            )
        return self

    def inputs(self) -> dict[str, Any]:
        """The source's one input under its API name (assumption I1): {"savedSearchId": "3318"}."""
        return {
            API_NAMES[key]: list(v) if isinstance(v, list) else v
            for key in API_NAMES
            if (v := getattr(self, key)) is not None
        }

    def prospects(self) -> int:
        """Prospects imported at most: max_results, or the URL count for url_upload."""
        return len(self.profile_urls or []) if self.source == "url_upload" else self.max_results

    def credits(self) -> int:
        """The most a start can cost: 1 credit a prospect imported, 2 with search_emails."""
        return self.prospects() * (2 if self.search_emails else 1)

    def words(self) -> str:
        """The job in plain words (for `mapping explain`)."""
        what = {
            "linkedin_search": f"the LinkedIn search {self.search_url}",
            "sales_navigator": f"Sales Navigator saved search {self.saved_search_id}"
            if self.saved_search_id
            else f"Sales Navigator lead list {self.lead_list_id}",
            "post_commenters": f"the commenters of {self.post_url}",
            "url_upload": f"{len(self.profile_urls or [])} LinkedIn profile URLs",
        }[self.source]
        emails = ", emails looked for (2 credits a prospect)" if self.search_emails else ""
        return (
            f"{what}: up to {self.prospects()} prospects{emails}, at most {self.credits()} credits a start, "
            f"started again after {self.every_days:g} days"
        )


def job_schema_rules() -> list[dict[str, Any]]:
    """JSON Schema branches saying each source's one input (for `mapping schema`)."""
    return [
        {
            "properties": {"source": {"const": source}},
            "required": ["source", key],
            "description": f"source {source} takes {key}",
        }
        for source, keys in SOURCE_INPUTS.items()
        for key in keys
    ]


# ---------------------------------------------------------------------------- contact
class LinkedInSource(StrictModel):
    """Where a created contact's property comes from: a prospect field path, or a fixed value."""

    field: str | None = None  # a dotted path into the prospect ("company.name"); a bare text in the file
    value: str | None = None  # a fixed value, as HubSpot is sent it

    @model_validator(mode="before")
    @classmethod
    def _file_form(cls, data: Any) -> Any:
        if isinstance(data, LinkedInSource):
            return data
        if isinstance(data, str):
            if not PROSPECT_FIELD.fullmatch(data):
                raise problem(
                    f"prospect field {shown(data)}", SOURCE_WORDS, hint=did_you_mean(data, PROSPECT_FIELDS)
                )
            return {"field": data}
        if isinstance(data, dict) and len(data) == 1:
            key, item = next(iter(data.items()))
            if key != "value":
                hint = did_you_mean(str(key), ("value",))
                raise problem(
                    f"unknown key {str(key)!r}", "value (or a bare prospect field)", hint=hint, at=(str(key),)
                )
            if isinstance(item, dict | list) or item is None:
                raise problem(shown(item), "text, a number, true/false or a date", at=("value",))
            try:
                return {"value": option_key(item)}
            except ConversionError as err:
                raise problem(str(err), "text, a number, true/false or a date", at=("value",)) from None
        raise problem(shown(data), SOURCE_WORDS)

    @model_serializer(mode="plain")
    def _dump(self) -> Any:
        """The file form: a bare field path or {value: V}."""
        return self.field if self.field is not None else {"value": self.value}

    def words(self) -> str:
        """Where the value comes from, in plain words (for `mapping explain`)."""
        return f"the prospect's {self.field}" if self.field is not None else f"always {self.value!r}"


SOURCE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "string",
            "pattern": PROSPECT_FIELD.pattern,
            "description": "a prospect field (dots go into objects)",
        },
        {
            "type": "object",
            "properties": {"value": {"type": ["string", "number", "boolean"]}},
            "required": ["value"],
            "additionalProperties": False,
            "description": "a fixed value",
        },
    ]
}
Source = Annotated[LinkedInSource, WithJsonSchema(SOURCE_SCHEMA)]


def _score(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 1:
        raise problem(shown(value), "a score from 0.0 to 1.0")
    return value


class LinkedInScan(StrictModel):
    """A signal scan: a specification over an audience, its results written onto the contacts."""

    signal_specification: NonEmpty = Field(description="the signal specification's id (24 hex digits)")
    audience: NonEmpty = Field(
        HUBSPOT_AUDIENCE, description="hubspot, a job of linkedin.jobs, or an audience id"
    )
    linkedin_url: PropertyName | None = Field(
        None,
        description="audience hubspot: the contact property holding the LinkedIn profile URL (linkedin_url)",
    )
    every_days: Days = Field(7, description="start it again after this many days")
    min_score: Annotated[float | None, AfterValidator(_score)] = Field(
        None, description="only items scoring at least this (0.0-1.0)", json_schema_extra={"maximum": 1}
    )
    properties: dict[PropertyName, ScanProperty] = Field(
        min_length=1, description=LINKEDIN_WANTED["properties"]
    )

    @model_validator(mode="before")
    @classmethod
    def _default_url(cls, data: Any) -> Any:
        """With audience hubspot, the profile URL is read from `linkedin_url` unless said otherwise."""
        if isinstance(data, dict) and data.get("audience", HUBSPOT_AUDIENCE) == HUBSPOT_AUDIENCE:
            return {**data, "linkedin_url": data.get("linkedin_url", "linkedin_url")}
        return data

    @model_validator(mode="after")
    def _url_for_hubspot(self) -> LinkedInScan:
        if self.audience != HUBSPOT_AUDIENCE and self.linkedin_url is not None:
            raise problem(
                f"linkedin_url with audience {self.audience!r}",
                "linkedin_url only with audience: hubspot (the contacts' URLs uploaded)",
                at=("linkedin_url",),
            )
        return self

    def audience_kind(self, jobs: Collection[str]) -> AudienceKind:
        """hubspot (the portal's contacts), job (a job's prospects) or id (an audience of the group)."""
        if self.audience == HUBSPOT_AUDIENCE:
            return "hubspot"
        return "job" if self.audience in jobs else "id"

    def words(self, jobs: Collection[str]) -> str:
        kind = self.audience_kind(jobs)
        over = {
            "hubspot": f"the selected HubSpot contacts with a {self.linkedin_url} (each URL uploaded once)",
            "job": f"the prospects of job {self.audience}",
            "id": f"audience {self.audience}",
        }[kind]
        score = f", items scoring at least {self.min_score:g}" if self.min_score is not None else ""
        spec = self.signal_specification
        return f"signal specification {spec} over {over}{score}, every {self.every_days:g} days"


# ---------------------------------------------------------------------------- the section
class LinkedIn(StrictModel):
    """Prospecting jobs imported into HubSpot and signal scans written onto contacts."""

    max_credits_per_run: int = Field(
        500, ge=0, description="what jobs and uploads may spend in one run, at most"
    )
    jobs: dict[PropertyName, LinkedInJob] = Field(default_factory=dict, description=LINKEDIN_WANTED["jobs"])
    contact: dict[PropertyName, Source] = Field(default_factory=dict, description=LINKEDIN_WANTED["contact"])
    scans: dict[PropertyName, LinkedInScan] = Field(
        default_factory=dict, description=LINKEDIN_WANTED["scans"]
    )

    def job_names(self) -> list[str]:
        return list(self.jobs)

    def scan_names(self) -> list[str]:
        return list(self.scans)

    def url_property(self) -> str | None:
        """The contact property fed by `linkedinUrl` (how an imported person is known again)."""
        return next((n for n, s in self.contact.items() if s.field in URL_FIELDS), None)

    def contact_properties(self) -> list[str]:
        return list(self.contact)

    def fixed_values(self) -> dict[str, str]:
        """Contact property -> the fixed value every created contact gets."""
        return {n: s.value for n, s in self.contact.items() if s.value is not None}

    def scan_properties(self) -> dict[str, tuple[str, ScanProperty]]:
        """Every contact property a scan writes -> (scan name, its spec), in file order."""
        return {
            name: (scan, prop) for scan, spec in self.scans.items() for name, prop in spec.properties.items()
        }


# ---------------------------------------------------------------------------- cross references
def _part(section: dict[str, Any], key: str) -> dict[str, Any]:
    value = section.get(key)
    return value if isinstance(value, dict) else {}


def linkedin_reference_problems(linkedin: Any, properties: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """What one key cannot check (raw data, possibly malformed): each scan's audience names a job,
    hubspot or an id; a job is not named hubspot; jobs have a contact part; and each property a scan
    writes has no other writer (the research's properties, linkedin.contact, another scan)."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(linkedin, dict):
        return out
    jobs, contact, scans = (_part(linkedin, key) for key in ("jobs", "contact", "scans"))
    if HUBSPOT_AUDIENCE in jobs:
        out.append(
            (
                ("linkedin", "jobs", HUBSPOT_AUDIENCE),
                "found job name 'hubspot', allowed: another name (audience: hubspot is the portal)",
            )
        )
    if jobs and not contact:
        out.append(
            (
                ("linkedin",),
                "found jobs and no contact, allowed: a contact part saying what a created contact holds "
                "(firstname: firstName, lastname: lastName, …)",
            )
        )
    written = {
        str(n): "properties: also writes it from the research"
        for n in (properties if isinstance(properties, dict) else {})
    }
    written.update({str(n): "linkedin.contact also sets it" for n in contact})
    for scan, spec in scans.items():
        if not isinstance(spec, dict):
            continue
        audience = spec.get("audience", HUBSPOT_AUDIENCE)
        if (
            isinstance(audience, str)
            and audience != HUBSPOT_AUDIENCE
            and audience not in jobs
            and not HEX_ID.fullmatch(audience)
        ):
            names = ", ".join(jobs) or "none"
            hint = did_you_mean(audience, [*jobs, HUBSPOT_AUDIENCE])
            out.append((
                ("linkedin", "scans", scan, "audience"),
                f"found {audience!r}, which linkedin.jobs does not define, allowed: hubspot, a job of "
                f"linkedin.jobs ({names}) or an audience id (24 hex digits)"
                + (f"; did you mean {hint!r}?" if hint else ""),
            ))  # fmt: skip
        props = spec.get("properties")
        for name in props if isinstance(props, dict) else {}:
            if str(name) in written:
                out.append((
                    ("linkedin", "scans", scan, "properties", name),
                    f"found {str(name)!r}, which {written[str(name)]}, allowed: a property nothing else "
                    "writes (two writers would each see the other's value as a person's edit)",
                ))  # fmt: skip
            written.setdefault(str(name), f"scan {scan} also writes it")
    return out
