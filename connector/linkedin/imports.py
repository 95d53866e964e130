"""A completed job's prospects into HubSpot: matched when already there, created once otherwise.

A job fills its audience; once it completes, the audience is paged (`GET /audiences/{id}/prospects`,
`409 AUDIENCE_NOT_READY` while it fills: read again next run) and each prospect is, in order:
already known to the state (an earlier job, a HubSpot contact's URL uploaded for a scan: the same
LinkedIn key) -> nothing to do; found in HubSpot (`people.LinkedInPeople`: the mapped LinkedIn
URL, else the name at the same company) -> recorded as matched, the job against it; else created
with the mapping's `contact` values through HubSpot's batch create.

Never twice: each prospect is claimed in the state before its create is sent and marked created
with HubSpot's id once the answer says so. Claims an earlier run left (a crash, a lost answer:
`CreateMaybeApplied`) are settled first, before anything is created: looked up in HubSpot by
their LinkedIn URL and name, recorded as created when found, released otherwise. HubSpot's search
lags behind its writes by a few seconds, so a claim younger than `SEARCH_LAG` that the search does
not find yet is kept (its job waits for a later run) rather than released and created twice. A
job is marked imported only once all of its prospects are settled, so a run cut short imports it
again, and what it already did is then known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from connector.clock import utcnow
from connector.hubspot.adapter import HubSpotAdapter
from connector.hubspot.errors import CreateMaybeApplied
from connector.hubspot.records import NewContact
from connector.integrations.client import IntegrationsClient
from connector.integrations.errors import AudienceNotReady, IntegrationsAnswerError, IntegrationsRejected
from connector.integrations.models import Prospect
from connector.linkedin.people import LinkedInPeople, name_at
from connector.linkedin.summary import LinkedInSummary
from connector.logs import get_logger
from connector.mapping.convert import plain_text
from connector.mapping.linkedin import LinkedIn
from connector.state import StateStore
from connector.state.linkedin import JobRow, ProspectRow

log = get_logger("linkedin")

COMPANY_FIELD = "company.name"
DONE = ("created", "matched", "uploaded")
UNCERTAIN = ("UNATTRIBUTED",)
# How long after its create a contact may still be missing from HubSpot's search results.
SEARCH_LAG = timedelta(seconds=10)  # a create HubSpot may have made although it said otherwise: kept claimed


class Importer:
    """Imports completed jobs' audiences (see the module); sequential, one thread."""

    def __init__(
        self,
        section: LinkedIn,
        client: IntegrationsClient,
        hubspot: HubSpotAdapter,
        store: StateStore,
        summary: LinkedInSummary,
        now: datetime,
    ) -> None:
        self.section = section
        self.client = client
        self.hubspot = hubspot
        self.store = store
        self.summary = summary
        self.now = now
        self.company_property = next(
            (p for p, s in section.contact.items() if s.field == COMPANY_FIELD), None
        )
        self.people = LinkedInPeople(hubspot, section.url_property(), self.company_property)

    # ---------------------------------------------------------------- earlier claims
    def settle_claims(self) -> None:
        """Claims an earlier run left: found in HubSpot -> created; not found -> never made, released."""
        claims = self.store.linkedin.claimed()
        if not claims:
            return
        by_key = self.people.by_keys({c.key: None for c in claims if c.key})
        rest = [c for c in claims if c.key not in by_key]
        by_name = self.people.by_names([(c.first_name, c.last_name, c.company) for c in rest])
        found: dict[str, str] = {}
        for claim in claims:
            cid = by_key.get(claim.key) or by_name.get(
                name_at(claim.first_name, claim.last_name, claim.company)
            )
            if cid:
                found[claim.prospect_id] = cid
        now = utcnow()
        lost = [c for c in claims if c.prospect_id not in found]
        young = {c.prospect_id for c in lost if now - c.seen_at < SEARCH_LAG}  # perhaps not searchable yet
        self.store.linkedin.record_created(found)
        self.store.linkedin.release([c.prospect_id for c in lost if c.prospect_id not in young])
        self.summary.recovered += len(found)
        self.summary.claims_waiting = len(young)
        log.info(
            "linkedin claims settled", found=len(found), released=len(lost) - len(young), kept=len(young)
        )

    # ---------------------------------------------------------------- one job
    def run(self, row: JobRow) -> bool:
        """Import one completed job's audience; whether it is done (False: read again next run)."""
        if not row.audience_id:
            self.summary.fail(f"job:{row.name}", "NO_AUDIENCE", "the job completed with no audience recorded")
            self.store.linkedin.job_status(row.key, "failed", "no audience recorded")
            return False
        try:
            prospects = list(self.client.audience_prospects(row.audience_id))
        except AudienceNotReady:
            log.info("linkedin audience not ready", job=row.name, audience=row.audience_id)
            return False
        except (IntegrationsAnswerError, IntegrationsRejected) as exc:
            self.summary.fail(f"job:{row.name}", exc.code or type(exc).__name__, str(exc))
            return False
        self.store.linkedin.record_job_prospects(row.key, [p.id for p in prospects])
        settled = self.import_prospects(row.name, prospects)
        if settled:
            self.store.linkedin.job_imported(row.key)
            self.summary.prospects_imported += len(prospects)
        return settled

    def import_prospects(self, job: str, prospects: Sequence[Prospect]) -> bool:
        """Match or create each prospect once; whether every one is settled (none left claimed)."""
        known = self.store.linkedin.prospects([p.id for p in prospects])
        waiting = any(known[p.id].status not in DONE for p in prospects if p.id in known)  # claims kept
        fresh = [p for p in prospects if p.id not in known]
        if not fresh:
            return not waiting
        same_key = self.store.linkedin.prospects_by_key([p.key for p in fresh if p.key])
        matched: dict[str, str] = {}
        for p in fresh:
            earlier = same_key.get(p.key) if p.key else None
            if earlier is not None and earlier.contact_id and earlier.status in DONE:
                matched[p.id] = earlier.contact_id
            elif earlier is not None:  # the same person under another id, claimed: wait for it
                waiting = True
        fresh = [p for p in fresh if p.id in matched or not (p.key and p.key in same_key)]
        todo = [p for p in fresh if p.id not in matched]
        by_key = self.people.by_keys({p.key: p.linkedin_url for p in todo if p.key})
        for p in todo:
            if p.key and p.key in by_key:
                matched[p.id] = by_key[p.key]
        rest = [p for p in todo if p.id not in matched]
        by_name = self.people.by_names([(p.first_name, p.last_name, self._company(p)) for p in rest])
        for p in rest:
            cid = by_name.get(name_at(p.first_name, p.last_name, self._company(p)))
            if cid:
                matched[p.id] = cid
        if matched:
            rows = [self._row(job, p, "matched") for p in fresh if p.id in matched]
            self.store.linkedin.record_matched(matched, job, known=rows)
            self.summary.contacts_matched += len(matched)
        return self._create(job, [p for p in fresh if p.id not in matched]) and not waiting

    def _create(self, job: str, prospects: Sequence[Prospect]) -> bool:
        """Claim, then create these people (one per LinkedIn key); whether all are settled."""
        first: dict[str, Prospect] = {}
        twins: dict[str, str] = {}  # a prospect listed twice under two ids -> the one created
        for p in prospects:
            ident = p.key or f"id:{p.id}"
            if ident in first:
                twins[p.id] = first[ident].id
            else:
                first[ident] = p
        people = list(first.values())
        if not people:
            return True
        self.store.linkedin.claim([self._row(job, p, "claimed") for p in people])
        inputs = [NewContact(p.id, self._values(p)) for p in people]
        try:
            result = self.hubspot.contacts.create(inputs)
        except CreateMaybeApplied as exc:
            # What landed is kept; what was never sent is released; the rest stays claimed and is
            # looked up in HubSpot by the next run before anything is sent again.
            self._record(job, exc.result.created, twins, first)
            self._refused(exc.result.failures)
            self.store.linkedin.release([k for k in exc.unsent if k not in exc.result.created])
            raise
        self._record(job, result.created, twins, first)
        self._refused(result.failures)
        # Refused creates are failures of the run, not retried (the same values would be refused
        # again); an unattributed one stays claimed and keeps the job open until it is settled.
        return not any(f.code in UNCERTAIN for f in result.failures)

    def _record(
        self, job: str, created: Mapping[str, str], twins: Mapping[str, str], first: Mapping[str, Prospect]
    ) -> None:
        self.store.linkedin.record_created(created)
        self.summary.contacts_created += len(created)
        same = {twin: created[of] for twin, of in twins.items() if of in created}
        if same:
            by_id = {p.id: p for p in first.values()}
            rows = [self._row(job, by_id[twins[t]], "matched", t) for t in same]
            self.store.linkedin.record_matched(same, job, known=rows)
            self.summary.contacts_matched += len(same)

    def _refused(self, failures: Sequence[Any]) -> None:
        self.store.linkedin.release([f.key for f in failures if f.code not in UNCERTAIN])
        for f in failures:
            self.summary.fail(f"prospect:{f.key}", f.code, f.message)

    def _row(self, job: str, p: Prospect, status: str, prospect_id: str | None = None) -> ProspectRow:
        """The state's row of a prospect: its key and names, so that it is found again by key or name."""
        return ProspectRow(
            prospect_id=prospect_id or p.id,
            key=p.key,
            contact_id=None,
            status=status,
            first_name=p.first_name,
            last_name=p.last_name,
            company=self._company(p),
            job=job,
            seen_at=self.now,
        )

    def _company(self, p: Prospect) -> str | None:
        value = p.field(COMPANY_FIELD)
        return plain_text(value) if value is not None else None

    def _values(self, p: Prospect) -> dict[str, str]:
        """The mapping's `contact` values for one prospect (empty values left out)."""
        values: dict[str, str] = {}
        for prop, source in self.section.contact.items():
            value = p.field(source.field) if source.field is not None else source.value
            text = plain_text(value) if value is not None else None
            if text:
                values[prop] = text
        return values
