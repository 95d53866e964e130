"""The pure core of the sync, stage by stage: decide, credits, write policy, changes, polling,
planning, the outage breaker and the `--wait` rounds (on a fake clock, never sleeping)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.errors import ApiOutage, FatalApiError, RetriableApiError, SkippableError
from connector.hubspot import Contact
from connector.mapping import (
    WRITE_POLICIES,
    InputsResult,
    PropertyValue,
    build_inputs,
    parse_mapping,
    should_write,
    value_hash,
    write_decision,
)
from connector.state import ContactState, StateStore
from connector.sync.changes import compute_changes
from connector.sync.collect import MAX_PAUSE, pending_rounds
from connector.sync.credits import CreditBudget
from connector.sync.decide import RetryPolicy, decide
from connector.sync.outage import OutageBreaker
from connector.sync.plan import plan_contacts
from connector.sync.polling import FALLBACK_FIRST_LOOK, MIN_KNOWN, SAMPLE, Schedule, doubling, quantile
from tests.sync_harness import EXAMPLE_MAPPING

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MAPPING = parse_mapping(EXAMPLE_MAPPING)  # refresh_after_days: 90
RETRY = RetryPolicy()  # 3 failures at most, 1 h then doubling, PERMANENT_FAILURES never


def make_state(contact_id: str = "1", **fields: Any) -> ContactState:
    """A ContactState with every field defaulted to "never touched" (None if not listed), `fields` overriding."""
    base: dict[str, Any] = {f.name: None for f in dataclasses.fields(ContactState)}
    base |= {
        "contact_id": contact_id,
        "external_id": contact_id,
        "fingerprint": "fp1",
        "research_status": "none",
        "check_count": 0,
        "failure_count": 0,
        "written": {},
        "signals": {},
    }
    base |= fields
    return ContactState(**base)


def valid_inputs(fingerprint: str = "fp1") -> InputsResult:
    inputs = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "companyName": "Analytical",
        "companyDomain": "a.io",
    }
    return InputsResult(inputs=inputs, skip_reason=None, fingerprint=fingerprint)


INVALID = InputsResult(inputs=None, skip_reason="lastName: lastname is empty")


def failed(count: int, at: datetime, code: str | None = "SABER_TIMEOUT", **fields: Any) -> ContactState:
    return make_state(
        research_status="failed",
        research_id="r-1",
        research_error_code=code,
        failure_count=count,
        completed_at=at,
        **fields,
    )


def completed(at: datetime, fingerprint: str = "fp1") -> ContactState:
    return make_state(
        research_status="completed", research_id="r-1", completed_at=at, fingerprint=fingerprint
    )


# ---------------------------------------------------------------------------- decide
# name -> (state, inputs, refresh_after_days, (action, reason, detail))
DECIDE_CASES: dict[str, tuple[ContactState | None, InputsResult, int | None, tuple[str, str, str]]] = {
    "invalid inputs, never seen": (None, INVALID, 90, ("skip", "invalid_inputs", INVALID.skip_reason or "")),
    "invalid inputs, research running": (
        make_state(research_status="processing"),
        INVALID,
        90,
        ("skip", "invalid_inputs", INVALID.skip_reason or ""),
    ),
    "invalid inputs, no reason given": (
        None,
        InputsResult(inputs=None, skip_reason=None),
        90,
        ("skip", "invalid_inputs", "required inputs missing"),
    ),
    "no state": (None, valid_inputs(), 90, ("launch", "new", "")),
    "state without research": (make_state(skip_reason="old"), valid_inputs(), 90, ("launch", "new", "")),
    "processing, same inputs": (
        make_state(research_status="processing"),
        valid_inputs(),
        90,
        ("wait", "pending", ""),
    ),
    "processing, new inputs": (
        make_state(research_status="processing"),
        valid_inputs("fp2"),
        90,
        ("launch", "inputs_changed", ""),
    ),
    "completed, inputs changed": (
        completed(NOW - timedelta(days=1)),
        valid_inputs("fp2"),
        90,
        ("launch", "inputs_changed", ""),
    ),
    "failed permanently, inputs changed": (
        failed(1, NOW, "CONTACT_NOT_FOUND"),
        valid_inputs("fp2"),
        90,
        ("launch", "inputs_changed", ""),
    ),
    "failed once, 1 h back-off not over": (
        failed(1, NOW - timedelta(minutes=59)),
        valid_inputs(),
        90,
        ("write", "failed", "SABER_TIMEOUT"),
    ),
    "failed once, 1 h back-off just over": (
        failed(1, NOW - timedelta(hours=1)),
        valid_inputs(),
        90,
        ("launch", "retry_failed", "SABER_TIMEOUT"),
    ),
    "failed twice, 2 h back-off not over": (
        failed(2, NOW - timedelta(hours=1, minutes=59)),
        valid_inputs(),
        90,
        ("write", "failed", "SABER_TIMEOUT"),
    ),
    "failed twice, 2 h back-off over": (
        failed(2, NOW - timedelta(hours=2)),
        valid_inputs(),
        90,
        ("launch", "retry_failed", "SABER_TIMEOUT"),
    ),
    "failed without a code, back-off over": (
        failed(1, NOW - timedelta(hours=3), None),
        valid_inputs(),
        90,
        ("launch", "retry_failed", ""),
    ),
    "failed permanently, long ago": (
        failed(1, NOW - timedelta(days=365), "CONTACT_NOT_FOUND"),
        valid_inputs(),
        90,
        ("write", "failed", "CONTACT_NOT_FOUND"),
    ),
    "failed validation, long ago": (
        failed(1, NOW - timedelta(days=365), "VALIDATION_ERROR"),
        valid_inputs(),
        90,
        ("write", "failed", "VALIDATION_ERROR"),
    ),
    "failed 3 times (the cap), long ago": (
        failed(3, NOW - timedelta(days=365)),
        valid_inputs(),
        90,
        ("write", "failed", "SABER_TIMEOUT"),
    ),
    "completed 90 days ago": (
        completed(NOW - timedelta(days=90)),
        valid_inputs(),
        90,
        ("launch", "stale", ""),
    ),
    "completed 89 days ago": (
        completed(NOW - timedelta(days=89, hours=23)),
        valid_inputs(),
        90,
        ("write", "current", ""),
    ),
    "completed long ago, no refresh": (
        completed(NOW - timedelta(days=1000)),
        valid_inputs(),
        None,
        ("write", "current", ""),
    ),
    "completed yesterday": (completed(NOW - timedelta(days=1)), valid_inputs(), 90, ("write", "current", "")),
}


@pytest.mark.parametrize("name", list(DECIDE_CASES))
def test_decide_table(name: str) -> None:
    """Each state and inputs combination gets the documented action, reason and detail."""
    state, inputs, refresh, expected = DECIDE_CASES[name]
    got = decide(state, inputs, now=NOW, refresh_after_days=refresh, retry=RETRY)
    assert (got.action, got.reason, got.detail) == expected


def test_decide_honours_a_custom_retry_policy() -> None:
    """A custom policy changes the back-off, the cap and which codes are permanent."""
    policy = RetryPolicy(max_failures=5, first_delay=timedelta(minutes=10), permanent=frozenset({"NOPE"}))
    ten_min_ago = NOW - timedelta(minutes=10)
    assert decide(
        failed(1, ten_min_ago), valid_inputs(), now=NOW, refresh_after_days=None, retry=policy
    ).action == ("launch")
    # Under the default policy the same state waits for its 1 h back-off.
    assert decide(
        failed(1, ten_min_ago), valid_inputs(), now=NOW, refresh_after_days=None, retry=RETRY
    ).action == ("write")
    four = failed(4, NOW - timedelta(days=1))
    assert (
        decide(four, valid_inputs(), now=NOW, refresh_after_days=None, retry=policy).reason == "retry_failed"
    )
    # CONTACT_NOT_FOUND is not permanent under this policy; NOPE is.
    assert (
        decide(
            failed(1, NOW - timedelta(days=1), "CONTACT_NOT_FOUND"),
            valid_inputs(),
            now=NOW,
            refresh_after_days=None,
            retry=policy,
        ).action
        == "launch"
    )
    assert (
        decide(
            failed(1, NOW - timedelta(days=1), "NOPE"),
            valid_inputs(),
            now=NOW,
            refresh_after_days=None,
            retry=policy,
        ).action
        == "write"
    )


RETRY_AT_CASES: dict[str, tuple[ContactState, datetime | None]] = {
    "first failure: one delay after completion": (failed(1, NOW), NOW + timedelta(hours=1)),
    "second failure: twice the delay": (failed(2, NOW), NOW + timedelta(hours=2)),
    "count 0 is treated as the first": (failed(0, NOW), NOW + timedelta(hours=1)),
    "at the cap: never": (failed(3, NOW), None),
    "past the cap: never": (failed(7, NOW), None),
    "permanent code: never": (failed(1, NOW, "REJECTED"), None),
    "no completion time: from the last check": (
        failed(1, None, checked_at=NOW - timedelta(hours=5), launched_at=NOW - timedelta(hours=9)),
        NOW - timedelta(hours=4),
    ),
    "only a launch time: from the launch": (
        failed(1, None, launched_at=NOW - timedelta(hours=9)),
        NOW - timedelta(hours=8),
    ),
    "no time at all: never": (failed(1, None), None),
}


@pytest.mark.parametrize("name", list(RETRY_AT_CASES))
def test_retry_at_table(name: str) -> None:
    """retry_at backs off exponentially from the failure, and is None for permanent or capped failures."""
    state, expected = RETRY_AT_CASES[name]
    assert RETRY.retry_at(state) == expected


# ---------------------------------------------------------------------------- credits
class Balance:
    """A fetch_balance that counts how often the budget asked."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.value


