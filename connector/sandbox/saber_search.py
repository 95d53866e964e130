"""The Saber sandbox's contact search (`POST /v1/contacts/search`), held to Saber's published schema.

Prospecting is tested against it, so it refuses what Saber refuses and answers as Saber
answers (`../shared/saber-api.md`, the seed reference pages, Saber's CLI):

* The body: at least one of `companyLinkedInUrls[]`, `firstName`, `lastName` (≤ 100),
  `jobTitles[]`, `keywords` (≤ 500), `countries[]` (ISO 3166-1 alpha-2 only),
  `departments[]`, `seniorityLevels[]` (Sales Navigator's taxonomies, exactly); `limit`
  1–100 (default 25), `offset` ≥ 0 (default 0). Anything else is a 400 in Saber's envelope,
  `validation failed for 'departments': invalid value: Engineering Ops`, with `fields`; a
  property the schema does not list is refused too (a whitelisting validator), so a client's
  misspelt filter never passes silently. A body that is not JSON: 400 `BAD_REQUEST`.
* `salesNavConnected: false` (the sandbox's `sales_nav_connected` knob off): 200 with no items.
* A company URL Saber cannot process (not a `linkedin.com/company/…` page, or one listed in
  `unprocessable`): 422, naming the URL. Several URLs are searched each and merged, deduplicated.
* Paging: `{items, total, limit, offset, hasMore, salesNavConnected}`.

The people are deterministic per company (its URL's `/company/<slug>`, case folded, and the
sandbox's seed), so runs repeat: names from the portal seed's name lists, roles with their
seniority and department, locations with their country, some skills for `keywords`; about one
in seven has no Sales Navigator URL (nor avatar). `add_people` puts people at the front of a
company's list (`add_namesakes`: the names of contacts already in the portal), and
`set_headcount` fixes how many a company has. Filters apply as Sales Navigator's do: values
of one filter ORed, filters ANDed; a job title matches a role holding all its words; keywords
match the role, skills and location. A search with no company URL looks through the companies
already known (added to, or searched before). Auth, the write bucket and per-route limits
(`route_limits["contact_search"]`) are the sandbox's, as for every other Saber endpoint; no
credits are charged (Saber publishes no price for a search).
"""

from __future__ import annotations

import random
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from connector.saber.contact_search import (
    COUNTRY_RE,
    DEFAULT_PAGE_SIZE,
    DEPARTMENTS,
    MAX_KEYWORDS,
    MAX_NAME,
    MAX_PAGE_SIZE,
    SENIORITY_LEVELS,
)
from connector.sandbox.seed import FIRST_NAMES, LAST_NAMES
from connector.sandbox.server import BadJson

