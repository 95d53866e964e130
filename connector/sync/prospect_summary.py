"""The end-of-run summary of `prospect`: accounts searched, people found, skipped by reason, created.

Kept apart from the sync's `RunSummary` because the two runs count different things; the
exit codes are the same contract (0 ok, 1 record failures; 2 and 3 come from the errors that
stop a run). A dry run also keeps, per account, the people it would create and the ones it
skips and why, which `render` lists.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

EXIT_OK = 0
EXIT_RECORD_FAILURES = 1


@dataclass(frozen=True, slots=True)
class PersonLine:
    """One person at one account, and what the run did (or would do) with them."""

    name: str
    action: str  # create | created | skip
    reason: str = ""  # for a skip: already_in_hubspot, already_created, no_name, ...


@dataclass
class AccountReport:
    """What happened at one account."""

    company_id: str
    name: str
    outcome: str = "searched"  # searched | skipped
    reason: str = ""
    people: list[PersonLine] = field(default_factory=list)


@dataclass
class ProspectSummary:
    """Counters of one `prospect` run (one thread: the stage is sequential)."""

    started_at: datetime
    dry_run: bool = False
    finished_at: datetime | None = None
    outcome: str = "running"
    accounts_seen: int = 0
    accounts_searched: int = 0
    accounts_skipped: Counter[str] = field(default_factory=Counter)
    people_found: int = 0
    already_in_hubspot: int = 0
    created: int = 0
    would_create: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # people skipped, by reason
    failures: list[dict[str, str]] = field(default_factory=list)
    recovered: int = 0  # claims left by an earlier run found already created in HubSpot
    stopped: str | None = None  # why prospecting stopped early (one line), if it did
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    accounts: list[AccountReport] = field(default_factory=list)

    def account(self, company_id: str, name: str) -> AccountReport:
        report = AccountReport(company_id, name)
        self.accounts.append(report)
        return report

    def skip_person(self, report: AccountReport, name: str, reason: str) -> None:
        self.skipped[reason] += 1
        if reason == "already_in_hubspot":
            self.already_in_hubspot += 1
        report.people.append(PersonLine(name, "skip", reason))

    def fail(self, company_id: str, key: str, code: str, message: str) -> None:
        self.failures.append({"company_id": company_id, "key": key, "code": code, "message": message})

    @property
    def search_calls(self) -> int:
        """Saber contact search calls (free as far as anyone knows, counted all the same)."""
        return self.api_calls.get("saber", {}).get("search_contacts", 0)

    @property
    def exit_code(self) -> int:
        return EXIT_RECORD_FAILURES if self.failures else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "accounts": {
                "seen": self.accounts_seen,
                "searched": self.accounts_searched,
                "skipped": dict(self.accounts_skipped),
            },
            "people": {
                "found": self.people_found,
                "already_in_hubspot": self.already_in_hubspot,
                "created": self.created,
                "would_create": self.would_create,
                "skipped": dict(self.skipped),
                "recovered": self.recovered,
            },
            "failures": self.failures,
            "stopped": self.stopped,
            "saber_search_calls": self.search_calls,
            "api_calls": self.api_calls,
            "exit_code": self.exit_code,
        }
        if self.dry_run:
            data["plan"] = [asdict(a) for a in self.accounts]
        return data

    def counts(self) -> dict[str, Any]:
        """What the runs table keeps of this run."""
        return {"kind": "prospect", **{k: v for k, v in self.to_json().items() if k != "plan"}}

    def render(self) -> str:
        head = "prospect (dry run: nothing created)" if self.dry_run else "prospect"
        lines = [f"{head}: {self.outcome}"]
        lines.append(
            f"  accounts: {self.accounts_seen} seen, {self.accounts_searched} searched"
            + "".join(f", {n} skipped ({r})" for r, n in sorted(self.accounts_skipped.items()))
        )
        made = f"{self.would_create} would be created" if self.dry_run else f"{self.created} created"
        lines.append(
            f"  people: {self.people_found} found, {self.already_in_hubspot} already in HubSpot, {made}"
        )
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"  skipped {reason}: {n}")
        if self.recovered:
            lines.append(f"  found created by an earlier run whose answer was lost: {self.recovered}")
        for failure in self.failures[:5]:
            lines.append(
                f"  failed at company {failure['company_id']}: {failure['code']} {failure['message']}"
            )
        if self.stopped:
            lines.append(f"  stopped: {self.stopped}")
        calls = ", ".join(f"{api} {sum(ops.values())}" for api, ops in sorted(self.api_calls.items()))
        if calls:
            lines.append(f"  api calls: {calls} (Saber contact searches: {self.search_calls})")
        if self.dry_run:
            for report in self.accounts:
                why = f" ({report.reason})" if report.reason else ""
                lines.append(f"  account {report.company_id} {report.name}: {report.outcome}{why}")
                for person in report.people:
                    said = "would create" if person.action == "create" else f"skip: {person.reason}"
                    lines.append(f"    {person.name}: {said}")
        return "\n".join(lines)
