"""The body of each `saber-connector` command, one module per command; `connector.cli` is only their
Typer surface (options, help, exit codes), and calls into these."""
