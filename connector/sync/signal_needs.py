"""What a batch of write jobs needs asked, one `Need` per shared answer, and how company asks are batched.

Pure values and grouping, no calls: the signal stage (`connector.sync.signals`) fills the
needs from the jobs, and pays for them one create each (contact questions) or in batches of
questions x domains (company questions) as `batches` groups them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from connector.mapping import SignalAsk
from connector.saber.signals import SignalQuestion, SignalRequest
from connector.state.signal_asks import AskSpec
from connector.sync.jobs import WriteJob


@dataclass
class Need:
    """One ask the batch needs, and the contacts (with their mapping keys) it answers."""

    spec: AskSpec
    question: SignalQuestion
    users: list[tuple[WriteJob, SignalAsk]] = field(default_factory=list)
    waited: set[str] = field(default_factory=set)  # contacts that already waited on it (counted then)
    first_counted: bool = False  # its first user's answer is counted otherwise (paid, or found free)

    def served(self) -> list[tuple[WriteJob, SignalAsk]]:
        """The users whose answer comes without paying and is not counted yet: credits saved."""
        users = self.users[1:] if self.first_counted else self.users
        return [(job, item) for job, item in users if job.contact_id not in self.waited]

    @property
    def request(self) -> SignalRequest:
        scope: Literal["contact", "company"] = "company" if self.spec.scope == "company" else "contact"
        return SignalRequest(scope, self.spec.target, self.question)


Batch = tuple[list[SignalQuestion], list[str], list[Need]]  # questions, domains, the asks it makes


def batches(needs: list[Need], size: int) -> list[Batch]:
    """Company asks grouped by the questions their domain needs, split to at most `size` per batch."""
    by_domain: dict[str, list[Need]] = defaultdict(list)
    for need in needs:
        by_domain[need.spec.target].append(need)
    groups: dict[tuple[SignalQuestion, ...], list[str]] = defaultdict(list)
    for domain, wanted in by_domain.items():
        groups[tuple(sorted({n.question for n in wanted}, key=repr))].append(domain)
    size = max(1, size)
    out: list[Batch] = []
    for questions, domains in groups.items():
        per_batch = max(1, size // len(questions))
        for start in range(0, len(domains), per_batch):
            chunk = domains[start : start + per_batch]
            out.append((list(questions), chunk, [n for d in chunk for n in by_domain[d]]))
    return out


def by_target(needs: Sequence[Need]) -> dict[tuple[str, str], list[Need]]:
    """The needs grouped by (scope, target): one list read serves each group."""
    grouped: dict[tuple[str, str], list[Need]] = defaultdict(list)
    for need in needs:
        grouped[(need.spec.scope, need.spec.target)].append(need)
    return grouped
