"""The `saber-connector` command line: one Typer app, one small function per command."""

from __future__ import annotations

import json
import signal
import sys
import threading
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
mapping_app = typer.Typer(help="Inspect the mapping file.", no_args_is_help=True)
app.add_typer(mapping_app, name="mapping")


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


# ---------------------------------------------------------------------------- sync
@app.command()
def sync(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Launch, ask and write nothing.")] = False,
    max_new: Annotated[
        int | None, typer.Option("--max-new", min=0, help="Launch at most N new research.")
    ] = None,
    contact: Annotated[
        list[str] | None, typer.Option("--contact", help="Limit the run to this HubSpot contact ID.")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Wait up to SECONDS for pending research.")
    ] = 0.0,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the saved cursor: pull every contact.")
    ] = False,
    output: Annotated[str, typer.Option("--output", help="Summary format: text or json.")] = "text",
) -> None:
    """Run one full cycle and exit: 0 done, 1 record failures, 2 config error, 3 API refused."""
    from connector.sync.options import SyncOptions
    from connector.sync.runner import run_sync

    if output not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--output")
    for cid in contact or ():
        if not cid.strip().isdigit():  # HubSpot contact ids are numbers; anything else is a typo
            raise typer.BadParameter(
                f"{cid!r} is not a HubSpot contact ID (a number)", param_hint="--contact"
            )
    options = SyncOptions(
        dry_run=dry_run,
        max_new=max_new,
        contact_ids=tuple(c.strip() for c in contact or ()),
        wait_seconds=wait,
        full=full,
    )
    summary = run_sync(settings(), options, show_progress=output == "text")
    if output == "json":
        typer.echo(json.dumps(summary.to_json(), indent=2, default=str))
    else:
        typer.echo(summary.render())
    raise typer.Exit(summary.exit_code)


@app.command()
def status(
    output: Annotated[str, typer.Option("--output", help="text or json.")] = "text",
) -> None:
    """Counts by research status, the last runs and the most common errors."""
    from connector.clients import store_from
    from connector.status import render_status, status_report

    store = store_from(settings())
    try:
        report = status_report(store)
    finally:
        store.close()
    typer.echo(json.dumps(report, indent=2, default=str) if output == "json" else render_status(report))


# ---------------------------------------------------------------------------- setup/check
@app.command()
def setup() -> None:
    """Create the property group and every mapped property that HubSpot lacks (idempotent)."""
    from connector.clients import hubspot_from
    from connector.mapping import load_mapping
    from connector.properties import setup_properties

    s = settings()
    mapping = load_mapping(s.connector_mapping)
    hubspot = hubspot_from(s)
    try:
        report = setup_properties(mapping, hubspot)
    finally:
        hubspot.close()
    typer.echo(report.render())
    raise typer.Exit(2 if report.conflicts else 0)


@app.command()
def check() -> None:
    """Validate settings and mapping, reach both APIs, check properties, print credits left."""
    from connector.checks import run_checks

    report = run_checks(settings())
    typer.echo(report.render())
    raise typer.Exit(report.exit_code)


# ---------------------------------------------------------------------------- mapping
@mapping_app.command("schema")
def mapping_schema() -> None:
    """Print the JSON Schema of the mapping file (for editor completion)."""
    from connector.mapping import mapping_json_schema

    typer.echo(json.dumps(mapping_json_schema(), indent=2))


@mapping_app.command("explain")
def mapping_explain(
    path: Annotated[
        Path | None, typer.Argument(help="Mapping file (default: CONNECTOR_MAPPING).", show_default=False)
    ] = None,
) -> None:
    """Say in plain words what the mapping will do."""
    from connector.mapping import explain_mapping, load_mapping

    typer.echo(explain_mapping(load_mapping(path or settings().connector_mapping)))


# ---------------------------------------------------------------------------- sandbox/demo
@app.command()
def sandbox(
    contacts: Annotated[int, typer.Option(min=0, help="Seeded HubSpot contacts.")] = 50,
    hubspot_port: Annotated[int, typer.Option(help="HubSpot sandbox port (0: any free).")] = 8081,
    saber_port: Annotated[int, typer.Option(help="Saber sandbox port (0: any free).")] = 8082,
    research_delay: Annotated[float, typer.Option(min=0, help="Seconds until research completes.")] = 2.0,
    credits: Annotated[int, typer.Option(min=0, help="Saber credits available.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generated contacts.")] = 7,
) -> None:
    """Start fake HubSpot and Saber APIs on loopback and print their URLs and tokens."""
    from connector.sandbox.runner import start_sandbox

    settings()
    box = start_sandbox(
        contacts=contacts,
        hubspot_port=hubspot_port,
        saber_port=saber_port,
        research_delay=research_delay,
        credits=credits,
        seed=seed,
    )
    # Handle SIGTERM before printing: whoever reads the output may stop the sandbox at once.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo("Sandbox running. Point the connector at it with:\n")
    for name, value in box.env().items():
        typer.echo(f"  export {name}={value}")
    typer.echo("\nPress Ctrl-C to stop.")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(min=1, help="Seeded HubSpot contacts.")] = 25,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for research.")] = 60.0,
) -> None:
    """Start the sandbox, run `setup` and `sync --wait` against it, and show the result."""
    from connector.demo import run_demo

    code = run_demo(settings(), contacts=contacts, wait=wait, echo=typer.echo)
    raise typer.Exit(code)


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
