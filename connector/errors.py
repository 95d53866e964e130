"""Error types that decide how the CLI ends: each carries the process exit code."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code = 1


class ConfigError(ConnectorError):
    """A setting, config file or mapping is missing or malformed (exit code 2)."""

    exit_code = 2


class ApiUnavailableError(ConnectorError):
    """An API could not be reached or refused the key (exit code 3)."""

    exit_code = 3
