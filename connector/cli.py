"""The `saber-connector` command line: one Typer app, one small function per command.

Conventions every command follows: `-h`/`--help`; `--config PATH` and `--log-level LEVEL` both
before and after the command name; options shown with a word for their value (`N`, `SECONDS`),
not its Python type.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from connector import __version__
from connector.commands.linkedin_cli import register as register_linkedin
from connector.commands.privacy_cli import register as register_privacy
from connector.errors import ConnectorError
from connector.logs import configure_logging, scrub
from connector.settings import LOG_LEVELS, Settings, load_settings

CONTEXT = {"help_option_names": ["-h", "--help"]}
_Fn = TypeVar("_Fn", bound=Callable[..., Any])  # a command function, returned as it was given


class _Quiet:
    """Help without type noise: a flag (`--dry-run`, `--help`) shows no `<bool>` after its name and
    an argument only its name (`FILE`, not `FILE <path>`); options name their value with `metavar`."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and getattr(param, "metavar", "") is None:
                param.metavar = ""
            if getattr(param, "param_type_name", "") == "argument" and hasattr(param, "display_type_rich"):
                param.display_type_rich = _no_type
        return params


def _no_type(ctx: Any = None) -> None:
    return None


class _Command(_Quiet, TyperCommand):
    pass


class _Group(_Quiet, TyperGroup):
    pass


class _State:
    config_file: Path | None = None
    log_level: str | None = None

    @classmethod
    def use(cls, config_file: Path | None, log_level: str | None) -> None:
        """Options given after the command name win over the same options given before it."""
        if config_file is not None:
            cls.config_file = config_file
        if log_level is not None:
            cls.log_level = log_level


def _log_level(value: str | None) -> str | None:
    if value is None:
        return None
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def _at_least(minimum: float) -> Callable[[Any], Any]:
    """A bound checked by a callback, so that `--help` shows no `<int range> [x>=0]`."""

    def check(value: float | None) -> float | None:
        if value is not None and value < minimum:
            raise typer.BadParameter(f"{value:g} is below the minimum of {minimum:g}")
        return value

    return check


def _output_format(value: str) -> str:
    if value not in ("text", "json"):
        raise typer.BadParameter("must be text or json")
    return value


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="PATH", help="TOML settings file (or CONNECTOR_CONFIG).", show_default=False
    ),
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        callback=_log_level,
        help=f"{', '.join(LOG_LEVELS)} (overrides CONNECTOR_LOG_LEVEL).",
        show_default=False,
    ),
]
OutputOption = Annotated[
    str, typer.Option("--output", metavar="FORMAT", callback=_output_format, help="text or json.")
]
SummaryOutputOption = Annotated[
    str,
    typer.Option("--output", metavar="FORMAT", callback=_output_format, help="Summary format: text or json."),
]


def _with_common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with `--config` and `--log-level` added, so that they also work after the command name."""
    sig = inspect.signature(fn, eval_str=True)
    extra = [
        inspect.Parameter(
            "common_config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigOption
        ),
        inspect.Parameter(
            "common_log_level", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=LogLevelOption
        ),
    ]

    @functools.wraps(fn)
    def command(
        *args: Any, common_config: Path | None = None, common_log_level: str | None = None, **kw: Any
    ) -> Any:
        _State.use(common_config, common_log_level)
        return fn(*args, **kw)

    # Typer reads the parameters from the signature, with their (already evaluated) annotations.
    signature = sig.replace(parameters=[*sig.parameters.values(), *extra])
    command.__signature__ = signature  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return command


class _App(typer.Typer):
    """A Typer app whose every command takes the common options and renders help without type noise."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[_Fn], _Fn]:
        kwargs.setdefault("cls", _Command)
        register = super().command(*args, **kwargs)

        def decorator(fn: _Fn) -> _Fn:
            register(_with_common_options(fn))
            return fn

        return decorator


app = _App(
    name="saber-connector",
    help="Keep HubSpot contacts enriched with Saber's AI research.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    cls=_Group,
)
mapping_app = _App(
    help="Inspect the mapping file.", no_args_is_help=True, context_settings=CONTEXT, cls=_Group
)
app.add_typer(mapping_app, name="mapping")
linkedin_app = _App(
    help="LinkedIn prospecting jobs and signal scans (Saber's account-group API).",
    no_args_is_help=True,
    context_settings=CONTEXT,
    cls=_Group,
)
app.add_typer(linkedin_app, name="linkedin")


