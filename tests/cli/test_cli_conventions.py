"""CLI conventions: --version, -h, help without type noise, --config and --log-level after the
command, check --output json, setup --dry-run, the packaged default mapping and TOML did-you-mean."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from connector import __version__
from connector.cli import app
from connector.errors import ConfigError
from connector.mapping import load_mapping, packaged_mapping
from connector.mapping.model import MAX_FILTERS
from connector.sandbox.runner import RunningSandbox, start_sandbox
from connector.settings import load_settings
from tests.support import run_cli
from tests.sync_harness import prepare, sandbox_env, settings_for, write_mapping

ROOT = Path(__file__).resolve().parents[2]
TYPE_NOISE = re.compile(r"<(bool|int|float|str|path|text|list\[[^>]*\]|[a-z]+ range)>|\[x[<>]=|x[<>]=\d")


def _bare_env(**extra: str) -> dict[str, str]:
    """The environment without any connector settings (so defaults apply), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SABER_", "CONNECTOR_"))}
    env["CONNECTOR_LOG_FORMAT"] = "json"
    env.update(extra)
    return env


def _command_paths() -> list[list[str]]:
    """Every command and group of the app, as the words that name it (the root is [])."""
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def _is_group(path: list[str]) -> bool:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return hasattr(command, "commands")


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with start_sandbox(contacts=6, seed=3, research_delay=0.2) as running:
        yield running


# ---------------------------------------------------------------------------- --version, -h, help
def test_version_flag_prints_the_version_and_exits_0(tmp_path: Path) -> None:
    """`--version` prints the version alone and exits 0, like the `version` command it sits beside."""
    for args in (["--version"], ["version"]):
        proc = run_cli(*args, env=_bare_env(), cwd=tmp_path)
        assert (proc.returncode, proc.stdout) == (0, f"{__version__}\n"), proc.stderr


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "(root)")
def test_h_is_help_on_every_command_and_shows_no_type_noise(path: list[str]) -> None:
    """`-h` prints the same help as `--help` on every command, and no option shows `<bool>`, `<int range>` or `[x>=0]`."""
    runner = CliRunner()
    short, long = runner.invoke(app, [*path, "-h"]), runner.invoke(app, [*path, "--help"])
    assert short.exit_code == 0 and long.exit_code == 0, short.output
    assert short.output == long.output
    assert "Usage:" in short.output
    assert not TYPE_NOISE.search(short.output), short.output
    if not path or not _is_group(path):  # the root and every command take the common options
        assert "--config" in short.output and "--log-level" in short.output, short.output


def test_root_help_offers_shell_completion_and_the_global_options() -> None:
    """The root help lists shell completion, --version, --config and --log-level."""
    output = CliRunner().invoke(app, ["-h"]).output
    for option in ("--install-completion", "--show-completion", "--version", "--config", "--log-level"):
        assert option in output, option


