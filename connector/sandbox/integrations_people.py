"""Deterministic people and signal results for the account-group API sandbox.

A job's prospects are drawn from one shared universe of people, seeded by the job's source and
input, so the same search always imports the same people and two searches overlap a little (as
real LinkedIn searches do: dedupe has something to do). An uploaded profile URL becomes one
person named after its slug. Signal results are seeded by the specification and the prospect,
so a rescan finds the same things; about two thirds of prospects get 1-3 items, the rest none.
Scores are strings ("0.87"), as the page's example shows them (assumption I3).
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any
from urllib.parse import urlsplit

UNIVERSE = 1000  # people a search can draw from
LINKEDIN_PROFILE_RE = re.compile(r"^/in/([^/?#]+)/?$")

_FIRST = (
    "Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Lena", "Omar", "Ines", "Jonas",
    "Priya", "Mateo", "Sofia", "Kenji", "Amara", "Lucas", "Hana", "Felix", "Nora", "Diego",
    "Clara", "Tariq", "Elif", "Marco", "Yara", "Henrik", "Aisha", "Tomas", "Leila", "Oscar",
)  # fmt: skip
_LAST = (
    "Schmidt", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Kowalski", "Haddad", "Brennan",
    "Rossi", "Nakamura", "Fischer", "Adeyemi", "Novak", "Castillo", "Berg", "Varga", "Silva",
    "Kaur", "Dubois", "Jansen", "Costa", "Horvat", "Yilmaz", "Murphy", "Andersen",
)  # fmt: skip
_TITLES = (
    "VP of Engineering", "Head of Platform", "Director of Sales", "Chief Technology Officer",
    "Staff Software Engineer", "Engineering Manager", "Head of Growth", "Product Manager",
    "Chief Executive Officer", "Director of Infrastructure", "Account Executive", "SRE Lead",
)  # fmt: skip
_COMPANIES = (
    ("Northwind Cloud", "northwindcloud.com", "Software Development"),
    ("Brightpath Labs", "brightpathlabs.io", "IT Services and IT Consulting"),
    ("Quantel Systems", "quantel.systems", "Computer Software"),
    ("Harbor Analytics", "harboranalytics.com", "Data Infrastructure and Analytics"),
    ("Lumen Freight", "lumenfreight.com", "Transportation, Logistics and Storage"),
    ("Cobalt Health", "cobalthealth.co", "Hospitals and Health Care"),
    ("Vireo Payments", "vireopay.com", "Financial Services"),
    ("Stackwell", "stackwell.dev", "Software Development"),
    ("Orbit Retail", "orbitretail.com", "Retail"),
    ("Fjord Energy", "fjordenergy.no", "Renewable Energy"),
    ("Kestrel Security", "kestrelsec.com", "Computer and Network Security"),
    ("Meridian Media", "meridianmedia.co", "Online Audio and Video Media"),
)  # fmt: skip
_FEED = "https://www.linkedin.com/feed/update/urn:li:activity:"
_RESULT_TYPES = ("linkedin_post", "job_posting", "company_news")
_SUMMARIES = (
    "Hiring a platform engineer to scale Kubernetes clusters",
    "Posted about migrating the data stack to the cloud",
    "Announced a new Series B round to grow the sales team",
    "Opened three roles in site reliability engineering",
    "Shared lessons from replacing a legacy CRM",
    "Company launched a partnership with a major cloud provider",
)  # fmt: skip


def _rng(*parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def hex_id(*parts: str) -> str:
    """A 24-hex object id derived from `parts` (stable across runs)."""
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()[:24]


def linkedin_key(url: str | None) -> str:
    """'linkedin.com/in/<slug>' lower-cased, as the connector compares profile URLs; '' for none."""
    slug = profile_slug(url)
    return f"linkedin.com/in/{slug.lower()}" if slug else ""


def profile_slug(url: str | None) -> str:
    """The `<slug>` of a LinkedIn profile URL (any scheme, www or not), '' when it is not one."""
    if not url or not isinstance(url, str):
        return ""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return ""
    match = LINKEDIN_PROFILE_RE.match(parts.path)
    return match.group(1) if match else ""


def is_linkedin_url(url: Any, path_prefix: str = "/") -> bool:
    """An http(s) URL on linkedin.com whose path starts with `path_prefix`."""
    if not isinstance(url, str) or not url.strip():
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    on_linkedin = host == "linkedin.com" or host.endswith(".linkedin.com")
    return parts.scheme in ("http", "https") and on_linkedin and parts.path.startswith(path_prefix)


def _company(rng: random.Random) -> dict[str, Any]:
    name, domain, industry = rng.choice(_COMPANIES)
    ident = domain.split(".")[0]
    return {
        "name": name,
        "website": f"https://www.{domain}",
        "linkedinIdentifier": ident,
        "linkedinUrl": f"https://www.linkedin.com/company/{ident}",
        "industry": industry,
    }


def _person(first: str, last: str | None, slug: str, rng: random.Random) -> dict[str, Any]:
    title = rng.choice(_TITLES)
    company = _company(rng)
    return {
        "firstName": first,
        "lastName": last,
        "name": f"{first} {last}" if last else first,
        "headline": f"{title} at {company['name']}",
        "about": f"{first} works on {rng.choice(('platforms', 'growth', 'data', 'security'))}.",
        "photoUrl": f"https://media.licdn.com/dms/image/{hex_id('photo', slug)}",
        "linkedinUrl": f"https://www.linkedin.com/in/{slug}",
        "publicIdentifier": slug,
        "providerId": "ACoAA" + hex_id("provider", slug.lower())[:18],
        "company": company,
    }


def universe_person(index: int) -> dict[str, Any]:
    """Person number `index` of the shared universe a search draws from."""
    rng = _rng("person", str(index))
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    slug = f"{first.lower()}-{last.lower()}-{hex_id('slug', str(index))[:6]}"
    return _person(first, last, slug, rng)


def person_from_url(url: str) -> dict[str, Any]:
    """The person an uploaded profile URL imports, named after its slug ('jane-doe-12ab' -> Jane Doe)."""
    slug = profile_slug(url)
    parts = re.split(r"[-_]+", slug)
    if len(parts) > 1 and re.fullmatch(r"[0-9a-f]{5,}", parts[-1].lower()):
        parts = parts[:-1]  # LinkedIn's de-duplicating suffix ('jane-doe-3f9a2c'), not a name
    words = [w for w in parts if w.isalpha()] or [slug or "unknown"]
    first = words[0].capitalize()
    last = " ".join(w.capitalize() for w in words[1:]) or None
    return _person(first, last, slug, _rng("url", slug.lower()))


def people_for(source: str, value: str, n: int) -> list[dict[str, Any]]:
    """The first `n` people a job of `source` over input `value` imports, the same every time."""
    if source == "url_upload":
        return [person_from_url(url) for url in value.split("\n") if url][:n]
    rng = _rng("search", source, value)
    picks = rng.sample(range(UNIVERSE), min(n, UNIVERSE))
    return [universe_person(i) for i in picks]


def results_for(specification_id: str, prospect_id: str, prospect: dict[str, Any]) -> list[dict[str, Any]]:
    """One prospect's result groups for a specification: none for about a third, else 1-3 items."""
    rng = _rng("signals", specification_id, prospect_id)
    if rng.random() < 1 / 3:
        return []
    count = rng.randint(1, 3)
    company = (prospect.get("company") or {}).get("name") or "Unknown"
    slug = prospect.get("publicIdentifier") or prospect_id
    items: list[dict[str, Any]] = []
    for n in range(count):
        score = rng.randint(40, 99) / 100
        day = rng.randint(1, 28)
        items.append(
            {
                "score": f"{score:.2f}",
                "reasoning": f"{prospect.get('name') or slug} matches the signal through item {n + 1}.",
                "summary": rng.choice(_SUMMARIES),
                "title": f"{rng.choice(_TITLES)} opening at {company}",
                "postedAt": f"2026-11-{day:02d}T09:30:00.000Z",
                "postLink": f"{_FEED}{rng.randint(10**18, 10**19)}",
                "jobUrl": f"https://www.linkedin.com/jobs/view/{rng.randint(10**9, 10**10)}",
                "companyName": company,
            }
        )
    groups = 1 if count == 1 or rng.random() < 0.5 else 2
    types = rng.sample(_RESULT_TYPES, groups)
    if groups == 1:
        return [{"type": types[0], "items": items}]
    return [{"type": types[0], "items": items[:1]}, {"type": types[1], "items": items[1:]}]
