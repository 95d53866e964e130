"""Bad API answers (item 7): Saber answers that are malformed, mistyped, incomplete or huge.

Two kinds, in one run against one sandbox, compared property by property with a clean
twin (same seeds, no bad answers):

- a contact's research answered badly for good (`SaberSandbox.reshape`): wrong types,
  missing fields, unknown answer types, null answers, answers far too long for a property;
  the values that can be written are, those that cannot are recorded against the contact,
  and nothing else of that contact (or any other) is held back;
- one call answered badly once (`fail_next` with a raw body): malformed JSON, an HTML
  page from a proxy (as a 200 and as a 502), a 200 carrying an error envelope, a body far
  bigger than any answer, JSON of the wrong shape; recorded (or retried), then the next
  run lands the right values.

Figures: cases tried, crashes (0), garbage writes (0), values that differ from the clean
run where the answer was fine (0), cases recorded with a reason, credits against the clean run.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.logs import configure_logging
from connector.mapping import build_inputs, load_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.saber import REMOVED
from connector.settings import Settings
from connector.state import StateStore
from tests.reliability.figures import Figure
from tests.sync_harness import ROOT_MAPPING, TIME_DEPENDENT, prepare, settings_for, sync, write_mapping

SECTION = "7. bad API answers"
MAX_TEXT = 65_536  # HubSpot's limit for a text property
HUGE = 9 * 1024 * 1024  # above the Saber client's 8 MiB cap

Allowed = Callable[[str | None], bool]


@dataclass(frozen=True)
class Shape:
    """A research answered badly for good: what is merged into it, and what may be written."""

    name: str
    view: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    allowed: dict[str, Allowed] = field(default_factory=dict)  # property -> acceptable value
    reason: bool = True  # a reason must be recorded against the contact


def _none_or(*values: str) -> Allowed:
    return lambda v: v is None or v in values


LONG = "Far too long. " * 8000  # 112,000 characters


def _cut_long(v: str | None) -> bool:
    return v is not None and len(v) <= MAX_TEXT and LONG.strip().startswith(v)


_STRING_PROPS = ("saber_summary", "saber_current_title", "saber_department", "saber_location")
_KUBE = ("saber_runs_kubernetes", "saber_runs_kubernetes_confidence", "saber_runs_kubernetes_sources")

# Without a result nothing of it is written; the contact signal is asked with the contact's own
# profile URL (paid, as for any signal the result does not answer), so any answer it gets is right.
_NO_RESULT: dict[str, Allowed] = {
    **{p: _none_or() for p in (*_STRING_PROPS, "saber_seniority", "saber_email", "saber_email_status")},
    "saber_linkedin_url": _none_or(),
    **{p: (lambda v: True) for p in _KUBE},
}

_UNFINISHED: dict[str, Allowed] = {
    p: _none_or()
    for p in (
        *_NO_RESULT,
        "saber_hiring_engineers",
        "saber_hiring_engineers_reasoning",
        "saber_research_status",
    )
}
_UNFINISHED["saber_researched_at"] = _none_or()

SHAPES: tuple[Shape, ...] = (
    # Cut to HubSpot's limit, as the README says of every string property: nothing to report.
    Shape("answer far too long for a property", result={"summary": LONG}, allowed={"saber_summary": _cut_long},
          reason=False),
    Shape("number where text is due", result={"summary": 12345}, allowed={"saber_summary": _none_or("12345")},
          reason=False),
    Shape(
        "object where text is due",
        result={"currentTitle": {"en": "VP"}},
        allowed={"saber_current_title": _none_or('{"en":"VP"}')},
        reason=False,
    ),
    Shape("unknown enumeration value", result={"seniority": "Overlord"}, allowed={"saber_seniority": _none_or()}),
    Shape("list where one value is due", result={"seniority": ["VP", "Director"]}, allowed={"saber_seniority": _none_or()}),
    Shape("result fields missing", result={k: REMOVED for k in ("summary", "seniority", "location")},
          allowed={"saber_summary": _none_or(), "saber_seniority": _none_or(), "saber_location": _none_or()},
          reason=False),
    Shape("null answers", result={k: None for k in ("summary", "email", "department")},
          allowed={"saber_summary": _none_or(), "saber_email": _none_or(), "saber_department": _none_or()},
          reason=False),
    Shape(
        "unknown answer type",
        result={"signals": [{"question": "Does this person's team run Kubernetes in production?",
                             "status": "completed", "answerType": "hologram",
                             "answer": {"type": "hologram", "hologram": {"value": {"beams": 3}}},
                             "confidence": "very high", "sources": "not a list"}]},
        allowed={p: (lambda v: True) for p in _KUBE},
    ),
    Shape("null signal answer", result={"signals": [{"question": "Does this person's team run Kubernetes in production?",
                                                       "status": "completed", "answerType": "boolean",
                                                       "answer": None, "confidence": None}]},
          allowed={p: _none_or() for p in _KUBE}, reason=False),
    Shape("signals not a list", result={"signals": "none today"}, allowed={p: (lambda v: True) for p in _KUBE},
          reason=False),
    Shape("result not an object", view={"result": "done!"}, allowed=_NO_RESULT),
    Shape("research result missing", view={"result": REMOVED}, allowed=_NO_RESULT),
    # An unreadable date reads as no date: the property is left alone.
    Shape("date that is no date", view={"completedAt": "the other day"}, allowed={"saber_researched_at": _none_or()},
          reason=False),
    # A status Saber may add one day is read as still processing: looked up on the polling
    # schedule until the research timeout, which then records it as RESEARCH_TIMEOUT.
    Shape("unknown research status", view={"status": "exploded"}, allowed=_UNFINISHED, reason=False),
)  # fmt: skip

HTML = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
ENVELOPE = json.dumps(
    {"error": {"type": "INTERNAL", "code": "INTERNAL_ERROR", "message": "try later", "requestId": "r-1"}}
)

# (endpoint, status, body, content type, recorded against a contact?)
RAW: tuple[tuple[str, int, str, str, bool], ...] = (
    ("research_find", 200, '{"id": "cr_1", "status": "compl', "application/json", True),
    ("research_find", 200, HTML, "text/html", True),
    ("research_find", 502, HTML, "text/html", False),  # retried: a proxy's 502 is transient
    ("research_find", 200, ENVELOPE, "application/json", True),
    ("research_find", 200, json.dumps({"id": 5, "status": ["completed"]}), "application/json", True),
    ("research_find", 200, "[1, 2, 3]", "application/json", True),
    ("research_find", 200, '{"result": "' + "x" * HUGE + '"}', "application/json", True),
    ("research_create", 200, "not json at all", "text/plain", True),
    ("research_create", 200, ENVELOPE, "application/json", True),
    ("research_create", 200, "{}", "application/json", True),
    ("company_signal_batch", 200, '{"answer": ', "application/json", True),
    ("company_signal_batch", 200, HTML, "text/html", True),
)  # fmt: skip


def eligible(box: RunningSandbox, settings: Settings) -> list[str]:
    """Contacts the mapping selects and can research, ascending."""
    mapping = load_mapping(settings.connector_mapping)
    stages = next(f.values for f in mapping.select.filters if f.property == "lifecyclestage")
    return [
        cid
        for cid in box.hubspot.contact_ids()
        if box.hubspot.contact(cid).get("lifecyclestage") in stages
        and build_inputs(mapping, box.hubspot.contact(cid)).inputs is not None
    ]


def until_done(settings: Settings, deadline_s: float = 60.0, unfinished: int = 0) -> tuple[int, list[str]]:
    """Sync until at most `unfinished` research is pending and nothing waits to be written;
    (runs, crash descriptions)."""
    crashes: list[str] = []
    deadline = time.monotonic() + deadline_s
    runs = 0
    while time.monotonic() < deadline:
        runs += 1
        try:
            summary = sync(settings, wait_seconds=2)
        except Exception as exc:  # noqa: BLE001 - a crash is what this figure counts
            crashes.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        if summary.pending <= unfinished and summary.writes_pending == 0 and runs > 1:
            break
    return runs, crashes


def _portal(box: RunningSandbox, props: list[str]) -> dict[str, dict[str, str | None]]:
    return {cid: {p: box.hubspot.contact(cid).get(p) for p in props} for cid in box.hubspot.contact_ids()}


def _setup(box: RunningSandbox, tmp: Path) -> Settings:
    settings = settings_for(
        box,
        tmp,
        write_mapping(tmp, ROOT_MAPPING.read_text(encoding="utf-8")),
        connector_lost_answer_grace_seconds=1.0,  # a garbled ask answer is looked for, then asked again
    )
    prepare(settings)
    return settings


def _clean(opts: dict[str, Any], tmp: Path) -> tuple[dict[str, dict[str, str | None]], list[str], int]:
    """The clean twin: every mapped value, the properties compared, the credits spent."""
    with start_sandbox(**opts) as clean:
        settings = _setup(clean, tmp)
        until_done(settings)
        props = sorted(load_mapping(settings.connector_mapping).properties)
        return _portal(clean, props), props, 1000 - clean.saber.credits_left


def _errors(settings: Settings) -> list[tuple[str, str, str]]:
    """(contact, code, message) of every error recorded against a contact."""
    with StateStore(settings.connector_state_url) as store, store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT contact_id, code, message FROM errors WHERE contact_id IS NOT NULL"
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def _compare(
    got: dict[str, dict[str, str | None]],
    expected: dict[str, dict[str, str | None]],
    props: list[str],
    shaped: dict[str, Shape],
) -> tuple[list[str], list[str]]:
    """(garbage writes, good values held back) against the clean twin."""
    garbage: list[str] = []
    held_back: list[str] = []
    for cid, values in got.items():
        shape = shaped.get(cid)
        for prop in props:
            value, want = values[prop], expected[cid][prop]
            if shape is not None and prop in shape.allowed:
                if not shape.allowed[prop](value):
                    garbage.append(f"{shape.name}: {cid}.{prop}={str(value)[:40]!r}")
            elif prop in TIME_DEPENDENT:
                continue
            elif value != want:
                (garbage if value is not None else held_back).append(
                    f"{shape.name if shape else 'clean'}: {cid}.{prop}={str(value)[:40]!r}, "
                    f"clean {str(want)[:40]!r}"
                )
    return garbage, held_back


def run(long: bool) -> list[Figure]:
    """A clean run, a run with badly shaped research and one with bad raw answers, compared."""
    configure_logging("WARNING", "console")
    rounds = 3 if long else 1
    opts: dict[str, Any] = {"contacts": 24 + 16 * rounds, "seed": 4, "research_delay": 0.05}
    with tempfile.TemporaryDirectory(prefix="bad-answers-") as raw:
        tmp = Path(raw)
        for name in ("clean", "shapes", "raw"):
            (tmp / name).mkdir()
        expected, props, clean_spent = _clean(opts, tmp / "clean")

        with start_sandbox(**opts) as box:  # badly shaped research, for good
            settings = _setup(box, tmp / "shapes")
            ids = eligible(box, settings)
            shaped = {cid: SHAPES[i % len(SHAPES)] for i, cid in enumerate(ids[: len(SHAPES) * rounds])}
            for cid, shape in shaped.items():
                box.saber.reshape(cid, view=shape.view, result=shape.result)
            stuck = sum(1 for s in shaped.values() if s.allowed is _UNFINISHED)
            shape_runs, shape_crashes = until_done(settings, unfinished=stuck)
            garbage, held_back = _compare(_portal(box, props), expected, props, shaped)
            shape_spent = 1000 - box.saber.credits_left
            error_contacts = {cid for cid, *_ in _errors(settings)}
        missing_reason = [
            f"{s.name}: {cid}" for cid, s in shaped.items() if s.reason and cid not in error_contacts
        ]

        with start_sandbox(**opts) as box:  # bad raw answers, once each
            settings = _setup(box, tmp / "raw")
            for _ in range(rounds):
                for endpoint, status, body, content_type, _recorded in RAW:
                    box.saber.fail_next(1, status, endpoint, body=body, content_type=content_type)
            raw_runs, raw_crashes = until_done(settings)
            raw_garbage, raw_held = _compare(_portal(box, props), expected, props, {})
            raw_spent = 1000 - box.saber.credits_left
            errors = _errors(settings)
            # A garbled research answer concerns one contact: one error each. A garbled batch answer
            # concerns every contact waiting on its domains: each of them has the error.
            raw_errors = sum(
                1 for _, code, why in errors if code in RAW_CODES and not why.startswith("signal ")
            )
            signal_errors = {
                cid for cid, code, why in errors if code in RAW_CODES and why.startswith("signal ")
            }
            garbled = sum(1 for endpoint, *_ in RAW if endpoint == SIGNAL_BATCH) * rounds
            unrecorded = [  # the queued faults answered the first batch calls
                f"batch to {domain}"
                for r in box.saber.requests_to(SIGNAL_BATCH)[:garbled]
                for domain, contacts in _batch_contacts(box, r).items()
                if not contacts & signal_errors
            ]
        raw_recorded = (
            sum(1 for endpoint, *_, recorded in RAW if recorded and endpoint != SIGNAL_BATCH) * rounds
        )

    def listed(items: list[str]) -> str:
        return "; ".join(items)[:300]

    crashes = shape_crashes + raw_crashes
    return [
        Figure(SECTION, "bad shapes tried (one contact each)", len(shaped)),
        Figure(SECTION, "bad raw answers injected", len(RAW) * rounds),
        Figure(SECTION, "sync runs until done", shape_runs + raw_runs),
        Figure(SECTION, "crashes", len(crashes), 0, note=listed(crashes)),
        Figure(SECTION, "garbage writes", len(garbage + raw_garbage), 0, note=listed(garbage + raw_garbage)),
        Figure(
            SECTION, "good values held back", len(held_back + raw_held), 0, note=listed(held_back + raw_held)
        ),
        Figure(
            SECTION,
            "bad shapes not recorded with a reason",
            len(missing_reason),
            0,
            note=listed(missing_reason),
        ),
        Figure(SECTION, "bad raw research answers recorded against their contact", raw_errors, raw_recorded),
        Figure(
            SECTION,
            "garbled signal answers not recorded against a contact of each domain asked",
            len(unrecorded),
            0,
            note=listed(unrecorded),
        ),
        Figure(SECTION, "credits spent (clean run)", clean_spent),
        Figure(
            SECTION,
            "credits spent with bad shapes",
            shape_spent,
            note="signals a missing result cannot answer are asked",
        ),
        Figure(SECTION, "credits spent with bad raw answers", raw_spent, clean_spent),
    ]


RAW_CODES = frozenset({"INVALID_RESPONSE", "RESPONSE_TOO_LARGE", "INTERNAL_ERROR"})
SIGNAL_BATCH = "company_signal_batch"


def _batch_contacts(box: RunningSandbox, request: Any) -> dict[str, set[str]]:
    """Per domain a batch asked about, the contacts of that company domain (one of them at least
    waited on the batch: the one whose research made the ask)."""
    domains = {d.lower() for d in request.body.get("domains", [])}
    out: dict[str, set[str]] = {d: set() for d in domains}
    for research in box.saber.all_research():
        domain = str(research.get("companyDomain", "")).lower()
        if domain in out:
            out[domain].add(str(research.get("externalId")))
    return out
