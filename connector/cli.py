"""The `saber-connector` command line: one Typer app, one function per command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from connector import __version__
from connector.errors import ConnectorError
from connector.logs import configure_logging, scrub
from connector.settings import Settings, load_settings

app = typer.Typer(
    name="saber-connector",
    help="Keep HubSpot contacts enriched with Saber's AI research.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class _State:
    config_file: Path | None = None


def settings(**overrides: object) -> Settings:
    """Load settings for a command and configure logging from them."""
    loaded = load_settings(_State.config_file, **overrides)
    configure_logging(loaded.connector_log_level, loaded.connector_log_format)
    return loaded


@app.callback()
def _root(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML settings file (or CONNECTOR_CONFIG).", show_default=False),
    ] = None,
) -> None:
    _State.config_file = config


@app.command()
def version() -> None:
    """Print the connector's version."""
    typer.echo(__version__)


def main() -> None:
    """Console entry point: a `ConnectorError` becomes one line on stderr and its exit code."""
    try:
        app()
    except ConnectorError as exc:
        print(f"saber-connector: {scrub(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
