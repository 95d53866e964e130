"""Company records: company-scope answers land on the HubSpot company, not on every contact.

After a cycle's contact writes, each written contact's company answers (asked once per
company domain, see `signals`) are noted here. `CompanyStage.run` then matches each noted
contact to one HubSpot company (its primary association, or the one company holding its
domain — never a guess), maps the company answers to the `companies.properties`, adds what
the mapped subscriptions' logs brought (`subscriptions`), compares with the company's current
values and with what was last written there, and batch-updates only changed companies.

Noted contacts are marked pending in the state until their company's write lands, so a
stop or crash between the contact writes and this stage is picked up by the next cycle.
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence
from dataclasses import dataclass, field

from connector.errors import RUN_GOES_ON
from connector.hubspot import HubSpotAdapter
from connector.hubspot.companies import Company
from connector.logs import get_logger
from connector.mapping import Mapping, PropertyValue, held_back, map_company_values
from connector.saber import SaberClient
from connector.saber.models import Signal
from connector.state import StateStore
from connector.state.unmatched import (
    AMBIGUOUS_DOMAIN,
    ASSOCIATION_FAILED,
    NO_ASSOCIATION,
    NO_COMPANY_WITH_DOMAIN,
    NO_DOMAIN,
    SEVERAL_COMPANIES,
    Unmatched,
)
from connector.sync.changes import ChangeSet, compute_changes
from connector.sync.effects import Effects
from connector.sync.failures import Failure, Subject
from connector.sync.jobs import CompanyNote
from connector.sync.subscriptions import SubscriptionRead, read_subscriptions
from connector.sync.summary import RunSummary

log = get_logger("sync")


@dataclass(frozen=True)
class Match:
    """The company a contact's answers land on, or why there is none."""

    company_id: str | None
    unmatched: Unmatched | None = None

    def done(self, landed: set[str]) -> bool:
        """Nothing left to do: its company's values landed, or no company can take them until the
        contact or HubSpot changes (a failed association read is retried instead)."""
        if self.company_id is not None:
            return self.company_id in landed
        return not (self.unmatched is not None and self.unmatched.retried)


@dataclass
class CompanyWrite:
    """What one company gets this cycle: values by property, from which answers."""

    company_id: str
    domain: str | None
    values: dict[str, PropertyValue] = field(default_factory=dict)
    contacts: list[str] = field(default_factory=list)