LIST_FIELDS = ("companyLinkedInUrls", "jobTitles", "countries", "departments", "seniorityLevels")
TEXT_FIELDS = {"firstName": MAX_NAME, "lastName": MAX_NAME, "keywords": MAX_KEYWORDS}
SEARCH_FIELDS = (*LIST_FIELDS, *TEXT_FIELDS)
PAGING_FIELDS = ("limit", "offset")
COMPANY_URL_RE = re.compile(
    r"^https?://([a-z]{2,3}\.|www\.)?linkedin\.com/company/([^/?#\s]+)/?([?#].*)?$", re.I
)
NO_PROFILE_RATE = 0.15  # share of generated people with no Sales Navigator URL
# (role, seniority, department) of generated people: Sales Navigator's taxonomies.
ROLES: tuple[tuple[str, str, str], ...] = (
    ("Chief Technology Officer", "CXO", "Engineering"),
    ("Chief Revenue Officer", "CXO", "Sales"),
    ("VP Engineering", "Vice President", "Engineering"),
    ("VP of Engineering", "Vice President", "Engineering"),
    ("Vice President of Sales", "Vice President", "Sales"),
    ("VP Marketing", "Vice President", "Marketing"),
    ("Head of Platform", "Director", "Engineering"),
    ("Director of Engineering", "Director", "Engineering"),
    ("Director of IT", "Director", "Information Technology"),
    ("Head of Marketing", "Director", "Marketing"),
    ("Engineering Manager", "Experienced Manager", "Engineering"),
    ("Sales Manager", "Experienced Manager", "Sales"),
    ("Product Manager", "Experienced Manager", "Product Management"),
    ("Customer Success Manager", "Experienced Manager", "Customer Success and Support"),
    ("Senior Software Engineer", "Senior", "Engineering"),
    ("Staff Platform Engineer", "Senior", "Engineering"),
    ("Site Reliability Engineer", "Senior", "Engineering"),
    ("Account Executive", "Senior", "Sales"),
    ("Data Scientist", "Senior", "Research"),
    ("Software Engineer", "Entry Level", "Engineering"),
    ("Recruiter", "Entry Level", "Human Resources"),
    ("Founder", "Owner / Partner", "Entrepreneurship"),
)
LOCATIONS: tuple[tuple[str, str], ...] = (
    ("San Francisco, California", "US"), ("New York, New York", "US"), ("Austin, Texas", "US"),
    ("Seattle, Washington", "US"), ("London, England", "GB"), ("Manchester, England", "GB"),
    ("Berlin, Germany", "DE"), ("Munich, Bavaria", "DE"), ("Paris, Île-de-France", "FR"),
    ("Toronto, Ontario", "CA"), ("Amsterdam, North Holland", "NL"), ("Oslo, Norway", "NO"),
)  # fmt: skip
SKILLS = ("Kubernetes", "AWS", "Terraform", "Go", "Python", "Salesforce", "HubSpot", "Kafka", "PostgreSQL")
_SENIORITY_WORDS = (
    ("CXO", r"\b(chief|ceo|cto|cfo|coo|cro|cmo|cio)\b"),
    ("Vice President", r"\b(vp|svp|evp|vice president)\b"),
    ("Owner / Partner", r"\b(founder|co-founder|owner|partner)\b"),
    ("Director", r"\b(director|head)\b"),
    ("Experienced Manager", r"\bmanager\b"),
    ("Senior", r"\b(senior|staff|lead|principal)\b"),
)
_DEPARTMENT_WORDS = (
    ("Engineering", r"\b(engineer\w*|platform|devops|reliability|developer|cto)\b"),
    ("Sales", r"\b(sales|account|revenue|cro)\b"),
    ("Marketing", r"\b(marketing|growth|cmo)\b"),
    ("Information Technology", r"\b(it|administrator|cio)\b"),
    ("Product Management", r"\bproduct\b"),
    ("Research", r"\b(data|research\w*|scientist)\b"),
    ("Purchasing", r"\b(procurement|purchasing)\b"),
)
_STOP_WORDS = frozenset({"of", "the", "and", "&", "for", "in", "at", "-", ","})


