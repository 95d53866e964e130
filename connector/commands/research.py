"""`saber-connector research CONTACT_ID`: what Saber really returned for one contact, and every path to map.

The completed research's shape is not published (assumption A2), so a mapping's
`result.<path>` may point at nothing. This shows the contact's latest research as Saber
answers it now (a free read by its id, else by external ID; the stored copy when Saber
cannot be asked), the signals kept for the contact as Saber returned them, and every path a
mapping can read with its value (`result.summary = "VP of Sales at..."`): `result.<path>`
reads the `result` object when there is one, else the research object itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from connector.clients import saber_from, store_from
from connector.errors import ConnectorError
from connector.mapping import load_mapping
from connector.mapping.values import findings
from connector.saber import SaberClient
from connector.saber.models import Research
from connector.settings import Settings
from connector.state import StateStore

RESEARCH_FIELDS = ("id", "status", "createdAt", "completedAt", "errorCode", "error")
SIGNAL_FIELDS = ("answer", "confidence", "reasoning", "sources")
SHOWN = 100  # characters of a value shown on a path's line


def research_view(
    store: StateStore, saber: SaberClient, contact_id: str, external_source: str
) -> dict[str, Any]:
    """The raw research and signals of one contact, and the mappable paths with their values."""
    state = store.get(contact_id)
    raw: dict[str, Any] | None = None
    source = "none"
    note = None
    try:
        if state is not None and state.research_id:
            raw, source = saber.get_research(state.research_id).raw, "saber (by research id)"
        else:
            found = saber.find_research(contact_id, external_source)
            raw, source = (found.raw, "saber (by external ID)") if found is not None else (None, "none")
    except ConnectorError as exc:
        note = f"Saber could not be asked ({exc}); the stored copy is shown"
    if raw is None and state is not None and state.result:
        raw, source = dict(state.result), "state database (last completed result)"
    signals = {key: stored.signal for key, stored in (state.stored_signals() if state else {}).items()}
    paths: dict[str, Any] = {}
    if raw is not None:
        research = Research.model_validate(raw)
        for field in RESEARCH_FIELDS:
            if raw.get(field) is not None:
                paths[f"research.{field}"] = raw[field]
        if research.status == "completed":
            paths.update(flatten(findings(research), "result"))
    for key, signal in signals.items():
        if isinstance(signal, dict):
            for field in SIGNAL_FIELDS:
                if signal.get(field) is not None:
                    paths.update(flatten({field: signal[field]}, f"signals.{key}"))
    return {
        "contact_id": contact_id,
        "research_id": state.research_id if state is not None else None,
        "source": source,
        "note": note,
        "research": raw,
        "signals": signals,
        "paths": paths,
    }


def flatten(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """Every leaf under `value` as (`prefix.key.0.key`, value): the `from` paths a mapping can use."""
    if isinstance(value, Mapping):
        if not value:
            yield prefix, {}
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}.{key}")
    elif isinstance(value, list):
        if not value:
            yield prefix, []
        for i, inner in enumerate(value):
            yield from flatten(inner, f"{prefix}.{i}")
    else:
        yield prefix, value


def render_research_view(view: dict[str, Any]) -> str:
    """The raw JSON, then one `path = value` line per mappable path."""
    lines = [f"contact {view['contact_id']}: research {view['research_id'] or '(none recorded)'}"]
    lines.append(f"from: {view['source']}" + (f" ({view['note']})" if view["note"] else ""))
    if view["research"] is None:
        lines.append("no research found for this contact: nothing to map yet")
        return "\n".join(lines)
    lines += ["", "research, as Saber returned it:", json.dumps(view["research"], indent=2, default=str)]
    if view["signals"]:
        lines += ["", "signals kept for this contact, as Saber returned them:"]
        lines.append(json.dumps(view["signals"], indent=2, default=str))
    lines += ["", "paths a mapping can read (from: <path>):"]
    for path, value in view["paths"].items():
        shown = json.dumps(value, default=str, ensure_ascii=False)
        lines.append(f"  {path} = {shown if len(shown) <= SHOWN else shown[: SHOWN - 1] + '…'}")
    return "\n".join(lines)


def read_research(settings: Settings, contact_id: str) -> dict[str, Any]:
    """`research_view` of one contact with the clients the settings name (closed here)."""
    mapping = load_mapping(settings.connector_mapping)
    with saber_from(settings) as saber, store_from(settings) as store:
        return research_view(store, saber, contact_id, mapping.external_source)
