"""The benchmark's quick economy, prospecting and linkedin runs work end to end and report every figure of theirs (never its timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.linkedin import RERUN_CHARGES, RERUN_STARTS
from tests.bench.run import ECONOMY_FIGURES, LINKEDIN_FIGURES, PROSPECTING_FIGURES

ROOT = Path(__file__).resolve().parents[2]


def quick_table(section: str) -> str:
    """What `tests/bench/run.py --quick --only SECTION` prints, once it exited 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "bench" / "run.py"), "--quick", "--only", section],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def row_of(table: str, name: str) -> list[str]:
    """The cells of the first row of `table` that names the figure `name`."""
    rows = [line for line in table.splitlines() if line.strip().startswith(name)]
    assert rows, f"no row for {name!r} in:\n{table}"
    return [c.strip() for c in rows[0].split("|")]


@pytest.mark.slow
def test_quick_economy_bench_exits_0_and_prints_every_economy_figure() -> None:
    """`tests/bench/run.py --quick --only economy` exits 0 with a table row for each economy figure and its target."""
    table = quick_table("economy")
    assert table.startswith("figure") and "| target" in table and "| met?" in table
    for name in ECONOMY_FIGURES:
        cells = row_of(table, name)
        assert len(cells) == 4 and cells[1], f"row {cells!r} lacks its value"
        assert cells[3] in ("yes", "NO", "-"), f"row {cells!r} lacks its verdict"
    assert "crashed" not in table


@pytest.mark.slow
def test_quick_prospecting_bench_exits_0_and_prints_every_prospecting_figure() -> None:
    """`tests/bench/run.py --quick --only prospecting` exits 0 with a table row and a value for each prospecting figure."""
    table = quick_table("prospecting")
    for name in PROSPECTING_FIGURES:
        cells = row_of(table, name)
        assert len(cells) == 4 and cells[1], f"row {cells!r} lacks its value"
    assert "crashed" not in table


@pytest.mark.slow
def test_quick_linkedin_bench_exits_0_and_its_rerun_pays_nothing() -> None:
    """`tests/bench/run.py --quick --only linkedin` exits 0 with a value for each linkedin figure, and its rerun charges nothing and starts nothing."""
    table = quick_table("linkedin")
    for name in LINKEDIN_FIGURES:
        cells = row_of(table, name)
        assert len(cells) == 4 and cells[1], f"row {cells!r} lacks its value"
    assert "crashed" not in table
    charges = row_of(table, RERUN_CHARGES)[1]
    assert charges.startswith("0 credits; 0 of ") and "more than once" in charges, charges
    assert row_of(table, RERUN_STARTS)[1] == "0 jobs (uploads included), 0 scans"


@pytest.mark.slow
def test_quick_reconcile_bench_exits_0_and_prints_every_reconcile_figure() -> None:
    """`tests/bench/run.py --quick --only reconcile` exits 0 with a value for each reconcile figure."""
    from tests.bench.reconcile import RECONCILE_FIGURES

    table = quick_table("reconcile")
    for name in RECONCILE_FIGURES:
        cells = row_of(table, name)
        assert len(cells) == 4 and cells[1], f"row {cells!r} lacks its value"
    assert "crashed" not in table
