"""Saber company signal subscriptions: each execution's answer, carried to HubSpot companies for free.

A subscription re-runs its question on a schedule and logs each execution. Every full cycle
reads each mapped subscription's log from its cursor (`fromDate`, `status=completed`, paged by
`limit`/`offset`; the client skips entries a newer arrival shifted into the next page), keeps
the newest execution per company domain and maps it to the subscription's properties. The
cursor is saved by the company stage only after those values landed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from connector.errors import RUN_GOES_ON
from connector.logs import get_logger
from connector.mapping import Mapping, PropertyValue, map_subscription_values
from connector.saber import SaberClient, SaberNotFound
from connector.saber.models import Signal
from connector.state import StateStore
from connector.sync.failures import Failure, Subject

log = get_logger("sync")

CURSOR_PREFIX = "subscription:"


@dataclass
class SubscriptionRead:
    """What one subscription's log gave this cycle: values per company domain, and the next cursor."""

    key: str  # the name under companies.subscriptions
    subscription_id: str
    cursor_name: str
    cursor: str | None  # where the next cycle starts reading (saved once the writes landed)
    values: dict[str, dict[str, PropertyValue]] = field(default_factory=dict)  # domain -> values
    entries: int = 0
    company_ids: list[str] = field(default_factory=list)  # the companies its values go to


def read_subscriptions(
    mapping: Mapping, saber: SaberClient, store: StateStore
) -> tuple[list[SubscriptionRead], list[Failure]]:
    """Read every mapped subscription's new executions; a failing subscription fails alone (said)."""
    reads, failures = [], []
    for key, spec in mapping.subscriptions().items():
        read = _read_one(mapping, saber, store, key, spec.id)
        if isinstance(read, Failure):
            failures.append(read)
        else:
            reads.append(read)
    return reads, failures


def _read_one(
    mapping: Mapping, saber: SaberClient, store: StateStore, key: str, subscription_id: str
) -> SubscriptionRead | Failure:
    name = f"{CURSOR_PREFIX}{subscription_id}"
    since, seen_ids = _parse_cursor(store.get_cursor(name))
    newest: dict[str, Signal] = {}
    newest_at, newest_ids = since, set(seen_ids)
    entries = 0
    try:
        for entry in saber.subscription_logs(subscription_id, from_date=since, statuses=["completed"]):
            at = entry.completed_at or entry.created_at
            if since is not None and (at is None or at < since or (at == since and entry.id in seen_ids)):
                continue  # read by an earlier cycle (fromDate is inclusive)
            entries += 1
            if entry.status not in (None, "completed"):
                continue
            if at is not None and (newest_at is None or at > newest_at):
                newest_at, newest_ids = at, set()
            if at is not None and at == newest_at and entry.id:
                newest_ids.add(entry.id)
            domain = _domain(entry)
            if domain is not None and (domain not in newest or _later(entry, newest[domain])):
                newest[domain] = entry
    except SaberNotFound:
        unknown = "Saber knows no subscription with this id"
        return _failure(key, subscription_id, "SUBSCRIPTION_NOT_FOUND", unknown)
    except RUN_GOES_ON as exc:
        return _failure(key, subscription_id, exc.code or "SUBSCRIPTION_READ_FAILED", str(exc))
    values = {d: map_subscription_values(mapping, key, e) for d, e in newest.items()}
    log.info("subscription read", subscription=key, entries=entries, companies=len(values))
    cursor = _format_cursor(newest_at, newest_ids) if newest_at is not None else None
    return SubscriptionRead(key, subscription_id, name, cursor, values, entries)


def _parse_cursor(value: str | None) -> tuple[datetime | None, set[str]]:
    """`<RFC 3339 time> <ids read at exactly that time, comma-separated>` -> (time, ids)."""
    if not value:
        return None, set()
    at, _, ids = value.partition(" ")
    try:
        parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None, set()  # unreadable: read the log from its start (writes stay unchanged-only)
    parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed, set(filter(None, ids.split(",")))


def _format_cursor(at: datetime, ids: set[str]) -> str:
    stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")  # full precision: ties compare exactly
    return f"{stamp} {','.join(sorted(ids))}".rstrip()


def _domain(entry: Signal) -> str | None:
    """The company domain an execution is about: its `domain`, else its `company.domain`."""
    raw = entry.domain
    if not raw:
        company = entry.raw.get("company")
        raw = company.get("domain") if isinstance(company, dict) else None
    text = str(raw or "").strip().lower().removeprefix("www.")
    return text or None


def _later(a: Signal, b: Signal) -> bool:
    """Whether execution `a` is newer than `b` (completion time, then creation time)."""

    def at(s: Signal) -> datetime:
        return s.completed_at or s.created_at or datetime.min.replace(tzinfo=UTC)

    return at(a) > at(b)


def _failure(key: str, subscription_id: str, code: str, message: str) -> Failure:
    text = f"companies.subscriptions.{key} ({subscription_id}): {message}"
    log.warning("subscription not read", subscription=key, error=message)
    return Failure(Subject("subscription", key), code, text)
