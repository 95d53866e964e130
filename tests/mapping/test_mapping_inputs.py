"""Building Saber research inputs from HubSpot contact properties: normalisers, fallbacks, the
contract's limits, skip reasons and the inputs fingerprint."""

# ruff: noqa: E501 - mapping lines stay verbatim

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.mapping import build_inputs, parse_mapping
from connector.mapping.inputs import email_domain, is_free_mail, normalize_domain, normalize_url

EXAMPLE = (Path(__file__).parents[1] / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")
MAPPING = parse_mapping(EXAMPLE)

JANE = {
    "firstname": "Jane",
    "lastname": "Doe",
    "company": "Acme Corp",
    "website": "https://www.acme.com/about?x=1",
    "email": "jane@acme.com",
    "jobtitle": "VP of Sales",
    "linkedin_url": "https://www.linkedin.com/in/janedoe",
}


def contact(**changes: Any) -> dict[str, Any]:
    return {**JANE, **changes}


# ---------------------------------------------------------------------------- normalisers
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.acme.com/about?x", "acme.com"),
        ("acme.com", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("  WWW.Acme.COM  ", "acme.com"),
        ("http://acme.com:8080/path#frag", "acme.com"),
        ("acme.com/careers", "acme.com"),
        ("//acme.com", "acme.com"),
        ("https://shop.acme.co.uk/", "shop.acme.co.uk"),
        ("acme.com.", "acme.com"),
        ("https://www.bücher.de", "xn--bcher-kva.de"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("not a url", None),
        ("acme", None),
        ("localhost:3000", None),
        ("192.168.0.1", None),
        ("http://[::1]/", None),
        ("-acme.com", None),
        ("jane@acme.com", None),
        ("https://", None),
        ("www.", None),
        ("acme..com", None),
        ("a" * 64 + ".com", None),
    ],
)
def test_normalize_domain(text: str, expected: str | None) -> None:
    """URLs and hosts become a bare lower-case hostname (www., port, path gone; IDN as punycode)."""
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane@acme.com", ("acme.com", "")),
        (" Jane.Doe@Sub.ACME.io ", ("sub.acme.io", "")),
        ("mailto:jane@acme.com", ("acme.com", "")),
        ("jane@bücher.de", ("xn--bcher-kva.de", "")),
        ("jane@gmail.com", (None, "is free-mail")),
        ("jane@googlemail.com", (None, "is free-mail")),
        ("jane@GMX.de", (None, "is free-mail")),
        ("jane@gmx.net", (None, "is free-mail")),
        ("jane@yahoo.co.uk", (None, "is free-mail")),
        ("jane@hotmail.fr", (None, "is free-mail")),
        ("jane@proton.me", (None, "is free-mail")),
        ("jane@icloud.com", (None, "is free-mail")),
        ("jane", (None, "is not an email address")),
        ("@acme.com", (None, "is not an email address")),
        ("jane@@acme.com", (None, "is not an email address")),
        ("jane doe@acme.com", (None, "is not an email address")),
        ("jane@acme", (None, "has no valid domain")),
    ],
)
def test_email_domain(text: str, expected: tuple[str | None, str]) -> None:
    """The domain part of an email address; free-mail providers are not a company's domain."""
    assert email_domain(text) == expected


@pytest.mark.parametrize("domain", ["liveperson.com", "gmxsoftware.de", "yahoo-inc.example.com", "acme.com"])
def test_company_domains_that_look_like_free_mail_are_not(domain: str) -> None:
    """Only the providers' own domains count as free-mail, not names that merely start alike."""
    assert not is_free_mail(domain)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.linkedin.com/in/janedoe", "https://www.linkedin.com/in/janedoe"),
        ("linkedin.com/in/janedoe", "https://linkedin.com/in/janedoe"),
        ("HTTP://LinkedIn.com/in/x", "http://linkedin.com/in/x"),
        ("linkedin.com/in/jöhn", "https://linkedin.com/in/j%C3%B6hn"),
        ("ftp://example.com/x", None),
        ("https://exa mple.com", None),
        ("https://localhost/x", None),
    ],
)
def test_normalize_url(text: str, expected: str | None) -> None:
    """normalize: url adds https://, lower-cases scheme and host, percent-encodes non-ASCII."""
    assert normalize_url(text) == expected


