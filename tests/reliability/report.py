"""Run the long version of the reliability suite and print its figures as a table.

    .venv/bin/python tests/reliability/report.py                 # every part, long version
    .venv/bin/python tests/reliability/report.py --quick         # the short version CI's tests run
    .venv/bin/python tests/reliability/report.py --only crash,faults

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

from tests.reliability.figures import Figure, failing, table  # noqa: E402

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
    print(table(figures))
    bad = failing(figures)
    print(
        f"\n{len(figures)} figures, {len(bad)} off target; {time.monotonic() - started:.0f} s on "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
