"""The end-of-run summary: what a run saw, launched, collected and wrote, and what failed."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from connector.errors import RecordFailure
from connector.sync.options import SyncOptions

# Exit codes are part of the CLI's contract; a run stopped by a signal exits 128 + its number.
EXIT_OK = 0
EXIT_RECORD_FAILURES = 1
EXAMPLES = 5  # contacts kept per skip reason, to look up with `explain`


def run_kind(options: SyncOptions) -> str:
    """The kind of cycle a run of these options is, as /metrics names them: `webhook`, `collect` or `full`."""
    if options.collect_only:
        return "webhook" if options.look_now else "collect"
    return "full"


@dataclass(frozen=True, slots=True)
class SkipExample:
    """One skipped contact and why, in words."""

    contact_id: str
    detail: str = ""


@dataclass(frozen=True)
class PlannedChange:
    """In a dry run: what would happen to one contact."""

    contact_id: str
    action: str  # launch | write | skip | wait
    reason: str = ""
    changes: dict[str, dict[str, str | None]] = field(default_factory=dict)


@dataclass
class RunSummary:
    """Counters of one run; every method is safe to call from worker threads."""

    started_at: datetime
    dry_run: bool = False
    kind: str = "full"  # full | collect | webhook (as /metrics names cycles): kept with the run
    finished_at: datetime | None = None
    outcome: str = "running"
    contacts_seen: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skip_examples: dict[str, list[SkipExample]] = field(default_factory=dict)
    kept_edits: Counter[str] = field(default_factory=Counter)  # property -> a person's edits kept
    credits_by_kind: Counter[str] = field(default_factory=Counter)  # research, contact/company_signals
    credits_saved: Counter[str] = field(default_factory=Counter)  # why an answer at hand served
    would_ask: int = 0  # dry run: signals of stored results that would be asked (paid)
    research_cost: int = 1  # credits per research and per signal, for the dry run's estimate
    signal_cost: int = 1
    signals_per_research: int = 0  # dry run: mapped signals a new research may have to ask
    stopped_by: int | None = None  # the signal (SIGINT, SIGTERM) that interrupted the run
    research: Counter[str] = field(default_factory=Counter)  # launched/adopted/completed/failed
    pending: int = 0
    writes_pending: int = 0  # results whose values have not all landed in HubSpot
    signals_asked: int = 0  # signals paid for (one create, or one item of a batch)
    signal_batches: int = 0  # batch calls that asked company signals
    signals_answered: int = 0  # asks collected with their answer
    signals_failed: int = 0  # asks Saber ended failed (asked again by a later run)
    signals_pending: int = 0  # asks still in flight at Saber at the end of the run
    contacts_written: int = 0
    properties_written: int = 0
    failures: list[RecordFailure] = field(default_factory=list)
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    credits_used: int = 0
    credits_left: int | None = None
    credits_exhausted: bool = False
    plan: list[PlannedChange] = field(default_factory=list)
    companies_matched: int = 0  # HubSpot companies the cycle's company answers went to
    companies_written: int = 0
    company_properties_written: int = 0
    company_events: Counter[str] = field(default_factory=Counter)  # unmatched_<reason>, ...
    subscription_entries_read: int = 0  # subscription log entries read (they cost no credits)
    low_confidence: Counter[str] = field(default_factory=Counter)  # property -> answers held back
    companies_mapped: bool = False  # the mapping has a companies section: the summary shows it
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(
        cls,
        started_at: datetime,
        options: SyncOptions,
        *,
        research_cost: int,
        signal_cost: int,
        signals_per_research: int,
    ) -> RunSummary:
        """The summary a run of these options starts with (a dry run's says so)."""
        return cls(
            started_at=started_at,
            dry_run=options.dry_run,
            kind=run_kind(options),
            research_cost=research_cost,
            signal_cost=signal_cost,
            signals_per_research=signals_per_research,
        )

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def skip(self, reason_code: str, contact_id: str | None = None, detail: str = "") -> None:
        with self._lock:
            self.skipped[reason_code] += 1
            examples = self.skip_examples.setdefault(reason_code, [])
            if contact_id is not None and len(examples) < EXAMPLES:
                examples.append(SkipExample(contact_id, detail))

    def spend(self, kind: str, credits: int) -> None:
        with self._lock:
            self.credits_by_kind[kind] += credits

    def save(self, reason: str, credits: int) -> None:
        with self._lock:
            self.credits_saved[reason] += credits

    def kept_edit(self, prop: str) -> None:
        with self._lock:
            self.kept_edits[prop] += 1

    def research_event(self, kind: str) -> None:
        with self._lock:
            self.research[kind] += 1

    def fail(self, failure: RecordFailure) -> None:
        with self._lock:
            self.failures.append(failure)

    def add_plan(self, item: PlannedChange) -> None:
        with self._lock:
            self.plan.append(item)

    def company_event(self, kind: str) -> None:
        with self._lock:
            self.company_events[kind] += 1

    def held_back(self, prop: str) -> None:
        """An answer below its property's `min_confidence` was not written."""
        with self._lock:
            self.low_confidence[prop] += 1

    def companies(self) -> dict[str, Any]:
        """The company figures: matched, written, unmatched by reason, subscription entries read."""
        events = self.company_events.items()
        unmatched = {k.removeprefix("unmatched_"): n for k, n in events if k.startswith("unmatched_")}
        return {
            "matched": self.companies_matched,
            "written": self.companies_written,
            "properties_written": self.company_properties_written,
            "unmatched": unmatched,
            "subscription_entries_read": self.subscription_entries_read,
        }

    @property
    def exit_code(self) -> int:
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        return EXIT_RECORD_FAILURES if self.failures else EXIT_OK

    def credit_estimate(self) -> dict[str, int]:
        """Dry run: credits the run would spend, by kind (signals of new research at most)."""
        launches = self.research.get("would_launch", 0)
        return {
            "research": launches * self.research_cost,
            "signals_at_most": (launches * self.signals_per_research + self.would_ask) * self.signal_cost,
        }

    def counts(self) -> dict[str, Any]:
        """The figures stored with the run's history (no per-contact detail)."""
        return {
            "kind": self.kind,
            "contacts_seen": self.contacts_seen,
            "skipped": dict(self.skipped),
            "research": {k: self.research.get(k, 0) for k in ("launched", "adopted", "completed", "failed")},
            "pending": self.pending,
            "writes_pending": self.writes_pending,
            "signals_asked": self.signals_asked,
            "signal_batches": self.signal_batches,
            "signals_answered": self.signals_answered,
            "signals_failed": self.signals_failed,
            "signals_pending": self.signals_pending,
            "contacts_written": self.contacts_written,
            "properties_written": self.properties_written,
            "kept_edits": dict(self.kept_edits),
            "record_failures": len(self.failures),
            "api_calls": self.api_calls,
            "credits_used": self.credits_used,
            "credits_left": self.credits_left,
            "credits_by_kind": dict(self.credits_by_kind),
            "credits_saved": dict(self.credits_saved),
            "companies": self.companies(),
            "held_back_low_confidence": dict(self.low_confidence),
        }

    def to_json(self, max_failures: int = 200) -> dict[str, Any]:
        """The summary as printed by `--output json`."""
        data: dict[str, Any] = {
            "outcome": self.outcome,
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            **self.counts(),
            "credits_exhausted": self.credits_exhausted,
            "skip_reasons": [
                {
                    "reason": reason,
                    "count": n,
                    "examples": [asdict(e) for e in self.skip_examples.get(reason, [])],
                }
                for reason, n in self.skipped.most_common()
            ],
            "failures": [asdict(f) for f in self.failures[:max_failures]],
            "notes": self.notes,
            "exit_code": self.exit_code,
        }
        if self.dry_run:
            data["plan"] = [p.__dict__ for p in self.plan]
            data["credit_estimate"] = self.credit_estimate()
        return data

    def _examples(self, reason: str) -> str:
        """`  e.g. 12, 15, 19` for a skip reason (`explain ID` tells why), or nothing."""
        shown = [e.contact_id for e in self.skip_examples.get(reason, [])]
        return f"  e.g. {', '.join(shown[:3])}" if shown else ""

    def render(self) -> str:
        """The summary as plain text for a terminal or a cron mail."""
        r = self.research
        lines = [
            f"sync {self.outcome}{' (dry run)' if self.dry_run else ''}",
            f"  contacts seen        {self.contacts_seen}",
            f"  skipped              {sum(self.skipped.values())}"
            + "".join(
                f"\n    {reason:<22}{n}{self._examples(reason)}" for reason, n in self.skipped.most_common()
            ),
            f"  research launched    {r['launched']}  (adopted existing: {r['adopted']})",
            f"  research completed   {r['completed']}",
            f"  research failed      {r['failed']}",
            f"  research pending     {self.pending}",
            f"  results to write     {self.writes_pending}",
            f"  signals asked        {self.signals_asked}"
            + (f"  ({self.signal_batches} batch calls)" if self.signal_batches else ""),
            f"  signals pending      {self.signals_pending}"
            + (f"  (failed at Saber: {self.signals_failed})" if self.signals_failed else ""),
            f"  contacts written     {self.contacts_written}  ({self.properties_written} properties)",
            f"  kept people's edits  {sum(self.kept_edits.values())}"
            + (
                f"  ({', '.join(f'{p} {n}' for p, n in self.kept_edits.most_common())})"
                if self.kept_edits
                else ""
            ),
            *_company_lines(self),
            f"  record failures      {len(self.failures)}",
            "  api calls            "
            + ", ".join(f"{svc} {sum(calls.values())}" for svc, calls in sorted(self.api_calls.items())),
        ]
        if self.dry_run:
            estimate = self.credit_estimate()
            lines.append(
                f"  credits (estimate)   research {estimate['research']},"
                f" signals up to {estimate['signals_at_most']}"
            )
        else:
            lines.append(
                f"  credits used         {self.credits_used}"
                + (f"  (left: {self.credits_left})" if self.credits_left is not None else "")
                + _by(self.credits_by_kind)
            )
            if self.credits_saved:
                lines.append(
                    f"  credits saved        {sum(self.credits_saved.values())}" + _by(self.credits_saved)
                )
        if self.credits_exhausted:
            lines.append("  credits ran out: launches stopped; the next run continues")
        for f in self.failures[:10]:
            where = f"{f.contact_id}" + (f".{f.property}" if f.property else "")
            lines.append(f"  ! {where}: {f.code}: {f.message}")
        if len(self.failures) > 10:
            lines.append(f"  ! ... and {len(self.failures) - 10} more")
        lines.extend(f"  note: {n}" for n in self.notes)
        if self.dry_run:
            for p in self.plan[:200]:
                lines.append(f"  - {p.contact_id}: {p.action} {p.reason}".rstrip())
                for prop, change in p.changes.items():
                    lines.append(f"      {prop}: {change.get('from')!r} -> {change.get('to')!r}")
        return "\n".join(lines)


def _company_lines(summary: RunSummary) -> list[str]:
    """The company part of the summary, when the mapping writes companies or answers were held back."""
    lines = []
    if summary.companies_mapped:
        co = summary.companies()
        unmatched = co["unmatched"]
        why = ", ".join(f"{k} {n}" for k, n in sorted(unmatched.items()))
        lines += [
            f"  companies matched    {co['matched']}" + (f"  (unmatched: {why})" if unmatched else ""),
            f"  companies written    {co['written']}  ({co['properties_written']} properties)",
        ]
        if summary.subscription_entries_read or any(k.startswith("sub") for k in summary.company_events):
            lines.append(f"  subscription entries {co['subscription_entries_read']} read (no credits spent)")
    if summary.low_confidence:
        held = ", ".join(f"{p} {n}" for p, n in summary.low_confidence.most_common())
        lines.append(f"  held back (low confidence) {sum(summary.low_confidence.values())}  ({held})")
    return lines


def _by(counts: Counter[str]) -> str:
    """`  (research 12, company signals 3)`, or nothing."""
    parts = [f"{name.replace('_', ' ')} {n}" for name, n in counts.most_common() if n]
    return f"  ({', '.join(parts)})" if parts else ""
