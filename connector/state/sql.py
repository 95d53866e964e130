"""The few SQL tools every state repository uses: IN lists in chunks, per-row updates, rows to records.

Kept apart from the schema (`tables`) and the transactions (`database`) so that each
repository states its queries with the same tools: one chunked `IN` loop (`chunked`), and
records built from the dataclasses' own fields (`record_from_row`), never copied by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Row, Table, bindparam, select, update

from connector.state.tables import CHUNK, MAX_TEXT

if TYPE_CHECKING:  # a typing-only protocol of the standard library's stubs, no module at run time
    from _typeshed import DataclassInstance

T = TypeVar("T")
R = TypeVar("R", bound="DataclassInstance")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` `size` at a time: one statement each, well under every backend's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique(values: Iterable[T]) -> list[T]:
    """`values` without repeats, in their first order."""
    return list(dict.fromkeys(values))


def rows_in(conn: Connection, table: Table, column: str, keys: Iterable[str]) -> Iterator[Row[Any]]:
    """The rows of `table` whose `column` is one of `keys`, in IN queries of at most `CHUNK` keys."""
    for chunk in chunked(unique(keys)):
        yield from conn.execute(select(table).where(table.c[column].in_(chunk)))


def set_each(conn: Connection, table: Table, key: str, column: str, values: Mapping[str, Any]) -> None:
    """Set `column` of each row (by its `key`) to its own value, `CHUNK` rows a statement."""
    stmt = update(table).where(table.c[key] == bindparam("k")).values({column: bindparam("v")})
    for rows in chunked([{"k": k, "v": v} for k, v in values.items()]):
        conn.execute(stmt, list(rows))


def record_from_row(
    cls: type[R], row: Any, coerce: Mapping[str, Callable[[Any], Any]] | None = None, **given: Any
) -> R:
    """A `cls` (a dataclass) from the row's columns named as its fields.

    `coerce` maps a field to what turns its column's value into the field's (a NULL count
    into 0); `given` supplies fields the row has no column for (a nested record).
    """
    values = {f.name: given[f.name] if f.name in given else getattr(row, f.name) for f in fields(cls)}
    for name, fix in (coerce or {}).items():
        values[name] = fix(values[name])
    return cls(**values)


def count(value: Any) -> int:
    """A counter column: NULL is 0."""
    return int(value or 0)


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object column as a fresh dict: NULL is empty."""
    return dict(value or {})


def clip(value: str | None) -> str | None:
    """A text cut to `MAX_TEXT` characters for the database (None stays None)."""
    if value is None or len(value) <= MAX_TEXT:
        return value
    return value[: MAX_TEXT - 1] + "…"


def check_aware(value: datetime | None) -> None:
    """Refuse a naive datetime up front, with a plain ValueError."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"naive datetime {value.isoformat()} given to the state store; use an aware UTC one")