def test_bounds_still_refuse_negative_values_with_exit_2(tmp_path: Path) -> None:
    """The bounds that used to show as `[x>=0]` still refuse a value below them, as a usage error (exit 2)."""
    for args, option in (
        (["sync", "--max-new", "-1"], "--max-new"),
        (["sync", "--wait", "-0.5"], "--wait"),
        (["demo", "--contacts", "0"], "--contacts"),
    ):
        proc = run_cli(*args, env=_bare_env(), cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert option in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------- --config, --log-level
def test_config_works_before_and_after_the_command(tmp_path: Path) -> None:
    """`--config` is read whether it comes before or after the command; after wins over before."""
    good = tmp_path / "good.toml"
    bad = tmp_path / "bad.toml"
    for name in ("before", "after", "both"):
        good.write_text(f'connector_state_url = "sqlite:///{tmp_path / name}.db"\n', encoding="utf-8")
        bad.write_text("not toml at all =\n", encoding="utf-8")
        args = {
            "before": ["--config", str(good), "status"],
            "after": ["status", "--config", str(good)],
            "both": ["--config", str(bad), "status", "--config", str(good)],
        }[name]
        proc = run_cli(*args, env=_bare_env(), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / f"{name}.db").exists(), name  # the state database the file names
    proc = run_cli("status", "--config", str(bad), env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2 and "bad.toml: invalid TOML" in proc.stderr


def test_log_level_before_or_after_the_command_overrides_the_environment(tmp_path: Path) -> None:
    """`--log-level` before or after the command overrides CONNECTOR_LOG_LEVEL; a bad level is a usage error."""

    def status_log(*args: str, level: str, db: str) -> str:
        env = _bare_env(CONNECTOR_LOG_LEVEL=level, CONNECTOR_STATE_URL=f"sqlite:///{tmp_path / db}")
        proc = run_cli(*args, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr

    # A fresh database logs its migration at INFO.
    assert "state schema upgraded" in status_log("status", level="INFO", db="a.db")
    assert "state schema upgraded" not in status_log(
        "status", "--log-level", "error", level="INFO", db="b.db"
    )
    assert "state schema upgraded" not in status_log(
        "--log-level", "ERROR", "status", level="INFO", db="c.db"
    )
    assert "state schema upgraded" in status_log("status", "--log-level", "info", level="ERROR", db="d.db")
    assert "state schema upgraded" in status_log(
        "--log-level", "error", "status", "--log-level", "info", level="ERROR", db="e.db"
    )
    proc = run_cli("status", "--log-level", "loud", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2 and "--log-level" in proc.stderr and "DEBUG" in proc.stderr


# ---------------------------------------------------------------------------- TOML did-you-mean
def test_unknown_toml_key_names_the_closest_setting(tmp_path: Path) -> None:
    """A misspelt TOML key is refused in one line with the closest setting, through the CLI too (exit 2)."""
    cfg = tmp_path / "x.toml"
    cfg.write_text('hubspot_base_ulr = "https://api.hubapi.com"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert str(info.value) == (
        f"config file {cfg}: unknown key 'hubspot_base_ulr'; did you mean 'hubspot_base_url'?"
    )
    cfg.write_text('zzz = "1"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key 'zzz' \(known keys: .*hubspot_base_url"):
        load_settings(cfg)
    cfg.write_text('hubspot_base_ulr = "https://api.hubapi.com"\n', encoding="utf-8")
    proc = run_cli("status", "--config", str(cfg), env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"saber-connector: config file {cfg}: unknown key 'hubspot_base_ulr'; did you mean 'hubspot_base_url'?"
    ]


# ---------------------------------------------------------------------------- the default mapping
def test_packaged_mapping_is_the_default_mapping_and_ships_in_the_wheel() -> None:
    """mappings/default.yaml is byte-identical to the packaged connector/mapping/default.yaml, which package-data ships."""
    packaged = packaged_mapping()
    assert packaged == ROOT / "connector" / "mapping" / "default.yaml"
    assert (ROOT / "mappings" / "default.yaml").read_bytes() == packaged.read_bytes()
    load_mapping(packaged)
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch.fnmatch("mapping/default.yaml", p) for p in patterns["connector"])


def test_default_mapping_states_the_filter_limit_the_loader_enforces() -> None:
    """The default mapping's comment on select.filters says the same "at most" as the loader."""
    text = packaged_mapping().read_text(encoding="utf-8")
    assert re.findall(r"all must hold \(at most (\d+)\)", text) == [str(MAX_FILTERS)]


def test_missing_default_mapping_is_one_line_naming_connector_mapping_and_init(tmp_path: Path) -> None:
    """Run where there is no mappings/, `mapping explain`, `check` and `sync` exit 2 with one line naming CONNECTOR_MAPPING and init."""
    env = _bare_env(HUBSPOT_ACCESS_TOKEN="pat-x", SABER_API_KEY="sk_x")
    env["HUBSPOT_BASE_URL"] = env["SABER_BASE_URL"] = "http://127.0.0.1:1"  # never reached
    for args in (["mapping", "explain"], ["check"], ["sync", "--dry-run"], ["check", "--output", "json"]):
        proc = run_cli(*args, env=env, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if not line.startswith("{")]  # JSON logs aside
        assert len(lines) == 1, (args, proc.stderr)
        assert lines[0] == (
            f"saber-connector: mappings/default.yaml: mapping file not found in {tmp_path}; set "
            "CONNECTOR_MAPPING to your mapping file, or run `saber-connector init` to write a starter one"
        )


def test_demo_outside_the_repository_runs_with_the_packaged_mapping(tmp_path: Path) -> None:
    """`demo` where there is no mappings/ and CONNECTOR_MAPPING is unset runs with the mapping shipped in the package."""
    proc = run_cli("demo", "--contacts", "3", "--wait", "20", env=_bare_env(), cwd=tmp_path, timeout=90)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert f"with {packaged_mapping()}" in proc.stdout
    assert "property group saber: created" in proc.stdout


# ---------------------------------------------------------------------------- check --output json
def test_check_output_json_lists_each_check_and_the_exit_code(box: RunningSandbox, tmp_path: Path) -> None:
    """`check --output json` is a JSON object of {status: ok|problem, text} per check and the exit code, before and after setup."""
    mapping = write_mapping(tmp_path)
    env = sandbox_env(box, tmp_path, mapping)
    proc = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert proc.returncode == report["exit_code"] == 2 and report["ok"] is False
    assert {c["status"] for c in report["checks"]} == {"ok", "problem"}
    assert all(set(c) == {"status", "text"} for c in report["checks"])
    assert any(c["status"] == "ok" and "credits left" in c["text"] for c in report["checks"])
    problems = [c["text"] for c in report["checks"] if c["status"] == "problem"]
    assert problems and all("saber-connector setup" in text for text in problems)

    prepare(settings_for(box, tmp_path, mapping))
    proc = run_cli("check", "--output", "json", env=env, cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert (proc.returncode, report["exit_code"], report["ok"]) == (0, 0, True), proc.stdout
    assert [c["status"] for c in report["checks"]] == ["ok"] * len(report["checks"])
    assert box.saber.api_key not in proc.stdout and box.hubspot.token not in proc.stdout


def test_check_output_json_when_a_setting_stops_it_is_still_json(tmp_path: Path) -> None:
    """`check --output json` without a token prints JSON with the one problem, and exits 2."""
    proc = run_cli("check", "--output", "json", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert report == {
        "ok": False,
        "exit_code": 2,
        "checks": [{"status": "problem", "text": "HUBSPOT_ACCESS_TOKEN is not set"}],
    }


# ---------------------------------------------------------------------------- setup --dry-run
def test_setup_dry_run_creates_nothing_and_lists_what_setup_would_create(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`setup --dry-run` leaves the portal's properties as they were and lists each property `setup` then creates."""
    mapping = write_mapping(tmp_path)
    env = sandbox_env(box, tmp_path, mapping)
    outputs = load_mapping(mapping).output_properties()
    before = sorted(box.hubspot.property_names())
    proc = run_cli("setup", "--dry-run", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(box.hubspot.property_names()) == before
    assert "nothing was created" in proc.stdout
    planned = re.findall(r"^\s+would create\s+(\w+) ", proc.stdout, re.MULTILINE)
    assert planned == outputs
    assert "saber_seniority (enumeration/select, label 'Saber Seniority', options vp, director, c_level)" in (
        proc.stdout
    )

    proc = run_cli("setup", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    created = re.findall(r"^\s+created\s+(\w+)$", proc.stdout, re.MULTILINE)
    assert created == planned

    proc = run_cli("setup", "--dry-run", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "would create" not in proc.stdout
    assert "property group saber: exists" in proc.stdout
    assert re.findall(r"^\s+exists\s+(\w+)$", proc.stdout, re.MULTILINE) == outputs


def test_setup_dry_run_reports_a_type_conflict_with_exit_2(box: RunningSandbox, tmp_path: Path) -> None:
    """`setup --dry-run` reports an existing property of a type the mapping cannot write, exits 2 and creates nothing."""
    mapping = write_mapping(tmp_path)
    box.hubspot.define_property("saber_runs_kubernetes_confidence", type="string", field_type="text")
    before = sorted(box.hubspot.property_names())
    proc = run_cli("setup", "--dry-run", env=sandbox_env(box, tmp_path, mapping), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(r"CONFLICT\s+saber_runs_kubernetes_confidence is string/text", proc.stdout), proc.stdout
    assert sorted(box.hubspot.property_names()) == before


def _stored_options(box: RunningSandbox, name: str) -> list[str]:
    """The option values of one property as the sandbox portal's properties API returns them."""
    answer = httpx.get(
        f"{box.hubspot.url}/crm/v3/properties/contacts/{name}",
        headers={"Authorization": f"Bearer {box.hubspot.token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return [option["value"] for option in answer.json()["options"]]


def test_setup_dry_run_lists_options_setup_would_add_and_conflicts_elsewhere(
    box: RunningSandbox, tmp_path: Path
) -> None:
    """`setup --dry-run` lists the options `setup` adds to an enumeration of its own group (adding none), and the options another group's property lacks as a conflict."""
    mapping = write_mapping(tmp_path)
    env = sandbox_env(box, tmp_path, mapping)
    box.hubspot.define_property("saber_seniority", "enumeration", group_name="saber", options=["vp"])
    proc = run_cli("setup", "--dry-run", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^\s+would add\s+saber_seniority options director, c_level$", proc.stdout, re.MULTILINE)
    assert _stored_options(box, "saber_seniority") == ["vp"]
    assert run_cli("setup", env=env, cwd=tmp_path).returncode == 0
    assert sorted(_stored_options(box, "saber_seniority")) == ["c_level", "director", "vp"]

    other = tmp_path / "other"
    other.mkdir()
    with start_sandbox(contacts=2, seed=3) as second:
        second.hubspot.define_property(
            "saber_seniority", "enumeration", options=["vp"]
        )  # not the connector's group
        proc = run_cli("setup", "--dry-run", env=sandbox_env(second, other, mapping), cwd=other)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "would add" not in proc.stdout
        assert re.search(r"CONFLICT\s+.*saber_seniority.*c_level", proc.stdout), proc.stdout