def test_budget_asks_for_no_balance_while_nothing_spends() -> None:
    """A budget nobody spends from never fetches the balance, and reports none left."""
    balance = Balance(100)
    budget = CreditBudget(balance, max_launches=10)
    assert budget.left is None
    assert budget.cap_reached is False
    budget.refund(0)
    budget.mark_exhausted()
    assert budget.reserve_launch(1) is False  # exhausted: refused before asking for the balance
    assert budget.reserve(1) is False
    assert balance.calls == 0


def test_budget_fetches_the_balance_once_on_the_first_spend() -> None:
    """The balance is fetched lazily on the first reservation, once, and `left` tracks what is spent."""
    balance = Balance(100)
    budget = CreditBudget(balance, max_launches=None)
    assert budget.reserve_launch(10) is True
    assert budget.reserve(5) is True
    assert budget.reserve_launch(10) is True
    assert balance.calls == 1
    assert (budget.launches, budget.spent, budget.left) == (2, 25, 75)


def test_budget_refuses_launches_past_the_cap_without_exhausting() -> None:
    """At the launch cap reserve_launch says no, the credits are untouched and signals may still spend."""
    balance = Balance(100)
    budget = CreditBudget(balance, max_launches=2)
    assert [budget.reserve_launch(10) for _ in range(3)] == [True, True, False]
    assert budget.cap_reached is True
    assert budget.exhausted is False
    assert (budget.launches, budget.spent) == (2, 20)
    assert budget.reserve(10) is True  # the cap is on launches, not on credits


