"""HubSpot's contract constants have one source, which the adapter, the sandbox and the mapping all follow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from connector.hubspot import adapter, limits
from connector.mapping import model
from connector.sandbox import hubspot as sandbox

LIMITS_SOURCE = Path(limits.__file__).read_text(encoding="utf-8")


def test_the_mapping_accepts_exactly_hubspots_search_operators() -> None:
    """The mapping's operators are HubSpot's full public list, NOT_CONTAINS_TOKEN included."""
    assert model.OPERATORS == limits.OPERATORS
    assert "NOT_CONTAINS_TOKEN" in model.OPERATORS and len(set(model.OPERATORS)) == 13


def test_the_adapter_and_the_sandbox_use_the_same_numbers() -> None:
    """Batch size, page sizes, filter counts, the text limit and the search cap are the limits module's."""
    assert adapter.OPERATORS is sandbox.OPERATORS is limits.OPERATORS
    assert adapter.MAX_BATCH == sandbox.MAX_BATCH == limits.MAX_BATCH == 100
    assert adapter.MAX_SEARCH_PAGE == sandbox.MAX_SEARCH_LIMIT == limits.MAX_SEARCH_PAGE == 200
    assert adapter.MAX_FILTERS_PER_GROUP == sandbox.MAX_FILTERS_PER_GROUP == limits.MAX_FILTERS_PER_GROUP == 6
    assert adapter.MAX_TEXT == sandbox.MAX_TEXT == limits.MAX_TEXT == 65_536
    assert sandbox.MAX_SEARCH_DEPTH == limits.MAX_SEARCH_RESULTS == 10_000
    assert sandbox.MAX_LIST_LIMIT == limits.MAX_LIST_PAGE == 100


def test_the_limits_module_imports_nothing_from_the_connector() -> None:
    """limits.py stays a leaf, so anything (the mapping included) can import it without cycles."""
    imported = set()
    for node in ast.walk(ast.parse(LIMITS_SOURCE)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not any(name == "connector" or name.startswith("connector.") for name in imported), imported


def test_loading_the_mapping_does_not_load_the_hubspot_client() -> None:
    """Reading a mapping's operators must not pull in the adapter and the official HubSpot client."""
    code = (
        "import sys, connector.mapping; "
        "print(sorted(m for m in ('connector.hubspot.adapter', 'hubspot') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
