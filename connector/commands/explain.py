"""`saber-connector explain CONTACT_ID`: everything the connector knows about one contact, and why.

Selection (and the filter that leaves the contact out), each input as read and as sent,
the research, each signal, and per mapped property the value the mapping gives, HubSpot's
value now, whether the connector wrote it, and the decision the next sync takes. It reads
HubSpot and the state database only: it never asks Saber anything and spends nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from connector.clients import hubspot_from, store_from
from connector.hubspot import Contact, HubSpotAdapter, SearchFilter
from connector.mapping import Mapping, build_inputs, load_mapping, map_values, signals_to_ask, value_hash
from connector.mapping.values import signal_of
from connector.saber.models import Signal
from connector.settings import Settings
from connector.state import ContactState, StateStore
from connector.state.unmatched import Unmatched
from connector.sync.changes import compute_changes
from connector.sync.jobs import stored_research
from connector.sync.pull import describe_filter, search_filter

# What each write decision means, for a person.
DECISIONS = {
    "write": "the next sync writes the mapped value",
    "unchanged": "HubSpot holds the mapped value already",
    "kept_edit": "kept: a person changed what the connector wrote (write: unless_edited)",
    "kept_value": "kept: HubSpot already has a value (write: if_empty)",
    "null": "nothing to write: the answer is empty",
    "error": "not written: the value cannot be converted",
}


def explain_report(
    mapping: Mapping, hubspot: HubSpotAdapter, store: StateStore, contact_id: str
) -> dict[str, Any]:
    """The whole story of one contact as plain data (what `--output json` prints)."""
    props = sorted(set(mapping.hubspot_properties()))
    found = hubspot.read_contacts([contact_id], props)
    brought_in = _brought_in(hubspot, store, contact_id)
    linkedin = _linkedin(store, contact_id)
    if not found:
        return {
            "contact_id": contact_id,
            "exists": False,
            "state": _state(store.get(contact_id)),
            "prospecting": brought_in,
            "linkedin": linkedin,
        }
    contact = found[0]
    state = store.get(contact_id)
    report: dict[str, Any] = {
        "contact_id": contact_id,
        "exists": True,
        "selection": _selection(mapping, hubspot, contact),
        "inputs": _inputs(mapping, contact),
        "state": _state(state),
        "research": None,
        "signals": [],
        "properties": [],
        "prospecting": brought_in,
        "linkedin": linkedin,
    }
    research = stored_research(state) if state is not None else None
    if state is None or research is None:
        return report
    report["research"] = {
        "id": research.id or None,
        "status": research.status,
        "launched_at": _iso(state.launched_at),
        "completed_at": _iso(state.completed_at),
        "error_code": research.error_code,
        "error": None if research.error is None else str(research.error),
    }
    inputs = build_inputs(mapping, contact.properties)
    answers = {
        key: Signal.model_validate(stored.signal)
        for key, stored in state.stored_signals().items()
        if stored.fingerprint == inputs.fingerprint
    }
    report["signals"] = _signals(mapping, research, answers, inputs.inputs or {})
    values = map_values(mapping, research, answers)
    changes = compute_changes(mapping, contact_id, values, contact.properties, state.written)
    for change in changes.changes:
        spec = mapping.properties[change.property]
        last = state.written.get(change.property)
        if last is None:
            written = "never"
        elif change.current is not None and value_hash(change.current) == last:
            written = "the value HubSpot holds now"
        else:
            written = "another value than HubSpot holds now"
        report["properties"].append(
            {
                "property": change.property,
                "from": spec.from_,
                "write": spec.write,
                "mapped": change.value,
                "hubspot": change.current,
                "connector_wrote": written,
                "decision": change.decision,
                "why": change.error or values[change.property].held_back or DECISIONS[change.decision],
            }
        )
    return report


def _brought_in(hubspot: HubSpotAdapter, store: StateStore, contact_id: str) -> dict[str, Any] | None:
    """Which account and search brought this contact in, when prospecting created it; else None.

    The company's name is one read of one company (cheap); the search is the body sent to Saber.
    """
    candidate = store.prospects.brought_in(contact_id)
    if candidate is None:
        return None
    companies = hubspot.companies.read([candidate.company_id], ["name"])
    name = companies[0].properties.get("name") if companies else None
    try:
        search: Any = json.loads(candidate.search) if candidate.search else None
    except ValueError:
        search = candidate.search
    return {
        "company_id": candidate.company_id,
        "company_name": name,
        "search": search,
        "sales_navigator_url": candidate.sales_navigator_url,
        "claimed_at": _iso(candidate.claimed_at),
        "created_at": _iso(candidate.created_at),
    }


def _linkedin(store: StateStore, contact_id: str) -> dict[str, Any] | None:
    """The LinkedIn prospects this contact is, the jobs that brought them, their latest scan results."""
    prospects = store.linkedin.prospects_of_contact(contact_id)
    results = store.linkedin.results_of_contact(contact_id)
    if not prospects and not results:
        return None
    return {
        "prospects": [
            {
                "prospect_id": p.prospect_id,
                "linkedin": p.key or None,
                "status": p.status,
                "job": p.job,
                "jobs": [
                    {"name": j.name, "job_id": j.job_id, "started_at": _iso(j.started_at)}
                    for j in store.linkedin.jobs_of_prospect(p.prospect_id)
                ],
                "seen_at": _iso(p.seen_at),
            }
            for p in prospects
        ],
        "scans": [
            {
                "scan": r.scan,
                "prospect_id": r.prospect_id,
                "status": r.status,
                "values": dict(r.values),
                "written": r.written_hash is not None and r.written_hash == r.values_hash,
                "read_at": _iso(r.read_at),
                "written_at": _iso(r.written_at),
            }
            for r in results
        ],
    }


def _render_linkedin(li: dict[str, Any]) -> list[str]:
    how = {
        "created": "created by the connector",
        "matched": "already in HubSpot",
        "uploaded": "its LinkedIn URL uploaded",
        "claimed": "create sent, answer not known yet",
    }
    lines = []
    for p in li["prospects"]:
        jobs = ", ".join(f"{j['name']} ({j['job_id']})" for j in p["jobs"]) or p["job"] or "none"
        lines.append(
            f"linkedin: prospect {p['prospect_id']} ({p['linkedin'] or 'no profile URL'}):"
            f" {how.get(p['status'], p['status'])}; jobs: {jobs}"
        )
    for r in li["scans"]:
        state = "written" if r["written"] else "not written yet" if r["status"] == "evaluated" else "pending"
        values = ", ".join(f"{k}={v!r}" for k, v in sorted(r["values"].items())) or "nothing found"
        lines.append(f"  scan {r['scan']}: {r['status']} (read {r['read_at']}, {state}): {values}")
    return lines


def _render_brought_in(p: dict[str, Any]) -> list[str]:
    company = f"{p['company_id']} ({p['company_name']})" if p.get("company_name") else p["company_id"]
    search = p.get("search")
    what = json.dumps(search, sort_keys=True) if isinstance(search, dict) else str(search)
    lines = [f"prospecting: created by the connector on {p['created_at'] or p['claimed_at']}"]
    lines.append(f"  account: HubSpot company {company}")
    lines.append(f"  search: Saber contact search {what}")
    if p.get("sales_navigator_url"):
        lines.append(f"  found as: {p['sales_navigator_url']}")
    return lines


def _selection(mapping: Mapping, hubspot: HubSpotAdapter, contact: Contact) -> dict[str, Any]:
    """Whether the mapping's filters select the contact, and which of them leave it out."""
    only = SearchFilter("hs_object_id", "EQ", value=contact.id)
    failing = []
    for i, f in enumerate(mapping.select.filters):
        one = search_filter(f)
        if not list(hubspot.search_contacts(properties=["hs_object_id"], filters=[only, one])):
            has = contact.properties.get(f.property)
            failing.append(f"select.filters[{i}]: {describe_filter(f)} (HubSpot has {has!r})")
    return {"selected": not failing, "left_out_by": failing}