def test_a_zero_cap_refuses_every_launch_without_asking_for_the_balance() -> None:
    """max_launches=0 refuses before any Saber call."""
    balance = Balance(100)
    budget = CreditBudget(balance, max_launches=0)
    assert budget.reserve_launch(1) is False
    assert balance.calls == 0


@pytest.mark.parametrize(
    ("balance", "cost", "granted"),
    [(25, 10, 2), (30, 10, 3), (9, 10, 0), (0, 1, 0)],
)
def test_budget_is_exhausted_when_the_balance_is_too_low(balance: int, cost: int, granted: int) -> None:
    """Launches are granted while the balance covers them; the first that does not exhausts the budget."""
    budget = CreditBudget(Balance(balance), max_launches=None)
    results = [budget.reserve_launch(cost) for _ in range(granted + 1)]
    assert results == [True] * granted + [False]
    assert budget.exhausted is True
    assert budget.left == balance - granted * cost
    # Once exhausted, even a cheap signal is refused for the rest of the run.
    assert budget.reserve(0) is False


def test_signal_reservations_exhaust_the_budget_too() -> None:
    """reserve() takes credits without a launch slot and exhausts when they run short."""
    budget = CreditBudget(Balance(3), max_launches=1)
    assert budget.reserve(2) is True
    assert budget.reserve(2) is False
    assert budget.exhausted is True
    assert (budget.launches, budget.spent, budget.left) == (0, 2, 1)


def test_refund_returns_the_launch_slot_and_the_credits() -> None:
    """A refunded launch frees its slot under the cap and its credits, so another launch fits."""
    budget = CreditBudget(Balance(10), max_launches=1)
    assert budget.reserve_launch(10) is True
    assert budget.cap_reached is True
    budget.refund(10, launch=True)
    assert budget.cap_reached is False
    assert (budget.launches, budget.spent, budget.left) == (0, 0, 10)
    assert budget.reserve_launch(10) is True


def test_a_signal_refund_keeps_the_launch_count() -> None:
    """refund() without launch=True gives the credits back but no launch slot."""
    budget = CreditBudget(Balance(10), max_launches=3)
    assert budget.reserve_launch(4) is True
    assert budget.reserve(4) is True
    budget.refund(4)
    assert (budget.launches, budget.spent, budget.left) == (1, 4, 6)


def test_mark_exhausted_stops_all_spending() -> None:
    """After a 402 (mark_exhausted) nothing more is reserved, even with credits left on paper."""
    budget = CreditBudget(Balance(100), max_launches=None)
    assert budget.reserve_launch(1) is True
    budget.mark_exhausted()
    assert budget.reserve_launch(1) is False
    assert budget.reserve(1) is False
    assert budget.left == 99


@pytest.mark.parametrize(("cap", "granted"), [(None, 5), (3, 3), (0, 0)])
def test_plan_launch_honours_the_cap_and_never_fetches(cap: int | None, granted: int) -> None:
    """Dry-run launches count against the cap but never ask Saber for the balance."""
    balance = Balance(0)  # a real reservation would be refused: plan_launch does not look
    budget = CreditBudget(balance, max_launches=cap)
    results = [budget.plan_launch() for _ in range(5)]
    assert results == [True] * granted + [False] * (5 - granted)
    assert balance.calls == 0
    assert budget.balance is None and budget.spent == 0


# ---------------------------------------------------------------------------- write policy
OURS = "Written by the connector"
OURS_HASH = value_hash(OURS)

# situation -> (new, current, last_written_hash) and the decision per policy (unless_edited, always, if_empty)
POLICY_CASES: dict[str, tuple[tuple[str | None, str | None, str | None], tuple[str, str, str]]] = {
    "null over a value": ((None, OURS, OURS_HASH), ("null", "null", "null")),
    "null over empty": ((None, None, None), ("null", "null", "null")),
    "null over a person's edit": ((None, "Typed", OURS_HASH), ("null", "null", "null")),
    "equal to our value": ((OURS, OURS, OURS_HASH), ("unchanged", "unchanged", "unchanged")),
    "equal to a person's value": (("Typed", "Typed", None), ("unchanged", "unchanged", "unchanged")),
    "empty current (None)": (("New", None, OURS_HASH), ("write", "write", "write")),
    "empty current (blank)": (("New", "", None), ("write", "write", "write")),
    "empty current (spaces)": (("New", "  \t", None), ("write", "write", "write")),
    "person's edit over ours": (("New", "Typed", OURS_HASH), ("kept_edit", "write", "kept_value")),
    "person's value, never written": (("New", "Typed", None), ("kept_edit", "write", "kept_value")),
    "connector's own value": (("New", OURS, OURS_HASH), ("write", "write", "kept_value")),
}
POLICY_MATRIX = [(policy, name) for policy in WRITE_POLICIES for name in POLICY_CASES]


