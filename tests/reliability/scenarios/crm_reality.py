"""CRM reality (item 4): a portal that people keep changing under the connector.

Between runs and in the middle of one: contacts merged (a new id, the old ones in
`hs_merged_object_ids`), a contact deleted while its research runs, one deleted between
the read and the write of its batch (207 OBJECT_NOT_FOUND), a mapped property deleted and
another's type changed after `setup`, an enumeration option removed, the same person
entered twice (and a third time in a later run), a portal validation rule refusing a value.
Each is recorded against its contact with a clear reason (state database, summary), nothing
else is held back, and nothing is paid twice (counted by the sandbox per external ID and
per set of inputs).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path

from connector.clients import hubspot_from
from connector.commands.explain import explain_report
from connector.errors import ConfigError
from connector.logs import configure_logging
from connector.mapping import build_inputs, load_mapping
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.sandbox.server import RecordedRequest
from connector.settings import Settings
from connector.state import StateStore
from connector.sync.summary import RunSummary
from tests.reliability.figures import Figure
from tests.sync_harness import EXAMPLE_MAPPING, prepare, settings_for, sync, write_mapping

SECTION = "4. CRM reality"
DELETED = "saber_researched_at"  # deleted mid-run, then again between runs
RETYPED = "saber_runs_kubernetes_confidence"  # number -> bool mid-run
IDENTITY = ("firstName", "lastName", "companyName", "companyDomain", "jobTitle", "contactProfileUrl")


def _person(first: str, last: str, company: str, domain: str, title: str, email: str) -> dict[str, str]:
    return {
        "firstname": first,
        "lastname": last,
        "company": company,
        "website": f"https://www.{domain}/",
        "email": email,
        "jobtitle": title,
        "lifecyclestage": "lead",
    }


def _sync(settings: Settings, summaries: list[RunSummary], errors: list[str]) -> RunSummary | None:
    try:
        summary = sync(settings, wait_seconds=5)
    except ConfigError as exc:  # the run refused to start (preflight): its reason is the figure
        errors.append(str(exc))
        return None
    summaries.append(summary)
    return summary


def _until_done(settings: Settings, summaries: list[RunSummary], refusals: list[str], limit: int = 8) -> None:
    deadline = time.monotonic() + 60
    for _ in range(limit):
        summary = _sync(settings, summaries, refusals)
        if summary is None or (summary.pending == 0 and summary.writes_pending == 0):
            return
        if time.monotonic() > deadline:
            return


def research_charges(box: RunningSandbox) -> tuple[Counter[str], Counter[tuple[str, ...]]]:
    """Research Saber created (each one charged): per external ID, and per set of inputs (a person)."""
    research = box.saber.all_research()
    by_id = Counter(str(r.get("externalId")) for r in research)
    by_person = Counter(tuple(str(r.get(k) or "").lower() for k in IDENTITY) for r in research)
    return by_id, by_person


def _errors(store: StateStore) -> list[tuple[str, str | None, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT contact_id, property, code, message FROM errors")
        return [(str(r[0]), r[1], str(r[2]), str(r[3])) for r in rows]


def _unexplained_twins(settings: Settings, twins: dict[str, set[str]]) -> int:
    """Contacts sharing another's research whose `explain` report does not say whose (one of a pair may own it)."""
    mapping = load_mapping(settings.connector_mapping)
    hubspot = hubspot_from(settings)
    try:
        with StateStore(settings.connector_state_url) as store:
            named = {
                cid: (explain_report(mapping, hubspot, store, cid).get("state") or {}).get("research_from")
                for cid in twins
            }
    finally:
        hubspot.close()
    pairs = [c for c in twins if len(twins[c]) == 1 and next(iter(twins[c])) in twins]
    missing = sum(1 for c in twins if c not in pairs and named[c] not in twins[c])
    if pairs:  # of a pair launched together, one owns the research and the other names it
        missing += int(sum(1 for c in pairs if named[c] in twins[c]) != 1)
    return missing


