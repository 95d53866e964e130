"""The documentation holds together: a README a newcomer finishes, and the rest beside what it describes.

Why: the README was moved into several files (issue 17, item 6); links between them, the module
map and the figures the scripts write are easy to break without noticing, so they are checked.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bench import run as bench
from tests.docs_markers import FIGURES, replace_between
from tests.reliability import report

ROOT = Path(__file__).resolve().parents[1]
BENCH_README = ROOT / "tests" / "bench" / "README.md"
RELIABILITY_README = ROOT / "tests" / "reliability" / "README.md"


# ---------------------------------------------------------------------- figures written by scripts
def test_replace_between_keeps_the_text_around_the_markers() -> None:
    """Only the text between the markers changes; the markers and everything around them stay."""
    start, end = FIGURES
    text = f"# Title\n\nbefore\n{start}\nold figures\n{end}\nafter\n"
    assert (
        replace_between(text, "new figures\n") == f"# Title\n\nbefore\n{start}\nnew figures\n{end}\nafter\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all\n",
        f"{FIGURES[0]}\nonly the start\n",
        f"{FIGURES[1]}\nend first\n{FIGURES[0]}\n",
        f"{FIGURES[0]}\n{FIGURES[0]}\ntwice\n{FIGURES[1]}\n",
    ],
)
def test_replace_between_refuses_markers_it_cannot_trust(text: str) -> None:
    """A marker missing, repeated or out of order is an error, never a guess."""
    with pytest.raises(ValueError):
        replace_between(text, "figures")


@pytest.mark.parametrize(
    ("readme", "write", "command"),
    [
        (BENCH_README, bench.write_readme, "tests/bench/run.py --quick --only economy"),
        (RELIABILITY_README, report.write_readme, "tests/reliability/report.py --quick --only secrets"),
    ],
)
def test_write_readme_replaces_the_figures_of_a_copy(
    readme: Path, write: Callable[[Path, str, str], None], command: str, tmp_path: Path
) -> None:
    """`--write-readme PATH` puts the printed output, verbatim and named by its command, between the markers of PATH."""
    copy = tmp_path / "README.md"
    shutil.copy(readme, copy)
    before = readme.read_text(encoding="utf-8")
    output = "figure | value | target | met?\n-------+-------+--------+-----\n  a figure | 1 | = 1 | yes\n\nquick run, 3 s"
    write(copy, output, command)
    after = copy.read_text(encoding="utf-8")
    start, end = FIGURES
    assert after.split(start)[0] == before.split(start)[0]
    assert after.split(end)[1] == before.split(end)[1]
    between = after.split(start)[1].split(end)[0]
    assert f"`{command}`" in between and f"```\n{output}\n```" in between
    assert readme.read_text(encoding="utf-8") == before, "the real README was not touched"


def test_scripts_take_write_readme() -> None:
    """Both scripts document `--write-readme` in their usage, and their READMEs carry the markers."""
    for script, readme in ((bench, BENCH_README), (report, RELIABILITY_README)):
        assert "--write-readme" in (script.__doc__ or "")
        assert readme == script.README
        text = readme.read_text(encoding="utf-8")
        assert text.count(FIGURES[0]) == 1 and text.count(FIGURES[1]) == 1
