"""`saber-connector linkedin ...`: one LinkedIn run, and the lists of what the account group holds.

`linkedin run` has its own run lock (`connector.linkedin.run`): a sync, a prospect run and a
LinkedIn run may overlap, two LinkedIn runs may not. Its exit codes are the sync's: 0 done,
1 failures recorded against a job, scan or prospect, 2 a problem the user must fix (no
`linkedin` section, no account group to use, a mapped property HubSpot lacks), 3 an API that
refused the key (a missing permission, named) or stayed unavailable after its retries.
The lists (`groups`, `searches`, `specs`, `audiences`, `jobs`, `scans`) only read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, is_dataclass
from typing import Any

from connector.clients import hubspot_from, integrations_from, policy_from, store_from
from connector.clock import utcnow
from connector.errors import ConfigError
from connector.integrations.client import IntegrationsClient
from connector.linkedin.run import LinkedInRun
from connector.linkedin.summary import LinkedInSummary
from connector.mapping import load_mapping
from connector.settings import Settings

NO_SECTION = (
    "the mapping has no `linkedin` section; add one (see mappings/linkedin.yaml) to import"
    " LinkedIn prospects and scan results into HubSpot"
)


def run_linkedin(settings: Settings, dry_run: bool = False) -> LinkedInSummary:
    """One LinkedIn run with clients built from settings (closed after); the mapping checked first."""
    mapping = load_mapping(settings.connector_mapping)
    if mapping.linkedin is None:
        raise ConfigError(f"{settings.connector_mapping}: {NO_SECTION}")
    settings.require_integrations_key()
    policy = policy_from(settings)
    with (
        hubspot_from(settings, policy) as hubspot,
        integrations_from(settings, policy) as client,
        store_from(settings) as store,
    ):
        summary = LinkedInSummary(started_at=utcnow(), dry_run=dry_run)
        return LinkedInRun(mapping, client, hubspot, store, summary, summary.started_at).run()


# ---------------------------------------------------------------------------- lists
LISTS: dict[str, tuple[Callable[[IntegrationsClient], Iterable[Any]], tuple[str, ...]]] = {
    "groups": (lambda c: c.groups(), ("id", "name", "created_at")),
    "searches": (
        lambda c: (
            [{"kind": "saved_search", **_plain(n)} for n in c.saved_searches()]
            + [{"kind": "lead_list", **_plain(n)} for n in c.lead_lists()]
        ),
        ("kind", "id", "name"),
    ),
    "specs": (lambda c: c.specifications(), ("id", "name", "description")),
    "audiences": (lambda c: c.audiences(), ("id", "name", "type", "prospect_count")),
    "jobs": (lambda c: c.jobs(), ("id", "type", "status", "created_at", "updated_at")),
    "scans": (lambda c: c.scans(), ("id", "type", "status", "created_at", "updated_at")),
}


def list_items(settings: Settings, what: str) -> list[dict[str, Any]]:
    """What `linkedin <what>` lists, as plain data (one dict per item), read from the API."""
    read, _ = LISTS[what]
    settings.require_integrations_key()
    with integrations_from(settings, policy_from(settings)) as client:
        return [_plain(item) for item in read(client)]


def render_items(what: str, items: list[dict[str, Any]]) -> str:
    """The items as aligned text columns (the list's own columns), or a line saying there are none."""
    if not items:
        return f"no {what}"
    columns = LISTS[what][1]
    rows = [[_cell(item.get(c)) for c in columns] for item in items]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _plain(item: Any) -> dict[str, Any]:
    """A model of the client's as a dict of its plain fields (its raw answer and stages left out)."""
    data = asdict(item) if is_dataclass(item) and not isinstance(item, type) else dict(item)
    return {k: v for k, v in data.items() if k not in ("raw", "stages")}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