def run(long: bool) -> list[Figure]:
    """Research a portal, change it as people do, and count what is recorded, held back, paid twice."""
    configure_logging("WARNING", "console")
    rounds = 3 if long else 1
    with (
        tempfile.TemporaryDirectory(prefix="crm-reality-") as raw,
        start_sandbox(contacts=20 + 10 * rounds, seed=8, research_delay=0.05) as box,
    ):
        tmp = Path(raw)
        settings = settings_for(box, tmp, write_mapping(tmp, EXAMPLE_MAPPING))
        prepare(settings)
        summaries: list[RunSummary] = []
        refusals: list[str] = []
        _until_done(settings, summaries, refusals)
        mapping = load_mapping(settings.connector_mapping)
        researched = [
            cid
            for cid in box.hubspot.contact_ids()
            if box.hubspot.contact(cid).get("saber_research_status") == "completed"
            and build_inputs(mapping, box.hubspot.contact(cid)).inputs is not None
        ]
        figures: list[Figure] = []
        totals: Counter[str] = Counter()
        for r in range(rounds):
            totals.update(_round(box, settings, researched[4 * r : 4 * r + 4], r, summaries, refusals))
        by_id, by_person = research_charges(box)
        with StateStore(settings.connector_state_url) as store:
            errors = _errors(store)
        crashes = totals.pop("crashes", 0)
        figures += [
            Figure(SECTION, "cases tried", totals.pop("cases")),
            Figure(SECTION, "crashes", crashes, 0),
            Figure(SECTION, "external IDs researched twice", sum(1 for n in by_id.values() if n > 1), 0),
            Figure(
                SECTION,
                "people researched twice (same inputs)",
                sum(1 for n in by_person.values() if n > 1),
                0,
            ),
            Figure(SECTION, "errors recorded against a contact", sum(1 for e in errors if e[0] != "None")),
        ]
        for name in sorted(totals):
            kind, _, label = name.partition(":")
            figures.append(Figure(SECTION, label, totals[name], 0 if kind == "zero" else None))
    return figures


