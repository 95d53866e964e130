"""Saber research inputs from HubSpot contact properties: read, normalised, checked against the contract.

Saber is never sent a request it would reject: required inputs that are missing or invalid
skip the contact with a reason naming the field and the properties tried; invalid optional
inputs are dropped with a note.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from connector.mapping.model import INPUT_FIELDS, REQUIRED_INPUTS, InputSpec

if TYPE_CHECKING:
    from connector.mapping.model import Mapping

# Field -> (min, max) length, from the contract.
LIMITS: dict[str, tuple[int, int]] = {
    "firstName": (1, 100),
    "lastName": (1, 100),
    "companyName": (1, 200),
    "companyDomain": (1, 253),
    "contactProfileUrl": (1, 500),
    "linkedInSalesNavigatorUrl": (1, 500),
    "jobTitle": (1, 200),
}
URL_FIELDS = frozenset({"contactProfileUrl", "linkedInSalesNavigatorUrl"})

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+", re.IGNORECASE)

# Free-mail providers: their domain says nothing about the contact's company.
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "rocketmail.com", "icloud.com", "me.com", "mac.com",
        "aol.com", "aim.com", "proton.me", "protonmail.com", "protonmail.ch", "pm.me",
        "tutanota.com", "tutanota.de", "tuta.io", "fastmail.com", "hey.com", "zohomail.com",
        "mail.com", "email.com", "gmx.com", "web.de", "t-online.de", "freenet.de",
        "yandex.com", "yandex.ru", "mail.ru", "inbox.ru", "bk.ru", "list.ru", "rambler.ru",
        "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "foxmail.com",
        "naver.com", "daum.net", "hanmail.net", "rediffmail.com", "seznam.cz",
        "wp.pl", "o2.pl", "onet.pl", "interia.pl", "libero.it", "virgilio.it",
        "orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr", "btinternet.com",
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "cox.net", "earthlink.net",
        "bigpond.com", "shaw.ca", "rogers.com", "uol.com.br", "bol.com.br", "terra.com.br",
    }
)  # fmt: skip
# Providers with one domain per country (gmx.de, yahoo.co.uk, hotmail.fr, ...).
FREE_MAIL_FAMILIES = frozenset({"gmx", "yahoo", "hotmail", "outlook", "live", "yandex", "aol"})


@dataclass(frozen=True)
class InputsResult:
    """The research inputs of one contact, or why it is skipped."""

    inputs: dict[str, str] | None  # Saber body fields (camelCase); None when skipped
    skip_reason: str | None
    notes: tuple[str, ...] = ()
    fingerprint: str | None = None  # sha256 of the normalised inputs


def echoed_inputs(research: Any) -> dict[str, str] | None:
    """The inputs a research was asked with, as Saber echoes them (the published GET shows them),
    or None when it does not echo every required one."""
    raw = getattr(research, "raw", None) or {}
    echoed = {name: value for name in INPUT_FIELDS if isinstance(value := raw.get(name), str) and value}
    return echoed if all(name in echoed for name in REQUIRED_INPUTS) else None


# ---------------------------------------------------------------------------- checks
def is_hostname(text: str) -> bool:
    """A DNS hostname with a dot and a non-numeric top-level label (IP addresses are not)."""
    return bool(HOSTNAME.fullmatch(text)) and not text.rsplit(".", 1)[-1].isdigit()


def is_http_url(text: str) -> bool:
    """An absolute http(s) URL with a valid host, ASCII only, no spaces."""
    if not text.isascii() or any(c.isspace() or ord(c) < 32 for c in text):
        return False
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host is not None and is_hostname(host)


def is_free_mail(domain: str) -> bool:
    domain = domain.lower()
    if domain in FREE_MAIL:
        return True
    first, _, rest = domain.partition(".")
    return first in FREE_MAIL_FAMILIES and 0 < rest.count(".") + 1 <= 2


def _idna(host: str) -> str | None:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


# ---------------------------------------------------------------------------- normalisers
def normalize_domain(text: str) -> str | None:
    """The host of a URL or bare domain: lower-case, no www., no port or path, IDN as punycode."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return None
    if "://" not in text:
        text = "http://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if not host or parts.username is not None:
        return None
    host = host.rstrip(".")
    host = host.removeprefix("www.")
    ascii_host = _idna(host)
    if ascii_host is None or not is_hostname(ascii_host):
        return None
    return ascii_host


def email_domain(text: str) -> tuple[str | None, str]:
    """The domain of an email address, or (None, why it is not usable)."""
    text = text.strip().removeprefix("mailto:")
    local, at, domain = text.partition("@")
    if not at or not local or not domain or "@" in domain or any(c.isspace() for c in text):
        return None, "is not an email address"
    ascii_domain = _idna(domain.rstrip("."))
    if ascii_domain is None or not is_hostname(ascii_domain):
        return None, "has no valid domain"
    if is_free_mail(ascii_domain):
        return None, "is free-mail"
    return ascii_domain, ""


