"""The module map of connector/README.md: every module under connector/, one line each.

Why: a map kept by hand named 15 of 88 modules. This one is printed from each module's opening
docstring (its first sentence), so a new or moved module shows up the moment the map is
refreshed, and keeping the map true is keeping the docstrings true. tests/project/test_docs.py checks
that the README names every module.

    .venv/bin/python tests/docs_module_map.py           # print the table
    .venv/bin/python tests/docs_module_map.py --write   # and write it into connector/README.md
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "connector"
README = PACKAGE / "README.md"
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(0, str(ROOT))

from tests.docs_markers import MODULES, write_between  # noqa: E402

# The end of a sentence: a full stop before white space or the end, not the one of "e.g." or "i.e.".
SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.(?=\s|$)")


def modules(package: Path = PACKAGE) -> list[Path]:
    """Every Python module under `package`, relative to it: the top-level ones first, then by folder."""
    return sorted(
        (p.relative_to(package) for p in package.rglob("*.py") if "__pycache__" not in p.parts),
        key=lambda p: (len(p.parts) > 1, p.parts),
    )


def first_sentence(source: str) -> str:
    """The first sentence of a module's opening docstring, on one line; empty when it has none."""
    docstring = ast.get_docstring(ast.parse(source)) or ""
    paragraph = " ".join(docstring.strip().split("\n\n", 1)[0].split())
    end = SENTENCE_END.search(paragraph)
    return paragraph[: end.end()] if end else paragraph


def table(package: Path = PACKAGE) -> str:
    """The Markdown table: each module linked from the README beside it, and what it holds."""
    rows = ["| module | what it holds |", "|---|---|"]
    for path in modules(package):
        said = first_sentence((package / path).read_text(encoding="utf-8")) or "(no docstring yet)"
        said = said.replace("|", "\\|")  # a bar would end the cell
        rows.append(f"| [{path.as_posix()}]({path.as_posix()}) | {said} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help=f"also write it into {README.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    printed = table()
    print(printed)
    if args.write:
        write_between(README, printed, MODULES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