@pytest.mark.parametrize(("policy", "name"), POLICY_MATRIX, ids=[f"{p}-{n}" for p, n in POLICY_MATRIX])
def test_write_decision_matrix(policy: str, name: str) -> None:
    """Each policy decides as documented, and should_write is exactly write_decision == "write"."""
    (new, current, last), expected = POLICY_CASES[name]
    decision = write_decision(policy, new, current, last)
    assert decision == expected[WRITE_POLICIES.index(policy)]
    assert should_write(policy, new, current, last) is (decision == "write")


def test_write_decision_refuses_an_unknown_policy() -> None:
    """An unknown policy name raises, naming it, even for a null answer."""
    with pytest.raises(ValueError, match="overwrite"):
        write_decision("overwrite", None, None, None)


# ---------------------------------------------------------------------------- compute_changes
CONFIDENCE = "saber_runs_kubernetes_confidence"  # number
KUBERNETES = "saber_runs_kubernetes"  # bool
RESEARCHED_AT = "saber_researched_at"  # datetime
SUMMARY = "saber_summary"  # string, unless_edited
EMAIL = "saber_email"  # string, if_empty

# name -> (property, new value or error, current, last written value, expected decision)
CHANGE_CASES: dict[str, tuple[str, PropertyValue, str | None, str | None, str]] = {
    "conversion error": (
        CONFIDENCE,
        PropertyValue(CONFIDENCE, None, "'high' is not a number"),
        "0.5",
        None,
        "error",
    ),
    "number 1 vs HubSpot's 1.0": (CONFIDENCE, PropertyValue(CONFIDENCE, "1"), "1.0", "1", "unchanged"),
    "number 0.9 vs 0.90": (CONFIDENCE, PropertyValue(CONFIDENCE, "0.9"), " 0.90 ", None, "unchanged"),
    "number changed, HubSpot shows ours as 1.0": (
        CONFIDENCE,
        PropertyValue(CONFIDENCE, "2"),
        "1.0",
        "1",
        "write",
    ),
    "bool vs capitalised": (KUBERNETES, PropertyValue(KUBERNETES, "true"), "True", None, "unchanged"),
    "datetime vs epoch ms": (
        RESEARCHED_AT,
        PropertyValue(RESEARCHED_AT, "2023-11-14T22:13:20.000Z"),
        "1700000000000",
        None,
        "unchanged",
    ),
    "null answer": (SUMMARY, PropertyValue(SUMMARY, None), "Old", "Old", "null"),
    "ours replaced": (SUMMARY, PropertyValue(SUMMARY, "New"), "Old", "Old", "write"),
    "person's edit kept": (SUMMARY, PropertyValue(SUMMARY, "New"), "Typed by a person", "Old", "kept_edit"),
    "never written, person's value kept": (
        SUMMARY,
        PropertyValue(SUMMARY, "New"),
        "Typed",
        None,
        "kept_edit",
    ),
    "empty property filled": (SUMMARY, PropertyValue(SUMMARY, "New"), None, "Old", "write"),
    "if_empty keeps a value": (EMAIL, PropertyValue(EMAIL, "new@a.io"), "old@a.io", None, "kept_value"),
}


@pytest.mark.parametrize("name", list(CHANGE_CASES))
def test_compute_changes_table(name: str) -> None:
    """Each property gets its decision from the policy, with HubSpot's value canonicalised first."""
    prop, pv, current, last, expected = CHANGE_CASES[name]
    written = {} if last is None else {prop: value_hash(last)}
    changes = compute_changes(MAPPING, "7", {prop: pv}, {prop: current}, written)
    (change,) = changes.changes
    assert changes.contact_id == "7"
    assert (change.property, change.decision) == (prop, expected)
    assert change.current == current  # HubSpot's value as read, not canonicalised
    assert change.error == pv.error
    assert changes.updates == ({prop: pv.value} if expected == "write" else {})


def test_change_set_groups_decisions() -> None:
    """A change set lists what to write, the errors, and each decision's properties in mapping order."""
    values = {
        SUMMARY: PropertyValue(SUMMARY, "New summary"),
        EMAIL: PropertyValue(EMAIL, "x@a.io"),
        CONFIDENCE: PropertyValue(CONFIDENCE, None, "not a number"),
        KUBERNETES: PropertyValue(KUBERNETES, "false"),
        RESEARCHED_AT: PropertyValue(RESEARCHED_AT, "2025-01-01T00:00:00.000Z"),
    }
    current = {SUMMARY: None, EMAIL: "kept@a.io", CONFIDENCE: "3", KUBERNETES: "false"}
    changes = compute_changes(MAPPING, "9", values, current, {})
    assert changes.updates == {SUMMARY: "New summary", RESEARCHED_AT: "2025-01-01T00:00:00.000Z"}
    assert [c.property for c in changes.errors] == [CONFIDENCE]
    assert changes.errors[0].current == "3" and changes.errors[0].value is None
    assert [c.property for c in changes.of("write")] == [SUMMARY, RESEARCHED_AT]
    assert [c.property for c in changes.of("kept_value")] == [EMAIL]
    assert [c.property for c in changes.of("unchanged")] == [KUBERNETES]
    assert changes.of("kept_edit") == ()


