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

import threading
from collections.abc import Callable, Sequence
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field

from connector.errors import RUN_GOES_ON, RecordFailure
from connector.hubspot.companies import Company
from connector.logs import get_logger
from connector.mapping import PropertyValue, held_back, map_company_values, value_hash
from connector.saber.models import Signal
from connector.sync.changes import ChangeSet, compute_changes
from connector.sync.config import Cycle
from connector.sync.subscriptions import SubscriptionRead, read_subscriptions

log = get_logger("sync")

# Why no company could be matched (the code before the colon is what the summary counts).
NO_DOMAIN = "no_domain"
NO_ASSOCIATION = "no_association"
SEVERAL_COMPANIES = "several_companies"
NO_COMPANY_WITH_DOMAIN = "no_company_with_domain"
AMBIGUOUS_DOMAIN = "ambiguous_domain"
ASSOCIATION_FAILED = "association_failed"


@dataclass(frozen=True)
class CompanyNote:
    """One written contact's company answers, waiting to land on its company."""

    contact_id: str
    domain: str | None  # the company domain its answers were asked for
    answers: dict[str, Signal]  # company-scope signal key -> answer


@dataclass(frozen=True)
class Match:
    """The company a contact's answers land on, or why there is none (`code: detail`)."""

    company_id: str | None
    unmatched: str | None = None

    def done(self, landed: set[str]) -> bool:
        """Nothing left to do: its company's values landed, or no company can take them until the
        contact or HubSpot changes (a failed association read is retried instead)."""
        if self.company_id is not None:
            return self.company_id in landed
        return not (self.unmatched or "").startswith(ASSOCIATION_FAILED)


@dataclass
class CompanyWrite:
    """What one company gets this cycle: values by property, from which answers."""

    company_id: str
    domain: str | None
    values: dict[str, PropertyValue] = field(default_factory=dict)
    contacts: list[str] = field(default_factory=list)


