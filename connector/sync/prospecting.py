"""The prospecting stage: find the people missing at target accounts and create them in HubSpot.

Sales teams work accounts, and the people they need are often not in HubSpot. For each target
company (`prospecting.accounts.filters`, keyset-paged), Saber's contact search looks for people
at its LinkedIn company page; those HubSpot already has (`HubSpotPeople`) or the connector
already created are skipped and counted; the rest are created with the company as their primary
association, within `per_account` and `max_new_per_run`. The created contacts are researched by
the normal sync, when the mapping's `select.filters` select them.

Never twice: a claim a lost answer left (a crash, `CreateMaybeApplied`) is looked up in HubSpot
before the run searches anything, and found ones are recorded as created.

Saber's answers: a 422 (a company URL Saber cannot process) is recorded against that company
and the others go on. `salesNavConnected: false` and a 400 (a filter Saber refuses) stop the run
with exit 2: every account would get the same answer, and only the user can fix it (connect Sales
Navigator; correct `prospecting.search`), which is what exit 2 (a configuration problem) means;
unlike an unavailable API (exit 3) waiting and retrying changes nothing. A 402 stops prospecting
cleanly (exit 0, with the line). 429 and 5xx are the call policy's; an API still failing after
its retries stops the run with exit 3. Contact search is treated as free: its calls are counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from connector.errors import ConfigError
from connector.hubspot.adapter import Contact, HubSpotAdapter
from connector.hubspot.records import Company
from connector.mapping.prospecting import Prospecting
from connector.saber import InsufficientCredits, SaberClient
from connector.saber.contact_search import (
    MAX_PAGE_SIZE,
    CompanyUrlRejected,
    ContactSearch,
    SalesNavigatorNotConnected,
    SearchFilterRejected,
    SearchPerson,
)
from connector.state import StateStore
from connector.state.prospects import CREATED, candidate_key, fold_name, fold_url
from connector.sync.prospect_effects import NewPerson, ProspectEffects
from connector.sync.prospect_lookup import HubSpotPeople
from connector.sync.prospect_summary import AccountReport, ProspectSummary
from connector.sync.pull import search_filter

COMPANY_URL = re.compile(r"^(https?://)?([a-z0-9-]+\.)?linkedin\.com/company/[^/?#\s]+/?([?#].*)?$", re.I)
# A search item field, as the mapping names it -> the typed item's attribute.
ITEM_ATTRIBUTES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "fullName": "full_name",
    "role": "role",
    "linkedInSalesNavigatorProfileUrl": "linkedin_sales_navigator_profile_url",
    "avatar": "avatar",
    "location": "location",
}


class ProspectingStopped(ConfigError):
    """Prospecting cannot go on until the user fixes something (Sales Navigator, a filter): exit 2."""


class Prospector:
    """One prospecting run over the target accounts (see the module); sequential, one thread."""

    def __init__(
        self,
        section: Prospecting,
        hubspot: HubSpotAdapter,
        saber: SaberClient,
        store: StateStore,
        effects: ProspectEffects,
        summary: ProspectSummary,
        *,
        now: datetime,
        max_new: int | None = None,
    ) -> None:
        self.section = section
        self.hubspot = hubspot
        self.saber = saber
        self.store = store
        self.effects = effects
        self.summary = summary
        self.now = now
        self.budget = section.max_new_per_run if max_new is None else min(max_new, section.max_new_per_run)
        self.people = HubSpotPeople(hubspot, section.sales_navigator_property())
        self.search_filters = self._search_filters()

    def run(self) -> None:
        """Settle earlier claims, then search each due account until the run's budget is spent."""
        self.settle_claims()
        for company in self.accounts():
            if self.budget <= 0:
                break
            self.summary.accounts_seen += 1
            try:
                self.account(company)
            except SalesNavigatorNotConnected as exc:
                raise ProspectingStopped(str(exc)) from exc
            except SearchFilterRejected as exc:
                key = f"prospecting.search.{exc.mapping_key}" if exc.mapping_key else "prospecting.search"
                raise ProspectingStopped(f"{key}: {exc}") from exc
            except InsufficientCredits as exc:
                self.summary.stopped = f"Saber answered 402 (no credits left): prospecting stopped ({exc})"
                break

    # ---------------------------------------------------------------- earlier claims
    def settle_claims(self) -> None:
        """Claims an earlier run left (its create's answer lost): found at their company, or never made.

        Looked for among each company's associated contacts (the create associates the company),
        by Sales Navigator URL, else by name: reads HubSpot answers at once, unlike its search.
        """
        claims = self.store.prospects.claimed()
        if not claims:
            return
        at = self.people.at_company(list(dict.fromkeys(c.company_id for c in claims)))
        found: dict[str, str] = {}
        for claim in claims:
            contacts = at.get(claim.company_id, [])
            url = fold_url(claim.sales_navigator_url)
            name = (fold_name(claim.first_name), fold_name(claim.last_name))
            match = next((c for c in contacts if url and self.people.url_of(c) == url), None) or next(
                (c for c in contacts if _contact_name(c) == name), None
            )
            if match is not None:
                found[claim.key] = match.id
        self.effects.settle_claims(found, [c.key for c in claims if c.key not in found])

    # ---------------------------------------------------------------- accounts
    def accounts(self) -> Iterator[Company]:
        """The target companies: those a run cut short first, then the others in id order."""
        props = list(dict.fromkeys(["name", *self.section.account_properties()]))
        filters = [search_filter(f) for f in self.section.accounts.filters]
        companies = list(self.hubspot.companies.search(filters, props))
        states = self.store.prospects.accounts(c.id for c in companies)
        unfinished = set(self.store.prospects.unfinished_accounts())
        companies.sort(key=lambda c: (c.id not in unfinished, len(c.id), c.id))
        refresh = timedelta(days=self.section.refresh_after_days)
        for company in companies:
            state = states.get(company.id)
            # An account skipped for its URL is looked at again every run (no Saber call until it
            # has a usable one); one searched, or whose URL Saber refused, waits refresh_after_days.
            recent = (
                state is not None
                and state.searched_at is not None
                and state.skip_reason in (None, "url_rejected")
                and self.now - state.searched_at < refresh
            )
            if company.id not in unfinished and recent:
                self.summary.accounts_skipped["searched_recently"] += 1
                continue
            yield company

    def account(self, company: Company) -> None:
        """Search one account and create the people it is missing, within both limits."""
        report = self.summary.account(company.id, company.properties.get("name") or "")
        url = (company.properties.get(self.section.accounts.linkedin_url) or "").strip()
        reason = "no_linkedin_url" if not url else None if COMPANY_URL.match(url) else "unusable_linkedin_url"
        if reason is not None:
            self._skip_account(report, reason, url or None)
            return
        # What this round already created here (a run cut short, an answer lost) counts too.
        window = self.now - timedelta(days=self.section.refresh_after_days)
        room = self.section.per_account - self.store.prospects.created_since(company.id, window)
        need = min(room, self.budget)
        if room <= 0:
            self.effects.record_account(company.id, finished=True)
            return
        search = ContactSearch.at(url, **self.search_filters)
        try:
            new = self._new_people(report, company, search, need)
        except CompanyUrlRejected as exc:
            self._skip_account(report, "url_rejected", str(exc))
            return
        self.summary.accounts_searched += 1
        made = self.effects.create(report, new, search.to_body())
        self.budget -= made
        cut_short = need < room and len(new) >= need
        self.effects.record_account(company.id, finished=not cut_short)

    def _skip_account(self, report: AccountReport, reason: str, detail: str | None) -> None:
        report.outcome, report.reason = "skipped", reason
        self.summary.accounts_skipped[reason] += 1
        self.effects.record_account(report.company_id, finished=True, skip_reason=reason, detail=detail)

    # ---------------------------------------------------------------- people
    def _new_people(
        self, report: AccountReport, company: Company, search: ContactSearch, need: int
    ) -> list[NewPerson]:
        """People found at the account that neither HubSpot nor the connector has, `need` at most."""
        walk = self.saber.search_contacts(search, page_size=min(MAX_PAGE_SIZE, max(need, 10)))
        new: list[NewPerson] = []
        keys: set[str] = set()
        while len(new) < need:
            batch = list(islice(walk, need - len(new)))
            if not batch:
                break
            self.summary.people_found += len(batch)
            fresh = self._fresh(report, company, batch, keys)
            new.extend(fresh[: need - len(new)])
        return new

    def _fresh(
        self, report: AccountReport, company: Company, batch: Sequence[SearchPerson], keys: set[str]
    ) -> list[NewPerson]:
        """Of these people, those to create: named, not seen this run, not created, not in HubSpot."""
        people: list[tuple[SearchPerson, str]] = []
        for person in batch:
            if not person.first_name or not person.last_name:
                self.summary.skip_person(report, person.name or "(no name)", "no_name")
                continue
            key = candidate_key(
                company.id, person.linkedin_sales_navigator_profile_url, person.first_name, person.last_name
            )
            if key in keys:
                self.summary.skip_person(report, person.name, "listed_twice")
                continue
            keys.add(key)
            people.append((person, key))
        known = self.store.prospects.candidates(k for _, k in people)
        by_url = self.people.by_urls(
            [p.linkedin_sales_navigator_profile_url or "" for p, k in people if k not in known]
        )
        unknown = [
            (p, k)
            for p, k in people
            if k not in known and fold_url(p.linkedin_sales_navigator_profile_url) not in by_url
        ]
        by_name = self.people.by_names(company.id, [(p.first_name, p.last_name) for p, _ in unknown])
        out: list[NewPerson] = []
        for person, key in people:
            if key in known:
                reason = "already_created" if known[key].status == CREATED else "claimed_earlier"
                self.summary.skip_person(report, person.name, reason)
            elif fold_url(person.linkedin_sales_navigator_profile_url) in by_url or _name(person) in by_name:
                self.summary.skip_person(report, person.name, "already_in_hubspot")
            else:
                out.append(self._new(person, key, company))
        return out

    def _new(self, person: SearchPerson, key: str, company: Company) -> NewPerson:
        properties: dict[str, str] = {}
        for name, source in self.section.contact.items():
            value: Any
            if source.field is not None:
                value = getattr(person, ITEM_ATTRIBUTES[source.field], None)
            elif source.account is not None:
                value = company.properties.get(source.account)
            else:
                value = source.value
            if value is not None and str(value).strip():
                properties[name] = str(value).strip()
        return NewPerson(
            key,
            person.name,
            person.linkedin_sales_navigator_profile_url,
            person.first_name,
            person.last_name,
            properties,
        )

    def _search_filters(self) -> dict[str, Any]:
        s = self.section.search
        filters: dict[str, Any] = {
            "job_titles": tuple(s.job_titles or ()),
            "seniority_levels": tuple(s.seniority_levels or ()),
            "departments": tuple(s.departments or ()),
            "countries": tuple(s.countries or ()),
        }
        if s.keywords:
            filters["keywords"] = s.keywords
        return filters


def _contact_name(contact: Contact) -> tuple[str, str]:
    return (fold_name(contact.properties.get("firstname")), fold_name(contact.properties.get("lastname")))


def _name(person: SearchPerson) -> tuple[str, str]:
    return (fold_name(person.first_name), fold_name(person.last_name))
