"""Run the long version of the reliability suite and print its figures as a table.

    .venv/bin/python tests/reliability/report.py                 # every part, long version
    .venv/bin/python tests/reliability/report.py --quick         # the short version CI's tests run
    .venv/bin/python tests/reliability/report.py --only crash,faults
    .venv/bin/python tests/reliability/report.py --write-readme  # and into tests/reliability/README.md

Exits 1 when a must-be figure is off target, so the table can gate a release.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.docs_markers import add_write_readme, figures_block, write_between  # noqa: E402
from tests.reliability.figures import Figure, failing, table  # noqa: E402

README = Path(__file__).with_name("README.md")  # where --write-readme writes the figures

# The parts of the suite, in the order; each is tests/reliability/scenarios/<name>.py.
PARTS = (
    "crash",
    "faults",
    "outages",
    "crm_reality",
    "state_loss",
    "bad_crm_data",
    "bad_answers",
    "fuzzing",
    "secrets",
    "webhook_abuse",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short version (what CI runs)")
    parser.add_argument("--only", default="", help="comma-separated parts: " + ", ".join(PARTS))
    add_write_readme(parser, README, "the README beside this")
    args = parser.parse_args(argv)
    wanted = [p.strip() for p in args.only.split(",") if p.strip()] or list(PARTS)
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    figures: list[Figure] = []
    started = time.monotonic()
    for part in wanted:
        module = importlib.import_module(f"tests.reliability.scenarios.{part}")
        t0 = time.monotonic()
        print(f"running {part} ...", file=sys.stderr, flush=True)
        part_figures = module.run(long=not args.quick)
        figures.extend(part_figures)
        print(f"  {part}: {len(part_figures)} figures in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    printed = table(figures)
    print(printed)
    bad = failing(figures)
    ran = (
        f"{len(figures)} figures, {len(bad)} off target; {time.monotonic() - started:.0f} s on "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"\n{ran}")
    if args.write_readme:
        options = [*(["--quick"] if args.quick else []), *([f"--only {args.only}"] if args.only else [])]
        write_readme(
            args.write_readme, f"{printed}\n\n{ran}", " ".join(["tests/reliability/report.py", *options])
        )
    return 1 if bad else 0


def write_readme(readme: Path, output: str, command: str) -> None:
    """The printed table, folded, between the figures markers of `readme` (the suite's README by default)."""
    write_between(readme, figures_block(command, output, details="The whole table"))
    print(f"figures written to {readme}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
