"""`GET /status` of a `saber-connector run` that ran cycles against the sandbox, over real HTTP."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.sandbox.server import Knobs
from connector.state import StateStore
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.service.status_kit import RanService, ran_service
from tests.support import run_cli
from tests.sync_harness import sandbox_env, wait_until, write_mapping

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RanService]:
    with ran_service(tmp_path_factory.mktemp("status")) as running:
        yield running


def tile(page: str, key: str) -> int:
    """The number an at-a-glance tile shows."""
    found = re.search(rf'id="tile-{key}".*?<span class="value">([\d,]+)</span>', page, re.S)
    assert found, f"no tile {key}"
    return int(found.group(1).replace(",", ""))


def card(page: str, key: str) -> dict[str, int]:
    """The figures of one card of the page's figures section, by row name."""
    found = re.search(rf'id="card-{key}".*?</table>', page, re.S)
    assert found, f"no card {key}"
    rows = re.findall(r'<th scope="row">([^<]*)</th><td class="num">([\d,]+)</td>', found.group(0))
    return {html.unescape(name): int(n.replace(",", "")) for name, n in rows}


def cycles(page: str) -> dict[int, tuple[str, str, int, int]]:
    """The timeline's rows: run id -> (kind, outcome, contacts written, credits)."""
    rows = re.findall(
        r'<tr class="cycle" data-run="(\d+)" data-kind="([^"]*)" data-outcome="([^"]*)">.*?'
        r'class="num written">([\d,]+)</td><td class="num credits">([\d,]+)</td>',
        page,
        re.S,
    )
    return {int(i): (k, o, int(w.replace(",", "")), int(c.replace(",", ""))) for i, k, o, w, c in rows}


def test_the_page_shows_the_cycles_credits_and_errors_of_the_run(ran: RanService) -> None:
    """The page lists every recorded cycle with its kind and outcome, the credits spent today, and the day's errors with example ids."""
    page = ran.page()
    with StateStore(ran.state_url) as store:
        runs = store.last_runs(50)
        errors = store.common_errors(5)
    shown = cycles(page)
    assert {r.id for r in runs if r.id in shown} == set(shown) and len(shown) >= 3
    assert {kind for kind, *_ in shown.values()} >= {"full", "collect"}
    assert sum(written for *_, written, _ in shown.values()) > 0
    assert tile(page, "credits-30d") > 0 and 'class="bar"' in page
    assert errors and f'<code class="code">{errors[0][0]}</code>' in page
    ids = re.search(r'<td class="ids">(.*?)</td>', page, re.S)
    assert ids and re.search(r"<code>\d+</code>", ids.group(1))  # HubSpot ids as examples
    assert '<meta name="viewport"' in page and "<script" not in page
    assert not re.search(r"\b(src|href|action)=", page)  # no asset, link or form: nothing fetched or sent


def test_page_and_status_command_show_the_same_numbers_and_the_readyz_reason(ran: RanService) -> None:
    """With HubSpot down (no cycle records anything more), the page's figures equal `status --output json`'s and it says why /readyz is not ready."""
    ran.box.hubspot.set_knobs(Knobs(down="reset"))
    try:
        wait_until(lambda: not ran.service.readiness()[0], timeout=30)
        reason = wait_until(lambda: _same_reason(ran), timeout=30)
        assert "HubSpot" in reason
        page = ran.page()
        cli = run_cli("status", "--output", "json", env=ran.env, cwd=ran.tmp_path)
        assert cli.returncode == 0, cli.stderr
        report = json.loads(cli.stdout)
        assert tile(page, "research-pending") == report["research_pending"]["count"]
        assert tile(page, "writes-pending") == sum(report["writes_pending"].values())
        signals = report["signals"]
        assert tile(page, "signals") == signals.get("asking", 0) + signals.get("processing", 0)
        assert tile(page, "credits-30d") == sum(d["credits"] for d in report["credits_by_day"])
        assert tile(page, "errors-day") == sum(e["count"] for e in report["errors_last_day"])
        assert card(page, "research-by-status") == report["research"]
        assert card(page, "most-common-errors-all-time") == {
            e["code"]: e["count"] for e in report["common_errors"]
        }
        shown = cycles(page)
        for run in report["last_runs"]:
            assert shown[run["id"]] == (run["kind"], run["outcome"], run["written"], run["credits"])
        assert 'data-ready="false"' in page and "Not ready" in page
    finally:
        ran.box.hubspot.set_knobs(Knobs())


def _same_reason(ran: RanService) -> str | None:
    """/readyz's reason when the page shows the very same one (the pause's try number moves on)."""
    reason = ran.service.readiness()[1]
    found = re.search(r'id="ready-reason">(.*?)</p>', ran.page(), re.S)
    return reason if found and html.unescape(found.group(1)) == reason and reason else None


def test_the_page_escapes_what_it_shows_and_masks_emails(ran: RanService) -> None:
    """An error whose code and message hold markup and an e-mail address is shown escaped, the address masked."""
    with StateStore(ran.state_url) as store:
        store.record_error(
            None,
            "77",
            "<b>BOLD</b>",
            '<script>alert("x")</script> refused jane.doe@example.com',
            of_contact=False,
        )
    page = ran.page()
    assert "&lt;b&gt;BOLD&lt;/b&gt;" in page and "<b>BOLD</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "<script>" not in page
    assert "jane.doe@example.com" not in page and "‹email›" in page


def test_the_page_shows_no_key_token_or_contact_field(ran: RanService) -> None:
    """Neither the sandbox's keys and tokens nor any seeded contact's e-mail, name or other field appear on the page."""
    page = html.unescape(ran.page())
    for secret in ran.secrets():
        assert secret not in page
    values = ran.contact_values()
    assert len(values) > 20
    leaked = [v for v in values if re.search(rf"(?<![\w@.-]){re.escape(v)}(?![\w@.-])", page)]
    assert leaked == []


def test_status_page_off_is_404_and_the_other_endpoints_stay(tmp_path: Path) -> None:
    """With CONNECTOR_STATUS_PAGE=false, /status answers 404 like an unknown path while /metrics still answers."""
    from connector.sandbox.runner import start_sandbox

    with start_sandbox(contacts=2, seed=3) as box:
        port = free_port()
        env = sandbox_env(box, tmp_path, write_mapping(tmp_path))
        env.update(http_env(port))
        env.update({"CONNECTOR_STATUS_PAGE": "false", "CONNECTOR_SCHEDULE": "1h"})
        with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
            service = Service(proc, port)
            wait_until(service.started, timeout=30)
            off = service.get("/status")
            assert off.status_code == 404 and off.json() == service.get("/no-such-page").json()
            assert service.get("/metrics").status_code == 200


def test_the_page_says_when_it_was_made_in_utc_with_relative_times(ran: RanService) -> None:
    """Times carry a machine-readable UTC `datetime` and a relative time beside them."""
    page = ran.page()
    stamps = re.findall(r'<time datetime="([^"]+)"[^>]*>.*?</time> <span class="rel">([^<]+)</span>', page)
    assert len(stamps) > 3
    for stamp, rel in stamps:
        assert datetime.fromisoformat(stamp).utcoffset() == UTC.utcoffset(None)
        assert rel == "just now" or rel.endswith(" ago") or rel.startswith("in ")
