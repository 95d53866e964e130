"""The mapping's `companies` section: company answers written on HubSpot company records.

How a contact's company is found (`match`), the company properties fed by company-scope
signals, the Saber subscriptions whose log entries land on companies, and the checks across
sections a single model cannot make (`company_reference_problems`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from connector.mapping.fields import (
    COMPANY_MATCH_PROPERTY,
    UUID_PATTERN,
    CompanyMatch,
    NonEmpty,
    PropertyName,
    PropertySpec,
    SignalKey,
    SignalSpec,
    StrictModel,
    WrittenProperty,
    problem,
)
from connector.mapping.hints import did_you_mean
from connector.mapping.paths import (
    COMPANY_FROM_PATTERN,
    SUBSCRIPTION_FROM_PATTERN,
    FromPath,
    PathError,
    parse_company_from,
    parse_subscription_from,
)


class CompanyPropertySpec(WrittenProperty):
    """A HubSpot company property fed by a company-scope signal (its answer or a company fact)."""

    from_: str = Field(
        alias="from",
        description="signals.<key>.answer|confidence|reasoning|sources|company.<field> "
        "of a company-scope signal",
        json_schema_extra={"pattern": COMPANY_FROM_PATTERN},
    )

    @classmethod
    def parse_path(cls, text: str) -> FromPath:
        return parse_company_from(text)


class SubscriptionPropertySpec(WrittenProperty):
    """A HubSpot company property fed by a field of a subscription's log entry."""

    from_: str = Field(
        alias="from",
        description="a field of the subscription's log entry: answer[.<path>], confidence, reasoning, "
        "sources, completedAt, createdAt, question, domain, id, company.<field>, changeContext.<field>",
        json_schema_extra={"pattern": SUBSCRIPTION_FROM_PATTERN},
    )

    @classmethod
    def parse_path(cls, text: str) -> FromPath:
        return parse_subscription_from(text)


AnyPropertySpec = PropertySpec | CompanyPropertySpec | SubscriptionPropertySpec


class SubscriptionSpec(StrictModel):
    """A Saber company signal subscription whose executions land on HubSpot companies (no credits)."""

    id: NonEmpty = Field(description="the subscription's UUID, as Saber shows it")
    properties: dict[PropertyName, SubscriptionPropertySpec] = Field(
        min_length=1, description="HubSpot company property <- a field of the log entry"
    )

    @property
    def looks_like_uuid(self) -> bool:
        """Whether `id` has a UUID's shape (Saber answers 404 for anything else)."""
        return re.fullmatch(UUID_PATTERN, self.id) is not None


class Companies(StrictModel):
    """Company answers on HubSpot company records: how a contact's company is found, what is written."""

    match: CompanyMatch = Field(
        "association",
        description="association: the contact's primary associated company; "
        "domain: the one company whose domain equals the contact's companyDomain input",
    )
    properties: dict[PropertyName, CompanyPropertySpec] = Field(
        default_factory=dict, description="HubSpot company property <- a company-scope signal"
    )
    subscriptions: dict[SignalKey, SubscriptionSpec] = Field(
        default_factory=dict, description="Saber company signal subscriptions, by a name of your choice"
    )

    @model_validator(mode="after")
    def _something_to_write(self) -> Companies:
        if not self.properties and not self.subscriptions:
            raise problem(
                "nothing to write", "properties and/or subscriptions (or leave companies out)", at=()
            )
        return self

    def specs(self) -> dict[str, CompanyPropertySpec | SubscriptionPropertySpec]:
        """Every company property written, in file order: `properties`, then each subscription's."""
        out: dict[str, CompanyPropertySpec | SubscriptionPropertySpec] = dict(self.properties)
        for sub in self.subscriptions.values():
            for name, spec in sub.properties.items():
                out.setdefault(name, spec)
        return out


def _scope_of(raw: Any) -> str:
    """A signal's scope from its definition, raw or loaded (contact when unsaid or malformed)."""
    if isinstance(raw, SignalSpec):
        return raw.scope
    scope = raw.get("scope", "contact") if isinstance(raw, dict) else "contact"
    return scope if isinstance(scope, str) else "contact"


def company_reference_problems(
    companies: Any, signals: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the `companies` section refers to, checked across sections (raw data, possibly malformed):
    each company property's signal must be defined and company-scope; a company property is fed by
    one source; a subscription id is used once; the matching property `domain` is not written.

    `signals` maps a signal key to its raw definition (or a SignalSpec).
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(companies, dict):
        return out
    scopes = {key: _scope_of(spec) for key, spec in signals.items()}
    company_keys = sorted(k for k, v in scopes.items() if v == "company")
    allowed = ", ".join(company_keys) or "none: add one under signals: with scope: company"
    sources: dict[str, tuple[str | int, ...]] = {}

    def claim(name: str, loc: tuple[str | int, ...]) -> None:
        if name == COMPANY_MATCH_PROPERTY:
            out.append(
                (
                    loc,
                    f"found company property {name!r}, which the connector matches companies by; "
                    "allowed: any other company property",
                )
            )
        first = sources.setdefault(name, loc)
        if first != loc:
            out.append(
                (
                    loc,
                    f"found company property {name!r} also written by {'.'.join(str(p) for p in first)}, "
                    "allowed: one source per company property",
                )
            )

    props = companies.get("properties")
    for name, spec in props.items() if isinstance(props, dict) else []:
        claim(str(name), ("companies", "properties", name))
        source = spec.get("from") if isinstance(spec, dict) else None
        if not isinstance(source, str):
            continue
        try:
            key = parse_company_from(source).signal_key
        except PathError:
            continue
        loc = ("companies", "properties", name, "from")
        if key is None:
            continue
        if key not in scopes:
            hint = did_you_mean(key, company_keys or scopes)
            message = f"found signal {key!r}, which signals does not define, allowed: {allowed}"
            out.append((loc, message + (f"; did you mean {hint!r}?" if hint else "")))
        elif scopes[key] != "company":
            out.append(
                (
                    loc,
                    f"found signal {key!r}, which is {scopes[key]}-scope: its answer is about one person, "
                    f"not the company; allowed: company-scope signals: {allowed}",
                )
            )
    subs = companies.get("subscriptions")
    ids: dict[str, str] = {}
    for sub_key, sub in subs.items() if isinstance(subs, dict) else []:
        if not isinstance(sub, dict):
            continue
        sub_id = sub.get("id")
        if isinstance(sub_id, str) and sub_id.strip():
            folded = sub_id.strip().casefold()
            if folded in ids:
                out.append(
                    (
                        ("companies", "subscriptions", sub_key, "id"),
                        f"found subscription id {sub_id.strip()!r} again (first under {ids[folded]}), "
                        "allowed: each subscription once",
                    )
                )
            else:
                ids[folded] = str(sub_key)
        sub_props = sub.get("properties")
        for name in sub_props if isinstance(sub_props, dict) else []:
            claim(str(name), ("companies", "subscriptions", sub_key, "properties", name))
    return out