class CompanyStage:
    """Takes the cycle's company notes and writes them to HubSpot companies at its end."""

    def __init__(
        self,
        mapping: Mapping,
        hubspot: HubSpotAdapter,
        saber: SaberClient,
        store: StateStore,
        summary: RunSummary,
        effects: Effects,
        *,
        contact_ids: Sequence[str] = (),
    ) -> None:
        self.mapping = mapping
        self.hubspot = hubspot
        self.saber = saber
        self.store = store
        self.summary = summary
        self.effects = effects
        self.contact_ids = contact_ids  # `--contact`: only those contacts' companies
        self.writer = CompanyWriter(mapping, hubspot, store, summary, effects)
        self._notes: dict[str, CompanyNote] = {}
        self._keys = frozenset(mapping.company_signals())  # once, not per written contact

    @property
    def enabled(self) -> bool:
        return self.mapping.companies is not None

    def note(self, contact_id: str, domain: str | None, answers: AbcMapping[str, Signal]) -> CompanyNote:
        """What a written contact's company gets: its domain and its company answers (a pure value)."""
        return CompanyNote(contact_id, domain, {k: v for k, v in answers.items() if k in self._keys})

    def add(self, notes: Sequence[CompanyNote]) -> None:
        """These contacts were written: their company answers wait for the end of the cycle, marked
        pending in the state until their company has them."""
        if not self.enabled:
            return
        self._notes.update((n.contact_id, n) for n in notes)
        self.effects.mark_company_pending([n.contact_id for n in notes])

    def run(self, *, subscriptions: bool = True) -> None:
        """Match, map, compare and write every noted company, and what the subscriptions brought."""
        if not self.enabled:
            return
        notes = self._take_notes()
        if self.contact_ids:
            notes = [n for n in notes if n.contact_id in self.contact_ids]
        try:
            matches = self._match(notes)
        except RUN_GOES_ON as exc:  # HubSpot failed past its retries: next cycle
            log.warning("companies not matched", contacts=len(notes), error=str(exc))
            self.effects.fail(Failure(Subject("company", "*"), "COMPANY_MATCH_FAILED", str(exc)))
            return  # the contacts stay pending; their own properties have landed
        writes: dict[str, CompanyWrite] = {}
        for note in notes:
            match = matches[note.contact_id]
            if match.company_id is None:
                code = match.unmatched.code if match.unmatched else "unmatched"
                self.summary.company_event(f"unmatched_{code}")
                continue
            target = writes.setdefault(match.company_id, CompanyWrite(match.company_id, note.domain))
            target.contacts.append(note.contact_id)
            if not target.values or note.domain == target.domain:
                target.values = map_company_values(self.mapping, note.answers)
                target.domain = note.domain
        self.summary.count("companies_matched", len(writes))
        subscription_reads = self._subscriptions(writes) if subscriptions else []
        landed = self.writer.write(list(writes.values()))
        for final in (True, False):  # what landed (or cannot) is settled; the rest stays pending
            chosen = {cid: m for cid, m in matches.items() if m.done(landed) == final}
            self.effects.record_company_matches(
                {cid: (m.company_id, str(m.unmatched) if m.unmatched else None) for cid, m in chosen.items()},
                settled=final,
            )
        for read in subscription_reads:
            if read.cursor is not None and all(cid in landed for cid in read.company_ids):
                self.effects.set_cursor(read.cursor_name, read.cursor)  # only after its writes landed

    # ------------------------------------------------------------------ steps
    def _take_notes(self) -> list[CompanyNote]:
        """This cycle's notes, plus contacts an earlier cycle left pending (from their stored answers)."""
        notes, self._notes = dict(self._notes), {}
        earlier = [cid for cid in self.effects.company_pending_contacts() if cid not in notes]
        for cid, state in self.store.get_many(earlier).items():
            answers: dict[str, Signal] = {}
            domain: str | None = None
            for key, stored in state.stored_signals().items():
                if key in self._keys:
                    answers[key] = Signal.model_validate(stored.signal)
                    domain = domain or stored.target
            notes[cid] = CompanyNote(cid, domain, answers)
        return [notes[cid] for cid in sorted(notes, key=lambda i: (len(i), i))]

    def _match(self, notes: Sequence[CompanyNote]) -> dict[str, Match]:
        """Each noted contact's company: its primary association, or the only company with its domain."""
        out: dict[str, Match] = {}
        if not notes:
            return out
        if self.mapping.companies is not None and self.mapping.companies.match == "domain":
            domains = sorted({n.domain for n in notes if n.domain})
            found = self.hubspot.companies.search_by_domain(domains) if domains else {}
            for n in notes:
                out[n.contact_id] = _by_domain(n.domain, found.get(n.domain or "", []))
            return out
        result = self.hubspot.companies.associations([n.contact_id for n in notes])
        failed = {f.contact_id: f for f in result.failures}
        for n in notes:
            if n.contact_id in failed:
                f = failed[n.contact_id]
                out[n.contact_id] = Match(None, Unmatched(ASSOCIATION_FAILED, f"{f.code}: {f.message}"))
                continue
            links = result.contacts.get(n.contact_id)
            if links is None or not links.company_ids:
                out[n.contact_id] = Match(
                    None, Unmatched(NO_ASSOCIATION, "the contact has no associated company")
                )
            elif links.company_id is None:
                ids = ", ".join(links.company_ids[:5])
                out[n.contact_id] = Match(None, Unmatched(SEVERAL_COMPANIES, f"{ids}, none of them primary"))
            else:
                out[n.contact_id] = Match(links.company_id)
        return out

    def _subscriptions(self, writes: dict[str, CompanyWrite]) -> list[SubscriptionRead]:
        """Add the mapped subscriptions' newest answers per company domain to `writes`."""
        if not self.mapping.subscriptions():
            return []
        reads, failures = read_subscriptions(self.mapping, self.saber, self.store)
        for failure in failures:
            self.effects.fail(failure)
        self.summary.count("subscription_entries_read", sum(r.entries for r in reads))
        domains = sorted({d for r in reads for d in r.values})
        try:
            found = self.hubspot.companies.search_by_domain(domains) if domains else {}
        except RUN_GOES_ON as exc:  # the cursors stay: read again next cycle
            self.effects.fail(Failure(Subject("subscription", "*"), "COMPANY_MATCH_FAILED", str(exc)))
            return []
        for read in reads:
            for domain, values in read.values.items():
                match = _by_domain(domain, found.get(domain, []))
                if match.company_id is None:
                    code = match.unmatched.code if match.unmatched else ""
                    self.summary.company_event(f"subscription_unmatched_{code}")
                    continue
                target = writes.setdefault(match.company_id, CompanyWrite(match.company_id, domain))
                target.values.update(values)
                read.company_ids.append(match.company_id)
        return reads


