"""Saber's contact search (`POST /v1/contacts/search`): what is asked, what comes back, and how it fails.

Prospecting finds the people at a target account who are not in the CRM yet through Saber's
contact search, which runs on the API key owner's LinkedIn Sales Navigator. This module holds
the request (`ContactSearch`: `companyLinkedInUrls` plus the filters, with the field names of
Saber's published schema), the typed answer (`ContactSearchPage` of `SearchPerson` items with
`total`, `limit`, `offset`, `hasMore` and `salesNavConnected`), the walk over its pages
(`ContactSearchWalk`: `limit`/`offset` while `hasMore`, fetched one page at a time so a caller
that has enough people stops before the next call), and the errors each of Saber's answers
means for the caller:

* `salesNavConnected: false` (a 200 with no items): `SalesNavigatorNotConnected`, whose
  message is the one line to show: nothing else can be searched until it is connected.
* 422 (a LinkedIn URL Saber cannot process): `CompanyUrlRejected`, naming the URL.
* 400 (a filter Saber refused, e.g. a department outside Sales Navigator's taxonomy):
  `SearchFilterRejected`, naming the filter as Saber's body does and as the mapping spells it.
* 402 is `InsufficientCredits`, 401/403 `SaberAuthError`, 429/5xx the call policy's, as for
  every Saber call (`connector.saber.errors`).

What a search costs is not published: the connector treats it as free (it spends no
credits it knows of; its calls are counted per operation, `search_contacts`, like every
other). Being a POST it is paced by Saber's write limit, as Saber's published limits count a
POST; it changes nothing at Saber, so the call policy retries it like a read.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import AliasChoices, AliasGenerator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from connector.saber.errors import KEY_VARIABLE, SaberError, SaberValidationError
from connector.saber.models import LooseInt, LooseStr

CONTACT_SEARCH_PATH = "/v1/contacts/search"
OPERATION = "search_contacts"  # the name its calls are counted and logged under
DEFAULT_PAGE_SIZE = 25  # Saber's default `limit`
MAX_PAGE_SIZE = 100  # Saber's largest `limit`
MAX_NAME = 100  # firstName, lastName: at most this many characters
MAX_KEYWORDS = 500  # keywords: at most this many characters
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2 only; full names are refused
# Saber's body key -> the key the mapping's `prospecting.search` section spells it with.
FILTER_KEYS: dict[str, str] = {
    "companyLinkedInUrls": "company_linkedin_urls",
    "firstName": "first_name",
    "lastName": "last_name",
    "jobTitles": "job_titles",
    "keywords": "keywords",
    "countries": "countries",
    "departments": "departments",
    "seniorityLevels": "seniority_levels",
    "limit": "limit",
    "offset": "offset",
}
# Sales Navigator's taxonomies, which Saber's `seniorityLevels` and `departments` take exactly
# ("Vice President", not "VP"; unknown values are refused with a 400). Saber's pages name the
# taxonomy without listing it: these are LinkedIn's own lists (an assumption, kept in one place).
SENIORITY_LEVELS: tuple[str, ...] = (
    "Owner / Partner", "CXO", "Vice President", "Director", "Experienced Manager",
    "Entry Level Manager", "Strategic", "Senior", "Entry Level", "In Training",
)  # fmt: skip
DEPARTMENTS: tuple[str, ...] = (
    "Accounting", "Administrative", "Arts and Design", "Business Development",
    "Community and Social Services", "Consulting", "Customer Success and Support", "Education",
    "Engineering", "Entrepreneurship", "Finance", "Healthcare Services", "Human Resources",
    "Information Technology", "Legal", "Marketing", "Media and Communication",
    "Military and Protective Services", "Operations", "Product Management",
    "Program and Project Management", "Purchasing", "Quality Assurance", "Real Estate", "Research",
    "Sales",
)  # fmt: skip


# ---------------------------------------------------------------------------- the request
@dataclass(frozen=True, slots=True)
class ContactSearch:
    """What one contact search asks (paging aside): the companies and the filters, all ANDed.

    Each list's values are ORed, as Saber documents. Empty values are left out of the body.
    """

    company_linkedin_urls: tuple[str, ...] = ()
    job_titles: tuple[str, ...] = ()
    seniority_levels: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    keywords: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    def __post_init__(self) -> None:
        for name in ("company_linkedin_urls", "job_titles", "seniority_levels", "departments", "countries"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"{name} is a sequence of strings, not one string")
            object.__setattr__(self, name, tuple(value))
        if not any(self.to_body().values()):
            raise ValueError("a contact search needs at least one company URL or filter")

    @classmethod
    def at(cls, company_linkedin_url: str, **filters: Any) -> ContactSearch:
        """The search for one company (`companyLinkedInUrls: [url]`) with these filters."""
        return cls(company_linkedin_urls=(company_linkedin_url,), **filters)

    def problems(self) -> list[tuple[str, str]]:
        """What Saber's published schema would refuse, as (Saber's field, why); empty when none."""
        out: list[tuple[str, str]] = []
        for name, value, limit in (
            ("firstName", self.first_name, MAX_NAME),
            ("lastName", self.last_name, MAX_NAME),
            ("keywords", self.keywords, MAX_KEYWORDS),
        ):
            if value is not None and len(value.encode("utf-16-le", "surrogatepass")) // 2 > limit:
                out.append((name, f"must be at most {limit} characters"))
        out += [
            ("countries", f"not an ISO 3166-1 alpha-2 code: {c}")
            for c in self.countries
            if not COUNTRY_RE.match(c)
        ]
        out += [
            ("seniorityLevels", f"invalid value: {v}")
            for v in self.seniority_levels
            if v not in SENIORITY_LEVELS
        ]
        out += [("departments", f"invalid value: {v}") for v in self.departments if v not in DEPARTMENTS]
        return out

    def to_body(self, *, limit: int | None = None, offset: int | None = None) -> dict[str, Any]:
        """The JSON body: Saber's camelCase keys, empty values left out, paging when given."""
        body: dict[str, Any] = {
            "companyLinkedInUrls": list(self.company_linkedin_urls),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "jobTitles": list(self.job_titles),
            "keywords": self.keywords,
            "countries": list(self.countries),
            "departments": list(self.departments),
            "seniorityLevels": list(self.seniority_levels),
        }
        body = {k: v for k, v in body.items() if v}
        if limit is not None:
            if not 1 <= limit <= MAX_PAGE_SIZE:
                raise ValueError(f"limit must be from 1 to {MAX_PAGE_SIZE}, got {limit}")
            body["limit"] = limit
        if offset is not None:
            if offset < 0:
                raise ValueError(f"offset must be 0 or more, got {offset}")
            body["offset"] = offset
        return body