# ---------------------------------------------------------------------------- build_inputs
def test_all_inputs_built_and_normalised() -> None:
    """A complete contact gives every mapped input, normalised, and a fingerprint."""
    result = build_inputs(MAPPING, JANE)
    assert result.skip_reason is None and result.notes == ()
    assert result.inputs == {
        "firstName": "Jane",
        "lastName": "Doe",
        "companyName": "Acme Corp",
        "companyDomain": "acme.com",
        "contactProfileUrl": "https://www.linkedin.com/in/janedoe",
        "jobTitle": "VP of Sales",
    }
    assert result.fingerprint is not None and len(result.fingerprint) == 64


def test_values_are_trimmed() -> None:
    """Surrounding whitespace never reaches Saber."""
    result = build_inputs(MAPPING, contact(firstname="  Jane\t", company=" Acme Corp \n"))
    assert result.inputs is not None
    assert (result.inputs["firstName"], result.inputs["companyName"]) == ("Jane", "Acme Corp")


@pytest.mark.parametrize(
    ("website", "email", "expected", "note"),
    [
        ("https://www.acme.com", "jane@other.com", "acme.com", None),
        (None, "jane@acme.com", "acme.com", "companyDomain: from email because website is empty"),
        ("  ", "jane@acme.com", "acme.com", "companyDomain: from email because website is empty"),
        (
            "not a url",
            "jane@acme.com",
            "acme.com",
            "companyDomain: from email because website 'not a url' is not a valid domain",
        ),
    ],
)
def test_company_domain_fallback_chain(website: Any, email: str, expected: str, note: str | None) -> None:
    """The website is used first; the email's domain when the website is empty or unusable."""
    result = build_inputs(MAPPING, contact(website=website, email=email))
    assert result.inputs is not None and result.inputs["companyDomain"] == expected
    assert result.notes == ((note,) if note else ())


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"website": "not a url", "email": "jane@gmail.com"},
            "companyDomain: website 'not a url' is not a valid domain and email jane@gmail.com is free-mail",
        ),
        ({"website": None, "email": None}, "companyDomain: website is empty and email is empty"),
        (
            {"website": "", "email": "jane"},
            "companyDomain: website is empty and email jane is not an email address",
        ),
        ({"firstname": None}, "firstName: firstname is empty"),
        ({"lastname": "   "}, "lastName: lastname is empty"),
        ({"company": "A" * 201}, "companyName: company 'AAAA"),
        ({"company": "A" * 201}, "is longer than 200 characters (201)"),
        ({"firstname": "J" * 101}, "firstName: firstname"),
    ],
)
def test_required_inputs_missing_or_invalid_skip_the_contact(changes: dict[str, Any], reason: str) -> None:
    """A missing or invalid required input skips the contact, naming field, property and value."""
    result = build_inputs(MAPPING, contact(**changes))
    assert result.inputs is None and result.fingerprint is None
    assert result.skip_reason is not None and reason in result.skip_reason


def test_several_missing_required_inputs_are_all_named() -> None:
    """Every missing required field appears in the skip reason."""
    result = build_inputs(MAPPING, {"company": "Acme"})
    assert result.skip_reason == (
        "firstName: firstname is empty; lastName: lastname is empty; "
        "companyDomain: website is empty and email is empty"
    )


@pytest.mark.parametrize(
    ("changes", "dropped", "note"),
    [
        ({"jobtitle": "T" * 201}, "jobTitle", "is longer than 200 characters (201); not sent"),
        ({"linkedin_url": "linkedin.com/in/jane"}, "contactProfileUrl", "add normalize: url"),
        ({"linkedin_url": "not a link"}, "contactProfileUrl", "is not an http(s) URL"),
        ({"linkedin_url": "https://linkedin.com/in/" + "x" * 480}, "contactProfileUrl", "longer than 500"),
    ],
)
def test_invalid_optional_inputs_are_dropped_with_a_note(
    changes: dict[str, Any], dropped: str, note: str
) -> None:
    """An invalid optional input is left out, with a note; the contact is still researched."""
    result = build_inputs(MAPPING, contact(**changes))
    assert result.inputs is not None and dropped not in result.inputs
    assert any(n.startswith(f"{dropped}: ") and note in n for n in result.notes), result.notes


