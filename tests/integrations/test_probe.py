"""`check`'s look at the integrations key: valid?, groups reached, the group used, read permissions probed."""

from __future__ import annotations

import json

from connector.commands.check import CheckReport, check_integrations
from connector.integrations.probe import MISSING, NOT_PROBED, OK, probe
from connector.sandbox.integrations import IntegrationsSandbox
from connector.settings import load_settings
from tests.integrations.conftest import fast_client


def test_a_key_with_every_permission_probes_its_reads_and_leaves_writes_unprobed(
    box: IntegrationsSandbox,
) -> None:
    """All reads answer: ok; writes are `not probed`; the one group is the one used; nothing is started."""
    with fast_client(box) as client:
        report = probe(client)
    assert report.key_ok and report.group == box.group_id and report.exit_code == 0
    assert [g.name for g in report.groups] == ["Sandbox"]
    assert report.permissions["prospecting:read"] == OK and report.permissions["signals:read"] == OK
    assert report.permissions["audiences:read"] == OK
    assert report.permissions["prospecting:write"] == NOT_PROBED == report.permissions["signals:write"]
    assert box.count("jobs_list") == 1 and box.requests_to("jobs_list")[0].query["limit"] == ["1"]
    assert box.jobs_started == 0 and box.scans_started == 0 and box.count(method="POST") == 0
    texts = [text for ok, text in report.lines() if ok]
    assert any(f"account group used: {box.group_id}" in t for t in texts)
    assert any("prospecting:read ok" in t and "signals:write not probed" in t for t in texts)


def test_missing_read_permissions_are_problems(box: IntegrationsSandbox) -> None:
    """A key without audiences:read and signals:read: both `missing`, each a problem (exit 3)."""
    box.add_key("sk_live_narrow", ["prospecting:read"])
    with fast_client(box, api_key="sk_live_narrow") as client:
        report = probe(client)
    assert report.key_ok and report.permissions["prospecting:read"] == OK
    assert report.permissions["audiences:read"] == MISSING == report.permissions["signals:read"]
    assert report.exit_code == 3
    assert {text for text, _ in report.problems} == {
        "the key lacks audiences:read",
        "the key lacks signals:read",
    }


def test_a_refused_key_and_an_unresolved_group_are_reported_not_raised(box: IntegrationsSandbox) -> None:
    """A wrong key: not ok, one problem naming INTEGRATIONS_API_KEY (exit 3); two groups, none set: exit 2."""
    with fast_client(box, api_key="sk_live_nobody") as client:
        refused = probe(client)
    assert not refused.key_ok and refused.exit_code == 3 and refused.permissions == {}
    assert "INTEGRATIONS_API_KEY" in refused.problems[0][0] and "sk_live_nobody" not in refused.problems[0][0]
    box.add_group("Second")
    with fast_client(box) as client:
        unresolved = probe(client)
    assert unresolved.key_ok and unresolved.group is None and unresolved.exit_code == 2
    assert "INTEGRATIONS_ACCOUNT_GROUP" in unresolved.problems[0][0] and len(unresolved.groups) == 2


def test_check_reports_the_integration_only_when_its_key_is_set(box: IntegrationsSandbox) -> None:
    """With INTEGRATIONS_API_KEY set, check adds the key's lines and a JSON `integrations` object; unset, nothing."""
    unset = CheckReport()
    check_integrations(load_settings(None, _env_file=None, integrations_api_key=None), unset)
    assert unset.results == [] and "integrations" not in unset.to_json()
    report = CheckReport()
    settings = load_settings(
        None,
        _env_file=None,
        integrations_api_key=box.api_key,
        integrations_base_url=box.url,
        http_max_attempts=1,
    )
    check_integrations(settings, report)
    out = report.to_json()
    assert out["ok"] is True and out["integrations"]["group"] == box.group_id
    assert out["integrations"]["permissions"]["signals:read"] == "ok"
    assert any("accepts INTEGRATIONS_API_KEY" in c["text"] for c in out["checks"])
    assert box.api_key not in json.dumps(out) and box.api_key not in report.render()