# ---------------------------------------------------------------------------- the answer
def _aliases(name: str) -> AliasChoices:
    return AliasChoices(to_camel(name), name)


def _strict_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


class _SearchModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        frozen=True,
        alias_generator=AliasGenerator(validation_alias=_aliases),
    )


class SearchPerson(_SearchModel):
    """One person a search found; any field may be missing (a profile with no Sales Navigator URL, say)."""

    first_name: LooseStr = None
    last_name: LooseStr = None
    full_name: LooseStr = None
    role: LooseStr = None
    location: LooseStr = None
    avatar: LooseStr = None
    headline: LooseStr = None
    company_name: LooseStr = None
    linkedin_sales_navigator_profile_url: LooseStr = Field(
        None,
        validation_alias=AliasChoices(
            "linkedInSalesNavigatorProfileUrl",
            "linkedinSalesNavigatorProfileUrl",
            "linkedin_sales_navigator_profile_url",
        ),
    )
    linkedin_profile_url: LooseStr = Field(
        None,
        validation_alias=AliasChoices("linkedInProfileUrl", "linkedinProfileUrl", "linkedin_profile_url"),
    )
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        """Keep the raw item; fill a missing first or last name from `fullName` (first word, the rest)."""
        if not isinstance(data, dict):
            return data
        out = {**data, "raw": data}
        full = data.get("fullName") or data.get("full_name")
        first = data.get("firstName") or data.get("first_name")
        last = data.get("lastName") or data.get("last_name")
        if isinstance(full, str) and full.strip() and not (first and last):
            head, _, rest = full.strip().partition(" ")
            out["firstName"] = first or head
            out["lastName"] = last or (rest.strip() or None)
        return out

    @property
    def name(self) -> str:
        """The person's name as one line (first and last, else `fullName`)."""
        joined = " ".join(p for p in (self.first_name, self.last_name) if p)
        return joined or self.full_name or ""

    @property
    def identity(self) -> str:
        """What tells two items apart: the Sales Navigator URL, else the folded name and role."""
        if self.linkedin_sales_navigator_profile_url:
            return self.linkedin_sales_navigator_profile_url.strip().rstrip("/").casefold()
        return "|".join(" ".join((p or "").split()).casefold() for p in (self.name, self.role))


