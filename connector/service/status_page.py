"""`GET /status`: the status page, one HTML document rendered on the server for people.

It shows the report `saber-connector status` prints (`connector.service.status_report`, the
one source of both) and the readiness `/readyz` says: whether the service is ready and why
not, what waits, the last 50 cycles, credits per day over 30 days, the most common errors of
the last day with example record ids. No script, no external asset (styles inline, pictures
inline SVG), a fluid layout that fits a phone. Every value is escaped; a record shows only
its HubSpot id, and error messages have e-mail addresses masked (HubSpot's echo the value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from html import escape
from typing import Any

from connector.service.status_style import STYLE
from connector.service.status_svg import OUTCOME_COLOURS, Bar, Tick, bar_chart, cycle_strip

PAGE_RUNS = 50  # cycles on the timeline
REFRESH_SECONDS = 30  # the page reloads itself (a meta refresh: no script)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def render_page(
    report: Mapping[str, Any], ready: bool, readiness: Mapping[str, Any], *, now: datetime
) -> str:
    """The whole page for this report and readiness, as of `now` (timezone-aware UTC)."""
    body = "".join(
        [
            _header(report, ready, readiness, now),
            _tiles(report, now),
            _section("Cycles", "cycles", _cycles(report["last_runs"], now)),
            _section("Credits per day", "credits", _credits(report)),
            _section("What waits", "waiting", _waiting(report, now)),
            _section("Errors of the last day", "errors", _errors(report["errors_last_day"])),
            _section("Figures", "figures", _figures(report)),
        ]
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="robots" content="noindex">'
        f"<title>{'Ready' if ready else 'Not ready'} · saber-connector status</title>"
        f"<style>{STYLE}</style></head>"
        f'<body><main class="page">{body}'
        f"<footer>Times are UTC. The page reloads every {REFRESH_SECONDS} s."
        " The same figures: <code>saber-connector status</code>.</footer></main></body></html>\n"
    )


# ---------------------------------------------------------------------- parts
def _header(report: Mapping[str, Any], ready: bool, readiness: Mapping[str, Any], now: datetime) -> str:
    reason = readiness.get("reason")
    state = "ready" if ready else "not-ready"
    why = escape(str(reason)) if reason else "The state database answers and nothing holds the cycles back."
    why = f'<p class="reason" id="ready-reason">{why}</p>'
    last = readiness.get("last_cycle") or {}
    last_line = ""
    if last:
        finished = _parse(last.get("finished_at"))
        last_line = (
            f'<p class="last">Last cycle: {escape(str(last.get("kind", "")))}, '
            f"{_outcome(str(last.get('outcome', '')))}"
            + (f", {_when(finished, now)}" if finished else "")
            + (f' <span class="muted">({escape(str(last["error"]))})</span>' if last.get("error") else "")
            + "</p>"
        )
    return (
        '<header class="top"><div class="title"><h1>saber-connector</h1>'
        f'<p class="muted">Status as of {_when(now, now)}</p></div>'
        f'<div class="readiness {state}" id="readiness" data-ready="{str(ready).lower()}">'
        f'<span class="dot"></span><strong>{"Ready" if ready else "Not ready"}</strong>'
        f"{why}{last_line}</div></header>"
    )


def _tiles(report: Mapping[str, Any], now: datetime) -> str:
    pending = report.get("research_pending") or {}
    oldest = _parse(pending.get("oldest_launched_at"))
    writes = sum((report.get("writes_pending") or {}).values())
    signals = report.get("signals") or {}
    days = report.get("credits_by_day") or []
    month = sum(d["credits"] for d in days)
    today = days[-1]["credits"] if days else 0
    errors = sum(e["count"] for e in report.get("errors_last_day") or [])
    companies = (report.get("companies") or {}).get("waiting", 0)
    tiles = [
        ("research-pending", "Research pending", pending.get("count", 0), _ago(oldest, now, "oldest ")),
        ("writes-pending", "Waiting to be written", writes, "results not landed in HubSpot"),
        ("signals", "Signals in flight", signals.get("asking", 0) + signals.get("processing", 0), "at Saber"),
        ("companies-waiting", "Companies waiting", companies, "company writes to retry"),
        ("credits-30d", "Credits, 30 days", month, f"{today} today"),
        ("errors-day", "Errors, last day", errors, _count(len(report.get("errors_last_day") or []), "code")),
    ]
    cells = "".join(
        f'<div class="tile" id="tile-{key}"><span class="label">{escape(label)}</span>'
        f'<span class="value">{_int(value)}</span><span class="note">{escape(note)}</span></div>'
        for key, label, value, note in tiles
    )
    return f'<section class="tiles" aria-label="At a glance">{cells}</section>'


def _cycles(runs: list[Mapping[str, Any]], now: datetime) -> str:
    if not runs:
        return '<p class="empty">No cycle has run yet.</p>'
    longest = max((r["seconds"] or 0 for r in runs), default=0) or 1
    ticks = [
        Tick(
            r["outcome"],
            (r["seconds"] or 0) / longest,
            f"#{r['id']} {r['kind']} {r['outcome']}, {_utc(r['started_at'])} UTC, {_duration(r['seconds'])},"
            f" {r['written']} written, {r['credits']} credits",
        )
        for r in reversed(runs)
    ]
    legend = "".join(
        f'<span class="key"><i style="background:{colour}"></i>{escape(name)}</span>'
        for name, colour in OUTCOME_COLOURS.items()
        if name in {r["outcome"] for r in runs}
    )
    rows = "".join(
        f'<tr class="cycle" data-run="{r["id"]}" data-kind="{escape(r["kind"])}"'
        f' data-outcome="{escape(r["outcome"])}">'
        f'<td class="when">{_when(r["started_at"], now, short=True)}</td>'
        f"<td>{escape(r['kind'])}</td><td>{_outcome(r['outcome'])}"
        + (f'<div class="err">{escape(_mask(str(r["error"])))}</div>' if r["error"] else "")
        + f'</td><td class="num">{escape(_duration(r["seconds"]))}</td>'
        f'<td class="num written">{_int(r["written"])}</td>'
        f'<td class="num credits">{_int(r["credits"])}</td></tr>'
        for r in runs
    )
    strip = cycle_strip(ticks, label=f"The last {len(runs)} cycles, oldest first; height: duration")
    return (
        f'<p class="muted">The last {len(runs)} cycles, newest first. Bars: oldest to newest,'
        f' as tall as they took.</p>{strip}<p class="legend">{legend}</p>'
        '<div class="scroll"><table class="runs"><thead><tr><th>Started</th><th>Kind</th><th>Outcome</th>'
        '<th class="num">Took</th><th class="num">Written</th><th class="num">Credits</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _credits(report: Mapping[str, Any]) -> str:
    days = report.get("credits_by_day") or []
    bars = []
    for i, d in enumerate(days):
        day = date.fromisoformat(d["day"])
        label = f"{day:%b} {day.day}" if (len(days) - 1 - i) % 7 == 0 else ""  # a week apart, today last
        bars.append(Bar(label, d["credits"], f"{d['day']}: {d['credits']} credits"))
    economy = report.get("economy") or {}
    last = ""
    if economy:
        kinds = ", ".join(
            f"{k.replace('_', ' ')} {n}" for k, n in (economy.get("credits_by_kind") or {}).items() if n
        )
        saved = sum((economy.get("credits_saved") or {}).values())
        last = (
            f'<p>Last sync: <strong id="credits-last-run">{_int(economy["credits_used"])}</strong>'
            " credits used"
            + (f" ({escape(kinds)})" if kinds else "")
            + (f", {_int(saved)} saved by answers at hand" if saved else "")
            + ".</p>"
        )
    total = sum(d["credits"] for d in days)
    chart = bar_chart(bars, label=f"Credits spent per day, last {len(days)} days (UTC)")
    return (
        f'<p class="muted">{_int(total)} credits over the last {len(days)} days (UTC days).</p>{chart}{last}'
    )


def _waiting(report: Mapping[str, Any], now: datetime) -> str:
    pending = report.get("research_pending") or {}
    oldest = _parse(pending.get("oldest_launched_at"))
    rows = [
        (
            "Research pending at Saber",
            pending.get("count", 0),
            f"oldest launched {_when(oldest, now)}" if oldest else "",
        )
    ]
    since = report.get("writes_pending_since") or {}
    for reason, n in (report.get("writes_pending") or {}).items():
        first = _parse(since.get(reason))
        rows.append(
            (f"Waiting to be written: {reason}", n, f"oldest since {_when(first, now)}" if first else "")
        )
    if not report.get("writes_pending"):
        rows.append(("Waiting to be written", 0, ""))
    signals = report.get("signals") or {}
    rows.append(
        (
            "Signals in flight at Saber",
            signals.get("asking", 0) + signals.get("processing", 0),
            f"failed, asked again later: {signals['failed']}" if signals.get("failed") else "",
        )
    )
    companies = report.get("companies") or {}
    rows.append(("Companies waiting to be written", companies.get("waiting", 0), "a refused or failed write"))
    for reason, n in sorted((companies.get("unmatched_contacts") or {}).items()):
        rows.append((f"Contacts with no company: {reason}", n, "all runs"))
    body = "".join(
        f'<tr><th scope="row">{escape(what)}'
        + (f'<div class="note">{note}</div>' if note else "")
        + f'</th><td class="num">{_int(n)}</td></tr>'
        for what, n, note in rows
    )
    return f'<table class="kv waiting"><tbody>{body}</tbody></table>'


def _errors(errors: list[Mapping[str, Any]]) -> str:
    if not errors:
        return '<p class="empty" id="no-errors">No errors in the last day.</p>'
    rows = "".join(
        f'<tr class="error-row"><td><code class="code">{escape(e["code"])}</code>'
        f'<div class="err">{escape(_mask(str(e["latest"] or "")))}</div></td>'
        f'<td class="num count">{_int(e["count"])}</td>'
        f'<td class="ids">{" ".join(f"<code>{escape(i)}</code>" for i in e["examples"]) or "—"}</td></tr>'
        for e in errors
    )
    return (
        '<p class="muted">Most common first, with the latest message and example records (HubSpot ids;'
        " <code>saber-connector explain ID</code> tells more).</p>"
        '<div class="scroll"><table class="errors"><thead><tr><th>Error</th><th class="num">Count</th>'
        f"<th>Examples</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _figures(report: Mapping[str, Any]) -> str:
    groups: list[tuple[str, Mapping[str, Any]]] = [("Research by status", report.get("research") or {})]
    if report.get("skip_reasons"):
        groups.append(("Skip reasons, last sync", report["skip_reasons"]))
    economy = report.get("economy") or {}
    if economy.get("api_calls"):
        groups.append(("API calls, last sync", economy["api_calls"]))
    companies = report.get("companies") or {}
    if companies:
        keys = ("matched", "written", "subscription_entries_read")
        groups.append(("Companies, last sync", {k.replace("_", " "): companies.get(k, 0) for k in keys}))
    for name, section in (("Prospecting", "prospecting"), ("LinkedIn", "linkedin")):
        totals = (report.get(section) or {}).get("totals") or {}
        flat = {k.replace("_", " "): v for k, v in totals.items() if isinstance(v, int)}
        if flat:
            groups.append((f"{name}, all runs", flat))
    privacy = report.get("privacy") or {}
    if privacy:
        groups.append(("Personal data removed", {k.replace("_", " "): v for k, v in privacy.items()}))
    common = {e["code"]: e["count"] for e in report.get("common_errors") or []}
    if common:
        groups.append(("Most common errors, all time", common))
    cards = "".join(
        f'<div class="card" id="card-{_slug(title)}"><h3>{escape(title)}</h3>{_pairs(values.items())}</div>'
        for title, values in groups
    )
    mode = report.get("research_mode")
    note = f'<p class="muted">Research launched {escape(str(mode))}.</p>' if mode else ""
    return f'<div class="cards">{cards}</div>{note}'


def _pairs(items: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(str(k))}</th><td class="num">{_int(v)}</td></tr>' for k, v in items
    )
    return f'<table class="kv"><tbody>{rows or "<tr><td>none yet</td></tr>"}</tbody></table>'


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _section(title: str, key: str, inner: str) -> str:
    return f'<section class="panel" id="{key}"><h2>{escape(title)}</h2>{inner}</section>'


# ---------------------------------------------------------------------- values
def _outcome(outcome: str) -> str:
    return f'<span class="badge {escape(outcome)}">{escape(outcome)}</span>'


def _when(at: datetime | None, now: datetime, *, short: bool = False) -> str:
    """`<time>` in UTC with the relative time beside it."""
    if at is None:
        return "—"
    shown = f'<span class="day">{at:%m-%d} </span>{at:%H:%M:%S}' if short else f"{at:%Y-%m-%d %H:%M:%S} UTC"
    return (
        f'<time datetime="{at.isoformat()}" title="{_utc(at)} UTC">{shown}</time>'
        f' <span class="rel">{escape(relative(at, now))}</span>'
    )


def _ago(at: datetime | None, now: datetime, prefix: str) -> str:
    return f"{prefix}{relative(at, now)}" if at else "none waiting"


def relative(at: datetime, now: datetime) -> str:
    """`just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago` (or `in …` for a time to come)."""
    seconds = (now - at).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < 5:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size:
            n = int(seconds // size)
            return f"in {n} {unit}" if ahead else f"{n} {unit} ago"
    return "just now"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _utc(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S}"


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _mask(text: str) -> str:
    """An error message fit for the page: e-mail addresses (HubSpot echoes a refused value) masked."""
    return _EMAIL.sub("‹email›", text)
