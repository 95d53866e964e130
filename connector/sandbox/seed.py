"""Deterministic, realistic HubSpot contacts for the sandbox portal.

The same `(n, seed)` always gives the same contacts, so tests, demos and benchmarks can
compare runs. The data is varied on purpose: non-ASCII names, companies with their own
domains, free-mail addresses, websites written in several forms and contacts missing the
fields the connector's input mapping falls back on. Generating 100,000 contacts takes well
under a second, so benchmarks can seed large portals.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

# (display name, ASCII slug used in emails and LinkedIn URLs)
FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Anna", "anna"), ("Ben", "ben"), ("Carla", "carla"), ("David", "david"), ("Emma", "emma"),
    ("Felix", "felix"), ("Grace", "grace"), ("Hannah", "hannah"), ("Ivan", "ivan"), ("Julia", "julia"),
    ("Karim", "karim"), ("Laura", "laura"), ("Marco", "marco"), ("Nina", "nina"), ("Oliver", "oliver"),
    ("Priya", "priya"), ("Quentin", "quentin"), ("Rosa", "rosa"), ("Samuel", "samuel"), ("Tara", "tara"),
    ("José", "jose"), ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("Søren", "soren"), ("Björn", "bjorn"),
    ("François", "francois"), ("Chloé", "chloe"), ("Ángel", "angel"), ("Małgorzata", "malgorzata"),
    ("Jürgen", "jurgen"), ("Renée", "renee"), ("Siobhán", "siobhan"), ("Çağla", "cagla"),
    ("Ngọc", "ngoc"), ("Amara", "amara"), ("Wei", "wei"), ("Yuki", "yuki"), ("Aarav", "aarav"),
    ("Fatima", "fatima"), ("Mateo", "mateo"),
)  # fmt: skip
LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("Smith", "smith"), ("Johnson", "johnson"), ("Garcia", "garcia"), ("Müller", "muller"),
    ("Schmidt", "schmidt"), ("Rossi", "rossi"), ("Dubois", "dubois"), ("Nowak", "nowak"),
    ("Kowalski", "kowalski"), ("Jensen", "jensen"), ("Nielsen", "nielsen"), ("O'Brien", "obrien"),
    ("van der Berg", "vanderberg"), ("Fernández", "fernandez"), ("Núñez", "nunez"), ("Øster", "oster"),
    ("Šimek", "simek"), ("Yılmaz", "yilmaz"), ("田中", "tanaka"), ("佐藤", "sato"), ("王", "wang"),
    ("김", "kim"), ("Nguyễn", "nguyen"), ("Patel", "patel"), ("Okafor", "okafor"), ("Silva", "silva"),
    ("Andersson", "andersson"), ("Brown", "brown"), ("Taylor", "taylor"), ("Lefèvre", "lefevre"),
    ("Hoffmann", "hoffmann"), ("Kaya", "kaya"), ("Costa", "costa"), ("Murphy", "murphy"),
    ("Ivanova", "ivanova"), ("Cohen", "cohen"),
)  # fmt: skip
# Company names are built from two parts so that big portals get many distinct domains.
COMPANY_HEADS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent",
    "Tyrell", "Cyberdyne", "Aperture", "Wonka", "Nakatomi", "Oscorp", "Gringotts", "Monarch",
    "Blue Sun", "Pied Piper", "Prestige", "Dunder", "Sterling", "Kestrel", "Northwind", "Contoso",
    "Fabrikam", "Tailspin", "Lumen", "Quantum", "Helix", "Nordlys", "Bergström", "Société Générique",
    "Zeta", "Orbital", "Cobalt", "Vertex", "Meridian", "Solace", "Ironclad",
)  # fmt: skip
COMPANY_TAILS = (
    ("", "com"), ("Labs", "io"), ("Systems", "com"), ("Analytics", "ai"), ("Cloud", "io"),
    ("GmbH", "de"), ("Ltd", "co.uk"), ("Inc", "com"), ("Software", "dev"), ("Group", "com"),
    ("Robotics", "com"), ("Health", "org"), ("AS", "no"), ("SAS", "fr"), ("Data", "net"),
)  # fmt: skip
COUNTRY_CODES = (1, 44, 49, 33, 47, 81, 34, 48)
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "proton.me")
JOB_TITLES = (
    "CEO", "CTO", "VP Engineering", "VP of Sales", "Head of Marketing", "Director of IT",
    "Engineering Manager", "Senior Software Engineer", "Platform Engineer", "DevOps Lead",
    "Data Scientist", "Product Manager", "Account Executive", "Sales Development Representative",
    "Chief Revenue Officer", "Head of Growth", "Site Reliability Engineer", "IT Administrator",
    "Marketing Operations Manager", "Founder", "Co-founder & CTO", "Procurement Manager",
)  # fmt: skip
# Mostly leads and MQLs, some customers and subscribers, a few of the rest.
LIFECYCLE_WEIGHTS = (
    ("lead", 45), ("marketingqualifiedlead", 25), ("customer", 10), ("subscriber", 8),
    ("salesqualifiedlead", 5), ("opportunity", 4), ("evangelist", 2), ("other", 1),
)  # fmt: skip
EPOCH = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)  # seeded contacts are created after this instant


def iso_ms(moment: datetime) -> str:
    """HubSpot's datetime form: ISO 8601 in UTC with milliseconds and a Z."""
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