class CompanyStage:
    """Collects company answers during a cycle and writes them to HubSpot companies at its end."""

    def __init__(self, cycle: Cycle, write: CompanyWriter) -> None:
        self.cycle = cycle
        self.writer = write
        self._notes: dict[str, CompanyNote] = {}
        self._lock = threading.Lock()
        self._keys = frozenset(cycle.mapping.company_signals())  # once, not per written contact

    @property
    def enabled(self) -> bool:
        return self.cycle.mapping.companies is not None

    def note(self, contact_id: str, domain: str | None, answers: AbcMapping[str, Signal]) -> None:
        """A contact was written: keep its company answers for the end of the cycle (any thread)."""
        if not self.enabled:
            return
        kept = {k: v for k, v in answers.items() if k in self._keys}
        with self._lock:
            self._notes[contact_id] = CompanyNote(contact_id, domain, kept)

    def mark_pending(self, contact_ids: Sequence[str]) -> None:
        """Record in the state that these contacts' company answers wait to land."""
        if self.enabled and not self.cycle.options.dry_run:
            with self._lock:
                noted = [cid for cid in contact_ids if cid in self._notes]
            self.cycle.store.mark_company_pending(noted)

    def run(self, *, subscriptions: bool = True) -> None:
        """Match, map, compare and write every noted company, and what the subscriptions brought."""
        if not self.enabled:
            return
        c = self.cycle
        notes = self._take_notes()
        if c.options.contact_ids:  # `--contact`: only those contacts' companies
            notes = [n for n in notes if n.contact_id in c.options.contact_ids]
        try:
            matches = self._match(notes)
        except RUN_GOES_ON as exc:  # HubSpot failed past its retries: next cycle
            log.warning("companies not matched", contacts=len(notes), error=str(exc))
            c.summary.fail(RecordFailure("companies", None, "COMPANY_MATCH_FAILED", str(exc)))
            return  # the contacts stay pending; their own properties have landed
        writes: dict[str, CompanyWrite] = {}
        for note in notes:
            match = matches[note.contact_id]
            if match.company_id is None:
                code = (match.unmatched or "unmatched").split(":", 1)[0]
                c.summary.company_event(f"unmatched_{code}")
                continue
            target = writes.setdefault(match.company_id, CompanyWrite(match.company_id, note.domain))
            target.contacts.append(note.contact_id)
            if not target.values or note.domain == target.domain:
                target.values = map_company_values(c.mapping, note.answers)
                target.domain = note.domain
        c.summary.count("companies_matched", len(writes))
        subscription_reads = self._subscriptions(writes) if subscriptions else []
        landed = self.writer.write(list(writes.values()))
        if not c.options.dry_run:
            for final in (True, False):  # what landed (or cannot) is settled; the rest stays pending
                chosen = {cid: m for cid, m in matches.items() if m.done(landed) == final}
                c.store.record_company_matches(
                    {cid: (m.company_id, m.unmatched) for cid, m in chosen.items()}, settled=final
                )
            for read in subscription_reads:
                if read.cursor is not None and all(cid in landed for cid in read.company_ids):
                    c.store.set_cursor(read.cursor_name, read.cursor)  # only after its writes landed

    # ------------------------------------------------------------------ steps
    def _take_notes(self) -> list[CompanyNote]:
        """This cycle's notes, plus contacts an earlier cycle left pending (from their stored answers)."""
        c = self.cycle
        with self._lock:
            notes, self._notes = dict(self._notes), {}
        if c.options.dry_run:
            return list(notes.values())
        earlier = [cid for cid in c.store.company_pending_contacts() if cid not in notes]
        for cid, state in c.store.get_many(earlier).items():
            answers: dict[str, Signal] = {}
            domain: str | None = None
            for key, stored in state.signals.items():
                if key in self._keys and isinstance(stored, dict) and isinstance(stored.get("signal"), dict):
                    answers[key] = Signal.model_validate(stored["signal"])
                    domain = domain or stored.get("target")
            notes[cid] = CompanyNote(cid, domain, answers)
        return [notes[cid] for cid in sorted(notes, key=lambda i: (len(i), i))]

    def _match(self, notes: Sequence[CompanyNote]) -> dict[str, Match]:
        """Each noted contact's company: its primary association, or the only company with its domain."""
        c = self.cycle
        out: dict[str, Match] = {}
        if not notes:
            return out
        if c.mapping.companies is not None and c.mapping.companies.match == "domain":
            domains = sorted({n.domain for n in notes if n.domain})
            found = c.hubspot.companies.search_by_domain(domains) if domains else {}
            for n in notes:
                out[n.contact_id] = _by_domain(n.domain, found.get(n.domain or "", []))
            return out
        result = c.hubspot.companies.associations([n.contact_id for n in notes])
        failed = {f.contact_id: f for f in result.failures}
        for n in notes:
            if n.contact_id in failed:
                f = failed[n.contact_id]
                out[n.contact_id] = Match(None, f"{ASSOCIATION_FAILED}: {f.code}: {f.message}")
                continue
            links = result.contacts.get(n.contact_id)
            if links is None or not links.company_ids:
                out[n.contact_id] = Match(None, f"{NO_ASSOCIATION}: the contact has no associated company")
            elif links.company_id is None:
                ids = ", ".join(links.company_ids[:5])
                out[n.contact_id] = Match(None, f"{SEVERAL_COMPANIES}: {ids}, none of them primary")
            else:
                out[n.contact_id] = Match(links.company_id)
        return out

    def _subscriptions(self, writes: dict[str, CompanyWrite]) -> list[SubscriptionRead]:
        """Add the mapped subscriptions' newest answers per company domain to `writes`."""
        c = self.cycle
        if not c.mapping.subscriptions():
            return []
        reads = read_subscriptions(c)
        domains = sorted({d for r in reads for d in r.values})
        try:
            found = c.hubspot.companies.search_by_domain(domains) if domains else {}
        except RUN_GOES_ON as exc:  # the cursors stay: read again next cycle
            c.summary.fail(RecordFailure("subscriptions", None, "COMPANY_MATCH_FAILED", str(exc)))
            return []
        for read in reads:
            for domain, values in read.values.items():
                match = _by_domain(domain, found.get(domain, []))
                if match.company_id is None:
                    code = (match.unmatched or "").split(":", 1)[0]
                    c.summary.company_event(f"subscription_unmatched_{code}")
                    continue
                target = writes.setdefault(match.company_id, CompanyWrite(match.company_id, domain))
                target.values.update(values)
                read.company_ids.append(match.company_id)
        return reads


