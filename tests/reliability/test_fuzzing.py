"""Item 8: any generated mapping or settings file is accepted or refused with a clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.mapping import parse_mapping
from connector.settings import load_settings
from tests.reliability.figures import assert_all_ok
from tests.reliability.scenarios import fuzzing

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_fuzzed_mappings_and_settings_never_end_in_a_traceback() -> None:
    """Hypothesis' mapping files, environments and TOML files are each accepted or refused naming the file, line or variable."""
    figures = fuzzing.run(long=False)
    assert_all_ok(figures)
    tried = {f.name: f.value for f in figures}
    assert tried["mapping examples tried"] >= 200 and tried["settings examples tried"] >= 150
    assert (
        tried["mapping refused with a clear error"] > 0 and tried["settings refused with a clear error"] > 0
    )


def test_a_control_character_is_a_syntax_error_naming_its_line() -> None:
    """A character YAML forbids (found by the fuzzing) is reported with the file and its line, on one line."""
    with pytest.raises(ConfigError) as caught:
        parse_mapping("version: 1\ninputs:\n  firstName: first\x13name\n", "m.yaml")
    assert str(caught.value).startswith("m.yaml:3: YAML syntax error: character 0x0013")
    assert "\n" not in str(caught.value)


def test_a_key_with_a_line_break_keeps_each_error_on_one_line(tmp_path: Path) -> None:
    """A key holding a newline or control character is shown escaped, so every error stays one line."""
    text = 'version: 1\ninputs: {"first\\nName": x, "a\\x0eb": y}\nproperties: {saber_x: {from: result.summary}}\n'
    with pytest.raises(ConfigError) as caught:
        parse_mapping(text, "m.yaml")
    lines = str(caught.value).splitlines()
    assert lines and all(line.startswith("m.yaml:") for line in lines), lines
    assert any("first\\nName" in line for line in lines)


def test_a_signal_key_with_a_line_break_in_a_list_of_allowed_keys_stays_on_one_line() -> None:
    """Where an error lists what is allowed (the signals defined), a key holding a line break is escaped too."""
    text = (
        'version: 1\nsignals: {"a\\r\\nb": {question: q}}\n'
        "properties: {saber_x: {from: signals.runs_kubernetes.answer}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_mapping(text, "m.yaml")
    lines = str(caught.value).splitlines()
    assert lines and all(line.startswith("m.yaml:") for line in lines), lines
    assert any("allowed: a\\r\\nb" in line for line in lines), lines


def test_a_dotenv_file_that_is_not_utf8_is_named_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `.env` saved in another encoding (found by the suite: a UnicodeDecodeError traceback) is refused naming the file and line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(b"HTTP_MAX_ATTEMPTS=3\n\xff\xfe=x\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == ".env:2: not UTF-8 text"


def test_a_dotenv_line_that_cannot_be_parsed_is_named_without_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `.env` line python-dotenv would drop with a warning naming no file stops the command naming the line, never showing it (it may hold a key)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "HTTP_MAX_ATTEMPTS=3\n\nSABER_API_KEY sbr-secret-value\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(".env:3: not a NAME=value line")
    assert "sbr-secret-value" not in str(caught.value)
