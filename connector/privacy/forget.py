"""`forget`: remove what the state holds about people named by HubSpot id or by email.

Emails are matched in HubSpot (a contacts search, `email EQ`: read only) and in the stored
research; nothing is written to HubSpot and Saber is never called. The freed pages are then
overwritten (`scrub_files`), so the values do not linger in the database's files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.hubspot.records import SearchFilter

if TYPE_CHECKING:
    from connector.hubspot import HubSpotAdapter
    from connector.state import StateStore
    from connector.state.privacy import ForgetReport


@dataclass(frozen=True)
class ForgetOutcome:
    """What `forget` removed (or would remove, in a dry run), and how each person was found."""

    report: ForgetReport
    by_email: tuple[tuple[str, tuple[str, ...]], ...]  # (email, contact ids it matched)

    @property
    def nothing(self) -> bool:
        """True when there was nothing to remove (a second run, or people the state never held)."""
        return self.report.total == 0

    def to_json(self) -> dict[str, Any]:
        r = self.report
        return {
            "dry_run": r.dry_run,
            "contact_ids": list(r.contact_ids),
            "emails": {email: list(ids) for email, ids in self.by_email},
            "removed": [{"table": x.table, "rows": x.rows, "what": x.what} for x in r.removed],
            "total": r.total,
        }

    def render(self) -> str:
        r = self.report
        people = ", ".join(r.contact_ids) or "none"
        head = "would remove" if r.dry_run else "removed"
        lines = [f"contacts: {people}"]
        for email, ids in self.by_email:
            lines.append(f"  {email}: {', '.join(ids) or 'no contact'}")
        if self.nothing:
            lines.append("nothing to remove")
            return "\n".join(lines)
        lines.append(f"{head} {r.total} rows:")
        lines += [f"  {x.rows:>6}  {x.what} ({x.table})" for x in r.removed if x.rows]
        return "\n".join(lines)


def contacts_for_emails(
    emails: Sequence[str], store: StateStore, hubspot: HubSpotAdapter | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each email with the contact ids it names, in HubSpot (when a client is given) and in the state."""
    found = []
    for email in emails:
        ids = set(store.privacy.contacts_with_email(email))
        if hubspot is not None:
            hits = hubspot.search_contacts(
                properties=["email"], filters=[SearchFilter("email", "EQ", email.strip())]
            )
            ids.update(c.id for c in hits)
        found.append((email, tuple(sorted(ids, key=_id_order))))
    return tuple(found)


def forget_people(
    store: StateStore,
    contact_ids: Sequence[str],
    emails: Sequence[str] = (),
    *,
    hubspot: HubSpotAdapter | None = None,
    dry_run: bool = False,
) -> ForgetOutcome:
    """Forget these contacts and those the emails match; a dry run removes (and scrubs) nothing."""
    by_email = contacts_for_emails(emails, store, hubspot)
    ids = {c.strip() for c in contact_ids} | {cid for _, found in by_email for cid in found}
    report = store.privacy.forget(sorted(ids, key=_id_order), dry_run=dry_run, reason="request")
    if not dry_run:
        store.privacy.scrub_files()
    return ForgetOutcome(report=report, by_email=by_email)


def _id_order(cid: str) -> tuple[int, str]:
    """HubSpot ids are numbers: order them as numbers (anything else after, as text)."""
    return (int(cid), "") if cid.isdigit() else (1 << 62, cid)
