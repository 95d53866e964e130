"""The `saber-connector forget` and `reconcile` commands, registered on the app `connector.cli` makes.

Kept here so that the CLI module stays small; they take the common options as every command does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer

from connector.settings import Settings


def _output_format(value: str) -> str:
    if value not in ("text", "json"):
        raise typer.BadParameter("must be text or json")
    return value


def _contact_ids(values: list[str] | None) -> list[str]:
    for cid in values or ():
        if not cid.strip().isdigit():  # HubSpot contact ids are numbers; anything else is a typo
            raise typer.BadParameter(f"{cid!r} is not a HubSpot contact ID (a number)")
    return [c.strip() for c in values or ()]


def _emails(values: list[str] | None) -> list[str]:
    for email in values or ():
        if "@" not in email:
            raise typer.BadParameter(f"{email!r} is not an email address")
    return [e.strip() for e in values or ()]


OutputOption = Annotated[
    str, typer.Option("--output", metavar="FORMAT", callback=_output_format, help="text or json.")
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="List what would go; remove nothing.")]


def register(app: typer.Typer, settings: Callable[[], Settings]) -> None:
    """Add `forget` and `reconcile` to `app`; `settings` loads them as every command does."""

    @app.command()
    def forget(
        contact_ids: Annotated[
            list[str] | None,
            typer.Argument(
                metavar="CONTACT_ID",
                callback=_contact_ids,
                help="HubSpot contact IDs of the people to forget.",
                show_default=False,
            ),
        ] = None,
        email: Annotated[
            list[str] | None,
            typer.Option(
                "--email",
                metavar="ADDRESS",
                callback=_emails,
                help="Also forget the contacts with this email, in HubSpot and in the stored research "
                "(repeatable).",
            ),
        ] = None,
        dry_run: DryRunOption = False,
        output: OutputOption = "text",
    ) -> None:
        """Remove what the state holds about these people (never writes to HubSpot, never calls Saber)."""
        from connector.commands.privacy import run_forget

        if not contact_ids and not email:
            raise typer.BadParameter("name at least one CONTACT_ID or --email ADDRESS")
        outcome = run_forget(settings(), contact_ids or [], email or [], dry_run=dry_run)
        typer.echo(json.dumps(outcome.to_json(), indent=2) if output == "json" else outcome.render())

    @app.command()
    def reconcile(dry_run: DryRunOption = False, output: OutputOption = "text") -> None:
        """Forget the people HubSpot archived or deleted, then apply retention (no Saber call)."""
        from connector.commands.privacy import LOCKED, run_reconcile

        report = run_reconcile(settings(), dry_run=dry_run)
        if report is None:
            typer.echo(LOCKED, err=True)
            raise typer.Exit(1)
        typer.echo(json.dumps(report.to_json(), indent=2) if output == "json" else report.render())