# ---------------------------------------------------------------------------- polling
@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(0), 30.0),  # young: the minimum
        (timedelta(seconds=29), 30.0),  # its age is still under the minimum
        (timedelta(seconds=400), 400.0),  # as long again as it has run: the age doubles
        (timedelta(minutes=15), 900.0),  # exactly the maximum
        (timedelta(days=2), 900.0),  # old: never more than the maximum
    ],
)
def test_doubling_is_the_age_within_bounds(age: timedelta, expected: float) -> None:
    """Past what the schedule knows, the wait is the work's age clamped to [minimum, maximum]."""
    assert doubling(age, 30, 900) == timedelta(seconds=expected)


def test_while_nothing_is_known_a_sample_is_looked_at_early_and_the_rest_late() -> None:
    """The first SAMPLE launches of a kind look at the minimum (then often); the rest wait the fallback."""
    schedule = Schedule(2.0, 3600.0)
    firsts = [schedule.first("research", NOW) for _ in range(SAMPLE + 2)]
    assert firsts[:SAMPLE] == [NOW + timedelta(seconds=2)] * SAMPLE
    assert firsts[SAMPLE:] == [NOW + timedelta(seconds=FALLBACK_FIRST_LOOK)] * 2
    # While learning, looks come every quarter of the work's age (a completion is seen within 25%).
    assert schedule.after("research", NOW, NOW + timedelta(seconds=40)) == NOW + timedelta(seconds=50)
    assert schedule.after("research", NOW, NOW + timedelta(seconds=3)) == NOW + timedelta(seconds=5)
    no_sample = Schedule(2.0, 3600.0, early_looks=False)  # webhooks: nobody is polled early
    assert no_sample.first("research", NOW) == NOW + timedelta(seconds=FALLBACK_FIRST_LOOK)


def test_once_known_the_looks_follow_the_90th_98th_percentile_and_longest_then_double() -> None:
    """With durations 2-5 s known, looks come at p90, p98 and the longest (a little past each), then double."""
    schedule = Schedule(0.01, 3600.0)
    durations = [2.0 + 3.0 * i / 99 for i in range(100)]
    schedule.load(lambda kind: durations if kind == "research" else [])
    marks = [quantile(durations, q) * 1.05 + 0.2 for q in (0.9, 0.98, 1.0)]
    assert schedule.first("research", NOW) == NOW + timedelta(seconds=marks[0])
    second = schedule.after("research", NOW, NOW + timedelta(seconds=marks[0]))
    assert second == NOW + timedelta(seconds=marks[1])
    assert schedule.after("research", NOW, second) == NOW + timedelta(seconds=marks[2])
    late = NOW + timedelta(seconds=10)
    assert schedule.after("research", NOW, late) == late + timedelta(seconds=10)
    assert schedule.first("company_signal", NOW) == NOW + timedelta(seconds=0.01)  # that kind: still learning


def test_a_schedule_learns_as_completions_come_in_and_hands_them_over_once() -> None:
    """Noting MIN_KNOWN durations makes the kind known once (learned); flush hands each duration over once."""
    schedule = Schedule(1.0, 3600.0)
    for seconds in range(MIN_KNOWN - 1):
        schedule.note("research", 3.0 + seconds)
    schedule.note("research", None)  # an unknown duration teaches nothing
    assert not schedule.known("research") and schedule.learned() == set()
    schedule.note("research", 4.0)
    assert schedule.known("research") and schedule.learned() == {"research"} and schedule.learned() == set()
    stored: list[tuple[str, list[float]]] = []
    schedule.flush(lambda kind, seconds: stored.append((kind, seconds)))
    schedule.flush(lambda kind, seconds: stored.append((kind, seconds)))
    assert stored == [("research", [3.0, 4.0, 5.0, 6.0, 4.0])]
    assert schedule.rescheduled_first("research", NOW) < NOW + timedelta(seconds=FALLBACK_FIRST_LOOK)


# ---------------------------------------------------------------------------- plan_contacts
GOOD = {
    "firstname": "Ada",
    "lastname": "Lovelace",
    "company": "Analytical",
    "website": "https://analytical.io",
}
FP = build_inputs(MAPPING, GOOD).fingerprint
RESULT = {"id": "r-done", "status": "completed", "result": {"summary": "Does things."}}


def contact(cid: str, **props: str | None) -> Contact:
    return Contact(cid, {**GOOD, **props}, None)


