"""Settings: environment, .env and TOML file, with one clear line for every bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.settings import load_settings

CONTRACT_VARS = (
    "HUBSPOT_ACCESS_TOKEN",
    "SABER_API_KEY",
    "HUBSPOT_BASE_URL",
    "SABER_BASE_URL",
    "CONNECTOR_STATE_URL",
    "CONNECTOR_MAPPING",
    "CONNECTOR_LOG_FORMAT",
    "CONNECTOR_LOG_LEVEL",
    "CONNECTOR_CONFIG",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in CONTRACT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout


def test_defaults_match_the_public_contract() -> None:
    """With nothing set, the documented defaults apply."""
    s = load_settings()
    assert s.hubspot_base_url == "https://api.hubapi.com"
    assert s.saber_base_url == "https://api.saber.app"
    assert s.connector_state_url.startswith("sqlite:///state/")
    assert str(s.connector_mapping) == "mappings/default.yaml"
    assert s.connector_log_format is None and s.connector_log_level == "INFO"
    assert s.hubspot_access_token is None and s.saber_api_key is None


def test_environment_names_are_read_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each public environment variable sets its setting."""
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-secret")
    monkeypatch.setenv("SABER_API_KEY", "sk_live_secret")
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SABER_BASE_URL", "http://127.0.0.1:8")
    monkeypatch.setenv("CONNECTOR_STATE_URL", "sqlite:///x.db")
    monkeypatch.setenv("CONNECTOR_MAPPING", "m.yaml")
    monkeypatch.setenv("CONNECTOR_LOG_FORMAT", "JSON")
    monkeypatch.setenv("CONNECTOR_LOG_LEVEL", "debug")
    s = load_settings()
    assert s.require_hubspot_token() == "pat-na1-secret"
    assert s.require_saber_key() == "sk_live_secret"
    assert s.hubspot_base_url == "http://127.0.0.1:9"
    assert s.saber_base_url == "http://127.0.0.1:8"
    assert (s.connector_state_url, str(s.connector_mapping)) == ("sqlite:///x.db", "m.yaml")
    assert (s.connector_log_format, s.connector_log_level) == ("json", "DEBUG")
    assert "secret" not in repr(s)


def test_toml_file_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The TOML file fills settings; the environment wins over it."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('saber_base_url = "http://file:1"\nconnector_log_level = "WARNING"\n')
    monkeypatch.setenv("CONNECTOR_LOG_LEVEL", "ERROR")
    s = load_settings(cfg)
    assert s.saber_base_url == "http://file:1"
    assert s.connector_log_level == "ERROR"
    monkeypatch.setenv("CONNECTOR_CONFIG", str(cfg))
    assert load_settings().saber_base_url == "http://file:1"


def test_dotenv_is_read(tmp_path: Path) -> None:
    """A `.env` in the working directory is read."""
    (tmp_path / ".env").write_text("SABER_BASE_URL=http://dotenv:2\n")
    assert load_settings().saber_base_url == "http://dotenv:2"


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("HUBSPOT_BASE_URL", "api.hubapi.com", "setting HUBSPOT_BASE_URL: must be an http"),
        ("CONNECTOR_LOG_LEVEL", "loud", "setting CONNECTOR_LOG_LEVEL: must be one of"),
        ("CONNECTOR_LOG_FORMAT", "xml", "setting CONNECTOR_LOG_FORMAT"),
    ],
)
def test_malformed_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, expected: str
) -> None:
    """A malformed variable gives a ConfigError naming it."""
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


def test_bad_file_key_and_value_name_the_file(tmp_path: Path) -> None:
    """Unknown keys, malformed values and bad TOML name the file and the key."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('saber_base_urll = "http://x"\n')
    with pytest.raises(ConfigError, match=r"c.toml: unknown key 'saber_base_urll'"):
        load_settings(cfg)
    cfg.write_text('saber_base_url = "ftp://x"\n')
    with pytest.raises(ConfigError, match=r"c.toml: key saber_base_url: must be an http"):
        load_settings(cfg)
    cfg.write_text("saber_base_url = \n")
    with pytest.raises(ConfigError, match=r"c.toml: invalid TOML"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match=r"missing.toml: not found"):
        load_settings(tmp_path / "missing.toml")


def test_missing_secret_is_named_without_echoing_anything() -> None:
    """Asking for a key that is not set names the variable."""
    s = load_settings()
    with pytest.raises(ConfigError, match="^HUBSPOT_ACCESS_TOKEN is not set$"):
        s.require_hubspot_token()
    with pytest.raises(ConfigError, match="^SABER_API_KEY is not set$"):
        s.require_saber_key()


def test_cli_reports_bad_setting_in_one_line_with_exit_2(tmp_path: Path) -> None:
    """The CLI turns a bad setting into one stderr line and exit code 2, no traceback."""
    env = {k: v for k, v in os.environ.items() if k not in CONTRACT_VARS}
    env["CONNECTOR_LOG_LEVEL"] = "chatty"
    proc = subprocess.run(
        [sys.executable, "-m", "connector.cli", "status"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CONNECTOR_LOG_LEVEL" in lines[0]
    assert "Traceback" not in proc.stderr
