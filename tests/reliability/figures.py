"""Figures the reliability scenarios measure, and the table the report prints."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One measured figure; `must_be` is the value it has to equal (None: reported only)."""

    section: str
    name: str
    value: int | float | str
    must_be: int | float | str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """True when the figure has no required value or equals it."""
        return self.must_be is None or self.value == self.must_be

    @property
    def target(self) -> str:
        return "-" if self.must_be is None else f"= {self.must_be}"


def failing(figures: Iterable[Figure]) -> list[Figure]:
    """The figures that miss their required value."""
    return [f for f in figures if not f.ok]


def assert_all_ok(figures: Sequence[Figure]) -> None:
    """Fail with every missed figure named (what the short tests assert)."""
    bad = failing(figures)
    assert not bad, "figures off target: " + "; ".join(
        f"{f.section}: {f.name} = {f.value} (must be {f.must_be}){' - ' + f.note if f.note else ''}"
        for f in bad
    )


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table: one block per section, each figure beside its required value."""
    headers = ("figure", "value", "must be", "ok?")
    rows: list[tuple[str, str, str, str] | str] = []
    section = None
    for f in figures:
        if f.section != section:
            section = f.section
            rows.append(section)
        name = f"  {f.name}" + (f" ({f.note})" if f.note else "")
        rows.append((name, str(f.value), f.target, "-" if f.must_be is None else ("yes" if f.ok else "NO")))
    cells = [r for r in rows if isinstance(r, tuple)]
    widths = [
        max(len(headers[i]), *(len(r[i]) for r in cells)) if cells else len(headers[i]) for i in range(4)
    ]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    for r in rows:
        out.append(
            r if isinstance(r, str) else " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
        )
    return "\n".join(out)