def settings(**overrides: object) -> Settings:
    """Load settings for a command and configure logging from them (`--log-level` wins)."""
    if _State.log_level is not None:
        overrides.setdefault("connector_log_level", _State.log_level)
    loaded = load_settings(_State.config_file, **overrides)
    configure_logging(loaded.connector_log_level, loaded.connector_log_format)
    return loaded


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    _State.config_file, _State.log_level = config, log_level


@app.command()
def version() -> None:
    """Print the connector's version."""
    typer.echo(__version__)


@app.command()
def init(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Where to write (default: the current directory).", show_default=False
        ),
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Write a starter mapping (DIR/mappings/default.yaml) and a .env.example naming every setting."""
    from connector.commands.init import init_project

    typer.echo(init_project(directory, force=force).render())


# ---------------------------------------------------------------------------- sync
@app.command()
def sync(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Launch, ask and write nothing.")] = False,
    max_new: Annotated[
        int | None,
        typer.Option("--max-new", metavar="N", callback=_at_least(0), help="Launch at most N new research."),
    ] = None,
    contact: Annotated[
        list[str] | None,
        typer.Option(
            "--contact", metavar="ID", help="Limit the run to this HubSpot contact ID (repeatable)."
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            callback=_at_least(0),
            help="Wait up to SECONDS for pending research.",
        ),
    ] = 0.0,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the saved cursor: pull every contact.")
    ] = False,
    output: SummaryOutputOption = "text",
) -> None:
    """Run one full cycle and exit: 0 done, 1 record failures, 2 config error, 3 API refused."""
    from connector.commands.sync import run_sync
    from connector.sync.options import SyncOptions

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
def prospect(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List who would be created; create nothing.")
    ] = False,
    max_new: Annotated[
        int | None,
        typer.Option("--max-new", metavar="N", callback=_at_least(0), help="Create at most N contacts."),
    ] = None,
    output: SummaryOutputOption = "text",
) -> None:
    """Create the people missing at target accounts: 0 done, 1 record failures, 2 config, 3 API."""
    from connector.commands.prospect import run_prospect

    summary = run_prospect(settings(), dry_run=dry_run, max_new=max_new)
    typer.echo(json.dumps(summary.to_json(), indent=2, default=str) if output == "json" else summary.render())
    raise typer.Exit(summary.exit_code)


@app.command()
def run() -> None:
    """Run as a service: syncs on CONNECTOR_SCHEDULE, collect cycles, health, metrics and webhooks."""
    from connector.service.service import Service

    raise typer.Exit(Service(settings()).serve())


@app.command()
def status(output: OutputOption = "text") -> None:
    """Counts by research status, the last runs and the most common errors."""
    from connector.commands.status import read_status, render_status

    report = read_status(settings())
    typer.echo(json.dumps(report, indent=2, default=str) if output == "json" else render_status(report))


def _contact_id(contact_id: str) -> str:
    if not contact_id.strip().isdigit():
        raise typer.BadParameter(
            f"{contact_id!r} is not a HubSpot contact ID (a number)", param_hint="CONTACT_ID"
        )
    return contact_id.strip()


@app.command()
def research(
    contact_id: Annotated[str, typer.Argument(metavar="CONTACT_ID", help="The HubSpot contact ID.")],
    output: OutputOption = "text",
) -> None:
    """The raw JSON of a contact's latest research and signals as Saber returned them, and every
    path a mapping can read with its value (free reads only)."""
    from connector.commands.research import read_research, render_research_view

    cid = _contact_id(contact_id)
    view = read_research(settings(), cid)
    typer.echo(json.dumps(view, indent=2, default=str) if output == "json" else render_research_view(view))
    raise typer.Exit(0 if view["research"] is not None else 1)


@app.command()
def explain(
    contact_id: Annotated[str, typer.Argument(metavar="CONTACT_ID", help="The HubSpot contact ID.")],
    output: OutputOption = "text",
    raw: Annotated[
        bool, typer.Option("--raw", help="Show what Saber returned and every mappable path (as `research`).")
    ] = False,
) -> None:
    """Everything the connector knows about one contact, and why each property did (not) change."""
    from connector.commands.explain import explain_contact, render_explain

    if raw:
        research(contact_id, output)
    cid = _contact_id(contact_id)
    report = explain_contact(settings(), cid)
    typer.echo(json.dumps(report, indent=2, default=str) if output == "json" else render_explain(report))
    raise typer.Exit(0 if report["exists"] else 1)


# ---------------------------------------------------------------------------- setup/check
@app.command()
def setup(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be created; create nothing.")
    ] = False,
) -> None:
    """Create the property group and every mapped property that HubSpot lacks (idempotent)."""
    from connector.commands.setup import run_setup

    result = run_setup(settings(), apply=not dry_run)
    typer.echo(result.render())
    raise typer.Exit(result.exit_code)


@app.command()
def check(output: OutputOption = "text") -> None:
    """Validate settings, mapping and state database, reach both APIs, check properties, print credits."""
    from connector.commands.check import CheckReport, run_checks

    if output == "text":
        report = run_checks(settings())
        typer.echo(report.render())
        raise typer.Exit(report.exit_code)
    try:
        report = run_checks(settings())
    except ConnectorError as exc:  # stopped before any API was asked: one problem, still JSON
        report = CheckReport.stopped(exc)
        print(f"saber-connector: {report.results[0][1]}", file=sys.stderr)
    typer.echo(json.dumps(report.to_json(), indent=2))
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
        Path | None,
        typer.Argument(metavar="FILE", help="Mapping file (default: CONNECTOR_MAPPING).", show_default=False),
    ] = None,
) -> None:
    """Say in plain words what the mapping will do."""
    from connector.mapping import explain_mapping, load_mapping

    typer.echo(explain_mapping(load_mapping(path or settings().connector_mapping)))


# ---------------------------------------------------------------------------- sandbox/demo
@app.command()
def sandbox(
    contacts: Annotated[
        int, typer.Option(metavar="N", callback=_at_least(0), help="Seeded HubSpot contacts.")
    ] = 50,
    hubspot_port: Annotated[
        int, typer.Option(metavar="PORT", help="HubSpot sandbox port (0: any free).")
    ] = 8081,
    saber_port: Annotated[int, typer.Option(metavar="PORT", help="Saber sandbox port (0: any free).")] = 8082,
    integrations_port: Annotated[
        int, typer.Option(metavar="PORT", help="Account-group API sandbox port (0: any free).")
    ] = 8083,
    research_delay: Annotated[
        float,
        typer.Option(metavar="SECONDS", callback=_at_least(0), help="Seconds until research completes."),
    ] = 2.0,
    signal_delay: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            callback=_at_least(0),
            help="Seconds until a signal completes (Saber's take tens of seconds).",
        ),
    ] = 15.0,
    credits: Annotated[
        int, typer.Option(metavar="N", callback=_at_least(0), help="Saber credits available.")
    ] = 1000,
    seed: Annotated[int, typer.Option(metavar="N", help="Seed of the generated contacts.")] = 7,
) -> None:
    """Start fake HubSpot, Saber and account-group APIs on loopback and print their URLs and keys."""
    from connector.commands.sandbox import serve_sandbox

    settings()
    serve_sandbox(
        typer.echo,
        contacts=contacts,
        hubspot_port=hubspot_port,
        saber_port=saber_port,
        integrations_port=integrations_port,
        research_delay=research_delay,
        signal_delay=signal_delay,
        credits=credits,
        seed=seed,
    )


@app.command()
def demo(
    contacts: Annotated[
        int, typer.Option(metavar="N", callback=_at_least(1), help="Seeded HubSpot contacts.")
    ] = 25,
    wait: Annotated[
        float, typer.Option(metavar="SECONDS", callback=_at_least(0), help="Seconds to wait for research.")
    ] = 60.0,
) -> None:
    """Start the sandbox, run `setup` and `sync --wait` against it, and show the result."""
    from connector.commands.demo import run_demo

    raise typer.Exit(run_demo(settings(), contacts=contacts, wait=wait, echo=typer.echo))


register_linkedin(linkedin_app, settings)  # the `linkedin` commands: a module of their own
register_privacy(app, settings)  # `forget` and `reconcile`


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