def test_empty_optional_inputs_are_left_out_silently() -> None:
    """An empty optional input is simply not sent."""
    result = build_inputs(MAPPING, contact(jobtitle=None, linkedin_url=""))
    assert (
        result.inputs is not None
        and "jobTitle" not in result.inputs
        and "contactProfileUrl" not in result.inputs
    )
    assert result.notes == ()


def test_domain_without_normaliser_is_checked_against_the_contract() -> None:
    """A companyDomain read without normalize: domain must already be a hostname; the reason says how to fix it."""
    text = EXAMPLE.replace(
        "companyDomain: {property: website, normalize: domain, fallback: {property: email, normalize: email_domain}}",
        "companyDomain: website",
    )
    mapping = parse_mapping(text)
    assert build_inputs(mapping, contact(website="acme.com")).inputs["companyDomain"] == "acme.com"
    skipped = build_inputs(mapping, contact(website="https://acme.com"))
    assert skipped.skip_reason == (
        "companyDomain: website https://acme.com is not a valid domain (add normalize: domain to read URLs)"
    )


def test_url_normaliser_and_sales_navigator_input() -> None:
    """normalize: url completes a bare profile address; a Sales Navigator URL is sent when valid."""
    text = EXAMPLE.replace(
        "  contactProfileUrl: linkedin_url",
        "  contactProfileUrl: {property: linkedin_url, normalize: url}\n  linkedInSalesNavigatorUrl: salesnav",
    )
    mapping = parse_mapping(text)
    result = build_inputs(
        mapping,
        contact(linkedin_url="linkedin.com/in/jane", salesnav="https://www.linkedin.com/sales/lead/ABC,NAME"),
    )
    assert result.inputs is not None
    assert result.inputs["contactProfileUrl"] == "https://linkedin.com/in/jane"
    assert result.inputs["linkedInSalesNavigatorUrl"] == "https://www.linkedin.com/sales/lead/ABC,NAME"


def test_non_text_property_values_are_read_as_text() -> None:
    """Property values that are not strings (e.g. from a test double) are read as their text."""
    result = build_inputs(MAPPING, contact(company=42))
    assert result.inputs is not None and result.inputs["companyName"] == "42"


# ---------------------------------------------------------------------------- fingerprint
def test_fingerprint_is_stable_across_property_order() -> None:
    """The fingerprint depends on the values, not on the order properties arrive in."""
    reordered = dict(reversed(list(JANE.items())))
    assert list(reordered) != list(JANE)
    assert build_inputs(MAPPING, reordered).fingerprint == build_inputs(MAPPING, JANE).fingerprint


def test_fingerprint_ignores_changes_that_normalise_away() -> None:
    """A website change that normalises to the same domain keeps the fingerprint."""
    same = build_inputs(MAPPING, contact(website="acme.com"))
    assert same.fingerprint == build_inputs(MAPPING, JANE).fingerprint


def test_fingerprint_ignores_properties_not_mapped() -> None:
    """Changing a property the inputs do not read keeps the fingerprint."""
    assert build_inputs(MAPPING, contact(phone="123")).fingerprint == build_inputs(MAPPING, JANE).fingerprint


@pytest.mark.parametrize(
    "changes",
    [
        {"company": "Brand New Company Ltd"},
        {"jobtitle": "Chief Kubernetes Officer"},
        {"jobtitle": None},
        {"website": "https://globex.com"},
        {"linkedin_url": "https://www.linkedin.com/in/jane-doe-2"},
    ],
)
def test_fingerprint_changes_when_an_input_changes(changes: dict[str, Any]) -> None:
    """Any change to a value sent to Saber (including dropping one) changes the fingerprint."""
    assert build_inputs(MAPPING, contact(**changes)).fingerprint != build_inputs(MAPPING, JANE).fingerprint