def _companies() -> list[tuple[str, str]]:
    """Every (company name, domain) the seed can use, in a fixed order."""
    out = []
    for head in COMPANY_HEADS:
        slug = "".join(ch for ch in head.lower().replace("ö", "o").replace("é", "e") if ch.isalnum())
        for tail, tld in COMPANY_TAILS:
            name = f"{head} {tail}".strip()
            domain = f"{slug}{tail.lower() if tail in ('Labs', 'Cloud', 'Data') else ''}.{tld}"
            out.append((name, domain))
    return out


COMPANIES = _companies()


def _website(domain: str, roll: float) -> str:
    """The website field in one of the forms people type it."""
    if roll < 0.35:
        return f"https://www.{domain}/"
    if roll < 0.55:
        return domain
    if roll < 0.7:
        return f"http://{domain}/about"
    if roll < 0.85:
        return f"https://{domain}"
    return f"www.{domain}"


def seed_contacts(n: int, seed: int = 7) -> list[dict[str, str | None]]:
    """`n` realistic contacts (property name -> value), the same for the same seed.

    Besides the usual contact fields each dict carries `createdate` and
    `lastmodifieddate` (in the past, fixed by the seed) so that modified-window
    searches behave the same on every run.
    """
    rnd = random.Random(seed).random  # one primitive draw keeps 100,000 contacts fast

    def pick(seq: Sequence[T]) -> T:
        return seq[int(rnd() * len(seq))]

    def below(k: int) -> int:
        return int(rnd() * k)

    stages = [name for name, weight in LIFECYCLE_WEIGHTS for _ in range(weight)]
    used_emails: set[str] = set()
    contacts: list[dict[str, str | None]] = []
    created_ms = int(EPOCH.timestamp() * 1000)
    for i in range(n):
        first, first_slug = pick(FIRST_NAMES)
        last, last_slug = pick(LAST_NAMES)
        company, domain = pick(COMPANIES)
        shape = rnd()
        props: dict[str, str | None] = {
            "firstname": first,
            "lastname": last,
            "company": company,
            "website": _website(domain, rnd()),
            "jobtitle": pick(JOB_TITLES),
            "lifecyclestage": pick(stages),
            "phone": f"+{pick(COUNTRY_CODES)} {200 + below(800)} {1000000 + below(9000000)}",
            "linkedin_url": None,
        }
        mail_domain = domain
        if shape < 0.08:  # a person with no company at all: free mail, no website
            props["company"] = None
            props["website"] = None
            mail_domain = pick(FREE_MAIL)
        elif shape < 0.14:  # works somewhere but signed up with a private address
            mail_domain = pick(FREE_MAIL)
        elif shape < 0.18:  # company known, website never filled in
            props["website"] = None
        if rnd() < 0.05:
            props["lastname"] = None
            last_slug = ""
        if rnd() < 0.1:
            props["jobtitle"] = None
        if rnd() < 0.15:
            props["phone"] = None
        local = f"{first_slug}.{last_slug}" if last_slug else first_slug
        email = f"{local}@{mail_domain}"
        if email in used_emails:  # HubSpot keeps emails unique per portal
            email = f"{local}{i}@{mail_domain}"
        used_emails.add(email)
        props["email"] = email
        if rnd() < 0.85:
            slug = f"{first_slug}-{last_slug}" if last_slug else first_slug
            props["linkedin_url"] = f"https://www.linkedin.com/in/{slug}-{below(16**6):06x}"
        created_ms += 60_000 + below(540_000)  # one to ten minutes after the previous contact
        modified_ms = created_ms + below(60 * 86_400_000)
        props["createdate"] = iso_from_ms(created_ms)
        props["lastmodifieddate"] = iso_from_ms(modified_ms)
        contacts.append(props)
    return contacts


def iso_from_ms(ms: int) -> str:
    """Epoch milliseconds in HubSpot's datetime form."""
    secs, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{millis:03d}Z"
