"""The `saber-connector linkedin` commands: `run`, and the lists of what the account group holds.

Registered on the group `connector.cli` makes (so that they take the common options and render
help as every other command does); kept here so that the CLI module stays small.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer

from connector.settings import Settings

# name -> what the command lists (its help)
LISTS = {
    "groups": "The account groups the key reaches.",
    "searches": "Sales Navigator saved searches and lead lists (the ids a sales_navigator job takes).",
    "specs": "Signal specifications (the ids a scan takes).",
    "audiences": "Audiences of the account group (those a job still fills are left out).",
    "jobs": "Prospecting jobs, newest first.",
    "scans": "Signal scans.",
}


def _output_format(value: str) -> str:
    if value not in ("text", "json"):
        raise typer.BadParameter("must be text or json")
    return value


OutputOption = Annotated[
    str, typer.Option("--output", metavar="FORMAT", callback=_output_format, help="text or json.")
]
SummaryOutputOption = Annotated[
    str,
    typer.Option("--output", metavar="FORMAT", callback=_output_format, help="Summary format: text or json."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="List what would start and its credits; start nothing.")
]


def register(group: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add the `linkedin` commands to `group`; `settings` loads them as every command does."""

    @group.command("run")
    def linkedin_run(dry_run: DryRunOption = False, output: SummaryOutputOption = "text") -> None:
        """Collect what finished and start what is due: 0 done, 1 failures, 2 config, 3 API."""
        from connector.commands.linkedin import run_linkedin

        summary = run_linkedin(settings(), dry_run=dry_run)
        text = json.dumps(summary.as_dict(), indent=2, default=str) if output == "json" else summary.render()
        typer.echo(text)
        raise typer.Exit(summary.exit_code())

    for what, help_text in LISTS.items():
        group.command(what, help=help_text)(_lister(what, settings))


def _lister(what: str, settings: Callable[[], Settings]) -> Callable[..., None]:
    """The command that lists `what` (read from the API), as text columns or JSON."""

    def command(output: OutputOption = "text") -> None:
        from connector.commands.linkedin import list_items, render_items

        items = list_items(settings(), what)
        typer.echo(
            json.dumps(items, indent=2, default=str) if output == "json" else render_items(what, items)
        )

    command.__name__ = f"linkedin_{what}"
    return command