def normalize_url(text: str) -> str | None:
    """An http(s) URL; https:// is added when no scheme is given, non-ASCII is percent-encoded."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return None
    if "://" not in text:
        text = "https://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    ascii_host = _idna(host) if host else None
    if ascii_host is None:
        return None
    netloc = ascii_host if port is None else f"{ascii_host}:{port}"
    rebuilt = parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()
    rebuilt = quote(rebuilt, safe=":/?#[]@!$&'()*+,;=%~")
    return rebuilt if is_http_url(rebuilt) else None


def _normalise(kind: str | None, text: str) -> tuple[str | None, str]:
    """(value, why not) for one normaliser; `trim` (and no normaliser) only strips."""
    if kind == "domain":
        value = normalize_domain(text)
        return value, "" if value else "is not a valid domain"
    if kind == "email_domain":
        return email_domain(text)
    if kind == "url":
        value = normalize_url(text)
        return value, "" if value else "is not an http(s) URL"
    return text.strip(), ""


_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def clean_text(text: str) -> str:
    """A CRM field as Saber should read it: HTML tags dropped and entities decoded (text pasted
    from a web page), invisible format characters (zero-width spaces, direction marks) removed,
    control characters as spaces, trimmed. Values without any of these are only trimmed."""
    if "<" in text:
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in text):
        kinds = [(c, unicodedata.category(c)) for c in text]
        text = "".join(" " if kind == "Cc" else c for c, kind in kinds if kind != "Cf")
    return text.strip()


def text_length(value: str) -> int:
    """Length as Saber counts it, to be safe: UTF-16 code units (an emoji counts 2), as a
    JavaScript validator does; never less than the count of code points."""
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def _field_problem(field: str, value: str, normalised: bool) -> str:
    """Why a value breaks the contract for `field`, or ""."""
    low, high = LIMITS[field]
    if len(value) < low:
        return "is empty"
    if text_length(value) > high:
        return f"is longer than {high} characters ({text_length(value)})"
    if field == "companyDomain" and not is_hostname(value):
        looks_like_url = any(c in value for c in "/:@") or value.lower().startswith("www.")
        hint = " (add normalize: domain to read URLs)" if looks_like_url and not normalised else ""
        return f"is not a valid domain{hint}"
    if field in URL_FIELDS and not is_http_url(value):
        hint = " (add normalize: url to add https://)" if not normalised and "://" not in value else ""
        return f"is not an http(s) URL{hint}"
    return ""


def _quoted(value: str) -> str:
    """Values in reasons: bare when they are one plain word, quoted otherwise, cut when long."""
    if len(value) > 60:
        value = value[:59] + "…"
    if re.fullmatch(r"[\w.@+:/%?=&#~-]+", value):
        return value
    return repr(value)


def resolve(
    field: str, spec: InputSpec, properties: AbcMapping[str, Any]
) -> tuple[str | None, list[str], str]:
    """The first usable value along the fallback chain: (value, reasons for each miss, property used)."""
    reasons: list[str] = []
    for step in spec.chain():
        raw = properties.get(step.property)
        text = "" if raw is None else clean_text(str(raw))
        if not text:
            reasons.append(f"{step.property} is empty")
            continue
        value, why = _normalise(step.normalize, text)
        if value is None:
            reasons.append(f"{step.property} {_quoted(text)} {why}")
            continue
        problem = _field_problem(field, value, step.normalize not in (None, "trim"))
        if problem:
            reasons.append(f"{step.property} {_quoted(text)} {problem}")
            continue
        return value, reasons, step.property
    return None, reasons, ""


def fingerprint(inputs: AbcMapping[str, str]) -> str:
    """A stable sha256 of the inputs: the same for the same values whatever the order."""
    data = json.dumps(dict(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def build_inputs(mapping: Mapping, properties: AbcMapping[str, Any]) -> InputsResult:
    """Saber research inputs for one contact from its HubSpot properties, or the reason to skip it."""
    inputs: dict[str, str] = {}
    missing: list[str] = []
    notes: list[str] = []
    for field, spec in mapping.inputs.items():
        value, reasons, used = resolve(field, spec, properties)
        if value is not None:
            inputs[field] = value
            if reasons:
                notes.append(f"{field}: from {used} because {' and '.join(reasons)}")
            continue
        reason = f"{field}: {' and '.join(reasons)}"
        if field in REQUIRED_INPUTS:
            missing.append(reason)
        elif any(not r.endswith(" is empty") for r in reasons):
            notes.append(f"{reason}; not sent")
    if missing:
        return InputsResult(inputs=None, skip_reason="; ".join(missing), notes=tuple(notes))
    return InputsResult(inputs=inputs, skip_reason=None, notes=tuple(notes), fingerprint=fingerprint(inputs))
