"""The status page's stylesheet, inline in the page: no external asset to fetch or to block.

A fluid layout: tiles and cards wrap by the width at hand, tables shrink to a phone's width
(390 px) without a horizontal scroll, and a dark scheme follows the system's.
"""

from __future__ import annotations

STYLE = """
:root{--bg:#f6f8fa;--panel:#fff;--text:#1f2328;--muted:#59636e;--line:#d1d9e0;--accent:#0969da;
--ok:#1a7f37;--partial:#9a6700;--failed:#cf222e;--interrupted:#8250df;--running:#0969da;--skipped:#6e7781;
--radius:10px;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;
color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--panel:#151b23;--text:#e6edf3;--muted:#9198a1;
--line:#3d444d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font-size:15px;line-height:1.45}
.page{max-width:1080px;margin:0 auto;padding:20px 16px 32px}
h1{font-size:22px;margin:0 0 2px;letter-spacing:-.01em}
h2{font-size:16px;margin:0 0 10px}
h3{font-size:13px;margin:0 0 6px;color:var(--muted);font-weight:600;text-transform:uppercase;
letter-spacing:.04em}
p{margin:6px 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;
background:rgba(127,127,127,.12);padding:1px 5px;border-radius:5px;overflow-wrap:anywhere}
.muted,.rel,.note{color:var(--muted)}
.rel{font-size:.86em;white-space:nowrap}
.top{display:flex;flex-wrap:wrap;gap:14px;align-items:stretch;justify-content:space-between;margin-bottom:14px}
.title{padding-top:4px}
.readiness{flex:1 1 340px;max-width:640px;background:var(--panel);border:1px solid var(--line);
border-left:5px solid var(--ok);border-radius:var(--radius);padding:10px 14px}
.readiness.not-ready{border-left-color:var(--failed)}
.readiness strong{font-size:17px}
.readiness .dot{display:inline-block;width:10px;height:10px;border-radius:50%;background:var(--ok);
margin-right:8px;vertical-align:1px}
.readiness.not-ready .dot{background:var(--failed)}
.reason{overflow-wrap:anywhere}
.last{font-size:.92em;color:var(--muted)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin-bottom:14px}
.tile{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);padding:10px 12px;
display:flex;flex-direction:column;min-width:0}
.tile .label{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;margin:2px 0}
.tile .note{font-size:12.5px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:var(--radius);padding:14px 16px;
margin-bottom:14px;min-width:0}
svg{display:block;width:100%;height:auto;margin:8px 0}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:13px;color:var(--muted)}
.key i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
tbody tr:last-child th,tbody tr:last-child td{border-bottom:0}
.num{text-align:right;white-space:nowrap}
.when time{white-space:nowrap}
.err{font-size:12.5px;color:var(--muted);margin-top:2px;overflow-wrap:anywhere}
.badge{display:inline-block;font-size:12px;font-weight:600;padding:1px 8px;border-radius:999px;color:#fff;
background:var(--skipped)}
.badge.ok{background:var(--ok)}.badge.partial{background:var(--partial)}.badge.failed{background:var(--failed)}
.badge.interrupted{background:var(--interrupted)}.badge.running{background:var(--running)}
.kv th{font-weight:500}
.kv.waiting .note{font-size:13px;font-weight:400}
.kv.waiting td{width:6em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;min-width:0}
.card .kv th,.card .kv td{padding:3px 4px;font-size:14px}
.ids code{display:inline-block;margin:1px 2px 1px 0}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:13px;text-align:center;margin-top:18px}
@media (max-width:600px){
body{font-size:14px}
.tiles{grid-template-columns:repeat(2,minmax(0,1fr))}
.tile .value{font-size:22px}
th,td{padding:5px 4px}
.runs .rel{display:block}
.runs .day{display:none}
thead th{letter-spacing:0;font-size:10.5px}
.runs{font-size:13px}
.runs th,.runs td{padding:5px 3px}
.runs .badge{padding:1px 6px}
.page{padding:12px 8px 24px}
.panel{padding:12px 8px}
}
"""