class ContactSearchPage(_SearchModel):
    """One page of `POST /v1/contacts/search`: items and the paging Saber reports."""

    items: list[SearchPerson] = Field(default_factory=list)
    total: LooseInt = None
    limit: LooseInt = None
    offset: LooseInt = None
    has_more: bool | None = None
    sales_nav_connected: bool | None = None  # None: not said (read as connected)

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        items = data.get("items")
        out = {**data, "items": [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []}
        for camel, snake in (("hasMore", "has_more"), ("salesNavConnected", "sales_nav_connected")):
            out[camel] = _strict_bool(data.get(camel, data.get(snake)))
            out.pop(snake, None)
        return out


# ---------------------------------------------------------------------------- the errors
NOT_CONNECTED_MESSAGE = (
    "Saber's contact search needs LinkedIn Sales Navigator, and the Saber account that owns "
    f"{KEY_VARIABLE} has none connected (salesNavConnected: false): connect a Sales Navigator "
    "account in the Saber web app, then prospect again"
)


class SalesNavigatorNotConnected(SaberError):
    """Saber answered `salesNavConnected: false`: no search can find anyone until it is connected.

    Not a failure of one account: prospecting stops for the run, and nothing is blanked.
    `str()` is the one line to show.
    """

    def __init__(self) -> None:
        super().__init__(NOT_CONNECTED_MESSAGE, status=200, code="SALES_NAV_NOT_CONNECTED")

    def __str__(self) -> str:
        return self.message


class CompanyUrlRejected(SaberValidationError):
    """422: Saber cannot process a company's LinkedIn URL (`url`); the other accounts go on."""

    url: str | None = None

    def __str__(self) -> str:
        return (
            f"Saber cannot process the LinkedIn company URL {self.url or '(not named)'}: {super().__str__()}"
        )


class SearchFilterRejected(SaberValidationError):
    """400: Saber refused the search; `filter` is the field it named (None: it named none).

    `mapping_key` is the same field as the mapping's `prospecting.search` spells it. Every
    account would be refused the same way, so prospecting stops until the mapping is fixed.
    """

    filter: str | None = None

    @property
    def mapping_key(self) -> str | None:
        return FILTER_KEYS.get(self.filter, self.filter) if self.filter else None

    def __str__(self) -> str:
        where = f"the filter {self.filter!r}" if self.filter else "a filter it did not name"
        return f"Saber refused {where} of the contact search: {super().__str__()}"


def refine_error(exc: SaberValidationError, search: ContactSearch) -> SaberValidationError:
    """The typed error for a search Saber refused: 422 names the URL, 400 the filter; else as is."""
    if exc.status == 422:
        rejected = _copy(CompanyUrlRejected, exc)
        rejected.url = _url_named(exc, search.company_linkedin_urls)
        return rejected
    if exc.status == 400:
        refused = _copy(SearchFilterRejected, exc)
        refused.filter = _filter_named(exc)
        return refused
    return exc


E = TypeVar("E", bound=SaberValidationError)


def _copy(cls: type[E], exc: SaberValidationError) -> E:
    copy = cls(
        exc.message,
        status=exc.status,
        code=exc.code,
        request_id=exc.request_id,
        fields=exc.fields,
        retry_after=exc.retry_after,
        error_code=exc.error_code,
        error_action=exc.error_action,
        details=exc.details,
    )
    copy.attempts = exc.attempts
    return copy


def _url_named(exc: SaberError, urls: Sequence[str]) -> str | None:
    """The URL Saber's answer names (in its message or fields), else the only one asked."""
    said = " ".join([exc.message, *(f"{f} {m}" for f, m in exc.fields)])
    named = [u for u in urls if u and u in said]
    if named:
        return named[0]
    return urls[0] if len(urls) == 1 else None


_QUOTED_FIELD = re.compile(r"'([A-Za-z][A-Za-z0-9_]*)(?:[\[.][^']*)?'")


def _filter_named(exc: SaberError) -> str | None:
    """The field a 400 names: its first `fields` entry, else `'name'` in the message (Saber's
    "validation failed for 'departments': invalid value: …"), without an index (`departments[1]`)."""
    for field, _ in exc.fields:
        base = re.split(r"[\[.]", field.strip(), maxsplit=1)[0]
        if base:
            return base
    match = _QUOTED_FIELD.search(exc.message)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------- the walk
PageFetch = Callable[[int, int], ContactSearchPage]  # (limit, offset) -> one page


class ContactSearchWalk(Iterator[SearchPerson]):
    """The people of one search, page by page, each page fetched only when the last is used up.

    Stops at an empty page, at `hasMore: false` (or, when Saber does not say, at `total` or a
    short page). An item seen on an earlier page (the results shifted while paging) is not
    yielded twice. `salesNavConnected: false` raises `SalesNavigatorNotConnected`. `total`,
    `pages` and `offset` say how far it got.
    """

    def __init__(self, fetch: PageFetch, *, page_size: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")
        if offset < 0:
            raise ValueError(f"offset must be 0 or more, got {offset}")
        self._fetch = fetch
        self.page_size = page_size
        self.offset = offset  # where the next page starts
        self.total: int | None = None  # Saber's count of matches, once a page said it
        self.pages = 0  # pages fetched
        self.finished = False  # no further page will be fetched
        self._buffer: deque[SearchPerson] = deque()
        self._seen: set[str] = set()

    def __iter__(self) -> ContactSearchWalk:
        return self

    def __next__(self) -> SearchPerson:
        while not self._buffer:
            if self.finished:
                raise StopIteration
            self._next_page()
        return self._buffer.popleft()

    def _next_page(self) -> None:
        page = self._fetch(self.page_size, self.offset)
        self.pages += 1
        if page.sales_nav_connected is False:
            self.finished = True
            raise SalesNavigatorNotConnected()
        if page.total is not None:
            self.total = page.total
        got = len(page.items)
        self.offset += got
        for person in page.items:
            if person.identity in self._seen:
                continue
            self._seen.add(person.identity)
            self._buffer.append(person)
        if got == 0 or page.has_more is False:
            self.finished = True
        elif page.has_more is None:
            self.finished = got < self.page_size or (self.total is not None and self.offset >= self.total)