def _round(
    box: RunningSandbox,
    settings: Settings,
    picked: list[str],
    r: int,
    summaries: list[RunSummary],
    refusals: list[str],
) -> Counter[str]:
    """One round of every case; the counts, keyed `zero:` (must be 0) or `info:`."""
    hs = box.hubspot
    out: Counter[str] = Counter()
    a, b, x, gone = picked
    # Between runs: a merge, a deleted contact, a person entered again, new contacts that meet
    # a removed option, a validation rule, a mid-run deletion.
    survivor = hs.merge_contacts(a, b)
    hs.archive_contact(gone)
    twin_x = hs.add_contact({**{k: hs.contact(x).get(k) for k in ("firstname", "lastname", "company", "website",
                                                                    "jobtitle", "linkedin_url", "lifecyclestage")},
                             "email": f"again{r}@" + str(hs.contact(x).get("email")).rpartition("@")[2]})  # fmt: skip
    domain = f"twice{r}.example.com"
    same = [
        hs.add_contact(_person("Dana", f"Twice{r}", "Twice Co", domain, "VP of Sales", f"d{i}@{domain}"))
        for i in range(2)
    ]
    ruled = hs.add_contact(_person("Rae", f"Rule{r}", f"Rulebound{r} Inc", f"rulebound{r}.example.com", "Engineer", f"rae@rulebound{r}.example.com"))  # fmt: skip
    pending_gone = hs.add_contact(_person("Pat", f"Gone{r}", "Vanish Co", f"vanish{r}.example.com", "Engineer", f"pat@vanish{r}.example.com"))  # fmt: skip
    write_gone = hs.add_contact(_person("Wes", f"Late{r}", "Late Co", f"late{r}.example.com", "Engineer", f"wes@late{r}.example.com"))  # fmt: skip
    hs.remove_option("saber_seniority", "vp")
    hs.add_validation_rule(
        "saber_summary",
        lambda v, r=r: f"Rulebound{r}" not in v,
        "was refused by this portal's validation rule",
    )

    def on_saber(req: RecordedRequest) -> None:
        if req.endpoint == "research_create" and isinstance(req.body, dict):
            if req.body.get("externalId") == pending_gone and pending_gone in hs.contact_ids():
                hs.archive_contact(pending_gone)  # deleted while its research runs
            if DELETED in hs.property_names():  # mid-run, after preflight: one deleted, one retyped
                hs.delete_property(DELETED)
                hs.define_property(RETYPED, "bool", group_name="saber")

    def on_hubspot(req: RecordedRequest) -> None:
        if req.endpoint == "contacts_batch_read" and write_gone in hs.contact_ids():
            ids = [str(i.get("id")) for i in (req.body or {}).get("inputs", [])]
            if write_gone in ids:
                hs.archive_contact(write_gone)  # deleted between the read and the write

    box.saber.on_request.append(on_saber)
    box.hubspot.on_request.append(on_hubspot)
    try:
        creates_before = box.saber.count("research_create")
        first_summary = len(summaries)
        first = _sync(settings, summaries, refusals)
    finally:
        box.saber.on_request.remove(on_saber)
        box.hubspot.on_request.remove(on_hubspot)
    out["cases"] += 8
    if first is None:
        out["crashes"] += 1
        return out
    # The next runs meet the deleted property, then the changed type, before spending: each
    # refused with the property named (preflight names the first problem it finds).
    refused_before = len(refusals)
    _sync(settings, summaries, refusals)
    hs.define_property(DELETED, "datetime", group_name="saber")  # an admin creates it again
    _sync(settings, summaries, refusals)
    named = refusals[refused_before:]
    out["zero:runs with a deleted or retyped property not refused naming it"] += int(
        len(named) != 2 or DELETED not in named[0] or RETYPED not in named[1]
    )
    hs.define_property(RETYPED, "number", group_name="saber")  # and puts the type back
    prepare(settings)
    _until_done(settings, summaries, refusals)

    with StateStore(settings.connector_state_url) as store:
        errors = _errors(store)
        states = store.get_many([a, b, survivor, twin_x, *same, ruled, pending_gone, write_gone])

    def recorded(cid: str, prop: str | None, code: str) -> bool:
        return any(e[0] == cid and e[1] == prop and e[2] == code for e in errors)

    creates = [
        q.body.get("externalId")
        for q in box.saber.requests_to("research_create")[creates_before:]
        if q.status == 201
    ]
    out["zero:merged contacts researched again"] += creates.count(survivor)
    out["zero:merges whose survivor did not adopt a merged contact's research"] += int(
        not any(states.get(old) and states[old].merged_into == survivor for old in (a, b))
        or states[survivor].research_id not in {states[old].research_id for old in (a, b) if old in states}
    )
    out["zero:same person researched again"] += creates.count(twin_x) + min(1, creates.count(same[0])) * min(
        1, creates.count(same[1])
    )
    out["zero:same-person contacts whose `explain` does not name the research's contact"] += (
        _unexplained_twins(settings, {twin_x: {x}, same[0]: {same[1]}, same[1]: {same[0]}})
    )
    out["info:research shared by the same person (credits saved)"] += sum(
        s.credits_saved["same_inputs"] for s in summaries[first_summary:]
    )
    out["zero:deleted contacts not recorded OBJECT_NOT_FOUND"] += sum(
        1 for cid in (pending_gone, write_gone)
        if not (states.get(cid) and states[cid].write_pending == "OBJECT_NOT_FOUND") and not recorded(cid, None, "OBJECT_NOT_FOUND")
    )  # fmt: skip
    out["zero:removed option not recorded against the contact"] += sum(
        1 for cid in same if not any(e[0] == cid and e[1] == "saber_seniority" for e in errors)
    )
    out["zero:validation rule not recorded against the contact"] += int(
        not any(e[0] == ruled and e[1] == "saber_summary" for e in errors)
    )
    out["zero:mid-run deleted property not recorded"] += int(not any(e[1] == DELETED for e in errors))
    # Nothing else held back: every live new contact has its other values, the refused ones aside.
    held = 0
    for cid in (survivor, twin_x, *same, ruled):
        row = hs.contact(cid)
        for prop in ("saber_research_status", "saber_email", DELETED, "saber_summary", "saber_seniority"):
            if row.get(prop) is None and not any(e[0] == cid and e[1] == prop for e in errors):
                held += 1
    out["zero:values held back beside a refused one"] += held
    hs.add_validation_rule("saber_summary", lambda v: True, "")
    return out