class CompanyWriter:
    """Compares mapped company values with HubSpot's; what changed goes to the effects (sent, or planned)."""

    def __init__(
        self,
        mapping: Mapping,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: RunSummary,
        effects: Effects,
    ) -> None:
        self.mapping = mapping
        self.hubspot = hubspot
        self.store = store
        self.summary = summary
        self.effects = effects

    def write(self, writes: Sequence[CompanyWrite]) -> set[str]:
        """Write these companies' changed values; the ids whose values all landed (or needed none)."""
        if not writes:
            return set()
        props = self.mapping.company_hubspot_properties()
        try:
            current = {x.id: x for x in self.hubspot.companies.read([w.company_id for w in writes], props)}
        except RUN_GOES_ON as exc:
            for w in writes:
                log.warning("company not written", company_id=w.company_id, error=str(exc))
                failure = Failure(Subject("company", w.company_id), "READ_FAILED", str(exc))
                self.effects.put_off_company(failure, w.domain)
            return set()
        states = self.store.get_companies([w.company_id for w in writes])
        changesets: dict[str, ChangeSet] = {}
        landed: set[str] = set()
        for w in writes:
            company = current.get(w.company_id)
            if company is None:
                gone = Failure(Subject("company", w.company_id), "COMPANY_NOT_FOUND", _not_found(w))
                self.effects.fail(gone)
                landed.add(w.company_id)  # nothing can land on it: settled, with the failure recorded
                continue
            for prop in held_back(w.values):
                self.summary.held_back(prop)
            state = states.get(w.company_id)
            changes = compute_changes(
                self.mapping,
                w.company_id,
                w.values,
                company.properties,
                state.written if state else {},
                company=True,
            )
            for err in changes.errors:
                subject = Subject("company", w.company_id)
                self.effects.fail(Failure(subject, "CONVERSION_ERROR", err.error or "", err.property))
            for kept in changes.of("kept_edit"):
                self.summary.kept_edit(f"company.{kept.property}")
            if changes.updates:
                changesets[w.company_id] = changes
            else:
                landed.add(w.company_id)
        by_id = {w.company_id: w for w in writes}
        domains = {cid: by_id[cid].domain for cid in changesets}
        held = {cid: current[cid].domain for cid in changesets}
        return landed | self.effects.write_companies(changesets, domains, held)


def _by_domain(domain: str | None, holders: Sequence[Company]) -> Match:
    """The one company holding `domain`, or why not: none, or several (never a guess)."""
    if not domain:
        return Match(None, Unmatched(NO_DOMAIN, "the contact has no company domain (or a free-mail one)"))
    if not holders:
        return Match(None, Unmatched(NO_COMPANY_WITH_DOMAIN, f"no HubSpot company has the domain {domain}"))
    if len(holders) > 1:
        ids = ", ".join(h.id for h in holders[:5])
        detail = f"{len(holders)} companies have the domain {domain} ({ids})"
        return Match(None, Unmatched(AMBIGUOUS_DOMAIN, detail))
    return Match(holders[0].id)


def _not_found(w: CompanyWrite) -> str:
    contacts = ", ".join(w.contacts) or "none (a subscription's)"
    return f"company {w.company_id} is not in HubSpot any more (deleted or merged); its contacts: {contacts}"
