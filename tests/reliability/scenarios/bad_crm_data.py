"""Bad CRM data (item 6): contacts whose fields are what people really type and paste.

Missing, oversized, whitespace-padded, non-ASCII, emoji, right-to-left, zero-width and
HTML-laden names and titles; invalid, IDN and free-mail domains; URLs without a scheme (or
with one that is not http); duplicate emails. Each contact is researched with cleaned
inputs or skipped with a reason; Saber (whose sandbox validates as the contract says:
lengths in UTF-16 code units, the hostname pattern, URIs) rejects none; nothing crashes.
"""

from __future__ import annotations

import random
import re
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

from connector.logs import configure_logging
from connector.mapping.inputs import LIMITS, is_free_mail, text_length
from connector.sandbox.runner import start_sandbox
from connector.state import StateStore
from tests.reliability.figures import Figure
from tests.sync_harness import prepare, settings_for, sync, write_mapping

SECTION = "6. bad CRM data"

MAPPING = """\
version: 1
select:
  filters:
    - {property: lifecyclestage, operator: EQ, value: lead}
inputs:
  firstName: firstname
  lastName: lastname
  companyName: company
  companyDomain: {property: website, normalize: domain, fallback: {property: email, normalize: email_domain}}
  jobTitle: jobtitle
  contactProfileUrl: {property: linkedin_url, normalize: url}
properties:
  saber_summary:         {from: result.summary}
  saber_email:           {from: result.email, write: if_empty}
  saber_research_status: {from: research.status}
"""

ZW, RLM, RLO = "\u200b", "\u200f", "\u202e"
NAMES = [
    "Jane", "  Jane  ", f"{ZW}Jane{ZW}", "<b>Jane</b>", "Zoë", "José", "محمد", f"{RLO}evil", "😀😀",
    "😀" * 60, "x" * 101, "x" * 100, "", None, "\t\n", "Ben &amp; Co", "O'Brien", "李", "Jane\x00Doe",
    ZW, "&nbsp;", f"{RLM}דוד{RLM}", "Ana María", "👩‍💻",
]  # fmt: skip
COMPANIES = [
    "Acme", "<script>alert(1)</script>Acme", "A" * 201, "Åcme GmbH", "😀 Corp", "  ", "Acme &amp; Sons",
    f"Acme{ZW}", "株式会社アクメ", None, "C" * 200,
]  # fmt: skip
WEBSITES = [
    "acme.com", "https://www.acme.com/about", "www.acme.com", "http://", "not a url", "bücher.de",
    "münchen-ärzte.de", "localhost", "192.168.1.1", "-bad-.com", "a..b.com", "exa mple.com",
    "https://acme.com:99999", "javascript:alert(1)", "ftp://acme.com", "acme.com/" + "p" * 300,
    "xn--bcher-kva.de", "", None, "😀.com", "аpple.com", f"{ZW}acme.io", "<a href='https://acme.io'>acme.io</a>",
    "ACME.COM.", "https://" + "a" * 64 + ".com",
]  # fmt: skip
EMAILS = [
    "jane@acme.io", "jane@gmail.com", "jane@yahoo.co.uk", "jane@", "@acme.com", "jane@bücher.de",
    "not-an-email", "jane@@acme.com", "  JANE@ACME.IO ", "", None, "dup@shared.example.com",
    "dup@shared.example.com", "x@gmx.de",
]  # fmt: skip
TITLES = [
    "CTO",
    "x" * 201,
    "<i>VP</i> of Sales",
    "😀" * 101,
    "",
    f"{RLM}",
    None,
    "Head of R&amp;D",
    "Директор",
]
PROFILES = [
    "linkedin.com/in/jane", "https://www.linkedin.com/in/jané", "www.linkedin.com/in/jane", "not a url",
    "https://linkedin.com/in/" + "a" * 480, "javascript:alert(1)", "", None, "http://",
    "https://linkedin.com/in/jane doe", f"https://linkedin.com/in/{ZW}jane",
]  # fmt: skip

_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def contacts(n: int, seed: int) -> list[dict[str, str | None]]:
    """`n` contacts drawn from the pools; the first ones walk each pool in order, so every value appears."""
    rng = random.Random(seed)
    pools = (
        ("firstname", NAMES), ("lastname", NAMES), ("company", COMPANIES), ("website", WEBSITES),
        ("email", EMAILS), ("jobtitle", TITLES), ("linkedin_url", PROFILES),
    )  # fmt: skip
    out = []
    for i in range(n):
        row: dict[str, str | None] = {"lifecyclestage": "lead"}
        for name, pool in pools:
            row[name] = pool[i] if i < len(pool) and rng.random() < 0.5 else rng.choice(pool)
        out.append(row)
    return out


