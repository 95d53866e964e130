"""`saber-connector check`: settings, mapping, state database, the APIs and the portal's properties
(those the `prospecting` section reads and sets included); with INTEGRATIONS_API_KEY set, also
the integrations key, the account groups it reaches, the group used and its permissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.clients import hubspot_from, integrations_from, saber_from, store_from
from connector.errors import ApiUnavailableError, ConnectorError
from connector.hubspot import PropertyInfo
from connector.integrations.probe import probe
from connector.logs import scrub
from connector.mapping import Mapping, load_mapping
from connector.portal import (
    check_object_properties,
    company_where,
    diff_properties,
    linkedin_problems,
    missing_properties,
    option_problems,
    prospecting_problems,
)
from connector.settings import Settings
from connector.state import mask_url, parse_url
from connector.sync.engine import RESEARCH_MODE
from connector.sync.templates import template_problems


@dataclass
class CheckReport:
    """Each check's result (ok or a problem, and its text) and the exit code they add up to;
    rendered as text (`lines`, `render`) or as JSON (`to_json`)."""

    results: list[tuple[bool, str]] = field(default_factory=list)  # (ok, text)
    exit_code: int = 0
    integrations: dict[str, Any] | None = None  # the integrations probe's findings, when its key is set

    @classmethod
    def stopped(cls, exc: ConnectorError) -> CheckReport:
        """The report of a check stopped before any API was asked: one problem, the error's exit code."""
        report = cls(exit_code=exc.exit_code)
        report.results.append((False, scrub(str(exc))))
        return report

    def ok(self, text: str) -> None:
        self.results.append((True, text))

    def problem(self, text: str, code: int) -> None:
        self.results.append((False, text))
        self.exit_code = max(self.exit_code, code)

    @property
    def lines(self) -> list[str]:
        """One `ok       …` or `PROBLEM  …` line per check."""
        return [f"ok       {text}" if ok else f"PROBLEM  {text}" for ok, text in self.results]

    def render(self) -> str:
        verdict = "all checks passed" if self.exit_code == 0 else "some checks failed"
        return "\n".join([*self.lines, verdict])

    def to_json(self) -> dict[str, Any]:
        """`{ok, exit_code, checks: [{status: ok|problem, text}]}` (what `check --output json` prints)."""
        checks = [{"status": "ok" if ok else "problem", "text": text.strip()} for ok, text in self.results]
        out: dict[str, Any] = {"ok": self.exit_code == 0, "exit_code": self.exit_code, "checks": checks}
        if self.integrations is not None:
            out["integrations"] = self.integrations
        return out


def run_checks(settings: Settings) -> CheckReport:
    """Check everything a sync needs, reporting each problem instead of stopping at the first."""
    report = CheckReport()
    settings.require_hubspot_token()
    settings.require_saber_key()
    report.ok("settings")
    mapping = load_mapping(settings.connector_mapping)
    report.ok(f"mapping {mapping.source_path}")
    check_state(settings, report)
    if settings.connector_public_url:
        report.ok(f"webhooks on: Saber reports finished research to {settings.connector_public_url} (`run`)")
    else:
        report.ok("webhooks off (set CONNECTOR_PUBLIC_URL to have Saber report finished research)")

    saber = saber_from(settings)
    try:
        credits = saber.credits()
        report.ok(f"Saber at {settings.saber_base_url} accepts the key; credits left: {credits}")
        if mapping.template_signals():
            found, problems = template_problems(mapping, saber)
            for text in problems:
                report.problem(text, 2)
            if found:
                report.ok(f"signal templates read: {', '.join(sorted(found))}")
    except ConnectorError as exc:
        report.problem(f"Saber at {settings.saber_base_url}: {exc}", _code(exc))
    finally:
        saber.close()

    check_integrations(settings, report)

    hubspot = hubspot_from(settings)
    try:
        hubspot.check_access()
        existing = hubspot.get_properties()
        company_specs = mapping.company_specs()
        wants_companies = bool(company_specs) or mapping.prospecting is not None
        company_existing = hubspot.get_properties("companies") if wants_companies else {}
        report.ok(f"HubSpot at {settings.hubspot_base_url} accepts the token")
    except ConnectorError as exc:
        report.problem(f"HubSpot at {settings.hubspot_base_url}: {exc}", _code(exc))
        return report
    finally:
        hubspot.close()

    outputs = set(mapping.output_properties())
    inputs = set(mapping.input_properties())
    prospected = set(mapping.prospecting.contact) if mapping.prospecting is not None else set()
    prospected |= {d.name for d in mapping.linkedin_property_definitions()}  # reported by check_linkedin
    for name in missing_properties(mapping, existing):
        if name in prospected:
            continue  # `setup` creates it: reported with its line by `check_prospecting`
        if name in outputs:
            hint = "run `saber-connector setup` to create it"
        else:
            hint = "the inputs read it" if name in inputs else "select.filters test it"
        report.problem(f"property {name} does not exist in HubSpot ({hint})", 2)
    for diff in sorted(diff_properties(mapping.properties, existing), key=lambda diff: diff.name):
        if diff.conflict:
            report.problem(diff.conflict, 2)
    for text in option_problems(mapping, existing):
        report.problem(text, 2)
    if report.exit_code == 0:
        report.ok(
            f"all {len(mapping.hubspot_properties())} mapped and input properties exist with compatible types"
        )
    if company_specs:
        where = company_where(mapping)
        problems = check_object_properties(company_specs, company_existing, "companies", where)
        for text in problems:
            report.problem(text, 2)
        if not problems:
            report.ok(f"all {len(company_specs)} mapped company properties exist with compatible types")
    check_prospecting(mapping, existing, company_existing, report)
    check_linkedin(mapping, existing, report)
    return report