def test_plan_groups_contacts_by_decision() -> None:
    """Skips, launches, writes and waits are grouped; previously skipped or deferred contacts handled now are cleared."""
    contacts = [
        contact("1", lastname=None),  # invalid inputs
        contact("2"),  # never seen
        contact("3"),  # research running for these inputs
        contact("4"),  # completed recently: write the stored result again
        contact("5"),  # deferred earlier, never launched
        contact("6"),  # failed permanently: write the failure
        contact("7"),  # completed 100 days ago: stale
        contact("8", company=None, website=None, email=None),  # skipped before and still invalid
        contact("9"),  # skipped before (inputs were missing), now valid
    ]
    states = {
        "1": make_state("1", fingerprint=FP),
        "3": make_state("3", fingerprint=FP, research_status="processing", research_id="r-3"),
        "4": make_state(
            "4",
            fingerprint=FP,
            research_status="completed",
            research_id="r-done",
            completed_at=NOW - timedelta(days=1),
            result=RESULT,
            written={SUMMARY: value_hash("Old")},
            signals={"runs_kubernetes": {"answer": True}},
        ),
        "5": make_state("5", fingerprint=None, deferred="launch_cap"),
        "6": failed(
            9, NOW - timedelta(days=400), "REJECTED", contact_id="6", fingerprint=FP, external_id="6"
        ),
        "7": make_state(
            "7",
            fingerprint=FP,
            research_status="completed",
            research_id="r-7",
            completed_at=NOW - timedelta(days=100),
            result=RESULT,
        ),
        "8": make_state("8", skip_reason="companyName: company is empty"),
        "9": make_state("9", fingerprint=None, skip_reason="lastName: lastname is empty"),
    }
    plan = plan_contacts(MAPPING, contacts, states, now=NOW, retry=RETRY)
    assert [j.contact_id for j in plan.skips] == ["1", "8"]
    assert [(j.contact_id, j.decision.reason) for j in plan.launches] == [
        ("2", "new"),
        ("5", "new"),
        ("7", "stale"),
        ("9", "new"),
    ]
    assert [j.contact_id for j in plan.waits] == ["3"]
    assert [(w.contact_id, w.research.status) for w in plan.writes] == [("4", "completed"), ("6", "failed")]
    assert plan.cleared == ("9",)  # 5 was only put off: its launch rewrites that, whatever comes of it
    assert plan.size == 9
    write = plan.writes[0]
    assert write.research.id == "r-done" and write.research.result == RESULT["result"]
    assert write.written == {SUMMARY: value_hash("Old")}
    assert write.signals == {"runs_kubernetes": {"answer": True}}
    assert write.properties == contacts[3].properties
    assert plan.writes[1].research.error_code == "REJECTED"
    skip = plan.skips[0]
    assert skip.state is states["1"] and skip.inputs.inputs is None
    assert "lastName" in skip.decision.detail
    launch = plan.launches[0]
    assert launch.state is None and launch.inputs.fingerprint == FP


def test_plan_uses_the_mappings_refresh_and_the_retry_policy() -> None:
    """A failed research comes back as a launch once its back-off is over, as a write before."""
    contacts = [contact("1"), contact("2")]
    states = {
        "1": failed(1, NOW - timedelta(minutes=30), contact_id="1", fingerprint=FP),
        "2": failed(1, NOW - timedelta(hours=2), contact_id="2", fingerprint=FP),
    }
    plan = plan_contacts(MAPPING, contacts, states, now=NOW, retry=RETRY)
    assert [w.contact_id for w in plan.writes] == ["1"]
    assert [(j.contact_id, j.decision.reason) for j in plan.launches] == [("2", "retry_failed")]
    patient = RetryPolicy(first_delay=timedelta(hours=3))
    later = plan_contacts(MAPPING, contacts, states, now=NOW, retry=patient)
    assert [w.contact_id for w in later.writes] == ["1", "2"] and later.launches == ()


def test_plan_from_states_in_a_real_store() -> None:
    """States read back from the state store plan the same as built ones: launch, wait, write, skip."""
    clock = FakeClock(NOW - timedelta(days=1))
    with StateStore("sqlite://", clock=clock) as store:
        store.record_launch("3", external_id="3", fingerprint=FP or "", research_id="r-3", next_check_at=NOW)
        store.record_launch("4", external_id="4", fingerprint=FP or "", research_id="r-4", next_check_at=NOW)
        store.record_result(
            "4",
            research_id="r-4",
            status="completed",
            result={**RESULT, "id": "r-4"},
            completed_at=clock(),
            error_code=None,
            error=None,
        )
        store.record_written("4", {SUMMARY: value_hash("Old")})
        store.record_skip("5", "lastName: lastname is empty")
        store.record_launch("6", external_id="6", fingerprint="older", research_id="r-6", next_check_at=NOW)
        contacts = [
            contact("2"),
            contact("3"),
            contact("4"),
            contact("5"),
            contact("6"),
            contact("7", lastname=""),
        ]
        states = store.get_many([c.id for c in contacts])
    plan = plan_contacts(MAPPING, contacts, states, now=NOW, retry=RETRY)
    assert [(j.contact_id, j.decision.reason) for j in plan.launches] == [
        ("2", "new"),
        ("5", "new"),
        ("6", "inputs_changed"),
    ]
    assert [j.contact_id for j in plan.waits] == ["3"]
    assert [(w.contact_id, w.research.id, dict(w.written)) for w in plan.writes] == [
        ("4", "r-4", {SUMMARY: value_hash("Old")})
    ]
    assert [j.contact_id for j in plan.skips] == ["7"]
    assert plan.cleared == ("5",)


def test_an_empty_batch_plans_nothing() -> None:
    """No contacts: an empty plan of size 0."""
    plan = plan_contacts(MAPPING, [], {}, now=NOW, retry=RETRY)
    assert plan.size == 0
    assert (plan.skips, plan.launches, plan.writes, plan.waits, plan.cleared) == ((), (), (), (), ())


# ---------------------------------------------------------------------------- OutageBreaker
class Calls:
    """A callable that raises the queued exceptions in turn, then returns "ok"; counts its calls."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return "ok"


def down() -> RetriableApiError:
    return RetriableApiError("503 after 6 attempts")


def outcome_of(breaker: OutageBreaker, operation: str, fn: Callable[[], str]) -> str:
    """What one call through the breaker came to: fn's value, "down" or "outage"."""
    try:
        return breaker.call(operation, fn)
    except ApiOutage:
        return "outage"
    except RetriableApiError:
        return "down"