def _inputs(mapping: Mapping, contact: Contact) -> dict[str, Any]:
    result = build_inputs(mapping, contact.properties)
    read = {
        field: [{"property": s.property, "value": contact.properties.get(s.property)} for s in spec.chain()]
        for field, spec in mapping.inputs
        if spec is not None
    }
    return {
        "read": read,
        "sent": result.inputs,
        "skip_reason": result.skip_reason,
        "notes": list(result.notes),
    }


def _signals(
    mapping: Mapping, research: Any, answers: dict[str, Signal], inputs: dict[str, str]
) -> list[dict[str, Any]]:
    asks = {a.key: a for a in signals_to_ask(mapping, research, inputs)[0]}
    used = set(mapping.used_signals())
    out = []
    for key, spec in mapping.signals.items():
        signal = signal_of(mapping, key, research, answers)
        if research.signal_for(spec.question) is not None:
            how = "taken from the research result (no credit)"
        elif key in answers:
            how = f"asked through Saber's {spec.scope} signal endpoint (1 credit, paid once)"
        elif key in asks:
            how = "not asked yet: the next sync asks it (1 credit)"
        else:
            how = "not asked: " + (
                "no property maps it" if key not in used else "it cannot be asked for this contact"
            )
        out.append(
            {
                "signal": key,
                "question": spec.text,
                "how": how,
                "answer": None if signal is None or signal.answer is None else signal.answer.value,
                "confidence": None if signal is None else signal.confidence,
                "sources": []
                if signal is None
                else [s.model_dump(exclude_none=True) for s in signal.sources],
            }
        )
    return out


