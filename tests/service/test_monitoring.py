"""The Prometheus rules and the Grafana dashboard in config/, checked against promtool and the real /metrics.

promtool comes from Debian's `prometheus` package: the session fixture installs it when it is
missing (root and apt-get needed; the package's service is kept from starting), and the tests
that need it skip, saying why, where it cannot be installed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from connector.linkedin.summary import LinkedInSummary
from connector.sandbox.runner import start_sandbox
from connector.service.metrics import Metrics
from connector.sync.prospect_summary import ProspectSummary
from connector.sync.summary import RunSummary
from tests.linkedin.world import build
from tests.reliability import kit
from tests.reliability.kit import Service, free_port, http_env
from tests.service.promql_vocabulary import Exported, parse
from tests.sync_harness import sandbox_env, wait_until, write_mapping

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "config" / "prometheus"
RULES = PROMETHEUS / "saber-connector.rules.yaml"
RULE_TESTS = PROMETHEUS / "saber-connector.rules.test.yaml"
DASHBOARD = ROOT / "config" / "grafana" / "saber-connector.json"
ALERTS = {
    "SaberConnectorNoSuccessfulCycle",
    "SaberConnectorCyclesFailing",
    "SaberConnectorCreditsRunningOut",
    "SaberConnectorResearchPilingUp",
    "SaberConnectorNotReady",
    "SaberConnectorWebhooksRefused",
}
POLICY_RC = Path("/usr/sbin/policy-rc.d")


# ---------------------------------------------------------------------------- promtool
def _install_promtool() -> str | None:
    """Install Debian's `prometheus` package (for promtool) without starting its service; why not, or None."""
    if os.geteuid() != 0:
        return "promtool is missing and installing Debian's prometheus package needs root"
    if shutil.which("apt-get") is None:
        return "promtool is missing and there is no apt-get to install Debian's prometheus package"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    made_policy = not POLICY_RC.exists()
    if made_policy:  # "101: action forbidden": the package's service is not started
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
        POLICY_RC.chmod(0o755)
    try:
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 and shutil.which("promtool") is None:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300)
            proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get install prometheus failed: {exc}"
    finally:
        if made_policy:
            POLICY_RC.unlink(missing_ok=True)
    if shutil.which("promtool") is None:  # a failed service start alone leaves the binary installed
        return f"apt-get install prometheus failed (no network?): {(proc.stdout + proc.stderr)[-400:]}"
    return None


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary, installed once (one xdist worker at a time) when it is missing."""
    found = shutil.which("promtool")
    if found is None:
        with open(Path(tempfile.gettempdir()) / "saber-connector-promtool.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            why = _install_promtool() if shutil.which("promtool") is None else None
        if why is not None:
            pytest.skip(why)
        found = shutil.which("promtool")
    assert found is not None
    return found


def _promtool(binary: str, *args: str | Path, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_promtool_check_rules_passes(promtool: str) -> None:
    """`promtool check rules` accepts the rule file and finds its six alerts."""
    proc = _promtool(promtool, "check", "rules", RULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in proc.stdout


def test_promtool_test_rules_passes(promtool: str) -> None:
    """`promtool test rules` passes every unit test beside the rule file."""
    proc = _promtool(promtool, "test", "rules", RULE_TESTS.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_test_rules_fails_on_a_changed_threshold(promtool: str, tmp_path: Path) -> None:
    """The unit tests catch a rule changed behind their back: an hour's threshold made ten hours fails them."""
    text = RULES.read_text(encoding="utf-8")
    assert "> 3600" in text
    (tmp_path / RULES.name).write_text(text.replace("> 3600", "> 36000"), encoding="utf-8")
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    proc = _promtool(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert proc.returncode != 0 and "SaberConnectorNoSuccessfulCycle" in proc.stdout + proc.stderr


def test_promtool_check_config_passes_on_the_compose_prometheus(promtool: str) -> None:
    """`promtool check config` accepts the monitoring profile's prometheus.yml and the rule file it loads."""
    proc = _promtool(promtool, "check", "config", "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert RULES.name in proc.stdout


# ---------------------------------------------------------------------------- the rule file
def _rules() -> list[dict]:
    return [
        rule
        for group in YAML(typ="safe").load(RULES.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]


def _rule_tests() -> list[dict]:
    return YAML(typ="safe").load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]


def test_every_alert_waits_has_a_severity_and_says_what_and_why() -> None:
    """The six alerts are there, each with `for:`, a severity label, a summary and a description."""
    rules = _rules()
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        assert rule.get("for"), f"{rule['alert']}: no `for:`"
        assert rule["labels"]["severity"] in ("page", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_alert_has_a_unit_test_firing_and_one_not_firing() -> None:
    """For each alert the promtool unit tests expect it firing at some time and not firing at another."""
    fires, quiet = Counter[str](), Counter[str]()
    for group in _rule_tests():
        for check in group["alert_rule_test"]:
            (fires if check.get("exp_alerts") else quiet)[check["alertname"]] += 1
    assert set(fires) == ALERTS, f"never expected firing: {ALERTS - set(fires)}"
    assert set(quiet) == ALERTS, f"never expected quiet: {ALERTS - set(quiet)}"


# ---------------------------------------------------------------------------- the dashboard
def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(board: dict) -> list[dict]:
    return [p for top in board["panels"] for p in (top, *top.get("panels", []))]


def _expressions() -> dict[str, str]:
    """Every PromQL expression in the rule file and the dashboard, by where it is."""
    found = {f"rule {r['alert']}": r["expr"] for r in _rules()}
    for panel in _panels(_dashboard()):
        for target in panel.get("targets", []):
            found[f"panel {panel['title']!r} {target['refId']}"] = target["expr"]
    return found


def test_the_dashboard_is_importable_and_covers_the_service() -> None:
    """The dashboard has a Prometheus datasource input, a uid, a title and a schema version, and panels for every part of the service."""
    board = _dashboard()
    assert [(i["name"], i["type"], i["pluginId"]) for i in board["__inputs"]] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")
    ]
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    panels = [p for p in _panels(board) if p["type"] != "row"]
    ids = [p["id"] for p in _panels(board)]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
    named = {m for p in panels for t in p["targets"] for m in parse(t["expr"]).metrics}
    for metric in (
        "cycles_total",
        "cycle_duration_seconds_bucket",
        "research_pending",
        "credits_used_total",
        "credits_left",
        "api_requests_total",
        "api_retries_total",
        "webhooks_total",
        "companies_total",
        "answers_held_back_total",
        "linkedin_jobs",
        "linkedin_scans",
        "linkedin_credits_spent",
    ):
        assert "saber_connector_" + metric in named, f"no panel shows saber_connector_{metric}"


# ---------------------------------------------------------------------------- the vocabulary
@pytest.fixture(scope="module")
def service_metrics(tmp_path_factory: pytest.TempPathFactory) -> str:
    """/metrics of `saber-connector run` after full, collect and linkedin cycles against the sandbox."""
    tmp_path = tmp_path_factory.mktemp("monitoring")
    with start_sandbox(contacts=5, seed=3, research_delay=0.2, integrations=True) as box:
        build(box, tmp_path)
        port = free_port()
        env = sandbox_env(box, tmp_path, tmp_path / "mapping.yaml")
        env.update(http_env(port))
        env.update(
            {
                "CONNECTOR_SCHEDULE": "1h",
                "CONNECTOR_COLLECT_INTERVAL": "1s",
                "CONNECTOR_LINKEDIN_SCHEDULE": "1s",
            }
        )
        with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
            run = Service(proc, port)
            wait_until(run.started, timeout=30)
            wait_until(lambda: run.cycles_through("full") >= 1, timeout=60)
            wait_until(lambda: run.cycles_through("linkedin") >= 1, timeout=60)
            return run.get("/metrics").text


def _fed_registry() -> str:
    """The service's registry after one of each summary with every labelled count, so every label shows."""
    metrics = Metrics()
    now = datetime.now(UTC)
    summary = RunSummary(started_at=now)
    summary.skipped.update({"invalid_inputs": 1})
    summary.low_confidence.update({"saber_fit": 1})
    summary.company_events.update({"unmatched_no_association": 1})
    metrics.cycle_finished("full", "ok", 1.0, summary)
    metrics.prospect_finished(ProspectSummary(started_at=now, skipped=Counter({"no_name": 1})))
    metrics.linkedin_finished(
        LinkedInSummary(started_at=now), {"jobs": {"imported": 1}, "scans": {"done": 1}}
    )
    metrics.observe_api("saber", "launch", 200, retried=True)
    return metrics.exposition().decode()


@pytest.fixture(scope="module")
def exported(service_metrics: str) -> Exported:
    found = Exported()
    found.add_text(service_metrics)
    found.add_text(_fed_registry())
    return found


def test_the_service_exports_its_readiness(service_metrics: str) -> None:
    """A ready service's /metrics says `saber_connector_ready 1`, the gauge the not-ready alert reads."""
    assert "saber_connector_ready 1.0" in service_metrics.splitlines()


def test_every_expression_names_only_exported_metrics_and_labels(exported: Exported) -> None:
    """Each PromQL expression in the rules and the dashboard names metrics /metrics exports, and labels they carry."""
    expressions = _expressions()
    assert len(expressions) > len(ALERTS) + 20
    problems = {where: p for where, expr in expressions.items() if (p := exported.problems(expr))}
    assert not problems, json.dumps(problems, indent=1)


def test_the_rule_unit_tests_feed_exported_series(exported: Exported) -> None:
    """The promtool unit tests' input series are metrics /metrics exports, with labels they carry, so a quiet test means something."""
    series = [s["series"] for group in _rule_tests() for s in group["input_series"]]
    assert series
    problems = {s: p for s in series if (p := exported.problems(s))}
    assert not problems, json.dumps(problems, indent=1)


def test_a_misspelled_metric_or_label_is_caught(exported: Exported) -> None:
    """The check that guards the rules and the dashboard reports a misspelled metric and a label its metric lacks."""
    assert exported.problems("sum by (kind) (rate(saber_connector_cycles_total[5m]))") == []
    assert exported.problems("rate(saber_connector_cycle_total[5m])") == [
        "unknown metric 'saber_connector_cycle_total'"
    ]
    assert exported.problems('saber_connector_webhooks_total{outcom="accepted"}') == [
        "label 'outcom' on none of its metrics"
    ]
    assert exported.problems("sum by (service) (saber_connector_research_total)") == [
        "label 'service' on none of its metrics"
    ]


# ---------------------------------------------------------------------------- the ready gauge
@pytest.fixture
def metrics() -> Iterator[Metrics]:
    yield Metrics()


def _ready(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("saber_connector_ready")


def test_the_ready_gauge_follows_the_readiness_it_watches(metrics: Metrics) -> None:
    """`saber_connector_ready` is 0 before the service hands over its readiness, then reads it at each scrape; a failing check is 0."""
    assert _ready(metrics) == 0
    state = {"ready": True}
    metrics.watch_readiness(lambda: state["ready"])
    assert _ready(metrics) == 1
    state["ready"] = False
    assert _ready(metrics) == 0

    def broken() -> bool:
        raise RuntimeError("the state database does not answer")

    metrics.watch_readiness(broken)
    assert _ready(metrics) == 0


def test_a_service_that_is_not_ready_exports_ready_0(tmp_path: Path) -> None:
    """With a key Saber refuses, /readyz answers 503 and /metrics says `saber_connector_ready 0`, what SaberConnectorNotReady reads."""
    with start_sandbox(contacts=3, seed=3, integrations=False) as box:
        port = free_port()
        env = sandbox_env(box, tmp_path, write_mapping(tmp_path))
        env.update(http_env(port))
        env.update(
            {
                "SABER_API_KEY": "sk_test_refusedrefusedrefused",
                "CONNECTOR_SCHEDULE": "1s",
                "CONNECTOR_BACKOFF_INITIAL_SECONDS": "30",
            }
        )
        with kit.running(env, tmp_path, tmp_path / "run.log") as proc:
            run = Service(proc, port)
            wait_until(run.started, timeout=30)
            wait_until(lambda: run.get("/readyz").status_code == 503, timeout=30)
            assert run.metric("saber_connector_ready") == 0
            assert "sk_test_refused" not in run.get("/metrics").text
