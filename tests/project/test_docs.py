"""The documentation holds together: a README a newcomer finishes, and the rest beside what it describes.

Why: the README was moved into several files (issue 17, item 6); links between them, the module
map and the figures the scripts write are easy to break without noticing, so they are checked.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import docs_module_map
from tests.bench import run as bench
from tests.docs_markers import FIGURES, MODULES, replace_between
from tests.reliability import report

ROOT = Path(__file__).resolve().parents[2]
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


# ---------------------------------------------------------------------- the READMEs and their links
README = ROOT / "README.md"
MOVED = (
    ROOT / "mappings" / "README.md",
    ROOT / "config" / "README.md",
    ROOT / "connector" / "README.md",
    BENCH_README,
    RELIABILITY_README,
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
GLOSSARY = (
    "lands",
    "settles",
    "put off",
    "due",
    "pending work",
    "in flight",
    "look-up",
    "adopted",
    "held back",
)


def prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks (links in code are not links)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in prose(path).splitlines()
        if line.startswith("#")
    }


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(prose(path)) if not re.match(r"[a-z]+:", t)]


def test_the_readme_is_short_and_links_every_moved_readme() -> None:
    """README.md is under 200 lines and links each README the rest of it moved to."""
    assert len(README.read_text(encoding="utf-8").splitlines()) < 200
    linked = {(README.parent / t.split("#")[0]).resolve() for t in relative_links(README)}
    for moved in MOVED:
        assert moved.resolve() in linked, f"README.md does not link {moved.relative_to(ROOT)}"


@pytest.mark.parametrize("path", [README, *MOVED], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    """Every relative link names a file (or folder) that exists, and an anchor its headings have."""
    assert relative_links(path), f"{path} links nothing"
    for target in relative_links(path):
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.relative_to(ROOT)}: {target} names no file"
        if anchor:
            assert linked.suffix == ".md" and anchor in anchors(linked), (
                f"{path.relative_to(ROOT)}: no #{anchor}"
            )


def test_the_readme_keeps_the_two_commands_ci_runs() -> None:
    """The first command (the demo) and the test command are the README's, exactly as .ci/run runs them."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)\n```", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    demo, tests = blocks[0], blocks[1]
    assert demo == "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/saber-connector demo"
    assert tests == "python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && .venv/bin/pytest"
    assert f"{demo} </dev/null" in ci and f"{tests}\n" in ci


def test_the_mapping_reference_shows_the_example_the_tests_load() -> None:
    """The mapping reference's example is tests/fixtures/mapping/example.yaml, byte for byte."""
    text = (ROOT / "mappings" / "README.md").read_text(encoding="utf-8")
    example = text.split("\n## Example\n", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert example == (ROOT / "tests" / "fixtures" / "mapping" / "example.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- the module map and the glossary
def test_the_module_map_names_every_module_and_no_other() -> None:
    """connector/README.md links every module under connector/ (tests/docs_module_map.py prints the table)."""
    readme = ROOT / "connector" / "README.md"
    section = readme.read_text(encoding="utf-8").split(MODULES[0], 1)[1].split(MODULES[1], 1)[0]
    listed = set(re.findall(r"^\| \[([^\]]+)\]", section, flags=re.M))
    present = {p.as_posix() for p in docs_module_map.modules()}
    assert sorted(present - listed) == [], "run: .venv/bin/python tests/docs_module_map.py --write"
    assert sorted(listed - present) == [], "modules listed that no longer exist"


def test_module_map_rows_come_from_docstrings() -> None:
    """Each row is the module's first docstring sentence, bars escaped; a module without one says so."""
    assert docs_module_map.first_sentence('"""One job. And why it exists."""\n') == "One job."
    assert docs_module_map.first_sentence('"""Reads A, e.g. B.\n\nMore."""\n') == "Reads A, e.g. B."
    assert docs_module_map.first_sentence("x = 1\n") == ""
    rows = docs_module_map.table().splitlines()
    assert rows[0] == "| module | what it holds |" and len(rows) == 2 + len(docs_module_map.modules())


def test_every_connector_path_a_readme_names_exists() -> None:
    """A module named in prose (`connector/....py`) exists: a moved module is renamed in the docs too."""
    for path in [README, *MOVED]:
        for name in set(re.findall(r"connector/[\w/]+\.py", path.read_text(encoding="utf-8"))):
            assert (ROOT / name).is_file(), f"{path.relative_to(ROOT)} names {name}, which does not exist"


def test_the_glossary_explains_our_own_words() -> None:
    """connector/README.md's glossary defines the words the docs use in a sense of their own."""
    text = (ROOT / "connector" / "README.md").read_text(encoding="utf-8")
    glossary = text.split("\n## Glossary\n", 1)[1]
    terms = " ".join(re.findall(r"^\| (\*\*.*?) \|", glossary, flags=re.M))
    for word in GLOSSARY:
        assert f"**{word}" in terms, f"the glossary lacks {word!r}"