class SearchHost(Protocol):
    """What the endpoint needs of the Saber sandbox (`connector.sandbox.saber.SaberSandbox`)."""

    people: PeopleDirectory
    sales_nav_connected: bool

    def read_json(self, request: Request) -> Any: ...

    def json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response: ...

    def envelope(
        self,
        status: int,
        kind: str,
        code: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response: ...


@dataclass(frozen=True)
class Person:
    """One person the search can find: the item Saber answers, and what the filters look at."""

    item: dict[str, Any]
    seniority: str
    department: str
    country: str
    skills: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """What deduplicates merged results: the Sales Navigator URL, else the name."""
        url = self.item.get("linkedInSalesNavigatorProfileUrl")
        return str(url) if url else _fold(f"{self.item.get('firstName')} {self.item.get('lastName')}")


def company_key(url: str) -> str | None:
    """The company a LinkedIn company URL names (its slug, case folded); None when it names none."""
    match = COMPANY_URL_RE.match(url.strip())
    return match.group(2).casefold() if match else None


class PeopleDirectory:
    """Deterministic people per company, plus what tests add; safe to change while the sandbox runs."""

    def __init__(self, seed: int = 11) -> None:
        self.seed = seed
        self.unprocessable: set[str] = set()  # URLs answered 422 although well formed
        self._headcount: dict[str, int] = {}  # company key -> generated people
        self._added: dict[str, list[Person]] = {}
        self._known: dict[str, None] = {}  # company keys seen, in order
        self._lock = threading.RLock()

    def add_people(self, company_url: str, people: Iterable[Mapping[str, Any]]) -> list[Person]:
        """Put these people first at the company: `firstName`, `lastName` and optionally `role`,
        `location`, `linkedInSalesNavigatorProfileUrl` (None: none), `seniority`, `department`,
        `country`, `skills`; what is missing is derived from the role or generated."""
        key = _require_key(company_url)
        with self._lock:
            rng = random.Random(f"saber-search-added:{self.seed}:{key}:{len(self._added.get(key, []))}")
            added = [self._person_from(dict(p), rng) for p in people]
            self._added.setdefault(key, []).extend(added)
            self._known.setdefault(key, None)
            return added

    def add_namesakes(
        self, company_url: str, contacts: Iterable[Mapping[str, Any]], *, with_profile: bool = True
    ) -> list[Person]:
        """People with the names (and job titles) of these HubSpot contacts (`firstname`,
        `lastname`, `jobtitle` properties, as `seed_contacts` makes them) first at the company:
        the portal's own people, as a search at their company finds them. A contact without both
        names is left out; `with_profile` False: they have no Sales Navigator URL."""
        people = []
        for contact in contacts:
            first, last = contact.get("firstname"), contact.get("lastname")
            if not first or not last:
                continue
            person: dict[str, Any] = {"firstName": first, "lastName": last, "role": contact.get("jobtitle")}
            if not with_profile:
                person["linkedInSalesNavigatorProfileUrl"] = None
            people.append(person)
        return self.add_people(company_url, people)

    def set_headcount(self, company_url: str, count: int) -> None:
        """How many generated people the company has (besides those added); the first ones stay the same."""
        with self._lock:
            self._headcount[_require_key(company_url)] = count

    def people_at(self, company_url: str) -> list[Person]:
        """Everyone at the company, in the order a search lists them (added first)."""
        return self.everyone(_require_key(company_url))

    def known_companies(self) -> list[str]:
        """The company keys added to or searched, in that order."""
        with self._lock:
            return list(self._known)

    def everyone(self, key: str) -> list[Person]:
        """Everyone at the company of this key (`company_key`); the company is known from then on."""
        with self._lock:
            self._known.setdefault(key, None)
            return [*self._added.get(key, []), *self._generated(key, self._headcount.get(key))]

    def _generated(self, key: str, headcount: int | None) -> list[Person]:
        rng = random.Random(f"saber-search:{self.seed}:{key}")
        drawn = 6 + rng.randrange(35)  # drawn always, so a set headcount keeps the same first people
        count = drawn if headcount is None else headcount
        people = []
        for i in range(count):
            role, seniority, department = rng.choice(ROLES)
            location, country = rng.choice(LOCATIONS)
            first, last = rng.choice(FIRST_NAMES)[0], rng.choice(LAST_NAMES)[0]
            skills = tuple(sorted(rng.sample(SKILLS, 2)))
            item: dict[str, Any] = {"firstName": first, "lastName": last, "fullName": f"{first} {last}"}
            item.update(role=role, location=location)
            if rng.random() >= NO_PROFILE_RATE:
                item["linkedInSalesNavigatorProfileUrl"] = _lead_url(rng)
                if rng.random() < 0.8:
                    item["avatar"] = f"https://media.licdn.com/dms/image/{key}-{i}/profile-displayphoto"
            people.append(Person(item, seniority, department, country, skills))
        return people

    @staticmethod
    def _person_from(given: dict[str, Any], rng: random.Random) -> Person:
        first, last = str(given["firstName"]), str(given["lastName"])
        role = str(given.get("role") or rng.choice(ROLES)[0])
        location = given.get("location")
        country = given.get("country")
        if location is None:
            location, drawn = rng.choice(LOCATIONS)
            country = country or drawn
        item: dict[str, Any] = {"firstName": first, "lastName": last, "fullName": f"{first} {last}"}
        item.update(role=role, location=location)
        url = given.get("linkedInSalesNavigatorProfileUrl", _lead_url(rng))
        if url is not None:
            item["linkedInSalesNavigatorProfileUrl"] = url
        return Person(
            item,
            str(given.get("seniority") or _derived(_SENIORITY_WORDS, role, "Entry Level")),
            str(given.get("department") or _derived(_DEPARTMENT_WORDS, role, "Operations")),
            str(country or "US"),
            tuple(given.get("skills") or ()),
        )


def _lead_url(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "https://www.linkedin.com/sales/lead/ACwAA" + "".join(rng.choice(alphabet) for _ in range(34))


def _derived(rules: tuple[tuple[str, str], ...], role: str, default: str) -> str:
    text = role.casefold()
    return next((value for value, pattern in rules if re.search(pattern, text)), default)


def _require_key(url: str) -> str:
    key = company_key(url)
    if key is None:
        raise ValueError(f"not a LinkedIn company URL: {url!r}")
    return key


def _fold(text: str) -> str:
    """Case, accents and spacing folded: how Sales Navigator compares words."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[\s,/()]+", _fold(text)) if w and w not in _STOP_WORDS}


# ---------------------------------------------------------------------------- the endpoint
def answer(host: SearchHost, request: Request) -> Response:
    """`POST /v1/contacts/search` as Saber answers it (auth and rate limits already passed)."""
    try:
        body = host.read_json(request)
    except BadJson:
        return host.envelope(400, "BAD_REQUEST", "BAD_REQUEST", "Invalid request body")
    problems = check(body)
    if problems:
        first = problems[0]
        message = f"validation failed for '{first['field']}': {first['message']}"
        return host.envelope(400, "VALIDATION", "VALIDATION_ERROR", message, problems)
    limit = DEFAULT_PAGE_SIZE if body.get("limit") is None else body["limit"]
    offset = 0 if body.get("offset") is None else body["offset"]
    if not host.sales_nav_connected:
        empty: dict[str, Any] = {"items": [], "total": 0, "limit": limit, "offset": offset, "hasMore": False}
        return host.json(200, {**empty, "salesNavConnected": False})
    urls: list[str] = body.get("companyLinkedInUrls") or []
    for url in urls:
        if company_key(url) is None or url in host.people.unprocessable:
            message = f"Unable to process LinkedIn company URL: {url}"
            return host.envelope(422, "VALIDATION", "VALIDATION_ERROR", message)
    keys = [k for url in urls if (k := company_key(url))] or host.people.known_companies()
    matching: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key in dict.fromkeys(keys):
        for person in host.people.everyone(key):
            if person.key not in seen and matches(person, body):
                seen.add(person.key)
                matching.append(person.item)
    items = matching[offset : offset + limit]
    page = {"items": items, "total": len(matching), "limit": limit, "offset": offset}
    return host.json(200, {**page, "hasMore": offset + len(items) < len(matching), "salesNavConnected": True})


def check(body: Any) -> list[dict[str, str]]:
    """What Saber's schema refuses in a search body, as `{field, message}` items (empty: none)."""
    if not isinstance(body, dict):
        return [{"field": "body", "message": "must be a JSON object"}]
    problems = [
        {"field": name, "message": f"property {name} should not exist"}
        for name in body
        if name not in SEARCH_FIELDS and name not in PAGING_FIELDS
    ]
    for name in LIST_FIELDS:
        value = body.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            problems.append({"field": name, "message": "must be an array of strings"})
    for name, limit in TEXT_FIELDS.items():
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            problems.append({"field": name, "message": "must be a string"})
        elif isinstance(value, str) and len(value.encode("utf-16-le", "surrogatepass")) // 2 > limit:
            problems.append(
                {"field": name, "message": f"must be shorter than or equal to {limit} characters"}
            )
    if problems:
        return problems
    if not any(body.get(name) for name in SEARCH_FIELDS):
        message = f"at least one search parameter must be provided: {', '.join(SEARCH_FIELDS)}"
        return [{"field": "body", "message": message}]
    problems += _values(body)
    for name, low, high in (("limit", 1, MAX_PAGE_SIZE), ("offset", 0, None)):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append({"field": name, "message": "must be an integer number"})
        elif value < low:
            problems.append({"field": name, "message": f"must not be less than {low}"})
        elif high is not None and value > high:
            problems.append({"field": name, "message": f"must not be greater than {high}"})
    return problems


def _values(body: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    for url in body.get("companyLinkedInUrls") or []:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append({"field": "companyLinkedInUrls", "message": f"must be a URL: {url}"})
    for code in body.get("countries") or []:
        if not COUNTRY_RE.match(code):
            problems.append({"field": "countries", "message": f"must be ISO 3166-1 alpha-2 codes: {code}"})
    for name, allowed in (("departments", DEPARTMENTS), ("seniorityLevels", SENIORITY_LEVELS)):
        problems += [
            {"field": name, "message": f"invalid value: {v}"}
            for v in body.get(name) or []
            if v not in allowed
        ]
    return problems


def matches(person: Person, body: Mapping[str, Any]) -> bool:
    """Whether the person passes every filter of the body (each filter's values ORed)."""
    item = person.item
    for name, key in (("firstName", "firstName"), ("lastName", "lastName")):
        if body.get(name) and _fold(str(body[name])) != _fold(str(item.get(key) or "")):
            return False
    role_words = _words(str(item.get("role") or ""))
    titles = body.get("jobTitles") or []
    if titles and not any(_words(t) and _words(t) <= role_words for t in titles):
        return False
    for name, value in (
        ("seniorityLevels", person.seniority),
        ("departments", person.department),
        ("countries", person.country),
    ):
        wanted = body.get(name) or []
        if wanted and value not in wanted:
            return False
    keywords = body.get("keywords")
    if keywords:
        profile = role_words | _words(" ".join(person.skills)) | _words(str(item.get("location") or ""))
        if not _words(keywords) <= profile:
            return False
    return True