def check_linkedin(mapping: Mapping, existing: dict[str, PropertyInfo], report: CheckReport) -> None:
    """The `linkedin` section against the portal: the contact properties it writes and the scans'
    LinkedIn URL properties (each problem with its file:line)."""
    if mapping.linkedin is None:
        return
    problems = linkedin_problems(mapping, existing)
    for text in problems:
        report.problem(text, 2)
    if not problems:
        count = len(mapping.linkedin_property_definitions())
        report.ok(f"linkedin: the {count} contact properties it writes exist with compatible types")


def check_prospecting(
    mapping: Mapping,
    existing: dict[str, PropertyInfo],
    company_existing: dict[str, PropertyInfo],
    report: CheckReport,
) -> None:
    """The `prospecting` section against the portal: the company properties `accounts` reads and
    filters on, and the contact properties `contact` sets (each problem with its file:line)."""
    prospecting = mapping.prospecting
    if prospecting is None:
        return
    problems = prospecting_problems(mapping, existing, company_existing)
    for text in problems:
        report.problem(text, 2)
    if not problems:
        accounts = len({*prospecting.account_properties(), *prospecting.filter_properties()})
        report.ok(
            f"prospecting: the {accounts} company properties accounts reads and the"
            f" {len(prospecting.contact)} contact properties it sets exist with compatible types"
        )


def check_integrations(settings: Settings, report: CheckReport) -> None:
    """With INTEGRATIONS_API_KEY set: the key, the groups it reaches, the group used, its permissions."""
    if settings.integrations_api_key is None:
        return
    client = integrations_from(settings)
    try:
        found = probe(client)
    finally:
        client.close()
    for ok, text in found.lines():
        if ok:
            report.ok(text)
    for text, code in found.problems:
        report.problem(f"Saber integrations API at {settings.integrations_base_url}: {text}", code)
    report.integrations = found.as_dict()


def check_state(settings: Settings, report: CheckReport) -> None:
    """Open the state database as `sync` does (connect, migrate, write a row and roll it back)."""
    url = parse_url(settings.connector_state_url)  # a malformed URL stops `check` like any setting
    try:
        store = store_from(settings, check_writes=True)
    except ConnectorError as exc:
        report.problem(str(exc), 2)  # every failure to open is the operator's to fix
        return
    try:
        mode = store.get_cursor(RESEARCH_MODE)
    finally:
        store.close()
    report.ok(f"state database {mask_url(url)}")
    if settings.saber_external_ids == "off":
        report.ok("research is launched without externalId/externalSource (SABER_EXTERNAL_IDS=off)")
    else:
        report.ok(f"research is launched {mode or 'with external IDs (until Saber refuses them)'}")


def _code(exc: ConnectorError) -> int:
    return 3 if isinstance(exc, ApiUnavailableError) else max(exc.exit_code, 2)
