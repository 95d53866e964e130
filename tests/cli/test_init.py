"""`saber-connector init [DIR]`: a starter mapping and a .env.example naming every setting."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from connector.commands.init import env_example
from connector.errors import ConfigError
from connector.mapping import load_mapping, packaged_mapping
from connector.settings import Settings, load_settings
from tests.support import run_cli

ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def _bare_env() -> dict[str, str]:
    """The environment without any connector settings, so the commands use their defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SABER_", "CONNECTOR_"))}
    env["CONNECTOR_LOG_FORMAT"] = "json"
    return env


def _assignments(text: str) -> dict[str, str]:
    """`NAME=value` lines of an env file, commented out (`# NAME=value`) or not."""
    return {m[1]: m[2] for line in text.splitlines() if (m := ASSIGNMENT.match(line))}


def test_init_writes_a_mapping_that_loads_and_an_env_example_naming_every_setting(tmp_path: Path) -> None:
    """`init DIR` creates DIR, writes mappings/default.yaml (the packaged mapping, which loads) and .env.example, and prints both and the next steps."""
    target = tmp_path / "new" / "project"
    proc = run_cli("init", str(target), env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    mapping, example = target / "mappings" / "default.yaml", target / ".env.example"
    assert mapping.read_bytes() == packaged_mapping().read_bytes()
    assert load_mapping(mapping).output_properties()
    names = _assignments(example.read_text(encoding="utf-8"))
    assert set(names) == {field.upper() for field in Settings.model_fields}
    assert f"wrote {mapping}" in proc.stdout and f"wrote {example}" in proc.stdout
    assert f"cd {target}" in proc.stdout
    for step in ("cp .env.example .env", "saber-connector check", "saber-connector setup", "sync --dry-run"):
        assert step in proc.stdout, step


def test_env_example_gives_each_setting_a_comment_and_its_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each setting in .env.example follows a one-line comment; read as .env with every line uncommented, it gives the defaults."""
    lines = env_example().splitlines()
    for i, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            assert lines[i - 1].startswith("# ") and not ASSIGNMENT.match(lines[i - 1]), line
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("CONNECTOR_CONFIG", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in _assignments(env_example()).items()), encoding="utf-8")
    from_file = load_settings(None, _env_file=dotenv)
    defaults = load_settings(None, _env_file=None)
    secrets = {"hubspot_access_token", "saber_api_key"}  # the two to fill in: empty, so "not set"
    assert from_file.model_dump(exclude=secrets) == defaults.model_dump(exclude=secrets)
    with pytest.raises(ConfigError, match="HUBSPOT_ACCESS_TOKEN is not set"):
        from_file.require_hubspot_token()
    with pytest.raises(ConfigError, match="SABER_API_KEY is not set"):
        from_file.require_saber_key()


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """A second `init` exits 2 naming the existing files and --force, and changes nothing; with --force it overwrites."""
    assert run_cli("init", env=_bare_env(), cwd=tmp_path).returncode == 0
    mapping = tmp_path / "mappings" / "default.yaml"
    mapping.write_text("# my own mapping\n", encoding="utf-8")
    proc = run_cli("init", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "saber-connector: init: mappings/default.yaml, .env.example already exist; nothing was written "
        "(pass --force to overwrite)"
    ]
    assert mapping.read_text(encoding="utf-8") == "# my own mapping\n"

    (tmp_path / ".env.example").unlink()  # one file present is enough to refuse
    proc = run_cli("init", ".", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2 and "mappings/default.yaml already exists" in proc.stderr
    assert not (tmp_path / ".env.example").exists()

    proc = run_cli("init", "--force", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "overwrote mappings/default.yaml" in proc.stdout and "wrote .env.example" in proc.stdout
    assert "cd " not in proc.stdout  # written here: no directory to change to
    assert mapping.read_bytes() == packaged_mapping().read_bytes()


def test_commands_run_in_the_initialised_directory_find_its_mapping(tmp_path: Path) -> None:
    """After `init`, `mapping explain` run in that directory with no settings explains the written mapping."""
    assert run_cli("init", str(tmp_path), env=_bare_env(), cwd=tmp_path).returncode == 0
    proc = run_cli("mapping", "explain", env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Mapping mappings/default.yaml")


def test_init_into_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    """`init PATH` where PATH is a file exits 2 with one line naming it."""
    target = tmp_path / "afile"
    target.write_text("x", encoding="utf-8")
    proc = run_cli("init", str(target), env=_bare_env(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"saber-connector: init: {target} is a file, not a directory"