@pytest.mark.parametrize("threshold", [0, -1])
def test_breaker_needs_a_positive_threshold(threshold: int) -> None:
    """A threshold under 1 is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        OutageBreaker("Saber", threshold)


@pytest.mark.parametrize("threshold", [1, 2, 3, 5])
def test_breaker_trips_at_the_threshold(threshold: int) -> None:
    """threshold-1 failures in a row pass the error on; the threshold-th raises ApiOutage from it."""
    breaker = OutageBreaker("Saber", threshold)
    fn = Calls(*[down() for _ in range(threshold)])
    for _ in range(threshold - 1):
        with pytest.raises(RetriableApiError) as info:
            breaker.call("create_research", fn)
        assert not isinstance(info.value, ApiOutage)
        assert breaker.open is False
    last = fn.outcomes[0]
    with pytest.raises(
        ApiOutage, match=rf"Saber is unavailable: {threshold} create_research calls"
    ) as tripped:
        breaker.call("create_research", fn)
    assert tripped.value.__cause__ is last
    assert breaker.open is True
    assert isinstance(tripped.value, FatalApiError) and tripped.value.exit_code == 3
    assert fn.count == threshold


def test_an_open_breaker_does_not_call_fn() -> None:
    """Once open, every call (any operation) and guard raises the same outage at once, without calling fn."""
    breaker = OutageBreaker("HubSpot", 2)
    fn = Calls(down(), down())
    with pytest.raises(RetriableApiError):
        breaker.call("update", fn)
    with pytest.raises(ApiOutage) as first:
        breaker.call("update", fn)
    healthy = Calls()
    for operation in ("update", "read", "search"):
        with pytest.raises(ApiOutage) as again:
            breaker.call(operation, healthy)
        assert again.value is first.value
    with pytest.raises(ApiOutage):
        breaker.guard()
    assert healthy.count == 0 and fn.count == 2


def test_a_success_resets_the_count() -> None:
    """An answer between failures starts the count again: only consecutive failures trip the breaker."""
    breaker = OutageBreaker("Saber", 3)
    fn = Calls(down(), down(), None, down(), down(), None, down(), down(), down())
    outcomes = [outcome_of(breaker, "find_research", fn) for _ in range(9)]
    assert outcomes == ["down", "down", "ok", "down", "down", "ok", "down", "down", "outage"]


def test_runs_are_counted_per_operation() -> None:
    """A success of one operation does not reset another's run of failures, nor do their failures add up."""
    breaker = OutageBreaker("Saber", 3)
    launches = Calls(down(), down(), down())
    lookups = Calls(None, down(), None, down(), None)
    outcomes = [
        outcome_of(breaker, "create_research", launches),
        outcome_of(breaker, "find_research", lookups),  # ok
        outcome_of(breaker, "create_research", launches),
        outcome_of(breaker, "find_research", lookups),  # down: 1 for lookups, still 2 for launches
        outcome_of(breaker, "find_research", lookups),  # ok: resets lookups only
        outcome_of(breaker, "find_research", lookups),  # down
        outcome_of(breaker, "find_research", lookups),  # ok
    ]
    assert outcomes == ["down", "ok", "down", "down", "ok", "down", "ok"]
    assert breaker.open is False
    assert outcome_of(breaker, "create_research", launches) == "outage"


def test_skippable_errors_do_not_count() -> None:
    """Record-level refusals pass through and never trip the breaker."""
    breaker = OutageBreaker("Saber", 2)
    fn = Calls(*[SkippableError(f"bad record {i}") for i in range(10)])
    for i in range(10):
        with pytest.raises(SkippableError, match=f"bad record {i}"):
            breaker.call("create_research", fn)
    assert breaker.open is False
    breaker.guard()  # does not raise
    assert breaker.call("create_research", fn) == "ok"


def test_a_success_returns_fns_value() -> None:
    """A healthy call returns whatever fn returned."""
    breaker = OutageBreaker("Saber", 1)
    assert breaker.call("get_research", lambda: {"id": 42}) == {"id": 42}
    assert breaker.open is False


# ---------------------------------------------------------------------------- pending_rounds
class FakeClock:
    """A settable clock; a FakeSleep moves it on."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeSleep:
    """Records each pause and advances the fake clock by it instead of sleeping."""

    def __init__(self, clock: FakeClock, events: list[tuple[str, Any]]) -> None:
        self.clock = clock
        self.events = events
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        assert seconds > 0
        self.pauses.append(seconds)
        self.events.append(("sleep", seconds))
        self.clock.now += timedelta(seconds=seconds)


@pytest.fixture
def no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything calls time.sleep."""

    def refuse(seconds: float) -> None:
        pytest.fail(f"time.sleep({seconds}) called; the wait loop must use the injected sleep")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Iterator[StateStore]:
    with StateStore("sqlite://", clock=clock) as s:
        yield s


def start(store: StateStore, cid: str, due_in: float) -> None:
    """A research for `cid`, launched at NOW, to be looked up `due_in` seconds later."""
    store.record_launch(
        cid,
        external_id=cid,
        fingerprint="fp",
        research_id=f"r-{cid}",
        next_check_at=NOW + timedelta(seconds=due_in),
    )


