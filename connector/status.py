"""`saber-connector status`: what the state store says about research, runs and errors."""

from __future__ import annotations

from typing import Any

from connector.state import StateStore


def status_report(store: StateStore, runs: int = 5, errors: int = 5) -> dict[str, Any]:
    """Counts by research status, the last runs and the most common errors, as plain data."""
    return {
        "research": store.status_counts(),
        "skip_reasons": _last_skips(store),
        "skipped_examples": [{"contact_id": cid, "reason": why} for cid, why in store.skipped_examples()],
        "writes_pending": store.count_write_pending(),
        "last_runs": [
            {
                "id": r.id,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "outcome": r.outcome,
                "counts": r.counts,
                "error": r.error,
            }
            for r in store.last_runs(runs)
        ],
        "common_errors": [
            {"code": code, "count": count, "latest": message}
            for code, count, message in store.common_errors(errors)
        ],
    }


def _last_skips(store: StateStore) -> dict[str, int]:
    """Skip reasons of the latest finished run, most common first."""
    for run in store.last_runs(5):
        skipped = (run.counts or {}).get("skipped")
        if run.outcome != "running" and skipped is not None:
            return dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0])))
    return {}


def render_status(report: dict[str, Any]) -> str:
    lines = ["research by status:"]
    counts = report["research"] or {}
    lines += [f"  {name:<12}{n}" for name, n in sorted(counts.items())] or ["  (none yet)"]
    skips = report.get("skip_reasons") or {}
    if skips:
        lines.append("most common skip reasons (last run):")
        lines += [f"  {reason:<24}{n}" for reason, n in skips.items()]
        lines += [f"  e.g. {e['contact_id']}: {e['reason']}" for e in report.get("skipped_examples") or []][
            :3
        ]
    waiting = report.get("writes_pending") or {}
    lines.append(f"results waiting to be written: {sum(waiting.values())}")
    lines += [f"  {reason:<24}{n}" for reason, n in sorted(waiting.items())]
    lines.append("last runs:")
    for run in report["last_runs"] or []:
        c = run["counts"] or {}
        research = c.get("research", {})
        lines.append(
            f"  #{run['id']} {run['started_at']:%Y-%m-%d %H:%M:%S} {run['outcome']:<11}"
            f" seen {c.get('contacts_seen', 0)}, launched {research.get('launched', 0)},"
            f" written {c.get('contacts_written', 0)}, failures {c.get('record_failures', 0)}"
            + (f" ({run['error']})" if run["error"] else "")
        )
    if not report["last_runs"]:
        lines.append("  (no runs yet)")
    lines.append("most common errors:")
    for err in report["common_errors"] or []:
        lines.append(f"  {err['code']:<24}{err['count']:>6}  latest: {err['latest']}")
    if not report["common_errors"]:
        lines.append("  (none)")
    return "\n".join(lines)