class CompanyWriter:
    """Compares mapped company values with HubSpot's and sends only what changed (live or dry run)."""

    def __init__(self, cycle: Cycle, fail: Callable[[RecordFailure], None]) -> None:
        self.cycle = cycle
        self.fail = fail

    def write(self, writes: Sequence[CompanyWrite]) -> set[str]:
        """Write these companies' changed values; the ids whose values all landed (or needed none)."""
        c = self.cycle
        if not writes:
            return set()
        props = c.mapping.company_hubspot_properties()
        try:
            current = {x.id: x for x in c.hubspot.companies.read([w.company_id for w in writes], props)}
        except RUN_GOES_ON as exc:
            for w in writes:
                self._pending(w, "READ_FAILED", str(exc))
            return set()
        states = c.store.get_companies([w.company_id for w in writes])
        changesets: dict[str, ChangeSet] = {}
        landed: set[str] = set()
        for w in writes:
            company = current.get(w.company_id)
            if company is None:
                self.fail(RecordFailure(w.company_id, None, "COMPANY_NOT_FOUND", _not_found(w)))
                landed.add(w.company_id)  # nothing can land on it: settled, with the failure recorded
                continue
            for prop in held_back(w.values):
                c.summary.held_back(prop)
            state = states.get(w.company_id)
            changes = compute_changes(
                c.mapping,
                w.company_id,
                w.values,
                company.properties,
                state.written if state else {},
                company=True,
            )
            for err in changes.errors:
                self.fail(RecordFailure(w.company_id, err.property, "CONVERSION_ERROR", err.error or ""))
            for kept in changes.of("kept_edit"):
                c.summary.kept_edit(f"company.{kept.property}")
            if changes.updates:
                changesets[w.company_id] = changes
            else:
                landed.add(w.company_id)
        if c.options.dry_run:
            for cid, changes in changesets.items():
                c.summary.plan_company(cid, changes)
            return landed | set(changesets)
        return landed | self._send(writes, changesets, current)

    def _send(
        self, writes: Sequence[CompanyWrite], changesets: dict[str, ChangeSet], current: dict[str, Company]
    ) -> set[str]:
        c = self.cycle
        if not changesets:
            return set()
        by_id = {w.company_id: w for w in writes}
        try:
            result = c.hubspot.companies.update({cid: ch.updates for cid, ch in changesets.items()})
        except RUN_GOES_ON as exc:
            for cid in changesets:
                self._pending(by_id[cid], "WRITE_FAILED", str(exc))
            return set()
        bad: dict[str, set[str | None]] = {}
        for f in result.failures:
            bad.setdefault(f.contact_id, set()).add(f.property)
            self.fail(f)
        landed: set[str] = set()
        for cid, changes in changesets.items():
            failed = bad.get(cid, set())
            values = {p: v for p, v in changes.updates.items() if None not in failed and p not in failed}
            if values:
                c.store.record_company_written(
                    cid,
                    by_id[cid].domain or current[cid].domain,
                    {p: value_hash(v) for p, v in values.items()},
                )
                c.summary.count("companies_written")
                c.summary.count("company_properties_written", len(values))
            if failed:
                c.store.set_company_pending(
                    cid, by_id[cid].domain, "WRITE_FAILED", "some values were refused"
                )
            else:
                landed.add(cid)
        return landed

    def _pending(self, w: CompanyWrite, code: str, message: str) -> None:
        log.warning("company not written", company_id=w.company_id, error=message)
        self.fail(RecordFailure(w.company_id, None, code, message))
        if not self.cycle.options.dry_run:
            self.cycle.store.set_company_pending(w.company_id, w.domain, code, message)


def _by_domain(domain: str | None, holders: Sequence[Company]) -> Match:
    """The one company holding `domain`, or why not: none, or several (never a guess)."""
    if not domain:
        return Match(None, f"{NO_DOMAIN}: the contact has no company domain (or a free-mail one)")
    if not holders:
        return Match(None, f"{NO_COMPANY_WITH_DOMAIN}: no HubSpot company has the domain {domain}")
    if len(holders) > 1:
        ids = ", ".join(h.id for h in holders[:5])
        return Match(None, f"{AMBIGUOUS_DOMAIN}: {len(holders)} companies have the domain {domain} ({ids})")
    return Match(holders[0].id)


def _not_found(w: CompanyWrite) -> str:
    contacts = ", ".join(w.contacts) or "none (a subscription's)"
    return f"company {w.company_id} is not in HubSpot any more (deleted or merged); its contacts: {contacts}"