def _state(state: ContactState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "research_status": state.research_status,
        "skip_reason": state.skip_reason,
        "deferred": state.deferred,
        "write_pending": state.write_pending,
        "last_error": state.last_error,
        "written_at": _iso(state.written_at),
        "merged_into": state.merged_into,
        "company_id": state.company_id,
        "company_unmatched": state.company_unmatched,
        "company_pending": state.company_pending,
        # The research is another contact's: the same person entered twice, or a merge's survivor.
        "research_from": state.external_id if state.external_id not in (None, state.contact_id) else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def render_explain(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    cid = report["contact_id"]
    brought_in = _render_brought_in(report["prospecting"]) if report.get("prospecting") else []
    brought_in += _render_linkedin(report["linkedin"]) if report.get("linkedin") else []
    if not report["exists"]:
        gone = f"contact {cid}: HubSpot has no contact with this id" + (
            " (the connector's state still has a record of it)" if report.get("state") else ""
        )
        return "\n".join([gone, *brought_in])
    lines = [f"contact {cid}", *brought_in]
    sel = report["selection"]
    lines.append("  selected by select.filters" if sel["selected"] else "  NOT selected:")
    lines += [f"    {why}" for why in sel["left_out_by"]]
    inputs = report["inputs"]
    lines.append("inputs:")
    for field, chain in inputs["read"].items():
        read = ", else ".join(f"{r['property']}={r['value']!r}" for r in chain)
        sent = (inputs["sent"] or {}).get(field)
        lines.append(
            f"  {field:<26} {read}  ->  {sent!r}"
            if sent is not None
            else f"  {field:<26} {read}  ->  not sent"
        )
    lines += [f"  note: {n}" for n in inputs["notes"]]
    if inputs["skip_reason"]:
        lines.append(f"  skipped: {inputs['skip_reason']}")
    state = report["state"]
    if state is None:
        lines.append("state: the connector has not handled this contact yet")
        return "\n".join(lines)
    for key in ("skip_reason", "deferred", "write_pending", "last_error", "merged_into", "research_from"):
        if state[key]:
            lines.append(f"state: {key.replace('_', ' ')}: {state[key]}")
    if state.get("company_id"):
        waiting = " (its answers wait to land there)" if state.get("company_pending") else ""
        lines.append(f"company: HubSpot company {state['company_id']} takes its company answers{waiting}")
    elif state.get("company_unmatched"):
        why = Unmatched.parse(state["company_unmatched"])
        lines.append(f"company: none matched: {why}")
    research = report["research"]
    if research is None:
        lines.append(f"research: {state['research_status']}")
        return "\n".join(lines)
    lines.append(
        f"research {research['id'] or '(none)'}: {research['status']}, launched {research['launched_at']},"
        f" completed {research['completed_at']}"
        + (f", error {research['error_code']}: {research['error']}" if research["error_code"] else "")
    )
    for s in report["signals"]:
        lines.append(f"signal {s['signal']}: {s['answer']!r} (confidence {s['confidence']}); {s['how']}")
        lines += [f"    source: {src.get('url') or src}" for src in s["sources"][:3]]
    lines.append("properties:")
    for p in report["properties"]:
        lines.append(f"  {p['property']}  (from {p['from']}, write: {p['write']})")
        lines.append(
            f"    mapped {p['mapped']!r}; HubSpot {p['hubspot']!r}; connector wrote {p['connector_wrote']}"
        )
        lines.append(f"    {p['decision']}: {p['why']}")
    return "\n".join(lines)


def explain_contact(settings: Settings, contact_id: str) -> dict[str, Any]:
    """`explain_report` of one contact with the clients the settings name (closed here)."""
    mapping = load_mapping(settings.connector_mapping)
    with hubspot_from(settings) as hubspot, store_from(settings) as store:
        return explain_report(mapping, hubspot, store, contact_id)
