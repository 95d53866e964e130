"""What one sync run is asked to do (CLI flags), as a frozen value object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncOptions:
    """Flags of one run; `None` means "as the mapping and settings say"."""

    dry_run: bool = False
    max_new: int | None = None  # --max-new: at most this many launches (also capped by the mapping)
    contact_ids: tuple[str, ...] = ()  # --contact: limit the run to these HubSpot ids
    wait_seconds: float = 0.0  # --wait: how long to wait for pending research
    full: bool = False  # ignore the saved cursor and pull every matching contact
    collect_only: bool = False  # the service's collect cycle: pending research only, no pull
    look_now: bool = False  # look pending research up now, whenever its next look was due (webhooks)