def finish(store: StateStore, cid: str, at: datetime) -> None:
    store.record_result(
        cid,
        research_id=f"r-{cid}",
        status="completed",
        result={"id": f"r-{cid}", "status": "completed"},
        completed_at=at,
        error_code=None,
        error=None,
    )


def drive(
    store: StateStore,
    clock: FakeClock,
    *,
    wait_seconds: float,
    contact_ids: list[str] | None = None,
    handle: Callable[[ContactState], None] | None = None,
    max_rounds: int = 50,
) -> tuple[list[tuple[str, Any]], FakeSleep]:
    """Run pending_rounds to the end, finishing each due research (or `handle`-ing it); returns the event log."""
    events: list[tuple[str, Any]] = []
    sleep = FakeSleep(clock, events)
    rounds = pending_rounds(
        store,
        contact_ids=contact_ids,
        clock=clock,
        sleep=sleep,
        wait_seconds=wait_seconds,
        between=lambda: events.append(("between", clock.now)),
    )
    for i, due in enumerate(rounds):
        assert i < max_rounds, "pending_rounds did not stop"
        events.append(("round", [s.contact_id for s in due.research]))
        for state in due.research:
            (handle or (lambda s: finish(store, s.contact_id, clock.now)))(state)
    return events, sleep


def test_rounds_yield_due_research_and_pause_at_most_5_seconds(
    store: StateStore, clock: FakeClock, no_real_sleep: None
) -> None:
    """Due research is yielded at once; the loop then waits for the next due one in pauses of at most 5 s."""
    start(store, "a", 0)
    start(store, "b", 0)
    start(store, "c", 12)
    events, sleep = drive(store, clock, wait_seconds=60)
    assert events == [
        ("round", ["a", "b"]),
        ("between", NOW),
        ("sleep", 5.0),
        ("round", []),
        ("between", NOW + timedelta(seconds=5)),
        ("sleep", 5.0),
        ("round", []),
        ("between", NOW + timedelta(seconds=10)),
        ("sleep", 2.0),
        ("round", ["c"]),
    ]
    assert max(sleep.pauses) <= MAX_PAUSE == 5.0
    assert clock.now == NOW + timedelta(seconds=12)  # stopped as soon as nothing was pending
    assert store.count_pending() == 0


def test_rounds_look_at_everything_just_before_the_wait_ends(
    store: StateStore, clock: FakeClock, no_real_sleep: None
) -> None:
    """A research due after the deadline is still looked at once, just before the wait ends (the
    promise of --wait): 5% of the wait (at most 3 s) before it; then the loop ends."""
    start(store, "late", 100)
    still = lambda s: store.record_poll(s.contact_id, next_check_at=clock.now + timedelta(seconds=100))  # noqa: E731
    events, sleep = drive(store, clock, wait_seconds=12, handle=still)
    rounds = [e for e in events if e[0] == "round"]
    assert rounds == [("round", [])] * 3 + [("round", ["late"])]
    assert sleep.pauses == [5.0, 5.0, pytest.approx(1.4)]
    assert events[-1] == ("round", ["late"])  # the last look, then the loop ends
    assert clock.now == NOW + timedelta(seconds=11.4)
    assert store.count_pending() == 1


def test_rounds_without_wait_look_once(store: StateStore, clock: FakeClock, no_real_sleep: None) -> None:
    """wait_seconds=0 yields the due research once and returns: no between, no pause."""
    start(store, "due", 0)
    start(store, "later", 30)
    events, sleep = drive(store, clock, wait_seconds=0)
    assert events == [("round", ["due"])]
    assert sleep.pauses == []
    assert store.count_pending() == 1


def test_rounds_with_nothing_pending_stop_at_once(
    store: StateStore, clock: FakeClock, no_real_sleep: None
) -> None:
    """No research processing: one empty round, then the loop ends without calling between or sleeping."""
    store.record_skip("x", "inputs missing")
    events, sleep = drive(store, clock, wait_seconds=600)
    assert events == [("round", [])]
    assert sleep.pauses == []


def test_rounds_only_look_at_the_given_contacts(
    store: StateStore, clock: FakeClock, no_real_sleep: None
) -> None:
    """With contact_ids, research of other contacts is neither yielded nor waited for."""
    start(store, "mine", 3)
    start(store, "other", 0)
    events, sleep = drive(store, clock, wait_seconds=60, contact_ids=["mine"])
    assert [e for e in events if e[0] == "round"] == [("round", []), ("round", ["mine"])]
    assert sleep.pauses == [3.0]
    other = store.get("other")
    assert other is not None and other.research_status == "processing"


def test_research_still_running_is_yielded_again_when_due(
    store: StateStore, clock: FakeClock, no_real_sleep: None
) -> None:
    """A lookup that finds the research still running reschedules it; the loop waits for that new time."""
    start(store, "slow", 0)
    looks: list[datetime] = []

    def still_running(state: ContactState) -> None:
        looks.append(clock.now)
        if len(looks) < 3:
            store.record_poll(state.contact_id, next_check_at=clock.now + timedelta(seconds=7))
        else:
            finish(store, state.contact_id, clock.now)

    events, sleep = drive(store, clock, wait_seconds=60, handle=still_running)
    assert looks == [NOW, NOW + timedelta(seconds=7), NOW + timedelta(seconds=14)]
    assert sleep.pauses == [5.0, 2.0, 5.0, 2.0]
    slow = store.get("slow")
    assert slow is not None and slow.check_count == 2
