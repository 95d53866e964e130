"""The `from:` paths of a LinkedIn scan's properties: what they read of a prospect's results, which
property types can hold it, and the conversion of what is read into the HubSpot value.

A prospect's results (`GET /prospects/{id}/signals`) are read as `status`, `items.count`,
`items.<n>.<field>` (the n-th item by score, best first) and `items.<field>` (every item's field,
a list joined as contact properties join lists). Checked when the mapping loads, with did-you-mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from connector.mapping.convert import to_hubspot
from connector.mapping.fields import NonEmpty, StrictModel, WritePolicy, problem
from connector.mapping.hints import did_you_mean, shown

ScanType = Literal["string", "number", "bool", "date", "datetime"]
SCAN_TYPES: tuple[str, ...] = get_args(ScanType)
# The fields of a result item (`items` are every result group's items, best score first).
ITEM_FIELDS = (
    "score", "summary", "title", "reasoning", "postLink", "postedAt", "jobUrl", "companyName", "type",
)  # fmt: skip
NUMBER_FIELDS = ("score",)
DATE_FIELDS = ("postedAt",)
FROM_WORDS = f"status, items.count, items.<n>.<field> or items.<field> (fields: {', '.join(ITEM_FIELDS)})"
FROM_PATTERN = rf"^(status|items\.count|items\.(\d+\.)?({'|'.join(ITEM_FIELDS)}))$"
TYPE_RULE = "number: items.count and items.<n>.score; date/datetime: items.<n>.postedAt"


# ---------------------------------------------------------------------------- scan results
@dataclass(frozen=True)
class ScanPath:
    """A parsed `from:` into a prospect's results: what it reads and which types can hold it."""

    text: str
    kind: Literal["status", "count", "item", "list"]
    index: int | None = None  # items.<n>.<field>
    field: str | None = None

    def types(self) -> tuple[str, ...]:
        """The property types this path's values convert to (lists are joined as text)."""
        if self.kind == "count" or (self.kind == "item" and self.field in NUMBER_FIELDS):
            return ("string", "number")
        if self.kind == "item" and self.field in DATE_FIELDS:
            return ("string", "date", "datetime")
        return ("string",)

    def words(self) -> str:
        if self.kind == "status":
            return "the evaluation status (pending or evaluated)"
        if self.kind == "count":
            return "the number of items found"
        if self.kind == "list":
            return f"every item's {self.field}, joined with '; '"
        rank = {0: "the best item's", 1: "the second best item's"}.get(
            self.index or 0, f"item {(self.index or 0) + 1}'s"
        )
        return f"{rank} {self.field}"


def parse_scan_path(text: str) -> ScanPath:
    """`text` as a results path; a `problem` naming what is wrong (with did-you-mean) otherwise."""
    parts = text.split(".")
    if parts == ["status"]:
        return ScanPath(text, "status")
    if parts[0] != "items" or len(parts) == 1:
        hint = did_you_mean(parts[0], ("status", "items"))
        fixed = ".".join([hint, *parts[1:]]) if hint and len(parts) > 1 else hint
        raise problem(shown(text), FROM_WORDS, hint=fixed)
    if parts[1:] == ["count"]:
        return ScanPath(text, "count")
    index: int | None = None
    rest = parts[1:]
    if rest[0].isdigit():
        index, rest = int(rest[0]), rest[1:]
        if not rest:
            raise problem(
                f"{shown(text)} (no field)", f"items.{index}.<field> (fields: {', '.join(ITEM_FIELDS)})"
            )
    if len(rest) != 1 or rest[0] not in ITEM_FIELDS:
        name = ".".join(rest)
        choices = ITEM_FIELDS if index is not None else ("count", *ITEM_FIELDS)
        raise problem(
            f"field {name!r} in {shown(text)}", ", ".join(choices), hint=did_you_mean(name, choices)
        )
    return ScanPath(text, "item" if index is not None else "list", index, rest[0])


class ScanProperty(StrictModel):
    """A contact property a scan writes: a path into the prospect's results, its type and write policy."""

    from_: str = Field(alias="from", description=FROM_WORDS, json_schema_extra={"pattern": FROM_PATTERN})
    type: ScanType = Field("string", description="HubSpot property type the value is converted for")
    write: WritePolicy = Field("unless_edited", description="when a value may be written")
    label: NonEmpty | None = Field(None, description="label for `setup`; derived from the name when absent")

    @field_validator("from_", mode="after")
    @classmethod
    def _path(cls, text: str) -> str:
        return parse_scan_path(text).text

    @model_validator(mode="after")
    def _type_fits(self) -> ScanProperty:
        allowed = self.path.types()
        if self.type not in allowed:
            raise problem(
                f"type {self.type} for {self.from_}",
                f"{' or '.join(allowed)} ({TYPE_RULE})",
                at=("type",),
            )
        return self

    @property
    def path(self) -> ScanPath:
        return parse_scan_path(self.from_)

    @property
    def options(self) -> dict[str, str] | None:
        """No options (the shape `setup` reads of every written property)."""
        return None

    def words(self) -> str:
        return self.path.words()


def scan_value(prop: ScanProperty, raw: Any) -> str | None:
    """A value read from a prospect's results as the HubSpot string its property takes: numbers
    plain, dates ISO, lists joined as contact properties join them; None: nothing to write.
    Raises ConversionError when the value cannot be converted (recorded against the prospect)."""
    return to_hubspot(prop.type, raw)
