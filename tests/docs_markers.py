"""A README's generated part: the text between two HTML comment markers, rewritten by a script.

Why: figures and tables that a script can measure or derive (the benchmark's figures, the
reliability report's, the module map) go stale when they are copied by hand. The script that
prints them writes them into the README beside what they describe, between markers, and
leaves the hand-written text around them alone.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

FIGURES = ("<!-- figures:start -->", "<!-- figures:end -->")
MODULES = ("<!-- modules:start -->", "<!-- modules:end -->")


def add_write_readme(parser: argparse.ArgumentParser, readme: Path, shown: str) -> None:
    """The `--write-readme [PATH]` option of a script whose figures go into `readme` (named `shown`)."""
    parser.add_argument(
        "--write-readme",
        nargs="?",
        const=readme,
        type=Path,
        metavar="PATH",
        help=f"also write the printed figures between the markers of PATH (default: {shown})",
    )


def replace_between(text: str, body: str, markers: tuple[str, str] = FIGURES) -> str:
    """`text` with what lies between the markers replaced by `body` (the markers stay).

    Raises ValueError when a marker is missing, repeated or out of order: nothing is guessed.
    """
    start, end = markers
    head, found, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end) or start in rest or end in head or end in tail:
        raise ValueError(f"expected {start} and then {end}, once each")
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def write_between(readme: Path, body: str, markers: tuple[str, str] = FIGURES) -> None:
    """Rewrite `readme` in place with `body` between its markers."""
    text = readme.read_text(encoding="utf-8")
    readme.write_text(replace_between(text, body, markers), encoding="utf-8")


def figures_block(command: str, output: str, *, details: str | None = None) -> str:
    """A script's printed figures as Markdown: who printed them and when, then the output verbatim.

    `details`: fold the output under this summary (a long table), as `<details>` does.
    """
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    said = f"Printed by `{command}` on {day} (written by its `--write-readme`):"
    block = f"```\n{output.strip()}\n```"
    if details is not None:
        block = f"<details>\n<summary>{details}</summary>\n\n{block}\n\n</details>"
    return f"{said}\n\n{block}"