def unclean(value: str) -> str | None:
    """Why a value sent to Saber is not clean, or None."""
    if value != value.strip():
        return "surrounding whitespace"
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return "control or invisible character"
    if _TAG.search(value) or re.search(r"&[a-z]+;|&#\d+;", value):
        return "HTML"
    return None


def over_limit(field: str, value: str) -> bool:
    low, high = LIMITS.get(field, (0, 2048))
    return not low <= len(value) or text_length(value) > high


def run(long: bool) -> list[Figure]:
    """Sync a portal of nasty contacts to the end; count what was sent, skipped, refused."""
    configure_logging("WARNING", "console")
    n = 300 if long else 60
    with (
        tempfile.TemporaryDirectory(prefix="bad-crm-data-") as raw,
        start_sandbox(contacts=0, seed=2, research_delay=0.05) as box,
    ):
        tmp = Path(raw)
        settings = settings_for(box, tmp, write_mapping(tmp, MAPPING))
        prepare(settings)
        ids = [
            box.hubspot.add_contact({k: v for k, v in row.items() if v is not None})
            for row in contacts(n, seed=6)
        ]
        crashes: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                summary = sync(settings, wait_seconds=5)
            except Exception as exc:  # noqa: BLE001 - a crash is what this figure counts
                crashes.append(f"{type(exc).__name__}: {exc}"[:200])
                break
            if summary.pending == 0 and summary.writes_pending == 0:
                break
        creates = box.saber.requests_to("research_create")
        bodies: list[dict[str, Any]] = [r.body for r in creates if isinstance(r.body, dict)]
        rejected = [r for r in creates if r.status == 400]
        dirty = [f"{k}={v!r}: {why}" for b in bodies for k, v in b.items() if (why := unclean(str(v)))]
        too_long = [
            f"{k} ({text_length(str(v))})" for b in bodies for k, v in b.items() if over_limit(k, str(v))
        ]
        free_mail = [b["companyDomain"] for b in bodies if is_free_mail(str(b.get("companyDomain", "")))]
        launched = {str(b.get("externalId")) for b in bodies}
        with StateStore(settings.connector_state_url) as store:
            states = store.get_many(ids)
        skipped = [cid for cid in ids if cid not in launched and states.get(cid) and states[cid].skip_reason]
        unexplained = [cid for cid in ids if cid not in launched and cid not in skipped]
        idn = sum(1 for b in bodies if "xn--" in str(b.get("companyDomain", "")))
        schemeless = sum(1 for b in bodies if str(b.get("contactProfileUrl", "")).startswith("https://linkedin.com/in/jane") or str(b.get("contactProfileUrl", "")).startswith("https://www.linkedin.com/in/jane"))  # fmt: skip
        written = sum(
            1 for cid in ids if box.hubspot.contact(cid).get("saber_research_status") == "completed"
        )
    return [
        Figure(SECTION, "contacts tried", n),
        Figure(SECTION, "crashes", len(crashes), 0, note="; ".join(crashes)[:300]),
        Figure(SECTION, "research launched", len(launched)),
        Figure(SECTION, "results written", written),
        Figure(SECTION, "skipped with a reason", len(skipped)),
        Figure(SECTION, "neither researched nor skipped with a reason", len(unexplained), 0, note=", ".join(unexplained)[:200]),
        Figure(SECTION, "requests Saber rejected", len(rejected), 0, note=str([r.body for r in rejected])[:300] if rejected else ""),
        Figure(SECTION, "values sent unclean (whitespace, invisible, HTML)", len(dirty), 0, note="; ".join(dirty)[:300]),
        Figure(SECTION, "values sent over Saber's limits", len(too_long), 0, note="; ".join(too_long)[:300]),
        Figure(SECTION, "free-mail domains sent as the company's", len(free_mail), 0, note=", ".join(free_mail)[:200]),
        Figure(SECTION, "IDN domains sent as punycode", idn),
        Figure(SECTION, "profile URLs given without a scheme, sent with https://", schemeless),
    ]  # fmt: skip
