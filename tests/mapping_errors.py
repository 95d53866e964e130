"""Helpers for tests of mapping error messages: load a text, find a line, check the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.mapping import load_mapping


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the first line containing `marker`."""
    return next(n for n, line in enumerate(text.splitlines(), start=1) if marker in line)


def error_of(tmp_path: Path, text: str) -> str:
    """The error a mapping text (saved as x.yaml) is refused with; it must be a config error, exit 2."""
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert caught.value.exit_code == 2
    return str(caught.value)


def assert_error_at(tmp_path: Path, text: str, marker: str, expected: str) -> None:
    """The text is refused with a line `x.yaml:LINE: expected…`, LINE being where `marker` is."""
    message = error_of(tmp_path, text)
    prefix = f"{tmp_path / 'x.yaml'}:{line_of(text, marker)}: "
    assert any(row.startswith(prefix + expected) for row in message.splitlines()), message
